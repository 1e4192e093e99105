//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ../shared/data, or None (the test then says it skipped) where the folder is absent.
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/data is not present beside the checkout");
        None
    }
}

/// Run `paddy` with `args` in `dir`.
pub fn paddy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paddy"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the paddy binary runs")
}

/// Run `paddy` and require success; returns stdout.
pub fn paddy_ok(dir: &Path, args: &[&str]) -> String {
    let out = paddy(dir, args);
    assert!(
        out.status.success(),
        "paddy {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of the files in `dir`, sorted (hidden ones included, so leftovers are seen).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A band of a raster read in float64, with its nodata value.
pub struct Band64 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f64>,
    pub nodata: Option<f64>,
}

/// Read band `band` (1-based) of `path` as f64 with GDAL.
pub fn read_band(path: &Path, band: usize) -> Band64 {
    let ds = gdal::Dataset::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let b = ds.rasterband(band).unwrap();
    let (width, height) = b.size();
    let buf = b
        .read_as::<f64>((0, 0), (width, height), (width, height), None)
        .unwrap();
    Band64 {
        width,
        height,
        data: buf.data().to_vec(),
        nodata: b.no_data_value(),
    }
}

/// A CSV text as rows of column → value.
pub fn rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Days since 1970-01-01 of an ISO date.
pub fn day(text: &str) -> i64 {
    let (y, m, d) = (
        text[0..4].parse::<i64>().unwrap(),
        text[5..7].parse::<i64>().unwrap(),
        text[8..10].parse::<i64>().unwrap(),
    );
    // Days from civil (proleptic Gregorian), written independently of paddy's Date.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// NDVI and LSWI of the Sentinel-2 stack `tile`, cloud-masked with its `scl` file, into `out`.
pub fn ndvi_lswi(dir: &Path, tile: &Path, scl: &Path, out: &Path) {
    paddy_ok(
        dir,
        &[
            "index",
            tile.to_str().unwrap(),
            scl.to_str().unwrap(),
            "--sensor",
            "sentinel2-l2a",
            "--index",
            "ndvi,lswi",
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
}

/// Every file under `dir`, relative, hidden ones included.
pub fn all_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A name of paddy's temporaries (`.name.staging-PID`, `.name.part-PID`).
pub fn is_temporary(rel: &str) -> bool {
    rel.contains(".staging-") || rel.contains(".part-")
}

/// The field aliases of the QGIS style `qml`, parsed as XML: the `<alias field index name>`
/// elements of the `<aliases>` child of `<qgis>`, where QGIS reads them, as field → (index,
/// alias).
pub fn qml_aliases(qml: &Path) -> HashMap<String, (usize, String)> {
    let text = std::fs::read_to_string(qml).unwrap_or_else(|e| panic!("{}: {e}", qml.display()));
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", qml.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "qgis", "{}", qml.display());
    let mut aliases = HashMap::new();
    for element in root.children().filter(|n| n.has_tag_name("aliases")) {
        for alias in element.children().filter(|n| n.has_tag_name("alias")) {
            let get = |k: &str| {
                alias
                    .attribute(k)
                    .unwrap_or_else(|| panic!("alias without {k}"))
            };
            let index = get("index").parse().expect("a field index");
            let before = aliases.insert(get("field").to_string(), (index, get("name").to_string()));
            assert!(
                before.is_none(),
                "{}: two aliases of {}",
                qml.display(),
                get("field")
            );
        }
    }
    aliases
}

/// The style `qml` beside the shapefile `shp` gives every field the shapefile names otherwise
/// than `columns` (its columns' names, in the layer's order) the column's name as its alias,
/// at the field's index, and no other field one: the fields read back with OGR.
pub fn check_shapefile_aliases(shp: &Path, qml: &Path, columns: &[String]) {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(shp).unwrap_or_else(|e| panic!("{}: {e}", shp.display()));
    let layer = ds.layer(0).unwrap();
    let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    assert_eq!(fields.len(), columns.len(), "{}: {fields:?}", shp.display());
    let aliases = qml_aliases(qml);
    let mut renamed = 0;
    for (index, (field, column)) in fields.iter().zip(columns).enumerate() {
        if field == column {
            assert!(
                !aliases.contains_key(field),
                "{}: alias of {field}",
                qml.display()
            );
        } else {
            renamed += 1;
            assert_eq!(
                aliases.get(field),
                Some(&(index, column.clone())),
                "{}: the alias of {} ({column})",
                qml.display(),
                shp.display()
            );
        }
    }
    assert!(renamed > 0, "{}: no field renamed", shp.display());
    assert_eq!(aliases.len(), renamed, "{}: {aliases:?}", qml.display());
}
