//! The prescription settings (`paddy prescribe --config rx.toml`): every number of the nitrogen
//! and spray rules, with defaults from docs/AGRONOMY.md. Unknown keys are refused with their
//! name, so a typo never silently falls back to a default.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::phenology::stage::{Stage, StageTable};

/// The built-in settings, as a commented TOML file (`paddy prescribe --print-config`).
pub const DEFAULT_CONFIG: &str = r#"# paddy prescribe settings. Every key is optional; these are the defaults.

[grid]
# Cell size of the nitrogen grid, in metres (5 for drones and small plots, 10 for tractors).
cell_size = 5.0
# The machine layers (rx_*_zones) tile each plot exactly: rate cells cut by the plot's
# outline, same-rate neighbours joined; a piece smaller than this (m², one 5 m swath square)
# is merged into its largest neighbour.
min_zone_m2 = 25.0

[nitrogen]
# "sufficiency" (default) or "yield-potential" (needs [nitrogen.yield_potential]).
algorithm = "sufficiency"
# Plots whose field `reference_field` is true / 1 / yes (or, with reference_value, equals that
# text, e.g. reference_field = "role", reference_value = "n_rich") are the N-rich reference;
# without any, the `virtual_percentile` percentile of the index over all plots is the
# (virtual) reference. Of a group's N-rich plots, those within the sufficiency threshold of the
# highest (SI >= threshold against it) make the reference (area-weighted mean); one below is
# short of N or no N-rich strip: left out, rated as a plot, warned about. The plots' id field
# can be the reference_field too (reference_value = "P06").
reference_field = "n_rich"
# reference_value = "n_rich"
virtual_percentile = 95.0
# Plots are compared with the reference of their own group (this field's value: like with
# like, e.g. the same variety, whose canopy differs at the same date). Plots without the field,
# or "" here: one group.
reference_group_field = "variety"
# No N when SI = VI / VI_reference >= threshold. Default by index: 0.97 for NDRE-like red-edge
# indices, 0.96 for NDVI (California rice at panicle initiation, docs/AGRONOMY.md).
# sufficiency_threshold = 0.97
# Below the threshold the N rate rises linearly to max_rate at SI = si_floor.
si_floor = 0.80
# kg N/ha. A rate above 0 but below min_rate is raised to min_rate (a spreader's lowest setting).
min_rate = 10.0
max_rate = 40.0
# The product applied: its name and N share (urea 46 % N), and the applicator's rate step in kg
# of product per ha: rates go to the nearest step that keeps min_rate <= N <= max_rate (settings
# with no such step are refused).
product = "urea"
n_fraction = 0.46
step = 5.0
# Only inside this stage window (the stages' span in days after transplanting, widened by
# margin_days on each side); else rate 0 with the reason.
stages = ["panicle_initiation"]
margin_days = 5.0
# A plot needs this share of its area with a valid index, else it is "not observed"; cells
# without a valid index are not observed either. Not observed is not zero: they get
# default_rate (kg N/ha, through the same rails), and without it no rate at all (no feature in
# the machine layers, nodata in the raster).
min_coverage = 0.5
# default_rate = 20.0

# [nitrogen.yield_potential]
# The sensor-based N rate of Oklahoma State (INSEY = VI / days after transplanting;
# YP0 = a * exp(b * INSEY); RI = min(VI_reference / VI, ri_cap); YPN = min(YP0 * RI, yp_max);
# N = (YPN - YP0) * grain_n / nue). There are NO rice defaults: a, b (fitted to local rice
# yield trials; YP in kg/ha), grain_n (grain N share, ~0.011-0.013 for rice) and nue (~0.4-0.6)
# must be given. Published wheat coefficients are for wheat: do not use them for rice.
# a = ...
# b = ...
# grain_n = 0.012
# nue = 0.5
# yp_max = ...
# ri_cap = 2.0

