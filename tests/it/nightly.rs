//! `paddy run` takes the stage's per-plot means from its statistics units' tables instead of
//! reading the index rasters again: its stage table must equal `paddy stage` run on the same
//! rasters, which reads them.

use std::path::{Path, PathBuf};

use crate::common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn glob(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn the_runs_stage_from_its_statistics_equals_the_stage_from_the_rasters() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = tmp.path().join("sample_tiles");
    copy_dir(&root().join("sample_tiles"), &sample);
    let run_file = sample.join("nightly.toml");
    let args = [
        "run",
        run_file.to_str().unwrap(),
        "--run-date",
        "2026-07-18",
        "-q",
    ];
    paddy_ok(tmp.path(), &args);
    let dir = tmp.path().join("out/nightly/2026-07-18");
    let s2 = dir.join("index/s2");
    let mut stage = vec!["stage".to_string()];
    stage.extend(glob(&s2, "_ndvi.tif"));
    stage.push("--lswi".into());
    stage.extend(glob(&s2, "_lswi.tif"));
    for a in [
        "--plots",
        sample.join("plots.geojson").to_str().unwrap(),
        "--date-pattern",
        "{yyyy}{mm}{dd}",
        "--at",
        "2026-07-18",
        "--out",
        "direct.csv",
        "-q",
    ] {
        stage.push(a.to_string());
    }
    let stage: Vec<&str> = stage.iter().map(String::as_str).collect();
    paddy_ok(tmp.path(), &stage);
    let direct = std::fs::read_to_string(tmp.path().join("direct.csv")).unwrap();
    let run = std::fs::read_to_string(dir.join("stage/plots_stage.csv")).unwrap();
    assert!(rows(&direct).len() >= 10, "{direct}");
    assert_eq!(run, direct);

    // The statistics units keep what the stage reads beside the run's state; without it (or
    // with it damaged) the stage parses their CSV tables instead, and gets the same.
    let kept = dir.join(".paddy/stats");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&kept)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    std::fs::remove_file(&files[0]).unwrap();
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&files[1], bytes).unwrap();
    std::fs::remove_file(dir.join(".paddy/units/stage_plots.json")).unwrap();
    paddy_ok(tmp.path(), &args);
    let again = std::fs::read_to_string(dir.join("stage/plots_stage.csv")).unwrap();
    assert_eq!(again, direct);
}
