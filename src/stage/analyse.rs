//! One plot's series → smoothed curve, season events, transplanting, heading, stage and
//! confidence.
//!
//! - **Transplanting**: the recorded date when there is one; else the onset of flooding
//!   ([`crate::phenology::flooding`]), known from the first flooded observation on; else the
//!   observed heading less the class's heading day; else the season start.
//! - **Heading**: the top of the observations around the season's maximum
//!   ([`crate::phenology::peak`]) once it is confirmed by observations after it; else
//!   transplanting plus the class's heading day.
//! - **Stage**: days after transplanting through the stage table, counted from the observed
//!   heading from panicle initiation on, checked against the curve
//!   ([`crate::phenology::stage::reconcile`]).
//! - **Confidence**: see [`confidence`].

use crate::phenology::dates::Date;
use crate::phenology::flooding;
use crate::phenology::peak::{self, Peak};
use crate::phenology::season::{self, NoSeason, Season};
use crate::phenology::smooth::{self, Daily};
use crate::phenology::stage::{
    reconcile, Agreement, CurveCues, Stage, StageCall, StageStarts, StageTable,
};

use super::calibrate::Calibration;
use super::series::PlotSeries;

/// The smoothing of a plot's series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoother {
    /// Whittaker–Eilers with second differences on a daily grid.
    Whittaker { lambda: f64 },
    /// Whittaker upper envelope (TIMESAT): points below the curve lose weight.
    Envelope { lambda: f64 },
    /// Savitzky–Golay (degree 2, ±15 days) on the observation days, interpolated daily.
    SavitzkyGolay,
}

/// A smoother by name, as chosen on the command line (`paddy stage --smoother`) or in a run
/// file (`[stage] smoother`); [`SmootherKind::with_lambda`] makes the [`Smoother`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SmootherKind {
    /// Whittaker–Eilers.
    #[default]
    Whittaker,
    /// Whittaker upper envelope: clouds only lower the index.
    Envelope,
    /// Savitzky–Golay on the irregular time axis.
    Savgol,
}

impl SmootherKind {
    /// The smoother of this kind; `lambda` is the Whittaker strength (unused by Savitzky–Golay).
    pub fn with_lambda(self, lambda: f64) -> Smoother {
        match self {
            SmootherKind::Whittaker => Smoother::Whittaker { lambda },
            SmootherKind::Envelope => Smoother::Envelope { lambda },
            SmootherKind::Savgol => Smoother::SavitzkyGolay,
        }
    }
}

impl Smoother {
    /// The smoothed daily curve of `(t, y)` with weights `w`.
    pub fn smooth(self, t: &[f64], y: &[f64], w: &[f64]) -> Daily {
        match self {
            Smoother::Whittaker { lambda } => smooth::whittaker_daily(t, y, w, lambda),
            Smoother::Envelope { lambda } => {
                smooth::upper_envelope(t, y, w, lambda, smooth::DEFAULT_ENVELOPE_ITERATIONS)
            }
            Smoother::SavitzkyGolay => {
                let s = smooth::savitzky_golay(t, y, w, smooth::DEFAULT_HALF_WINDOW_DAYS, 2);
                Daily::interpolate(t, &s)
            }
        }
    }

    /// Its name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Smoother::Whittaker { .. } => "whittaker",
            Smoother::Envelope { .. } => "envelope",
            Smoother::SavitzkyGolay => "savgol",
        }
    }
}

/// Settings shared by every plot.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub smoother: Smoother,
    /// Season start / end at this fraction of the amplitude.
    pub fraction: f64,
    pub table: &'a StageTable,
    /// The date to give the stage at.
    pub at: Date,
    /// Where the season of interest may start (default: [`SEASON_SPAN`] days before `at`).
    pub from: Option<Date>,
    /// What the scene's well-dated plots measured in a first pass ([`calibrate()`]); `None`:
    /// the documented defaults alone.
    pub calibration: Option<&'a Calibration>,
}

/// What moved transplanting from the onset's general estimate, for the reason: the scene's
/// puddling lead and the end of the water signal.
fn onset_note(
    transplanting: Option<(Dated, &'static str)>,
    flood: Option<&flooding::Transplanting>,
    calibration: Option<&Calibration>,
    class: &str,
) -> Option<String> {
    let (Some((t, "flooding onset")), Some(f), Some(c)) = (transplanting, flood, calibration)
    else {
        return None;
    };
    let lead = c.lead().filter(|_| f.last_dry.is_some());
    let onset = with_scene_lead(f, Some(c)).day;
    let mut note = String::new();
    if let Some(l) = lead {
        note.push_str(&format!(
            "; {:.0} days after the middle of the onset's bracket, the lead this scene's {} \
             plots with a recorded date show",
            l.days, l.plots
        ));
    }
    if let Some(l) = c.lag(class).filter(|_| t.day != onset) {
        note.push_str(&format!(
            "; {} days by the end of its water signal, which {} well-dated plots show \
             {:.0} ± {:.0} days after transplanting",
            signed_days(t.day - onset),
            l.plots,
            l.days,
            l.spread
        ));
    }
    (!note.is_empty()).then_some(note)
}

/// Whole days with their sign for a reason (`+3`, `-2`), and `0` for what rounds to none
/// (never `-0`).
fn signed_days(days: f64) -> String {
    let days = days.round();
    if days == 0.0 {
        "0".to_string()
    } else {
        format!("{days:+.0}")
    }
}

/// The first day of the window the season is looked for in: `from` when given, else
/// [`SEASON_SPAN`] days before `at`.
pub fn window_start(at: Date, from: Option<Date>) -> Date {
    from.unwrap_or_else(|| Date::from_days_since_epoch(at.days_since_epoch() - SEASON_SPAN as i32))
}

/// Why nothing is read off a plot's observations when they all lie before the window its
/// season is looked for in (`from` to `at`, days since the epoch; `given`: `from` was given,
/// not [`SEASON_SPAN`] days before `at`): the date of the stage lies long after the series.
/// `None` while an observation lies in the window, or there is none at all.
fn before_window(points: &[(f64, f64)], from: f64, at: f64, given: bool) -> Option<String> {
    let last = points.last()?.0;
    if last >= from {
        return None;
    }
    let date = |d: f64| day_to_date(d).map_or_else(String::new, |d| d.to_string());
    Some(format!(
        "no observation from {} to {}, the window its season is looked for in ({}): the last \
         is of {}, {:.0} days before",
        date(from),
        date(at),
        if given {
            "from the start given".to_string()
        } else {
            format!("the {SEASON_SPAN:.0} days before the date")
        },
        date(last),
        at - last
    ))
}

/// The onset's estimate with the scene's own puddling lead, where its recorded plots measured
/// one that counts ([`Calibration::lead`]); else as it is.
fn with_scene_lead(
    f: &flooding::Transplanting,
    calibration: Option<&Calibration>,
) -> flooding::Transplanting {
    calibration
        .and_then(Calibration::lead)
        .map_or(*f, |l| flooding::with_lead(f, l.days, l.longest))
}

/// Fewest valid dates that can show a season.
pub const MIN_DATES: usize = 4;
/// Smallest seasonal amplitude (index units, NDVI-like) taken as a crop season.
pub const MIN_AMPLITUDE: f64 = 0.15;
/// How far back from the date of interest a season may have started (days): one rice crop.
pub const SEASON_SPAN: f64 = 200.0;

/// How far either side of the smoothed maximum the top of the observations is looked for
/// (days): the smoother moves the maximum by days, rarely by more than two revisits.
pub const PEAK_SEARCH: f64 = 15.0;
/// Spread of a variety's heading day around its class's table value (days), for the confidence
/// while heading is not observed yet and for transplanting dated back from heading.
pub const VARIETY_SPREAD: f64 = 5.0;
/// A recorded transplanting date is known to the day.
pub const RECORDED_SPREAD: f64 = 1.0;
/// The season start lags transplanting by a variable two to four weeks.
pub const SEASON_START_SPREAD: f64 = 10.0;
/// An observation covering at least this share of the plot is a clear one, to read the
/// field's state from (the harvest check).
pub const CLEAR_SHARE: f64 = 0.5;
/// The stage is extrapolated when no clear observation lies this many days before the date.
pub const RECENT_DAYS: f64 = 20.0;

/// A date estimated with a bracket, as days since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dated {
    pub day: f64,
    pub earliest: f64,
    pub latest: f64,
}