[spray]
product = "fungicide"
# Cell size of the spray grid (m). Unset: the flight's pixel size, at least 2 m (a cell then
# averages a drone's pixel noise) and at most grid.cell_size, so that small paddies (0.02 ha
# and up) are judged on their own cells.
# cell_size = 1.0
# L/ha inside stress zones, and outside them (0: spot spraying only).
rate = 15.0
preventive_rate = 0.0
# A cell is stressed when its robust z-score against its plot (median, MAD) is <= -z_threshold,
# and/or (with --previous) its index dropped by >= drop_threshold since the previous flight.
z_threshold = 2.0
drop_threshold = 0.10
# true: the drop is against the plot's median change (a healthy canopy grows between flights,
# a stressed patch lags); false: an absolute drop of the index.
drop_relative = true
# "both": low against the plot AND dropped (new stress, not a standing patch such as an
# N-deficient one); "either": one is enough. Without --previous the z-score decides alone.
combine = "both"
# Cleaning: morphological opening of this radius (m; half a 5 m swath: nothing narrower than
# a swath survives), each zone's edge drawn where the index is nearer the zone's than the
# plot's median, zones of at least min_area_m2 of stress (one spray-swath square), then a
# buffer of buffer_m (m), never outside the plot. No buffer by default: a drone's swath and
# drift already reach past a zone's edge, and on seeded seasons with 3–7 m patches a 5 m
# buffer tripled the sprayed area (three quarters of it on healthy crop); set one as a margin
# against a spreading disease. Only cells wholly inside a plot are tested,
# and a plot is judged when such cells with a valid index cover at least a quarter of its area
# (and number 20 or more); else it is "not observed" and gets default_rate (L/ha; unset: no
# rate at all).
opening_m = 2.5
min_area_m2 = 25.0
buffer_m = 0.0
# default_rate = 15.0
# Sheath blight from panicle initiation, blast around booting to heading (docs/AGRONOMY.md).
stages = ["panicle_initiation", "booting", "heading"]
margin_days = 5.0
"#;

/// Where the rate grids go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GridConfig {
    pub cell_size: f64,
    /// Smallest piece of a machine layer, m²: smaller ones join their largest neighbour.
    pub min_zone_m2: f64,
}

impl Default for GridConfig {
    fn default() -> Self {
        GridConfig {
            cell_size: 5.0,
            min_zone_m2: 25.0,
        }
    }
}

/// The nitrogen rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    Sufficiency,
    YieldPotential,
}

/// Coefficients of the yield-potential rule: no defaults for rice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YieldPotential {
    pub a: f64,
    pub b: f64,
    pub grain_n: f64,
    pub nue: f64,
    pub yp_max: f64,
    #[serde(default = "default_ri_cap")]
    pub ri_cap: f64,
}

fn default_ri_cap() -> f64 {
    2.0
}

/// Nitrogen topdress settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NitrogenConfig {
    pub algorithm: Algorithm,
    pub reference_field: String,
    /// With a value: reference plots are those whose `reference_field` equals it (text).
    pub reference_value: Option<String>,
    pub virtual_percentile: f64,
    pub reference_group_field: String,
    pub sufficiency_threshold: Option<f64>,
    pub si_floor: f64,
    pub min_rate: f64,
    pub max_rate: f64,
    pub product: String,
    pub n_fraction: f64,
    pub step: f64,
    pub stages: Vec<String>,
    pub margin_days: f64,
    pub min_coverage: f64,
    /// kg N/ha where nothing was observed; None: no rate there.
    pub default_rate: Option<f64>,
    pub yield_potential: Option<YieldPotential>,
}

impl Default for NitrogenConfig {
    fn default() -> Self {
        NitrogenConfig {
            algorithm: Algorithm::Sufficiency,
            reference_field: "n_rich".into(),
            reference_value: None,
            virtual_percentile: 95.0,
            reference_group_field: "variety".into(),
            sufficiency_threshold: None,
            si_floor: 0.80,
            min_rate: 10.0,
            max_rate: 40.0,
            product: "urea".into(),
            n_fraction: 0.46,
            step: 5.0,
            stages: vec!["panicle_initiation".into()],
            margin_days: 5.0,
            min_coverage: 0.5,
            default_rate: None,
            yield_potential: None,
        }
    }
}

impl NitrogenConfig {
    /// The lowest and highest product rates (kg product/ha) the rails allow: the multiples of
    /// `step` between min_rate and max_rate converted to product (any rate in between without
    /// a step); None when no step fits.
    pub fn product_steps(&self) -> Option<(f64, f64)> {
        let (lo, hi) = (
            self.min_rate / self.n_fraction,
            self.max_rate / self.n_fraction,
        );
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return None;
        }
        if self.step <= 0.0 {
            return Some((lo, hi));
        }
        // A hair of tolerance so that 9.2 kg N of 46 % urea is exactly 20 kg.
        let first = (lo / self.step - 1e-9).ceil() * self.step;
        let last = (hi / self.step + 1e-9).floor() * self.step;
        (first <= last + 1e-9).then_some((first, last))
    }

    /// The sufficiency threshold: configured, else by index (red edge 0.97, NDVI 0.96).
    pub fn threshold_for(&self, index: &str) -> f64 {
        self.sufficiency_threshold.unwrap_or_else(|| {
            let i = index.to_ascii_uppercase();
            if i.contains("NDVI") && !i.contains("RE") {
                0.96
            } else {
                0.97
            }
        })
    }
}

