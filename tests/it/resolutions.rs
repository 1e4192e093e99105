//! Bands at different resolutions (Sentinel-2's 10 and 20 m) read onto one grid, checked against
//! a float64 reference computed from bands resampled by the `gdalwarp` command itself.
//!
//! The bands are real: the Austrian Sentinel-2 L2A clip in ../shared/data (10 m), with its green
//! band averaged to 20 m standing in for a 20 m red-edge band, and a 20 m scene classification
//! written here with cloud, shadow and clear classes.

use std::path::{Path, PathBuf};

use gdal::Metadata;
use std::process::Command;

use crate::common::*;

/// Run a GDAL command-line tool in `dir`; panics with its stderr on failure.
pub fn gdal_cli(dir: &Path, tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 20 m SCL-like class raster on `like`'s 20 m grid: cloud (9) in the top-left quarter,
/// shadow (3) in a band across the middle, vegetation (4) elsewhere.
pub fn write_classes(like: &Path, path: &Path) {
    let src = gdal::Dataset::open(like).unwrap();
    let (w, h) = src.raster_size();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u8, _>(path, w, h, 1)
        .unwrap();
    ds.set_geo_transform(&src.geo_transform().unwrap()).unwrap();
    ds.set_projection(&src.projection()).unwrap();
    let data: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x < w / 4 && y < h / 4 {
                9
            } else if (h / 2..h / 2 + 7).contains(&y) {
                3
            } else {
                4
            }
        })
        .collect();
    let mut band = ds.rasterband(1).unwrap();
    band.set_description("SCL").unwrap();
    let mut buffer = gdal::raster::Buffer::new((w, h), data);
    band.write((0, 0), (w, h), &mut buffer).unwrap();
}

/// `src` resampled by gdalwarp onto the grid of `like` (size and extent), as `out`, in Float32
/// (resampled values are not rounded back to the source's integers, as paddy does not).
pub fn warp_like(dir: &Path, src: &str, like: &Path, method: &str, nodata: bool, out: &str) {
    let ds = gdal::Dataset::open(like).unwrap();
    let (w, h) = ds.raster_size();
    let gt = ds.geo_transform().unwrap();
    let (x1, y0) = (gt[0] + w as f64 * gt[1], gt[3] + h as f64 * gt[5]);
    let te = [gt[0], y0, x1, gt[3]].map(|v| v.to_string());
    let (ws, hs) = (w.to_string(), h.to_string());
    let mut args = vec![
        "-q", "-te", &te[0], &te[1], &te[2], &te[3], "-ts", &ws, &hs, "-r", method, "-ovr", "NONE",
        "-ot", "Float32",
    ];
    if nodata {
        args.extend(["-srcnodata", "0", "-dstnodata", "0"]);
    }
    args.extend([src, out]);
    gdal_cli(dir, "gdalwarp", &args);
}

/// A normalised difference in float64 of two Sentinel-2 DN bands (reflectance = DN / 10000),
/// -9999 where a DN is 0 (no data) or the class is cloud, shadow or no data.
pub fn nd_reference(a: &Band64, b: &Band64, classes: Option<&Band64>) -> Vec<f64> {
    (0..a.data.len())
        .map(|i| {
            let (x, y) = (a.data[i], b.data[i]);
            let masked =
                classes.is_some_and(|c| [0.0, 1.0, 3.0, 8.0, 9.0, 10.0, 11.0].contains(&c.data[i]));
            if x == 0.0 || y == 0.0 || masked {
                return -9999.0;
            }
            let (x, y) = (x * 1e-4, y * 1e-4);
            (x - y) / (x + y)
        })
        .collect()
}

/// Every pixel equal to the reference within f32 rounding (2e-6); returns how many were compared.
pub fn assert_matches(got: &Path, want: &[f64], what: &str) -> usize {
    assert_within(got, want, 2e-6, what)
}

