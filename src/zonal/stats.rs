//! Coverage-weighted statistics with exactextract's definitions, accumulated window by window
//! and merged: a plot that spans several windows gets the same numbers as one read whole.

use std::cmp::Ordering;

use serde::Serialize;

/// Running coverage-weighted statistics of one band over one plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    /// Σ coverage of valid pixels.
    weight: f64,
    /// Coverage-weighted mean so far.
    mean: f64,
    /// Σ coverage × (value − mean)², updated by West's weighted form of Welford's algorithm.
    m2: f64,
    min: f64,
    max: f64,
    /// Σ coverage of nodata pixels.
    nodata_weight: f64,
    /// (value, coverage) of every covered valid pixel, for quantiles; None when not wanted.
    values: Option<Vec<(f64, f64)>>,
}

impl Accumulator {
    /// An empty accumulator; `keep_values` for quantiles (median, p10, p90).
    pub fn new(keep_values: bool) -> Accumulator {
        Accumulator {
            weight: 0.0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            nodata_weight: 0.0,
            values: keep_values.then(Vec::new),
        }
    }

    /// Add a valid pixel with value `x` and coverage `c` > 0.
    #[inline]
    pub fn add(&mut self, x: f64, c: f64) {
        self.weight += c;
        let delta = x - self.mean;
        self.mean += delta * (c / self.weight);
        self.m2 += c * delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if let Some(values) = &mut self.values {
            values.push((x, c));
        }
    }

    /// Add a nodata pixel with coverage `c`.
    #[inline]
    pub fn add_nodata(&mut self, c: f64) {
        self.nodata_weight += c;
    }

    /// Fold in another part of the same plot (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: Accumulator) {
        self.nodata_weight += other.nodata_weight;
        if other.weight > 0.0 {
            let weight = self.weight + other.weight;
            let delta = other.mean - self.mean;
            self.mean += delta * (other.weight / weight);
            self.m2 += other.m2 + delta * delta * (self.weight * other.weight / weight);
            self.weight = weight;
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.values, other.values) {
            mine.extend(theirs);
        }
    }

    /// The statistics.
    pub fn finish(self) -> Stats {
        let valid = self.weight > 0.0;
        let total = self.weight + self.nodata_weight;
        let none = f64::NAN;
        let (median, p10, p90) = match self.values {
            Some(mut values) if valid => {
                // Sorted by value, then coverage: with ties, the weighted quantile depends on
                // the order of the tied pixels, so the order must not depend on the order in
                // which windows arrived.
                // Values and coverages are never NaN (NaN pixels are nodata), so the plain
                // float order is total here and cheaper than `total_cmp`.
                values.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
                // Equal values become one entry carrying their summed coverage, as exactextract
                // keeps them (a value → weight table): with integer data this matters.
                values.dedup_by(|next, kept| {
                    let same = next.0 == kept.0;
                    if same {
                        kept.1 += next.1;
                    }
                    same
                });
                let q = WeightedQuantiles::new(&values);
                (q.quantile(0.5), q.quantile(0.1), q.quantile(0.9))
            }
            _ => (none, none, none),
        };
        Stats {
            count: self.weight,
            mean: if valid { self.mean } else { none },
            stdev: if valid {
                (self.m2.max(0.0) / self.weight).sqrt()
            } else {
                none
            },
            min: if valid { self.min } else { none },
            max: if valid { self.max } else { none },
            median,
            p10,
            p90,
            nodata_fraction: if total > 0.0 {
                self.nodata_weight / total
            } else {
                none
            },
        }
    }
}

/// The statistics of one band over one plot; NaN where undefined (no valid pixel).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub count: f64,
    pub mean: f64,
    pub stdev: f64,
    pub min: f64,
    pub max: f64,
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub nodata_fraction: f64,
}

impl Stats {
    /// A count, mean and nodata fraction alone, the rest unknown (NaN): what the stage takes
    /// from a statistics table.
    pub fn counted(count: f64, mean: f64, nodata_fraction: f64) -> Stats {
        Stats {
            count,
            mean,
            stdev: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            median: f64::NAN,
            p10: f64::NAN,
            p90: f64::NAN,
            nodata_fraction,
        }
    }

    /// Column names, in output order.
    pub const NAMES: [&'static str; 9] = [
        "count",
        "mean",
        "stdev",
        "min",
        "max",
        "median",
        "p10",
        "p90",
        "nodata_fraction",
    ];

    /// Values in the order of [`Stats::NAMES`].
    pub fn values(&self) -> [f64; 9] {
        [
            self.count,
            self.mean,
            self.stdev,
            self.min,
            self.max,
            self.median,
            self.p10,
            self.p90,
            self.nodata_fraction,
        ]
    }
}

/// Weighted quantiles as exactextract defines them (the weighted form of the usual linear
/// "type 7" estimator): with distinct values sorted ascending, n of them, each weighted by the
/// summed coverage of its pixels, and partial sums
/// S_k = (k − 1)·w_k + (n − 1)·Σ_{i<k} w_i (k from 1), the q-quantile interpolates linearly in S
/// at q·(n − 1)·Σw. With equal weights it is numpy's default percentile.
struct WeightedQuantiles<'a> {
    sorted: &'a [(f64, f64)],
    s: Vec<f64>,
    total: f64,
}

