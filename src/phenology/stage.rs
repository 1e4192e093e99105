//! Rice growth stages: from days after transplanting (DAT) through a per-variety-class table,
//! checked against what the smoothed index curve says (before or after its peak, rising or
//! falling).
//!
//! Two cues, each with its weakness:
//! - **DAT** with a table of stage starts per duration class (short / medium / long, editable):
//!   exact when the transplanting date and the class are right, wrong by weeks when either is
//!   wrong (a replanted field, a variety in the wrong class, an estimated season start).
//! - **The curve**: Sakamoto et al. (2005) take heading as the date of the smoothed EVI maximum
//!   (reported errors ~9–12 days); stages before and after are placed by days from that peak. It
//!   needs a peak that has happened, and it cannot see panicle initiation itself.
//!
//! [`reconcile`] takes the DAT stage when it has one and reports whether the curve agrees; see
//! its documentation for the rule when they disagree.
//!
//! ```
//! use paddy::phenology::stage::{reconcile, stage_from_dat, Agreement, CurveCues, Stage, StageTable};
//! let table = StageTable::builtin();
//! assert_eq!(stage_from_dat(&table, "medium", 45.0), Some(Stage::PanicleInitiation));
//! let cues = CurveCues { days_from_peak: Some(-28.0), slope_per_day: Some(0.01), ..Default::default() };
//! let call = reconcile(&table, "medium", Some(45.0), &cues);
//! assert_eq!((call.stage, call.agreement), (Stage::PanicleInitiation, Agreement::Agree));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A rice growth stage, as `paddy stage` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// No crop: before transplanting or after harvest.
    Fallow,
    /// Seedling, or recovery from transplanting shock (~0–10 DAT).
    Seedling,
    /// Tillering, up to panicle initiation.
    Tillering,
    /// Panicle initiation (PI), up to booting: the nitrogen topdress window.
    PanicleInitiation,
    /// Booting (panicle inside the flag-leaf sheath), up to heading.
    Booting,
    /// Heading and flowering (anthesis).
    Heading,
    /// Grain filling (milk, dough), up to maturity.
    GrainFilling,
    /// Physiological maturity, until harvest.
    Maturity,
    /// Not enough information to say.
    Unknown,
}

impl Stage {
    /// Every stage, in code order 1..=8, then [`Stage::Unknown`] (code 0).
    pub const ALL: [Stage; 9] = [
        Stage::Fallow,
        Stage::Seedling,
        Stage::Tillering,
        Stage::PanicleInitiation,
        Stage::Booting,
        Stage::Heading,
        Stage::GrainFilling,
        Stage::Maturity,
        Stage::Unknown,
    ];

    /// The snake_case name used in tables, CSV and GeoJSON (`panicle_initiation`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fallow => "fallow",
            Stage::Seedling => "seedling",
            Stage::Tillering => "tillering",
            Stage::PanicleInitiation => "panicle_initiation",
            Stage::Booting => "booting",
            Stage::Heading => "heading",
            Stage::GrainFilling => "grain_filling",
            Stage::Maturity => "maturity",
            Stage::Unknown => "unknown",
        }
    }

    /// Words for people (`panicle initiation`, `seedling / recovery`), e.g. chart legends.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Seedling => "seedling / recovery",
            Stage::PanicleInitiation => "panicle initiation",
            Stage::GrainFilling => "grain filling",
            other => other.name(),
        }
    }

    /// Raster code: 1 fallow … 8 maturity in crop order, 0 unknown (the nodata value of a stage
    /// raster with a colour table).
    pub fn code(self) -> u8 {
        match self {
            Stage::Unknown => 0,
            Stage::Fallow => 1,
            Stage::Seedling => 2,
            Stage::Tillering => 3,
            Stage::PanicleInitiation => 4,
            Stage::Booting => 5,
            Stage::Heading => 6,
            Stage::GrainFilling => 7,
            Stage::Maturity => 8,
        }
    }

    /// The stage with raster `code`, or `None` for a code above 8.
    pub fn from_code(code: u8) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Colour-table entry (RGB): browns for no crop and maturity, greens for the vegetative
    /// stages, yellows to amber through the reproductive and ripening stages, grey for unknown.
    pub fn colour(self) -> [u8; 3] {
        match self {
            Stage::Fallow => [140, 110, 85],            // grey-brown soil
            Stage::Seedling => [186, 228, 160],         // pale green
            Stage::Tillering => [65, 171, 93],          // green
            Stage::PanicleInitiation => [173, 221, 60], // yellow-green
            Stage::Booting => [240, 232, 70],           // yellow
            Stage::Heading => [254, 196, 40],           // gold
            Stage::GrainFilling => [236, 142, 40],      // amber
            Stage::Maturity => [166, 102, 38],          // straw brown
            Stage::Unknown => [190, 190, 190],          // grey
        }
    }

    /// Before heading (seedling to booting).
    fn before_heading(self) -> bool {
        matches!(
            self,
            Stage::Seedling | Stage::Tillering | Stage::PanicleInitiation | Stage::Booting
        )
    }

    /// After heading (grain filling, maturity).
    fn after_heading(self) -> bool {
        matches!(self, Stage::GrainFilling | Stage::Maturity)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = Error;

    /// A stage by name, ignoring case, with spaces or hyphens for underscores (`grain filling`),
    /// also `recovery` for seedling and `pi` for panicle initiation.
    fn from_str(text: &str) -> Result<Stage> {
        let key = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let found = match key.as_str() {
            "recovery" | "seedling_/_recovery" => Some(Stage::Seedling),
            "pi" => Some(Stage::PanicleInitiation),
            _ => Stage::ALL.into_iter().find(|s| s.name() == key),
        };
        found.ok_or_else(|| {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
            Error::usage(format!(
                "unknown growth stage '{text}' (known: {})",
                names.join(", ")
            ))
        })
    }
}

/// The comments `paddy stage --print-table` prints above [`DEFAULT_TABLE`]: where its days come
/// from. The days after each `->` are the table's own, filled in by [`printed_table`] (one
/// value, or one per class short / medium / long), so the comments cannot drift from the table.
const TABLE_SOURCES: &str = r#"# Days after transplanting (DAT) at which each rice growth stage starts, per variety duration
# class. Starting points to tune to variety and region (docs/AGRONOMY.md asks that they be
# editable). A stage lasts until the next one starts; `fallow` is when the field is taken to be
# harvested.
#
# From docs/AGRONOMY.md, "Growth stages and timing" (typical transplanted rice), and this
# table's days (short / medium / long where they differ):
#   - recovery ~0-10 DAT                                   -> seedling = {seedling}, tillering = {tillering}
#   - heading ~60-75 DAT depending on variety duration     -> heading = {heading}
#   - PI ~30-35 days before heading (~40-45 DAT, medium)   -> panicle_initiation = heading - {pi_before}
#                                                             ({panicle_initiation}; medium at {medium_pi})
#   - grain filling ~30 days                               -> maturity = heading + {maturity_after}
# Assumptions of general rice phenology, not in AGRONOMY.md (check against local records):
#   - booting starts ~12 days before heading (the curve rule in stage.rs uses 5-12 days)
#                                                          -> booting = heading - {booting_before}
#   - flowering (anthesis) runs ~1 week after heading starts -> grain_filling = heading + {grain_after}
#   - harvest ~15 days after physiological maturity       -> fallow = maturity + {fallow_after}
# Short and long classes differ from medium in the vegetative phase only: recovery (0-10 DAT),
# the reproductive phase
# (panicle initiation ~30 days before heading, booting ~12) and ripening (grain filling from
# heading + 8, maturity at heading + 30, harvest 15 days later) last about the same in every
# variety, while the days from transplanting to panicle initiation make the difference between
# a 100-day and a 140-day crop (docs/AGRONOMY.md, "Growth stages and timing").

"#;

