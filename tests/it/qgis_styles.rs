//! The QGIS styles of the maps people read, applied as QGIS applies them: each `.qml` parsed,
//! each rule's filter and each label evaluated with QGIS's expression rules
//! ([`crate::qgis_expr`]) on the layers' own features and on made-up ones.
//!
//! - A rate on a class edge has one class, the same in the rate raster (QGIS gives a DISCRETE
//!   ramp's pixel the first item whose value is at least its own), the machine layer (the
//!   first graduated range holding it) and the plots layer (every rule that matches is drawn:
//!   exactly one class rule may).
//! - Every status the plots layer can carry ([`paddy::rx::output::PlotStatus::ALL`]) is drawn,
//!   marked and named, in English and Chinese.
//! - Plots with no rate have no total; plots partly not observed are marked and say how much.
//! - The statistics' map names its index and statistic and shows how much of a plot was seen,
//!   against the seen area computed here from the raster's pixel size.
//!
//! Where python3-qgis is installed, the last test asks QGIS itself (scripts/qgis-style-check.py
//! --features) which rules it draws for each feature and what its label reads, and compares.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gdal::vector::LayerAccess;

use crate::common::{paddy_ok, root};
use crate::qgis_expr::{self, Feature, V};

/// A simple fill: colour (r, g, b), brush and outline style as QGIS names them.
#[derive(Debug, Clone, PartialEq)]
struct Fill {
    colour: [u8; 3],
    brush: String,
    outline: String,
}

/// One rule of a rule-based renderer.
#[derive(Debug, Clone)]
struct RuleDef {
    label: String,
    filter: Option<String>,
    fill: Option<Fill>,
    children: Vec<RuleDef>,
}

/// What a style holds, by renderer.
#[derive(Debug, Default)]
struct Style {
    renderer: String,
    /// Rule-based.
    rules: Vec<RuleDef>,
    /// Graduated: (lower, upper, label, fill), in order.
    ranges: Vec<(f64, f64, String, Fill)>,
    /// Raster: the colour ramp's type and (value, label, colour).
    ramp_type: String,
    items: Vec<(f64, String, [u8; 3])>,
    /// The labels' expression.
    label: Option<String>,
}

fn rgb(text: &str) -> [u8; 3] {
    if let Some(hex) = text.strip_prefix('#') {
        let v = u32::from_str_radix(hex, 16).unwrap();
        return [(v >> 16) as u8, (v >> 8) as u8, v as u8];
    }
    let parts: Vec<u8> = text.split(',').map(|p| p.trim().parse().unwrap()).collect();
    [parts[0], parts[1], parts[2]]
}

