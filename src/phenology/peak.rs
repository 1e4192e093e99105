//! Heading from the observations around the season's maximum, without the smoother's bias.
//!
//! Sakamoto et al. (2005) date heading by the maximum of the smoothed index curve. A smoother
//! that is fit to the whole season moves that maximum: a rice curve rises slowly for weeks,
//! then steeply, flattens at heading and falls more slowly than it rose, and a penalty on
//! roughness trades the sharp top for the long flanks, so the smoothed maximum comes early. The
//! observations themselves are unbiased, but a revisit of 5–10 days and clouds leave the
//! maximum where it happened to be seen.
//!
//! [`fit_peak`] reads the top off the observations near the maximum with an *asymmetric
//! power curve*: `y = c − a_l (p − t)³` before the peak `p` and `c − a_r (t − p)²` after it
//! (days in units of [`UNIT_DAYS`]), in the spirit of TIMESAT's asymmetric Gaussian, whose
//! sides have their own width and flatness. Each side has its own coefficient, so a slow
//! decline does not drag the top towards it. The rising side approaches the top as a cube
//! ([`RISE_EXPONENT`]): the index saturates as the canopy closes (the cover of a canopy goes as
//! 1 − exp(−k LAI)), so the last weeks before heading add little, while the decline after
//! heading, as the leaves turn yellow, reaches the index at once. A parabola on both sides (the
//! second-order form of the asymmetric Gaussian) put the top 1.3 days early on seasons drawn by
//! `scripts/make-season-truth` (`scripts/season-sweep 41-80`: 1 270 plots, MAE 1.7 days, bias
//! −1.3; seeds 81–120: 1.9 days, −1.4); the cube 0.1 and 0.2 days early (MAE 1.4 and 1.5); a
//! fourth power 0.6 days late (MAE 1.7). For a given `p` the model is linear in
//! `(c, a_l, a_r)`, so `p` is searched on a quarter-day grid and the three others solved by
//! weighted least squares; both coefficients must be ≥ 0 (a maximum). Observations more than
//! [`HALF_WINDOW_DAYS`] from the highest one are left out (there the curve has other shapes),
//! and an observation lying far below the fit ([`CLOUD_SIGMAS`] residual deviations, a
//! cloud-depressed mean) is dropped once and the fit repeated.
//!
//! The uncertainty is the profile of the fit: `earliest` and `latest` are the peak days whose
//! best fit is worse than the best by no more than [`PROFILE_SIGMAS`]² residual variances (about
//! a two-sigma interval for Gaussian noise), widened to at least the grid step.
//!
//! ```
//! use paddy::phenology::peak::fit_peak;
//! // An asymmetric top at day 100: flat before, falling after; observed every 5 days from 72.
//! let t: Vec<f64> = (0..12).map(|k| 72.0 + 5.0 * k as f64).collect();
//! let y: Vec<f64> = t.iter().map(|&d: &f64| {
//!     let u = d - 100.0;
//!     0.85 - if u < 0.0 { -6e-5 * u * u * u } else { 1e-4 * u * u }
//! }).collect();
//! let p = fit_peak(&t, &y, &vec![1.0; t.len()], 100.0, 20.0).unwrap();
//! assert!((p.day - 100.0).abs() < 0.3, "{}", p.day);
//! assert!(p.earliest <= p.day && p.day <= p.latest);
//! ```

/// Observations within this many days of the highest one take part in the fit.
pub const HALF_WINDOW_DAYS: f64 = 18.0;

/// Grid step of the peak search, days.
pub const STEP_DAYS: f64 = 0.25;

/// How far either side of the highest observation the peak is searched, days.
pub const SEARCH_DAYS: f64 = 12.0;

/// Observations at least this many residual deviations below the first fit are dropped.
pub const CLOUD_SIGMAS: f64 = 3.0;

/// The profile interval: fits within this many residual deviations (squared, times the residual
/// variance) of the best one.
pub const PROFILE_SIGMAS: f64 = 2.0;

