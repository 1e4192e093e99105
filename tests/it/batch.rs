//! `paddy run` on the sample scene: the report and its files, resume after SIGKILL at random
//! points, a corrupt tile failing alone, a full disk, and four shards equal to one machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gdal::vector::LayerAccess;

use crate::common::{paddy, paddy_ok, root};

const DATE: &str = "2026-07-18";

/// A copy of sample_tiles (with nightly.toml writing to `out/` beside it) in `dir`.
pub(crate) fn scene(dir: &Path) -> PathBuf {
    let tiles = dir.join("tiles");
    std::fs::create_dir_all(&tiles).unwrap();
    for e in std::fs::read_dir(root().join("sample_tiles")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tiles.join(p.file_name().unwrap())).unwrap();
    }
    let run = tiles.join("nightly.toml");
    let text = std::fs::read_to_string(&run).unwrap();
    let text = text.replace("output = \"../out/nightly\"", "output = \"../out\"");
    std::fs::write(&run, text).unwrap();
    run
}

fn run_dir(run_file: &Path) -> PathBuf {
    run_file.parent().unwrap().join("../out").join(DATE)
}

fn report_of(run_file: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run_dir(run_file).join("report.json")).unwrap()).unwrap()
}

/// Every output file of a run folder (relative path → bytes, or for zipped shapefiles their
/// features as text: the zip stores write times), without the reports and manifests.
pub(crate) fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if rel.starts_with(".paddy") || rel.starts_with("report.") {
                continue;
            }
            if p.is_dir() {
                walk(base, &p, out);
            } else if rel.ends_with(".shp.zip") {
                let ds = gdal::Dataset::open(&p).unwrap();
                let mut layer = ds.layer(0).unwrap();
                let text: String = layer
                    .features()
                    .map(|f| {
                        let fields: Vec<String> = (0..f.field_count())
                            .map(|i| format!("{:?}", f.field_as_string(i).unwrap()))
                            .collect();
                        format!(
                            "{} {}\n",
                            fields.join(","),
                            f.geometry().unwrap().wkt().unwrap()
                        )
                    })
                    .collect();
                out.insert(rel, text.into_bytes());
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Every file under a final name opens whole (no partial file is ever visible). A killed run
/// may leave hidden temporaries (`.name.staging-PID`): never under a final name, and swept by
/// the next run (the callers check that).
fn all_complete(dir: &Path) {
    for (rel, bytes) in outputs(dir) {
        let p = dir.join(&rel);
        let tagged = |s: &str| s.contains(".part-") || s.contains(".staging-");
        let temporary = tagged(&rel);
        if rel.split('/').any(|c| c.starts_with('.') && tagged(c)) {
            continue;
        }
        assert!(!temporary, "temporary {rel} visible under a final name");
        if rel.ends_with(".tif") {
            let ds = gdal::Dataset::open(&p).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let band = ds.rasterband(1).unwrap();
            let (w, h) = band.size();
            band.read_as::<f32>((0, 0), (w, h), (w, h), None)
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
        } else if rel.ends_with(".json") || rel.ends_with(".geojson") {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
        } else if rel.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 100, "{rel}");
        }
    }
}

pub(crate) fn compare(a: &Path, b: &Path) {
    let (x, y) = (outputs(a), outputs(b));
    assert_eq!(
        x.keys().collect::<Vec<_>>(),
        y.keys().collect::<Vec<_>>(),
        "the two runs made different files"
    );
    for (k, v) in &x {
        assert!(v == &y[k], "{k} differs between the runs");
    }
}

