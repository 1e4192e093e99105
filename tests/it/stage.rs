//! `paddy stage` on the synthetic season of sample_tiles/ (known transplanting dates and
//! development rates per plot, documented in sample_tiles/README.md), and sparse series.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gdal::vector::LayerAccess;

use crate::common::{
    check_shapefile_aliases, day, ndvi_lswi, paddy, paddy_ok, qml_aliases, read_band, root, rows,
};

const DATES: [&str; 5] = ["20260607", "20260627", "20260717", "20260816", "20260905"];

/// NDVI and LSWI of the five Sentinel-2-like dates, cloud-masked with SCL, into `dir`.
fn index_series(dir: &Path) -> (Vec<String>, Vec<String>) {
    let tiles = root().join("sample_tiles");
    for date in DATES {
        let tile = tiles.join(format!("s2_{date}.tif"));
        let scl = tiles.join(format!("s2_{date}_scl.tif"));
        ndvi_lswi(dir, &tile, &scl, dir);
    }
    let files = |index: &str| {
        DATES
            .iter()
            .map(|d| {
                dir.join(format!("s2_{d}_{index}.tif"))
                    .display()
                    .to_string()
            })
            .collect()
    };
    (files("ndvi"), files("lswi"))
}

/// The sample scene's development rate per duration class (sample_tiles/README.md: development
/// day = DAT × 1.12 short, 1.00 medium, 0.88 long).
fn rate(class: &str) -> f64 {
    match class {
        "short" => 1.12,
        "long" => 0.88,
        _ => 1.0,
    }
}

/// Stages the scene's documentation allows at development day `d` (medium-equivalent days after
/// transplanting): its labelled ranges for the medium plots — 0–9 transplanting (seedling),
/// 20–29 tillering, 40–49 panicle initiation, 70–77 heading, 90–99 grain filling — and either
/// neighbour in between (booting lies between panicle initiation and heading, maturity after
/// grain filling).
fn allowed(d: f64) -> &'static [&'static str] {
    match d {
        d if d < 10.0 => &["seedling"],
        d if d < 20.0 => &["seedling", "tillering"],
        d if d < 30.0 => &["tillering"],
        d if d < 40.0 => &["tillering", "panicle_initiation"],
        d if d < 50.0 => &["panicle_initiation"],
        d if d < 70.0 => &["panicle_initiation", "booting", "heading"],
        d if d < 78.0 => &["heading"],
        // The README also puts the short plots (development day 79–89 on 2026-08-16) in grain
        // filling: heading gives way to grain filling from about day 78.
        d if d < 90.0 => &["heading", "grain_filling"],
        d if d < 100.0 => &["grain_filling"],
        _ => &["grain_filling", "maturity"],
    }
}

