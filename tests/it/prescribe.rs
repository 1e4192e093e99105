//! `paddy prescribe`: exact rates and zones on a hand-built field, the sample season at
//! panicle initiation, and every output file opened by GDAL/OGR, parsed as XML, checked
//! against RFC 7946.

use std::collections::HashMap;
use std::path::Path;

use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{Geometry, LayerAccess};
use gdal::{DriverManager, Metadata};

use crate::common::{paddy, paddy_ok, read_band, root, rows};

/// Column × row layout of the hand-built 20 × 10 raster (10 m pixels, EPSG:32648, origin
/// E 500000 N 1100000): five 4 × 4 plots along the top, one 10 × 6 plot below.
const CELL: f64 = 10.0;
const X0: f64 = 500_000.0;
const Y0: f64 = 1_100_000.0;

fn square(c0: usize, r0: usize, c1: usize, r1: usize) -> serde_json::Value {
    let (x0, x1) = (X0 + CELL * c0 as f64, X0 + CELL * c1 as f64);
    let (y0, y1) = (Y0 - CELL * r1 as f64, Y0 - CELL * r0 as f64);
    serde_json::json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// The field: the index raster and the plots (with attributes), in `dir`.
fn hand_built(dir: &Path) -> (String, String) {
    let (w, h) = (20usize, 10usize);
    let mut data = vec![-9999.0f32; w * h];
    let mut fill = |c0: usize, r0: usize, c1: usize, r1: usize, v: f32| {
        for r in r0..r1 {
            for c in c0..c1 {
                data[r * w + c] = v;
            }
        }
    };
    fill(0, 0, 4, 4, 0.50); // A: the N-rich strip
    fill(4, 0, 8, 4, 0.4825); // B: SI 0.965, a tiny need → the minimum rate
    fill(8, 0, 12, 4, 0.4425); // C: SI 0.885 → 20 kg N → 43.5 → 45 kg urea
    fill(12, 0, 16, 4, 0.30); // D: SI 0.6, below the floor → the maximum, rounded down
    fill(16, 0, 20, 4, 0.30); // E: as D, but at tillering: outside the window
    fill(0, 4, 10, 10, 0.80); // F: healthy…
    fill(3, 6, 6, 9, 0.50); // …with a 3 × 3 stressed block
    fill(8, 5, 9, 6, 0.50); // …and a single stressed cell
    let index = dir.join("index.tif");
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<f32, _>(&index, w, h, 1)
        .unwrap();
    ds.set_geo_transform(&[X0, CELL, 0.0, Y0, 0.0, -CELL])
        .unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    {
        let mut band = ds.rasterband(1).unwrap();
        band.set_no_data_value(Some(-9999.0)).unwrap();
        band.set_description("NDREI").unwrap();
        band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))
            .unwrap();
    }
    ds.close().unwrap();
    // Flight on 2026-07-18; medium plots transplanted 2026-06-02 are 46 days after
    // transplanting (panicle initiation); E was transplanted 2026-07-08 (10 days: tillering).
    let plot = |id: &str, geom: serde_json::Value, n_rich: i32, transplanted: &str| {
        serde_json::json!({"type": "Feature", "properties": {"plot_id": id, "n_rich": n_rich,
            "transplanted": transplanted, "duration_class": "medium"}, "geometry": geom})
    };
    let t = "2026-06-02";
    let plots = serde_json::json!({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}},
        "features": [
            plot("A", square(0, 0, 4, 4), 1, t),
            plot("B", square(4, 0, 8, 4), 0, t),
            plot("C", square(8, 0, 12, 4), 0, t),
            plot("D", square(12, 0, 16, 4), 0, t),
            plot("E", square(16, 0, 20, 4), 0, "2026-07-08"),
            plot("F", square(0, 4, 10, 10), 0, t),
        ]
    });
    let plots_path = dir.join("plots.geojson");
    std::fs::write(&plots_path, plots.to_string()).unwrap();
    (
        index.display().to_string(),
        plots_path.display().to_string(),
    )
}

fn by_id(table: &[HashMap<String, String>]) -> HashMap<String, HashMap<String, String>> {
    table
        .iter()
        .map(|r| (r["plot_id"].clone(), r.clone()))
        .collect()
}

fn num(r: &HashMap<String, String>, k: &str) -> f64 {
    r[k].parse()
        .unwrap_or_else(|_| panic!("{k} = '{}' in {r:?}", r[k]))
}

