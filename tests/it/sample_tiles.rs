//! The bundled synthetic rice scene: Sentinel-2-like stacks with the baseline-04.00 DN offset and
//! SCL files, drone flights with band names, computed without any --band.

use crate::common::*;
use std::path::Path;

/// Sentinel-2 L2A reflectance from a DN with BOA_ADD_OFFSET = -1000 (baseline >= 04.00).
fn s2_reflectance(dn: f64) -> f64 {
    (dn - 1000.0) / 10000.0
}

#[test]
fn sentinel2_sample_gets_offset_scl_mask_and_nodata_right() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root();
    for date in ["20260627", "20260905"] {
        let tile = root.join(format!("sample_tiles/s2_{date}.tif"));
        let scl = root.join(format!("sample_tiles/s2_{date}_scl.tif"));
        paddy_ok(
            tmp.path(),
            &[
                "index",
                tile.to_str().unwrap(),
                scl.to_str().unwrap(),
                "--index",
                "ndvi,lswi",
                "--out",
                "out",
                "-q",
            ],
        );
        // Bands: B2 B3 B4 B5 B8 B11 -> red 3, NIR 5, SWIR1 6.
        let red = read_band(&tile, 3);
        let nir = read_band(&tile, 5);
        let swir = read_band(&tile, 6);
        let classes = read_band(&scl, 1);
        let ndvi = read_band(&tmp.path().join(format!("out/s2_{date}_ndvi.tif")), 1);
        let lswi = read_band(&tmp.path().join(format!("out/s2_{date}_lswi.tif")), 1);
        assert_eq!(ndvi.nodata, Some(-9999.0));
        let (mut masked, mut compared) = (0, 0);
        for i in 0..red.data.len() {
            let invalid = [red.data[i], nir.data[i], swir.data[i]].contains(&0.0)
                || [0.0, 1.0, 3.0, 8.0, 9.0, 10.0, 11.0].contains(&classes.data[i]);
            if invalid {
                masked += 1;
                assert_eq!(ndvi.data[i], -9999.0, "{date} pixel {i} should be masked");
                assert_eq!(lswi.data[i], -9999.0, "{date} pixel {i} should be masked");
                continue;
            }
            let (r, n, s) = (
                s2_reflectance(red.data[i]),
                s2_reflectance(nir.data[i]),
                s2_reflectance(swir.data[i]),
            );
            assert!(
                (ndvi.data[i] - (n - r) / (n + r)).abs() <= 1e-5,
                "{date} NDVI pixel {i}"
            );
            assert!(
                (lswi.data[i] - (n - s) / (n + s)).abs() <= 1e-5,
                "{date} LSWI pixel {i}"
            );
            compared += 1;
        }
        // 06-27 carries a cloud and its shadow, 09-05 a nodata swath edge: both must show.
        assert!(masked > 10, "{date}: only {masked} pixels masked");
        assert!(compared > 1000, "{date}: only {compared} pixels compared");
    }
}

#[test]
fn drone_sample_roles_come_from_band_descriptions() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260718.tif");
    paddy_ok(
        tmp.path(),
        &[
            "index",
            tile.to_str().unwrap(),
            "--index",
            "NDRE,cire",
            "-q",
        ],
    );
    // Bands: Blue Green Red RedEdge NIR, Float32 reflectance, nodata -10000.
    let re = read_band(&tile, 4);
    let nir = read_band(&tile, 5);
    let ndre = read_band(&tmp.path().join("drone_20260718_ndre.tif"), 1);
    let cire = read_band(&tmp.path().join("drone_20260718_cire.tif"), 1);
    let mut nodata = 0;
    for i in 0..re.data.len() {
        if re.data[i] == -10000.0 || nir.data[i] == -10000.0 {
            nodata += 1;
            assert_eq!(ndre.data[i], -9999.0);
            assert_eq!(cire.data[i], -9999.0);
            continue;
        }
        let (e, n) = (re.data[i], nir.data[i]);
        assert!(
            (ndre.data[i] - (n - e) / (n + e)).abs() <= 1e-5,
            "NDRE pixel {i}"
        );
        let ci = n / e - 1.0;
        assert!(
            (cire.data[i] - ci).abs() <= 1e-5 * ci.abs().max(1.0),
            "CIre pixel {i}"
        );
    }
    assert!(nodata > 0, "the flight footprint's cut corners are nodata");
    assert_eq!(
        files_in(tmp.path()),
        vec![
            "drone_20260718_cire.qml",
            "drone_20260718_cire.tif",
            "drone_20260718_ndre.qml",
            "drone_20260718_ndre.tif"
        ],
        "only the outputs and their QGIS styles, no staging leftovers"
    );
}

#[test]
fn outputs_are_cogs_on_the_input_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260814.tif");
    paddy_ok(
        tmp.path(),
        &["index", tile.to_str().unwrap(), "-i", "evi", "-q"],
    );
    let input = gdal::Dataset::open(&tile).unwrap();
    let output = gdal::Dataset::open(tmp.path().join("drone_20260814_evi.tif")).unwrap();
    use gdal::Metadata;
    assert_eq!(
        output.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    assert_eq!(output.raster_size(), input.raster_size());
    assert_eq!(
        output.geo_transform().unwrap(),
        input.geo_transform().unwrap()
    );
    assert_eq!(output.spatial_ref().unwrap(), input.spatial_ref().unwrap());
    let band = output.rasterband(1).unwrap();
    assert_eq!(band.description().unwrap(), "EVI");
    assert_eq!(band.no_data_value(), Some(-9999.0));
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::Float32);
    assert_eq!(
        band.metadata_item("FORMULA", "").as_deref(),
        Some("g * (N - R) / (N + C1 * R - C2 * B + L)")
    );
}

