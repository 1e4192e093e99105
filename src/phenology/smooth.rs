//! Gap-aware smoothing of an index time series on an irregular time axis.
//!
//! Inputs are three parallel slices: observation days `t` (days since any epoch, ascending,
//! fractions allowed, duplicates allowed), index values `y`, and weights `w` (0 = missing or
//! cloudy, 1 = good, anything in between = less trusted). An observation is *used* only when
//! its day, value and weight are finite and its weight is positive; the others cost nothing,
//! so a caller passes cloud masks as weights and never has to compact the slices.
//!
//! - [`whittaker_daily`]: the Whittaker–Eilers smoother (Eilers 2003, "A perfect smoother",
//!   Anal. Chem. 75:3631) solved on a daily grid, so gaps are bridged and the result can be read
//!   on any day ([`Daily`]).
//! - [`savitzky_golay`]: a local weighted polynomial fit around each observation (the
//!   Savitzky–Golay idea on an irregular axis), the smoother TIMESAT made popular for NDVI.
//! - [`upper_envelope`]: repeated Whittaker fits that drop observations lying clearly below
//!   the curve (TIMESAT's envelope iterations), because clouds, haze and shadows only ever
//!   depress a vegetation index.
//!
//! Everything here is `O(n)` in the number of days (Whittaker) or `O(n · k)` in the number of
//! observations and the observations per window (Savitzky–Golay). They allocate the returned
//! values, the band matrix (Whittaker) and the working weights (envelope), nothing per day.

/// Default Whittaker smoothing parameter λ on the daily grid (for index values such as NDVI).
///
/// **What λ means in days.** On a daily grid with a second-order penalty the smoother is a
/// low-pass filter with gain `1 / (1 + λ·ω⁴ / ρ)` at angular frequency `ω` (radians a day), where
/// `ρ` is the data weight per day (1/5 for a good observation every 5 days). Half of a wave is
/// kept at the period
///
/// ```text
/// P½ = 2π · (λ · Δ)^(1/4) days,   Δ = days between good observations
/// ```
///
/// so λ = 100 → 30 days, 500 → 44 days, 1000 → 53 days, 10 000 → 94 days for Δ = 5
/// (Sentinel-2 with both satellites); with clouds the same λ smooths more: λ = 500 → 53 days
/// at Δ = 10, 59 days for 16-day MODIS composites, 71 days for monthly images.
///
/// A transplanted rice season rises from the flooded field to heading in 60–75 days and
/// declines in about 30–40 (AGRONOMY.md, "Growth stages and timing"), so its shortest
/// features last ~30–60 days: λ = 500 keeps them while removing the noise of single dates.
/// On the synthetic rice season of the `season.rs` tests (noise ±0.02, gaps, two undetected
/// clouds, upper envelope) start, heading and end came within 4 days of the analytic ones at
/// 5-, 10- and 15-day spacing with λ = 500 (within 3 days with λ = 200, 6 with λ = 1000, and up
/// to 20 with λ = 2000–5000 at 15 days, where the curve is flattened). Raise it (1000–2000)
/// for noisy drone or single-satellite series, lower it (100–200) for short seasons and dense
/// series. λ does not depend on the index's units (both terms of the criterion scale alike):
/// NDVI, EVI, LSWI and NDRE take the same λ.
pub const DEFAULT_LAMBDA: f64 = 500.0;

/// Smallest λ used (a non-positive or non-finite λ is raised to it): days without an
/// observation still need a tiny penalty to be defined.
pub const MIN_LAMBDA: f64 = 1e-6;

/// Longest daily grid built (about 110 years). A longer span means the days are not days
/// (seconds or milliseconds since an epoch, most likely), and the smoother returns an empty
/// curve rather than allocate gigabytes.
pub const MAX_SPAN_DAYS: f64 = 40_000.0;

/// Default half-window of the Savitzky–Golay fit, in days: three Sentinel-2 revisits on either
/// side (TIMESAT suggests a half-window of "a few observations", AGRONOMY.md).
pub const DEFAULT_HALF_WINDOW_DAYS: f64 = 15.0;

/// Default number of upper-envelope iterations (TIMESAT offers 1–3; on the test series the
/// rule of [`upper_envelope`] settles in 1–2 and stops by itself when nothing changes).
pub const DEFAULT_ENVELOPE_ITERATIONS: usize = 3;

/// A curve with one value a day: `values[i]` is the value on day `start + i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Daily {
    /// The day of `values[0]` (a whole number of days since the epoch of the input days).
    pub start: f64,
    /// One value per day; all NaN when there was no usable observation.
    pub values: Vec<f64>,
}

