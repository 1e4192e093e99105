//! From a run file to units of work: tiles found by the globs and dated, then one unit per
//! tile (indices), per tile and plot file (statistics), per plot file (stage, prescription).
//! Every unit has a key: a hash of what it reads and how, so a rerun knows what is up to date.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::phenology::dates::{date_from_metadata, Date, DatePattern};

use super::config::{sha256, Loaded};

/// What a unit does.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// The source's indices of one tile.
    Index { source: usize, tile: usize },
    /// Per-plot statistics of one tile's indices (the unit `index`) over one plot file.
    Stats { index: usize, plots: usize },
    /// The growth stage of one plot file from the stage source's index units.
    Stage { plots: usize, indices: Vec<usize> },
    /// The prescription of the prescribe source's latest flight (and the one before).
    Prescribe {
        plots: usize,
        stage: usize,
        flight: usize,
        previous: Option<usize>,
    },
}

/// One unit of work.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub work: Work,
    /// Units it reads the outputs of.
    pub deps: Vec<usize>,
    /// Input files (for the report).
    pub inputs: Vec<PathBuf>,
    pub key: String,
    /// Runs in shards (`--shard`): tile units; the others run in the merge.
    pub shard_key: Option<String>,
}

/// A tile of a source.
#[derive(Debug, Clone)]
pub struct Tile {
    pub path: PathBuf,
    pub mask: Option<PathBuf>,
    pub stem: String,
    pub date: Option<Date>,
}

/// The plan of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Per source, its tiles sorted by date then name.
    pub tiles: Vec<Vec<Tile>>,
    pub plots: Vec<PathBuf>,
    pub units: Vec<Unit>,
}

/// A file's identity for keys: path, size and modification time (reading every tile to hash
/// it would cost as much as the work; a changed file changes size or time).
fn fingerprint(path: &Path) -> Result<String> {
    // A URL (a STAC Item, a COG) is its identity: items are published once under their id.
    let text = path.to_string_lossy();
    if ["https://", "http://", "s3://"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return Ok(text.into_owned());
    }
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!("{}|{}|{}", path.display(), meta.len(), mtime))
}

