//! Products as downloaded, with no --band: a minimal Sentinel-2 L2A SAFE made here (JPEG 2000
//! bands at 10 and 20 m, SCL at 20 m, MTD_MSIL2A.xml with or without BOA_ADD_OFFSET) read as a
//! folder and as a zip; a Landsat Collection 2 Level-2 folder and .tar with QA_PIXEL masking.
//! Each against a float64 reference: bands read by GDAL, 20 m bands resampled by `gdalwarp`.

use std::path::{Path, PathBuf};

use gdal::Metadata;

use crate::common::*;
use crate::resolutions::{assert_matches, assert_within, gdal_cli, warp_like, write_classes};

/// `src` (a GeoTIFF band) as a lossless JPEG 2000 file `dst`, DN + `add` where DN is not 0.
fn to_jp2(dir: &Path, src: &str, dst: &Path, add: f64) {
    let band = read_band(&dir.join(src), 1);
    let ds = gdal::Dataset::open(dir.join(src)).unwrap();
    let tmp = dir.join("offset.tif");
    {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut out = driver
            .create_with_band_type::<u16, _>(&tmp, band.width, band.height, 1)
            .unwrap();
        out.set_geo_transform(&ds.geo_transform().unwrap()).unwrap();
        out.set_projection(&ds.projection()).unwrap();
        let data: Vec<u16> = band
            .data
            .iter()
            .map(|&v| if v == 0.0 { 0 } else { (v + add) as u16 })
            .collect();
        let mut b = out.rasterband(1).unwrap();
        let mut buffer = gdal::raster::Buffer::new((band.width, band.height), data);
        b.write((0, 0), (band.width, band.height), &mut buffer)
            .unwrap();
    }
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    gdal_cli(
        dir,
        "gdal_translate",
        &[
            "-q",
            "-of",
            "JP2OpenJPEG",
            "-co",
            "REVERSIBLE=YES",
            "-co",
            "QUALITY=100",
            tmp.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
    );
}

fn mtd(baseline: &str, with_offset: bool) -> String {
    let offsets: String = if with_offset {
        let list: String = (0..13)
            .map(|i| format!("<BOA_ADD_OFFSET band_id=\"{i}\">-1000</BOA_ADD_OFFSET>\n"))
            .collect();
        format!("<BOA_ADD_OFFSET_VALUES_LIST>\n{list}</BOA_ADD_OFFSET_VALUES_LIST>")
    } else {
        String::new()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info>
<Product_Info>
<PRODUCT_START_TIME>2021-06-17T10:05:59.024Z</PRODUCT_START_TIME>
<PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
<PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
</Product_Info>
<Product_Image_Characteristics>
<QUANTIFICATION_VALUES_LIST>
<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
<AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
</QUANTIFICATION_VALUES_LIST>
{offsets}
</Product_Image_Characteristics>
</n1:General_Info>
</n1:Level-2A_User_Product>
"#
    )
}

/// A minimal L2A SAFE in `dir` from the Austrian clip: B04, B08 at 10 m; B04 (to be ignored:
/// the 10 m one is finer), B05 (green averaged) and B11 (red averaged, a stand-in) and SCL at
/// 20 m. Baseline 05.09 adds 1000 to every DN and says BOA_ADD_OFFSET = -1000; 03.00 does not.
fn make_safe(dir: &Path, new_baseline: bool) -> Option<PathBuf> {
    let stack = shared_data()?.join("s2_austria_bitemporal/inference-img.tif");
    let s = stack.to_str().unwrap();
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "1", s, "red.tif"]);
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "4", s, "nir.tif"]);
    gdal_cli(dir, "gdal_translate", &["-q", "-b", "2", s, "green.tif"]);
    for (src, dst) in [("green.tif", "re1_20.tif"), ("red.tif", "red_20.tif")] {
        let a = ["-q", "-tr", "20", "20", "-r", "average", src, dst];
        gdal_cli(dir, "gdalwarp", &a);
    }
    write_classes(&dir.join("re1_20.tif"), &dir.join("scl_20.tif"));
    let (baseline, n, add) = if new_baseline {
        ("05.09", "N0509", 1000.0)
    } else {
        ("03.00", "N0300", 0.0)
    };
    let safe = dir.join(format!(
        "S2B_MSIL2A_20210617T100559_{n}_R022_T33UVP_20210617T131005.SAFE"
    ));
    let img = safe.join("GRANULE/L2A_T33UVP_A022406_20210617T100602/IMG_DATA");
    let f =
        |res: &str, band: &str| img.join(format!("R{res}/T33UVP_20210617T100559_{band}_{res}.jp2"));
    to_jp2(dir, "red.tif", &f("10m", "B04"), add);
    to_jp2(dir, "nir.tif", &f("10m", "B08"), add);
    to_jp2(dir, "red_20.tif", &f("20m", "B04"), add);
    to_jp2(dir, "re1_20.tif", &f("20m", "B05"), add);
    to_jp2(dir, "red_20.tif", &f("20m", "B11"), add);
    to_jp2(dir, "scl_20.tif", &f("20m", "SCL"), 0.0);
    std::fs::write(safe.join("MTD_MSIL2A.xml"), mtd(baseline, new_baseline)).unwrap();
    Some(safe)
}