/// The power of the days before the peak in the fit (after it: 2), see the module
/// documentation.
pub const RISE_EXPONENT: i32 = 3;

/// The fit counts days in units of this many, so that the powers of a window's days stay near
/// 1 and its normal equations well scaled (a fourth power of days would reach 10⁶).
pub const UNIT_DAYS: f64 = 10.0;

/// Fewest observations on each side of the highest one.
pub const MIN_EACH_SIDE: usize = 2;

/// A peak: its day, its interval, its value and the observations used: those of the fit
/// ([`fit_peak`]), 1 for a single observation ([`highest_observation`]), 0 for a day read off a
/// smoothed curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub day: f64,
    pub earliest: f64,
    pub latest: f64,
    pub value: f64,
    pub used: usize,
}

impl Peak {
    /// Whether the day was fitted to the observations around the top.
    pub fn fitted(&self) -> bool {
        self.used > 1
    }
}

/// The peak of the observations `(t, y)` with weights `w` (0 or non-finite = missing) near day
/// `near`: the highest usable observation within `search` days of `near` anchors the fit (see
/// the module documentation). `None` when fewer than [`MIN_EACH_SIDE`] usable observations lie
/// on either side of that anchor within [`HALF_WINDOW_DAYS`] (the peak is not confirmed yet), or
/// when no concave fit exists.
pub fn fit_peak(t: &[f64], y: &[f64], w: &[f64], near: f64, search: f64) -> Option<Peak> {
    let ok = usable(t, y, w);
    let ta = t[ok[highest_near(t, y, &ok, near, search)?]];
    let mut pts: Vec<(f64, f64, f64)> = ok
        .iter()
        .copied()
        .filter(|&k| (t[k] - ta).abs() <= HALF_WINDOW_DAYS)
        .map(|k| (t[k], y[k], w[k].min(1.0)))
        .collect();
    let sides = |pts: &[(f64, f64, f64)]| {
        let before = pts.iter().filter(|p| p.0 < ta).count();
        let after = pts.iter().filter(|p| p.0 > ta).count();
        before >= MIN_EACH_SIDE && after >= MIN_EACH_SIDE
    };
    if !sides(&pts) {
        return None;
    }
    // A deep cloud-depressed mean can leave no concave fit at all: then the best fit without
    // one observation stands in for the first.
    let first = search_peak(&pts, ta).or_else(|| {
        (0..pts.len())
            .filter_map(|k| {
                let mut fewer = pts.clone();
                fewer.remove(k);
                sides(&fewer).then(|| search_peak(&fewer, ta)).flatten()
            })
            .min_by(|a, b| a.sse.total_cmp(&b.sse))
    })?;
    // Drop one cloud-depressed observation, if any, and fit again.
    let sigma = first.sigma();
    if let Some(worst) = pts
        .iter()
        .enumerate()
        .map(|(k, &(t, y, _))| (k, y - first.model(t)))
        .filter(|&(_, r)| r < -CLOUD_SIGMAS * sigma && r < -0.02)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
    {
        let mut fewer = pts.clone();
        fewer.remove(worst);
        if sides(&fewer) {
            pts = fewer;
        }
    }
    let fit = search_peak(&pts, ta)?;
    Some(Peak {
        day: fit.p,
        earliest: fit.earliest,
        latest: fit.latest,
        value: fit.c,
        used: pts.len(),
    })
}

/// The indices of the usable observations: finite day and value, finite positive weight.
fn usable(t: &[f64], y: &[f64], w: &[f64]) -> Vec<usize> {
    (0..t.len().min(y.len()))
        .filter(|&k| {
            t[k].is_finite()
                && y[k].is_finite()
                && w.get(k).is_some_and(|&w| w.is_finite() && w > 0.0)
        })
        .collect()
}

