//! Spray zones: stress anomalies cleaned into sprayable zones on a cell grid (pure, no GDAL).
//!
//! Every grid here is `width × height` cells, row-major, north-up; `plots` numbers each cell's
//! plot (0 = outside every plot, `k` = plot `k`, 1-based). Cells outside plots never get anything,
//! and nothing computed for one plot ever reaches into another.
//!
//! Stress is a cell whose index is anomalously low against its own plot (a robust z-score from
//! the plot's median and MAD, see [`RobustStats`]) and/or has dropped since the previous flight
//! by at least a threshold ([`stress_mask`]).

use crate::error::{Error, Result};

/// How the two stress tests (robust z-score, drop since the previous flight) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// A cell is stressed when any test that can be measured for it says so.
    Either,
    /// A cell is stressed when every test that can be measured for it says so (and at least one
    /// can). Where the drop cannot be measured (no previous flight, or no previous value for this
    /// cell) the z-score decides alone, exactly as when no previous flight was given.
    Both,
}

/// Settings of [`spray_zones`].
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneParams {
    /// Stressed when the robust z-score is `<= -z_threshold` (e.g. 2.5); finite and > 0.
    /// `None` turns the z-score test off (drop since the previous flight only).
    pub z_threshold: Option<f64>,
    /// Stressed when `previous - index >= drop_threshold`; finite and > 0. `None` (or no previous
    /// flight) turns the drop test off.
    pub drop_threshold: Option<f64>,
    /// How the two tests combine.
    pub combine: Combine,
    /// Radius in cells of the Euclidean disk of the morphological opening that removes specks
    /// and thin slivers of stress; 0 keeps the stress as it is.
    pub opening_radius: f64,
    /// Smallest zone kept, in stressed cells after the opening (one spray-swath square, say).
    pub min_area_cells: usize,
    /// Margin in cells added around each zone (Euclidean disk), clipped to the zone's plot.
    pub buffer_radius: f64,
}

impl ZoneParams {
    /// Rejects thresholds and radii that are not finite or out of range, with a usage error that
    /// names the setting.
    pub fn check(&self) -> Result<()> {
        for (name, value) in [
            ("z threshold", self.z_threshold),
            ("drop threshold", self.drop_threshold),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::usage(format!(
                        "spray zones: the {name} must be a positive number, not {v}"
                    )));
                }
            }
        }
        check_radius("opening radius", self.opening_radius)?;
        check_radius("buffer radius", self.buffer_radius)
    }
}

fn check_radius(name: &str, radius: f64) -> Result<()> {
    if radius.is_finite() && radius >= 0.0 {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "spray zones: the {name} must be 0 or more cells, not {radius}"
        )))
    }
}

fn check_len(what: &str, len: usize, cells: usize) -> Result<()> {
    if len == cells {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "spray zones: the {what} has {len} cells where the grid has {cells}"
        )))
    }
}

/// Every plot number must be 0 or `1..=n_plots`.
fn check_plots(plots: &[u32], n_plots: usize) -> Result<()> {
    match plots.iter().find(|&&p| p as usize > n_plots) {
        Some(p) => Err(Error::usage(format!(
            "spray zones: a cell is in plot {p} but there are only {n_plots} plots"
        ))),
        None => Ok(()),
    }
}

/// A cell value the statistics and the stress tests use: finite (NaN and ±inf are no data).
fn valid(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

/// The median and spread of one plot's valid index values, for robust z-scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustStats {
    /// Median of the plot's valid values (mean of the two middle ones for an even count).
    pub median: f64,
    /// Median absolute deviation from the median, raw (not scaled to a standard deviation).
    pub mad: f64,
    /// Mean absolute deviation from the median.
    pub mean_ad: f64,
    /// Number of valid values.
    pub count: usize,
}

impl RobustStats {
    /// `1.4826 · MAD` turns the MAD into a standard deviation for normal data.
    pub const MAD_TO_SIGMA: f64 = 1.4826;
    /// `√(π/2) ≈ 1.253314` turns a mean absolute deviation into a standard deviation for normal
    /// data (the fallback of Iglewicz and Hoaglin's modified z-score when the MAD is 0).
    pub const MEAN_AD_TO_SIGMA: f64 = 1.253314;

    /// The robust standard deviation: `1.4826 · MAD`, or, when more than half of the plot has
    /// exactly the median value (MAD = 0), `1.253314 · mean absolute deviation`; 0 only when every
    /// value equals the median.
    pub fn sigma(&self) -> f64 {
        if self.mad > 0.0 {
            Self::MAD_TO_SIGMA * self.mad
        } else {
            Self::MEAN_AD_TO_SIGMA * self.mean_ad
        }
    }