impl Dated {
    fn around(day: f64, spread: f64) -> Dated {
        Dated {
            day,
            earliest: day - spread,
            latest: day + spread,
        }
    }

    pub fn date(&self) -> Option<Date> {
        day_to_date(self.day)
    }
}

/// Everything found for one plot.
#[derive(Debug, Clone)]
pub struct PlotStage {
    pub id: String,
    pub class: String,
    /// The class is not in the stage table.
    pub unknown_class: bool,
    pub call: StageCall,
    /// 0–1: the share of the plausible dates that give the same stage ([`confidence`]).
    pub confidence: f64,
    pub valid_dates: usize,
    pub dropped_dates: Vec<Date>,
    pub transplanting: Option<Date>,
    /// Transplanting with its bracket (days since the epoch).
    pub transplanting_range: Option<Dated>,
    /// The day the curve's season, or its rise, started (days since the epoch).
    pub curve_start: Option<f64>,
    /// `attribute`, `flooding onset`, `heading − table` or `season start`.
    pub transplanting_source: &'static str,
    /// The first flooded observation of the season (LSWI + 0.05 ≥ VI), with --lswi.
    pub flooding: Option<Date>,
    /// The onset of flooding and the end of its water signal, with --lswi.
    pub flood: Option<flooding::Transplanting>,
    /// Days from transplanting to the date of the stage, to a tenth of a day ([`tenth`]): as
    /// the stage table shows it and the prescription reads it back.
    pub days_after_transplanting: Option<f64>,
    pub season: Option<Season>,
    /// Why there is no season, when there is none.
    pub no_season: Option<String>,
    pub heading: Option<Date>,
    /// Heading with its bracket (days since the epoch).
    pub heading_range: Option<Dated>,
    /// `observations` (the fitted top), `highest observation` (too sparse to fit),
    /// `curve maximum` (no observation near the top),
    /// `recorded transplanting + table` or `estimated transplanting + table`.
    pub heading_source: &'static str,
    /// The top of the observations, once confirmed by observations after it.
    pub heading_curve: Option<Date>,
    /// Days from the date of the stage to heading (negative once headed), to a tenth of a day.
    pub days_to_heading: Option<f64>,
    pub maturity: Option<Date>,
    /// Root-mean-square difference between the kept observations and the curve.
    pub residual: f64,
    /// The observations kept: (day, value).
    pub points: Vec<(f64, f64)>,
    /// The smoothed curve.
    pub curve: Daily,
}

/// `days` to a tenth of a day, never "-0": what the stage table writes of a count of days.
/// The estimates behind them are fractions of a day apart at best, and more digits would be
/// float noise (`40.66830711548755` for a transplanting found by weighing two estimates, tails
/// that differ between plots estimated alike); rounded once here, the table, its GeoJSON and
/// shapefile, and a prescription reading the table or the stages in memory all see one value.
/// The stage itself is called on the unrounded days.
pub fn tenth(days: f64) -> f64 {
    (days * 10.0).round() / 10.0 + 0.0
}

fn day_to_date(day: f64) -> Option<Date> {
    day.is_finite()
        .then(|| Date::from_days_since_epoch(day.round() as i32))
}

/// The part of a series observed by day `at`.
fn observed_by(series: &PlotSeries, at: f64) -> PlotSeries {
    let known = series.days.iter().take_while(|&&d| d <= at).count();
    PlotSeries {
        days: series.days[..known].to_vec(),
        values: series.values[..known].to_vec(),
        valid_share: series.valid_share[..known].to_vec(),
        dropped: series
            .dropped
            .iter()
            .copied()
            .filter(|d| f64::from(d.days_since_epoch()) <= at)
            .collect(),
    }
}

/// The smoothed curve of the series (empty with fewer than two observations) and the RMS
/// residual of the observations against it.
fn smoothed(vi: &PlotSeries, weights: &[f64], smoother: Smoother, at: f64) -> (Daily, f64) {
    if vi.days.len() < 2 {
        let empty = Daily {
            start: at,
            values: Vec::new(),
        };
        return (empty, f64::NAN);
    }
    let curve = smoother.smooth(&vi.days, &vi.values, weights);
    let sq: f64 = vi
        .days
        .iter()
        .zip(&vi.values)
        .map(|(t, y)| (curve.at(*t) - y).powi(2))
        .sum();
    let residual = (sq / vi.days.len() as f64).sqrt();
    (curve, residual)
}

