//! The grid a run writes on, when its inputs differ in resolution or extent (Sentinel-2's 10 and
//! 20 m bands): the finest input's by default, another resolution over the same extent, or the
//! grid of a given file. Inputs must share a CRS and be aligned (each origin on the other's pixel
//! lines); each band not on the target grid is resampled as it is read.

use crate::error::{Error, Result};
use crate::io::{crs_name, same_crs, RasterInfo, Resampling};
use crate::raster::Grid;

/// Which grid the outputs take (`--grid`, `--resolution`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum GridChoice {
    /// The finest input's grid (the first of the finest when several are).
    #[default]
    Finest,
    /// The finest input's extent at this pixel size (CRS units).
    Resolution(f64),
    /// This file's grid.
    Like(std::path::PathBuf),
}

/// North-up pixel size (x, y) > 0, or None for a rotated or missing geotransform.
fn pixel_size(grid: &Grid) -> Option<(f64, f64)> {
    let gt = grid.geo_transform?;
    (gt[2] == 0.0 && gt[4] == 0.0 && gt[1] > 0.0 && gt[5] < 0.0).then_some((gt[1], -gt[5]))
}

/// The target grid for `infos` (all read), `like` the grid of `--grid like:FILE` when given.
pub fn target_grid(
    choice: &GridChoice,
    infos: &[RasterInfo],
    like: Option<&RasterInfo>,
) -> Result<Grid> {
    let first = &infos[0];
    for other in infos[1..].iter().chain(like) {
        if !same_crs(first.grid.crs_wkt.as_deref(), other.grid.crs_wkt.as_deref()) {
            let name = |w: Option<&str>| w.map_or("none".to_string(), crs_name);
            return Err(Error::GridMismatch {
                a: first.path.clone(),
                b: other.path.clone(),
                what: format!(
                    "CRS {} vs {}: reproject one first (gdalwarp -t_srs)",
                    name(first.grid.crs_wkt.as_deref()),
                    name(other.grid.crs_wkt.as_deref())
                ),
            });
        }
    }
    let all_same = infos[1..]
        .iter()
        .all(|i| first.grid.mismatch(&i.grid).is_none());
    if all_same && *choice == GridChoice::Finest {
        return Ok(first.grid.clone());
    }
    // Resampling needs north-up grids; otherwise only identical grids combine.
    for i in infos.iter().chain(like) {
        if pixel_size(&i.grid).is_none() {
            let other = infos.iter().find(|o| o.path != i.path).unwrap_or(first);
            return Err(Error::GridMismatch {
                a: i.path.clone(),
                b: other.path.clone(),
                what: "the grid is rotated or has no geotransform, so it cannot be resampled onto the other".into(),
            });
        }
    }
    let finest = infos
        .iter()
        .min_by(|a, b| {
            let (pa, pb) = (pixel_size(&a.grid), pixel_size(&b.grid));
            let area = |p: Option<(f64, f64)>| p.map_or(f64::INFINITY, |(x, y)| x * y);
            area(pa).total_cmp(&area(pb))
        })
        .unwrap_or(first);
    let target = match (choice, like) {
        (GridChoice::Like(_), Some(l)) => l.grid.clone(),
        (GridChoice::Resolution(r), _) => regrid(&finest.grid, *r),
        _ => finest.grid.clone(),
    };
    for i in infos {
        check_aligned(i, &target)?;
    }
    Ok(target)
}

/// `grid`'s extent at pixel size `r` (the last row and column cover any remainder).
fn regrid(grid: &Grid, r: f64) -> Grid {
    let Some(gt) = grid.geo_transform else {
        return grid.clone();
    };
    let cells = |extent: f64| {
        let n = extent / r;
        (if (n - n.round()).abs() < 1e-6 {
            n.round()
        } else {
            n.ceil()
        })
        .max(1.0) as usize
    };
    Grid {
        width: cells(grid.width as f64 * gt[1].abs()),
        height: cells(grid.height as f64 * gt[5].abs()),
        geo_transform: Some([gt[0], r, 0.0, gt[3], 0.0, -r]),
        crs_wkt: grid.crs_wkt.clone(),
    }
}

/// Refuse an input whose pixel lines do not meet the target's: the origin of the coarser of the
/// two must lie on the finer one's pixel lines (to 1e-6 of a pixel).
fn check_aligned(info: &RasterInfo, target: &Grid) -> Result<()> {
    let (Some(a), Some(b)) = (info.grid.geo_transform, target.geo_transform) else {
        return Ok(());
    };
    let step_x = a[1].abs().min(b[1].abs());
    let step_y = a[5].abs().min(b[5].abs());
    let off = |d: f64, step: f64| {
        let n = d / step;
        (n - n.round()).abs()
    };
    let (ox, oy) = (off(a[0] - b[0], step_x), off(a[3] - b[3], step_y));
    if ox > 1e-6 || oy > 1e-6 {
        return Err(Error::GridMismatch {
            a: info.path.clone(),
            b: "the target grid".into(),
            what: format!(
                "pixels not aligned (origin off by {:.3} × {:.3} pixels): align it first (gdalwarp -tap -tr …) or choose one file's grid as the output grid (like:FILE)",
                ox, oy
            ),
        });
    }
    Ok(())
}