/// The position in `usable` of the highest observation within `search` days of `near`.
fn highest_near(t: &[f64], y: &[f64], usable: &[usize], near: f64, search: f64) -> Option<usize> {
    (0..usable.len())
        .filter(|&i| (t[usable[i]] - near).abs() <= search)
        .max_by(|&a, &b| y[usable[a]].total_cmp(&y[usable[b]]))
}

/// The highest usable observation within `search` days of `near` (the anchor [`fit_peak`]
/// would fit around): the top of a series too sparse to fit, for a `near` (the smoothed
/// maximum) that the caller knows to be well behind. Its bracket runs from the usable
/// observation before it to the one after it; `used` is 1 (one observation, not fitted). The
/// smoothed maximum itself would do worse: a smoother trades a sparse series' top for its
/// flanks and moves it days early, while the top observation lies within a revisit of the
/// truth.
///
/// ```
/// use paddy::phenology::peak::highest_observation;
/// let t = [60.0, 70.0, 80.0, 100.0, 120.0];
/// let y = [0.55, 0.78, 0.83, 0.70, 0.45];
/// let top = highest_observation(&t, &y, &[1.0; 5], 75.0, 15.0).unwrap();
/// assert_eq!((top.day, top.earliest, top.latest, top.used), (80.0, 70.0, 100.0, 1));
/// // Nothing usable near 150.
/// assert!(highest_observation(&t, &y, &[1.0; 5], 150.0, 15.0).is_none());
/// ```
pub fn highest_observation(
    t: &[f64],
    y: &[f64],
    w: &[f64],
    near: f64,
    search: f64,
) -> Option<Peak> {
    let ok = usable(t, y, w);
    let top = highest_near(t, y, &ok, near, search)?;
    let day = |i: Option<&usize>| i.map_or(t[ok[top]], |&k| t[k]);
    Some(Peak {
        day: t[ok[top]],
        earliest: day(top.checked_sub(1).and_then(|i| ok.get(i))),
        latest: day(ok.get(top + 1)),
        value: y[ok[top]],
        used: 1,
    })
}

/// The model's fall `c − y` at `u` days from the peak (negative before it), per unit of its
/// side's coefficient: a cube before the peak, a square after it.
fn shape(u: f64) -> f64 {
    let x = u / UNIT_DAYS;
    if u < 0.0 {
        (-x).powi(RISE_EXPONENT)
    } else {
        x * x
    }
}

/// The best asymmetric power curve and its profile interval.
#[derive(Debug, Clone, Copy)]
struct Fit {
    p: f64,
    c: f64,
    al: f64,
    ar: f64,
    sse: f64,
    dof: f64,
    earliest: f64,
    latest: f64,
}

impl Fit {
    fn model(&self, t: f64) -> f64 {
        let u = t - self.p;
        let a = if u < 0.0 { self.al } else { self.ar };
        self.c - a * shape(u)
    }

    /// Residual deviation, at least 0.005 (a plot mean is never known better).
    fn sigma(&self) -> f64 {
        (self.sse / self.dof.max(1.0)).sqrt().max(0.005)
    }
}

/// Searches the peak day on the grid around `anchor` and returns the best fit with its
/// profile interval.
fn search_peak(pts: &[(f64, f64, f64)], anchor: f64) -> Option<Fit> {
    let steps = (SEARCH_DAYS / STEP_DAYS).round() as i32;
    let lo = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let profile: Vec<(f64, Option<[f64; 4]>)> = (-steps..=steps)
        .map(|k| anchor + f64::from(k) * STEP_DAYS)
        .filter(|&p| p > lo && p < hi)
        .map(|p| (p, solve_at(pts, p)))
        .collect();
    let (p, [c, al, ar, sse]) = profile
        .iter()
        .filter_map(|&(p, s)| s.map(|s| (p, s)))
        .min_by(|a, b| a.1[3].total_cmp(&b.1[3]))?;
    let dof = pts.len() as f64 - 4.0;
    let mut fit = Fit {
        p,
        c,
        al,
        ar,
        sse,
        dof,
        earliest: p,
        latest: p,
    };
    let limit = sse + PROFILE_SIGMAS * PROFILE_SIGMAS * fit.sigma().powi(2);
    let within: Vec<f64> = profile
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| s[3] <= limit))
        .map(|(p, _)| *p)
        .collect();
    fit.earliest = within.iter().copied().fold(p, f64::min) - STEP_DAYS;
    fit.latest = within.iter().copied().fold(p, f64::max) + STEP_DAYS;
    Some(fit)
}

