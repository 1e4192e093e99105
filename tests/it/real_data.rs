//! Real imagery from ../shared/data through the real `paddy` binary. Every output pixel is
//! compared with a float64 reference computed here, by hand-written code transcribed from the
//! Awesome Spectral Indices formulas (independent of src/kernels), from the input DNs read with
//! GDAL; the nodata masks must be identical; and each output must sit on the input's grid, be a
//! COG, declare nodata -9999 and name its index in the band description.
//!
//! Every test returns early (printing SKIPPED) only when ../shared/data is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use gdal::raster::GdalDataType;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, Metadata};

use crate::common::{files_in, paddy, paddy_ok, read_band, shared_data};

/// Nodata value paddy writes into index outputs.
const OUT_NODATA: f64 = -9999.0;
/// Largest difference allowed between paddy (f32) and the float64 reference for bounded indices.
const ABS_TOL: f64 = 1e-5;
/// For indices that blow up where their denominator nears 0 (EVI, CIre, CIgreen) the allowed
/// difference is REL_TOL × max(1, |reference|): an absolute 1e-5 near 0, a relative 1e-5 beyond.
const REL_TOL: f64 = 1e-5;

// ---------------------------------------------------------------------------------------------
// Reference computation
// ---------------------------------------------------------------------------------------------

/// One input band as float64 reflectance, with which pixels are valid.
struct Refl {
    width: usize,
    height: usize,
    value: Vec<f64>,
    valid: Vec<bool>,
    /// How far paddy's f32 reflectance may lie from `value`: only used to size the tolerance
    /// where a formula amplifies f32 rounding (see `f32_rounding_bound`).
    err: Vec<f64>,
}

/// Band `band` of `path` as reflectance = DN × scale + offset; a pixel is invalid where its DN
/// is not finite or is one of `nodata` (compared as DNs, before scaling).
fn reflectance(path: &Path, band: usize, nodata: &[f64], scale: f64, offset: f64) -> Refl {
    let b = read_band(path, band);
    Refl {
        width: b.width,
        height: b.height,
        valid: b
            .data
            .iter()
            .map(|&dn| dn.is_finite() && !nodata.contains(&dn))
            .collect(),
        value: b.data.iter().map(|&dn| dn * scale + offset).collect(),
        // The rounding of DN × scale + offset done in f32 (none for integer DNs at scale 1),
        // plus one more unit for any other order of the same operations.
        err: b
            .data
            .iter()
            .map(|&dn| {
                let exact = dn * scale + offset;
                let in_f32 = (dn as f32) * (scale as f32) + (offset as f32);
                if in_f32 as f64 == exact {
                    0.0
                } else {
                    (in_f32 as f64 - exact).abs() + U * exact.abs()
                }
            })
            .collect(),
    }
}

/// The nodata value `path` itself declares for `band`, if any.
fn declared_nodata(path: &Path, band: usize) -> Option<f64> {
    read_band(path, band).nodata
}

/// The band's own GDAL scale and offset (what the generic profile uses), defaulting to 1 and 0.
fn own_scale_offset(path: &Path, band: usize) -> (f64, f64) {
    let ds = Dataset::open(path).unwrap();
    let b = ds.rasterband(band).unwrap();
    (b.scale().unwrap_or(1.0), b.offset().unwrap_or(0.0))
}

/// Roles (catalogue band symbols: R, N, G, B, RE1, S1) to their reflectance.
type Roles = BTreeMap<&'static str, Refl>;

/// Constants with their catalogue defaults, read from the shared catalogue's constants.json.
struct Constants {
    g: f64,
    c1: f64,
    c2: f64,
    l: f64,
}

fn constants(data: &Path) -> Constants {
    let text =
        std::fs::read_to_string(data.join("spectral_indices_catalogue/constants.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let default = |name: &str| {
        json[name]["default"]
            .as_f64()
            .unwrap_or_else(|| panic!("constants.json: no default for {name}"))
    };
    Constants {
        g: default("g"),
        c1: default("C1"),
        c2: default("C2"),
        l: default("L"),
    }
}

/// The catalogue's short name for an index as a user types it (paddy's aliases included).
fn catalogue_name(typed: &str) -> &'static str {
    match typed.to_ascii_uppercase().as_str() {
        "NDVI" => "NDVI",
        "GNDVI" => "GNDVI",
        "NDRE" | "NDREI" => "NDREI",
        "EVI" => "EVI",
        "EVI2" => "EVI2",
        "SAVI" => "SAVI",
        "OSAVI" => "OSAVI",
        "MSAVI2" | "MSAVI" => "MSAVI",
        "LSWI" => "LSWI",
        "NDWI" => "NDWI",
        "CIRE" => "CIRE",
        "CIGREEN" | "CIG" => "CIG",
        other => panic!("no reference formula for {other}"),
    }
}

/// The catalogue formula each reference below was transcribed from (checked against the shared
/// catalogue by `catalogue_formulas_are_the_ones_transcribed_here`), and the bands it reads.
const FORMULAS: &[(&str, &str, &[&str])] = &[
    ("NDVI", "(N - R)/(N + R)", &["N", "R"]),
    ("GNDVI", "(N - G)/(N + G)", &["N", "G"]),
    ("NDREI", "(N - RE1) / (N + RE1)", &["N", "RE1"]),
    (
        "EVI",
        "g * (N - R) / (N + C1 * R - C2 * B + L)",
        &["N", "R", "B"],
    ),
    ("EVI2", "g * (N - R) / (N + 2.4 * R + L)", &["N", "R"]),
    ("SAVI", "(1.0 + L) * (N - R) / (N + R + L)", &["N", "R"]),
    ("OSAVI", "(N - R) / (N + R + 0.16)", &["N", "R"]),
    (
        "MSAVI",
        "0.5 * (2.0 * N + 1 - (((2 * N + 1) ** 2) - 8 * (N - R)) ** 0.5)",
        &["N", "R"],
    ),
    ("LSWI", "(N - S1)/(N + S1)", &["N", "S1"]),
    ("NDWI", "(G - N) / (G + N)", &["G", "N"]),
    ("CIRE", "(N / RE1) - 1", &["N", "RE1"]),
    ("CIG", "(N / G) - 1.0", &["N", "G"]),
];