/// A scene classification covering only part of the image (a clip, a tile edge): where it has
/// no pixel nothing says the pixel is clear, so the output is nodata there, as where a
/// reflectance band has no pixel; inside it the numbers are those of the whole mask. The same in
/// `paddy index` and `paddy run`.
#[test]
fn a_mask_smaller_than_the_image_leaves_nodata_outside_its_extent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiles = root().join("sample_tiles");
    let tile = tiles.join("s2_20260627.tif");
    let scl = tiles.join("s2_20260627_scl.tif");
    let index = |scl: &Path, out: &str| {
        paddy_ok(
            dir,
            &[
                "index",
                tile.to_str().unwrap(),
                scl.to_str().unwrap(),
                "--index",
                "ndvi",
                "--out",
                out,
                "-q",
            ],
        );
        read_band(&dir.join(out).join("s2_20260627_ndvi.tif"), 1)
    };
    let whole = index(&scl, "whole");
    // The top-left corner, and a window off the origin that holds part of the cloud.
    for (k, (x0, y0, w, h)) in [(0usize, 0usize, 20usize, 15usize), (10, 5, 25, 20)]
        .into_iter()
        .enumerate()
    {
        let clip_dir = dir.join(format!("clip{k}"));
        std::fs::create_dir(&clip_dir).unwrap();
        let clip = clip_dir.join("s2_20260627_scl.tif");
        let window = [x0, y0, w, h].map(|v| v.to_string());
        crate::resolutions::gdal_cli(
            dir,
            "gdal_translate",
            &[
                "-q",
                "-srcwin",
                &window[0],
                &window[1],
                &window[2],
                &window[3],
                scl.to_str().unwrap(),
                clip.to_str().unwrap(),
            ],
        );
        let got = index(&clip, &format!("out{k}"));
        let (mut outside_valid, mut inside_valid) = (0, 0);
        for (i, (&g, &full)) in got.data.iter().zip(&whole.data).enumerate() {
            let (x, y) = (i % whole.width, i / whole.width);
            let inside = (x0..x0 + w).contains(&x) && (y0..y0 + h).contains(&y);
            if inside {
                assert_eq!(g, full, "clip {k} pixel ({x}, {y}) inside the mask");
                inside_valid += (full != -9999.0) as usize;
            } else {
                assert_eq!(g, -9999.0, "clip {k} pixel ({x}, {y}) has no mask value");
                outside_valid += (full != -9999.0) as usize;
            }
        }
        // The whole mask leaves most pixels outside the clip valid: those are what changed.
        assert!(outside_valid > 500 && inside_valid > 250, "clip {k}");
    }

    // `paddy run` reads tiles and masks the same way.
    let run_dir = dir.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::copy(&tile, run_dir.join("s2_20260627.tif")).unwrap();
    std::fs::copy(
        dir.join("clip0/s2_20260627_scl.tif"),
        run_dir.join("s2_20260627_scl.tif"),
    )
    .unwrap();
    std::fs::copy(tiles.join("plots.geojson"), run_dir.join("plots.geojson")).unwrap();
    std::fs::write(
        run_dir.join("run.toml"),
        r#"output = "out"
[[sources]]
name = "s2"
tiles = ["s2_20260627.tif"]
mask = "{stem}_scl.tif"
sensor = "sentinel2-l2a"
date_pattern = "{yyyy}{mm}{dd}"
indices = ["ndvi"]
[plots]
files = ["plots.geojson"]
id_field = "plot_id"
"#,
    )
    .unwrap();
    paddy_ok(
        dir,
        &[
            "run",
            run_dir.join("run.toml").to_str().unwrap(),
            "--run-date",
            "2026-06-28",
            "-q",
        ],
    );
    let run = read_band(
        &run_dir.join("out/2026-06-28/index/s2/s2_20260627_ndvi.tif"),
        1,
    );
    let index0 = read_band(&dir.join("out0/s2_20260627_ndvi.tif"), 1);
    assert_eq!(run.data, index0.data);
}

/// An image with the scene classification of another date (both carry PRODUCT_START_TIME) is
/// refused naming both files and both dates: the mask would keep that day's clouds and drop
/// clear pixels, silently.
#[test]
fn a_mask_of_another_date_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let tile = tiles.join("s2_20260717.tif");
    let scl = tiles.join("s2_20260627_scl.tif");
    let out = paddy(
        tmp.path(),
        &[
            "index",
            tile.to_str().unwrap(),
            scl.to_str().unwrap(),
            "--index",
            "ndvi",
            "--out",
            "mix",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for part in [
        "s2_20260717.tif",
        "s2_20260627_scl.tif",
        "2026-07-17",
        "2026-06-27",
        "20 days apart",
    ] {
        assert!(err.contains(part), "{part} in: {err}");
    }
    assert!(files_in(tmp.path()).is_empty(), "nothing written");
    // The mask of the same date is used as before.
    let same = tiles.join("s2_20260717_scl.tif");
    paddy_ok(
        tmp.path(),
        &[
            "index",
            tile.to_str().unwrap(),
            same.to_str().unwrap(),
            "--index",
            "ndvi",
            "--out",
            "ok",
            "-q",
        ],
    );
}
