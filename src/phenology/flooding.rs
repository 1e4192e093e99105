//! Transplanting from the onset of flooding.
//!
//! Paddies are flooded and puddled a few days before transplanting, and the water shows through
//! the young crop until the canopy closes, three to five weeks later. Xiao et al. (2005, 2006)
//! call an observation *flooded* when `LSWI + 0.05 ≥ NDVI` (or EVI): the water signal beats the
//! vegetation signal. The *last* flooded observation before green-up is therefore weeks after
//! transplanting; the *first* one after the fallow or the previous crop is within a revisit of
//! it. [`onset`] finds that first one, bracketed by the last clear observation that was not
//! flooded, and needs no season curve: it works from the first flooded observation on.
//!
//! **The rule.** Over the clear observations (both indices valid) up to the date of interest,
//! flooded runs are found; a run interrupted by a single dry observation less than
//! [`MERGE_GAP_DAYS`] after the run's last flooded one continues (a noisy plot mean, a drained
//! day), so the water that shows through the young crop never starts a season of its own. The
//! season's run is the latest one that starts before the season's peak (when the peak is known,
//! no more than [`MAX_ONSET_TO_PEAK_DAYS`] before it), else the latest one. Flooding began
//! between the last dry observation `a` and the first flooded one `b`; with no other
//! information any day of `(a, b]` is as likely, so its middle is the estimate of the onset,
//! and transplanting follows it by [`PUDDLING_LEAD_DAYS`]:
//!
//! - point estimate: `(a + b) / 2 + PUDDLING_LEAD_DAYS`, kept within the bracket below;
//! - `earliest = a + 1` (the field was dry on `a`, and transplanting follows flooding);
//! - `latest = b + MAX_LEAD_DAYS` (transplanting no later than a week after the water is seen).
//!
//! When no dry observation precedes the run (the series starts flooded), the point estimate is
//! `b` and `earliest` is [`WATER_VISIBLE_DAYS`] before it (or the start of the window looked
//! at, if later): the water shows through the crop no longer than that after transplanting.
//!
//! ```
//! use paddy::phenology::flooding::onset;
//! // Fallow (LSWI well under NDVI) until day 30, flooded from day 35, canopy closing by day 60.
//! let t = [0.0, 10.0, 20.0, 30.0, 35.0, 40.0, 50.0, 60.0];
//! let ndvi = [0.30, 0.32, 0.31, 0.30, 0.10, 0.15, 0.30, 0.60];
//! let lswi = [-0.10, -0.08, -0.09, -0.10, 0.40, 0.38, 0.36, 0.35];
//! let tr = onset(&t, &ndvi, &lswi, 0.0, 60.0, None).unwrap();
//! assert_eq!((tr.last_dry, tr.first_flooded), (Some(30.0), 35.0));
//! assert_eq!((tr.day, tr.earliest, tr.latest), (35.5, 31.0, 42.0));
//! ```

/// The margin of the flooding rule: flooded when `LSWI + 0.05 ≥ VI` (Xiao et al. 2005,
/// "Mapping paddy rice agriculture in southern China using multi-temporal MODIS images", Remote
/// Sens. Environ. 95:480; Xiao et al. 2006 for South and Southeast Asia).
pub const FLOOD_MARGIN: f64 = 0.05;

/// Days from the onset of flooding to transplanting taken for the point estimate: fields are
/// puddled "a few days" before transplanting (docs/AGRONOMY.md, "Flooding and transplanting").
pub const PUDDLING_LEAD_DAYS: f64 = 3.0;

/// The most days transplanting is taken to follow the onset of flooding (a week of puddling
/// and levelling); the late end of the bracket.
pub const MAX_LEAD_DAYS: f64 = 7.0;

/// A flooded run continues across one dry observation when the next flooded one comes no more
/// than this many days after the run's last flooded one: two Sentinel-2 revisits and a half.
/// A fallow or a previous crop between two seasons lasts weeks to months.
pub const MERGE_GAP_DAYS: f64 = 12.0;

/// The onset of the season's flooding is looked for no more than this many days before the
/// season's peak (heading is 60–80 days after transplanting for most varieties; 120 leaves room
/// for long ones and late peaks).
pub const MAX_ONSET_TO_PEAK_DAYS: f64 = 120.0;

/// The water shows through the young crop until the canopy closes, three to five weeks after
/// transplanting: a series that starts flooded was transplanted at most this many days before.
pub const WATER_VISIBLE_DAYS: f64 = 35.0;