/// Every pixel within `tolerance` of the reference; returns how many were compared.
pub fn assert_within(got: &Path, want: &[f64], tolerance: f64, what: &str) -> usize {
    let got = read_band(got, 1);
    assert_eq!(got.data.len(), want.len(), "{what}: size");
    let mut compared = 0;
    for (i, (g, w)) in got.data.iter().zip(want).enumerate() {
        if *w == -9999.0 || !w.is_finite() {
            assert_eq!(*g, -9999.0, "{what} pixel {i}: want nodata, got {g}");
        } else {
            assert!((g - w).abs() <= tolerance, "{what} pixel {i}: {g} vs {w}");
            compared += 1;
        }
    }
    compared
}

/// 10 m red and NIR, a 20 m "red edge" and a 20 m SCL in `dir`; None where the data is absent.
pub fn bands(dir: &Path) -> Option<PathBuf> {
    let stack = shared_data()?.join("s2_austria_bitemporal/inference-img.tif");
    let s = stack.to_str().unwrap();
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "1", s, "B04_10m.tif"]);
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "4", s, "B08_10m.tif"]);
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "2", s, "green.tif"]);
    gdal_cli(
        dir,
        "gdalwarp",
        &[
            "-q",
            "-tr",
            "20",
            "20",
            "-r",
            "average",
            "green.tif",
            "B05_20m.tif",
        ],
    );
    write_classes(&dir.join("B05_20m.tif"), &dir.join("SCL_20m.tif"));
    Some(stack)
}

fn index_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "index",
        "--sensor",
        "sentinel2-l2a",
        "--band",
        "R=B04_10m.tif",
        "--band",
        "N=B08_10m.tif",
        "--band",
        "RE1=B05_20m.tif",
        "--band",
        "SCL=SCL_20m.tif",
        "--index",
        "ndvi,ndre",
        "--name",
        "t",
        "-q",
    ];
    args.extend(extra);
    args
}

#[test]
fn twenty_metre_bands_are_read_onto_the_ten_metre_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if bands(dir).is_none() {
        return;
    }
    paddy_ok(dir, &index_args(&["--out", "out"]));
    // The output is on the finest grid: the 10 m bands' size and geotransform.
    let (out, ten) = (
        gdal::Dataset::open(dir.join("out/t_ndre.tif")).unwrap(),
        gdal::Dataset::open(dir.join("B04_10m.tif")).unwrap(),
    );
    assert_eq!(out.raster_size(), ten.raster_size());
    assert_eq!(out.geo_transform().unwrap(), ten.geo_transform().unwrap());

    // Reference: the 20 m bands resampled by gdalwarp (bilinear for reflectance, nearest for
    // classes), then NDRE and NDVI in float64.
    let like = dir.join("B04_10m.tif");
    warp_like(dir, "B05_20m.tif", &like, "bilinear", true, "re1_ref.tif");
    warp_like(dir, "SCL_20m.tif", &like, "near", false, "scl_ref.tif");
    let (red, nir) = (read_band(&like, 1), read_band(&dir.join("B08_10m.tif"), 1));
    let re1 = read_band(&dir.join("re1_ref.tif"), 1);
    let scl = read_band(&dir.join("scl_ref.tif"), 1);
    let ndre = nd_reference(&nir, &re1, Some(&scl));
    let ndvi = nd_reference(&nir, &red, Some(&scl));
    let n = assert_matches(&dir.join("out/t_ndre.tif"), &ndre, "NDRE");
    assert!(n > 100_000, "only {n} pixels compared");
    assert_matches(&dir.join("out/t_ndvi.tif"), &ndvi, "NDVI");
    // The classes were not blended: a shadow band of 7 rows at 20 m is 14 rows at 10 m.
    let masked_rows = (0..scl.height)
        .filter(|y| scl.data[y * scl.width + scl.width / 2] == 3.0)
        .count();
    assert_eq!(masked_rows, 14);
}

