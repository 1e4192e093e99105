//! The stage's per-plot statistics from the tables the run's statistics units wrote, instead
//! of reading every index raster again: what each unit kept for the stage ([`keep`]) or else
//! its CSV table, read once and checked against the plots, and the plots' rows from one
//! exact-coverage pass over the first raster.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
/// precision), so that the stage reads no index raster again: the plots' table itself
/// (attributes, geometry, warnings) comes from this run's statistics on the first raster's
/// grid, or else from a pass over that raster. `None` (and the
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
    let info = crate::io::RasterInfo::read(first).ok()?;
    let template = zonal::columns(std::slice::from_ref(&info), None)
        .ok()?
        .into_iter()
        .next()?;
    // The plots' rows on the first raster's grid: from this run's statistics on that grid
    // (the same rows), else from a pass over the raster.
    let mut table = match ctx.memo.rows_on(plots, &info.grid) {
        Some(rows) => (*rows).clone(),
        None => {
            let request = StatsRequest {
                coverage: CoverageMode::Exact,
                assume_same_crs: false,
                quantiles: false,
                mask_band: None,
                threads,
            };
            let plot_set = plot_set(ctx, plots).ok()?;
            zonal::run(&plot_set, &[info], &request, &|_, _| {}).ok()?
        }
    };
    let ids = ids_digest(table.rows.iter().map(|r| r.id.as_str()));
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
        kept_columns(&kept_path(ctx.dir, csv)?, stems, table.rows.len(), &ids)
            .or_else(|| csv_columns(csv, &table.id_column, stems, &table.rows))
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

/// Where a statistics unit keeps the stage's statistics of its table `csv` (see [`keep`]):
/// `.paddy/stats/<table's name>.bin` in the run folder.
pub(super) fn kept_path(dir: &Path, csv: &Path) -> Option<PathBuf> {
    let stem = csv.file_stem()?.to_string_lossy();
    Some(dir.join(".paddy").join("stats").join(format!("{stem}.bin")))
}

const KEPT_MAGIC: &[u8; 8] = b"PADDYST1";

