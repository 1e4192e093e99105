//! Spray zones: stress anomalies cleaned into sprayable zones on a cell grid (pure, no GDAL).
//!
//! Every grid here is `width × height` cells, row-major, north-up; `plots` numbers each cell's
//! plot (0 = outside every plot, `k` = plot `k`, 1-based). Cells outside plots never get anything,
//! and nothing computed for one plot ever reaches into another.
//!
//! Stress is a cell whose index is anomalously low against its own plot (a robust z-score from
//! the plot's median and MAD, see [`RobustStats`]) and/or has dropped since the previous flight
//! by at least a threshold ([`stress_mask`]).

use crate::error::{Error, Result};
use rayon::prelude::*;

/// How the two stress tests (robust z-score, drop since the previous flight) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// A cell is stressed when any test that can be measured for it says so.
    Either,
    /// A cell is stressed when every test that can be measured for it says so (and at least one
    /// can). Where the drop cannot be measured (no previous flight, or no previous value for this
    /// cell) the z-score decides alone, exactly as when no previous flight was given.
    Both,
}

/// Settings of [`spray_zones`].
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneParams {
    /// Stressed when the robust z-score is `<= -z_threshold` (e.g. 2.5); finite and > 0.
    /// `None` turns the z-score test off (drop since the previous flight only).
    pub z_threshold: Option<f64>,
    /// Stressed when `previous - index >= drop_threshold`; finite and > 0. `None` (or no previous
    /// flight) turns the drop test off.
    pub drop_threshold: Option<f64>,
    /// How the two tests combine.
    pub combine: Combine,
    /// Radius in cells of the Euclidean disk of the morphological opening that removes specks
    /// and thin slivers of stress; 0 keeps the stress as it is.
    pub opening_radius: f64,
    /// Smallest zone kept, in stressed cells after the opening (one spray-swath square, say).
    pub min_area_cells: usize,
    /// Margin in cells added around each zone (Euclidean disk), clipped to the zone's plot.
    pub buffer_radius: f64,
}

impl ZoneParams {
    /// Rejects thresholds and radii that are not finite or out of range, with a usage error that
    /// names the setting.
    pub fn check(&self) -> Result<()> {
        for (name, value) in [
            ("z threshold", self.z_threshold),
            ("drop threshold", self.drop_threshold),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::usage(format!(
                        "spray zones: the {name} must be a positive number, not {v}"
                    )));
                }
            }
        }
        check_radius("opening radius", self.opening_radius)?;
        check_radius("buffer radius", self.buffer_radius)
    }
}

fn check_radius(name: &str, radius: f64) -> Result<()> {
    if radius.is_finite() && radius >= 0.0 {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "spray zones: the {name} must be 0 or more cells, not {radius}"
        )))
    }
}

/// Number of cells of a `width × height` grid, or a usage error when it does not fit in memory.
fn grid_cells(width: usize, height: usize) -> Result<usize> {
    width.checked_mul(height).ok_or_else(|| {
        Error::usage(format!(
            "spray zones: a {width} × {height} grid is too large"
        ))
    })
}

fn check_len(what: &str, len: usize, cells: usize) -> Result<()> {
    if len == cells {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "spray zones: the {what} has {len} cells where the grid has {cells}"
        )))
    }
}

/// Every plot number must be 0 or `1..=n_plots`.
fn check_plots(plots: &[u32], n_plots: usize) -> Result<()> {
    match plots.iter().find(|&&p| p as usize > n_plots) {
        Some(p) => Err(Error::usage(format!(
            "spray zones: a cell is in plot {p} but there are only {n_plots} plots"
        ))),
        None => Ok(()),
    }
}

/// A cell value the statistics and the stress tests use: finite (NaN and ±inf are no data).
fn valid(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

/// The median and spread of one plot's valid index values, for robust z-scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustStats {
    /// Median of the plot's valid values (mean of the two middle ones for an even count).
    pub median: f64,
    /// Median absolute deviation from the median, raw (not scaled to a standard deviation).
    pub mad: f64,
    /// Mean absolute deviation from the median.
    pub mean_ad: f64,
    /// Number of valid values.
    pub count: usize,
}

impl RobustStats {
    /// `1.4826 · MAD` turns the MAD into a standard deviation for normal data.
    pub const MAD_TO_SIGMA: f64 = 1.4826;
    /// `√(π/2) ≈ 1.253314` turns a mean absolute deviation into a standard deviation for normal
    /// data (the fallback of Iglewicz and Hoaglin's modified z-score when the MAD is 0).
    pub const MEAN_AD_TO_SIGMA: f64 = 1.253314;

    /// The robust standard deviation: `1.4826 · MAD`, or, when more than half of the plot has
    /// exactly the median value (MAD = 0), `1.253314 · mean absolute deviation`; 0 only when every
    /// value equals the median.
    pub fn sigma(&self) -> f64 {
        if self.mad > 0.0 {
            Self::MAD_TO_SIGMA * self.mad
        } else {
            Self::MEAN_AD_TO_SIGMA * self.mean_ad
        }
    }

    /// Robust z-score `(v − median) / sigma`. A plot whose values are all equal has sigma 0 and
    /// every z is 0: a flat plot has no anomalies (instead of ±inf for any value off the median).
    pub fn z(&self, v: f64) -> f64 {
        let sigma = self.sigma();
        if sigma > 0.0 {
            (v - self.median) / sigma
        } else {
            0.0
        }
    }
}

/// Median of `values` (reordered in place); `None` when empty.
fn median<T: Copy + Into<f64>>(values: &mut [T]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (lower_half, upper, _) =
        values.select_nth_unstable_by(n / 2, |a, b| (*a).into().total_cmp(&(*b).into()));
    let upper: f64 = (*upper).into();
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = lower_half
        .iter()
        .map(|&v| v.into())
        .fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Robust statistics of each plot's valid (finite) index values: entry `k - 1` is plot `k`,
/// `None` for a plot with no valid cell. Cells outside plots (0) are ignored; a plot number above
/// `n_plots` or slices of different lengths are a usage error.
pub fn plot_stats(
    index: &[f32],
    plots: &[u32],
    n_plots: usize,
) -> Result<Vec<Option<RobustStats>>> {
    check_len("plot grid", plots.len(), index.len())?;
    check_plots(plots, n_plots)?;
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); n_plots];
    for (&v, &p) in index.iter().zip(plots) {
        if p != 0 && v.is_finite() {
            if let Some(slot) = values.get_mut(p as usize - 1) {
                slot.push(v);
            }
        }
    }
    let mut deviations: Vec<f64> = Vec::new();
    Ok(values
        .into_iter()
        .map(|mut vals| {
            let median = median(&mut vals)?;
            deviations.clear();
            deviations.extend(vals.iter().map(|&v| (f64::from(v) - median).abs()));
            let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
            let mad = self::median(&mut deviations)?;
            Some(RobustStats {
                median,
                mad,
                mean_ad,
                count: vals.len(),
            })
        })
        .collect())
}

/// Stressed cells: inside a plot, with a valid index, and (per `params.combine`) a robust z-score
/// against the plot `<= -z_threshold` and/or `previous - index >= drop_threshold` (the drop test
/// only where `previous` is given and valid for the cell). A usage error for slices of different
/// lengths, plot numbers above `n_plots`, bad thresholds, or when no test can run at all (z test
/// off and no previous flight or drop threshold).
pub fn stress_mask(
    index: &[f32],
    previous: Option<&[f32]>,
    plots: &[u32],
    n_plots: usize,
    params: &ZoneParams,
) -> Result<Vec<bool>> {
    check_stress_inputs(index, previous, plots, n_plots, params)?;
    let stats = plot_stats(index, plots, n_plots)?;
    Ok(stressed_cells(index, previous, plots, &stats, params))
}