impl Daily {
    /// Builds a daily curve by linear interpolation of `(t, v)` pairs (ascending `t`; pairs with a
    /// non-finite day or value are skipped), from `floor(first day)` to `ceil(last day)`, flat
    /// beyond the first and last pair. Used to put Savitzky–Golay values (which live on the
    /// observation days) on the same footing as a Whittaker curve.
    pub fn interpolate(t: &[f64], v: &[f64]) -> Daily {
        let pairs: Vec<(f64, f64)> = t
            .iter()
            .zip(v)
            .filter(|(t, v)| t.is_finite() && v.is_finite())
            .map(|(&t, &v)| (t, v))
            .collect();
        let (Some(first), Some(last)) = (pairs.first(), pairs.last()) else {
            return Daily {
                start: 0.0,
                values: Vec::new(),
            };
        };
        let start = first.0.floor();
        let span = last.0.ceil() - start;
        if !(0.0..=MAX_SPAN_DAYS).contains(&span) {
            return Daily {
                start,
                values: Vec::new(),
            };
        }
        let n = span as usize + 1;
        let mut values = Vec::with_capacity(n);
        let mut k = 0; // pairs[k].0 <= day < pairs[k + 1].0 while walking the days
        for i in 0..n {
            let day = start + i as f64;
            while k + 1 < pairs.len() && pairs[k + 1].0 <= day {
                k += 1;
            }
            let (t0, v0) = pairs[k];
            let value = match pairs.get(k + 1) {
                Some(&(t1, v1)) if day > t0 && t1 > t0 => v0 + (v1 - v0) * (day - t0) / (t1 - t0),
                _ => v0,
            };
            values.push(value);
        }
        Daily { start, values }
    }

    /// Number of days in the curve.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the curve has no day at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The last day of the curve (`start` for an empty one).
    pub fn end(&self) -> f64 {
        self.start + self.values.len().saturating_sub(1) as f64
    }

    /// The value on `day` by linear interpolation between whole days; days before the start
    /// or after the end take the first or last value. NaN for an empty curve or a NaN day.
    pub fn at(&self, day: f64) -> f64 {
        let n = self.values.len();
        if n == 0 || day.is_nan() {
            return f64::NAN;
        }
        let x = (day - self.start).clamp(0.0, (n - 1) as f64);
        let i = (x.floor() as usize).min(n - 1);
        if i + 1 >= n {
            return self.values[n - 1];
        }
        let f = x - i as f64;
        if f == 0.0 {
            self.values[i]
        } else {
            self.values[i] + f * (self.values[i + 1] - self.values[i])
        }
    }

    /// The days of the curve, in order (`start`, `start + 1`, …), one per value.
    pub fn days(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.values.len()).map(move |i| self.start + i as f64)
    }
}

/// True when observation `i` takes part in a fit.
fn usable(t: f64, y: f64, w: f64) -> bool {
    t.is_finite() && y.is_finite() && w.is_finite() && w > 0.0
}