fn roles_of(short: &str) -> &'static [&'static str] {
    FORMULAS
        .iter()
        .find(|(name, _, _)| *name == short)
        .map(|(_, _, roles)| *roles)
        .unwrap_or_else(|| panic!("no reference formula for {short}"))
}

/// The float64 value of index `short` from the reflectances `v(role)`.
fn formula(short: &str, k: &Constants, v: &dyn Fn(&str) -> f64) -> f64 {
    match short {
        "NDVI" => (v("N") - v("R")) / (v("N") + v("R")),
        "GNDVI" => (v("N") - v("G")) / (v("N") + v("G")),
        "NDREI" => (v("N") - v("RE1")) / (v("N") + v("RE1")),
        "EVI" => k.g * (v("N") - v("R")) / (v("N") + k.c1 * v("R") - k.c2 * v("B") + k.l),
        "EVI2" => k.g * (v("N") - v("R")) / (v("N") + 2.4 * v("R") + k.l),
        "SAVI" => (1.0 + k.l) * (v("N") - v("R")) / (v("N") + v("R") + k.l),
        "OSAVI" => (v("N") - v("R")) / (v("N") + v("R") + 0.16),
        "MSAVI" => {
            let t = 2.0 * v("N") + 1.0;
            0.5 * (t - (t * t - 8.0 * (v("N") - v("R"))).sqrt())
        }
        "LSWI" => (v("N") - v("S1")) / (v("N") + v("S1")),
        "NDWI" => (v("G") - v("N")) / (v("G") + v("N")),
        "CIRE" => v("N") / v("RE1") - 1.0,
        "CIG" => v("N") / v("G") - 1.0,
        other => panic!("no reference formula for {other}"),
    }
}

/// Unit roundoff of f32 (2^-24).
const U: f64 = f32::EPSILON as f64 / 2.0;

/// The rounding error of one f32 operation whose exact result is `x`, given the error `err_in`
/// already in its operands: none when the operands are exact and `x` is an f32 (integer DNs
/// added and multiplied by small constants, say), else up to one unit in the last place.
fn rounding(x: f64, err_in: f64) -> f64 {
    if err_in == 0.0 && (x as f32) as f64 == x {
        0.0
    } else {
        U * x.abs()
    }
}

/// First-order bound of the error of `num / den` evaluated in f32, from the errors already in
/// `num` and `den`. Infinite where `den` is not even known to its sign in f32.
fn quotient_bound(num: f64, den: f64, err_num: f64, err_den: f64) -> f64 {
    if err_den >= 0.5 * den.abs() {
        return f64::INFINITY;
    }
    let f = num / den;
    (err_num + f.abs() * err_den) / den.abs() + rounding(f, err_num + err_den)
}

/// How far a correct f32 evaluation of index `short` can lie from the float64 value: a
/// first-order rounding-error analysis of the catalogue formula with inputs off by `d(role)`
/// (paddy reads and scales in f32, as its kernels compute). For almost every pixel this is far
/// below the 1e-5 tolerance; it exceeds it only where the formula amplifies rounding: EVI's
/// denominator N + 6R − 7.5B + 1 cancelling to near 0, or MSAVI on unscaled DNs, where
/// 2N + 1 − √((2N + 1)² − 8(N − R)) subtracts two numbers of about 2N (10⁴) to get about 1
/// after (2N + 1)² (10⁸) has been rounded to f32's 24 bits.
fn f32_rounding_bound(
    short: &str,
    k: &Constants,
    v: &dyn Fn(&str) -> f64,
    d: &dyn Fn(&str) -> f64,
) -> f64 {
    // (a - b) / (a + b) and friends.
    let normalized = |a: &str, b: &str| {
        let (x, y) = (v(a), v(b));
        let e = d(a) + d(b);
        quotient_bound(x - y, x + y, e + rounding(x - y, e), e + rounding(x + y, e))
    };
    // a / b - 1.
    let ratio = |a: &str, b: &str| {
        let q_err = quotient_bound(v(a), v(b), d(a), d(b));
        q_err + rounding(v(a) / v(b) - 1.0, q_err)
    };
    match short {
        "NDVI" => normalized("N", "R"),
        "GNDVI" => normalized("N", "G"),
        "NDREI" => normalized("N", "RE1"),
        "LSWI" => normalized("N", "S1"),
        "NDWI" => normalized("G", "N"),
        "CIRE" => ratio("N", "RE1"),
        "CIG" => ratio("N", "G"),
        "EVI" | "EVI2" | "SAVI" | "OSAVI" => {
            let (n, r) = (v("N"), v("R"));
            // Numerator: gain × (N − R), two operations.
            let gain = match short {
                "EVI" | "EVI2" => k.g,
                "SAVI" => 1.0 + k.l,
                _ => 1.0,
            };
            let e = d("N") + d("R");
            let diff_err = e + rounding(n - r, e);
            let num = gain * (n - r);
            let err_num = gain * diff_err + rounding(num, diff_err);
            // Denominator: a sum of (coefficient × band or constant) terms, summed left to
            // right; every product and partial sum may round. 2.4 and 0.16 are not f32s.
            let terms: Vec<(f64, f64)> = match short {
                "EVI" => vec![
                    (n, d("N")),
                    (k.c1 * r, k.c1 * d("R") + rounding(k.c1 * r, d("R"))),
                    (
                        -k.c2 * v("B"),
                        k.c2 * d("B") + rounding(k.c2 * v("B"), d("B")),
                    ),
                    (k.l, 0.0),
                ],
                "EVI2" => vec![
                    (n, d("N")),
                    (2.4 * r, 2.4 * d("R") + U * (2.4 * r).abs() * 2.0),
                    (k.l, 0.0),
                ],
                "SAVI" => vec![(n, d("N")), (r, d("R")), (k.l, 0.0)],
                _ => vec![(n, d("N")), (r, d("R")), (0.16, U * 0.16)],
            };
            let (mut den, mut err_den) = terms[0];
            for &(t, e) in &terms[1..] {
                den += t;
                err_den += e;
                err_den += rounding(den, err_den);
            }
            quotient_bound(num, den, err_num, err_den)
        }
        "MSAVI" => {
            let (n, r) = (v("N"), v("R"));
            let t = 2.0 * n + 1.0;
            let err_t = 2.0 * d("N") + rounding(t, d("N"));
            let tt = t * t;
            let err_tt = 2.0 * t.abs() * err_t + rounding(tt, err_t);
            let e = d("N") + d("R");
            let err_8d = 8.0 * (e + rounding(n - r, e));
            let s = tt - 8.0 * (n - r);
            if s <= 0.0 {
                return f64::INFINITY;
            }
            let err_s = err_tt + err_8d + rounding(s, err_tt + err_8d);
            let q = s.sqrt();
            let err_q = err_s / (2.0 * q) + rounding(q, err_s);
            let err_r = err_t + err_q + rounding(t - q, err_t + err_q);
            0.5 * err_r
        }
        other => panic!("no rounding model for {other}"),
    }
}

