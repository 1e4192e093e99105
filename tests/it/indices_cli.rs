//! `paddy indices`: readable in 80 columns, valid JSON, filters that hold; custom expressions.

use crate::common::*;

#[test]
fn the_list_fits_80_columns_and_json_has_every_index() {
    let tmp = tempfile::tempdir().unwrap();
    let table = paddy_ok(tmp.path(), &["indices"]);
    assert!(table.lines().count() > 254);
    for line in table.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&paddy_ok(tmp.path(), &["indices", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 254);
}

#[test]
fn filters_keep_only_what_a_sensor_can_compute() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "indices",
        "--json",
        "--bands-available",
        "blue,green,red,rededge,nir",
    ];
    let json: serde_json::Value = serde_json::from_str(&paddy_ok(tmp.path(), &args)).unwrap();
    let list = json.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().unwrap()).collect();
    for name in ["NDVI", "NDREI", "EVI", "CIRE", "GNDVI"] {
        assert!(names.contains(&name), "{name} missing");
    }
    for i in list {
        for b in i["bands"].as_array().unwrap() {
            assert!(
                ["B", "G", "R", "RE1", "N"].contains(&b.as_str().unwrap()),
                "{i}"
            );
        }
    }
    assert!(!names.contains(&"LSWI") && !names.contains(&"MTCI"));
    let json: serde_json::Value = serde_json::from_str(&paddy_ok(
        tmp.path(),
        &["indices", "--json", "--domain", "water"],
    ))
    .unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["domain"] == "water"));
    // A misspelt domain is an error naming the known ones, not an empty list.
    let out = paddy(tmp.path(), &["indices", "--domain", "watr"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'watr'") && err.contains("water") && err.contains("vegetation"),
        "{err}"
    );
}

#[test]
fn show_gives_formula_constants_and_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let text = paddy_ok(tmp.path(), &["indices", "show", "ndre"]);
    assert!(
        text.contains("NDREI — Normalized Difference Red Edge Index"),
        "{text}"
    );
    assert!(text.contains("(N - RE1) / (N + RE1)"), "{text}");
    let text = paddy_ok(tmp.path(), &["indices", "show", "SAVI"]);
    assert!(text.contains("L = 1"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&paddy_ok(
        tmp.path(),
        &["indices", "show", "NIRvP", "--json"],
    ))
    .unwrap();
    assert_eq!(json["constants"][0]["name"], "PAR");
    assert!(json["constants"][0]["default"].is_null());
    let out = paddy(tmp.path(), &["indices", "show", "NOPE"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn custom_expressions_compute_and_errors_point_at_the_formula() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260718.tif");
    let t = tile.to_str().unwrap();
    std::fs::write(
        tmp.path().join("mine.toml"),
        "[HALFNDRE]\nformula = \"0.5 * (N - RE1) / (N + RE1)\"\n",
    )
    .unwrap();
    paddy_ok(
        tmp.path(),
        &[
            "index",
            t,
            "-i",
            "ndre",
            "-e",
            "MYNDRE=(N - RE1)/(N + RE1)",
            "--expr-file",
            "mine.toml",
            "-q",
        ],
    );
    let hand = read_band(&tmp.path().join("drone_20260718_ndre.tif"), 1);
    let mine = read_band(&tmp.path().join("drone_20260718_myndre.tif"), 1);
    let half = read_band(&tmp.path().join("drone_20260718_halfndre.tif"), 1);
    for i in 0..hand.data.len() {
        if hand.data[i] == -9999.0 {
            assert_eq!(mine.data[i], -9999.0);
            continue;
        }
        assert!((hand.data[i] - mine.data[i]).abs() <= 1e-6, "pixel {i}");
        assert!(
            (0.5 * hand.data[i] - half.data[i]).abs() <= 1e-6,
            "pixel {i}"
        );
    }
    for (expr, needle) in [
        ("X=(N - RE1", "at character 9: expected ')'"),
        ("X=N + * R", "at character 5"),
        (
            "X=(N - NIR)",
            "X needs NIR (not a band symbol nor a catalogue constant)",
        ),
        ("NDVI=N", "NDVI is a catalogue index"),
    ] {
        let out = paddy(tmp.path(), &["index", t, "-e", expr]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expr}: {err}");
        assert!(err.contains(needle), "{expr}: {err}");
    }
}