#[test]
fn nightly_sample_run_writes_its_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let r = run.display().to_string();
    paddy_ok(dir.path(), &["validate", &r]);
    let out = paddy_ok(dir.path(), &["run", &r, "--run-date", DATE]);
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("report: ") && last.ends_with("report.html"),
        "{out}"
    );
    let report = report_of(&run);
    assert_eq!(report["summary"]["failed"], 0);
    let units = report["units"].as_array().unwrap();
    assert_eq!(units.len(), 18);
    let rd = run_dir(&run);
    let mut kinds = std::collections::BTreeSet::new();
    for u in units {
        assert_eq!(u["status"], "ok", "{u}");
        for o in u["outputs"].as_array().unwrap() {
            let p = rd.join(o["path"].as_str().unwrap());
            kinds.insert(o["kind"].as_str().unwrap().to_string());
            assert!(p.exists(), "{} missing", p.display());
            let name = p.to_string_lossy();
            if name.ends_with(".tif") {
                gdal::Dataset::open(&p).unwrap();
            } else if name.ends_with(".geojson") || name.ends_with(".shp.zip") {
                let ds = gdal::Dataset::open(&p).unwrap();
                assert!(ds.layer_count() > 0);
            }
        }
    }
    for k in [
        "index",
        "stats",
        "stage",
        "rx_nitrogen",
        "rx_spray",
        "quicklook",
        "isoxml",
    ] {
        assert!(kinds.contains(k), "no {k} output: {kinds:?}");
    }
    let html = std::fs::read_to_string(rd.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("P07"));
    assert!(report["plots"].as_array().unwrap().len() == 12);
    // A rerun does nothing and says so; --force redoes everything.
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    let again = report_of(&run);
    assert_eq!(
        again["summary"]["skipped_up_to_date"], 18,
        "{}",
        again["summary"]
    );
    let dry = paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "--dry-run"]);
    assert_eq!(dry.matches("up to date").count(), 18);
    // A second writer on the same output root is refused while the first holds it.
    let _lock = paddy::batch::lock::acquire(&rd.join(".."), false, false).unwrap();
    let busy = paddy(dir.path(), &["run", &r, "--run-date", DATE]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("another paddy run"));
}

#[test]
fn a_run_stages_and_prescribes_the_flights_plots_and_lists_the_others() {
    // The sample plots and two copies 3 km away from every tile: the prescription's stage covers
    // the flight's plots only, the stage unit's every plot, and the summary lists the far ones.
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let far = crate::prescribe::plots_with_far_ones(dir.path());
    std::fs::copy(&far, run.parent().unwrap().join("plots.geojson")).unwrap();
    let r = run.display().to_string();
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    assert_eq!(report_of(&run)["summary"]["failed"], 0);
    let rd = run_dir(&run);
    let ids = |path: &Path| -> Vec<String> {
        crate::common::rows(&std::fs::read_to_string(path).unwrap())
            .into_iter()
            .map(|r| r["plot_id"].clone())
            .collect()
    };
    let twelve: Vec<String> = (1..=12).map(|k| format!("P{k:02}")).collect();
    assert_eq!(ids(&rd.join("rx/plots/stage_at_flight.csv")), twelve);
    let staged = ids(&rd.join("stage/plots_stage.csv"));
    assert_eq!(staged.len(), 14, "{staged:?}");
    assert!(staged.contains(&"FAR07".to_string()));
    let summary =
        crate::common::rows(&std::fs::read_to_string(rd.join("rx/plots/rx_summary.csv")).unwrap());
    assert_eq!(summary.len(), 14);
    for row in &summary {
        let id = row["plot_id"].as_str();
        if id.starts_with("FAR") {
            assert_eq!(row["n_status"], "not observed", "{row:?}");
            assert!(row["n_reason"].contains("outside the flight"), "{row:?}");
            assert_eq!(row["stage"], "unknown", "{row:?}");
        } else {
            assert!(!row["n_reason"].contains("outside the flight"), "{row:?}");
        }
    }
    // No warning about the far plots' missing stages: their rate does not depend on one.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rd.join("rx/plots/rx_report.json")).unwrap())
            .unwrap();
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("FAR"), "{warnings}");
}

#[test]
fn killed_at_random_points_a_rerun_gives_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let reference = scene(&dir.path().join("a"));
    paddy_ok(
        dir.path(),
        &["run", reference.to_str().unwrap(), "--run-date", DATE, "-q"],
    );
    let run = scene(&dir.path().join("b"));
    // Delays from a seeded LCG: the same points every time the test runs.
    let mut state: u64 = 20261129;
    for round in 0..4 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 150 + (state >> 33) % 2500;
        let mut child = Command::new(env!("CARGO_BIN_EXE_paddy"))
            .args(["run", run.to_str().unwrap(), "--run-date", DATE, "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if run_dir(&run).exists() {
            all_complete(&run_dir(&run));
        }
        eprintln!("round {round}: killed after {delay} ms");
    }
    paddy_ok(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE, "-q"],
    );
    compare(&run_dir(&reference), &run_dir(&run));
    // Nothing of the killed runs is left over.
    let leftovers: Vec<String> = walkdir(&run_dir(&run))
        .into_iter()
        .filter(|p| p.contains(".part-") || p.contains(".staging-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walkdir(&p));
        } else {
            v.push(p.display().to_string());
        }
    }
    v
}

