//! Anything GDAL reads: the same pixels through ENVI, lossless JPEG 2000 and a VRT give the same
//! index values as through the GeoTIFF.

use std::process::Command;

use crate::common::*;

#[test]
fn envi_jp2_and_vrt_inputs_give_the_geotiff_result() {
    let tmp = tempfile::tempdir().unwrap();
    let source = root().join("sample_tiles/s2_20260816.tif");
    let made = [
        ("s2.envi", vec!["-of", "ENVI"]),
        (
            "s2.jp2",
            vec![
                "-of",
                "JP2OpenJPEG",
                "-co",
                "REVERSIBLE=YES",
                "-co",
                "QUALITY=100",
            ],
        ),
        ("s2.vrt", vec!["-of", "VRT"]),
    ];
    for (name, args) in &made {
        let ok = Command::new("gdal_translate")
            .arg("-q")
            .args(args)
            .arg(&source)
            .arg(tmp.path().join(name))
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: gdal_translate cannot write {name}");
            return;
        }
    }
    let run = |input: &str, out: &str| {
        paddy_ok(
            tmp.path(),
            &[
                "index",
                input,
                "--sensor",
                "sentinel2-l2a",
                "-i",
                "ndvi,lswi",
                "-o",
                out,
                "--name",
                "x",
                "-q",
            ],
        );
    };
    run(source.to_str().unwrap(), "tif");
    for (name, _) in &made {
        let out = format!("out_{}", name.replace('.', "_"));
        run(name, &out);
        for index in ["ndvi", "lswi"] {
            let expected = read_band(&tmp.path().join(format!("tif/x_{index}.tif")), 1);
            let got = read_band(&tmp.path().join(format!("{out}/x_{index}.tif")), 1);
            assert_eq!(got.data, expected.data, "{name} {index}");
        }
    }
}

