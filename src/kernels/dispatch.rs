//! Which hand-written kernel computes which catalogue index, with its constants bound.

use super::expr::{Program, Symbol};
use super::indices::*;
use crate::catalogue::formula::Expr;
use crate::catalogue::{IndexDef, Role};

/// How an index is computed: a hand-written kernel, or a formula compiled by the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    Hand(Kernel),
    Compiled(Program),
}

impl Formula {
    /// How to compute a catalogue (or custom) index: its hand-written kernel when `hand` is set
    /// and there is one, else its formula compiled by the engine. `value` gives constants; a
    /// symbol that is neither a band nor a known constant is the error.
    pub fn for_index(
        def: &IndexDef,
        value: &dyn Fn(&str) -> Option<f64>,
        hand: bool,
    ) -> Result<Formula, String> {
        if hand {
            let constant = |c: &str| value(c).unwrap_or(f64::NAN) as f32;
            if let Some(k) = Kernel::for_index(&def.short_name, &constant) {
                return Ok(Formula::Hand(k));
            }
        }
        let expr =
            Expr::parse(&def.formula).map_err(|e| format!("formula '{}': {e}", def.formula))?;
        let program = Program::compile(&expr, &|s| {
            Role::parse_symbol(s)
                .map(Symbol::Band)
                .or_else(|| value(s).map(Symbol::Value))
        })
        .map_err(|symbol| format!("no value for {symbol}"))?;
        Ok(Formula::Compiled(program))
    }

    /// The band roles it reads.
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Formula::Hand(k) => k.roles(),
            Formula::Compiled(p) => p.bands().to_vec(),
        }
    }

    /// Compute over one block; `band(role)` gives each role's reflectance, `scratch` the
    /// engine's registers (reused between calls).
    pub fn apply<'a>(
        &self,
        band: &dyn Fn(Role) -> &'a [f32],
        out: &mut [f32],
        scratch: &mut Vec<Vec<f64>>,
    ) {
        match self {
            Formula::Hand(k) => k.apply(band, out),
            Formula::Compiled(p) => {
                let inputs: Vec<&[f32]> = p.bands().iter().map(|&r| band(r)).collect();
                p.eval(&inputs, out, scratch);
            }
        }
    }

    /// "hand-written kernel" or "expression engine", for reports and metadata.
    pub fn engine_name(&self) -> &'static str {
        match self {
            Formula::Hand(_) => "hand-written kernel",
            Formula::Compiled(_) => "expression engine",
        }
    }
}

/// A catalogue index bound to its hand-written kernel and constant values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    /// `(a − b) / (a + b)`.
    NormalizedDifference(Role, Role),
    /// `a / b − 1`.
    RatioMinusOne(Role, Role),
    Evi(EviConstants),
    Evi2 {
        g: f32,
        l: f32,
    },
    Savi {
        l: f32,
    },
    Osavi,
    Msavi,
}

/// Catalogue indices that have a hand-written kernel.
pub const HAND_WRITTEN: &[&str] = &[
    "NDVI", "GNDVI", "NDREI", "EVI", "EVI2", "SAVI", "OSAVI", "MSAVI", "LSWI", "NDWI", "NDMI",
    "CIRE", "CIG",
];

impl Kernel {
    /// The kernel for a catalogue index (by its catalogue short name), with constants taken from
    /// `constant` (the caller resolves defaults and overrides). None: no hand-written kernel.
    pub fn for_index(short_name: &str, constant: &dyn Fn(&str) -> f32) -> Option<Kernel> {
        use Role::*;
        Some(match short_name {
            "NDVI" => Kernel::NormalizedDifference(N, R),
            "GNDVI" => Kernel::NormalizedDifference(N, G),
            "NDREI" => Kernel::NormalizedDifference(N, RE1),
            "LSWI" | "NDMI" => Kernel::NormalizedDifference(N, S1),
            "NDWI" => Kernel::NormalizedDifference(G, N),
            "CIRE" => Kernel::RatioMinusOne(N, RE1),
            "CIG" => Kernel::RatioMinusOne(N, G),
            "EVI" => Kernel::Evi(EviConstants {
                g: constant("g"),
                c1: constant("C1"),
                c2: constant("C2"),
                l: constant("L"),
            }),
            "EVI2" => Kernel::Evi2 {
                g: constant("g"),
                l: constant("L"),
            },
            "SAVI" => Kernel::Savi { l: constant("L") },
            "OSAVI" => Kernel::Osavi,
            "MSAVI" => Kernel::Msavi,
            _ => return None,
        })
    }

    /// The band roles the kernel reads.
    pub fn roles(&self) -> Vec<Role> {
        use Role::*;
        match *self {
            Kernel::NormalizedDifference(a, b) | Kernel::RatioMinusOne(a, b) => vec![a, b],
            Kernel::Evi(_) => vec![N, R, B],
            Kernel::Evi2 { .. } | Kernel::Savi { .. } | Kernel::Osavi | Kernel::Msavi => {
                vec![N, R]
            }
        }
    }

