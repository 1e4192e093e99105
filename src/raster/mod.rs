//! Pixel grids and windows: plain values, no GDAL. `Grid` says where pixels are on the ground,
//! `Window` is a rectangle of pixels, and [`plan_windows`] cuts a raster into windows aligned to
//! its own storage blocks so that every block is decoded once.

pub mod engine;
pub mod pyramid;

/// A rectangle of pixels: column `x`, row `y`, `width` × `height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Window {
    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// True for a window with no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The pixel grid of a raster: size, affine geotransform (GDAL order) and CRS (WKT).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    pub geo_transform: Option<[f64; 6]>,
    pub crs_wkt: Option<String>,
}

impl Grid {
    /// Why two grids differ, or None when pixels line up (geotransforms equal to 1e-6 of a pixel).
    /// CRS equality is decided by the caller, who can ask PROJ/OGR whether two WKTs are the same.
    pub fn mismatch(&self, other: &Grid) -> Option<String> {
        if (self.width, self.height) != (other.width, other.height) {
            return Some(format!(
                "size {}×{} vs {}×{} pixels",
                self.width, self.height, other.width, other.height
            ));
        }
        match (&self.geo_transform, &other.geo_transform) {
            (Some(a), Some(b)) => {
                let pixel = a[1].abs().max(a[5].abs()).max(f64::MIN_POSITIVE);
                let same = a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6 * pixel);
                if !same {
                    return Some(format!("geotransform {a:?} vs {b:?}"));
                }
            }
            (None, None) => {}
            _ => return Some("one is georeferenced and the other is not".into()),
        }
        None
    }
}

/// Pixels per processing window to aim for: big enough to amortise per-call overhead, small
/// enough that a window's bands fit in cache-friendly buffers and many windows run in parallel.
pub const TARGET_WINDOW_PIXELS: usize = 1 << 18;

/// Cut a `width` × `height` raster stored in `block` = (block width, block height) blocks into
/// windows of whole blocks, about `target` pixels each, in row-major order.
pub fn plan_windows(
    width: usize,
    height: usize,
    block: (usize, usize),
    target: usize,
) -> Vec<Window> {
    let bw = block.0.clamp(1, width.max(1));
    let bh = block.1.clamp(1, height.max(1));
    // Widen narrow blocks to ~512 columns (whole blocks), then stack rows of blocks to the target.
    let win_w = if bw >= width {
        width
    } else {
        (bw * 512usize.div_ceil(bw)).min(width)
    };
    let rows = (target / (win_w * bh).max(1)).max(1);
    let win_h = (bh * rows).min(height.max(1));
    let mut out = Vec::new();
    for y in (0..height).step_by(win_h.max(1)) {
        for x in (0..width).step_by(win_w.max(1)) {
            out.push(Window {
                x,
                y,
                width: win_w.min(width - x),
                height: win_h.min(height - y),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers_exactly(width: usize, height: usize, windows: &[Window]) {
        let mut seen = vec![0u8; width * height];
        for w in windows {
            for y in w.y..w.y + w.height {
                for x in w.x..w.x + w.width {
                    seen[y * width + x] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn tiled_rasters_get_whole_block_windows() {
        let w = plan_windows(1000, 700, (256, 256), TARGET_WINDOW_PIXELS);
        covers_exactly(1000, 700, &w);
        assert!(w.iter().all(|w| w.x % 256 == 0 && w.y % 256 == 0));
        assert_eq!(w[0].width, 512);
    }

    #[test]
    fn strip_rasters_get_bands_of_whole_strips() {
        let w = plan_windows(10980, 10980, (10980, 1), TARGET_WINDOW_PIXELS);
        covers_exactly(10980, 10980, &w);
        assert_eq!(w[0].width, 10980);
        assert_eq!(w[0].height, TARGET_WINDOW_PIXELS / 10980);
    }

    #[test]
    fn odd_and_tiny_rasters_are_covered() {
        for (wd, ht, b) in [
            (1, 1, (1, 1)),
            (7, 3, (7, 1)),
            (578, 379, (578, 3)),
            (300, 5, (512, 512)),
        ] {
            covers_exactly(wd, ht, &plan_windows(wd, ht, b, 1000));
        }
        assert!(plan_windows(0, 0, (1, 1), 1000).is_empty());
    }

    #[test]
    fn grids_that_do_not_line_up_are_told_apart() {
        let a = Grid {
            width: 10,
            height: 10,
            geo_transform: Some([500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0]),
            crs_wkt: None,
        };
        assert_eq!(a.mismatch(&a.clone()), None);
        let mut b = a.clone();
        b.width = 11;
        assert!(b.mismatch(&a).unwrap().contains("size"));
        let mut c = a.clone();
        c.geo_transform = Some([500005.0, 10.0, 0.0, 4000000.0, 0.0, -10.0]);
        assert!(c.mismatch(&a).unwrap().contains("geotransform"));
    }
}