/// The checks of [`stress_mask`]: lengths, plot numbers, thresholds, some test that can run.
fn check_stress_inputs(
    index: &[f32],
    previous: Option<&[f32]>,
    plots: &[u32],
    n_plots: usize,
    params: &ZoneParams,
) -> Result<()> {
    params.check()?;
    check_len("plot grid", plots.len(), index.len())?;
    if let Some(prev) = previous {
        check_len("previous index", prev.len(), index.len())?;
    }
    check_plots(plots, n_plots)?;
    if params.z_threshold.is_none() && params.drop_threshold.zip(previous).is_none() {
        return Err(Error::usage(
            "spray zones: no stress test can run: the z-score test is off and there is no \
             previous flight with a drop threshold",
        ));
    }
    Ok(())
}

/// The stressed cells of [`stress_mask`], given each plot's robust statistics (inputs
/// checked).
fn stressed_cells(
    index: &[f32],
    previous: Option<&[f32]>,
    plots: &[u32],
    stats: &[Option<RobustStats>],
    params: &ZoneParams,
) -> Vec<bool> {
    let drop = params.drop_threshold.zip(previous);
    index
        .iter()
        .zip(plots)
        .enumerate()
        .map(|(i, (&v, &p))| {
            let Some(v) = valid(v).filter(|_| p != 0) else {
                return false;
            };
            let z_low = params.z_threshold.map(|t| {
                stats
                    .get(p as usize - 1)
                    .copied()
                    .flatten()
                    .is_some_and(|s| s.z(v) <= -t)
            });
            let dropped = drop.and_then(|(d, prev)| {
                let before = valid(*prev.get(i)?)?;
                Some(before - v >= d)
            });
            match params.combine {
                Combine::Either => z_low == Some(true) || dropped == Some(true),
                Combine::Both => {
                    (z_low.is_some() || dropped.is_some())
                        && z_low != Some(false)
                        && dropped != Some(false)
                }
            }
        })
        .collect()
}

/// Rows of output per parallel task in the morphology: enough to amortise the scratch buffers.
const ROWS_PER_TASK: usize = 32;

/// Half-widths of the Euclidean disk of `radius` cells, by row offset `0..=reach`: cell `(dy, dx)`
/// is in the disk when `dx² + dy² <= radius²`, i.e. `|dx| <= half[|dy|]`. The reach is capped at
/// `max_reach` rows and the half-widths at `max_half` cells: a bigger disk covers no more of the
/// grid (and for an erosion already sticks out of it). `radius` is finite and >= 0.
fn disk_half_widths(radius: f64, max_reach: usize, max_half: usize) -> Vec<usize> {
    // Beyond max_reach + max_half the disk spans the whole clipped window anyway; capping keeps
    // radius² finite and the loops short.
    let radius = radius.min((max_reach + max_half + 1) as f64);
    let r2 = radius * radius;
    let reach = (radius.floor() as usize).min(max_reach);
    (0..=reach)
        .map(|dy| {
            let dy2 = (dy as f64) * (dy as f64);
            let fits = |w: f64| w * w + dy2 <= r2;
            // sqrt may round either way: settle on the largest w that fits.
            let mut w = (r2 - dy2).max(0.0).sqrt().floor();
            while w > 0.0 && !fits(w) {
                w -= 1.0;
            }
            while fits(w + 1.0) {
                w += 1.0;
            }
            (w as usize).min(max_half)
        })
        .collect()
}

/// Erosion or dilation of `mask` by a Euclidean disk, one output row at a time: for each row of
/// the disk, a prefix count of the source row answers "how many set cells in this span" in O(1),
/// so the cost is O(cells × disk rows). Outside the grid counts as not set.
fn morph(mask: &[bool], width: usize, height: usize, radius: f64, erode: bool) -> Vec<bool> {
    let mut out = vec![false; mask.len()];
    if mask.is_empty() {
        return out;
    }
    let half = disk_half_widths(radius, height, width);
    let reach = half.len() - 1;
    let rows = ROWS_PER_TASK.min(height);
    out.par_chunks_mut(width * rows)
        .enumerate()
        .for_each(|(task, block)| {
            let mut prefix = vec![0usize; width + 1];
            for (j, row) in block.chunks_mut(width).enumerate() {
                let y = task * rows + j;
                if erode && (y < reach || y + reach >= height) {
                    continue; // the disk sticks out of the grid: nothing survives
                }
                row.fill(erode);
                for s in y.saturating_sub(reach)..=(y + reach).min(height - 1) {
                    let w = half[s.abs_diff(y)];
                    for (x, &m) in mask[s * width..(s + 1) * width].iter().enumerate() {
                        prefix[x + 1] = prefix[x] + usize::from(m);
                    }
                    for (x, o) in row.iter_mut().enumerate() {
                        let count = prefix[(x + w + 1).min(width)] - prefix[x.saturating_sub(w)];
                        if erode {
                            // A span clipped by the grid edge holds fewer than 2w + 1 cells.
                            *o &= count == 2 * w + 1;
                        } else {
                            *o |= count > 0;
                        }
                    }
                }
            }
        });
    out
}

/// Morphological opening of `mask`: erosion then dilation by a Euclidean disk of `radius` cells
/// (the cells `(dy, dx)` with `dx² + dy² <= radius²`). It removes specks and slivers narrower than
/// the disk and keeps the rest of each shape; the result is always a subset of `mask`. Outside the
/// grid counts as not set, so shapes touching the edge are eroded from that side too. A radius
/// below 1 is the identity. A usage error when `mask` is not `width × height` or the radius is
/// negative or not finite.
pub fn open(mask: &[bool], width: usize, height: usize, radius: f64) -> Result<Vec<bool>> {
    check_len("mask", mask.len(), grid_cells(width, height)?)?;
    check_radius("opening radius", radius)?;
    if radius < 1.0 {
        return Ok(mask.to_vec());
    }
    let eroded = morph(mask, width, height, radius, true);
    Ok(morph(&eroded, width, height, radius, false))
}

