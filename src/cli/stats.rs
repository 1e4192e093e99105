//! `paddy stats`: flags → `StatsRequest` → run → CSV / GeoJSON / JSON.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::io::vector::CHOOSE_LAYER;
use crate::io::RasterInfo;
use crate::plots::Plots;
use crate::zonal::{self, output, CoverageMode, StatsRequest};

/// Per-plot statistics of index rasters (or any raster bands) with exact pixel coverage.
///
/// Each plot (paddy) polygon weights every pixel by the exact fraction of it that the polygon
/// covers, so plot edges count as much as they should: a 10 m pixel half inside a bund counts
/// half. Statistics follow exactextract's definitions: count (Σ coverage of valid pixels),
/// coverage-weighted mean and population stdev, min and max of covered pixels, weighted
/// median, p10 and p90, nodata_fraction (coverage on nodata ÷ all coverage), area_m2 (geodesic
/// area of the plot) and pixels (cells touched). Plots come from any vector file OGR reads
/// (GeoJSON, GeoPackage, Shapefile, KML, FlatGeobuf), in any CRS: they are reprojected to each
/// raster's CRS. Several rasters give column groups named after each file (`<stem>_mean`, …;
/// `<stem>_b<N>_mean` for bands of multi-band files).
///
/// Output: one row per plot, the id first, then the plot's attributes, `status`, `area_m2`,
/// `pixels` and the statistics. `status` speaks for every raster: ok, repaired, skipped: why,
/// outside raster, partly outside raster, no valid pixels (every pixel the plot covers is
/// nodata or masked) — each of the last three, when it holds for some rasters only, followed
/// by the column groups it concerns (`outside raster s2_20260816_ndvi`, `no valid pixels in
/// s2_20260816_ndvi`). Rasters on several pixel grids have no one `pixels`: each group starts
/// with its own, `<stem>_pixels`.
/// `.csv` or `.geojson` (RFC 7946, WGS84 lon/lat, plot geometry with the statistics as
/// properties), or a shapefile (`.shp.zip`, `.shp`), by the --out extension; CSV on stdout
/// without --out.
///
/// Shapefile column names have at most 10 bytes, so there the statistics are `<group>_<stat>`:
/// the group is the index at the end of the raster's name (`ndvi` for s2_20260717_ndvi.tif)
/// when each raster's is at most 5 bytes and they differ, else r1, r2, … in the order given;
/// the statistics are cnt, mean, std, min, max, med, p10, p90 and nodf (count, mean, stdev,
/// min, max, median, p10, p90, nodata_fraction). An id or attribute name past 10 bytes is cut
/// to 10 (then numbered, `_1`, if that is taken). A warning lists the names used, and the QGIS
/// style beside the file gives each short field its long name as its alias.
///
/// Examples:
///
///   paddy stats S2_20260717_NDVI.tif --plots paddies.gpkg --out ndvi_stats.csv
///
///   paddy stats tile_NDVI.tif tile_NDRE.tif --plots plots.geojson --id-field plot_id \
///       --out stats.csv --out stats.geojson
///
///   paddy stats ndvi.tif --plots fields.shp --coverage centre    # rasterstats / QGIS numbers
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatsArgs {
    /// Rasters to summarise (index rasters from `paddy index`, or any GDAL raster: every band).
    #[arg(value_name = "RASTER", required = true)]
    rasters: Vec<PathBuf>,

    /// Plot polygons: any vector file OGR reads, in any CRS.
    #[arg(long, short = 'p', value_name = "VECTOR")]
    plots: PathBuf,

    /// Layer of a multi-layer vector file (GeoPackage, KML).
    #[arg(long, value_name = "NAME")]
    layer: Option<String>,

    /// Field holding the plot id (default: plot_id when present, else feature ids as `fid`).
    #[arg(long, value_name = "FIELD")]
    id_field: Option<String>,

    /// Pixel weights: `exact` (fraction covered, as exactextract), `centre` (pixels whose centre
    /// is inside, as rasterstats, QGIS and GDAL), `all-touched` (any pixel the plot overlaps).
    #[arg(long, value_name = "MODE", default_value = "exact", value_parser = parse_coverage)]
    coverage: CoverageMode,

    /// Output file: .csv, .geojson, or a shapefile (.shp.zip, .shp); repeat for several.
    /// Default: CSV on stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Vec<PathBuf>,

    /// A band of each raster that masks its other bands: pixels where it is non-zero count as
    /// no data (e.g. a cloud mask stored beside the index). It gets no columns of its own.
    #[arg(long, value_name = "N")]
    mask_band: Option<usize>,

    /// Skip median, p10 and p90 (saves the memory of keeping pixel values of large plots).
    #[arg(long)]
    no_quantiles: bool,

    /// Use the plots' coordinates as they are when the raster or the plots have no CRS.
    #[arg(long)]
    assume_same_crs: bool,

    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_threads)]
    threads: Option<usize>,

    /// Print a summary as JSON on stdout (with --out).
    #[arg(long)]
    json: bool,

    /// No progress bar, warnings or summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_coverage(text: &str) -> std::result::Result<CoverageMode, String> {
    CoverageMode::parse(text)
        .ok_or_else(|| format!("unknown coverage '{text}': use exact, centre or all-touched"))
}