/// Whittaker–Eilers smoothing with a second-order difference penalty, on a daily grid.
///
/// Minimises `Σ wᵢ (yᵢ − z(tᵢ))² + λ Σ (Δ²z)²` over one value `z` per day from `floor(t₁)` to
/// `ceil(tₙ)` (all observations with a finite day span the grid, used or not), where `z(tᵢ)` is
/// the linear interpolation of the two days around `tᵢ` (an observation on a whole day sits on
/// that day; one at day 10.4 ties days 10 and 11 with weights 0.6 and 0.4, so a straight line is
/// reproduced exactly whatever the hour of acquisition). Days without an observation carry no
/// data weight and are bridged by the penalty: linearly across a long gap when λ is large, as a
/// smooth cubic-like curve when it is small. Duplicate days need no special care: two
/// observations on one day add their weights, which is the same as one observation at their
/// weighted mean with the summed weight.
///
/// The normal equations `(A + λ DᵀD) z = b` (`A` the tridiagonal data part, `Σ wᵢ` on the
/// diagonal for whole-day observations; `D` the second-difference matrix) form a symmetric
/// positive definite pentadiagonal system, solved by a banded LDLᵀ factorisation in `O(days)`.
///
/// Degenerate input: no usable observation → every value NaN; usable observations on a single
/// day only → the constant weighted mean (a line through one point is not defined); an empty
/// or absurdly long span (> [`MAX_SPAN_DAYS`]) → an empty curve. λ ≤ 0 or non-finite is raised
/// to [`MIN_LAMBDA`]. See [`DEFAULT_LAMBDA`] for what λ means in days.
///
/// ```
/// use paddy::phenology::smooth::{whittaker_daily, DEFAULT_LAMBDA};
/// // Five-day observations with a cloudy date (weight 0) in the middle.
/// let t = [0.0, 5.0, 10.0, 15.0, 20.0];
/// let y = [0.2, 0.3, 0.9, 0.5, 0.6];
/// let w = [1.0, 1.0, 0.0, 1.0, 1.0];
/// let curve = whittaker_daily(&t, &y, &w, DEFAULT_LAMBDA);
/// assert_eq!(curve.values.len(), 21);
/// assert!(curve.at(10.0) < 0.6); // the cloudy 0.9 is ignored
/// ```
pub fn whittaker_daily(t: &[f64], y: &[f64], w: &[f64], lambda: f64) -> Daily {
    let n_obs = t.len().min(y.len()).min(w.len());
    let (t, y, w) = (&t[..n_obs], &y[..n_obs], &w[..n_obs]);
    let Some((start, n)) = daily_grid(t) else {
        return Daily {
            start: t.iter().copied().find(|d| d.is_finite()).unwrap_or(0.0),
            values: Vec::new(),
        };
    };
    let lambda = if lambda.is_finite() && lambda > MIN_LAMBDA {
        lambda
    } else {
        MIN_LAMBDA
    };

    // Data part of the normal equations: diagonal a, first off-diagonal b, right-hand side r.
    let mut a = vec![0.0; n];
    let mut b = vec![0.0; n];
    let mut c = vec![0.0; n];
    let mut r = vec![0.0; n];
    let (mut weight_sum, mut weighted_y) = (0.0, 0.0);
    let mut first_day = f64::NAN;
    let mut several_days = false;
    for i in 0..n_obs {
        if !usable(t[i], y[i], w[i]) {
            continue;
        }
        weight_sum += w[i];
        weighted_y += w[i] * y[i];
        if first_day.is_nan() {
            first_day = t[i];
        } else if t[i] != first_day {
            several_days = true;
        }
        let x = t[i] - start;
        let k = (x.floor() as usize).min(n - 1);
        let f = x - k as f64;
        if f <= 1e-12 || k + 1 >= n {
            a[k] += w[i];
            r[k] += w[i] * y[i];
        } else {
            let g = 1.0 - f;
            a[k] += w[i] * g * g;
            a[k + 1] += w[i] * f * f;
            b[k] += w[i] * g * f;
            r[k] += w[i] * g * y[i];
            r[k + 1] += w[i] * f * y[i];
        }
    }
    if weight_sum <= 0.0 {
        return Daily {
            start,
            values: vec![f64::NAN; n],
        };
    }
    if !several_days {
        return Daily {
            start,
            values: vec![weighted_y / weight_sum; n],
        };
    }

    // Penalty λ DᵀD: every second difference (z[j] − 2 z[j+1] + z[j+2]) adds λ·[1 −2 1]ᵀ[1 −2 1].
    for j in 0..n.saturating_sub(2) {
        a[j] += lambda;
        a[j + 1] += 4.0 * lambda;
        a[j + 2] += lambda;
        b[j] -= 2.0 * lambda;
        b[j + 1] -= 2.0 * lambda;
        c[j] += lambda;
    }
    solve_pentadiagonal(&mut a, &mut b, &mut c, &mut r);
    Daily { start, values: r }
}

/// The daily grid spanned by the finite days of `t`: its first day and number of days.
fn daily_grid(t: &[f64]) -> Option<(f64, usize)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &d in t.iter().filter(|d| d.is_finite()) {
        lo = lo.min(d);
        hi = hi.max(d);
    }
    if lo > hi {
        return None;
    }
    let start = lo.floor();
    let span = hi.ceil() - start;
    if span > MAX_SPAN_DAYS {
        return None;
    }
    Some((start, span as usize + 1))
}