fn load(path: &Path) -> Style {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options).unwrap();
    let mut symbols: HashMap<String, Fill> = HashMap::new();
    for s in doc.descendants().filter(|n| n.has_tag_name("symbol")) {
        let prop = |k: &str| {
            s.descendants()
                .find(|n| n.has_tag_name("prop") && n.attribute("k") == Some(k))
                .and_then(|n| n.attribute("v"))
                .unwrap_or("")
                .to_string()
        };
        symbols.insert(
            s.attribute("name").unwrap().to_string(),
            Fill {
                colour: rgb(&prop("color")),
                brush: prop("style"),
                outline: prop("outline_style"),
            },
        );
    }
    fn rules(node: roxmltree::Node, symbols: &HashMap<String, Fill>) -> Vec<RuleDef> {
        node.children()
            .filter(|n| n.has_tag_name("rule"))
            .map(|r| RuleDef {
                label: r.attribute("label").unwrap_or("").to_string(),
                filter: r.attribute("filter").map(str::to_string),
                fill: r.attribute("symbol").map(|s| symbols[s].clone()),
                children: rules(r, symbols),
            })
            .collect()
    }
    let mut style = Style {
        label: doc
            .descendants()
            .find(|n| n.has_tag_name("text-style"))
            .and_then(|n| n.attribute("fieldName"))
            .map(str::to_string),
        ..Style::default()
    };
    if let Some(r) = doc.descendants().find(|n| n.has_tag_name("renderer-v2")) {
        style.renderer = r.attribute("type").unwrap().to_string();
        if let Some(root_rules) = r.descendants().find(|n| n.has_tag_name("rules")) {
            style.rules = rules(root_rules, &symbols);
        }
        for range in r.descendants().filter(|n| n.has_tag_name("range")) {
            let num = |k: &str| range.attribute(k).unwrap().parse::<f64>().unwrap();
            style.ranges.push((
                num("lower"),
                num("upper"),
                range.attribute("label").unwrap().to_string(),
                symbols[range.attribute("symbol").unwrap()].clone(),
            ));
        }
    }
    if let Some(shader) = doc
        .descendants()
        .find(|n| n.has_tag_name("colorrampshader"))
    {
        style.renderer = "singlebandpseudocolor".into();
        style.ramp_type = shader.attribute("colorRampType").unwrap().to_string();
        for item in shader.children().filter(|n| n.has_tag_name("item")) {
            style.items.push((
                item.attribute("value").unwrap().parse().unwrap(),
                item.attribute("label").unwrap().to_string(),
                rgb(item.attribute("color").unwrap()),
            ));
        }
    }
    style
}