#[test]
fn a_corrupt_tile_fails_alone_and_the_rest_completes() {
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let tile = run.parent().unwrap().join("s2_20260627.tif");
    let bytes = std::fs::read(&tile).unwrap();
    std::fs::write(&tile, &bytes[..bytes.len() / 3]).unwrap();
    let out = paddy(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("index:s2:s2_20260627"), "{stderr}");
    let report = report_of(&run);
    let status: BTreeMap<String, String> = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_string(),
                u["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(status["index:s2:s2_20260627"], "failed");
    assert_eq!(status["stats:s2:s2_20260627:plots"], "skipped-dependency");
    let failed = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "index:s2:s2_20260627")
        .unwrap();
    assert!(
        failed["error"].as_str().unwrap().contains("s2_20260627"),
        "{failed}"
    );
    for (id, s) in &status {
        if !id.contains("20260627") {
            assert_eq!(s, "ok", "{id}");
        }
    }
    // The HTML puts the failure first.
    let html = std::fs::read_to_string(run_dir(&run).join("report.html")).unwrap();
    let fail_at = html.find("s2_20260627").unwrap();
    assert!(fail_at < html.find("P07").unwrap());
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_what_was_written() {
    // Disks of several sizes fill up at different points of the run.
    for size in ["2m", "3m", "4500k"] {
        let dir = tempfile::tempdir().unwrap();
        let run = scene(dir.path());
        let small = dir.path().join("out");
        std::fs::create_dir_all(&small).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                small.to_str().unwrap(),
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)");
            return;
        }
        struct Unmount(PathBuf);
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = Command::new("umount").arg(&self.0).status();
            }
        }
        let _guard = Unmount(small.clone());
        let out = paddy(
            dir.path(),
            &["run", run.to_str().unwrap(), "--run-date", DATE],
        );
        assert_eq!(out.status.code(), Some(1), "{size}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("disk is full") || text.contains("No space left on device"),
            "{size}: {text}"
        );
        // What was written is whole.
        all_complete(&run_dir(&run));
    }
}

