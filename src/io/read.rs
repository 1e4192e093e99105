//! Reading windows of bands as f32 reflectance plus a validity mask.

use std::path::{Path, PathBuf};

use gdal::raster::{GdalDataType, RasterBand};
use gdal::{Dataset, Metadata};

use super::gdal_message;
use super::resample::{apply_stencil, Stencil, Warp, WarpedFiles};
use crate::error::{Error, Result};
use crate::raster::Window;
use crate::sensors::MaskRule;

/// One band to read as reflectance: `reflectance = DN × scale + offset`.
#[derive(Debug, Clone, PartialEq)]
pub struct BandSpec {
    pub path: PathBuf,
    /// 1-based band number.
    pub band: usize,
    /// DN that means "no data" (compared before scaling).
    pub nodata: Option<f64>,
    pub scale: f64,
    pub offset: f64,
    /// Read onto another grid (None: the file is on the run's grid).
    pub warp: Option<Warp>,
    /// Where the run's grid starts in the file, in pixels (an area of interest).
    pub origin: (usize, usize),
    /// With `warp`: paddy resamples the file itself (read at its own resolution), instead of
    /// GDAL's warper.
    pub stencil: Option<Stencil>,
}

/// A quality band whose values mark pixels to drop (Sentinel-2 SCL, Landsat QA_PIXEL).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSpec {
    pub path: PathBuf,
    pub band: usize,
    pub rule: MaskRule,
    /// Read onto another grid (None: the file is on the run's grid).
    pub warp: Option<Warp>,
    /// Where the run's grid starts in the file, in pixels (an area of interest).
    pub origin: (usize, usize),
    /// With `warp`: paddy resamples the file itself, instead of GDAL's warper.
    pub stencil: Option<Stencil>,
}

/// A worker's own GDAL handles (GDAL datasets are not shared between threads) and scratch
/// buffers that are reused from window to window.
pub struct Readers {
    datasets: Vec<(PathBuf, Option<Warp>, Dataset)>,
    wide: Vec<f64>,
    bytes: Vec<u8>,
    quality: Vec<u32>,
    mask_values: Vec<f64>,
    mask_valid: Vec<bool>,
    source: Vec<f64>,
    source_ok: Vec<bool>,
    resampled: Vec<f32>,
}

impl Readers {
    /// Open every file once for this worker.
    pub fn open(paths: &[PathBuf]) -> Result<Readers> {
        Readers::open_with(paths, &WarpedFiles::default())
    }

    /// Open every file once for this worker, and every warped VRT (files read onto another
    /// grid, see [`WarpedFiles`]).
    pub fn open_with(paths: &[PathBuf], warped: &WarpedFiles) -> Result<Readers> {
        let mut datasets = paths
            .iter()
            .map(|p| Ok((p.clone(), None, super::open(p)?)))
            .collect::<Result<Vec<_>>>()?;
        for (path, warp, vrt) in warped.entries() {
            let ds = super::open(Path::new(vrt)).map_err(|e| Error::Open {
                path: path.to_path_buf(),
                message: format!("resampled onto the run's grid: {e}"),
            })?;
            datasets.push((path.to_path_buf(), Some(warp.clone()), ds));
        }
        Ok(Readers {
            datasets,
            wide: Vec::new(),
            bytes: Vec::new(),
            quality: Vec::new(),
            mask_values: Vec::new(),
            mask_valid: Vec::new(),
            source: Vec::new(),
            source_ok: Vec::new(),
            resampled: Vec::new(),
        })
    }
}

/// Band `band` of the already opened `path`.
fn band_of<'a>(
    datasets: &'a [(PathBuf, Option<Warp>, Dataset)],
    path: &Path,
    warp: Option<&Warp>,
    band: usize,
) -> Result<RasterBand<'a>> {
    let ds = datasets
        .iter()
        .find(|(p, w, _)| p == path && w.as_ref() == warp)
        .map(|(_, _, d)| d)
        .ok_or_else(|| Error::Open {
            path: path.to_path_buf(),
            message: "not opened by this reader (internal error)".into(),
        })?;
    ds.rasterband(band).map_err(|e| read_error(path, band, &e))
}