/// Transplanting estimated from the onset of flooding: the point estimate and its bracket, and
/// the observations that made them (days on the input's axis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transplanting {
    pub day: f64,
    pub earliest: f64,
    pub latest: f64,
    /// The first clear flooded observation of the season's flooding.
    pub first_flooded: f64,
    /// The last clear observation before it that was not flooded.
    pub last_dry: Option<f64>,
    /// Where the water signal of the season's flooding ends: its last flooded observation and
    /// the first clear one after it that is not flooded (the young canopy has overtaken the
    /// water in between), once that one is seen.
    pub canopy: Option<(f64, f64)>,
}

/// Whether one observation shows flooding (`LSWI + margin ≥ VI`); `None` when either index is
/// missing (cloud, no data).
pub fn flooded(vi: f64, lswi: f64, margin: f64) -> Option<bool> {
    (vi.is_finite() && lswi.is_finite()).then_some(lswi + margin >= vi)
}

/// Transplanting from the onset of flooding in `[from, to]`, by the rule of the module
/// documentation with [`FLOOD_MARGIN`]. `t` ascending; `vi` and `lswi` parallel to it, NaN where
/// an observation is missing. `peak`: the season's peak when known (the onset is looked for
/// before it). `None` when no clear observation in the window shows flooding (no SWIR band,
/// a rain-fed or direct-seeded field, or clouds over the flooding weeks).
pub fn onset(
    t: &[f64],
    vi: &[f64],
    lswi: &[f64],
    from: f64,
    to: f64,
    peak: Option<f64>,
) -> Option<Transplanting> {
    onset_with_margin(t, vi, lswi, from, to, peak, FLOOD_MARGIN)
}

/// [`onset`] with another margin than [`FLOOD_MARGIN`].
pub fn onset_with_margin(
    t: &[f64],
    vi: &[f64],
    lswi: &[f64],
    from: f64,
    to: f64,
    peak: Option<f64>,
    margin: f64,
) -> Option<Transplanting> {
    if !(from.is_finite() && to.is_finite() && margin.is_finite()) {
        return None;
    }
    // Clear observations in the window: (day, flooded).
    let clear: Vec<(f64, bool)> = t
        .iter()
        .zip(vi.iter().zip(lswi))
        .filter(|(d, _)| d.is_finite() && (from..=to).contains(*d))
        .filter_map(|(&d, (&v, &l))| flooded(v, l, margin).map(|f| (d, f)))
        .collect();
    let runs = flooded_runs(&clear);
    let season_run = match peak.filter(|p| p.is_finite()) {
        Some(p) => runs
            .iter()
            .rev()
            .find(|r| r.first < p && p - r.first <= MAX_ONSET_TO_PEAK_DAYS)
            .or_else(|| runs.last()),
        None => runs.last(),
    }?;
    let b = season_run.first;
    let canopy = season_run.dry_after.map(|d| (season_run.last, d));
    Some(match season_run.last_dry {
        Some(a) => {
            let earliest = a + 1.0;
            let latest = b + MAX_LEAD_DAYS;
            Transplanting {
                day: ((a + b) / 2.0 + PUDDLING_LEAD_DAYS).clamp(earliest, latest),
                earliest,
                latest,
                first_flooded: b,
                last_dry: Some(a),
                canopy,
            }
        }
        None => Transplanting {
            day: b,
            earliest: from.max(b - WATER_VISIBLE_DAYS).min(b),
            latest: b + MAX_LEAD_DAYS,
            first_flooded: b,
            last_dry: None,
            canopy,
        },
    })
}

/// The point estimate of transplanting from the onset of flooding `tr` and the end of its water
/// signal, given that the scene's well-dated plots see the water signal end `lag` ± `spread`
/// days after transplanting (one scene shares its water and its weather, and a young rice
/// canopy overtakes the water at a similar age, docs/AGRONOMY.md "Flooding and transplanting").
///
/// Two estimates of one day, each with its variance:
/// - the onset's point estimate, `tr.day`: the onset anywhere in the gap between the last dry
///   and the first flooded observation (uniform: variance gap² / 12) and transplanting up to
///   [`MAX_LEAD_DAYS`] after it (variance `MAX_LEAD_DAYS`² / 12);
/// - the middle of the end's bracket less `lag`: the end anywhere in its bracket (variance
///   width² / 12) and the plots' spread (variance `spread`²).
///
/// The estimate is their inverse-variance weighted mean, kept within `tr`'s bracket: a wide
/// cloud gap before the first flooded observation leaves the point to the end of the water
/// signal, a gap of one revisit leaves it to the onset. `None` until the water signal has
/// ended, or for a non-finite lag.
///
/// ```
/// use paddy::phenology::flooding::{with_canopy, Transplanting};
/// // Dry on day 10, flooded on 30 (clouds between), the water signal ends between 45 and 50.
/// let tr = Transplanting { day: 23.0, earliest: 11.0, latest: 37.0, first_flooded: 30.0,
///                          last_dry: Some(10.0), canopy: Some((45.0, 50.0)) };
/// // Well-dated plots see the end 15 ± 2 days after transplanting: about day 32.
/// let day = with_canopy(&tr, 15.0, 2.0).unwrap();
/// assert!((day - 31.0).abs() < 1.5, "{day}");
/// ```
pub fn with_canopy(tr: &Transplanting, lag: f64, spread: f64) -> Option<f64> {
    with_canopy_and_lead(tr, lag, spread, None)
}

