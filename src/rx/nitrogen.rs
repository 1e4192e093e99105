//! Nitrogen topdress rates (pure): the sufficiency-index rule and the yield-potential rule of
//! docs/AGRONOMY.md, then the safety rails every rate passes — clamp to [min, max] kg N/ha,
//! convert to product, round to the applicator's step without ever exceeding the maximum.

use super::config::{Algorithm, NitrogenConfig};

/// One rate decision: kg N/ha and kg product/ha actually prescribed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// kg N/ha applied (the product rate × its N share).
    pub n: f64,
    /// kg product/ha, a multiple of the applicator step.
    pub product: f64,
    /// Sufficiency index VI / VI_reference, when computed.
    pub si: Option<f64>,
    pub reason: String,
}

impl Rate {
    /// No nitrogen, with the reason.
    pub fn zero(reason: impl Into<String>) -> Rate {
        Rate {
            n: 0.0,
            product: 0.0,
            si: None,
            reason: reason.into(),
        }
    }
}

/// The raw N need (kg N/ha, before the rails) of a plot or cell with index `vi` against the
/// reference `vi_ref`, `dat` days after transplanting (yield-potential only).
pub fn need(
    cfg: &NitrogenConfig,
    threshold: f64,
    vi: f64,
    vi_ref: f64,
    dat: Option<f64>,
) -> (f64, Option<f64>) {
    if !(vi.is_finite() && vi_ref.is_finite() && vi > 0.0 && vi_ref > 0.0) {
        return (f64::NAN, None);
    }
    let si = vi / vi_ref;
    match cfg.algorithm {
        Algorithm::Sufficiency => {
            let raw = if si >= threshold {
                0.0
            } else {
                let t = ((threshold - si) / (threshold - cfg.si_floor)).clamp(0.0, 1.0);
                t * cfg.max_rate
            };
            (raw, Some(si))
        }
        Algorithm::YieldPotential => {
            let (Some(y), Some(dat)) = (&cfg.yield_potential, dat) else {
                return (f64::NAN, Some(si));
            };
            if dat <= 0.0 {
                return (f64::NAN, Some(si));
            }
            let insey = vi / dat;
            let yp0 = y.a * (y.b * insey).exp();
            let ri = (vi_ref / vi).min(y.ri_cap);
            let ypn = (yp0 * ri).min(y.yp_max);
            (((ypn - yp0) * y.grain_n / y.nue).max(0.0), Some(si))
        }
    }
}

/// The safety rails: a raw need (kg N/ha) → the prescribed rate. Zero stays zero; a positive
/// need is clamped to [min_rate, max_rate], converted to product (÷ n_fraction) and rounded to
/// the nearest applicator step among those that keep the N rate within [min_rate, max_rate]
/// (so the minimum holds after rounding too; [`NitrogenConfig::product_steps`]).
pub fn rails(cfg: &NitrogenConfig, raw: f64) -> (f64, f64) {
    if !(raw.is_finite() && raw > 0.0) {
        return (0.0, 0.0);
    }
    let Some((lo, hi)) = cfg.product_steps() else {
        return (0.0, 0.0); // refused at load time (RxConfig::check)
    };
    let n = raw.clamp(cfg.min_rate, cfg.max_rate);
    let mut product = n / cfg.n_fraction;
    if cfg.step > 0.0 {
        product = (product / cfg.step).round() * cfg.step;
    }
    let product = product.clamp(lo, hi);
    (product * cfg.n_fraction, product)
}

/// Need and rails together, with the reason in words.
pub fn rate(cfg: &NitrogenConfig, threshold: f64, vi: f64, vi_ref: f64, dat: Option<f64>) -> Rate {
    let (raw, si) = need(cfg, threshold, vi, vi_ref, dat);
    if raw.is_nan() {
        return Rate {
            si,
            ..Rate::zero(if si.is_some() {
                "no days after transplanting for the yield-potential rule"
            } else {
                "no valid index"
            })
        };
    }
    let (n, product) = rails(cfg, raw);
    let reason = match (cfg.algorithm, si) {
        (Algorithm::Sufficiency, Some(si)) if raw == 0.0 => {
            format!("sufficient: SI {si:.3} >= {threshold}")
        }
        (Algorithm::Sufficiency, Some(si)) => {
            format!("SI {si:.3} < {threshold}: {raw:.1} kg N/ha needed")
        }
        (Algorithm::YieldPotential, _) if raw == 0.0 => "no yield response expected".to_string(),
        _ => format!("yield potential: {raw:.1} kg N/ha needed"),
    };
    Rate {
        n,
        product,
        si,
        reason,
    }
}

