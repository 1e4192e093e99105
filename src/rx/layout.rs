//! The rate grids of a prescription and the plots on them: each plot's cells with the share
//! of each it covers, each cell's majority plot, and from per-plot cell rates the raster and the
//! machine layer ([`super::tiles`]).
//!
//! A grid is laid over the extent of the plots that get a rate in it (those the flight sees, and
//! every plot when a default rate is set: [`super::run`] says which), aligned to whole cells.
//! Each such plot takes the cells it touches, with the share of each it covers (exact
//! coverage); in the raster a cell belongs to the plot that covers most of it (the first such
//! plot on a tie), and a cell no plot touches has no rate. The other plots have no cells: they
//! are listed (with their area) but cost no grid.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::table::Parts;
use crate::raster::Grid;
use crate::zonal::{self, CoverageMode, PixelPolygon};

use super::tiles::{self, Piece, PlotCells};

/// A rate grid and the plots on it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub grid: Grid,
    pub cell_size: f64,
    /// Cell → the plot covering most of it (1-based into the plots), 0 when no plot touches it.
    pub labels: Vec<u32>,
    /// Cells wholly inside their plot.
    pub core: Vec<bool>,
    /// Per plot: the cells it touches (None for a plot without a usable polygon or not on the
    /// grid).
    pub cells: Vec<Option<PlotCells>>,
    /// Per plot: planar area in the grid's CRS, m².
    pub areas_m2: Vec<f64>,
    /// Per plot: its polygon in the grid's CRS.
    pub parts: Vec<Option<Parts>>,
}

/// One product's rates: the raster and the machine layer.
#[derive(Debug, Clone)]
pub struct RatePass {
    pub layout: Layout,
    /// Per cell, the rate its majority plot gives it (NaN: no rate).
    pub values: Vec<f32>,
    /// Cells of a plot that have no rate (not observed, no default rate).
    pub unobserved: Vec<bool>,
    /// The machine layer: pieces tiling each plot, plot by plot.
    pub pieces: Vec<Piece>,
}

/// The bounding box `[xmin, ymin, xmax, ymax]` of some parts (infinite when there are none).
pub fn bbox<'a>(parts: impl IntoIterator<Item = &'a Parts>) -> [f64; 4] {
    crate::plots::extent(parts.into_iter().flatten().flatten().flatten())
}

/// A grid of `cell` m over the extent of the plots `on_grid` says (snapped to whole cells) and
/// those plots on it; over `otherwise` (the flight's footprint, say) when none of them has a
/// polygon. Every plot's area is measured, on the grid or not.
pub fn layout(
    wkt: Option<&str>,
    plots_path: &Path,
    parts: &[Option<Parts>],
    on_grid: &[bool],
    otherwise: [f64; 4],
    cell: f64,
) -> Result<Layout> {
    let usable = |b: &[f64; 4]| b[0].is_finite() && b[2] > b[0] && b[3] > b[1];
    if !usable(&bbox(parts.iter().flatten())) {
        return Err(Error::Input {
            path: plots_path.to_path_buf(),
            message: "no plot has a usable polygon".into(),
        });
    }
    let on = |k: usize| on_grid.get(k).copied().unwrap_or(false);
    let mut bbox = bbox(
        parts
            .iter()
            .enumerate()
            .filter(|&(k, _)| on(k))
            .filter_map(|(_, p)| p.as_ref()),
    );
    if !usable(&bbox) {
        bbox = otherwise;
    }
    if !usable(&bbox) {
        return Err(Error::Input {
            path: plots_path.to_path_buf(),
            message: "no plot is on the prescription grid and the flight has no extent".into(),
        });
    }
    let x0 = (bbox[0] / cell).floor() * cell;
    let y1 = (bbox[3] / cell).ceil() * cell;
    let width = ((bbox[2] - x0) / cell).ceil().max(1.0) as usize;
    let height = ((y1 - bbox[1]) / cell).ceil().max(1.0) as usize;
    if width.saturating_mul(height) > 400_000_000 {
        return Err(Error::usage(format!(
            "a {width} × {height} grid at {cell} m is too large: raise the cell size (grid.cell_size, spray.cell_size) or split the plots"
        )));
    }
    let gt = [x0, cell, 0.0, y1, 0.0, -cell];
    let grid = Grid {
        width,
        height,
        geo_transform: Some(gt),
        crs_wkt: wkt.map(String::from),
    };
    let n = width * height;
    let (mut labels, mut core, mut best) = (vec![0u32; n], vec![false; n], vec![0f32; n]);
    let mut cells = Vec::with_capacity(parts.len());
    let mut areas_m2 = Vec::with_capacity(parts.len());
    let mut cover = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        let poly = p
            .as_ref()
            .and_then(|p| PixelPolygon::new(&zonal::to_pixel(&gt, p)));
        areas_m2.push(poly.as_ref().map_or(0.0, |p| p.area() * cell * cell));
        let Some(rect) = poly
            .as_ref()
            .filter(|_| on(k))
            .and_then(|p| p.cells(width, height))
        else {
            cells.push(None);
            continue;
        };
        if let Some(poly) = &poly {
            poly.coverage(rect, CoverageMode::Exact, &mut cover);
        }
        for r in 0..rect.height {
            for c in 0..rect.width {
                let (i, j) = ((rect.y + r) * width + rect.x + c, r * rect.width + c);
                let share = cover[j] as f32;
                if share > best[i] {
                    best[i] = share;
                    labels[i] = (k + 1) as u32;
                    core[i] = cover[j] >= 0.999;
                }
            }
        }
        cells.push(Some(PlotCells {
            rect,
            cover: cover.iter().map(|&c| c as f32).collect(),
        }));
    }
    Ok(Layout {
        grid,
        cell_size: cell,
        labels,
        core,
        cells,
        areas_m2,
        parts: parts.to_vec(),
    })
}

