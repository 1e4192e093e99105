//! `paddy stage`: flags → `StageRequest` → run → CSV / GeoJSON / chart.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::phenology::dates::Date;
use crate::phenology::stage::Stage;
use crate::stage::{self, DateList, SmootherKind, StageRequest};

/// Rice growth stage per plot from a time series of index rasters.
///
/// Takes one index raster per date (NDVI, EVI, NDRE… from `paddy index`, or any single-band
/// index raster; a cloud band beside it with --mask-band), the plots, and finds for each plot:
/// its mean index per date (exact pixel coverage; dates where less than --min-valid of the plot
/// is clear are dropped), a gap-aware smoothed curve (Whittaker by default; an upper envelope
/// against cloud-depressed values; Savitzky–Golay) and the season on it;
/// - transplanting: the plot's `transplanted` attribute, else (with --lswi) the onset of
///   flooding — the first clear observation with LSWI + 0.05 ≥ VI (Xiao et al. 2005) after the
///   last dry one, plus 3 days of puddling — known from that observation on, with its bracket;
///   else the observed heading less the class's heading day; else the season start;
/// - heading: the top of the observations around the maximum (an asymmetric curve, flat before
///   the top and falling after it, which the smoother's early bias does not touch), once
///   observations after it confirm it, with its interval; else transplanting plus the class's
///   heading day;
/// - the stage at the last date (or --at): seedling, tillering, panicle_initiation, booting,
///   heading, grain_filling, maturity, fallow — days after transplanting through the variety's
///   duration class (short, medium, long; --print-table shows the table, --stage-table edits
///   it), counted from the observed heading from panicle initiation on, checked against the
///   curve; with --lswi a plot never seen flooded is fallow (not transplanted yet);
/// - a confidence: the share of the plausible dates (inside the brackets) giving the same stage,
///   halved when the cues disagree.
///
/// A plot without a usable season or date gets `unknown` and the reason.
///
/// Shapefile column names have at most 10 bytes, so there the long columns are transp,
/// transp_min, transp_max, transp_src (transplanting and its earliest, latest and source),
/// days_after, seas_start, head_min, head_max, head_src, head_curve, days_to_hd, n_valid and
/// n_dropped; a longer attribute name is cut to 10 (then numbered, `_1`, if that is taken).
/// A warning lists the names used, and the QGIS style beside the file gives each short field
/// its long name as its alias.
///
/// Dates come from --dates LIST.csv (file,date), else --date-pattern on the file names, else the
/// files' metadata (ACQUISITION_DATETIME, PRODUCT_START_TIME, DATE_ACQUIRED, …). A raster none
/// of them dates is a usage error (exit 2) naming it, with a --date-pattern that reads its name
/// where the name holds a date.
///
/// Examples:
///
///   paddy stage out/s2_*_ndvi.tif --lswi out/s2_*_lswi.tif --plots plots.geojson \
///       --date-pattern '{yyyy}{mm}{dd}' --out stage.csv --out stage.geojson --chart stage.png
///
///   paddy stage s2_ndvi_*.tif --mask-band 2 --plots fields.gpkg \
///       --date-pattern '{yyyy}-{mm}-{dd}' --smoother envelope --out stage.csv
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StageArgs {
    /// Index rasters, one per date, on one pixel grid or several.
    #[arg(value_name = "RASTER", required_unless_present = "print_table")]
    rasters: Vec<PathBuf>,

    /// LSWI rasters of the same dates, one per index raster, for the flooding (transplanting)
    /// signal; a date without its partner is refused.
    #[arg(long, value_name = "RASTER", num_args = 1..)]
    lswi: Vec<PathBuf>,

    /// Plot polygons: any vector file OGR reads, in any CRS.
    #[arg(
        long,
        short = 'p',
        value_name = "VECTOR",
        required_unless_present_any = ["per_pixel", "print_table"]
    )]
    plots: Option<PathBuf>,

    /// Also (or instead, without --plots) analyse every pixel, for fields without boundaries,
    /// and write into DIR: transplanting_doy.tif and heading_doy.tif (Int16 day of year from
    /// 1 January of --at's year), stage.tif (Byte stage code with a colour table: 0 unknown,
    /// 1 fallow, 2 seedling, 3 tillering, 4 panicle initiation, 5 booting, 6 heading, 7 grain
    /// filling, 8 maturity) and confidence.tif (0–100), each with a QGIS style. Every raster
    /// must be on one pixel grid; pixels use --default-class.
    #[arg(long, value_name = "DIR")]
    per_pixel: Option<PathBuf>,

    /// Layer of a multi-layer vector file.
    #[arg(long, value_name = "NAME")]
    layer: Option<String>,

    /// Field holding the plot id (default: plot_id when present, else feature ids).
    #[arg(long, value_name = "FIELD")]
    id_field: Option<String>,

    /// Field holding the variety's duration class (short, medium, long or a class of
    /// --stage-table); plots without it use --default-class.
    #[arg(long, value_name = "FIELD", default_value = "duration_class")]
    class_field: String,

    /// Duration class for plots that do not say (a class of the stage table).
    #[arg(long, value_name = "CLASS", default_value = "medium")]
    default_class: String,

    /// Field holding a known transplanting date (YYYY-MM-DD); used before any estimate. A value
    /// that is not a date is not used, with a warning.
    #[arg(long, value_name = "FIELD", default_value = "transplanted")]
    transplanted_field: String,

    /// Dates in the file names, e.g. '{yyyy}{mm}{dd}', '{yyyy}-{mm}-{dd}', '_{yyyy}{doy}_'.
    #[arg(long, value_name = "PATTERN")]
    date_pattern: Option<String>,

    /// A CSV listing file,date for every raster.
    #[arg(long, value_name = "CSV")]
    dates: Option<PathBuf>,

    /// A band of each raster that masks its index band (non-zero = cloud / no data).
    #[arg(long, value_name = "N")]
    mask_band: Option<usize>,

    /// Keep a date for a plot only when at least this share of its area is valid (0–1).
    #[arg(long, value_name = "SHARE", default_value_t = 0.5, value_parser = parse_share)]
    min_valid: f64,

    /// The smoothing of each plot's series.
    #[arg(long, value_name = "NAME", value_enum, default_value_t)]
    smoother: SmootherKind,

    /// Whittaker smoothing strength (larger = smoother). 500 suits Sentinel-2-like revisits
    /// (5–10 days); for 16-day or monthly composites with undetected clouds (MODIS without its
    /// QA band) use --smoother envelope --lambda 5000, or single cloudy dates bend the curve.
    #[arg(long, value_name = "LAMBDA", default_value_t = crate::phenology::smooth::DEFAULT_LAMBDA, value_parser = super::parse_positive)]
    lambda: f64,

    /// Season start and end at this fraction of the seasonal amplitude (between 0 and 1).
    #[arg(long, value_name = "F", default_value_t = 0.2, value_parser = parse_fraction)]
    fraction: f64,

    /// The date to give the stage at (default: the last date of the series); more than 30 days
    /// after the last raster is warned about.
    #[arg(long, value_name = "DATE")]
    at: Option<String>,

    /// Look for the season from this date on (default: 200 days before --at, one rice crop).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,

    /// Multiply the index values by this first (e.g. 0.0001 for MODIS NDVI stored × 10000):
    /// thresholds are on the usual −1…1 scale.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = super::parse_scale)]
    scale: f64,

    /// A TOML table of stage start days after transplanting per duration class (extends or
    /// replaces the built-in short / medium / long; `paddy stage --print-table` shows it).
    #[arg(long, value_name = "FILE")]
    stage_table: Option<PathBuf>,

    /// Print the built-in stage table (TOML, with its sources) and exit: copy it, edit the
    /// days and pass it to --stage-table.
    #[arg(long)]
    print_table: bool,

    /// Output file: .csv, .geojson, or a shapefile (.shp.zip, .shp); repeat for several.
    /// Default: CSV on stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Vec<PathBuf>,

    /// A PNG of the plots' series: raw points, smoothed curve, events. At most 400 plots: past
    /// that, the 400 to check first (days after transplanting and curve disagreeing, then the
    /// least confident); the tables have them all.
    #[arg(long, value_name = "PNG")]
    chart: Option<PathBuf>,

    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_threads)]
    threads: Option<usize>,

    /// No progress bar, warnings or summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn number(text: &str) -> std::result::Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| format!("'{text}' is not a number"))
}

