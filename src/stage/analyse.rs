//! One plot's series → smoothed curve, season events, transplanting, stage and confidence.

use crate::phenology::dates::Date;
use crate::phenology::season::{self, NoSeason, Season};
use crate::phenology::smooth::{self, Daily};
use crate::phenology::stage::{reconcile, Agreement, CurveCues, Stage, StageCall, StageTable};

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
}

/// Fewest valid dates that can show a season.
pub const MIN_DATES: usize = 4;
/// Smallest seasonal amplitude (index units, NDVI-like) taken as a crop season.
pub const MIN_AMPLITUDE: f64 = 0.15;
/// How far before the season's rise the flooding signal is looked for (days).
pub const FLOODING_LOOKBACK: f64 = 60.0;
/// How far back from the date of interest a season may have started (days): one rice crop.
pub const SEASON_SPAN: f64 = 200.0;

/// Everything found for one plot.
#[derive(Debug, Clone)]
pub struct PlotStage {
    pub id: String,
    pub class: String,
    /// The class is not in the stage table.
    pub unknown_class: bool,
    pub call: StageCall,
    /// 0–1: how far to trust the stage (valid dates, fit, agreement of the cues).
    pub confidence: f64,
    pub valid_dates: usize,
    pub dropped_dates: Vec<Date>,
    pub transplanting: Option<Date>,
    /// `attribute`, `flooding` (LSWI + 0.05 ≥ VI) or `season start`.
    pub transplanting_source: &'static str,
    /// The last flooded date before the season's rise (LSWI + 0.05 ≥ VI), with --lswi.
    pub flooding: Option<Date>,
    pub days_after_transplanting: Option<f64>,
    pub season: Option<Season>,
    /// Why there is no season, when there is none.
    pub no_season: Option<String>,
    pub heading: Option<Date>,
    /// `recorded transplanting + table`, `curve maximum` or `estimated transplanting + table`.
    pub heading_source: &'static str,
    /// The smoothed curve's maximum, once the curve has turned.
    pub heading_curve: Option<Date>,
    pub days_to_heading: Option<f64>,
    pub maturity: Option<Date>,
    /// Root-mean-square difference between the kept observations and the curve.
    pub residual: f64,
    /// The observations kept: (day, value).
    pub points: Vec<(f64, f64)>,
    /// The smoothed curve.
    pub curve: Daily,
}

fn day_to_date(day: f64) -> Option<Date> {
    day.is_finite()
        .then(|| Date::from_days_since_epoch(day.round() as i32))
}

