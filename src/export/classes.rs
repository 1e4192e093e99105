//! Classified colour legends shared by the QGIS styles and the PNG quicklooks of prescription
//! maps, so a rate has the same colour and label in QGIS, in the quicklook and in the report.

/// One class of a classified map: values in `lower..=upper` drawn in `colour`.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub lower: f64,
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

    /// Whether `value` falls in this class (both ends inclusive, to the rounding of rates).
    pub fn contains(&self, value: f64) -> bool {
        value >= self.lower - 1e-9 && value <= self.upper + 1e-9
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

/// Classes for a rate map: a grey "0 unit" class, then one class per distinct rate when there
/// are at most `max_classes` of them (prescriptions are rounded to an applicator step, so this
/// is the usual case), else `max_classes` equal ranges from the smallest positive rate to the
/// largest. Rates that are NaN are ignored.
pub fn rate_classes(rates: &[f64], unit: &str, palette: Palette, max_classes: usize) -> Vec<Class> {
    let mut positive: Vec<f64> = rates
        .iter()
        .copied()
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    positive.sort_by(f64::total_cmp);
    positive.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let mut classes = vec![Class {
        lower: 0.0,
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
    if positive.len() <= max_classes {
        let n = positive.len();
        classes.extend(positive.iter().enumerate().map(|(i, &v)| Class {
            lower: v,
            upper: v,
            colour: pick(i, n),
            label: format!("{} {unit}", short(v)),
        }));
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
        classes.extend((0..n).map(|i| {
            let lower = start + width * i as f64;
            let upper = if i + 1 == n {
                hi.max(lower)
            } else {
                start + width * (i + 1) as f64
            };
            Class {
                lower,
                upper,
                colour: pick(i, n),
                label: format!("{}–{} {unit}", short(lower), short(upper)),
            }
        }));
    }
    classes
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
        assert_eq!((c[1].lower, c[2].upper), (10.0, 20.0));
        assert_eq!(class_of(&c, 20.0), Some(2));
        assert_eq!(class_of(&c, 15.0), None);
        assert_eq!(class_of(&c, f64::NAN), None);
    }

    #[test]
    fn many_rates_get_equal_ranges_covering_all() {
        let rates: Vec<f64> = (1..=100).map(|i| i as f64 * 0.5).collect();
        let c = rate_classes(&rates, "L/ha", Palette::Spray, 5);
        assert_eq!(c.len(), 6);
        // 0.5…50 in 5 classes: 10 wide from 0.
        assert_eq!(c[1].label, "0–10 L/ha");
        assert_eq!(c[5].label, "40–50 L/ha");
        assert!(rates.iter().all(|&r| class_of(&c, r).is_some()));
        assert_eq!(c[5].colour, [189, 0, 38]);
    }

    #[test]
    fn all_zero_is_one_class() {
        assert_eq!(
            rate_classes(&[0.0, 0.0], "kg/ha", Palette::Spray, 5).len(),
            1
        );
    }
}