/// The season of interest on the curve up to `at`, or why there is none; and, for a season
/// still rising at `at`, its green-up day.
fn season_by(
    curve: &Daily,
    observations: usize,
    from: f64,
    at: f64,
    fraction: f64,
) -> (Option<Season>, Option<String>, Option<f64>) {
    if observations < MIN_DATES {
        let why = format!(
            "only {observations} valid date{} ({MIN_DATES} needed to see a season)",
            if observations == 1 { "" } else { "s" },
        );
        return (None, Some(why), None);
    }
    match season::detect_in_window(curve, from, at, fraction, MIN_AMPLITUDE) {
        Ok(season) => (Some(season), None, None),
        Err(why) => {
            let green_up = match why {
                NoSeason::PeakAtEnd { green_up } => green_up,
                _ => None,
            };
            (None, Some(why.to_string()), green_up)
        }
    }
}

/// Transplanting: the recorded date, else the onset of flooding, else the observed heading less
/// the class's heading day, else the season start.
fn transplanting_of(
    recorded: Option<Date>,
    flood: Option<&flooding::Transplanting>,
    calibration: Option<&Calibration>,
    class: &str,
    heading: Option<&Peak>,
    starts: Option<&StageStarts>,
    rise: Option<Dated>,
) -> Option<(Dated, &'static str)> {
    if let Some(t) = recorded {
        let day = f64::from(t.days_since_epoch());
        return Some((Dated::around(day, RECORDED_SPREAD), "attribute"));
    }
    if let Some(f) = flood {
        let f = &with_scene_lead(f, calibration);
        let lead_spread = calibration.and_then(Calibration::lead).map(|l| l.spread);
        let day = calibration
            .and_then(|c| c.lag(class))
            .and_then(|l| flooding::with_canopy_and_lead(f, l.days, l.spread, lead_spread))
            .unwrap_or(f.day);
        let range = Dated {
            day,
            earliest: f.earliest,
            latest: f.latest,
        };
        return Some((range, "flooding onset"));
    }
    if let (Some(h), Some(st)) = (heading, starts) {
        let range = Dated {
            day: h.day - st.heading,
            earliest: h.earliest - st.heading - VARIETY_SPREAD,
            latest: h.latest - st.heading + VARIETY_SPREAD,
        };
        return Some((range, "heading − table"));
    }
    rise.map(|r| (r, "season start"))
}

/// Analyse one plot: what its observations show ([`observe`]), then its dates and stage
/// ([`conclude`]).
pub fn analyse(
    id: &str,
    class: &str,
    transplanted: Option<Date>,
    vi: &PlotSeries,
    lswi: Option<&PlotSeries>,
    s: &Settings,
) -> PlotStage {
    conclude(
        id,
        class,
        transplanted,
        &observe(transplanted, vi, lswi, s),
        s,
    )
}

/// What one plot's observations show by the date, whatever the scene's calibration and the
/// stage table say: the smoothed curve, the season, the onset of flooding and the heading seen.
/// A second pass with the scene's calibration ([`conclude`] again) reuses it.
#[derive(Debug, Clone)]
pub struct Observed {
    vi: PlotSeries,
    points: Vec<(f64, f64)>,
    curve: Daily,
    residual: f64,
    season: Option<Season>,
    no_season: Option<String>,
    flood: Option<flooding::Transplanting>,
    unflooded: bool,
    observed_heading: Option<Peak>,
    /// Transplanting from the start of the curve's season or rise.
    rise: Option<Dated>,
    /// The season the curve shows on a paddy never seen flooded, or the day its curve began
    /// to rise (set aside: see [`transplanted_unseen`]).
    unseen_season: Option<Season>,
    unseen_rise: Option<f64>,
}

impl Observed {
    /// Whether the paddy was never seen flooded although its curve shows a season, which the
    /// scene's calibration may show to be this year's crop ([`transplanted_unseen`]).
    pub fn season_set_aside(&self) -> bool {
        self.unseen_season.is_some() || self.unseen_rise.is_some()
    }
}

/// Each observation's weight in the fits: its share of valid pixels, within 0–1.
fn weights_of(vi: &PlotSeries) -> Vec<f64> {
    vi.valid_share.iter().map(|v| v.clamp(0.0, 1.0)).collect()
}

/// The first half of [`analyse`]: the observations up to `s.at` smoothed, the season, the
/// onset of flooding and the top of the observations.
pub fn observe(
    transplanted: Option<Date>,
    vi: &PlotSeries,
    lswi: Option<&PlotSeries>,
    s: &Settings,
) -> Observed {
    let at = f64::from(s.at.days_since_epoch());
    let from = s
        .from
        .map_or(at - SEASON_SPAN, |d| f64::from(d.days_since_epoch()));
    // Only what was observed by `at`: the stage on a past date is the one a run on that date
    // would have given.
    let observed = observed_by(vi, at);
    let vi = &observed;
    let points: Vec<(f64, f64)> = vi
        .days
        .iter()
        .copied()
        .zip(vi.values.iter().copied())
        .collect();
    let weights = weights_of(vi);
    let (curve, residual) = smoothed(vi, &weights, s.smoother, at);
    let (mut season, mut no_season, green_up) =
        season_by(&curve, points.len(), from, at, s.fraction);
    if season.is_none() {
        // Whatever the curve shows before the window, the cause is the window.
        if let Some(why) = before_window(&points, from, at, s.from.is_some()) {
            no_season = Some(why);
        }
    }

    // The onset of flooding (Xiao et al. 2005), reported whatever the transplanting source.
    let water = lswi.map(|lswi| paired(vi, lswi));
    let flood = water.as_ref().and_then(|(t, v, l)| {
        let peak = season.as_ref().map(|x| x.peak).filter(|&p| p < at);
        flooding::onset(t, v, l, from, at, peak)
    });
    // With LSWI, a paddy that was never seen flooded in the window has not been transplanted
    // yet: what its curve shows is a previous crop or weeds.
    let unflooded = transplanted.is_none()
        && flood.is_none()
        && water
            .as_ref()
            .is_some_and(|(t, _, _)| t.iter().filter(|&&d| d >= from).count() >= 2);
    let unseen_season = if unflooded { season.take() } else { None };
    let unseen_rise = green_up.filter(|_| unflooded);
    // A season that peaked before this crop was transplanted is the previous crop's.
    let planted = transplanted
        .map(|t| f64::from(t.days_since_epoch()))
        .or(flood.map(|f| f.earliest));
    if let (Some(x), Some(p)) = (&season, planted) {
        if x.peak < p {
            no_season = Some(format!(
                "the last peak ({}) was a previous crop's, before transplanting",
                day_to_date(x.peak).map_or_else(String::new, |d| d.to_string())
            ));
            season = None;
        }
    }
    let observed_heading = season
        .as_ref()
        .and_then(|x| top_of(vi, &weights, x, at))
        .filter(|h| h.day <= at && !matches!(planted, Some(p) if h.day <= p));

    let rise = season
        .as_ref()
        .map(|x| x.start)
        .or(green_up)
        .filter(|_| !unflooded)
        .map(|d| Dated::around(d, SEASON_START_SPREAD));
    Observed {
        vi: observed,
        points,
        curve,
        residual,
        season,
        no_season,
        flood,
        unflooded,
        observed_heading,
        rise,
        unseen_season,
        unseen_rise,
    }
}

