//! How much of each pixel a polygon covers, in pixel coordinates (pixel `(c, r)` is the unit
//! square `[c, c+1) × [r, r+1)`).
//!
//! Exact coverage is the area of polygon ∩ cell, computed analytically without rasterising at a
//! finer resolution: every polygon edge, cut into the pieces that stay inside one pixel row and
//! one pixel column, adds the exact area lying to its right within its row to an accumulation
//! row; a running sum along each row then gives the covered area of every cell (the signed-area
//! accumulation of exact-area font rasterisers). Outer rings and holes are oriented so that the
//! sum counts area inside the polygon once and inside a hole zero times. The cost is the number
//! of cells the boundary crosses plus the cells of the bounding box.
//!
//! `centre` counts a cell when its centre is inside (rasterstats, QGIS, GDAL's default) and
//! `all-touched` when the polygon covers any of its area.

use crate::raster::Window;

/// How pixels are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageMode {
    /// The exact fraction of the cell that the polygon covers (exactextract).
    Exact,
    /// 1 when the cell's centre is inside the polygon, else 0.
    Centre,
    /// 1 when the polygon covers any part of the cell, else 0.
    AllTouched,
}

impl CoverageMode {
    /// Parse `exact`, `centre` (or `center`) or `all-touched`.
    pub fn parse(text: &str) -> Option<CoverageMode> {
        match text.to_ascii_lowercase().as_str() {
            "exact" => Some(CoverageMode::Exact),
            "centre" | "center" => Some(CoverageMode::Centre),
            "all-touched" | "all_touched" | "alltouched" => Some(CoverageMode::AllTouched),
            _ => None,
        }
    }

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            CoverageMode::Exact => "exact",
            CoverageMode::Centre => "centre",
            CoverageMode::AllTouched => "all-touched",
        }
    }
}

/// A polygon or multipolygon in pixel coordinates, with rings oriented for accumulation.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelPolygon {
    /// Closed rings (first point repeated at the end), outer rings and holes of every part.
    rings: Vec<Vec<(f64, f64)>>,
    /// Bounding box: min x, min y, max x, max y.
    bbox: [f64; 4],
    /// Area in pixels (outer rings minus holes).
    area: f64,
}

/// Twice the signed area of a closed ring (shoelace); negative for rings that run clockwise on
/// screen (x right, y down), which is the orientation that accumulates +1 inside.
fn doubled_signed_area(ring: &[(f64, f64)]) -> f64 {
    // Relative to the first point, so that large coordinates lose no precision.
    let Some(&(ox, oy)) = ring.first() else {
        return 0.0;
    };
    ring.windows(2)
        .map(|w| (w[0].0 - ox) * (w[1].1 - oy) - (w[1].0 - ox) * (w[0].1 - oy))
        .sum()
}

impl PixelPolygon {
    /// Build from parts, each a list of rings whose first ring is the outer boundary and the rest
    /// holes. Rings may be open or closed, in any orientation; rings with fewer than three
    /// distinct points are dropped. Returns None when nothing with area is left.
    pub fn new(parts: &[Vec<Vec<(f64, f64)>>]) -> Option<PixelPolygon> {
        let mut rings = Vec::new();
        let mut area = 0.0;
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for part in parts {
            for (k, ring) in part.iter().enumerate() {
                let mut ring: Vec<(f64, f64)> = ring
                    .iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .collect();
                ring.dedup();
                if ring.len() > 1 && ring.first() != ring.last() {
                    let first = ring[0];
                    ring.push(first);
                }
                if ring.len() < 4 {
                    continue;
                }
                let doubled = doubled_signed_area(&ring);
                if doubled == 0.0 {
                    continue;
                }
                let hole = k > 0;
                // Outer rings accumulate +1 (negative shoelace), holes −1 (positive).
                if (doubled > 0.0) != hole {
                    ring.reverse();
                }
                area += if hole { -0.5 } else { 0.5 } * doubled.abs();
                for &(x, y) in &ring {
                    bbox = [
                        bbox[0].min(x),
                        bbox[1].min(y),
                        bbox[2].max(x),
                        bbox[3].max(y),
                    ];
                }
                rings.push(ring);
            }
        }
        (!rings.is_empty()).then_some(PixelPolygon { rings, bbox, area })
    }

    /// Bounding box: min x, min y, max x, max y (pixels).
    pub fn bbox(&self) -> [f64; 4] {
        self.bbox
    }

    /// Area in pixels.
    pub fn area(&self) -> f64 {
        self.area
    }

