//! Classified colour legends shared by the QGIS styles and the PNG quicklooks of prescription
//! maps, so a rate has the same colour and label in QGIS, in the quicklook and in the report.
//!
//! Classes are half-open, `lower < value <= upper`, and each class's `lower` is the previous
//! class's `upper`: they tile the line with no gap and no overlap, and a value on an edge is in
//! the class below it. That is where QGIS itself puts an edge value in the two styles it reads
//! without paddy's help: a DISCRETE raster ramp gives a pixel the first item whose value is at
//! least the pixel's, and a graduated renderer the first range (in order) that holds it. The
//! rule-based plots layer writes the same `> lower AND <= upper` ([`super::qml::class_filter`]),
//! so a rate has one colour in the raster, the machine layer and the plots layer.

/// Below every value: the lower bound of the first class.
pub const FAR: f64 = 1e9;

/// One class of a classified map: values in `(lower, upper]` drawn in `colour`, named `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// Exclusive: the class below ends here (−[`FAR`] for the first class).
    pub lower: f64,
    /// Inclusive.
    pub upper: f64,
    pub colour: [u8; 3],
    pub label: String,
}

impl Class {
    /// The colour as `#rrggbb`.
    pub fn hex(&self) -> String {
        let [r, g, b] = self.colour;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Whether `value` falls in this class: above `lower`, at most `upper` (as QGIS compares).
    pub fn contains(&self, value: f64) -> bool {
        value > self.lower && value <= self.upper
    }
}

/// Colour palettes for rate maps, light (low) to dark (high).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// ColorBrewer YlGnBu: nitrogen (more fertiliser, deeper colour).
    Nitrogen,
    /// ColorBrewer YlOrRd: spray (more product, hotter colour).
    Spray,
}

const ZERO_COLOUR: [u8; 3] = [224, 224, 224];

impl Palette {
    fn colours(self) -> &'static [[u8; 3]] {
        match self {
            Palette::Nitrogen => &[
                [255, 255, 204],
                [199, 233, 180],
                [127, 205, 187],
                [65, 182, 196],
                [29, 145, 192],
                [34, 94, 168],
                [12, 44, 132],
            ],
            Palette::Spray => &[
                [255, 255, 178],
                [254, 217, 118],
                [254, 178, 76],
                [253, 141, 60],
                [240, 59, 32],
                [189, 0, 38],
            ],
        }
    }
}

/// Classes for a rate map: a grey "0 unit" class (every value up to 0), then one class per
/// distinct rate when there are at most `max_classes` of them (prescriptions are rounded to an
/// applicator step, so this is the usual case), else `max_classes` equal ranges from the
/// smallest positive rate to the largest. Rates that are NaN are ignored.
///
/// Each class reaches down to the one below (half-open, see the module's notes); its label says
/// so: `> 30–40 kg/ha` holds 40 but not 30, which is in `20–30 kg/ha` (the first range holds its
/// lower end, the smallest rate, so it reads without the `>`). A class's upper bound is at
/// least its value rounded to Float32 (42.7 is 42.70000076… in the rate raster), so a rate has
/// the same class as a Float32 pixel of the same rate.
pub fn rate_classes(rates: &[f64], unit: &str, palette: Palette, max_classes: usize) -> Vec<Class> {
    let mut positive: Vec<f64> = rates
        .iter()
        .copied()
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    positive.sort_by(f64::total_cmp);
    positive.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let mut classes = vec![Class {
        lower: -FAR,
        upper: 0.0,
        colour: ZERO_COLOUR,
        label: format!("0 {unit}"),
    }];
    if positive.is_empty() {
        return classes;
    }
    let colours = palette.colours();
    let pick = |i: usize, n: usize| {
        let k = if n <= 1 {
            colours.len() / 2
        } else {
            i * (colours.len() - 1) / (n - 1)
        };
        colours[k]
    };
    let max_classes = max_classes.max(1);
    // Each class above zero: its upper bound and label.
    let bounds: Vec<(f64, String)> = if positive.len() <= max_classes {
        positive
            .iter()
            .map(|&v| (v, format!("{} {unit}", short(v))))
            .collect()
    } else {
        // Equal ranges on round numbers (1, 2, 2.5 or 5 × 10^k wide), so the legend reads
        // 20–30, 30–40 rather than 20–29.286.
        let (lo, hi) = (positive[0], positive[positive.len() - 1]);
        let raw = (hi - lo) / max_classes as f64;
        let magnitude = 10f64.powf(raw.log10().floor());
        let width = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|w| (hi - (lo / w).floor() * w) / w <= max_classes as f64 + 1e-9)
            .unwrap_or(10.0 * magnitude);
        let start = (lo / width).floor() * width;
        let n = (((hi - start) / width).ceil() as usize).clamp(1, max_classes);
        (0..n)
            .map(|i| {
                let lower = start + width * i as f64;
                let upper = if i + 1 == n {
                    hi.max(lower)
                } else {
                    start + width * (i + 1) as f64
                };
                let above = if i == 0 { "" } else { "> " };
                (
                    upper,
                    format!("{above}{}–{} {unit}", short(lower), short(upper)),
                )
            })
            .collect()
    };
    let n = bounds.len();
    let mut lower = 0.0;
    for (i, (upper, label)) in bounds.into_iter().enumerate() {
        let upper = float32_safe(upper);
        classes.push(Class {
            lower,
            upper,
            colour: pick(i, n),
            label,
        });
        lower = upper;
    }
    classes
}