    /// Robust z-score `(v − median) / sigma`. A plot whose values are all equal has sigma 0 and
    /// every z is 0: a flat plot has no anomalies (instead of ±inf for any value off the median).
    pub fn z(&self, v: f64) -> f64 {
        let sigma = self.sigma();
        if sigma > 0.0 {
            (v - self.median) / sigma
        } else {
            0.0
        }
    }
}

/// Median of `values` (reordered in place); `None` when empty.
fn median<T: Copy + Into<f64>>(values: &mut [T]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (lower_half, upper, _) =
        values.select_nth_unstable_by(n / 2, |a, b| (*a).into().total_cmp(&(*b).into()));
    let upper: f64 = (*upper).into();
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = lower_half
        .iter()
        .map(|&v| v.into())
        .fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Robust statistics of each plot's valid (finite) index values: entry `k - 1` is plot `k`,
/// `None` for a plot with no valid cell. Cells outside plots (0) are ignored; a plot number above
/// `n_plots` or slices of different lengths are a usage error.
pub fn plot_stats(
    index: &[f32],
    plots: &[u32],
    n_plots: usize,
) -> Result<Vec<Option<RobustStats>>> {
    check_len("plot grid", plots.len(), index.len())?;
    check_plots(plots, n_plots)?;
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); n_plots];
    for (&v, &p) in index.iter().zip(plots) {
        if p != 0 && v.is_finite() {
            if let Some(slot) = values.get_mut(p as usize - 1) {
                slot.push(v);
            }
        }
    }
    let mut deviations: Vec<f64> = Vec::new();
    Ok(values
        .into_iter()
        .map(|mut vals| {
            let median = median(&mut vals)?;
            deviations.clear();
            deviations.extend(vals.iter().map(|&v| (f64::from(v) - median).abs()));
            let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
            let mad = self::median(&mut deviations)?;
            Some(RobustStats {
                median,
                mad,
                mean_ad,
                count: vals.len(),
            })
        })
        .collect())
}