/// The weighted least-squares `(c, a_l, a_r)` for the peak at `p`, and the weighted sum of
/// squared residuals; `None` when the system is singular or a coefficient is negative.
fn solve_at(pts: &[(f64, f64, f64)], p: f64) -> Option<[f64; 4]> {
    // Design rows: [1, -shape before, -shape after].
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for &(t, y, w) in pts {
        let s = shape(t - p);
        let row = if t < p {
            [1.0, -s, 0.0]
        } else {
            [1.0, 0.0, -s]
        };
        for i in 0..3 {
            v[i] += w * row[i] * y;
            for j in 0..3 {
                m[i][j] += w * row[i] * row[j];
            }
        }
    }
    let [c, al, ar] = solve3(m, v)?;
    if al < 0.0 || ar < 0.0 {
        return None;
    }
    let sse = pts
        .iter()
        .map(|&(t, y, w)| {
            let u = t - p;
            let a = if u < 0.0 { al } else { ar };
            let f = c - a * shape(u);
            w * (y - f).powi(2)
        })
        .sum();
    Some([c, al, ar, sse])
}

/// Solves the 3×3 system `m x = v` by Cramer's rule; `None` when it is (nearly) singular.
fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> Option<[f64; 3]> {
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(m);
    let scale = m.iter().flatten().fold(0.0f64, |s, x| s.max(x.abs()));
    if !d.is_finite() || d.abs() <= 1e-12 * scale.powi(3) {
        return None;
    }
    let mut x = [0.0; 3];
    for (col, xi) in x.iter_mut().enumerate() {
        let mut a = m;
        for (row, vi) in v.iter().enumerate() {
            a[row][col] = *vi;
        }
        *xi = det(a) / d;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rice-like top at `h` of the model's shape: flat before it, falling after it.
    fn top(t: &[f64], h: f64) -> Vec<f64> {
        t.iter()
            .map(|&d| {
                let u = d - h;
                0.85 - if u < 0.0 {
                    -6e-5 * u * u * u
                } else {
                    1e-4 * u * u
                }
            })
            .collect()
    }

    /// NDVI of a paddy whose leaf area grows smoothly to its maximum at heading (`h`) and falls
    /// after it while the leaves turn yellow, mixed with the water below by the canopy's cover
    /// `1 − exp(−0.5 LAI)`: its top is at `h` exactly.
    fn canopy_ndvi(t: &[f64], h: f64) -> Vec<f64> {
        let smoothstep = |x: f64| {
            let x = x.clamp(0.0, 1.0);
            x * x * (3.0 - 2.0 * x)
        };
        // Red and near-infrared reflectance of green leaves, yellow leaves and water.
        let (green, yellow, water) = ([0.03, 0.42], [0.10, 0.30], [0.06, 0.02]);
        t.iter()
            .map(|&d| {
                let (lai, yellowed) = if d <= h {
                    (0.1 + 4.9 * smoothstep(d / h).powf(1.5), 0.0)
                } else {
                    (
                        5.0 * (1.0 - 0.55 * smoothstep((d - h) / 45.0)),
                        smoothstep((d - h) / 40.0),
                    )
                };
                let cover = 1.0 - (-0.5 * lai).exp();
                let band = |k: usize| {
                    cover * ((1.0 - yellowed) * green[k] + yellowed * yellow[k])
                        + (1.0 - cover) * water[k]
                };
                (band(1) - band(0)) / (band(1) + band(0))
            })
            .collect()
    }

    #[test]
    fn a_saturating_canopys_top_is_found_at_heading() {
        // Every revisit phase: within 0.75 days of heading, half a day on average. A parabola
        // on the rising side came 0.85 days early on average here (up to 1 day): the index is
        // flatter before heading than a parabola.
        let errors: Vec<f64> = (0..5)
            .map(|phase| {
                let t: Vec<f64> = (0..16)
                    .map(|k| 30.0 + f64::from(phase) + 5.0 * k as f64)
                    .collect();
                let y = canopy_ndvi(&t, 66.0);
                let p = fit_peak(&t, &y, &vec![1.0; t.len()], 66.0, 30.0).unwrap();
                p.day - 66.0
            })
            .collect();
        let mean = errors.iter().map(|e| e.abs()).sum::<f64>() / 5.0;
        assert!(
            errors.iter().all(|e| e.abs() <= 0.75) && mean <= 0.5,
            "{errors:?}"
        );
    }

    #[test]
    fn the_fit_finds_the_top_between_observations() {
        // Every revisit phase: the fitted day stays within half a day of the truth, where the
        // highest observation is up to 2.5 days off.
        for phase in 0..5 {
            let t: Vec<f64> = (0..14)
                .map(|k| 70.0 + f64::from(phase) + 5.0 * k as f64)
                .collect();
            let y = top(&t, 101.3);
            let p = fit_peak(&t, &y, &vec![1.0; t.len()], 100.0, 30.0).unwrap();
            assert!((p.day - 101.3).abs() <= 0.5, "phase {phase}: {}", p.day);
            assert!(p.earliest <= 101.3 && 101.3 <= p.latest, "{p:?}");
            assert!((p.value - 0.85).abs() < 1e-3);
        }
    }

    #[test]
    fn a_cloudy_observation_is_dropped_and_noise_widens_the_interval() {
        let t: Vec<f64> = (0..14).map(|k| 70.0 + 5.0 * k as f64).collect();
        let mut y = top(&t, 98.0);
        // Noise, and a cloud-depressed mean next to the top.
        let noise = [
            0.004, -0.003, 0.002, -0.004, 0.003, 0.0, -0.002, 0.004, -0.003, 0.002, 0.0, 0.001,
            -0.002, 0.003,
        ];
        for (v, n) in y.iter_mut().zip(noise) {
            *v += n;
        }
        y[6] -= 0.25;
        let w = vec![1.0; t.len()];
        let p = fit_peak(&t, &y, &w, 100.0, 30.0).unwrap();
        assert!((p.day - 98.0).abs() <= 1.5, "{p:?}");
        assert_eq!(p.used, 6);
        // Noisier observations: a wider interval.
        let noisy: Vec<f64> = y
            .iter()
            .zip(top(&t, 98.0))
            .map(|(v, clean)| clean + 4.0 * (v - clean))
            .collect();
        let q = fit_peak(&t, &noisy, &w, 100.0, 30.0).unwrap();
        assert!(q.latest - q.earliest > p.latest - p.earliest, "{p:?} {q:?}");
    }

    #[test]
    fn no_peak_before_it_is_confirmed() {
        // Still rising: the highest observation is the last one.
        let t: Vec<f64> = (0..8).map(|k| 70.0 + 5.0 * k as f64).collect();
        let y: Vec<f64> = t.iter().map(|d| 0.01 * d).collect();
        assert!(fit_peak(&t, &y, &[1.0; 8], 100.0, 30.0).is_none());
        // One observation after the top is not enough.
        let t: Vec<f64> = (0..7).map(|k| 75.0 + 5.0 * k as f64).collect();
        let y = top(&t, 102.0);
        assert!(fit_peak(&t, &y, &[1.0; 7], 100.0, 30.0).is_none());
        assert!(fit_peak(&[], &[], &[], 100.0, 30.0).is_none());
    }
}
