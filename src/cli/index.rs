//! `paddy index`: flags → `IndexRequest` → plan → run → summary.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use crate::catalogue::{Catalogue, Role};
use crate::error::{Error, Result};
use crate::index::{self, BandRef, Engine, GridChoice, IndexRequest, DEFAULT_OUT_NODATA};
use crate::io::{Aoi, Codec, CogOptions, Layout, Predictor};

/// Compute vegetation, red-edge and water indices in one pass, as Cloud Optimized GeoTIFFs.
///
/// Reads a product as downloaded (Sentinel-2 L2A SAFE, Landsat C2 L2, a STAC Item), one
/// multi-band raster, or one file per band — local or https:// / s3:// — reads bands at other
/// resolutions onto one grid, converts digital numbers to reflectance with a sensor profile or
/// the product's metadata, and writes DIR/<input stem>_<index>.tif for each index: Float32,
/// ZSTD-compressed (lossless), tiled, with overviews, nodata -9999 where any input is nodata, masked
/// (cloud, shadow) or the formula is undefined.
///
/// Examples:
///
///   paddy index S2B_MSIL2A_..._T48PWS_....SAFE.zip --index ndvi,ndre,lswi --out indices/
///
///   paddy index LC08_L2SP_..._02_T1.tar --index ndvi,lswi
///
///   paddy index https://.../items/S2B_48PWS_... --index ndvi --aoi plots.geojson
///
///   paddy index S2_tile.tif --sensor sentinel2-l2a --index ndvi,ndre,lswi --out indices/
///
///   paddy index LC08_..._SR_B4.TIF LC08_..._SR_B5.TIF LC08_..._SR_B6.TIF --index ndvi,lswi
///
///   paddy index stack.tif --band R=1 --band N=4 --band G=2 --band B=3 --index evi,gndvi
///
///   paddy index IMG_0001_*.tif --sensor micasense-rededge --index ndre
///
///   paddy index flight_0626.tif flight_0718.tif --index ndvi   (two stacks: two sets of outputs)
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct IndexArgs {
    /// Input rasters (anything GDAL reads; https:// and s3:// URLs read in place): a Sentinel-2
    /// L2A .SAFE folder or .zip, a Landsat Collection 2 Level-2 folder or .tar, or a STAC Item
    /// (.json file or URL) as downloaded (bands, calibration, date and cloud mask from its
    /// metadata; no --band needed), or one multi-band file, or one file per band, or several
    /// multi-band files, each then processed on its own into outputs named by its stem (a
    /// single-band file whose name extends a stack's, such as S2_tile_SCL.tif beside S2_tile.tif,
    /// goes with that stack).
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Indices to compute, comma-separated or repeated, by Awesome Spectral Indices name:
    /// NDVI, GNDVI, NDRE (NDREI), EVI, EVI2, SAVI, OSAVI, MSAVI2 (MSAVI), LSWI, NDMI, NDWI,
    /// CIre, CIgreen have hand-written kernels; any other catalogue index (`paddy indices`
    /// lists all 254) is computed by the expression engine.
    #[arg(long, short = 'i', value_delimiter = ',', value_name = "NAMES")]
    index: Vec<String>,

    /// A custom index in the catalogue's formula language (band symbols, constants, + - * / **,
    /// parentheses), e.g. --expr 'MYNDRE=(N - RE1)/(N + RE1)'. Repeatable.
    #[arg(long = "expr", short = 'e', value_name = "NAME=FORMULA", value_parser = parse_expr)]
    expressions: Vec<(String, String)>,

    /// Custom indices from a TOML file: one table per index, e.g.
    /// [MYNDRE] formula = "(N - RE1)/(N + RE1)".
    #[arg(long, value_name = "FILE")]
    expr_file: Option<PathBuf>,

    /// Which code computes the indices that have a hand-written kernel.
    #[arg(long, value_name = "ENGINE", value_enum, default_value_t)]
    engine: Engine,

    /// A newer Awesome Spectral Indices catalogue: a folder with spectral-indices-dict.json and
    /// constants.json (default: the copy built into paddy).
    #[arg(long, value_name = "DIR")]
    catalogue: Option<PathBuf>,

    /// Sensor profile: sentinel2-l2a, landsat-c2-l2, micasense-rededge, dji-p4m, dji-mavic3m,
    /// parrot-sequoia, planetscope-4b, planetscope-8b, generic, or a profile .toml file.
    /// Default: detected from file names and metadata, else generic. See `paddy sensors`.
    #[arg(long, short = 's', value_name = "NAME|FILE")]
    sensor: Option<String>,

    /// Map a band role to a band: ROLE=N (band N of the single input), ROLE=FILE, or
    /// ROLE=FILE:N. Roles: A B G R RE1 RE2 RE3 N N2 S1 S2 T1 T2 (or blue, green, red, rededge,
    /// nir, swir1, swir2), and SCL / QA_PIXEL quality bands. Repeat for each role.
    #[arg(long = "band", short = 'b', value_name = "ROLE=BAND", value_parser = parse_band)]
    bands: Vec<(Role, BandRef)>,

    /// Multiply DNs by this to get reflectance (overrides the profile).
    #[arg(long, value_name = "F", allow_negative_numbers = true, value_parser = super::parse_scale)]
    scale: Option<f64>,

    /// Add this after scaling: reflectance = DN × scale + offset (overrides the profile and
    /// file metadata; Sentinel-2 baseline ≥ 04.00 without metadata: --offset -0.1).
    #[arg(long, value_name = "F", allow_negative_numbers = true, value_parser = super::parse_finite)]
    offset: Option<f64>,

    /// Input DN that means no data (overrides the files' own nodata).
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    nodata: Option<f64>,

    /// Set a formula constant, e.g. --const L=0.5 for SAVI (default: the catalogue's).
    #[arg(long = "const", value_name = "NAME=VALUE", value_parser = parse_const)]
    constants: Vec<(String, f64)>,

    /// Output grid when the inputs differ in resolution or extent (same CRS, pixels aligned):
    /// `finest` (default: the finest input's grid, e.g. 10 m for Sentinel-2's 10 and 20 m
    /// bands) or `like:FILE` (that raster's grid). Bands not on it are resampled as they are
    /// read: reflectance bilinear when refined, averaged when coarsened; quality and class bands
    /// (SCL, QA_PIXEL) nearest, so classes are never blended.
    #[arg(long, value_name = "finest|like:FILE", value_parser = parse_grid)]
    grid: Option<GridChoice>,

    /// Output pixel size in the inputs' CRS units (e.g. 20 for Sentinel-2's 20 m grid), over the
    /// finest input's extent. Resampling as for --grid.
    #[arg(long, value_name = "R", conflicts_with = "grid", value_parser = parse_resolution)]
    resolution: Option<f64>,

    /// Area of interest: a vector file (its features' extent, in its own CRS) or
    /// minx,miny,maxx,maxy[,CRS] (CRS default: the inputs'; e.g. 108.1,26.1,108.3,26.3,EPSG:4326).
    /// Only the windows over the area are read and written: the output grid is the input grid
    /// cropped to the pixels the area touches, with no resampling.
    #[arg(long, value_name = "FILE|BOX")]
    aoi: Option<String>,

    /// Output folder (created if missing).
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    out: PathBuf,

    /// Output file stem (default: the input's stem, or the common prefix of several inputs).
    #[arg(long, value_name = "STEM")]
    name: Option<String>,

    /// Nodata value written into the outputs.
    #[arg(long, value_name = "V", default_value_t = DEFAULT_OUT_NODATA, allow_negative_numbers = true)]
    out_nodata: f64,

    /// Output compression, all lossless (the name in any case). See BENCHMARKS.md.
    #[arg(
        long,
        value_name = "CODEC",
        value_enum,
        default_value_t,
        ignore_case = true
    )]
    compress: Codec,

    /// Compression level: ZSTD 1–22 (default 1: higher levels cost much time and gain almost
    /// nothing on Float32 index values), DEFLATE 1–12 (default 6).
    #[arg(long, value_name = "N")]
    level: Option<u32>,

    /// TIFF predictor applied before compression, lossless.
    #[arg(long, value_name = "P", value_enum, default_value_t)]
    predictor: Predictor,

    /// Output layout.
    #[arg(long, value_name = "LAYOUT", value_enum, default_value_t)]
    layout: Layout,

    /// A COG's first overview: 1/N of the full resolution (2, 4, 8, …); the others halve it
    /// down to one tile. 4 (the default) leaves out the 1/2 level, three quarters of a
    /// pyramid's cells: a smaller, faster file, and a reader zoomed out less than 4× reads the
    /// full resolution. 2 is GDAL's pyramid (for files read over HTTP at every zoom).
    #[arg(long, value_name = "N", default_value_t = crate::raster::pyramid::DEFAULT_FIRST_OVERVIEW, value_parser = super::parse_first_overview)]
    first_overview: usize,

    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_threads)]
    threads: Option<usize>,

    /// Print the run summary as JSON on stdout (an array of them when several stacks are given).
    #[arg(long)]
    json: bool,

    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_band(text: &str) -> std::result::Result<(Role, BandRef), String> {
    let (role, spec) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}': expected ROLE=BAND, e.g. N=4 or RE1=IMG_0001_5.tif"))?;
    let role = Role::parse(role).ok_or_else(|| {
        format!("unknown band role '{role}': use A B G R RE1 RE2 RE3 N N2 S1 S2 T1 T2 SCL QA_PIXEL or blue, green, red, rededge, nir, swir1, swir2")
    })?;
    if spec.is_empty() {
        return Err(format!("--band {role}= needs a band number or a file"));
    }
    if spec.trim().parse::<i64>().is_ok_and(|n| n < 1) {
        return Err(format!(
            "--band {role}={spec}: band numbers start at 1 (band 1 is the first band)"
        ));
    }
    Ok((role, BandRef::parse(spec)))
}