/// Solves the symmetric pentadiagonal system with diagonal `a`, first off-diagonal `b`
/// (`b[i]` = entry (i, i+1)) and second off-diagonal `c` (`c[i]` = entry (i, i+2)) in place:
/// `r` becomes the solution, `a`, `b`, `c` the factors `D`, `L₁`, `L₂` of `A = L D Lᵀ`, where
/// `L` is unit lower triangular with sub-diagonals `L₁`, `L₂`. The matrix must be positive
/// definite (no pivoting); a pivot that rounding drove to zero or below is replaced by a tiny
/// positive number so the result stays finite.
fn solve_pentadiagonal(a: &mut [f64], b: &mut [f64], c: &mut [f64], r: &mut [f64]) {
    let n = a.len();
    let scale = a.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
    let tiny = scale * 1e-15 + f64::MIN_POSITIVE;
    for i in 0..n {
        // D_i = a_i − L1_{i−1}² D_{i−1} − L2_{i−2}² D_{i−2}
        let mut d = a[i];
        if i >= 1 {
            d -= b[i - 1] * b[i - 1] * a[i - 1];
        }
        if i >= 2 {
            d -= c[i - 2] * c[i - 2] * a[i - 2];
        }
        if d <= tiny {
            d = tiny;
        }
        a[i] = d;
        // L1_i = (A_{i+1,i} − L2_{i−1} L1_{i−1} D_{i−1}) / D_i ;  L2_i = A_{i+2,i} / D_i
        if i + 1 < n {
            let mut e = b[i];
            if i >= 1 {
                e -= c[i - 1] * b[i - 1] * a[i - 1];
            }
            b[i] = e / d;
        }
        if i + 2 < n {
            c[i] /= d;
        }
    }
    // L u = r
    for i in 0..n {
        let mut u = r[i];
        if i >= 1 {
            u -= b[i - 1] * r[i - 1];
        }
        if i >= 2 {
            u -= c[i - 2] * r[i - 2];
        }
        r[i] = u;
    }
    // D v = u ; Lᵀ z = v
    for i in (0..n).rev() {
        let mut z = r[i] / a[i];
        if i + 1 < n {
            z -= b[i] * r[i + 1];
        }
        if i + 2 < n {
            z -= c[i] * r[i + 2];
        }
        r[i] = z;
    }
}

/// Savitzky–Golay smoothing on an irregular time axis: for each observation day `tᵢ`, the
/// weighted least-squares polynomial of `degree` (1–3; higher is lowered to 3, 0 gives the
/// weighted mean) in `(t − tᵢ)` through the usable observations with `|t − tᵢ| ≤
/// half_window_days`, evaluated at `tᵢ`. Returns one value per observation, including the
/// missing ones (which are thus filled from their neighbours).
///
/// When a window holds too few distinct usable days for the degree (or they make the fit
/// ill-conditioned), the degree is lowered until the fit is defined: 3 → 2 → 1 → the weighted
/// mean. A window without any usable observation gives NaN (widen the window or use
/// [`whittaker_daily`], which bridges any gap). `t` must be ascending (duplicates allowed: they
/// simply both enter the window). Use [`Daily::interpolate`] to read the result on any day.
///
/// ```
/// use paddy::phenology::smooth::savitzky_golay;
/// let t = [0.0, 3.0, 5.0, 11.0, 12.0, 20.0];
/// let y: Vec<f64> = t.iter().map(|d| 0.1 + 0.02 * d - 0.001 * d * d).collect();
/// let s = savitzky_golay(&t, &y, &[1.0; 6], 10.0, 2);
/// assert!((s[3] - y[3]).abs() < 1e-9); // a quadratic is reproduced exactly
/// ```
pub fn savitzky_golay(
    t: &[f64],
    y: &[f64],
    w: &[f64],
    half_window_days: f64,
    degree: usize,
) -> Vec<f64> {
    let n = t.len().min(y.len()).min(w.len());
    debug_assert!(
        t[..n]
            .windows(2)
            .all(|p| p[0] <= p[1] || p[0].is_nan() || p[1].is_nan()),
        "observation days must be ascending"
    );
    let h = if half_window_days.is_finite() && half_window_days > 0.0 {
        half_window_days
    } else {
        0.0
    };
    let degree = degree.min(3);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let ti = t[i];
        if !ti.is_finite() {
            out.push(f64::NAN);
            continue;
        }
        let eps = 1e-9 * (1.0 + ti.abs());
        let lo = t[..n].partition_point(|&d| d < ti - h - eps);
        let hi = t[..n].partition_point(|&d| d <= ti + h + eps);
        out.push(local_fit(
            &t[lo..hi],
            &y[lo..hi],
            &w[lo..hi],
            ti,
            h.max(1.0),
            degree,
        ));
    }
    out
}

/// Weighted polynomial fit of `degree` through the usable points, evaluated at `centre`. The
/// axis is scaled by `scale` so the normal equations stay well conditioned.
fn local_fit(t: &[f64], y: &[f64], w: &[f64], centre: f64, scale: f64, degree: usize) -> f64 {
    // Distinct usable days bound the degree: a polynomial of degree d needs d + 1 of them.
    let mut distinct = 0usize;
    let mut last = f64::NAN;
    for i in 0..t.len() {
        if usable(t[i], y[i], w[i]) && t[i] != last {
            distinct += 1;
            last = t[i];
        }
    }
    if distinct == 0 {
        return f64::NAN;
    }
    let mut degree = degree.min(distinct - 1);
    loop {
        let m = degree + 1;
        // Normal equations M c = v with M[j][k] = Σ w x^(j+k), v[j] = Σ w y x^j.
        let mut moments = [0.0f64; 7];
        let mut v = [0.0f64; 4];
        for i in 0..t.len() {
            if !usable(t[i], y[i], w[i]) {
                continue;
            }
            let x = (t[i] - centre) / scale;
            let mut p = w[i];
            for (k, mo) in moments.iter_mut().enumerate().take(2 * degree + 1) {
                if k < m {
                    v[k] += p * y[i];
                }
                *mo += p;
                p *= x;
            }
        }
        let mut mat = [[0.0f64; 4]; 4];
        for (j, row) in mat.iter_mut().enumerate().take(m) {
            for (k, cell) in row.iter_mut().enumerate().take(m) {
                *cell = moments[j + k];
            }
        }
        if let Some(coef) = cholesky_solve(&mut mat, &mut v, m) {
            return coef;
        }
        if degree == 0 {
            return f64::NAN; // unreachable with a positive weight, kept for safety
        }
        degree -= 1;
    }
}