/// Days before the scene's first well-dated transplanting, and after its last, within which the
/// season of a paddy never seen flooded may start and still be taken as transplanted unseen: a
/// revisit or two either side, and the curve's start of season comes days after transplanting.
const UNSEEN_BEFORE_DAYS: f64 = 10.0;
const UNSEEN_AFTER_DAYS: f64 = 30.0;

/// A paddy never seen flooded whose curve shows a season (or a rise) that started while the
/// scene's well-dated paddies were transplanted (from [`UNSEEN_BEFORE_DAYS`] before the first to
/// [`UNSEEN_AFTER_DAYS`] after the last): clouds hid its water, or its water signal was shorter
/// than the revisit. It is taken as transplanted unseen, on the day its curve started less the
/// days by which the scene's well-dated curves start after transplanting, with the season and
/// heading its curve shows. A curve that started outside that span (a previous crop, weeds)
/// still leaves the paddy fallow. Returns the observations so read and the day the curve
/// started.
fn transplanted_unseen(
    o: &Observed,
    calibration: Option<&Calibration>,
    at: f64,
) -> Option<(Observed, f64)> {
    let planted = calibration?.planted?;
    let start = o.unseen_season.map(|x| x.start).or(o.unseen_rise)?;
    let inside = start >= planted.earliest - UNSEEN_BEFORE_DAYS
        && start <= planted.latest + UNSEEN_AFTER_DAYS;
    if !inside {
        return None;
    }
    // The scene's lag from transplanting to the curve's start; the curve had risen by the
    // first observation after its start (across a cloud gap the smoothed start may come early),
    // so transplanting was at least that lag before it.
    let lag = planted.start_lag.unwrap_or(0.0);
    let day = start - lag;
    let risen =
        o.vi.days
            .iter()
            .copied()
            .find(|&d| d > start)
            .map_or(day, |d| d - lag);
    let weights = weights_of(&o.vi);
    let observed_heading = o
        .unseen_season
        .and_then(|x| top_of(&o.vi, &weights, &x, at))
        .filter(|h| h.day <= at);
    let seen = Observed {
        season: o.unseen_season,
        unflooded: false,
        observed_heading,
        rise: Some(Dated {
            day,
            earliest: day - SEASON_START_SPREAD,
            latest: (day + SEASON_START_SPREAD).max(risen),
        }),
        unseen_season: None,
        unseen_rise: None,
        ..o.clone()
    };
    Some((seen, start))
}

/// The second half of [`analyse`]: transplanting, heading and the stage at `s.at` from what
/// the plot's observations showed, with the stage table and the scene's calibration of `s`.
pub fn conclude(
    id: &str,
    class: &str,
    transplanted: Option<Date>,
    o: &Observed,
    s: &Settings,
) -> PlotStage {
    let at = f64::from(s.at.days_since_epoch());
    let unseen = transplanted_unseen(o, s.calibration, at);
    let o = unseen.as_ref().map_or(o, |(seen, _)| seen);
    let starts = s.table.get(class);
    let transplanting = transplanting_of(
        transplanted,
        o.flood.as_ref(),
        s.calibration,
        class,
        o.observed_heading.as_ref(),
        starts,
        o.rise,
    );
    let dat = transplanting.map(|(t, _)| at - t.day);
    let (heading, heading_source) = heading_of(o.observed_heading, transplanting, starts);
    // The fitted top as the stage counts from it: weighed with the table where it is loose.
    let fitted = o
        .observed_heading
        .filter(Peak::fitted)
        .zip(heading)
        .map(|(p, h)| Peak {
            day: h.day,
            earliest: h.earliest,
            latest: h.latest,
            ..p
        });
    let overdue = heading
        .filter(|_| heading_source.ends_with("+ table"))
        .and_then(|h| {
            overdue(
                h,
                &o.vi,
                transplanting.map_or(f64::NEG_INFINITY, |(t, _)| t.earliest),
            )
        });
    let heading = overdue.map(|o| o.heading).or(heading);
    let moved;
    let table = match (overdue, starts) {
        (Some(o), Some(st)) => {
            moved = s.table.with_class(class, st.with_heading_moved(o.days));
            &moved
        }
        _ => s.table,
    };
    let starts = table.get(class);
    let days_to_heading = heading.map(|h| h.day - at);
    let maturity = o
        .season
        .as_ref()
        .and_then(|x| x.steepest_decline.or(x.end))
        .and_then(day_to_date);

    let cues = curve_cues(
        &o.curve,
        o.season.as_ref(),
        fitted.or(o.observed_heading).as_ref(),
        &o.vi,
        at,
    );
    let mut call = explained(
        reconcile(table, class, dat, &cues),
        s.at,
        o.points.is_empty(),
        o.unflooded,
        o.no_season.as_deref(),
        transplanting,
    );
    let from = f64::from(window_start(s.at, s.from).days_since_epoch());
    if let Some(why) = before_window(&o.points, from, at, s.from.is_some()) {
        if !call.reason.contains(&why) {
            call.reason.push_str(&format!("; {why}"));
        }
    }
    if let Some(note) = onset_note(transplanting, o.flood.as_ref(), s.calibration, class) {
        call.reason.push_str(&note);
    }
    if let Some(note) = unseen_note(unseen.as_ref().map(|(_, start)| *start), s.calibration) {
        call.reason.push_str(&note);
    }
    if let Some(h) = s.calibration.and_then(|c| c.heading(class)) {
        call.reason.push_str(&format!(
            "; this scene's '{class}' plots head {:.0} days after transplanting ({} well-dated \
             plots; the stage table says {:.0}), so its stages from panicle initiation on are \
             counted {} days later",
            h.days,
            h.plots,
            h.table,
            signed_days(h.days - h.table)
        ));
    }
    if let Some(o) = overdue {
        let date = day_to_date(o.unseen_by).map_or_else(String::new, |d| d.to_string());
        call.reason.push_str(&format!(
            "; the observations' top is still to come or not confirmed (two clear \
             observations after it), so heading came after {date}: the class's heading day \
             moves {:.0} days later",
            o.days
        ));
    }
    let recent = o.vi.days.iter().any(|&d| d > at - RECENT_DAYS);
    let timing = Timing {
        dat: transplanting.map(|(t, _)| (at - t.latest, at - t.earliest)),
        from_heading: fitted.map(|h| (at - h.latest, at - h.earliest)),
        variety_spread: fitted.is_none() && transplanting.is_some(),
    };
    let confidence = confidence(starts, &call, &timing, recent);
    PlotStage {
        id: id.to_string(),
        class: class.to_string(),
        unknown_class: starts.is_none(),
        call,
        confidence,
        valid_dates: o.points.len(),
        dropped_dates: o.vi.dropped.clone(),
        transplanting: transplanting.and_then(|(t, _)| t.date()),
        transplanting_range: transplanting.map(|(t, _)| t),
        curve_start: unseen
            .as_ref()
            .map(|(_, start)| *start)
            .or(o.rise.map(|r| r.day)),
        transplanting_source: transplanting.map_or("", |(_, s)| s),
        flooding: o.flood.and_then(|f| day_to_date(f.first_flooded)),
        flood: o.flood,
        days_after_transplanting: dat.map(tenth),
        season: o.season,
        no_season: o.no_season.clone(),
        heading: heading.and_then(|h| h.date()),
        heading_range: heading,
        heading_source,
        heading_curve: o.observed_heading.and_then(|h| day_to_date(h.day)),
        days_to_heading: days_to_heading.map(tenth),
        maturity,
        residual: o.residual,
        points: o.points.clone(),
        curve: o.curve.clone(),
    }
}