#[test]
fn a_read_only_output_root_gives_a_clear_error_and_writes_nothing() {
    // A read-only mount holds for everyone, root included (CI runs as root); without the
    // right to mount, a folder without write permission does, except for root.
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let ro = dir.path().join("out");
    std::fs::create_dir_all(&ro).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "ro,size=1m",
            "tmpfs",
            ro.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    // SAFETY: geteuid only reads the process's user id.
    let root_user = unsafe { libc::geteuid() } == 0;
    if !mounted {
        if root_user {
            eprintln!("SKIPPED: root here cannot mount a read-only tmpfs, and ignores permissions");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let out = paddy(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE],
    );
    // Nothing written, not even the lock file.
    let left = crate::common::files_in(&ro);
    if mounted {
        let _ = Command::new("umount").arg(&ro).status();
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(".paddy.lock")
            && (stderr.contains("Read-only file system") || stderr.contains("Permission denied")),
        "{stderr}"
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn four_shards_then_merge_equal_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let reference = scene(&dir.path().join("one"));
    paddy_ok(
        dir.path(),
        &["run", reference.to_str().unwrap(), "--run-date", DATE, "-q"],
    );
    let run = scene(&dir.path().join("four"));
    // Launched as Slurm would launch the array tasks of scripts/slurm-array.sh.
    let children: Vec<_> = (1..=4)
        .map(|i| {
            Command::new("bash")
                .arg(root().join("scripts/slurm-array.sh"))
                .args([run.to_str().unwrap(), DATE])
                .env("PADDY", env!("CARGO_BIN_EXE_paddy"))
                .env("SLURM_ARRAY_TASK_ID", i.to_string())
                .env("SLURM_ARRAY_TASK_COUNT", "4")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 1..=4 {
        assert!(run_dir(&run)
            .join(format!("report.shard-{i}-of-4.json"))
            .exists());
    }
    let merged = paddy_ok(
        dir.path(),
        &["merge", run.to_str().unwrap(), "--run-date", DATE],
    );
    assert!(merged.contains("report.html"), "{merged}");
    let report = report_of(&run);
    // The merge found every tile unit done by a shard and ran the rest.
    assert_eq!(
        report["summary"]["skipped_up_to_date"], 16,
        "{}",
        report["summary"]
    );
    assert_eq!(report["summary"]["ok"], 2);
    compare(&run_dir(&reference), &run_dir(&run));
}

/// The CSV at `path` as rows of column → text (the test's own reading of the files).
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .map(String::from)
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A number of the report as the CSV writes it (empty for null).
fn as_csv(v: &serde_json::Value) -> String {
    v.as_f64().map_or(String::new(), |x| x.to_string())
}

#[test]
fn a_resumed_run_reports_from_its_manifests_not_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let r = run.display().to_string();
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    let first = report_of(&run);
    let rd = run_dir(&run);
    // The plot table agrees with the stage table and the prescription summary, read here.
    let stage = csv_rows(&rd.join("stage/plots_stage.csv"));
    let rx = csv_rows(&rd.join("rx/plots/rx_summary.csv"));
    let plots = first["plots"].as_array().unwrap();
    assert_eq!(plots.len(), stage.len());
    assert!(!stage.is_empty());
    for (line, s) in plots.iter().zip(&stage) {
        let id = line["plot_id"].as_str().unwrap();
        assert_eq!(id, s["plot_id"]);
        assert_eq!(line["stage"], s["stage"].as_str());
        assert_eq!(
            as_csv(&line["days_after_transplanting"]),
            s["days_after_transplanting"]
        );
        assert_eq!(as_csv(&line["confidence"]), s["confidence"]);
        let row = rx.iter().find(|r| r["plot_id"] == id).unwrap();
        assert_eq!(as_csv(&line["product_kg_ha"]), row["product_kg_ha"], "{id}");
        assert!(line.get("n_rate").is_none(), "{line}");
        assert_eq!(line["n_status"], row["n_status"].as_str());
        assert_eq!(line["n_reason"], row["n_reason"].as_str());
        assert_eq!(as_csv(&line["spray_area_m2"]), row["spray_area_m2"], "{id}");
        assert_eq!(line["spray_status"], row["spray_status"].as_str());
        assert_eq!(line["n_unit"], "kg urea/ha");
    }
    // The notes carry the totals of rx_report.json, read here.
    let rx_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rd.join("rx/plots/rx_report.json")).unwrap())
            .unwrap();
    let notes: Vec<&str> = first["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let n = &rx_report["nitrogen"];
    assert_eq!(
        notes[0],
        format!(
            "Nitrogen to order: {} kg urea ({} kg N); {}",
            n["product_kg"],
            n["n_kg"],
            n["reference"].as_str().unwrap()
        )
    );
    assert!(notes[1].starts_with(&format!("Spray: {} zone(s)", rx_report["spray"]["zones"])));
    // The resumed run reads no output back: with the tables and the report overwritten (at
    // their sizes: a resumed run checks sizes, and runs a unit whose file changed size again),
    // every unit is up to date and the plot table and notes are the first run's.
    for f in [
        "stage/plots_stage.csv",
        "rx/plots/rx_summary.csv",
        "rx/plots/rx_report.json",
    ] {
        let size = std::fs::metadata(rd.join(f)).unwrap().len() as usize;
        std::fs::write(rd.join(f), "#".repeat(size)).unwrap();
    }
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    let again = report_of(&run);
    assert_eq!(again["summary"]["skipped_up_to_date"], 18);
    assert_eq!(again["plots"], first["plots"]);
    assert_eq!(again["notes"], first["notes"]);
    assert_eq!(again["units"].as_array().unwrap().len(), 18);
    for (a, b) in again["units"]
        .as_array()
        .unwrap()
        .iter()
        .zip(first["units"].as_array().unwrap())
    {
        assert_eq!(a["outputs"], b["outputs"], "{}", a["id"]);
    }
}

#[test]
fn a_manifest_of_the_old_format_or_unreadable_runs_its_unit_again() {
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let r = run.display().to_string();
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    let first = report_of(&run);
    let units = dir.path().join("out").join(DATE).join(".paddy/units");
    // Before outcomes were recorded, a manifest was the unit's line of report.json.
    let old = first["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "prescribe:plots")
        .unwrap();
    std::fs::write(
        units.join("prescribe_plots.json"),
        serde_json::to_string_pretty(old).unwrap(),
    )
    .unwrap();
    std::fs::write(units.join("stage_plots.json"), "{ truncated").unwrap();
    let dry = paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "--dry-run"]);
    assert!(dry.contains("would run    stage:plots"), "{dry}");
    assert!(dry.contains("would run    prescribe:plots"), "{dry}");
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    let again = report_of(&run);
    for u in again["units"].as_array().unwrap() {
        let want = if u["id"] == "prescribe:plots" || u["id"] == "stage:plots" {
            "ok"
        } else {
            "skipped-up-to-date"
        };
        assert_eq!(u["status"], want, "{}", u["id"]);
    }
    assert_eq!(again["plots"], first["plots"]);
    assert_eq!(again["notes"], first["notes"]);
    // Rewritten in the current format: up to date from now on.
    paddy_ok(dir.path(), &["run", &r, "--run-date", DATE, "-q"]);
    assert_eq!(report_of(&run)["summary"]["skipped_up_to_date"], 18);
}

#[test]
fn a_statistics_file_that_cannot_be_written_fails_its_unit_alone() {
    // The statistics' tables are written behind the next unit: a failure there must still
    // fail that unit (named with its file) and keep the rest.
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let blocked = run_dir(&run).join("stats/s2_s2_20260627_plots.geojson");
    std::fs::create_dir_all(blocked.join("in-the-way")).unwrap();
    let out = paddy(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = report_of(&run);
    let units = report["units"].as_array().unwrap();
    let status = |id: &str| {
        units
            .iter()
            .find(|u| u["id"] == id)
            .unwrap_or_else(|| panic!("no unit {id}: {report}"))
    };
    let failed = status("stats:s2:s2_20260627:plots");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("s2_s2_20260627_plots.geojson"),
        "{failed}"
    );
    for u in units {
        let id = u["id"].as_str().unwrap();
        let s = u["status"].as_str().unwrap();
        // The stage reads the rasters of a date whose table is missing.
        if id != "stats:s2:s2_20260627:plots" {
            assert_eq!(s, "ok", "{id}");
        }
    }
    // The CSV beside it was written (nothing else lost), and a rerun after clearing the way
    // completes the run.
    assert!(run_dir(&run)
        .join("stats/s2_s2_20260627_plots.csv")
        .is_file());
    std::fs::remove_dir_all(&blocked).unwrap();
    paddy_ok(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE],
    );
    assert!(blocked.is_file());
}

