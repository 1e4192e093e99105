//! What a scene's well-dated plots say about the others: a first pass over every plot
//! measures, on the plots whose transplanting date is known well,
//!
//! - how many days after transplanting the water signal of the flooding ends (the young canopy
//!   overtaking the water, [`crate::phenology::flooding::Transplanting::canopy`]): a second pass
//!   dates the plots whose onset of flooding fell in a cloud gap with it
//!   ([`crate::phenology::flooding::with_canopy`]);
//! - how many days after the onset of flooding the plots with a recorded date were transplanted
//!   (the puddling lead): the second pass dates the plots by their onset with it
//!   ([`crate::phenology::flooding::with_lead`]) in place of the general few days;
//! - how many days after transplanting each duration class headed: where that differs from the
//!   stage table by [`MIN_HEADING_SHIFT`] days or more, the second pass places every plot of the
//!   class with the class's stages moved by the difference
//!   ([`crate::phenology::stage::StageStarts::with_heading_moved`]).
//!
//! One scene shares its water, its weather and, mostly, its varieties, so its own plots are a
//! better yardstick than a number from the literature: the water shows through the young crop
//! for "three to five weeks" in general, and heading comes 60 to 75 days after transplanting
//! depending on the variety (docs/AGRONOMY.md), which dates nothing to a revisit.

use crate::phenology::flooding::{self, PUDDLING_LEAD_DAYS};
use crate::phenology::stage::StageTable;

use super::analyse::PlotStage;

/// What a first pass over a scene's plots measured on the plots whose transplanting is known
/// well ([`calibrate`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// Days from transplanting to the end of the water signal.
    pub lags: Vec<CanopyLag>,
    /// Days from transplanting to heading, per class with enough well-dated plots.
    pub headings: Vec<HeadingLag>,
    /// Days from the onset of flooding to transplanting, on the plots with a recorded date.
    pub lead: Option<PuddlingLead>,
    /// When the scene's well-dated plots were transplanted.
    pub planted: Option<Planted>,
}

/// The first and last transplanting day of a scene's well-dated plots ([`planted`]), and how
/// many days after transplanting their curves' seasons start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planted {
    pub earliest: f64,
    pub latest: f64,
    /// Plots it was measured on.
    pub plots: usize,
    /// Median days from transplanting to the start of the curve's season or rise, on at least
    /// [`MIN_LAG_PLOTS`] of those plots.
    pub start_lag: Option<f64>,
}

/// Days from the middle of the onset-of-flooding bracket (the last dry and the first flooded
/// observation) to the recorded transplanting date, over one scene's plots ([`puddling_lead`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PuddlingLead {
    /// Median days.
    pub days: f64,
    /// Spread between plots (days, a standard deviation from the median absolute deviation),
    /// less the part that the position of the onset inside its bracket explains.
    pub spread: f64,
    /// The most days any of the plots was transplanted after its first flooded observation.
    pub longest: f64,
    /// Plots it was measured on.
    pub plots: usize,
}

/// Days from transplanting to the observed heading in one scene, for one duration class,
/// against the stage table's.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadingLag {
    pub class: String,
    /// Median days.
    pub days: f64,
    /// The stage table's heading for the class (days after transplanting).
    pub table: f64,
    /// Plots it was measured on.
    pub plots: usize,
}

impl HeadingLag {
    /// Days the class's stages move: the measured difference from the table, where it is at
    /// least [`MIN_HEADING_SHIFT`] days; else none.
    pub fn shift(&self) -> Option<f64> {
        let d = self.days - self.table;
        (d.abs() >= MIN_HEADING_SHIFT).then_some(d)
    }
}

/// The scene's puddling lead replaces the general one only when they differ by at least this
/// many days, as a class's heading moves its stages only from [`MIN_HEADING_SHIFT`] days on:
/// seasons drawn with the general few days of puddling (`scripts/season-sweep 1-9`) lost 0.4
/// points of stage accuracy with a lead measured 2 days longer, while seasons transplanted 5–12
/// days after flooding (`--lead 5-12`) are dated to 1.7 days instead of 3.5 with theirs.
pub const MIN_LEAD_SHIFT: f64 = 3.0;

