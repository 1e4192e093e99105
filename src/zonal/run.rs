//! `paddy stats`: plots in, one pass over each pixel grid, one row of statistics per plot out.
//!
//! Rasters on the same grid are read together, window by window on rayon workers; the plots a
//! window touches come from an R-tree of their pixel bounding boxes; each plot's coverage is
//! computed once per window and used for every band of every raster on that grid. A plot's
//! partial statistics from different windows are merged as windows finish, and a plot is
//! finalised (quantiles sorted, values freed) as soon as its last window is in, so memory follows
//! the plots in flight, not the whole raster.

use std::collections::HashMap;
use std::path::PathBuf;

use rstar::{RTree, RTreeObject, AABB};

use super::coverage::{CoverageMode, PixelPolygon};
use super::stats::{Accumulator, Stats};
use crate::error::{Error, Result};
use crate::io::{RasterInfo, Readers};
use crate::plots::{map_rings, Geom, Kind, Parts, Plots, Value};
use crate::raster::{engine, plan_windows, Window, TARGET_WINDOW_PIXELS};

/// What to compute (the plots and rasters are [`run`]'s arguments).
#[derive(Debug, Clone)]
pub struct StatsRequest {
    pub coverage: CoverageMode,
    /// Treat plots and rasters as being in the same CRS whatever their files say.
    pub assume_same_crs: bool,
    /// Keep pixel values for median, p10 and p90.
    pub quantiles: bool,
    /// A band of each raster that masks its other bands (non-zero = no data, e.g. a cloud
    /// mask); it gets no columns of its own.
    pub mask_band: Option<usize>,
    pub threads: Option<usize>,
}

/// One band of one raster: a group of output columns.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column-name prefix: the file stem, with `_b<N>` for bands of multi-band files.
    pub prefix: String,
    pub path: PathBuf,
    pub band: usize,
    pub nodata: Option<f64>,
    /// The band's GDAL scale and offset: statistics are of `value × scale + offset`, the
    /// physical value (as exactextract and QGIS report them); nodata is compared before.
    pub scale_offset: Option<(f64, f64)>,
    /// A mask band of the same file: pixels where it is non-zero count as nodata.
    pub mask: Option<usize>,
    /// The pixel grid it was read on: 0 for the first raster's, 1 for the next other one, …
    /// (the index into [`PlotRow::pixels`]).
    pub grid: usize,
    /// Ground area of one pixel, m² ([`run`] measures it from the plots: their geodesic area
    /// over their area in pixels); NaN when unknown (no CRS, or before a run).
    pub pixel_m2: f64,
}

/// One plot's output row.
#[derive(Debug, Clone)]
pub struct PlotRow {
    pub id: String,
    pub attributes: Vec<Value>,
    /// `ok`, or what is special about the plot, over every raster: `repaired`, `skipped: why`,
    /// `outside raster`, `partly outside raster`, `no valid pixels`, the last three naming the
    /// column groups they concern when they do not hold for every raster (`outside raster
    /// s2_20260816_ndvi`, `no valid pixels in s2_20260816_ndvi`).
    pub status: String,
    /// Geodesic area of the plot on the WGS84 ellipsoid (m²); NaN without geometry or CRS.
    pub area_m2: f64,
    /// Cells with coverage > 0, per pixel grid ([`Column::grid`]).
    pub pixels: Vec<u64>,
    /// Per column, in the order of [`StatsTable::columns`].
    pub stats: Vec<Stats>,
    /// Wholly outside every raster's extent: no raster sees it.
    pub outside: bool,
}

/// Everything `paddy stats` produces.
#[derive(Debug, Clone)]
pub struct StatsTable {
    pub id_column: String,
    pub fields: Vec<(String, Kind)>,
    pub columns: Vec<Column>,
    pub rows: Vec<PlotRow>,
    /// Each plot's geometry in WGS84 lon/lat, for GeoJSON.
    pub lonlat: Vec<Option<Parts>>,
    pub warnings: Vec<String>,
    pub coverage: CoverageMode,
}