    /// Compute over one block. `band(role)` gives the reflectance slice of each role in
    /// [`Kernel::roles`]; all slices have `out.len()` elements.
    pub fn apply<'a>(&self, band: &dyn Fn(Role) -> &'a [f32], out: &mut [f32]) {
        use Role::*;
        match *self {
            Kernel::NormalizedDifference(a, b) => normalized_difference(band(a), band(b), out),
            Kernel::RatioMinusOne(a, b) => ratio_minus_one(band(a), band(b), out),
            Kernel::Evi(k) => evi(band(N), band(R), band(B), k, out),
            Kernel::Evi2 { g, l } => evi2(band(N), band(R), g, l, out),
            Kernel::Savi { l } => savi(band(N), band(R), l, out),
            Kernel::Osavi => osavi(band(N), band(R), out),
            Kernel::Msavi => msavi(band(N), band(R), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::formula::Expr;
    use crate::catalogue::Catalogue;

    /// Deterministic reflectances in [0, 0.7], plus the edge cases that make formulas undefined.
    fn samples(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 0.7
            })
            .collect();
        v[..4].copy_from_slice(&[0.0, 0.0, 1e-4, 0.3]);
        v
    }

    /// HAND_WRITTEN lists exactly the catalogue indices that `Kernel::for_index` knows.
    #[test]
    fn the_hand_written_list_matches_the_kernels() {
        let with_kernel: Vec<String> = Catalogue::builtin()
            .indices()
            .filter(|d| Kernel::for_index(&d.short_name, &|_| 1.0).is_some())
            .map(|d| d.short_name.clone())
            .collect();
        let mut listed: Vec<String> = HAND_WRITTEN.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(with_kernel, listed);
    }

    /// The engine computes the same numbers as each hand kernel (both checked against f64 above
    /// and in the engine's own tests; here they must agree with each other).
    #[test]
    fn hand_kernels_agree_with_the_engine() {
        let cat = Catalogue::builtin();
        for &name in HAND_WRITTEN {
            let def = cat.index(name).unwrap();
            let value = |c: &str| cat.constant(c).and_then(|d| d.default);
            let hand = Formula::for_index(def, &value, true).unwrap();
            let engine = Formula::for_index(def, &value, false).unwrap();
            assert!(matches!(hand, Formula::Hand(_)) && matches!(engine, Formula::Compiled(_)));
            let n = 5000;
            let data: Vec<(Role, Vec<f32>)> = engine
                .roles()
                .iter()
                .enumerate()
                .map(|(i, &r)| (r, samples(n, 99 + i as u64)))
                .collect();
            let band = |r: Role| -> &[f32] { &data.iter().find(|(k, _)| *k == r).unwrap().1 };
            let (mut by_hand, mut by_engine) = (vec![0.0f32; n], vec![0.0f32; n]);
            hand.apply(&band, &mut by_hand, &mut Vec::new());
            engine.apply(&band, &mut by_engine, &mut Vec::new());
            for i in 0..n {
                let (h, e) = (by_hand[i], by_engine[i]);
                assert!(
                    (h.is_nan() && e.is_nan()) || (h - e).abs() <= 1e-5 * e.abs().max(1.0),
                    "{name} pixel {i}: hand {h} vs engine {e}"
                );
            }
        }
    }

    /// Every hand-written kernel agrees with the catalogue's own formula evaluated in float64.
    #[test]
    fn kernels_agree_with_catalogue_formulas_in_f64() {
        let cat = Catalogue::builtin();
        for &name in HAND_WRITTEN {
            let def = cat.index(name).unwrap();
            let expr = Expr::parse(&def.formula).unwrap();
            let constant = |c: &str| cat.constant(c).and_then(|d| d.default).unwrap() as f32;
            let kernel = Kernel::for_index(&def.short_name, &constant).unwrap();
            let mut roles = kernel.roles();
            roles.sort();
            let mut expected = def.roles();
            expected.sort();
            assert_eq!(roles, expected, "{name}: roles");

            let n = 4096;
            let data: Vec<(Role, Vec<f32>)> = roles
                .iter()
                .enumerate()
                .map(|(i, &r)| (r, samples(n, 17 + i as u64)))
                .collect();
            let band = |r: Role| -> &[f32] { &data.iter().find(|(k, _)| *k == r).unwrap().1 };
            let mut out = vec![0.0f32; n];
            kernel.apply(&band, &mut out);
            for (i, &got) in out.iter().enumerate() {
                let reference = expr
                    .eval(&|s| {
                        Role::parse_symbol(s)
                            .map(|r| band(r)[i] as f64)
                            .or_else(|| cat.constant(s).and_then(|c| c.default))
                    })
                    .unwrap();
                if reference.is_finite() {
                    let tol = 1e-5 * reference.abs().max(1.0);
                    assert!(
                        (got as f64 - reference).abs() <= tol,
                        "{name} pixel {i}: {got} vs {reference}"
                    );
                } else {
                    assert!(
                        out[i].is_nan(),
                        "{name} pixel {i}: {} vs {reference}",
                        out[i]
                    );
                }
            }
        }
    }
}