/// For the reason of a paddy taken as transplanted unseen ([`transplanted_unseen`]), whose
/// curve started to rise on day `start`: why.
fn unseen_note(start: Option<f64>, calibration: Option<&Calibration>) -> Option<String> {
    let (start, p) = (start?, calibration?.planted?);
    let date = |d: f64| day_to_date(d).map_or_else(String::new, |d| d.to_string());
    Some(format!(
        "; no flooding seen (clouds, or a water signal shorter than the revisit), but its \
         curve started to rise on {}, while this scene's {} well-dated paddies were \
         transplanted ({} to {}){}",
        date(start),
        p.plots,
        date(p.earliest),
        date(p.latest),
        p.start_lag.map_or_else(String::new, |lag| format!(
            "; their curves start {lag:.0} days after transplanting"
        ))
    ))
}

/// A heading from the table that the observations should have confirmed by now if it had
/// come as early as the table allows ([`overdue`]).
#[derive(Debug, Clone, Copy)]
struct Overdue {
    /// The heading moved later.
    heading: Dated,
    /// By how many days.
    days: f64,
    /// The day before which heading would have been confirmed.
    unseen_by: f64,
}

/// Heading not seen yet is itself a clue. A top of the observations is confirmed by
/// [`peak::MIN_EACH_SIDE`] clear observations after it: while the highest clear observation
/// since transplanting (`from`) is among the last ones, the top is still to come or just
/// seen, so heading came after the observation before it. The table's heading day is the
/// class's; the variety's own lies within ±[`VARIETY_SPREAD`] of it. Cut at that day, the
/// middle of that interval moves by half the cut, at most to its end. (The whole bracket,
/// transplanting's uncertainty included, moved plots dated by the flooding onset too far:
/// their estimate is better than its bracket; `scripts/season-sweep`, README.md.) Without
/// this a variety later than its class is called heading, then grain filling, days early
/// while its top waits for the observations that confirm it. A plot whose highest observation
/// has its confirming observations and still no top (a fit that failed) says nothing here.
fn overdue(table: Dated, vi: &PlotSeries, from: f64) -> Option<Overdue> {
    let clear: Vec<(f64, f64)> = vi
        .days
        .iter()
        .zip(&vi.values)
        .zip(&vi.valid_share)
        .filter(|((d, v), w)| **d >= from && v.is_finite() && w.is_finite() && **w > 0.0)
        .map(|((d, v), _)| (*d, *v))
        .collect();
    let top = (0..clear.len()).max_by(|&a, &b| clear[a].1.total_cmp(&clear[b].1))?;
    if clear.len() - 1 - top >= peak::MIN_EACH_SIDE {
        return None;
    }
    let unseen_by = clear[top.checked_sub(1)?].0;
    let days = ((unseen_by - (table.day - VARIETY_SPREAD)) / 2.0).clamp(0.0, VARIETY_SPREAD);
    (days > 0.0).then_some(Overdue {
        heading: Dated {
            day: table.day + days,
            earliest: unseen_by.min(table.latest),
            latest: table.latest,
        },
        days,
        unseen_by,
    })
}

/// Heading seen by `at`: the top of the observations near the season's maximum, once confirmed
/// ([`peak::fit_peak`]). A series too sparse to fit the top (a monthly composite, a cloudy
/// season) falls back on its highest observation near that maximum, once the curve's maximum is
/// well behind the date, bracketed by the observations around it; with none near it (a gap of
/// months), on the curve's maximum itself.
fn top_of(vi: &PlotSeries, weights: &[f64], season: &Season, at: f64) -> Option<Peak> {
    peak::fit_peak(&vi.days, &vi.values, weights, season.peak, PEAK_SEARCH).or_else(|| {
        (at - season.peak >= peak::HALF_WINDOW_DAYS && sparse(&vi.days)).then(|| {
            peak::highest_observation(&vi.days, &vi.values, weights, season.peak, PEAK_SEARCH)
                .unwrap_or_else(|| smoothed_peak(season, &vi.days))
        })
    })
}

/// Whether the observations are too far apart to fit a top: a median gap over half the fit's
/// window (monthly composites, a 10-day revisit with clouds).
fn sparse(days: &[f64]) -> bool {
    let mut gaps: Vec<f64> = days.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return true;
    }
    gaps.sort_by(f64::total_cmp);
    gaps[gaps.len() / 2] > peak::HALF_WINDOW_DAYS / 2.0
}

