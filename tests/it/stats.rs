//! `paddy stats`: exact coverage against answers worked out by hand, centre / all-touched
//! against GDAL's own rasteriser, reprojection, outputs and bad inputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gdal::raster::RasterCreationOptions;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::LayerAccess;
use gdal::DriverManager;

use crate::common::{check_shapefile_aliases, paddy, paddy_ok, read_band, root};

/// Origin and pixel size of the synthetic UTM raster.
const X0: f64 = 500_000.0;
const Y0: f64 = 1_200_000.0;
const PX: f64 = 10.0;
/// Value of pixel (col, row): exact in f64 and distinct everywhere.
fn value(col: usize, row: usize) -> f64 {
    col as f64 + 1000.0 * row as f64
}
const NODATA: f64 = -1.0;

/// A 1100 × 700 Float64 raster in EPSG:32648, tiled 256 × 256 (so `paddy stats` reads it in
/// several windows), value(col, row) everywhere except nodata at (4, 4) and (5, 4).
fn make_raster(dir: &Path, crs: bool) -> PathBuf {
    let path = dir.join(if crs {
        "values.tif"
    } else {
        "values_nocrs.tif"
    });
    let (w, h) = (1100usize, 700usize);
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let options =
        RasterCreationOptions::from_iter(["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]);
    let mut ds = driver
        .create_with_band_type_with_options::<f64, _>(&path, w, h, 1, &options)
        .unwrap();
    if crs {
        ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
        ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
            .unwrap();
    }
    let mut data: Vec<f64> = (0..h)
        .flat_map(|r| (0..w).map(move |c| value(c, r)))
        .collect();
    data[4 * w + 4] = NODATA;
    data[4 * w + 5] = NODATA;
    let mut band = ds.rasterband(1).unwrap();
    band.set_no_data_value(Some(NODATA)).unwrap();
    let mut buffer = gdal::raster::Buffer::new((w, h), data);
    band.write((0, 0), (w, h), &mut buffer).unwrap();
    path
}

/// Map coordinates of pixel-space point (col, row).
fn map(c: f64, r: f64) -> (f64, f64) {
    (X0 + c * PX, Y0 - r * PX)
}

/// A GeoJSON ring (map coordinates) from pixel-space points.
fn ring(points: &[(f64, f64)]) -> String {
    let mut pts: Vec<String> = points
        .iter()
        .map(|&(c, r)| {
            let (x, y) = map(c, r);
            format!("[{x},{y}]")
        })
        .collect();
    pts.push(pts[0].clone());
    format!("[{}]", pts.join(","))
}

fn rect(c0: f64, r0: f64, c1: f64, r1: f64) -> Vec<(f64, f64)> {
    vec![(c0, r0), (c1, r0), (c1, r1), (c0, r1)]
}

/// A GeoJSON file in EPSG:32648 with (plot_id, geometry JSON) features.
fn write_plots(dir: &Path, name: &str, features: &[(&str, String)]) -> PathBuf {
    let features: Vec<String> = features
        .iter()
        .map(|(id, geom)| {
            format!(r#"{{"type":"Feature","properties":{{"plot_id":"{id}"}},"geometry":{geom}}}"#)
        })
        .collect();
    let text = format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::32648"}}}},"features":[{}]}}"#,
        features.join(",\n")
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn polygon(rings: &[Vec<(f64, f64)>]) -> String {
    let rings: Vec<String> = rings.iter().map(|r| ring(r)).collect();
    format!(
        r#"{{"type":"Polygon","coordinates":[{}]}}"#,
        rings.join(",")
    )
}

/// Rows of a paddy CSV as column → text maps, in file order.
fn read_csv(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    let text = row.get(key).unwrap_or_else(|| panic!("no column {key}"));
    if text.is_empty() {
        f64::NAN
    } else {
        text.parse().unwrap()
    }
}

/// Coverage-weighted statistics of (value, weight) pairs, computed directly.
struct Expected {
    count: f64,
    mean: f64,
    stdev: f64,
    min: f64,
    max: f64,
    nodata_fraction: f64,
}

fn expected(cells: &[((usize, usize), f64)]) -> Expected {
    let valid: Vec<(f64, f64)> = cells
        .iter()
        .filter(|&&((c, r), _)| !(r == 4 && (c == 4 || c == 5)))
        .map(|&((c, r), w)| (value(c, r), w))
        .collect();
    let all: f64 = cells.iter().map(|x| x.1).sum();
    let count: f64 = valid.iter().map(|x| x.1).sum();
    let mean = valid.iter().map(|(v, w)| v * w).sum::<f64>() / count;
    let var = valid
        .iter()
        .map(|(v, w)| w * (v - mean).powi(2))
        .sum::<f64>()
        / count;
    Expected {
        count,
        mean,
        stdev: var.sqrt(),
        min: valid.iter().map(|x| x.0).fold(f64::INFINITY, f64::min),
        max: valid.iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max),
        nodata_fraction: (all - count) / all,
    }
}

/// Cells and coverage of an axis-aligned rectangle in pixel space: products of 1-D overlaps.
fn rect_cells(c0: f64, r0: f64, c1: f64, r1: f64) -> Vec<((usize, usize), f64)> {
    let overlap = |a0: f64, a1: f64, k: usize| (a1.min(k as f64 + 1.0) - a0.max(k as f64)).max(0.0);
    let mut out = Vec::new();
    for r in r0.floor() as usize..r1.ceil() as usize {
        for c in c0.floor() as usize..c1.ceil() as usize {
            let w = overlap(c0, c1, c) * overlap(r0, r1, r);
            if w > 0.0 {
                out.push(((c, r), w));
            }
        }
    }
    out
}

fn check(row: &HashMap<String, String>, prefix: &str, want: &Expected) {
    let id = &row["plot_id"];
    for (stat, w) in [
        ("count", want.count),
        ("mean", want.mean),
        ("stdev", want.stdev),
        ("min", want.min),
        ("max", want.max),
        ("nodata_fraction", want.nodata_fraction),
    ] {
        let got = num(row, &format!("{prefix}_{stat}"));
        let tol = 1e-9 * w.abs().max(1.0);
        assert!(
            (got - w).abs() <= tol,
            "plot {id} {stat}: paddy {got}, exact {w} (diff {:e})",
            (got - w).abs()
        );
    }
}

#[test]
fn exact_coverage_matches_hand_computed_answers() {
    let dir = tempfile::tempdir().unwrap();
    let raster = make_raster(dir.path(), true);
    // A: half of pixel (3, 2). B: triangle (10,10) (12,10) (10,12): cell (10,10) whole,
    // (11,10) and (10,11) half. C: 4×4 square at (20.5, 30.5) with a 2×2 hole.
    // D: multipolygon of two rectangles across the window borders at column 512 and row 512,
    // one with a pixel of nodata… E: rectangle over the nodata pixels (4,4) and (5,4).
    // F: wholly outside the raster.
    let hole_outer = rect(20.5, 30.5, 24.5, 34.5);
    let hole_inner = rect(21.5, 31.5, 23.5, 33.5);
    let d1 = rect(509.25, 100.5, 514.75, 102.25);
    let d2 = rect(300.4, 510.3, 302.6, 513.9);
    let features = vec![
        ("A", polygon(&[rect(3.0, 2.0, 3.5, 3.0)])),
        (
            "B",
            polygon(&[vec![(10.0, 10.0), (12.0, 10.0), (10.0, 12.0)]]),
        ),
        ("C", polygon(&[hole_outer.clone(), hole_inner.clone()])),
        (
            "D",
            format!(
                r#"{{"type":"MultiPolygon","coordinates":[[{}],[{}]]}}"#,
                ring(&d1),
                ring(&d2)
            ),
        ),
        ("E", polygon(&[rect(3.5, 3.75, 6.25, 4.5)])),
        ("F", polygon(&[rect(-50.0, -50.0, -40.0, -45.0)])),
    ];
    let plots = write_plots(dir.path(), "plots.geojson", &features);
    let out = paddy_ok(
        dir.path(),
        &[
            "stats",
            raster.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
            "-q",
        ],
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 6);
    let by_id: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["plot_id"].as_str(), r)).collect();

    check(by_id["A"], "values", &expected(&[((3, 2), 0.5)]));
    check(
        by_id["B"],
        "values",
        &expected(&[((10, 10), 1.0), ((11, 10), 0.5), ((10, 11), 0.5)]),
    );
    let mut c = rect_cells(20.5, 30.5, 24.5, 34.5);
    for (cell, w) in rect_cells(21.5, 31.5, 23.5, 33.5) {
        let entry = c.iter_mut().find(|x| x.0 == cell).unwrap();
        entry.1 -= w;
    }
    c.retain(|x| x.1 > 0.0);
    check(by_id["C"], "values", &expected(&c));
    let mut d = rect_cells(509.25, 100.5, 514.75, 102.25);
    d.extend(rect_cells(300.4, 510.3, 302.6, 513.9));
    check(by_id["D"], "values", &expected(&d));
    check(
        by_id["E"],
        "values",
        &expected(&rect_cells(3.5, 3.75, 6.25, 4.5)),
    );
    assert!(num(by_id["E"], "values_nodata_fraction") > 0.0);

    // Status, pixels and area.
    assert_eq!(by_id["A"]["status"], "ok");
    assert_eq!(num(by_id["A"], "pixels"), 1.0);
    assert_eq!(num(by_id["B"], "pixels"), 3.0);
    assert_eq!(by_id["F"]["status"], "outside raster");
    assert_eq!(num(by_id["F"], "values_count"), 0.0);
    assert!(by_id["F"]["values_mean"].is_empty());
    // Geodesic area of the 4×4-pixel square minus its hole: 12 pixels of 100 m² in UTM, which
    // is within the UTM scale error (< 0.1 % near the central meridian) of the true area.
    let area = num(by_id["C"], "area_m2");
    assert!((area - 1200.0).abs() < 1.2, "area {area}");
}

/// Pre-project `plots` to `epsg` with ogr2ogr (GDAL's own tool), optionally densifying edges
/// to `segmentize` source units first.
fn ogr2ogr(src: &Path, dst: &Path, epsg: u32, segmentize: Option<f64>) {
    let mut cmd = Command::new("ogr2ogr");
    if let Some(step) = segmentize {
        cmd.args(["-segmentize", &step.to_string()]);
    }
    let status = cmd
        .args(["-t_srs", &format!("EPSG:{epsg}")])
        .arg(dst)
        .arg(src)
        .status()
        .expect("ogr2ogr runs (gdal-bin)");
    assert!(status.success());
}

#[test]
fn lonlat_plots_give_the_numbers_of_the_same_plots_pre_projected() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let raster = tiles.join("s2_20260717.tif");
    let lonlat = tiles.join("plots.geojson");
    // Edges are straight in lon/lat (RFC 7946), so the faithful UTM copy is a densified one
    // (0.000005° ≈ 0.5 m); a vertex-only copy has straight UTM edges that differ by millimetres.
    let dense = dir.path().join("plots_utm_dense.gpkg");
    ogr2ogr(&lonlat, &dense, 32648, Some(0.000005));
    let vertices = dir.path().join("plots_utm.gpkg");
    ogr2ogr(&lonlat, &vertices, 32648, None);
    let run = |plots: &Path| {
        read_csv(&paddy_ok(
            dir.path(),
            &[
                "stats",
                raster.to_str().unwrap(),
                "--plots",
                plots.to_str().unwrap(),
                "-q",
            ],
        ))
    };
    let a = run(&lonlat);
    assert_eq!(a.len(), 12);
    for (other, stats) in [
        (
            dense,
            &[
                "count", "mean", "stdev", "min", "max", "median", "p10", "p90",
            ][..],
        ),
        (vertices, &["count", "mean", "min", "max"][..]),
    ] {
        let b = run(&other);
        for (ra, rb) in a.iter().zip(&b) {
            assert_eq!(ra["plot_id"], rb["plot_id"]);
            let mut compared = 0;
            for key in ra.keys() {
                if !key.starts_with("s2_") || !stats.iter().any(|s| key.ends_with(&format!("_{s}")))
                {
                    continue;
                }
                let (x, y) = (num(ra, key), num(rb, key));
                assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-9),
                    "{} {key}: lon/lat {x} vs pre-projected {y} ({})",
                    ra["plot_id"],
                    other.display()
                );
                compared += 1;
            }
            assert!(compared >= 6 * stats.len());
            let (x, y) = (num(ra, "area_m2"), num(rb, "area_m2"));
            assert!((x - y).abs() < 1e-3 * x);
        }
    }
}