/// The built-in stage table: days after transplanting (DAT) at which each stage starts, per
/// duration class. Users replace or add classes with their own TOML of the same shape
/// ([`printed_table`] prints it with its sources).
pub const DEFAULT_TABLE: &str = r#"[classes.short]    # e.g. OM5451: ~95-105 days seed to seed
seedling = 0
tillering = 10
panicle_initiation = 32
booting = 50
heading = 62
grain_filling = 70
maturity = 92
fallow = 107

[classes.medium]   # e.g. IR64: ~110-120 days seed to seed, transplanted ~20-day seedlings
seedling = 0
tillering = 10
panicle_initiation = 40
booting = 58
heading = 70
grain_filling = 78
maturity = 100
fallow = 115

[classes.long]     # e.g. ST25 and photoperiod-insensitive long varieties: ~125-140 days
seedling = 0
tillering = 10
panicle_initiation = 50
booting = 68
heading = 80
grain_filling = 88
maturity = 110
fallow = 125
"#;

/// The built-in table as `paddy stage --print-table` prints it: its sources as comments, with
/// the table's own days ([`TABLE_SOURCES`]), then [`DEFAULT_TABLE`].
pub fn printed_table() -> String {
    let table = StageTable::builtin();
    let classes: Vec<&StageStarts> = ["short", "medium", "long"]
        .iter()
        .filter_map(|c| table.get(c))
        .collect();
    // One value when every class has it, else each class's.
    let days = |of: &dyn Fn(&StageStarts) -> f64| {
        let values: Vec<String> = classes.iter().map(|c| format!("{}", of(c))).collect();
        if values.windows(2).all(|w| w[0] == w[1]) {
            values.first().cloned().unwrap_or_default()
        } else {
            values.join(" / ")
        }
    };
    let medium_pi = table
        .get("medium")
        .map_or_else(String::new, |m| format!("{}", m.panicle_initiation));
    let fills: [(&str, String); 10] = [
        ("{seedling}", days(&|c| c.seedling)),
        ("{tillering}", days(&|c| c.tillering)),
        ("{heading}", days(&|c| c.heading)),
        ("{pi_before}", days(&|c| c.heading - c.panicle_initiation)),
        ("{panicle_initiation}", days(&|c| c.panicle_initiation)),
        ("{medium_pi}", medium_pi),
        ("{maturity_after}", days(&|c| c.maturity - c.heading)),
        ("{booting_before}", days(&|c| c.heading - c.booting)),
        ("{grain_after}", days(&|c| c.grain_filling - c.heading)),
        ("{fallow_after}", days(&|c| c.fallow - c.maturity)),
    ];
    let mut text = TABLE_SOURCES.to_string();
    for (key, value) in fills {
        text = text.replace(key, &value);
    }
    text + DEFAULT_TABLE
}

/// When each stage starts, in days after transplanting, for one duration class.
/// Stages start in crop order; each lasts until the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageStarts {
    pub seedling: f64,
    pub tillering: f64,
    pub panicle_initiation: f64,
    pub booting: f64,
    pub heading: f64,
    pub grain_filling: f64,
    pub maturity: f64,
    /// After harvest.
    pub fallow: f64,
}

impl StageStarts {
    /// (stage, table key, start DAT) in crop order.
    fn starts(&self) -> [(Stage, &'static str, f64); 8] {
        [
            (Stage::Seedling, "seedling", self.seedling),
            (Stage::Tillering, "tillering", self.tillering),
            (
                Stage::PanicleInitiation,
                "panicle_initiation",
                self.panicle_initiation,
            ),
            (Stage::Booting, "booting", self.booting),
            (Stage::Heading, "heading", self.heading),
            (Stage::GrainFilling, "grain_filling", self.grain_filling),
            (Stage::Maturity, "maturity", self.maturity),
            (Stage::Fallow, "fallow", self.fallow),
        ]
    }

    /// These starts with heading `days` later (earlier when negative): panicle initiation and
    /// every stage after it move, seedling and tillering stay (the vegetative phase makes the
    /// difference between varieties, docs/AGRONOMY.md, "Growth stages and timing"). `days` is
    /// limited so that tillering lasts at least a day.
    pub fn with_heading_moved(&self, days: f64) -> StageStarts {
        let days = days.max(self.tillering + 1.0 - self.panicle_initiation);
        StageStarts {
            panicle_initiation: self.panicle_initiation + days,
            booting: self.booting + days,
            heading: self.heading + days,
            grain_filling: self.grain_filling + days,
            maturity: self.maturity + days,
            fallow: self.fallow + days,
            ..*self
        }
    }

    /// The DAT at which `stage` starts (`fallow`: after harvest); `None` for unknown.
    pub fn start(&self, stage: Stage) -> Option<f64> {
        self.starts()
            .into_iter()
            .find(|(s, _, _)| *s == stage)
            .map(|(_, _, d)| d)
    }

    /// The DAT at which `stage` ends: the start of the next stage (`fallow` never ends).
    pub fn end_of(&self, stage: Stage) -> Option<f64> {
        let starts = self.starts();
        let i = starts.iter().position(|(s, _, _)| *s == stage)?;
        Some(starts.get(i + 1).map_or(f64::INFINITY, |(_, _, d)| *d))
    }

    /// The stage at `dat` days after transplanting: fallow before transplanting (dat < 0) or
    /// before `seedling`, and from `fallow` on; unknown for a non-finite `dat`.
    pub fn stage_at(&self, dat: f64) -> Stage {
        if !dat.is_finite() {
            return Stage::Unknown;
        }
        if dat < 0.0 {
            return Stage::Fallow;
        }
        self.starts()
            .into_iter()
            .rev()
            .find(|(_, _, start)| dat >= *start)
            .map_or(Stage::Fallow, |(s, _, _)| s)
    }

    /// The stage at `dat` days after transplanting when heading was observed `days_from_heading`
    /// days before (negative: heading is that many days ahead). Panicle initiation and the
    /// stages after it are placed by days from heading with this class's offsets from heading:
    /// the reproductive phase (about 30 days from panicle initiation to heading) and ripening
    /// last about the same in every variety, while the vegetative phase makes the difference
    /// between short and long ones (docs/AGRONOMY.md, "Growth stages and timing"). Seedling and
    /// tillering stay placed by `dat`. `dat` may be NaN (no transplanting date): then the
    /// stages before panicle initiation read [`Stage::Tillering`].
    pub fn stage_with_heading(&self, dat: f64, days_from_heading: f64) -> Stage {
        if !days_from_heading.is_finite() {
            return self.stage_at(dat);
        }
        if days_from_heading >= self.panicle_initiation - self.heading {
            return self.stage_at(self.heading + days_from_heading);
        }
        match self.stage_at(dat) {
            s @ (Stage::Fallow | Stage::Seedling) if dat.is_finite() => s,
            _ => Stage::Tillering,
        }
    }

    /// Checks the starts are finite, not negative and strictly increasing in crop order.
    fn check(&self) -> std::result::Result<(), String> {
        let starts = self.starts();
        for (_, key, value) in starts {
            if !value.is_finite() || value < 0.0 {
                return Err(format!(
                    "{key} = {value}: must be a number of days, 0 or more"
                ));
            }
        }
        for pair in starts.windows(2) {
            let ((_, prev_key, prev), (_, key, value)) = (pair[0], pair[1]);
            if value <= prev {
                return Err(format!(
                    "{key} = {value} must be later than {prev_key} = {prev} (stages start in \
                     crop order: seedling, tillering, panicle_initiation, booting, heading, \
                     grain_filling, maturity, fallow)"
                ));
            }
        }
        Ok(())
    }
}

/// Stage starts per duration class (`short`, `medium`, `long`, or any a user adds).
#[derive(Debug, Clone, PartialEq)]
pub struct StageTable {
    classes: BTreeMap<String, StageStarts>,
}

impl StageTable {
    /// The built-in table ([`DEFAULT_TABLE`]).
    pub fn builtin() -> StageTable {
        StageTable::parse(DEFAULT_TABLE, Path::new("(built-in stage table)"))
            .expect("the built-in stage table is valid")
    }