fn parse_grid(text: &str) -> std::result::Result<GridChoice, String> {
    match text.split_once(':') {
        _ if text == "finest" => Ok(GridChoice::Finest),
        Some(("like", file)) if !file.is_empty() => Ok(GridChoice::Like(PathBuf::from(file))),
        _ => Err(format!(
            "'{text}': expected finest or like:FILE, e.g. --grid like:B04_10m.jp2"
        )),
    }
}

fn parse_resolution(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("'{text}' is not a pixel size > 0, e.g. 10 or 20")),
    }
}

fn parse_expr(text: &str) -> std::result::Result<(String, String), String> {
    let (name, formula) = text.split_once('=').ok_or_else(|| {
        format!("'{text}': expected NAME=FORMULA, e.g. MYNDRE=(N - RE1)/(N + RE1)")
    })?;
    Ok((name.trim().to_string(), formula.trim().to_string()))
}

/// Custom indices from a TOML file: `[NAME] formula = "…"`.
fn read_expr_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        formula: String,
        #[allow(dead_code)]
        #[serde(default)]
        long_name: Option<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let table: BTreeMap<String, Entry> = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(table.into_iter().map(|(k, v)| (k, v.formula)).collect())
}

fn parse_const(text: &str) -> std::result::Result<(String, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}': expected NAME=VALUE, e.g. L=0.5"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    if !value.is_finite() {
        return Err(format!("'{value}' is not a finite number"));
    }
    Ok((name.trim().to_string(), value))
}

