//! One crop season's events from a smoothed daily index curve ([`Daily`]).
//!
//! A season is a rise and fall of the vegetation index: the curve's maximum is taken for
//! heading (Sakamoto et al. 2005, "A crop phenology detection method using time-series MODIS
//! data", Remote Sens. Environ. 96:366: heading ≈ the date of the smoothed EVI maximum, errors
//! of 9–12 days against records), the start and end of season are the days the curve crosses a
//! fraction of the seasonal amplitude (TIMESAT's amplitude thresholds; MODIS MCD12Q2 uses 15%
//! for green-up), and the steepest decline after the peak marks ripening towards maturity.
//!
//! Curves with several seasons (double cropping, multi-year series) are split at their peaks
//! by *prominence*: a local maximum is a season's peak only when the curve falls at least
//! `min_amplitude` below it before reaching higher ground on either side, so a shoulder or a
//! wobble within one season never becomes a season of its own.
//!
//! The base of a season is the trough its rise starts from: walking back from the peak, the
//! lowest value before the curve climbs again by `min_amplitude` (into an earlier crop, a weedy
//! fallow) or reaches the previous season's peak. The same walk forward gives the trough after
//! the season. A fixed window (Sakamoto et al. look for planting within ~60 days before
//! heading) fits rice but cuts the rise of longer crops: winter wheat or grass on the
//! Slovenian test series climb for 150+ days, and a 90-day window put their base on the rise
//! itself.
//!
//! - [`detect`]: the season with the largest amplitude in the whole curve (MODIS MCD12Q2 also
//!   keeps the cycles with the largest amplitudes); on a single-season curve, its maximum;
//! - [`detect_in_window`]: the season a date belongs to: the curve after that date is ignored
//!   (not known yet at that date), and the *latest* season peaking in the window is returned,
//!   or [`NoSeason::PeakAtEnd`] when a new rise has begun;
//! - [`detect_all`]: every season, in time order;
//! - [`check_dates`]: refuses series with too few usable dates before any smoothing.

use std::fmt;

use super::smooth::Daily;

/// Default fraction of the seasonal amplitude at which the season starts and ends
/// (AGRONOMY.md: 0.2–0.5 are common in TIMESAT use; 0.2 puts the start close to the beginning of
/// the rise, i.e. close to transplanting, which is what the stage logic needs).
pub const DEFAULT_FRACTION: f64 = 0.2;

/// Default smallest seasonal amplitude (index units, NDVI) taken as a crop season. A flooded or
/// bare paddy has NDVI ≈ 0.0–0.2 and a rice canopy at heading 0.7–0.9, so a rice season rises by
/// 0.4 or more; plot-mean noise of Sentinel-2 NDVI after masking is a few hundredths. 0.15
/// keeps weak or partly observed seasons and refuses the wobbles of grass, fallow and noise.
/// Lower it for EVI (whose amplitude is about two thirds of NDVI's).
pub const DEFAULT_MIN_AMPLITUDE: f64 = 0.15;

/// Fewest distinct usable dates for a season: something before the rise, the rise, the peak
/// and the decline.
pub const MIN_DATES: usize = 4;

/// The events of one season, as days on the curve's axis (days since the epoch of the input).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Season {
    /// The trough the season's rise starts from (the flooded or bare field before green-up):
    /// the lowest value walking back from the peak until the curve climbs again by the minimum
    /// amplitude, reaches the previous season's peak, or begins.
    pub base: f64,
    /// The curve's value at the peak.
    pub peak_value: f64,
    /// `peak_value − base`.
    pub amplitude: f64,
    /// The last day before the peak on which the curve rises through `base + fraction ·
    /// amplitude` (linear interpolation between days): start of season, close to transplanting.
    pub start: f64,
    /// The day of the curve's maximum: heading (Sakamoto et al. 2005).
    pub peak: f64,
    /// The first day after the peak on which the curve falls through `after_base + fraction ·
    /// (peak_value − after_base)`, `after_base` being the trough after the peak (found as the
    /// base, walking forward), or the lower of that and `base` while the curve is still falling
    /// when it ends; `None` when the curve ends first.
    pub end: Option<f64>,
    /// The day of the most negative daily slope between the peak and the post-season minimum
    /// (midway between the two days of that slope): ripening, a maturity proxy. `None` when the
    /// curve does not decline after the peak, or ends before the decline is clearly over (before
    /// it has crossed the end threshold or bottomed out), since a steeper fall may follow.
    pub steepest_decline: Option<f64>,
}