    /// Parses a table written like [`DEFAULT_TABLE`] (`[classes.NAME]` with the eight stage
    /// keys). Unknown or missing keys, and starts that are not strictly increasing in crop
    /// order, are an [`Error::Config`] naming `path`, the class and the key.
    pub fn parse(text: &str, path: &Path) -> Result<StageTable> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        StageTable::from_toml(&table, path)
    }

    /// Builds a table from already-parsed TOML (e.g. a `[stage]` section of a run file) holding
    /// a `classes` table; `path` names the file in errors.
    pub fn from_toml(table: &toml::Table, path: &Path) -> Result<StageTable> {
        let config = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        if let Some(key) = table.keys().find(|k| *k != "classes") {
            return Err(config(format!(
                "unknown key '{key}' in the stage table (expected [classes.NAME] sections)"
            )));
        }
        let Some(classes) = table.get("classes") else {
            return Err(config(
                "the stage table has no [classes.NAME] sections".into(),
            ));
        };
        let Some(classes) = classes.as_table() else {
            return Err(config("'classes' must be a table of classes".into()));
        };
        let mut out = BTreeMap::new();
        for (name, value) in classes {
            let starts = StageStarts::deserialize(value.clone())
                .map_err(|e| config(format!("class '{name}': {}", e.message())))?;
            starts
                .check()
                .map_err(|e| config(format!("class '{name}': {e}")))?;
            out.insert(name.clone(), starts);
        }
        if out.is_empty() {
            return Err(config("the stage table has no classes".into()));
        }
        Ok(StageTable { classes: out })
    }

    /// Adds `other`'s classes, replacing those of the same name (a user's table over the
    /// built-in one).
    pub fn extend(&mut self, other: StageTable) {
        self.classes.extend(other.classes);
    }

    /// This table with `class`'s starts replaced (added when it has none).
    pub fn with_class(&self, class: &str, starts: StageStarts) -> StageTable {
        let mut table = self.clone();
        table.classes.insert(class.to_string(), starts);
        table
    }

    /// The starts of `class` (exact name, else ignoring case and surrounding spaces).
    pub fn get(&self, class: &str) -> Option<&StageStarts> {
        self.classes.get(class).or_else(|| {
            let class = class.trim();
            self.classes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(class))
                .map(|(_, v)| v)
        })
    }

    /// Class names, sorted.
    pub fn class_names(&self) -> impl Iterator<Item = &str> {
        self.classes.keys().map(String::as_str)
    }

    fn known_classes(&self) -> String {
        self.class_names().collect::<Vec<_>>().join(", ")
    }
}

/// The stage at `dat` days after transplanting for duration `class`: `None` for a class not in
/// the table; [`Stage::Fallow`] before transplanting (`dat < 0`); [`Stage::Unknown`] for a
/// non-finite `dat`.
pub fn stage_from_dat(table: &StageTable, class: &str, dat: f64) -> Option<Stage> {
    table.get(class).map(|s| s.stage_at(dat))
}

/// Days from `dat` to the start of heading for `class` (negative once heading has started);
/// `None` for an unknown class or a non-finite `dat`.
pub fn days_to_heading(table: &StageTable, class: &str, dat: f64) -> Option<f64> {
    if !dat.is_finite() {
        return None;
    }
    table.get(class).map(|s| s.heading - dat)
}

/// What the smoothed index curve says at the date of interest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CurveCues {
    /// Days from the season's smoothed maximum (negative before it). Give it only for a peak
    /// that has happened (a maximum at the last valid date of a still-rising curve is not a
    /// peak yet: pass `None`, or the rising slope will say so).
    pub days_from_peak: Option<f64>,
    /// Slope of the smoothed curve at the date, index units per day (NDVI-like 0–1 scale).
    pub slope_per_day: Option<f64>,
    /// Where the smoothed value sits in the season's range: (value − season minimum) /
    /// (maximum − minimum), 0–1. Used to tell a harvested (flat and low) field from a ripening
    /// one when there is no peak to count from.
    pub amplitude_fraction: Option<f64>,
    /// Where the latest clear observation by the date sits in the season's range, on the same
    /// 0–1 scale as `amplitude_fraction` but unsmoothed: a harvest is a step the smoother
    /// spreads over weeks, while one observation of stubble shows it.
    pub last_clear_fraction: Option<f64>,
    /// That latest clear observation as a share of the season's peak value (NDVI-like indices,
    /// positive at the peak): unlike `last_clear_fraction` it does not depend on how deep the
    /// flooded trough before the season was.
    pub last_clear_of_peak: Option<f64>,
    /// Days from that latest clear observation to the date (0 when it is of the date itself).
    /// `None` (an older caller, or unknown): taken as of the date.
    pub last_clear_age: Option<f64>,
    /// `days_from_peak` counts from a top fitted to the observations (unbiased), not from the
    /// smoothed curve's maximum (days early on a rice curve): only then do the stages from
    /// panicle initiation on count from it.
    pub peak_fitted: bool,
}

/// How the two cues relate in a [`StageCall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agreement {
    /// DAT and curve both gave a stage, consistent with each other.
    Agree,
    /// They conflict; the reason says which was taken.
    Disagree,
    /// No usable DAT (no transplanting date, or a class not in the table): curve only.
    CurveOnly,
    /// No usable curve cue: DAT only.
    DatOnly,
    /// Neither: the stage is unknown.
    None,
}

impl Agreement {
    /// snake_case name for tables (`curve_only`).
    pub fn name(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::Disagree => "disagree",
            Agreement::CurveOnly => "curve_only",
            Agreement::DatOnly => "dat_only",
            Agreement::None => "none",
        }
    }
}

impl fmt::Display for Agreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stage of one plot (or pixel) at one date, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct StageCall {
    pub stage: Stage,
    pub agreement: Agreement,
    /// One line for people: the cues, and which was taken when they disagree.
    pub reason: String,
    /// The stage from days after transplanting alone, when there was one.
    pub dat_stage: Option<Stage>,
    /// The stage from the curve alone, when it gave one.
    pub curve_stage: Option<Stage>,
}

/// Curve stage windows, in days from the smoothed maximum (heading ≈ the maximum: Sakamoto et
/// al. 2005, errors ~9–12 days):
/// - heading within ±5 days of the peak (half a Sentinel-2 revisit each side);
/// - booting 5–12 days before (booting starts ~12 days before heading, as in the table);
/// - panicle initiation 12–35 days before (PI ≈ 30–35 days before heading, AGRONOMY.md; the PI
///   stage runs until booting);
/// - tillering 35–60 days before (heading 60–75 DAT and recovery 0–10 DAT put the end of
///   recovery ~50–65 days before heading);
/// - seedling / recovery 60–90 days before; fallow more than 90 days before (before
///   transplanting even for long varieties, heading ~75 DAT);
/// - grain filling up to 30 days after (grain filling ~30 days, AGRONOMY.md);
/// - maturity 30–50 days after; fallow more than 50 days after (harvest ~2–3 weeks after
///   maturity, an assumption), or earlier once the curve is flat and low.
pub const HEADING_WITHIN: f64 = 5.0;
/// See [`HEADING_WITHIN`].
pub const BOOTING_BEFORE: f64 = 12.0;
/// See [`HEADING_WITHIN`].
pub const PI_BEFORE: f64 = 35.0;
/// See [`HEADING_WITHIN`].
pub const TILLERING_BEFORE: f64 = 60.0;
/// See [`HEADING_WITHIN`].
pub const SEASON_BEFORE: f64 = 90.0;
/// See [`HEADING_WITHIN`].
pub const GRAIN_FILLING_AFTER: f64 = 30.0;
/// See [`HEADING_WITHIN`].
pub const HARVEST_AFTER: f64 = 50.0;