#[test]
fn a_tiles_statistics_map_shows_the_plots_it_sees_and_its_table_every_plot() {
    // A plot inside the S2 tiles but wholly outside the drone flights (UTM 48N x 560320–560380,
    // y 1149720–1149780; the flights end at x 560292, y 1149786).
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let plots = run.parent().unwrap().join("plots.geojson");
    let mut fc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plots).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    let mut far = features[0].clone();
    far["properties"]["plot_id"] = "P99".into();
    far["geometry"]["coordinates"] = serde_json::json!([[
        [105.551067296709, 10.400264057566],
        [105.551615422986, 10.4002631149077],
        [105.551616375682, 10.4008057507822],
        [105.551068248458, 10.4008066934907],
        [105.551067296709, 10.400264057566]
    ]]);
    features.push(far);
    let n = features.len();
    std::fs::write(&plots, serde_json::to_vec(&fc).unwrap()).unwrap();
    paddy_ok(
        dir.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE],
    );
    let stats = run_dir(&run).join("stats");
    let ids_of_map = |name: &str| -> Vec<String> {
        let ds = gdal::Dataset::open(stats.join(format!("{name}.geojson"))).unwrap();
        let mut layer = ds.layer(0).unwrap();
        let k = layer.defn().field_index("plot_id").unwrap();
        layer
            .features()
            .map(|f| f.field_as_string(k).unwrap().unwrap())
            .collect()
    };
    let rows_of_table = |name: &str| -> Vec<(String, String)> {
        let mut r = csv::Reader::from_path(stats.join(format!("{name}.csv"))).unwrap();
        let h = r.headers().unwrap().clone();
        let (id, status) = (
            h.iter().position(|c| c == "plot_id").unwrap(),
            h.iter().position(|c| c == "status").unwrap(),
        );
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                (rec[id].to_string(), rec[status].to_string())
            })
            .collect()
    };
    // The flight: every plot in the table (P99 'outside raster', count 0), P99 not on the map.
    let table = rows_of_table("drone_drone_20260718_plots");
    assert_eq!(table.len(), n);
    assert!(
        table.contains(&("P99".into(), "outside raster".into())),
        "{table:?}"
    );
    let map = ids_of_map("drone_drone_20260718_plots");
    let seen: Vec<String> = table
        .iter()
        .filter(|(_, s)| s != "outside raster")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(map, seen);
    assert_eq!(map.len(), n - 1);
    // The S2 tile sees it: on its map too.
    let map = ids_of_map("s2_s2_20260717_plots");
    assert_eq!(map.len(), n);
    assert!(map.contains(&"P99".to_string()));
}