/// The smoothed season's maximum as a heading, bracketed by the observations either side of it
/// (`used` 0: not fitted to the observations).
fn smoothed_peak(season: &Season, days: &[f64]) -> Peak {
    let before = days
        .iter()
        .copied()
        .filter(|&d| d <= season.peak)
        .fold(season.peak, |_, d| d);
    let after = days
        .iter()
        .copied()
        .find(|&d| d >= season.peak)
        .unwrap_or(season.peak);
    Peak {
        day: season.peak,
        earliest: before,
        latest: after,
        value: season.peak_value,
        used: 0,
    }
}

/// A fitted top weighed with the class's heading day by their uncertainties: the fit's
/// profile interval is about ±2 standard deviations ([`peak::PROFILE_SIGMAS`]), the table's
/// interval (transplanting's bracket and the variety's spread) is taken as uniform. A tight
/// fit, the most common, stays within a day of where it is; a loose one (a flat top, or clouds
/// around it) leans on the table. In `scripts/season-sweep` (the season's end) fits with an
/// interval of 15 days and more came 2.7 days early on average (MAE 3.0 days, the table's 2.5;
/// seeds 41–60), and weighing took the heading MAE of all fitted plots from 1.73 to 1.44 days
/// (bias −1.31 to −1.09; seeds 41–80, README.md); with the cube on the rising side
/// ([`peak::RISE_EXPONENT`]) from 1.42 to 1.21 days (bias −0.14 to −0.22). The result's
/// interval is the weighed one's ±2 deviations.
fn weighed(fit: Dated, table: Dated) -> Dated {
    let sd_fit = ((fit.latest - fit.earliest) / (2.0 * peak::PROFILE_SIGMAS)).max(peak::STEP_DAYS);
    let var_fit = sd_fit * sd_fit;
    let var_table = (table.latest - table.earliest).powi(2) / 12.0;
    if var_table.is_nan() || var_table <= 0.0 {
        return fit;
    }
    let on_fit = var_table / (var_fit + var_table);
    let day = on_fit * fit.day + (1.0 - on_fit) * table.day;
    let sd = (var_fit * on_fit).sqrt();
    Dated {
        day,
        earliest: day - peak::PROFILE_SIGMAS * sd,
        latest: day + peak::PROFILE_SIGMAS * sd,
    }
}

/// Heading: the fitted top (weighed with the table's day, [`weighed`]); else a recorded date
/// plus the table; else the highest observation (or the smoothed maximum) of a sparse series;
/// else an estimated date plus the table. With its source's name.
fn heading_of(
    observed: Option<Peak>,
    transplanting: Option<(Dated, &'static str)>,
    starts: Option<&StageStarts>,
) -> (Option<Dated>, &'static str) {
    let from_table = match (transplanting, starts) {
        (Some((t, source)), Some(st)) => Some((
            Dated {
                day: t.day + st.heading,
                earliest: t.earliest + st.heading - VARIETY_SPREAD,
                latest: t.latest + st.heading + VARIETY_SPREAD,
            },
            source == "attribute",
        )),
        _ => None,
    };
    let as_dated = |h: Peak| Dated {
        day: h.day,
        earliest: h.earliest,
        latest: h.latest,
    };
    let fitted = observed.filter(Peak::fitted);
    let unfitted = observed.filter(|h| !h.fitted());
    match (fitted, from_table, unfitted) {
        (Some(h), Some((table, _)), _) => (Some(weighed(as_dated(h), table)), "observations"),
        (Some(h), None, _) => (Some(as_dated(h)), "observations"),
        (None, Some((h, true)), _) => (Some(h), "recorded transplanting + table"),
        (None, _, Some(h)) if h.used == 1 => (Some(as_dated(h)), "highest observation"),
        (None, _, Some(h)) => (Some(as_dated(h)), "curve maximum"),
        (None, Some((h, false)), None) => (Some(h), "estimated transplanting + table"),
        (None, None, None) => (None, ""),
    }
}

/// The call as a person should read it: unknown when nothing was seen, fallow when the paddy
/// was never seen flooded (with LSWI), why there is no season, and where an estimated
/// transplanting date came from with its bracket.
fn explained(
    mut call: StageCall,
    at: Date,
    unseen: bool,
    unflooded: bool,
    no_season: Option<&str>,
    transplanting: Option<(Dated, &'static str)>,
) -> StageCall {
    if unseen {
        // Nothing seen of the plot: a stage from the recorded date alone would be a guess.
        call = StageCall {
            stage: Stage::Unknown,
            agreement: Agreement::None,
            reason: format!(
                "no valid observation of the plot by {at} (outside the rasters, or every date cloudy or under the least valid share)"
            ),
            dat_stage: call.dat_stage,
            curve_stage: None,
        };
    } else if unflooded {
        call = StageCall {
            stage: Stage::Fallow,
            agreement: Agreement::CurveOnly,
            reason: format!(
                "no flooding seen by {at} (LSWI + 0.05 ≥ VI on no clear date): not transplanted \
                 yet; the curve shows a previous crop or weeds"
            ),
            dat_stage: None,
            curve_stage: call.curve_stage,
        };
    }
    if call.stage == Stage::Unknown && transplanting.is_none() {
        if let Some(why) = no_season {
            call.reason = format!("{why}; no transplanting date");
        }
    }
    let estimated = transplanting.filter(|(_, source)| *source != "attribute" && !unseen);
    if let Some((t, source)) = estimated {
        call.reason.push_str(&format!(
            "; transplanting from the {source}, between {} and {}",
            day_to_date(t.earliest).map_or_else(String::new, |d| d.to_string()),
            day_to_date(t.latest).map_or_else(String::new, |d| d.to_string()),
        ));
    }
    call
}

/// What the curve says at `at`: days from the observed heading, the slope and the level.
fn curve_cues(
    curve: &Daily,
    season: Option<&Season>,
    heading: Option<&Peak>,
    vi: &PlotSeries,
    at: f64,
) -> CurveCues {
    // Too few dates say nothing reliable about the curve's shape.
    if curve.is_empty() || vi.days.len() < MIN_DATES {
        return CurveCues::default();
    }
    let slope = curve.at(at) - curve.at(at - 1.0);
    let level = |v: f64, x: &Season| ((v - x.base) / x.amplitude.max(f64::EPSILON)).clamp(0.0, 1.0);
    // The latest observation of at least half the plot (`vi` holds only dates up to `at`).
    let last_clear = (0..vi.days.len())
        .rev()
        .find(|&k| vi.valid_share[k] >= CLEAR_SHARE);
    CurveCues {
        days_from_peak: heading.map(|h| at - h.day),
        peak_fitted: heading.is_some_and(Peak::fitted),
        slope_per_day: slope.is_finite().then_some(slope),
        amplitude_fraction: season.map(|x| level(curve.at(at), x)),
        last_clear_fraction: season.zip(last_clear).map(|(x, k)| level(vi.values[k], x)),
        last_clear_of_peak: season
            .filter(|x| x.peak_value > 0.0)
            .zip(last_clear)
            .map(|(x, k)| vi.values[k] / x.peak_value),
        last_clear_age: last_clear.map(|k| at - vi.days[k]),
    }
}

/// The dates both series kept, with both values.
fn paired(vi: &PlotSeries, lswi: &PlotSeries) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (k, day) in vi.days.iter().enumerate() {
        if let Some(j) = lswi.days.iter().position(|d| d == day) {
            out.0.push(*day);
            out.1.push(vi.values[k]);
            out.2.push(lswi.values[j]);
        }
    }
    out
}

/// The ranges of timing a stage call rests on: days after transplanting and days from the
/// observed heading at the date of interest (earliest, latest), and whether heading is still
/// the class's average (a variety's own heading day is unknown until it is observed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub dat: Option<(f64, f64)>,
    pub from_heading: Option<(f64, f64)>,
    pub variety_spread: bool,
}

