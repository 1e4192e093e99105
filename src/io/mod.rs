//! The only place that talks to GDAL: open and describe rasters, read windows as reflectance with
//! validity, write index rasters as Cloud Optimized GeoTIFFs that appear under their final name
//! only when complete; read plots from vector files and reproject them ([`vector`]); write
//! tables of plots ([`table`]); warp and polygonise ([`warp`]).

mod aoi;
mod cog;
mod preview;
mod product;
mod read;
mod resample;
pub mod stac;
mod sweep;
pub mod table;
pub mod vector;
pub mod warp;
mod write;
mod zip_times;

pub use aoi::Aoi;
pub use preview::{read_preview, Preview};
pub use product::{check_input, gdal_path, open_product, Product, ProductBand};
pub use read::{BandSpec, MaskSpec, Readers};
pub use resample::{stencil, warp_args, Resampling, Stencil, Warp, WarpedFiles};
pub use sweep::{process_alive, sweep_temporaries, temporary_pid};
pub use write::{
    disk_full, explain_full_disk, finish_all, write_atomic, write_atomically, Codec, CogOptions,
    IndexWriter, Layout, OutputMeta, Predictor, TempPath,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use gdal::{Dataset, Metadata};

use crate::error::{Error, Result};
use crate::raster::Grid;

/// GDAL's messages carry a class/number prefix that tells a user nothing: keep the text.
pub(crate) fn gdal_message(err: &gdal::errors::GdalError) -> String {
    use gdal::errors::GdalError;
    match err {
        GdalError::CplError { msg, .. } | GdalError::NullPointer { msg, .. } if !msg.is_empty() => {
            msg.trim().to_string()
        }
        // Its Display shows the message as Rust debug text (`'Some("…")'`).
        GdalError::InvalidCoordinateRange { from, to, msg } => format!(
            "coordinates outside what {from} to {to} can transform{}",
            msg.as_deref()
                .map(|m| format!(" ({})", m.trim().to_lowercase()))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// Set GDAL up once: keep its messages off the terminal (paddy reports errors itself, with the
/// file they concern) and bound the block cache unless the user chose a size.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gdal::config::set_error_handler(|_class, _number, _message| {});
        if std::env::var_os("GDAL_CACHEMAX").is_none() {
            // 256 MiB: enough for a row of output tiles per index; keeps RSS bounded.
            let _ = gdal::config::set_config_option("GDAL_CACHEMAX", "256");
        }
        for (key, value) in HTTP_DEFAULTS {
            if std::env::var_os(key).is_none() {
                let _ = gdal::config::set_config_option(key, value);
            }
        }
    });
}

/// GDAL's settings for remote files (/vsicurl/, /vsis3/), each unless the environment sets it:
/// give up on a server that does not answer instead of waiting for ever, retry what is worth
/// retrying. (GDAL keeps fetched ranges in its own /vsicurl/ cache, 16 MiB.)
pub const HTTP_DEFAULTS: [(&str, &str); 4] = [
    // Seconds to connect, and for a whole request (a COG window is a few MB at most).
    ("GDAL_HTTP_CONNECTTIMEOUT", "15"),
    ("GDAL_HTTP_TIMEOUT", "60"),
    // Retries of 429/502/503/504 answers, seconds apart (doubling).
    ("GDAL_HTTP_MAX_RETRY", "3"),
    ("GDAL_HTTP_RETRY_DELAY", "1"),
];

/// Ask for a GDAL block cache of `mib` MiB instead of the default above, unless the user set
/// GDAL_CACHEMAX. GDAL sizes its cache when the first block is read, so call this before any
/// pixel is read in the process.
pub fn prefer_block_cache_mib(mib: u32) {
    init();
    if std::env::var_os("GDAL_CACHEMAX").is_none() {
        let _ = gdal::config::set_config_option("GDAL_CACHEMAX", &mib.to_string());
    }
}

/// True when two paths name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A file's name for messages and metadata (the whole path when it has no final component).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Open a raster read-only, with an error that says what is wrong with the file.
pub fn open(path: &Path) -> Result<Dataset> {
    init();
    // GDAL's virtual file systems (/vsizip/, /vsicurl/, /vsis3/, …) are not on disk: GDAL itself
    // says whether they open.
    let virtual_path = path.to_string_lossy().starts_with("/vsi");
    if !virtual_path && !path.exists() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_RASTER
                | gdal::GdalOpenFlags::GDAL_OF_READONLY
                | gdal::GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
            ..Default::default()
        },
    )
    .map_err(|e| Error::Open {
        path: path.to_path_buf(),
        message: gdal_message(&e),
    })?;
    if ds.raster_count() == 0 {
        // Containers (Sentinel-2 SAFE MTD_MSIL2A.xml, NetCDF, HDF) hold their rasters as
        // subdatasets: name them, since one of them is what the user wants to pass.
        let subdatasets: Vec<String> = ds
            .metadata_domain("SUBDATASETS")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| {
                let (key, value) = kv.split_once('=')?;
                key.ends_with("_NAME").then(|| value.to_string())
            })
            .collect();
        let message = if subdatasets.is_empty() {
            "the file has no raster bands".to_string()
        } else {
            format!(
                "the file holds subdatasets, not bands: pass one of them as the input, e.g. '{}' ({} in all; `gdalinfo` lists them)",
                subdatasets[0],
                subdatasets.len()
            )
        };
        return Err(Error::Open {
            path: path.to_path_buf(),
            message,
        });
    }
    check_complete(path, &ds)?;
    Ok(ds)
}