/// Why a curve shows no season; its `Display` is the human reason given with `stage = unknown`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoSeason {
    /// Only this many usable dates ([`check_dates`]).
    TooFewDates(usize),
    /// The curve is empty or has no finite value (every date cloudy or missing).
    NoData,
    /// The largest rise and fall found is this big, below the minimum amplitude.
    TooSmallAmplitude(f64),
    /// The curve is still rising on its last day: the season has not peaked (not headed) yet,
    /// or the series shows a trend rather than a season. `green_up` is the day the rise crossed
    /// `base + fraction · (last value − base)`, a provisional start of season (it moves later
    /// as the rise continues), when the rise is at least the minimum amplitude.
    PeakAtEnd { green_up: Option<f64> },
    /// The curve only falls from its first day (or the first day of the window looked at): the
    /// season peaked before, or the series shows a trend.
    PeakAtStart,
}

impl fmt::Display for NoSeason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NoSeason::TooFewDates(n) => write!(
                f,
                "only {n} valid date{}: too few to see a season (at least {MIN_DATES})",
                if n == 1 { "" } else { "s" }
            ),
            NoSeason::NoData => write!(f, "no valid index value (every date cloudy or missing)"),
            NoSeason::TooSmallAmplitude(a) => write!(
                f,
                "the index rises and falls by only {a:.3}: too little for a crop season"
            ),
            NoSeason::PeakAtEnd { .. } => write!(
                f,
                "the index is still rising at the last date: no peak (heading) yet, or a trend \
                 rather than a season"
            ),
            NoSeason::PeakAtStart => write!(
                f,
                "the index only falls from the first date looked at: the season peaked before, or \
                 a trend rather than a season"
            ),
        }
    }
}

impl std::error::Error for NoSeason {}

/// Counts the distinct days with a usable observation (finite day and value, positive weight)
/// and refuses a series with fewer than `min_dates` of them ([`MIN_DATES`] is the default).
pub fn check_dates(t: &[f64], y: &[f64], w: &[f64], min_dates: usize) -> Result<usize, NoSeason> {
    let mut days: Vec<f64> = t
        .iter()
        .zip(y)
        .zip(w)
        .filter(|((t, y), w)| t.is_finite() && y.is_finite() && w.is_finite() && **w > 0.0)
        .map(|((t, _), _)| *t)
        .collect();
    days.sort_by(f64::total_cmp);
    days.dedup();
    if days.len() < min_dates {
        Err(NoSeason::TooFewDates(days.len()))
    } else {
        Ok(days.len())
    }
}

/// The season with the largest amplitude on the whole curve (on a single-season curve, the
/// one around its maximum). `fraction` (0–1, [`DEFAULT_FRACTION`]) sets the start and end
/// thresholds; seasons with an amplitude or prominence below `min_amplitude`
/// ([`DEFAULT_MIN_AMPLITUDE`]) are refused, and so is a curve whose maximum is its first or
/// last day with no season inside (a trend), each with a [`NoSeason`] reason.
///
/// ```
/// use paddy::phenology::season::{detect, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE};
/// use paddy::phenology::smooth::Daily;
/// // A triangle: 0.1 on day 0, 0.8 on day 70, back to 0.1 on day 140.
/// let values = (0..=140).map(|d| 0.8 - 0.01 * (d as f64 - 70.0).abs()).collect();
/// let curve = Daily { start: 0.0, values };
/// let s = detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
/// assert_eq!(s.peak, 70.0);
/// assert!((s.start - 14.0).abs() < 1e-9 && (s.end.unwrap() - 126.0).abs() < 1e-9);
/// ```
pub fn detect(curve: &Daily, fraction: f64, min_amplitude: f64) -> Result<Season, NoSeason> {
    let view = View::whole(curve)?;
    let found = view.seasons(fraction, min_amplitude);
    found
        .seasons
        .iter()
        .copied()
        .reduce(|a, b| if b.amplitude > a.amplitude { b } else { a })
        .ok_or_else(|| view.why_none(&found, fraction, min_amplitude))
}

/// Every season on the curve, in time order (empty when there is none; [`detect`] says why).
pub fn detect_all(curve: &Daily, fraction: f64, min_amplitude: f64) -> Vec<Season> {
    match View::whole(curve) {
        Ok(view) => view.seasons(fraction, min_amplitude).seasons,
        Err(_) => Vec::new(),
    }
}