/// A slope smaller than this (index units per day) is flat: 0.02 per 10-day revisit, within the
/// noise of a smoothed NDVI series, while a rice canopy rises ~0.01–0.02 per day through
/// tillering (NDVI 0.06 to 0.77 in ~45 days in the sample scene) and falls ~0.01 per day while
/// ripening.
pub const FLAT_SLOPE: f64 = 0.002;

/// A curve below this fraction of its seasonal amplitude is low (the season start/end fractions
/// of TIMESAT-like tools are 0.2–0.5, AGRONOMY.md; paddy's season start uses 0.2).
pub const LOW_FRACTION: f64 = 0.2;

/// A field whose latest clear observation reads at most this fraction of its season's
/// amplitude is harvested: stubble, bare or flooded soil read 0–0.2 of it, a ripe standing
/// crop 0.3–0.6 (a yellowing canopy keeps much of its near-infrared), small paddies' mixed
/// pixels included. Between the two, and above TIMESAT-like season-end fractions (0.2).
pub const HARVESTED_FRACTION: f64 = 0.25;

/// A field whose latest clear observation reads at most this share of its season's peak value
/// is harvested too. The amplitude share alone misses stubble after a long flooding: the deeper
/// the flooded trough the amplitude is measured from, the higher stubble sits in it (up to 0.31
/// with 8–14 days of water before transplanting in `scripts/make-season-truth`), while its share
/// of the peak does not move: 0.35–0.47 of the peak for stubble there, 0.55–0.66 for a ripe
/// standing crop, whatever the flooding. A real ripe crop's NDVI (~0.4–0.55 of a ~0.85 peak,
/// AGRONOMY.md) and stubble's (~0.2–0.35) fall on the same sides of one half.
pub const HARVESTED_OF_PEAK: f64 = 0.5;

/// A standing crop seen after the day the table expects the harvest keeps the field in maturity
/// for at most this many days after that observation: harvest follows ripeness by days to
/// weeks, so with no clear observation since (clouds), the table's fallow stands again.
pub const STANDING_FOR: f64 = 15.0;

/// The cues conflict on the side of the peak when the curve is at least this many days on the
/// other side of it (about Sakamoto's lower error bound, 9 days).
pub const CLEAR_SIDE: f64 = 10.0;

/// The cues also conflict when DAT and the curve place heading more than this many days apart:
/// Sakamoto's 9–12 day error on the peak plus about one revisit.
pub const TIMING_TOLERANCE: f64 = 20.0;

/// Which side of the peak the curve puts the date on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Before,
    Near,
    After,
    Unknown,
}

