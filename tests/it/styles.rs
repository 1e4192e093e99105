//! Every map paddy writes opens styled in QGIS: the sample run and the per-pixel stage of the
//! README, then for every raster and vector output a `name.qml` beside it that parses, has a
//! renderer QGIS applies, at most 32 classes and a label on each. Day-of-year legends are checked
//! against dates computed here; `--lang zh-CN` gives Chinese class names.

use std::path::{Path, PathBuf};

use crate::common::{paddy_ok, root};

pub const DATE: &str = "2026-07-18";

/// The sample scene copied into `dir`, its run file writing to `dir/out`; with `lang`, the run
/// file says `lang = "…"`. Runs it and returns the run folder.
pub fn sample_run(dir: &Path, lang: Option<&str>) -> PathBuf {
    let tiles = dir.join("tiles");
    std::fs::create_dir_all(&tiles).unwrap();
    for e in std::fs::read_dir(root().join("sample_tiles")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tiles.join(p.file_name().unwrap())).unwrap();
    }
    let run = tiles.join("nightly.toml");
    let mut text = std::fs::read_to_string(&run).unwrap();
    text = text.replace("output = \"../out/nightly\"", "output = \"../out\"");
    if let Some(lang) = lang {
        text = format!("lang = \"{lang}\"\n{text}");
    }
    std::fs::write(&run, text).unwrap();
    paddy_ok(dir, &["run", "tiles/nightly.toml", "--run-date", DATE]);
    dir.join("out").join(DATE)
}

/// `paddy index` and `paddy stage --per-pixel` as the README runs them, into `dir/px`.
fn per_pixel(dir: &Path, lang: &str) -> PathBuf {
    let tiles: Vec<String> = ["20260607", "20260627", "20260717", "20260816", "20260905"]
        .iter()
        .map(|d| format!("tiles/s2_{d}.tif"))
        .collect();
    let mut args: Vec<&str> = vec!["index"];
    args.extend(tiles.iter().map(String::as_str));
    args.extend(["--index", "ndvi,lswi", "--out", "idx"]);
    paddy_ok(dir, &args);
    let ndvi: Vec<String> = tiles
        .iter()
        .map(|t| t.replace("tiles/", "idx/").replace(".tif", "_ndvi.tif"))
        .collect();
    let lswi: Vec<String> = ndvi.iter().map(|p| p.replace("_ndvi", "_lswi")).collect();
    let mut args: Vec<&str> = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.push("--lswi");
    args.extend(lswi.iter().map(String::as_str));
    args.extend(["--per-pixel", "px", "--lang", lang]);
    paddy_ok(dir, &args);
    dir.join("px")
}

/// Every raster and vector file under `dir`.
fn maps(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if !name.starts_with('.') {
                    stack.push(p);
                }
            } else if [".tif", ".geojson", ".shp.zip"]
                .iter()
                .any(|e| name.ends_with(e))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The style QGIS applies to `map`: name.qml with the whole extension dropped.
fn style_of(map: &Path) -> PathBuf {
    let name = map.file_name().unwrap().to_string_lossy();
    let stem = [".shp.zip", ".geojson", ".tif"]
        .iter()
        .find_map(|e| name.strip_suffix(e))
        .unwrap();
    map.with_file_name(format!("{stem}.qml"))
}

/// What a style holds: the renderer's type and its classes' (value, label).
pub struct Style {
    pub renderer: String,
    pub classes: Vec<(String, String)>,
    pub colours: Vec<String>,
    pub label_field: Option<String>,
}