/// The `p`-th percentile (0–100, linear interpolation, type 7) of `values` (NaN ignored).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(v[lo] + (h - lo as f64) * (v[hi] - v[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rx::config::YieldPotential;

    fn cfg() -> NitrogenConfig {
        NitrogenConfig::default()
    }

    #[test]
    fn sufficient_plots_get_nothing_and_deficient_ones_a_linear_rate() {
        let c = cfg();
        // SI 1.0 and exactly the threshold: nothing.
        assert_eq!(rate(&c, 0.97, 0.5, 0.5, None).n, 0.0);
        assert_eq!(rate(&c, 0.97, 0.485, 0.5, None).product, 0.0);
        // SI 0.885: halfway from 0.97 to 0.80 → 20 kg N/ha raw → 43.48 kg urea → step 5 → 45
        // kg urea = 20.7 kg N.
        let r = rate(&c, 0.97, 0.4425, 0.5, None);
        assert!((r.si.unwrap() - 0.885).abs() < 1e-12);
        assert_eq!(r.product, 45.0);
        assert!((r.n - 45.0 * 0.46).abs() < 1e-12);
        assert!(r.reason.contains("0.885"), "{}", r.reason);
    }

    #[test]
    fn rails_clamp_round_and_never_exceed_the_maximum() {
        let c = cfg();
        // Below the floor: the maximum, 40 kg N = 86.96 kg urea: the nearest step (85) is
        // below the maximum; 90 would exceed it.
        let r = rate(&c, 0.97, 0.3, 0.5, None);
        assert_eq!(r.product, 85.0);
        assert!(r.n <= c.max_rate);
        // A tiny need is raised to the minimum rate: 10 kg N = 21.7 kg urea; the nearest step
        // (20 kg = 9.2 kg N) would fall below the minimum, so 25 kg (11.5 kg N).
        assert_eq!(rails(&c, 0.5), (25.0 * 0.46, 25.0));
        assert!(rails(&c, 0.5).0 >= c.min_rate);
        // Rounding down at the top: max 41.4 kg N = 90 kg urea exactly is allowed.
        let c2 = NitrogenConfig {
            max_rate: 41.4,
            ..cfg()
        };
        assert_eq!(rails(&c2, 100.0).1, 90.0);
        // No step: exact conversion.
        let c3 = NitrogenConfig { step: 0.0, ..cfg() };
        assert!((rails(&c3, 23.0).1 - 50.0).abs() < 1e-12);
        assert_eq!(rails(&c, f64::NAN), (0.0, 0.0));
        assert_eq!(rails(&c, -3.0), (0.0, 0.0));
    }

    #[test]
    fn missing_index_gives_zero_with_a_reason() {
        let r = rate(&cfg(), 0.97, f64::NAN, 0.5, None);
        assert_eq!((r.n, r.product), (0.0, 0.0));
        assert_eq!(r.reason, "no valid index");
        assert_eq!(rate(&cfg(), 0.97, 0.4, 0.0, None).reason, "no valid index");
    }

    #[test]
    fn yield_potential_follows_the_published_form() {
        let c = NitrogenConfig {
            algorithm: Algorithm::YieldPotential,
            step: 0.0,
            yield_potential: Some(YieldPotential {
                a: 2000.0,
                b: 50.0,
                grain_n: 0.012,
                nue: 0.5,
                yp_max: 9000.0,
                ri_cap: 2.0,
            }),
            ..cfg()
        };
        // VI 0.6 at 50 DAT: INSEY 0.012, YP0 = 2000 e^0.6 = 3644.24; RI = 0.72/0.6 = 1.2;
        // YPN = 4373.09; N = 728.85 × 0.012 / 0.5 = 17.49 kg N/ha.
        let (raw, _) = need(&c, 0.97, 0.6, 0.72, Some(50.0));
        let yp0 = 2000.0 * (0.6f64).exp();
        assert!((raw - (yp0 * 1.2 - yp0) * 0.012 / 0.5).abs() < 1e-9);
        assert!((raw - 17.492).abs() < 1e-3);
        // RI is capped at 2 and YPN at yp_max.
        let (capped, _) = need(&c, 0.97, 0.2, 0.9, Some(50.0));
        let yp0 = 2000.0 * (50.0f64 * 0.2 / 50.0).exp();
        assert!((capped - (yp0 * 2.0 - yp0) * 0.012 / 0.5).abs() < 1e-9);
        // No DAT: no rate, said so.
        assert!(rate(&c, 0.97, 0.6, 0.72, None)
            .reason
            .contains("days after transplanting"));
    }

    #[test]
    fn percentile_is_type_7() {
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, f64::NAN], 50.0), Some(2.5));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 95.0), Some(4.8));
        assert_eq!(percentile(&[], 95.0), None);
    }
}