/// What the curve alone says.
#[derive(Debug, Clone)]
struct CurveReading {
    stage: Stage,
    /// True when the stage is placed by days from a peak; false when it is only a guess from the
    /// slope or level (rising → tillering, falling → grain filling or maturity).
    definite: bool,
    side: Side,
    text: String,
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// The curve's own stage call, or `None` when it says nothing usable.
fn read_curve(cues: &CurveCues) -> Option<CurveReading> {
    let peak = finite(cues.days_from_peak);
    let slope = finite(cues.slope_per_day);
    let fraction = finite(cues.amplitude_fraction);
    let rising = slope.is_some_and(|s| s > FLAT_SLOPE);
    let falling = slope.is_some_and(|s| s < -FLAT_SLOPE);
    let flat_low =
        slope.is_some_and(|s| s.abs() <= FLAT_SLOPE) && fraction.is_some_and(|f| f <= LOW_FRACTION);
    let slope_words = if rising {
        "rising"
    } else if falling {
        "falling"
    } else if slope.is_some() {
        "flat"
    } else {
        "slope unknown"
    };

    if let Some(p) = peak {
        let when = if p < 0.0 {
            format!("{:.0} days before its peak", -p)
        } else {
            format!("{p:.0} days after its peak")
        };
        if p.abs() <= HEADING_WITHIN && rising {
            // A maximum that the curve is still climbing to is not a peak yet.
            return Some(CurveReading {
                stage: Stage::Tillering,
                definite: false,
                side: Side::Before,
                text: "the curve is still rising at its maximum (no peak yet)".into(),
            });
        }
        let (stage, side) = if p < -SEASON_BEFORE {
            (Stage::Fallow, Side::Before)
        } else if p < -TILLERING_BEFORE {
            (Stage::Seedling, Side::Before)
        } else if p < -PI_BEFORE {
            (Stage::Tillering, Side::Before)
        } else if p < -BOOTING_BEFORE {
            (Stage::PanicleInitiation, Side::Before)
        } else if p < -HEADING_WITHIN {
            (Stage::Booting, Side::Before)
        } else if p <= HEADING_WITHIN {
            (Stage::Heading, Side::Near)
        } else if p <= GRAIN_FILLING_AFTER {
            (Stage::GrainFilling, Side::After)
        } else if p > HARVEST_AFTER || flat_low {
            (Stage::Fallow, Side::After)
        } else {
            (Stage::Maturity, Side::After)
        };
        return Some(CurveReading {
            stage,
            definite: true,
            side,
            text: format!("the curve is {when} ({slope_words})"),
        });
    }

    if flat_low {
        return Some(CurveReading {
            stage: Stage::Fallow,
            definite: false,
            side: Side::Unknown,
            text: "the curve is flat and low, with no peak (no canopy)".into(),
        });
    }
    if rising {
        return Some(CurveReading {
            stage: Stage::Tillering,
            definite: false,
            side: Side::Before,
            text: "the curve is rising towards a peak not yet reached (tillering, perhaps as \
                   late as booting)"
                .into(),
        });
    }
    if falling {
        // Past a peak that is not in the series: high still → grain filling, else maturity
        // (in the sample scene NDVI is ~0.7 of its amplitude in grain filling, ~0.45 at
        // maturity).
        let stage = if fraction.is_some_and(|f| f < 0.5) {
            Stage::Maturity
        } else {
            Stage::GrainFilling
        };
        return Some(CurveReading {
            stage,
            definite: false,
            side: Side::After,
            text: "the curve is falling from a peak outside the series".into(),
        });
    }
    None
}

/// The stage at one date from days after transplanting and the curve.
///
/// - **DAT known** (and `class` in the table): the DAT stage, checked against the curve. They
///   *disagree* when (a) the sides of the peak conflict: the DAT stage is before heading
///   (seedling–booting) while the curve is at least [`CLEAR_SIDE`] days past its peak and not
///   rising, or the DAT stage is after heading (grain filling, maturity) while the curve is at
///   least [`CLEAR_SIDE`] days before its peak or still rising with no peak; or (b) both place
///   heading more than [`TIMING_TOLERANCE`] days apart; or (c) the curve is flat and low (no
///   crop) while DAT says panicle initiation to grain filling. On a disagreement **the curve's
///   stage is taken when it is placed by days from a peak** — the peak is observed on this plot,
///   while the DAT stage applies class averages to a date that may be wrong (replanting, a
///   variety in the wrong class, an estimated season start) — and the reason says so and asks
///   for the date and class to be checked. A curve that only rises or falls (no peak) cannot
///   place a stage, so the DAT stage is kept, still marked as a disagreement.
/// - **DAT unknown** (no date, or a class not in the table): the curve alone (windows at
///   [`HEADING_WITHIN`]); with no peak, rising → tillering, falling → grain filling (maturity
///   below half the amplitude), flat and low → fallow.
/// - **Neither**: [`Stage::Unknown`], with the reason.
pub fn reconcile(table: &StageTable, class: &str, dat: Option<f64>, cues: &CurveCues) -> StageCall {
    let call = reconcile_cues(table, class, dat, cues);
    harvest_as_seen(call, table.get(class), finite(dat), cues)
}

/// Harvest is the farmer's day, not the table's: the days counted (after transplanting or
/// after heading) say when a crop is *ripe*, and only an observation says it is *gone*. A
/// call of maturity becomes fallow once the latest clear observation shows the field at its
/// base level (at most [`HARVESTED_FRACTION`] of the season's amplitude, or at most
/// [`HARVESTED_OF_PEAK`] of its peak). A call of fallow after the season stays maturity while
/// that observation still shows the crop — but only when it was taken after the day the table
/// expects the harvest (an observation from before that day shows a standing crop whether or not
/// the harvest has come since, so it says nothing against the table), and for at most
/// [`STANDING_FOR`] days after it.
fn harvest_as_seen(
    mut call: StageCall,
    starts: Option<&StageStarts>,
    dat: Option<f64>,
    cues: &CurveCues,
) -> StageCall {
    let Some(level) = finite(cues.last_clear_fraction) else {
        return call;
    };
    let ripening = match (dat, starts) {
        (Some(d), Some(st)) => d >= st.grain_filling,
        _ => finite(cues.days_from_peak).is_some_and(|p| p >= GRAIN_FILLING_AFTER),
    };
    if !ripening {
        return call;
    }
    // Whether the table already had the field harvested on the observation's day.
    let age = finite(cues.last_clear_age).unwrap_or(0.0).max(0.0);
    let peak = finite(cues.days_from_peak).filter(|_| cues.peak_fitted);
    let seen_after_harvest = match (dat, starts, peak) {
        (Some(d), Some(st), Some(p)) => st.stage_with_heading(d - age, p - age) == Stage::Fallow,
        (Some(d), Some(st), None) => st.stage_at(d - age) == Stage::Fallow,
        (_, _, p) => p
            .or(finite(cues.days_from_peak))
            .is_some_and(|p| p - age > HARVEST_AFTER),
    };
    let of_peak = finite(cues.last_clear_of_peak);
    let harvested = level <= HARVESTED_FRACTION || of_peak.is_some_and(|r| r <= HARVESTED_OF_PEAK);
    let seen = match of_peak {
        Some(r) => format!(
            "{:.0} % of the season's amplitude, {:.0} % of its peak",
            100.0 * level,
            100.0 * r
        ),
        None => format!("{:.0} % of the season's amplitude", 100.0 * level),
    };
    match call.stage {
        Stage::Fallow if !harvested && seen_after_harvest && age <= STANDING_FOR => {
            call.stage = Stage::Maturity;
            call.reason.push_str(&format!(
                "; the latest clear observation still shows the crop ({seen}) after the \
                 expected harvest: maturity until one shows it harvested, or {STANDING_FOR:.0} \
                 days after it"
            ));
        }
        Stage::Maturity if harvested => {
            call.stage = Stage::Fallow;
            call.reason.push_str(&format!(
                "; the latest clear observation shows the field harvested ({seen}): fallow"
            ));
        }
        _ => {}
    }
    call
}

/// [`reconcile`] before harvest is checked against the observations.
fn reconcile_cues(
    table: &StageTable,
    class: &str,
    dat: Option<f64>,
    cues: &CurveCues,
) -> StageCall {
    let curve = read_curve(cues);
    let dat = finite(dat);
    let starts = table.get(class);
    let mut notes = Vec::new();
    if dat.is_some() && starts.is_none() {
        notes.push(format!(
            "duration class '{class}' is not in the stage table (known: {}), so days after \
             transplanting were not used",
            table.known_classes()
        ));
    }
    let dat_call = match (dat, starts) {
        (Some(d), Some(s)) => Some((d, s, s.stage_at(d))),
        _ => None,
    };
    match (dat_call, curve) {
        (None, None) => {
            let mut why = if dat.is_none() {
                "no transplanting date".to_string()
            } else {
                notes.remove(0)
            };
            why.push_str(
                ", and the curve gives no cue (no peak, and no clear slope or low flat level)",
            );
            StageCall {
                stage: Stage::Unknown,
                agreement: Agreement::None,
                reason: why,
                dat_stage: None,
                curve_stage: None,
            }
        }
        (None, Some(c)) => {
            let lead = notes
                .pop()
                .unwrap_or_else(|| "no transplanting date".to_string());
            curve_only(&lead, &c, starts, cues)
        }
        (Some((d, _, s)), None) => StageCall {
            stage: s,
            agreement: Agreement::DatOnly,
            reason: format!(
                "{d:.0} days after transplanting ({class}): {}; the curve gives no cue",
                s.name()
            ),
            dat_stage: Some(s),
            curve_stage: None,
        },
        (Some((d, starts, s)), Some(c)) => dat_and_curve(class, d, starts, s, &c, cues),
    }
}

/// No usable days after transplanting (`lead` says why): the curve's stage, counted from its
/// observed heading from panicle initiation on when the class is known.
fn curve_only(
    lead: &str,
    c: &CurveReading,
    starts: Option<&StageStarts>,
    cues: &CurveCues,
) -> StageCall {
    let source = if c.definite {
        " (heading ≈ the top of the observations, Sakamoto et al. 2005)"
    } else {
        ""
    };
    // From panicle initiation on, the class's offsets from the observed heading.
    let stage = match (finite(cues.days_from_peak), starts) {
        (Some(p), Some(st))
            if c.definite
                && cues.peak_fitted
                && c.stage != Stage::Fallow
                && p >= st.panicle_initiation - st.heading =>
        {
            st.stage_with_heading(f64::NAN, p)
        }
        _ => c.stage,
    };
    StageCall {
        stage,
        agreement: Agreement::CurveOnly,
        reason: format!("{lead}; {}: {}{source}", c.text, stage.name()),
        dat_stage: None,
        curve_stage: Some(c.stage),
    }
}

/// Day `d` after transplanting gives stage `s` by the class's `starts`; check it against the
/// curve `c` (see [`reconcile`]).
fn dat_and_curve(
    class: &str,
    d: f64,
    starts: &StageStarts,
    s: Stage,
    c: &CurveReading,
    cues: &CurveCues,
) -> StageCall {
    let dat_words = format!("{d:.0} days after transplanting ({class})");
    let peak = finite(cues.days_from_peak);
    // With heading observed on this plot, the stages from panicle initiation on count
    // from it rather than from the class's average heading day.
    let placed = match peak {
        Some(p) if c.definite && cues.peak_fitted => starts.stage_with_heading(d, p),
        _ => s,
    };
    let placed_words = if placed == s {
        String::new()
    } else {
        format!(" ({} counting from the observed heading)", placed.name())
    };
    let rising = finite(cues.slope_per_day).is_some_and(|v| v > FLAT_SLOPE);
    let side_conflict = match (c.side, peak) {
        (Side::After, Some(p)) => s.before_heading() && p >= CLEAR_SIDE && !rising,
        (Side::After, None) => s.before_heading(),
        (Side::Before, Some(p)) => s.after_heading() && p <= -CLEAR_SIDE,
        (Side::Before, None) => s.after_heading(),
        _ => false,
    };
    // Heading placed by DAT: (dat - heading start) days after heading; by the curve:
    // p days after the peak.
    let timing_gap = match peak {
        Some(p) if c.definite => Some((d - starts.heading) - p),
        _ => None,
    };
    let timing_conflict = timing_gap.is_some_and(|g| g.abs() > TIMING_TOLERANCE);
    let no_crop_conflict = c.stage == Stage::Fallow
        && !c.definite
        && matches!(
            s,
            Stage::PanicleInitiation | Stage::Booting | Stage::Heading | Stage::GrainFilling
        );
    if !(side_conflict || timing_conflict || no_crop_conflict) {
        let agrees = if c.stage == s {
            "agrees".to_string()
        } else {
            format!("is consistent ({})", c.stage.name())
        };
        return StageCall {
            stage: placed,
            agreement: Agreement::Agree,
            reason: format!(
                "{dat_words}: {}{placed_words}; {} and {agrees}",
                s.name(),
                c.text
            ),
            dat_stage: Some(s),
            curve_stage: Some(c.stage),
        };
    }
    let gap_words = match timing_gap {
        Some(g) if timing_conflict && !side_conflict => {
            format!(" (they place heading {:.0} days apart)", g.abs())
        }
        _ => String::new(),
    };
    let (stage, taken) = if c.definite {
        (placed, "taking the observed heading")
    } else {
        (
            s,
            "keeping days after transplanting, as the curve has no peak to count from",
        )
    };
    StageCall {
        stage,
        agreement: Agreement::Disagree,
        reason: format!(
            "{} ({}) but {dat_words} would be {}{gap_words}: {taken}; check the \
             transplanting date and the duration class",
            c.text,
            c.stage.name(),
            s.name()
        ),
        dat_stage: Some(s),
        curve_stage: Some(c.stage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> StageTable {
        StageTable::builtin()
    }

    /// The printed table's comments give the days of the table beneath them, and it reads
    /// back as the built-in table.
    #[test]
    fn the_printed_comments_agree_with_the_table() {
        let text = printed_table();
        let read = StageTable::parse(&text, Path::new("printed")).unwrap();
        assert_eq!(read, table());
        let t = table();
        let per_class = |of: fn(&StageStarts) -> f64| {
            ["short", "medium", "long"]
                .map(|c| of(t.get(c).unwrap()).to_string())
                .join(" / ")
        };
        for said in [
            format!("-> heading = {}\n", per_class(|c| c.heading)),
            format!("({}; medium at 40)", per_class(|c| c.panicle_initiation)),
            "-> panicle_initiation = heading - 30\n".to_string(),
            "-> maturity = heading + 30\n".to_string(),
            "-> booting = heading - 12\n".to_string(),
            "-> grain_filling = heading + 8\n".to_string(),
            "-> fallow = maturity + 15\n".to_string(),
            "-> seedling = 0, tillering = 10\n".to_string(),
        ] {
            assert!(text.contains(&said), "'{said}' not in:\n{text}");
        }
        assert!(!text.contains('{'), "a placeholder left:\n{text}");
    }

    fn cues(peak: Option<f64>, slope: Option<f64>) -> CurveCues {
        CurveCues {
            days_from_peak: peak,
            slope_per_day: slope,
            amplitude_fraction: None,
            last_clear_fraction: None,
            last_clear_of_peak: None,
            last_clear_age: None,
            peak_fitted: true,
        }
    }

    #[test]
    fn names_codes_colours() {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "fallow",
                "seedling",
                "tillering",
                "panicle_initiation",
                "booting",
                "heading",
                "grain_filling",
                "maturity",
                "unknown"
            ]
        );
        let codes: Vec<u8> = Stage::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8, 0]);
        for s in Stage::ALL {
            assert_eq!(Stage::from_code(s.code()), Some(s));
            assert_eq!(s.name().parse::<Stage>().unwrap(), s);
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(Stage::from_code(9), None);
        assert_eq!(
            "Grain filling".parse::<Stage>().unwrap(),
            Stage::GrainFilling
        );
        assert_eq!("recovery".parse::<Stage>().unwrap(), Stage::Seedling);
        assert!("ripening".parse::<Stage>().is_err());
        let mut colours: Vec<[u8; 3]> = Stage::ALL.iter().map(|s| s.colour()).collect();
        colours.sort();
        colours.dedup();
        assert_eq!(colours.len(), 9, "every stage has its own colour");
        // Vegetative stages are green-dominant; fallow and maturity are brown (red > green > blue).
        for s in [Stage::Seedling, Stage::Tillering] {
            let [r, g, b] = s.colour();
            assert!(g > r && g > b, "{s}");
        }
        for s in [Stage::Fallow, Stage::Maturity] {
            let [r, g, b] = s.colour();
            assert!(r > g && g > b, "{s}");
        }
    }

