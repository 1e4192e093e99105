//! The run file (`nightly.toml`): sources of tiles, plots, what to compute, where to write.
//! Unknown keys are refused with their name and line. Relative paths are relative to the run
//! file's folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{Codec, Layout};
use crate::phenology::stage::StageTable;
use crate::rx::config::RxConfig;
use crate::stage::SmootherKind;

/// A source of tiles: one sensor, one naming scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A short name for the source (`s2`, `drone`): unit ids and the stage/prescribe sections
    /// refer to it.
    pub name: String,
    /// Glob patterns of the tiles (relative to the run file): rasters, products as downloaded,
    /// STAC Item files; or URLs.
    #[serde(default)]
    pub tiles: Vec<String>,
    /// Tiles found by a STAC API search, over the plots' extent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stac: Option<StacSearch>,
    /// A quality file per tile, named from the tile's stem (`{stem}_scl.tif`), if any.
    #[serde(default)]
    pub mask: Option<String>,
    /// Sensor profile (as `paddy index --sensor`); default: detected.
    #[serde(default)]
    pub sensor: Option<String>,
    /// Acquisition date in the file names (`{yyyy}{mm}{dd}`); default: the files' metadata.
    #[serde(default)]
    pub date_pattern: Option<String>,
    /// Indices to compute for every tile (catalogue names).
    pub indices: Vec<String>,
    /// Their compression, as `paddy index --compress` (default zstd; `deflate` for readers
    /// without ZSTD). Absent from the unit key when not set, like every default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<Codec>,
    /// Their layout, as `paddy index --layout` (default cog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// A COG's first overview factor, as `paddy index --first-overview` (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_overview: Option<usize>,
}

/// A STAC API search (`[sources.stac]`): every item of `collection` over the plots' extent (in
/// `datetime`, with at most `max_cloud` % cloud) is a tile; a new acquisition is a new unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StacSearch {
    /// The API's root, e.g. https://earth-search.aws.element84.com/v1
    pub url: String,
    pub collection: String,
    /// An RFC 3339 interval, e.g. 2026-05-01/2026-10-31 or 2026-05-01/.. (default: all).
    #[serde(default)]
    pub datetime: Option<String>,
    /// Largest `eo:cloud_cover` (%) kept (default: all).
    #[serde(default)]
    pub max_cloud: Option<f64>,
}

/// Plot files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotsConfig {
    /// One or more vector files.
    pub files: Vec<String>,
    #[serde(default)]
    pub layer: Option<String>,
    #[serde(default)]
    pub id_field: Option<String>,
}

/// Per-plot statistics of index outputs, per tile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsConfig {
    /// Which of each source's indices to summarise (default: all of them).
    #[serde(default)]
    pub indices: Option<Vec<String>>,
}

/// The growth stage from one source's series.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub source: String,
    /// The index of the series (default ndvi) and the water index for flooding (optional).
    #[serde(default = "default_ndvi")]
    pub index: String,
    #[serde(default)]
    pub lswi: Option<String>,
    /// Stage at this date (default: the last date of the series).
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub smoother: Option<SmootherKind>,
    #[serde(default)]
    pub lambda: Option<f64>,
    #[serde(default)]
    pub default_class: Option<String>,
    /// Plot fields of the duration class and the recorded transplanting date.
    #[serde(default = "default_class_field")]
    pub class_field: String,
    #[serde(default = "default_transplanted_field")]
    pub transplanted_field: String,
    /// A stage table (TOML, as `paddy stage --stage-table`) extending the built-in one.
    #[serde(default)]
    pub stage_table: Option<String>,
}

fn default_class_field() -> String {
    "duration_class".into()
}

fn default_transplanted_field() -> String {
    "transplanted".into()
}

fn default_ndvi() -> String {
    "ndvi".into()
}

/// The prescription of one source's latest flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrescribeConfig {
    pub source: String,
    #[serde(default)]
    pub n_index: Option<String>,
    #[serde(default)]
    pub spray_index: Option<String>,
    /// Use the source's flight before the latest as `--previous` for spray zones.
    #[serde(default = "yes")]
    pub previous: bool,
    /// Most days the stage table's date may differ from the flight's (default 3), as
    /// `paddy prescribe --stages-tolerance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages_tolerance_days: Option<f64>,
    /// Prescription settings, as in `paddy prescribe --print-config`.
    #[serde(default)]
    pub settings: Option<toml::Table>,
}