/// How stress criteria combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CombineConfig {
    Either,
    Both,
}

/// Spray zone settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SprayConfig {
    pub product: String,
    pub rate: f64,
    pub preventive_rate: f64,
    pub z_threshold: f64,
    pub drop_threshold: f64,
    pub drop_relative: bool,
    pub combine: CombineConfig,
    pub opening_m: f64,
    pub min_area_m2: f64,
    pub buffer_m: f64,
    pub stages: Vec<String>,
    pub margin_days: f64,
    /// Spray grid cell size (m); None: from the flight's resolution.
    pub cell_size: Option<f64>,
    /// L/ha where nothing was observed; None: no rate there.
    pub default_rate: Option<f64>,
}

impl Default for SprayConfig {
    fn default() -> Self {
        SprayConfig {
            product: "fungicide".into(),
            rate: 15.0,
            preventive_rate: 0.0,
            z_threshold: 2.0,
            drop_threshold: 0.10,
            drop_relative: true,
            combine: CombineConfig::Both,
            opening_m: 2.5,
            min_area_m2: 25.0,
            buffer_m: 0.0,
            stages: vec![
                "panicle_initiation".into(),
                "booting".into(),
                "heading".into(),
            ],
            margin_days: 5.0,
            cell_size: None,
            default_rate: None,
        }
    }
}

/// All prescription settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RxConfig {
    pub grid: GridConfig,
    pub nitrogen: NitrogenConfig,
    pub spray: SprayConfig,
}