impl StatsTable {
    /// The number of pixel grids the columns were read on (1 for rasters on one grid).
    pub fn grids(&self) -> usize {
        self.columns.iter().map(|c| c.grid + 1).max().unwrap_or(1)
    }

    /// The rows for which `keep` holds, with their geometry, in order.
    pub fn filter(&self, keep: impl Fn(&PlotRow) -> bool) -> StatsTable {
        let mask: Vec<bool> = self.rows.iter().map(keep).collect();
        fn kept<T: Clone>(items: &[T], mask: &[bool]) -> Vec<T> {
            items
                .iter()
                .zip(mask)
                .filter(|(_, &m)| m)
                .map(|(item, _)| item.clone())
                .collect()
        }
        StatsTable {
            id_column: self.id_column.clone(),
            fields: self.fields.clone(),
            columns: self.columns.clone(),
            rows: kept(&self.rows, &mask),
            // Geometry per row, when the table has it.
            lonlat: if self.lonlat.len() == mask.len() {
                kept(&self.lonlat, &mask)
            } else {
                self.lonlat.clone()
            },
            warnings: self.warnings.clone(),
            coverage: self.coverage,
        }
    }
}

/// The output columns of the rasters, refusing two with the same prefix.
pub fn columns(infos: &[RasterInfo], mask_band: Option<usize>) -> Result<Vec<Column>> {
    let mut out: Vec<Column> = Vec::new();
    for info in infos {
        if let Some(mask) = mask_band {
            info.check_band(mask)?;
            if info.band_count < 2 {
                return Err(Error::usage(format!(
                    "{}: mask band {mask} leaves no band to summarise (the file has 1 band)",
                    info.path.display()
                )));
            }
        }
        let stem = info.path.file_stem().map_or_else(
            || crate::io::file_name(&info.path),
            |s| s.to_string_lossy().into_owned(),
        );
        let bands: Vec<usize> = (1..=info.band_count)
            .filter(|&b| Some(b) != mask_band)
            .collect();
        for &band in &bands {
            let prefix = if bands.len() == 1 {
                stem.clone()
            } else {
                format!("{stem}_b{band}")
            };
            if let Some(other) = out.iter().find(|c| c.prefix == prefix) {
                return Err(Error::usage(format!(
                    "{} and {} would both give columns named '{prefix}_…': rename one of the files",
                    other.path.display(),
                    info.path.display()
                )));
            }
            out.push(Column {
                prefix,
                path: info.path.clone(),
                band,
                nodata: info.band_nodata[band - 1],
                scale_offset: info.band_scale_offset[band - 1],
                mask: mask_band,
                grid: 0,
                pixel_m2: f64::NAN,
            });
        }
    }
    Ok(out)
}

/// Pixel coordinates of georeferenced parts: the inverse of GDAL's affine geotransform.
pub fn to_pixel(gt: &[f64; 6], parts: &Parts) -> Parts {
    let det = gt[1] * gt[5] - gt[2] * gt[4];
    let pixel = |&(x, y): &(f64, f64)| {
        let (dx, dy) = (x - gt[0], y - gt[3]);
        (
            (gt[5] * dx - gt[2] * dy) / det,
            (gt[1] * dy - gt[4] * dx) / det,
        )
    };
    match map_rings(parts, |ring| {
        Ok::<_, std::convert::Infallible>(ring.iter().map(pixel).collect())
    }) {
        Ok(pixels) => pixels,
        Err(never) => match never {},
    }
}

/// A plot's cell rectangle in the R-tree.
struct Entry {
    plot: usize,
    cells: Window,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[i64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        let c = self.cells;
        AABB::from_corners(
            [c.x as i64, c.y as i64],
            [(c.x + c.width) as i64 - 1, (c.y + c.height) as i64 - 1],
        )
    }
}

