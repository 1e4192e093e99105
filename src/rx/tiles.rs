//! The machine layer of a prescription: pieces that tile each plot exactly.
//!
//! Each plot has the window of grid cells it touches, the share of each cell it covers and a
//! rate per cell (NaN: no rate, nothing observed there). Connected cells of one rate (4-connected)
//! form a component; a component whose area inside the plot is below the minimum is given the
//! rate of its largest neighbour (repeatedly, smallest first), so that nothing narrower than a
//! swath is left. Each final component's cells, cut by the plot's outline (polygon intersection,
//! the geo crate's boolean operations), is one piece: pieces of a plot never overlap, never leave
//! the plot, and together they are the plot less the cells with no rate.
//!
//! The rate raster takes, in each cell, the rate its majority plot gives it after the same
//! merging, so a piece's rate is the raster's rate in the cells wholly inside it.

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon};

use crate::io::table::Parts;
use crate::raster::Window;

/// The cells a plot touches: its window on the grid and the share of each cell inside the plot.
#[derive(Debug, Clone)]
pub struct PlotCells {
    pub rect: Window,
    /// Row-major over `rect`, in [0, 1].
    pub cover: Vec<f32>,
}

/// One feature of a machine layer.
#[derive(Debug, Clone)]
pub struct Piece {
    /// Index of the plot.
    pub plot: usize,
    /// Rate (unit of the map).
    pub rate: f64,
    /// Polygon parts in the grid's CRS.
    pub parts: Parts,
    /// Planar area in the grid's CRS units² (m²).
    pub area_m2: f64,
}

/// Rates that are the same to 1e-3 are one rate.
fn key(v: f32) -> Option<i64> {
    v.is_finite()
        .then(|| (f64::from(v) * 1000.0).round() as i64)
}

/// 4-connected components of equal rate among the cells the plot covers: each cell's component
/// (usize::MAX when it has no rate or is not in the plot) and each component's area (m²).
fn components(rates: &[f32], cells: &PlotCells, cell_m2: f64) -> (Vec<usize>, Vec<f64>) {
    let w = cells.rect.width;
    let mut comp = vec![usize::MAX; rates.len()];
    let mut areas = Vec::new();
    let mut stack = Vec::new();
    for start in 0..rates.len() {
        if comp[start] != usize::MAX || cells.cover[start] <= 0.0 {
            continue;
        }
        let Some(k) = key(rates[start]) else {
            continue;
        };
        let id = areas.len();
        let mut area = 0.0;
        comp[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            area += f64::from(cells.cover[i]) * cell_m2;
            let (r, c) = (i / w, i % w);
            let mut visit = |j: usize| {
                if comp[j] == usize::MAX && cells.cover[j] > 0.0 && key(rates[j]) == Some(k) {
                    comp[j] = id;
                    stack.push(j);
                }
            };
            if c > 0 {
                visit(i - 1);
            }
            if c + 1 < w {
                visit(i + 1);
            }
            if r > 0 {
                visit(i - w);
            }
            if i + w < rates.len() {
                visit(i + w);
            }
        }
        areas.push(area);
    }
    (comp, areas)
}

/// Give every component smaller than `min_m2` (area inside the plot) the rate of its largest
/// neighbouring component, smallest first, until none is left that has a neighbour with a rate.
/// Cells with no rate are never changed and never given to a neighbour.
pub fn merge_slivers(rates: &mut [f32], cells: &PlotCells, cell_m2: f64, min_m2: f64) {
    let w = cells.rect.width;
    loop {
        let (comp, areas) = components(rates, cells, cell_m2);
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); areas.len()];
        let mut link = |a: usize, b: usize| {
            if a != usize::MAX && b != usize::MAX && a != b {
                neighbours[a].push(b);
                neighbours[b].push(a);
            }
        };
        for i in 0..rates.len() {
            if i % w + 1 < w {
                link(comp[i], comp[i + 1]);
            }
            if i + w < rates.len() {
                link(comp[i], comp[i + w]);
            }
        }
        let sliver = (0..areas.len())
            .filter(|&c| areas[c] < min_m2 && !neighbours[c].is_empty())
            .min_by(|&a, &b| areas[a].total_cmp(&areas[b]));
        let Some(c) = sliver else {
            return;
        };
        let Some(&into) = neighbours[c]
            .iter()
            .max_by(|&&a, &&b| areas[a].total_cmp(&areas[b]))
        else {
            return;
        };
        let Some(rate) = comp.iter().position(|&x| x == into).map(|i| rates[i]) else {
            return;
        };
        for (r, &x) in rates.iter_mut().zip(&comp) {
            if x == c {
                *r = rate;
            }
        }
    }
}

/// A closed ring of `points` shifted by `-origin`.
fn ring(points: &[(f64, f64)], origin: (f64, f64)) -> LineString<f64> {
    let mut coords: Vec<Coord<f64>> = points
        .iter()
        .map(|&(x, y)| Coord {
            x: x - origin.0,
            y: y - origin.1,
        })
        .collect();
    if coords.first() != coords.last() {
        if let Some(&first) = coords.first() {
            coords.push(first);
        }
    }
    LineString::new(coords)
}