    #[test]
    fn builtin_table_has_three_classes_in_order() {
        let t = table();
        assert_eq!(
            t.class_names().collect::<Vec<_>>(),
            ["long", "medium", "short"]
        );
        let m = t.get("medium").unwrap();
        assert_eq!(m.heading, 70.0);
        assert_eq!(m.panicle_initiation, 40.0);
        assert_eq!(m.start(Stage::Fallow), Some(115.0));
        assert_eq!(m.start(Stage::Unknown), None);
        // AGRONOMY.md for medium: heading 60–75 DAT, PI 30–35 days before heading, grain
        // filling ~30 days, recovery ~10 days.
        assert!((60.0..=75.0).contains(&m.heading));
        assert!((30.0..=35.0).contains(&(m.heading - m.panicle_initiation)));
        assert_eq!(m.maturity - m.heading, 30.0);
        assert_eq!(m.tillering, 10.0);
        // Short and long: recovery, the reproductive phase and ripening as medium's; only the
        // vegetative phase differs.
        for class in ["short", "long"] {
            let s = t.get(class).unwrap();
            assert_eq!(s.tillering, m.tillering, "{class}");
            for (a, b) in [
                (
                    s.heading - s.panicle_initiation,
                    m.heading - m.panicle_initiation,
                ),
                (s.heading - s.booting, m.heading - m.booting),
                (s.grain_filling - s.heading, m.grain_filling - m.heading),
                (s.maturity - s.heading, m.maturity - m.heading),
                (s.fallow - s.maturity, m.fallow - m.maturity),
            ] {
                assert_eq!(a, b, "{class}");
            }
        }
        assert!(t.get("short").unwrap().heading < m.heading);
        assert!(t.get("long").unwrap().heading > m.heading);
        assert!(t.get("Medium ").is_some());
        assert!(t.get("ultra").is_none());
    }

    #[test]
    fn the_observed_heading_places_the_reproductive_stages() {
        let m = *StageTable::builtin().get("medium").unwrap();
        // 45 DAT is panicle initiation by the table; heading seen 3 days ago makes it heading.
        assert_eq!(m.stage_at(45.0), Stage::PanicleInitiation);
        assert_eq!(m.stage_with_heading(45.0, 3.0), Stage::Heading);
        assert_eq!(m.stage_with_heading(45.0, 10.0), Stage::GrainFilling);
        // Heading 20 days ahead: booting starts 12 days before, so panicle initiation.
        assert_eq!(m.stage_with_heading(45.0, -20.0), Stage::PanicleInitiation);
        // More than 30 days ahead: before panicle initiation, by DAT (seedling or tillering).
        assert_eq!(m.stage_with_heading(45.0, -40.0), Stage::Tillering);
        assert_eq!(m.stage_with_heading(5.0, -60.0), Stage::Seedling);
        assert_eq!(m.stage_with_heading(f64::NAN, -60.0), Stage::Tillering);
        assert_eq!(m.stage_with_heading(30.0, f64::NAN), Stage::Tillering);
        // Harvested 45 days after heading.
        assert_eq!(m.stage_with_heading(120.0, 46.0), Stage::Fallow);
    }

    #[test]
    fn thresholds_from_the_table() {
        let t = table();
        let at = |class: &str, dat: f64| stage_from_dat(&t, class, dat).unwrap();
        assert_eq!(at("medium", -3.0), Stage::Fallow);
        assert_eq!(at("medium", 0.0), Stage::Seedling);
        assert_eq!(at("medium", 9.9), Stage::Seedling);
        assert_eq!(at("medium", 10.0), Stage::Tillering);
        assert_eq!(at("medium", 39.0), Stage::Tillering);
        assert_eq!(at("medium", 40.0), Stage::PanicleInitiation);
        assert_eq!(at("medium", 58.0), Stage::Booting);
        assert_eq!(at("medium", 70.0), Stage::Heading);
        assert_eq!(at("medium", 78.0), Stage::GrainFilling);
        assert_eq!(at("medium", 100.0), Stage::Maturity);
        assert_eq!(at("medium", 115.0), Stage::Fallow);
        assert_eq!(at("short", 65.0), Stage::Heading);
        assert_eq!(at("long", 70.0), Stage::Booting);
        assert_eq!(at("medium", f64::NAN), Stage::Unknown);
        assert_eq!(stage_from_dat(&t, "ultra", 50.0), None);
        assert_eq!(days_to_heading(&t, "medium", 45.0), Some(25.0));
        assert_eq!(days_to_heading(&t, "short", 65.0), Some(-3.0));
        assert_eq!(days_to_heading(&t, "ultra", 45.0), None);
        assert_eq!(days_to_heading(&t, "medium", f64::NAN), None);
    }