/// Merge slivers, cut the pieces and fill the raster from each plot's cell rates (row-major over
/// its window; None for a plot with no cells).
pub fn tile(layout: Layout, mut rates: Vec<Option<Vec<f32>>>, min_zone_m2: f64) -> RatePass {
    let cell_m2 = layout.cell_size * layout.cell_size;
    let gt = layout.grid.geo_transform.unwrap_or_default();
    let mut pieces = Vec::new();
    for (k, (r, cells)) in rates.iter_mut().zip(&layout.cells).enumerate() {
        let (Some(r), Some(cells), Some(parts)) = (r.as_mut(), cells, layout.parts[k].as_ref())
        else {
            continue;
        };
        tiles::merge_slivers(r, cells, cell_m2, min_zone_m2);
        pieces.extend(tiles::pieces(k, parts, r, cells, &gt, cell_m2));
    }
    let w = layout.grid.width;
    let mut values = vec![f32::NAN; layout.labels.len()];
    for (i, &label) in layout.labels.iter().enumerate() {
        let Some(k) = label.checked_sub(1).map(|k| k as usize) else {
            continue;
        };
        if let (Some(r), Some(cells)) = (&rates[k], &layout.cells[k]) {
            let (x, y) = (i % w - cells.rect.x, i / w - cells.rect.y);
            values[i] = r[y * cells.rect.width + x];
        }
    }
    let unobserved = values
        .iter()
        .zip(&layout.labels)
        .map(|(v, &l)| l != 0 && v.is_nan())
        .collect();
    RatePass {
        layout,
        values,
        unobserved,
        pieces,
    }
}

/// Each plot's rate in each cell it touches, `rate(plot, grid cell index)`, row-major over the
/// plot's window (None for a plot with no cells).
pub fn cell_rates(layout: &Layout, rate: impl Fn(usize, usize) -> f32) -> Vec<Option<Vec<f32>>> {
    let w = layout.grid.width;
    layout
        .cells
        .iter()
        .enumerate()
        .map(|(k, cells)| {
            let cells = cells.as_ref()?;
            let (rw, x0, y0) = (cells.rect.width, cells.rect.x, cells.rect.y);
            Some(
                (0..cells.cover.len())
                    .map(|j| rate(k, (y0 + j / rw) * w + x0 + j % rw))
                    .collect(),
            )
        })
        .collect()
}