/// The season that the day `to` belongs to. The curve after `to` is ignored (at `to` it is not
/// known yet); seasons are found on the curve up to `to`, and the latest one whose peak lies in
/// `[from, to]` is returned (its rise may begin before `from`, so that a window of one crop span
/// also serves crops whose rise is slow). When the curve has risen again by at least
/// `min_amplitude` after the last season's peak (or, without any season, above its lowest
/// point) and is still rising at `to`, a new season is under way and has not peaked:
/// [`NoSeason::PeakAtEnd`] with its provisional green-up day. Without a season peaking in the
/// window, the reason is judged on the curve between `from` and `to`. With `to` = the date of
/// interest and `from` = one crop span earlier (~200 days for rice), this gives the season a
/// stage belongs to.
pub fn detect_in_window(
    curve: &Daily,
    from: f64,
    to: f64,
    fraction: f64,
    min_amplitude: f64,
) -> Result<Season, NoSeason> {
    if from.is_nan() || to.is_nan() || to < from {
        return Err(NoSeason::NoData);
    }
    let known = View::window(curve, f64::NEG_INFINITY, to)?;
    let found = known.seasons(fraction, min_amplitude);
    let last_peak = found.peaks.last().copied().unwrap_or(0);
    if let Some(green_up) = known.trailing_rise(last_peak, fraction, min_amplitude) {
        return Err(NoSeason::PeakAtEnd {
            green_up: Some(green_up),
        });
    }
    if let Some(season) = found.seasons.iter().rev().find(|s| s.peak >= from) {
        return Ok(*season);
    }
    let window = View::window(curve, from, to)?;
    let inside = window.seasons(fraction, min_amplitude);
    Err(window.why_none(&inside, fraction, min_amplitude))
}

/// The part of a curve looked at: its values and the day of the first one.
struct View<'a> {
    v: &'a [f64],
    start: f64,
}

/// What [`View::seasons`] found: the seasons, the indices of their peaks, and the largest
/// amplitude seen among all candidate peaks (for the reason when none qualifies).
struct Found {
    seasons: Vec<Season>,
    peaks: Vec<usize>,
    best_amplitude: f64,
}

impl<'a> View<'a> {
    fn whole(curve: &'a Daily) -> Result<Self, NoSeason> {
        Self::checked(&curve.values, curve.start)
    }

    fn window(curve: &'a Daily, from: f64, to: f64) -> Result<Self, NoSeason> {
        let n = curve.values.len();
        if n == 0 || from.is_nan() || to.is_nan() || to < from {
            return Err(NoSeason::NoData);
        }
        let last = (n - 1) as f64;
        let lo = (from - curve.start).ceil().clamp(0.0, last);
        let hi = (to - curve.start).floor().clamp(0.0, last);
        if to < curve.start || from > curve.start + last || hi < lo {
            return Err(NoSeason::NoData);
        }
        let (lo, hi) = (lo as usize, hi as usize);
        Self::checked(&curve.values[lo..=hi], curve.start + lo as f64)
    }

