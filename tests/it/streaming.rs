//! Tiles larger than one processing window: windows are stitched exactly, overviews are built,
//! results do not depend on the thread count, and an interrupted run leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A 2500 × 1900 five-band Float32 tile made from the drone sample by nearest-neighbour
/// upsampling, in 256 × 256 tiles: about 18 processing windows.
pub(crate) fn big_tile(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("big.tif");
    let ok = Command::new("gdal_translate")
        .args([
            "-q",
            "-outsize",
            "2500",
            "1900",
            "-r",
            "nearest",
            "-co",
            "TILED=YES",
        ])
        .arg(root().join("sample_tiles/drone_20260718.tif"))
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: gdal_translate is not available");
        return None;
    }
    Some(path)
}

#[test]
fn windows_stitch_exactly_and_threads_do_not_change_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    let t = tile.to_str().unwrap();
    paddy_ok(
        tmp.path(),
        &["index", t, "-i", "ndvi", "-o", "one", "-j", "1", "-q"],
    );
    paddy_ok(
        tmp.path(),
        &["index", t, "-i", "ndvi", "-o", "two", "-j", "2", "-q"],
    );
    let one = std::fs::read(tmp.path().join("one/big_ndvi.tif")).unwrap();
    let two = std::fs::read(tmp.path().join("two/big_ndvi.tif")).unwrap();
    assert!(one == two, "1 and 2 threads must write identical files");

    let red = read_band(&tile, 3);
    let nir = read_band(&tile, 5);
    let ndvi = read_band(&tmp.path().join("one/big_ndvi.tif"), 1);
    assert_eq!((ndvi.width, ndvi.height), (2500, 1900));
    for i in 0..red.data.len() {
        let (r, n) = (red.data[i], nir.data[i]);
        if r == -10000.0 || n == -10000.0 {
            assert_eq!(ndvi.data[i], -9999.0, "pixel {i}");
        } else {
            assert!(
                (ndvi.data[i] - (n - r) / (n + r)).abs() <= 1e-5,
                "pixel {i}"
            );
        }
    }
    let ds = gdal::Dataset::open(tmp.path().join("one/big_ndvi.tif")).unwrap();
    let band = ds.rasterband(1).unwrap();
    assert!(band.overview_count().unwrap() >= 2, "COG overviews");
    assert_eq!(band.block_size(), (512, 512));
}

#[test]
fn an_interrupted_run_leaves_nothing_or_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_paddy"))
        .current_dir(tmp.path())
        .args([
            "index",
            tile.to_str().unwrap(),
            "-i",
            "ndvi,ndre,evi",
            "-o",
            "out",
            "-q",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let files = files_in(&tmp.path().join("out"));
    match status.code() {
        // Interrupted: no output and no staging leftovers.
        Some(130) => assert!(files.is_empty(), "left behind: {files:?}"),
        // Finished before the signal: every output complete, nothing hidden.
        Some(0) => assert_eq!(files.len(), 6, "{files:?}"),
        other => panic!("unexpected exit {other:?}"),
    }
}

#[test]
fn leftovers_of_a_killed_run_are_cleaned_up_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260718.tif");
    std::fs::create_dir(tmp.path().join("out")).unwrap();
    // What SIGKILL leaves: hidden staging/part files of a process that no longer exists
    // (PID 4999999 is above Linux's largest possible pid_max, 4194304), plus one of a live process (this test's).
    let dead = [
        ".drone_20260718_ndvi.tif.staging-4999999",
        ".drone_20260718_ndvi.tif.part-4999999",
        ".drone_20260718_ndvi.tif.part-4999999.ovr.tmp",
    ];
    let live = format!(".drone_20260718_ndvi.tif.staging-{}", std::process::id());
    for f in dead.iter().copied().chain([live.as_str()]) {
        std::fs::write(tmp.path().join("out").join(f), b"leftover").unwrap();
    }
    paddy_ok(
        tmp.path(),
        &[
            "index",
            tile.to_str().unwrap(),
            "-i",
            "ndvi",
            "-o",
            "out",
            "-q",
        ],
    );
    let files = files_in(&tmp.path().join("out"));
    assert_eq!(
        files,
        vec![
            live.clone(),
            "drone_20260718_ndvi.qml".into(),
            "drone_20260718_ndvi.tif".into()
        ]
    );
}
