//! Every Awesome Spectral Indices formula, computed by `paddy index`, against an independent
//! float64 reference: `scripts/check-catalogue.py` evaluates the catalogue's formula strings with
//! Python's own parser on numpy float64 arrays and compares pixel by pixel (tolerance 1e-5 ×
//! max(1, |ref|), nodata exactly where the reference is undefined or beyond float32, or an input
//! is nodata).
//!
//! The input is one synthetic 21-band stack (one band per catalogue role, descriptions = the
//! symbols): deterministic pseudo-random values in plausible ranges, plus edge pixels that make
//! formulas undefined, overflow float32, sit on poles, or carry nodata.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use gdal::raster::Buffer;
use gdal::{DriverManager, Metadata};

use crate::common::*;

const WIDTH: usize = 64;
const HEIGHT: usize = 48;
const NODATA: f32 = -9999.0;
const PYTHON: &str = "/usr/bin/python3";

/// The catalogue's band symbols: one input band each, in this order.
const ROLES: [&str; 21] = [
    "A", "B", "G", "G1", "Y", "R", "RE1", "RE2", "RE3", "N", "N2", "WV", "S1", "S2", "T", "T1",
    "T2", "VV", "VH", "HH", "HV",
];
const OPTICAL: [&str; 14] = [
    "A", "B", "G", "G1", "Y", "R", "RE1", "RE2", "RE3", "N", "N2", "WV", "S1", "S2",
];
const THERMAL: [&str; 3] = ["T", "T1", "T2"];
const RADAR: [&str; 4] = ["VV", "VH", "HH", "HV"];

/// Values for the constants the catalogue gives no default (`--const NAME=VALUE`): PAR in
/// µmol m⁻² s⁻¹, central wavelengths of Sentinel-2 in nm, and kernel values k(a, b) of an RBF
/// kernel (k(x, x) = 1, others in (0, 1)).
const CONSTANTS: [(&str, &str); 14] = [
    ("PAR", "1500"),
    ("lambdaG", "560"),
    ("lambdaR", "665"),
    ("lambdaN", "842"),
    ("lambdaN2", "865"),
    ("lambdaS1", "1610"),
    ("lambdaS2", "2190"),
    ("kNN", "1"),
    ("kNR", "0.62"),
    ("kNB", "0.48"),
    ("kNL", "0.85"),
    ("kGG", "1"),
    ("kGR", "0.71"),
    ("kGB", "0.57"),
];

/// The indices with hand-written kernels (the default engine uses them).
const HAND_WRITTEN: [&str; 13] = [
    "NDVI", "GNDVI", "NDREI", "EVI", "EVI2", "SAVI", "OSAVI", "MSAVI", "LSWI", "NDMI", "NDWI",
    "CIRE", "CIG",
];

/// Whether /usr/bin/python3 has numpy and GDAL (if not, the test says it skipped).
fn python_ok() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import numpy; from osgeo import gdal"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: {PYTHON} lacks numpy or osgeo.gdal (python3-numpy, python3-gdal)");
    }
    ok
}

fn catalogue_dir() -> PathBuf {
    root().join("src/catalogue/data")
}