/// (DN + offset) / 10000 normalised difference, -9999 where a DN is 0 or SCL masks.
fn nd(a: &Band64, b: &Band64, scl: &Band64, offset: f64) -> Vec<f64> {
    (0..a.data.len())
        .map(|i| {
            let bad = [0.0, 1.0, 3.0, 8.0, 9.0, 10.0, 11.0].contains(&scl.data[i]);
            if a.data[i] == 0.0 || b.data[i] == 0.0 || bad {
                return -9999.0;
            }
            let (x, y) = ((a.data[i] + offset) / 1e4, (b.data[i] + offset) / 1e4);
            (x - y) / (x + y)
        })
        .collect()
}

fn check_safe(new_baseline: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(safe) = make_safe(dir, new_baseline) else {
        return;
    };
    let stem = safe.file_stem().unwrap().to_str().unwrap().to_string();
    let zip = format!("{stem}.zip");
    gdal_cli(dir, "zip", &["-q", "-r", &zip, &format!("{stem}.SAFE")]);
    let folder = safe.to_str().unwrap();
    paddy_ok(
        dir,
        &[
            "index",
            folder,
            "-i",
            "ndvi,ndre,lswi",
            "-o",
            "folder",
            "-q",
        ],
    );
    paddy_ok(
        dir,
        &["index", &zip, "-i", "ndvi,ndre,lswi", "-o", "zipped", "-q"],
    );

    // Reference from the JP2 files: 20 m bands onto the 10 m grid by gdalwarp.
    let img = safe.join("GRANULE/L2A_T33UVP_A022406_20210617T100602/IMG_DATA");
    let b =
        |res: &str, band: &str| img.join(format!("R{res}/T33UVP_20210617T100559_{band}_{res}.jp2"));
    let like = b("10m", "B04");
    for (band, method, nodata, out) in [
        ("B05", "bilinear", true, "re1.tif"),
        ("B11", "bilinear", true, "swir.tif"),
        ("SCL", "near", false, "scl.tif"),
    ] {
        warp_like(
            dir,
            b("20m", band).to_str().unwrap(),
            &like,
            method,
            nodata,
            out,
        );
    }
    let (red, nir) = (read_band(&like, 1), read_band(&b("10m", "B08"), 1));
    let (re1, swir, scl) = (
        read_band(&dir.join("re1.tif"), 1),
        read_band(&dir.join("swir.tif"), 1),
        read_band(&dir.join("scl.tif"), 1),
    );
    let offset = if new_baseline { -1000.0 } else { 0.0 };
    let want = [
        ("ndvi", nd(&nir, &red, &scl, offset)),
        ("ndre", nd(&nir, &re1, &scl, offset)),
        ("lswi", nd(&nir, &swir, &scl, offset)),
    ];
    for out in ["folder", "zipped"] {
        for (index, reference) in &want {
            let path = dir.join(format!("{out}/{stem}_{index}.tif"));
            let n = assert_matches(&path, reference, &format!("{out} {index}"));
            assert!(n > 100_000, "{out} {index}: only {n} pixels compared");
        }
        let ds = gdal::Dataset::open(dir.join(format!("{out}/{stem}_ndvi.tif"))).unwrap();
        assert_eq!(ds.raster_size(), (578, 379), "{out}: the 10 m grid");
        assert_eq!(
            ds.metadata_item("ACQUISITION_DATE", "").as_deref(),
            Some("2021-06-17"),
            "{out}"
        );
    }
}

#[test]
fn sentinel2_safe_baseline_05_as_folder_and_zip() {
    check_safe(true);
}

#[test]
fn sentinel2_safe_baseline_03_has_no_offset() {
    check_safe(false);
}