fn stage_args<'a>(
    ndvi: &'a [String],
    lswi: &'a [String],
    plots: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.push("--lswi");
    args.extend(lswi.iter().map(String::as_str));
    args.extend(["--plots", plots, "--date-pattern", "{yyyy}{mm}{dd}", "-q"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn synthetic_season_stages_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots: PathBuf = root().join("sample_tiles/plots.geojson");
    let plots = plots.to_str().unwrap();

    // The stage on every date, as a run on that date would give it.
    for date in DATES {
        let iso = format!("{}-{}-{}", &date[0..4], &date[4..6], &date[6..8]);
        let out = paddy_ok(
            dir.path(),
            &stage_args(&ndvi, &lswi, plots, &["--at", &iso]),
        );
        let table = rows(&out);
        assert_eq!(table.len(), 12);
        for r in &table {
            let dat = (day(&iso) - day(&r["transplanted"])) as f64;
            let d = dat * rate(&r["duration_class"]);
            assert!(
                allowed(d).contains(&r["stage"].as_str()),
                "{iso} {}: stage {} at development day {d:.1} (allowed {:?}); {}",
                r["plot_id"],
                r["stage"],
                allowed(d),
                r["reason"]
            );
        }
    }

    // Events over the whole season.
    let csv = dir.path().join("stage.csv");
    let geojson = dir.path().join("stage.geojson");
    let png = dir.path().join("stage.png");
    let out = paddy(
        dir.path(),
        &stage_args(
            &ndvi,
            &lswi,
            plots,
            &[
                "--out",
                csv.to_str().unwrap(),
                "--out",
                geojson.to_str().unwrap(),
                "--chart",
                png.to_str().unwrap(),
            ],
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = rows(&std::fs::read_to_string(&csv).unwrap());
    for r in &table {
        let id = &r["plot_id"];
        let transplanted = day(&r["transplanted"]);
        // Heading starts at development day 70 (the scene's labelled heading range 70–79).
        let heading_truth = transplanted as f64 + 70.0 / rate(&r["duration_class"]);
        assert_eq!(day(&r["transplanting"]), transplanted, "{id}");
        let heading = day(&r["heading"]) as f64;
        assert!(
            (heading - heading_truth).abs() <= 8.0,
            "{id}: heading {} vs {heading_truth}",
            r["heading"]
        );
        // The estimates that do not use the recorded date, within one revisit (20 days).
        let curve = day(&r["heading_curve"]) as f64;
        assert!(
            (curve - heading_truth).abs() <= 20.0,
            "{id}: curve maximum {}",
            r["heading_curve"]
        );
        let flooding = day(&r["flooding"]);
        assert!(
            (flooding - transplanted).abs() <= 20,
            "{id}: flooding {}",
            r["flooding"]
        );
        assert!(r["confidence"].parse::<f64>().unwrap() > 0.5, "{id}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&geojson).unwrap()).unwrap();
    let series = json["features"][0]["properties"]["series"]
        .as_array()
        .unwrap();
    assert_eq!(series.len(), 5);
    let png = std::fs::read(&png).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);

    // Without the recorded dates: transplanting from the flooding signal (LSWI + 0.05 ≥ NDVI),
    // within one revisit of the truth, and the stage at the last date still right.
    let out = paddy_ok(
        dir.path(),
        &stage_args(&ndvi, &lswi, plots, &["--transplanted-field", "none"]),
    );
    for r in rows(&out) {
        assert_eq!(
            r["transplanting_source"], "flooding onset",
            "{}",
            r["plot_id"]
        );
        let err = day(&r["transplanting"]) - day(&r["transplanted"]);
        assert!(err.abs() <= 20, "{}: {}", r["plot_id"], r["transplanting"]);
        let d = (day("2026-09-05") - day(&r["transplanted"])) as f64 * rate(&r["duration_class"]);
        assert!(
            allowed(d).contains(&r["stage"].as_str()),
            "{}: {} at d {d:.1}",
            r["plot_id"],
            r["stage"]
        );
    }
}

#[test]
fn sparse_series_give_unknown_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let plots = plots.to_str().unwrap();
    // Two dates and no recorded transplanting: too few to see a season, but the flooding seen on
    // the first date dates transplanting, and the stage follows from it.
    let two = stage_args(
        &ndvi[..2],
        &lswi[..2],
        plots,
        &["--transplanted-field", "none"],
    );
    for r in rows(&paddy_ok(dir.path(), &two)) {
        let id = &r["plot_id"];
        assert_eq!(r["transplanting_source"], "flooding onset", "{id}");
        assert_eq!(r["flooding"], "2026-06-07", "{id}");
        assert!(
            day(&r["transplanting_earliest"]) <= day(&r["transplanted"])
                && day(&r["transplanted"]) <= day(&r["transplanting_latest"]),
            "{id}: {} not in {}..{}",
            r["transplanted"],
            r["transplanting_earliest"],
            r["transplanting_latest"]
        );
        assert!(
            ["seedling", "tillering"].contains(&r["stage"].as_str()),
            "{id}: {}",
            r["stage"]
        );
        assert!(r["reason"].contains("flooding onset"), "{}", r["reason"]);
    }
    // Without LSWI nothing dates them: unknown, and says why.
    let lswi_at = two.iter().position(|a| *a == "--lswi").unwrap();
    let without: Vec<&str> = two[..lswi_at]
        .iter()
        .chain(&two[lswi_at + 3..])
        .copied()
        .collect();
    for r in rows(&paddy_ok(dir.path(), &without)) {
        assert_eq!(r["stage"], "unknown", "{}", r["plot_id"]);
        assert!(r["reason"].contains("valid date"), "{}", r["reason"]);
        assert_eq!(r["confidence"], "0");
    }
    // A plot outside every raster: unknown, and says why.
    let far = dir.path().join("far.geojson");
    std::fs::write(
        &far,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"plot_id":"X","duration_class":"medium","transplanted":"2026-06-01"},"geometry":{"type":"Polygon","coordinates":[[[100,10],[100.001,10],[100.001,10.001],[100,10.001],[100,10]]]}}]}"#,
    )
    .unwrap();
    let out = paddy_ok(
        dir.path(),
        &stage_args(&ndvi, &lswi, far.to_str().unwrap(), &[]),
    );
    let r = &rows(&out)[0];
    assert_eq!(r["stage"], "unknown");
    assert!(
        r["reason"].contains("no valid observation"),
        "{}",
        r["reason"]
    );
    // Every date masked away (--min-valid 1.01 is refused; 1.0 keeps only wholly clear dates:
    // the 2026-06-27 cloud and the 2026-09-05 swath edge drop those dates for the plots they touch).
    let out = paddy(
        dir.path(),
        &stage_args(&ndvi, &lswi, plots, &["--min-valid", "1.5"]),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = paddy_ok(
        dir.path(),
        &stage_args(&ndvi, &lswi, plots, &["--min-valid", "1.0"]),
    );
    assert!(rows(&out).iter().any(|r| r["dropped_dates"] != "0"));
}