/// Absolute (bounded indices) or relative-beyond-1 (indices that blow up) comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tol {
    Abs,
    Rel,
}

fn tolerance_of(short: &str) -> Tol {
    match short {
        // Denominators that can reach 0 with real reflectances: values without bound.
        "EVI" | "CIRE" | "CIG" => Tol::Rel,
        _ => Tol::Abs,
    }
}

impl Tol {
    /// The difference allowed from `reference`: the tolerance asked for, or twice the f32
    /// rounding bound where that is larger (no f32 computation can do better there).
    fn allowed(self, reference: f64, rounding: f64) -> f64 {
        let asked = match self {
            Tol::Abs => ABS_TOL,
            Tol::Rel => REL_TOL * reference.abs().max(1.0),
        };
        asked.max(2.0 * rounding)
    }
}

/// The reference raster of `short`: None where any band it reads is invalid or the value is not
/// finite.
fn reference(short: &str, k: &Constants, roles: &Roles) -> Vec<Option<f64>> {
    let needed: Vec<(&str, &Refl)> = roles_of(short)
        .iter()
        .map(|r| {
            let refl = roles
                .get(r)
                .unwrap_or_else(|| panic!("{short} needs role {r}"));
            (*r, refl)
        })
        .collect();
    let n = needed[0].1.value.len();
    (0..n)
        .map(|i| {
            if needed.iter().any(|(_, b)| !b.valid[i]) {
                return None;
            }
            let v = |role: &str| {
                needed
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map(|(_, b)| b.value[i])
                    .unwrap()
            };
            Some(formula(short, k, &v)).filter(|x| x.is_finite())
        })
        .collect()
}

