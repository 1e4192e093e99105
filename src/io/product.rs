//! Satellite products as downloaded: a Sentinel-2 L2A `.SAFE` folder or its `.zip`, a Landsat
//! Collection 2 Level-2 folder or its `.tar`. Each is opened through GDAL's virtual file systems
//! (/vsizip/, /vsitar/: nothing is unpacked) and turned into its band files, each with the
//! calibration its metadata gives, so `paddy index` needs no `--band`.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::error::{Error, Result};

/// A product opened: its band files (GDAL paths), each with reflectance = DN × scale + offset
/// from the product's metadata (None for class and flag bands, or when it says nothing).
#[derive(Debug, Clone)]
pub struct Product {
    /// The sensor profile that names its bands (sentinel2-l2a, landsat-c2-l2, generic).
    pub profile: &'static str,
    /// The product's name (the folder or archive without extension, a STAC item's id): the
    /// outputs' stem.
    pub name: String,
    pub bands: Vec<ProductBand>,
    /// Acquisition date, YYYY-MM-DD.
    pub date: Option<String>,
    /// What the metadata said, for the run's warnings and the output metadata.
    pub note: String,
}

/// One band file of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductBand {
    pub path: PathBuf,
    pub calibration: Option<(f64, f64)>,
    /// What the product calls it (a STAC asset's common name, band name and key), best first;
    /// empty when the file's name says it (SAFE, Landsat).
    pub names: Vec<String>,
}

impl ProductBand {
    fn file(path: String, calibration: Option<(f64, f64)>) -> ProductBand {
        ProductBand {
            path: PathBuf::from(path),
            calibration,
            names: Vec::new(),
        }
    }
}

/// A URL as GDAL opens it: https:// and http:// through /vsicurl/, s3:// through /vsis3/;
/// anything else unchanged.
pub fn gdal_path(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if text.starts_with("https://") || text.starts_with("http://") {
        PathBuf::from(format!("/vsicurl/{text}"))
    } else if let Some(rest) = text.strip_prefix("s3://") {
        PathBuf::from(format!("/vsis3/{rest}"))
    } else {
        path.to_path_buf()
    }
}

/// `path` as a product, or None when it is not one (an ordinary raster).
pub fn open_product(path: &Path) -> Result<Option<Product>> {
    let text = path.to_string_lossy();
    let lower = text.to_ascii_lowercase();
    // A STAC Item: a .json file, or a URL that names no raster file (STAC APIs serve items
    // at .../items/ID).
    let remote = ["/vsicurl/", "http://", "https://"]
        .iter()
        .any(|p| lower.starts_with(p));
    let raster_name = [".tif", ".tiff", ".jp2", ".vrt", ".img", ".nc", ".hdf"]
        .iter()
        .any(|e| lower.ends_with(e));
    if lower.ends_with(".json") || (remote && !raster_name) {
        return super::stac::item(path).map(Some);
    }
    // The metadata file itself stands for its product.
    if lower.ends_with("mtd_msil2a.xml") {
        if let Some(dir) = path.parent() {
            return open_product(dir);
        }
    }
    let root = if lower.ends_with(".zip") {
        format!("/vsizip/{}", absolute(path)?.display())
    } else if lower.ends_with(".tar") || lower.ends_with(".tar.gz") {
        format!("/vsitar/{}", absolute(path)?.display())
    } else if path.is_dir() {
        absolute(path)?.display().to_string()
    } else {
        return Ok(None);
    };
    let files: Vec<String> = gdal::vsi::read_dir(&root, true)
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!("cannot list the product: {e}"),
        })?
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let name = product_name(path);
    if let Some(mtd) = files.iter().find(|f| f.ends_with("MTD_MSIL2A.xml")) {
        return sentinel2(path, &root, &files, mtd, name).map(Some);
    }
    if let Some(mtl) = files.iter().find(|f| f.ends_with("_MTL.txt")) {
        return landsat(path, &root, &files, mtl, name).map(Some);
    }
    if path.is_dir() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "a folder, but neither a Sentinel-2 L2A product (no MTD_MSIL2A.xml) nor a Landsat Collection 2 Level-2 product (no *_MTL.txt)".into(),
        });
    }
    Ok(None)
}