#[test]
fn index_outputs_carry_their_acquisition_date() {
    // `paddy index` copies the tile's acquisition date (PRODUCT_START_TIME here) into its
    // outputs, so a series of index rasters dates itself without --date-pattern.
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, _) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let mut args = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.extend(["--plots", plots.to_str().unwrap(), "-q"]);
    let table = rows(&paddy_ok(dir.path(), &args));
    assert_eq!(table[0]["at"], "2026-09-05");
    assert_eq!(table[0]["series"].matches(',').count(), 4);
}

/// `paddy stage --out x.shp` (and `.shp.zip`): OGR opens the shapefile, its column names have
/// at most 10 bytes and differ ignoring case, each holds the CSV column of the same place
/// (the series, a list, is left out) with its values, the warning maps every name the CSV has
/// and the shapefile not, and the QGIS style beside it names columns the shapefile has.
#[test]
fn stage_shapefiles_take_short_column_names_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let mut args = stage_args(&ndvi, &lswi, plots.to_str().unwrap(), &[]);
    args.retain(|a| *a != "-q");
    args.extend([
        "--out",
        "stage.csv",
        "--out",
        "stage.shp",
        "--out",
        "stage.shp.zip",
    ]);
    let out = paddy(dir.path(), &args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let csv_text = std::fs::read_to_string(dir.path().join("stage.csv")).unwrap();
    let header: Vec<String> = csv_text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .filter(|h| *h != "series")
        .map(String::from)
        .collect();
    let table = rows(&csv_text);
    assert!(header.iter().any(|h| h == "days_after_transplanting"));
    for shp in ["stage.shp", "stage.shp.zip"] {
        // The note of this file: "… so it has <long> as <short>; …".
        let line = err
            .lines()
            .find(|l| {
                l.contains(&format!(
                    "{shp}: shapefile column names have at most 10 bytes"
                ))
            })
            .unwrap_or_else(|| panic!("no note for {shp}: {err}"));
        let note: HashMap<&str, &str> = line
            .split_once(", so it has ")
            .unwrap()
            .1
            .split("; ")
            .map(|pair| pair.split_once(" as ").unwrap())
            .collect();
        let ds = gdal::Dataset::open(dir.path().join(shp)).unwrap();
        let mut layer = ds.layer(0).unwrap();
        let names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        assert_eq!(names.len(), header.len(), "{shp}: {names:?}");
        let mut seen = std::collections::HashSet::new();
        for (long, short) in header.iter().zip(&names) {
            assert!(short.len() <= 10, "{shp}: {short}");
            assert!(seen.insert(short.to_lowercase()), "{shp}: {short} twice");
            if long.len() > 10 {
                assert_eq!(
                    note.get(long.as_str()),
                    Some(&short.as_str()),
                    "{shp}: {long}"
                );
            } else {
                assert_eq!(long, short, "{shp}");
            }
        }
        assert_eq!(note["days_after_transplanting"], "days_after");
        assert_eq!(note.len(), header.iter().filter(|h| h.len() > 10).count());
        assert_eq!(layer.feature_count(), 12);
        for f in layer.features() {
            let id = f.field_as_string(0).unwrap().unwrap();
            let row = table.iter().find(|r| r["plot_id"] == id).unwrap();
            for (i, column) in header.iter().enumerate() {
                let got = f.field_as_string(i).unwrap().unwrap_or_default();
                let want = &row[column];
                match (want.parse::<f64>(), got.parse::<f64>()) {
                    (Ok(a), Ok(b)) => assert!(
                        (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                        "{shp} {id} {column}: {a} vs {b}"
                    ),
                    _ => assert_eq!(&got, want, "{shp} {id} {column}"),
                }
            }
        }
    }
    let qml = std::fs::read_to_string(dir.path().join("stage.qml")).unwrap();
    assert!(
        qml.contains("attr=\"stage\""),
        "the style categorises a column the file has"
    );
    // The style (one beside both) gives every shortened field its long name as its alias,
    // so QGIS shows days_after as days_after_transplanting.
    for shp in ["stage.shp", "stage.shp.zip"] {
        let shp = dir.path().join(shp);
        check_shapefile_aliases(&shp, &dir.path().join("stage.qml"), &header);
    }
    let aliases = qml_aliases(&dir.path().join("stage.qml"));
    assert_eq!(aliases["days_after"].1, "days_after_transplanting");
    // A GeoJSON keeps the long names: its style has no aliases.
    let mut args = stage_args(
        &ndvi,
        &lswi,
        plots.to_str().unwrap(),
        &["-o", "stage.geojson"],
    );
    args.retain(|a| *a != "-q");
    paddy_ok(dir.path(), &args);
    assert!(qml_aliases(&dir.path().join("stage.qml")).is_empty());
}

#[test]
fn dates_from_a_list_file_or_in_memory_come_first() {
    // Dates that neither the files' metadata nor their names say (each acquisition plus three
    // days) date the series when they are listed: read from a CSV by --dates, or handed to the
    // library in memory (as `paddy run` can), with the same table either way.
    use paddy::phenology::dates::Date;
    use paddy::stage::{self, DateList, SmootherKind, StageRequest};
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let shifted: Vec<Date> = DATES
        .iter()
        .map(|d| Date::from_days_since_epoch(d.parse::<Date>().unwrap().days_since_epoch() + 3))
        .collect();
    let listed: Vec<(PathBuf, Date)> = ndvi
        .iter()
        .zip(&shifted)
        .chain(lswi.iter().zip(&shifted))
        .map(|(f, d)| (PathBuf::from(f), *d))
        .collect();
    // The CSV names the files without their folder: found by file name.
    let csv: String = listed
        .iter()
        .map(|(f, d)| format!("{},{d}\n", f.file_name().unwrap().to_string_lossy()))
        .collect();
    std::fs::write(dir.path().join("dates.csv"), format!("file,date\n{csv}")).unwrap();
    let mut args = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.push("--lswi");
    args.extend(lswi.iter().map(String::as_str));
    args.extend([
        "--plots",
        plots.to_str().unwrap(),
        "--dates",
        "dates.csv",
        "-q",
    ]);
    let from_file = paddy_ok(dir.path(), &args);
    assert!(
        rows(&from_file).iter().all(|r| r["at"] == "2026-09-08"),
        "{from_file}"
    );

    let request = StageRequest {
        rasters: ndvi.iter().map(PathBuf::from).collect(),
        lswi: lswi.iter().map(PathBuf::from).collect(),
        plots: Some(plots.clone()),
        layer: None,
        id_field: None,
        class_field: "duration_class".into(),
        default_class: "medium".into(),
        transplanted_field: "transplanted".into(),
        date_pattern: None,
        dates: Some(DateList {
            origin: "the test's dates".into(),
            dates: listed.clone(),
        }),
        mask_band: None,
        min_valid: 0.5,
        smoother: SmootherKind::Whittaker.with_lambda(paddy::phenology::smooth::DEFAULT_LAMBDA),
        fraction: 0.2,
        at: None,
        from: None,
        scale: 1.0,
        table: paddy::phenology::stage::StageTable::builtin(),
        threads: None,
    };
    let result = stage::run(&request, &|_, _| {}).unwrap();
    assert_eq!(result.dates, shifted);
    let in_memory = stage::output::csv_bytes(&result).unwrap();
    assert_eq!(String::from_utf8(in_memory).unwrap(), from_file);

    // A raster the list does not date takes its own (the metadata's) date.
    let short = DateList {
        origin: "the test's dates".into(),
        dates: listed[1..].to_vec(),
    };
    let partly = stage::run(
        &StageRequest {
            dates: Some(short),
            ..request
        },
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(partly.dates[0], "2026-06-07".parse::<Date>().unwrap());
    assert_eq!(partly.dates[1..], shifted[1..]);
}

/// Per plot of sample_tiles/plots.geojson: its attributes and the pixels of the 10 m S2 grid
/// whose centre lies at least 10 m inside it (no bund or channel mixed in).
fn interior_pixels() -> Vec<(HashMap<String, String>, Vec<usize>)> {
    use gdal::spatial_ref::SpatialRef;
    use gdal::vector::{Geometry, LayerAccess};
    let ds = gdal::Dataset::open(root().join("sample_tiles/plots.geojson")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let utm = SpatialRef::from_epsg(32648).unwrap();
    let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    let mut out = Vec::new();
    for feature in layer.features() {
        let attributes: HashMap<String, String> = fields
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let text = feature
                    .field_as_string(k)
                    .unwrap()
                    .unwrap_or_default()
                    .replace('/', "-");
                (name.clone(), text)
            })
            .collect();
        let inner = feature
            .geometry()
            .unwrap()
            .transform_to(&utm)
            .unwrap()
            .buffer(-10.0, 8)
            .unwrap();
        let mut pixels = Vec::new();
        for row in 0..30 {
            for col in 0..40 {
                let (x, y) = (
                    560_000.0 + 10.0 * (col as f64 + 0.5),
                    1_150_000.0 - 10.0 * (row as f64 + 0.5),
                );
                let point = Geometry::from_wkt(&format!("POINT ({x} {y})")).unwrap();
                if inner.contains(&point) {
                    pixels.push(row * 40 + col);
                }
            }
        }
        assert!(pixels.len() >= 20, "{:?}", attributes.get("plot_id"));
        out.push((attributes, pixels));
    }
    out
}

#[test]
fn per_pixel_rasters_follow_each_plots_season() {
    // Every pixel analysed alone (no plots, no recorded dates: transplanting from the flooding
    // signal), then summarised per plot against the scene's truth.
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let px = dir.path().join("px");
    let mut args = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.push("--lswi");
    args.extend(lswi.iter().map(String::as_str));
    args.extend(["--per-pixel", px.to_str().unwrap(), "-q"]);
    paddy_ok(dir.path(), &args);
    let transplanting = read_band(&px.join("transplanting_doy.tif"), 1);
    let heading = read_band(&px.join("heading_doy.tif"), 1);
    let stage = read_band(&px.join("stage.tif"), 1);
    let confidence = read_band(&px.join("confidence.tif"), 1);
    assert_eq!((stage.width, stage.height), (40, 30));
    assert_eq!(transplanting.nodata, Some(-32768.0));
    assert_eq!(stage.nodata, Some(255.0));
    for name in ["transplanting_doy", "heading_doy", "confidence"] {
        assert!(px.join(format!("{name}.qml")).exists(), "{name}.qml");
    }
    use gdal::Metadata;
    let ds = gdal::Dataset::open(px.join("stage.tif")).unwrap();
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt8);
    let table = band.color_table().expect("stage.tif has a colour table");
    assert!(table.entry_count() >= 9);
    assert_eq!(
        ds.metadata_item("DAY_OF_YEAR_FROM", "").as_deref(),
        Some("2026-01-01")
    );
    let codes = [
        "unknown",
        "fallow",
        "seedling",
        "tillering",
        "panicle_initiation",
        "booting",
        "heading",
        "grain_filling",
        "maturity",
    ];
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let doy = |iso: &str| (day(iso) - day("2026-01-01") + 1) as f64;
    for (plot, pixels) in interior_pixels() {
        let id = &plot["plot_id"];
        let class = &plot["duration_class"];
        let transplanted = doy(&plot["transplanted"]);
        let t = median(pixels.iter().map(|&i| transplanting.data[i]).collect());
        assert!(
            (t - transplanted).abs() <= 20.0,
            "{id}: transplanting day {t} vs {transplanted}"
        );
        let h = median(pixels.iter().map(|&i| heading.data[i]).collect());
        let heading_truth = transplanted + 70.0 / rate(class);
        assert!(
            (h - heading_truth).abs() <= 20.0,
            "{id}: heading day {h} vs {heading_truth}"
        );
        // The stage on the last date: most of the plot's pixels in a stage the scene allows.
        let d = (day("2026-09-05") - day(&plot["transplanted"])) as f64 * rate(class);
        let right = pixels
            .iter()
            .filter(|&&i| allowed(d).contains(&codes[stage.data[i] as usize]))
            .count();
        assert!(
            right * 10 >= pixels.len() * 8,
            "{id}: {right} of {} pixels in {:?}",
            pixels.len(),
            allowed(d)
        );
        assert!(pixels.iter().all(|&i| confidence.data[i] <= 100.0));
    }
    // A series too short for a season: every pixel unknown, nothing else invented.
    let px2 = dir.path().join("px2");
    let mut args = vec!["stage"];
    args.extend(ndvi[..2].iter().map(String::as_str));
    args.extend(["--per-pixel", px2.to_str().unwrap(), "-q"]);
    paddy_ok(dir.path(), &args);
    let stage = read_band(&px2.join("stage.tif"), 1);
    assert!(stage.data.iter().all(|&c| c == 0.0 || c == 255.0));
    let heading = read_band(&px2.join("heading_doy.tif"), 1);
    assert!(heading.data.iter().all(|&v| v == -32768.0));
}