#[test]
fn gdal_virtual_paths_such_as_zip_archives_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let source = root().join("sample_tiles/s2_20260717.tif");
    let zip = tmp.path().join("scene.zip");
    let zipped = Command::new("/usr/bin/python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .arg(&source)
        .status()
        .is_ok_and(|s| s.success());
    if !zipped {
        eprintln!("SKIPPED: /usr/bin/python3 cannot write a zip file");
        return;
    }
    let inside = format!("/vsizip/{}/s2_20260717.tif", zip.display());
    let args = |input: &str, out: &str| {
        paddy_ok(tmp.path(), &["index", input, "-i", "ndvi", "-o", out, "-q"]);
    };
    args(&inside, "zip");
    args(source.to_str().unwrap(), "plain");
    let from_zip = read_band(&tmp.path().join("zip/s2_20260717_ndvi.tif"), 1);
    let plain = read_band(&tmp.path().join("plain/s2_20260717_ndvi.tif"), 1);
    assert_eq!(from_zip.data, plain.data);
    // A virtual path that does not exist is still a clear error, from GDAL.
    let out = paddy(
        tmp.path(),
        &["index", "/vsizip/nowhere.zip/x.tif", "-i", "ndvi"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/vsizip/nowhere.zip/x.tif"));
}

/// Every layout, codec and predictor holds the same bits (all are lossless), and the file says
/// which it is: the default is a ZSTD COG with horizontal differencing, DEFLATE gets the
/// floating-point predictor, `--layout tiled` has no overviews.
#[test]
fn layouts_codecs_and_predictors_hold_the_same_values() {
    use gdal::Metadata;
    let dir = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260718.tif");
    let cases: [(&str, &[&str], &str, &str, &str); 5] = [
        ("default", &[], "COG", "ZSTD", "2"),
        ("tiled", &["--layout", "tiled"], "", "ZSTD", "2"),
        ("deflate", &["--compress", "deflate"], "COG", "DEFLATE", "3"),
        (
            "tiled-deflate",
            &["--layout", "tiled", "--compress", "DEFLATE", "--level", "1"],
            "",
            "DEFLATE",
            "3",
        ),
        ("float", &["--predictor", "float"], "COG", "ZSTD", "3"),
    ];
    let mut first = None;
    for (name, extra, layout, codec, predictor) in cases {
        let out = dir.path().join(name);
        let mut args = vec![
            "index",
            tile.to_str().unwrap(),
            "--index",
            "ndvi",
            "--out",
            out.to_str().unwrap(),
            "-q",
        ];
        args.extend_from_slice(extra);
        paddy_ok(dir.path(), &args);
        let path = out.join("drone_20260718_ndvi.tif");
        let r = read_band(&path, 1);
        let bits: Vec<u64> = r.data.iter().map(|v| v.to_bits()).collect();
        match &first {
            None => first = Some((r.width, r.height, r.nodata, bits)),
            Some(f) => assert!(
                *f == (r.width, r.height, r.nodata, bits),
                "{name}: different values"
            ),
        }
        let ds = gdal::Dataset::open(&path).unwrap();
        let item = |k: &str| ds.metadata_item(k, "IMAGE_STRUCTURE").unwrap_or_default();
        assert_eq!(item("LAYOUT"), layout, "{name}");
        assert_eq!(item("COMPRESSION"), codec, "{name}");
        assert_eq!(item("PREDICTOR"), predictor, "{name}");
        let band = ds.rasterband(1).unwrap();
        assert_eq!(band.block_size(), (512, 512), "{name}");
        if layout.is_empty() {
            assert_eq!(band.overview_count().unwrap(), 0, "{name}");
        }
        // Nothing but the outputs (and their styles) is left.
        assert!(crate::common::files_in(&out)
            .iter()
            .all(|f| !f.starts_with('.')));
    }
}

/// A COG's overviews are the means of the valid full-resolution pixels under each cell (float64
/// re-computation from the full-resolution output), whether paddy built them in the stream
/// (windows that are whole tiles) or left them to GDAL (an input stored in strips, level 1
/// checked), at the default factors (1/4, 1/8) and with `--first-overview 2` (1/2, 1/4, 1/8).
/// Real texture: the Haiti RGBN image, four times enlarged, with a nodata border
/// whose edges fall inside overview cells.
#[test]
fn cog_overviews_are_means_of_the_valid_pixels() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data is not there");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = data.join("haiti_rgbn/rgbn.tif");
    for (name, layout, levels_checked, first) in [
        (
            "tiled",
            &[
                "-co",
                "TILED=YES",
                "-co",
                "BLOCKXSIZE=256",
                "-co",
                "BLOCKYSIZE=256",
            ][..],
            2,
            None,
        ),
        ("tiled2", &["-co", "TILED=YES"][..], 3, Some("2")),
        ("strips", &[][..], 1, None),
        ("strips2", &[][..], 1, Some("2")),
    ] {
        let input = dir.path().join(format!("{name}.tif"));
        let ok = Command::new("gdal_translate")
            .args([
                "-q", "-srcwin", "-37", "-21", "560", "430", "-outsize", "400%", "400%",
            ])
            .args(["-a_nodata", "0"])
            .args(layout)
            .arg(&src)
            .arg(&input)
            .status()
            .unwrap()
            .success();
        assert!(ok, "gdal_translate failed");
        let out = dir.path().join(format!("out-{name}"));
        paddy_ok(
            dir.path(),
            &[
                "index",
                input.to_str().unwrap(),
                "--band",
                "R=1",
                "--band",
                "N=4",
                "--index",
                "ndvi",
                "--out",
                out.to_str().unwrap(),
                "-q",
                "--first-overview",
                first.unwrap_or("4"),
            ],
        );
        let path = out.join(format!("{name}_ndvi.tif"));
        let full = read_band(&path, 1);
        let nodata = full.nodata.unwrap();
        assert!(full.data.contains(&nodata), "{name}: no nodata border");
        let ds = gdal::Dataset::open(&path).unwrap();
        let band = ds.rasterband(1).unwrap();
        // 2240 × 1720 with 512² tiles: 1/2, 1/4 and 1/8 by GDAL's rule, 1/4 and 1/8 by default.
        let factors: &[usize] = if first.is_some() { &[2, 4, 8] } else { &[4, 8] };
        assert_eq!(
            band.overview_count().unwrap() as usize,
            factors.len(),
            "{name}: levels {factors:?}"
        );
        for (level, &f) in factors.iter().enumerate().take(levels_checked) {
            let ov = band.overview(level).unwrap();
            let (w, h) = ov.size();
            assert_eq!((w, h), (full.width.div_ceil(f), full.height.div_ceil(f)));
            let got = ov.read_as::<f64>((0, 0), (w, h), (w, h), None).unwrap();
            for cy in 0..h {
                for cx in 0..w {
                    let (mut sum, mut n) = (0.0, 0);
                    for y in cy * f..((cy + 1) * f).min(full.height) {
                        for x in cx * f..((cx + 1) * f).min(full.width) {
                            let v = full.data[y * full.width + x];
                            if v != nodata {
                                sum += v;
                                n += 1;
                            }
                        }
                    }
                    let v = got.data()[cy * w + cx];
                    if n == 0 {
                        assert_eq!(v, nodata, "{name} factor {f} ({cx}, {cy})");
                    } else {
                        let mean = sum / n as f64;
                        assert!(
                            (v - mean).abs() < 1e-6,
                            "{name} factor {f} ({cx}, {cy}): {v} against {mean}"
                        );
                    }
                }
            }
        }
    }
}