    /// The cells the bounding box touches, clipped to a `width` × `height` raster; None when it
    /// misses the raster.
    pub fn cells(&self, width: usize, height: usize) -> Option<Window> {
        let [x0, y0, x1, y1] = self.bbox;
        let clip = |v: f64, n: usize| v.clamp(0.0, n as f64) as usize;
        let (c0, r0) = (clip(x0.floor(), width), clip(y0.floor(), height));
        let (c1, r1) = (clip(x1.ceil(), width), clip(y1.ceil(), height));
        (c1 > c0 && r1 > r0).then_some(Window {
            x: c0,
            y: r0,
            width: c1 - c0,
            height: r1 - r0,
        })
    }

    /// Coverage of each cell of `rect` (row-major, `rect.len()` values in [0, 1]) into `out`.
    pub fn coverage(&self, rect: Window, mode: CoverageMode, out: &mut Vec<f64>) {
        out.clear();
        out.resize(rect.len(), 0.0);
        if rect.is_empty() {
            return;
        }
        match mode {
            CoverageMode::Exact | CoverageMode::AllTouched => self.accumulate_area(rect, out),
            CoverageMode::Centre => self.accumulate_centres(rect, out),
        }
        for row in out.chunks_exact_mut(rect.width) {
            let mut sum = 0.0;
            for v in row.iter_mut() {
                sum += *v;
                *v = sum;
            }
        }
        for v in out.iter_mut() {
            // Round-off leaves ±1e-16 where the answer is 0 or 1.
            *v = if *v <= 1e-12 {
                0.0
            } else if *v >= 1.0 - 1e-12 {
                1.0
            } else {
                *v
            };
            if mode == CoverageMode::AllTouched && *v > 0.0 {
                *v = 1.0;
            }
        }
    }

    /// Add each edge's exact area contributions to `acc` (deltas along rows).
    fn accumulate_area(&self, rect: Window, acc: &mut [f64]) {
        let (ox, oy) = (rect.x as f64, rect.y as f64);
        let (w, h) = (rect.width as isize, rect.height as f64);
        for ring in &self.rings {
            for edge in ring.windows(2) {
                // Local coordinates: rect's top-left cell is (0, 0).
                let (ax, ay) = (edge[0].0 - ox, edge[0].1 - oy);
                let (bx, by) = (edge[1].0 - ox, edge[1].1 - oy);
                if ay == by {
                    continue; // horizontal edges enclose no area to their right
                }
                let (dir, (x0, y0), (x1, y1)) = if ay < by {
                    (1.0, (ax, ay), (bx, by))
                } else {
                    (-1.0, (bx, by), (ax, ay))
                };
                let (top, bottom) = (y0.max(0.0), y1.min(h));
                if top >= bottom {
                    continue;
                }
                let x_at = |y: f64| {
                    if y <= y0 {
                        x0
                    } else if y >= y1 {
                        x1
                    } else {
                        x0 + (x1 - x0) * ((y - y0) / (y1 - y0))
                    }
                };
                let first_row = top.floor() as isize;
                let last_row = (bottom.ceil() as isize - 1).min(rect.height as isize - 1);
                for row in first_row..=last_row {
                    let ya = (row as f64).max(top);
                    let yb = ((row + 1) as f64).min(bottom);
                    if yb <= ya {
                        continue;
                    }
                    let line = &mut acc[row as usize * w as usize..(row as usize + 1) * w as usize];
                    add_row_piece(line, dir, x_at(ya), x_at(yb), yb - ya);
                }
            }
        }
    }

    /// Add +1/−1 at the first cell whose centre lies right of each edge crossing of the row's
    /// centre line, so that a running sum is the winding number at each centre.
    fn accumulate_centres(&self, rect: Window, acc: &mut [f64]) {
        let (ox, oy) = (rect.x as f64, rect.y as f64);
        let w = rect.width;
        for ring in &self.rings {
            for edge in ring.windows(2) {
                let (ax, ay) = (edge[0].0 - ox, edge[0].1 - oy);
                let (bx, by) = (edge[1].0 - ox, edge[1].1 - oy);
                let (dir, (x0, y0), (x1, y1)) = if ay < by {
                    (1.0, (ax, ay), (bx, by))
                } else if ay > by {
                    (-1.0, (bx, by), (ax, ay))
                } else {
                    continue;
                };
                // Rows whose centre r + 0.5 is in [y0, y1): half-open, so a vertex shared by
                // two edges is counted once.
                let first = (y0 - 0.5).ceil().max(0.0) as usize;
                let end = ((y1 - 0.5).ceil().max(0.0) as usize).min(rect.height);
                for row in first..end {
                    let yc = row as f64 + 0.5;
                    let x = x0 + (x1 - x0) * ((yc - y0) / (y1 - y0));
                    // First column whose centre c + 0.5 is at or right of x.
                    let col = (x - 0.5).ceil();
                    if col >= w as f64 {
                        continue;
                    }
                    let col = col.max(0.0) as usize;
                    acc[row * w + col] += dir;
                }
            }
        }
    }
}