/// Steps across each range when the confidence samples it.
const CONFIDENCE_STEPS: usize = 20;

/// 0–1 trust in a stage call: **the share of the plausible timings that give the same stage**,
/// times two factors. The plausible timings are every combination of days after
/// transplanting across the transplanting bracket (a recorded date ±1 day; the onset of flooding
/// from the day after the last dry observation to a week after the first flooded one; the
/// season start ±10 days) and, once heading is observed, days from heading across its fitted
/// interval; while heading is not observed the class's heading day is uncertain by
/// ±[`VARIETY_SPREAD`] days, which widens the days after transplanting for the stages from
/// panicle initiation on. A plot in the middle of a stage with tight brackets gets 1; a plot near
/// a stage boundary, or dated by wide brackets, gets the share of its bracket on the called
/// stage's side. The factors: 0.5 when the days after transplanting and the curve disagree, 0.8
/// when only one of them speaks; 0.8 when no clear observation lies within [`RECENT_DAYS`]
/// before the date (the stage is extrapolated). 0 for an unknown stage. Rounded to 0.01.
pub fn confidence(
    starts: Option<&StageStarts>,
    call: &StageCall,
    timing: &Timing,
    recent: bool,
) -> f64 {
    if call.stage == Stage::Unknown {
        return 0.0;
    }
    let agreement = match call.agreement {
        Agreement::Agree => 1.0,
        Agreement::CurveOnly | Agreement::DatOnly => 0.8,
        Agreement::Disagree => 0.5,
        Agreement::None => 0.0,
    };
    let recent = if recent { 1.0 } else { 0.8 };
    let share = match starts {
        Some(st) => share_of_same_stage(st, call.stage, timing),
        None => 0.5,
    };
    (share * agreement * recent * 100.0).round() / 100.0
}

