//! `paddy prescribe`: flags → `PrescribeRequest` → run → the prescription folder.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::io::RasterInfo;
use crate::phenology::dates::Date;
use crate::phenology::stage::StageTable;
use crate::rx::config::{RxConfig, DEFAULT_CONFIG};
use crate::rx::stages::{check_stage_dates, flight_date};
use crate::rx::{output, run};

/// Nitrogen topdress and spray prescriptions per plot and per grid cell.
///
/// Nitrogen (--n-index, e.g. drone NDRE at panicle initiation): each plot's sufficiency index
/// SI = index ÷ reference, where the reference is the plots marked N-rich (field `n_rich`, or
/// --reference-field role --reference-value n_rich) or, without one, a high percentile of the
/// plots (a virtual reference). Of the N-rich plots of a group (variety), the reference is the
/// area-weighted mean of those within the sufficiency threshold of the highest (SI ≥ 0.97
/// against it); one below that is short of N or no N-rich strip: it is left out, rated as a
/// plot and named in a warning with the values (averaged in, it would hide every plot's
/// need). 0 kg ordered against a reference in doubt is said loudly. No N at SI ≥ 0.97 (NDRE)
/// or 0.96 (NDVI), else a rate rising
/// to the maximum at SI 0.80, clamped, converted to product (urea by default) and rounded to
/// the nearest spreader step that keeps the minimum and maximum — only for plots inside the
/// stage window (panicle initiation ± 5 days by default), else 0 with the reason. The
/// yield-potential rule is there too, with coefficients you give.
///
/// Spray (--spray-index, e.g. NDVI; --previous for an earlier flight): on cells of the flight's
/// resolution (2 m at least), cells anomalously low against their plot (robust z from median
/// and MAD) and/or dropped since the previous flight, cleaned by an opening, kept as zones of
/// at least one spray-swath square, buffered inside the plot; the spray rate in zones, a
/// preventive rate (default 0) elsewhere, in the stage window (panicle initiation to heading).
///
/// Not observed is not zero: a plot the index covers too little of, and cells with no valid
/// index, get `default_rate` from the settings, and without it no rate at all (no machine
/// feature, nodata), listed as "not observed".
///
/// The stage of each plot comes from `paddy stage` output (--stages stage.csv, refused when made
/// for a date more than --stages-tolerance days from the flight's) or, with --at, from the
/// plots' transplanting date and duration class. Every number is in a TOML file (--config;
/// `paddy prescribe --print-config` shows the defaults with their sources).
///
/// Writes into --out DIR, per product: rx_*_zones.geojson and rx_*_zones.shp.zip, the machine
/// layer (pieces that tile each plot exactly: no overlaps, nothing outside a plot, nothing
/// where no rate was given); rx_*_plots.geojson, one feature per plot the flight sees (every
/// plot with a default rate) with its rate and status for people; rx_*.tif (rate grid, nodata
/// -9999; a shared cell takes the rate of the plot covering most of it) with QGIS styles and
/// PNG quicklooks; ISOBUS TASKDATA_*/ folders; and rx_summary.csv and rx_report.json.
///
/// Example (sample_tiles, drone flight at panicle initiation):
///
///   paddy index sample_tiles/drone_20260718.tif --index ndrei,ndvi --out out
///   paddy prescribe --plots sample_tiles/plots.geojson --n-index out/drone_20260718_ndrei.tif \
///       --spray-index out/drone_20260718_ndvi.tif --at 2026-07-18 --out rx
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PrescribeArgs {
    /// Plot polygons: any vector file OGR reads, in any CRS.
    #[arg(
        long,
        short = 'p',
        value_name = "VECTOR",
        required_unless_present = "print_config"
    )]
    plots: Option<PathBuf>,

    /// Layer of a multi-layer vector file.
    #[arg(long, value_name = "NAME")]
    layer: Option<String>,

    /// Field holding the plot id (default: plot_id when present, else feature ids).
    #[arg(long, value_name = "FIELD")]
    id_field: Option<String>,

    /// Index raster for nitrogen (NDRE / NDVI at panicle initiation); grids go in its CRS when
    /// it is projected and true to scale at the plots, else in their UTM zone.
    #[arg(long, value_name = "RASTER")]
    n_index: Option<PathBuf>,

    /// Index raster for spray zones (NDVI, say).
    #[arg(long, value_name = "RASTER")]
    spray_index: Option<PathBuf>,

    /// The same index from an earlier flight: cells that dropped since are stressed too.
    #[arg(long, value_name = "RASTER")]
    previous: Option<PathBuf>,

    /// Growth stage per plot: a CSV written by `paddy stage` for the flight's date. Its `at`
    /// date must be within --stages-tolerance days of the flight's (--at, else the index
    /// file's acquisition date, else a YYYYMMDD date in its name), or it is refused.
    #[arg(long, value_name = "CSV")]
    stages: Option<PathBuf>,

    /// The flight date. Without --stages each plot's stage comes from it and the plot's
    /// transplanting date and duration class attributes; with --stages it is checked against
    /// the table's date.
    #[arg(long, value_name = "DATE")]
    at: Option<String>,

    /// Most days a --stages table's date may differ from the flight's.
    #[arg(long, value_name = "DAYS", default_value_t = 3.0)]
    stages_tolerance: f64,

    /// Field marking the N-rich reference plots (overrides nitrogen.reference_field).
    #[arg(long, value_name = "FIELD")]
    reference_field: Option<String>,

    /// With --reference-field: the text marking a reference plot, e.g. `--reference-field role
    /// --reference-value n_rich`, or the strip by its id, `--reference-field plot_id
    /// --reference-value P06` (default: true / yes / 1 in the field). Mark only the N-rich
    /// strips: a marked plot below the others' sufficiency threshold is left out, with a warning.
    #[arg(long, value_name = "TEXT")]
    reference_value: Option<String>,

    /// Field of the duration class (with --at).
    #[arg(long, value_name = "FIELD", default_value = "duration_class")]
    class_field: String,

    /// Duration class of plots that do not say.
    #[arg(long, value_name = "CLASS", default_value = "medium")]
    default_class: String,

    /// Field of the transplanting date (with --at).
    #[arg(long, value_name = "FIELD", default_value = "transplanted")]
    transplanted_field: String,

    /// A stage table (TOML) extending the built-in one, as for `paddy stage`.
    #[arg(long, value_name = "FILE")]
    stage_table: Option<PathBuf>,

    /// Prescription settings (TOML); see --print-config.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the default settings, with comments, and exit.
    #[arg(long)]
    print_config: bool,

    /// Output folder.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "rx")]
    out: PathBuf,

    /// Print the report (rx_report.json) on stdout.
    #[arg(long)]
    json: bool,

    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_threads)]
    threads: Option<usize>,

    /// No summary or warnings.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn read(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })
}