/// A class's stages move only when its plots headed at least this many days from the table's
/// day (the median of a handful of plots whose varieties differ by a few days is not known more
/// closely; below it the table stands).
pub const MIN_HEADING_SHIFT: f64 = 3.0;

/// A plot with no heading seen counts as not headed yet ([`heading_lags`]) until it has had this
/// many days more than its class's heading in the table; after that, clouds hid its heading.
pub const HEADING_MARGIN: f64 = 15.0;

/// Days from transplanting to the end of the water signal (the young canopy overtaking the
/// flooding, [`flooding::Transplanting::canopy`]) in one scene, for one duration class (or
/// `None`: every class together).
#[derive(Debug, Clone, PartialEq)]
pub struct CanopyLag {
    pub class: Option<String>,
    /// Median days.
    pub days: f64,
    /// Spread between plots (days, a standard deviation from the median absolute deviation).
    pub spread: f64,
    /// Plots it was measured on.
    pub plots: usize,
}

/// Fewest well-dated plots a canopy lag is measured on.
pub const MIN_LAG_PLOTS: usize = 5;

/// A flooding onset is dated to within a revisit when no more than this many times the series'
/// shortest spacing separates the last dry and the first flooded observation (consecutive
/// acquisitions, no cloudy date between).
pub const REFERENCE_GAP_SPACINGS: f64 = 1.5;

/// The scene's calibration from the plots of a first pass: the **canopy lags**, days from
/// transplanting to the middle of the bracket where the water signal ended, on the plots whose
/// transplanting is known well: the recorded dates when at least [`MIN_LAG_PLOTS`] plots have
/// one, else those and the dates estimated from a flooding onset bracketed by consecutive
/// acquisitions (no more than [`REFERENCE_GAP_SPACINGS`] times the series' shortest `spacing`
/// between the last dry and the first flooded observation). Per class with at least
/// [`MIN_LAG_PLOTS`] plots, and for every class together; the median and a robust spread
/// (1.4826 × the median absolute deviation, at least one day). And the **heading lags** of
/// [`heading_lags`].
pub fn calibrate(plots: &[PlotStage], spacing: f64, table: &StageTable, at: f64) -> Calibration {
    Calibration {
        lags: canopy_lags(plots, spacing),
        headings: heading_lags(plots, spacing, table, at),
        lead: puddling_lead(plots, spacing),
        planted: planted(plots, spacing),
    }
}

/// When a scene's paddies were transplanted: the first and last day among the plots whose
/// transplanting is known well ([`well_dated`]: recorded, or from an onset of flooding bracketed
/// by consecutive acquisitions), at least [`MIN_LAG_PLOTS`] of them.
pub fn planted(plots: &[PlotStage], spacing: f64) -> Option<Planted> {
    let dated: Vec<(f64, Option<f64>)> = plots
        .iter()
        .filter_map(|p| well_dated(p, spacing).map(|(day, _)| (day, p.curve_start)))
        .collect();
    if dated.len() < MIN_LAG_PLOTS {
        return None;
    }
    let mut lags: Vec<f64> = dated
        .iter()
        .filter_map(|&(day, start)| start.map(|s| s - day))
        .filter(|lag| *lag >= 0.0)
        .collect();
    Some(Planted {
        earliest: dated.iter().map(|d| d.0).fold(f64::INFINITY, f64::min),
        latest: dated.iter().map(|d| d.0).fold(f64::NEG_INFINITY, f64::max),
        plots: dated.len(),
        start_lag: (lags.len() >= MIN_LAG_PLOTS).then(|| median_of(&mut lags)),
    })
}