impl Style {
    /// The rules QGIS draws for `f` (label, fill): each whose filter holds (and its parents'),
    /// that has a symbol.
    fn drawn(&self, f: &Feature) -> Vec<(String, Fill)> {
        fn walk(rules: &[RuleDef], f: &Feature, out: &mut Vec<(String, Fill)>) {
            for r in rules {
                if r.filter.as_deref().map_or(true, |x| qgis_expr::holds(x, f)) {
                    if let Some(fill) = &r.fill {
                        out.push((r.label.clone(), fill.clone()));
                    }
                    walk(&r.children, f, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.rules, f, &mut out);
        out
    }

    /// Every rule, depth first.
    fn all_rules(&self) -> Vec<&RuleDef> {
        fn walk<'a>(rules: &'a [RuleDef], out: &mut Vec<&'a RuleDef>) {
            for r in rules {
                out.push(r);
                walk(&r.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.rules, &mut out);
        out
    }

    /// The class QGIS gives `v` in a DISCRETE raster ramp: the first item whose value is at
    /// least `v` (none above the last).
    fn raster_class(&self, v: f64) -> Option<(String, [u8; 3])> {
        assert_eq!(self.ramp_type, "DISCRETE");
        self.items
            .iter()
            .find(|(value, _, _)| *value >= v)
            .map(|(_, l, c)| (l.clone(), *c))
    }

    /// The class QGIS gives `v` in a graduated renderer: the first range holding it.
    fn graduated_class(&self, v: f64) -> Option<(String, [u8; 3])> {
        self.ranges
            .iter()
            .find(|(lo, hi, _, _)| *lo <= v && v <= *hi)
            .map(|(_, _, l, f)| (l.clone(), f.colour))
    }

    /// The label QGIS draws for `f`.
    fn label_of(&self, f: &Feature) -> String {
        qgis_expr::text(self.label.as_deref().expect("labels"), f)
    }
}

/// The features of a GeoJSON file, as attributes.
fn features(path: &Path) -> Vec<Feature> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| qgis_expr::feature(&f["properties"]))
        .collect()
}

fn num(f: &Feature, k: &str) -> Option<f64> {
    match f.get(k) {
        Some(V::Num(n)) => Some(*n),
        _ => None,
    }
}

fn text(f: &Feature, k: &str) -> String {
    match f.get(k) {
        Some(V::Str(s)) => s.clone(),
        other => panic!("{k}: {other:?}"),
    }
}

/// The number just before `suffix` in `label` (thousands separators dropped).
fn number_before(label: &str, suffix: &str) -> Option<f64> {
    let head = &label[..label.find(suffix)?];
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(0, |(i, c)| i + c.len_utf8());
    head[start..].replace(',', "").parse().ok()
}

/// A feature of the plots layer made up here.
fn plot(status: &str, rate: Option<f64>, unseen_pct: f64) -> Feature {
    [
        ("plot_id", V::Str("PX".into())),
        ("status", V::Str(status.into())),
        ("rate", rate.map_or(V::Null, V::Num)),
        ("not_observed_pct", V::Num(unseen_pct)),
        ("zone_m2", V::Num(0.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The sample's drone indices (26 June, 18 July), the prescription at panicle initiation
/// (`dir/rx`, in `lang`) and the 18 July NDVI statistics as a map (`dir/stats.geojson`).
fn sample(dir: &Path, lang: &str) -> PathBuf {
    let tiles = root().join("sample_tiles");
    for date in ["20260626", "20260718"] {
        let tile = tiles.join(format!("drone_{date}.tif"));
        let tile = tile.to_str().unwrap();
        paddy_ok(
            dir,
            &["index", tile, "--index", "ndrei,ndvi", "--out", "idx", "-q"],
        );
    }
    let plots = tiles.join("plots.geojson");
    let plots = plots.to_str().unwrap();
    #[rustfmt::skip]
    paddy_ok(dir, &[
        "prescribe", "--plots", plots, "--n-index", "idx/drone_20260718_ndrei.tif",
        "--spray-index", "idx/drone_20260718_ndvi.tif", "--previous", "idx/drone_20260626_ndvi.tif",
        "--at", "2026-07-18", "--out", "rx", "--lang", lang, "-q",
    ]);
    #[rustfmt::skip]
    paddy_ok(dir, &[
        "stats", "idx/drone_20260718_ndvi.tif", "--plots", plots, "--id-field", "plot_id",
        "--out", "stats.geojson", "--lang", lang, "-q",
    ]);
    dir.join("rx")
}

#[test]
fn a_rate_on_a_class_edge_has_one_class_in_the_raster_the_machine_layer_and_the_plots() {
    let dir = tempfile::tempdir().unwrap();
    let rx = sample(dir.path(), "en");
    for product in ["nitrogen", "spray"] {
        let raster = load(&rx.join(format!("rx_{product}.qml")));
        let zones = load(&rx.join(format!("rx_{product}_zones.qml")));
        let plots = load(&rx.join(format!("rx_{product}_plots.qml")));
        assert_eq!(zones.renderer, "graduatedSymbol");
        assert_eq!(plots.renderer, "RuleRenderer");
        let edges: Vec<f64> = raster.items.iter().map(|i| i.0).collect();
        assert!(edges.len() >= 2, "{product}: {edges:?}");
        // Each edge, just below and above it, halfway to the next; and every rate of the data.
        let mut values: Vec<f64> = vec![-0.5];
        for w in edges.windows(2) {
            values.extend([w[0], w[0] + 1e-6, (w[0] + w[1]) / 2.0, w[1] - 1e-6]);
        }
        let last = *edges.last().unwrap();
        values.extend([last, last + 1e-6, last + 1.0]);
        for layer in ["plots", "zones"] {
            let path = rx.join(format!("rx_{product}_{layer}.geojson"));
            values.extend(features(&path).iter().filter_map(|f| num(f, "rate")));
        }
        let mut on_edge = 0;
        for &v in &values {
            let want = raster.raster_class(v);
            assert_eq!(zones.graduated_class(v), want, "{product} {v}: zones");
            let f = plot("prescribed", Some(v), 0.0);
            let drawn = plots.drawn(&f);
            match &want {
                Some((label, colour)) => {
                    assert_eq!(drawn.len(), 1, "{product} {v}: rules {drawn:?}");
                    assert_eq!(&drawn[0].0, label, "{product} {v}");
                    assert_eq!(drawn[0].1.colour, *colour, "{product} {v}");
                    assert_eq!(drawn[0].1.brush, "solid");
                    assert_eq!(drawn[0].1.outline, "solid");
                    // Its label names the rate.
                    let rate = qgis_expr::format_number(v, 1);
                    assert!(plots.label_of(&f).contains(&rate), "{product} {v}");
                }
                None => assert!(drawn.is_empty(), "{product} {v}: above every class"),
            }
            on_edge += usize::from(edges.contains(&v));
        }
        assert!(on_edge >= edges.len(), "{product}: edges tried");
    }
    // The tester's plot: P07 at 40 kg urea/ha, an edge of the equal ranges, is in the class
    // that ends at 40 ("> 30–40"), in all three.
    let raster = load(&rx.join("rx_nitrogen.qml"));
    let plots = load(&rx.join("rx_nitrogen_plots.qml"));
    for f in features(&rx.join("rx_nitrogen_plots.geojson")) {
        let Some(rate) = num(&f, "rate") else {
            continue;
        };
        let (label, _) = raster.raster_class(rate).unwrap();
        assert_eq!(plots.drawn(&f)[0].0, label, "{f:?}");
        if edges_of(&raster).contains(&rate) && rate > 0.0 {
            // A class ending on the rate names it as its upper end.
            let upper = label.split('–').nth(1).unwrap_or(&label);
            assert!(upper.starts_with(&format!("{rate}")), "{label} for {rate}");
        }
    }
}

fn edges_of(raster: &Style) -> Vec<f64> {
    raster.items.iter().map(|i| i.0).collect()
}

/// Labels of classes after the first reach down to the class below: `> 30–40`; the first holds
/// its lower end (the smallest rate).
#[test]
fn class_labels_say_which_side_an_edge_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let rx = sample(dir.path(), "en");
    let raster = load(&rx.join("rx_nitrogen.qml"));
    let labels: Vec<&str> = raster.items.iter().map(|i| i.1.as_str()).collect();
    let ranges: Vec<&&str> = labels.iter().filter(|l| l.contains('–')).collect();
    assert!(
        ranges.len() >= 2,
        "{labels:?}: the sample's rates are in ranges"
    );
    assert!(!ranges[0].starts_with('>'), "{labels:?}");
    assert!(
        ranges[1..].iter().all(|l| l.starts_with("> ")),
        "{labels:?}"
    );
}

#[test]
fn every_plot_status_is_drawn_marked_and_named_in_both_languages() {
    use paddy::rx::output::PlotStatus;
    let dir = tempfile::tempdir().unwrap();
    for lang in ["en", "zh-CN"] {
        std::fs::create_dir_all(dir.path().join(lang)).unwrap();
        let rx = sample(&dir.path().join(lang), lang);
        for product in ["nitrogen", "spray"] {
            let style = load(&rx.join(format!("rx_{product}_plots.qml")));
            let rate = num(
                features(&rx.join(format!("rx_{product}_zones.geojson")))
                    .first()
                    .unwrap(),
                "rate",
            );
            let mut marks: HashMap<String, Fill> = HashMap::new();
            for status in PlotStatus::ALL {
                let s = status.as_str();
                let with_rate = !s.starts_with("not observed") && !s.starts_with("stage unknown")
                    || s.ends_with("(default rate)");
                let f = plot(s, if with_rate { rate } else { None }, 0.0);
                let drawn = style.drawn(&f);
                assert!(!drawn.is_empty(), "{lang} {product} {s}: not drawn");
                assert!(drawn.iter().all(|(l, _)| !l.trim().is_empty()));
                let hatch: Vec<&(String, Fill)> = drawn
                    .iter()
                    .filter(|(_, fill)| fill.brush != "solid")
                    .collect();
                let label = style.label_of(&f);
                assert!(label.starts_with("PX"), "{lang} {s}: label {label:?}");
                if s == "prescribed" {
                    assert!(hatch.is_empty(), "{lang} {s}: {hatch:?}");
                    continue;
                }
                // Marked over its colour, in the legend, and named on the map when it has no
                // rate to show.
                assert_eq!(hatch.len(), 1, "{lang} {product} {s}: {drawn:?}");
                let (legend, fill) = hatch[0];
                if !with_rate {
                    assert!(label.contains(legend.as_str()), "{lang} {s}: {label:?}");
                }
                let kind = s.trim_end_matches(" (default rate)").to_string();
                if let Some(other) = marks.insert(kind.clone(), fill.clone()) {
                    assert_eq!(&other, fill, "{lang} {s}: one mark per kind");
                }
            }
            // Not observed and stage unknown are told apart.
            assert_eq!(marks.len(), 2, "{marks:?}");
            let kinds: Vec<&Fill> = marks.values().collect();
            assert_ne!(
                kinds[0], kinds[1],
                "{lang} {product}: the two marks look alike"
            );
        }
    }
}

#[test]
fn a_plot_with_no_rate_has_no_total_and_one_with_a_rate_the_machine_layers() {
    let dir = tempfile::tempdir().unwrap();
    let rx = sample(dir.path(), "en");
    let mut empty = 0;
    for product in ["nitrogen", "spray"] {
        let zones = features(&rx.join(format!("rx_{product}_zones.geojson")));
        for f in features(&rx.join(format!("rx_{product}_plots.geojson"))) {
            let id = text(&f, "plot_id");
            let total: f64 = zones
                .iter()
                .filter(|z| text(z, "plot_id") == id)
                .map(|z| num(z, "total").unwrap())
                .sum();
            // No rate, no total: an empty value, never 0 (as the summary's product_kg).
            match num(&f, "rate") {
                None => {
                    empty += 1;
                    assert_eq!(f.get("total"), Some(&V::Null), "{product} {id}");
                }
                Some(_) => {
                    let t = num(&f, "total").unwrap();
                    assert!((t - total).abs() < 0.011, "{product} {id}: {t} vs {total}");
                }
            }
        }
    }
    assert!(empty >= 10, "the sample's plots not observed: {empty}");
}

/// A plot's planar area (m²) in UTM 48N (the grids' CRS), measured here with GDAL/GEOS.
fn utm_areas(plots: &Path) -> HashMap<String, f64> {
    let ds = gdal::Dataset::open(plots).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let utm = gdal::spatial_ref::SpatialRef::from_epsg(32648).unwrap();
    let k = layer.defn().field_index("plot_id").unwrap();
    layer
        .features()
        .map(|f| {
            let id = f.field_as_string(k).unwrap().unwrap();
            let g = f.geometry().unwrap().transform_to(&utm).unwrap();
            (id, g.area())
        })
        .collect()
}

#[test]
fn plots_partly_seen_are_marked_labelled_and_reasoned() {
    let dir = tempfile::tempdir().unwrap();
    let rx = sample(dir.path(), "en");
    let areas = utm_areas(&root().join("sample_tiles/plots.geojson"));
    let mut partly = 0;
    for product in ["nitrogen", "spray"] {
        let style = load(&rx.join(format!("rx_{product}_plots.qml")));
        let zones = features(&rx.join(format!("rx_{product}_zones.geojson")));
        for f in features(&rx.join(format!("rx_{product}_plots.geojson"))) {
            let id = text(&f, "plot_id");
            let mine: Vec<&Feature> = zones.iter().filter(|z| text(z, "plot_id") == id).collect();
            let Some(rate) = num(&f, "rate") else {
                continue;
            };
            // The share with no rate: what the machine pieces leave of the plot.
            let pieces: f64 = mine.iter().map(|z| num(z, "area_ha").unwrap() * 1e4).sum();
            let unseen = 100.0 * (1.0 - pieces / areas[&id]);
            let label = style.label_of(&f);
            let marked = style
                .drawn(&f)
                .iter()
                .any(|(_, fill)| fill.outline == "dash");
            if unseen > 11.0 {
                partly += 1;
                assert!(marked, "{product} {id} {unseen:.1} % unseen: not marked");
                let said = number_before(&label, " % not observed");
                assert!(
                    said.is_some_and(|n| (n - unseen).abs() <= 1.0),
                    "{product} {id}: {label:?}, {unseen:.1} % unseen"
                );
            } else if unseen < 9.0 {
                assert!(!marked, "{product} {id}: {unseen:.1} % unseen, marked");
                assert!(!label.contains("not observed"), "{label:?}");
            }
            // Spray: the stress zones (pieces above the plot's rate) on the label.
            let zone: Vec<&&Feature> = mine
                .iter()
                .filter(|z| num(z, "rate").unwrap() > rate)
                .collect();
            if product == "spray" && !zone.is_empty() {
                let m2: f64 = zone.iter().map(|z| num(z, "area_ha").unwrap() * 1e4).sum();
                let zone_rate = num(zone[0], "rate").unwrap();
                let said = format!("zones: {zone_rate:.1} L/ha on ");
                assert!(label.contains(&said), "{id}: {label:?}, {said}");
                let area = number_before(&label, " m²");
                assert!(
                    area.is_some_and(|a| (a - m2).abs() <= 1.0),
                    "{label:?}, {m2} m²"
                );
            }
        }
    }
    assert!(partly >= 3, "the sample's spray plots seen on a third");
    // The summary's reasons (and so report.json and report.html) say it too.
    let summary = std::fs::read_to_string(rx.join("rx_summary.csv")).unwrap();
    let noted = summary
        .lines()
        .filter(|l| l.contains("% of the plot (") && l.contains("not observed: no rate there"))
        .count();
    assert!(noted >= 3, "{summary}");
}

#[test]
fn the_statistics_map_names_its_index_and_shows_how_much_of_each_plot_was_seen() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "en");
    let style = load(&dir.path().join("stats.qml"));
    assert_eq!(style.renderer, "RuleRenderer");
    // A legend heading names the index and the statistic; the classes under it.
    let heading = &style.rules[0];
    assert!(heading.fill.is_none() && heading.filter.is_none());
    assert_eq!(heading.label, "NDVI mean per plot");
    assert!(heading.children.len() >= 3);
    // Class labels write negative numbers with a minus sign, as the other legends.
    for r in style.all_rules() {
        assert!(!r.label.contains('-'), "{:?}", r.label);
    }
    assert!(style.all_rules().iter().any(|r| r.label.contains('−')));
    // Every value on and around a class edge is in exactly one class.
    let mean = "drone_20260718_ndvi_mean";
    let bounds: Vec<f64> = heading
        .children
        .iter()
        .flat_map(|r| {
            let filter = r.filter.clone().unwrap();
            filter
                .split(|c: char| c.is_whitespace())
                .filter_map(|w| w.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    for b in &bounds {
        for v in [b - 1e-9, *b, b + 1e-9] {
            let f: Feature = [(mean.to_string(), V::Num(v))].into_iter().collect();
            let n = heading
                .children
                .iter()
                .filter(|r| qgis_expr::holds(r.filter.as_deref().unwrap(), &f))
                .count();
            assert_eq!(n, 1, "{v}");
        }
    }
    // The seen share, from the raster's pixel size here: count × pixel area / plot area.
    let ds = gdal::Dataset::open(dir.path().join("idx/drone_20260718_ndvi.tif")).unwrap();
    let gt = ds.geo_transform().unwrap();
    let pixel = (gt[1] * gt[5]).abs();
    let mut low = 0;
    for f in features(&dir.path().join("stats.geojson")) {
        let seen = num(&f, "drone_20260718_ndvi_count").unwrap_or(0.0) * pixel
            / num(&f, "area_m2").unwrap();
        let label = style.label_of(&f);
        let marked = style
            .drawn(&f)
            .iter()
            .any(|(_, fill)| fill.outline == "dash");
        if seen < 0.89 {
            low += 1;
            assert!(marked, "{f:?}");
            let said = number_before(&label, " % of the plot");
            assert!(label.contains("seen on "), "{label:?}");
            assert!(
                said.is_some_and(|n| (n - 100.0 * seen).abs() <= 1.0),
                "{label:?}: seen on {:.1} %",
                100.0 * seen
            );
        } else if seen > 0.91 {
            assert!(!marked && !label.contains("seen"), "{label:?}");
        }
    }
    assert!(
        low >= 5,
        "the sample's drone flight sees most plots in part"
    );
}

/// What QGIS itself makes of the styles, where python3-qgis is installed: the rules it draws
/// for each feature (of the sample's layers and of made-up plots of every status on every class
/// edge) and the labels it writes, as the evaluator of these tests finds them.
#[test]
fn qgis_itself_draws_and_labels_as_these_tests_evaluate() {
    let qgis = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import qgis.core"])
        .output();
    if !qgis.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: python3-qgis is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rx = sample(dir.path(), "en");
    // Made-up plots: every status, at and around every class edge, partly seen or not.
    let raster = load(&rx.join("rx_nitrogen.qml"));
    let mut made_up = Vec::new();
    for status in paddy::rx::output::PlotStatus::ALL {
        for e in edges_of(&raster) {
            for (rate, unseen) in [(Some(e), 0.0), (Some(e + 1e-6), 50.0), (None, 100.0)] {
                made_up.push(serde_json::json!({
                    "type": "Feature",
                    "properties": {
                        "plot_id": "PX", "status": status.as_str(), "rate": rate,
                        "not_observed_pct": unseen, "zone_m2": 0.0,
                    },
                    "geometry": {"type": "Polygon", "coordinates":
                        [[[105.0, 10.0], [105.001, 10.0], [105.001, 10.001], [105.0, 10.0]]]},
                }));
            }
        }
    }
    let made_up_path = dir.path().join("made_up.geojson");
    let collection = serde_json::json!({"type": "FeatureCollection", "features": made_up});
    std::fs::write(&made_up_path, collection.to_string()).unwrap();
    let cases: Vec<(PathBuf, Option<PathBuf>)> = vec![
        (rx.join("rx_nitrogen_plots.geojson"), None),
        (rx.join("rx_spray_plots.geojson"), None),
        (rx.join("rx_nitrogen_zones.geojson"), None),
        (dir.path().join("stats.geojson"), None),
        (made_up_path, Some(rx.join("rx_nitrogen_plots.qml"))),
    ];
    for (layer, style_path) in cases {
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.env("QT_QPA_PLATFORM", "offscreen")
            .arg(root().join("scripts/qgis-style-check.py"))
            .arg("--features");
        if let Some(s) = &style_path {
            cmd.arg("--style").arg(s);
        }
        let out = cmd.arg(&layer).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let style = load(&style_path.unwrap_or_else(|| {
            let name = layer
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".geojson", ".qml");
            layer.with_file_name(name)
        }));
        let ours = features(&layer);
        let theirs: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("feature "))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(theirs.len(), ours.len(), "{layer:?}: {stdout}");
        for (f, q) in ours.iter().zip(&theirs) {
            let mut drawn: Vec<String> = if style.renderer == "graduatedSymbol" {
                let rate = num(f, "rate").unwrap();
                style
                    .graduated_class(rate)
                    .into_iter()
                    .map(|c| c.0)
                    .collect()
            } else {
                style.drawn(f).into_iter().map(|d| d.0).collect()
            };
            let mut qgis_drawn: Vec<String> = q["legend"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect();
            drawn.sort();
            qgis_drawn.sort();
            assert_eq!(drawn, qgis_drawn, "{layer:?} {f:?}");
            assert_eq!(
                style.label_of(f),
                q["label"].as_str().unwrap_or(""),
                "{layer:?} {f:?}"
            );
        }
    }
}