/// Mean of band 1 over the cells GDAL's rasteriser burns for each plot (centre rule), and
/// their number.
fn gdal_rasterize_means(dir: &Path, plots: &Path, raster: &Path) -> HashMap<String, (f64, usize)> {
    let band = read_band(raster, 1);
    let ds = gdal::Dataset::open(raster).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (w, h) = (band.width, band.height);
    let mut means = HashMap::new();
    let vector = gdal::Dataset::open(plots).unwrap();
    let mut layer = vector.layer(0).unwrap();
    let ids: Vec<String> = layer
        .features()
        .map(|f| {
            let i = f.field_index("plot_id").unwrap();
            f.field_as_string(i).unwrap().unwrap()
        })
        .collect();
    for id in ids {
        let mask = dir.join(format!("mask_{id}.tif"));
        let mut cmd = Command::new("gdal_rasterize");
        cmd.args(["-q", "-burn", "1", "-ot", "Byte", "-init", "0"])
            .args(["-where", &format!("plot_id = '{id}'")])
            .args(["-te"])
            .args(
                [
                    gt[0],
                    gt[3] + gt[5] * h as f64,
                    gt[0] + gt[1] * w as f64,
                    gt[3],
                ]
                .map(|v| v.to_string()),
            )
            .args(["-ts", &w.to_string(), &h.to_string()]);
        let status = cmd.arg(plots).arg(&mask).status().unwrap();
        assert!(status.success());
        let m = read_band(&mask, 1);
        let (mut sum, mut n) = (0.0, 0usize);
        for (v, k) in band.data.iter().zip(&m.data) {
            if *k == 1.0 && Some(*v) != band.nodata {
                sum += v;
                n += 1;
            }
        }
        means.insert(id, (sum / n as f64, n));
    }
    means
}

