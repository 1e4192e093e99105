//! Hand-written kernels for the indices that nightly rice work computes most. Written as plain
//! zipped loops over equal-length slices so the compiler vectorises them; `finite` keeps the
//! undefined cases out with a branch-free select.

/// `v` if finite, else NaN.
#[inline(always)]
fn finite(v: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        f32::NAN
    }
}

/// `(a - b) / (a + b)`: NDVI (N, R), GNDVI (N, G), NDREI/NDRE (N, RE1), LSWI (N, S1), NDWI (G, N).
pub fn normalized_difference(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = finite((a - b) / (a + b));
    }
}

/// NDVI = (N − R) / (N + R).
pub fn ndvi(nir: &[f32], red: &[f32], out: &mut [f32]) {
    normalized_difference(nir, red, out);
}

/// `a / b − 1`: CIre (N, RE1) and CIgreen (N, G).
pub fn ratio_minus_one(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = finite(a / b - 1.0);
    }
}

/// Constants of the EVI family, as named in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EviConstants {
    /// Gain `g` (2.5).
    pub g: f32,
    /// Red aerosol coefficient `C1` (6).
    pub c1: f32,
    /// Blue aerosol coefficient `C2` (7.5).
    pub c2: f32,
    /// Canopy background `L` (1).
    pub l: f32,
}

/// EVI = g (N − R) / (N + C1 R − C2 B + L).
pub fn evi(nir: &[f32], red: &[f32], blue: &[f32], k: EviConstants, out: &mut [f32]) {
    for (((o, &n), &r), &b) in out.iter_mut().zip(nir).zip(red).zip(blue) {
        *o = finite(k.g * (n - r) / (n + k.c1 * r - k.c2 * b + k.l));
    }
}

/// EVI2 = g (N − R) / (N + 2.4 R + L).
pub fn evi2(nir: &[f32], red: &[f32], g: f32, l: f32, out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        *o = finite(g * (n - r) / (n + 2.4 * r + l));
    }
}

/// SAVI = (1 + L) (N − R) / (N + R + L).
pub fn savi(nir: &[f32], red: &[f32], l: f32, out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        *o = finite((1.0 + l) * (n - r) / (n + r + l));
    }
}

/// OSAVI = (N − R) / (N + R + 0.16).
pub fn osavi(nir: &[f32], red: &[f32], out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        *o = finite((n - r) / (n + r + 0.16));
    }
}

/// MSAVI (often called MSAVI2) = ½ (2N + 1 − √((2N + 1)² − 8 (N − R))).
pub fn msavi(nir: &[f32], red: &[f32], out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        let t = 2.0 * n + 1.0;
        *o = finite(0.5 * (t - (t * t - 8.0 * (n - r)).sqrt()));
    }
}