/// Stressed cells: inside a plot, with a valid index, and (per `params.combine`) a robust z-score
/// against the plot `<= -z_threshold` and/or `previous - index >= drop_threshold` (the drop test
/// only where `previous` is given and valid for the cell). A usage error for slices of different
/// lengths, plot numbers above `n_plots`, bad thresholds, or when no test can run at all (z test
/// off and no previous flight or drop threshold).
pub fn stress_mask(
    index: &[f32],
    previous: Option<&[f32]>,
    plots: &[u32],
    n_plots: usize,
    params: &ZoneParams,
) -> Result<Vec<bool>> {
    params.check()?;
    check_len("plot grid", plots.len(), index.len())?;
    if let Some(prev) = previous {
        check_len("previous index", prev.len(), index.len())?;
    }
    check_plots(plots, n_plots)?;
    let drop = params.drop_threshold.zip(previous);
    if params.z_threshold.is_none() && drop.is_none() {
        return Err(Error::usage(
            "spray zones: no stress test can run: the z-score test is off and there is no \
             previous flight with a drop threshold",
        ));
    }
    let stats = match params.z_threshold {
        Some(_) => plot_stats(index, plots, n_plots)?,
        None => Vec::new(),
    };
    Ok(index
        .iter()
        .zip(plots)
        .enumerate()
        .map(|(i, (&v, &p))| {
            let Some(v) = valid(v).filter(|_| p != 0) else {
                return false;
            };
            let z_low = params.z_threshold.map(|t| {
                stats
                    .get(p as usize - 1)
                    .copied()
                    .flatten()
                    .is_some_and(|s| s.z(v) <= -t)
            });
            let dropped = drop.and_then(|(d, prev)| {
                let before = valid(*prev.get(i)?)?;
                Some(before - v >= d)
            });
            match params.combine {
                Combine::Either => z_low == Some(true) || dropped == Some(true),
                Combine::Both => {
                    (z_low.is_some() || dropped.is_some())
                        && z_low != Some(false)
                        && dropped != Some(false)
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ZoneParams {
        ZoneParams {
            z_threshold: Some(2.5),
            drop_threshold: None,
            combine: Combine::Either,
            opening_radius: 0.0,
            min_area_cells: 1,
            buffer_radius: 0.0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn set_cells(mask: &[bool]) -> Vec<usize> {
        mask.iter()
            .enumerate()
            .filter_map(|(i, &m)| m.then_some(i))
            .collect()
    }

    #[test]
    fn median_and_mad_by_hand() {
        // Plot 1: 1 2 3 4 100 and a NaN → median 3, |dev| 2 1 0 1 97 → MAD 1, mean AD 101/5.
        // Plot 2: 1 2 3 4 → median 2.5, |dev| 1.5 .5 .5 1.5 → MAD 1, mean AD 1.
        // Plot 3: only NaN → None. Cells outside plots (0) are ignored.
        let index = [
            1.0,
            2.0,
            3.0,
            4.0,
            100.0,
            f32::NAN,
            4.0,
            3.0,
            2.0,
            1.0,
            f32::NAN,
            -50.0,
        ];
        let plots = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 0];
        let stats = plot_stats(&index, &plots, 4).unwrap();
        assert_eq!(stats.len(), 4);
        let p1 = stats[0].unwrap();
        assert_eq!((p1.median, p1.mad, p1.count), (3.0, 1.0, 5));
        assert!(close(p1.mean_ad, 101.0 / 5.0));
        assert!(close(p1.z(0.0), -3.0 / 1.4826));
        let p2 = stats[1].unwrap();
        assert_eq!(
            (p2.median, p2.mad, p2.mean_ad, p2.count),
            (2.5, 1.0, 1.0, 4)
        );
        assert_eq!(stats[2], None);
        assert_eq!(stats[3], None);
    }

    #[test]
    fn zero_mad_falls_back_to_mean_absolute_deviation_and_flat_plots_have_z_zero() {
        // 5 5 5 1: sorted 1 5 5 5 → median 5; |dev| 0 0 0 4 → MAD (0 + 0) / 2 = 0, mean AD 1;
        // sigma = 1.253314 · 1, z(1) = -4 / 1.253314.
        let stats = plot_stats(&[5.0, 5.0, 5.0, 1.0, 7.0, 7.0], &[1, 1, 1, 1, 2, 2], 2).unwrap();
        let s = stats[0].unwrap();
        assert_eq!((s.median, s.mad, s.mean_ad), (5.0, 0.0, 1.0));
        assert!(close(s.z(1.0), -4.0 / 1.253314));
        // A flat plot: sigma 0, every z 0, never inf or NaN.
        let flat = stats[1].unwrap();
        assert_eq!(flat.sigma(), 0.0);
        assert_eq!(flat.z(7.0), 0.0);
        assert_eq!(flat.z(-1000.0), 0.0);
    }

    /// One row of 20 cells in plot 1. Values by position: 0.2 at 2, 3, 5, 10; 0.8 at 8; else 0.78
    /// at even and 0.82 at odd positions (7 × 0.78, 8 × 0.82). Sorted: 4 × 0.2, 7 × 0.78, 0.8,
    /// 8 × 0.82 → median (10th + 11th) / 2 = 0.78. |dev|: 7 × 0, 0.02, 8 × 0.04, 4 × 0.58 → MAD
    /// 0.04, sigma 0.0593: z(0.2) ≈ -9.8 (stressed at 2.5), z(0.8) ≈ 0.3, z(0.82) ≈ 0.7.
    /// Previous: same as now except 0.8 at 5 (drop 0.6), 1.4 at 8 (drop 0.6), NaN at 10.
    fn combine_row() -> (Vec<f32>, Vec<f32>, Vec<u32>) {
        let index: Vec<f32> = (0..20)
            .map(|i| match i {
                2 | 3 | 5 | 10 => 0.2,
                8 => 0.8,
                i if i % 2 == 0 => 0.78,
                _ => 0.82,
            })
            .collect();
        let mut previous = index.clone();
        previous[5] = 0.8;
        previous[8] = 1.4;
        previous[10] = f32::NAN;
        (index, previous, vec![1; 20])
    }

    #[test]
    fn z_only_either_and_both() {
        let (index, previous, plots) = combine_row();
        let s = plot_stats(&index, &plots, 1).unwrap()[0].unwrap();
        assert!(close(s.median, f64::from(0.78f32)));
        assert!((s.mad - 0.04).abs() < 1e-6);

        let z_only = stress_mask(&index, Some(&previous), &plots, 1, &params()).unwrap();
        assert_eq!(set_cells(&z_only), [2, 3, 5, 10]);
        let no_previous = stress_mask(&index, None, &plots, 1, &params()).unwrap();
        assert_eq!(no_previous, z_only);

        let with_drop = ZoneParams {
            drop_threshold: Some(0.3),
            ..params()
        };
        let either = stress_mask(&index, Some(&previous), &plots, 1, &with_drop).unwrap();
        assert_eq!(set_cells(&either), [2, 3, 5, 8, 10]);
        // Both: 5 is low and dropped; 10 is low and has no previous value, so z decides alone;
        // 2 and 3 were already low (no drop); 8 dropped but is not low against the plot.
        let both = ZoneParams {
            combine: Combine::Both,
            ..with_drop
        };
        let both_mask = stress_mask(&index, Some(&previous), &plots, 1, &both).unwrap();
        assert_eq!(set_cells(&both_mask), [5, 10]);
        // Both without a previous flight is the z test alone.
        assert_eq!(stress_mask(&index, None, &plots, 1, &both).unwrap(), z_only);
    }

    #[test]
    fn drop_since_previous_only() {
        // z test off. Drops: cell 0: 1.0 → 0.5 = 0.5 (at the threshold: stressed), cell 1: 0.9 →
        // 0.5 = 0.4 (not), cell 2: previous NaN (not), cell 3: outside plots (never), cell 4:
        // 2.0 → 0.5 but index NaN (never), cell 5: rose.
        let index = [0.5, 0.5, 0.5, 0.5, f32::NAN, 0.5];
        let previous = [1.0, 0.9, f32::NAN, 3.0, 2.0, 0.25];
        let plots = [1, 1, 1, 0, 1, 1];
        let p = ZoneParams {
            z_threshold: None,
            drop_threshold: Some(0.5),
            ..params()
        };
        let mask = stress_mask(&index, Some(&previous), &plots, 1, &p).unwrap();
        assert_eq!(mask, [true, false, false, false, false, false]);
        let both = ZoneParams {
            combine: Combine::Both,
            ..p.clone()
        };
        assert_eq!(
            stress_mask(&index, Some(&previous), &plots, 1, &both).unwrap(),
            mask
        );
        // No z test and no previous flight: nothing could ever be stressed, which is a mistake.
        assert!(matches!(
            stress_mask(&index, None, &plots, 1, &p),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn no_data_and_outside_cells_are_never_stressed() {
        // Plot 1: eight cells at 1.0 and two lower: -inf and NaN are no data (not "very low"),
        // with a previous value that would be a huge drop. The plot-0 cell at 0.0 would be a
        // z of -inf against plot 1 but is outside every plot.
        let index = [
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            f32::NEG_INFINITY,
            f32::NAN,
            0.0,
        ];
        let previous = [100.0f32; 11];
        let mut plots = [1u32; 11];
        plots[10] = 0;
        let p = ZoneParams {
            drop_threshold: Some(0.1),
            ..params()
        };
        let mask = stress_mask(&index, Some(&previous), &plots, 1, &p).unwrap();
        // Every valid plot cell dropped by 99: stressed by the drop test; the others never.
        assert_eq!(set_cells(&mask), [0, 1, 2, 3, 4, 5, 6, 7]);
        let s = plot_stats(&index, &plots, 1).unwrap()[0].unwrap();
        assert_eq!(s.count, 8);
    }

    #[test]
    fn bad_lengths_plots_and_parameters_are_usage_errors() {
        let p = params();
        let usage = |r: Result<Vec<bool>>| matches!(r, Err(Error::Usage(_)));
        assert!(usage(stress_mask(&[1.0; 4], None, &[1; 3], 1, &p)));
        assert!(usage(stress_mask(
            &[1.0; 4],
            Some(&[1.0; 5]),
            &[1; 4],
            1,
            &p
        )));
        assert!(usage(stress_mask(&[1.0; 4], None, &[1, 1, 2, 3], 2, &p)));
        assert!(plot_stats(&[1.0; 2], &[1; 3], 1).is_err());
        for bad in [
            ZoneParams {
                z_threshold: Some(f64::NAN),
                ..params()
            },
            ZoneParams {
                z_threshold: Some(-2.5),
                ..params()
            },
            ZoneParams {
                drop_threshold: Some(0.0),
                ..params()
            },
            ZoneParams {
                opening_radius: -1.0,
                ..params()
            },
            ZoneParams {
                buffer_radius: f64::INFINITY,
                ..params()
            },
        ] {
            assert!(usage(stress_mask(
                &[1.0; 4],
                Some(&[1.0; 4]),
                &[1; 4],
                1,
                &bad
            )));
        }
    }
}