fn key(parts: &[String]) -> String {
    let mut text = format!("paddy {}\n", env!("CARGO_PKG_VERSION"));
    for p in parts {
        text.push_str(p);
        text.push('\n');
    }
    sha256(text.as_bytes())
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The plots' extent in longitude and latitude (all plot files), for a STAC search.
fn plots_lon_lat(run: &Loaded) -> Result<[f64; 4]> {
    let mut all: Option<[f64; 4]> = None;
    for f in &run.run.plots.files {
        let path = run.resolve(f);
        let b = crate::io::Aoi::parse(&path.to_string_lossy())?.lon_lat_bounds()?;
        let a = all.get_or_insert(b);
        *a = [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ];
    }
    all.ok_or_else(|| Error::Config {
        path: run.path.clone(),
        message: "[sources.stac] searches over the plots: give [plots] files".into(),
    })
}

/// A tile's date from its metadata: a product's (STAC Item datetime, SAFE or MTL), else the
/// raster's.
fn tile_date(path: &Path) -> Option<Date> {
    let gdal = crate::io::gdal_path(path);
    match crate::io::open_product(&gdal) {
        Ok(Some(product)) => product.date.and_then(|d| d.parse().ok()),
        _ => crate::io::RasterInfo::read(&gdal)
            .ok()
            .and_then(|i| date_from_metadata(&i.metadata).map(|(d, _)| d)),
    }
}

/// Expand the run file into tiles and units. Errors: a glob matching nothing, an undated tile
/// when a stage or prescription needs dates, missing files.
pub fn plan(run: &Loaded) -> Result<Plan> {
    let cfg = &run.run;
    let bad = |message: String| Error::Config {
        path: run.path.clone(),
        message,
    };
    let mut tiles: Vec<Vec<Tile>> = Vec::new();
    for source in &cfg.sources {
        let pattern = source
            .date_pattern
            .as_deref()
            .map(DatePattern::new)
            .transpose()?;
        let mut found: Vec<PathBuf> = Vec::new();
        for g in &source.tiles {
            // A URL (a STAC Item, a COG) is a tile as it is.
            if ["https://", "http://", "s3://"]
                .iter()
                .any(|p| g.starts_with(p))
            {
                found.push(PathBuf::from(g));
                continue;
            }
            let full = run.resolve(g);
            let paths = glob::glob(&full.to_string_lossy())
                .map_err(|e| bad(format!("source '{}': tiles '{g}': {e}", source.name)))?;
            let before = found.len();
            found.extend(paths.filter_map(|p| p.ok()).filter(|p| p.is_file()));
            if found.len() == before {
                return Err(bad(format!(
                    "source '{}': no file matches '{}'",
                    source.name,
                    full.display()
                )));
            }
        }
        if let Some(stac) = &source.stac {
            let bbox = plots_lon_lat(run)?;
            let items = crate::io::stac::search(
                &stac.url,
                &stac.collection,
                bbox,
                stac.datetime.as_deref(),
                stac.max_cloud,
            )?;
            if items.is_empty() {
                return Err(bad(format!(
                    "source '{}': the STAC search of {} found no item over the plots",
                    source.name, stac.collection
                )));
            }
            found.extend(items.into_iter().map(PathBuf::from));
        }
        found.sort();
        found.dedup();
        let mut list = Vec::new();
        for path in found {
            let s = stem(&path);
            let mask = source.mask.as_ref().map(|m| {
                let name = m.replace("{stem}", &s);
                path.with_file_name(name)
            });
            let name = crate::io::file_name(&path);
            let date = match &pattern {
                Some(p) => p.date_in(&name)?,
                None => tile_date(&path),
            };
            list.push(Tile {
                path,
                mask,
                stem: s,
                date,
            });
        }
        list.sort_by(|a, b| (a.date, &a.stem).cmp(&(b.date, &b.stem)));
        tiles.push(list);
    }
    let plots: Vec<PathBuf> = cfg.plots.files.iter().map(|f| run.resolve(f)).collect();
    for p in &plots {
        if !p.exists() {
            return Err(Error::Io {
                path: p.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "plot file not found"),
            });
        }
    }
    let settings = |v: &dyn erased::Json| v.json();
    let mut units: Vec<Unit> = Vec::new();
    let mut index_units: Vec<Vec<usize>> = Vec::new();
    for (si, source) in cfg.sources.iter().enumerate() {
        let mut ids = Vec::new();
        for (ti, tile) in tiles[si].iter().enumerate() {
            let mut parts = vec![
                "index".to_string(),
                settings(source),
                fingerprint(&tile.path)?,
            ];
            let mut inputs = vec![tile.path.clone()];
            if let Some(m) = &tile.mask {
                parts.push(fingerprint(m)?);
                inputs.push(m.clone());
            }
            parts.push(settings(&cfg.machine));
            ids.push(units.len());
            units.push(Unit {
                id: format!("index:{}:{}", source.name, tile.stem),
                work: Work::Index {
                    source: si,
                    tile: ti,
                },
                deps: Vec::new(),
                inputs,
                key: key(&parts),
                shard_key: Some(format!("{}:{}", source.name, tile.stem)),
            });
        }
        index_units.push(ids);
    }
    let plot_prints: Vec<String> = plots
        .iter()
        .map(|p| fingerprint(p))
        .collect::<Result<_>>()?;
    let plot_settings = settings(&cfg.plots);
    if let Some(stats) = &cfg.stats {
        for (si, ids) in index_units.iter().enumerate() {
            for &iu in ids {
                for (pi, p) in plots.iter().enumerate() {
                    let parts = vec![
                        "stats".into(),
                        units[iu].key.clone(),
                        plot_prints[pi].clone(),
                        plot_settings.clone(),
                        settings(stats),
                    ];
                    let Work::Index { tile, .. } = units[iu].work else {
                        continue;
                    };
                    units.push(Unit {
                        id: format!(
                            "stats:{}:{}:{}",
                            cfg.sources[si].name,
                            tiles[si][tile].stem,
                            stem(p)
                        ),
                        work: Work::Stats {
                            index: iu,
                            plots: pi,
                        },
                        deps: vec![iu],
                        inputs: vec![p.clone()],
                        key: key(&parts),
                        shard_key: units[iu].shard_key.clone(),
                    });
                }
            }
        }
    }
    if let Some(stage) = &cfg.stage {
        let si = cfg
            .sources
            .iter()
            .position(|s| s.name == stage.source)
            .unwrap_or(0);
        if let Some(t) = tiles[si].iter().find(|t| t.date.is_none()) {
            return Err(Error::Input {
                path: t.path.clone(),
                message: format!(
                    "cannot tell the acquisition date for the stage series: give source '{}' a date_pattern",
                    cfg.sources[si].name
                ),
            });
        }
        let series = index_units[si].clone();
        let mut stage_units = Vec::new();
        for (pi, p) in plots.iter().enumerate() {
            let mut parts = vec![
                "stage".into(),
                settings(stage),
                plot_prints[pi].clone(),
                plot_settings.clone(),
            ];
            parts.extend(series.iter().map(|&u| units[u].key.clone()));
            stage_units.push(units.len());
            units.push(Unit {
                id: format!("stage:{}", stem(p)),
                work: Work::Stage {
                    plots: pi,
                    indices: series.clone(),
                },
                deps: series.clone(),
                inputs: vec![p.clone()],
                key: key(&parts),
                shard_key: None,
            });
        }
        if let Some(rx) = &cfg.prescribe {
            let si = cfg
                .sources
                .iter()
                .position(|s| s.name == rx.source)
                .unwrap_or(0);
            let at = stage.at.as_deref().and_then(|a| a.parse::<Date>().ok());
            let flights: Vec<usize> = (0..tiles[si].len())
                .filter(|&t| match (tiles[si][t].date, at) {
                    (Some(d), Some(at)) => d <= at,
                    (Some(_), None) => true,
                    (None, _) => false,
                })
                .collect();
            let Some(&flight) = flights.last() else {
                return Err(bad(format!(
                    "[prescribe] source '{}' has no dated tile{}",
                    rx.source,
                    if at.is_some() {
                        " on or before the stage date"
                    } else {
                        ""
                    }
                )));
            };
            let previous = if rx.previous && flights.len() >= 2 {
                Some(index_units[si][flights[flights.len() - 2]])
            } else {
                None
            };
            let flight = index_units[si][flight];
            for (pi, p) in plots.iter().enumerate() {
                let stage_unit = stage_units[pi];
                let mut deps = vec![stage_unit, flight];
                deps.extend(previous);
                let mut parts = vec![
                    "prescribe".into(),
                    settings(rx),
                    plot_prints[pi].clone(),
                    plot_settings.clone(),
                ];
                parts.extend(deps.iter().map(|&u| units[u].key.clone()));
                units.push(Unit {
                    id: format!("prescribe:{}", stem(p)),
                    work: Work::Prescribe {
                        plots: pi,
                        stage: stage_unit,
                        flight,
                        previous,
                    },
                    deps,
                    inputs: vec![p.clone()],
                    key: key(&parts),
                    shard_key: None,
                });
            }
        }
    }
    Ok(Plan {
        tiles,
        plots,
        units,
    })
}

/// Settings as canonical JSON for keys.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// Which shard (0-based) of `n` runs a unit with this shard key: a stable hash, so every
/// machine agrees without talking.
pub fn shard_of(shard_key: &str, n: usize) -> usize {
    let h = sha256(shard_key.as_bytes());
    let v = u64::from_str_radix(&h[..15], 16).unwrap_or(0);
    (v % n.max(1) as u64) as usize
}