impl<'a> WeightedQuantiles<'a> {
    fn new(sorted: &'a [(f64, f64)]) -> Self {
        let n = sorted.len() as f64;
        let mut s = Vec::with_capacity(sorted.len());
        let mut cumulative = 0.0;
        for (k, &(_, w)) in sorted.iter().enumerate() {
            s.push(k as f64 * w + (n - 1.0) * cumulative);
            cumulative += w;
        }
        WeightedQuantiles {
            sorted,
            s,
            total: cumulative,
        }
    }

    fn quantile(&self, q: f64) -> f64 {
        let target = q * (self.sorted.len() as f64 - 1.0) * self.total;
        // First S greater than the target; S_1 = 0 ≤ target, so there is one to its left.
        let right = self.s.partition_point(|&s| s <= target);
        let left = right.saturating_sub(1);
        if right >= self.s.len() {
            return self.sorted[left].0;
        }
        let (xl, xr) = (self.sorted[left].0, self.sorted[right].0);
        xl + (target - self.s[left]) * (xr - xl) / (self.s[right] - self.s[left])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numpy_percentile(sorted: &[f64], q: f64) -> f64 {
        let pos = q * (sorted.len() - 1) as f64;
        let (i, f) = (pos.floor() as usize, pos - pos.floor());
        if i + 1 >= sorted.len() {
            sorted[i]
        } else {
            sorted[i] + f * (sorted[i + 1] - sorted[i])
        }
    }

    #[test]
    fn unit_weights_give_the_usual_statistics() {
        let xs = [4.0, 1.0, 7.0, 2.0, 9.0, 3.0];
        let mut acc = Accumulator::new(true);
        for &x in &xs {
            acc.add(x, 1.0);
        }
        acc.add_nodata(2.0);
        let s = acc.finish();
        let mean = xs.iter().sum::<f64>() / 6.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 6.0;
        assert_eq!(s.count, 6.0);
        assert!((s.mean - mean).abs() < 1e-12);
        assert!((s.stdev - var.sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 9.0));
        assert_eq!(s.nodata_fraction, 0.25);
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        for (q, got) in [(0.5, s.median), (0.1, s.p10), (0.9, s.p90)] {
            assert!((got - numpy_percentile(&sorted, q)).abs() < 1e-12, "q {q}");
        }
    }

    #[test]
    fn weights_and_merging() {
        // Weighted mean/variance against the direct formulas; split in two and merged.
        let data = [(0.3, 0.25), (0.9, 1.0), (0.5, 0.5), (0.1, 0.75), (0.7, 1.0)];
        let w: f64 = data.iter().map(|d| d.1).sum();
        let mean = data.iter().map(|d| d.0 * d.1).sum::<f64>() / w;
        let var = data.iter().map(|d| d.1 * (d.0 - mean).powi(2)).sum::<f64>() / w;
        let mut a = Accumulator::new(true);
        let mut b = Accumulator::new(true);
        for (i, &(x, c)) in data.iter().enumerate() {
            if i < 2 { &mut a } else { &mut b }.add(x, c);
        }
        a.merge(b);
        let s = a.finish();
        assert!((s.count - w).abs() < 1e-15);
        assert!((s.mean - mean).abs() < 1e-15);
        assert!((s.stdev - var.sqrt()).abs() < 1e-15);
        assert_eq!((s.min, s.max), (0.1, 0.9));
        assert!(s.nodata_fraction == 0.0);
    }

    #[test]
    fn weighted_quantile_by_hand() {
        // Values 1, 2, 3 with weights 1, 2, 1: S = 0, 1·2 + 2·1 = 4, 2·1 + 2·3 = 8; Σw = 4,
        // target for the median = 0.5 · 2 · 4 = 4 → exactly value 2; p10: target 0.8 → 1.2.
        let sorted = [(1.0, 1.0), (2.0, 2.0), (3.0, 1.0)];
        let q = WeightedQuantiles::new(&sorted);
        assert!((q.quantile(0.5) - 2.0).abs() < 1e-15);
        assert!((q.quantile(0.1) - 1.2).abs() < 1e-15);
        assert_eq!(q.quantile(1.0), 3.0);
        assert_eq!(q.quantile(0.0), 1.0);
    }

    #[test]
    fn equal_values_are_one_weighted_entry() {
        // 1, 1, 2 with unit coverage: entries (1, 2) and (2, 1); S = 0 and 1·1 + 1·2 = 3;
        // Σw = 3, median target 0.5 · 1 · 3 = 1.5 → 1 + 1.5/3 = 1.5 (numpy would say 1).
        let mut acc = Accumulator::new(true);
        for x in [2.0, 1.0, 1.0] {
            acc.add(x, 1.0);
        }
        assert!((acc.finish().median - 1.5).abs() < 1e-15);
    }

    #[test]
    fn nothing_valid_gives_nan() {
        let mut acc = Accumulator::new(true);
        acc.add_nodata(0.5);
        let s = acc.finish();
        assert_eq!(s.count, 0.0);
        assert!(s.mean.is_nan() && s.min.is_nan() && s.median.is_nan());
        assert_eq!(s.nodata_fraction, 1.0);
        assert!(Accumulator::new(false).finish().nodata_fraction.is_nan());
    }
}