/// Parse a QGIS style (roxmltree, a dev-dependency: a string search cannot tell a broken file
/// from a good one).
pub fn parse(path: &Path) -> Style {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options)
        .unwrap_or_else(|e| panic!("{path:?} is not well-formed XML: {e}"));
    let renderer = doc
        .descendants()
        .find(|n| n.has_tag_name("rasterrenderer") || n.has_tag_name("renderer-v2"))
        .unwrap_or_else(|| panic!("{path:?}: no renderer"));
    let tags = ["item", "paletteEntry", "range", "category", "rule"];
    let classes: Vec<roxmltree::Node> = renderer
        .descendants()
        .filter(|n| tags.iter().any(|t| n.has_tag_name(*t)))
        .collect();
    let value = |n: &roxmltree::Node| {
        n.attribute("value")
            .or(n.attribute("lower"))
            .or(n.attribute("filter"))
            .unwrap_or("")
            .to_string()
    };
    let colours = classes
        .iter()
        .filter_map(|n| n.attribute("color").map(str::to_string))
        .collect();
    Style {
        renderer: renderer.attribute("type").unwrap_or("").to_string(),
        classes: classes
            .iter()
            .map(|n| (value(n), n.attribute("label").unwrap_or("").to_string()))
            .collect(),
        colours,
        label_field: doc
            .descendants()
            .find(|n| n.has_tag_name("text-style"))
            .and_then(|n| n.attribute("fieldName").map(str::to_string)),
    }
}

/// Every map under `dirs` has a style QGIS applies: a renderer of a known type, 1 to 32
/// classes, each labelled; vectors label their plots by id (machine zones by rate). Returns (map, style) pairs.
fn check_all(dirs: &[PathBuf]) -> Vec<(PathBuf, Style)> {
    let mut checked = Vec::new();
    for map in dirs.iter().flat_map(|d| maps(d)) {
        let qml = style_of(&map);
        assert!(qml.is_file(), "{map:?} has no style {qml:?}");
        let style = parse(&qml);
        let raster = map.extension().is_some_and(|e| e == "tif");
        let known: &[&str] = if raster {
            &["singlebandpseudocolor", "paletted"]
        } else {
            &["graduatedSymbol", "categorizedSymbol", "RuleRenderer"]
        };
        assert!(
            known.contains(&style.renderer.as_str()),
            "{qml:?}: {}",
            style.renderer
        );
        let n = style.classes.len();
        assert!((1..=32).contains(&n), "{qml:?}: {n} classes");
        for (value, label) in &style.classes {
            assert!(
                !label.trim().is_empty(),
                "{qml:?}: class {value} has no label"
            );
        }
        if !raster {
            // Plot layers are labelled with the plot id; machine zones (no plots) with the rate.
            let field = style.label_field.clone().unwrap_or_default();
            let zones = map.to_string_lossy().contains("_zones.");
            let want = if zones { "rate" } else { "plot_id" };
            assert!(field.contains(want), "{qml:?}: labels {field:?}");
        }
        checked.push((map, style));
    }
    checked
}

/// Day `doy` of `year` as (month, day), computed here from month lengths.
fn month_day(year: i32, doy: i64) -> (usize, i64) {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let lengths = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut d = doy;
    for (m, len) in lengths.iter().enumerate() {
        if d <= *len {
            return (m + 1, d);
        }
        d -= len;
    }
    panic!("day {doy} is past the year");
}