    /// The sample scene's labelled dates for its medium plot (transplanted 2026-06-02, see
    /// sample_tiles/README.md "Dates and stages"), and its statement that on 2026-08-16 the
    /// short plots (71–79 DAT) are already in grain filling.
    #[test]
    fn sample_scene_labels() {
        let t = table();
        for (dat, want) in [
            (5.0, Stage::Seedling),
            (25.0, Stage::Tillering),
            (24.0, Stage::Tillering),
            (45.0, Stage::PanicleInitiation),
            (46.0, Stage::PanicleInitiation),
            (75.0, Stage::Heading),
            (73.0, Stage::Heading),
            (95.0, Stage::GrainFilling),
        ] {
            assert_eq!(stage_from_dat(&t, "medium", dat), Some(want), "{dat}");
        }
        for dat in 71..=79 {
            assert_eq!(
                stage_from_dat(&t, "short", f64::from(dat)),
                Some(Stage::GrainFilling)
            );
        }
    }

    #[test]
    fn user_tables_parse_and_extend() {
        let text = r#"
            [classes.medium]
            seedling = 0
            tillering = 12
            panicle_initiation = 42.5
            booting = 60
            heading = 72
            grain_filling = 80
            maturity = 102
            fallow = 118

            [classes.very_long]
            seedling = 0
            tillering = 10
            panicle_initiation = 55
            booting = 75
            heading = 88
            grain_filling = 95
            maturity = 120
            fallow = 140
        "#;
        let user = StageTable::parse(text, Path::new("stages.toml")).unwrap();
        assert_eq!(user.get("medium").unwrap().panicle_initiation, 42.5);
        let mut t = table();
        t.extend(user);
        assert_eq!(
            t.class_names().collect::<Vec<_>>(),
            ["long", "medium", "short", "very_long"]
        );
        assert_eq!(t.get("medium").unwrap().tillering, 12.0);
        assert_eq!(stage_from_dat(&t, "very_long", 80.0), Some(Stage::Booting));
    }

