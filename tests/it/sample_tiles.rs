//! The bundled synthetic rice scene: Sentinel-2-like stacks with the baseline-04.00 DN offset and
//! SCL files, drone flights with band names, computed without any --band.

use crate::common::*;

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