#[test]
fn every_output_of_the_sample_run_opens_styled_with_named_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = sample_run(tmp.path(), None);
    let px = per_pixel(tmp.path(), "en");
    let checked = check_all(&[run.clone(), px.clone()]);
    // The run's 16 index rasters, 8 statistics, the stage polygons, the prescription's rasters
    // and layers, and the 4 per-pixel rasters, at the least.
    assert!(
        checked.len() >= 16 + 8 + 1 + 2 + 4 + 4,
        "{} maps",
        checked.len()
    );
    let style = |name: &str| {
        &checked
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    };
    // The stage raster names the stages (not "0" … "255").
    let stage = style("stage.tif");
    assert_eq!(stage.renderer, "paletted");
    assert_eq!(stage.classes.len(), 9);
    assert!(stage
        .classes
        .iter()
        .any(|(v, l)| v == "4" && l == "panicle initiation"));
    // Day-of-year legends are dates: each label is the day of 2026 its value is.
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for name in ["heading_doy.tif", "transplanting_doy.tif"] {
        for (value, label) in &style(name).classes {
            let (m, d) = month_day(2026, value.parse::<f64>().unwrap() as i64);
            assert_eq!(label, &format!("{d} {}", MONTHS[m - 1]), "{name}");
        }
    }
    assert!(style("confidence.tif")
        .classes
        .iter()
        .all(|(_, l)| l.ends_with('%')));
    // The stage polygons by stage, the statistics classed on the NDVI mean.
    let plots = style("plots_stage.geojson");
    assert_eq!(plots.renderer, "categorizedSymbol");
    assert!(plots
        .classes
        .iter()
        .any(|(v, l)| v == "panicle_initiation" && l == "panicle initiation"));
    let stats = style("s2_s2_20260717_plots.geojson");
    assert_eq!(stats.renderer, "RuleRenderer");
    assert!(stats
        .classes
        .iter()
        .any(|(filter, _)| filter.contains("\"s2_20260717_ndvi_mean\" >")));
    assert!(stats
        .classes
        .iter()
        .any(|(_, label)| label == "NDVI mean per plot"));
    // Index quicklooks draw their style's stops: each item's colour is in the PNG (the legend
    // bar's row at each stop is 36 px of it). That the bar between stops is the interpolated
    // ramp, not classes, is checked in src/export/quicklook.rs.
    for (map, style) in checked
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/index/"))
    {
        let png = image::open(map.with_extension("png")).unwrap().to_rgb8();
        assert_eq!(style.colours.len(), style.classes.len());
        for hex in &style.colours {
            let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
            let rgb = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            let n = png.pixels().filter(|p| p.0 == rgb).count();
            assert!(n >= 30, "{map:?}: {hex} drawn in {n} pixels");
        }
    }
    // Plot outlines and ids are drawn on index quicklooks: dark lines and text over the map
    // (its left part, under the title; no ramp colour is that dark).
    let png = image::open(run.join("index/s2/s2_20260717_ndvi.png"))
        .unwrap()
        .to_rgb8();
    let (w, h) = png.dimensions();
    let dark = png
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            *x < w * 6 / 10 && *y > 60 && *y < h - 70 && p.0.iter().all(|c| *c < 70)
        })
        .count();
    assert!(
        dark > 1000,
        "{dark} dark pixels: no plot outlines on the quicklook"
    );
    // The column it is graduated on is in the GeoJSON.
    let geojson = std::fs::read_to_string(run.join("stats/s2_s2_20260717_plots.geojson")).unwrap();
    assert!(geojson.contains("\"s2_20260717_ndvi_mean\""));
}

#[test]
fn chinese_styles_name_classes_in_chinese() {
    let tmp = tempfile::tempdir().unwrap();
    let run = sample_run(tmp.path(), Some("zh-CN"));
    let px = per_pixel(tmp.path(), "zh-CN");
    let checked = check_all(&[run, px]);
    let style = |name: &str| {
        &checked
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    };
    let stage = style("stage.tif");
    assert!(stage
        .classes
        .iter()
        .any(|(v, l)| v == "4" && l == "幼穗分化"));
    for (value, label) in &style("heading_doy.tif").classes {
        let (m, d) = month_day(2026, value.parse::<f64>().unwrap() as i64);
        assert_eq!(label, &format!("{m}月{d}日"));
    }
    let plots = style("plots_stage.geojson");
    assert!(plots
        .classes
        .iter()
        .any(|(v, l)| v == "booting" && l == "孕穗"));
    // Machine columns stay English: the style still reads the `stage` field's codes.
    assert!(plots.classes.iter().all(|(v, _)| v.is_ascii()));

    // The same run in English redoes every unit (its PNGs and styles are read by a person), so
    // no map keeps the other language's labels; run again, every unit is up to date.
    let rerun = |lang: &str| {
        paddy_ok(
            tmp.path(),
            &[
                "run",
                "tiles/nightly.toml",
                "--run-date",
                DATE,
                "--lang",
                lang,
                "-q",
            ],
        );
        let report =
            std::fs::read_to_string(tmp.path().join("out").join(DATE).join("report.json")).unwrap();
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        report["summary"]["skipped_up_to_date"].as_u64().unwrap()
    };
    assert_eq!(rerun("en"), 0);
    let qml = std::fs::read_to_string(
        tmp.path()
            .join("out")
            .join(DATE)
            .join("stage/plots_stage.qml"),
    )
    .unwrap();
    assert!(qml.contains("booting") && !qml.contains("孕穗"), "{qml}");
    assert!(rerun("en") > 0);
    assert_eq!(rerun("zh-CN"), 0);
}