/// Add the piece of an edge inside one pixel row, from x = `xa` (at its top) to `xb` (at its
/// bottom), `dy` tall, to the row's deltas. Cells left of the row's window fold into its first
/// cell (a running sum adds them there anyway); cells right of it are dropped.
fn add_row_piece(line: &mut [f64], dir: f64, xa: f64, xb: f64, dy: f64) {
    let w = line.len() as isize;
    let mut add = |col: isize, v: f64| {
        if col < w {
            line[col.max(0) as usize] += v;
        }
    };
    let (lo, hi) = if xa <= xb { (xa, xb) } else { (xb, xa) };
    let first = lo.floor();
    // The last column the piece enters (a piece ending exactly on a border stays left of it).
    let last = if hi > lo && hi == hi.floor() {
        hi - 1.0
    } else {
        hi.floor()
    };
    if first == last {
        // Within one column: the area right of the piece inside the column is
        // dy × (1 − mean x offset), the rest of the row gets dy.
        let col = first;
        let f = 0.5 * (xa + xb) - col;
        add(col as isize, dir * dy * (1.0 - f));
        add(col as isize + 1, dir * dy * f);
        return;
    }
    // Crosses columns: cut at each column border; each sub-piece is handled as above with its
    // share of the height (proportional to its share of the x extent).
    let span = hi - lo;
    let mut x = lo;
    let mut col = first;
    while x < hi {
        let next = (col + 1.0).min(hi);
        let piece_dy = dy * ((next - x) / span);
        let f = 0.5 * (x + next) - col;
        add(col as isize, dir * piece_dy * (1.0 - f));
        add(col as isize + 1, dir * piece_dy * f);
        x = next;
        col += 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(rings: &[&[(f64, f64)]]) -> PixelPolygon {
        PixelPolygon::new(&[rings.iter().map(|r| r.to_vec()).collect()]).unwrap()
    }

    fn cover(p: &PixelPolygon, rect: Window, mode: CoverageMode) -> Vec<f64> {
        let mut out = Vec::new();
        p.coverage(rect, mode, &mut out);
        out
    }

    fn win(x: usize, y: usize, width: usize, height: usize) -> Window {
        Window {
            x,
            y,
            width,
            height,
        }
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-12, "cell {i}: {x} vs {y}\n{a:?}\n{b:?}");
        }
    }

    #[test]
    fn half_pixel_and_orientation() {
        for ring in [
            [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)],
            [(0.0, 0.0), (0.0, 1.0), (0.5, 1.0), (0.5, 0.0)],
        ] {
            let p = poly(&[&ring]);
            close(
                &cover(&p, win(0, 0, 2, 1), CoverageMode::Exact),
                &[0.5, 0.0],
            );
            assert!((p.area() - 0.5).abs() < 1e-15);
        }
    }

    #[test]
    fn diagonal_edge_cuts_cells_in_triangles() {
        // Triangle (0,0) (2,0) (0,2): cells (0,0) full, (1,0) and (0,1) half, (1,1) empty.
        let p = poly(&[&[(0.0, 0.0), (2.0, 0.0), (0.0, 2.0)]]);
        close(
            &cover(&p, win(0, 0, 2, 2), CoverageMode::Exact),
            &[1.0, 0.5, 0.5, 0.0],
        );
        // A shallow diagonal across three columns of one row: y = x/3 below it in row 0.
        let p = poly(&[&[(0.0, 0.0), (3.0, 1.0), (0.0, 1.0)]]);
        close(
            &cover(&p, win(0, 0, 3, 1), CoverageMode::Exact),
            &[5.0 / 6.0, 0.5, 1.0 / 6.0],
        );
    }

    #[test]
    fn hole_and_offset_window() {
        // 4×4 square with a 2×2 hole in the middle, offset by (10.25, 20.25).
        let (dx, dy) = (10.25, 20.25);
        let sq = |a: f64, b: f64| {
            vec![
                (a + dx, a + dy),
                (b + dx, a + dy),
                (b + dx, b + dy),
                (a + dx, b + dy),
            ]
        };
        let p = PixelPolygon::new(&[vec![sq(0.0, 4.0), sq(1.0, 3.0)]]).unwrap();
        assert!((p.area() - 12.0).abs() < 1e-12);
        let rect = p.cells(100, 100).unwrap();
        assert_eq!(rect, win(10, 20, 5, 5));
        let c = cover(&p, rect, CoverageMode::Exact);
        assert!((c.iter().sum::<f64>() - 12.0).abs() < 1e-12);
        // Corner cell (10,20) covered 0.75 × 0.75; the hole's cells (12,22) not at all.
        assert!((c[0] - 0.5625).abs() < 1e-12);
        assert_eq!(c[2 * 5 + 2], 0.0);
        // A sub-window gives the same cells as the whole.
        let sub = cover(&p, win(12, 21, 3, 2), CoverageMode::Exact);
        for r in 0..2 {
            for k in 0..3 {
                assert!((sub[r * 3 + k] - c[(r + 1) * 5 + 2 + k]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn centre_and_all_touched() {
        // Covers x in [0.2, 1.6], y in [0, 1]: centre of cell 0 (0.5) inside, cell 1 (1.5) inside,
        // cell 2 (2.5) not; all-touched takes cells 0 and 1 only.
        let p = poly(&[&[(0.2, 0.0), (1.6, 0.0), (1.6, 1.0), (0.2, 1.0)]]);
        close(
            &cover(&p, win(0, 0, 3, 1), CoverageMode::Centre),
            &[1.0, 1.0, 0.0],
        );
        close(
            &cover(&p, win(0, 0, 3, 1), CoverageMode::AllTouched),
            &[1.0, 1.0, 0.0],
        );
        let p = poly(&[&[(0.6, 0.0), (1.4, 0.0), (1.4, 1.0), (0.6, 1.0)]]);
        close(
            &cover(&p, win(0, 0, 3, 1), CoverageMode::Centre),
            &[0.0, 0.0, 0.0],
        );
        close(
            &cover(&p, win(0, 0, 3, 1), CoverageMode::AllTouched),
            &[1.0, 1.0, 0.0],
        );
    }

    #[test]
    fn degenerate_rings_are_dropped() {
        assert!(PixelPolygon::new(&[vec![vec![(0.0, 0.0), (1.0, 1.0)]]]).is_none());
        assert!(PixelPolygon::new(&[vec![vec![(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]]]).is_none());
        assert!(PixelPolygon::new(&[]).is_none());
    }

    /// Brute-force area of polygon ∩ cell by Sutherland–Hodgman clipping, for random polygons.
    fn clipped_area(ring: &[(f64, f64)], c: f64, r: f64) -> f64 {
        let mut pts: Vec<(f64, f64)> = ring[..ring.len() - 1].to_vec();
        let planes: [(usize, f64, bool); 4] = [
            (0, c, true),
            (0, c + 1.0, false),
            (1, r, true),
            (1, r + 1.0, false),
        ];
        for (axis, v, keep_above) in planes {
            let inside = |p: (f64, f64)| {
                let q = if axis == 0 { p.0 } else { p.1 };
                if keep_above {
                    q >= v
                } else {
                    q <= v
                }
            };
            let mut out = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                let (ia, ib) = (inside(a), inside(b));
                if ia {
                    out.push(a);
                }
                if ia != ib {
                    let (qa, qb) = if axis == 0 { (a.0, b.0) } else { (a.1, b.1) };
                    let t = (v - qa) / (qb - qa);
                    out.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            pts = out;
            if pts.is_empty() {
                return 0.0;
            }
        }
        pts.push(pts[0]);
        0.5 * doubled_signed_area(&pts).abs()
    }

    #[test]
    fn matches_clipping_on_star_shaped_polygons() {
        // Star-shaped (simple) polygons with 3–40 vertices around a random centre.
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200 {
            let n = 3 + (rnd() * 38.0) as usize;
            let (cx, cy) = (5.0 + rnd() * 4.0, 5.0 + rnd() * 4.0);
            let mut ring: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let a = std::f64::consts::TAU * (i as f64 + rnd() * 0.9) / n as f64;
                    let rad = 0.3 + rnd() * 4.5;
                    (cx + rad * a.cos(), cy + rad * a.sin())
                })
                .collect();
            ring.push(ring[0]);
            let p = poly(&[&ring]);
            let rect = p.cells(20, 20).unwrap();
            let c = cover(&p, rect, CoverageMode::Exact);
            for r in 0..rect.height {
                for k in 0..rect.width {
                    let want = clipped_area(&ring, (rect.x + k) as f64, (rect.y + r) as f64);
                    let got = c[r * rect.width + k];
                    assert!((got - want).abs() < 1e-10, "{got} vs {want}");
                }
            }
            assert!((c.iter().sum::<f64>() - p.area()).abs() < 1e-9);
        }
    }
}