/// Analyse one plot.
pub fn analyse(
    id: &str,
    class: &str,
    transplanted: Option<Date>,
    vi: &PlotSeries,
    lswi: Option<&PlotSeries>,
    s: &Settings,
) -> PlotStage {
    let at = f64::from(s.at.days_since_epoch());
    let unknown_class = s.table.get(class).is_none();
    // Only what was observed by `at`: the stage on a past date is the one a run on that date
    // would have given.
    let known = vi.days.iter().take_while(|&&d| d <= at).count();
    let vi = &PlotSeries {
        days: vi.days[..known].to_vec(),
        values: vi.values[..known].to_vec(),
        valid_share: vi.valid_share[..known].to_vec(),
        dropped: vi
            .dropped
            .iter()
            .copied()
            .filter(|d| f64::from(d.days_since_epoch()) <= at)
            .collect(),
    };
    let points: Vec<(f64, f64)> = vi
        .days
        .iter()
        .copied()
        .zip(vi.values.iter().copied())
        .collect();
    let weights: Vec<f64> = vi.valid_share.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let curve = if points.len() >= 2 {
        s.smoother.smooth(&vi.days, &vi.values, &weights)
    } else {
        Daily {
            start: at,
            values: Vec::new(),
        }
    };
    let residual = if curve.is_empty() {
        f64::NAN
    } else {
        let sq: f64 = points.iter().map(|(t, y)| (curve.at(*t) - y).powi(2)).sum();
        (sq / points.len() as f64).sqrt()
    };
    // The season of interest: the one that started within a crop's span before `at`, judged on
    // the curve up to `at` (what happens later is not known yet at `at`).
    // A season still rising at `at` has no peak yet, but its green-up day stands in for a start.
    let mut green_up = None;
    let (season, no_season) = if points.len() < MIN_DATES {
        (
            None,
            Some(format!(
                "only {} valid date{} ({} needed to see a season)",
                points.len(),
                if points.len() == 1 { "" } else { "s" },
                MIN_DATES
            )),
        )
    } else {
        let from = s
            .from
            .map_or(at - SEASON_SPAN, |d| f64::from(d.days_since_epoch()));
        match season::detect_in_window(&curve, from, at, s.fraction, MIN_AMPLITUDE) {
            Ok(season) => (Some(season), None),
            Err(why) => {
                green_up = match why {
                    NoSeason::PeakAtEnd { green_up } => green_up,
                    _ => None,
                };
                (None, Some(why.to_string()))
            }
        }
    };

    // The flooding signal (Xiao et al. 2005), reported whatever the transplanting source.
    let flooding = match (lswi, season.as_ref().map(|x| x.start).or(green_up)) {
        (Some(lswi), Some(rise)) => {
            let (t, v, l) = paired(vi, lswi);
            let valid = vec![true; t.len()];
            season::flooding_day(&t, &v, &l, &valid, rise, FLOODING_LOOKBACK).and_then(day_to_date)
        }
        _ => None,
    };
    // Transplanting: the recorded date (a fact beats an estimate at revisit resolution), else the
    // flooding signal, else the season start.
    let (transplanting, transplanting_source) = if let Some(t) = transplanted {
        (Some(t), "attribute")
    } else if let Some(f) = flooding {
        (Some(f), "flooding")
    } else if let Some(start) = season.as_ref().map(|x| x.start).or(green_up) {
        (day_to_date(start), "season start")
    } else {
        (None, "")
    };
    let dat = transplanting.map(|d| at - f64::from(d.days_since_epoch()));

    // Heading: from a recorded transplanting date and the variety's table; else the curve's
    // maximum once the curve has turned; else from the estimated transplanting date.
    let table_heading = s.table.get(class).map(|starts| starts.heading);
    let heading_curve = season.as_ref().filter(|x| x.peak < at).map(|x| x.peak);
    let from_dat = match (transplanting, table_heading) {
        (Some(t), Some(h)) => Some(f64::from(t.days_since_epoch()) + h),
        _ => None,
    };
    let (heading_day, heading_source) = match (transplanted.and(from_dat), heading_curve, from_dat)
    {
        (Some(h), _, _) => (Some(h), "recorded transplanting + table"),
        (None, Some(h), _) => (Some(h), "curve maximum"),
        (None, None, Some(h)) => (Some(h), "estimated transplanting + table"),
        _ => (None, ""),
    };
    let days_to_heading = match (dat, table_heading) {
        (Some(dat), Some(h)) => Some(h - dat),
        _ => heading_day.map(|h| h - at),
    };
    let maturity = season
        .as_ref()
        .and_then(|x| x.steepest_decline.or(x.end))
        .and_then(day_to_date);

    // Too few dates say nothing reliable about the curve's shape: no curve cues then.
    let cues = match (&season, curve.is_empty() || points.len() < MIN_DATES) {
        (_, true) => CurveCues::default(),
        (season, false) => {
            let slope = curve.at(at) - curve.at(at - 1.0);
            CurveCues {
                days_from_peak: season.as_ref().filter(|x| x.peak < at).map(|x| at - x.peak),
                slope_per_day: slope.is_finite().then_some(slope),
                amplitude_fraction: season.as_ref().map(|x| {
                    ((curve.at(at) - x.base) / x.amplitude.max(f64::EPSILON)).clamp(0.0, 1.0)
                }),
            }
        }
    };
    let mut call = reconcile(s.table, class, dat, &cues);
    if points.is_empty() {
        // Nothing seen of the plot: a stage from the recorded date alone would be a guess.
        call = StageCall {
            stage: Stage::Unknown,
            agreement: Agreement::None,
            reason: format!(
                "no valid observation of the plot by {} (outside the rasters, or every date cloudy or under --min-valid)",
                s.at
            ),
            dat_stage: call.dat_stage,
            curve_stage: None,
        };
    }
    if call.stage == Stage::Unknown {
        if let Some(why) = &no_season {
            if transplanting.is_none() {
                call.reason = format!("{why}; no transplanting date");
            }
        }
    }
    let confidence = confidence(points.len(), residual, season.as_ref(), call.agreement);
    PlotStage {
        id: id.to_string(),
        class: class.to_string(),
        unknown_class,
        call,
        confidence,
        valid_dates: points.len(),
        dropped_dates: vi.dropped.clone(),
        transplanting,
        transplanting_source,
        flooding,
        days_after_transplanting: dat,
        season,
        no_season,
        heading: heading_day.and_then(day_to_date),
        heading_source,
        heading_curve: heading_curve.and_then(day_to_date),
        days_to_heading,
        maturity,
        residual,
        points,
        curve,
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

/// 0–1 trust in a stage call: the product of three shares —
/// dates: valid dates / 8 (capped at 1: eight dates over a season resolve it);
/// fit: 1 − residual / (amplitude / 2) (clamped; a curve that misses its points by half the
/// season's amplitude says little);
/// cues: 1 when DAT and curve agree, 0.7 when only one speaks, 0.4 when they disagree, 0 with
/// neither. Rounded to 0.01.
pub fn confidence(
    valid_dates: usize,
    residual: f64,
    season: Option<&Season>,
    agreement: Agreement,
) -> f64 {
    let dates = (valid_dates as f64 / 8.0).min(1.0);
    let fit = match season {
        Some(s) if residual.is_finite() => {
            (1.0 - residual / (s.amplitude / 2.0).max(f64::EPSILON)).clamp(0.0, 1.0)
        }
        _ => 0.5,
    };
    let cues = match agreement {
        Agreement::Agree => 1.0,
        Agreement::CurveOnly | Agreement::DatOnly => 0.7,
        Agreement::Disagree => 0.4,
        Agreement::None => 0.0,
    };
    (dates * fit * cues * 100.0).round() / 100.0
}
