//! Hand-written kernels for the indices that nightly rice work computes most. Written as plain
//! zipped loops over equal-length slices so the compiler vectorises them; `finite` keeps the
//! undefined cases out with a branch-free select.
//!
//! f32 arithmetic is exact to a few ulps for normalised differences, ratios and the soil-adjusted
//! forms; EVI and OSAVI, whose denominators can cross zero, work in f64.

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
///
/// Computed in f64: the denominator has a pole (bright blue, e.g. haze or cloud edges) where
/// f32 cancellation would cost digits.
pub fn evi(nir: &[f32], red: &[f32], blue: &[f32], k: EviConstants, out: &mut [f32]) {
    let (g, c1, c2, l) = (k.g as f64, k.c1 as f64, k.c2 as f64, k.l as f64);
    for (((o, &n), &r), &b) in out.iter_mut().zip(nir).zip(red).zip(blue) {
        let (n, r, b) = (n as f64, r as f64, b as f64);
        *o = finite((g * (n - r) / (n + c1 * r - c2 * b + l)) as f32);
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
///
/// In f64: with negative reflectances (Sentinel-2's −0.1 offset on dark water) the denominator
/// can reach zero, where f32 rounding of 0.16 decides between a value and nodata.
pub fn osavi(nir: &[f32], red: &[f32], out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        let (n, r) = (n as f64, r as f64);
        *o = finite(((n - r) / (n + r + 0.16)) as f32);
    }
}

/// MSAVI (often called MSAVI2) = ½ (2N + 1 − √((2N + 1)² − 8 (N − R))).
///
/// With t = 2N + 1 > 0 it is evaluated as 4 (N − R) / (t + √(t² − 8 (N − R))): the same value
/// without the cancellation of two nearly equal terms (which costs digits on unscaled DNs).
/// For t ≤ 0 (only from nonsense negative reflectance) the catalogue's own form is used.
pub fn msavi(nir: &[f32], red: &[f32], out: &mut [f32]) {
    for ((o, &n), &r) in out.iter_mut().zip(nir).zip(red) {
        let t = 2.0 * n + 1.0;
        let d = n - r;
        let root = (t * t - 8.0 * d).sqrt();
        let v = if t > 0.0 {
            4.0 * d / (t + root)
        } else {
            0.5 * (t - root)
        };
        *o = finite(v);
    }
}