#[test]
fn the_run_date_is_a_day_as_yyyy_mm_dd_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let run = scene(tmp.path());
    let r = run.to_str().unwrap();
    // YYYYMMDD names the same folder as YYYY-MM-DD.
    let dry = paddy_ok(
        tmp.path(),
        &["run", r, "--run-date", "20260718", "--dry-run"],
    );
    let into = dry.lines().last().unwrap();
    assert!(into.ends_with("/2026-07-18"), "{into}");
    for bad in [
        "2026-07-18T23:30:00+08:00",
        "2026-07-18 23:30",
        "2026/07/18",
        "2026:07:18",
        "2026-7-18",
        "2026-02-30",
        "20261318",
        "18-07-2026",
        "",
    ] {
        let out = paddy(tmp.path(), &["run", r, "--run-date", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("expected a date as YYYY-MM-DD"),
            "{bad}: {err}"
        );
    }
    // Nothing was written, for the dry run nor for the refused dates.
    assert!(!run.parent().unwrap().join("../out").exists());
}

/// Every line of stderr as a JSON object (the test fails on the first that is not one).
fn json_lines(stderr: &[u8]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => panic!("not a JSON object: {line:?}"),
        })
        .collect()
}

/// With `--log-format json`, every line paddy writes on stderr is a JSON object, the error it
/// ends with too (level, message, the file it names, the exit code): for a run whose unit
/// failed and for a run file with a wrong value.
#[test]
fn with_json_logs_every_line_of_stderr_is_json_the_error_too() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["drone_20260626.tif", "drone_20260718.tif", "plots.geojson"] {
        std::fs::copy(root().join("sample_tiles").join(f), tmp.path().join(f)).unwrap();
    }
    let broken = tmp.path().join("drone_20260718.tif");
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let run = tmp.path().join("run.toml");
    let text = "output = \"out\"\n[[sources]]\nname = \"drone\"\ntiles = [\"drone_*.tif\"]\n\
                indices = [\"ndvi\"]\n[plots]\nfiles = [\"plots.geojson\"]\n";
    std::fs::write(&run, text).unwrap();
    let r = run.to_str().unwrap();
    let out = paddy(
        tmp.path(),
        &["run", r, "--run-date", DATE, "--log-format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stderr);
    let (last, units) = lines.split_last().unwrap();
    // A line per unit, the failed one an error naming its tile.
    assert_eq!(units.len(), 2, "{units:?}");
    let failed = units
        .iter()
        .find(|u| u["unit"] == "index:drone:drone_20260718")
        .unwrap();
    assert_eq!(failed["level"], "error");
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .contains("drone_20260718.tif"));
    // The end: which units failed, in the run folder it names.
    assert_eq!(last["level"], "error");
    assert_eq!(last["exit_code"], 1);
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("1 unit(s) failed: index:drone:drone_20260718"),
        "{last:?}"
    );
    let folder = Path::new(last["path"].as_str().unwrap());
    assert!(folder.ends_with(Path::new("out").join(DATE)), "{last:?}");
    // A wrong value in the run file: one line, the file and its line.
    std::fs::write(&run, format!("{text}[machine]\nthreads = \"two\"\n")).unwrap();
    let out = paddy(
        tmp.path(),
        &["run", r, "--run-date", DATE, "--log-format", "json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let e = &lines[0];
    assert_eq!(e["level"], "error");
    assert_eq!(e["kind"], "config");
    assert_eq!(e["exit_code"], 2);
    assert_eq!(e["path"], r);
    let line = text.lines().count() + 2;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&format!("line {line}")),
        "{e:?}"
    );
}