/// The puddling lead of a scene: on the plots with a recorded transplanting date whose onset of
/// flooding is bracketed by consecutive acquisitions ([`REFERENCE_GAP_SPACINGS`]), the days from
/// the middle of the bracket to the recorded date; their median, and their robust spread
/// (1.4826 × the median absolute deviation) with the variance of a uniform position inside the
/// bracket (`gap² / 12`) taken out, at least one day. A plot whose recorded date lies before
/// its last dry observation or more than two weeks after its first flooded one was flooded for
/// something else (a previous crop, a rain) and is left out. At least [`MIN_LAG_PLOTS`] plots.
pub fn puddling_lead(plots: &[PlotStage], spacing: f64) -> Option<PuddlingLead> {
    let mut leads: Vec<f64> = Vec::new();
    let mut gaps: Vec<f64> = Vec::new();
    let mut longest = f64::NEG_INFINITY;
    for p in plots {
        let (Some(f), Some(t), "attribute") =
            (p.flood, p.transplanting_range, p.transplanting_source)
        else {
            continue;
        };
        let Some(a) = f.last_dry.filter(|_| narrow(&f, spacing)) else {
            continue;
        };
        if t.day < a || t.day > f.first_flooded + 14.0 {
            continue;
        }
        leads.push(t.day - (a + f.first_flooded) / 2.0);
        longest = longest.max(t.day - f.first_flooded);
        gaps.push(f.first_flooded - a);
    }
    if leads.len() < MIN_LAG_PLOTS {
        return None;
    }
    let days = median_of(&mut leads);
    let mut dev: Vec<f64> = leads.iter().map(|d| (d - days).abs()).collect();
    let total = 1.4826 * median_of(&mut dev);
    let gap = median_of(&mut gaps);
    let spread = (total * total - gap * gap / 12.0).max(1.0).sqrt();
    Some(PuddlingLead {
        days,
        spread,
        longest,
        plots: leads.len(),
    })
}

/// Whether the onset of flooding of `f` is bracketed by consecutive acquisitions.
fn narrow(f: &flooding::Transplanting, spacing: f64) -> bool {
    f.last_dry
        .is_some_and(|a| f.first_flooded - a <= REFERENCE_GAP_SPACINGS * spacing)
}

/// The transplanting day of a plot whose date is known well: recorded, or estimated from an
/// onset of flooding bracketed by consecutive acquisitions; and whether it was recorded.
fn well_dated(p: &PlotStage, spacing: f64) -> Option<(f64, bool)> {
    if p.transplanting_source == "attribute" {
        return p.transplanting_range.map(|t| (t.day, true));
    }
    let f = p.flood?;
    (p.transplanting_source == "flooding onset" && narrow(&f, spacing)).then_some((f.day, false))
}

/// Per class, the median days from transplanting to the heading read off the observations, on
/// the well-dated plots ([`well_dated`]), as a Kaplan–Meier median: a plot not headed by the date
/// of the stage counts as "later than" the days it has had (less two revisits, the
/// confirmation a heading needs), so the plots that headed early do not stand for the class
/// alone. A plot with no heading seen although it has had the table's heading +
/// [`HEADING_MARGIN`] days (clouds hid it) is left out. At least [`MIN_LAG_PLOTS`] headings,
/// and a median reached, per class.
pub fn heading_lags(
    plots: &[PlotStage],
    spacing: f64,
    table: &StageTable,
    at: f64,
) -> Vec<HeadingLag> {
    // (class, days, headed: false = not headed after that many days).
    let mut samples: Vec<(&str, f64, bool)> = Vec::new();
    for p in plots {
        let Some(st) = table.get(&p.class) else {
            continue;
        };
        let Some((t, _)) = well_dated(p, spacing).filter(|(t, _)| t.is_finite()) else {
            continue;
        };
        let seen = at - 2.0 * spacing - t;
        if seen <= 0.0 {
            continue;
        }
        // The top as fitted, not weighed with the table this measures.
        let observed = p
            .heading_curve
            .filter(|_| p.heading_source == "observations")
            .map(|h| f64::from(h.days_since_epoch()) - t)
            .filter(|&d| d <= seen);
        match observed {
            Some(d) => samples.push((p.class.as_str(), d, true)),
            None if seen < st.heading + HEADING_MARGIN => {
                samples.push((p.class.as_str(), seen, false));
            }
            None => {}
        }
    }
    let mut classes: Vec<&str> = samples.iter().map(|s| s.0).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .filter_map(|class| {
            let mut of: Vec<(f64, bool)> = samples
                .iter()
                .filter(|s| s.0 == class)
                .map(|s| (s.1, s.2))
                .collect();
            let headed = of.iter().filter(|s| s.1).count();
            let days = kaplan_meier_median(&mut of).filter(|_| headed >= MIN_LAG_PLOTS)?;
            Some(HeadingLag {
                class: class.to_string(),
                days,
                table: table.get(class)?.heading,
                plots: headed,
            })
        })
        .collect()
}