/// `bound`, or its Float32 rounding when that is larger: a bound that holds a value both as the
/// f64 written in a vector layer and as the Float32 pixel of the rate raster.
pub fn float32_safe(bound: f64) -> f64 {
    let single = f64::from(bound as f32);
    if single.is_finite() && single > bound {
        single
    } else {
        bound
    }
}

/// The class index for `value`, or None (NaN or outside every class).
pub fn class_of(classes: &[Class], value: f64) -> Option<usize> {
    if !value.is_finite() {
        return None;
    }
    classes.iter().position(|c| c.contains(value))
}

/// A number in at most 3 significant decimals, without trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_rates_get_one_class_each_and_zero_is_grey() {
        let c = rate_classes(
            &[0.0, 20.0, 10.0, 20.0, f64::NAN],
            "kg N/ha",
            Palette::Nitrogen,
            7,
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].label, "0 kg N/ha");
        assert_eq!(c[0].hex(), "#e0e0e0");
        assert_eq!((c[1].lower, c[1].upper, c[2].upper), (0.0, 10.0, 20.0));
        assert_eq!(class_of(&c, 0.0), Some(0));
        assert_eq!(class_of(&c, 10.0), Some(1));
        assert_eq!(class_of(&c, 20.0), Some(2));
        // Between two rates: the class above, as QGIS's DISCRETE ramp draws it.
        assert_eq!(class_of(&c, 15.0), Some(2));
        assert_eq!(class_of(&c, 20.5), None);
        assert_eq!(class_of(&c, f64::NAN), None);
    }

    #[test]
    fn many_rates_get_equal_ranges_covering_all() {
        let rates: Vec<f64> = (1..=100).map(|i| i as f64 * 0.5).collect();
        let c = rate_classes(&rates, "L/ha", Palette::Spray, 5);
        assert_eq!(c.len(), 6);
        // 0.5…50 in 5 classes: 10 wide from 0.
        assert_eq!(c[1].label, "0–10 L/ha");
        assert_eq!(c[2].label, "> 10–20 L/ha");
        assert_eq!(c[5].label, "> 40–50 L/ha");
        assert!(rates.iter().all(|&r| class_of(&c, r).is_some()));
        assert_eq!(c[5].colour, [189, 0, 38]);
        // An edge is in the class below it, and the classes touch.
        assert_eq!(class_of(&c, 10.0), Some(1));
        assert_eq!(class_of(&c, 10.5), Some(2));
        assert!(c.windows(2).all(|w| w[0].upper == w[1].lower));
    }

    #[test]
    fn a_rate_and_its_float32_pixel_share_a_class() {
        // 40.3 is 40.29999923… and 42.7 is 42.70000076… as Float32.
        for rates in [
            vec![40.3, 42.7],
            (1..=60).map(|i| f64::from(i) * 0.7).collect(),
        ] {
            let c = rate_classes(&rates, "L/ha", Palette::Spray, 5);
            for &r in &rates {
                let pixel = f64::from(r as f32);
                assert_eq!(class_of(&c, r), class_of(&c, pixel), "{r}");
                assert!(class_of(&c, r).is_some(), "{r}");
            }
        }
    }

    #[test]
    fn all_zero_is_one_class() {
        assert_eq!(
            rate_classes(&[0.0, 0.0], "kg/ha", Palette::Spray, 5).len(),
            1
        );
    }
}