/// A Landsat 8 C2 L2 product from the Montana bands: SR_B4, SR_B5, SR_B6, a QA_PIXEL written
/// here (fill, cloud, shadow, snow and clear pixels) and an MTL file; as a folder and a .tar.
#[test]
fn landsat_c2_folder_and_tar_with_qa_pixel_masking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(data) = shared_data() else {
        return;
    };
    let name = "LC08_L2SP_040028_20200829_20200906_02_T1";
    let product = dir.join(name);
    std::fs::create_dir(&product).unwrap();
    for (src, band) in [("sr_b4", "SR_B4"), ("sr_b5", "SR_B5"), ("sr_b6", "SR_B6")] {
        std::fs::copy(
            data.join(format!("landsat8_c2l2_montana/{src}_20200829.tif")),
            product.join(format!("{name}_{band}.TIF")),
        )
        .unwrap();
    }
    // QA_PIXEL: clear (bit 6) everywhere but fill (bit 0) in row 0, cloud (bit 3) in a block,
    // shadow (bit 4) in column 100, snow (bit 5) in rows 60-62, and clear water (bit 7) in
    // rows 80-82, which is kept.
    let like = product.join(format!("{name}_SR_B4.TIF"));
    let src = gdal::Dataset::open(&like).unwrap();
    let (w, h) = src.raster_size();
    let qa: Vec<u16> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            match () {
                _ if y == 0 => 1,
                _ if x < 30 && (10..40).contains(&y) => 1 << 3 | 1 << 1,
                _ if x == 100 => 1 << 4,
                _ if (60..63).contains(&y) => 1 << 5,
                _ if (80..83).contains(&y) => 1 << 7 | 1 << 6,
                _ => 1 << 6,
            }
        })
        .collect();
    {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver
            .create_with_band_type::<u16, _>(product.join(format!("{name}_QA_PIXEL.TIF")), w, h, 1)
            .unwrap();
        ds.set_geo_transform(&src.geo_transform().unwrap()).unwrap();
        ds.set_projection(&src.projection()).unwrap();
        let mut b = ds.rasterband(1).unwrap();
        let mut buffer = gdal::raster::Buffer::new((w, h), qa.clone());
        b.write((0, 0), (w, h), &mut buffer).unwrap();
    }
    let mtl: String = [
        "GROUP = LANDSAT_METADATA_FILE",
        "  GROUP = IMAGE_ATTRIBUTES",
        "    SPACECRAFT_ID = \"LANDSAT_8\"",
        "    DATE_ACQUIRED = 2020-08-29",
        "  END_GROUP = IMAGE_ATTRIBUTES",
        "  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
        "    REFLECTANCE_MULT_BAND_4 = 2.75E-05",
        "    REFLECTANCE_MULT_BAND_5 = 2.75E-05",
        "    REFLECTANCE_MULT_BAND_6 = 2.75E-05",
        "    REFLECTANCE_ADD_BAND_4 = -0.200000",
        "    REFLECTANCE_ADD_BAND_5 = -0.200000",
        "    REFLECTANCE_ADD_BAND_6 = -0.200000",
        "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
        "END_GROUP = LANDSAT_METADATA_FILE",
        "END",
    ]
    .join("\n");
    std::fs::write(product.join(format!("{name}_MTL.txt")), mtl).unwrap();
    let tar = format!("{name}.tar");
    gdal_cli(&product, "tar", &["-cf", &format!("../{tar}"), "."]);

    paddy_ok(
        dir,
        &["index", name, "-i", "ndvi,lswi", "-o", "folder", "-q"],
    );
    paddy_ok(
        dir,
        &["index", &tar, "-i", "ndvi,lswi", "-o", "tarred", "-q"],
    );

    let red = read_band(&like, 1);
    let nir = read_band(&product.join(format!("{name}_SR_B5.TIF")), 1);
    let swir = read_band(&product.join(format!("{name}_SR_B6.TIF")), 1);
    let reference = |a: &Band64, b: &Band64| -> Vec<f64> {
        (0..a.data.len())
            .map(|i| {
                let masked = qa[i] & 0b11_1111 != 0;
                if masked || a.data[i] == 0.0 || b.data[i] == 0.0 {
                    return -9999.0;
                }
                let (x, y) = (a.data[i] * 2.75e-5 - 0.2, b.data[i] * 2.75e-5 - 0.2);
                (x - y) / (x + y)
            })
            .collect()
    };
    let (ndvi, lswi) = (reference(&nir, &red), reference(&nir, &swir));
    for out in ["folder", "tarred"] {
        // DN × 2.75e-5 − 0.2 in f32 cancels digits: 1e-5, as for the plain Landsat files.
        let n = assert_within(
            &dir.join(format!("{out}/{name}_ndvi.tif")),
            &ndvi,
            1e-5,
            out,
        );
        assert!(n > 10_000, "{out}: only {n} pixels compared");
        assert_within(
            &dir.join(format!("{out}/{name}_lswi.tif")),
            &lswi,
            1e-5,
            out,
        );
        let got = read_band(&dir.join(format!("{out}/{name}_ndvi.tif")), 1);
        // Snow rows masked, clear water rows kept.
        assert_eq!(got.data[61 * w + 50], -9999.0);
        assert_ne!(got.data[81 * w + 50], -9999.0);
    }
}

#[test]
fn a_product_with_other_files_or_band_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(safe) = make_safe(dir, true) else {
        return;
    };
    let safe = safe.to_str().unwrap();
    for args in [
        vec!["index", safe, "red.tif", "-i", "ndvi", "-o", "out"],
        vec![
            "index",
            safe,
            "--band",
            "R=red.tif",
            "-i",
            "ndvi",
            "-o",
            "out",
        ],
    ] {
        let out = paddy(dir, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(".SAFE is a product as downloaded"), "{err}");
        assert!(!dir.join("out").exists());
    }
}