/// The plots of `--plots` (with `--layer` and `--id-field`), read once; a wrong or missing
/// layer or id field is told with the flag that sets it.
pub(crate) fn read_plots(
    path: &Path,
    layer: Option<&str>,
    id_field: Option<&str>,
) -> Result<Plots> {
    crate::io::vector::read_plots(path, layer, id_field).map_err(|e| match e {
        Error::Input { path, message } if layer.is_none() && message.ends_with(CHOOSE_LAYER) => {
            Error::Input {
                path,
                message: format!("{message} with --layer"),
            }
        }
        // The one configuration error of reading plots: the id field is not in the layer.
        Error::Config { path, message } => Error::Config {
            path,
            message: format!("--id-field: {message}"),
        },
        e => e,
    })
}

pub fn run(args: StatsArgs) -> Result<()> {
    for path in &args.out {
        output::Format::for_path(path)?;
    }
    let plots = read_plots(&args.plots, args.layer.as_deref(), args.id_field.as_deref())?;
    let rasters = RasterInfo::read_all(&args.rasters)?;
    for info in &rasters {
        zonal::check_crs(info, &plots, args.assume_same_crs).map_err(|e| {
            Error::usage(format!(
                "{e} (--assume-same-crs takes the plot coordinates as they are)"
            ))
        })?;
    }
    let request = StatsRequest {
        coverage: args.coverage,
        assume_same_crs: args.assume_same_crs,
        quantiles: !args.no_quantiles,
        mask_band: args.mask_band,
        threads: args.threads,
    };
    let started = std::time::Instant::now();
    let table = super::with_progress(
        args.quiet,
        "stats",
        |progress| {
            let mut table = zonal::run(&plots, &rasters, &request, progress)?;
            let renamed = output::attribute_columns(&table).1;
            table.warnings.extend(renamed);
            for path in &args.out {
                if let output::Format::Shapefile { .. } = output::Format::for_path(path)? {
                    if let Some(note) = output::shapefile_note(&table)? {
                        table.warnings.push(format!("{}: {note}", path.display()));
                    }
                }
            }
            Ok(table)
        },
        |t| &t.warnings,
    )?;
    if args.out.is_empty() {
        use std::io::Write;
        let bytes = output::csv_bytes(&table)?;
        let _ = std::io::stdout().write_all(&bytes);
        return Ok(());
    }
    for path in &args.out {
        output::write(&table, path, args.threads)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Rows with a status part that `holds` ("outside raster" alone: outside every raster;
    // "outside raster " and the rasters: outside some).
    let rows_with = |holds: &dyn Fn(&str) -> bool| {
        table
            .rows
            .iter()
            .filter(|r| r.status.split("; ").any(holds))
            .count()
    };
    let count = |status: &str| rows_with(&|part| part.starts_with(status));
    let outside = rows_with(&|part| part == "outside raster");
    let ok = table.rows.iter().filter(|r| r.status == "ok").count();
    let outside_some = count("outside raster ");
    if args.json {
        let summary = serde_json::json!({
            "plots": table.rows.len(),
            "ok": ok,
            "repaired": count("repaired"),
            "partly_outside": count("partly outside"),
            "outside": outside,
            "outside_some": outside_some,
            "no_valid_pixels": count("no valid pixels"),
            "skipped": count("skipped"),
            "columns": table.columns.iter().map(|c| &c.prefix).collect::<Vec<_>>(),
            "coverage": table.coverage.name(),
            "outputs": &args.out,
            "warnings": &table.warnings,
            "seconds": seconds,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else if !args.quiet {
        let some = if args.rasters.len() > 1 {
            format!(", {outside_some} outside some rasters")
        } else {
            String::new()
        };
        println!(
            "{} plots × {} raster band{} ({} coverage), {:.2} s: {} ok, {} repaired, {} partly outside, {} outside{some}, {} with no valid pixels, {} skipped",
            table.rows.len(),
            table.columns.len(),
            if table.columns.len() == 1 { "" } else { "s" },
            table.coverage.name(),
            seconds,
            ok,
            count("repaired"),
            count("partly outside"),
            outside,
            count("no valid pixels"),
            count("skipped"),
        );
        for path in &args.out {
            println!("  {}", path.display());
        }
    }
    Ok(())
}