/// A plot's machine total (Σ rate × area / 10 000) and the area of its pieces (m²).
pub fn totals(pieces: &[Piece], plot: usize) -> (f64, f64) {
    pieces
        .iter()
        .filter(|p| p.plot == plot)
        .fold((0.0, 0.0), |(t, a), p| {
            (t + p.rate * p.area_m2 / 10_000.0, a + p.area_m2)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f64, x1: f64) -> Option<Parts> {
        Some(vec![vec![vec![
            (x0, 0.0),
            (x1, 0.0),
            (x1, 1.0),
            (x0, 1.0),
            (x0, 0.0),
        ]]])
    }

    #[test]
    fn a_shared_cell_takes_the_rate_of_the_plot_covering_most_of_it() {
        // 1 m cells over x 0–5: A covers 0–1.7, B 1.7–3, C 4–5; the cell 3–4 touches none.
        let parts = vec![rect(0.0, 1.7), rect(1.7, 3.0), rect(4.0, 5.0)];
        let l = layout(None, Path::new("plots"), &parts, &[true; 3], [0.0; 4], 1.0).unwrap();
        assert_eq!((l.grid.width, l.grid.height), (5, 1));
        assert_eq!(l.labels, [1, 1, 2, 0, 3]);
        assert_eq!(l.core, [true, false, true, false, true]);
        assert!((l.areas_m2[0] - 1.7).abs() < 1e-12);
        // A's cell 1–2 is 70 % A; B's window starts there with 30 %.
        let b = l.cells[1].as_ref().unwrap();
        assert_eq!(b.rect.x, 1);
        assert!((b.cover[0] - 0.3).abs() < 1e-6);
        let rates = cell_rates(&l, |k, _| [10.0, 20.0, f32::NAN][k]);
        let pass = tile(l, rates, 0.0);
        assert_eq!(&pass.values[..3], [10.0, 10.0, 20.0]);
        assert!(pass.values[3].is_nan() && pass.values[4].is_nan());
        // C has no rate: its cell is not observed; the gap is outside every plot.
        assert_eq!(pass.unobserved, [false, false, false, false, true]);
        // The pieces: A's 1.7 m² and B's 1.3 m², nothing for C.
        let area = |k: usize| -> f64 {
            pass.pieces
                .iter()
                .filter(|p| p.plot == k)
                .map(|p| p.area_m2)
                .sum()
        };
        assert!((area(0) - 1.7).abs() < 1e-9 && (area(1) - 1.3).abs() < 1e-9);
        assert_eq!(area(2), 0.0);
        assert!((totals(&pass.pieces, 1).0 - 20.0 * 1.3 / 10_000.0).abs() < 1e-10);
    }

    #[test]
    fn the_grid_covers_only_the_plots_on_it() {
        // A at x 0–1.7 and C at 4–5 on the grid, B (1.7–3) off it: the grid spans A only when
        // C is off too; B keeps its area but has no cells, and A takes the cell it shares with B.
        let parts = vec![rect(0.0, 1.7), rect(1.7, 3.0), rect(4.0, 5.0)];
        let l = layout(
            None,
            Path::new("p"),
            &parts,
            &[true, false, true],
            [0.0; 4],
            1.0,
        )
        .unwrap();
        assert_eq!((l.grid.width, l.grid.height), (5, 1));
        assert_eq!(l.labels, [1, 1, 0, 0, 3]);
        assert!(l.cells[1].is_none() && (l.areas_m2[1] - 1.3).abs() < 1e-12);
        let l = layout(
            None,
            Path::new("p"),
            &parts,
            &[true, false, false],
            [0.0; 4],
            1.0,
        )
        .unwrap();
        assert_eq!((l.grid.width, l.grid.height), (2, 1));
        assert_eq!(l.labels, [1, 1]);
        assert!((l.areas_m2[2] - 1.0).abs() < 1e-12);
        // No plot on the grid: the grid is laid over the fallback extent, with no plot on it.
        let l = layout(
            None,
            Path::new("p"),
            &parts,
            &[false; 3],
            [10.0, 0.0, 13.0, 2.0],
            1.0,
        )
        .unwrap();
        assert_eq!((l.grid.width, l.grid.height), (3, 2));
        assert_eq!(l.labels, [0; 6]);
        assert!(l.cells.iter().all(Option::is_none));
    }
}