/// What paddy needs to know about an input raster before reading pixels.
#[derive(Debug, Clone)]
pub struct RasterInfo {
    pub path: PathBuf,
    pub grid: Grid,
    pub band_count: usize,
    /// Band descriptions, 1-based band `i` at index `i - 1` (empty when unnamed).
    pub descriptions: Vec<String>,
    /// Dataset metadata (default domain).
    pub metadata: BTreeMap<String, String>,
    /// Per band: metadata (default domain).
    pub band_metadata: Vec<BTreeMap<String, String>>,
    /// Per band: the band's own GDAL scale and offset, when set.
    pub band_scale_offset: Vec<Option<(f64, f64)>>,
    /// Per band: the nodata value the file declares.
    pub band_nodata: Vec<Option<f64>>,
    /// Per band: whether its pixels are integers (digital numbers: reflectance only once
    /// scaled).
    pub band_integer: Vec<bool>,
    /// Storage block size of band 1.
    pub block_size: (usize, usize),
}

fn metadata_map(object: &impl Metadata) -> BTreeMap<String, String> {
    object
        .metadata()
        .filter(|entry| entry.domain.is_empty())
        .map(|entry| (entry.key, entry.value))
        .collect()
}

impl RasterInfo {
    /// Open `path` and describe it.
    pub fn read(path: &Path) -> Result<RasterInfo> {
        let ds = open(path)?;
        let (width, height) = ds.raster_size();
        let crs_wkt = Some(ds.projection()).filter(|w| !w.is_empty());
        let geo_transform = ds.geo_transform().ok();
        let band_count = ds.raster_count();
        let mut descriptions = Vec::with_capacity(band_count);
        let mut band_metadata = Vec::with_capacity(band_count);
        let mut band_scale_offset = Vec::with_capacity(band_count);
        let mut band_nodata = Vec::with_capacity(band_count);
        let mut band_integer = Vec::with_capacity(band_count);
        let mut block_size = (width, 1);
        for i in 1..=band_count {
            let band = ds.rasterband(i).map_err(|e| Error::Read {
                path: path.to_path_buf(),
                band: i,
                message: gdal_message(&e),
            })?;
            check_pixel_type(path, i, &band)?;
            if i == 1 {
                block_size = band.block_size();
            }
            descriptions.push(band.description().unwrap_or_default());
            band_nodata.push(band.no_data_value());
            band_integer.push(band.band_type().is_integer());
            band_metadata.push(metadata_map(&band));
            let (scale, offset) = (band.scale(), band.offset());
            band_scale_offset.push(match (scale, offset) {
                (None, None) => None,
                (s, o) => Some((s.unwrap_or(1.0), o.unwrap_or(0.0)))
                    .filter(|&(s, o)| (s, o) != (1.0, 0.0)),
            });
        }
        Ok(RasterInfo {
            path: path.to_path_buf(),
            grid: Grid {
                width,
                height,
                geo_transform,
                crs_wkt,
            },
            band_count,
            descriptions,
            metadata: metadata_map(&ds),
            band_metadata,
            band_scale_offset,
            band_nodata,
            band_integer,
            block_size,
        })
    }

    /// Open and describe each of `paths`, in order; the first that fails is the error.
    pub fn read_all(paths: &[PathBuf]) -> Result<Vec<RasterInfo>> {
        paths.iter().map(|p| RasterInfo::read(p)).collect()
    }

    /// Refuse a band number outside the file.
    pub fn check_band(&self, band: usize) -> Result<()> {
        if band == 0 || band > self.band_count {
            return Err(Error::BandOutOfRange {
                path: self.path.clone(),
                band,
                count: self.band_count,
            });
        }
        Ok(())
    }