/// The plots' ids in order, as one SHA-256 (each id and a 0 byte).
fn ids_digest<'a>(ids: impl Iterator<Item = &'a str>) -> [u8; 32] {
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

/// What the stage takes from a statistics table (each raster's count, mean and nodata
/// fraction per plot), kept as the unit computed it, so that a night's stage reads the
/// season's dates without parsing their CSV tables again (a county's 31 tables of 20 000
/// plots: 0.4 CPU-s). Little-endian: the magic `PADDYST1`, the number of plots and of
/// columns, each column's prefix (length, UTF-8), the SHA-256 of the plots' ids, then per
/// column the plots' `(count, mean, nodata_fraction)` as f64, and a SHA-256 of all before it.
pub(super) fn keep(path: &Path, table: &zonal::StatsTable) -> crate::error::Result<()> {
    let (rows, columns) = (table.rows.len(), table.columns.len());
    let mut bytes = Vec::with_capacity(64 + columns * (32 + rows * 24));
    bytes.extend_from_slice(KEPT_MAGIC);
    bytes.extend_from_slice(&(rows as u64).to_le_bytes());
    bytes.extend_from_slice(&(columns as u64).to_le_bytes());
    for c in &table.columns {
        bytes.extend_from_slice(&(c.prefix.len() as u64).to_le_bytes());
        bytes.extend_from_slice(c.prefix.as_bytes());
    }
    bytes.extend_from_slice(&ids_digest(table.rows.iter().map(|r| r.id.as_str())));
    for k in 0..columns {
        for row in &table.rows {
            let s = row.stats.get(k);
            let unknown = [f64::NAN; 3];
            for v in s.map_or(unknown, |s| [s.count, s.mean, s.nodata_fraction]) {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    bytes.extend_from_slice(&digest);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| crate::error::Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    crate::io::write_atomic(path, &bytes)
}

/// The columns of `stems` read back from what [`keep`] wrote, when the file is whole and its
/// plots are the `n` plots whose ids digest ([`ids_digest`]) to `ids`; `None` otherwise (the
/// CSV table is parsed instead).
fn kept_columns(
    path: &Path,
    stems: &[String],
    n: usize,
    ids: &[u8; 32],
) -> Option<Vec<Vec<zonal::Stats>>> {
    let bytes = std::fs::read(path).ok()?;
    let (body, digest) = bytes.split_at(bytes.len().checked_sub(32)?);
    if Sha256::digest(body).as_slice() != digest || body.get(..8)? != KEPT_MAGIC {
        return None;
    }
    let mut at = 8;
    let word = |at: &mut usize| -> Option<usize> {
        let bytes = take(body, at, 8)?;
        usize::try_from(u64::from_le_bytes(bytes.try_into().ok()?)).ok()
    };
    let (plots, columns) = (word(&mut at)?, word(&mut at)?);
    let mut prefixes = Vec::with_capacity(columns.min(4096));
    for _ in 0..columns {
        let len = word(&mut at)?;
        prefixes.push(std::str::from_utf8(take(body, &mut at, len)?).ok()?);
    }
    if plots != n || take(body, &mut at, 32)? != ids {
        return None;
    }
    let values = body.get(at..)?;
    let per_column = n.checked_mul(24)?;
    if values.len() != columns.checked_mul(per_column)? {
        return None;
    }
    // Column k: each plot's count, mean and nodata fraction, 24 bytes.
    let column = |k: usize| -> Option<Vec<zonal::Stats>> {
        values
            .get(k * per_column..(k + 1) * per_column)?
            .chunks_exact(24)
            .map(|c| {
                let v = |a: usize| Some(f64::from_le_bytes(c.get(a..a + 8)?.try_into().ok()?));
                Some(zonal::Stats::counted(v(0)?, v(8)?, v(16)?))
            })
            .collect()
    };
    stems
        .iter()
        .map(|stem| column(prefixes.iter().position(|p| p == stem)?))
        .collect()
}

/// The `len` bytes of `body` at `*at`, moving `at` past them.
fn take<'a>(body: &'a [u8], at: &mut usize, len: usize) -> Option<&'a [u8]> {
    let bytes = body.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(bytes)
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
            column.push(zonal::Stats::counted(v[0], v[1], v[2]));
        }
    }
    (!reader.read_byte_record(&mut record).ok()?).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zonal::{Column, PlotRow, Stats, StatsTable};

    fn table(ids: &[&str], prefixes: &[&str]) -> StatsTable {
        let columns = prefixes
            .iter()
            .map(|p| Column {
                prefix: p.to_string(),
                path: PathBuf::from(format!("{p}.tif")),
                band: 1,
                nodata: Some(-9999.0),
                scale_offset: None,
                mask: None,
                grid: 0,
                pixel_m2: f64::NAN,
            })
            .collect();
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, id)| PlotRow {
                id: id.to_string(),
                attributes: Vec::new(),
                status: "ok".into(),
                area_m2: 100.0,
                pixels: vec![1],
                stats: (0..prefixes.len())
                    .map(|k| {
                        let x = (i * 10 + k) as f64;
                        // A plot without valid pixels has no mean: NaN must come back as NaN.
                        let mean = if i == 1 { f64::NAN } else { 0.1 * x + 1e-17 };
                        Stats {
                            stdev: 0.5,
                            ..Stats::counted(x / 3.0, mean, 1.0 / (x + 7.0))
                        }
                    })
                    .collect(),
                outside: false,
            })
            .collect();
        StatsTable {
            id_column: "plot_id".into(),
            fields: Vec::new(),
            columns,
            rows,
            lonlat: vec![None; ids.len()],
            warnings: Vec::new(),
            coverage: CoverageMode::Exact,
        }
    }

    fn digest(rows: &[PlotRow]) -> [u8; 32] {
        ids_digest(rows.iter().map(|r| r.id.as_str()))
    }

    fn same(a: &Stats, b: &Stats) -> bool {
        let eq = |x: f64, y: f64| x.to_bits() == y.to_bits();
        eq(a.count, b.count) && eq(a.mean, b.mean) && eq(a.nodata_fraction, b.nodata_fraction)
    }

    #[test]
    fn kept_statistics_read_back_bit_for_bit_and_only_for_the_same_plots() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(&["A", "B", "C"], &["s2_0601_ndvi", "s2_0601_lswi"]);
        let path = kept_path(dir.path(), Path::new("stats/s2_0601_plots.csv")).unwrap();
        assert!(path.ends_with(".paddy/stats/s2_0601_plots.bin"));
        keep(&path, &t).unwrap();
        let stems = ["s2_0601_lswi".to_string(), "s2_0601_ndvi".to_string()];
        let back = kept_columns(&path, &stems, t.rows.len(), &digest(&t.rows)).unwrap();
        for (column, k) in back.iter().zip([1, 0]) {
            for (s, row) in column.iter().zip(&t.rows) {
                assert!(same(s, &row.stats[k]), "{s:?} vs {:?}", row.stats[k]);
                assert!(
                    s.stdev.is_nan(),
                    "only count, mean and nodata fraction are kept"
                );
            }
        }
        // Other plots, or the same in another order: not these statistics.
        let other = table(&["A", "C", "B"], &["s2_0601_ndvi", "s2_0601_lswi"]);
        assert!(kept_columns(&path, &stems, other.rows.len(), &digest(&other.rows)).is_none());
        assert!(kept_columns(&path, &stems, 2, &digest(&t.rows[..2])).is_none());
        // A raster the table does not have.
        assert!(kept_columns(&path, &["s2_0606_ndvi".to_string()], 3, &digest(&t.rows)).is_none());
        // Any byte changed, or the file cut short: not read (the CSV is parsed instead).
        let bytes = std::fs::read(&path).unwrap();
        for at in [0, 9, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                kept_columns(&path, &stems, t.rows.len(), &digest(&t.rows)).is_none(),
                "byte {at}"
            );
        }
        for len in [0, 8, 31, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..len]).unwrap();
            assert!(
                kept_columns(&path, &stems, t.rows.len(), &digest(&t.rows)).is_none(),
                "{len} bytes"
            );
        }
        assert!(kept_columns(&dir.path().join("none.bin"), &stems, 3, &digest(&t.rows)).is_none());
    }
}
