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

/// A resampling paddy does itself instead of GDAL's warper (which costs about 5 CPU-s a
/// 5490² band onto 10980²): north-up grids of one CRS, the target pixel (i, j)'s centre at
/// source pixel coordinates (ax + (i + 0.5) sx, ay + (j + 0.5) sy). Bilinear and nearest for any
/// ratio; average only where target pixels cover whole source pixels (an integer ratio, aligned
/// origins). The rules are GDAL's warper's, so the numbers are gdalwarp's: a target pixel whose
/// centre falls outside the source is nodata (bilinear, nearest); bilinear weighs the valid ones of the 4 nearest
/// source pixels (by 1.5 − distance rule) and renormalises; average is the mean of the valid
/// source pixels it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stencil {
    pub resampling: Resampling,
    pub ax: f64,
    pub ay: f64,
    pub sx: f64,
    pub sy: f64,
}

/// The stencil that reads `source` onto `target`, or None where the warper must do it.
pub fn stencil(source: &Grid, target: &Grid, resampling: Resampling) -> Option<Stencil> {
    let (s, t) = (source.geo_transform?, target.geo_transform?);
    let north_up = |g: [f64; 6]| g[2] == 0.0 && g[4] == 0.0 && g[1] > 0.0 && g[5] < 0.0;
    if !north_up(s) || !north_up(t) {
        return None;
    }
    let st = Stencil {
        resampling,
        ax: (t[0] - s[0]) / s[1],
        ay: (t[3] - s[3]) / s[5],
        sx: t[1] / s[1],
        sy: t[5] / s[5],
    };
    let whole = |v: f64| (v - v.round()).abs() < 1e-9;
    match resampling {
        Resampling::Average if !(whole(st.ax) && whole(st.ay) && whole(st.sx) && whole(st.sy)) => {
            None
        }
        _ => Some(st),
    }
}

impl Stencil {
    /// The source rows or columns `first..first + count` of the target need, before clipping
    /// to the source: (lowest, highest) index.
    pub fn span(&self, first: usize, count: usize, horizontal: bool) -> (i64, i64) {
        let (a, s) = if horizontal {
            (self.ax, self.sx)
        } else {
            (self.ay, self.sy)
        };
        let u = |i: usize| a + (i as f64 + 0.5) * s;
        let (lo, hi) = (u(first), u(first + count.max(1) - 1));
        match self.resampling {
            Resampling::Bilinear => ((lo - 0.5).floor() as i64, (hi - 0.5).floor() as i64 + 1),
            Resampling::Nearest => ((lo + 1e-10).floor() as i64, (hi + 1e-10).floor() as i64),
            Resampling::Average => (
                (a + first as f64 * s).round() as i64,
                (a + (first + count) as f64 * s).round() as i64 - 1,
            ),
        }
    }
}

/// One axis of a stencil over target indices `first..first + count`, against source indices
/// `lo..=hi` (the part of the source that was read, `size` its whole length): per target index,
/// whether its centre is inside the source, and the taps (source index − lo, weight).
fn axis(
    st: &Stencil,
    first: usize,
    count: usize,
    horizontal: bool,
    (lo, hi, size): (i64, i64, i64),
) -> Vec<(bool, Vec<(usize, f64)>)> {
    let (a, s) = if horizontal {
        (st.ax, st.sx)
    } else {
        (st.ay, st.sy)
    };
    (first..first + count)
        .map(|i| {
            let u = a + (i as f64 + 0.5) * s;
            // The warper skips a target pixel whose centre falls outside the source, except
            // when averaging (the pixels it covers decide).
            let inside = st.resampling == Resampling::Average
                || (u >= 0.0 && ((u + 1e-10).floor() as i64) < size);
            let tap = |k: i64, w: f64| (lo..=hi).contains(&k).then(|| ((k - lo) as usize, w));
            let taps: Vec<(usize, f64)> = match st.resampling {
                Resampling::Bilinear => {
                    let k = (u - 0.5).floor() as i64;
                    let r = 1.5 - (u - k as f64);
                    [tap(k, r), tap(k + 1, 1.0 - r)]
                        .into_iter()
                        .flatten()
                        .collect()
                }
                Resampling::Nearest => tap((u + 1e-10).floor() as i64, 1.0).into_iter().collect(),
                Resampling::Average => {
                    let k0 = (a + i as f64 * s).round() as i64;
                    let n = s.round() as i64;
                    (k0..k0 + n).filter_map(|k| tap(k, 1.0)).collect()
                }
            };
            (inside, taps)
        })
        .collect()
}