/// Fewest plots still at risk (not headed, not censored) where a Kaplan–Meier median is read.
const MIN_AT_RISK: f64 = 5.0;

/// The Kaplan–Meier median of (time, event) samples, event false = censored at that time: the
/// first event time where the estimated share not yet headed falls to one half; `None` when it
/// never does, or when fewer than [`MIN_AT_RISK`] plots were still at risk there.
fn kaplan_meier_median(samples: &mut [(f64, bool)]) -> Option<f64> {
    // At equal times events come before censorings (the usual convention).
    samples.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut at_risk = samples.len() as f64;
    let mut surviving = 1.0;
    for &(time, event) in samples.iter() {
        if event {
            surviving *= 1.0 - 1.0 / at_risk;
            if surviving <= 0.5 {
                // Decided by the last few plots at risk, a median is a guess.
                return (at_risk >= MIN_AT_RISK).then_some(time);
            }
        }
        at_risk -= 1.0;
    }
    None
}

/// The canopy lags of [`calibrate`].
fn canopy_lags(plots: &[PlotStage], spacing: f64) -> Vec<CanopyLag> {
    let mut samples: Vec<(&str, f64, bool)> = Vec::new();
    for p in plots {
        let Some((c1, c2)) = p.flood.and_then(|f| f.canopy) else {
            continue;
        };
        if let Some((t, exact)) = well_dated(p, spacing).filter(|(t, _)| t.is_finite()) {
            samples.push((p.class.as_str(), (c1 + c2) / 2.0 - t, exact));
        }
    }
    // Recorded dates are exact; an estimated one carries the puddling lead assumed for it.
    if samples.iter().filter(|s| s.2).count() >= MIN_LAG_PLOTS {
        samples.retain(|s| s.2);
    }
    let samples: Vec<(&str, f64)> = samples.into_iter().map(|(c, d, _)| (c, d)).collect();
    let lag = |class: Option<&str>| -> Option<CanopyLag> {
        let mut v: Vec<f64> = samples
            .iter()
            .filter(|(c, _)| class.map_or(true, |k| k == *c))
            .map(|(_, d)| *d)
            .collect();
        if v.len() < MIN_LAG_PLOTS {
            return None;
        }
        let median = median_of(&mut v);
        let mut dev: Vec<f64> = v.iter().map(|d| (d - median).abs()).collect();
        let spread = (1.4826 * median_of(&mut dev)).max(1.0);
        Some(CanopyLag {
            class: class.map(str::to_string),
            days: median,
            spread,
            plots: v.len(),
        })
    };
    let mut classes: Vec<&str> = samples.iter().map(|(c, _)| *c).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .filter_map(|c| lag(Some(c)))
        .chain(lag(None))
        .collect()
}

impl Calibration {
    /// The measured heading of `class` where it moves the class's stages.
    pub fn heading(&self, class: &str) -> Option<&HeadingLag> {
        self.headings
            .iter()
            .find(|h| h.class == class && h.shift().is_some())
    }