/// `grid` cropped to the pixels that touch `bounds` (minx, miny, maxx, maxy in its CRS), with
/// no resampling: the cropped grid and where it starts in `grid`, in pixels. `what` names the
/// area in errors.
pub fn crop(grid: &Grid, bounds: [f64; 4], what: &str) -> Result<(Grid, (usize, usize))> {
    let Some((px, py)) = pixel_size(grid) else {
        return Err(Error::usage(format!(
            "area of interest {what}: the inputs' grid is rotated or has no geotransform"
        )));
    };
    let gt = grid.geo_transform.unwrap_or_default();
    let eps = 1e-9;
    let clamp = |v: f64, max: usize| v.max(0.0).min(max as f64) as usize;
    let col0 = clamp(((bounds[0] - gt[0]) / px + eps).floor(), grid.width);
    let col1 = clamp(((bounds[2] - gt[0]) / px - eps).ceil(), grid.width);
    let row0 = clamp(((gt[3] - bounds[3]) / py + eps).floor(), grid.height);
    let row1 = clamp(((gt[3] - bounds[1]) / py - eps).ceil(), grid.height);
    if col1 <= col0 || row1 <= row0 {
        let (x1, y1) = (
            gt[0] + grid.width as f64 * px,
            gt[3] - grid.height as f64 * py,
        );
        return Err(Error::usage(format!(
            "area of interest {what} does not overlap the inputs: the area is x {:.1} … {:.1}, y {:.1} … {:.1} in their CRS, they cover x {:.1} … {x1:.1}, y {y1:.1} … {:.1}",
            bounds[0], bounds[2], bounds[1], bounds[3], gt[0], gt[3]
        )));
    }
    let cropped = Grid {
        width: col1 - col0,
        height: row1 - row0,
        geo_transform: Some([
            gt[0] + col0 as f64 * px,
            px,
            0.0,
            gt[3] - row0 as f64 * py,
            0.0,
            -py,
        ]),
        crs_wkt: grid.crs_wkt.clone(),
    };
    Ok((cropped, (col0, row0)))
}

/// How a band on `source` is read onto `target` (None: it is on the target grid). Quality and
/// class bands are never blended: nearest always. Reflectance is bilinear when refined,
/// averaged when coarsened, nearest when only the extent differs.
pub fn resampling_for(source: &Grid, target: &Grid, quality: bool) -> Option<Resampling> {
    source.mismatch(target)?;
    if quality {
        return Some(Resampling::Nearest);
    }
    let (Some((sx, sy)), Some((tx, ty))) = (pixel_size(source), pixel_size(target)) else {
        return Some(Resampling::Nearest);
    };
    let (s, t) = (sx * sy, tx * ty);
    Some(if (s - t).abs() <= 1e-9 * s {
        Resampling::Nearest
    } else if t < s {
        Resampling::Bilinear
    } else {
        Resampling::Average
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(w: usize, h: usize, x0: f64, y0: f64, r: f64) -> Grid {
        Grid {
            width: w,
            height: h,
            geo_transform: Some([x0, r, 0.0, y0, 0.0, -r]),
            crs_wkt: None,
        }
    }

    #[test]
    fn refining_is_bilinear_coarsening_average_quality_nearest() {
        let (g10, g20) = (
            grid(100, 100, 0.0, 1000.0, 10.0),
            grid(50, 50, 0.0, 1000.0, 20.0),
        );
        assert_eq!(resampling_for(&g10, &g10, false), None);
        assert_eq!(
            resampling_for(&g20, &g10, false),
            Some(Resampling::Bilinear)
        );
        assert_eq!(resampling_for(&g10, &g20, false), Some(Resampling::Average));
        assert_eq!(resampling_for(&g20, &g10, true), Some(Resampling::Nearest));
        let shifted = grid(100, 100, 10.0, 1000.0, 10.0);
        assert_eq!(
            resampling_for(&shifted, &g10, false),
            Some(Resampling::Nearest)
        );
    }

    #[test]
    fn an_area_crops_to_the_pixels_it_touches() {
        let g = grid(100, 50, 1000.0, 2000.0, 10.0);
        let (c, origin) = crop(&g, [1015.0, 1800.0, 1040.0, 1905.0], "a").unwrap();
        assert_eq!(origin, (1, 9));
        assert_eq!((c.width, c.height), (3, 11));
        assert_eq!(c.geo_transform.unwrap()[0], 1010.0);
        assert_eq!(c.geo_transform.unwrap()[3], 1910.0);
        // Edges on pixel lines take no extra pixel; areas beyond the grid are clipped.
        let (c, origin) = crop(&g, [1010.0, 0.0, 1030.0, 1990.0], "b").unwrap();
        assert_eq!((origin, c.width, c.height), ((1, 1), 2, 49));
        assert!(crop(&g, [0.0, 0.0, 10.0, 10.0], "c").is_err());
    }

    #[test]
    fn a_resolution_keeps_the_extent() {
        let g = regrid(&grid(10980, 10980, 600000.0, 5000040.0, 10.0), 20.0);
        assert_eq!((g.width, g.height), (5490, 5490));
        let g = regrid(&grid(100, 100, 0.0, 1000.0, 10.0), 30.0);
        assert_eq!((g.width, g.height), (34, 34));
    }
}
