//! From what the user asked (`IndexRequest`) to a checked plan (`IndexPlan`): which file and band
//! plays each role, how DNs become reflectance, which quality band masks, which indices with
//! which constants, and where each output goes. Every mistake is found here, before any pixel is
//! read or any file written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::grid::{crop, resampling_for, target_grid, GridChoice};
use super::inputs;
use crate::catalogue::formula::Expr;
use crate::catalogue::{Catalogue, IndexDef, Role};
use crate::error::{Error, Result};
use crate::io::{
    file_name, gdal_path, open_product, stencil, Aoi, BandSpec, CogOptions, MaskSpec, Product,
    RasterInfo, Warp,
};
use crate::kernels::Formula;
use crate::raster::Grid;
use crate::sensors::Profile;

/// Where a role's band comes from, as given with `--band ROLE=…`.
#[derive(Debug, Clone, PartialEq)]
pub enum BandRef {
    /// Band number of the single input (`--band R=3`).
    Number(usize),
    /// A file, and optionally a band of it (`--band N=B5.TIF`, `--band N=stack.tif:4`).
    File(PathBuf, Option<usize>),
}

impl BandRef {
    /// Parse the right-hand side of `--band ROLE=…`.
    pub fn parse(text: &str) -> BandRef {
        if let Ok(n) = text.parse::<usize>() {
            return BandRef::Number(n);
        }
        if let Some((path, band)) = text.rsplit_once(':') {
            if let Ok(n) = band.parse::<usize>() {
                return BandRef::File(PathBuf::from(path), Some(n));
            }
        }
        BandRef::File(PathBuf::from(text), None)
    }
}

/// What the user asked of `paddy index`, already parsed but not yet checked against the files.
#[derive(Debug, Clone)]
pub struct IndexRequest {
    pub inputs: Vec<PathBuf>,
    /// Index names as typed (catalogue names or aliases such as NDRE, MSAVI2).
    pub indices: Vec<String>,
    /// Custom indices: (name, formula in the catalogue's language).
    pub expressions: Vec<(String, String)>,
    /// Hand-written kernels where they exist (default), or the engine for everything.
    pub engine: Engine,
    /// Sensor profile name or path; None: detect, else `generic`.
    pub sensor: Option<String>,
    pub bands: Vec<(Role, BandRef)>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    pub nodata: Option<f64>,
    pub constants: BTreeMap<String, f64>,
    pub out_dir: PathBuf,
    /// Output file stem; None: from the input names.
    pub name: Option<String>,
    /// Nodata value written into the outputs.
    pub out_nodata: f64,
    pub cog: CogOptions,
    pub threads: Option<usize>,
    /// The grid written when inputs differ in resolution or extent.
    pub grid: GridChoice,
    /// Per file: reflectance = DN × scale + offset from a product's metadata (MTD, MTL).
    pub calibration: Vec<(PathBuf, (f64, f64))>,
    /// The acquisition date when the files do not carry it (a product's metadata).
    pub date: Option<crate::phenology::dates::Date>,
    /// Where the inputs came from, for the report (a product and what its metadata said).
    pub source_note: Option<String>,
    /// Only this area is read and written (the grid cropped to the pixels it touches).
    pub aoi: Option<Aoi>,
}

impl IndexRequest {
    /// A request with paddy's defaults.
    pub fn new(inputs: Vec<PathBuf>, indices: Vec<String>) -> IndexRequest {
        IndexRequest {
            inputs,
            indices,
            expressions: Vec::new(),
            engine: Engine::Auto,
            sensor: None,
            bands: Vec::new(),
            scale: None,
            offset: None,
            nodata: None,
            constants: BTreeMap::new(),
            out_dir: PathBuf::from("."),
            name: None,
            out_nodata: DEFAULT_OUT_NODATA,
            cog: CogOptions::default(),
            threads: None,
            grid: GridChoice::Finest,
            calibration: Vec::new(),
            date: None,
            source_note: None,
            aoi: None,
        }
    }
}

/// Which code computes the catalogue indices that have a hand-written kernel
/// (`paddy index --engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// Hand-written kernels for NDVI, NDRE, EVI, … where they exist, the expression engine for
    /// the rest.
    #[default]
    Auto,
    /// The expression engine for every index (to compare, or to check a kernel).
    #[value(name = "expr")]
    Expression,
}

/// Nodata value of index outputs: outside every index's range and read by every GIS.
pub const DEFAULT_OUT_NODATA: f64 = -9999.0;

/// One index to compute.
#[derive(Debug, Clone)]
pub struct PlannedIndex {
    /// The output file's label: the name as typed, lower-cased (or the exact catalogue name
    /// for indices whose names differ only by case).
    pub label: String,
    pub def: IndexDef,
    pub formula: Formula,
    /// Constants and the values used.
    pub constants: Vec<(String, f64)>,
    pub path: PathBuf,
}