    /// `table` with the stages of every class whose heading moved ([`HeadingLag::shift`])
    /// moved by as much; `None` when none moved.
    pub fn stage_table(&self, table: &StageTable) -> Option<StageTable> {
        let mut out: Option<StageTable> = None;
        for h in &self.headings {
            let (Some(shift), Some(st)) = (h.shift(), table.get(&h.class)) else {
                continue;
            };
            let base = out.as_ref().unwrap_or(table);
            out = Some(base.with_class(&h.class, st.with_heading_moved(shift)));
        }
        out
    }

    /// The scene's puddling lead where it moves the general estimate of transplanting
    /// ([`PUDDLING_LEAD_DAYS`] after the middle of the onset's bracket) by at least
    /// [`MIN_LEAD_SHIFT`] days; else none, and the general rule stands.
    pub fn lead(&self) -> Option<&PuddlingLead> {
        self.lead
            .as_ref()
            .filter(|l| (l.days - PUDDLING_LEAD_DAYS).abs() >= MIN_LEAD_SHIFT)
    }

    /// The canopy lag of `class`, else of every class together.
    pub fn lag(&self, class: &str) -> Option<&CanopyLag> {
        self.lags
            .iter()
            .find(|l| l.class.as_deref() == Some(class))
            .or_else(|| self.lags.iter().find(|l| l.class.is_none()))
    }
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The shortest spacing between consecutive acquisition days (days); `None` with fewer than
/// two distinct days.
pub fn shortest_spacing(days: &[f64]) -> Option<f64> {
    days.windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| d.is_finite() && *d > 0.0)
        .min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phenology::dates::Date;
    use crate::phenology::stage::StageTable;
    use crate::stage::analyse::{analyse, Dated, Settings, Smoother};
    use crate::stage::series::PlotSeries;

    /// A paddy on a 5-day revisit: dry until `flood`, flooded (the water signal) until
    /// `flood + water`, then a closed canopy; `cloudy` days missing.
    fn paddy(flood: i32, water: i32, cloudy: &[i32]) -> (PlotSeries, PlotSeries) {
        let days: Vec<i32> = (0..40)
            .map(|k| 20_000 + 5 * k)
            .filter(|d| !cloudy.contains(d))
            .collect();
        let (vi, lswi): (Vec<f64>, Vec<f64>) = days
            .iter()
            .map(|&d| {
                if d < flood {
                    (0.30, -0.10)
                } else if d < flood + water {
                    (0.10 + 0.01 * f64::from(d - flood), 0.40)
                } else {
                    (0.80, 0.35)
                }
            })
            .unzip();
        let series = |values: Vec<f64>| PlotSeries {
            days: days.iter().map(|&d| f64::from(d)).collect(),
            values,
            valid_share: vec![1.0; days.len()],
            dropped: Vec::new(),
        };
        (series(vi), series(lswi))
    }