/// Parts as a geo MultiPolygon shifted by `-origin` (local coordinates keep full precision).
fn multipolygon(parts: &Parts, origin: (f64, f64)) -> MultiPolygon<f64> {
    MultiPolygon::new(
        parts
            .iter()
            .filter(|rings| !rings.is_empty())
            .map(|rings| {
                Polygon::new(
                    ring(&rings[0], origin),
                    rings[1..].iter().map(|r| ring(r, origin)).collect(),
                )
            })
            .collect(),
    )
}

/// A geo MultiPolygon in local coordinates back to parts in the grid's CRS.
fn to_parts(mp: &MultiPolygon<f64>, origin: (f64, f64)) -> Parts {
    let back = |ls: &LineString<f64>| -> Vec<(f64, f64)> {
        ls.coords()
            .map(|c| (c.x + origin.0, c.y + origin.1))
            .collect()
    };
    mp.iter()
        .map(|p| {
            std::iter::once(back(p.exterior()))
                .chain(p.interiors().iter().map(back))
                .collect()
        })
        .collect()
}

/// The pieces of one plot: each component of `rates` (after [`merge_slivers`]) cut by the
/// plot's outline. `gt` is the grid's geotransform (north-up), `plot` the plot in its CRS.
pub fn pieces(
    plot_index: usize,
    plot: &Parts,
    rates: &[f32],
    cells: &PlotCells,
    gt: &[f64; 6],
    cell_m2: f64,
) -> Vec<Piece> {
    let origin = (gt[0], gt[3]);
    let (cw, ch) = (gt[1], -gt[5]);
    let outline = multipolygon(plot, origin);
    let (comp, areas) = components(rates, cells, cell_m2);
    let w = cells.rect.width;
    let mut rects: Vec<Vec<Polygon<f64>>> = vec![Vec::new(); areas.len()];
    let mut rate_of = vec![f32::NAN; areas.len()];
    for (r, row) in comp.chunks(w).enumerate() {
        let mut c = 0;
        while c < w {
            let id = row[c];
            let start = c;
            while c < w && row[c] == id {
                c += 1;
            }
            if id == usize::MAX {
                continue;
            }
            rate_of[id] = rates[r * w + start];
            let x0 = (cells.rect.x + start) as f64 * cw;
            let x1 = (cells.rect.x + c) as f64 * cw;
            let y1 = -((cells.rect.y + r) as f64) * ch;
            let y0 = y1 - ch;
            rects[id].push(Polygon::new(
                LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
                Vec::new(),
            ));
        }
    }
    rects
        .into_iter()
        .zip(rate_of)
        .filter_map(|(cells_of, rate)| {
            let cut = outline.intersection(&MultiPolygon::new(cells_of));
            let area = cut.unsigned_area();
            (area > 0.0 && rate.is_finite()).then(|| Piece {
                plot: plot_index,
                rate: f64::from(rate),
                parts: to_parts(&cut, origin),
                area_m2: area,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(w: usize, h: usize, cover: Vec<f32>) -> PlotCells {
        PlotCells {
            rect: Window {
                x: 0,
                y: 0,
                width: w,
                height: h,
            },
            cover,
        }
    }

    #[test]
    fn slivers_join_their_largest_neighbour_and_no_rate_stays() {
        // 4 × 3 cells of 1 m²: a 1-cell island of 5 inside 10s, a NaN cell, and a column of 20.
        let c = cells(4, 3, vec![1.0; 12]);
        let nan = f32::NAN;
        let mut rates = vec![
            10.0, 10.0, 10.0, 20.0, //
            10.0, 5.0, 10.0, 20.0, //
            nan, 10.0, 10.0, 20.0,
        ];
        merge_slivers(&mut rates, &c, 1.0, 2.0);
        assert_eq!(rates[5], 10.0);
        assert!(rates[8].is_nan());
        // The column of 20 is 3 m²: kept.
        assert_eq!([rates[3], rates[7], rates[11]], [20.0; 3]);
        // With a 4 m² minimum it joins the 10s (the larger neighbour).
        merge_slivers(&mut rates, &c, 1.0, 4.0);
        assert!(rates.iter().filter(|r| r.is_finite()).all(|&r| r == 10.0));
    }

    #[test]
    fn pieces_tile_the_plot() {
        // A triangle over a 4 × 4 grid of 1 m cells (origin 100, 200): two rates split at x = 2.
        let gt = [100.0, 1.0, 0.0, 200.0, 0.0, -1.0];
        let plot: Parts = vec![vec![vec![
            (100.0, 196.0),
            (104.0, 196.0),
            (100.0, 200.0),
            (100.0, 196.0),
        ]]];
        let c = cells(4, 4, vec![1.0; 16]);
        let rates: Vec<f32> = (0..16).map(|i| if i % 4 < 2 { 1.0 } else { 2.0 }).collect();
        let p = pieces(0, &plot, &rates, &c, &gt, 1.0);
        assert_eq!(p.len(), 2);
        let total: f64 = p.iter().map(|p| p.area_m2).sum();
        assert!((total - 8.0).abs() < 1e-9, "{total}");
        // x < 2 under the line x + y = 4 (local y from the bottom): 4·2 − 2·2/2 = 6 m².
        let left = p.iter().find(|p| p.rate == 1.0).unwrap();
        assert!((left.area_m2 - 6.0).abs() < 1e-9, "{}", left.area_m2);
        for piece in &p {
            for &(x, y) in piece.parts.iter().flatten().flatten() {
                assert!(x >= 100.0 - 1e-9 && y >= 196.0 - 1e-9 && x + y <= 300.0 + 1e-9);
            }
        }
    }
}