/// `--print-table` needs nothing else, and what it prints is a stage table paddy reads back
/// with the same days (the reproductive and ripening phases the same length in every class).
#[test]
fn the_printed_table_stands_alone_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let text = crate::common::paddy_ok(tmp.path(), &["stage", "--print-table"]);
    let table: toml::Value = toml::from_str(&text).unwrap();
    let classes = table["classes"].as_table().unwrap();
    for class in ["short", "medium", "long"] {
        let c = &classes[class];
        let at = |s: &str| c[s].as_integer().unwrap();
        assert_eq!(at("seedling"), 0);
        assert_eq!(at("heading") - at("panicle_initiation"), 30, "{class}");
        assert_eq!(at("maturity") - at("heading"), 30, "{class}");
    }
    // Its comments give the table's own days.
    let days = |key: &str| {
        ["short", "medium", "long"]
            .map(|c| classes[c][key].as_integer().unwrap().to_string())
            .join(" / ")
    };
    for said in [
        format!("-> heading = {}", days("heading")),
        format!("({}; medium at", days("panicle_initiation")),
    ] {
        assert!(text.contains(&said), "'{said}' not in:\n{text}");
    }
    assert!(!text.contains('{'), "{text}");
}

/// Run `paddy` expecting usage error 2 with one `paddy: error:` line; returns it.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = paddy(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "paddy {args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, got:\n{stderr}"
    );
    assert!(stderr.starts_with("paddy: error: "), "{stderr}");
    stderr
}