impl Readers {
    /// Read `window` of `spec` as reflectance into `out`, and clear `valid` where the pixel is
    /// nodata, masked by the file's mask band, or not finite.
    pub fn read_reflectance(
        &mut self,
        spec: &BandSpec,
        window: Window,
        out: &mut [f32],
        valid: &mut [bool],
    ) -> Result<()> {
        let n = window.len();
        let (out, valid) = (&mut out[..n], &mut valid[..n]);
        if let Some(st) = &spec.stencil {
            self.read_stencil(&spec.path, spec.band, spec.nodata, st, window, out, valid)?;
            let (scale, offset) = (spec.scale as f32, spec.offset as f32);
            for v in out.iter_mut() {
                *v = *v * scale + offset;
            }
            return Ok(());
        }
        let Readers {
            datasets,
            wide,
            bytes,
            ..
        } = self;
        let band = band_of(datasets, &spec.path, spec.warp.as_ref(), spec.band)?;
        let window = shifted(window, spec.origin);
        let at = (window.x as isize, window.y as isize);
        let size = (window.width, window.height);
        let fail = |e: gdal::errors::GdalError| read_error(&spec.path, spec.band, &e);
        // Types that f32 holds exactly are read straight into the output; wider ones go through
        // f64 so nodata is compared exactly before narrowing.
        let signed = is_signed_byte(&band);
        let exact_in_f32 = matches!(
            band.band_type(),
            GdalDataType::UInt8
                | GdalDataType::UInt16
                | GdalDataType::Int16
                | GdalDataType::Float32
        );
        if exact_in_f32 {
            band.read_into_slice(at, size, size, out, None)
                .map_err(fail)?;
            if signed {
                as_signed_bytes(out);
            }
            let nodata = spec.nodata.map(|v| v as f32);
            for (v, ok) in out.iter().zip(valid.iter_mut()) {
                *ok &= v.is_finite() && Some(*v) != nodata;
            }
        } else {
            wide.resize(n, 0.0);
            band.read_into_slice(at, size, size, wide, None)
                .map_err(fail)?;
            for ((v, o), ok) in wide.iter().zip(out.iter_mut()).zip(valid.iter_mut()) {
                *ok &= v.is_finite() && Some(*v) != spec.nodata;
                *o = *v as f32;
            }
        }
        apply_mask_band(&band, window, bytes, valid).map_err(fail)?;
        let (scale, offset) = (spec.scale as f32, spec.offset as f32);
        if (scale, offset) != (1.0, 0.0) {
            for v in out.iter_mut() {
                *v = *v * scale + offset;
            }
        }
        Ok(())
    }

    /// Read `window` of band `band` of `path` as raw values (no scaling) into `out`, and clear
    /// `valid` where the pixel equals `nodata`, is masked by the file's mask band, or is NaN.
    pub fn read_values(
        &mut self,
        path: &Path,
        band: usize,
        nodata: Option<f64>,
        window: Window,
        out: &mut [f64],
        valid: &mut [bool],
    ) -> Result<()> {
        let n = window.len();
        let (out, valid) = (&mut out[..n], &mut valid[..n]);
        let raster = band_of(&self.datasets, path, None, band)?;
        let size = (window.width, window.height);
        let fail = |e: gdal::errors::GdalError| read_error(path, band, &e);
        raster
            .read_into_slice(
                (window.x as isize, window.y as isize),
                size,
                size,
                out,
                None,
            )
            .map_err(fail)?;
        if is_signed_byte(&raster) {
            as_signed_bytes(out);
        }
        for (v, ok) in out.iter().zip(valid.iter_mut()) {
            *ok = !v.is_nan() && Some(*v) != nodata;
        }
        apply_mask_band(&raster, window, &mut self.bytes, valid).map_err(fail)
    }