/// [`with_canopy`] where the lead from flooding to transplanting may be known to `lead_spread`
/// days (a standard deviation: the scene's plots with a recorded date measured it,
/// [`with_lead`]); `None`: anywhere in [`MAX_LEAD_DAYS`].
pub fn with_canopy_and_lead(
    tr: &Transplanting,
    lag: f64,
    spread: f64,
    lead_spread: Option<f64>,
) -> Option<f64> {
    let (c1, c2) = tr.canopy?;
    let lead_spread = lead_spread.unwrap_or(MAX_LEAD_DAYS / 12f64.sqrt());
    if !(lag.is_finite() && spread.is_finite() && lead_spread.is_finite()) {
        return None;
    }
    let gap = tr.first_flooded - tr.last_dry.unwrap_or(tr.earliest);
    let v_onset = gap * gap / 12.0 + lead_spread * lead_spread;
    let v_end = (c2 - c1).powi(2) / 12.0 + spread * spread;
    let from_end = (c1 + c2) / 2.0 - lag;
    let day = (tr.day * v_end + from_end * v_onset) / (v_onset + v_end);
    day.is_finite()
        .then(|| day.clamp(tr.earliest, tr.latest.max(tr.earliest)))
}

/// `tr` with the lead from flooding to transplanting that this scene's plots with a recorded date
/// show, in place of [`PUDDLING_LEAD_DAYS`] and [`MAX_LEAD_DAYS`]: the point estimate `lead` days
/// after the middle of the onset's bracket, and the bracket's late end no earlier than `longest`
/// days after the first flooded observation (the longest lead those plots had); the point is
/// kept within the bracket. The point estimate is unchanged when no dry observation bounds the
/// onset (it is then the first flooded observation). Non-finite values change nothing.
///
/// ```
/// use paddy::phenology::flooding::{with_lead, Transplanting};
/// let tr = Transplanting { day: 15.5, earliest: 11.0, latest: 22.0, first_flooded: 15.0,
///                          last_dry: Some(10.0), canopy: None };
/// assert_eq!(with_lead(&tr, 5.0, 6.0).day, 17.5);
/// // A scene that transplants up to 12 days after the water is seen.
/// let late = with_lead(&tr, 10.0, 12.0);
/// assert_eq!((late.day, late.latest), (22.5, 27.0));
/// ```
pub fn with_lead(tr: &Transplanting, lead: f64, longest: f64) -> Transplanting {
    let latest = if longest.is_finite() {
        tr.latest.max(tr.first_flooded + longest)
    } else {
        tr.latest
    };
    let day = match tr.last_dry {
        Some(a) if lead.is_finite() => {
            ((a + tr.first_flooded) / 2.0 + lead).clamp(tr.earliest, latest)
        }
        _ => tr.day,
    };
    Transplanting { day, latest, ..*tr }
}

/// A run of flooded observations: its first and last day, the dry observation before it and
/// the first dry one after it.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: f64,
    last: f64,
    last_dry: Option<f64>,
    dry_after: Option<f64>,
}