/// A series the stage cannot pair or count, and options it cannot use, are refused before any
/// work, naming the dates, files, classes or paths concerned, and nothing is written.
#[test]
fn bad_series_and_options_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let plots = plots.to_str().unwrap();
    let out = dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    let nothing_written = || assert_eq!(crate::common::files_in(&out), Vec::<String>::new());

    // An LSWI raster short: the date without one is named, with its index raster.
    let err = refused(&out, &stage_args(&ndvi, &lswi[..4], plots, &[]));
    assert!(
        err.contains("no LSWI raster of 2026-09-05") && err.contains(&ndvi[4]),
        "{err}"
    );
    // As many LSWI rasters, one of another date: both sides named.
    let odd = dir.path().join("s2_20260608_lswi.tif");
    std::fs::copy(&lswi[0], &odd).unwrap();
    let mut shifted = lswi.clone();
    shifted[0] = odd.display().to_string();
    let err = refused(&out, &stage_args(&ndvi, &shifted, plots, &[]));
    assert!(
        err.contains(&format!("no LSWI raster of 2026-06-07 ({})", ndvi[0]))
            && err.contains(&format!("no index raster of 2026-06-08 ({})", shifted[0])),
        "{err}"
    );
    // The per-pixel run pairs them too.
    let px = out.join("px");
    let mut args = stage_args(&ndvi, &lswi[1..], plots, &[]);
    args.retain(|a| *a != "--plots" && *a != plots);
    args.extend(["--per-pixel", px.to_str().unwrap()]);
    refused(&out, &args);

    // Two rasters of one date: legitimate (two granules, two passes: the Slovenian series has
    // them), and what a copy under another name looks like, so both are named in a warning.
    let copy = dir.path().join("copy_20260717_ndvi.tif");
    std::fs::copy(&ndvi[2], &copy).unwrap();
    let mut twice = ndvi.clone();
    twice.push(copy.display().to_string());
    let mut args = stage_args(&twice, &lswi, plots, &[]);
    args.retain(|a| *a != "--lswi" && *a != "-q" && !lswi.iter().any(|l| l == a));
    let run = paddy(dir.path(), &args);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(
        err.contains("paddy: warning: two index rasters of one date")
            && err.contains(&ndvi[2])
            && err.contains(&twice[5])
            && err.contains("2026-07-17"),
        "{err}"
    );

    // A default class the table does not have, with plots and per pixel.
    for extra in [
        vec!["--default-class", "bogus"],
        vec![
            "--default-class",
            "bogus",
            "--per-pixel",
            px.to_str().unwrap(),
        ],
    ] {
        let err = refused(&out, &stage_args(&ndvi, &lswi, plots, &extra));
        assert!(
            err.contains("bogus") && err.contains("long, medium, short"),
            "{err}"
        );
    }

    // An output that cannot be written, after one that can: nothing written, the path as
    // given named, never a temporary name.
    for (extra, named) in [
        (
            vec![
                "--out",
                "a.csv",
                "--out",
                "/nonexistent/x.geojson",
                "--chart",
                "c.png",
            ],
            "/nonexistent/x.geojson",
        ),
        (
            vec!["--out", "a.csv", "--chart", "no/such/folder/c.png"],
            "no/such/folder/c.png",
        ),
        (vec!["--out", "a.csv", "--chart", "c.jpg"], "c.jpg"),
        (vec!["--out", "a.csv", "--out", "b.txt"], "b.txt"),
    ] {
        let err = refused(&out, &stage_args(&ndvi, &lswi, plots, &extra));
        assert!(err.contains(named) && !err.contains(".part"), "{err}");
    }
    std::fs::write(dir.path().join("a_file"), "").unwrap();
    let a_file = dir.path().join("a_file");
    let err = refused(
        &out,
        &stage_args(
            &ndvi,
            &lswi,
            plots,
            &["--per-pixel", a_file.to_str().unwrap()],
        ),
    );
    assert!(err.contains("a_file"), "{err}");
    nothing_written();
}