    #[test]
    fn bad_tables_name_class_and_key() {
        let good = DEFAULT_TABLE;
        let typo = good.replacen("\ntillering = 10", "\ntilering = 10", 1);
        let e = StageTable::parse(&typo, Path::new("stages.toml")).unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
        let msg = e.to_string();
        assert!(
            msg.starts_with("stages.toml: class 'short'") && msg.contains("tilering"),
            "{msg}"
        );

        let order = good.replacen("panicle_initiation = 40", "panicle_initiation = 8", 1);
        let msg = StageTable::parse(&order, Path::new("stages.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("class 'medium'")
                && msg.contains("panicle_initiation = 8 must be later than tillering = 10"),
            "{msg}"
        );

        let equal = good.replacen("grain_filling = 88", "grain_filling = 80", 1);
        let msg = StageTable::parse(&equal, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("class 'long'")
                && msg.contains("grain_filling = 80 must be later than heading = 80"),
            "{msg}"
        );

        let missing = good.replacen("fallow = 107\n", "", 1);
        let msg = StageTable::parse(&missing, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("class 'short'") && msg.contains("fallow"),
            "{msg}"
        );

        for (text, says) in [
            ("[stages.medium]\nseedling = 0\n", "unknown key 'stages'"),
            ("title = 1\n", "unknown key 'title'"),
            ("", "no [classes.NAME]"),
            ("classes = 3\n", "must be a table"),
            ("[classes.x]\nseedling = \"zero\"\n", "class 'x'"),
            ("[classes\n", "s.toml: "),
        ] {
            let msg = StageTable::parse(text, Path::new("s.toml"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(says), "{text:?}: {msg}");
        }
        let negative = good.replacen("\nseedling = 0", "\nseedling = -5", 1);
        let msg = StageTable::parse(&negative, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("seedling = -5"), "{msg}");
    }

    #[test]
    fn reconcile_agrees() {
        let t = table();
        // PI by DAT, 28 days before the peak and rising by the curve.
        let call = reconcile(&t, "medium", Some(45.0), &cues(Some(-28.0), Some(0.012)));
        assert_eq!(call.stage, Stage::PanicleInitiation);
        assert_eq!(call.agreement, Agreement::Agree);
        assert_eq!(call.curve_stage, Some(Stage::PanicleInitiation));
        assert!(
            call.reason.contains("45 days after transplanting (medium)"),
            "{}",
            call.reason
        );
        // Adjacent stages within the timing tolerance still agree: booting by DAT (68), heading
        // by the curve (peak 1 day ago); the stage counts from the observed heading.
        let call = reconcile(&t, "medium", Some(68.0), &cues(Some(1.0), Some(0.0)));
        assert_eq!(
            (call.stage, call.agreement, call.dat_stage),
            (Stage::Heading, Agreement::Agree, Some(Stage::Booting))
        );
        assert!(
            call.reason.contains("consistent (heading)")
                && call
                    .reason
                    .contains("heading counting from the observed heading"),
            "{}",
            call.reason
        );
        // A rising curve with no peak agrees with any stage before heading.
        let call = reconcile(&t, "short", Some(20.0), &cues(None, Some(0.015)));
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Tillering, Agreement::Agree)
        );
        // Seedling on a flat low curve is normal.
        let flat_low = CurveCues {
            slope_per_day: Some(0.0005),
            amplitude_fraction: Some(0.05),
            ..Default::default()
        };
        let call = reconcile(&t, "medium", Some(4.0), &flat_low);
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Seedling, Agreement::Agree)
        );
    }

    #[test]
    fn reconcile_disagrees() {
        let t = table();
        // DAT says booting (60), but the curve peaked 15 days ago and is falling: the curve's
        // grain filling is taken.
        let call = reconcile(&t, "medium", Some(60.0), &cues(Some(15.0), Some(-0.008)));
        assert_eq!(call.agreement, Agreement::Disagree);
        assert_eq!(call.stage, Stage::GrainFilling);
        assert_eq!(call.dat_stage, Some(Stage::Booting));
        assert!(
            call.reason.contains("taking the observed heading")
                && call.reason.contains("would be booting")
                && call.reason.contains("check the transplanting date"),
            "{}",
            call.reason
        );
        // DAT says grain filling but the curve is 20 days before its peak: PI by the curve.
        let call = reconcile(&t, "short", Some(70.0), &cues(Some(-20.0), Some(0.01)));
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::PanicleInitiation, Agreement::Disagree)
        );
        // Same side of the peak, but heading placed 37 days apart: tillering by DAT (25), booting
        // by the curve (8 days before its peak): the curve is taken.
        let call = reconcile(&t, "medium", Some(25.0), &cues(Some(-8.0), Some(0.004)));
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Booting, Agreement::Disagree)
        );
        assert!(call.reason.contains("37 days apart"), "{}", call.reason);
        // Falling with no peak while DAT says tillering: DAT is kept, marked as a disagreement.
        let call = reconcile(&t, "medium", Some(30.0), &cues(None, Some(-0.01)));
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Tillering, Agreement::Disagree)
        );
        assert!(
            call.reason.contains("keeping days after transplanting"),
            "{}",
            call.reason
        );
        // Flat and low (no crop) while DAT says heading.
        let flat_low = CurveCues {
            slope_per_day: Some(0.0),
            amplitude_fraction: Some(0.1),
            ..Default::default()
        };
        let call = reconcile(&t, "medium", Some(72.0), &flat_low);
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Heading, Agreement::Disagree)
        );
        // A peak 10+ days ago but the curve rising again: not a side conflict by itself; the
        // stage counts from the observed heading.
        let call = reconcile(&t, "medium", Some(65.0), &cues(Some(12.0), Some(0.01)));
        assert_eq!(call.stage, Stage::GrainFilling);
        assert_eq!(call.agreement, Agreement::Agree);
    }

    #[test]
    fn reconcile_curve_only() {
        let t = table();
        let only = |p: Option<f64>, s: Option<f64>| reconcile(&t, "medium", None, &cues(p, s));
        for (p, want) in [
            (-100.0, Stage::Fallow),
            (-70.0, Stage::Seedling),
            (-45.0, Stage::Tillering),
            (-30.0, Stage::PanicleInitiation),
            (-25.0, Stage::PanicleInitiation),
            (-8.0, Stage::Booting),
            (-4.0, Stage::Booting),
            (5.0, Stage::Heading),
            (20.0, Stage::GrainFilling),
            (40.0, Stage::Maturity),
            (60.0, Stage::Fallow),
        ] {
            let call = only(Some(p), Some(0.0));
            assert_eq!(call.stage, want, "{p}");
            assert_eq!(call.agreement, Agreement::CurveOnly);
            assert_eq!(call.dat_stage, None);
        }
        let call = only(Some(0.0), None);
        assert_eq!(call.stage, Stage::Heading);
        assert!(call.reason.contains("no transplanting date") && call.reason.contains("Sakamoto"));
        // Still rising at its maximum: not heading.
        assert_eq!(only(Some(0.0), Some(0.01)).stage, Stage::Tillering);
        assert_eq!(only(None, Some(0.01)).stage, Stage::Tillering);
        assert_eq!(only(None, Some(-0.01)).stage, Stage::GrainFilling);
        let ripe = CurveCues {
            slope_per_day: Some(-0.01),
            amplitude_fraction: Some(0.4),
            ..Default::default()
        };
        assert_eq!(reconcile(&t, "medium", None, &ripe).stage, Stage::Maturity);
        // Harvested: after maturity, flat and low.
        let harvested = CurveCues {
            days_from_peak: Some(35.0),
            slope_per_day: Some(-0.001),
            amplitude_fraction: Some(0.1),
            last_clear_fraction: None,
            last_clear_of_peak: None,
            last_clear_age: None,
            peak_fitted: true,
        };
        assert_eq!(
            reconcile(&t, "medium", None, &harvested).stage,
            Stage::Fallow
        );
        // A class not in the table: DAT is set aside, said in the reason.
        let call = reconcile(&t, "ultra", Some(45.0), &cues(Some(-28.0), None));
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::PanicleInitiation, Agreement::CurveOnly)
        );
        assert!(
            call.reason
                .contains("'ultra' is not in the stage table (known: long, medium, short)"),
            "{}",
            call.reason
        );
    }

    #[test]
    fn harvest_is_what_the_observations_show() {
        let t = table();
        let with_level = |level: Option<f64>| CurveCues {
            days_from_peak: Some(36.0),
            slope_per_day: Some(-0.004),
            amplitude_fraction: Some(0.3),
            last_clear_fraction: level,
            last_clear_of_peak: None,
            last_clear_age: None,
            peak_fitted: true,
        };
        // 116 days after a medium transplanting, 46 after the observed heading, is past the
        // table's harvest (115 days, or 45 after heading)...
        let counted = reconcile(
            &t,
            "medium",
            Some(116.0),
            &CurveCues {
                days_from_peak: Some(46.0),
                ..with_level(None)
            },
        );
        assert_eq!(counted.stage, Stage::Fallow);
        // ...but a standing crop in the latest clear observation keeps it at maturity,
        let late = |level| CurveCues {
            days_from_peak: Some(46.0),
            ..with_level(level)
        };
        let standing = reconcile(&t, "medium", Some(116.0), &late(Some(0.4)));
        assert_eq!(standing.stage, Stage::Maturity);
        assert!(
            standing.reason.contains("still shows the crop (40 %"),
            "{}",
            standing.reason
        );
        // An observation from before the expected harvest (3 days old: 43 days after heading)
        // says nothing against it.
        let old = CurveCues {
            last_clear_age: Some(3.0),
            ..late(Some(0.4))
        };
        assert_eq!(
            reconcile(&t, "medium", Some(116.0), &old).stage,
            Stage::Fallow
        );
        // and stubble ends the season before the table does.
        let gone = reconcile(&t, "medium", Some(105.0), &with_level(Some(0.1)));
        assert_eq!(gone.stage, Stage::Fallow);
        assert!(
            gone.reason.contains("shows the field harvested"),
            "{}",
            gone.reason
        );
        // Stubble after a long flooding sits higher in the amplitude than the flooded trough
        // it is measured from, but well under half the season's peak...
        let peak_share = |level, of_peak| CurveCues {
            last_clear_of_peak: Some(of_peak),
            ..with_level(Some(level))
        };
        let stubble = reconcile(&t, "medium", Some(105.0), &peak_share(0.3, 0.4));
        assert_eq!(stubble.stage, Stage::Fallow);
        assert!(
            stubble
                .reason
                .contains("(30 % of the season's amplitude, 40 % of its peak)"),
            "{}",
            stubble.reason
        );
        // ...while a ripe crop at the same amplitude share keeps more than half its peak.
        assert_eq!(
            reconcile(&t, "medium", Some(105.0), &peak_share(0.3, 0.6)).stage,
            Stage::Maturity
        );
        // A standing crop seen after the expected harvest holds maturity for STANDING_FOR days
        // after that observation; with none clear since, the table's fallow stands again.
        let seen_ago = |age: f64| CurveCues {
            days_from_peak: Some(46.0 + age),
            last_clear_age: Some(age),
            ..late(Some(0.4))
        };
        let held = reconcile(
            &t,
            "medium",
            Some(116.0 + STANDING_FOR),
            &seen_ago(STANDING_FOR),
        );
        assert_eq!(held.stage, Stage::Maturity, "{}", held.reason);
        let lapsed = reconcile(
            &t,
            "medium",
            Some(117.0 + STANDING_FOR),
            &seen_ago(STANDING_FOR + 1.0),
        );
        assert_eq!(lapsed.stage, Stage::Fallow, "{}", lapsed.reason);
        // At the boundary the field counts as harvested.
        let edge = reconcile(
            &t,
            "medium",
            Some(105.0),
            &with_level(Some(HARVESTED_FRACTION)),
        );
        assert_eq!(edge.stage, Stage::Fallow);
        // Before the crop (a flooded field reads low too) nothing changes.
        let early = reconcile(
            &t,
            "medium",
            Some(-3.0),
            &CurveCues {
                days_from_peak: None,
                ..with_level(Some(0.6))
            },
        );
        assert_eq!(early.stage, Stage::Fallow);
        // Nor during the season: a low reading in grain filling is not a harvest by itself.
        let filling = reconcile(
            &t,
            "medium",
            Some(85.0),
            &CurveCues {
                days_from_peak: Some(12.0),
                ..with_level(Some(0.1))
            },
        );
        assert_eq!(filling.stage, Stage::GrainFilling);
    }

    #[test]
    fn reconcile_dat_only_and_unknown() {
        let t = table();
        let call = reconcile(&t, "long", Some(50.0), &CurveCues::default());
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::PanicleInitiation, Agreement::DatOnly)
        );
        // A flat curve that is not low says nothing.
        let call = reconcile(&t, "long", Some(50.0), &cues(None, Some(0.0)));
        assert_eq!(call.agreement, Agreement::DatOnly);

        let call = reconcile(&t, "medium", None, &CurveCues::default());
        assert_eq!(
            (call.stage, call.agreement),
            (Stage::Unknown, Agreement::None)
        );
        assert!(
            call.reason.starts_with("no transplanting date"),
            "{}",
            call.reason
        );
        let call = reconcile(
            &t,
            "medium",
            Some(f64::NAN),
            &cues(Some(f64::NAN), Some(f64::NAN)),
        );
        assert_eq!(call.stage, Stage::Unknown);
        let call = reconcile(&t, "ultra", Some(45.0), &CurveCues::default());
        assert_eq!(call.stage, Stage::Unknown);
        assert!(
            call.reason.contains("'ultra' is not in the stage table"),
            "{}",
            call.reason
        );
    }
}