/// Buffer of `mask` by a Euclidean disk of `radius` cells, clipped to plots: a cell of plot `k`
/// is set when a set cell of plot `k` lies within the disk around it. Cells outside plots are
/// never set, and a set cell of one plot never sets cells of another. Distances are straight
/// lines, not paths inside the plot: a buffer can reach a part of the same plot across a narrow
/// strip of another plot ([`spray_zones`] drops such pieces when they hold no stress). A usage
/// error when `mask` or `plots` is not `width × height` or the radius is negative or not finite.
///
/// Cost O(cells × disk rows): for each disk row, one sweep along the source row remembers the
/// last set cell seen of each plot.
pub fn dilate_within(
    mask: &[bool],
    width: usize,
    height: usize,
    radius: f64,
    plots: &[u32],
) -> Result<Vec<bool>> {
    let cells = grid_cells(width, height)?;
    check_len("mask", mask.len(), cells)?;
    check_len("plot grid", plots.len(), cells)?;
    check_radius("buffer radius", radius)?;
    let mut out = vec![false; cells];
    if cells == 0 {
        return Ok(out);
    }
    let half = disk_half_widths(radius, height, width);
    let reach = half.len() - 1;
    let n_slots = plots.iter().copied().max().unwrap_or(0) as usize + 1;
    let rows = ROWS_PER_TASK.min(height);
    out.par_chunks_mut(width * rows)
        .enumerate()
        .for_each(|(task, block)| {
            // last[k]: grid index of the last set cell of plot k met in any sweep. It always names
            // a real set cell of plot k, so "it lies in the span" proves one does; and a sweep
            // that passes a set cell of plot k in the span leaves last[k] in the span.
            let mut last = vec![usize::MAX; n_slots];
            for (j, row) in block.chunks_mut(width).enumerate() {
                let y = task * rows + j;
                let own = &plots[y * width..(y + 1) * width];
                for s in y.saturating_sub(reach)..=(y + reach).min(height - 1) {
                    let w = half[s.abs_diff(y)];
                    let base = s * width;
                    let mut next = 0;
                    for x in 0..width {
                        let hi = (x + w).min(width - 1);
                        while next <= hi {
                            let g = base + next;
                            if mask[g] && plots[g] != 0 {
                                last[plots[g] as usize] = g;
                            }
                            next += 1;
                        }
                        let k = own[x] as usize;
                        if k != 0 && !row[x] {
                            let l = last[k];
                            row[x] = l >= base + x.saturating_sub(w) && l <= base + hi;
                        }
                    }
                }
            }
        });
    Ok(out)
}

/// One 8-connected group of set cells of one plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Label, 1.. in the row-major order of each component's first cell.
    pub id: u32,
    /// The plot all its cells are in.
    pub plot: u32,
    /// Number of cells.
    pub cells: usize,
    /// First row holding one of its cells.
    pub min_row: usize,
    /// Last row holding one of its cells.
    pub max_row: usize,
    /// First column holding one of its cells.
    pub min_col: usize,
    /// Last column holding one of its cells.
    pub max_col: usize,
}

/// 8-connected labelling of the set cells of `mask` that are inside plots: two cells join only
/// when they touch (side or corner) and are in the same plot. Returns the label of each cell (0
/// for unset cells and cells outside plots) and the components, numbered 1.. in the row-major
/// order of their first cell. Iterative (explicit stack), O(cells). A usage error when `mask` or
/// `plots` is not `width × height`.
pub fn components(
    mask: &[bool],
    plots: &[u32],
    width: usize,
    height: usize,
) -> Result<(Vec<u32>, Vec<Component>)> {
    let cells = grid_cells(width, height)?;
    check_len("mask", mask.len(), cells)?;
    check_len("plot grid", plots.len(), cells)?;
    let mut labels = vec![0u32; cells];
    let mut found: Vec<Component> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..cells {
        if !mask[start] || plots[start] == 0 || labels[start] != 0 {
            continue;
        }
        let id = u32::try_from(found.len() + 1)
            .map_err(|_| Error::usage("spray zones: more than 4294967295 zones on one grid"))?;
        let plot = plots[start];
        let (row, col) = (start / width, start % width);
        let mut c = Component {
            id,
            plot,
            cells: 0,
            min_row: row,
            max_row: row,
            min_col: col,
            max_col: col,
        };
        labels[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (row, col) = (i / width, i % width);
            c.cells += 1;
            c.min_row = c.min_row.min(row);
            c.max_row = c.max_row.max(row);
            c.min_col = c.min_col.min(col);
            c.max_col = c.max_col.max(col);
            for r in row.saturating_sub(1)..=(row + 1).min(height - 1) {
                for q in col.saturating_sub(1)..=(col + 1).min(width - 1) {
                    let j = r * width + q;
                    if mask[j] && plots[j] == plot && labels[j] == 0 {
                        labels[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        found.push(c);
    }
    Ok((labels, found))
}

/// The edge of each stress group drawn where the crop changes, not where the test fires: a
/// border cell of a group (one with a side neighbour outside it) stays only when its index is
/// nearer the group's median than its plot's median. Without this, a cell with a sliver of a
/// patch in it passes the z-test whenever pixel noise is low, and a group's edge runs a cell
/// outside the patch all round (on seeded 3–7 m patches at 2 m cells, a quarter of the sprayed
/// area). Groups whose median is not below their plot's are left as they are (stress found by
/// the drop test alone). `stats` are [`plot_stats`] of `index`; `labels` and `groups` are
/// [`components`] of the kept cells.
pub fn refine_edges(
    index: &[f32],
    stats: &[Option<RobustStats>],
    labels: &[u32],
    groups: &[Component],
    width: usize,
) -> Result<Vec<bool>> {
    check_len("group labels", labels.len(), index.len())?;
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); groups.len()];
    for (&l, &v) in labels.iter().zip(index) {
        if l != 0 && v.is_finite() {
            values[l as usize - 1].push(v);
        }
    }
    // The value above which a border cell of each group is nearer the healthy crop.
    let cut: Vec<Option<f64>> = values
        .iter_mut()
        .zip(groups)
        .map(|(vals, g)| {
            let healthy = stats.get(g.plot as usize - 1).copied().flatten()?.median;
            let stressed = median(vals)?;
            (stressed < healthy).then_some((stressed + healthy) / 2.0)
        })
        .collect();
    let inside = |i: usize, l: u32| labels.get(i).is_some_and(|&m| m == l);
    Ok(labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if l == 0 {
                return false;
            }
            let (row, col) = (i / width, i % width);
            let border = col == 0
                || col + 1 == width
                || !inside(i - 1, l)
                || !inside(i + 1, l)
                || row == 0
                || !inside(i - width, l)
                || !inside(i + width, l);
            match cut[l as usize - 1] {
                Some(c) if border => valid(index[i]).is_some_and(|v| v <= c),
                _ => true,
            }
        })
        .collect())
}

/// One spray zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Zone number, 1.. in the row-major order of each zone's first cell.
    pub id: u32,
    /// The plot the whole zone is in.
    pub plot: u32,
    /// Cells to spray: the stressed cells and their buffer.
    pub cells: usize,
    /// Stressed cells (after the opening, before the buffer); at least the minimum area.
    pub stressed_cells: usize,
}

/// Spray zones on a grid: the zone of each cell and the zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zones {
    /// Zone number of each cell (`width × height`, row-major): 0 = no zone, else a [`Zone::id`].
    pub zone: Vec<u32>,
    /// The zones, in id order (`zones[i].id == i + 1`).
    pub zones: Vec<Zone>,
}