fn parse_share(text: &str) -> std::result::Result<f64, String> {
    let v = number(text)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a share between 0 and 1"))
    }
}

fn parse_fraction(text: &str) -> std::result::Result<f64, String> {
    let v = number(text)?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// Every output checked before any work, so that a mistake in the last one leaves nothing
/// written: each table's format (by its extension), the chart's `.png`, each file's folder, and
/// the per-pixel folder not a file. Messages name the path as given.
fn check_outputs(out: &[PathBuf], chart: Option<&Path>, per_pixel: Option<&Path>) -> Result<()> {
    for path in out {
        stage::output::Format::for_path(path)?;
    }
    if let Some(png) = chart {
        let ext = png
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if ext.as_deref() != Some("png") {
            return Err(Error::usage(format!(
                "--chart {}: the chart is a PNG: name it .png",
                png.display()
            )));
        }
    }
    for path in out.iter().map(PathBuf::as_path).chain(chart) {
        if path.is_dir() {
            return Err(Error::usage(format!(
                "{}: is a folder, not a file to write",
                path.display()
            )));
        }
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(Error::usage(format!(
                "{}: cannot write there: the folder {} does not exist",
                path.display(),
                folder.display()
            )));
        }
    }
    if let Some(dir) = per_pixel {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::usage(format!(
                "--per-pixel {}: is a file, not a folder to write the rasters into",
                dir.display()
            )));
        }
    }
    Ok(())
}