/// The flooded runs of `clear` (day, flooded) in time order, merged across single dry
/// observations shortly after a flooded one ([`MERGE_GAP_DAYS`]).
fn flooded_runs(clear: &[(f64, bool)]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut dry_since_run = 0usize;
    let mut last_dry = None;
    for &(day, wet) in clear {
        if !wet {
            if let Some(run) = runs.last_mut().filter(|r| r.dry_after.is_none()) {
                run.dry_after = Some(day);
            }
            dry_since_run += 1;
            last_dry = Some(day);
            continue;
        }
        match runs.last_mut() {
            Some(run) if dry_since_run == 0 => run.last = day,
            Some(run) if dry_since_run == 1 && day - run.last <= MERGE_GAP_DAYS => {
                run.last = day;
                run.dry_after = None;
            }
            _ => runs.push(Run {
                first: day,
                last: day,
                last_dry,
                dry_after: None,
            }),
        }
        dry_since_run = 0;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A season on a 5-day revisit: fallow, flooded from `onset`, flooding visible until
    /// `onset + 30`, then the canopy.
    fn season(onset: f64, days: &[f64]) -> (Vec<f64>, Vec<f64>) {
        days.iter()
            .map(|&d| {
                if d < onset {
                    (0.30, -0.10)
                } else if d < onset + 30.0 {
                    (0.10 + 0.01 * (d - onset), 0.40)
                } else {
                    (0.80, 0.35)
                }
            })
            .unzip()
    }

    #[test]
    fn onset_is_the_first_flooded_observation_after_the_fallow() {
        let t: Vec<f64> = (0..30).map(|k| 5.0 * k as f64).collect();
        let (vi, lswi) = season(52.0, &t);
        let tr = onset(&t, &vi, &lswi, 0.0, 140.0, None).unwrap();
        // Dry on day 50, flooded on 55: onset in (50, 55], transplanting 3 days after its middle.
        assert_eq!(tr.last_dry, Some(50.0));
        assert_eq!(tr.first_flooded, 55.0);
        assert_eq!(tr.day, 52.5 + PUDDLING_LEAD_DAYS);
        assert_eq!((tr.earliest, tr.latest), (51.0, 62.0));
        // The water signal ends between day 80 (flooded) and 85 (the canopy).
        assert_eq!(tr.canopy, Some((80.0, 85.0)));
        // Known from the first flooded observation on, with no curve.
        let early = onset(&t, &vi, &lswi, 0.0, 55.0, None).unwrap();
        assert_eq!(early, Transplanting { canopy: None, ..tr });
    }

    #[test]
    fn clouds_widen_the_bracket_and_a_dry_blip_does_not_restart_the_season() {
        let t: Vec<f64> = (0..30).map(|k| 5.0 * k as f64).collect();
        let (mut vi, mut lswi) = season(52.0, &t);
        // Clouds on days 45 and 50: the last clear dry day is 40.
        for k in [9, 10] {
            vi[k] = f64::NAN;
            lswi[k] = f64::NAN;
        }
        // Day 65 reads dry (a noisy mean), the water shows again on 70.
        vi[13] = 0.6;
        let tr = onset(&t, &vi, &lswi, 0.0, 140.0, Some(120.0)).unwrap();
        assert_eq!((tr.last_dry, tr.first_flooded), (Some(40.0), 55.0));
        assert_eq!((tr.earliest, tr.latest), (41.0, 62.0));
        assert_eq!(tr.day, 47.5 + PUDDLING_LEAD_DAYS);
    }

    #[test]
    fn the_season_run_is_the_latest_before_the_peak() {
        let t: Vec<f64> = (0..60).map(|k| 5.0 * k as f64).collect();
        let (mut vi, mut lswi) = season(52.0, &t);
        // A second flooding after harvest, from day 200.
        for (k, &d) in t.iter().enumerate() {
            if (150.0..200.0).contains(&d) {
                (vi[k], lswi[k]) = (0.3, -0.1);
            } else if d >= 200.0 {
                (vi[k], lswi[k]) = (0.1, 0.4);
            }
        }
        let first = onset(&t, &vi, &lswi, 0.0, 295.0, Some(110.0)).unwrap();
        assert_eq!(first.first_flooded, 55.0);
        let second = onset(&t, &vi, &lswi, 0.0, 295.0, None).unwrap();
        assert_eq!(second.first_flooded, 200.0);
        // Not yet flooded at the date of interest: nothing.
        assert!(onset(&t, &vi, &lswi, 0.0, 50.0, None).is_none());
    }

    #[test]
    fn a_series_that_starts_flooded_has_no_dry_bound() {
        let t = [10.0, 15.0, 20.0];
        let tr = onset(&t, &[0.1, 0.1, 0.2], &[0.4, 0.4, 0.4], 0.0, 20.0, None).unwrap();
        assert_eq!(
            (tr.day, tr.earliest, tr.latest, tr.last_dry),
            (10.0, 0.0, 17.0, None)
        );
        assert!(onset(&t, &[f64::NAN; 3], &[0.4; 3], 0.0, 20.0, None).is_none());
    }
}