/// A checked plan: everything `run` needs.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    pub grid: Grid,
    /// Storage block size of the first band read (windows align to it).
    pub block_size: (usize, usize),
    pub profile: Profile,
    /// How the profile was chosen, for the report.
    pub profile_source: String,
    pub roles: BTreeMap<Role, BandSpec>,
    pub mask: Option<MaskSpec>,
    pub outputs: Vec<PlannedIndex>,
    /// Files on the plan's grid, to open (each once per worker).
    pub files: Vec<PathBuf>,
    /// Files read onto the plan's grid by resampling, each with how.
    pub warps: Vec<(PathBuf, Warp)>,
    /// Block cache the resampled reads need beyond the windows' own: two rows of each
    /// resampled file's blocks, so a source block read for one row of windows is still cached
    /// for the next instead of being decompressed again.
    pub resampled_cache_bytes: usize,
    pub out_nodata: f64,
    pub cog: CogOptions,
    pub threads: Option<usize>,
    /// Things the user should know (unmatched files, raw counts, …).
    pub warnings: Vec<String>,
    /// The inputs' acquisition date (from their metadata), carried into the outputs so that a
    /// series of index rasters dates itself (`paddy stage`).
    pub acquisition_date: Option<crate::phenology::dates::Date>,
}

/// The output stem for a set of inputs: the single input's stem, or the common prefix of several
/// stems cut at a separator (`LC08_…_SR_B4`, `LC08_…_SR_B5` → `LC08_…_SR`).
pub fn output_stem(inputs: &[PathBuf]) -> String {
    let stems: Vec<String> = inputs
        .iter()
        .map(|p| {
            p.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        })
        .collect();
    let Some(first) = stems.first() else {
        return "paddy".into();
    };
    if stems.len() == 1 {
        return first.clone();
    }
    let mut prefix_len = first.len();
    for s in &stems[1..] {
        prefix_len = first
            .char_indices()
            .zip(s.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(prefix_len);
    }
    let prefix = &first[..prefix_len];
    let separator = |c: char| matches!(c, '_' | '-' | '.' | ' ');
    // Keep the prefix when it ends at a token boundary in every stem, else cut the partial token.
    let at_boundary = stems
        .iter()
        .all(|s| s[prefix_len..].chars().next().map_or(true, separator));
    let cut = if at_boundary {
        prefix
    } else {
        prefix.rfind(separator).map_or("", |i| &prefix[..i])
    }
    .trim_end_matches(separator);
    if cut.is_empty() {
        first.clone()
    } else {
        cut.to_string()
    }
}

fn choose_profile(request: &IndexRequest, infos: &[RasterInfo]) -> Result<(Profile, String)> {
    if let Some(name) = &request.sensor {
        return Ok((Profile::find(name)?, "as asked".into()));
    }
    let texts: Vec<String> = infos
        .iter()
        .flat_map(|i| std::iter::once(file_name(&i.path)).chain(i.metadata.values().cloned()))
        .collect();
    let found: Vec<Profile> = Profile::builtin()
        .into_iter()
        .filter(|p| texts.iter().any(|t| p.detects(t)))
        .collect();
    if let [one] = found.as_slice() {
        return Ok((one.clone(), "detected from file names or metadata".into()));
    }
    Ok((
        Profile::find("generic")?,
        "none asked for, none detected".into(),
    ))
}

/// Check a request against the files and build its plans: one, or one per stack when every
/// input is a complete stack (see [`inputs::group_inputs`]). All are checked before any is run.
pub fn plans(request: &IndexRequest, catalogue: &Catalogue) -> Result<Vec<IndexPlan>> {
    let request = &with_gdal_paths(request);
    let products = request
        .inputs
        .iter()
        .map(|p| Ok((p, open_product(p)?)))
        .collect::<Result<Vec<_>>>()?;
    if let Some((product_path, _)) = products.iter().find(|(_, p)| p.is_some()) {
        if let Some((other, _)) = products.iter().find(|(_, p)| p.is_none()) {
            return Err(Error::usage(format!(
                "{} is a product as downloaded and {} is not: give products alone (each is processed on its own), or the band files alone",
                product_path.display(),
                other.display()
            )));
        }
        if !request.bands.is_empty() {
            return Err(Error::usage(format!(
                "{} is a product as downloaded: its bands are found from its metadata, so bands are not mapped by hand (give the band files instead to map them yourself)",
                product_path.display()
            )));
        }
        let requests = products
            .into_iter()
            .filter_map(|(_, p)| p)
            .map(|p| product_request(request, p))
            .collect::<Result<Vec<_>>>()?;
        return plan_each(&requests, request, catalogue);
    }
    if request.inputs.len() < 2 || !request.bands.is_empty() {
        return Ok(vec![plan(request, catalogue)?]);
    }
    let infos = request
        .inputs
        .iter()
        .map(|p| RasterInfo::read(p))
        .collect::<Result<Vec<_>>>()?;
    let (profile, _) = choose_profile(request, &infos)?;
    let groups = inputs::group_inputs(
        &request.inputs,
        &infos,
        &profile,
        !request.bands.is_empty(),
        request.name.as_deref(),
    )?;
    if groups.len() == 1 {
        return Ok(vec![plan(request, catalogue)?]);
    }
    let requests: Vec<IndexRequest> = groups
        .into_iter()
        .map(|group| IndexRequest {
            inputs: group,
            ..request.clone()
        })
        .collect();
    plan_each(&requests, request, catalogue)
}

/// The request for one product: its band files, calibrations and date, its profile (unless
/// --sensor says otherwise) and its name as the outputs' stem (unless --name). Bands the
/// product names (STAC assets) are mapped to roles here, the first asset of a role winning;
/// the others are found from their file names as any input's.
fn product_request(request: &IndexRequest, product: Product) -> Result<IndexRequest> {
    let sensor = request
        .sensor
        .clone()
        .unwrap_or_else(|| product.profile.to_string());
    let profile = Profile::find(&sensor)?;
    let mut inputs = Vec::new();
    let mut bands: Vec<(Role, BandRef)> = Vec::new();
    for b in &product.bands {
        if b.names.is_empty() {
            inputs.push(b.path.clone());
        } else if let Some(role) = named_role(&b.names, &profile) {
            if !bands.iter().any(|(r, _)| *r == role) {
                bands.push((role, BandRef::File(b.path.clone(), Some(1))));
            }
        }
    }
    Ok(IndexRequest {
        inputs,
        bands,
        sensor: Some(sensor),
        name: request.name.clone().or(Some(product.name)),
        calibration: product
            .bands
            .iter()
            .filter_map(|b| b.calibration.map(|c| (b.path.clone(), c)))
            .collect(),
        date: product.date.and_then(|d| d.parse().ok()),
        source_note: Some(product.note),
        ..request.clone()
    })
}

/// The role of a band a product names: a STAC common name (red, nir08, swir16, …), else the
/// profile's band names (B05, SR_B4, SCL, qa_pixel). `rededge` alone is ambiguous (Sentinel-2
/// has three), so the band name decides.
fn named_role(names: &[String], profile: &Profile) -> Option<Role> {
    let common = |n: &str| match n.to_ascii_lowercase().as_str() {
        "coastal" => Some(Role::A),
        "blue" => Some(Role::B),
        "green" => Some(Role::G),
        "red" => Some(Role::R),
        "nir" => Some(Role::N),
        "nir08" => Some(Role::N2),
        "swir16" => Some(Role::S1),
        "swir22" => Some(Role::S2),
        _ => None,
    };
    names
        .iter()
        .find_map(|n| common(n).or_else(|| profile.role_for(n)))
}

/// Plan each request; refuse (before any runs) two that would write the same file.
fn plan_each(
    requests: &[IndexRequest],
    request: &IndexRequest,
    catalogue: &Catalogue,
) -> Result<Vec<IndexPlan>> {
    if let (Some(name), true) = (&request.name, requests.len() > 1) {
        return Err(Error::usage(format!(
            "the output name '{name}' names one set of outputs, but {} inputs are each processed on their own: drop the name, or give one input at a time",
            requests.len()
        )));
    }
    let plans = requests
        .iter()
        .map(|r| plan(r, catalogue))
        .collect::<Result<Vec<_>>>()?;
    let mut paths: Vec<&Path> = Vec::new();
    for p in plans.iter().flat_map(|p| &p.outputs) {
        if paths.contains(&p.path.as_path()) {
            return Err(Error::usage(format!(
                "two inputs would both write {}: their names share a stem; give them one at a time, each with its own output name",
                p.path.display()
            )));
        }
        paths.push(&p.path);
    }
    Ok(plans)
}

/// URLs (https://, s3://) as GDAL opens them (/vsicurl/, /vsis3/).
fn with_gdal_paths(request: &IndexRequest) -> IndexRequest {
    let mut r = request.clone();
    for p in r.inputs.iter_mut() {
        *p = gdal_path(p);
    }
    for (_, b) in r.bands.iter_mut() {
        if let BandRef::File(p, _) = b {
            *p = gdal_path(p);
        }
    }
    r
}

/// Check a request against the files and build the plan. A single input that is a product
/// (SAFE, Landsat folder or archive, STAC Item) is expanded into its bands first.
pub fn plan(request: &IndexRequest, catalogue: &Catalogue) -> Result<IndexPlan> {
    let request = &with_gdal_paths(request);
    if let ([single], true) = (request.inputs.as_slice(), request.bands.is_empty()) {
        if let Some(product) = open_product(single)? {
            return plan(&product_request(request, product)?, catalogue);
        }
    }
    if request.indices.is_empty() && request.expressions.is_empty() {
        return Err(Error::usage(
            "no index asked for: name catalogue indices (e.g. ndvi, ndre) or define one (NAME=FORMULA)",
        ));
    }
    if request.out_dir.exists() && !request.out_dir.is_dir() {
        return Err(Error::usage(format!(
            "output folder {}: is a file, not a folder",
            request.out_dir.display()
        )));
    }
    let explicit_files = request.bands.iter().filter_map(|(_, b)| match b {
        BandRef::File(p, _) => Some(p.clone()),
        BandRef::Number(_) => None,
    });
    let mut files: Vec<PathBuf> = Vec::new();
    for p in request.inputs.iter().cloned().chain(explicit_files) {
        if !files.contains(&p) {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(Error::usage(
            "no input: give one multi-band raster, one file per band, or map roles to files (ROLE=FILE)",
        ));
    }
    let infos = files
        .iter()
        .map(|p| RasterInfo::read(p))
        .collect::<Result<Vec<_>>>()?;
    let like = match &request.grid {
        GridChoice::Like(path) => Some(RasterInfo::read(path)?),
        _ => None,
    };
    let full = target_grid(&request.grid, &infos, like.as_ref())?;
    let (target, origin) = match &request.aoi {
        None => (full.clone(), (0, 0)),
        Some(aoi) => crop(&full, aoi.bounds_in(full.crs_wkt.as_deref())?, &aoi.text)?,
    };
    // A file on the full grid is read at an offset; any other is resampled onto the cropped
    // grid directly.
    // paddy resamples itself where it can (a stencil), else GDAL's warper does.
    let warp_for = |grid: &Grid, quality: bool, nodata: Option<f64>| match resampling_for(
        grid, &full, quality,
    ) {
        None => (None, origin, None),
        Some(resampling) => (
            Some(Warp {
                grid: target.clone(),
                resampling,
                nodata,
            }),
            (0, 0),
            stencil(grid, &target, resampling),
        ),
    };
    let info = |path: &Path| infos.iter().find(|i| i.path == path);
    let (profile, mut profile_source) = choose_profile(request, &infos)?;
    if let Some(note) = &request.source_note {
        profile_source = note.clone();
    }
    let mut warnings = Vec::new();

    // Roles: explicit --band first, then the profile's names, then its band positions.
    let chosen = choose_roles(request, &infos, &profile, &mut warnings)?;

    // Indices, their constants and how each is computed.
    let outputs = plan_outputs(request, catalogue, &files, &profile, |r| {
        chosen.contains_key(&r)
    })?;
    check_constants_used(request, catalogue, &outputs, &mut warnings)?;
    warnings.extend(nodata_in_range(request.out_nodata, &outputs));

    // Reflectance conversion for the roles the kernels read.
    let mut needed: Vec<Role> = outputs.iter().flat_map(|o| o.formula.roles()).collect();
    needed.sort();
    needed.dedup();
    let mut roles = BTreeMap::new();
    for role in needed {
        let (path, band, _) = &chosen[&role];
        let i = info(path).ok_or_else(|| Error::usage("internal: unread input"))?;
        let mut spec = band_spec(request, &profile, i, *band);
        (spec.warp, spec.origin, spec.stencil) =
            warp_for(&i.grid, !role.is_spectral(), spec.nodata);
        roles.insert(role, spec);
    }
    let mask = profile.mask.as_ref().and_then(|(role, rule)| {
        let (path, band, _) = chosen.get(role)?;
        let (warp, origin, stencil) = warp_for(&info(path)?.grid, true, None);
        Some(MaskSpec {
            path: path.clone(),
            band: *band,
            rule: rule.clone(),
            warp,
            origin,
            stencil,
        })
    });
    check_one_acquisition(&roles, mask.as_ref(), &infos)?;
    warnings.extend(scale_warnings(request, &profile, &roles, &outputs, &infos));
    let (used_files, warps) = files_to_open(&roles, mask.as_ref());
    let resampled_cache_bytes = roles
        .values()
        .filter(|s| s.warp.is_some())
        .filter_map(|s| info(&s.path))
        .map(|i| 2 * i.grid.width * i.block_size.1.max(1) * 4 * i.band_count)
        .sum();
    // Windows follow the blocks of the first role read straight from its file (a resampled
    // read has no blocks of its own to follow).
    let block_size = roles
        .values()
        .find(|s| s.warp.is_none())
        .and_then(|s| info(&s.path))
        .map_or((512, 512), |i| i.block_size);
    let acquisition_date = request.date.or_else(|| {
        infos
            .iter()
            .find_map(|i| crate::phenology::dates::date_from_metadata(&i.metadata))
            .map(|(date, _)| date)
    });
    Ok(IndexPlan {
        acquisition_date,
        grid: target,
        block_size,
        profile,
        profile_source,
        roles,
        mask,
        outputs,
        files: used_files,
        warps,
        resampled_cache_bytes,
        out_nodata: request.out_nodata,
        cog: request.cog.clone(),
        threads: request.threads,
        warnings,
    })
}

/// Refuse files read together whose metadata dates their acquisitions more than a day apart (an
/// image with the quality mask of another date would drop the wrong pixels and keep clouds,
/// silently). A date from `TIFFTAG_DATETIME` does not count: it says when the file was written.
fn check_one_acquisition(
    roles: &BTreeMap<Role, BandSpec>,
    mask: Option<&MaskSpec>,
    infos: &[RasterInfo],
) -> Result<()> {
    let paths = roles.values().map(|s| &s.path).chain(mask.map(|m| &m.path));
    let mut first: Option<(&Path, crate::phenology::dates::Date, &str)> = None;
    for path in paths {
        let dated = infos
            .iter()
            .find(|i| i.path == *path)
            .and_then(|i| crate::phenology::dates::date_from_metadata(&i.metadata))
            .filter(|(_, key)| *key != "TIFFTAG_DATETIME");
        let Some((date, key)) = dated else {
            continue;
        };
        match first {
            None => first = Some((path, date, key)),
            Some((a, a_date, a_key)) if (date - a_date).abs() > 1 => {
                return Err(Error::Input {
                    path: a.to_path_buf(),
                    message: format!(
                        "acquired {a_date} ({a_key}), but {}, read with it, was acquired {date} ({key}), {} days apart: an image and its quality mask (and its band files) must come from one acquisition; give the files of one date",
                        path.display(),
                        (date - a_date).abs()
                    ),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Which file and band plays each role, and why: explicit --band first, then the profile's
/// names (band descriptions, file names), then its band positions in a single input. A role
/// two files both claim is refused, saying what each file is.
fn choose_roles(
    request: &IndexRequest,
    infos: &[RasterInfo],
    profile: &Profile,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<Role, (PathBuf, usize, String)>> {
    let info = |path: &Path| infos.iter().find(|i| i.path == path);
    let mut chosen: BTreeMap<Role, (PathBuf, usize, String)> = BTreeMap::new();
    for (role, band_ref) in &request.bands {
        let (path, band) = match band_ref {
            BandRef::Number(n) => match request.inputs.as_slice() {
                [single] => (single.clone(), *n),
                _ => {
                    return Err(Error::usage(format!(
                        "band mapping {role}={n} picks a band of the single input, but {} inputs were given: name the file, {role}=FILE[:BAND]",
                        request.inputs.len()
                    )))
                }
            },
            BandRef::File(path, Some(n)) => (path.clone(), *n),
            BandRef::File(path, None) => {
                let count = info(path).map_or(1, |i| i.band_count);
                if count != 1 {
                    return Err(Error::usage(format!(
                        "band mapping {role}={}: the file has {count} bands; say which, e.g. {role}={}:1",
                        path.display(),
                        path.display()
                    )));
                }
                (path.clone(), 1)
            }
        };
        if let Some(i) = info(&path) {
            i.check_band(band)?;
        }
        if chosen
            .insert(*role, (path, band, "mapped".into()))
            .is_some()
        {
            return Err(Error::usage(format!("band {role} is mapped twice")));
        }
    }
    let explicitly_mapped: Vec<(PathBuf, usize)> =
        chosen.values().map(|(p, b, _)| (p.clone(), *b)).collect();
    for i in infos.iter().filter(|i| request.inputs.contains(&i.path)) {
        let name = file_name(&i.path);
        for band in 1..=i.band_count {
            if explicitly_mapped.contains(&(i.path.clone(), band)) {
                continue;
            }
            let description = &i.descriptions[band - 1];
            let by_description = profile.role_for(description);
            let by_name = (i.band_count == 1)
                .then(|| profile.role_for(&name))
                .flatten();
            match by_description.or(by_name) {
                Some(role) => match chosen.get(&role) {
                    None => {
                        let why = if by_description.is_some() {
                            format!("band description '{description}'")
                        } else {
                            "file name".to_string()
                        };
                        chosen.insert(role, (i.path.clone(), band, why));
                    }
                    Some((p, b, why)) if p != &i.path => {
                        return Err(Error::usage(format!(
                            "band {role} is ambiguous: {} band {b} ({why}) and {name} band {band} both look like it. The inputs: {}. Map it by hand ({role}=FILE[:BAND]), or give the files one at a time",
                            file_name(p),
                            inputs::describe_all(&request.inputs, infos, profile)
                        )))
                    }
                    Some((p, b, _)) if *b != band => warnings.push(format!(
                        "{name} band {band} also looks like {role}; using {} band {b}",
                        file_name(p)
                    )),
                    Some(_) => {}
                },
                None if i.band_count == 1 && request.inputs.len() > 1 => warnings.push(format!(
                    "{name}: the {} profile does not say which band this is; it is not used (map it by hand: ROLE={})",
                    profile.name,
                    i.path.display()
                )),
                None => {}
            }
        }
    }
    if let [single] = request.inputs.as_slice() {
        if let Some(i) = info(single) {
            for (&role, &band) in &profile.positions {
                if band <= i.band_count && !chosen.contains_key(&role) {
                    chosen.insert(
                        role,
                        (single.clone(), band, format!("{} band order", profile.name)),
                    );
                }
            }
        }
    }
    Ok(chosen)
}

/// The files the workers open as they are (sorted), and those read through a warped VRT with
/// how. A file paddy resamples itself (a stencil) is opened as it is.
fn files_to_open(
    roles: &BTreeMap<Role, BandSpec>,
    mask: Option<&MaskSpec>,
) -> (Vec<PathBuf>, Vec<(PathBuf, Warp)>) {
    let reads = roles
        .values()
        .map(|s| (&s.path, &s.warp, s.stencil.is_some()))
        .chain(mask.iter().map(|m| (&m.path, &m.warp, m.stencil.is_some())));
    let (mut used_files, mut warps) = (Vec::new(), Vec::new());
    for (path, warp, own) in reads {
        match warp {
            Some(w) if !own && !warps.contains(&(path.clone(), w.clone())) => {
                warps.push((path.clone(), w.clone()))
            }
            Some(_) if !own => {}
            _ if !used_files.contains(path) => used_files.push(path.clone()),
            _ => {}
        }
    }
    used_files.sort();
    (used_files, warps)
}

/// The indices asked for, each with its formula, constants and output path. Fails on an index
/// that needs a role not `mapped`, or an output that would overwrite an input.
fn plan_outputs(
    request: &IndexRequest,
    catalogue: &Catalogue,
    files: &[PathBuf],
    profile: &Profile,
    mapped: impl Fn(Role) -> bool,
) -> Result<Vec<PlannedIndex>> {
    let mut outputs: Vec<PlannedIndex> = Vec::new();
    let stem = request
        .name
        .clone()
        .unwrap_or_else(|| output_stem(&request.inputs_or(files)));
    for (label, def) in requested_defs(request, catalogue)? {
        if outputs.iter().any(|o| o.def.short_name == def.short_name) {
            continue;
        }
        let formula = compile(&def, request, catalogue)?;
        for role in formula.roles() {
            if !mapped(role) {
                return Err(Error::MissingRole {
                    index: def.short_name.clone(),
                    role: role.symbol().into(),
                    role_name: role.long_name().into(),
                    hint: missing_role_hint(role, request, profile),
                });
            }
        }
        let constants = def
            .constants()
            .iter()
            .filter_map(|c| constant_value(c, request, catalogue).map(|v| (c.to_string(), v)))
            .collect();
        let path = request.out_dir.join(format!("{stem}_{label}.tif"));
        if files.iter().any(|f| crate::io::same_file(f, &path)) {
            return Err(Error::usage(format!(
                "{} would overwrite an input: choose another output folder or output name",
                path.display()
            )));
        }
        outputs.push(PlannedIndex {
            label,
            def,
            formula,
            constants,
            path,
        });
    }
    Ok(outputs)
}

/// A `--const` that no index asked for uses: refused when no catalogue index or constant has
/// that name (a misspelt or wrongly cased name, `l` for SAVI's `L`, naming the constants the
/// indices do use), a warning when it is a catalogue one these indices happen not to use.
/// Never silently ignored.
fn check_constants_used(
    request: &IndexRequest,
    catalogue: &Catalogue,
    outputs: &[PlannedIndex],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let used: BTreeSet<String> = outputs
        .iter()
        .flat_map(|o| o.def.constants())
        .map(str::to_string)
        .collect();
    for unused in request.constants.keys().filter(|k| !used.contains(*k)) {
        let known = catalogue.constant(unused).is_some()
            || catalogue
                .indices()
                .any(|d| d.constants().contains(&unused.as_str()));
        if known {
            warnings.push(format!(
                "--const {unused}: none of the indices asked for uses {unused}"
            ));
            continue;
        }
        let hint = match used.iter().find(|u| u.eq_ignore_ascii_case(unused)) {
            Some(right) => format!(" (constant names are case-sensitive: did you mean {right}?)"),
            None => String::new(),
        };
        let known = if used.is_empty() {
            "they use none".to_string()
        } else {
            let names: Vec<&str> = used.iter().map(String::as_str).collect();
            format!("they use {}", names.join(", "))
        };
        return Err(Error::usage(format!(
            "--const {unused}: no index asked for has a constant named '{unused}'{hint}; {known}"
        )));
    }
    Ok(())
}

/// The warnings on the scale of the bands read: a profile of raw sensor counts without a
/// scale, else [`counts_as_reflectance`].
fn scale_warnings(
    request: &IndexRequest,
    profile: &Profile,
    roles: &BTreeMap<Role, BandSpec>,
    outputs: &[PlannedIndex],
    infos: &[RasterInfo],
) -> Vec<String> {
    if !profile.raw_counts {
        return counts_as_reflectance(roles, outputs, infos);
    }
    if request.scale.is_some() {
        return Vec::new();
    }
    vec![format!(
        "{}: raw sensor counts, not reflectance: ratio indices (NDVI, NDRE) are comparable only within one capture; EVI/SAVI-type indices need calibrated reflectance",
        profile.name
    )]
}

/// A warning for each index that is wrong on digital numbers when a band it reads holds
/// integers taken as reflectance unscaled (no scale in the file, the profile or the request):
/// a ratio such as NDVI gives the same value on any common scale of its bands, but an index
/// with constants in reflectance units (EVI's 1 and 6, SAVI's L) does not.
fn counts_as_reflectance(
    roles: &BTreeMap<Role, BandSpec>,
    outputs: &[PlannedIndex],
    infos: &[RasterInfo],
) -> Vec<String> {
    let unscaled: Vec<(Role, &BandSpec)> = roles
        .iter()
        .filter(|(_, s)| (s.scale, s.offset) == (1.0, 0.0))
        .filter(|(_, s)| {
            infos
                .iter()
                .find(|i| i.path == s.path)
                .and_then(|i| i.band_integer.get(s.band - 1))
                .copied()
                .unwrap_or(false)
        })
        .map(|(r, s)| (*r, s))
        .collect();
    outputs
        .iter()
        .filter(|o| !scale_free(o))
        .filter_map(|o| {
            let read: Vec<String> = unscaled
                .iter()
                .filter(|(r, _)| o.formula.roles().contains(r))
                .map(|(r, s)| {
                    format!("{} ({} band {})", r.symbol(), crate::io::file_name(&s.path), s.band)
                })
                .collect();
            (!read.is_empty()).then(|| {
                format!(
                    "{}: {} hold integer digital numbers read as reflectance (no scale in the file or the sensor profile): the index's constants assume reflectance 0–1, so its values are wrong; give the --scale and --offset that make them reflectance (--scale 0.0001 for the usual 0–10000 DNs), or choose a ratio index such as NDVI",
                    o.def.short_name,
                    read.join(", ")
                )
            })
        })
        .collect()
}

/// Whether the index gives the same value when all its bands are multiplied by one factor:
/// checked by evaluating it at one set of band values and at those values ×1000.
fn scale_free(o: &PlannedIndex) -> bool {
    let Ok(expr) = Expr::parse(&o.def.formula) else {
        return true;
    };
    let at = |k: f64| {
        expr.eval(&|s: &str| match Role::parse_symbol(s) {
            Some(r) => Some(k * (0.05 + 0.07 * (r as usize % 11) as f64)),
            None => o.constants.iter().find(|(c, _)| c == s).map(|(_, v)| *v),
        })
    };
    match (at(1.0), at(1000.0)) {
        (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => {
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
        }
        _ => true,
    }
}

/// A warning for each index whose known range holds the output nodata value: its pixels that
/// compute to that value would read as nodata (the run counts them).
fn nodata_in_range(nodata: f64, outputs: &[PlannedIndex]) -> Vec<String> {
    let is_band = |s: &str| Role::parse_symbol(s).is_some();
    outputs
        .iter()
        .filter_map(|o| {
            let (lo, hi) = Expr::parse(&o.def.formula).ok()?.value_range(&is_band)?;
            (lo..=hi).contains(&nodata).then(|| {
                format!(
                    "{}: the output nodata value {nodata} lies inside the index's range [{lo}, {hi}], so pixels that compute to {nodata} will read as nodata; choose a value outside it (the default {DEFAULT_OUT_NODATA} is)",
                    o.def.short_name
                )
            })
        })
        .collect()
}

impl IndexRequest {
    fn inputs_or(&self, files: &[PathBuf]) -> Vec<PathBuf> {
        if self.inputs.is_empty() {
            files.to_vec()
        } else {
            self.inputs.clone()
        }
    }
}

/// The catalogue definitions asked for, then the custom ones, each with the label its output
/// file takes.
fn requested_defs(
    request: &IndexRequest,
    catalogue: &Catalogue,
) -> Result<Vec<(String, IndexDef)>> {
    let mut defs = Vec::new();
    for name in &request.indices {
        let name = name.trim();
        let def = catalogue.lookup(name).map_err(|candidates| {
            if candidates.is_empty() {
                Error::usage(format!(
                    "unknown index '{name}': see `paddy indices` for the catalogue, or define it as a custom index ({name}=FORMULA)"
                ))
            } else {
                Error::usage(format!(
                    "'{name}' could be {}: the catalogue tells them apart by case, so type the exact name",
                    candidates.join(" or ")
                ))
            }
        })?;
        // Files are named in lower case, except the indices whose names differ from another's
        // only by case (BAI / BaI): those keep their exact spelling so files cannot collide.
        let label = if catalogue.has_case_twin(&def.short_name) {
            def.short_name.clone()
        } else {
            name.to_ascii_lowercase()
        };
        defs.push((label, def.clone()));
    }
    for (name, formula) in &request.expressions {
        defs.push((
            name.to_ascii_lowercase(),
            custom_index(name, formula, catalogue)?,
        ));
    }
    Ok(defs)
}

/// A user's own index, written in the catalogue's formula language.
pub fn custom_index(name: &str, formula: &str, catalogue: &Catalogue) -> Result<IndexDef> {
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(Error::usage(format!(
            "custom index '{name}': an index name is letters, digits, '_' or '-'"
        )));
    }
    if let Some(existing) = catalogue.index(name) {
        return Err(Error::usage(format!(
            "custom index {name}: {} is a catalogue index ({}); give yours another name",
            existing.short_name, existing.long_name
        )));
    }
    let expr = Expr::parse(formula).map_err(|e| {
        let rest: String = formula
            .get(e.position..)
            .unwrap_or("")
            .chars()
            .take(12)
            .collect();
        let place = if rest.is_empty() {
            "at its end".to_string()
        } else {
            format!("before '{rest}'")
        };
        // A long formula is not repeated whole: the position and what follows it say where.
        let shown = if formula.chars().count() <= 80 {
            format!(" in '{formula}'")
        } else {
            String::new()
        };
        Error::usage(format!("custom index {name}: {e}{shown} ({place})"))
    })?;
    Ok(IndexDef {
        short_name: name.to_string(),
        long_name: format!("custom index {name}"),
        formula: formula.to_string(),
        bands: expr.symbols().into_iter().collect(),
        application_domain: "custom".into(),
        reference: String::new(),
        platforms: Vec::new(),
    })
}

fn constant_value(name: &str, request: &IndexRequest, catalogue: &Catalogue) -> Option<f64> {
    request
        .constants
        .get(name)
        .copied()
        .or_else(|| catalogue.constant(name).and_then(|d| d.default))
}

/// A hand-written kernel when there is one (and --engine allows), else a compiled program.
/// Fails naming every constant that has no value.
fn compile(def: &IndexDef, request: &IndexRequest, catalogue: &Catalogue) -> Result<Formula> {
    let value = |c: &str| constant_value(c, request, catalogue);
    let missing: Vec<&str> = def
        .constants()
        .into_iter()
        .filter(|c| value(c).is_none())
        .collect();
    if !missing.is_empty() {
        let what: Vec<String> = missing
            .iter()
            .map(|c| match catalogue.constant(c) {
                Some(d) => format!("{c} ({}, no default)", d.description),
                None => format!("{c} (not a band symbol nor a catalogue constant)"),
            })
            .collect();
        let give: Vec<String> = missing.iter().map(|c| format!("{c}=VALUE")).collect();
        return Err(Error::usage(format!(
            "{} needs {}: give the constant a value, {}",
            def.short_name,
            what.join(", "),
            give.join(" ")
        )));
    }
    Formula::for_index(def, &value, request.engine == Engine::Auto)
        .map_err(|e| Error::usage(format!("{}: {e}", def.short_name)))
}

fn missing_role_hint(role: Role, request: &IndexRequest, profile: &Profile) -> String {
    let how = if request.inputs.len() == 1 {
        format!("{role}=BAND_NUMBER or {role}=FILE")
    } else {
        format!("{role}=FILE[:BAND]")
    };
    format!(
        "map it by hand ({how}){}",
        if profile.name == "generic" {
            ", or choose a sensor profile that names the bands (see `paddy sensors`)".to_string()
        } else {
            format!(
                " (the {} profile found no such band in the input)",
                profile.name
            )
        }
    )
}

/// How one band's DNs become reflectance: `--scale/--offset` override; then the band's own GDAL
/// scale/offset (generic profile); then the profile, with a metadata DN offset (BOA_ADD_OFFSET).
fn band_spec(
    request: &IndexRequest,
    profile: &Profile,
    info: &RasterInfo,
    band: usize,
) -> BandSpec {
    let product = request
        .calibration
        .iter()
        .find(|(p, _)| *p == info.path)
        .map(|(_, c)| *c);
    let own = if profile.use_band_scale {
        info.band_scale_offset[band - 1]
    } else {
        None
    };
    let own = product.or(own);
    let scale = request
        .scale
        .or(own.map(|(s, _)| s))
        .unwrap_or(profile.scale);
    let metadata_offset = profile.offset_metadata.as_ref().and_then(|key| {
        info.band_metadata[band - 1]
            .get(key)
            .or_else(|| info.metadata.get(key))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let offset = request
        .offset
        .or(own.map(|(_, o)| o))
        .or(metadata_offset.map(|dn| dn * scale))
        .unwrap_or(profile.offset);
    BandSpec {
        path: info.path.clone(),
        band,
        nodata: request
            .nodata
            .or(info.band_nodata[band - 1])
            .or(profile.nodata),
        scale,
        offset,
        warp: None,
        origin: (0, 0),
        stencil: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_refs_parse() {
        assert_eq!(BandRef::parse("3"), BandRef::Number(3));
        assert_eq!(
            BandRef::parse("a/B5.TIF"),
            BandRef::File("a/B5.TIF".into(), None)
        );
        assert_eq!(
            BandRef::parse("s.tif:4"),
            BandRef::File("s.tif".into(), Some(4))
        );
    }

    #[test]
    fn output_stems_come_from_the_inputs() {
        let p = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(output_stem(&p(&["x/tile.tif"])), "tile");
        assert_eq!(
            output_stem(&p(&["LC08_L2SP_X_SR_B4.TIF", "LC08_L2SP_X_SR_B5.TIF"])),
            "LC08_L2SP_X_SR"
        );
        assert_eq!(
            output_stem(&p(&["IMG_0001_1.tif", "IMG_0001_5.tif"])),
            "IMG_0001"
        );
        assert_eq!(output_stem(&p(&["sr_b4_2020.tif", "sr_b5_2020.tif"])), "sr");
        assert_eq!(output_stem(&p(&["red.tif", "nir.tif"])), "red");
        assert_eq!(
            output_stem(&p(&["s2_0627.tif", "s2_0627_scl.tif"])),
            "s2_0627"
        );
    }
}
