//! What a scene's well-dated plots say about the others: a first pass over every plot
//! measures, on the plots whose transplanting date is known well, how many days after
//! transplanting the water signal of the flooding ends (the young canopy overtaking the water,
//! [`crate::phenology::flooding::Transplanting::canopy`]); a second pass dates the plots whose
//! onset of flooding fell in a cloud gap with it ([`crate::phenology::flooding::with_canopy`]).
//!
//! One scene shares its water, its weather and, mostly, its varieties, so its own plots are a
//! better yardstick than a number from the literature: the water shows through the young crop
//! for "three to five weeks" in general (docs/AGRONOMY.md), which dates nothing to a revisit.

use crate::phenology::flooding;

use super::analyse::PlotStage;

/// What a first pass over a scene's plots measured on the plots whose transplanting is known
/// well ([`calibrate`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// Days from transplanting to the end of the water signal.
    pub lags: Vec<CanopyLag>,
}

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
/// (1.4826 × the median absolute deviation, at least one day).
pub fn calibrate(plots: &[PlotStage], spacing: f64) -> Calibration {
    let narrow = |f: &flooding::Transplanting| {
        f.last_dry
            .is_some_and(|a| f.first_flooded - a <= REFERENCE_GAP_SPACINGS * spacing)
    };
    let recorded = |p: &PlotStage| {
        p.transplanting_range
            .filter(|_| p.transplanting_source == "attribute")
            .map(|t| t.day)
    };
    let mut samples: Vec<(&str, f64, bool)> = Vec::new();
    for p in plots {
        let Some(f) = p.flood else { continue };
        let Some((c1, c2)) = f.canopy else { continue };
        let (t, exact) = match recorded(p) {
            Some(t) => (Some(t), true),
            None => (
                (p.transplanting_source == "flooding onset" && narrow(&f)).then_some(f.day),
                false,
            ),
        };
        if let Some(t) = t.filter(|t| t.is_finite()) {
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
    let lags = classes
        .into_iter()
        .filter_map(|c| lag(Some(c)))
        .chain(lag(None))
        .collect();
    Calibration { lags }
}

impl Calibration {
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
    use crate::stage::analyse::{analyse, Settings, Smoother};
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

    #[test]
    fn recorded_plots_measure_the_lag_and_date_a_cloud_gap() {
        let table = StageTable::builtin();
        let settings = Settings {
            smoother: Smoother::Whittaker { lambda: 10.0 },
            fraction: 0.2,
            table: &table,
            at: Date::from_days_since_epoch(20_150),
            from: None,
            calibration: None,
        };
        // Five recorded plots, transplanted 4 days after flooding, their water signal ending
        // 18 days after it: the canopy overtakes the water 14 days after transplanting.
        let mut plots: Vec<_> = (0..5)
            .map(|k| {
                let flood = 20_030 + 5 * k;
                let (vi, lswi) = paddy(flood, 18, &[]);
                let t = Date::from_days_since_epoch(flood + 4);
                analyse("R", "short", Some(t), &vi, Some(&lswi), &settings)
            })
            .collect();
        // One plot flooded on 20_058 under three cloudy dates: dry on 20_040, flooded on 20_060.
        let (vi, lswi) = paddy(20_058, 18, &[20_045, 20_050, 20_055]);
        plots.push(analyse("C", "short", None, &vi, Some(&lswi), &settings));
        let cal = calibrate(&plots, 5.0);
        let lag = cal.lag("short").unwrap();
        assert_eq!(lag.plots, 5);
        // Each recorded plot: the signal ends between flood + 15 and flood + 20.
        assert!((lag.days - 13.5).abs() < 1e-9, "{lag:?}");
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
    }

    #[test]
    fn too_few_well_dated_plots_measure_nothing() {
        assert_eq!(calibrate(&[], 5.0), Calibration::default());
        assert_eq!(shortest_spacing(&[1.0, 6.0, 16.0]), Some(5.0));
        assert_eq!(shortest_spacing(&[1.0]), None);
    }
}