pub fn run(args: StageArgs) -> Result<()> {
    if args.print_table {
        print!("{}", crate::phenology::stage::printed_table());
        return Ok(());
    }
    let at = args
        .at
        .as_deref()
        .map(|t| {
            t.parse::<Date>()
                .map_err(|e| Error::usage(format!("--at {t}: {e}")))
        })
        .transpose()?;
    let from = args
        .from
        .as_deref()
        .map(|t| {
            t.parse::<Date>()
                .map_err(|e| Error::usage(format!("--from {t}: {e}")))
        })
        .transpose()?;
    let table = match &args.stage_table {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut table = crate::phenology::stage::StageTable::builtin();
            table.extend(crate::phenology::stage::StageTable::parse(&text, path)?);
            table
        }
        None => crate::phenology::stage::StageTable::builtin(),
    };
    // Every pixel, and every plot that does not say, takes the default class: one the table
    // does not have would leave them all without a stage table.
    if table.get(&args.default_class).is_none() {
        return Err(Error::usage(format!(
            "--default-class {}: not a duration class of the stage table ({}; --stage-table adds \
             classes)",
            args.default_class,
            table.class_names().collect::<Vec<_>>().join(", ")
        )));
    }
    check_outputs(&args.out, args.chart.as_deref(), args.per_pixel.as_deref())?;
    let request = StageRequest {
        rasters: args.rasters,
        lswi: args.lswi,
        plots: args.plots,
        layer: args.layer,
        id_field: args.id_field,
        class_field: args.class_field,
        default_class: args.default_class,
        transplanted_field: args.transplanted_field,
        date_pattern: args.date_pattern,
        dates: args.dates.as_deref().map(DateList::read).transpose()?,
        mask_band: args.mask_band,
        min_valid: args.min_valid,
        smoother: args.smoother.with_lambda(args.lambda),
        fraction: args.fraction,
        at,
        from,
        scale: args.scale,
        table,
        threads: args.threads,
    };
    // The rasters dated and paired before any work.
    let prepared = stage::prepare(&request)?;
    for warning in stage::series::check_series(&prepared.vi, &prepared.lswi)? {
        if !args.quiet {
            eprintln!("paddy: warning: {warning}");
        }
    }
    if let Some(dir) = &args.per_pixel {
        // The per-plot run's warnings say it when there are plots.
        if let (false, None, Some(late)) = (
            args.quiet,
            &request.plots,
            stage::late_date(&prepared, request.from),
        ) {
            eprintln!("paddy: warning: {late}");
        }
        let report = super::with_progress(
            args.quiet,
            "stage per pixel",
            |progress| stage::pixels::run(&request, &prepared, dir, progress),
            |_| &[],
        )?;
        if !args.quiet {
            let staged: Vec<String> = Stage::ALL
                .iter()
                .filter(|s| report.per_stage[usize::from(s.code())] > 0)
                .map(|s| format!("{} {}", report.per_stage[usize::from(s.code())], s.name()))
                .collect();
            println!(
                "{} pixels observed, stage at {}: {}",
                report.observed,
                report.at,
                staged.join(", ")
            );
            for path in &report.outputs {
                println!("  {}", path.display());
            }
        }
    }
    if request.plots.is_none() {
        return Ok(());
    }
    let result = super::with_progress(
        args.quiet,
        "stage",
        |progress| {
            let mut result = stage::run_prepared(&request, prepared, progress)?;
            let notes = stage::output::shapefile_notes(&result, &args.out)?;
            result.warnings.extend(notes);
            Ok(result)
        },
        |r| &r.warnings,
    )?;
    if args.out.is_empty() {
        use std::io::Write;
        let _ = std::io::stdout().write_all(&stage::output::csv_bytes(&result)?);
    }
    for path in &args.out {
        stage::output::write(&result, path, args.threads)?;
    }
    if let Some(png) = &args.chart {
        stage::write_chart(&result, png)?;
    }
    if !args.quiet && !args.out.is_empty() {
        print_summary(&result, args.out.iter().chain(args.chart.iter()));
    }
    Ok(())
}

/// The stage run in one line and the files written, on stdout.
fn print_summary<'a>(result: &stage::StageResult, paths: impl Iterator<Item = &'a PathBuf>) {
    let unknown = result
        .plots
        .iter()
        .filter(|p| p.call.stage == Stage::Unknown)
        .count();
    let date = |d: Option<&Date>| d.map_or(String::new(), |d| d.to_string());
    println!(
        "{} plots, {} dates ({} … {}): {} staged, {} unknown",
        result.plots.len(),
        result.dates.len(),
        date(result.dates.first()),
        date(result.dates.last()),
        result.plots.len() - unknown,
        unknown
    );
    for path in paths {
        println!("  {}", path.display());
    }
}