fn yes() -> bool {
    true
}

/// Machine settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Worker threads (default: all cores).
    #[serde(default)]
    pub threads: Option<usize>,
    /// GDAL block cache in MiB (default: paddy's per-command choice).
    #[serde(default)]
    pub ram_mib: Option<u32>,
}

/// A run file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    /// Output root; each run writes into `<output>/<run date>/`.
    pub output: String,
    pub sources: Vec<Source>,
    pub plots: PlotsConfig,
    #[serde(default)]
    pub stats: Option<StatsConfig>,
    #[serde(default)]
    pub stage: Option<StageConfig>,
    #[serde(default)]
    pub prescribe: Option<PrescribeConfig>,
    #[serde(default)]
    pub machine: Machine,
    /// Language of the report, PNGs and styles (`en`, `zh-CN`); `--lang` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// A parsed run file with its folder.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub run: RunFile,
    pub rx: RxConfig,
    /// The stage table: built in, extended by `[stage] stage_table`.
    pub table: StageTable,
    /// SHA-256 of the settings (normalised JSON), hex.
    pub hash: String,
}

impl Loaded {
    /// A path of the run file made absolute (relative to its folder).
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The run file's numeric settings, checked as the command line's parsers check theirs (TOML
/// writes nan and inf as numbers): a message naming the key for the first one out of range.
fn check_numbers(run: &RunFile) -> std::result::Result<(), String> {
    let numbers = run
        .sources
        .iter()
        .filter_map(|s| {
            let cloud = s.stac.as_ref()?.max_cloud?;
            Some((
                format!("[[sources]] '{}' stac max_cloud", s.name),
                cloud,
                (0.0..=100.0).contains(&cloud),
                "a percentage from 0 to 100",
            ))
        })
        .chain(run.stage.as_ref().and_then(|st| st.lambda).map(|l| {
            (
                "[stage] lambda".to_string(),
                l,
                l.is_finite() && l > 0.0,
                "a finite number above 0",
            )
        }))
        .chain(
            run.prescribe
                .as_ref()
                .and_then(|p| p.stages_tolerance_days)
                .map(|d| {
                    (
                        "[prescribe] stages_tolerance_days".to_string(),
                        d,
                        d.is_finite() && d >= 0.0,
                        "a finite number of days, 0 or more",
                    )
                }),
        );
    for (key, value, ok, what) in numbers {
        if !ok {
            return Err(format!("{key} = {value}: give {what}"));
        }
    }
    for s in &run.sources {
        if let Some(n) = s
            .first_overview
            .filter(|&n| !crate::raster::pyramid::is_first_overview(n))
        {
            return Err(format!(
                "[[sources]] '{}' first_overview = {n}: give a power of two from 2 to 1024",
                s.name
            ));
        }
    }
    if let Some(threads) = run.machine.threads {
        use crate::raster::engine::MAX_THREADS;
        if !(1..=MAX_THREADS).contains(&threads) {
            return Err(format!(
                "[machine] threads = {threads}: give a thread count from 1 to {MAX_THREADS}"
            ));
        }
    }
    Ok(())
}

/// Read and check a run file. Errors are configuration errors (exit 2) naming the file, and
/// for TOML problems the key and line.
pub fn load(path: &Path) -> Result<Loaded> {
    let bad = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let run: RunFile =
        toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    let dir = path
        .parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let dir = dir.canonicalize().unwrap_or(dir);
    if run.sources.is_empty() {
        return Err(bad("no [[sources]]".into()));
    }
    if let Some(lang) = &run.lang {
        if !crate::i18n::known(lang) {
            let codes: Vec<&str> = crate::i18n::LANGUAGES.iter().map(|(c, _)| *c).collect();
            return Err(bad(format!(
                "lang '{lang}': use one of {}",
                codes.join(", ")
            )));
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for s in &run.sources {
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(format!(
                "source name '{}' must be letters, digits, - or _",
                s.name
            )));
        }
        if names.contains(&s.name.as_str()) {
            return Err(bad(format!("two sources are named '{}'", s.name)));
        }
        names.push(&s.name);
        if (s.tiles.is_empty() && s.stac.is_none()) || s.indices.is_empty() {
            return Err(bad(format!(
                "source '{}' needs tiles (or [sources.stac]) and indices",
                s.name
            )));
        }
    }
    check_names(&run, path)?;
    let source_named = |name: &str, section: &str| -> Result<&Source> {
        run.sources.iter().find(|s| s.name == name).ok_or_else(|| {
            bad(format!(
                "[{section}] source '{name}' is not one of the [[sources]]: {}",
                names.join(", ")
            ))
        })
    };
    check_numbers(&run).map_err(bad)?;
    if run.plots.files.is_empty() {
        return Err(bad("[plots] files is empty".into()));
    }
    if let Some(stage) = &run.stage {
        let s = source_named(&stage.source, "stage")?;
        for i in std::iter::once(&stage.index).chain(stage.lswi.iter()) {
            if !s.indices.iter().any(|x| x.eq_ignore_ascii_case(i)) {
                return Err(bad(format!(
                    "[stage] index '{i}' is not computed for source '{}' (indices: {})",
                    s.name,
                    s.indices.join(", ")
                )));
            }
        }
        if let Some(at) = &stage.at {
            at.parse::<crate::phenology::dates::Date>()
                .map_err(|e| bad(format!("[stage] at = '{at}': {e}")))?;
        }
    }
    let rx = match &run.prescribe {
        Some(p) => {
            let s = source_named(&p.source, "prescribe")?;
            if p.n_index.is_none() && p.spray_index.is_none() {
                return Err(bad("[prescribe] needs n_index, spray_index or both".into()));
            }
            for i in p.n_index.iter().chain(p.spray_index.iter()) {
                if !s.indices.iter().any(|x| x.eq_ignore_ascii_case(i)) {
                    return Err(bad(format!(
                        "[prescribe] index '{i}' is not computed for source '{}'",
                        s.name
                    )));
                }
            }
            if run.stage.is_none() {
                return Err(bad(
                    "[prescribe] needs a [stage] section (the stage of each plot)".into(),
                ));
            }
            prescribe_settings(&text, path)?
        }
        None => RxConfig::default(),
    };
    let mut table = StageTable::builtin();
    if let Some(file) = run.stage.as_ref().and_then(|s| s.stage_table.as_ref()) {
        let p = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            dir.join(file)
        };
        let text = std::fs::read_to_string(&p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        table.extend(StageTable::parse(&text, &p)?);
    }
    let normalised = serde_json::to_vec(&run).map_err(|e| bad(e.to_string()))?;
    Ok(Loaded {
        path: path.to_path_buf(),
        dir,
        hash: sha256(&normalised),
        run,
        rx,
        table,
    })
}

/// The run file as far as `[prescribe.settings]`: every other key is passed over (the run file
/// was checked whole already).
#[derive(Deserialize)]
struct SettingsOf {
    #[serde(default)]
    prescribe: Option<SettingsOnly>,
}

#[derive(Deserialize)]
struct SettingsOnly {
    #[serde(default)]
    settings: Option<RxConfig>,
}

/// `[prescribe.settings]` of the run file `text` (at `path`), read from the whole file so that
/// a mistake's line and column are the run file's, not the table's; then checked as
/// `paddy prescribe --config` checks its file.
fn prescribe_settings(text: &str, path: &Path) -> Result<RxConfig> {
    let settings: SettingsOf = toml::from_str(text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: format!("[prescribe.settings]: {}", e.to_string().trim_end()),
    })?;
    let config = settings
        .prescribe
        .and_then(|p| p.settings)
        .unwrap_or_default();
    config.check(&format!("{} [prescribe.settings]", path.display()))?;
    Ok(config)
}

/// Every index a source or `[stats]` names is in the catalogue (an unknown one is named, with
/// the nearest catalogue names), every sensor is a profile: a misspelt name fails the run
/// file before any work, not the units that would use it.
fn check_names(run: &RunFile, path: &Path) -> Result<()> {
    let bad = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let catalogue = crate::catalogue::Catalogue::builtin();
    for s in &run.sources {
        for name in &s.indices {
            if let Err(candidates) = catalogue.lookup(name) {
                let hint = if candidates.is_empty() {
                    did_you_mean(name, catalogue.indices().map(|d| d.short_name.as_str()))
                } else {
                    format!(
                        " (the catalogue tells {} apart by case: type the exact name)",
                        candidates.join(" and ")
                    )
                };
                return Err(bad(format!(
                    "source '{}': unknown index '{name}'{hint}; `paddy indices` lists the catalogue",
                    s.name
                )));
            }
        }
        if let Some(sensor) = &s.sensor {
            crate::sensors::Profile::find(sensor)
                .map_err(|e| bad(format!("source '{}': sensor: {e}", s.name)))?;
        }
    }
    for name in run.stats.iter().flat_map(|s| s.indices.iter().flatten()) {
        let computed = run.sources.iter().flat_map(|s| &s.indices);
        if !computed.clone().any(|i| i.eq_ignore_ascii_case(name)) {
            let all: Vec<&str> = computed.map(String::as_str).collect();
            return Err(bad(format!(
                "[stats] index '{name}' is not computed by any source{} (sources compute: {})",
                did_you_mean(name, all.iter().copied()),
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// " (did you mean X?)" for the names nearest `name` (case aside) by edit distance, when any is
/// close enough to be a typing slip; else nothing.
pub fn did_you_mean<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> String {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).clamp(1, 3);
    // Nearest first; among equals, the longest common beginning (ndvii: NDVI before NDII).
    let mut near: Vec<(usize, std::cmp::Reverse<usize>, &str)> = names
        .map(|n| {
            let lower = n.to_ascii_lowercase();
            let common = name.chars().zip(lower.chars()).take_while(|(a, b)| a == b);
            (
                edit_distance(&name, &lower),
                std::cmp::Reverse(common.count()),
                n,
            )
        })
        .filter(|(d, _, _)| *d <= limit)
        .collect();
    near.sort();
    near.dedup_by(|a, b| a.2.eq_ignore_ascii_case(b.2));
    let best: Vec<&str> = near
        .iter()
        .take_while(|(d, _, _)| *d == near[0].0)
        .take(3)
        .map(|(_, _, n)| *n)
        .collect();
    if best.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", best.join(" or "))
    }
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const GOOD: &str = r#"
output = "out"
[[sources]]
name = "s2"
tiles = ["s2_*.tif"]
indices = ["ndvi", "lswi"]
[plots]
files = ["plots.geojson"]
[stage]
source = "s2"
lswi = "lswi"
"#;

    #[test]
    fn a_good_file_loads_and_hashes_its_settings() {
        let (_d, p) = write(GOOD);
        let a = load(&p).unwrap();
        assert_eq!(a.run.sources[0].indices, ["ndvi", "lswi"]);
        assert_eq!(a.hash.len(), 64);
        // Comments and layout do not change the hash; a setting does.
        let (_d2, p2) = write(&format!("# a comment\n{GOOD}"));
        assert_eq!(load(&p2).unwrap().hash, a.hash);
        let (_d3, p3) = write(&GOOD.replace("\"lswi\"]", "\"lswi\", \"evi\"]"));
        assert_ne!(load(&p3).unwrap().hash, a.hash);
    }

    #[test]
    fn a_source_may_choose_its_codec_and_layout() {
        let (_d, p) = write(GOOD);
        let plain = load(&p).unwrap();
        assert_eq!(plain.run.sources[0].compress, None);
        let set = "indices = [\"ndvi\", \"lswi\"]\ncompress = \"deflate\"\nlayout = \"tiled\"";
        let (_d, p) = write(&GOOD.replace("indices = [\"ndvi\", \"lswi\"]", set));
        let chosen = load(&p).unwrap();
        assert_eq!(chosen.run.sources[0].compress, Some(Codec::Deflate));
        assert_eq!(chosen.run.sources[0].layout, Some(Layout::Tiled));
        assert_eq!(Codec::Deflate.gdal_name(), "DEFLATE");
        // Unset keys stay out of the settings a unit's key hashes; set ones go in.
        let json = serde_json::to_string(&plain.run.sources[0]).unwrap();
        assert!(
            !json.contains("compress")
                && !json.contains("layout")
                && !json.contains("first_overview"),
            "{json}"
        );
        assert!(serde_json::to_string(&chosen.run.sources[0])
            .unwrap()
            .contains("\"compress\":\"deflate\""));
        let (_d, p) = write(&GOOD.replace(
            "indices = [\"ndvi\", \"lswi\"]",
            "indices = [\"ndvi\"]\ncompress = \"jpeg\"",
        ));
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("jpeg") && e.contains("zstd"), "{e}");
        // The first overview: a power of two, checked like the command line's.
        let set = |n: &str| {
            GOOD.replace(
                "indices = [\"ndvi\", \"lswi\"]",
                &format!("indices = [\"ndvi\", \"lswi\"]\nfirst_overview = {n}"),
            )
        };
        let (_d, p) = write(&set("2"));
        assert_eq!(load(&p).unwrap().run.sources[0].first_overview, Some(2));
        for bad in ["3", "1", "2048"] {
            let (_d, p) = write(&set(bad));
            let e = load(&p).unwrap_err().to_string();
            assert!(
                e.contains("first_overview") && e.contains("power of two"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn misspelt_indices_and_sensors_fail_the_run_file_with_a_suggestion() {
        let (_d, p) = write(&GOOD.replace("\"ndvi\", \"lswi\"]", "\"ndvii\", \"lswi\"]"));
        let e = load(&p).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = e.to_string();
        assert!(
            e.contains("source 's2': unknown index 'ndvii' (did you mean NDVI or"),
            "{e}"
        );
        let (_d, p) =
            write(&GOOD.replace("name = \"s2\"", "name = \"s2\"\nsensor = \"sentinel3\""));
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("source 's2': sensor: unknown sensor 'sentinel3'"),
            "{e}"
        );
        let (_d, p) = write(&format!("{GOOD}[stats]\nindices = [\"lswii\"]\n"));
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("[stats] index 'lswii'") && e.contains("did you mean lswi?"),
            "{e}"
        );
        // Aliases and any case are names too.
        let (_d, p) = write(&GOOD.replace("\"ndvi\", \"lswi\"]", "\"NDVI\", \"lswi\", \"ndre\"]"));
        load(&p).unwrap();
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("ndvii", "ndvi"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(did_you_mean("zzzzzz", ["ndvi"].into_iter()), "");
    }

    #[test]
    fn unknown_keys_and_bad_references_name_the_problem() {
        let (_d, p) = write(&GOOD.replace("[plots]", "[plots]\nfile = 3"));
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("file") && e.contains("line"), "{e}");
        let (_d, p) = write(&GOOD.replace("source = \"s2\"", "source = \"drone\""));
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("drone"), "{e}");
        let (_d, p) = write(&GOOD.replace("lswi = \"lswi\"", "lswi = \"ndwi\""));
        assert!(load(&p).unwrap_err().to_string().contains("ndwi"));
        let (_d, p) = write(&format!(
            "{GOOD}[prescribe]\nsource = \"s2\"\nn_index = \"ndvi\"\n[prescribe.settings.nitrogen]\nmax_rat = 3\n"
        ));
        assert!(load(&p).unwrap_err().to_string().contains("max_rat"));
    }

    /// A mistake inside `[prescribe.settings]` is placed by the run file's lines and columns,
    /// counted here from the text written, not from the start of the table.
    #[test]
    fn a_mistake_in_the_prescription_settings_names_the_run_files_line() {
        let settings = "[prescribe]\nsource = \"s2\"\nn_index = \"ndvi\"\n\
                        [prescribe.settings.grid]\nmin_zone_m2 = 25.0\ncell_size = \"five\"\n\
                        [prescribe.settings.nitrogen]\nmax_rate = 40.0\n";
        let text = format!("{GOOD}{settings}");
        let (line, column) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find("\"five\"").map(|c| (i + 1, c + 1)))
            .unwrap();
        // Far from line 2, where it lies in the table alone.
        assert!(line > 10, "{line}");
        let (_d, p) = write(&text);
        let e = load(&p).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let message = e.to_string();
        assert!(
            message.contains(&format!("line {line}, column {column}")),
            "{message}"
        );
        assert!(message.contains("run.toml") && message.contains("[prescribe.settings]"));
        // An unknown key, on its line too.
        let text = format!("{GOOD}{}", settings.replace("max_rate", "max_rat"));
        let line = text.lines().position(|l| l.starts_with("max_rat")).unwrap() + 1;
        let (_d, p) = write(&text.replace("\"five\"", "5.0"));
        let message = load(&p).unwrap_err().to_string();
        assert!(
            message.contains(&format!("line {line}, column 1")),
            "{message}"
        );
        assert!(message.contains("max_rat"), "{message}");
        // Good settings still load, checked.
        let (_d, p) = write(&format!("{GOOD}{}", settings.replace("\"five\"", "5.0")));
        let loaded = load(&p).unwrap();
        assert_eq!(loaded.rx.grid.cell_size, 5.0);
        assert_eq!(loaded.rx.nitrogen.max_rate, 40.0);
    }
}