/// Per pixel, `f32_rounding_bound` of index `short` (0 where the reference is invalid).
fn rounding_bounds(short: &str, k: &Constants, roles: &Roles) -> Vec<f64> {
    let needed: Vec<(&str, &Refl)> = roles_of(short).iter().map(|r| (*r, &roles[r])).collect();
    let n = needed[0].1.value.len();
    let pick = |role: &str| needed.iter().find(|(r, _)| *r == role).unwrap().1;
    (0..n)
        .map(|i| {
            if needed.iter().any(|(_, b)| !b.valid[i]) {
                return 0.0;
            }
            f32_rounding_bound(short, k, &|r| pick(r).value[i], &|r| pick(r).err[i])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checks on the outputs
// ---------------------------------------------------------------------------------------------

/// `out` is a single-band Float32 COG on `input`'s grid (size, geotransform, equivalent CRS),
/// declares nodata -9999 and names index `short` in its band description.
fn check_grid_and_format(out: &Path, input: &Path, short: &str) {
    let o = Dataset::open(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let i = Dataset::open(input).unwrap();
    let what = out.display();
    assert_eq!(o.raster_size(), i.raster_size(), "{what}: size");
    assert_eq!(o.raster_count(), 1, "{what}: band count");
    match (i.geo_transform(), o.geo_transform()) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: geotransform"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("{what}: geotransform {b:?}, input has {a:?}"),
    }
    let (in_wkt, out_wkt) = (i.projection(), o.projection());
    if in_wkt.is_empty() {
        assert!(
            out_wkt.is_empty(),
            "{what}: input has no CRS, output has {out_wkt}"
        );
    } else {
        assert!(!out_wkt.is_empty(), "{what}: CRS lost");
        let a = SpatialRef::from_wkt(&in_wkt).unwrap();
        let b = SpatialRef::from_wkt(&out_wkt).unwrap();
        assert!(
            a == b,
            "{what}: CRS not equivalent to the input's:\n{out_wkt}\nvs\n{in_wkt}"
        );
    }
    assert_eq!(
        o.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG"),
        "{what}: not a COG"
    );
    let band = o.rasterband(1).unwrap();
    assert_eq!(band.band_type(), GdalDataType::Float32, "{what}: data type");
    assert_eq!(band.no_data_value(), Some(OUT_NODATA), "{what}: nodata");
    assert_eq!(band.description().unwrap(), short, "{what}: description");
}

/// Every pixel of `out` against `reference`: -9999 exactly where the reference is None, within
/// `tol` elsewhere. `describe(i)` names pixel i's inputs for the failure message. Returns the
/// number of valid pixels.
fn compare_pixels(
    out: &Path,
    reference: &[Option<f64>],
    rounding: &[f64],
    tol: Tol,
    describe: &dyn Fn(usize) -> String,
) -> usize {
    let o = read_band(out, 1);
    assert_eq!(
        o.data.len(),
        reference.len(),
        "{}: pixel count",
        out.display()
    );
    let (mut extra_nodata, mut missing_nodata, mut off) = (0usize, 0usize, 0usize);
    // Pixels whose value f32 cannot pin down at all (its denominator's sign is uncertain).
    let mut unresolved = 0usize;
    // Pixels where the f32 rounding bound, not the asked tolerance, decided.
    let mut loosened = 0usize;
    let mut worst = (0.0f64, 0usize);
    let mut examples = Vec::new();
    for (i, (&got, want)) in o.data.iter().zip(reference).enumerate() {
        let bad = match want {
            None if got == OUT_NODATA => None,
            None => {
                missing_nodata += 1;
                Some(format!("want nodata, got {got}"))
            }
            Some(_) if got == OUT_NODATA => {
                extra_nodata += 1;
                Some(format!("want {want:?}, got nodata"))
            }
            Some(w) => {
                let diff = (got - w).abs();
                if rounding[i].is_infinite() {
                    unresolved += 1;
                }
                if 2.0 * rounding[i] > tol.allowed(*w, 0.0) {
                    loosened += 1;
                }
                if diff.is_nan() || diff > tol.allowed(*w, rounding[i]) {
                    off += 1;
                    if diff.is_nan() || diff > worst.0 {
                        worst = (diff, i);
                    }
                    Some(format!(
                        "want {w}, got {got} (diff {diff:e}, allowed {:e})",
                        tol.allowed(*w, rounding[i])
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(msg) = bad {
            if examples.len() < 8 {
                examples.push(format!("  pixel {i} ({}): {msg}", describe(i)));
            }
        }
    }
    let bad = extra_nodata + missing_nodata + off;
    assert!(
        bad == 0,
        "{}: {bad} of {} pixels wrong: {missing_nodata} valid where the reference is nodata, \
         {extra_nodata} nodata where the reference is valid, {off} outside {tol:?} tolerance \
         (worst {:e} at pixel {}: {})\n{}",
        out.display(),
        reference.len(),
        worst.0,
        worst.1,
        describe(worst.1),
        examples.join("\n")
    );
    let valid = reference.iter().filter(|r| r.is_some()).count();
    eprintln!(
        "{}: {valid} valid pixels match; {loosened} of them needed the f32 rounding allowance \
         ({unresolved} unresolvable)",
        out.display()
    );
    assert!(
        unresolved * 10_000 <= valid,
        "{}: {unresolved} of {valid} pixels are beyond what f32 can resolve; the comparison \
         would be too weak",
        out.display()
    );
    valid
}

/// One run's outputs: for each index as typed, `out_dir/<stem>_<typed lower-case>.tif` checked
/// against the reference from `roles`, on `grid_of`'s grid. Also: `out_dir` holds exactly those
/// files. Returns the reference per index (catalogue name → raster) for further checks.
fn check_run(
    data: &Path,
    out_dir: &Path,
    stem: &str,
    typed: &[&str],
    grid_of: &Path,
    roles: &Roles,
) -> BTreeMap<&'static str, Vec<Option<f64>>> {
    let k = constants(data);
    check_output_files(out_dir, stem, typed);
    let (width, height) = {
        let first = roles.values().next().unwrap();
        (first.width, first.height)
    };
    for r in roles.values() {
        assert_eq!((r.width, r.height), (width, height));
    }
    let mut refs = BTreeMap::new();
    for t in typed {
        let short = catalogue_name(t);
        let out = out_dir.join(format!("{stem}_{}.tif", t.to_ascii_lowercase()));
        check_grid_and_format(&out, grid_of, short);
        let reference = reference(short, &k, roles);
        let describe = |i: usize| {
            let values: Vec<String> = roles_of(short)
                .iter()
                .map(|r| {
                    let b = &roles[r];
                    format!(
                        "{r}={}{}",
                        b.value[i],
                        if b.valid[i] { "" } else { " (nodata)" }
                    )
                })
                .collect();
            format!("x {} y {}: {}", i % width, i / width, values.join(", "))
        };
        let rounding = rounding_bounds(short, &k, roles);
        let valid = compare_pixels(&out, &reference, &rounding, tolerance_of(short), &describe);
        assert!(
            valid > 0,
            "{}: the reference has no valid pixel; the test would prove nothing",
            out.display()
        );
        refs.insert(short, reference);
    }
    refs
}

/// `out_dir` holds `<stem>_<typed lower-case>.tif` for each index and nothing else but
/// sidecars of those outputs (the QGIS `.qml` style paddy writes beside each): no other raster,
/// no staging or partial file left behind.
fn check_output_files(out_dir: &Path, stem: &str, typed: &[&str]) {
    let stems: Vec<String> = typed
        .iter()
        .map(|t| format!("{stem}_{}", t.to_ascii_lowercase()))
        .collect();
    let files = files_in(out_dir);
    let mut rasters: Vec<&String> = files.iter().filter(|f| f.ends_with(".tif")).collect();
    rasters.sort();
    let mut expected: Vec<String> = stems.iter().map(|s| format!("{s}.tif")).collect();
    expected.sort();
    assert_eq!(
        rasters,
        expected.iter().collect::<Vec<_>>(),
        "rasters in {}",
        out_dir.display()
    );
    for f in &files {
        let own = stems.iter().any(|s| {
            f.strip_prefix(s.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        });
        assert!(
            own && !f.starts_with('.'),
            "{}: unexpected file {f} (all: {files:?})",
            out_dir.display()
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Count of reference pixels that are None.
fn invalid_count(r: &[Option<f64>]) -> usize {
    r.iter().filter(|v| v.is_none()).count()
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

/// The hand-written references above were transcribed from these catalogue formulas: if the
/// shared catalogue says otherwise, the references (not paddy) are what is out of date.
#[test]
fn catalogue_formulas_are_the_ones_transcribed_here() {
    let Some(data) = shared_data() else { return };
    let text =
        std::fs::read_to_string(data.join("spectral_indices_catalogue/spectral-indices-dict.json"))
            .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (name, formula, roles) in FORMULAS {
        let def = &json["SpectralIndices"][*name];
        assert_eq!(def["formula"].as_str(), Some(*formula), "{name}");
        for r in *roles {
            assert!(
                def["bands"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b.as_str() == Some(r)),
                "{name} reads {r}"
            );
        }
    }
    let k = constants(&data);
    assert_eq!((k.g, k.c1, k.c2, k.l), (2.5, 6.0, 7.5, 1.0));
}

// ---------------------------------------------------------------------------------------------
// 1. Sentinel-2, Austria: one 8-band UInt16 stack, explicit band numbers, nine indices
// ---------------------------------------------------------------------------------------------

const AUSTRIA_INDICES: [&str; 9] = [
    "ndvi", "GNDVI", "evi", "SAVI", "ndwi", "evi2", "osavi", "msavi2", "CIgreen",
];

fn austria(scale_flag: Option<&str>) {
    let Some(data) = shared_data() else { return };
    let input = data.join("s2_austria_bitemporal/inference-img.tif");
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec![
        "index",
        s(&input),
        "--band",
        "R=1",
        "--band",
        "N=4",
        "--band",
        "G=2",
        "--band",
        "B=3",
        "--index",
    ];
    let list = AUSTRIA_INDICES.join(",");
    args.push(&list);
    if let Some(f) = scale_flag {
        args.extend(["--scale", f]);
    }
    args.extend(["--out", "out", "-q"]);
    paddy_ok(tmp.path(), &args);

    // R, G, B, NIR of date 1 are bands 1-4. The file declares no nodata (gdalinfo: none) and
    // no band scale/offset; it predates the -1000 DN offset baseline, so offset 0.
    let scale: f64 = scale_flag.map_or(1.0, |f| f.parse().unwrap());
    let mut roles = Roles::new();
    for (role, band) in [("R", 1), ("G", 2), ("B", 3), ("N", 4)] {
        assert_eq!(declared_nodata(&input, band), None);
        assert_eq!(own_scale_offset(&input, band), (1.0, 0.0));
        roles.insert(role, reflectance(&input, band, &[], scale, 0.0));
    }
    check_run(
        &data,
        &tmp.path().join("out"),
        "inference-img",
        &AUSTRIA_INDICES,
        &input,
        &roles,
    );
}

#[test]
fn sentinel2_austria_stack_nine_indices_scale_1() {
    austria(None);
}

#[test]
fn sentinel2_austria_stack_nine_indices_scale_1e4() {
    austria(Some("0.0001"));
}

/// MSAVI2 on unscaled DNs to 1e-5, with no allowance for f32 rounding. paddy's f32 kernel
/// evaluates ½(t − √(t² − 8(N − R))), t = 2N + 1 ≈ 10⁴: t² ≈ 10⁸ keeps 24 bits (error ≈ 10), and
/// the final subtraction of two numbers ≈ 10⁴ leaves ≈ 4e-4 of error in a result ≈ 0.9. The
/// equivalent 4(N − R) / (t + √(t² − 8(N − R))) has no such cancellation and meets 1e-5 in f32.
/// With reflectance inputs (--scale 0.0001) paddy is within 1e-5 (see the test above).
#[test]
fn msavi2_on_unscaled_dns_is_within_1e5() {
    let Some(data) = shared_data() else { return };
    let input = data.join("s2_austria_bitemporal/inference-img.tif");
    let tmp = tempfile::tempdir().unwrap();
    paddy_ok(
        tmp.path(),
        &[
            "index",
            s(&input),
            "--band",
            "R=1",
            "--band",
            "N=4",
            "--index",
            "msavi2",
            "--out",
            "out",
            "-q",
        ],
    );
    let mut roles = Roles::new();
    roles.insert("R", reflectance(&input, 1, &[], 1.0, 0.0));
    roles.insert("N", reflectance(&input, 4, &[], 1.0, 0.0));
    let reference = reference("MSAVI", &constants(&data), &roles);
    let strict = vec![0.0; reference.len()];
    compare_pixels(
        &tmp.path().join("out/inference-img_msavi2.tif"),
        &reference,
        &strict,
        Tol::Abs,
        &|i| format!("N={}, R={}", roles["N"].value[i], roles["R"].value[i]),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Landsat 8 C2 L2, Montana: one file a band, --sensor landsat-c2-l2, explicit roles
// ---------------------------------------------------------------------------------------------

/// NDVI and LSWI of the Montana scene in `out` under `stem`, against the float64 reference of
/// its bands 4, 5 and 6.
fn check_landsat8(data: &Path, out: &Path, stem: &str, [b4, b5, b6]: [&Path; 3]) {
    let mut roles = Roles::new();
    roles.insert("R", landsat_c2_reflectance(b4));
    roles.insert("N", landsat_c2_reflectance(b5));
    roles.insert("S1", landsat_c2_reflectance(b6));
    check_run(data, out, stem, &["ndvi", "lswi"], b4, &roles);
}

fn landsat8_files(data: &Path) -> [PathBuf; 3] {
    let dir = data.join("landsat8_c2l2_montana");
    [
        dir.join("sr_b4_20200829.tif"),
        dir.join("sr_b5_20200829.tif"),
        dir.join("sr_b6_20200829.tif"),
    ]
}

/// Collection 2 Level-2: reflectance = DN × 0.0000275 − 0.2, DN 0 = no data (and whatever the
/// file declares).
fn landsat_c2_reflectance(path: &Path) -> Refl {
    let mut nodata = vec![0.0];
    nodata.extend(declared_nodata(path, 1));
    reflectance(path, 1, &nodata, 0.0000275, -0.2)
}

#[test]
fn landsat8_c2l2_montana_separate_files_ndvi_lswi() {
    let Some(data) = shared_data() else { return };
    let [b4, b5, b6] = landsat8_files(&data);
    let tmp = tempfile::tempdir().unwrap();
    let (r, n, s1) = (
        format!("R={}", s(&b4)),
        format!("N={}", s(&b5)),
        format!("S1={}", s(&b6)),
    );
    paddy_ok(
        tmp.path(),
        &[
            "index",
            "--sensor",
            "landsat-c2-l2",
            "--band",
            &r,
            "--band",
            &n,
            "--band",
            &s1,
            "--index",
            "ndvi,lswi",
            "--name",
            "l8",
            "--out",
            "out",
            "-q",
        ],
    );
    check_landsat8(&data, &tmp.path().join("out"), "l8", [&b4, &b5, &b6]);
}

/// The profile finds the roles from file names where a date follows the band
/// (`sr_b5_20200829.tif`), with no --band: the same numbers as the explicit mapping, under the
/// files' common stem.
#[test]
fn landsat8_c2l2_montana_roles_from_dated_file_names() {
    let Some(data) = shared_data() else { return };
    let [b4, b5, b6] = landsat8_files(&data);
    let tmp = tempfile::tempdir().unwrap();
    paddy_ok(
        tmp.path(),
        &[
            "index",
            s(&b4),
            s(&b5),
            s(&b6),
            "--sensor",
            "landsat-c2-l2",
            "--index",
            "ndvi,lswi",
            "--out",
            "out",
            "-q",
        ],
    );
    check_landsat8(&data, &tmp.path().join("out"), "sr", [&b4, &b5, &b6]);
}

// ---------------------------------------------------------------------------------------------
// 3. Haiti RGBN Byte: no declared nodata on the full image, nodata 0 on the sub-clip
// ---------------------------------------------------------------------------------------------

const HAITI_INDICES: [&str; 3] = ["ndvi", "gndvi", "ndwi"];

/// Run paddy on a Haiti RGBN file (R, G, B, NIR = bands 1-4) for `indices` with `extra` flags;
/// check against the reference that treats `nodata` DNs as no data. Returns the references.
fn haiti(
    data: &Path,
    file: &str,
    indices: &[&str],
    extra: &[&str],
    nodata: &[f64],
) -> BTreeMap<&'static str, Vec<Option<f64>>> {
    let input = data.join("haiti_rgbn").join(file);
    let tmp = tempfile::tempdir().unwrap();
    let mut quiet = vec!["-q"];
    quiet.extend(extra);
    let out = haiti_index(tmp.path(), &input, indices, &quiet);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut roles = Roles::new();
    for (role, band) in [("R", 1), ("G", 2), ("B", 3), ("N", 4)] {
        assert_eq!(own_scale_offset(&input, band), (1.0, 0.0));
        roles.insert(role, reflectance(&input, band, nodata, 1.0, 0.0));
    }
    let stem = file.trim_end_matches(".tif");
    check_run(data, &tmp.path().join("out"), stem, indices, &input, &roles)
}

/// `paddy index` on a Haiti RGBN file (R, G, B, NIR = bands 1-4) in `dir`, into `dir/out`.
fn haiti_index(dir: &Path, input: &Path, indices: &[&str], extra: &[&str]) -> Output {
    let list = indices.join(",");
    let mut args = vec![
        "index",
        s(input),
        "--band",
        "R=1",
        "--band",
        "G=2",
        "--band",
        "B=3",
        "--band",
        "N=4",
        "--index",
        &list,
        "--out",
        "out",
    ];
    args.extend(extra);
    paddy(dir, &args)
}

#[test]
fn haiti_rgbn_full_image_without_and_with_nodata_flag() {
    let Some(data) = shared_data() else { return };
    let input = data.join("haiti_rgbn/rgbn.tif");
    // gdalinfo: rgbn.tif declares no nodata, so without --nodata a 0 is a value (NIR has some).
    for band in 1..=4 {
        assert_eq!(declared_nodata(&input, band), None, "band {band}");
    }
    let plain = haiti(&data, "rgbn.tif", &HAITI_INDICES, &[], &[]);
    let flagged = haiti(
        &data,
        "rgbn.tif",
        &HAITI_INDICES,
        &["--nodata", "0"],
        &[0.0],
    );
    // The flag must matter on this file, or the second run proves nothing about it.
    for index in ["NDVI", "GNDVI", "NDWI"] {
        assert!(
            invalid_count(&flagged[index]) > invalid_count(&plain[index]),
            "{index}: --nodata 0 should drop the pixels with a 0 DN"
        );
    }
}

#[test]
fn haiti_rgbn_subclip_nodata_regions_are_masked() {
    let Some(data) = shared_data() else { return };
    let input = data.join("haiti_rgbn/rgbn_suba.tif");
    for band in 1..=4 {
        assert_eq!(declared_nodata(&input, band), Some(0.0), "band {band}");
    }
    let refs = haiti(&data, "rgbn_suba.tif", &HAITI_INDICES, &[], &[0.0]);
    for (index, r) in &refs {
        assert!(
            invalid_count(r) > 1000,
            "{index}: rgbn_suba.tif has nodata-0 regions; the reference should mask them"
        );
    }
}

#[test]
fn haiti_rgbn_subclip_nodata_flag_overrides_the_files() {
    let Some(data) = shared_data() else { return };
    // --nodata 255 replaces the file's 0: 255 is dropped, 0 is an ordinary DN again. One index
    // a run here: see `an_index_mask_does_not_depend_on_the_other_indices_asked_for`.
    let own = {
        let input = data.join("haiti_rgbn/rgbn_suba.tif");
        let mut roles = Roles::new();
        for (role, band) in [("R", 1), ("G", 2), ("N", 4)] {
            roles.insert(role, reflectance(&input, band, &[0.0], 1.0, 0.0));
        }
        reference("NDVI", &constants(&data), &roles)
    };
    let mut overridden = BTreeMap::new();
    for index in HAITI_INDICES {
        overridden.extend(haiti(
            &data,
            "rgbn_suba.tif",
            &[index],
            &["--nodata", "255"],
            &[255.0],
        ));
    }
    assert_ne!(
        own.iter().map(Option::is_some).collect::<Vec<_>>(),
        overridden["NDVI"]
            .iter()
            .map(Option::is_some)
            .collect::<Vec<_>>(),
        "the override should change the mask on this file"
    );
}

/// An index's mask is its own bands' nodata: NDVI (N, R) must not lose pixels because G, which
/// only GNDVI and NDWI read, is nodata there; NDVI asked alone and NDVI asked with GNDVI must be
/// the same file content.
#[test]
fn an_index_mask_does_not_depend_on_the_other_indices_asked_for() {
    let Some(data) = shared_data() else { return };
    // Saturated DNs (255) fall on different pixels in each band of this file.
    haiti(
        &data,
        "rgbn_suba.tif",
        &HAITI_INDICES,
        &["--nodata", "255"],
        &[255.0],
    );
}

// ---------------------------------------------------------------------------------------------
// 4. MicaSense RedEdge: five files, roles from the file names
// ---------------------------------------------------------------------------------------------

fn micasense_files(data: &Path) -> Vec<PathBuf> {
    (1..=5)
        .map(|b| data.join(format!("micasense_rededge/IMG_0001_{b}.tif")))
        .collect()
}

/// The indices checked on the MicaSense capture (all it has bands for: no SWIR, no red edge 2).
const MICASENSE_INDICES: &[&str] = &["ndvi", "ndre", "cire", "evi", "savi", "msavi2", "gndvi"];

fn micasense_args<'a>(files: &'a [PathBuf], engine: &'a str) -> Vec<&'a str> {
    let mut args = vec!["index"];
    args.extend(files.iter().map(|p| s(p)));
    args.extend([
        "--sensor",
        "micasense-rededge",
        "--index",
        "ndvi,ndre,cire,evi,savi,msavi2,gndvi",
        "--engine",
        engine,
        "--out",
        "out",
    ]);
    args
}

#[test]
fn micasense_rededge_capture_roles_from_file_names() {
    micasense("auto");
}

/// The same capture through the expression engine for every index (no hand-written kernels).
#[test]
fn micasense_rededge_capture_through_the_expression_engine() {
    micasense("expr");
}

fn micasense(engine: &str) {
    let Some(data) = shared_data() else { return };
    let files = micasense_files(&data);
    let tmp = tempfile::tempdir().unwrap();
    let out = paddy(tmp.path(), &micasense_args(&files, engine));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "paddy failed:\n{stderr}");
    let said = format!("{stdout}\n{stderr}").to_lowercase();
    assert!(
        said.contains("raw") && said.contains("counts") && said.contains("not reflectance"),
        "no raw-counts warning:\n{stdout}\n{stderr}"
    );
    // _1 blue, _2 green, _3 red, _4 NIR, _5 red edge; counts / 65536; no nodata declared.
    let mut roles = Roles::new();
    for (role, f) in [("B", 0), ("G", 1), ("R", 2), ("N", 3), ("RE1", 4)] {
        assert_eq!(declared_nodata(&files[f], 1), None);
        roles.insert(role, reflectance(&files[f], 1, &[], 1.0 / 65536.0, 0.0));
    }
    check_run(
        &data,
        &tmp.path().join("out"),
        "IMG_0001",
        MICASENSE_INDICES,
        &files[0],
        &roles,
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Landsat 7, North Carolina: Float32 files, custom Lambert CRS
// ---------------------------------------------------------------------------------------------

/// Run the generic profile on three single-band files (red, NIR, SWIR1) with explicit roles;
/// the reference uses the files' own nodata and scale.
fn three_file_generic(data: &Path, files: [PathBuf; 3], name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (r, n, s1) = (
        format!("R={}", s(&files[0])),
        format!("N={}", s(&files[1])),
        format!("S1={}", s(&files[2])),
    );
    paddy_ok(
        tmp.path(),
        &[
            "index",
            "--band",
            &r,
            "--band",
            &n,
            "--band",
            &s1,
            "--index",
            "ndvi,lswi",
            "--name",
            name,
            "--out",
            "out",
            "-q",
        ],
    );
    let mut roles = Roles::new();
    for (role, f) in ["R", "N", "S1"].into_iter().zip(&files) {
        let nodata: Vec<f64> = declared_nodata(f, 1).into_iter().collect();
        let (scale, offset) = own_scale_offset(f, 1);
        roles.insert(role, reflectance(f, 1, &nodata, scale, offset));
    }
    check_run(
        data,
        &tmp.path().join("out"),
        name,
        &["ndvi", "lswi"],
        &files[0],
        &roles,
    );
}

#[test]
fn landsat7_north_carolina_float32_custom_lambert() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("landsat7_north_carolina");
    let files = [
        dir.join("lsat7_2000_30.tif"),
        dir.join("lsat7_2000_40.tif"),
        dir.join("lsat7_2000_50.tif"),
    ];
    // The CRS is a custom Lambert conformal conic with no EPSG code: equivalence is by OGR.
    let wkt = Dataset::open(&files[0]).unwrap().projection();
    let srs = SpatialRef::from_wkt(&wkt).unwrap();
    assert!(srs.auth_code().is_err(), "expected a CRS without EPSG code");
    three_file_generic(&data, files, "nc");
}

// ---------------------------------------------------------------------------------------------
// 6. Landsat 5, Pará: Byte files with nodata 255
// ---------------------------------------------------------------------------------------------

#[test]
fn landsat5_para_byte_files_nodata_255() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("landsat5_para");
    let files = [
        dir.join("LT52240631988227CUB02_B3.TIF"),
        dir.join("LT52240631988227CUB02_B4.TIF"),
        dir.join("LT52240631988227CUB02_B5.TIF"),
    ];
    for f in &files {
        assert_eq!(declared_nodata(f, 1), Some(255.0), "{}", f.display());
    }
    three_file_generic(&data, files, "para");
}

// ---------------------------------------------------------------------------------------------
// 7. Landsat 7, Olinda: 6-band Byte file with internal overviews
// ---------------------------------------------------------------------------------------------

#[test]
fn landsat7_olinda_stack_with_internal_overviews() {
    let Some(data) = shared_data() else { return };
    let input = data.join("landsat7_olinda/L7_ETMs.tif");
    {
        let ds = Dataset::open(&input).unwrap();
        assert!(
            ds.rasterband(3).unwrap().overview_count().unwrap() > 0,
            "the file should carry overviews"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    paddy_ok(
        tmp.path(),
        &[
            "index",
            s(&input),
            "--band",
            "R=3",
            "--band",
            "N=4",
            "--band",
            "S1=5",
            "--index",
            "ndvi",
            "--out",
            "out",
            "-q",
        ],
    );
    let mut roles = Roles::new();
    for (role, band) in [("R", 3), ("N", 4)] {
        assert_eq!(declared_nodata(&input, band), None);
        roles.insert(role, reflectance(&input, band, &[], 1.0, 0.0));
    }
    check_run(
        &data,
        &tmp.path().join("out"),
        "L7_ETMs",
        &["ndvi"],
        &input,
        &roles,
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn same_command_twice_gives_byte_identical_outputs() {
    let Some(data) = shared_data() else { return };
    // The MicaSense capture is the largest input here: several windows, several workers.
    let files = micasense_files(&data);
    let mut args = micasense_args(&files, "auto");
    args.push("-q");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    paddy_ok(a.path(), &args);
    paddy_ok(b.path(), &args);
    check_output_files(&a.path().join("out"), "IMG_0001", MICASENSE_INDICES);
    let names = files_in(&a.path().join("out"));
    assert_eq!(names, files_in(&b.path().join("out")));
    for name in &names {
        let x = std::fs::read(a.path().join("out").join(name)).unwrap();
        let y = std::fs::read(b.path().join("out").join(name)).unwrap();
        assert!(x == y, "{name}: the two runs differ");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. --json
// ---------------------------------------------------------------------------------------------

#[test]
fn json_summary_counts_the_valid_pixels_written() {
    let Some(data) = shared_data() else { return };
    // The sub-clip has nodata regions, so the count is not simply width × height.
    let input = data.join("haiti_rgbn/rgbn_suba.tif");
    let tmp = tempfile::tempdir().unwrap();
    let stdout = paddy_ok(
        tmp.path(),
        &[
            "index",
            s(&input),
            "--band",
            "R=1",
            "--band",
            "G=2",
            "--band",
            "N=4",
            "--index",
            "ndvi,gndvi",
            "--out",
            "out",
            "--json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("--json output does not parse ({e}):\n{stdout}"));
    let (width, height) = Dataset::open(&input).unwrap().raster_size();
    assert_eq!(json["width"].as_u64(), Some(width as u64));
    assert_eq!(json["height"].as_u64(), Some(height as u64));
    let outputs = json["outputs"].as_array().expect("outputs array");
    assert_eq!(outputs.len(), 2, "{json:#}");
    let total = (width * height) as u64;
    for (o, short) in outputs.iter().zip(["NDVI", "GNDVI"]) {
        assert_eq!(o["index"].as_str(), Some(short));
        let path = tmp.path().join(o["path"].as_str().expect("path"));
        let band = read_band(&path, 1);
        let valid: Vec<f64> = band
            .data
            .iter()
            .copied()
            .filter(|&v| v != OUT_NODATA)
            .collect();
        assert!(!valid.is_empty() && (valid.len() as u64) < total);
        assert_eq!(o["valid_pixels"].as_u64(), Some(valid.len() as u64), "{o}");
        assert_eq!(
            o["nodata_pixels"].as_u64(),
            Some(total - valid.len() as u64),
            "{o}"
        );
        let mean = valid.iter().sum::<f64>() / valid.len() as f64;
        let min = valid.iter().copied().fold(f64::INFINITY, f64::min);
        let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!((o["mean"].as_f64().unwrap() - mean).abs() < 1e-6, "{o}");
        // The values are f32s; serde_json's default float parsing may miss the last bit of
        // an f64, so compare in f32.
        assert_eq!(o["min"].as_f64().map(|v| v as f32), Some(min as f32), "{o}");
        assert_eq!(o["max"].as_f64().map(|v| v as f32), Some(max as f32), "{o}");
    }
}

/// An output nodata inside NDVI's range [-1, 1] is warned about before the run, and the pixels
/// that compute to it (NIR = red: NDVI 0, which then reads as nodata) are counted, in the
/// warning and in the report; the default nodata collides with nothing.
#[test]
fn haiti_rgbn_out_nodata_inside_the_range_is_warned_and_counted() {
    let Some(data) = shared_data() else { return };
    let input = data.join("haiti_rgbn/rgbn.tif");
    let (red, nir) = (read_band(&input, 1), read_band(&input, 4));
    let zeros = red
        .data
        .iter()
        .zip(&nir.data)
        .filter(|(r, n)| r == n && **r + **n != 0.0)
        .count() as u64;
    assert!(zeros > 1000, "the file must hold NDVI = 0 pixels ({zeros})");
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "index",
            s(&input),
            "--band",
            "R=1",
            "--band",
            "N=4",
            "--index",
            "ndvi",
            "--json",
        ];
        args.extend(extra);
        let out = paddy(tmp.path(), &args);
        assert!(out.status.success(), "{args:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let collisions = report["outputs"][0]["nodata_collisions"].as_u64().unwrap();
        (
            collisions,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (collisions, err) = run(&["--out-nodata", "0", "--out", "zero"]);
    assert_eq!(collisions, zeros);
    assert!(
        err.contains("nodata value 0 lies inside the index's range [-1, 1]"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{zeros} computed pixels equal the output nodata value 0"
        )),
        "{err}"
    );
    let written = read_band(&tmp.path().join("zero/rgbn_ndvi.tif"), 1);
    assert_eq!(written.nodata, Some(0.0));
    let (collisions, err) = run(&["--out", "default"]);
    assert_eq!(collisions, 0);
    assert!(!err.contains("nodata"), "{err}");
}

#[test]
fn haiti_rgbn_digital_numbers_warn_for_indices_with_reflectance_constants() {
    let Some(data) = shared_data() else { return };
    let input = data.join("haiti_rgbn/rgbn.tif");
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = haiti_index(tmp.path(), &input, &["ndvi", "gndvi", "evi", "savi"], extra);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Byte DNs with no scale anywhere (gdalinfo: Type=Byte, no Scale/Offset): EVI's 1 and 6 and
    // SAVI's L are in reflectance units, so both are wrong on DNs; the ratios NDVI and GNDVI
    // are the same on any common scale of their bands.
    let plain = run(&[]);
    let said = |name: &str| {
        plain
            .lines()
            .any(|l| l.contains(&format!("warning: {name}: ")) && l.contains("digital numbers"))
    };
    assert!(said("EVI") && said("SAVI"), "{plain}");
    assert!(!said("NDVI") && !said("GNDVI"), "{plain}");
    assert!(
        plain.contains("R (rgbn.tif band 1), N (rgbn.tif band 4)"),
        "{plain}"
    );
    // Once scaled, nothing to say.
    let scaled = run(&["--scale", "0.0039"]);
    assert!(!scaled.contains("digital numbers"), "{scaled}");
}