#[test]
fn a_coarser_resolution_averages_the_ten_metre_bands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if bands(dir).is_none() {
        return;
    }
    paddy_ok(dir, &index_args(&["--resolution", "20", "--out", "out20"]));
    paddy_ok(
        dir,
        &index_args(&["--grid", "like:SCL_20m.tif", "--out", "like"]),
    );
    let out = dir.join("out20/t_ndvi.tif");
    let like = dir.join("SCL_20m.tif");
    // 5780 × 3790 m at 20 m: 289 × 190 (the last row covers the 10 m remainder), as SCL's grid.
    let (a, b) = (read_band(&out, 1), read_band(&like, 1));
    assert_eq!((a.width, a.height), (289, 190));
    assert_eq!((b.width, b.height), (289, 190));
    warp_like(dir, "B04_10m.tif", &like, "average", true, "red_ref.tif");
    warp_like(dir, "B08_10m.tif", &like, "average", true, "nir_ref.tif");
    let (red, nir) = (
        read_band(&dir.join("red_ref.tif"), 1),
        read_band(&dir.join("nir_ref.tif"), 1),
    );
    let want = nd_reference(&nir, &red, Some(&b));
    let n = assert_matches(&out, &want, "NDVI at 20 m");
    assert!(n > 30_000, "only {n} pixels compared");
    assert_matches(&dir.join("like/t_ndvi.tif"), &want, "NDVI like SCL");
}

#[test]
fn grids_that_differ_in_extent_are_read_where_they_overlap() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if bands(dir).is_none() {
        return;
    }
    // NIR cut 30 columns narrower on the left: those columns have no NIR, so no index.
    gdal_cli(
        dir,
        "gdal_translate",
        &[
            "-q",
            "-srcwin",
            "30",
            "0",
            "548",
            "379",
            "B08_10m.tif",
            "nir_cut.tif",
        ],
    );
    paddy_ok(
        dir,
        &[
            "index",
            "--sensor",
            "sentinel2-l2a",
            "--band",
            "R=B04_10m.tif",
            "--band",
            "N=nir_cut.tif",
            "--name",
            "t",
            "--index",
            "ndvi",
            "--out",
            "out",
            "-q",
        ],
    );
    let got = read_band(&dir.join("out/t_ndvi.tif"), 1);
    assert_eq!((got.width, got.height), (578, 379));
    let (red, nir) = (
        read_band(&dir.join("B04_10m.tif"), 1),
        read_band(&dir.join("B08_10m.tif"), 1),
    );
    let mut want = nd_reference(&nir, &red, None);
    for (i, w) in want.iter_mut().enumerate() {
        if i % 578 < 30 {
            *w = -9999.0;
        }
    }
    assert_matches(&dir.join("out/t_ndvi.tif"), &want, "NDVI");
}

/// A ratio that is not whole (10 m onto 25 m) goes through GDAL's warper (a warped VRT) rather
/// than paddy's own stencil: the same numbers as gdalwarp all the same.
#[test]
fn a_ratio_that_is_not_whole_is_averaged_by_the_warper() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if bands(dir).is_none() {
        return;
    }
    // 5780 × 3790 m at 25 m: 232 × 152 pixels from the same origin.
    gdal_cli(
        dir,
        "gdalwarp",
        &[
            "-q",
            "-te",
            "359130",
            "5348540",
            "364930",
            "5352340",
            "-ts",
            "232",
            "152",
            "-r",
            "near",
            "B04_10m.tif",
            "grid25.tif",
        ],
    );
    let args = [
        "index",
        "--sensor",
        "sentinel2-l2a",
        "--band",
        "R=B04_10m.tif",
        "--band",
        "N=B08_10m.tif",
        "--index",
        "ndvi",
        "--name",
        "t",
        "--grid",
        "like:grid25.tif",
        "--out",
        "out25",
        "-q",
    ];
    paddy_ok(dir, &args);
    let like = dir.join("grid25.tif");
    warp_like(dir, "B04_10m.tif", &like, "average", true, "red25.tif");
    warp_like(dir, "B08_10m.tif", &like, "average", true, "nir25.tif");
    let (red, nir) = (
        read_band(&dir.join("red25.tif"), 1),
        read_band(&dir.join("nir25.tif"), 1),
    );
    let want = nd_reference(&nir, &red, None);
    let n = assert_matches(&dir.join("out25/t_ndvi.tif"), &want, "NDVI at 25 m");
    assert!(n > 30_000, "only {n} pixels compared");
}