/// Solves the `m × m` symmetric system in place by Cholesky and returns the first unknown,
/// or `None` when a pivot is not clearly positive (singular or ill-conditioned fit).
fn cholesky_solve(mat: &mut [[f64; 4]; 4], v: &mut [f64; 4], m: usize) -> Option<f64> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for j in 0..m {
        let d = mat[j][j] - dot(&mat[j][..j], &mat[j][..j]);
        let clearly_positive = d > 1e-10 * mat[j][j].abs().max(f64::MIN_POSITIVE);
        if !clearly_positive || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        mat[j][j] = d;
        for i in j + 1..m {
            mat[i][j] = (mat[i][j] - dot(&mat[i][..j], &mat[j][..j])) / d;
        }
    }
    // L u = v, then Lᵀ x = u.
    for i in 0..m {
        v[i] = (v[i] - dot(&mat[i][..i], &v[..i])) / mat[i][i];
    }
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|k| mat[k][i] * v[k]).sum();
        v[i] = (v[i] - s) / mat[i][i];
    }
    Some(v[0])
}

/// How far below the curve, in robust standard deviations of the residuals, an observation
/// must lie to be taken for a cloud by [`upper_envelope`] (3: a clean Gaussian point is
/// dropped once in ~700).
pub const ENVELOPE_NOISE_FACTOR: f64 = 3.0;

/// The least depth, as a share of the curve's range, at which [`upper_envelope`] takes an
/// observation for a cloud: on noise-free data (synthetic scenes) the smoothing bias at a
/// sharp trough must not be mistaken for clouds.
pub const ENVELOPE_MIN_DEPTH: f64 = 0.05;