/// Catalogue short names, in the catalogue's order.
fn catalogue_names() -> Vec<String> {
    let text = std::fs::read_to_string(catalogue_dir().join("spectral-indices-dict.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["SpectralIndices"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The catalogue split in two: names that are unique ignoring case, and the later names of
/// pairs that differ only in case (BAI / BaI, MSR705 / mSR705), which share an output file name
/// (`<stem>_bai.tif`) and so cannot be computed in the same run.
fn split_case_duplicates(names: &[String]) -> (Vec<String>, Vec<String>) {
    let mut seen = BTreeSet::new();
    names
        .iter()
        .cloned()
        .partition(|n| seen.insert(n.to_ascii_uppercase()))
}

/// Deterministic pseudo-random numbers in [0, 1) (64-bit LCG, top 24 bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// One band per role, row-major WIDTH × HEIGHT: random plausible values, then edge pixels, then
/// (with `implausible`) pixels with reflectances no sensor delivers (N, R ≤ −0.07) that sit on
/// poles of the hand-written kernels' rewritten or float32 forms.
fn stack_values(implausible: bool) -> Vec<Vec<f32>> {
    let n = WIDTH * HEIGHT;
    let mut rng = Lcg(0x5eed_cafe);
    let mut bands: Vec<Vec<f32>> = ROLES
        .iter()
        .map(|role| {
            (0..n)
                .map(|_| {
                    let u = rng.next();
                    if THERMAL.contains(role) {
                        270.0 + 60.0 * u // brightness temperature, K
                    } else if RADAR.contains(role) {
                        0.001 + 0.5 * u // linear backscatter σ0
                    } else {
                        0.6 * u // surface reflectance
                    }
                })
                .collect()
        })
        .collect();
    let idx = |role: &str| ROLES.iter().position(|r| *r == role).unwrap();
    let mut set = |pixel: usize, roles: &[&str], value: f32| {
        for r in roles {
            bands[idx(r)][pixel] = value;
        }
    };
    // Edge pixels along the first row.
    set(0, &ROLES, 0.0); // all zero: every normalised difference is 0/0
    set(1, &ROLES, 0.3); // all equal
    set(2, &ROLES, 1.0); // all one: 1 - R = 0 (GEMI, SI, AVI …)
    set(3, &OPTICAL, 0.0); // dark optical, real thermal, zero radar
    set(3, &RADAR, 0.0);
    set(4, &["N", "R"], 0.25); // N = R
    set(5, &["N", "R"], 0.0); // N = R = 0
    set(6, &["G"], 1e-20); // tiny green: R²/G⁴ (RI4XS) beyond float32
    set(7, &OPTICAL, -0.05); // negative reflectance (Sentinel-2 offset): roots of negatives
    set(9, &["N"], NODATA); // nodata in one band
    set(10, &["S1"], f32::NAN); // NaN in one band
    set(11, &ROLES, NODATA); // all nodata
    set(12, &["T1", "VH"], NODATA);
    for (i, role) in OPTICAL.iter().enumerate() {
        // unscaled DNs (a forgotten --scale)
        set(13, &[role], 500.0 + 400.0 * i as f32);
    }
    set(14, &["N"], 0.3); // EVI pole: N + 6R − 7.5B + 1 ≈ 0
    set(14, &["R"], 0.2);
    set(14, &["B"], 2.5 / 7.5);
    set(15, &["R"], 1.0); // 1 − R = 0
    set(17, &["B", "G", "R"], 0.1); // equal visible bands
    set(18, &["RE1"], 0.0); // CIRE: N / 0
    set(19, &RADAR, 0.0); // no backscatter
    set(20, &["G"], 0.0);
    set(21, &["S2", "N2", "RE2", "RE3"], 0.0);
    set(22, &THERMAL, 0.0);
    set(23, &["N", "R"], 1e-30); // tiny: squares underflow float32, not float64
    if implausible {
        set(8, &["N", "R"], -0.08); // N + R = −0.16 in float32 (OSAVI pole), 0/x in float64
        set(16, &["N", "R"], -0.5); // 2N + 1 = 0 and N = R (MSAVI)
        set(24, &["N"], -0.07); // N + R = −0.16 in float32 (OSAVI pole), x/tiny in float64
        set(24, &["R"], -0.09);
        set(25, &["N"], -0.7); // 2N + 1 < 0, N ≈ R (MSAVI cancellation)
        set(25, &["R"], -0.6999);
    }
    bands
}

/// Write the stack as a Float32 GeoTIFF, band descriptions = role symbols, nodata -9999.
fn write_stack(path: &Path, implausible: bool) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<f32, _>(path, WIDTH, HEIGHT, ROLES.len())
        .unwrap();
    ds.set_geo_transform(&[500_000.0, 10.0, 0.0, 1_700_000.0, 0.0, -10.0])
        .unwrap();
    for (i, (role, values)) in ROLES.iter().zip(stack_values(implausible)).enumerate() {
        let mut band = ds.rasterband(i + 1).unwrap();
        band.set_description(role).unwrap();
        band.set_no_data_value(Some(NODATA as f64)).unwrap();
        let mut buffer = Buffer::new((WIDTH, HEIGHT), values);
        band.write((0, 0), (WIDTH, HEIGHT), &mut buffer).unwrap();
    }
}

/// A temp dir with `stack.tif`.
fn stack(implausible: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_stack(&tmp.path().join("stack.tif"), implausible);
    tmp
}

/// `paddy index stack.tif` with every role mapped, the constants above and `extra` arguments.
fn paddy_index(dir: &Path, names: &[String], out: &str, extra: &[&str]) {
    let mut args: Vec<String> = vec!["index".into(), "stack.tif".into()];
    for (i, role) in ROLES.iter().enumerate() {
        args.push("--band".into());
        args.push(format!("{role}={}", i + 1));
    }
    for (name, value) in CONSTANTS {
        args.push("--const".into());
        args.push(format!("{name}={value}"));
    }
    args.extend(["--sensor", "generic", "--index"].map(String::from));
    args.push(names.join(","));
    args.extend(["--out".to_string(), out.to_string(), "-q".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    paddy_ok(dir, &args);
}

/// Run the checker; returns (success, how many indices it checked, its output).
fn check(dir: &Path, out: &str, extra: &[String]) -> (bool, usize, String) {
    let mut cmd = Command::new(PYTHON);
    cmd.current_dir(dir)
        .arg(root().join("scripts/check-catalogue.py"))
        .arg("stack.tif")
        .arg(out)
        .arg(catalogue_dir())
        .arg("stack")
        .args(CONSTANTS.map(|(k, v)| format!("{k}={v}")))
        .args(extra);
    let output = cmd.output().expect("the checker runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let checked = stdout
        .lines()
        .find_map(|l| l.strip_prefix("catalogue indices checked: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line from the checker:\n{text}"));
    (output.status.success(), checked, text)
}

/// Every catalogue index through the expression engine, in one run: all 254, including the pairs
/// whose names differ only in case (BAI / BaI), which get distinct output files.
#[test]
fn every_catalogue_index_matches_a_float64_reference() {
    if !python_ok() {
        return;
    }
    let tmp = stack(true);
    let names = catalogue_names();
    assert_eq!(names.len(), 254, "the catalogue's size");
    paddy_index(tmp.path(), &names, "expr", &["--engine", "expr"]);
    let (ok, checked, text) = check(tmp.path(), "expr", &["--indices".into(), names.join(",")]);
    eprintln!("{text}");
    assert!(ok, "paddy differs from the float64 reference:\n{text}");
    assert_eq!(checked, names.len(), "{text}");
    assert!(checked >= 240, "{text}");
}

/// BaI (Bareness Index) and mSR705 must compute their own formulas, not those of BAI (Burned Area
/// Index) and MSR705, whose names differ only in case.
#[test]
fn indices_whose_names_differ_only_in_case_compute_their_own_formula() {
    if !python_ok() {
        return;
    }
    let tmp = stack(true);
    let (_, later) = split_case_duplicates(&catalogue_names());
    assert_eq!(later, ["BaI", "mSR705"]);
    paddy_index(tmp.path(), &later, "case", &["--engine", "expr"]);
    let (ok, checked, text) = check(tmp.path(), "case", &["--indices".into(), later.join(",")]);
    eprintln!("{text}");
    assert!(ok, "paddy differs from the float64 reference:\n{text}");
    assert_eq!(checked, later.len(), "{text}");
}

/// Run the 13 hand-written kernels (default engine) and check them against the same reference.
fn check_hand_kernels(implausible: bool) {
    let tmp = stack(implausible);
    let names: Vec<String> = HAND_WRITTEN.map(String::from).to_vec();
    paddy_index(tmp.path(), &names, "auto", &[]);
    let (ok, checked, text) = check(tmp.path(), "auto", &["--indices".into(), names.join(",")]);
    eprintln!("{text}");
    assert!(
        ok,
        "hand-written kernels differ from the float64 reference:\n{text}"
    );
    assert_eq!(checked, HAND_WRITTEN.len(), "{text}");
}

/// The hand-written kernels on the plausible stack (the edge pixels included).
#[test]
fn hand_written_kernels_match_the_float64_reference() {
    if python_ok() {
        check_hand_kernels(false);
    }
}

/// The hand-written kernels where negative reflectances sit on a pole of their float32 or
/// rewritten forms: OSAVI at N + R = −0.16 (float32 0.16 ≠ 0.16), MSAVI at N = R ≤ −0.5.
#[test]
fn hand_written_kernels_match_the_float64_reference_at_their_poles() {
    if python_ok() {
        check_hand_kernels(true);
    }
}

/// An index that needs a constant without a default fails as a usage error naming it.
#[test]
fn a_constant_without_default_must_be_given() {
    let tmp = stack(false);
    for (index, constant) in [("NIRvP", "PAR"), ("kNDVI", "kNN"), ("NDGI", "lambdaN")] {
        let out = paddy(
            tmp.path(),
            &[
                "index",
                "stack.tif",
                "--band",
                "N=10",
                "--band",
                "R=6",
                "--band",
                "G=3",
                "--index",
                index,
                "--out",
                "o",
                "-q",
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{index}: {stderr}");
        assert!(stderr.contains(constant), "{index}: {stderr}");
        assert!(
            stderr.contains(&format!("give the constant a value, {constant}=")),
            "{index}: {stderr}"
        );
        assert!(files_in(&tmp.path().join("o")).is_empty(), "{index}");
    }
}