impl RxConfig {
    /// Parse and check a settings file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<RxConfig> {
        let config: RxConfig = toml::from_str(text)
            .map_err(|e| Error::usage(format!("{source}: {}", e.to_string().trim_end())))?;
        config.check(source)?;
        Ok(config)
    }

    /// Refuse settings that cannot give a safe prescription.
    pub fn check(&self, source: &str) -> Result<()> {
        let bad = |what: String| Err(Error::usage(format!("{source}: {what}")));
        let n = &self.nitrogen;
        if !(self.grid.cell_size.is_finite() && self.grid.cell_size > 0.0) {
            return bad(format!(
                "grid.cell_size {} must be > 0",
                self.grid.cell_size
            ));
        }
        if !(n.max_rate.is_finite()
            && n.max_rate >= 0.0
            && (0.0..=n.max_rate).contains(&n.min_rate))
        {
            return bad(format!(
                "nitrogen rates need 0 <= min_rate ({}) <= max_rate ({})",
                n.min_rate, n.max_rate
            ));
        }
        if !(n.n_fraction > 0.0 && n.n_fraction <= 1.0) {
            return bad(format!(
                "nitrogen.n_fraction {} must be in (0, 1]",
                n.n_fraction
            ));
        }
        if !(n.step.is_finite() && n.step >= 0.0) {
            return bad(format!("nitrogen.step {} must be >= 0", n.step));
        }
        if n.product_steps().is_none() {
            return bad(format!(
                "no {} rate in steps of {} kg/ha lies between nitrogen.min_rate {} and nitrogen.max_rate {} kg N/ha ({:.2}–{:.2} kg {}/ha): widen the two or change the step",
                n.product,
                n.step,
                n.min_rate,
                n.max_rate,
                n.min_rate / n.n_fraction,
                n.max_rate / n.n_fraction,
                n.product
            ));
        }
        if !(self.grid.min_zone_m2.is_finite() && self.grid.min_zone_m2 >= 0.0) {
            return bad(format!(
                "grid.min_zone_m2 {} must be >= 0",
                self.grid.min_zone_m2
            ));
        }
        if let Some(d) = n.default_rate {
            if !(d.is_finite() && (0.0..=n.max_rate).contains(&d)) {
                return bad(format!(
                    "nitrogen.default_rate {d} must be between 0 and max_rate ({})",
                    n.max_rate
                ));
            }
        }
        if n.reference_value
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            return bad("nitrogen.reference_value is empty".into());
        }
        if let Some(t) = n.sufficiency_threshold {
            if !(t > n.si_floor && t <= 1.5) {
                return bad(format!(
                    "nitrogen.sufficiency_threshold {t} must be above si_floor ({})",
                    n.si_floor
                ));
            }
        }
        if !(n.si_floor > 0.0 && n.si_floor < 0.96) {
            return bad(format!(
                "nitrogen.si_floor {} must be in (0, 0.96)",
                n.si_floor
            ));
        }
        if !(0.0..=100.0).contains(&n.virtual_percentile) {
            return bad(format!(
                "nitrogen.virtual_percentile {} must be 0-100",
                n.virtual_percentile
            ));
        }
        if !(0.0..=1.0).contains(&n.min_coverage) {
            return bad(format!(
                "nitrogen.min_coverage {} must be 0-1",
                n.min_coverage
            ));
        }
        if n.algorithm == Algorithm::YieldPotential {
            match &n.yield_potential {
                None => {
                    return bad(
                        "algorithm = \"yield-potential\" needs [nitrogen.yield_potential] with a, b, grain_n, nue and yp_max for rice: there are no rice defaults (see paddy prescribe --print-config)"
                            .into(),
                    )
                }
                Some(y) if !(y.nue > 0.0 && y.grain_n > 0.0 && y.a > 0.0 && y.yp_max > 0.0 && y.ri_cap >= 1.0) => {
                    return bad("nitrogen.yield_potential needs a, grain_n, nue, yp_max > 0 and ri_cap >= 1".into())
                }
                _ => {}
            }
        }
        let s = &self.spray;
        for (name, v) in [
            ("rate", s.rate),
            ("preventive_rate", s.preventive_rate),
            ("z_threshold", s.z_threshold),
            ("drop_threshold", s.drop_threshold),
            ("opening_m", s.opening_m),
            ("min_area_m2", s.min_area_m2),
            ("buffer_m", s.buffer_m),
            ("margin_days", s.margin_days),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("spray.{name} {v} must be a number >= 0"));
            }
        }
        if let Some(c) = s.cell_size {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("spray.cell_size {c} must be > 0"));
            }
        }
        if let Some(d) = s.default_rate {
            if !(d.is_finite() && d >= 0.0) {
                return bad(format!("spray.default_rate {d} must be a number >= 0"));
            }
        }
        if s.preventive_rate > s.rate {
            return bad(format!(
                "spray.preventive_rate {} is above spray.rate {}",
                s.preventive_rate, s.rate
            ));
        }
        for stage in n.stages.iter().chain(&s.stages) {
            if stage.parse::<Stage>().is_err() {
                return bad(format!(
                    "unknown stage '{stage}' (stages: {})",
                    Stage::ALL
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// A window of growth stages, widened by a margin in days after transplanting.
#[derive(Debug, Clone)]
pub struct StageWindow {
    pub stages: Vec<Stage>,
    pub margin_days: f64,
}

impl StageWindow {
    /// From configured stage names (checked by [`RxConfig::check`]).
    pub fn new(stages: &[String], margin_days: f64) -> StageWindow {
        StageWindow {
            stages: stages
                .iter()
                .filter_map(|s| s.parse::<Stage>().ok())
                .collect(),
            margin_days,
        }
    }

    /// Whether a plot of duration `class`, at `stage` and `dat` days after transplanting, is in
    /// the window, and why not. With a DAT and a class the table knows: the stages' DAT span ±
    /// the margin; else the stage alone.
    pub fn admits(
        &self,
        table: &StageTable,
        class: &str,
        stage: Option<Stage>,
        dat: Option<f64>,
    ) -> std::result::Result<(), NotAdmitted> {
        let names = || {
            self.stages
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let (Some(dat), Some(starts)) = (dat, table.get(class)) {
            let mut span: Option<(f64, f64)> = None;
            for &s in &self.stages {
                if let (Some(from), Some(to)) = (starts.start(s), starts.end_of(s)) {
                    span = Some(span.map_or((from, to), |(a, b)| (a.min(from), b.max(to))));
                }
            }
            if let Some((from, to)) = span {
                let (from, to) = (from - self.margin_days, to + self.margin_days);
                return if (from..to).contains(&dat) {
                    Ok(())
                } else {
                    Err(NotAdmitted::Outside(format!(
                        "{dat:.0} days after transplanting is outside the window ({} ± {:.0} days = {from:.0}–{to:.0} days for {class})",
                        names(),
                        self.margin_days
                    )))
                };
            }
        }
        match stage {
            Some(s) if self.stages.contains(&s) => Ok(()),
            Some(Stage::Unknown) | None => Err(NotAdmitted::UnknownStage),
            Some(s) => Err(NotAdmitted::Outside(format!(
                "stage {} is outside the window ({})",
                s.name(),
                names()
            ))),
        }
    }
}

/// Why a stage window leaves a plot out.
#[derive(Debug, Clone, PartialEq)]
pub enum NotAdmitted {
    /// Neither a known stage nor days after transplanting of a class the table has: nothing
    /// to decide by. Such a plot is treated as not observed (the default rate, or none), never
    /// as outside the window (0).
    UnknownStage,
    /// Outside the window; why, in words.
    Outside(String),
}

impl std::fmt::Display for NotAdmitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAdmitted::UnknownStage => f.write_str("growth stage unknown"),
            NotAdmitted::Outside(why) => f.write_str(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let parsed = RxConfig::parse(DEFAULT_CONFIG, "default").unwrap();
        let built = RxConfig::default();
        assert_eq!(parsed.grid.cell_size, built.grid.cell_size);
        assert_eq!(parsed.nitrogen.max_rate, built.nitrogen.max_rate);
        assert_eq!(parsed.nitrogen.stages, built.nitrogen.stages);
        assert_eq!(parsed.spray.stages, built.spray.stages);
        assert_eq!(parsed.spray.rate, built.spray.rate);
        assert_eq!(parsed.nitrogen.threshold_for("NDREI"), 0.97);
        assert_eq!(parsed.nitrogen.threshold_for("NDVI"), 0.96);
    }

    #[test]
    fn typos_and_unsafe_numbers_are_refused() {
        let e = RxConfig::parse("[nitrogen]\nmax_rat = 3\n", "rx.toml").unwrap_err();
        assert!(e.to_string().contains("max_rat"), "{e}");
        let e = RxConfig::parse("[nitrogen]\nmin_rate = 50\n", "rx.toml").unwrap_err();
        assert!(e.to_string().contains("min_rate"), "{e}");
        let e = RxConfig::parse("[nitrogen]\nalgorithm = \"yield-potential\"\n", "rx.toml")
            .unwrap_err();
        assert!(e.to_string().contains("no rice defaults"), "{e}");
        let e = RxConfig::parse("[spray]\nstages = [\"flowering\"]\n", "rx.toml").unwrap_err();
        assert!(e.to_string().contains("flowering"), "{e}");
    }

    #[test]
    fn rails_without_a_step_between_them_are_refused() {
        // 10–11 kg N/ha of urea is 21.74–23.91 kg/ha: no multiple of 5 in between.
        let e =
            RxConfig::parse("[nitrogen]\nmin_rate = 10\nmax_rate = 11\n", "rx.toml").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Usage(_)), "{text}");
        assert!(
            text.contains("min_rate 10") && text.contains("max_rate 11"),
            "{text}"
        );
        // 10–12 kg N/ha: 25 kg urea (11.5 kg N) fits.
        let ok = RxConfig::parse("[nitrogen]\nmin_rate = 10\nmax_rate = 12\n", "rx.toml").unwrap();
        assert_eq!(ok.nitrogen.product_steps(), Some((25.0, 25.0)));
        // 9.2 kg N is exactly 20 kg urea.
        let ok = RxConfig::parse("[nitrogen]\nmin_rate = 9.2\n", "rx.toml").unwrap();
        assert_eq!(ok.nitrogen.product_steps(), Some((20.0, 85.0)));
    }

    #[test]
    fn the_window_is_the_stage_span_plus_the_margin() {
        let table = StageTable::builtin();
        let w = StageWindow::new(&["panicle_initiation".into()], 5.0);
        // Medium: panicle initiation 40–58 DAT, so 35–63 with the margin.
        assert!(w.admits(&table, "medium", None, Some(35.0)).is_ok());
        assert!(w.admits(&table, "medium", None, Some(62.9)).is_ok());
        let e = w.admits(&table, "medium", None, Some(34.0)).unwrap_err();
        assert!(e.to_string().contains("35–63"), "{e}");
        assert!(w.admits(&table, "medium", None, Some(63.0)).is_err());
        // No DAT: the stage decides.
        assert!(w
            .admits(&table, "x", Some(Stage::PanicleInitiation), None)
            .is_ok());
        assert!(w
            .admits(&table, "medium", Some(Stage::Heading), None)
            .unwrap_err()
            .to_string()
            .contains("heading"));
        assert_eq!(
            w.admits(&table, "medium", Some(Stage::Unknown), None),
            Err(NotAdmitted::UnknownStage)
        );
        assert_eq!(
            w.admits(&table, "no such class", None, Some(40.0)),
            Err(NotAdmitted::UnknownStage)
        );
    }
}
