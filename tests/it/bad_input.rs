//! Bad inputs: each gives one clear line on stderr, exit code 1 (processing) or 2 (usage), and
//! writes nothing — not even over an older output of the same name.

use std::path::Path;

use crate::common::*;

/// Run paddy expecting failure with `code`; returns stderr, checked to be one `paddy: error:` line.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = paddy(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "paddy {args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got:\n{stderr}");
    assert!(lines[0].starts_with("paddy: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn sample(name: &str) -> String {
    root().join("sample_tiles").join(name).display().to_string()
}

#[test]
fn truncated_tiff_fails_and_keeps_the_old_output() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample("drone_20260718.tif")).unwrap();
    std::fs::write(tmp.path().join("cut.tif"), &bytes[..bytes.len() * 6 / 10]).unwrap();
    std::fs::create_dir(tmp.path().join("out")).unwrap();
    std::fs::write(tmp.path().join("out/cut_ndvi.tif"), b"an older result").unwrap();
    let err = fails(
        tmp.path(),
        &["index", "cut.tif", "--index", "ndvi,ndre", "--out", "out"],
        1,
    );
    assert!(err.contains("cut.tif"), "{err}");
    assert_eq!(files_in(&tmp.path().join("out")), vec!["cut_ndvi.tif"]);
    assert_eq!(
        std::fs::read(tmp.path().join("out/cut_ndvi.tif")).unwrap(),
        b"an older result"
    );
}