#[test]
fn centre_agrees_with_gdal_rasterize_and_all_touched_with_geos() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let raster = tiles.join("drone_20260718.tif");
    let plots = dir.path().join("plots_utm.gpkg");
    ogr2ogr(&tiles.join("plots.geojson"), &plots, 32648, None);
    let run = |mode: &str| {
        read_csv(&paddy_ok(
            dir.path(),
            &[
                "stats",
                raster.to_str().unwrap(),
                "--plots",
                plots.to_str().unwrap(),
                "--coverage",
                mode,
                "-q",
            ],
        ))
    };
    // Centre: GDAL's rasteriser burns exactly the cells whose centre is inside.
    let reference = gdal_rasterize_means(dir.path(), &plots, &raster);
    let mut compared = 0;
    for row in &run("centre") {
        let (mean, n) = reference[&row["plot_id"]];
        let count = num(row, "drone_20260718_b1_count");
        assert_eq!(count as usize, n, "centre plot {}", row["plot_id"]);
        if n > 0 {
            let got = num(row, "drone_20260718_b1_mean");
            assert!(
                (got - mean).abs() <= 1e-9 * mean.abs(),
                "centre: {got} vs {mean}"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 4,
        "only {compared} plots overlap the drone tile"
    );

    // All-touched: every cell whose intersection with the plot has positive area, by GEOS.
    // (GDAL's own ALL_TOUCHED misses cells the plot covers by slivers under ~1e-3.)
    let ds = gdal::Dataset::open(&raster).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let vector = gdal::Dataset::open(&plots).unwrap();
    let mut layer = vector.layer(0).unwrap();
    let rows = run("all-touched");
    for feature in layer.features() {
        let id = feature
            .field_as_string(feature.field_index("plot_id").unwrap())
            .unwrap()
            .unwrap();
        if id != "P06" && id != "P09" {
            continue; // one plot inside the tile, one across its edge
        }
        let plot = feature.geometry().unwrap();
        let env = plot.envelope();
        let col = |x: f64| ((x - gt[0]) / gt[1]).floor().clamp(0.0, w as f64) as usize;
        let row = |y: f64| ((y - gt[3]) / gt[5]).floor().clamp(0.0, h as f64) as usize;
        let mut touched = 0;
        for r in row(env.MaxY)..(row(env.MinY) + 1).min(h) {
            for c in col(env.MinX)..(col(env.MaxX) + 1).min(w) {
                let (x, y) = (gt[0] + c as f64 * gt[1], gt[3] + r as f64 * gt[5]);
                let cell = gdal::vector::Geometry::bbox(x, y + gt[5], x + gt[1], y).unwrap();
                if cell.intersection(plot).is_some_and(|i| i.area() > 0.0) {
                    touched += 1;
                }
            }
        }
        let ours = rows.iter().find(|r| r["plot_id"] == id).unwrap();
        assert_eq!(
            num(ours, "pixels") as usize,
            touched,
            "all-touched plot {id}"
        );
    }
}

#[test]
fn outputs_are_deterministic_and_geojson_is_rfc7946() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let args = |csv: &str, geojson: &str| {
        vec![
            "stats".to_string(),
            tiles.join("s2_20260717.tif").display().to_string(),
            "--plots".into(),
            tiles.join("plots.geojson").display().to_string(),
            "--out".into(),
            csv.into(),
            "--out".into(),
            geojson.into(),
            "-q".into(),
        ]
    };
    for (csv, geojson) in [("a.csv", "a.geojson"), ("b.csv", "b.geojson")] {
        let a = args(csv, geojson);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        paddy_ok(dir.path(), &a);
    }
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"));
    assert_eq!(read("a.geojson"), read("b.geojson"));
    // Multi-band raster: columns per band, id first, attributes carried.
    let csv = String::from_utf8(read("a.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("plot_id,variety,duration_class,transplanted,n_rich,area_ha,status,area_m2,pixels,s2_20260717_b1_count,"));
    assert!(header.contains("s2_20260717_b6_p90"));

    let json: serde_json::Value = serde_json::from_slice(&read("a.geojson")).unwrap();
    let features = json["features"].as_array().unwrap();
    assert_eq!(features.len(), 12);
    assert!(json.get("crs").is_none(), "RFC 7946 has no crs member");
    let f = &features[0];
    assert_eq!(f["properties"]["plot_id"], "P01");
    assert!(f["properties"]["s2_20260717_b5_mean"].as_f64().unwrap() > 0.0);
    // Lon/lat order, counter-clockwise outer ring.
    let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
    let pts: Vec<(f64, f64)> = ring
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    assert!((105.0..106.0).contains(&pts[0].0) && (10.0..11.0).contains(&pts[0].1));
    let doubled: f64 = pts
        .windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum();
    assert!(doubled > 0.0, "outer ring must be counter-clockwise");
    // The area agrees with the plot's own attribute (hectares, from the generator).
    let area = f["properties"]["area_m2"].as_f64().unwrap();
    let ha = f["properties"]["area_ha"].as_f64().unwrap();
    assert!((area / 1e4 - ha).abs() < 0.01 * ha, "{area} m² vs {ha} ha");
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_plot_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let raster = make_raster(dir.path(), true);
    let raster = raster.to_str().unwrap();
    let run = |plots: &Path, extra: &[&str]| {
        let mut args = vec!["stats", raster, "--plots", plots.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        paddy(dir.path(), &args)
    };

    // Points only.
    let points = dir.path().join("points.geojson");
    std::fs::write(
        &points,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#,
    )
    .unwrap();
    let out = run(&points, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("points.geojson") && stderr(&out).contains("no polygons"));
    assert!(stderr(&out).contains("1 POINT"), "{}", stderr(&out));

    // Broken GeoJSON.
    let broken = dir.path().join("broken.geojson");
    std::fs::write(
        &broken,
        r#"{"type":"FeatureCollection","features":[{"type":"#,
    )
    .unwrap();
    let out = run(&broken, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.geojson"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));

    // Missing file.
    let out = run(&dir.path().join("nope.gpkg"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.gpkg"));

    // An id field that does not exist: the fields are listed.
    let plots = write_plots(
        dir.path(),
        "ok.geojson",
        &[("A", polygon(&[rect(1.0, 1.0, 3.0, 3.0)]))],
    );
    let out = run(&plots, &["--id-field", "paddy_no"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("paddy_no") && stderr(&out).contains("plot_id"));
    assert!(stderr(&out).contains("--id-field"), "{}", stderr(&out));

    // Unknown output format.
    let out = run(&plots, &["--out", "stats.xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".xlsx"));
}

#[test]
fn invalid_geometries_are_repaired_or_skipped_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let raster = make_raster(dir.path(), true);
    // Bow-tie (0,0) (2,2) (2,0) (0,2): two triangles of area 1 each.
    let bowtie = polygon(&[vec![(10.0, 10.0), (12.0, 12.0), (12.0, 10.0), (10.0, 12.0)]]);
    let (x, y) = map(20.0, 20.0);
    let (x2, y2) = map(22.0, 22.0);
    let unclosed = format!(
        r#"{{"type":"Polygon","coordinates":[[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y2}]]]}}"#
    );
    let empty = r#"{"type":"Polygon","coordinates":[]}"#.to_string();
    let line = format!(r#"{{"type":"LineString","coordinates":[[{x},{y}],[{x2},{y2}]]}}"#);
    let plots = write_plots(
        dir.path(),
        "bad.geojson",
        &[
            ("bowtie", bowtie),
            ("unclosed", unclosed),
            ("empty", empty),
            ("line", line),
        ],
    );
    let out = paddy(
        dir.path(),
        &[
            "stats",
            raster.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("plot bowtie") && err.contains("MakeValid"),
        "{err}"
    );
    assert!(
        err.contains("plot unclosed") && err.contains("unclosed ring"),
        "{err}"
    );
    assert!(err.contains("plot empty: skipped"), "{err}");
    assert!(err.contains("plot line: skipped: not a polygon"), "{err}");
    let rows = read_csv(&String::from_utf8_lossy(&out.stdout));
    let by_id: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["plot_id"].as_str(), r)).collect();
    assert_eq!(by_id["bowtie"]["status"], "repaired");
    // The two triangles cover cells (10,10) (11,11) (11,10) (10,11) half each… exactly area 2.
    assert!((num(by_id["bowtie"], "values_count") - 2.0).abs() < 1e-9);
    assert_eq!(by_id["unclosed"]["status"], "repaired");
    assert!((num(by_id["unclosed"], "values_count") - 4.0).abs() < 1e-9);
    assert!(by_id["empty"]["status"].starts_with("skipped"));
    assert_eq!(num(by_id["empty"], "values_count"), 0.0);
    assert!(by_id["line"]["status"].starts_with("skipped: not a polygon"));
}

#[test]
fn a_raster_without_crs_needs_assume_same_crs() {
    let dir = tempfile::tempdir().unwrap();
    let raster = make_raster(dir.path(), false);
    let plots = write_plots(
        dir.path(),
        "p.geojson",
        &[("A", polygon(&[rect(1.0, 1.0, 3.0, 3.0)]))],
    );
    let args = |extra: &str| {
        let mut v = vec![
            "stats".to_string(),
            raster.display().to_string(),
            "--plots".into(),
            plots.display().to_string(),
            "-q".into(),
        ];
        if !extra.is_empty() {
            v.push(extra.into());
        }
        v
    };
    let a = args("");
    let out = paddy(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--assume-same-crs"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("values_nocrs.tif"));
    // With it, coordinates are taken as pixel coordinates of the ungeoreferenced raster: the
    // plot at map (X0+10 … X0+30) lies far outside its 1100 × 700 pixels.
    let a = args("--assume-same-crs");
    let out = paddy_ok(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let rows = read_csv(&out);
    assert_eq!(rows[0]["status"], "outside raster");
    // `paddy stage` has no such flag: the same refusal there names the files, not the flag.
    let dated = dir.path().join("values_20260717.tif");
    std::fs::copy(&raster, &dated).unwrap();
    let out = paddy(
        dir.path(),
        &[
            "stage",
            dated.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
            "--date-pattern",
            "{yyyy}{mm}{dd}",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("values_20260717.tif") && err.contains("p.geojson"),
        "{err}"
    );
    assert!(!err.contains("--assume-same-crs"), "{err}");
}

#[test]
fn every_common_vector_format_gives_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let raster = tiles.join("s2_20260627.tif");
    let source = tiles.join("plots.geojson");
    let run = |plots: &Path| {
        paddy_ok(
            dir.path(),
            &[
                "stats",
                raster.to_str().unwrap(),
                "--plots",
                plots.to_str().unwrap(),
                "--id-field",
                "plot_id",
                "-q",
            ],
        )
    };
    let reference = read_csv(&run(&source));
    for (name, driver) in [
        ("plots.gpkg", "GPKG"),
        ("plots.shp", "ESRI Shapefile"),
        ("plots.kml", "KML"),
        ("plots.fgb", "FlatGeobuf"),
    ] {
        let path = dir.path().join(name);
        let status = Command::new("ogr2ogr")
            .args(["-q", "-f", driver])
            .arg(&path)
            .arg(&source)
            .status()
            .unwrap();
        assert!(status.success(), "ogr2ogr -f {driver}");
        let rows = read_csv(&run(&path));
        assert_eq!(rows.len(), reference.len(), "{name}");
        // FlatGeobuf stores features in its spatial index's order: match rows by id.
        for a in &reference {
            let b = rows.iter().find(|b| b["plot_id"] == a["plot_id"]).unwrap();
            for stat in ["count", "mean", "stdev", "median"] {
                let key = format!("s2_20260627_b5_{stat}");
                let (x, y) = (num(a, &key), num(b, &key));
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "{name} {key}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn a_multi_layer_file_needs_layer() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let gpkg = dir.path().join("two.gpkg");
    for (layer, src, update) in [
        ("paddies", "plots.geojson", false),
        ("hotspots", "anomalies.geojson", true),
    ] {
        let mut cmd = Command::new("ogr2ogr");
        if update {
            cmd.arg("-update");
        }
        let status = cmd
            .args(["-nln", layer])
            .arg(&gpkg)
            .arg(tiles.join(src))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let raster = tiles.join("s2_20260717.tif");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "stats",
            raster.to_str().unwrap(),
            "--plots",
            gpkg.to_str().unwrap(),
            "-q",
        ];
        v.extend_from_slice(extra);
        paddy(dir.path(), &v)
    };
    let out = args(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--layer") && err.contains("paddies") && err.contains("hotspots"),
        "{err}"
    );
    let out = args(&["--layer", "paddies"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read_csv(&String::from_utf8_lossy(&out.stdout)).len(), 12);
    let out = args(&["--layer", "nope"]);
    assert!(stderr(&out).contains("no layer 'nope'"));
}

#[test]
fn band_scale_and_offset_give_physical_values() {
    let dir = tempfile::tempdir().unwrap();
    let raster = make_raster(dir.path(), true);
    let scaled = dir.path().join("scaled.tif");
    let status = Command::new("gdal_translate")
        .args(["-q", "-a_scale", "0.5", "-a_offset", "3"])
        .arg(&raster)
        .arg(&scaled)
        .status()
        .unwrap();
    assert!(status.success());
    let plots = write_plots(
        dir.path(),
        "p.geojson",
        &[("E", polygon(&[rect(3.5, 3.75, 6.25, 4.5)]))],
    );
    let out = paddy_ok(
        dir.path(),
        &[
            "stats",
            raster.to_str().unwrap(),
            scaled.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
            "-q",
        ],
    );
    let row = &read_csv(&out)[0];
    let close = |a: f64, b: f64| assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    close(num(row, "scaled_count"), num(row, "values_count"));
    // Nodata is compared before scaling: the same pixels are excluded.
    close(
        num(row, "scaled_nodata_fraction"),
        num(row, "values_nodata_fraction"),
    );
    for stat in ["mean", "min", "max", "median", "p10", "p90"] {
        let raw = num(row, &format!("values_{stat}"));
        close(num(row, &format!("scaled_{stat}")), raw * 0.5 + 3.0);
    }
    close(num(row, "scaled_stdev"), num(row, "values_stdev") * 0.5);
}

#[test]
fn a_mask_band_hides_pixels_and_gets_no_columns() {
    let dir = tempfile::tempdir().unwrap();
    // Band 1: value(col, row); band 2: cloud mask, 1 on columns 12 and 13.
    let path = dir.path().join("cloudy.tif");
    let (w, h) = (40usize, 30usize);
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<f64, _>(&path, w, h, 2)
        .unwrap();
    ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    let values: Vec<f64> = (0..h)
        .flat_map(|r| (0..w).map(move |c| value(c, r)))
        .collect();
    let clouds: Vec<f64> = (0..h)
        .flat_map(|_| (0..w).map(|c| if c == 12 || c == 13 { 1.0 } else { 0.0 }))
        .collect();
    for (band, data) in [(1, values), (2, clouds)] {
        let mut b = ds.rasterband(band).unwrap();
        b.write((0, 0), (w, h), &mut gdal::raster::Buffer::new((w, h), data))
            .unwrap();
    }
    drop(ds);
    let plots = write_plots(
        dir.path(),
        "p.geojson",
        &[("A", polygon(&[rect(10.5, 5.0, 15.25, 7.5)]))],
    );
    let out = paddy_ok(
        dir.path(),
        &[
            "stats",
            path.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
            "--mask-band",
            "2",
            "-q",
        ],
    );
    let row = &read_csv(&out)[0];
    assert!(!row.contains_key("cloudy_b2_mean") && row.contains_key("cloudy_mean"));
    let cells = rect_cells(10.5, 5.0, 15.25, 7.5);
    let clear: Vec<((usize, usize), f64)> = cells
        .iter()
        .copied()
        .filter(|((c, _), _)| *c != 12 && *c != 13)
        .collect();
    let all: f64 = cells.iter().map(|x| x.1).sum();
    let count: f64 = clear.iter().map(|x| x.1).sum();
    let mean = clear
        .iter()
        .map(|((c, r), w)| value(*c, *r) * w)
        .sum::<f64>()
        / count;
    assert!((num(row, "cloudy_count") - count).abs() < 1e-9);
    assert!((num(row, "cloudy_mean") - mean).abs() < 1e-9 * mean);
    assert!((num(row, "cloudy_nodata_fraction") - (all - count) / all).abs() < 1e-12);
}

/// Shapefiles of the statistics: column names of at most 10 bytes, none alike, in the order of
/// the CSV's columns and with its values (to the DBF's 15 decimals). The groups are the band
/// suffixes of one stack (`b1_mean`), and r1, r2, … where two stacks' would clash; long plot
/// attributes are cut (`duration_c`), and a warning gives every name used.
#[test]
fn statistics_shapefiles_take_short_unique_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = root().join("sample_tiles");
    let stats = [
        "cnt", "mean", "std", "min", "max", "med", "p10", "p90", "nodf",
    ];
    let one: Vec<String> = (1..=6).map(|b| format!("b{b}")).collect();
    let two: Vec<String> = (1..=12).map(|k| format!("r{k}")).collect();
    for (k, (rasters, groups)) in [
        (vec!["s2_20260717.tif"], one),
        (vec!["s2_20260627.tif", "s2_20260717.tif"], two),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args: Vec<String> = vec!["stats".into()];
        args.extend(rasters.iter().map(|r| tiles.join(r).display().to_string()));
        args.extend([
            "--plots".into(),
            tiles.join("plots.geojson").display().to_string(),
        ]);
        let outs = [
            format!("{k}.csv"),
            format!("{k}.shp"),
            format!("{k}.shp.zip"),
        ];
        for out in &outs {
            args.extend(["--out".to_string(), out.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = paddy(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{k}.shp: shapefile column names have at most 10 bytes"
            )) && err.contains("duration_class as duration_c")
                && err.contains("nodata_fraction as nodf"),
            "{err}"
        );
        let csv_text = std::fs::read_to_string(dir.path().join(&outs[0])).unwrap();
        let header: Vec<String> = csv_text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        let rows = read_csv(&csv_text);
        let mut want: Vec<String> = [
            "plot_id",
            "variety",
            "duration_c",
            "transplant",
            "n_rich",
            "area_ha",
            "status",
            "area_m2",
            "pixels",
        ]
        .map(String::from)
        .to_vec();
        for g in &groups {
            want.extend(stats.iter().map(|s| format!("{g}_{s}")));
        }
        for shp in &outs[1..] {
            let ds = gdal::Dataset::open(dir.path().join(shp)).unwrap();
            let mut layer = ds.layer(0).unwrap();
            let names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
            assert_eq!(names, want, "{shp}");
            assert_eq!(names.len(), header.len());
            let mut ids = Vec::new();
            for f in layer.features() {
                let id = f.field_as_string(0).unwrap().unwrap();
                let row = rows.iter().find(|r| r["plot_id"] == id).unwrap();
                for (i, column) in header.iter().enumerate() {
                    let got = f.field_as_string(i).unwrap().unwrap_or_default();
                    let text = &row[column];
                    match (text.parse::<f64>(), got.parse::<f64>()) {
                        (Ok(a), Ok(b)) => assert!(
                            (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                            "{shp} {id} {column} as {}: {a} vs {b}",
                            names[i]
                        ),
                        _ => assert_eq!(&got, text, "{shp} {id} {column} as {}", names[i]),
                    }
                }
                ids.push(id);
            }
            assert_eq!(ids.len(), 12, "{shp}");
        }
        // The QGIS style beside the shapefile classes the mean and reads the count (the share
        // of each plot seen) from columns the shapefile has.
        let qml = std::fs::read_to_string(dir.path().join(format!("{k}.qml"))).unwrap();
        for stat in ["mean", "cnt"] {
            assert!(
                qml.contains(&format!("&quot;{}_{stat}&quot;", groups[0])),
                "{k}.qml: {stat}"
            );
        }
        // And gives each shortened field its column's name as its alias (b1_mean:
        // s2_20260717_b1_mean), so QGIS shows the long names.
        for shp in &outs[1..] {
            let qml = dir.path().join(format!("{k}.qml"));
            check_shapefile_aliases(&dir.path().join(shp), &qml, &header);
        }
    }
}

/// Run a GDAL/OGR command-line tool and require success.
fn tool(name: &str, args: &[&str]) {
    let status = Command::new(name).args(args).status().unwrap();
    assert!(status.success(), "{name} {args:?}");
}

/// Several rasters, one not covering every plot: `status` and `pixels` speak for every raster.
/// A crop of a tile (another pixel grid) leaves some plots outside it and cuts others, which
/// OGR's own geometry of the plots against the crop's extent says; each raster's group then
/// has its own `<prefix>_pixels`, the count of the plot's cells on that raster alone. Nodata
/// burnt over a plot (the same grid) leaves it no valid pixels there, whichever raster comes
/// first.
#[test]
fn status_and_pixels_follow_every_raster() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tiles = root().join("sample_tiles");
    let plots = tiles.join("plots.geojson");
    let plots = plots.to_str().unwrap();
    // Band 3 (red) of two dates; the second cropped to its left 20 of 40 columns.
    let (full, crop) = (d.join("s2_0717_red.tif"), d.join("s2_0627_red.tif"));
    let (full, crop) = (full.to_str().unwrap(), crop.to_str().unwrap());
    let tile = |date: &str| tiles.join(format!("s2_{date}.tif")).display().to_string();
    tool(
        "gdal_translate",
        &["-q", "-b", "3", &tile("20260717"), full],
    );
    let srcwin = ["-srcwin", "0", "0", "20", "30"];
    let mut args = vec!["-q", "-b", "3"];
    args.extend(srcwin);
    let source = tile("20260627");
    args.extend([source.as_str(), crop]);
    tool("gdal_translate", &args);

    // Truth from OGR: each plot (in the rasters' UTM) against the crop's extent.
    let utm = d.join("plots_utm.gpkg");
    tool(
        "ogr2ogr",
        &["-q", "-t_srs", "EPSG:32648", utm.to_str().unwrap(), plots],
    );
    let cropped = gdal::Dataset::open(crop).unwrap();
    let gt = cropped.geo_transform().unwrap();
    let (w, h) = cropped.raster_size();
    let (x0, y1) = (gt[0], gt[3]);
    let (x1, y0) = (x0 + gt[1] * w as f64, y1 + gt[5] * h as f64);
    let extent = gdal::vector::Geometry::from_wkt(&format!(
        "POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    ))
    .unwrap();
    let ds = gdal::Dataset::open(&utm).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let truth: HashMap<String, &str> = layer
        .features()
        .map(|f| {
            let id = f.field_as_string(f.field_index("plot_id").unwrap());
            let id = id.unwrap().unwrap();
            let g = f.geometry().unwrap();
            let inside = g.intersection(&extent).map_or(0.0, |i| i.area());
            let place = if inside <= 0.0 {
                "outside"
            } else if inside < g.area() * (1.0 - 1e-6) {
                "partly"
            } else {
                "inside"
            };
            (id, place)
        })
        .collect();
    let count = |place: &str| truth.values().filter(|p| **p == place).count();
    assert!(count("outside") > 0 && count("partly") > 0 && count("inside") > 0);

    // Each raster alone: its own pixels.
    let alone = |raster: &str| -> HashMap<String, HashMap<String, String>> {
        read_csv(&paddy_ok(d, &["stats", raster, "--plots", plots, "-q"]))
            .into_iter()
            .map(|r| (r["plot_id"].clone(), r))
            .collect()
    };
    let (full_alone, crop_alone) = (alone(full), alone(crop));
    for (rasters, crop_first) in [([full, crop], false), ([crop, full], true)] {
        let out = paddy_ok(
            d,
            &["stats", rasters[0], rasters[1], "--plots", plots, "-q"],
        );
        let rows = read_csv(&out);
        assert_eq!(rows.len(), 12);
        assert!(!rows[0].contains_key("pixels"), "two grids, no one pixels");
        for r in &rows {
            let id = &r["plot_id"];
            let want = match truth[id] {
                "outside" => "outside raster s2_0627_red",
                "partly" => "partly outside raster s2_0627_red",
                _ => "ok",
            };
            assert_eq!(r["status"], want, "{id} (crop first: {crop_first})");
            assert_eq!(r["s2_0717_red_pixels"], full_alone[id]["pixels"], "{id}");
            assert_eq!(r["s2_0627_red_pixels"], crop_alone[id]["pixels"], "{id}");
            if truth[id] == "outside" {
                assert_eq!(num(r, "s2_0627_red_count"), 0.0, "{id}");
                assert_eq!(crop_alone[id]["status"], "outside raster", "{id}");
            }
        }
    }

    // The same grid, P01 burnt to nodata (0, the tile's) in a copy of the full raster: every
    // cell it touches.
    let masked = d.join("s2_0717_red_masked.tif");
    std::fs::copy(full, &masked).unwrap();
    let masked = masked.to_str().unwrap();
    tool(
        "gdal_rasterize",
        &[
            "-q",
            "-at",
            "-burn",
            "0",
            "-where",
            "plot_id='P01'",
            plots,
            masked,
        ],
    );
    for rasters in [[full, masked], [masked, full]] {
        let out = paddy_ok(
            d,
            &["stats", rasters[0], rasters[1], "--plots", plots, "-q"],
        );
        for r in read_csv(&out) {
            let want = if r["plot_id"] == "P01" {
                "no valid pixels in s2_0717_red_masked"
            } else {
                "ok"
            };
            assert_eq!(r["status"], want, "{} ({rasters:?})", r["plot_id"]);
            // One grid: one pixels column, the same for both.
            assert_eq!(r["pixels"], full_alone[&r["plot_id"]]["pixels"]);
        }
    }
    let masked_alone = alone(masked);
    assert_eq!(masked_alone["P01"]["status"], "no valid pixels");
    assert_eq!(num(&masked_alone["P01"], "s2_0717_red_masked_count"), 0.0);
}