pub fn run(args: IndexArgs) -> Result<()> {
    if args.threads == Some(0) {
        return Err(Error::usage("--threads must be at least 1"));
    }
    let constants: BTreeMap<String, f64> = args.constants.into_iter().collect();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut expressions = args.expressions;
    if let Some(file) = &args.expr_file {
        expressions.extend(read_expr_file(file)?);
    }
    if args.index.is_empty() && expressions.is_empty() {
        return Err(Error::usage(
            "no index asked for: add --index, e.g. --index ndvi,ndre, or --expr NAME=FORMULA",
        ));
    }
    let request = IndexRequest {
        expressions,
        engine: args.engine,
        sensor: args.sensor,
        bands: args.bands,
        scale: args.scale,
        offset: args.offset,
        nodata: args.nodata,
        constants,
        out_dir: args.out,
        name: args.name,
        out_nodata: args.out_nodata,
        cog: CogOptions {
            layout: args.layout,
            compress: args.compress,
            level: args.level,
            predictor: args.predictor,
            threads,
            first_overview: args.first_overview,
            ..CogOptions::default()
        },
        threads: args.threads,
        grid: match (args.resolution, args.grid) {
            (Some(r), _) => GridChoice::Resolution(r),
            (None, grid) => grid.unwrap_or_default(),
        },
        aoi: args.aoi.as_deref().map(Aoi::parse).transpose()?,
        ..IndexRequest::new(args.inputs, args.index)
    };
    let catalogue = &*Catalogue::load_or_builtin(args.catalogue.as_deref())?;
    let plans = index::plans(&request, catalogue)?;
    let swept = crate::io::sweep_temporaries(&request.out_dir, false);
    super::say_swept(&swept, &request.out_dir, args.quiet);
    let mut reports = Vec::with_capacity(plans.len());
    for plan in &plans {
        if !args.quiet {
            for w in &plan.warnings {
                eprintln!("paddy: warning: {w}");
            }
        }
        let report = super::with_progress(
            args.quiet,
            "indices",
            |progress| index::run(plan, progress),
            // The plan's warnings were said above; only the run's own follow.
            |r| r.warnings.get(plan.warnings.len()..).unwrap_or(&[]),
        )
        .map_err(|e| crate::io::explain_full_disk(&request.out_dir, e))?;
        if !args.json && !args.quiet {
            print_summary(plan, &report);
        }
        reports.push(report);
    }
    if args.json {
        let json = match reports.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            all => serde_json::to_string_pretty(all),
        };
        println!("{}", json.unwrap_or_default());
    }
    Ok(())
}

fn print_summary(plan: &index::IndexPlan, report: &index::IndexReport) {
    println!(
        "{}×{} px, sensor {} ({}), {:.2} s, {:.1} Mpx/s",
        report.width,
        report.height,
        report.sensor,
        plan.profile_source,
        report.seconds,
        report.megapixels_per_second
    );
    for o in &report.outputs {
        let range = match (o.min, o.mean, o.max) {
            (Some(min), Some(mean), Some(max)) => {
                format!("mean {mean:.3}, range {min:.3} … {max:.3}")
            }
            _ => "no valid pixels".into(),
        };
        println!(
            "  {:<6} {}  ({} valid px, {range})",
            o.index,
            o.path.display(),
            o.valid_pixels
        );
    }
}