#[test]
fn hand_built_rates_and_zones_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (index, plots) = hand_built(dir.path());
    // 10 m cells on the pixels; zones of at least 2 cells, buffered by one cell.
    let config = dir.path().join("rx.toml");
    std::fs::write(
        &config,
        "[grid]\ncell_size = 10.0\n[spray]\nmin_area_m2 = 200.0\nbuffer_m = 10.0\n",
    )
    .unwrap();
    let out = dir.path().join("rx");
    let (c, o) = (config.display().to_string(), out.display().to_string());
    paddy_ok(
        dir.path(),
        &[
            "prescribe",
            "--plots",
            &plots,
            "--n-index",
            &index,
            "--spray-index",
            &index,
            "--at",
            "2026-07-18",
            "-c",
            &c,
            "--out",
            &o,
            "-q",
        ],
    );
    let table = by_id(&rows(
        &std::fs::read_to_string(out.join("rx_summary.csv")).unwrap(),
    ));
    // Urea 46 % N, step 5 kg, min 10 / max 40 kg N/ha, SI threshold 0.97 (NDRE), floor 0.80.
    let a = &table["A"];
    assert_eq!(num(a, "product_kg_ha"), 0.0);
    assert!(a["n_reason"].contains("N-rich reference"), "{a:?}");
    let b = &table["B"];
    assert!((num(b, "si") - 0.965).abs() < 1e-6);
    // Need (0.97 − 0.965) / 0.17 × 40 = 1.2 kg N → raised to 10 → 21.7 kg urea; the nearest
    // step, 20 kg (9.2 kg N), is below the minimum: 25 kg (11.5 kg N).
    assert_eq!(num(b, "product_kg_ha"), 25.0);
    assert!((num(b, "n_kg_ha") - 11.5).abs() < 1e-9);
    assert_eq!(b["n_status"], "prescribed");
    let cc = &table["C"];
    assert!((num(cc, "si") - 0.885).abs() < 1e-6);
    assert_eq!(num(cc, "product_kg_ha"), 45.0);
    let d = &table["D"];
    // 40 kg N = 86.96 kg urea: 85, the step below (90 would exceed 40 kg N).
    assert_eq!(num(d, "product_kg_ha"), 85.0);
    assert!(num(d, "n_kg_ha") <= 40.0);
    let e = &table["E"];
    assert_eq!(num(e, "product_kg_ha"), 0.0);
    assert!(e["n_reason"].contains("outside the window"), "{e:?}");
    let f = &table["F"];
    assert_eq!(num(f, "product_kg_ha"), 0.0);
    assert!(f["n_reason"].starts_with("sufficient"), "{f:?}");
    // Totals: the machine layer's, rate × the plot's 0.16 ha (planar, in UTM).
    assert!((num(b, "product_kg") - 0.16 * 25.0).abs() < 0.006);
    assert!((num(cc, "product_kg") - 0.16 * 45.0).abs() < 0.006);
    assert!((num(d, "product_kg") - 0.16 * 85.0).abs() < 0.006);
    // The geodesic area is the UTM one within the scale error.
    assert!((num(cc, "area_ha") / 0.16 - 1.0).abs() < 0.005);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("rx_report.json")).unwrap()).unwrap();
    let total = 0.16 * (25.0 + 45.0 + 85.0);
    assert!((report["nitrogen"]["product_kg"].as_f64().unwrap() - total).abs() < 0.01);
    assert!((report["nitrogen"]["n_kg"].as_f64().unwrap() - total * 0.46).abs() < 0.01);

    // The N grid: the plot rates, nodata outside plots.
    let n = read_band(&out.join("rx_nitrogen.tif"), 1);
    assert_eq!((n.width, n.height), (20, 10));
    assert_eq!(n.data[0], 0.0);
    assert_eq!(n.data[8], 45.0);
    assert_eq!(n.data[15], 85.0);
    assert_eq!(n.data[5 * 20 + 15], -9999.0);

    // Spray (10 m cells, the flight's): the block (3 × 3) buffered by 10 m (cell centres
    // within one cell, a Euclidean disk: the 5 × 5 square without its corners, 21 cells) at
    // 15 L/ha; the single cell is below the minimum area; nothing else. The top plots have 16
    // cells each, fewer than the 20 a plot's median and MAD need: not observed, no rate.
    let s = read_band(&out.join("rx_spray.tif"), 1);
    for r in 0..10 {
        for c in 0..20 {
            let v = s.data[r * 20 + c];
            let expected = if r >= 4 && c < 10 {
                let corner = (r == 5 || r == 9) && (c == 2 || c == 6);
                if (5..=9).contains(&r) && (2..=6).contains(&c) && !corner {
                    15.0
                } else {
                    0.0
                }
            } else {
                -9999.0
            };
            assert_eq!(v, expected, "spray cell row {r} col {c}");
        }
    }
    assert!((num(f, "spray_area_m2") - 2100.0).abs() < 1e-6);
    assert!((num(f, "spray_product_l") - 15.0 * 0.21).abs() < 0.006);
    assert_eq!(report["spray"]["zones"].as_u64(), Some(1));
    assert_eq!(b["spray_status"], "not observed");
    assert!(b["spray_reason"].starts_with("not observed"), "{b:?}");
    assert_eq!(b["spray_rate_outside_l_ha"], "");
    assert_eq!(f["spray_status"], "prescribed");

    // Without a marked strip: the virtual reference, the 95th percentile (type 7) of the
    // cells in the plots: 16 × 5 top cells and 60 cells of F (50 of 0.8, 10 of 0.5).
    let mut cells: Vec<f64> = Vec::new();
    for v in [0.50f32, 0.4825, 0.4425, 0.30, 0.30] {
        cells.extend(std::iter::repeat(f64::from(v)).take(16));
    }
    cells.extend(std::iter::repeat(f64::from(0.8f32)).take(50));
    cells.extend(std::iter::repeat(f64::from(0.5f32)).take(10));
    cells.sort_by(f64::total_cmp);
    let h = (cells.len() - 1) as f64 * 0.95;
    let p95 = cells[h.floor() as usize]
        + (h - h.floor()) * (cells[h.ceil() as usize] - cells[h.floor() as usize]);
    std::fs::write(
        &config,
        "[grid]\ncell_size = 10.0\n[nitrogen]\nreference_field = \"none\"\n",
    )
    .unwrap();
    let out2 = dir.path().join("rx2");
    let o2 = out2.display().to_string();
    let stdout = paddy_ok(
        dir.path(),
        &[
            "prescribe",
            "--plots",
            &plots,
            "--n-index",
            &index,
            "--at",
            "2026-07-18",
            "-c",
            &c,
            "--out",
            &o2,
        ],
    );
    assert!(stdout.contains("virtual reference"), "{stdout}");
    let table = by_id(&rows(
        &std::fs::read_to_string(out2.join("rx_summary.csv")).unwrap(),
    ));
    assert!((num(&table["C"], "si") - f64::from(0.4425f32) / p95).abs() < 1e-6);
    assert!(
        num(&table["A"], "product_kg_ha") > 0.0,
        "A is no longer the reference"
    );
}

