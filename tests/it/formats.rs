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

#[test]
fn tiled_layout_holds_the_same_values_without_overviews() {
    use gdal::Metadata;
    let dir = tempfile::tempdir().unwrap();
    let tile = root().join("sample_tiles/drone_20260718.tif");
    let (cog, tiled) = (dir.path().join("cog"), dir.path().join("tiled"));
    for (out, layout) in [(&cog, "cog"), (&tiled, "tiled")] {
        paddy_ok(
            dir.path(),
            &[
                "index",
                tile.to_str().unwrap(),
                "--index",
                "ndvi",
                "--layout",
                layout,
                "--out",
                out.to_str().unwrap(),
                "-q",
            ],
        );
    }
    let a = read_band(&cog.join("drone_20260718_ndvi.tif"), 1);
    let b = read_band(&tiled.join("drone_20260718_ndvi.tif"), 1);
    assert_eq!((a.width, a.height, a.nodata), (b.width, b.height, b.nodata));
    assert!(a.data == b.data, "the layouts hold different values");
    let ds = gdal::Dataset::open(tiled.join("drone_20260718_ndvi.tif")).unwrap();
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.overview_count().unwrap(), 0);
    assert_eq!(band.block_size(), (512, 512));
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("DEFLATE")
    );
    let ds = gdal::Dataset::open(cog.join("drone_20260718_ndvi.tif")).unwrap();
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    // Nothing but the outputs (and their styles) is left.
    assert!(crate::common::files_in(&tiled)
        .iter()
        .all(|f| !f.starts_with('.')));
}