/// Spray zones from an index grid (and optionally the previous flight's, same grid):
///
/// 1. stressed cells ([`stress_mask`]);
/// 2. morphological opening by a disk of `opening_radius` cells ([`open`]), and each group's
///    edge drawn where the crop changes ([`refine_edges`]);
/// 3. 8-connected groups within each plot ([`components`]), dropping those smaller than
///    `min_area_cells`;
/// 4. a buffer of `buffer_radius` cells clipped to each zone's plot ([`dilate_within`]);
/// 5. the buffered cells grouped again (buffers of nearby groups in one plot merge into one
///    zone). A piece of buffer holding no stressed cell (one reached only in a straight line
///    across another plot or outside plots) is dropped: a zone is always around its stress.
///
/// So every zone cell is inside the zone's plot and every zone holds at least `min_area_cells`
/// stressed cells. Zones are numbered 1.. in the row-major order of their first cell. A usage
/// error for slices that are not `width × height`, plot numbers above `n_plots` or bad
/// parameters (see [`ZoneParams`]).
pub fn spray_zones(
    index: &[f32],
    previous: Option<&[f32]>,
    plots: &[u32],
    width: usize,
    height: usize,
    n_plots: usize,
    params: &ZoneParams,
) -> Result<Zones> {
    check_len("index", index.len(), grid_cells(width, height)?)?;
    check_stress_inputs(index, previous, plots, n_plots, params)?;
    // Each plot's median and spread, once: for the z-test and for drawing the edges.
    let stats = plot_stats(index, plots, n_plots)?;
    let stressed = stressed_cells(index, previous, plots, &stats, params);
    let opened = open(&stressed, width, height, params.opening_radius)?;
    let (labels, groups) = components(&opened, plots, width, height)?;
    let refined = refine_edges(index, &stats, &labels, &groups, width)?;
    let (labels, groups) = components(&refined, plots, width, height)?;
    let big: Vec<bool> = groups
        .iter()
        .map(|g| g.cells >= params.min_area_cells)
        .collect();
    let kept: Vec<bool> = labels
        .iter()
        .map(|&l| l != 0 && big[l as usize - 1])
        .collect();
    let buffered = dilate_within(&kept, width, height, params.buffer_radius, plots)?;
    let (labels, pieces) = components(&buffered, plots, width, height)?;
    let mut stressed_in = vec![0usize; pieces.len()];
    for (&l, &k) in labels.iter().zip(&kept) {
        if k && l != 0 {
            stressed_in[l as usize - 1] += 1;
        }
    }
    let mut renumber = vec![0u32; pieces.len()];
    let mut zones: Vec<Zone> = Vec::new();
    for (piece, &s) in pieces.iter().zip(&stressed_in) {
        if s > 0 {
            // At most as many zones as pieces, whose ids fit in u32.
            let id = zones.len() as u32 + 1;
            renumber[piece.id as usize - 1] = id;
            zones.push(Zone {
                id,
                plot: piece.plot,
                cells: piece.cells,
                stressed_cells: s,
            });
        }
    }
    let zone = labels
        .iter()
        .map(|&l| if l == 0 { 0 } else { renumber[l as usize - 1] })
        .collect();
    Ok(Zones { zone, zones })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ZoneParams {
        ZoneParams {
            z_threshold: Some(2.5),
            drop_threshold: None,
            combine: Combine::Either,
            opening_radius: 0.0,
            min_area_cells: 1,
            buffer_radius: 0.0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn set_cells(mask: &[bool]) -> Vec<usize> {
        mask.iter()
            .enumerate()
            .filter_map(|(i, &m)| m.then_some(i))
            .collect()
    }

    #[test]
    fn median_and_mad_by_hand() {
        // Plot 1: 1 2 3 4 100 and a NaN → median 3, |dev| 2 1 0 1 97 → MAD 1, mean AD 101/5.
        // Plot 2: 1 2 3 4 → median 2.5, |dev| 1.5 .5 .5 1.5 → MAD 1, mean AD 1.
        // Plot 3: only NaN → None. Cells outside plots (0) are ignored.
        let index = [
            1.0,
            2.0,
            3.0,
            4.0,
            100.0,
            f32::NAN,
            4.0,
            3.0,
            2.0,
            1.0,
            f32::NAN,
            -50.0,
        ];
        let plots = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 0];
        let stats = plot_stats(&index, &plots, 4).unwrap();
        assert_eq!(stats.len(), 4);
        let p1 = stats[0].unwrap();
        assert_eq!((p1.median, p1.mad, p1.count), (3.0, 1.0, 5));
        assert!(close(p1.mean_ad, 101.0 / 5.0));
        assert!(close(p1.z(0.0), -3.0 / 1.4826));
        let p2 = stats[1].unwrap();
        assert_eq!(
            (p2.median, p2.mad, p2.mean_ad, p2.count),
            (2.5, 1.0, 1.0, 4)
        );
        assert_eq!(stats[2], None);
        assert_eq!(stats[3], None);
    }

    #[test]
    fn zero_mad_falls_back_to_mean_absolute_deviation_and_flat_plots_have_z_zero() {
        // 5 5 5 1: sorted 1 5 5 5 → median 5; |dev| 0 0 0 4 → MAD (0 + 0) / 2 = 0, mean AD 1;
        // sigma = 1.253314 · 1, z(1) = -4 / 1.253314.
        let stats = plot_stats(&[5.0, 5.0, 5.0, 1.0, 7.0, 7.0], &[1, 1, 1, 1, 2, 2], 2).unwrap();
        let s = stats[0].unwrap();
        assert_eq!((s.median, s.mad, s.mean_ad), (5.0, 0.0, 1.0));
        assert!(close(s.z(1.0), -4.0 / 1.253314));
        // A flat plot: sigma 0, every z 0, never inf or NaN.
        let flat = stats[1].unwrap();
        assert_eq!(flat.sigma(), 0.0);
        assert_eq!(flat.z(7.0), 0.0);
        assert_eq!(flat.z(-1000.0), 0.0);
    }

    /// One row of 20 cells in plot 1. Values by position: 0.2 at 2, 3, 5, 10; 0.8 at 8; else 0.78
    /// at even and 0.82 at odd positions (7 × 0.78, 8 × 0.82). Sorted: 4 × 0.2, 7 × 0.78, 0.8,
    /// 8 × 0.82 → median (10th + 11th) / 2 = 0.78. |dev|: 7 × 0, 0.02, 8 × 0.04, 4 × 0.58 → MAD
    /// 0.04, sigma 0.0593: z(0.2) ≈ -9.8 (stressed at 2.5), z(0.8) ≈ 0.3, z(0.82) ≈ 0.7.
    /// Previous: same as now except 0.8 at 5 (drop 0.6), 1.4 at 8 (drop 0.6), NaN at 10.
    fn combine_row() -> (Vec<f32>, Vec<f32>, Vec<u32>) {
        let index: Vec<f32> = (0..20)
            .map(|i| match i {
                2 | 3 | 5 | 10 => 0.2,
                8 => 0.8,
                i if i % 2 == 0 => 0.78,
                _ => 0.82,
            })
            .collect();
        let mut previous = index.clone();
        previous[5] = 0.8;
        previous[8] = 1.4;
        previous[10] = f32::NAN;
        (index, previous, vec![1; 20])
    }

    #[test]
    fn z_only_either_and_both() {
        let (index, previous, plots) = combine_row();
        let s = plot_stats(&index, &plots, 1).unwrap()[0].unwrap();
        assert!(close(s.median, f64::from(0.78f32)));
        assert!((s.mad - 0.04).abs() < 1e-6);

        let z_only = stress_mask(&index, Some(&previous), &plots, 1, &params()).unwrap();
        assert_eq!(set_cells(&z_only), [2, 3, 5, 10]);
        let no_previous = stress_mask(&index, None, &plots, 1, &params()).unwrap();
        assert_eq!(no_previous, z_only);

        let with_drop = ZoneParams {
            drop_threshold: Some(0.3),
            ..params()
        };
        let either = stress_mask(&index, Some(&previous), &plots, 1, &with_drop).unwrap();
        assert_eq!(set_cells(&either), [2, 3, 5, 8, 10]);
        // Both: 5 is low and dropped; 10 is low and has no previous value, so z decides alone;
        // 2 and 3 were already low (no drop); 8 dropped but is not low against the plot.
        let both = ZoneParams {
            combine: Combine::Both,
            ..with_drop
        };
        let both_mask = stress_mask(&index, Some(&previous), &plots, 1, &both).unwrap();
        assert_eq!(set_cells(&both_mask), [5, 10]);
        // Both without a previous flight is the z test alone.
        assert_eq!(stress_mask(&index, None, &plots, 1, &both).unwrap(), z_only);
    }

    #[test]
    fn drop_since_previous_only() {
        // z test off. Drops: cell 0: 1.0 → 0.5 = 0.5 (at the threshold: stressed), cell 1: 0.9 →
        // 0.5 = 0.4 (not), cell 2: previous NaN (not), cell 3: outside plots (never), cell 4:
        // 2.0 → 0.5 but index NaN (never), cell 5: rose.
        let index = [0.5, 0.5, 0.5, 0.5, f32::NAN, 0.5];
        let previous = [1.0, 0.9, f32::NAN, 3.0, 2.0, 0.25];
        let plots = [1, 1, 1, 0, 1, 1];
        let p = ZoneParams {
            z_threshold: None,
            drop_threshold: Some(0.5),
            ..params()
        };
        let mask = stress_mask(&index, Some(&previous), &plots, 1, &p).unwrap();
        assert_eq!(mask, [true, false, false, false, false, false]);
        let both = ZoneParams {
            combine: Combine::Both,
            ..p.clone()
        };
        assert_eq!(
            stress_mask(&index, Some(&previous), &plots, 1, &both).unwrap(),
            mask
        );
        // No z test and no previous flight: nothing could ever be stressed, which is a mistake.
        assert!(matches!(
            stress_mask(&index, None, &plots, 1, &p),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn no_data_and_outside_cells_are_never_stressed() {
        // Plot 1: eight cells at 1.0 and two lower: -inf and NaN are no data (not "very low"),
        // with a previous value that would be a huge drop. The plot-0 cell at 0.0 would be a
        // z of -inf against plot 1 but is outside every plot.
        let index = [
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            f32::NEG_INFINITY,
            f32::NAN,
            0.0,
        ];
        let previous = [100.0f32; 11];
        let mut plots = [1u32; 11];
        plots[10] = 0;
        let p = ZoneParams {
            drop_threshold: Some(0.1),
            ..params()
        };
        let mask = stress_mask(&index, Some(&previous), &plots, 1, &p).unwrap();
        // Every valid plot cell dropped by 99: stressed by the drop test; the others never.
        assert_eq!(set_cells(&mask), [0, 1, 2, 3, 4, 5, 6, 7]);
        let s = plot_stats(&index, &plots, 1).unwrap()[0].unwrap();
        assert_eq!(s.count, 8);
    }

    #[test]
    fn bad_lengths_plots_and_parameters_are_usage_errors() {
        let p = params();
        let usage = |r: Result<Vec<bool>>| matches!(r, Err(Error::Usage(_)));
        assert!(usage(stress_mask(&[1.0; 4], None, &[1; 3], 1, &p)));
        assert!(usage(stress_mask(
            &[1.0; 4],
            Some(&[1.0; 5]),
            &[1; 4],
            1,
            &p
        )));
        assert!(usage(stress_mask(&[1.0; 4], None, &[1, 1, 2, 3], 2, &p)));
        assert!(plot_stats(&[1.0; 2], &[1; 3], 1).is_err());
        for bad in [
            ZoneParams {
                z_threshold: Some(f64::NAN),
                ..params()
            },
            ZoneParams {
                z_threshold: Some(-2.5),
                ..params()
            },
            ZoneParams {
                drop_threshold: Some(0.0),
                ..params()
            },
            ZoneParams {
                opening_radius: -1.0,
                ..params()
            },
            ZoneParams {
                buffer_radius: f64::INFINITY,
                ..params()
            },
        ] {
            assert!(usage(stress_mask(
                &[1.0; 4],
                Some(&[1.0; 4]),
                &[1; 4],
                1,
                &bad
            )));
        }
    }

    /// A grid drawn as text: one line per row, `#` set, anything else not set.
    fn draw(rows: &str) -> (Vec<bool>, usize, usize) {
        let lines: Vec<&str> = rows.split_whitespace().collect();
        let width = lines.first().map_or(0, |l| l.len());
        assert!(lines.iter().all(|l| l.len() == width));
        let mask = lines
            .iter()
            .flat_map(|l| l.chars().map(|c| c == '#'))
            .collect();
        (mask, width, lines.len())
    }

    /// Plot numbers drawn as text, one digit per cell.
    fn draw_plots(rows: &str) -> Vec<u32> {
        rows.split_whitespace()
            .flat_map(|l| l.chars().map(|c| c.to_digit(10).unwrap()))
            .collect()
    }

    /// Seeded 64-bit LCG (Knuth's MMIX constants), high bits out.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }

        fn below(&mut self, n: u32) -> u32 {
            self.next() % n
        }
    }

    fn in_disk(dy: isize, dx: isize, radius: f64) -> bool {
        ((dy * dy + dx * dx) as f64) <= radius * radius
    }

    /// Definition-level erosion/dilation: every cell against every other cell.
    fn naive_morph(mask: &[bool], w: usize, h: usize, r: f64, erode: bool) -> Vec<bool> {
        let (wi, hi) = (w as isize, h as isize);
        (0..h * w)
            .map(|c| {
                let (y, x) = ((c / w) as isize, (c % w) as isize);
                let reach = r.floor() as isize + 1;
                let mut hits = (-reach..=reach)
                    .flat_map(|dy| (-reach..=reach).map(move |dx| (dy, dx)))
                    .filter(|&(dy, dx)| in_disk(dy, dx, r))
                    .map(|(dy, dx)| {
                        let (sy, sx) = (y + dy, x + dx);
                        (0..hi).contains(&sy)
                            && (0..wi).contains(&sx)
                            && mask[(sy * wi + sx) as usize]
                    });
                if erode {
                    hits.all(|m| m)
                } else {
                    hits.any(|m| m)
                }
            })
            .collect()
    }

    fn naive_dilate_within(mask: &[bool], w: usize, h: usize, r: f64, plots: &[u32]) -> Vec<bool> {
        (0..h * w)
            .map(|c| {
                plots[c] != 0
                    && (0..h * w).any(|m| {
                        let dy = (m / w) as isize - (c / w) as isize;
                        let dx = (m % w) as isize - (c % w) as isize;
                        mask[m] && plots[m] == plots[c] && in_disk(dy, dx, r)
                    })
            })
            .collect()
    }

    #[test]
    fn disk_rows_by_hand() {
        // r = 1: the plus; r = 1.5 and √2: the 3 × 3 square; r = 2: dx² + 1 <= 4 → |dx| <= 1 on
        // the next row, only dx = 0 two rows away; r = 2.5: 2² + 1² = 5 <= 6.25 but 2² + 2² = 8
        // is not, so (2, 2, 1).
        assert_eq!(disk_half_widths(0.0, 9, 9), [0]);
        assert_eq!(disk_half_widths(0.5, 9, 9), [0]);
        assert_eq!(disk_half_widths(1.0, 9, 9), [1, 0]);
        assert_eq!(disk_half_widths(1.5, 9, 9), [1, 1]);
        assert_eq!(disk_half_widths(2f64.sqrt(), 9, 9), [1, 1]);
        assert_eq!(disk_half_widths(2.0, 9, 9), [2, 1, 0]);
        assert_eq!(disk_half_widths(2.5, 9, 9), [2, 2, 1]);
        // A huge radius is capped to the grid, without overflow.
        assert_eq!(disk_half_widths(1e300, 3, 4), [4, 4, 4, 4]);
    }

    #[test]
    fn opening_removes_a_speck_and_rounds_a_block() {
        let (speck, w, h) = draw(".... .#.. .... ....");
        assert_eq!(open(&speck, w, h, 1.0).unwrap(), vec![false; 16]);
        // Below one cell the disk is the cell itself: nothing changes.
        assert_eq!(open(&speck, w, h, 0.9).unwrap(), speck);
        assert_eq!(open(&speck, w, h, 0.0).unwrap(), speck);

        // A 5 × 5 block opened by the plus (r = 1): eroded to its inner 3 × 3, which the plus
        // grows back to the block without its four corners. The 3 × 3 square (r = 1.5) gives the
        // block back whole.
        let (block, w, h) = draw("....... .#####. .#####. .#####. .#####. .#####. .......");
        let (rounded, ..) = draw("....... ..###.. .#####. .#####. .#####. ..###.. .......");
        assert_eq!(open(&block, w, h, 1.0).unwrap(), rounded);
        assert_eq!(open(&block, w, h, 1.5).unwrap(), block);
        // A bar 3 rows tall survives the 3 × 3 square (its middle row survives the erosion and
        // grows back to the bar, edge columns included) but not r = 2, whose disk is 5 rows tall.
        let (bar, w, h) = draw("....... ####### ####### ####### .......");
        assert_eq!(open(&bar, w, h, 1.5).unwrap(), bar);
        assert_eq!(open(&bar, w, h, 2.0).unwrap(), vec![false; w * h]);
    }

    #[test]
    fn opening_treats_outside_the_grid_as_not_set() {
        // The whole 3 × 3 grid set: only the centre has its plus inside the grid, and it grows
        // back to the plus.
        let (full, w, h) = draw("### ### ###");
        let (plus, ..) = draw(".#. ### .#.");
        assert_eq!(open(&full, w, h, 1.0).unwrap(), plus);
    }

    #[test]
    fn buffer_stays_in_the_plot_of_its_cells() {
        let plots = draw_plots("11220 11220 11111");
        // One set cell in plot 1 at (1, 1), one in plot 2 at (0, 3), one outside plots at (0, 4).
        let (mask, w, h) = draw("...## .#... .....");
        // r = 1 (plus): (1, 1) reaches (0, 1), (1, 0), (2, 1) but not (1, 2), which is plot 2;
        // (0, 3) reaches (0, 2) and (1, 3) but not (1, 2), a diagonal step; nothing reaches or
        // stays at (0, 4), outside plots.
        let (want, ..) = draw(".###. ##.#. .#...");
        let got = dilate_within(&mask, w, h, 1.0, &plots).unwrap();
        assert_eq!(got, want);
        // r = 2.5 adds |dx| <= 2 one row away: from (1, 1) also (2, 3); from (0, 3) nothing more
        // in plot 2.
        let (want, ..) = draw("####. ####. ####.");
        assert_eq!(dilate_within(&mask, w, h, 2.5, &plots).unwrap(), want);
        // r = 0 keeps the set cells that are inside plots.
        let (inside, ..) = draw("...#. .#... .....");
        assert_eq!(dilate_within(&mask, w, h, 0.0, &plots).unwrap(), inside);
    }

    #[test]
    fn morphology_matches_the_definition_on_random_grids() {
        let mut rng = Lcg(0x5eed_0001);
        let radii = [0.0, 0.5, 1.0, 1.2, 1.5, 2.0, 2.3, 3.0, 4.5, 40.0];
        for _ in 0..300 {
            let (w, h) = (1 + rng.below(12) as usize, 1 + rng.below(12) as usize);
            let density = 1 + rng.below(9);
            let mask: Vec<bool> = (0..w * h).map(|_| rng.below(10) < density).collect();
            let plots: Vec<u32> = (0..w * h).map(|_| rng.below(4)).collect();
            let r = radii[rng.below(radii.len() as u32) as usize];
            let want_open = if r < 1.0 {
                mask.clone()
            } else {
                let eroded = naive_morph(&mask, w, h, r, true);
                naive_morph(&eroded, w, h, r, false)
            };
            assert_eq!(
                open(&mask, w, h, r).unwrap(),
                want_open,
                "open {w}×{h} r {r}"
            );
            assert_eq!(
                dilate_within(&mask, w, h, r, &plots).unwrap(),
                naive_dilate_within(&mask, w, h, r, &plots),
                "dilate {w}×{h} r {r}"
            );
        }
    }

    #[test]
    fn morphology_checks_sizes_and_radius() {
        let usage = |r: Result<Vec<bool>>| matches!(r, Err(Error::Usage(_)));
        assert!(usage(open(&[true; 5], 2, 3, 1.0)));
        assert!(usage(open(&[true; 6], 2, 3, -1.0)));
        assert!(usage(open(&[true; 6], 2, 3, f64::NAN)));
        assert!(usage(open(&[], usize::MAX, 2, 1.0)));
        assert!(usage(dilate_within(&[true; 6], 2, 3, 1.0, &[1; 5])));
        assert!(usage(dilate_within(&[true; 5], 2, 3, 1.0, &[1; 6])));
        assert!(usage(dilate_within(
            &[true; 6],
            2,
            3,
            f64::INFINITY,
            &[1; 6]
        )));
        assert_eq!(open(&[], 0, 0, 3.0).unwrap(), Vec::<bool>::new());
        assert_eq!(
            dilate_within(&[], 0, 5, 3.0, &[]).unwrap(),
            Vec::<bool>::new()
        );
    }

    #[test]
    fn components_join_corners_but_never_plots() {
        let (mask, w, h) = draw("#....# .#..#. ...... ..##.#");
        let plots = draw_plots("111222 111222 111222 111220");
        let (labels, found) = components(&mask, &plots, w, h).unwrap();
        // (0, 0)–(1, 1) and (0, 5)–(1, 4) join by their corners; (3, 2) and (3, 3) touch but are
        // in plots 1 and 2; (3, 5) is outside plots and gets no label.
        assert_eq!(labels, draw_plots("100002 010020 000000 003400"));
        let c = |id, plot, cells, min_row, max_row, min_col, max_col| Component {
            id,
            plot,
            cells,
            min_row,
            max_row,
            min_col,
            max_col,
        };
        assert_eq!(
            found,
            [
                c(1, 1, 2, 0, 1, 0, 1),
                c(2, 2, 2, 0, 1, 4, 5),
                c(3, 1, 1, 3, 3, 2, 2),
                c(4, 2, 1, 3, 3, 3, 3),
            ]
        );
        assert!(matches!(
            components(&mask, &plots[1..], w, h),
            Err(Error::Usage(_))
        ));
    }

    /// Index values for the zone tests: `low` cells 0.2, cells outside plots 0.0, the others
    /// 0.78 where row + column is even and 0.82 where it is odd.
    fn field(plots: &[u32], width: usize, low: &[bool]) -> Vec<f32> {
        (0..plots.len())
            .map(|i| match (plots[i], low[i], (i / width + i % width) % 2) {
                (0, ..) => 0.0,
                (_, true, _) => 0.2,
                (_, false, 0) => 0.78,
                _ => 0.82,
            })
            .collect()
    }

    fn zone_params(opening: f64, min_area: usize, buffer: f64) -> ZoneParams {
        ZoneParams {
            opening_radius: opening,
            min_area_cells: min_area,
            buffer_radius: buffer,
            ..params()
        }
    }

    #[test]
    fn a_single_low_cell_is_opened_away() {
        // 25 cells in plot 1, (2, 2) low: sorted 0.2, 12 × 0.78, 12 × 0.82 → median 0.78; |dev|
        // 12 × 0, 12 × 0.04, 0.58 → MAD 0.04: z(0.2) ≈ -9.8, the low cell alone is stressed.
        let (low, w, h) = draw("..... ..... ..#.. ..... .....");
        let plots = vec![1; w * h];
        let index = field(&plots, w, &low);
        let stressed = stress_mask(&index, None, &plots, 1, &params()).unwrap();
        assert_eq!(stressed, low);
        let opened = spray_zones(&index, None, &plots, w, h, 1, &zone_params(1.0, 1, 0.0)).unwrap();
        assert_eq!(opened.zones, []);
        assert_eq!(opened.zone, vec![0; w * h]);
        // Without the opening it is a zone of one cell.
        let kept = spray_zones(&index, None, &plots, w, h, 1, &zone_params(0.0, 1, 0.0)).unwrap();
        let one = Zone {
            id: 1,
            plot: 1,
            cells: 1,
            stressed_cells: 1,
        };
        assert_eq!(kept.zones, [one]);
        assert_eq!(kept.zone, draw_plots("00000 00000 00100 00000 00000"));
    }

    /// Plot 1 is 8 × 8 with a 5 × 5 low block in its south-east corner, plot 2 (2 columns) east
    /// of it, a row outside plots south of both. Plot 1: 25 × 0.2, 19 × 0.78, 20 × 0.82 → median
    /// 0.78; |dev| 19 × 0, 20 × 0.04, 25 × 0.58 → MAD 0.04, z(0.2) ≈ -9.8: the block is stress.
    fn corner_block() -> (Vec<f32>, Vec<u32>, Vec<bool>, usize, usize) {
        let plots = draw_plots(
            "1111111122 1111111122 1111111122 1111111122 1111111122 1111111122 1111111122 \
             1111111122 0000000000",
        );
        let (low, w, h) = draw(
            ".......... .......... .......... ...#####.. ...#####.. ...#####.. ...#####.. \
             ...#####.. ..........",
        );
        (field(&plots, w, &low), plots, low, w, h)
    }

    #[test]
    fn a_block_is_kept_and_buffered_inside_its_plot_only() {
        let (index, plots, low, w, h) = corner_block();
        assert_eq!(
            stress_mask(&index, None, &plots, 2, &params()).unwrap(),
            low
        );
        // The 3 × 3 square opening keeps the block whole (25 cells >= 25); the plus buffer grows
        // it north and west, not east into plot 2 nor south out of the plots.
        let zones = spray_zones(&index, None, &plots, w, h, 2, &zone_params(1.5, 25, 1.0)).unwrap();
        assert_eq!(
            zones.zones,
            [Zone {
                id: 1,
                plot: 1,
                cells: 35,
                stressed_cells: 25
            }]
        );
        assert_eq!(
            zones.zone,
            draw_plots(
                "0000000000 0000000000 0001111100 0011111100 0011111100 0011111100 0011111100 \
                 0011111100 0000000000"
            )
        );
    }

    #[test]
    fn an_edge_cell_with_a_sliver_of_stress_leaves_the_group() {
        // One 8 × 8 plot at 0.80; a 4 × 4 group of 0.55 with two more border cells: one mostly
        // stressed (0.62, nearer the group's 0.55 than the plot's 0.80) and one with a sliver
        // of stress (0.70, nearer healthy). Interior cells stay whatever their value.
        let (w, h) = (8, 8);
        let plots = vec![1u32; w * h];
        let mut index = vec![0.80f32; w * h];
        let mut mask = vec![false; w * h];
        for r in 2..6 {
            for c in 2..6 {
                index[r * w + c] = 0.55;
                mask[r * w + c] = true;
            }
        }
        index[3 * w + 3] = 0.78; // interior: kept
        for (i, v) in [(2 * w + 6, 0.62f32), (4 * w + 6, 0.70)] {
            index[i] = v;
            mask[i] = true;
        }
        let (labels, groups) = components(&mask, &plots, w, h).unwrap();
        assert_eq!(groups.len(), 1);
        let stats = plot_stats(&index, &plots, 1).unwrap();
        let refined = refine_edges(&index, &stats, &labels, &groups, w).unwrap();
        let mut want = mask.clone();
        want[4 * w + 6] = false;
        assert_eq!(refined, want);
        // A group not below its plot (stress from the drop test alone) keeps every cell.
        let flat = vec![0.80f32; w * h];
        assert_eq!(
            refine_edges(
                &flat,
                &plot_stats(&flat, &plots, 1).unwrap(),
                &labels,
                &groups,
                w
            )
            .unwrap(),
            mask
        );
    }

    #[test]
    fn zones_below_the_minimum_area_are_dropped() {
        let (index, plots, _, w, h) = corner_block();
        let none = |p| {
            spray_zones(&index, None, &plots, w, h, 2, &p)
                .unwrap()
                .zones
        };
        assert_eq!(none(zone_params(1.5, 26, 1.0)), []);
        // The plus opening cuts the block's 4 corners: 21 cells, below 25.
        assert_eq!(none(zone_params(1.0, 25, 1.0)), []);
        assert_eq!(none(zone_params(1.0, 21, 0.0)).len(), 1);
    }

    #[test]
    fn touching_blobs_in_neighbouring_plots_stay_separate_zones() {
        // Plots 1 (columns 0–5) and 2 (6–11), each with a 3 × 3 low blob against their common
        // edge. Plot 1: 9 × 0.2, 13 × 0.78, 14 × 0.82; plot 2: 9 × 0.2, 14 × 0.78, 13 × 0.82:
        // median 0.78 and MAD 0.04 in both, so both blobs are stress.
        let plots = draw_plots("111111222222 ".repeat(6).as_str());
        let (low, w, h) =
            draw("............ ...######... ...######... ...######... ............ ............");
        let index = field(&plots, w, &low);
        assert_eq!(
            stress_mask(&index, None, &plots, 2, &params()).unwrap(),
            low
        );
        let zones = spray_zones(&index, None, &plots, w, h, 2, &zone_params(1.5, 9, 1.0)).unwrap();
        let zone = |id, plot| Zone {
            id,
            plot,
            cells: 18,
            stressed_cells: 9,
        };
        assert_eq!(zones.zones, [zone(1, 1), zone(2, 2)]);
        assert_eq!(
            zones.zone,
            draw_plots(
                "000111222000 001111222200 001111222200 001111222200 000111222000 000000000000"
            )
        );
    }

    #[test]
    fn flat_plots_have_no_zones() {
        // MAD 0 and mean absolute deviation 0: every z is 0, even with no-data holes.
        let (holes, w, h) = draw("..... .#... ..... ...#. .....");
        let index: Vec<f32> = holes
            .iter()
            .map(|&hole| if hole { f32::NAN } else { 0.5 })
            .collect();
        let plots = vec![1; w * h];
        let p = ZoneParams {
            z_threshold: Some(0.001),
            ..zone_params(0.0, 0, 2.0)
        };
        let zones = spray_zones(&index, None, &plots, w, h, 1, &p).unwrap();
        assert_eq!(zones.zones, []);
        assert_eq!(zones.zone, vec![0; w * h]);
    }

    #[test]
    fn buffer_pieces_across_another_plot_are_dropped() {
        // Plot 1 in two parts (columns 0–3 and 5–8) split by plot 2 (column 4); a 3 × 3 low block
        // in the west part against the strip. Plot 1: 9 × 0.2, 15 × 0.78, 16 × 0.82 → median
        // 0.78, MAD 0.04. A buffer of 2 reaches (1..=3, 5) in a straight line (dx = 2), but those
        // cells touch the zone only through plot 2: no stress of their own, so no zone.
        let plots = draw_plots("111121111 ".repeat(5).as_str());
        let (low, w, h) = draw("......... .###..... .###..... .###..... .........");
        let index = field(&plots, w, &low);
        assert_eq!(
            stress_mask(&index, None, &plots, 2, &params()).unwrap(),
            low
        );
        let (reached, ..) = draw("####..... ####.#... ####.#... ####.#... ####.....");
        assert_eq!(dilate_within(&low, w, h, 2.0, &plots).unwrap(), reached);
        let zones = spray_zones(&index, None, &plots, w, h, 2, &zone_params(0.0, 9, 2.0)).unwrap();
        assert_eq!(
            zones.zones,
            [Zone {
                id: 1,
                plot: 1,
                cells: 20,
                stressed_cells: 9
            }]
        );
        assert_eq!(zones.zone, draw_plots("111100000 ".repeat(5).as_str()));
    }

    #[test]
    fn spray_zones_checks_every_slice() {
        let p = params();
        let usage = |r: Result<Zones>| matches!(r, Err(Error::Usage(_)));
        assert!(usage(spray_zones(&[0.5; 5], None, &[1; 6], 2, 3, 1, &p)));
        assert!(usage(spray_zones(&[0.5; 6], None, &[1; 5], 2, 3, 1, &p)));
        assert!(usage(spray_zones(
            &[0.5; 6],
            Some(&[0.5; 7]),
            &[1; 6],
            2,
            3,
            1,
            &p
        )));
        assert!(usage(spray_zones(
            &[0.5; 6],
            None,
            &[1, 1, 1, 1, 1, 2],
            2,
            3,
            1,
            &p
        )));
        assert!(usage(spray_zones(&[], None, &[], usize::MAX, 3, 1, &p)));
        assert!(spray_zones(&[0.5; 6], None, &[1; 6], 2, 3, 1, &p).is_ok());
    }

    #[test]
    fn zone_invariants_on_random_grids() {
        let mut rng = Lcg(0x5eed_0002);
        let radii = [0.0, 1.0, 1.5, 2.0, 3.2];
        let mut zones_seen = 0;
        for _ in 0..150 {
            let (w, h) = (1 + rng.below(40) as usize, 1 + rng.below(40) as usize);
            // Plots: random rectangles of cells, each given one of 5 plot numbers or 0, so a plot
            // can be in several parts.
            let (bw, bh) = (1 + rng.below(12) as usize, 1 + rng.below(12) as usize);
            let blocks = w.div_ceil(bw) * h.div_ceil(bh);
            let owner: Vec<u32> = (0..blocks).map(|_| rng.below(6)).collect();
            let plots: Vec<u32> = (0..w * h)
                .map(|i| owner[(i / w / bh) * w.div_ceil(bw) + (i % w) / bw])
                .collect();
            // Index: 0.6–1.0, with low rectangles and some no data.
            let mut index: Vec<f32> = (0..w * h)
                .map(|_| 0.6 + rng.below(400) as f32 / 1000.0)
                .collect();
            for _ in 0..rng.below(4) {
                let (x0, y0) = (rng.below(w as u32) as usize, rng.below(h as u32) as usize);
                let (x1, y1) = (
                    (x0 + rng.below(8) as usize).min(w),
                    (y0 + rng.below(8) as usize).min(h),
                );
                for y in y0..y1 {
                    for x in x0..x1 {
                        index[y * w + x] = 0.1 + rng.below(100) as f32 / 1000.0;
                    }
                }
            }
            for v in index.iter_mut() {
                if rng.below(20) == 0 {
                    *v = f32::NAN;
                }
            }
            let previous: Option<Vec<f32>> = (rng.below(2) == 0).then(|| {
                index
                    .iter()
                    .map(|v| if rng.below(10) == 0 { 1.5 } else { v + 0.01 })
                    .collect()
            });
            let p = ZoneParams {
                z_threshold: (previous.is_none() || rng.below(3) != 0)
                    .then(|| 1.0 + rng.below(30) as f64 / 10.0),
                drop_threshold: (rng.below(2) == 0).then_some(0.3),
                combine: if rng.below(2) == 0 {
                    Combine::Either
                } else {
                    Combine::Both
                },
                opening_radius: radii[rng.below(radii.len() as u32) as usize],
                min_area_cells: rng.below(20) as usize,
                buffer_radius: radii[rng.below(radii.len() as u32) as usize],
            };
            let previous = previous.as_deref();
            let z = match spray_zones(&index, previous, &plots, w, h, 5, &p) {
                Ok(z) => z,
                // Only when no test can run: z off and no drop test.
                Err(_) => {
                    assert!(p.z_threshold.is_none() && p.drop_threshold.is_none());
                    continue;
                }
            };
            let stressed = stress_mask(&index, previous, &plots, 5, &p).unwrap();
            assert_eq!(z.zone.len(), w * h);
            let mut first = vec![usize::MAX; z.zones.len()];
            let mut cells = vec![0usize; z.zones.len()];
            for (c, &id) in z.zone.iter().enumerate() {
                if id == 0 {
                    continue;
                }
                let zi = id as usize - 1;
                assert!(zi < z.zones.len());
                assert_ne!(plots[c], 0, "zone cell outside plots");
                assert_eq!(plots[c], z.zones[zi].plot, "zone cell outside its plot");
                first[zi] = first[zi].min(c);
                cells[zi] += 1;
                // Within the buffer radius of a stressed cell of the same plot.
                let near = (0..w * h).any(|s| {
                    let dy = (s / w) as isize - (c / w) as isize;
                    let dx = (s % w) as isize - (c % w) as isize;
                    stressed[s] && plots[s] == plots[c] && in_disk(dy, dx, p.buffer_radius)
                });
                assert!(near, "zone cell {c} far from stress");
            }
            for (i, zone) in z.zones.iter().enumerate() {
                assert_eq!(zone.id as usize, i + 1);
                assert_eq!(zone.cells, cells[i]);
                assert!(zone.stressed_cells >= p.min_area_cells.max(1));
                assert!(zone.stressed_cells <= zone.cells);
                assert!(i == 0 || first[i - 1] < first[i], "zones out of order");
            }
            let in_zones: usize = z.zones.iter().map(|z| z.stressed_cells).sum();
            assert!(in_zones <= stressed.iter().filter(|&&s| s).count());
            zones_seen += z.zones.len();
        }
        // The grids are meant to produce zones; an invariant over no zones proves nothing.
        assert!(zones_seen > 50, "only {zones_seen} zones");
    }
}
