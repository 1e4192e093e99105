//! Reading a file onto another pixel grid of the same CRS (Sentinel-2's 20 m bands onto its 10 m
//! grid): a warped VRT made by GDAL's gdalwarp, so each window is resampled as it is read —
//! streamed, memory bounded, and the same numbers as `gdalwarp` itself.
//!
//! The VRT is made once per run as a /vsimem/ file (GDAL keeps no handle of ours inside it);
//! each worker opens it like any raster, and it is deleted when the run ends.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::raster::Grid;

/// How source pixels become a target pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// The source pixel under the target pixel's centre: quality and class bands, and grids
    /// that differ only in extent.
    Nearest,
    /// Refining (20 m onto 10 m): a smooth surface through the four nearest source pixels.
    Bilinear,
    /// Coarsening (10 m onto 20 m): the mean of the source pixels, weighted by overlap.
    Average,
}

impl Resampling {
    /// gdalwarp's name for it.
    pub fn gdal_name(self) -> &'static str {
        match self {
            Resampling::Nearest => "near",
            Resampling::Bilinear => "bilinear",
            Resampling::Average => "average",
        }
    }
}

/// A file read onto `grid` with `resampling`; `nodata` is the source DN excluded from the
/// resampling (and written where no source pixel falls). Without one, an alpha band marks
/// where the target has no source.
#[derive(Debug, Clone, PartialEq)]
pub struct Warp {
    pub grid: Grid,
    pub resampling: Resampling,
    pub nodata: Option<f64>,
}

/// The warped VRTs of one run, deleted when dropped.
#[derive(Debug, Default)]
pub struct WarpedFiles {
    entries: Vec<(PathBuf, Warp, String)>,
}

impl WarpedFiles {
    /// Make a warped VRT for each (file, warp).
    pub fn create(sources: &[(PathBuf, Warp)]) -> Result<WarpedFiles> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let mut files = WarpedFiles::default();
        for (path, warp) in sources {
            let name = format!(
                "/vsimem/paddy_warp_{}_{}.vrt",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            make_vrt(path, warp, &name)?;
            files.entries.push((path.clone(), warp.clone(), name));
        }
        Ok(files)
    }

    /// (file, warp, the VRT to open) for each.
    pub fn entries(&self) -> impl Iterator<Item = (&Path, &Warp, &str)> {
        self.entries
            .iter()
            .map(|(p, w, n)| (p.as_path(), w, n.as_str()))
    }
}

impl Drop for WarpedFiles {
    fn drop(&mut self) {
        for (_, _, name) in &self.entries {
            if let Ok(c) = CString::new(name.as_str()) {
                // SAFETY: a NUL-terminated path; VSIUnlink only removes the /vsimem/ file.
                unsafe {
                    gdal_sys::VSIUnlink(c.as_ptr());
                }
            }
        }
    }
}

/// The gdalwarp arguments that put a file on `warp.grid`.
pub fn warp_args(warp: &Warp) -> Vec<String> {
    let g = &warp.grid;
    let gt = g.geo_transform.unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let (x0, y0) = (gt[0], gt[3]);
    let (x1, y1) = (x0 + g.width as f64 * gt[1], y0 + g.height as f64 * gt[5]);
    let mut args: Vec<String> = vec![
        "-te".into(),
        x0.min(x1).to_string(),
        y0.min(y1).to_string(),
        x0.max(x1).to_string(),
        y0.max(y1).to_string(),
        "-ts".into(),
        g.width.to_string(),
        g.height.to_string(),
        "-r".into(),
        warp.resampling.gdal_name().into(),
        // Full resolution always: an overview would change the numbers.
        "-ovr".into(),
        "NONE".into(),
    ];
    match warp.nodata {
        Some(v) => args.extend([
            "-srcnodata".into(),
            v.to_string(),
            "-dstnodata".into(),
            v.to_string(),
        ]),
        None => args.push("-dstalpha".into()),
    }
    args
}

fn make_vrt(path: &Path, warp: &Warp, name: &str) -> Result<()> {
    // The VRT names its source: an absolute path, so it opens from /vsimem/.
    let source = if path.to_string_lossy().starts_with("/vsi") {
        path.to_path_buf()
    } else {
        path.canonicalize().map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
    };
    let src = super::open(&source)?;
    let mut args: Vec<String> = vec!["-of".into(), "VRT".into()];
    args.extend(warp_args(warp));
    let vrt = super::warp::gdalwarp_to(&src, name, &args, path)?;
    // Closing the VRT writes it and releases the reference it took on `src`; only then may
    // `src` close.
    drop(vrt);
    drop(src);
    Ok(())
}