    fn checked(v: &'a [f64], start: f64) -> Result<Self, NoSeason> {
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) || !start.is_finite() {
            return Err(NoSeason::NoData);
        }
        Ok(View { v, start })
    }

    fn day(&self, i: f64) -> f64 {
        self.start + i
    }

    /// Seasons at the prominent interior maxima.
    fn seasons(&self, fraction: f64, min_amplitude: f64) -> Found {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            DEFAULT_FRACTION
        };
        let v = self.v;
        let n = v.len();
        let mut best_amplitude = 0.0f64;
        let mut peaks = Vec::new();
        for p in 1..n.saturating_sub(1) {
            if !(v[p] > v[p - 1] && v[p] >= v[p + 1]) {
                continue;
            }
            let amplitude = v[p] - self.trough(p, 0, min_amplitude, false).1;
            best_amplitude = best_amplitude.max(amplitude);
            if self.prominence(p) >= min_amplitude && amplitude >= min_amplitude {
                peaks.push(p);
            }
        }
        let mut seasons = Vec::with_capacity(peaks.len());
        let mut kept = Vec::with_capacity(peaks.len());
        for (k, &p) in peaks.iter().enumerate() {
            let before = if k == 0 { 0 } else { peaks[k - 1] };
            let after = peaks.get(k + 1).copied().unwrap_or(n - 1);
            let season = self.season_at(p, before, after, fraction, min_amplitude);
            if season.amplitude >= min_amplitude {
                seasons.push(season);
                kept.push(p);
            }
        }
        Found {
            seasons,
            peaks: kept,
            best_amplitude,
        }
    }

    /// How far the curve falls below `v[p]` before it reaches higher ground. On each side the
    /// lowest value before a higher one (or the end of the view) is found; sides that reach a
    /// higher value count, and a peak higher than everything on both sides (the maximum, or a
    /// peak close to the end of the series) uses the deeper side, so that a season whose
    /// decline is cut by the end of the series still counts.
    fn prominence(&self, p: usize) -> f64 {
        let v = self.v;
        let side = |range: &mut dyn Iterator<Item = usize>| {
            let mut lowest = v[p];
            for j in range {
                if v[j] > v[p] {
                    return (lowest, true);
                }
                lowest = lowest.min(v[j]);
            }
            (lowest, false)
        };
        let (left, left_closed) = side(&mut (0..p).rev());
        let (right, right_closed) = side(&mut (p + 1..v.len()));
        let floor = match (left_closed, right_closed) {
            (true, true) => left.max(right),
            (true, false) => left,
            (false, true) => right,
            (false, false) => left.min(right),
        };
        v[p] - floor
    }

    /// The trough next to the peak `p`, walking back (`forward` false) or forward from it, no
    /// further than index `bound`: the index and value of the lowest point before the curve
    /// climbs more than `min_amplitude` above it or above `v[p]`.
    fn trough(&self, p: usize, bound: usize, min_amplitude: f64, forward: bool) -> (usize, f64) {
        let v = self.v;
        let mut best = (p, v[p]);
        let mut visit = |j: usize| {
            if v[j] > best.1 + min_amplitude || v[j] > v[p] {
                return false;
            }
            if v[j] < best.1 || (v[j] == best.1 && !forward) {
                best = (j, v[j]);
            }
            true
        };
        if forward {
            for j in p + 1..=bound.min(v.len() - 1) {
                if !visit(j) {
                    break;
                }
            }
        } else {
            for j in (bound.min(p)..p).rev() {
                if !visit(j) {
                    break;
                }
            }
        }
        best
    }

    /// The season around the peak `p`; its troughs are looked for after the previous peak
    /// `before` and before the next peak `after`.
    fn season_at(
        &self,
        p: usize,
        before: usize,
        after: usize,
        fraction: f64,
        min_amplitude: f64,
    ) -> Season {
        let v = self.v;
        let n = v.len();
        let (base_at, base) = self.trough(p, before, min_amplitude, false);
        let amplitude = v[p] - base;
        let rise = base + fraction * amplitude;
        let start = (base_at..p)
            .rev()
            .find(|&i| v[i] < rise && v[i + 1] >= rise)
            .map_or(base_at as f64, |i| crossing(i, v[i], v[i + 1], rise));

        // The trough after the season, and whether the curve has bottomed out there (rather
        // than being cut by the end of the view while still falling).
        let (after_at, after_min) = self.trough(p, after, min_amplitude, true);
        let bottomed = after_at > p && after_at + 1 < n && v[after_at + 1] >= v[after_at];
        let after_base = if bottomed {
            after_min
        } else {
            after_min.min(base)
        };
        let fall = after_base + fraction * (v[p] - after_base);
        let limit = if bottomed { after_at } else { n - 1 };
        let end = (p..limit)
            .find(|&i| v[i] >= fall && v[i + 1] < fall)
            .map(|i| self.day(crossing(i, v[i], v[i + 1], fall)));

        let steepest_decline = if bottomed || end.is_some() {
            (p..limit)
                .map(|i| (i, v[i + 1] - v[i]))
                .filter(|&(_, slope)| slope < 0.0)
                .fold(None, |best: Option<(usize, f64)>, (i, s)| match best {
                    Some((_, b)) if b <= s => best,
                    _ => Some((i, s)),
                })
                .map(|(i, _)| self.day(i as f64 + 0.5))
        } else {
            None
        };
        Season {
            base,
            peak_value: v[p],
            amplitude,
            start: self.day(start),
            peak: self.day(p as f64),
            end,
            steepest_decline,
        }
    }

    /// When the view ends in a rise of at least `min_amplitude` above its lowest value after
    /// index `after`, the provisional green-up day of that rise.
    fn trailing_rise(&self, after: usize, fraction: f64, min_amplitude: f64) -> Option<f64> {
        let v = self.v;
        let n = v.len();
        if n < 2 || after >= n - 1 || v[n - 1] <= v[n - 2] {
            return None;
        }
        let (at, base) = last_min_of(&v[after..]);
        let at = after + at;
        let top = v[n - 1];
        if top - base < min_amplitude {
            return None;
        }
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            DEFAULT_FRACTION
        };
        let rise = base + fraction * (top - base);
        let i = (at..n - 1)
            .rev()
            .find(|&i| v[i] < rise && v[i + 1] >= rise)
            .map_or(at as f64, |i| crossing(i, v[i], v[i + 1], rise));
        Some(self.day(i))
    }

    /// The reason when no season qualifies.
    fn why_none(&self, found: &Found, fraction: f64, min_amplitude: f64) -> NoSeason {
        let v = self.v;
        if let Some(green_up) = self.trailing_rise(0, fraction, min_amplitude) {
            return NoSeason::PeakAtEnd {
                green_up: Some(green_up),
            };
        }
        let (_, lowest) = min_of(v);
        let highest = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if v[0] >= highest && v[0] - lowest >= min_amplitude {
            return NoSeason::PeakAtStart;
        }
        let rising = v.len() >= 2 && v[v.len() - 1] > v[v.len() - 2];
        if rising && v[v.len() - 1] >= highest && highest - lowest >= min_amplitude {
            return NoSeason::PeakAtEnd { green_up: None };
        }
        let trend = if v.len() >= 2 {
            (v[v.len() - 1] - v[0]).abs()
        } else {
            0.0
        };
        NoSeason::TooSmallAmplitude(found.best_amplitude.max(trend))
    }
}

