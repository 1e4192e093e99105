//! Several complete stacks in one `paddy index` call: each on its own, outputs named by its stem;
//! single bands joined to the stack whose name they extend; anything ambiguous refused (exit 2),
//! naming what each file is, with nothing written.

use std::path::Path;

use crate::common::*;

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// NDVI in float64 from bands `red` and `nir` of `stack`, -9999 where either is nodata.
fn ndvi_reference(stack: &Path, red: usize, nir: usize, scale_offset: (f64, f64)) -> Vec<f64> {
    let (r, n) = (read_band(stack, red), read_band(stack, nir));
    let refl = |v: f64| v * scale_offset.0 + scale_offset.1;
    r.data
        .iter()
        .zip(&n.data)
        .map(|(&rv, &nv)| {
            if Some(rv) == r.nodata || Some(nv) == n.nodata {
                -9999.0
            } else {
                let (rv, nv) = (refl(rv), refl(nv));
                (nv - rv) / (nv + rv)
            }
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: size");
    let mut compared = 0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if *w == -9999.0 || !w.is_finite() {
            assert_eq!(*g, -9999.0, "{what} pixel {i}: want nodata");
            continue;
        }
        assert!((g - w).abs() <= 1e-6, "{what} pixel {i}: {g} vs {w}");
        compared += 1;
    }
    assert!(compared > 1000, "{what}: only {compared} pixels compared");
}

/// The README's `paddy prescribe` example: two drone flights in one call give two sets of
/// outputs, each equal to a float64 NDVI of its own flight (the flights differ, so reading one
/// for both would fail).
#[test]
fn two_drone_flights_give_two_sets_of_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root();
    let flights = [
        root.join("sample_tiles/drone_20260626.tif"),
        root.join("sample_tiles/drone_20260718.tif"),
    ];
    let out = paddy_ok(
        tmp.path(),
        &[
            "index",
            arg(&flights[0]),
            arg(&flights[1]),
            "--index",
            "ndrei,ndvi",
            "--out",
            "out",
        ],
    );
    assert_eq!(
        files_in(&tmp.path().join("out")),
        [
            "drone_20260626_ndrei.qml",
            "drone_20260626_ndrei.tif",
            "drone_20260626_ndvi.qml",
            "drone_20260626_ndvi.tif",
            "drone_20260718_ndrei.qml",
            "drone_20260718_ndrei.tif",
            "drone_20260718_ndvi.qml",
            "drone_20260718_ndvi.tif",
        ],
        "{out}"
    );
    for flight in &flights {
        let stem = flight.file_stem().unwrap().to_str().unwrap();
        // Bands: Blue Green Red RedEdge NIR, Float32 reflectance.
        let want = ndvi_reference(flight, 3, 5, (1.0, 0.0));
        let got = read_band(&tmp.path().join(format!("out/{stem}_ndvi.tif")), 1);
        assert_close(&got.data, &want, stem);
    }
}

/// Sentinel-2 stacks each with its SCL file, given interleaved in any order: each SCL masks its
/// own stack only.
#[test]
fn stacks_take_the_single_bands_whose_names_extend_theirs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root();
    let s = |name: &str| root.join("sample_tiles").join(name);
    let (a, a_scl, b, b_scl) = (
        s("s2_20260627.tif"),
        s("s2_20260627_scl.tif"),
        s("s2_20260905.tif"),
        s("s2_20260905_scl.tif"),
    );
    paddy_ok(
        tmp.path(),
        &[
            "index",
            arg(&b_scl),
            arg(&a),
            arg(&b),
            arg(&a_scl),
            "--index",
            "ndvi",
            "--out",
            "out",
            "-q",
        ],
    );
    for (stack, scl) in [(&a, &a_scl), (&b, &b_scl)] {
        let stem = stack.file_stem().unwrap().to_str().unwrap();
        // B2 B3 B4 B5 B8 B11, baseline 04.00: reflectance = (DN - 1000) / 10000.
        let mut want = ndvi_reference(stack, 3, 5, (1e-4, -0.1));
        let classes = read_band(scl, 1);
        for (w, c) in want.iter_mut().zip(&classes.data) {
            if [0.0, 1.0, 3.0, 8.0, 9.0, 10.0, 11.0].contains(c) {
                *w = -9999.0;
            }
        }
        let got = read_band(&tmp.path().join(format!("out/{stem}_ndvi.tif")), 1);
        assert_close(&got.data, &want, stem);
    }
}

fn refused(args: &[&str], expect: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut all = vec!["index"];
    all.extend(args);
    all.extend(["--index", "ndvi", "--out", "out"]);
    let out = paddy(tmp.path(), &all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for e in expect {
        assert!(err.contains(e), "'{e}' missing from: {err}");
    }
    assert!(!tmp.path().join("out").exists(), "nothing written: {err}");
}

#[test]
fn mixed_or_ambiguous_inputs_are_refused_saying_what_each_file_is() {
    let root = root();
    let s = |name: &str| root.join("sample_tiles").join(name);
    let (drone, s2, scl, other_scl) = (
        s("drone_20260718.tif"),
        s("s2_20260717.tif"),
        s("s2_20260717_scl.tif"),
        s("s2_20260627_scl.tif"),
    );
    // Two stacks and a band that belongs to neither.
    refused(
        &[arg(&drone), arg(&s2), arg(&other_scl)],
        &[
            "drone_20260718.tif: stack of 5 bands",
            "s2_20260717.tif: stack of 6 bands",
            "s2_20260627_scl.tif: one band (SCL)",
            "belongs to none",
        ],
    );
    // One stack, two quality bands: which masks it?
    refused(
        &[arg(&s2), arg(&scl), arg(&other_scl)],
        &[
            "band SCL is ambiguous",
            "s2_20260717_scl.tif",
            "s2_20260627_scl.tif",
        ],
    );
    // One stem for two stacks.
    refused(
        &[arg(&drone), arg(&s("drone_20260626.tif")), "--name", "x"],
        &["output name 'x'", "drone_20260718.tif, drone_20260626.tif"],
    );
}