    /// [`Readers::read_values`], then: clear `valid` where band `mask_band` of the same file is
    /// non-zero (cloud) or unreadable, and apply the band's `(scale, offset)`, so `out` holds
    /// physical values. How `paddy stats` and `paddy stage` read an index band.
    #[allow(clippy::too_many_arguments)]
    pub fn read_physical(
        &mut self,
        path: &Path,
        band: usize,
        nodata: Option<f64>,
        mask_band: Option<usize>,
        scale_offset: Option<(f64, f64)>,
        window: Window,
        out: &mut [f64],
        valid: &mut [bool],
    ) -> Result<()> {
        let n = window.len();
        self.read_values(path, band, nodata, window, out, valid)?;
        if let Some(mask) = mask_band {
            let mut values = std::mem::take(&mut self.mask_values);
            let mut readable = std::mem::take(&mut self.mask_valid);
            values.resize(n, 0.0);
            readable.resize(n, false);
            let read = self.read_values(path, mask, None, window, &mut values, &mut readable);
            // Masked (non-zero) and unreadable (NaN, the mask band's own mask) are no data.
            for ((ok, m), r) in valid[..n].iter_mut().zip(&values).zip(&readable) {
                *ok &= *r && *m == 0.0;
            }
            self.mask_values = values;
            self.mask_valid = readable;
            read?;
        }
        if let Some((scale, offset)) = scale_offset {
            for v in out[..n].iter_mut() {
                *v = *v * scale + offset;
            }
        }
        Ok(())
    }

    /// Clear `valid` where the quality band marks the pixel (cloud, shadow, fill, …) or has no
    /// pixel of its own (outside its extent, or masked by its mask or alpha band).
    pub fn apply_quality_mask(
        &mut self,
        spec: &MaskSpec,
        window: Window,
        valid: &mut [bool],
    ) -> Result<()> {
        let n = window.len();
        if let Some(st) = &spec.stencil {
            let mut values = std::mem::take(&mut self.resampled);
            let mut readable = std::mem::take(&mut self.mask_valid);
            values.resize(n, 0.0);
            readable.clear();
            readable.resize(n, true);
            let read = self.read_stencil(
                &spec.path,
                spec.band,
                None,
                st,
                window,
                &mut values,
                &mut readable,
            );
            for ((ok, v), r) in valid[..n].iter_mut().zip(&values).zip(&readable) {
                // Where the quality band has no pixel (outside its extent, or masked by its own
                // mask band) nothing says the pixel is clear: it is nodata, as where a
                // reflectance band has no pixel.
                *ok &= *r && !spec.rule.is_invalid(*v as u32);
            }
            self.resampled = values;
            self.mask_valid = readable;
            return read;
        }
        let band = band_of(&self.datasets, &spec.path, spec.warp.as_ref(), spec.band)?;
        let window = shifted(window, spec.origin);
        let size = (window.width, window.height);
        let quality = &mut self.quality;
        quality.resize(n, 0);
        band.read_into_slice(
            (window.x as isize, window.y as isize),
            size,
            size,
            quality,
            None,
        )
        .map_err(|e| read_error(&spec.path, spec.band, &e))?;
        for (q, ok) in quality.iter().zip(valid[..n].iter_mut()) {
            *ok &= !spec.rule.is_invalid(*q);
        }
        // A warped read marks where the target has no source with an alpha band.
        apply_mask_band(&band, window, &mut self.bytes, &mut valid[..n])
            .map_err(|e| read_error(&spec.path, spec.band, &e))
    }
}