/// Check an input as `paddy index` opens it: a product's metadata and its first band, or the
/// raster (URLs through /vsicurl/, /vsis3/).
pub fn check_input(path: &Path) -> Result<()> {
    let path = gdal_path(path);
    match open_product(&path)? {
        Some(product) => product
            .bands
            .first()
            .map_or(Ok(()), |b| super::RasterInfo::read(&b.path).map(|_| ())),
        None => super::RasterInfo::read(&path).map(|_| ()),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn product_name(path: &Path) -> String {
    let name = super::file_name(path);
    let lower = name.to_ascii_lowercase();
    for ext in [".safe.zip", ".zip", ".tar.gz", ".tar", ".safe"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}

/// A text file from a product (GDAL's virtual file systems read inside archives and over
/// HTTP).
pub(super) fn read_text(path: &str, what: &Path) -> Result<String> {
    let fail = |message: String| Error::Input {
        path: what.to_path_buf(),
        message,
    };
    super::init();
    let c = CString::new(path).map_err(|e| fail(e.to_string()))?;
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: gdal_sys::vsi_l_offset = 0;
    // SAFETY: VSIIngestFile allocates `data` (freed below with VSIFree) and sets `size`; the
    // limit keeps a wrong file from being read whole.
    let ok = unsafe {
        gdal_sys::VSIIngestFile(
            std::ptr::null_mut(),
            c.as_ptr(),
            &mut data,
            &mut size,
            16 << 20,
        )
    };
    if ok == 0 || data.is_null() {
        // SAFETY: CPLGetLastErrorMsg returns a NUL-terminated string owned by GDAL.
        let why = unsafe { std::ffi::CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) }
            .to_string_lossy()
            .trim()
            .to_string();
        let why = if why.is_empty() || why.starts_with("Cannot open file") {
            "no such file, or the server refused it".to_string()
        } else {
            why
        };
        let which = if Path::new(path) == what || path.ends_with(&*what.to_string_lossy()) {
            String::new()
        } else {
            format!(" {path}")
        };
        return Err(fail(format!("cannot read{which}: {why}")));
    }
    // SAFETY: data holds `size` bytes written by GDAL.
    let text = unsafe {
        let bytes = std::slice::from_raw_parts(data, size as usize);
        let text = String::from_utf8_lossy(bytes).into_owned();
        gdal_sys::VSIFree(data.cast());
        text
    };
    Ok(text)
}

/// Sentinel-2 L2A: each band at its finest resolution (B02–B04, B08 at 10 m; B05–B07, B8A,
/// B11, B12, SCL at 20 m; B01, B09 at 60 m); reflectance = (DN + BOA_ADD_OFFSET) /
/// BOA_QUANTIFICATION_VALUE from MTD_MSIL2A.xml (no offset list before baseline 04.00).
fn sentinel2(
    path: &Path,
    root: &str,
    files: &[String],
    mtd: &str,
    name: String,
) -> Result<Product> {
    let xml = read_text(&format!("{root}/{mtd}"), path)?;
    let tag = |t: &str| {
        Regex::new(&format!(r"<{t}[^>]*>\s*([^<]+?)\s*</{t}>"))
            .ok()
            .and_then(|re| re.captures(&xml).map(|c| c[1].to_string()))
    };
    let quantification = tag("BOA_QUANTIFICATION_VALUE")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(10000.0);
    let offsets: Vec<(usize, f64)> =
        Regex::new(r#"<BOA_ADD_OFFSET band_id="(\d+)"[^>]*>\s*(-?[0-9.]+)\s*<"#)
            .map(|re| {
                re.captures_iter(&xml)
                    .filter_map(|c| Some((c[1].parse().ok()?, c[2].parse().ok()?)))
                    .collect()
            })
            .unwrap_or_default();
    let baseline = tag("PROCESSING_BASELINE").unwrap_or_else(|| "unknown".into());
    const BANDS: [&str; 13] = [
        "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
    ];
    let mut bands = Vec::new();
    for (id, band) in BANDS.iter().enumerate() {
        let found = ["10m", "20m", "60m"].iter().find_map(|res| {
            files
                .iter()
                .find(|f| f.ends_with(&format!("_{band}_{res}.jp2")) && f.contains("IMG_DATA"))
        });
        if let Some(f) = found {
            let dn_offset = offsets.iter().find(|(i, _)| *i == id).map_or(0.0, |o| o.1);
            bands.push(ProductBand::file(
                format!("{root}/{f}"),
                Some((1.0 / quantification, dn_offset / quantification)),
            ));
        }
    }
    let scl = ["20m", "60m"].iter().find_map(|res| {
        files
            .iter()
            .find(|f| f.ends_with(&format!("_SCL_{res}.jp2")) && f.contains("IMG_DATA"))
    });
    bands.extend(scl.map(|f| ProductBand::file(format!("{root}/{f}"), None)));
    if bands.is_empty() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message:
                "MTD_MSIL2A.xml found, but no band files (GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2 …)"
                    .into(),
        });
    }
    let offset_note = match offsets.first() {
        Some((_, o)) => format!("BOA_ADD_OFFSET {o}"),
        None => "no BOA_ADD_OFFSET (baseline before 04.00)".into(),
    };
    Ok(Product {
        profile: "sentinel2-l2a",
        name,
        bands,
        date: tag("PRODUCT_START_TIME").map(|t| t.chars().take(10).collect()),
        note: format!(
            "Sentinel-2 L2A, processing baseline {baseline}: reflectance = (DN + offset) / {quantification}, {offset_note}"
        ),
    })
}

