//! From a run file to units of work: tiles found by the globs and dated, then one unit per
//! tile (indices), per tile and plot file (statistics), per plot file (stage, prescription).
//! Every unit has a key: a hash of what it reads and how, so a rerun knows what is up to date.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::phenology::dates::{date_from_metadata, suggest_pattern, Date, DatePattern};

use super::config::{sha256, Loaded, PrescribeConfig, Source, StageConfig, StatsConfig};

/// What a unit does.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// The source's indices of one tile.
    Index { source: usize, tile: usize },
    /// Per-plot statistics of one tile's indices (the unit `index`) over one plot file.
    Stats { index: usize, plots: usize },
    /// The growth stage of one plot file from the stage source's index units (`series`).
    Stage { plots: usize, series: Vec<usize> },
    /// The prescription of the prescribe source's latest flight (the index unit `flight`, with
    /// its date) and the one before, with the stages from the index units `series`.
    Prescribe {
        plots: usize,
        series: Vec<usize>,
        flight: usize,
        flight_date: Date,
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

impl Plan {
    /// The acquisition date of an index unit's tile (None for other units).
    pub fn date_of(&self, unit: usize) -> Option<Date> {
        match self.units.get(unit)?.work {
            Work::Index { source, tile } => self.tiles[source][tile].date,
            _ => None,
        }
    }
}

/// A file's identity for keys: path, size and modification time (reading every tile to hash
/// it would cost as much as the work; a changed file changes size or time).
fn fingerprint(path: &Path) -> Result<String> {
    // A URL (a STAC Item, a COG) is its identity: items are published once under their id.
    let text = path.to_string_lossy();
    if is_url(&text) {
        return Ok(text.into_owned());
    }
    let meta = std::fs::metadata(path).map_err(|source| match matched_file(path) {
        Err(message) => Error::Config {
            path: path.to_path_buf(),
            message,
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!("{}|{}|{}", path.display(), meta.len(), mtime))
}

fn is_url(text: &str) -> bool {
    ["https://", "http://", "s3://"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// A unit's key: paddy's version, the unit's parts and, for a language other than English, the
/// language (every unit writes PNGs or styles a person reads: a run in another language redoes
/// them; English keys stay those of runs made before languages existed).
fn key(parts: &[String]) -> String {
    let mut text = format!("paddy {}\n", env!("CARGO_PKG_VERSION"));
    let lang = crate::i18n::current().code;
    if lang != "en" {
        text.push_str(&format!("lang {lang}\n"));
    }
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
/// when a stage or prescription needs dates, missing files, a section naming no source.
pub fn plan(run: &Loaded) -> Result<Plan> {
    let cfg = &run.run;
    let tiles = cfg
        .sources
        .iter()
        .map(|source| source_tiles(run, source))
        .collect::<Result<Vec<_>>>()?;
    let plots: Vec<PathBuf> = cfg.plots.files.iter().map(|f| run.resolve(f)).collect();
    for p in &plots {
        if let Err(message) = matched_file(p) {
            return Err(Error::Config {
                path: run.path.clone(),
                message: format!("[plots] {message}"),
            });
        }
        if !p.exists() {
            return Err(Error::Io {
                path: p.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "plot file not found"),
            });
        }
    }
    let mut units = Units {
        run,
        tiles: &tiles,
        plot_prints: plots
            .iter()
            .map(|p| fingerprint(p))
            .collect::<Result<_>>()?,
        plot_settings: settings(&cfg.plots),
        plots: &plots,
        units: Vec::new(),
    };
    let index_units = units.index()?;
    if let Some(stats) = &cfg.stats {
        units.stats(stats, &index_units);
    }
    if let Some(stage) = &cfg.stage {
        let si = source_index(run, &stage.source, "stage")?;
        let series = &index_units[si];
        let stage_units = units.stage(stage, si, series)?;
        if let Some(rx) = &cfg.prescribe {
            let si = source_index(run, &rx.source, "prescribe")?;
            let flights = Flights {
                source: si,
                units: &index_units[si],
            };
            units.prescribe(rx, stage, flights, series, &stage_units)?;
        }
    }
    let units = units.units;
    Ok(Plan {
        tiles,
        plots,
        units,
    })
}

/// The position of the source a section names: a name that is not a source is an error here,
/// once, and units carry the index.
fn source_index(run: &Loaded, name: &str, section: &str) -> Result<usize> {
    run.run
        .sources
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| Error::Config {
            path: run.path.clone(),
            message: format!("[{section}] source '{name}' is not one of the [[sources]]"),
        })
}

/// A source's tiles (globs, URLs, a STAC search), dated, sorted by date then name.
fn source_tiles(run: &Loaded, source: &Source) -> Result<Vec<Tile>> {
    let bad = |message: String| Error::Config {
        path: run.path.clone(),
        message,
    };
    let pattern = source
        .date_pattern
        .as_deref()
        .map(DatePattern::new)
        .transpose()?;
    let mut found: Vec<PathBuf> = Vec::new();
    for g in &source.tiles {
        // A URL (a STAC Item, a COG) is a tile as it is.
        if is_url(g) {
            found.push(PathBuf::from(g));
            continue;
        }
        let full = run.resolve(g);
        let paths = glob::glob(&full.to_string_lossy())
            .map_err(|e| bad(format!("source '{}': tiles '{g}': {e}", source.name)))?;
        let before = found.len();
        for entry in paths {
            let path = entry.map_err(|e| {
                bad(format!(
                    "source '{}': tiles '{g}': cannot read {}: {}",
                    source.name,
                    e.path().display(),
                    e.error()
                ))
            })?;
            if let Some(tile) = matched_file(&path)
                .map_err(|m| bad(format!("source '{}': tile {m}", source.name)))?
            {
                found.push(tile);
            }
        }
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
    Ok(list)
}

/// A tile of `source` with no date (`needs`: what needs it, in words), as a mistake in the run
/// file (exit 2): it names the tile and the date pattern it does not match, what that pattern
/// reads, and a pattern that reads this name's date; or, with no pattern, says to give one.
pub fn undated(run: &Loaded, source: &Source, tile: &Path, needs: &str) -> Error {
    let name = crate::io::file_name(tile);
    let suggestion = suggest_pattern(&name);
    let would = match &suggestion {
        Some((p, date)) => format!("for this name, date_pattern = \"{p}\" would read {date}"),
        None => "its name holds no date written as YYYYMMDD, YYYY-MM-DD or YYYYDDD: rename it, \
                 or narrow the source's tiles so they leave it out"
            .to_string(),
    };
    let (name, tile) = (&source.name, tile.display());
    let pattern = source.date_pattern.as_deref().map(DatePattern::new);
    let message = match (pattern, &suggestion) {
        (Some(Ok(p)), _) => format!(
            "source '{name}': tile {tile} does not match date_pattern \"{}\", which reads dates \
             written as '{}'; {would}{needs}",
            p.as_str(),
            p.example()
        ),
        (_, Some(_)) => format!(
            "source '{name}': tile {tile} has no acquisition date in its metadata: give the \
             source a date_pattern; {would}{needs}"
        ),
        (_, None) => format!(
            "source '{name}': tile {tile} has no acquisition date in its metadata, nor in its \
             name: give the source a date_pattern of its tiles' names (e.g. date_pattern = \
             \"{{yyyy}}{{mm}}{{dd}}\" for names like s2_20260718.tif){needs}"
        ),
    };
    Error::Config {
        path: run.path.clone(),
        message,
    }
}

/// A glob's match as a tile: a file (or a link to one) is; a folder is passed over; a link
/// whose target is missing is an error naming both, never a tile silently left out.
fn matched_file(path: &Path) -> std::result::Result<Option<PathBuf>, String> {
    if path.is_file() {
        return Ok(Some(path.to_path_buf()));
    }
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && std::fs::metadata(path).is_err() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "an unreadable target".into());
        return Err(format!(
            "{} is a link to {target}, which does not exist",
            path.display()
        ));
    }
    Ok(None)
}

/// Settings as canonical JSON for keys.
fn settings(v: &dyn erased::Json) -> String {
    v.json()
}

/// The source of the prescription's flights and its index units (one per tile, in the tiles'
/// order).
struct Flights<'a> {
    source: usize,
    units: &'a [usize],
}

/// The units as they are planned, with what every kind's keys hash.
struct Units<'a> {
    run: &'a Loaded,
    tiles: &'a [Vec<Tile>],
    plots: &'a [PathBuf],
    /// Per plot file, its fingerprint.
    plot_prints: Vec<String>,
    plot_settings: String,
    units: Vec<Unit>,
}

impl Units<'_> {
    /// One unit per tile: its indices. Returns, per source, its index units.
    fn index(&mut self) -> Result<Vec<Vec<usize>>> {
        let cfg = &self.run.run;
        let mut index_units = Vec::new();
        for (si, source) in cfg.sources.iter().enumerate() {
            let mut ids = Vec::new();
            for (ti, tile) in self.tiles[si].iter().enumerate() {
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
                ids.push(self.units.len());
                self.units.push(Unit {
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
        Ok(index_units)
    }

    /// One unit per index unit and plot file: the statistics (in the index unit's shard).
    fn stats(&mut self, stats: &StatsConfig, index_units: &[Vec<usize>]) {
        let cfg = &self.run.run;
        for (si, ids) in index_units.iter().enumerate() {
            for &iu in ids {
                let Work::Index { tile, .. } = self.units[iu].work else {
                    continue;
                };
                for (pi, p) in self.plots.iter().enumerate() {
                    let parts = vec![
                        "stats".into(),
                        self.units[iu].key.clone(),
                        self.plot_prints[pi].clone(),
                        self.plot_settings.clone(),
                        settings(stats),
                    ];
                    self.units.push(Unit {
                        id: format!(
                            "stats:{}:{}:{}",
                            cfg.sources[si].name,
                            self.tiles[si][tile].stem,
                            stem(p)
                        ),
                        work: Work::Stats {
                            index: iu,
                            plots: pi,
                        },
                        deps: vec![iu],
                        inputs: vec![p.clone()],
                        key: key(&parts),
                        shard_key: self.units[iu].shard_key.clone(),
                    });
                }
            }
        }
    }

    /// One unit per plot file: the stages from the series of source `si` (its index units
    /// `series`, every tile dated). Returns the stage units, by plot file.
    fn stage(&mut self, stage: &StageConfig, si: usize, series: &[usize]) -> Result<Vec<usize>> {
        if let Some(t) = self.tiles[si].iter().find(|t| t.date.is_none()) {
            return Err(undated(
                self.run,
                &self.run.run.sources[si],
                &t.path,
                " (the stage series needs the date of every tile)",
            ));
        }
        let mut stage_units = Vec::new();
        for (pi, p) in self.plots.iter().enumerate() {
            let mut parts = vec![
                "stage".into(),
                settings(stage),
                self.plot_prints[pi].clone(),
                self.plot_settings.clone(),
            ];
            parts.extend(series.iter().map(|&u| self.units[u].key.clone()));
            stage_units.push(self.units.len());
            self.units.push(Unit {
                id: format!("stage:{}", stem(p)),
                work: Work::Stage {
                    plots: pi,
                    series: series.to_vec(),
                },
                deps: series.to_vec(),
                inputs: vec![p.clone()],
                key: key(&parts),
                shard_key: None,
            });
        }
        Ok(stage_units)
    }

    /// One unit per plot file: the prescription of the latest dated flight (on or before the
    /// stage date), with the flight before it for spray zones when asked, and the stages from
    /// the index units `series` (the stage units', `stage_units`, by plot file).
    fn prescribe(
        &mut self,
        rx: &PrescribeConfig,
        stage: &StageConfig,
        flights_of: Flights,
        series: &[usize],
        stage_units: &[usize],
    ) -> Result<()> {
        let at = stage.at.as_deref().and_then(|a| a.parse::<Date>().ok());
        // Any flight may be the latest: each needs its date.
        let tiles = &self.tiles[flights_of.source];
        if let Some(t) = tiles.iter().find(|t| t.date.is_none()) {
            return Err(undated(
                self.run,
                &self.run.run.sources[flights_of.source],
                &t.path,
                " (the prescription takes the latest flight by date)",
            ));
        }
        let flights: Vec<(usize, Date)> = tiles
            .iter()
            .enumerate()
            .filter_map(|(t, tile)| match (tile.date, at) {
                (Some(d), Some(at)) => (d <= at).then_some((t, d)),
                (Some(d), None) => Some((t, d)),
                (None, _) => None,
            })
            .collect();
        let Some(&(flight, flight_date)) = flights.last() else {
            return Err(Error::Config {
                path: self.run.path.clone(),
                message: format!(
                    "[prescribe] source '{}' has no dated tile{}",
                    rx.source,
                    if at.is_some() {
                        " on or before the stage date"
                    } else {
                        ""
                    }
                ),
            });
        };
        let previous_tile =
            (rx.previous && flights.len() >= 2).then(|| flights[flights.len() - 2].0);
        let previous = previous_tile.map(|t| flights_of.units[t]);
        // The unit reads the plots, the flight's tile and the one before it (through their
        // index units): report.json names them.
        let tiles = &self.tiles[flights_of.source];
        let flight_tiles: Vec<PathBuf> = std::iter::once(flight)
            .chain(previous_tile)
            .map(|t| tiles[t].path.clone())
            .collect();
        let flight = flights_of.units[flight];
        for (pi, p) in self.plots.iter().enumerate() {
            let stage_unit = stage_units[pi];
            let mut deps = vec![stage_unit, flight];
            deps.extend(previous);
            let mut parts = vec![
                "prescribe".into(),
                settings(rx),
                self.plot_prints[pi].clone(),
                self.plot_settings.clone(),
            ];
            parts.extend(deps.iter().map(|&u| self.units[u].key.clone()));
            self.units.push(Unit {
                id: format!("prescribe:{}", stem(p)),
                work: Work::Prescribe {
                    plots: pi,
                    series: series.to_vec(),
                    flight,
                    flight_date,
                    previous,
                },
                deps,
                inputs: std::iter::once(p.clone())
                    .chain(flight_tiles.iter().cloned())
                    .collect(),
                key: key(&parts),
                shard_key: None,
            });
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Loaded {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_tiles/nightly.toml");
        super::super::config::load(&path).unwrap()
    }

    #[test]
    fn the_prescription_takes_the_flight_of_the_stage_date_and_the_one_before() {
        let run = sample();
        let plan = plan(&run).unwrap();
        let Some(Work::Prescribe {
            flight,
            flight_date,
            previous: Some(previous),
            series,
            ..
        }) = plan.units.last().map(|u| &u.work)
        else {
            panic!("the last unit is not a prescription with a previous flight");
        };
        // nightly.toml: [stage] at = 2026-07-18; drone flights on 06-26, 07-18 and 08-14.
        assert_eq!(flight_date.to_string(), "2026-07-18");
        assert_eq!(plan.units[*flight].id, "index:drone:drone_20260718");
        assert_eq!(plan.date_of(*flight), Some(*flight_date));
        assert_eq!(plan.units[*previous].id, "index:drone:drone_20260626");
        let ids: Vec<&str> = series.iter().map(|&u| plan.units[u].id.as_str()).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|id| id.starts_with("index:s2:")), "{ids:?}");
    }

    #[test]
    fn a_section_naming_no_source_is_an_error_never_the_first_source() {
        let mut run = sample();
        run.run.prescribe.as_mut().unwrap().source = "satellite".into();
        let e = plan(&run).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("[prescribe] source 'satellite'"),
            "{e}"
        );
        let mut run = sample();
        run.run.stage.as_mut().unwrap().source = "drone2".into();
        let e = plan(&run).unwrap_err().to_string();
        assert!(e.contains("[stage] source 'drone2'"), "{e}");
    }
}