impl Readers {
    /// Read `window` of the run's grid from band `band` of `path`, resampled by `st` from the
    /// file's own pixels (read once, with a margin for the stencil): raw values into `out`,
    /// `valid` cleared where no valid source pixel contributes.
    #[allow(clippy::too_many_arguments)]
    fn read_stencil(
        &mut self,
        path: &Path,
        band: usize,
        nodata: Option<f64>,
        st: &Stencil,
        window: Window,
        out: &mut [f32],
        valid: &mut [bool],
    ) -> Result<()> {
        let Readers {
            datasets,
            bytes,
            source,
            source_ok,
            ..
        } = self;
        let raster = band_of(datasets, path, None, band)?;
        let fail = |e: gdal::errors::GdalError| read_error(path, band, &e);
        let size = raster.size();
        let (c, r) = (
            st.span(window.x, window.width, true),
            st.span(window.y, window.height, false),
        );
        let cols = (c.0.max(0), c.1.min(size.0 as i64 - 1));
        let rows = (r.0.max(0), r.1.min(size.1 as i64 - 1));
        let src = Window {
            x: cols.0 as usize,
            y: rows.0 as usize,
            width: (cols.1 - cols.0 + 1).max(0) as usize,
            height: (rows.1 - rows.0 + 1).max(0) as usize,
        };
        source.resize(src.len(), 0.0);
        source_ok.clear();
        source_ok.resize(src.len(), true);
        if src.width > 0 && src.height > 0 {
            let at = (src.x as isize, src.y as isize);
            raster
                .read_into_slice(
                    at,
                    (src.width, src.height),
                    (src.width, src.height),
                    source,
                    None,
                )
                .map_err(fail)?;
            if is_signed_byte(&raster) {
                as_signed_bytes(source);
            }
            for (v, ok) in source.iter().zip(source_ok.iter_mut()) {
                *ok = v.is_finite() && Some(*v) != nodata;
            }
            apply_mask_band(&raster, src, bytes, source_ok).map_err(fail)?;
        }
        apply_stencil(st, window, source, source_ok, cols, rows, size, out, valid);
        Ok(())
    }
}

/// True for a band GDAL 3.6 presents as Byte but that holds signed bytes (Int8, GDAL's
/// `PIXELTYPE=SIGNEDBYTE`): GDAL reads its values as 0..=255, so they are mapped back.
pub(crate) fn is_signed_byte(band: &RasterBand) -> bool {
    band.band_type() == GdalDataType::UInt8
        && band
            .metadata_item("PIXELTYPE", "IMAGE_STRUCTURE")
            .is_some_and(|t| t == "SIGNEDBYTE")
}

/// Signed bytes read as unsigned (128..=255) back to their values (-128..=-1).
fn as_signed_bytes<T>(values: &mut [T])
where
    T: Copy + PartialOrd + From<u8> + std::ops::Add<Output = T> + std::ops::Sub<Output = T>,
{
    let (half, whole) = (T::from(128), T::from(255) + T::from(1));
    for v in values.iter_mut() {
        if *v >= half {
            *v = *v - whole;
        }
    }
}

/// `window` of the run's grid as a window of a file whose pixel `origin` is the grid's (0, 0).
fn shifted(window: Window, origin: (usize, usize)) -> Window {
    Window {
        x: window.x + origin.0,
        y: window.y + origin.1,
        ..window
    }
}

/// Clear `valid` where the band's per-dataset mask, alpha band or explicit mask band says no
/// data (nodata values are compared by the callers, so that a user's --nodata can override the
/// file's).
fn apply_mask_band(
    band: &RasterBand,
    window: Window,
    bytes: &mut Vec<u8>,
    valid: &mut [bool],
) -> std::result::Result<(), gdal::errors::GdalError> {
    let flags = band.mask_flags()?;
    if flags.is_all_valid() || flags.is_nodata() {
        return Ok(());
    }
    let mask = band.open_mask_band()?;
    let size = (window.width, window.height);
    bytes.resize(window.len(), 0);
    mask.read_into_slice(
        (window.x as isize, window.y as isize),
        size,
        size,
        bytes,
        None,
    )?;
    for (m, ok) in bytes.iter().zip(valid.iter_mut()) {
        *ok &= *m != 0;
    }
    Ok(())
}

fn read_error(path: &Path, band: usize, e: &gdal::errors::GdalError) -> Error {
    let mut message = gdal_message(e);
    // GDAL repeats "file, band N: " that the error already says.
    if let Some(rest) = message
        .strip_prefix(&format!("{}, band {band}: ", path.display()))
        .map(str::to_string)
    {
        message = rest;
    }
    if message.contains("TIFFRead") || message.contains("IReadBlock") {
        message.push_str(" (is the file truncated or corrupt?)");
    }
    Error::Read {
        path: path.to_path_buf(),
        band,
        message,
    }
}