/// Landsat Collection 2 Level-2: the SR_B* files and QA_PIXEL; reflectance = DN ×
/// REFLECTANCE_MULT_BAND_n + REFLECTANCE_ADD_BAND_n from the MTL file.
fn landsat(path: &Path, root: &str, files: &[String], mtl: &str, name: String) -> Result<Product> {
    let text = read_text(&format!("{root}/{mtl}"), path)?;
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let band_re = Regex::new(r"(?i)_SR_B(\d+)\.TIF$").map_err(|e| Error::usage(e.to_string()))?;
    let mut bands = Vec::new();
    for f in files {
        if let Some(c) = band_re.captures(f) {
            let n = &c[1];
            let mult = value(&format!("REFLECTANCE_MULT_BAND_{n}")).and_then(|v| v.parse().ok());
            let add = value(&format!("REFLECTANCE_ADD_BAND_{n}")).and_then(|v| v.parse().ok());
            let calibration = match (mult, add) {
                (Some(m), Some(a)) => Some((m, a)),
                _ => None,
            };
            bands.push(ProductBand::file(format!("{root}/{f}"), calibration));
        } else if f.to_ascii_uppercase().ends_with("_QA_PIXEL.TIF") {
            bands.push(ProductBand::file(format!("{root}/{f}"), None));
        }
    }
    bands.sort_by(|a, b| a.path.cmp(&b.path));
    if bands.is_empty() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "an MTL file, but no *_SR_B*.TIF band files".into(),
        });
    }
    Ok(Product {
        profile: "landsat-c2-l2",
        name,
        bands,
        date: value("DATE_ACQUIRED"),
        note: "Landsat Collection 2 Level-2: reflectance = DN × REFLECTANCE_MULT_BAND_n + REFLECTANCE_ADD_BAND_n from the MTL file".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_names_drop_their_extensions() {
        let n = |p: &str| product_name(Path::new(p));
        assert_eq!(n("x/S2A_MSIL2A_2023_N0509.SAFE"), "S2A_MSIL2A_2023_N0509");
        assert_eq!(n("S2A_MSIL2A_2023_N0509.SAFE.zip"), "S2A_MSIL2A_2023_N0509");
        assert_eq!(n("S2B_MSIL2A_2023.zip"), "S2B_MSIL2A_2023");
        assert_eq!(
            n("LC08_L2SP_040027_20200829_20200906_02_T1.tar"),
            "LC08_L2SP_040027_20200829_20200906_02_T1"
        );
    }
}