#[test]
fn bad_settings_and_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (index, plots) = hand_built(dir.path());
    let config = dir.path().join("rx.toml");
    std::fs::write(&config, "[nitrogen]\nmax_rat = 30\n").unwrap();
    let c = config.display().to_string();
    let out = paddy(
        dir.path(),
        &[
            "prescribe",
            "--plots",
            &plots,
            "--n-index",
            &index,
            "--at",
            "2026-07-18",
            "-c",
            &c,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_rat"));
    // Rails with no applicator step between them: 10–11 kg N/ha is 21.7–23.9 kg urea/ha.
    std::fs::write(&config, "[nitrogen]\nmin_rate = 10\nmax_rate = 11\n").unwrap();
    let out = paddy(
        dir.path(),
        &[
            "prescribe",
            "--plots",
            &plots,
            "--n-index",
            &index,
            "--at",
            "2026-07-18",
            "-c",
            &c,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("min_rate 10") && err.contains("max_rate 11") && err.lines().count() == 1,
        "{err}"
    );
    // No stage source.
    let out = paddy(
        dir.path(),
        &["prescribe", "--plots", &plots, "--n-index", &index],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stages"));
    // A raster in degrees: the grids are laid in the plots' UTM zone instead, and said so.
    let geo = dir.path().join("geo.tif");
    let status = std::process::Command::new("gdalwarp")
        .args(["-q", "-t_srs", "EPSG:4326", &index, geo.to_str().unwrap()])
        .status();
    if status.is_ok_and(|s| s.success()) {
        let out = paddy(
            dir.path(),
            &[
                "prescribe",
                "--plots",
                &plots,
                "--n-index",
                geo.to_str().unwrap(),
                "--at",
                "2026-07-18",
                "--out",
                "geo_rx",
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("geographic") && stderr.contains("UTM zone"),
            "{stderr}"
        );
        let grid = gdal::Dataset::open(dir.path().join("geo_rx").join("rx_nitrogen.tif")).unwrap();
        let srs = grid.spatial_ref().unwrap();
        assert_eq!(srs.auth_code().unwrap() / 100, 326, "{:?}", srs.name());
    }
    // The defaults print and parse.
    let text = paddy_ok(dir.path(), &["prescribe", "--print-config"]);
    assert!(text.contains("[nitrogen]") && text.contains("NO rice defaults"));
}

/// Drone NDRE and NDVI of the sample flights, and the prescription at panicle initiation.
fn sample_prescription(dir: &Path) -> std::path::PathBuf {
    sample_indices(dir);
    prescribe_sample(dir, &root().join("sample_tiles/plots.geojson"), "rx", &[])
}

/// Drone NDRE and NDVI of the sample flights of 26 June and 18 July, into `dir/idx`.
fn sample_indices(dir: &Path) {
    let tiles = root().join("sample_tiles");
    let idx = dir.join("idx");
    for date in ["20260626", "20260718"] {
        paddy_ok(
            dir,
            &[
                "index",
                tiles.join(format!("drone_{date}.tif")).to_str().unwrap(),
                "--index",
                "ndrei,ndvi",
                "--out",
                idx.to_str().unwrap(),
                "-q",
            ],
        );
    }
}

/// The prescription of `plots` from the indices of [`sample_indices`] at panicle initiation,
/// into `dir/name`, with `extra` arguments.
fn prescribe_sample(dir: &Path, plots: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let idx = dir.join("idx");
    let out = dir.join(name);
    let mut args = vec![
        "prescribe".to_string(),
        "--plots".into(),
        plots.display().to_string(),
        "--n-index".into(),
        idx.join("drone_20260718_ndrei.tif").display().to_string(),
        "--spray-index".into(),
        idx.join("drone_20260718_ndvi.tif").display().to_string(),
        "--previous".into(),
        idx.join("drone_20260626_ndvi.tif").display().to_string(),
        "--at".into(),
        "2026-07-18".into(),
        "--out".into(),
        out.display().to_string(),
        "-q".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    paddy_ok(dir, &args);
    out
}

/// The anomalies of sample_tiles/anomalies.geojson in UTM 48N, by kind.
fn anomaly(kind: &str) -> Geometry {
    let ds = gdal::Dataset::open(root().join("sample_tiles/anomalies.geojson")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let utm = SpatialRef::from_epsg(32648).unwrap();
    let k = layer.defn().field_index("kind").unwrap();
    for f in layer.features() {
        if f.field_as_string(k).unwrap().as_deref() == Some(kind) {
            return f.geometry().unwrap().transform_to(&utm).unwrap();
        }
    }
    panic!("no {kind}");
}

/// A sample plot's polygon in UTM 48N.
fn plot(id: &str) -> Geometry {
    let ds = gdal::Dataset::open(root().join("sample_tiles/plots.geojson")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let k = layer.defn().field_index("plot_id").unwrap();
    let f = layer
        .features()
        .find(|f| f.field_as_string(k).unwrap().as_deref() == Some(id))
        .unwrap();
    f.geometry()
        .unwrap()
        .transform_to(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap()
}

/// Cell centres of a raster with their values.
fn cells(path: &Path) -> Vec<(f64, f64, f64)> {
    let ds = gdal::Dataset::open(path).unwrap();
    let gt = ds.geo_transform().unwrap();
    let band = read_band(path, 1);
    let mut out = Vec::new();
    for r in 0..band.height {
        for c in 0..band.width {
            let v = band.data[r * band.width + c];
            if Some(v) != band.nodata {
                out.push((
                    gt[0] + gt[1] * (c as f64 + 0.5),
                    gt[3] + gt[5] * (r as f64 + 0.5),
                    v,
                ));
            }
        }
    }
    out
}

#[test]
fn sample_season_at_panicle_initiation() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_prescription(dir.path());
    let table = by_id(&rows(
        &std::fs::read_to_string(out.join("rx_summary.csv")).unwrap(),
    ));
    // The N-rich strip gets nothing, everywhere.
    assert_eq!(num(&table["P06"], "product_kg_ha"), 0.0);
    // One area_ha column (the plots' own is kept as attr_area_ha).
    let text = std::fs::read_to_string(out.join("rx_summary.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header.iter().filter(|&&h| h == "area_ha").count(), 1);
    assert!(header.contains(&"attr_area_ha"));
    // P01, 2 % in the flight: not observed, no rate and no SI (not 0, not 1).
    let p01 = &table["P01"];
    assert_eq!(p01["n_status"], "not observed");
    assert_eq!(
        (p01["product_kg_ha"].as_str(), p01["si"].as_str()),
        ("", "")
    );
    assert!(p01["n_reason"].contains("covers 2%"), "{p01:?}");
    let nitrogen = cells(&out.join("rx_nitrogen.tif"));
    let patch = anomaly("n_deficient");
    let (p06, p07) = (plot("P06"), plot("P07"));
    let point = |x: f64, y: f64| Geometry::from_wkt(&format!("POINT ({x} {y})")).unwrap();
    let near_patch = patch.buffer(10.0, 8).unwrap();
    let (mut inside, mut rest) = (Vec::new(), Vec::new());
    for &(x, y, v) in &nitrogen {
        if p06.contains(&point(x, y)) {
            assert_eq!(v, 0.0, "N-rich strip cell at {x} {y}");
        }
        if patch.contains(&point(x, y)) {
            inside.push(v);
        } else if p07.contains(&point(x, y)) && !near_patch.contains(&point(x, y)) {
            rest.push(v);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = nitrogen.iter().map(|c| c.2).fold(0.0, f64::max);
    assert!(inside.len() >= 10, "{} cells in the patch", inside.len());
    assert!(
        mean(&inside) > mean(&rest) + 20.0,
        "patch {:.1} vs rest of P07 {:.1} kg urea/ha",
        mean(&inside),
        mean(&rest)
    );
    assert!(
        inside.iter().filter(|&&v| v == max).count() * 2 >= inside.len(),
        "most patch cells at the highest rate {max}: {inside:?}"
    );
    // Spray: zones over the disease hotspot and nothing farther than the buffer from it.
    let hotspot = anomaly("disease_hotspot");
    let sprayed: Vec<(f64, f64)> = cells(&out.join("rx_spray.tif"))
        .into_iter()
        .filter(|c| c.2 > 0.0)
        .map(|c| (c.0, c.1))
        .collect();
    assert!(!sprayed.is_empty(), "no spray zone");
    // Buffer 5 m, plus half a 5 m cell for the cell centre.
    let near_hotspot = hotspot.buffer(10.0, 8).unwrap();
    for &(x, y) in &sprayed {
        assert!(
            near_hotspot.contains(&point(x, y)),
            "sprayed cell at {x} {y}, more than 10 m from the hotspot"
        );
    }
    // sample_tiles/README.md: the hotspot's centre is at E 560236 N 1149801.
    let centre = (560_236.0, 1_149_801.0);
    assert!(
        sprayed
            .iter()
            .any(|&(x, y)| (x - centre.0).abs() <= 5.0 && (y - centre.1).abs() <= 5.0),
        "the hotspot's centre is not sprayed: {sprayed:?}"
    );
}

/// The sample plots and P07 and P12 copied 0.03° east and 0.02° north (about 3.3 km and 2.2
/// km), far outside the flight, as FAR07 and FAR12; into `dir/plots_far.geojson`.
pub fn plots_with_far_ones(dir: &Path) -> std::path::PathBuf {
    fn shift(v: &mut serde_json::Value) {
        let Some(items) = v.as_array_mut() else {
            return;
        };
        if items.first().is_some_and(serde_json::Value::is_number) {
            let (x, y) = (items[0].as_f64().unwrap(), items[1].as_f64().unwrap());
            items[0] = (x + 0.03).into();
            items[1] = (y + 0.02).into();
        } else {
            items.iter_mut().for_each(shift);
        }
    }
    let text = std::fs::read_to_string(root().join("sample_tiles/plots.geojson")).unwrap();
    let mut fc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    let mut far: Vec<serde_json::Value> = features
        .iter()
        .filter(|f| ["P07", "P12"].contains(&f["properties"]["plot_id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(far.len(), 2);
    for f in &mut far {
        let id = f["properties"]["plot_id"]
            .as_str()
            .unwrap()
            .replace('P', "FAR");
        f["properties"]["plot_id"] = id.into();
        shift(&mut f["geometry"]["coordinates"]);
    }
    features.extend(far);
    let path = dir.join("plots_far.geojson");
    std::fs::write(&path, serde_json::to_string(&fc).unwrap()).unwrap();
    path
}

/// Size and geotransform of a raster.
fn grid_of(path: &Path) -> ((usize, usize), [f64; 6]) {
    let ds = gdal::Dataset::open(path).unwrap();
    (ds.raster_size(), ds.geo_transform().unwrap())
}

#[test]
fn plots_outside_the_flight_are_listed_but_not_gridded() {
    let dir = tempfile::tempdir().unwrap();
    sample_indices(dir.path());
    let sample = prescribe_sample(
        dir.path(),
        &root().join("sample_tiles/plots.geojson"),
        "rx",
        &[],
    );
    let plots = plots_with_far_ones(dir.path());
    let out = prescribe_sample(dir.path(), &plots, "rx_far", &[]);
    let summary = |dir: &Path| {
        by_id(&rows(
            &std::fs::read_to_string(dir.join("rx_summary.csv")).unwrap(),
        ))
    };
    let (near, far) = (summary(&sample), summary(&out));
    // The grids are the flight's plots' extent: the same as without the far plots, within a
    // cell of the 12 sample plots' bounding box (all of which the flight meets).
    let mut env = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for k in 1..=12 {
        let e = plot(&format!("P{k:02}")).envelope();
        env = [
            env[0].min(e.MinX),
            env[1].min(e.MinY),
            env[2].max(e.MaxX),
            env[3].max(e.MaxY),
        ];
    }
    for name in ["rx_nitrogen.tif", "rx_spray.tif"] {
        let ((w, h), gt) = grid_of(&out.join(name));
        assert_eq!(((w, h), gt), grid_of(&sample.join(name)), "{name}");
        let (cell, x1, y0) = (gt[1], gt[0] + gt[1] * w as f64, gt[3] + gt[5] * h as f64);
        assert!(
            gt[0] <= env[0] && env[0] - gt[0] < cell,
            "{name}: west {gt:?} {env:?}"
        );
        assert!(
            x1 >= env[2] && x1 - env[2] < cell,
            "{name}: east {x1} {env:?}"
        );
        assert!(
            y0 <= env[1] && env[1] - y0 < cell,
            "{name}: south {y0} {env:?}"
        );
        assert!(
            gt[3] >= env[3] && gt[3] - env[3] < cell,
            "{name}: north {gt:?} {env:?}"
        );
    }
    // The flight's plots get what they got without the far ones, column for column.
    for k in 1..=12 {
        let id = format!("P{k:02}");
        assert_eq!(far[&id], near[&id], "{id}");
    }
    // The far plots are listed: not observed, outside the flight, no rate (not 0), and their
    // whole area not observed.
    for id in ["FAR07", "FAR12"] {
        let r = &far[id];
        assert_eq!(
            (r["n_status"].as_str(), r["spray_status"].as_str()),
            ("not observed", "not observed"),
            "{r:?}"
        );
        assert_eq!(r["product_kg_ha"], "", "{r:?}");
        assert_eq!(r["spray_rate_outside_l_ha"], "", "{r:?}");
        assert!(
            r["n_reason"].contains("outside the flight (drone_20260718_ndrei.tif)"),
            "{r:?}"
        );
        assert!(
            r["spray_reason"].contains("outside the flight (drone_20260718_ndvi.tif)"),
            "{r:?}"
        );
        let area = num(r, "area_ha") * 10_000.0;
        assert!(area > 1000.0, "{r:?}");
        for col in ["n_not_observed_m2", "spray_not_observed_m2"] {
            assert!((num(r, col) - area).abs() < 0.01 * area, "{col}: {r:?}");
        }
    }
    // The maps are the flight's: the layer for people holds the 12 plots it sees (as without
    // the far ones), the machine layer pieces of those alone.
    for product in ["nitrogen", "spray"] {
        assert_eq!(
            people_ids(&out, product),
            people_ids(&sample, product),
            "{product}"
        );
        assert_eq!(people_ids(&out, product).len(), 12, "{product}");
        let text =
            std::fs::read_to_string(out.join(format!("rx_{product}_zones.geojson"))).unwrap();
        let zones: serde_json::Value = serde_json::from_str(&text).unwrap();
        let ids: Vec<&str> = zones["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["plot_id"].as_str().unwrap())
            .collect();
        assert!(
            !ids.is_empty() && !ids.iter().any(|id| id.starts_with("FAR")),
            "{product}: {ids:?}"
        );
    }
    // A nitrogen default rate reaches the far plots: then the nitrogen grid spans them too
    // (more than 3 km east), while the spray grid (no default) stays the flight's plots'.
    let config = dir.path().join("default.toml");
    std::fs::write(&config, "[nitrogen]\ndefault_rate = 20.0\n").unwrap();
    let with_default = prescribe_sample(
        dir.path(),
        &plots,
        "rx_default",
        &["-c", config.to_str().unwrap()],
    );
    let ((w, _), gt) = grid_of(&with_default.join("rx_nitrogen.tif"));
    assert!(gt[0] + gt[1] * w as f64 > env[2] + 3000.0, "{gt:?} {w}");
    assert_eq!(
        grid_of(&with_default.join("rx_spray.tif")),
        grid_of(&sample.join("rx_spray.tif"))
    );
    // and the nitrogen layer for people holds them, with the default rate; the spray one not.
    let ids = people_ids(&with_default, "nitrogen");
    assert!(
        ids.contains("FAR07") && ids.contains("FAR12") && ids.len() == 14,
        "{ids:?}"
    );
    assert_eq!(people_ids(&with_default, "spray").len(), 12);
    let r = &summary(&with_default)["FAR07"];
    assert_eq!(r["n_status"], "not observed (default rate)", "{r:?}");
    assert!(
        r["n_reason"].contains("outside the flight") && r["n_reason"].contains("default_rate"),
        "{r:?}"
    );
    assert!(
        num(r, "product_kg_ha") > 0.0 && num(r, "product_kg") > 0.0,
        "{r:?}"
    );
    assert_eq!(r["spray_status"], "not observed", "{r:?}");
}

/// The plot ids of `dir`'s layer for people of `product`.
fn people_ids(dir: &Path, product: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join(format!("rx_{product}_plots.geojson"))).unwrap();
    let layer: serde_json::Value = serde_json::from_str(&text).unwrap();
    layer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["plot_id"].as_str().unwrap().to_string())
        .collect()
}

/// The (year, month, day) of every entry of the zip at `path`, as its central directory dates
/// them (MS-DOS form: year − 1980 in the top 7 bits, month in 4, day in 5).
fn zip_dates(path: &Path) -> Vec<(i32, u32, u32)> {
    let b = std::fs::read(path).unwrap();
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let end = (0..=b.len() - 22)
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 5, 6])
        .expect("an end of central directory");
    let (n, mut at) = (u16_at(end + 10), u32_at(end + 16));
    assert!(n > 0);
    (0..n)
        .map(|_| {
            assert_eq!(
                b[at..at + 4],
                [0x50, 0x4b, 1, 2],
                "a central directory entry"
            );
            let date = u16_at(at + 14);
            at += 46 + u16_at(at + 28) + u16_at(at + 30) + u16_at(at + 32);
            (
                1980 + (date >> 9) as i32,
                ((date >> 5) & 15) as u32,
                (date & 31) as u32,
            )
        })
        .collect()
}

/// QGIS styles start with a DOCTYPE.
fn xml_options() -> roxmltree::ParsingOptions {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    }
}

/// A ring's signed area (shoelace): positive when counter-clockwise.
fn signed_area(ring: &[serde_json::Value]) -> f64 {
    ring.windows(2)
        .map(|w| {
            let (a, b) = (&w[0], &w[1]);
            a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
        })
        .sum::<f64>()
        / 2.0
}

/// RFC 7946: no `crs`, lon/lat in range, closed rings, outer rings counter-clockwise and holes
/// clockwise, valid geometry.
pub fn check_rfc7946(path: &Path) {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(json["type"], "FeatureCollection");
    assert!(json.get("crs").is_none(), "{}: crs member", path.display());
    let features = json["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for f in features {
        for key in ["plot_id", "rate", "unit", "product", "reason"] {
            assert!(f["properties"].get(key).is_some(), "{key} missing");
        }
        let g = &f["geometry"];
        let polygons: Vec<&serde_json::Value> = match g["type"].as_str().unwrap() {
            "Polygon" => vec![&g["coordinates"]],
            "MultiPolygon" => g["coordinates"].as_array().unwrap().iter().collect(),
            other => panic!("geometry {other}"),
        };
        for rings in polygons {
            for (i, ring) in rings.as_array().unwrap().iter().enumerate() {
                let ring = ring.as_array().unwrap();
                assert!(ring.len() >= 4);
                assert_eq!(ring.first(), ring.last(), "ring not closed");
                for p in ring {
                    let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
                    assert!((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y));
                }
                let a = signed_area(ring);
                assert!(
                    if i == 0 { a > 0.0 } else { a < 0.0 },
                    "ring {i} orientation"
                );
            }
        }
        let geometry = Geometry::from_geojson(&g.to_string()).unwrap();
        assert!(
            geometry.is_valid(),
            "invalid geometry in {}",
            path.display()
        );
    }
}

#[test]
fn every_output_opens_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_prescription(dir.path());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("rx_report.json")).unwrap()).unwrap();
    let files: Vec<(String, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut kinds: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    kinds.dedup();
    for (kind, path) in &files {
        let path = &out.join(path);
        assert!(path.exists(), "{kind} {} missing", path.display());
        let name = path.to_string_lossy();
        if name.ends_with(".tif") {
            let ds = gdal::Dataset::open(path).unwrap();
            assert!(ds.spatial_ref().unwrap().auth_code().unwrap() == 32648);
            let band = ds.rasterband(1).unwrap();
            let unit = band.metadata_item("UNIT", "").unwrap();
            // QGIS's legend reads "Band 1: <description>": the product's rate and its unit.
            let product = band.metadata_item("PRODUCT", "").unwrap();
            let description = band.description().unwrap();
            assert!(
                description.contains(&product) && description.ends_with(&unit),
                "{description}"
            );
            assert_eq!(band.no_data_value(), Some(-9999.0));
            // A quicklook and a style beside it.
            let png = std::fs::read(path.with_extension("png")).unwrap();
            assert!(png.starts_with(b"\x89PNG"));
            assert!(path.with_extension("qml").exists());
        } else if name.ends_with(".geojson") {
            check_rfc7946(path);
            let ds = gdal::Dataset::open(path).unwrap();
            assert!(ds.layer(0).unwrap().feature_count() > 0);
        } else if name.ends_with(".shp.zip") {
            let ds = gdal::Dataset::open(path).unwrap();
            let layer = ds.layer(0).unwrap();
            assert!(layer.feature_count() > 0);
            let srs = layer.spatial_ref().expect("the shapefile has its .prj");
            assert_eq!(srs.auth_code().unwrap(), 4326);
            let listing = std::process::Command::new("unzip")
                .args(["-l", path.to_str().unwrap()])
                .output();
            if let Ok(listing) = listing {
                let text = String::from_utf8_lossy(&listing.stdout);
                if listing.status.success() {
                    assert!(text.contains(".prj") && text.contains(".dbf"), "{text}");
                }
            }
            // Its entries are dated when they were written (OGR left them at 1980-00-00).
            let days = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                / 86_400;
            let around: Vec<(i32, u32, u32)> = [days - 1, days, days + 1]
                .iter()
                .map(|&d| paddy::phenology::dates::Date::from_days_since_epoch(d as i32).ymd())
                .collect();
            for date in zip_dates(path) {
                assert!(around.contains(&date), "{name}: entry dated {date:?}");
            }
            // Terminals read the rate from a numeric field.
            let defn = layer.defn();
            let rate = defn.fields().find(|f| f.name() == "rate").unwrap();
            assert_eq!(rate.field_type(), gdal::vector::OGRFieldType::OFTReal);
        } else if name.ends_with(".qml") {
            let text = std::fs::read_to_string(path).unwrap();
            let doc = roxmltree::Document::parse_with_options(&text, xml_options()).unwrap();
            assert_eq!(doc.root_element().tag_name().name(), "qgis");
        } else if name.ends_with("TASKDATA.XML") {
            let text = std::fs::read_to_string(path).unwrap();
            let doc = roxmltree::Document::parse_with_options(&text, xml_options()).unwrap();
            assert_eq!(doc.root_element().tag_name().name(), "ISO11783_TaskData");
            let grd = doc
                .descendants()
                .find(|n| n.has_tag_name("GRD"))
                .expect("a GRD element");
            let cols: u64 = grd.attribute("E").unwrap().parse().unwrap();
            let rows: u64 = grd.attribute("F").unwrap().parse().unwrap();
            let file = format!("{}.BIN", grd.attribute("G").unwrap());
            let bin = path.parent().unwrap().join(file);
            // Grid type 2 with one process variable: one 32-bit integer per cell.
            assert_eq!(grd.attribute("I"), Some("2"));
            assert_eq!(std::fs::metadata(&bin).unwrap().len(), cols * rows * 4);
        }
    }
    for kind in [
        "rx_nitrogen",
        "rx_spray",
        "rx_nitrogen_zones",
        "rx_spray_zones",
        "isoxml",
        "summary",
        "quicklook",
    ] {
        assert!(kinds.contains(&kind), "no {kind} output: {kinds:?}");
    }
    // Nothing half-written left behind.
    for f in std::fs::read_dir(&out).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".part") && !name.starts_with('.'),
            "leftover {name}"
        );
    }
}

/// `paddy prescribe` on the hand-built field with `args` (and `-q`): its exit code, stderr, and
/// the summary's rows by id when it wrote one.
fn prescribe_field(
    dir: &Path,
    args: &[&str],
) -> (
    Option<i32>,
    String,
    HashMap<String, HashMap<String, String>>,
) {
    let mut all = vec!["prescribe"];
    all.extend_from_slice(args);
    let out = paddy(dir, &all);
    let summary = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| dir.join(args[i + 1]).join("rx_summary.csv"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map_or_else(HashMap::new, |t| by_id(&rows(&t)));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        summary,
    )
}

/// The features' attributes of a vector file, as text.
fn properties(path: &Path) -> Vec<HashMap<String, String>> {
    let ds = gdal::Dataset::open(path).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    layer
        .features()
        .map(|f| {
            (0..names.len())
                .map(|i| {
                    (
                        names[i].clone(),
                        f.field_as_string(i).unwrap().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn web_mercator_flights_are_gridded_in_utm_so_areas_and_totals_are_true() {
    let dir = tempfile::tempdir().unwrap();
    let (index, plots) = hand_built(dir.path());
    // The field at 9.9° N: Web Mercator's areas are 1.03 × the ground's there. Resampled
    // without mixing the 10 m blocks (nearest, 2 m), as a drone tool exports a mosaic.
    let mercator = dir.path().join("mercator.tif");
    let status = std::process::Command::new("gdalwarp")
        .args(["-q", "-t_srs", "EPSG:3857", "-r", "near", "-tr", "2", "2"])
        .args([&index, mercator.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let mercator = mercator.display().to_string();
    let run = |raster: &str, out: &str| {
        prescribe_field(
            dir.path(),
            &[
                "--plots",
                &plots,
                "--n-index",
                raster,
                "--at",
                "2026-07-18",
                "--out",
                out,
            ],
        )
    };
    let (code, _, utm) = run(&index, "utm");
    assert_eq!(code, Some(0));
    let (code, stderr, web) = run(&mercator, "web");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("Pseudo-Mercator") && stderr.contains("UTM zone 48N (EPSG:32648)"),
        "{stderr}"
    );
    let grid = gdal::Dataset::open(dir.path().join("web/rx_nitrogen.tif")).unwrap();
    assert_eq!(grid.spatial_ref().unwrap().auth_code().unwrap(), 32648);
    // Every plot: the same rate; the machine layer covers the plot's ground area, so its
    // product is rate × area (in Mercator's own metres both were 3 % too large).
    let zones = properties(&dir.path().join("web/rx_nitrogen_zones.shp.zip"));
    for (id, row) in &web {
        assert_eq!(row["product_kg_ha"], utm[id]["product_kg_ha"], "{id}");
        assert_eq!(row["n_status"], "prescribed", "{id}");
        let covered: f64 = zones
            .iter()
            .filter(|p| p["plot_id"] == *id)
            .map(|p| p["area_ha"].parse::<f64>().unwrap())
            .sum();
        let area = num(row, "area_ha");
        assert!(
            (covered / area - 1.0).abs() < 0.002,
            "{id}: {covered} ha of {area}"
        );
        eprintln!(
            "{id}: {} kg (UTM flight: {} kg)",
            row["product_kg"], utm[id]["product_kg"]
        );
    }
    let total = |t: &HashMap<String, HashMap<String, String>>| -> f64 {
        t.values()
            .filter_map(|r| r["product_kg"].parse::<f64>().ok())
            .sum()
    };
    let (web, utm) = (total(&web), total(&utm));
    // The mosaic resampled twice (to Mercator, onto the grid) moves a few edge cells of the
    // variable-rate plots: the totals agree to a few per cent, the areas above exactly.
    assert!((web / utm - 1.0).abs() < 0.05, "{web} kg against {utm} kg");
}

#[test]
fn a_flight_of_no_plot_is_refused_and_unknown_stages_are_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (index, plots) = hand_built(dir.path());
    // The same flight 50 km east: no plot under it.
    let far = dir.path().join("far.tif");
    let status = std::process::Command::new("gdal_translate")
        .args(["-q", "-a_ullr", "550000", "1100000", "550200", "1099900"])
        .args([&index, far.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let far = far.display().to_string();
    let (code, stderr, _) = prescribe_field(
        dir.path(),
        &[
            "--plots",
            &plots,
            "--n-index",
            &far,
            "--at",
            "2026-07-18",
            "--out",
            "far",
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("none of its 6 plots is under far.tif"),
        "{stderr}"
    );
    assert!(!dir.path().join("far").exists());
    // Two plots of one id would share one stage from a stages table: refused.
    let mut field: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plots).unwrap()).unwrap();
    field["features"][5]["properties"]["plot_id"] = "C".into();
    std::fs::write(dir.path().join("shared.geojson"), field.to_string()).unwrap();
    std::fs::write(
        dir.path().join("stages.csv"),
        "plot_id,class,stage,days_after_transplanting,at\n\
         A,medium,panicle_initiation,46,2026-07-18\nC,medium,panicle_initiation,46,2026-07-18\n",
    )
    .unwrap();
    let (code, stderr, _) = prescribe_field(
        dir.path(),
        &[
            "--plots",
            "shared.geojson",
            "--n-index",
            &index,
            "--stages",
            "stages.csv",
            "--out",
            "shared",
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("'C' (features 3, 6)"), "{stderr}");
    assert!(!dir.path().join("shared").exists());
    // C (N-deficient at panicle initiation) without its transplanting date: its stage is
    // unknown, so it is not rated 0 as if outside the window: no rate, or the default.
    let text = std::fs::read_to_string(&plots).unwrap();
    let mut field: serde_json::Value = serde_json::from_str(&text).unwrap();
    field["features"][2]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("transplanted");
    let undated = dir.path().join("undated.geojson");
    std::fs::write(&undated, field.to_string()).unwrap();
    let undated = undated.display().to_string();
    let args = |out: &'static str, config: Option<&'static str>| {
        let mut a = vec![
            "--plots",
            undated.as_str(),
            "--n-index",
            index.as_str(),
            "--at",
            "2026-07-18",
            "--out",
            out,
        ];
        if let Some(c) = config {
            a.extend(["-c", c]);
        }
        a
    };
    let (code, stderr, table) = prescribe_field(dir.path(), &args("undated", None));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("1 plot(s) under the flight have no known growth stage (C)"),
        "{stderr}"
    );
    let c = &table["C"];
    assert_eq!(c["n_status"], "stage unknown");
    assert_eq!((c["n_kg_ha"].as_str(), c["product_kg"].as_str()), ("", ""));
    assert!(c["n_reason"].starts_with("growth stage unknown"), "{c:?}");
    assert_eq!(table["D"]["n_status"], "prescribed");
    std::fs::write(
        dir.path().join("rx.toml"),
        "[nitrogen]\ndefault_rate = 30.0\n",
    )
    .unwrap();
    let (code, stderr, table) = prescribe_field(dir.path(), &args("default", Some("rx.toml")));
    assert_eq!(code, Some(0), "{stderr}");
    let c = &table["C"];
    assert_eq!(c["n_status"], "stage unknown (default rate)");
    // 30 kg N/ha as whole steps of urea: 65 kg urea/ha, 29.9 kg N/ha.
    assert!((num(c, "n_kg_ha") - 30.0).abs() < 1.0, "{c:?}");
    assert!(num(c, "product_kg") > 0.0);
}

/// A plot id the sample generator names (scripts/make_sample_tiles.py: `N_RICH_PLOT = "P06"`).
fn generator_plot(constant: &str) -> String {
    let text = std::fs::read_to_string(root().join("scripts/make_sample_tiles.py")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{constant} = ")))
        .unwrap_or_else(|| panic!("no {constant} in make_sample_tiles.py"));
    line.split('"').nth(1).unwrap().to_string()
}

/// The sample plots' attributes by id (the id too, as `plot_id`).
fn sample_attributes() -> HashMap<String, serde_json::Map<String, serde_json::Value>> {
    let text = std::fs::read_to_string(root().join("sample_tiles/plots.geojson")).unwrap();
    let fc: serde_json::Value = serde_json::from_str(&text).unwrap();
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f["properties"].as_object().unwrap().clone();
            (p["plot_id"].as_str().unwrap().to_string(), p)
        })
        .collect()
}

fn summary_of(out: &Path) -> HashMap<String, HashMap<String, String>> {
    by_id(&rows(
        &std::fs::read_to_string(out.join("rx_summary.csv")).unwrap(),
    ))
}

fn report_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("rx_report.json")).unwrap()).unwrap()
}

/// `paddy prescribe` on the sample's July flight (nitrogen only) with `extra`, not quiet:
/// (stdout, stderr, the output folder).
fn prescribe_loud(dir: &Path, name: &str, extra: &[&str]) -> (String, String, std::path::PathBuf) {
    let out = dir.join(name);
    let plots = root().join("sample_tiles/plots.geojson");
    let ndre = dir.join("idx/drone_20260718_ndrei.tif");
    let mut args = vec![
        "prescribe",
        "--plots",
        plots.to_str().unwrap(),
        "--n-index",
        ndre.to_str().unwrap(),
        "--at",
        "2026-07-18",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = paddy(dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        out,
    )
}

#[test]
fn prescribe_reference_examples_pick_the_n_rich_strip_and_disagreeing_ones_are_left_out() {
    // Truth: the generator's N-rich strip, and its N-deficient plot (the one holding the
    // n_deficient patch of anomalies.geojson).
    let (strip, deficient) = (generator_plot("N_RICH_PLOT"), generator_plot("N_DEF_PLOT"));
    let patch = anomaly("n_deficient");
    assert!(plot(&deficient).intersects(&patch) && !plot(&strip).intersects(&patch));
    let attributes = sample_attributes();
    let dir = tempfile::tempdir().unwrap();
    sample_indices(dir.path());
    let (_, _, truth) = prescribe_loud(dir.path(), "rx", &[]);
    let t = summary_of(&truth);
    assert!(
        num(&t[&deficient], "product_kg_ha") > 0.0,
        "{:?}",
        t[&deficient]
    );

    // The README's example marks exactly the generator's strip, and prescribes what the n_rich
    // field does.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.contains("--reference-field") && !l.trim_start().starts_with('#'))
        .expect("a README example with --reference-field");
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |flag: &str| words[words.iter().position(|w| *w == flag).unwrap() + 1];
    let (field, value) = (after("--reference-field"), after("--reference-value"));
    let marked: Vec<&String> = attributes
        .iter()
        .filter(|(_, p)| p.get(field).and_then(|v| v.as_str()) == Some(value))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(marked, [&strip], "the README's {field} = {value}");
    let (_, _, example) = prescribe_loud(
        dir.path(),
        "rx-readme",
        &["--reference-field", field, "--reference-value", value],
    );
    assert_eq!(
        std::fs::read_to_string(example.join("rx_summary.csv")).unwrap(),
        std::fs::read_to_string(truth.join("rx_summary.csv")).unwrap()
    );

    // The strip's variety marks the deficient plot too: it is below the strip's threshold, so it
    // is left out of the reference (not averaged in), rated, and named in a warning.
    let variety = attributes[&strip]["variety"].as_str().unwrap();
    assert_eq!(attributes[&deficient]["variety"].as_str(), Some(variety));
    let (stdout, stderr, wide) = prescribe_loud(
        dir.path(),
        "rx-variety",
        &["--reference-field", "variety", "--reference-value", variety],
    );
    let w = summary_of(&wide);
    let si = num(&t[&deficient], "n_index") / num(&t[&strip], "n_index");
    assert!(si < 0.97, "{si}");
    let warnings = report_json(&wide)["warnings"].to_string();
    assert!(
        warnings.contains("disagree")
            && warnings.contains(&format!("{deficient}'s NDREI"))
            && warnings.contains(&format!("SI {si:.3} against {strip}'s")),
        "{warnings}"
    );
    assert!(stderr.contains("disagree"), "{stderr}");
    assert!(
        stdout.contains(&format!("N-rich reference {strip} = ")),
        "{stdout}"
    );
    assert!(w[&deficient]["n_reason"].contains("left out of the reference"));
    assert_eq!(
        w[&deficient]["product_kg_ha"],
        t[&deficient]["product_kg_ha"]
    );
    assert!(w[&strip]["n_reason"].contains("N-rich reference"));
    assert_eq!(
        report_json(&wide)["nitrogen"]["product_kg"],
        report_json(&truth)["nitrogen"]["product_kg"]
    );

    // With a threshold the two meet (SI ≥ 0.85), both are the reference and no plot is compared
    // with it: 0 kg, said first and loudly.
    assert!(si >= 0.85);
    let config = dir.path().join("t85.toml");
    std::fs::write(&config, "[nitrogen]\nsufficiency_threshold = 0.85\n").unwrap();
    let (stdout, stderr, zero) = prescribe_loud(
        dir.path(),
        "rx-zero",
        &[
            "-c",
            config.to_str().unwrap(),
            "--reference-field",
            "variety",
            "--reference-value",
            variety,
        ],
    );
    let first = report_json(&zero)["warnings"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        first.starts_with("NOTHING TO ORDER")
            && first.contains("every plot observed is an N-rich reference"),
        "{first}"
    );
    assert!(stderr.contains("NOTHING TO ORDER"), "{stderr}");
    assert!(
        stdout.contains("order 0 kg urea") && stdout.contains("NOT TO BE TRUSTED"),
        "{stdout}"
    );

    // The deficient plot taken for the strip: the strip is greener than it by more than strips
    // differ, and the 0 kg that follows is said loudly too.
    let (stdout, _, swapped) = prescribe_loud(
        dir.path(),
        "rx-swapped",
        &[
            "--reference-field",
            "plot_id",
            "--reference-value",
            &deficient,
        ],
    );
    let warnings = report_json(&swapped)["warnings"].to_string();
    assert!(
        warnings.contains("greener than their N-rich reference")
            && warnings.contains(&format!("{strip} SI {:.3}", 1.0 / si)),
        "{warnings}"
    );
    assert!(stdout.contains("NOT TO BE TRUSTED"), "{stdout}");
    // The truth itself raises no doubt.
    assert!(!report_json(&truth)["warnings"]
        .to_string()
        .contains("NOTHING"));
}

#[test]
fn prescribe_rates_say_their_unit_in_every_file_without_float_noise() {
    let dir = tempfile::tempdir().unwrap();
    sample_indices(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let out = dir.path().join("rx");
    let idx = dir.path().join("idx");
    let s = |p: std::path::PathBuf| p.display().to_string();
    let stdout = paddy_ok(
        dir.path(),
        &[
            "prescribe",
            "--plots",
            &s(plots),
            "--at",
            "2026-07-18",
            "--n-index",
            &s(idx.join("drone_20260718_ndrei.tif")),
            "--spray-index",
            &s(idx.join("drone_20260718_ndvi.tif")),
            "--previous",
            &s(idx.join("drone_20260626_ndvi.tif")),
            "--out",
            &s(out.clone()),
        ],
    );
    let text = std::fs::read_to_string(out.join("rx_summary.csv")).unwrap();
    let header = text.lines().next().unwrap();
    assert!(!header.contains("n_rate"), "{header}");
    let summary = summary_of(&out);
    // Urea is 46 % N (README, docs/AGRONOMY.md): kg N/ha = kg urea/ha × 0.46, written as the
    // number it is (18.4, not 18.400000000000002).
    let mut rated = 0;
    for (id, r) in &summary {
        if r["product_kg_ha"].is_empty() {
            continue;
        }
        let n = num(r, "product_kg_ha") * 0.46;
        assert_eq!(r["n_kg_ha"], format!("{}", (n * 1e9).round() / 1e9), "{id}");
        rated += usize::from(n > 0.0);
    }
    assert!(rated > 0);
    // The layers give the same numbers the same names; `rate` is in the layer's `unit`.
    for layer in ["rx_nitrogen_plots.geojson", "rx_nitrogen_zones.geojson"] {
        let text = std::fs::read_to_string(out.join(layer)).unwrap();
        assert!(!text.contains("\"n_rate\""), "{layer}");
        for p in properties(&out.join(layer)) {
            assert_eq!(p["unit"], "kg urea/ha", "{layer}");
            if p["rate"].is_empty() {
                assert_eq!(p["n_kg_ha"], "", "{layer}: not observed, no rate");
                continue;
            }
            let (rate, n) = (p["rate"].parse::<f64>().unwrap(), &p["n_kg_ha"]);
            assert_eq!(
                *n,
                format!("{}", (rate * 0.46 * 1e9).round() / 1e9),
                "{layer}"
            );
            if layer.contains("plots") {
                assert_eq!(*n, summary[&p["plot_id"]]["n_kg_ha"], "{layer}");
            }
        }
    }
    // The summary line shows the totals as rx_report.json keeps them (two decimals).
    let report = report_json(&out);
    let after = |text: &str, key: &str| -> f64 {
        let rest = &text[text.find(key).unwrap() + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let line = |start: &str| stdout.lines().find(|l| l.starts_with(start)).unwrap();
    let n_line = line("nitrogen:");
    assert_eq!(after(n_line, "; order "), report["nitrogen"]["product_kg"]);
    assert_eq!(after(n_line, " kg urea ("), report["nitrogen"]["n_kg"]);
    let spray = line("spray:");
    assert_eq!(
        after(spray, "sprayed, "),
        report["spray"]["product_l"],
        "{spray}"
    );
}