/// `raster` copied to `dir/name` under a new name: its pixels, grid and CRS, and none of its
/// metadata (so no acquisition date in it).
fn copy_without_metadata(raster: &str, dir: &Path, name: &str) -> String {
    use gdal::raster::Buffer;
    let src = gdal::Dataset::open(raster).unwrap();
    let band = read_band(Path::new(raster), 1);
    let (w, h) = (band.width, band.height);
    let path = dir.join(name);
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<f64, _>(&path, w, h, 1)
        .unwrap();
    ds.set_geo_transform(&src.geo_transform().unwrap()).unwrap();
    ds.set_spatial_ref(&src.spatial_ref().unwrap()).unwrap();
    let mut out = ds.rasterband(1).unwrap();
    out.set_no_data_value(band.nodata).unwrap();
    out.write((0, 0), (w, h), &mut Buffer::new((w, h), band.data))
        .unwrap();
    ds.close().unwrap();
    path.display().to_string()
}

/// A raster --date-pattern does not date is a mistake on the command line (exit 2, nothing
/// written), as a tile is for `paddy run`: the message names the raster and the pattern, shows
/// what the pattern reads and gives a pattern that reads the date the name holds. That pattern,
/// given, dates the renamed series as the rasters' own metadata (the tiles' acquisition dates)
/// does: the same table. A name without a date, and a raster with no date in its metadata and
/// no pattern, are the same mistake, said so.
#[test]
fn a_raster_the_date_pattern_misses_is_named_with_a_pattern_that_would() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let plots = root().join("sample_tiles/plots.geojson");
    let plots = plots.to_str().unwrap();
    let out = dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    // Every raster copied under a name with its date written with dashes.
    let renamed = dir.path().join("renamed");
    std::fs::create_dir(&renamed).unwrap();
    let dashed = |files: &[String], index: &str| -> Vec<String> {
        files
            .iter()
            .zip(DATES)
            .map(|(file, d)| {
                let name = format!("s2_{}-{}-{}_{index}.tif", &d[..4], &d[4..6], &d[6..]);
                let to = renamed.join(name);
                std::fs::copy(file, &to).unwrap();
                to.display().to_string()
            })
            .collect()
    };
    let (ndvi_dashed, lswi_dashed) = (dashed(&ndvi, "ndvi"), dashed(&lswi, "lswi"));
    let written = out.join("stage.csv");
    let written = written.to_str().unwrap();

    // One index raster, then one LSWI raster, renamed among the others.
    let mut one_ndvi = ndvi.clone();
    one_ndvi[2] = ndvi_dashed[2].clone();
    let mut one_lswi = lswi.clone();
    one_lswi[4] = lswi_dashed[4].clone();
    let mut suggested = Vec::new();
    for (vi, water, odd, date) in [
        (&one_ndvi, &lswi, &ndvi_dashed[2], "2026-07-17"),
        (&ndvi, &one_lswi, &lswi_dashed[4], "2026-09-05"),
    ] {
        let err = refused(&out, &stage_args(vi, water, plots, &["-o", written]));
        for says in [
            &format!("paddy: error: {odd}: does not match --date-pattern '{{yyyy}}{{mm}}{{dd}}'")[..],
            "which reads dates written as '20260718'",
            &format!("for this name, --date-pattern '{{yyyy}}-{{mm}}-{{dd}}' would read {date}"),
        ] {
            assert!(err.contains(says), "'{says}' not in: {err}");
        }
        let pattern = err
            .split_once("for this name, --date-pattern '")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(pattern, _)| pattern.to_string())
            .unwrap();
        suggested.push(pattern);
    }
    assert_eq!(suggested[0], suggested[1]);

    // The pattern suggested dates the renamed series as the metadata dates the original one.
    let mut args = stage_args(&ndvi_dashed, &lswi_dashed, plots, &[]);
    let at = args.iter().position(|a| *a == "{yyyy}{mm}{dd}").unwrap();
    args[at] = &suggested[0];
    let by_name = paddy_ok(dir.path(), &args);
    let mut args = stage_args(&ndvi, &lswi, plots, &[]);
    args.drain(at - 1..=at);
    let by_metadata = paddy_ok(dir.path(), &args);
    assert_eq!(by_name, by_metadata);
    assert_eq!(rows(&by_name)[0]["at"], "2026-09-05");

    // A name without a date: no pattern to suggest, what to do instead.
    let undated = renamed.join("field_a_ndvi.tif");
    std::fs::copy(&ndvi[0], &undated).unwrap();
    let mut vi = ndvi.clone();
    vi[0] = undated.display().to_string();
    let err = refused(&out, &stage_args(&vi, &lswi, plots, &[]));
    assert!(
        err.contains(&format!("{}: does not match --date-pattern", vi[0]))
            && err.contains("its name holds no date written as YYYYMMDD, YYYY-MM-DD or YYYYDDD")
            && !err.contains("would read"),
        "{err}"
    );

    // No pattern, and a raster without a date in its metadata: the pattern that reads its
    // name, else how to date it.
    for (name, says) in [
        (
            "field_20260607_ndvi.tif",
            "has no acquisition date in its metadata: give a --date-pattern of the file names; \
             for this name, --date-pattern '{yyyy}{mm}{dd}' would read 2026-06-07",
        ),
        (
            "field_b_ndvi.tif",
            "has no acquisition date in its metadata, nor in its name: give a --dates list",
        ),
    ] {
        let mut vi = ndvi.clone();
        vi[0] = copy_without_metadata(&ndvi[0], &renamed, name);
        let mut args = stage_args(&vi, &lswi, plots, &["-o", written]);
        args.drain(at - 1..=at);
        let err = refused(&out, &args);
        assert!(err.contains(&format!("{}: {says}", vi[0])), "{err}");
    }
    assert_eq!(crate::common::files_in(&out), Vec::<String>::new());
}