    /// Refuse another raster that is not on this one's pixel grid, naming both files.
    pub fn check_same_grid(&self, other: &RasterInfo) -> Result<()> {
        let mismatch = |what: String| Error::GridMismatch {
            a: self.path.clone(),
            b: other.path.clone(),
            what,
        };
        if let Some(what) = self.grid.mismatch(&other.grid) {
            return Err(mismatch(what));
        }
        if !same_crs(self.grid.crs_wkt.as_deref(), other.grid.crs_wkt.as_deref()) {
            let name = |w: Option<&str>| w.map_or("none".to_string(), crs_name);
            return Err(mismatch(format!(
                "CRS {} vs {}",
                name(self.grid.crs_wkt.as_deref()),
                name(other.grid.crs_wkt.as_deref())
            )));
        }
        Ok(())
    }
}

/// Refuse a band whose pixels paddy cannot read as numbers: complex types (CInt16, CFloat32,
/// …, radar data before detection) and any type GDAL does not name.
fn check_pixel_type(path: &Path, index: usize, band: &gdal::raster::RasterBand) -> Result<()> {
    if band.band_type() != gdal::raster::GdalDataType::Unknown {
        return Ok(());
    }
    // SAFETY: the handle is the band's, alive while `band` is; the name is a static string.
    let name = unsafe {
        let t = gdal_sys::GDALGetRasterDataType(band.c_rasterband());
        let name = gdal_sys::GDALGetDataTypeName(t);
        if name.is_null() {
            "unknown".to_string()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    };
    let why = if name.starts_with('C') {
        "complex pixels (e.g. radar before detection); convert to amplitude or intensity first, e.g. with gdal_translate"
    } else {
        "a pixel type paddy cannot read"
    };
    Err(Error::Input {
        path: path.to_path_buf(),
        message: format!("band {index} has pixel type {name}: {why}"),
    })
}

/// Refuse a GeoTIFF whose header places pixel data past the end of the file (a truncated copy
/// or download) when it is opened, so before anything is read or written (every input, the
/// previous flight warped by `prescribe` included, is opened through [`open`]): every block's offset and byte count, as
/// GDAL reports them from the header, must lie within the file. The last row of blocks of each
/// band is checked (writers store blocks in order, so a cut shows there first): a few calls
/// per band however large the raster. Other formats are left to fail at the first read.
fn check_complete(path: &Path, ds: &Dataset) -> Result<()> {
    if ds.driver().short_name() != "GTiff" {
        return Ok(());
    }
    let Ok(file_len) = std::fs::metadata(path).map(|m| m.len()) else {
        return Ok(()); // not a local file (/vsi…): GDAL reports it at the first read
    };
    for i in 1..=ds.raster_count() {
        let Ok(band) = ds.rasterband(i) else {
            continue;
        };
        let (width, height) = band.size();
        let (bw, bh) = band.block_size();
        if bw == 0 || bh == 0 {
            continue;
        }
        let (nx, ny) = (width.div_ceil(bw), height.div_ceil(bh));
        if let Some(y) = ny.checked_sub(1) {
            for x in 0..nx {
                let item = |what: &str| {
                    band.metadata_item(&format!("BLOCK_{what}_{x}_{y}"), "TIFF")
                        .and_then(|v| v.parse::<u64>().ok())
                };
                let (Some(offset), Some(size)) = (item("OFFSET"), item("SIZE")) else {
                    continue; // a sparse (absent) block reads as nodata
                };
                let end = offset.saturating_add(size);
                if offset > 0 && end > file_len {
                    return Err(Error::Input {
                        path: path.to_path_buf(),
                        message: format!(
                            "band {i}: the file is truncated: its header puts pixel data up to byte {end}, but the file has {file_len} bytes (copy or download it again)"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// True when two CRS definitions describe the same CRS (OGR's IsSame), or both are absent.
pub fn same_crs(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => true,
        (Some(a), Some(b)) => match (
            gdal::spatial_ref::SpatialRef::from_wkt(a),
            gdal::spatial_ref::SpatialRef::from_wkt(b),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

/// A short name for a CRS: `EPSG:32633` when it has one, else its name.
pub fn crs_name(wkt: &str) -> String {
    match gdal::spatial_ref::SpatialRef::from_wkt(wkt) {
        Ok(srs) => match (srs.auth_name(), srs.auth_code()) {
            (Some(name), Ok(code)) => format!("{name}:{code}"),
            _ => srs.name().unwrap_or_else(|| "unnamed CRS".into()),
        },
        Err(_) => "unreadable CRS".into(),
    }
}