/// Upper envelope of a vegetation-index series: a Whittaker curve that ignores observations
/// lying clearly below it (TIMESAT's "upper envelope" iterations, Jönsson & Eklundh 2004;
/// Chen et al. 2004, Remote Sens. Environ. 91:332, lower the weight of points below the curve for
/// the same reason; their linear rule `1 − dᵢ/d_max` left ~0.04 NDVI of cloud bias on the test
/// series below, hence the robust threshold here).
///
/// Clouds, haze, shadows and mixed water only *lower* NDVI or EVI, so a curve through the
/// middle of the points is dragged down by the cloudy dates the mask missed. The rule, repeated
/// `iterations` times after a first [`whittaker_daily`] fit:
///
/// 1. residuals `rᵢ = yᵢ − fit(tᵢ)` of the usable observations; their median `m` and the
///    spread `s = 1.4826 · median(rᵢ − m over the rᵢ above m)`: measured on the upper half,
///    which clouds cannot reach, and around the median rather than 0, so neither the cloudy
///    points nor a curve still dragged down by them inflate it (for clean Gaussian noise `s`
///    is its standard deviation);
/// 2. the depth `c = max(`[`ENVELOPE_NOISE_FACTOR`]` · s, `[`ENVELOPE_MIN_DEPTH`]` · (range of
///    the fit))`;
/// 3. an observation with `rᵢ < m − c` gets weight 0 (a cloud); every other keeps the caller's
///    weight (weights are recomputed from the caller's each time, so a point can come back);
/// 4. refit, and stop early when no weight changed.
///
/// Points within the noise are never down-weighted, so clean data keep their plain fit (no
/// creeping up through repeated iterations), and an isolated dip deeper than the noise is
/// ignored after one or two iterations. A run of low dates deeper than the noise can also be a
/// real event (a flooded field, a harvest): the envelope bridges it only when it is narrow
/// compared with λ's scale, which is why λ should stay below ~1000 for rice. With
/// `iterations = 0` this is the plain Whittaker fit.
pub fn upper_envelope(t: &[f64], y: &[f64], w: &[f64], lambda: f64, iterations: usize) -> Daily {
    let n = t.len().min(y.len()).min(w.len());
    let mut fit = whittaker_daily(t, y, w, lambda);
    let mut weights = w[..n].to_vec();
    let mut residuals = Vec::with_capacity(n);
    for _ in 0..iterations {
        residuals.clear();
        residuals.extend(
            (0..n)
                .filter(|&i| usable(t[i], y[i], w[i]))
                .map(|i| y[i] - fit.at(t[i])),
        );
        if residuals.len() < 3 || residuals.iter().any(|r| !r.is_finite()) {
            break;
        }
        let median = median_in_place(&mut residuals);
        residuals.retain(|&r| r > median);
        for r in residuals.iter_mut() {
            *r -= median;
        }
        if residuals.is_empty() {
            break;
        }
        let spread = 1.4826 * median_in_place(&mut residuals);
        let (lo, hi) = fit
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let depth = (ENVELOPE_NOISE_FACTOR * spread).max(ENVELOPE_MIN_DEPTH * (hi - lo));
        if depth.is_nan() || depth <= 0.0 {
            break; // the data lie on the curve: nothing to lift
        }
        let mut changed = false;
        for i in 0..n {
            let cloud = usable(t[i], y[i], w[i]) && y[i] - fit.at(t[i]) < median - depth;
            let new = if cloud { 0.0 } else { w[i] };
            if new != weights[i] {
                weights[i] = new;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        fit = whittaker_daily(t, y, &weights, lambda);
    }
    fit
}

/// The median of a non-empty slice of finite numbers (the upper one of the middle two for an
/// even count), reordering the slice.
fn median_in_place(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn whittaker_reproduces_a_line_exactly() {
        // Irregular days, fractional days, a duplicate day, a missing value: a line has no
        // second differences, so it is the exact minimiser whatever λ is.
        let t = [0.0, 3.0, 3.0, 4.5, 9.0, 17.25, 18.0, 30.0];
        let line = |d: f64| 0.15 + 0.021 * d;
        let mut y: Vec<f64> = t.iter().map(|&d| line(d)).collect();
        y[4] = 5.0; // weight 0 below: must not matter
        let w = [1.0, 0.5, 1.0, 1.0, 0.0, 0.3, 1.0, 1.0];
        for lambda in [1.0, 100.0, DEFAULT_LAMBDA, 1e5] {
            let z = whittaker_daily(&t, &y, &w, lambda);
            assert_eq!(z.start, 0.0);
            assert_eq!(z.len(), 31);
            for (day, v) in z.days().zip(&z.values) {
                assert!(close(*v, line(day), 1e-9), "λ={lambda} day {day}: {v}");
            }
            assert!(close(z.at(17.25), line(17.25), 1e-9));
        }
    }

    #[test]
    fn whittaker_is_close_to_a_parabola_with_small_lambda() {
        let t: Vec<f64> = (0..40).map(|i| (i * 3) as f64).collect();
        let parabola = |d: f64| 0.2 + 0.02 * d - 0.0002 * d * d;
        let y: Vec<f64> = t.iter().map(|&d| parabola(d)).collect();
        let w = vec![1.0; t.len()];
        let z = whittaker_daily(&t, &y, &w, 1.0);
        for (day, v) in z.days().zip(&z.values) {
            assert!(close(*v, parabola(day), 2e-3), "day {day}: {v}");
        }
        // At the observations the bias is about λ·Δ³·|z''| ≈ 1e-2 · 4e-4 · 27: tiny.
        for &d in &t {
            assert!(close(z.at(d), parabola(d), 1e-3), "day {d}");
        }
    }

    #[test]
    fn whittaker_bridges_a_gap_linearly_when_lambda_is_large() {
        // Two clusters of observations on one line, a 40-day gap full of cloudy values.
        let t: Vec<f64> = (0..=20).map(|i| (i * 5) as f64).collect();
        let mut y: Vec<f64> = t.iter().map(|&d| 0.3 + 0.004 * d).collect();
        let mut w = vec![1.0; t.len()];
        for i in 6..14 {
            y[i] = 0.05; // clouds
            w[i] = 0.0;
        }
        let z = whittaker_daily(&t, &y, &w, 1e6);
        for day in 25..=70 {
            let d = day as f64;
            assert!(close(z.at(d), 0.3 + 0.004 * d, 1e-6), "day {d}");
        }
        // Two observations that are not on a line: the gap between them is a straight segment.
        let z = whittaker_daily(&[0.0, 10.0], &[0.0, 1.0], &[1.0, 1.0], 1e6);
        for day in 0..=10 {
            assert!(close(z.at(day as f64), day as f64 / 10.0, 1e-9));
        }
    }

    #[test]
    fn whittaker_degenerate_inputs_do_not_panic() {
        assert!(whittaker_daily(&[], &[], &[], 100.0).is_empty());
        let z = whittaker_daily(&[3.0, 8.0], &[0.5, 0.7], &[0.0, 0.0], 100.0);
        assert_eq!(z.len(), 6);
        assert!(z.values.iter().all(|v| v.is_nan()));
        assert!(z.at(4.0).is_nan());
        // One usable day (duplicated): the weighted mean, everywhere.
        let z = whittaker_daily(&[3.0, 3.0, 9.0], &[0.4, 0.6, 0.9], &[1.0, 3.0, 0.0], 100.0);
        assert!(z.values.iter().all(|&v| close(v, 0.55, 1e-12)));
        // λ = 0 is raised to a tiny positive value: the observations are interpolated.
        let z = whittaker_daily(&[0.0, 2.0, 4.0], &[0.0, 1.0, 0.0], &[1.0; 3], 0.0);
        assert!(close(z.at(2.0), 1.0, 1e-6) && close(z.at(4.0), 0.0, 1e-6));
        // NaN values and days are skipped; a day count in seconds gives an empty curve.
        let z = whittaker_daily(
            &[0.0, f64::NAN, 5.0, 10.0],
            &[0.1, 0.2, f64::NAN, 0.3],
            &[1.0; 4],
            10.0,
        );
        assert!(z.values.iter().all(|v| v.is_finite()));
        assert!(whittaker_daily(&[0.0, 1e9], &[0.1, 0.2], &[1.0, 1.0], 10.0).is_empty());
    }

    #[test]
    fn daily_at_interpolates_and_clamps() {
        let d = Daily {
            start: 10.0,
            values: vec![1.0, 3.0, 2.0],
        };
        assert_eq!(d.at(9.0), 1.0);
        assert_eq!(d.at(10.5), 2.0);
        assert_eq!(d.at(11.0), 3.0);
        assert_eq!(d.at(11.25), 2.75);
        assert_eq!(d.at(12.0), 2.0);
        assert_eq!(d.at(40.0), 2.0);
        assert_eq!(d.end(), 12.0);
        assert_eq!(d.days().collect::<Vec<_>>(), vec![10.0, 11.0, 12.0]);
        let e = Daily::interpolate(&[1.5, 3.0, f64::NAN, 5.0], &[1.0, 4.0, 9.0, 0.0]);
        assert_eq!(e.start, 1.0);
        assert_eq!(e.values, vec![1.0, 2.0, 4.0, 2.0, 0.0]);
    }

    #[test]
    fn savitzky_golay_degree_2_reproduces_a_quadratic_on_an_irregular_axis() {
        let t = [
            0.0, 1.0, 4.0, 5.5, 9.0, 9.0, 13.0, 20.0, 21.0, 27.5, 33.0, 40.0,
        ];
        let q = |d: f64| 0.12 + 0.03 * d - 0.0007 * d * d;
        let y: Vec<f64> = t.iter().map(|&d| q(d)).collect();
        let w = [1.0, 0.5, 1.0, 1.0, 0.2, 1.0, 1.0, 0.7, 1.0, 1.0, 1.0, 1.0];
        for degree in [2, 3] {
            let s = savitzky_golay(&t, &y, &w, 9.0, degree);
            for (i, &d) in t.iter().enumerate() {
                assert!(close(s[i], q(d), 1e-9), "degree {degree} day {d}: {}", s[i]);
            }
        }
        // A missing observation is filled from its neighbours.
        let mut w2 = w;
        w2[6] = 0.0;
        let mut y2 = y.clone();
        y2[6] = -1.0;
        let s = savitzky_golay(&t, &y2, &w2, 9.0, 2);
        assert!(close(s[6], q(13.0), 1e-9));
    }

    #[test]
    fn savitzky_golay_lowers_the_degree_when_points_are_few() {
        // Window of ±3 days: day 20 sees only itself → its own value; day 0 sees two days → the
        // line through them (degree 2 asked).
        let t = [0.0, 2.0, 20.0, 40.0, 41.0, 42.0];
        let y = [1.0, 2.0, 7.0, 0.0, 1.0, 4.0];
        let s = savitzky_golay(&t, &y, &[1.0; 6], 3.0, 2);
        assert!(close(s[0], 1.0, 1e-12) && close(s[1], 2.0, 1e-12));
        assert!(close(s[2], 7.0, 1e-12));
        // Days 40, 41, 42 with degree 2: the parabola through three points is exact.
        assert!(close(s[3], 0.0, 1e-9) && close(s[4], 1.0, 1e-9) && close(s[5], 4.0, 1e-9));
        // Degree 1 on those three: the least-squares line.
        let s1 = savitzky_golay(&t, &y, &[1.0; 6], 3.0, 1);
        assert!(close(s1[4], 5.0 / 3.0, 1e-9));
        // A window with nothing usable: NaN; no panic on empty input.
        let s = savitzky_golay(&[0.0, 10.0], &[1.0, 2.0], &[0.0, 1.0], 3.0, 2);
        assert!(s[0].is_nan() && close(s[1], 2.0, 1e-12));
        assert!(savitzky_golay(&[], &[], &[], 3.0, 2).is_empty());
    }

    /// Deterministic noise in [-amp, amp] (a linear congruential generator: no dependency).
    fn noise(seed: &mut u64, amp: f64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * amp
    }

    /// A sine with a 120-day period sampled every 5 days, and a copy with "clouds": every
    /// seventh point lowered by 0.25–0.45 (weight still 1: clouds the mask missed).
    fn sine_with_clouds() -> (Vec<f64>, Vec<f64>, Vec<f64>, impl Fn(f64) -> f64) {
        let clean = |d: f64| 0.5 + 0.3 * (2.0 * std::f64::consts::PI * d / 120.0).sin();
        let t: Vec<f64> = (0..73).map(|i| (i * 5) as f64).collect();
        let y: Vec<f64> = t.iter().map(|&d| clean(d)).collect();
        let mut cloudy = y.clone();
        for (k, i) in (3..t.len()).step_by(7).enumerate() {
            cloudy[i] -= 0.25 + 0.05 * (k % 5) as f64;
        }
        (t, y, cloudy, clean)
    }

    fn max_error(c: &Daily, reference: &impl Fn(f64) -> f64) -> f64 {
        c.days()
            .zip(&c.values)
            .filter(|(d, _)| (10.0..=350.0).contains(d))
            .map(|(d, v)| (v - reference(d)).abs())
            .fold(0.0f64, f64::max)
    }

    #[test]
    fn upper_envelope_ignores_cloud_depressed_points() {
        let (t, _, cloudy, clean) = sine_with_clouds();
        let w = vec![1.0; t.len()];
        let mut seed = 7;
        let noisy: Vec<f64> = cloudy.iter().map(|v| v + noise(&mut seed, 0.02)).collect();
        for (y, tol) in [(&cloudy, 0.01), (&noisy, 0.02)] {
            let plain = whittaker_daily(&t, y, &w, DEFAULT_LAMBDA);
            let env = upper_envelope(&t, y, &w, DEFAULT_LAMBDA, DEFAULT_ENVELOPE_ITERATIONS);
            let (e_plain, e_env) = (max_error(&plain, &clean), max_error(&env, &clean));
            assert!(e_plain > 0.05, "plain smoother error {e_plain}");
            assert!(e_env < tol, "envelope error {e_env}");
        }
        // Almost a third of the dates cloudy (depressed 0.1–0.5, mostly on two consecutive
        // dates) and noise: far better than plain, near what the smoother reaches when told
        // which dates are cloudy (0.20, 0.05 and 0.026 as written).
        let mut seed = 99;
        let (mut heavy, mut known) = (Vec::new(), Vec::new());
        for (i, &d) in t.iter().enumerate() {
            let v = clean(d) + noise(&mut seed, 0.04);
            let depth = 0.3 + noise(&mut seed, 0.2);
            let is_cloud = i % 8 == 1 || i % 8 == 2 || (i % 16 == 6);
            heavy.push(if is_cloud { v - depth } else { v });
            known.push(if is_cloud { 0.0 } else { 1.0 });
        }
        let plain = max_error(&whittaker_daily(&t, &heavy, &w, DEFAULT_LAMBDA), &clean);
        let oracle = max_error(&whittaker_daily(&t, &heavy, &known, DEFAULT_LAMBDA), &clean);
        let env = max_error(
            &upper_envelope(&t, &heavy, &w, DEFAULT_LAMBDA, DEFAULT_ENVELOPE_ITERATIONS),
            &clean,
        );
        assert!(
            plain > 0.15 && env < 0.35 * plain && env < 2.5 * oracle,
            "{plain} {env} {oracle}"
        );
    }

    #[test]
    fn upper_envelope_of_clean_data_stays_on_the_data() {
        let (t, y, _, clean) = sine_with_clouds();
        let w = vec![1.0; t.len()];
        // Points within the noise are never dropped: clean data keep the plain fit, however
        // many iterations.
        let plain = whittaker_daily(&t, &y, &w, DEFAULT_LAMBDA);
        assert!(max_error(&plain, &clean) < 0.01);
        assert_eq!(upper_envelope(&t, &y, &w, DEFAULT_LAMBDA, 20), plain);
        // No iterations: the plain fit.
        assert_eq!(
            upper_envelope(&t, &y, &w, DEFAULT_LAMBDA, 0),
            whittaker_daily(&t, &y, &w, DEFAULT_LAMBDA)
        );
    }
}