/// A recorded transplanting date that is not a date is not used, and the warning and the
/// plot's reason say so, naming the value; a stage asked for long after the last raster is
/// warned about, and the reasons name the window that holds no observation.
#[test]
fn unreadable_dates_and_a_late_date_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let (ndvi, lswi) = index_series(dir.path());
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("sample_tiles/plots.geojson")).unwrap())
            .unwrap();
    let features = json["features"].as_array_mut().unwrap();
    let bad = [("2025-13-45", 0), ("15/06/2026", 1)];
    let mut ids = Vec::new();
    for (value, k) in bad {
        let props = &mut features[k]["properties"];
        props["transplanted"] = serde_json::Value::from(value);
        ids.push(props["plot_id"].as_str().unwrap().to_string());
    }
    let plots = dir.path().join("bad_dates.geojson");
    std::fs::write(&plots, serde_json::to_string(&json).unwrap()).unwrap();
    let mut args = stage_args(&ndvi, &lswi, plots.to_str().unwrap(), &[]);
    args.retain(|a| *a != "-q");
    let out = paddy(dir.path(), &args);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let table = rows(&String::from_utf8_lossy(&out.stdout));
    for ((value, _), id) in bad.iter().zip(&ids) {
        let warning = stderr
            .lines()
            .find(|l| l.contains(&format!("plot {id}:")))
            .unwrap_or_else(|| panic!("no warning for {id}: {stderr}"));
        assert!(
            warning.contains(&format!("'{value}' is not a date"))
                && warning.contains("transplanting from the flooding onset instead"),
            "{warning}"
        );
        let r = table.iter().find(|r| &r["plot_id"] == id).unwrap();
        assert_eq!(r["transplanting_source"], "flooding onset", "{id}");
        assert!(
            r["reason"].contains(&format!("'{value}' is not a date")),
            "{}",
            r["reason"]
        );
    }
    // The other plots' dates are used, without a warning.
    assert_eq!(stderr.matches("is not a date").count(), 2, "{stderr}");
    assert!(table
        .iter()
        .filter(|r| !ids.contains(&r["plot_id"]))
        .all(|r| r["transplanting_source"] == "attribute"));

    // Long after the last raster (2026-09-05): the window of 200 days before 2027-06-01 holds
    // no raster; each reason says so rather than blaming clouds.
    let plots = root().join("sample_tiles/plots.geojson");
    // Stage on `at`, with its warnings (not quiet).
    let stage_at = |at: &str| {
        let mut args = stage_args(&ndvi, &lswi, plots.to_str().unwrap(), &["--at", at]);
        args.retain(|a| *a != "-q");
        paddy(dir.path(), &args)
    };
    let out = stage_at("2027-06-01");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("269 days after the last raster (2026-09-05)")
            && stderr.contains("no raster lies in the window"),
        "{stderr}"
    );
    for r in rows(&String::from_utf8_lossy(&out.stdout)) {
        assert!(
            r["reason"].contains("no observation from 2026-11-13 to 2027-06-01")
                && !r["reason"].contains("cloudy"),
            "{}",
            r["reason"]
        );
    }
    // A month and a half after it: still warned about, the reasons as they were.
    let out = stage_at("2026-10-20");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("45 days after the last raster") && stderr.contains("extrapolated"),
        "{stderr}"
    );
    for r in rows(&String::from_utf8_lossy(&out.stdout)) {
        assert!(
            !r["reason"].contains("no observation from"),
            "{}",
            r["reason"]
        );
    }
    // Within a revisit of it: no warning.
    let out = stage_at("2026-09-20");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("after the last raster"));
}
