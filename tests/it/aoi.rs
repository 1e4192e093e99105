//! `--aoi`: the output is the input grid cropped to the pixels the area touches, and equal to
//! the same window of the whole run (no resampling), for a box in the inputs' CRS, a box in
//! lon/lat, and a vector file.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

use crate::common::*;

/// The window of `full` that `part` covers: (column, row) of its origin, after checking that
/// the pixel size is the same and the origin falls on a pixel corner of `full`.
fn window_of(full: &Path, part: &Path) -> (usize, usize) {
    let f = gdal::Dataset::open(full).unwrap().geo_transform().unwrap();
    let p = gdal::Dataset::open(part).unwrap().geo_transform().unwrap();
    assert_eq!((f[1], f[5]), (p[1], p[5]), "same pixel size");
    let (cx, cy) = ((p[0] - f[0]) / f[1], (p[3] - f[3]) / f[5]);
    assert!(
        (cx - cx.round()).abs() < 1e-9 && (cy - cy.round()).abs() < 1e-9,
        "{cx} {cy}"
    );
    (cx.round() as usize, cy.round() as usize)
}

/// Every pixel of `part` equal (to `tolerance`) to the pixel of `full` under it.
fn assert_same_window(full: &Path, part: &Path, tolerance: f64) -> (usize, usize, usize, usize) {
    let (x0, y0) = window_of(full, part);
    let (f, p) = (read_band(full, 1), read_band(part, 1));
    assert!(x0 + p.width <= f.width && y0 + p.height <= f.height);
    let mut valid = 0;
    for y in 0..p.height {
        for x in 0..p.width {
            let (a, b) = (p.data[y * p.width + x], f.data[(y + y0) * f.width + x + x0]);
            assert!(
                (a - b).abs() <= tolerance,
                "{} pixel ({x}, {y}): {a} vs {b} in the whole run",
                part.display()
            );
            valid += (a != -9999.0) as usize;
        }
    }
    assert!(
        valid > 0,
        "the area has no valid pixels: the test proves nothing"
    );
    (x0, y0, p.width, p.height)
}

fn corners_in(epsg: u32, bounds: [f64; 4], wkt: &str) -> [f64; 4] {
    let mut a = SpatialRef::from_epsg(epsg).unwrap();
    let mut b = SpatialRef::from_wkt(wkt).unwrap();
    a.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    b.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&a, &b)
        .unwrap()
        .transform_bounds(&bounds, 21)
        .unwrap()
}

#[test]
fn an_area_gives_the_same_window_of_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let drone = root().join("sample_tiles/drone_20260718.tif");
    let d = drone.to_str().unwrap();
    paddy_ok(dir, &["index", d, "-i", "ndvi,ndrei", "-o", "full", "-q"]);
    // A box in the raster's CRS (UTM 48N), edges off the pixel lines.
    paddy_ok(
        dir,
        &[
            "index",
            d,
            "-i",
            "ndvi,ndrei",
            "-o",
            "box",
            "-q",
            "--aoi",
            "560110.3,1149801.2,560161.7,1149870.9",
        ],
    );
    for index in ["ndvi", "ndrei"] {
        let full = dir.join(format!("full/drone_20260718_{index}.tif"));
        let part = dir.join(format!("box/drone_20260718_{index}.tif"));
        let (x0, y0, w, h) = assert_same_window(&full, &part, 0.0);
        // 0.5 m pixels from 560092, 1149936: the pixels the box touches.
        assert_eq!((x0, y0, w, h), (36, 130, 104, 140), "{index}");
    }
    // The plots (lon/lat GeoJSON): the output covers their projected extent, to a pixel.
    let plots = root().join("sample_tiles/plots.geojson");
    paddy_ok(
        dir,
        &[
            "index",
            d,
            "-i",
            "ndvi",
            "-o",
            "plots",
            "-q",
            "--aoi",
            plots.to_str().unwrap(),
        ],
    );
    let part = dir.join("plots/drone_20260718_ndvi.tif");
    let full = dir.join("full/drone_20260718_ndvi.tif");
    assert_same_window(&full, &part, 0.0);
    let ds = gdal::Dataset::open(&part).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let (x1, y1) = (gt[0] + w as f64 * gt[1], gt[3] + h as f64 * gt[5]);
    let wkt = ds.projection();
    let want = corners_in(4326, [105.548231, 10.400331, 105.551528, 10.402742], &wkt);
    let grid = gdal::Dataset::open(&full).unwrap();
    let fg = grid.geo_transform().unwrap();
    let (fw, fh) = grid.raster_size();
    // Clipped to the raster where the plots reach beyond it.
    let want = [
        want[0].max(fg[0]),
        want[1].max(fg[3] + fh as f64 * fg[5]),
        want[2].min(fg[0] + fw as f64 * fg[1]),
        want[3].min(fg[3]),
    ];
    for (got, want, side) in [
        (gt[0], want[0], "west"),
        (y1, want[1], "south"),
        (x1, want[2], "east"),
        (gt[3], want[3], "north"),
    ] {
        assert!((got - want).abs() < 0.5 + 1e-6, "{side}: {got} vs {want}");
    }
}

#[test]
fn an_area_over_resampled_bands_matches_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The 10/20 m bands of tests/it/resolutions.rs (its SCL is not used here).
    if crate::resolutions::bands(dir).is_none() {
        return;
    }
    let args = |out: &'static str| {
        vec![
            "index",
            "--sensor",
            "sentinel2-l2a",
            "--band",
            "R=B04_10m.tif",
            "--band",
            "N=B08_10m.tif",
            "--band",
            "RE1=B05_20m.tif",
            "-i",
            "ndre",
            "--name",
            "t",
            "-o",
            out,
            "-q",
        ]
    };
    paddy_ok(dir, &args("full"));
    let mut with_aoi = args("part");
    // An odd number of 10 m pixels in, so the area starts inside a 20 m pixel.
    with_aoi.extend(["--aoi", "359500,5350000,361000,5351550"]);
    paddy_ok(dir, &with_aoi);
    let (x0, y0, w, h) = assert_same_window(
        &dir.join("full/t_ndre.tif"),
        &dir.join("part/t_ndre.tif"),
        1e-6,
    );
    assert_eq!((x0, y0, w, h), (37, 79, 150, 155));
}

#[test]
fn an_area_beside_the_inputs_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let drone = root().join("sample_tiles/drone_20260718.tif");
    let out = paddy(
        tmp.path(),
        &[
            "index",
            drone.to_str().unwrap(),
            "-i",
            "ndvi",
            "-o",
            "out",
            "--aoi",
            "0,0,10,10",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("area of interest 0,0,10,10 does not overlap"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
}