/// What the prescription read: the files as given, the flights with their dates, the stages.
fn inputs(
    plots: &PathBuf,
    request: &run::PrescribeRequest,
    stages_file: Option<&PathBuf>,
    rx: &run::Prescription,
) -> Result<output::Inputs> {
    let shown = |p: &PathBuf| p.display().to_string();
    let mut flights = vec![output::FlightRead {
        date: rx.flight_date.as_ref().map(|(d, _)| d.to_string()),
        date_from: rx.flight_date.as_ref().map(|(_, from)| from.clone()),
        files: [&request.n_index, &request.spray_index]
            .into_iter()
            .flatten()
            .map(shown)
            .collect(),
        role: "flight".into(),
    }];
    if let Some(previous) = &request.previous {
        let date = flight_date(None, &RasterInfo::read(previous)?);
        flights.push(output::FlightRead {
            date: date.as_ref().map(|(d, _)| d.to_string()),
            date_from: date.map(|(_, from)| from),
            files: vec![shown(previous)],
            role: "previous".into(),
        });
    }
    let stages = match (stages_file, &request.at) {
        (Some(path), _) => format!("--stages {}", path.display()),
        (None, Some((at, _))) => format!(
            "the plots' {} and {} attributes at --at {at}",
            request.transplanted_field, request.class_field
        ),
        (None, None) => String::new(),
    };
    Ok(output::Inputs {
        files: [
            Some(plots),
            request.n_index.as_ref(),
            request.spray_index.as_ref(),
            request.previous.as_ref(),
            stages_file,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect(),
        flights,
        stages: (!stages.is_empty()).then_some(stages),
    })
}

pub fn run(args: PrescribeArgs) -> Result<()> {
    if args.print_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(());
    }
    let Some(plots_path) = args.plots.clone() else {
        return Err(Error::usage("--plots is required"));
    };
    let mut config = match &args.config {
        Some(path) => RxConfig::parse(&read(path)?, &path.display().to_string())?,
        None => RxConfig::default(),
    };
    if let Some(field) = &args.reference_field {
        config.nitrogen.reference_field = field.clone();
    }
    if args.reference_value.is_some() {
        config.nitrogen.reference_value = args.reference_value.clone();
    }
    config.check("--reference-field/--reference-value")?;
    if !(args.stages_tolerance.is_finite() && args.stages_tolerance >= 0.0) {
        return Err(Error::usage(format!(
            "--stages-tolerance {} must be a number of days >= 0",
            args.stages_tolerance
        )));
    }
    let mut table = StageTable::builtin();
    if let Some(path) = &args.stage_table {
        table.extend(StageTable::parse(&read(path)?, path)?);
    }
    let at = args
        .at
        .as_deref()
        .map(|t| {
            t.parse::<Date>()
                .map_err(|e| Error::usage(format!("--at {t}: {e}")))
        })
        .transpose()?;
    if args.n_index.is_none() && args.spray_index.is_none() {
        return Err(Error::usage(
            "give --n-index (nitrogen), --spray-index (spray zones) or both",
        ));
    }
    if args.stages.is_none() && at.is_none() {
        return Err(Error::usage(
            "give --stages STAGE.csv (from paddy stage) or --at DATE (the flight date, with the plots' transplanted and duration class attributes)",
        ));
    }
    let plots =
        super::stats::read_plots(&plots_path, args.layer.as_deref(), args.id_field.as_deref())?;
    let stages = args
        .stages
        .as_deref()
        .map(|path| run::Stages::read_csv(path, &plots.id_column))
        .transpose()?;
    let at = at.map(|d| (d, "--at".to_string()));
    if let (Some(stages), Some(first)) =
        (&stages, args.n_index.as_ref().or(args.spray_index.as_ref()))
    {
        // The prescription checks this too; here the flags that fix it are named.
        let flight = flight_date(at.as_ref(), &RasterInfo::read(first)?);
        check_stage_dates(args.stages_tolerance, stages, flight.as_ref()).map_err(|e| {
            Error::usage(format!(
                "--stages {e} with `paddy stage --at`, or allow more days with --stages-tolerance"
            ))
        })?;
    }
    let request = run::PrescribeRequest {
        n_index: args.n_index,
        spray_index: args.spray_index,
        previous: args.previous,
        stages,
        at,
        stages_tolerance_days: args.stages_tolerance,
        class_field: args.class_field,
        default_class: args.default_class,
        transplanted_field: args.transplanted_field,
        table,
        config,
        threads: args.threads,
    };
    let rx = run::run(&plots, &request)?;
    let inputs = inputs(&plots_path, &request, args.stages.as_ref(), &rx)?;
    let written = output::write(&rx, &request.config, &args.out, &inputs, args.threads)
        .map_err(|e| crate::io::explain_full_disk(&args.out, e))?;
    if args.json {
        // The report in memory, formatted as rx_report.json is (not read back from it).
        let text = serde_json::to_string_pretty(&written.report)
            .map_err(|e| Error::internal(format!("cannot format the report: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    if !args.quiet {
        for w in &rx.warnings {
            eprintln!("paddy: warning: {w}");
        }
        if rx.nitrogen.is_some() {
            // Nothing ordered against a reference in doubt is not a field that needs nothing.
            let doubt = if output::round2(written.total_n_product_kg) == 0.0
                && !rx.reference_doubts.is_empty()
            {
                " (NOT TO BE TRUSTED: the reference is in doubt, see the warnings)"
            } else {
                ""
            };
            println!(
                "nitrogen: {} ({}); order {} kg {} ({} kg N){doubt}",
                rx.reference,
                rx.n_index_name,
                output::amount(written.total_n_product_kg),
                request.config.nitrogen.product,
                output::amount(written.total_n_kg)
            );
        }
        if rx.spray.is_some() {
            println!(
                "spray: {} zone(s), {:.0} m² sprayed, {} L of {}",
                rx.zones.len(),
                written.total_spray_area_m2,
                output::amount(written.total_spray_l),
                request.config.spray.product
            );
        }
        println!("written to {}:", args.out.display());
        for (kind, path) in &written.files {
            println!("  {kind:<16} {}", path.display());
        }
    }
    Ok(())
}