/// The share of the timing grid on which the table gives `stage`.
fn share_of_same_stage(st: &StageStarts, stage: Stage, timing: &Timing) -> f64 {
    let grid = |range: Option<(f64, f64)>| -> Vec<f64> {
        match range {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() => (0..=CONFIDENCE_STEPS)
                .map(|k| lo + (hi - lo) * k as f64 / CONFIDENCE_STEPS as f64)
                .collect(),
            _ => vec![f64::NAN],
        }
    };
    // Without an observed heading the class's heading day varies by ±VARIETY_SPREAD: the
    // stages from panicle initiation on see the days after transplanting shifted by it.
    let shifts: &[f64] = if timing.variety_spread {
        &[-1.0, -0.5, 0.0, 0.5, 1.0]
    } else {
        &[0.0]
    };
    let (mut same, mut all) = (0usize, 0usize);
    for d in grid(timing.dat) {
        for h in grid(timing.from_heading) {
            for shift in shifts {
                let called = match st.stage_with_heading(d, h) {
                    plain if h.is_nan() && plain >= Stage::PanicleInitiation => {
                        st.stage_at(d + shift * VARIETY_SPREAD)
                    }
                    plain => plain,
                };
                all += 1;
                same += usize::from(called == stage);
            }
        }
    }
    same as f64 / all as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phenology::stage::StageTable;

    #[test]
    fn days_moved_read_without_a_negative_zero() {
        assert_eq!(signed_days(-0.3), "0");
        assert_eq!(signed_days(0.4), "0");
        assert_eq!(signed_days(-0.6), "-1");
        assert_eq!(signed_days(2.5), "+3");
    }

    #[test]
    fn observations_all_before_the_window_are_named_as_the_cause() {
        let points = [(T, 0.2), (T + 5.0, 0.3)];
        let why = before_window(&points, T + 100.0, T + 300.0, false).unwrap();
        let date = |d: f64| day_to_date(d).unwrap().to_string();
        assert!(
            why.contains(&format!(
                "no observation from {} to {}",
                date(T + 100.0),
                date(T + 300.0)
            )) && why.contains("the 200 days before the date")
                && why.contains(&format!(
                    "the last is of {}, 295 days before",
                    date(T + 5.0)
                )),
            "{why}"
        );
        assert!(before_window(&points, T + 100.0, T + 300.0, true)
            .unwrap()
            .contains("from the start given"));
        // One observation in the window, or none at all: nothing to say.
        assert_eq!(before_window(&points, T + 5.0, T + 300.0, false), None);
        assert_eq!(before_window(&[], T, T + 300.0, false), None);
    }

    /// Day 0 of the tests' paddy: transplanted then (a recorded date).
    const T: f64 = 20_000.0;

    /// A paddy transplanted on [`T`] whose variety heads `heading` days later: NDVI rises from
    /// water (0.1) to 0.85 at heading and falls after it, seen every 5 days from 10 days
    /// before transplanting.
    fn rice(heading: f64) -> PlotSeries {
        let days: Vec<f64> = (0..40).map(|k| T - 10.0 + 5.0 * f64::from(k)).collect();
        let values = days
            .iter()
            .map(|&d| {
                let u = (d - T) / heading;
                if u < 0.0 {
                    0.25
                } else if u <= 1.0 {
                    0.1 + 0.75 * u * u * (3.0 - 2.0 * u)
                } else {
                    0.85 - 0.5 * ((d - T - heading) / 45.0).min(1.0)
                }
            })
            .collect();
        PlotSeries {
            valid_share: vec![1.0; days.len()],
            days,
            values,
            dropped: Vec::new(),
        }
    }

    /// The stage of a 'short' plot on day `at`, transplanted on day `T` when `planted`.
    fn stage_of(vi: &PlotSeries, at: f64, planted: bool) -> PlotStage {
        let table = StageTable::builtin();
        let s = Settings {
            smoother: Smoother::Whittaker { lambda: 10.0 },
            fraction: 0.2,
            table: &table,
            at: Date::from_days_since_epoch(at as i32),
            from: None,
            calibration: None,
        };
        let planted = planted.then(|| Date::from_days_since_epoch(T as i32));
        analyse("P", "short", planted, vi, None, &s)
    }

    fn stage_on(vi: &PlotSeries, at: f64) -> PlotStage {
        stage_of(vi, at, true)
    }

    #[test]
    fn a_top_not_confirmed_yet_moves_the_tables_heading_later() {
        // The short class heads 62 days after transplanting; this variety at 70. On day 72
        // its top (day 70) is the latest observation: heading came after day 65. The variety's
        // interval (days 57–67) cut there has its middle 4 days later, and the plot is heading
        // (the table alone says grain filling from day 70). The bracket keeps the recorded
        // date's day either side.
        let p = stage_on(&rice(70.0), T + 72.0);
        assert_eq!(p.heading_source, "recorded transplanting + table");
        let h = p.heading_range.unwrap();
        assert_eq!(
            (h.day, h.earliest, h.latest),
            (T + 66.0, T + 65.0, T + 68.0)
        );
        assert_eq!(p.call.stage, Stage::Heading, "{}", p.call.reason);
        assert!(
            p.call.reason.contains("heading came after"),
            "{}",
            p.call.reason
        );

        // A variety heading on day 56 has two observations after its top by day 72: the top
        // is fitted, nothing is moved.
        let early = stage_on(&rice(56.0), T + 72.0);
        assert_eq!(early.heading_source, "observations");
        assert!(!early.call.reason.contains("heading came after"));

        // Before the table's heading interval the top of a rising curve says nothing new.
        let rising = stage_on(&rice(70.0), T + 45.0);
        assert_eq!(rising.heading_range.unwrap().day, T + 62.0);
    }

    /// A plot dated by its observed heading less the class's heading day has fractional days
    /// from transplanting and to heading: they are kept to a tenth of a day, and print so.
    #[test]
    fn days_after_transplanting_and_to_heading_keep_a_tenth_of_a_day() {
        let at = T + 72.0;
        let p = stage_of(&rice(56.0), at, false);
        let (dat, to_heading) = (
            p.days_after_transplanting.unwrap(),
            p.days_to_heading.unwrap(),
        );
        let planted = p.transplanting_range.unwrap().day;
        let headed = p.heading_range.unwrap().day;
        assert!(
            planted.fract() != 0.0 && headed.fract() != 0.0,
            "{planted} {headed}: fractional days, or the test says nothing"
        );
        assert!((dat - (at - planted)).abs() <= 0.05 + 1e-12, "{dat}");
        assert!(
            (to_heading - (headed - at)).abs() <= 0.05 + 1e-12,
            "{to_heading}"
        );
        for v in [dat, to_heading] {
            let text = v.to_string();
            assert!(text.split('.').nth(1).map_or(0, str::len) <= 1, "{text}");
        }
        assert_eq!(tenth(41.000_000_000_01), 41.0);
        assert_eq!(tenth(40.668_307_115_487_55).to_string(), "40.7");
        assert_eq!(tenth(-0.04).to_string(), "0");
    }

    #[test]
    fn a_loose_top_leans_on_the_table_and_a_tight_one_does_not() {
        let table = Dated {
            day: 104.0,
            earliest: 94.0,
            latest: 114.0,
        };
        // The table's 20 days as uniform: variance 100 / 3.
        let var_table = 100.0 / 3.0;
        // A fit of ±1 day: deviation 0.5, weight on it (100/3) / (100/3 + 0.25).
        let tight = weighed(
            Dated {
                day: 100.0,
                earliest: 99.0,
                latest: 101.0,
            },
            table,
        );
        let on_fit = var_table / (var_table + 0.25);
        assert!((tight.day - (100.0 * on_fit + 104.0 * (1.0 - on_fit))).abs() < 1e-9);
        assert!(tight.day < 100.05, "{}", tight.day);
        // A fit of ±10 days: deviation 5, weight (100/3) / (100/3 + 25) = 4/7.
        let loose = weighed(
            Dated {
                day: 100.0,
                earliest: 90.0,
                latest: 110.0,
            },
            table,
        );
        assert!((loose.day - (100.0 * 4.0 / 7.0 + 104.0 * 3.0 / 7.0)).abs() < 1e-9);
        // The weighed deviation: sqrt(25 × 4/7), its interval ±2 of them.
        let sd = (25.0f64 * 4.0 / 7.0).sqrt();
        assert!((loose.latest - loose.day - 2.0 * sd).abs() < 1e-9);
        assert!((loose.day - loose.earliest - 2.0 * sd).abs() < 1e-9);
    }

    #[test]
    fn overdue_needs_the_top_among_the_last_observations() {
        let table = Dated {
            day: T + 62.0,
            earliest: T + 50.0,
            latest: T + 74.0,
        };
        let seen = observed_by(&rice(70.0), T + 72.0);
        let o = overdue(table, &seen, T).unwrap();
        assert_eq!((o.unseen_by, o.days), (T + 65.0, 4.0));
        // The table's day ± the variety's 5 days (57–67), whatever transplanting's bracket
        // (50–74 here); cut beyond it: at most its end.
        let late = observed_by(&rice(90.0), T + 92.0);
        assert_eq!(overdue(table, &late, T).unwrap().days, 5.0);
        // The top with two observations after it (a fit that failed) says nothing.
        let past = observed_by(&rice(70.0), T + 80.0);
        assert!(overdue(table, &past, T).is_none());
        // Nothing clear since transplanting: nothing to say.
        assert!(overdue(table, &seen, T + 100.0).is_none());
    }
}
