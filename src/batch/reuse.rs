//! The stage's per-plot statistics from the tables the run's statistics units wrote, instead
//! of reading every index raster again: each table parsed once, its rows checked against the
//! plots, the plots' rows from one exact-coverage pass over the first raster.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::phenology::dates::Date;
use crate::zonal::{self, CoverageMode, StatsRequest};

use super::plan::Work;
use super::work::{index_rasters, plot_set, Ctx};

/// The rows of `table` whose plot is in `keep`.
pub(super) fn only(table: &zonal::StatsTable, keep: &HashSet<&str>) -> zonal::StatsTable {
    table.filter(|r| keep.contains(r.id.as_str()))
}

/// The per-plot statistics of the stage's rasters as the statistics units of this run folder
/// wrote them (their CSV tables: count, mean and nodata fraction of every raster, at full
/// precision), so that the stage reads no index raster again but one: the plots' table itself
/// (attributes, geometry, warnings) comes from a pass over the first raster. `None` (and the
/// stage computes everything) when a raster's statistics unit did not complete, its table
/// lacks the raster, or its plots are not the same plots in the same order.
pub(super) fn reused_statistics(
    ctx: &Ctx,
    plots: usize,
    vi: &[PathBuf],
    lswi: &[PathBuf],
    dates: &[(PathBuf, Date)],
    threads: Option<usize>,
) -> Option<zonal::StatsTable> {
    // Each raster's statistics table: the CSV of the stats unit over its index unit.
    let mut csv_of: HashMap<PathBuf, PathBuf> = HashMap::new();
    for (unit, done) in ctx.plan.units.iter().zip(ctx.done) {
        let (Work::Stats { index, plots: p }, Some(done)) = (&unit.work, done) else {
            continue;
        };
        let Some(csv) = done.outputs.iter().find(|o| o.path.ends_with(".csv")) else {
            continue;
        };
        if *p == plots {
            for raster in index_rasters(ctx, *index).into_values() {
                csv_of.insert(raster, ctx.dir.join(&csv.path));
            }
        }
    }
    // The columns in the stage's order: the index rasters, then LSWI's, each by date.
    let by_date = |list: &[PathBuf]| -> Option<Vec<PathBuf>> {
        let mut dated: Vec<(PathBuf, Date)> = list
            .iter()
            .map(|p| {
                dates
                    .iter()
                    .find(|(q, _)| q == p)
                    .map(|(_, d)| (p.clone(), *d))
            })
            .collect::<Option<_>>()?;
        dated.sort_by_key(|d| d.1);
        Some(dated.into_iter().map(|d| d.0).collect())
    };
    let mut rasters = by_date(vi)?;
    rasters.extend(by_date(lswi)?);
    let first = rasters.first()?;
    let plot_set = plot_set(ctx, plots).ok()?;
    let info = crate::io::RasterInfo::read(first).ok()?;
    let request = StatsRequest {
        coverage: CoverageMode::Exact,
        assume_same_crs: false,
        quantiles: false,
        mask_band: None,
        threads,
    };
    let mut table = zonal::run(&plot_set, &[info], &request, &|_, _| {}).ok()?;
    let template = table.columns.first()?.clone();
    let mut columns = Vec::with_capacity(rasters.len());
    let mut stats: Vec<Vec<zonal::Stats>> = (0..table.rows.len())
        .map(|_| Vec::with_capacity(rasters.len()))
        .collect();
    // Each table read once for all its rasters (a tile's table holds the stage's index and
    // LSWI): the parse is most of this, and it runs for the stage and for the prescription.
    let stem_of = |raster: &PathBuf| Some(raster.file_stem()?.to_string_lossy().into_owned());
    let mut stems_of: HashMap<&PathBuf, Vec<String>> = HashMap::new();
    for raster in &rasters {
        stems_of
            .entry(csv_of.get(raster)?)
            .or_default()
            .push(stem_of(raster)?);
    }
    let files: Vec<(&PathBuf, Vec<String>)> = stems_of.into_iter().collect();
    let parsed = crate::raster::engine::map(&files, threads, |_, (csv, stems)| {
        csv_columns(csv, &table.id_column, stems, &table.rows)
    })
    .ok()?;
    let mut read: HashMap<(&PathBuf, String), Vec<zonal::Stats>> = HashMap::new();
    for ((csv, stems), columns) in files.into_iter().zip(parsed) {
        read.extend(stems.into_iter().map(|s| (csv, s)).zip(columns?));
    }
    for raster in &rasters {
        let (csv, stem) = (csv_of.get(raster)?, stem_of(raster)?);
        for (row, s) in stats.iter_mut().zip(read.get(&(csv, stem.clone()))?) {
            row.push(*s);
        }
        columns.push(zonal::Column {
            prefix: stem,
            path: raster.clone(),
            ..template.clone()
        });
    }
    table.columns = columns;
    for (row, s) in table.rows.iter_mut().zip(stats) {
        row.stats = s;
    }
    Some(table)
}

/// Rasters' count, mean and nodata fraction per plot from a statistics CSV (columns
/// `<stem>_count`, `<stem>_mean`, `<stem>_nodata_fraction` for each of `stems`), checking that
/// its rows are `rows`' plots in order. One column of stats per stem.
fn csv_columns(
    csv: &Path,
    id_column: &str,
    stems: &[String],
    rows: &[zonal::PlotRow],
) -> Option<Vec<Vec<zonal::Stats>>> {
    let mut reader = csv::Reader::from_path(csv).ok()?;
    let header = reader.byte_headers().ok()?.clone();
    let at = |name: &str| header.iter().position(|h| h == name.as_bytes());
    let id = at(id_column)?;
    let wanted: Vec<[usize; 3]> = stems
        .iter()
        .map(|stem| {
            Some([
                at(&format!("{stem}_count"))?,
                at(&format!("{stem}_mean"))?,
                at(&format!("{stem}_nodata_fraction"))?,
            ])
        })
        .collect::<Option<_>>()?;
    let mut out = vec![Vec::with_capacity(rows.len()); stems.len()];
    let mut record = csv::ByteRecord::new();
    for row in rows {
        if !reader.read_byte_record(&mut record).ok()? || record.get(id)? != row.id.as_bytes() {
            return None;
        }
        for (column, fields) in out.iter_mut().zip(&wanted) {
            let mut v = [f64::NAN; 3];
            for (slot, &k) in v.iter_mut().zip(fields) {
                let text = std::str::from_utf8(record.get(k)?).ok()?;
                if !text.is_empty() {
                    *slot = text.parse().ok()?;
                }
            }
            column.push(zonal::Stats {
                count: v[0],
                mean: v[1],
                stdev: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                median: f64::NAN,
                p10: f64::NAN,
                p90: f64::NAN,
                nodata_fraction: v[2],
            });
        }
    }
    (!reader.read_byte_record(&mut record).ok()?).then_some(out)
}