/// The fractional index where the segment from `(i, a)` to `(i + 1, b)` reaches `level`.
fn crossing(i: usize, a: f64, b: f64, level: f64) -> f64 {
    if b == a {
        i as f64
    } else {
        i as f64 + ((level - a) / (b - a)).clamp(0.0, 1.0)
    }
}

/// The first index of the minimum of a non-empty slice, and the minimum.
fn min_of(v: &[f64]) -> (usize, f64) {
    v.iter().enumerate().fold(
        (0, f64::INFINITY),
        |(bi, b), (i, &x)| {
            if x < b {
                (i, x)
            } else {
                (bi, b)
            }
        },
    )
}

/// The last index of the minimum of a non-empty slice, and the minimum.
fn last_min_of(v: &[f64]) -> (usize, f64) {
    v.iter().enumerate().fold(
        (0, f64::INFINITY),
        |(bi, b), (i, &x)| {
            if x <= b {
                (i, x)
            } else {
                (bi, b)
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phenology::smooth::{
        upper_envelope, whittaker_daily, DEFAULT_ENVELOPE_ITERATIONS, DEFAULT_LAMBDA,
    };

    /// A transplanted rice season as a double logistic (Beck et al. 2006 form): NDVI 0.12 on
    /// the flooded field, rising around day 135 (transplanted ~day 110), 0.85 at the top,
    /// falling around day 205 (ripening), bare again by day 240.
    fn rice(d: f64) -> f64 {
        let rise = 1.0 / (1.0 + (-(d - 135.0) / 7.0).exp());
        let fall = 1.0 / (1.0 + (-(d - 205.0) / 6.0).exp());
        0.12 + 0.73 * (rise - fall)
    }

    /// Bisection for the root of `f` in `[a, b]` (`f(a)` and `f(b)` of opposite signs).
    fn bisect(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
        let fa = f(a);
        assert!(fa * f(b) <= 0.0, "no sign change in [{a}, {b}]");
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if (f(m) > 0.0) == (fa > 0.0) {
                a = m;
            } else {
                b = m;
            }
        }
        0.5 * (a + b)
    }

    /// The analytic events of `rice`, by the same definitions but on the exact curve: the
    /// peak where the derivative vanishes, bases as minima over the 90-day windows (sampled
    /// every 0.01 day), crossings by bisection.
    fn analytic(fraction: f64) -> (f64, f64, f64, f64) {
        let slope = |d: f64| rice(d + 1e-6) - rice(d - 1e-6);
        let peak = bisect(slope, 140.0, 200.0);
        let min_over = |a: f64, b: f64| {
            (0..=((b - a) * 100.0) as usize)
                .map(|k| rice(a + k as f64 / 100.0))
                .fold(f64::INFINITY, f64::min)
        };
        let (top, base, after) = (
            rice(peak),
            min_over(peak - 90.0, peak),
            min_over(peak, peak + 90.0),
        );
        let start = bisect(
            |d| rice(d) - (base + fraction * (top - base)),
            peak - 90.0,
            peak,
        );
        let end = bisect(
            |d| rice(d) - (after + fraction * (top - after)),
            peak,
            peak + 90.0,
        );
        let steepest = bisect(
            |d| slope(d + 1e-3) - slope(d - 1e-3),
            peak + 5.0,
            peak + 60.0,
        );
        (start, peak, end, steepest)
    }

    fn noise(seed: &mut u64, amp: f64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * amp
    }

    /// Five-day samples from day 60 to 300 with noise, masked gaps (weight 0, some with
    /// nonsense values) and two undetected clouds (weight 1, value pushed down).
    fn rice_series() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut seed = 2005;
        let t: Vec<f64> = (12..=60).map(|i| (i * 5) as f64).collect();
        let mut y: Vec<f64> = t
            .iter()
            .map(|&d| rice(d) + noise(&mut seed, 0.02))
            .collect();
        let mut w = vec![1.0; t.len()];
        for &gap in &[140.0, 145.0, 190.0, 250.0, 255.0, 260.0] {
            let i = t.iter().position(|&d| d == gap).unwrap();
            w[i] = 0.0;
            y[i] = 0.05;
        }
        for &(cloud, by) in &[(165.0, 0.35), (215.0, 0.25)] {
            let i = t.iter().position(|&d| d == cloud).unwrap();
            y[i] -= by;
        }
        (t, y, w)
    }

    #[test]
    fn a_rice_season_is_timed_within_five_days() {
        let (start, peak, end, steepest) = analytic(DEFAULT_FRACTION);
        assert!((150.0..190.0).contains(&peak) && start < peak && end > peak);
        let (t, y, w) = rice_series();
        let envelope = upper_envelope(&t, &y, &w, DEFAULT_LAMBDA, DEFAULT_ENVELOPE_ITERATIONS);
        let mut clean_w = w.clone();
        for &cloud in &[165.0, 215.0] {
            clean_w[t.iter().position(|&d| d == cloud).unwrap()] = 0.0;
        }
        // The envelope on all points, and the plain smoother told about the clouds.
        let masked = whittaker_daily(&t, &y, &clean_w, DEFAULT_LAMBDA);
        for curve in [&envelope, &masked] {
            let s = detect(curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
            assert!(
                (s.start - start).abs() <= 5.0,
                "start {} vs {start}",
                s.start
            );
            assert!((s.peak - peak).abs() <= 5.0, "peak {} vs {peak}", s.peak);
            let e = s.end.unwrap();
            assert!((e - end).abs() <= 5.0, "end {e} vs {end}");
            let m = s.steepest_decline.unwrap();
            assert!((m - steepest).abs() <= 5.0, "steepest {m} vs {steepest}");
            assert!((s.amplitude - 0.73).abs() < 0.08 && (s.base - 0.12).abs() < 0.05);
            assert_eq!(s.amplitude, s.peak_value - s.base);
            // The same season is found as the season of a date after it.
            let w = detect_in_window(curve, 0.0, 290.0, DEFAULT_FRACTION, 0.15).unwrap();
            assert_eq!(w, s);
        }
        // The clouds drag the plain smoother's peak and end.
        let plain = whittaker_daily(&t, &y, &w, DEFAULT_LAMBDA);
        let s = detect(&plain, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
        assert!(s.peak_value < envelope.values.iter().copied().fold(0.0, f64::max));
    }

    #[test]
    fn other_fractions_move_start_and_end_as_the_analytic_curve_does() {
        let (t, y, w) = rice_series();
        let curve = upper_envelope(&t, &y, &w, DEFAULT_LAMBDA, DEFAULT_ENVELOPE_ITERATIONS);
        for fraction in [0.1, 0.5] {
            let (start, _, end, _) = analytic(fraction);
            let s = detect(&curve, fraction, DEFAULT_MIN_AMPLITUDE).unwrap();
            assert!(
                (s.start - start).abs() <= 5.0,
                "{fraction}: {} vs {start}",
                s.start
            );
            assert!((s.end.unwrap() - end).abs() <= 5.0, "{fraction}: end");
        }
    }

    #[test]
    fn a_flat_series_has_too_small_an_amplitude() {
        let t: Vec<f64> = (0..40).map(|i| (i * 5) as f64).collect();
        let mut seed = 1;
        let y: Vec<f64> = t.iter().map(|_| 0.3 + noise(&mut seed, 0.02)).collect();
        let curve = whittaker_daily(&t, &y, &vec![1.0; t.len()], DEFAULT_LAMBDA);
        match detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE) {
            Err(NoSeason::TooSmallAmplitude(a)) => assert!(a < 0.05, "{a}"),
            other => panic!("{other:?}"),
        }
        assert!(detect_all(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).is_empty());
        let exact = Daily {
            start: 0.0,
            values: vec![0.4; 100],
        };
        assert_eq!(
            detect(&exact, 0.2, 0.15),
            Err(NoSeason::TooSmallAmplitude(0.0))
        );
    }

    #[test]
    fn a_monotonic_series_is_a_trend_not_a_season() {
        let t: Vec<f64> = (0..30).map(|i| (i * 5) as f64).collect();
        let up: Vec<f64> = t.iter().map(|&d| 0.1 + 0.005 * d).collect();
        let w = vec![1.0; t.len()];
        let curve = whittaker_daily(&t, &up, &w, DEFAULT_LAMBDA);
        match detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE) {
            Err(NoSeason::PeakAtEnd { green_up: Some(g) }) => {
                // Provisional green-up at 20% of the rise so far: day 29 of a straight line.
                assert!((g - 29.0).abs() < 0.5, "{g}");
            }
            other => panic!("{other:?}"),
        }
        let down: Vec<f64> = up.iter().rev().copied().collect();
        let curve = whittaker_daily(&t, &down, &w, DEFAULT_LAMBDA);
        assert_eq!(
            detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE),
            Err(NoSeason::PeakAtStart)
        );
        // A rise too small to matter is just too small.
        let small: Vec<f64> = t.iter().map(|&d| 0.3 + 0.0005 * d).collect();
        let curve = whittaker_daily(&t, &small, &w, DEFAULT_LAMBDA);
        assert!(matches!(
            detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE),
            Err(NoSeason::TooSmallAmplitude(_))
        ));
    }

    #[test]
    fn too_few_dates_and_no_data_are_reasons_not_panics() {
        assert_eq!(
            check_dates(&[10.0, 20.0], &[0.3, 0.5], &[1.0, 1.0], MIN_DATES),
            Err(NoSeason::TooFewDates(2))
        );
        // Duplicates, zero weights and NaN values do not count.
        assert_eq!(
            check_dates(
                &[1.0, 1.0, 2.0, 3.0, 4.0],
                &[0.3, 0.3, f64::NAN, 0.2, 0.1],
                &[1.0, 1.0, 1.0, 0.0, 1.0],
                MIN_DATES
            ),
            Err(NoSeason::TooFewDates(2))
        );
        assert_eq!(
            check_dates(&[1.0, 2.0, 3.0, 4.0], &[0.1; 4], &[1.0; 4], MIN_DATES),
            Ok(4)
        );
        // Two points smoothed: a line, which is no season either.
        let curve = whittaker_daily(&[10.0, 20.0], &[0.3, 0.5], &[1.0, 1.0], DEFAULT_LAMBDA);
        assert!(detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).is_err());
        let empty = Daily {
            start: 0.0,
            values: vec![],
        };
        assert_eq!(detect(&empty, 0.2, 0.15), Err(NoSeason::NoData));
        let cloudy = whittaker_daily(&[0.0, 5.0, 10.0], &[0.2; 3], &[0.0; 3], DEFAULT_LAMBDA);
        assert_eq!(detect(&cloudy, 0.2, 0.15), Err(NoSeason::NoData));
        assert_eq!(
            detect_in_window(&cloudy, 20.0, 30.0, 0.2, 0.15),
            Err(NoSeason::NoData)
        );
        let one = Daily {
            start: 3.0,
            values: vec![0.5],
        };
        assert!(detect(&one, 0.2, 0.15).is_err());
        for reason in [
            NoSeason::TooFewDates(1),
            NoSeason::NoData,
            NoSeason::TooSmallAmplitude(0.04),
            NoSeason::PeakAtEnd { green_up: None },
            NoSeason::PeakAtStart,
        ] {
            assert!(reason.to_string().len() > 20, "{reason}");
        }
        assert!(NoSeason::TooFewDates(2)
            .to_string()
            .starts_with("only 2 valid dates"));
    }

    /// Two seasons: a small one (amplitude ~0.4) peaking near day 100, a larger one (~0.7)
    /// near day 300, with a fallow trough between.
    fn two_seasons(d: f64) -> f64 {
        let bump = |d: f64, rise: f64, fall: f64, amp: f64| {
            amp * (1.0 / (1.0 + (-(d - rise) / 6.0).exp())
                - 1.0 / (1.0 + (-(d - fall) / 6.0).exp()))
        };
        0.15 + bump(d, 70.0, 130.0, 0.4) + bump(d, 270.0, 335.0, 0.7)
    }

    fn daily(f: impl Fn(f64) -> f64, days: std::ops::RangeInclusive<i32>) -> Daily {
        Daily {
            start: f64::from(*days.start()),
            values: days.map(|d| f(f64::from(d))).collect(),
        }
    }

    #[test]
    fn several_seasons_are_split_and_chosen() {
        let curve = daily(two_seasons, 0..=400);
        let all = detect_all(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!((all[0].peak - 100.0).abs() < 3.0 && (all[1].peak - 302.5).abs() < 3.0);
        assert!(all[0].end.unwrap() < all[1].start);
        // The whole curve: the larger season.
        assert_eq!(detect(&curve, 0.2, 0.15).unwrap(), all[1]);
        // As of day 200: only the first season is known (and it is over).
        let s = detect_in_window(&curve, 0.0, 200.0, 0.2, 0.15).unwrap();
        assert!((s.peak - all[0].peak).abs() < 1e-9 && s.end.is_some());
        // As of day 280: the second crop is rising and has not peaked.
        match detect_in_window(&curve, 80.0, 280.0, 0.2, 0.15) {
            Err(NoSeason::PeakAtEnd { green_up: Some(g) }) => assert!((250.0..280.0).contains(&g)),
            other => panic!("{other:?}"),
        }
        // A window that holds the second peak but not its whole rise: the same season.
        assert_eq!(
            detect_in_window(&curve, 290.0, 400.0, 0.2, 0.15).unwrap(),
            all[1]
        );
        // As of day 400, looking back 200 days: the second season.
        assert_eq!(
            detect_in_window(&curve, 200.0, 400.0, 0.2, 0.15).unwrap(),
            all[1]
        );
        // A smaller minimum amplitude does not invent seasons; a larger one drops the first.
        assert_eq!(detect_all(&curve, 0.2, 0.05).len(), 2);
        assert_eq!(detect_all(&curve, 0.2, 0.5).len(), 1);
    }

    #[test]
    fn a_shoulder_does_not_make_a_second_season() {
        // One season whose rise pauses (a local maximum 0.05 above a dip) before the peak.
        let f = |d: f64| {
            rice(d) + 0.08 * (-((d - 150.0) / 6.0).powi(2)).exp()
                - 0.04 * (-((d - 160.0) / 5.0).powi(2)).exp()
        };
        let curve = daily(f, 60..=300);
        let all = detect_all(&curve, 0.2, 0.15);
        assert_eq!(all.len(), 1, "{all:?}");
    }

    #[test]
    fn the_base_is_the_trough_the_rise_starts_from() {
        // Weeds on the fallow (NDVI up to ~0.4 around day 50), then ploughing and flooding
        // (back to 0.12) before the rice rises: the base is the flooded trough, not the bare
        // soil before the weeds, so the start is the rice's.
        let weeds = |d: f64| 0.28 * (-((d - 50.0) / 18.0).powi(2)).exp();
        let (start, peak, end, _) = analytic(DEFAULT_FRACTION);
        let curve = daily(|d| rice(d) + weeds(d), 0..=300);
        let s = detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
        assert!((s.base - 0.12).abs() < 0.01, "{s:?}");
        assert!((s.start - start).abs() < 1.0 && (s.peak - peak).abs() <= 1.0);
        assert!((s.end.unwrap() - end).abs() < 1.0);
        // A slow crop (winter wheat-like: a 150-day rise) keeps its whole rise: the base is
        // the winter minimum 200 days before the peak, not a point on the rise.
        let slow = |d: f64| {
            0.15 + 0.65
                * (1.0 / (1.0 + (-(d - 120.0) / 25.0).exp())
                    - 1.0 / (1.0 + (-(d - 300.0) / 8.0).exp()))
        };
        let curve = daily(slow, 0..=365);
        let s = detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
        let exact = bisect(|d| slow(d) - (s.base + 0.2 * s.amplitude), 0.0, s.peak);
        assert!(s.base < 0.17 && s.amplitude > 0.6, "{s:?}");
        assert!((s.start - exact).abs() < 0.5, "{} vs {exact}", s.start);
    }

    #[test]
    fn a_series_cut_after_heading_has_no_end_yet() {
        // Ends 8 days after the analytic peak: the decline has begun but is not over.
        let (_, peak, _, _) = analytic(DEFAULT_FRACTION);
        let curve = daily(rice, 60..=(peak as i32 + 8));
        let s = detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
        assert!((s.peak - peak).abs() <= 1.0);
        assert_eq!(s.end, None);
        assert_eq!(s.steepest_decline, None);
        // Cut in the middle of the decline, past the end threshold: end found, maturity too.
        let curve = daily(rice, 60..=225);
        let s = detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE).unwrap();
        assert!(s.end.is_some() && s.steepest_decline.is_some());
        // Cut on the rise: still rising.
        let curve = daily(rice, 60..=150);
        assert!(matches!(
            detect(&curve, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE),
            Err(NoSeason::PeakAtEnd { .. })
        ));
        // The same through a window on the full curve.
        let full = daily(rice, 0..=365);
        assert!(matches!(
            detect_in_window(&full, 0.0, 150.0, DEFAULT_FRACTION, DEFAULT_MIN_AMPLITUDE),
            Err(NoSeason::PeakAtEnd { .. })
        ));
        assert_eq!(
            detect_in_window(&full, 500.0, 600.0, 0.2, 0.15),
            Err(NoSeason::NoData)
        );
    }
}