/// Resample `src` (`src_w` wide; rows `rows.0..=rows.1`, columns `cols.0..=cols.1` of a source
/// `size` pixels large, `ok` its validity) onto the target `window` by `st`: `out` the values,
/// `valid` cleared where no valid source pixel contributes.
#[allow(clippy::too_many_arguments)]
pub fn apply_stencil(
    st: &Stencil,
    window: crate::raster::Window,
    src: &[f64],
    ok: &[bool],
    cols: (i64, i64),
    rows: (i64, i64),
    size: (usize, usize),
    out: &mut [f32],
    valid: &mut [bool],
) {
    let src_w = (cols.1 - cols.0 + 1).max(0) as usize;
    let xsize = (cols.0, cols.1, size.0 as i64);
    let ysize = (rows.0, rows.1, size.1 as i64);
    if st.resampling != Resampling::Average {
        let xs = pairs(&axis(st, window.x, window.width, true, xsize));
        let ys = pairs(&axis(st, window.y, window.height, false, ysize));
        two_by_two(&xs, &ys, src_w, src, ok, out, valid);
        return;
    }
    let xs = axis(
        st,
        window.x,
        window.width,
        true,
        (cols.0, cols.1, size.0 as i64),
    );
    let ys = axis(
        st,
        window.y,
        window.height,
        false,
        (rows.0, rows.1, size.1 as i64),
    );
    for (j, (inside_y, ty)) in ys.iter().enumerate() {
        for (i, (inside_x, tx)) in xs.iter().enumerate() {
            let o = j * window.width + i;
            let (mut sum, mut weight) = (0.0f64, 0.0f64);
            if *inside_x && *inside_y {
                for &(r, wy) in ty {
                    for &(c, wx) in tx {
                        let k = r * src_w + c;
                        if ok[k] {
                            sum += src[k] * wx * wy;
                            weight += wx * wy;
                        }
                    }
                }
            }
            if weight < 1e-5 {
                valid[o] = false;
                out[o] = 0.0;
            } else {
                out[o] = (if weight == 1.0 { sum } else { sum / weight }) as f32;
            }
        }
    }
}

/// At most two taps an axis (bilinear, nearest) as fixed pairs: (inside, first, second, their
/// weights); a missing tap has weight 0 and repeats the first index.
type Pair = (bool, usize, usize, f64, f64);

fn pairs(axis: &[(bool, Vec<(usize, f64)>)]) -> Vec<Pair> {
    axis.iter()
        .map(|(inside, taps)| match taps.as_slice() {
            [] => (false, 0, 0, 0.0, 0.0),
            [(a, wa)] => (*inside, *a, *a, *wa, 0.0),
            [(a, wa), (b, wb), ..] => (*inside, *a, *b, *wa, *wb),
        })
        .collect()
}

/// [`apply_stencil`] for at most 2 × 2 taps, without allocation in the pixel loop: the warper's
/// sum over valid taps, renormalised, nodata below a total weight of 1e-5.
fn two_by_two(
    xs: &[Pair],
    ys: &[Pair],
    src_w: usize,
    src: &[f64],
    ok: &[bool],
    out: &mut [f32],
    valid: &mut [bool],
) {
    let width = xs.len();
    for (j, &(iny, r0, r1, wy0, wy1)) in ys.iter().enumerate() {
        let (out, valid) = (
            &mut out[j * width..(j + 1) * width],
            &mut valid[j * width..(j + 1) * width],
        );
        for (i, &(inx, c0, c1, wx0, wx1)) in xs.iter().enumerate() {
            let (mut sum, mut weight) = (0.0f64, 0.0f64);
            if inx && iny {
                for (k, w) in [
                    (r0 * src_w + c0, wy0 * wx0),
                    (r0 * src_w + c1, wy0 * wx1),
                    (r1 * src_w + c0, wy1 * wx0),
                    (r1 * src_w + c1, wy1 * wx1),
                ] {
                    if w != 0.0 && ok[k] {
                        sum += src[k] * w;
                        weight += w;
                    }
                }
            }
            if weight < 1e-5 {
                valid[i] = false;
                out[i] = 0.0;
            } else {
                out[i] = (if weight == 1.0 { sum } else { sum / weight }) as f32;
            }
        }
    }
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
        // Resampled values are not rounded back to the source's integer type.
        "-ot".into(),
        "Float32".into(),
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

/// GDAL's warper reads Int8 (Byte with PIXELTYPE=SIGNEDBYTE) as 0..=255 and would blend -1
/// and 1 into 128: refuse such a file where only the warper can resample it.
pub(super) fn no_signed_bytes_for_the_warper(path: &Path, src: &gdal::Dataset) -> Result<()> {
    for i in 1..=src.raster_count() {
        if src
            .rasterband(i)
            .is_ok_and(|b| super::read::is_signed_byte(&b))
        {
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: format!(
                    "band {i} is Int8 (signed bytes) and must be resampled by GDAL's warper (a rotated or unaligned grid), which reads them unsigned: convert the file first, e.g. gdal_translate -ot Int16"
                ),
            });
        }
    }
    Ok(())
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
    no_signed_bytes_for_the_warper(path, &src)?;
    let mut args: Vec<String> = vec!["-of".into(), "VRT".into()];
    args.extend(warp_args(warp));
    let vrt = super::warp::gdalwarp_to(&src, name, &args, path)?;
    // Closing the VRT writes it and releases the reference it took on `src`; only then may
    // `src` close.
    drop(vrt);
    drop(src);
    Ok(())
}
