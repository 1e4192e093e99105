//! `paddy run` on successive nights: each night writes its own run folder, and a unit done with
//! the same key in an earlier night's folder is brought from there by hard link (reported
//! `reused`) instead of being computed again; a new tile computes only its own units and the
//! season's stage and prescription; a file damaged in the earlier folder is computed again.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::batch::{compare, outputs, scene};
use crate::common::{paddy, paddy_ok};

const A: &str = "2026-07-18";
const B: &str = "2026-07-25";

fn night(run_file: &Path, date: &str) -> PathBuf {
    run_file.parent().unwrap().join("../out").join(date)
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// `paddy run` on `date`, returning its log (stderr).
fn run_on(run_file: &Path, date: &str) -> String {
    let args = ["run", run_file.to_str().unwrap(), "--run-date", date];
    let out = paddy(run_file.parent().unwrap(), &args);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "paddy {args:?} failed:\n{log}");
    log
}

/// Each unit's id and status, and its kind, from a report.
fn statuses(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap().to_string();
            (s("id"), s("kind"), s("status"))
        })
        .collect()
}

fn inode(path: &Path) -> (u64, u64) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.dev(), m.ino())
}

/// The output files a unit's report line names, relative to the run folder.
fn unit_files(report: &serde_json::Value, id: &str) -> Vec<String> {
    let unit = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("no unit {id}"));
    unit["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_next_night_links_every_unit_done_before_and_equals_a_fresh_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = scene(&tmp.path().join("season"));
    run_on(&run, A);
    let (a, b) = (night(&run, A), night(&run, B));
    let log = run_on(&run, B);
    let rb = report(&b);
    let units = statuses(&rb);
    assert_eq!(units.len(), 18);
    let mut reused = 0;
    for (id, kind, status) in &units {
        match kind.as_str() {
            // The same tiles and settings: the same keys, done on night A.
            "index" | "stats" | "stage" => {
                assert_eq!(status, "reused", "{id}");
                reused += 1;
            }
            // Its ISOXML grid is not in its manifest: computed again.
            _ => assert_eq!(status, "ok", "{id}"),
        }
    }
    assert_eq!(rb["summary"]["reused"], reused);
    assert_eq!(rb["summary"]["ok"], 1);
    assert!(log.contains("reused from 2026-07-18"), "{log}");
    let index = units.iter().find(|u| u.1 == "index").unwrap();
    let line = rb["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == index.0.as_str())
        .unwrap();
    assert_eq!(line["reused_from"], A);
    // The reused files are night A's, linked: one file in both folders.
    let mut linked = 0;
    for (id, _, status) in &units {
        if status == "reused" {
            for f in unit_files(&rb, id) {
                assert_eq!(inode(&a.join(&f)), inode(&b.join(&f)), "{f}");
                linked += 1;
            }
        }
    }
    assert!(linked >= 40, "{linked} files linked");
    // Night B is the same as a run on B with nothing before it, and verifies.
    let fresh = scene(&tmp.path().join("fresh"));
    run_on(&fresh, B);
    compare(&night(&fresh, B), &b);
    paddy_ok(tmp.path(), &["verify", b.to_str().unwrap()]);
    let html = std::fs::read_to_string(b.join("report.html")).unwrap();
    assert!(
        html.contains("reused from an earlier run"),
        "no reused badge"
    );
    // A dry run the night after says what it would bring, and from where.
    let dry = paddy_ok(
        tmp.path(),
        &[
            "run",
            run.to_str().unwrap(),
            "--run-date",
            "2026-07-26",
            "--dry-run",
        ],
    );
    assert!(dry.contains("would reuse  index:"), "{dry}");
    assert!(dry.contains("(from 2026-07-25)"), "{dry}");
    // --force computes everything again, replacing the links, and night A keeps its files.
    let before = outputs(&a);
    paddy_ok(
        tmp.path(),
        &[
            "run",
            run.to_str().unwrap(),
            "--run-date",
            B,
            "--force",
            "-q",
        ],
    );
    let forced = statuses(&report(&b));
    assert!(forced.iter().all(|u| u.2 == "ok"), "{forced:?}");
    let f = &unit_files(&rb, &index.0)[0];
    assert_ne!(inode(&a.join(f)), inode(&b.join(f)), "{f} still linked");
    assert!(before == outputs(&a), "night A's files changed");
    paddy_ok(tmp.path(), &["verify", a.to_str().unwrap()]);
    paddy_ok(tmp.path(), &["verify", b.to_str().unwrap()]);
}

#[test]
fn a_new_tile_computes_its_units_and_the_season_the_rest_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = scene(tmp.path());
    run_on(&run, A);
    // A new Sentinel-2 date between two others (the data of another date, as a new file).
    let tiles = run.parent().unwrap();
    for (from, to) in [
        ("s2_20260627.tif", "s2_20260707.tif"),
        ("s2_20260627_scl.tif", "s2_20260707_scl.tif"),
    ] {
        std::fs::copy(tiles.join(from), tiles.join(to)).unwrap();
    }
    run_on(&run, B);
    let units = statuses(&report(&night(&run, B)));
    assert_eq!(units.len(), 20);
    for (id, kind, status) in &units {
        let computed = id.contains("s2_20260707") || kind == "stage" || kind == "prescribe";
        let expected = if computed { "ok" } else { "reused" };
        assert_eq!(status, expected, "{id}");
    }
    paddy_ok(tmp.path(), &["verify", night(&run, B).to_str().unwrap()]);
}

#[test]
fn a_file_damaged_in_the_earlier_folder_is_computed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let run = scene(&tmp.path().join("season"));
    run_on(&run, A);
    let (a, b) = (night(&run, A), night(&run, B));
    let ra = report(&a);
    let id = "index:s2:s2_20260627";
    let tif = unit_files(&ra, id)
        .into_iter()
        .find(|f| f.ends_with(".tif"))
        .unwrap();
    // Cut short (as a full disk or a careless copy would leave it).
    let damaged = a.join(&tif);
    let len = std::fs::metadata(&damaged).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&damaged)
        .unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let log = run_on(&run, B);
    let units = statuses(&report(&b));
    for (uid, kind, status) in &units {
        let expected = if uid == id || kind == "prescribe" {
            "ok"
        } else {
            "reused"
        };
        assert_eq!(status, expected, "{uid}");
    }
    assert!(
        log.contains(&format!("not reused from {A}: {tif} changed size")),
        "{log}"
    );
    // Tonight's file is a new one, whole; night A's stays as it was left.
    assert_ne!(inode(&damaged), inode(&b.join(&tif)));
    assert_eq!(std::fs::metadata(&damaged).unwrap().len(), len / 2);
    let fresh = scene(&tmp.path().join("fresh"));
    run_on(&fresh, B);
    compare(&night(&fresh, B), &b);
    paddy_ok(tmp.path(), &["verify", b.to_str().unwrap()]);
}
