//! The N-rich reference of a group of like plots (pure): which of the plots marked N-rich the
//! sufficiency index is measured against, and which of them cannot be.
//!
//! The sufficiency index compares a plot with a strip "that has all the nitrogen it can use"
//! (docs/AGRONOMY.md, "Nitrogen at panicle initiation"). Two such strips of one variety differ
//! by noise, soil and water, not by nitrogen, so the rule's own measure says how far apart they
//! may be: a strip whose index is below the sufficiency threshold of another's (SI < 0.97
//! against it, for NDRE) is short of nitrogen by the rule, or is not an N-rich strip at all (a
//! farmer's plot selected by a too-wide `reference_value`, another variety, a damaged strip).
//! Averaged in, it lowers the reference and hides the need of every plot compared with it,
//! down to an order of 0 kg. So the reference is the area-weighted mean of the strips within
//! the threshold of the highest one; a strip below that is left out (and named). The upper end
//! decides because nitrogen only ever raises the canopy's index towards the reference, and the
//! things that lower a strip (clouds' shadows, pests, lodging, a mislabel) are not nitrogen:
//! the virtual reference is a high percentile of the field for the same reason.

/// One plot marked N-rich: its id, its index (plot mean) and its weight (the area its valid
/// index covers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strip<'a> {
    pub id: &'a str,
    pub index: f64,
    pub weight: f64,
}

/// The reference of a group's N-rich strips.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The area-weighted mean index of the strips kept.
    pub value: f64,
    /// The strips kept (positions in the input), in input order.
    pub kept: Vec<usize>,
    /// The strips left out (positions in the input) with their SI against the highest strip.
    pub left_out: Vec<(usize, f64)>,
    /// The highest strip (a position in the input).
    pub highest: usize,
}

/// The reference of `strips` (those with a finite, positive index; the others are ignored) for
/// the sufficiency threshold `threshold`: the area-weighted mean of the strips whose index is at
/// least `threshold` × the highest one's. None without any usable strip.
///
/// ```
/// use paddy::rx::reference::{from_strips, Strip};
/// let strips = [
///     Strip { id: "P06", index: 0.2974, weight: 1.0 },
///     Strip { id: "P07", index: 0.2650, weight: 1.0 },
/// ];
/// let r = from_strips(&strips, 0.97).unwrap();
/// assert_eq!((r.value, r.kept.as_slice(), r.highest), (0.2974, &[0][..], 0));
/// assert_eq!(r.left_out[0].0, 1); // P07: SI 0.891 against P06
/// ```
pub fn from_strips(strips: &[Strip], threshold: f64) -> Option<Reference> {
    let usable = |s: &Strip| s.index.is_finite() && s.index > 0.0;
    let highest = (0..strips.len())
        .filter(|&i| usable(&strips[i]))
        .max_by(|&a, &b| strips[a].index.total_cmp(&strips[b].index))?;
    let top = strips[highest].index;
    let (mut kept, mut left_out) = (Vec::new(), Vec::new());
    for (i, s) in strips.iter().enumerate() {
        if !usable(s) {
            continue;
        }
        let si = s.index / top;
        if si >= threshold {
            kept.push(i);
        } else {
            left_out.push((i, si));
        }
    }
    let weight = |i: usize| {
        let w = strips[i].weight;
        if w.is_finite() && w > 0.0 {
            w
        } else {
            0.0
        }
    };
    let total: f64 = kept.iter().map(|&i| weight(i)).sum();
    let value = if total > 0.0 {
        kept.iter()
            .map(|&i| strips[i].index * weight(i))
            .sum::<f64>()
            / total
    } else {
        kept.iter().map(|&i| strips[i].index).sum::<f64>() / kept.len() as f64
    };
    Some(Reference {
        value,
        kept,
        left_out,
        highest,
    })
}

/// The SI above which a plot is greener than its N-rich reference by more than the strips may
/// differ among themselves (1 / threshold: 1.031 for 0.97): a sign that the reference is not
/// N-rich (a mislabelled plot, the deficient one taken for the strip).
pub fn greener_than_reference(si: f64, threshold: f64) -> bool {
    threshold > 0.0 && si.is_finite() && si > 1.0 / threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(id: &str, index: f64, weight: f64) -> Strip<'_> {
        Strip { id, index, weight }
    }

    #[test]
    fn strips_that_agree_are_averaged_by_area() {
        // 0.30 and 0.295 (SI 0.983 against 0.30): both kept, weighted 1 : 3.
        let r = from_strips(&[strip("A", 0.30, 1.0), strip("B", 0.295, 3.0)], 0.97).unwrap();
        assert_eq!(r.kept, [0, 1]);
        assert!(r.left_out.is_empty());
        assert!((r.value - (0.30 + 3.0 * 0.295) / 4.0).abs() < 1e-12);
        assert_eq!(r.highest, 0);
    }

    #[test]
    fn a_strip_below_the_threshold_of_the_highest_is_left_out() {
        // 0.2650 / 0.2974 = 0.891 < 0.97: left out; the reference is the highest alone, not the
        // mean 0.2812 that hid the second plot's need.
        let r = from_strips(
            &[strip("P07", 0.2650, 1.0), strip("P06", 0.2974, 1.0)],
            0.97,
        )
        .unwrap();
        assert_eq!(r.kept, [1]);
        assert_eq!(r.value, 0.2974);
        assert_eq!(r.left_out.len(), 1);
        assert_eq!(r.left_out[0].0, 0);
        assert!((r.left_out[0].1 - 0.2650 / 0.2974).abs() < 1e-12);
        // Exactly at the threshold is within it.
        let r = from_strips(&[strip("A", 1.0, 1.0), strip("B", 0.97, 1.0)], 0.97).unwrap();
        assert_eq!(r.kept, [0, 1]);
    }

    #[test]
    fn unusable_strips_are_ignored_and_none_without_any() {
        let r = from_strips(
            &[
                strip("A", f64::NAN, 1.0),
                strip("B", 0.4, 0.0),
                strip("C", -0.1, 1.0),
            ],
            0.97,
        )
        .unwrap();
        assert_eq!((r.kept.as_slice(), r.value, r.highest), (&[1][..], 0.4, 1));
        assert!(from_strips(&[strip("A", f64::NAN, 1.0)], 0.97).is_none());
        assert!(from_strips(&[], 0.97).is_none());
    }

    #[test]
    fn greener_than_the_reference_is_beyond_one_over_the_threshold() {
        assert!(!greener_than_reference(1.03, 0.97));
        assert!(greener_than_reference(1.035, 0.97));
        assert!(!greener_than_reference(f64::NAN, 0.97));
    }
}