#[test]
fn text_file_named_tif_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.tif"), "field notes, not an image\n").unwrap();
    let err = fails(
        tmp.path(),
        &["index", "notes.tif", "-i", "ndvi", "-o", "out"],
        1,
    );
    assert!(
        err.contains("notes.tif") && err.contains("cannot open as a raster"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn missing_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(tmp.path(), &["index", "nowhere.tif", "-i", "ndvi"], 1);
    assert!(
        err.contains("nowhere.tif") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn band_number_out_of_range_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = sample("s2_20260717.tif");
    let err = fails(
        tmp.path(),
        &[
            "index", &tile, "--band", "N=9", "--band", "R=3", "-i", "ndvi",
        ],
        2,
    );
    assert!(
        err.contains("band 9 does not exist (the file has 6 bands)"),
        "{err}"
    );
    assert!(files_in(tmp.path()).is_empty());
}

/// `gdal_translate`/`gdalwarp` with `args`, or None (the test then skips) where it is missing.
fn gdal_tool(tool: &str, args: &[&str]) -> Option<()> {
    let status = std::process::Command::new(tool).args(args).status();
    if status.is_ok_and(|s| s.success()) {
        Some(())
    } else {
        eprintln!("SKIPPED: {tool} is not available");
        None
    }
}

#[test]
fn inputs_in_different_crss_name_both_files_and_both_crss() {
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("nir_utm47.tif");
    let s2 = sample("s2_20260717.tif");
    let args = [
        "-q",
        "-b",
        "5",
        "-t_srs",
        "EPSG:32647",
        &s2,
        other.to_str().unwrap(),
    ];
    if gdal_tool("gdalwarp", &args).is_none() {
        return;
    }
    let red = format!("R={s2}:3");
    let err = fails(
        tmp.path(),
        &[
            "index",
            "--band",
            &red,
            "--band",
            "N=nir_utm47.tif",
            "-i",
            "ndvi",
            "-o",
            "out",
        ],
        1,
    );
    assert!(
        err.contains("s2_20260717.tif") && err.contains("nir_utm47.tif"),
        "{err}"
    );
    assert!(
        err.contains("EPSG:32648") && err.contains("EPSG:32647"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
}

/// Grids that differ by whole pixels are read onto one grid (tests/it/resolutions.rs); half a
/// pixel off is a mistake to fix first, not something to interpolate over.
#[test]
fn grids_shifted_by_part_of_a_pixel_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s2 = sample("s2_20260717.tif");
    let shifted = tmp.path().join("shifted.tif");
    let args = [
        "-q",
        "-b",
        "5",
        "-a_ullr",
        "560005",
        "1150000",
        "560405",
        "1149700",
        &s2,
        shifted.to_str().unwrap(),
    ];
    if gdal_tool("gdal_translate", &args).is_none() {
        return;
    }
    let red = format!("R={s2}:3");
    let err = fails(
        tmp.path(),
        &[
            "index",
            "--band",
            &red,
            "--band",
            "N=shifted.tif",
            "-i",
            "ndvi",
            "-o",
            "out",
        ],
        1,
    );
    assert!(
        err.contains("shifted.tif") && err.contains("not aligned"),
        "{err}"
    );
    assert!(err.contains("0.500"), "{err}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn missing_role_says_which_and_how_to_map_it() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = sample("s2_20260717.tif");
    let err = fails(
        tmp.path(),
        &[
            "index",
            &tile,
            "--sensor",
            "generic",
            "--band",
            "R=3",
            "--band",
            "N=5",
            "-i",
            "ndvi,ndre",
        ],
        2,
    );
    assert!(
        err.contains("index NDREI needs band RE1 (red edge 1)"),
        "{err}"
    );
    assert!(err.contains("map it by hand (RE1="), "{err}");
    assert!(files_in(tmp.path()).is_empty());
}

#[test]
fn usage_mistakes_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = sample("s2_20260717.tif");
    let err = fails(tmp.path(), &["index", &tile, "-i", "ndvix"], 2);
    assert!(err.contains("unknown index 'ndvix'"), "{err}");
    let err = fails(tmp.path(), &["index", &tile, "-i", "bai"], 2);
    assert!(err.contains("'bai' could be BAI or BaI"), "{err}");
    let err = fails(
        tmp.path(),
        &["index", &tile, "-i", "ndvi", "--sensor", "spot7"],
        2,
    );
    assert!(err.contains("unknown sensor 'spot7'"), "{err}");
    // clap's own errors: unknown role, missing --index.
    let out = paddy(tmp.path(), &["index", &tile, "-i", "ndvi", "--band", "Q=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown band role 'Q'"));
    let out = paddy(tmp.path(), &["index", &tile]);
    assert_eq!(out.status.code(), Some(2));
    assert!(files_in(tmp.path()).is_empty());
}

#[test]
fn outputs_never_overwrite_inputs_or_files_posing_as_folders() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(sample("s2_20260717.tif"), tmp.path().join("x_ndvi.tif")).unwrap();
    let err = fails(
        tmp.path(),
        &[
            "index",
            "x_ndvi.tif",
            "--name",
            "x",
            "-b",
            "R=3",
            "-b",
            "N=5",
            "-i",
            "ndvi",
        ],
        2,
    );
    assert!(err.contains("would overwrite an input"), "{err}");
    let err = fails(
        tmp.path(),
        &[
            "index",
            "x_ndvi.tif",
            "-b",
            "R=3",
            "-b",
            "N=5",
            "-i",
            "ndvi",
            "-o",
            "x_ndvi.tif",
        ],
        2,
    );
    assert!(err.contains("is a file, not a folder"), "{err}");
    assert_eq!(files_in(tmp.path()), vec!["x_ndvi.tif"]);
}

#[test]
fn a_container_of_subdatasets_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let gpkg = tmp.path().join("two.gpkg");
    let tile = sample("s2_20260717.tif");
    let made = [
        vec!["-q", "-b", "3", "-of", "GPKG", "-co", "RASTER_TABLE=red"],
        vec![
            "-q",
            "-b",
            "5",
            "-of",
            "GPKG",
            "-co",
            "RASTER_TABLE=nir",
            "-co",
            "APPEND_SUBDATASET=YES",
        ],
    ]
    .iter()
    .all(|args| {
        std::process::Command::new("gdal_translate")
            .args(args)
            .arg(&tile)
            .arg(&gpkg)
            .status()
            .is_ok_and(|s| s.success())
    });
    if !made {
        eprintln!("SKIPPED: gdal_translate cannot write GeoPackage rasters");
        return;
    }
    let err = fails(tmp.path(), &["index", "two.gpkg", "-i", "ndvi"], 1);
    assert!(
        err.contains("holds subdatasets") && err.contains("GPKG:"),
        "{err}"
    );
}

#[test]
fn named_choices_are_checked_by_the_command_line_and_the_run_file() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = sample("drone_20260718.tif");
    // A wrong name is refused before any work, with the names that are allowed (clap's
    // message, exit 2); every spelling in use is accepted, the codec in any case.
    for (flag, bad, allowed) in [
        ("--compress", "jpeg", "zstd, deflate, lzw, none"),
        ("--predictor", "floating", "auto, none, horizontal, float"),
        ("--layout", "striped", "cog, tiled"),
        ("--engine", "hand", "auto, expr"),
    ] {
        let out = paddy(tmp.path(), &["index", &tile, "-i", "ndvi", flag, bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}: {err}");
        assert!(err.contains(bad) && err.contains(allowed), "{err}");
    }
    let out = paddy(
        tmp.path(),
        &["stage", &tile, "-p", "x.gpkg", "--smoother", "loess"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("whittaker, envelope, savgol"), "{err}");
    paddy_ok(
        tmp.path(),
        &[
            "index",
            &tile,
            "-i",
            "ndvi",
            "-o",
            "out",
            "--compress",
            "DEFLATE",
            "--predictor",
            "float",
            "--layout",
            "tiled",
            "--engine",
            "expr",
            "-q",
        ],
    );
    // What each choice writes is checked in formats.rs; here: accepted, and written.
    assert!(tmp.path().join("out/drone_20260718_ndvi.tif").is_file());
    // The run file: the key, the value and the allowed names, exit 2.
    let run = tmp.path().join("run.toml");
    let text = "output = \"o\"\n[[sources]]\nname = \"s2\"\ntiles = [\"*.tif\"]\nindices = [\"ndvi\"]\n[plots]\nfiles = [\"p.geojson\"]\n[stage]\nsource = \"s2\"\nsmoother = \"SMOOTHER\"\n";
    std::fs::write(&run, text.replace("SMOOTHER", "savgol")).unwrap();
    let out = paddy(tmp.path(), &["validate", "run.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("smoother") && !err.contains("variant"),
        "{err}"
    );
    std::fs::write(&run, text.replace("SMOOTHER", "Savgol")).unwrap();
    let out = paddy(tmp.path(), &["validate", "run.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("smoother = \"Savgol\"") && err.contains("`whittaker`, `envelope`, `savgol`"),
        "{err}"
    );
}