    /// The settings of a first pass on day `at`.
    fn first_pass(table: &StageTable, at: i32) -> Settings<'_> {
        Settings {
            smoother: Smoother::Whittaker { lambda: 10.0 },
            fraction: 0.2,
            table,
            at: Date::from_days_since_epoch(at),
            from: None,
            calibration: None,
        }
    }

    /// Five recorded plots flooded every 5 days from 20_030, transplanted 4 days after
    /// flooding, their water signal ending 18 days after it.
    fn recorded_plots(settings: &Settings) -> Vec<PlotStage> {
        (0..5)
            .map(|k| {
                let flood = 20_030 + 5 * k;
                let (vi, lswi) = paddy(flood, 18, &[]);
                let t = Date::from_days_since_epoch(flood + 4);
                analyse("R", "short", Some(t), &vi, Some(&lswi), settings)
            })
            .collect()
    }

    #[test]
    fn recorded_plots_measure_the_lag_and_date_a_cloud_gap() {
        let table = StageTable::builtin();
        let settings = first_pass(&table, 20_150);
        // Five recorded plots: the canopy overtakes the water 14 days after transplanting.
        let mut plots = recorded_plots(&settings);
        // One plot flooded on 20_058 under three cloudy dates: dry on 20_040, flooded on 20_060.
        let (vi, lswi) = paddy(20_058, 18, &[20_045, 20_050, 20_055]);
        plots.push(analyse("C", "short", None, &vi, Some(&lswi), &settings));
        let cal = calibrate(&plots, 5.0, &table, 20_150.0);
        let lag = cal.lag("short").unwrap();
        assert_eq!(lag.plots, 5);
        // Each recorded plot: the signal ends between flood + 15 and flood + 20.
        assert!((lag.days - 13.5).abs() < 1e-9, "{lag:?}");
        // Flooded on an acquisition day, the day after the middle of a 5-day bracket: the
        // lead from that middle to the recorded date is 2.5 + 4 days, the same on every plot.
        let lead = cal.lead.clone().unwrap();
        assert_eq!(
            (lead.days, lead.spread, lead.longest, lead.plots),
            (6.5, 1.0, 4.0, 5)
        );
        // Four plots do not make a lead, nor does a date recorded long after the flooding seen
        // (a flooding for something else).
        assert_eq!(puddling_lead(&plots[..4], 5.0), None);
        let mut far = plots.clone();
        far[0].transplanting_range = far[0].transplanting_range.map(|t| Dated {
            day: t.day + 30.0,
            ..t
        });
        assert_eq!(puddling_lead(&far, 5.0), None);
        let alone = plots[5].transplanting_range.unwrap();
        assert_eq!(plots[5].transplanting_source, "flooding onset");
        // The gap alone puts it at the gap's middle (20_050) plus 3 days.
        assert_eq!(alone.day, 20_053.0);
        // With the lag: the signal ended between 20_075 and 20_080, so about 20_064, kept
        // within the bracket (up to a week after the first flooded observation).
        let again = Settings {
            calibration: Some(&cal),
            ..settings
        };
        let p = analyse("C", "short", None, &vi, Some(&lswi), &again);
        let t = p.transplanting_range.unwrap();
        assert!(t.day > 20_059.0 && t.day <= 20_067.0, "{t:?}");
        assert_eq!((t.earliest, t.latest), (alone.earliest, alone.latest));
        assert!(
            p.call.reason.contains("well-dated plots"),
            "{}",
            p.call.reason
        );
        assert!(
            p.call
                .reason
                .contains("the lead this scene's 5 plots with a recorded date show"),
            "{}",
            p.call.reason
        );
        // Before the water signal ends, the lead alone: the gap's middle plus 6.5 days.
        let early = Settings {
            at: Date::from_days_since_epoch(20_070),
            ..again
        };
        let p = analyse("C", "short", None, &vi, Some(&lswi), &early);
        assert_eq!(p.transplanting_range.map(|t| t.day), Some(20_056.5));
    }

    /// A paddy whose every flooded date was cloudy is fallow on its own; with the scene's
    /// well-dated paddies transplanted when its curve rose, it is a crop transplanted unseen,
    /// its bracket holding the day. A rise long before any of them stays a previous crop's.
    #[test]
    fn a_paddy_flooded_under_clouds_is_transplanted_when_the_scene_was() {
        use crate::phenology::stage::Stage;
        let table = StageTable::builtin();
        let settings = first_pass(&table, 20_080);
        let plots = recorded_plots(&settings);
        let cal = calibrate(&plots, 5.0, &table, 20_080.0);
        let planted = cal.planted.unwrap();
        assert_eq!(
            (planted.earliest, planted.latest, planted.plots),
            (20_034.0, 20_054.0, 5)
        );
        let again = Settings {
            calibration: Some(&cal),
            ..settings
        };
        // Flooded on 20_040 for 18 days like them, transplanted about 20_044; every flooded
        // date cloudy.
        let (vi, lswi) = paddy(20_040, 18, &[20_040, 20_045, 20_050, 20_055]);
        let alone = analyse("U", "short", None, &vi, Some(&lswi), &settings);
        assert_eq!(alone.call.stage, Stage::Fallow, "{}", alone.call.reason);
        let p = analyse("U", "short", None, &vi, Some(&lswi), &again);
        assert!(
            !matches!(p.call.stage, Stage::Fallow | Stage::Unknown),
            "{:?}: {}",
            p.call.stage,
            p.call.reason
        );
        assert!(
            p.call.reason.contains("no flooding seen (clouds"),
            "{}",
            p.call.reason
        );
        assert!(
            ["season start", "heading − table"].contains(&p.transplanting_source),
            "{}",
            p.transplanting_source
        );
        let t = p.transplanting_range.unwrap();
        assert!(t.earliest <= 20_044.0 && 20_044.0 <= t.latest, "{t:?}");
        // Its curve rose on 20_005, four weeks before the scene's first transplanting.
        let (vi, lswi) = paddy(20_005, 5, &[20_005]);
        let p = analyse("P", "short", None, &vi, Some(&lswi), &again);
        assert_eq!(p.call.stage, Stage::Fallow, "{}", p.call.reason);
    }

    #[test]
    fn kaplan_meier_median_of_censored_headings() {
        // No censoring, ten plots: survival 0.9, 0.8, … reaches one half at the fifth.
        let mut all: Vec<(f64, bool)> = (1..=10).map(|d| (f64::from(d), true)).collect();
        assert_eq!(kaplan_meier_median(&mut all), Some(5.0));
        // Eleven headed on days 1..=11 and one not headed after 2.5 days: survival 11/12,
        // 10/12, then × 8/9, 7/8, 6/7, 5/6 reaches 0.46 on day 6.
        let mut some: Vec<(f64, bool)> = (1..=11).map(|d| (f64::from(d), true)).collect();
        some.push((2.5, false));
        assert_eq!(kaplan_meier_median(&mut some), Some(6.0));
        // Six plots not headed after 20 days pull the median to day 7 (the headings alone: 4.5).
        let mut late: Vec<(f64, bool)> = (1..=8).map(|d| (f64::from(d), true)).collect();
        late.extend((0..6).map(|_| (20.0, false)));
        assert_eq!(kaplan_meier_median(&mut late), Some(7.0));
        // One early heading while four plots have not headed yet: no median (the plain median
        // of the headings seen would say 60).
        let mut early = vec![(60.0, true), (61.0, false), (62.0, false), (63.0, false)];
        early.push((64.0, false));
        assert_eq!(kaplan_meier_median(&mut early), None);
    }

    #[test]
    fn a_class_heading_later_moves_its_stages_from_panicle_initiation_on() {
        let table = StageTable::builtin();
        let lag = |days: f64| HeadingLag {
            class: "medium".into(),
            days,
            table: 70.0,
            plots: 8,
        };
        let near = Calibration {
            headings: vec![lag(71.5)],
            ..Calibration::default()
        };
        assert_eq!(near.stage_table(&table), None);
        assert!(near.heading("medium").is_none());
        let later = Calibration {
            headings: vec![lag(76.0)],
            ..Calibration::default()
        };
        let moved = later.stage_table(&table).unwrap();
        let (m, b) = (moved.get("medium").unwrap(), table.get("medium").unwrap());
        assert_eq!(
            (m.tillering, m.panicle_initiation, m.heading),
            (10.0, 46.0, 76.0)
        );
        assert_eq!(m.fallow - b.fallow, 6.0);
        assert_eq!(moved.get("short"), table.get("short"));
        // Far earlier than the table: tillering still lasts a day.
        let early = b.with_heading_moved(-40.0);
        assert_eq!(early.panicle_initiation, b.tillering + 1.0);
    }

    #[test]
    fn too_few_well_dated_plots_measure_nothing() {
        let table = StageTable::builtin();
        assert_eq!(calibrate(&[], 5.0, &table, 0.0), Calibration::default());
        assert_eq!(shortest_spacing(&[1.0, 6.0, 16.0]), Some(5.0));
        assert_eq!(shortest_spacing(&[1.0]), None);
    }
}
