//! The default output is a Cloud Optimized GeoTIFF by the rules of GDAL's own validator
//! (`validate_cloud_optimized_geotiff.py`): checked here with GDAL's view of the file's structure
//! (IFD and tile offsets) and, where python3-gdal is installed, by the validator itself.

use std::path::Path;
use std::process::Command;

use gdal::raster::RasterBand;
use gdal::Metadata;

use crate::common::*;
use crate::streaming::big_tile;

fn offset(band: &RasterBand, item: &str) -> u64 {
    band.metadata_item(item, "TIFF")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Tiles of one level in row-major order: (offset, byte count).
fn tiles(band: &RasterBand) -> Vec<(u64, u64)> {
    let (bw, bh) = band.block_size();
    let (w, h) = band.size();
    let mut out = Vec::new();
    for y in 0..h.div_ceil(bh) {
        for x in 0..w.div_ceil(bw) {
            out.push((
                offset(band, &format!("BLOCK_OFFSET_{x}_{y}")),
                offset(band, &format!("BLOCK_SIZE_{x}_{y}")),
            ));
        }
    }
    out
}

/// The validator's checks, with its full check of every tile's leader and trailer.
fn check_cog(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let ds = gdal::Dataset::open(path).unwrap();
    // GDAL calls a file a COG only with its whole ghost header (leaders and trailers too).
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    let main = ds.rasterband(1).unwrap();
    let n = main.overview_count().unwrap() as usize;
    assert!(n >= 2, "overviews: {n}");
    let mut levels = vec![main];
    for i in 0..n {
        levels.push(ds.rasterband(1).unwrap().overview(i).unwrap());
    }
    // The ghost header and the first IFD right after it.
    let ghost = String::from_utf8_lossy(&bytes[8..200]).to_string();
    assert!(
        ghost.starts_with("GDAL_STRUCTURAL_METADATA_SIZE="),
        "{ghost}"
    );
    let size: u64 = ghost[30..36].parse().unwrap();
    for item in [
        "BLOCK_ORDER=ROW_MAJOR",
        "BLOCK_LEADER=SIZE_AS_UINT4",
        "BLOCK_TRAILER=LAST_4_BYTES_REPEATED",
        "KNOWN_INCOMPATIBLE_EDITION=NO",
    ] {
        assert!(ghost.contains(item), "{item} in {ghost}");
    }
    let first_ifd = (8 + 43 + size).next_multiple_of(2);
    let ifds: Vec<u64> = levels.iter().map(|b| offset(b, "IFD_OFFSET")).collect();
    assert_eq!(ifds[0], first_ifd);
    assert!(
        ifds.windows(2).all(|p| p[0] < p[1]),
        "IFDs in order: {ifds:?}"
    );
    // Sizes descend; tiles of each level in row-major order with leader and trailer; the
    // smallest overview's data first, the full resolution's last, all after the IFDs.
    let mut firsts = Vec::new();
    for (k, band) in levels.iter().enumerate() {
        if k > 0 {
            assert!(band.size().0 < levels[k - 1].size().0);
        }
        assert_eq!(band.block_size(), (512, 512));
        let t = tiles(band);
        assert!(
            t.iter().all(|&(o, c)| o > 0 && c > 4),
            "level {k}: a sparse tile"
        );
        assert!(
            t.windows(2).all(|p| p[0].0 < p[1].0),
            "level {k}: row-major"
        );
        for &(o, c) in &t {
            let (o, c) = (o as usize, c as usize);
            let leader = u32::from_le_bytes(bytes[o - 4..o].try_into().unwrap());
            assert_eq!(leader as usize, c, "level {k}: leader");
            assert_eq!(bytes[o + c - 4..o + c], bytes[o + c..o + c + 4], "trailer");
        }
        firsts.push(t[0].0);
    }
    assert!(firsts[n] > *ifds.last().unwrap());
    assert!(firsts.windows(2).all(|p| p[0] > p[1]), "{firsts:?}");
}

/// GDAL's validator itself, when python3-gdal ships it.
fn gdal_validator(path: &Path) -> Option<String> {
    let script =
        "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";
    if !Path::new(script).exists() {
        eprintln!("SKIPPED part: GDAL's COG validator is not installed");
        return None;
    }
    let out = Command::new("/usr/bin/python3")
        .args([script, "--full-check=yes"])
        .arg(path)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn the_default_output_is_a_valid_cog_with_the_tiled_outputs_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    let t = tile.to_str().unwrap();
    paddy_ok(
        tmp.path(),
        &["index", t, "-i", "ndvi,evi", "-o", "cog", "-q"],
    );
    let args = [
        "index", t, "-i", "ndvi,evi", "-o", "tiled", "--layout", "tiled", "-q",
    ];
    paddy_ok(tmp.path(), &args);
    let args = [
        "index",
        t,
        "-i",
        "ndvi",
        "-o",
        "cog2",
        "--first-overview",
        "2",
        "-q",
    ];
    paddy_ok(tmp.path(), &args);
    // A factor that is no power of two is refused before any work, naming what is allowed.
    let out = paddy(
        tmp.path(),
        &[
            "index",
            t,
            "-i",
            "ndvi",
            "-o",
            "bad",
            "--first-overview",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("power of two"), "{err}");
    assert!(!tmp.path().join("bad").exists());
    // The pyramid's levels: 1/4 and 1/8 by default, GDAL's 1/2, 1/4 and 1/8 from 2.
    for (dir, sizes) in [
        ("cog", &[(625, 475), (313, 238)][..]),
        ("cog2", &[(1250, 950), (625, 475), (313, 238)][..]),
    ] {
        let ds = gdal::Dataset::open(tmp.path().join(dir).join("big_ndvi.tif")).unwrap();
        let band = ds.rasterband(1).unwrap();
        let got: Vec<(usize, usize)> = (0..band.overview_count().unwrap() as usize)
            .map(|i| band.overview(i).unwrap().size())
            .collect();
        assert_eq!(got, sizes, "{dir}");
    }
    for (dir, name) in [
        ("cog", "big_ndvi.tif"),
        ("cog", "big_evi.tif"),
        ("cog2", "big_ndvi.tif"),
    ] {
        let cog = tmp.path().join(dir).join(name);
        check_cog(&cog);
        if let Some(said) = gdal_validator(&cog) {
            assert!(
                said.contains("is a valid cloud optimized GeoTIFF"),
                "{said}"
            );
        }
        // Full resolution: the same pixels as the file compressed as it was written.
        let a = read_band(&cog, 1);
        let b = read_band(&tmp.path().join("tiled").join(name), 1);
        assert_eq!((a.width, a.height), (b.width, b.height));
        assert!(a
            .data
            .iter()
            .zip(&b.data)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    // Only the finished files remain.
    assert_eq!(files_in(&tmp.path().join("cog")).len(), 4);
}

/// Each overview cell is the mean of the valid full-resolution pixels under it, recomputed in
/// float64 from the full resolution GDAL reads back.
#[test]
fn the_cogs_overviews_are_averages_of_the_full_resolution() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    paddy_ok(
        tmp.path(),
        &[
            "index",
            tile.to_str().unwrap(),
            "-i",
            "ndvi",
            "-o",
            "o",
            "-q",
        ],
    );
    let path = tmp.path().join("o/big_ndvi.tif");
    let full = read_band(&path, 1);
    let ds = gdal::Dataset::open(&path).unwrap();
    let band = ds.rasterband(1).unwrap();
    // 2500 × 1900 with 512² tiles: the default pyramid is 1/4 and 1/8.
    assert_eq!(band.overview_count().unwrap(), 2);
    for (i, f) in [(0usize, 4usize), (1, 8)] {
        let o = band.overview(i).unwrap();
        let (w, h) = o.size();
        assert_eq!((w, h), (full.width.div_ceil(f), full.height.div_ceil(f)));
        let v = o.read_as::<f64>((0, 0), (w, h), (w, h), None).unwrap();
        let v = v.data();
        for (cy, cx) in [(0, 0), (h / 2, w / 3), (h - 1, w - 1), (h / 3, w - 1)] {
            let (mut sum, mut n) = (0.0, 0);
            for y in cy * f..((cy + 1) * f).min(full.height) {
                for x in cx * f..((cx + 1) * f).min(full.width) {
                    let p = full.data[y * full.width + x];
                    if p != -9999.0 {
                        sum += p;
                        n += 1;
                    }
                }
            }
            let got = v[cy * w + cx];
            if n == 0 {
                assert_eq!(got, -9999.0);
            } else {
                let want = (sum / n as f64) as f32 as f64;
                assert!((got - want).abs() <= 1e-6, "level {f}: {got} vs {want}");
            }
        }
    }
}