#[test]
fn a_runs_prescription_names_its_flights_with_their_dates_and_its_stages() {
    // A night after a later flight: [stage] at still picks the flight the stages are for.
    let dir = tempfile::tempdir().unwrap();
    let run = scene(dir.path());
    let r = run.display().to_string();
    let night = "2026-08-20";
    paddy_ok(dir.path(), &["run", &r, "--run-date", night, "-q"]);
    let rd = run.parent().unwrap().join("../out").join(night);
    // What the run file and the tiles say: the drone flights by the dates in their names, and
    // the stage date of [stage] at.
    let toml = std::fs::read_to_string(&run).unwrap();
    let at = toml
        .lines()
        .find_map(|l| l.strip_prefix("at = \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .unwrap();
    let mut drone: Vec<(String, String)> = std::fs::read_dir(run.parent().unwrap())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let d = name
                .strip_prefix("drone_")?
                .strip_suffix(".tif")?
                .to_string();
            Some((format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]), name))
        })
        .collect();
    drone.sort();
    assert!(
        drone.iter().any(|(d, _)| *d > at),
        "a flight after {at}: {drone:?}"
    );
    assert!(drone.iter().any(|(d, _)| d.as_str() <= night && *d > at));
    let before: Vec<&(String, String)> = drone.iter().filter(|(d, _)| *d <= at).collect();
    let (flight, previous) = (before[before.len() - 1], before[before.len() - 2]);

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rd.join("report.json")).unwrap()).unwrap();
    let unit = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "prescribe:plots")
        .unwrap();
    let inputs: Vec<&str> = unit["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(inputs[0].ends_with("plots.geojson"), "{inputs:?}");
    for (_, name) in [flight, previous] {
        assert!(
            inputs.iter().any(|i| i.ends_with(name.as_str())),
            "{name}: {inputs:?}"
        );
    }
    for (d, name) in &drone {
        if *d > at {
            assert!(
                !inputs.iter().any(|i| i.ends_with(name.as_str())),
                "{inputs:?}"
            );
        }
    }

    let rx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rd.join("rx/plots/rx_report.json")).unwrap())
            .unwrap();
    let listed: Vec<&str> = rx["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(listed.len() >= 5, "{listed:?}");
    // Named from the report's folder, as its own files (the same bytes wherever the run file
    // and its folders move together), and there.
    for f in &listed {
        assert!(Path::new(f).is_relative(), "{f}");
        assert!(rd.join("rx/plots").join(f).exists(), "{f}");
    }
    assert!(listed.contains(&"stage_at_flight.csv"), "{listed:?}");
    let flights = rx["flights"].as_array().unwrap();
    assert_eq!(flights.len(), 2, "{flights:?}");
    for (read, (role, (date, name))) in flights
        .iter()
        .zip([("flight", flight), ("previous", previous)])
    {
        assert_eq!(read["role"], role);
        assert_eq!(read["date"], date.as_str());
        assert!(
            read["files"][0].as_str().unwrap().ends_with(name.as_str()),
            "{read}"
        );
        let stem = name.trim_end_matches(".tif");
        assert!(read["files"][1].as_str().unwrap().contains(stem), "{read}");
    }
    assert_eq!(rx["flight_date"]["date"], flight.0.as_str());
    assert!(rx["flight_date"]["from"]
        .as_str()
        .unwrap()
        .contains(flight.1.trim_end_matches(".tif")));
    assert!(rx["stages"]
        .as_str()
        .unwrap()
        .contains("stage_at_flight.csv"));
}
