//! `paddy stats --coverage exact` against exactextract, the reference for exact-coverage zonal
//! statistics, on the real North Carolina Landsat 7 scene and its 34 land-cover polygons.
//!
//! The comparison itself is scripts/exactextract-compare.py (count, mean, stdev, min, max,
//! median, p10 and p90 of every plot to 1e-6 relative). It needs the Python environment that
//! scripts/peers-venv makes (target/peers-venv, or $PADDY_PEERS_VENV); where that or the shared
//! data is missing, the test says it skipped and passes.

use std::path::PathBuf;
use std::process::Command;

use crate::common;

/// The six bands of the scene (five Float32 with nodata -99999, the thermal band Int16 with
/// nodata -32768 and many more nodata pixels).
const BANDS: [&str; 6] = ["10", "20", "30", "40", "50", "70"];

/// The exit status of the script when exactextract cannot be imported.
const SKIP: i32 = 77;

/// The peers venv's python, as scripts/peers-venv places it.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PADDY_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/peers-venv"));
    let venv = if venv.is_absolute() {
        venv
    } else {
        common::root().join(venv)
    };
    venv.join("bin/python")
}

#[test]
fn stats_agree_with_exactextract_on_north_carolina() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let nc = data.join("landsat7_north_carolina");
    let python = venv_python();
    if !python.exists() {
        eprintln!(
            "skipped: {} not found (scripts/peers-venv creates it)",
            python.display()
        );
        return;
    }
    let probe = Command::new(&python)
        .args(["-c", "import exactextract, osgeo.gdal"])
        .output()
        .expect("the venv's python runs");
    if !probe.status.success() {
        eprintln!(
            "skipped: exactextract cannot be imported by {} (run scripts/peers-venv): {}",
            python.display(),
            String::from_utf8_lossy(&probe.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(common::root().join("scripts/exactextract-compare.py"))
        .arg("--paddy")
        .arg(env!("CARGO_BIN_EXE_paddy"))
        .arg("--plots")
        .arg(nc.join("landsat96_polygons.shp"))
        .args(["--id-field", "id", "--keep"])
        .arg(dir.path());
    for band in BANDS {
        cmd.arg(nc.join(format!("lsat7_2000_{band}.tif")));
    }
    let out = cmd.output().expect("the compare script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(SKIP) {
        eprintln!("skipped: {}", stdout.trim());
        return;
    }
    assert!(
        out.status.success(),
        "paddy stats vs exactextract: the comparison failed (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(stdout.contains("AGREE"), "unexpected output:\n{stdout}");
}