fn intersect(a: Window, b: Window) -> Option<Window> {
    let (x0, y0) = (a.x.max(b.x), a.y.max(b.y));
    let (x1, y1) = (
        (a.x + a.width).min(b.x + b.width),
        (a.y + a.height).min(b.y + b.height),
    );
    (x1 > x0 && y1 > y0).then_some(Window {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

/// A window's (row, column) origin: orders windows for merging.
type WindowKey = (usize, usize);

/// One plot's statistics from one window.
struct Part {
    pixels: u64,
    accs: Vec<Accumulator>,
}

/// What a worker hands the sink for one plot: finished statistics when the window held the
/// whole plot (so quantile sorting runs on the workers), else a part to merge.
enum Outcome {
    Done(u64, Vec<Stats>),
    Part(Part),
}

/// A worker's GDAL handles and reusable buffers.
struct Worker {
    readers: Readers,
    values: Vec<Vec<f64>>,
    valid: Vec<Vec<bool>>,
    coverage: Vec<f64>,
}

/// Statistics of every plot of `plots` over every band of `infos` (rasters described by
/// [`RasterInfo::read`]; each worker opens its own handles). `progress(done, total)` is called
/// after each window.
pub fn run(
    plots: &Plots,
    infos: &[RasterInfo],
    req: &StatsRequest,
    progress: &dyn Fn(usize, usize),
) -> Result<StatsTable> {
    if infos.is_empty() {
        return Err(Error::usage("give at least one raster"));
    }
    // Windows are whole blocks, each decoded once: a large block cache would only hold blocks
    // that are never read again (measured: 256 → 64 MiB saves ~190 MiB, costs no time).
    crate::io::prefer_block_cache_mib(64);
    let mut columns = columns(infos, req.mask_band)?;
    let mut warnings = plots.warnings.clone();

    // Rasters on one grid share a pass.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, info) in infos.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| infos[g[0]].check_same_grid(info).is_ok())
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    for g in &groups {
        check_crs(&infos[g[0]], plots, req.assume_same_crs)?;
    }

    let n = plots.plots.len();
    let (lonlat, areas) = if req.assume_same_crs || plots.crs_wkt.is_none() {
        (vec![None; n], vec![f64::NAN; n])
    } else {
        let made = crate::io::vector::wgs84_once(plots, req.threads)?;
        (made.parts.clone(), made.areas.clone())
    };
    let mut stats: Vec<Vec<Stats>> = vec![Vec::new(); n];
    let empty = Accumulator::new(false).finish();
    for row in stats.iter_mut() {
        row.resize(columns.len(), empty);
    }
    let total_windows = std::cell::Cell::new(0usize);
    let done = std::cell::Cell::new(0usize);
    let mut passes = Vec::new();
    for group in &groups {
        let pass = Pass::plan(req, plots, infos, &columns, group)?;
        total_windows.set(total_windows.get() + pass.windows.len());
        for &c in &pass.column_index {
            columns[c].grid = passes.len();
        }
        let pixel_m2 = pass.pixel_m2(&areas);
        for &c in &pass.column_index {
            if let Some(column) = columns.get_mut(c) {
                column.pixel_m2 = pixel_m2;
            }
        }
        passes.push(pass);
    }
    let mut pixels = vec![vec![0u64; n]; passes.len()];
    for (pass, pixels) in passes.iter().zip(pixels.iter_mut()) {
        let tick = || {
            done.set(done.get() + 1);
            progress(done.get(), total_windows.get());
        };
        pass.run(req, &mut stats, pixels, &tick)?;
    }

    let rows: Vec<PlotRow> = plots
        .plots
        .iter()
        .enumerate()
        .map(|(i, plot)| {
            let placement: Vec<Placement> = columns
                .iter()
                .map(|c| passes[c.grid].placement[i])
                .collect();
            let stats = std::mem::take(&mut stats[i]);
            PlotRow {
                id: plot.id.clone(),
                attributes: plot.attributes.clone(),
                status: plot_status(&plot.geom, &columns, &placement, &stats),
                area_m2: areas[i],
                pixels: pixels.iter().map(|p| p[i]).collect(),
                stats,
                outside: plot.parts().is_some()
                    && placement.iter().all(|p| *p == Placement::Outside),
            }
        })
        .collect();
    let outside = rows.iter().filter(|r| r.outside).count();
    if outside > 0 {
        let which = if infos.len() == 1 {
            "the raster"
        } else {
            "every raster"
        };
        warnings.push(format!(
            "{outside} plot{} wholly outside {which} (count 0, status 'outside raster')",
            if outside == 1 { " is" } else { "s are" }
        ));
    }
    Ok(StatsTable {
        id_column: plots.id_column.clone(),
        fields: plots.fields.clone(),
        columns,
        rows,
        lonlat,
        warnings,
        coverage: req.coverage,
    })
}

/// Refuse to mix a raster and plots when only one of them says where it is, unless asked to
/// take them as being in the same CRS (`assume_same`). [`run`] checks this itself; a caller
/// may check first to name the setting that allows it as its user knows it.
pub fn check_crs(info: &RasterInfo, plots: &Plots, assume_same: bool) -> Result<()> {
    if assume_same {
        return Ok(());
    }
    let raster = info.grid.crs_wkt.is_some() && info.grid.geo_transform.is_some();
    match (raster, plots.crs_wkt.is_some()) {
        (false, true) => Err(Error::usage(format!(
            "{} has no CRS or georeferencing but the plots ({}) are in {}: the plot coordinates are taken as the raster's own coordinates only when asked to assume the same CRS",
            info.path.display(),
            plots.path.display(),
            plots.crs_wkt.as_deref().map_or("a CRS".into(), crate::io::crs_name)
        ))),
        (true, false) => Err(Error::usage(format!(
            "the plots ({}) have no CRS but {} is in {}: they are taken as being in that CRS only when asked to assume the same CRS",
            plots.path.display(),
            info.path.display(),
            info.grid.crs_wkt.as_deref().map_or("a CRS".into(), crate::io::crs_name)
        ))),
        _ => Ok(()),
    }
}

/// A plot's status over every raster: `skipped: why` or `repaired` for its geometry, then,
/// where the plot has one, each of these that holds, in this order:
///
/// - `outside raster` (the plot lies outside every raster; nothing else is said), or
///   `outside raster <groups>` naming the column groups (`<prefix>` of `<prefix>_mean`) of
///   the rasters it lies outside when others see it;
/// - `partly outside raster`, or `partly outside raster <groups>` when not every raster cuts
///   it;
/// - `no valid pixels` (inside, but every pixel it covers is nodata or masked, in every
///   group), or `no valid pixels in <groups>` for the groups where that holds;
///
/// joined by "; ", or `ok` when none holds. `placement` and `stats` are per column.
fn plot_status(
    geom: &Geom,
    columns: &[Column],
    placement: &[Placement],
    stats: &[Stats],
) -> String {
    let mut status: Vec<String> = Vec::new();
    match geom {
        Geom::Skipped(why) => status.push(format!("skipped: {why}")),
        Geom::Repaired(..) => status.push("repaired".into()),
        Geom::Ok(_) => {}
    }
    if !matches!(geom, Geom::Skipped(_)) && !columns.is_empty() {
        let of = |holds: &dyn Fn(usize) -> bool| -> Vec<&str> {
            (0..columns.len())
                .filter(|&k| holds(k))
                .map(|k| columns[k].prefix.as_str())
                .collect()
        };
        let part = |groups: Vec<&str>, every: &str, some: &str| {
            if groups.len() == columns.len() {
                Some(every.to_string())
            } else if groups.is_empty() {
                None
            } else {
                Some(format!("{some} {}", groups.join(", ")))
            }
        };
        let outside = of(&|k| placement[k] == Placement::Outside);
        if outside.len() == columns.len() {
            status.push("outside raster".into());
        } else {
            status.extend(part(outside, "outside raster", "outside raster"));
            status.extend(part(
                of(&|k| placement[k] == Placement::Partly),
                "partly outside raster",
                "partly outside raster",
            ));
            let empty = |k: usize| {
                placement[k] != Placement::Outside && !stats.get(k).is_some_and(|s| s.count > 0.0)
            };
            status.extend(part(of(&empty), "no valid pixels", "no valid pixels in"));
        }
    }
    if status.is_empty() {
        "ok".into()
    } else {
        status.join("; ")
    }
}

/// Where a plot lies on a raster's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Inside,
    Partly,
    Outside,
}

/// One pass over one pixel grid.
struct Pass {
    /// Indices into the run's columns read in this pass.
    columns: Vec<Column>,
    column_index: Vec<usize>,
    paths: Vec<PathBuf>,
    polygons: Vec<Option<PixelPolygon>>,
    /// Each plot's cells inside the raster.
    cells: Vec<Option<Window>>,
    placement: Vec<Placement>,
    windows: Vec<Window>,
    /// Plots touching each window, by window origin.
    plots_in: HashMap<(usize, usize), Vec<usize>>,
    /// How many windows each plot touches.
    window_count: Vec<usize>,
}

impl Pass {
    fn plan(
        req: &StatsRequest,
        plots: &Plots,
        infos: &[RasterInfo],
        all_columns: &[Column],
        group: &[usize],
    ) -> Result<Pass> {
        let info = &infos[group[0]];
        let grid = &info.grid;
        let gt = grid.geo_transform.unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let target = if req.assume_same_crs {
            None
        } else {
            grid.crs_wkt.as_deref()
        };
        let pixel = gt[1].hypot(gt[4]).min(gt[2].hypot(gt[5]));
        let parts = crate::io::vector::to_crs(plots, target, pixel, req.threads)?;
        let polygons: Vec<Option<PixelPolygon>> = parts
            .iter()
            .map(|p| {
                p.as_ref()
                    .and_then(|p| PixelPolygon::new(&to_pixel(&gt, p)))
            })
            .collect();
        let cells: Vec<Option<Window>> = polygons
            .iter()
            .map(|p| p.as_ref()?.cells(grid.width, grid.height))
            .collect();
        let placement = polygons
            .iter()
            .zip(&cells)
            .map(|(poly, cells)| match (poly, cells) {
                (Some(poly), Some(cells)) => {
                    let [x0, y0, x1, y1] = poly.bbox();
                    let (w, h) = (grid.width as f64, grid.height as f64);
                    if x0 >= 0.0 && y0 >= 0.0 && x1 <= w && y1 <= h {
                        return Placement::Inside;
                    }
                    let mut cov = Vec::new();
                    poly.coverage(*cells, CoverageMode::Exact, &mut cov);
                    let inside: f64 = cov.iter().sum();
                    if inside <= 0.0 {
                        Placement::Outside
                    } else if inside < poly.area() * (1.0 - 1e-9) {
                        Placement::Partly
                    } else {
                        Placement::Inside
                    }
                }
                _ => Placement::Outside,
            })
            .collect();
        let windows = plan_windows(
            grid.width,
            grid.height,
            info.block_size,
            TARGET_WINDOW_PIXELS,
        );
        let tree = RTree::bulk_load(
            cells
                .iter()
                .enumerate()
                .filter_map(|(plot, c)| c.map(|cells| Entry { plot, cells }))
                .collect(),
        );
        let mut plots_in = HashMap::new();
        let mut window_count = vec![0usize; polygons.len()];
        for w in &windows {
            let envelope = AABB::from_corners(
                [w.x as i64, w.y as i64],
                [(w.x + w.width) as i64 - 1, (w.y + w.height) as i64 - 1],
            );
            let mut list: Vec<usize> = tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|e| e.plot)
                .collect();
            if list.is_empty() {
                continue;
            }
            list.sort_unstable();
            for &p in &list {
                window_count[p] += 1;
            }
            plots_in.insert((w.x, w.y), list);
        }
        let paths: Vec<PathBuf> = group.iter().map(|&i| infos[i].path.clone()).collect();
        let column_index: Vec<usize> = all_columns
            .iter()
            .enumerate()
            .filter(|(_, c)| paths.contains(&c.path))
            .map(|(i, _)| i)
            .collect();
        Ok(Pass {
            columns: column_index
                .iter()
                .map(|&i| all_columns[i].clone())
                .collect(),
            column_index,
            paths,
            polygons,
            cells,
            placement,
            windows,
            plots_in,
            window_count,
        })
    }

    /// Ground area of one of this grid's pixels, m²: the plots' geodesic `areas` over their
    /// areas in pixels (whole plots, inside the raster or not); NaN when no plot has both.
    fn pixel_m2(&self, areas: &[f64]) -> f64 {
        let (mut ground, mut pixels) = (0.0, 0.0);
        for (poly, &area) in self.polygons.iter().zip(areas) {
            if let Some(poly) = poly {
                let px = poly.area();
                if area.is_finite() && area > 0.0 && px.is_finite() && px > 0.0 {
                    ground += area;
                    pixels += px;
                }
            }
        }
        if pixels > 0.0 {
            ground / pixels
        } else {
            f64::NAN
        }
    }

    fn run(
        &self,
        req: &StatsRequest,
        stats: &mut [Vec<Stats>],
        pixels: &mut [u64],
        tick: &dyn Fn(),
    ) -> Result<()> {
        let ncol = self.columns.len();
        // Parts of plots still waiting for windows, keyed by plot, each tagged with its window.
        let mut open: HashMap<usize, Vec<(WindowKey, Part)>> = HashMap::new();
        engine::stream(
            &self.windows,
            req.threads,
            || {
                Ok(Worker {
                    readers: Readers::open(&self.paths)?,
                    values: vec![Vec::new(); ncol],
                    valid: vec![Vec::new(); ncol],
                    coverage: Vec::new(),
                })
            },
            |worker, window| self.compute(worker, window, req),
            |window, outcomes| {
                for (plot, outcome) in outcomes {
                    let part = match outcome {
                        Outcome::Done(n, done) => {
                            pixels[plot] = n;
                            for (k, st) in done.into_iter().enumerate() {
                                stats[plot][self.column_index[k]] = st;
                            }
                            continue;
                        }
                        Outcome::Part(part) => part,
                    };
                    let parts = open.entry(plot).or_default();
                    parts.push(((window.y, window.x), part));
                    if parts.len() < self.window_count[plot] {
                        continue;
                    }
                    // Merge in window order, not arrival order, so that the sums (and the
                    // output bytes) do not depend on thread timing.
                    let mut parts = open.remove(&plot).unwrap_or_default();
                    parts.sort_unstable_by_key(|p| p.0);
                    let mut parts = parts.into_iter().map(|p| p.1);
                    let Some(mut merged) = parts.next() else {
                        continue;
                    };
                    for part in parts {
                        merged.pixels += part.pixels;
                        for (m, a) in merged.accs.iter_mut().zip(part.accs) {
                            m.merge(a);
                        }
                    }
                    pixels[plot] = merged.pixels;
                    for (k, acc) in merged.accs.into_iter().enumerate() {
                        stats[plot][self.column_index[k]] = acc.finish();
                    }
                }
                tick();
                Ok(())
            },
        )
    }

    /// Statistics of every plot touching `window`.
    fn compute(
        &self,
        worker: &mut Worker,
        window: Window,
        req: &StatsRequest,
    ) -> Result<Vec<(usize, Outcome)>> {
        let Some(list) = self.plots_in.get(&(window.x, window.y)) else {
            return Ok(Vec::new());
        };
        let n = window.len();
        for (k, column) in self.columns.iter().enumerate() {
            worker.values[k].resize(n, 0.0);
            worker.valid[k].resize(n, false);
            worker.readers.read_physical(
                &column.path,
                column.band,
                column.nodata,
                column.mask,
                column.scale_offset,
                window,
                &mut worker.values[k],
                &mut worker.valid[k],
            )?;
        }
        let mut out = Vec::with_capacity(list.len());
        for &plot in list {
            let (Some(poly), Some(cells)) = (&self.polygons[plot], self.cells[plot]) else {
                continue;
            };
            let Some(rect) = intersect(cells, window) else {
                continue;
            };
            poly.coverage(rect, req.coverage, &mut worker.coverage);
            let mut part = Part {
                pixels: 0,
                accs: (0..self.columns.len())
                    .map(|_| Accumulator::new(req.quantiles))
                    .collect(),
            };
            for r in 0..rect.height {
                let start = (rect.y - window.y + r) * window.width + (rect.x - window.x);
                let cov = &worker.coverage[r * rect.width..(r + 1) * rect.width];
                for (k, &c) in cov.iter().enumerate() {
                    if c <= 0.0 {
                        continue;
                    }
                    part.pixels += 1;
                    for (b, acc) in part.accs.iter_mut().enumerate() {
                        if worker.valid[b][start + k] {
                            acc.add(worker.values[b][start + k], c);
                        } else {
                            acc.add_nodata(c);
                        }
                    }
                }
            }
            out.push((
                plot,
                if self.window_count[plot] == 1 {
                    Outcome::Done(
                        part.pixels,
                        part.accs.into_iter().map(Accumulator::finish).collect(),
                    )
                } else {
                    Outcome::Part(part)
                },
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(prefix: &str) -> Column {
        Column {
            prefix: prefix.into(),
            path: PathBuf::from(format!("{prefix}.tif")),
            band: 1,
            nodata: None,
            scale_offset: None,
            mask: None,
            grid: 0,
            pixel_m2: f64::NAN,
        }
    }

    #[test]
    fn a_status_names_the_rasters_it_concerns_unless_it_holds_for_all() {
        use Placement::{Inside, Outside, Partly};
        let columns = [column("a"), column("b"), column("c")];
        let seen = Stats::counted(5.0, 0.5, 0.0);
        let empty = Stats::counted(0.0, f64::NAN, 1.0);
        let ok = Geom::Ok(Vec::new());
        let status = |geom: &Geom, placement: [Placement; 3], stats: [Stats; 3]| {
            plot_status(geom, &columns, &placement, &stats)
        };
        assert_eq!(status(&ok, [Inside; 3], [seen; 3]), "ok");
        assert_eq!(status(&ok, [Outside; 3], [empty; 3]), "outside raster");
        assert_eq!(
            status(&ok, [Partly; 3], [seen, empty, empty]),
            "partly outside raster; no valid pixels in b, c"
        );
        assert_eq!(status(&ok, [Inside; 3], [empty; 3]), "no valid pixels");
        // Outside two of three: named; the third's pixels are all nodata, which is said
        // without counting the two it lies outside.
        assert_eq!(
            status(&ok, [Outside, Partly, Outside], [empty; 3]),
            "outside raster a, c; partly outside raster b; no valid pixels in b"
        );
        let repaired = Geom::Repaired(Vec::new(), "closed".into());
        assert_eq!(
            status(&repaired, [Inside, Inside, Outside], [seen, seen, empty]),
            "repaired; outside raster c"
        );
        let skipped = Geom::Skipped("not a polygon".into());
        assert_eq!(
            status(&skipped, [Outside; 3], [empty; 3]),
            "skipped: not a polygon"
        );
    }
}
