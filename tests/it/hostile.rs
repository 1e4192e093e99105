//! Hostile but realistic input, built at test time from the sample tiles (small files only):
//! plot attributes named like output columns, odd pixel types, lying headers, expressions too
//! deep or too long, nonsense options. Each case asserts the exit code, that the message names
//! the file, band, plot or option, and that nothing partial is left under a final name; or,
//! where the input is odd but usable, that the numbers are those of a clean input.

use std::collections::HashMap;
use std::path::Path;

use crate::common::*;

/// Run paddy expecting failure with `code`; returns stderr, checked to be one `paddy: error:`
/// line with no panic.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = paddy(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "paddy {args:?}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("paddy: warning: "))
        .collect();
    assert_eq!(errors.len(), 1, "one line of error, got:\n{stderr}");
    assert!(errors[0].starts_with("paddy: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn sample(name: &str) -> String {
    root().join("sample_tiles").join(name).display().to_string()
}

/// The sample plots with `extra` attributes added to every feature and `drop` removed.
fn plots_with(path: &Path, extra: &[(&str, serde_json::Value)], drop: &[&str]) {
    let text = std::fs::read_to_string(sample("plots.geojson")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for f in doc["features"].as_array_mut().unwrap() {
        let props = f["properties"].as_object_mut().unwrap();
        for d in drop {
            props.remove(*d);
        }
        for (k, v) in extra {
            props.insert(k.to_string(), v.clone());
        }
    }
    std::fs::write(path, serde_json::to_string(&doc).unwrap()).unwrap();
}

/// A GeoJSON file's features' properties as text, like a CSV row.
fn geojson_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["properties"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Every column of `clean` has the same values in `clashing`; each clashing attribute `name`
/// is found as `attr_name` with its own value; and no column appears twice.
fn same_values_under_same_names(
    clean: &[HashMap<String, String>],
    clashing: &[HashMap<String, String>],
    header: Option<&str>,
    renamed: &[(&str, &str)],
) {
    assert_eq!(clean.len(), clashing.len());
    for (a, b) in clean.iter().zip(clashing) {
        for (column, value) in a {
            assert_eq!(b.get(column), Some(value), "column {column}");
        }
        for (name, value) in renamed {
            let got = b.get(&format!("attr_{name}"));
            assert_eq!(
                got.map(|v| v.trim_matches('"')),
                Some(*value),
                "attr_{name}"
            );
        }
    }
    if let Some(header) = header {
        let names: Vec<&str> = header.split(',').collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a column twice in {header}");
    }
}

fn first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// [`same_values_under_same_names`] for the CSV pair `csv` (clean, clashing) and the GeoJSON
/// pair `geojson`, under `dir`.
fn same_in_both_tables(dir: &Path, csv: [&str; 2], geojson: [&str; 2], renamed: &[(&str, &str)]) {
    let read = |p: &str| rows(&std::fs::read_to_string(dir.join(p)).unwrap());
    let header = first_line(&dir.join(csv[1]));
    same_values_under_same_names(&read(csv[0]), &read(csv[1]), Some(&header), renamed);
    same_values_under_same_names(
        &geojson_rows(&dir.join(geojson[0])),
        &geojson_rows(&dir.join(geojson[1])),
        None,
        renamed,
    );
}

#[test]
fn attributes_named_like_statistics_keep_their_values_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    paddy_ok(
        dir,
        &[
            "index",
            &sample("drone_20260718.tif"),
            "-i",
            "ndvi",
            "-o",
            "idx",
            "-q",
        ],
    );
    let extra = [
        ("status", serde_json::json!("mine")),
        ("pixels", serde_json::json!(999)),
        ("drone_20260718_ndvi_mean", serde_json::json!(-7.5)),
        ("AREA_M2", serde_json::json!("big")),
    ];
    plots_with(&dir.join("clean.geojson"), &[], &[]);
    plots_with(&dir.join("clash.geojson"), &extra, &[]);
    let mut stderr = String::new();
    for name in ["clean", "clash"] {
        let out = paddy(
            dir,
            &[
                "stats",
                "idx/drone_20260718_ndvi.tif",
                "--plots",
                &format!("{name}.geojson"),
                "-o",
                &format!("{name}.csv"),
                "-o",
                &format!("{name}.geojson.out.geojson"),
            ],
        );
        assert!(out.status.success());
        stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    for attribute in ["status", "pixels", "drone_20260718_ndvi_mean", "AREA_M2"] {
        assert!(
            stderr.contains(&format!(
                "plot attribute '{attribute}' is written as 'attr_{attribute}'"
            )),
            "{stderr}"
        );
    }
    let renamed = [
        ("status", "mine"),
        ("pixels", "999"),
        ("drone_20260718_ndvi_mean", "-7.5"),
        ("AREA_M2", "big"),
    ];
    same_in_both_tables(
        dir,
        ["clean.csv", "clash.csv"],
        ["clean.geojson.out.geojson", "clash.geojson.out.geojson"],
        &renamed,
    );
    let read = |p: &str| rows(&std::fs::read_to_string(dir.join(p)).unwrap());
    // The statistic itself is a number between -1 and 1, not the pixel count.
    for row in read("clash.csv") {
        let mean: f64 = row["drone_20260718_ndvi_mean"].parse().unwrap();
        assert!((-1.0..=1.0).contains(&mean), "{mean}");
    }
}

#[test]
fn an_attribute_named_stage_does_not_replace_the_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ndvi = Vec::new();
    for date in ["20260607", "20260627", "20260717", "20260816", "20260905"] {
        paddy_ok(
            dir,
            &[
                "index",
                &sample(&format!("s2_{date}.tif")),
                "--sensor",
                "sentinel2-l2a",
                "-i",
                "ndvi",
                "-o",
                "s2",
                "-q",
            ],
        );
        ndvi.push(format!("s2/s2_{date}_ndvi.tif"));
    }
    let extra = [
        ("stage", serde_json::json!("bogus")),
        ("confidence", serde_json::json!(-1)),
        ("series", serde_json::json!("none")),
    ];
    plots_with(&dir.join("clean.geojson"), &[], &[]);
    plots_with(&dir.join("clash.geojson"), &extra, &[]);
    for name in ["clean", "clash"] {
        let mut args: Vec<String> = vec!["stage".into()];
        args.extend(ndvi.iter().cloned());
        args.extend(
            [
                "--plots",
                &format!("{name}.geojson"),
                "--date-pattern",
                "{yyyy}{mm}{dd}",
                "-o",
                &format!("{name}_stage.csv"),
                "-o",
                &format!("{name}_stage.geojson"),
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = paddy(dir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        if name == "clash" {
            assert!(
                stderr.contains("'stage' is written as 'attr_stage'"),
                "{stderr}"
            );
        }
    }
    let renamed = [("stage", "bogus"), ("confidence", "-1"), ("series", "none")];
    same_in_both_tables(
        dir,
        ["clean_stage.csv", "clash_stage.csv"],
        ["clean_stage.geojson", "clash_stage.geojson"],
        &renamed,
    );
}

/// NDRE and NDVI of both sample flights into DIR/idx.
fn index_both_flights(dir: &Path) {
    for date in ["20260626", "20260718"] {
        paddy_ok(
            dir,
            &[
                "index",
                &sample(&format!("drone_{date}.tif")),
                "--index",
                "ndrei,ndvi",
                "--out",
                "idx",
                "-q",
            ],
        );
    }
}

#[test]
fn prescription_summary_has_each_column_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    index_both_flights(dir);
    // The sample plots carry `area_ha`, as the summary does.
    plots_with(&dir.join("clean.geojson"), &[], &["area_ha"]);
    let extra = [
        ("n_status", serde_json::json!("mine")),
        ("si", serde_json::json!(42)),
    ];
    plots_with(&dir.join("clash.geojson"), &extra, &[]);
    for name in ["clean", "clash"] {
        paddy_ok(
            dir,
            &[
                "prescribe",
                "--plots",
                &format!("{name}.geojson"),
                "--n-index",
                "idx/drone_20260718_ndrei.tif",
                "--spray-index",
                "idx/drone_20260718_ndvi.tif",
                "--previous",
                "idx/drone_20260626_ndvi.tif",
                "--at",
                "2026-07-18",
                "--out",
                &format!("rx_{name}"),
                "-q",
            ],
        );
    }
    let read = |p: &str| rows(&std::fs::read_to_string(dir.join(p)).unwrap());
    let header = first_line(&dir.join("rx_clash/rx_summary.csv"));
    let clash = read("rx_clash/rx_summary.csv");
    same_values_under_same_names(
        &read("rx_clean/rx_summary.csv"),
        &clash,
        Some(&header),
        &[("n_status", "mine"), ("si", "42")],
    );
    // The plot's own area is kept beside the computed one.
    assert_eq!(clash[0]["attr_area_ha"], "0.7744");
}

/// Run paddy expecting clap to refuse an option (exit 2); returns stderr, checked to name
/// `option` and hold no panic.
fn refused_option(dir: &Path, args: &[&str], option: &str) -> String {
    let out = paddy(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "paddy {args:?}: {stderr}");
    assert!(stderr.contains(option), "{option} not named: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A 2-band GeoTIFF on the drone tile's grid with signed bytes (Int8 as GDAL 3.6 writes it:
/// Byte with PIXELTYPE=SIGNEDBYTE); nodata -128 (a GeoTIFF's nodata is every band's). Returns the values written.
fn write_int8(path: &Path) -> (usize, usize, Vec<i8>, Vec<i8>) {
    let src = gdal::Dataset::open(sample("drone_20260718.tif")).unwrap();
    let (w, h) = (64, 48);
    let n: Vec<i8> = (0..w * h)
        .map(|i| ((i * 37 + 11) % 256) as u8 as i8)
        .collect();
    let r: Vec<i8> = (0..w * h)
        .map(|i| ((i * 91 + 5) % 256) as u8 as i8)
        .collect();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let options: gdal::raster::RasterCreationOptions =
        ["PIXELTYPE=SIGNEDBYTE"].into_iter().collect();
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(path, w, h, 2, &options)
        .unwrap();
    ds.set_geo_transform(&src.geo_transform().unwrap()).unwrap();
    ds.set_projection(&src.projection()).unwrap();
    for (i, values) in [&n, &r].into_iter().enumerate() {
        let mut band = ds.rasterband(i + 1).unwrap();
        if i == 0 {
            band.set_no_data_value(Some(-128.0)).unwrap();
        }
        let bytes: Vec<u8> = values.iter().map(|v| *v as u8).collect();
        let mut buffer = gdal::raster::Buffer::new((w, h), bytes);
        band.write((0, 0), (w, h), &mut buffer).unwrap();
    }
    (w, h, n, r)
}

#[test]
fn int8_rasters_are_read_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (w, h, n, r) = write_int8(&dir.join("int8.tif"));
    assert!(n.iter().any(|v| *v < -1) && r.iter().any(|v| *v < -1));
    // Sign-sensitive: read unsigned, -3 would be 253.
    paddy_ok(
        dir,
        &[
            "index",
            "int8.tif",
            "-b",
            "N=1",
            "-b",
            "R=2",
            "--expr",
            "S=2*N+R/4",
            "-o",
            "out",
            "-q",
        ],
    );
    let out = read_band(&dir.join("out/int8_s.tif"), 1);
    assert_eq!((out.width, out.height), (w, h));
    let mut checked = 0;
    for ((got, nv), rv) in out.data.iter().zip(&n).zip(&r) {
        if *nv == -128 || *rv == -128 {
            assert_eq!(Some(*got), out.nodata, "nodata -128 is no data");
            continue;
        }
        let want = 2.0 * f64::from(*nv) + f64::from(*rv) / 4.0;
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{got} vs {want}"
        );
        checked += 1;
    }
    assert!(checked > w * h / 2);
    // Coarsened 2× by paddy's own resampling: the mean of the signed values.
    paddy_ok(
        dir,
        &[
            "index",
            "int8.tif",
            "-b",
            "N=1",
            "-b",
            "R=2",
            "--expr",
            "S=2*N+R/4",
            "--resolution",
            "1.0",
            "-o",
            "coarse",
            "-q",
        ],
    );
    let coarse = read_band(&dir.join("coarse/int8_s.tif"), 1);
    assert_eq!((coarse.width, coarse.height), (w / 2, h / 2));
    let mut averaged = 0;
    for (j, got) in coarse.data.iter().enumerate() {
        let (cx, cy) = (j % coarse.width, j / coarse.width);
        let block: Vec<usize> = [(0, 0), (1, 0), (0, 1), (1, 1)]
            .iter()
            .map(|(dx, dy)| (2 * cy + dy) * w + 2 * cx + dx)
            .collect();
        if block.iter().any(|&i| n[i] == -128 || r[i] == -128) {
            continue;
        }
        let want = block
            .iter()
            .map(|&i| 2.0 * f64::from(n[i]) + f64::from(r[i]) / 4.0)
            .sum::<f64>()
            / 4.0;
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{got} vs {want}"
        );
        averaged += 1;
    }
    assert!(averaged > coarse.data.len() / 2);
    // A grid only GDAL's warper can make (1.5 source pixels a pixel): refused, not read unsigned.
    let stderr = fails(
        dir,
        &[
            "index",
            "int8.tif",
            "-b",
            "N=1",
            "-b",
            "R=2",
            "--expr",
            "S=2*N+R/4",
            "--resolution",
            "0.75",
            "-o",
            "warped",
        ],
        1,
    );
    assert!(
        stderr.contains("int8.tif: band 1 is Int8") && stderr.contains("gdal_translate -ot Int16"),
        "{stderr}"
    );
    assert!(all_files(&dir.join("warped")).is_empty());
    // Statistics read the band's values signed too: the sample plots do not cover this small
    // raster, so a plot made of its extent is used.
    let gt = gdal::Dataset::open(dir.join("int8.tif"))
        .unwrap()
        .geo_transform()
        .unwrap();
    let (x0, y0) = (gt[0], gt[3]);
    let (x1, y1) = (x0 + gt[1] * w as f64, y0 + gt[5] * h as f64);
    let plot = serde_json::json!({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}},
        "features": [{"type": "Feature", "properties": {"id": "all"},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}]
    });
    std::fs::write(dir.join("all.geojson"), plot.to_string()).unwrap();
    let csv = paddy_ok(dir, &["stats", "int8.tif", "--plots", "all.geojson"]);
    let row = &rows(&csv)[0];
    let valid: Vec<f64> = n
        .iter()
        .filter(|v| **v != -128)
        .map(|v| f64::from(*v))
        .collect();
    let mean = valid.iter().sum::<f64>() / valid.len() as f64;
    let min = valid.iter().cloned().fold(f64::INFINITY, f64::min);
    let column = |stat: &str| -> f64 {
        let key = row
            .keys()
            .find(|k| k.starts_with("int8_b1") && k.ends_with(&format!("_{stat}")))
            .unwrap_or_else(|| panic!("no {stat} column in {row:?}"));
        row[key].parse().unwrap()
    };
    assert_eq!(column("min"), min);
    assert!(
        (column("mean") - mean).abs() < 1e-6,
        "{} vs {mean}",
        column("mean")
    );
}

#[test]
fn complex_pixels_are_refused_naming_file_and_band() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let status = std::process::Command::new("gdal_translate")
        .args([
            "-q",
            "-ot",
            "CInt16",
            &sample("drone_20260718.tif"),
            "radar.tif",
        ])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success());
    let stderr = fails(
        dir,
        &[
            "index",
            "radar.tif",
            "-b",
            "N=5",
            "-b",
            "R=3",
            "-i",
            "ndvi",
            "-o",
            "out",
        ],
        1,
    );
    assert!(
        stderr.contains("radar.tif") && stderr.contains("band 1") && stderr.contains("CInt16"),
        "{stderr}"
    );
    assert!(all_files(&dir.join("out")).is_empty());
    let stderr = fails(
        dir,
        &["stats", "radar.tif", "--plots", &sample("plots.geojson")],
        1,
    );
    assert!(
        stderr.contains("radar.tif") && stderr.contains("complex"),
        "{stderr}"
    );
}

#[test]
fn a_truncated_raster_fails_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, options) in [
        ("plain.tif", vec!["-co", "TILED=YES"]),
        (
            "deflate.tif",
            vec!["-co", "COMPRESS=DEFLATE", "-co", "TILED=YES"],
        ),
        ("strips.tif", vec![]),
    ] {
        let mut args = vec!["-q"];
        args.extend(options);
        let whole = format!("whole_{name}");
        let tile = sample("drone_20260718.tif");
        args.extend([tile.as_str(), whole.as_str()]);
        let status = std::process::Command::new("gdal_translate")
            .args(&args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success());
        let bytes = std::fs::read(dir.join(&whole)).unwrap();
        std::fs::write(dir.join(name), &bytes[..bytes.len() * 3 / 4]).unwrap();
        // The whole file is fine; the cut one is refused naming it.
        paddy_ok(
            dir,
            &[
                "index", &whole, "-b", "N=5", "-b", "R=3", "-i", "ndvi", "-o", "ok", "-q",
            ],
        );
        let out = format!("out_{name}");
        let stderr = fails(
            dir,
            &[
                "index", name, "-b", "N=5", "-b", "R=3", "-i", "ndvi", "-o", &out,
            ],
            1,
        );
        assert!(
            stderr.contains(name) && stderr.contains("the file is truncated"),
            "{name}: {stderr}"
        );
        assert!(
            all_files(&dir.join(&out)).is_empty(),
            "{name}: {:?}",
            all_files(&dir.join(&out))
        );
    }
}

#[test]
fn a_truncated_previous_flight_stops_prescribe_before_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    index_both_flights(dir);
    // paddy's own COG: overviews first, the full-resolution tiles last.
    let bytes = std::fs::read(dir.join("idx/drone_20260626_ndvi.tif")).unwrap();
    std::fs::write(dir.join("cut.tif"), &bytes[..bytes.len() - 1000]).unwrap();
    let stderr = fails(
        dir,
        &[
            "prescribe",
            "--plots",
            &sample("plots.geojson"),
            "--n-index",
            "idx/drone_20260718_ndrei.tif",
            "--spray-index",
            "idx/drone_20260718_ndvi.tif",
            "--previous",
            "cut.tif",
            "--at",
            "2026-07-18",
            "--out",
            "rx",
        ],
        1,
    );
    assert!(
        stderr.contains("cut.tif") && stderr.contains("the file is truncated"),
        "{stderr}"
    );
    assert!(all_files(&dir.join("rx")).is_empty());
}

#[test]
fn formulas_too_deep_or_too_long_are_refused_with_the_position() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tile = sample("drone_20260718.tif");
    let nested = format!("D={}N{}", "(".repeat(20_000), ")".repeat(20_000));
    let flat = format!("F={}", vec!["N"; 45_000].join("+"));
    for (expr, what, at) in [
        (&nested, "deeper than 256", "at character 257"),
        (&flat, "deeper than 256", "at character 516"),
    ] {
        let stderr = fails(
            dir,
            &["index", &tile, "-b", "N=5", "--expr", expr, "-o", "out"],
            2,
        );
        assert!(stderr.contains(what) && stderr.contains(at), "{stderr}");
        assert!(stderr.len() < 1000, "the formula is not repeated whole");
    }
    // From a file too, naming the index.
    std::fs::write(
        dir.join("deep.toml"),
        format!("[DEEP]\nformula = \"{}\"\n", &nested[2..]),
    )
    .unwrap();
    let stderr = fails(
        dir,
        &[
            "index",
            &tile,
            "-b",
            "N=5",
            "--expr-file",
            "deep.toml",
            "-o",
            "out",
        ],
        2,
    );
    assert!(
        stderr.contains("DEEP") && stderr.contains("deeper than 256"),
        "{stderr}"
    );
    assert!(all_files(dir).iter().all(|f| f == "deep.toml"));
}

/// A random formula over N and R as a tree, rendered with the parentheses precedence needs
/// (and some more at random), evaluated here in f64 independently of paddy's parser.
enum Tree {
    Num(f64),
    Var(usize),
    Neg(Box<Tree>),
    Bin(char, Box<Tree>, Box<Tree>),
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Tree {
    fn random(rng: &mut Rng, depth: usize) -> Tree {
        if depth == 0 || rng.below(4) == 0 {
            return match rng.below(3) {
                0 => Tree::Num([0.5, 1.0, 2.0, 3.0, 0.25, 10.0, 1e-3][rng.below(7) as usize]),
                n => Tree::Var(n as usize - 1),
            };
        }
        match rng.below(6) {
            0 => Tree::Neg(Box::new(Tree::random(rng, depth - 1))),
            1 => {
                let exponent = [2.0, 0.5, -1.0, 3.0, 1.5, 1.0][rng.below(6) as usize];
                Tree::Bin(
                    '^',
                    Box::new(Tree::random(rng, depth - 1)),
                    Box::new(Tree::Num(exponent)),
                )
            }
            k => Tree::Bin(
                ['+', '-', '*', '/'][k as usize - 2],
                Box::new(Tree::random(rng, depth - 1)),
                Box::new(Tree::random(rng, depth - 1)),
            ),
        }
    }

    fn eval(&self, vars: [f64; 2]) -> f64 {
        match self {
            Tree::Num(v) => *v,
            Tree::Var(i) => vars[*i],
            Tree::Neg(a) => -a.eval(vars),
            Tree::Bin(op, a, b) => {
                let (a, b) = (a.eval(vars), b.eval(vars));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    '/' => a / b,
                    _ => a.powf(b),
                }
            }
        }
    }

    /// Precedence: sum 1, product 2, sign 3, power 4, atom 5.
    fn level(&self) -> u8 {
        match self {
            Tree::Num(_) | Tree::Var(_) => 5,
            Tree::Neg(_) => 3,
            Tree::Bin('+' | '-', ..) => 1,
            Tree::Bin('*' | '/', ..) => 2,
            Tree::Bin(..) => 4,
        }
    }

    fn render(&self, rng: &mut Rng) -> String {
        let wrap = |t: &Tree, need: bool, rng: &mut Rng| {
            let s = t.render(rng);
            if need || rng.below(8) == 0 {
                format!("({s})")
            } else {
                s
            }
        };
        match self {
            Tree::Num(v) => format!("{v}"),
            Tree::Var(i) => ["N", "R"][*i].to_string(),
            Tree::Neg(a) => format!("-{}", wrap(a, a.level() < 3, rng)),
            Tree::Bin(op, a, b) => {
                let (l, r, text) = match op {
                    // Left-associative: the right operand of - and / at the same level needs
                    // parentheses, as does anything looser.
                    '+' | '-' => (a.level() < 1, b.level() <= 1, op.to_string()),
                    '*' | '/' => (a.level() < 2, b.level() <= 2, op.to_string()),
                    // The base of a power is an atom; the exponent a sign or tighter.
                    _ => (a.level() < 5, b.level() < 3, "**".to_string()),
                };
                let space = if rng.below(2) == 0 { " " } else { "" };
                format!("{}{space}{text}{space}{}", wrap(a, l, rng), wrap(b, r, rng))
            }
        }
    }
}

#[test]
fn random_formulas_agree_with_a_float64_evaluation() {
    use paddy::catalogue::{formula::Expr, Role};
    use paddy::kernels::expr::{Program, Symbol};
    let bind = |s: &str| Role::parse_symbol(s).map(Symbol::Band);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let nir: Vec<f32> = (0..64).map(|i| 0.02 + 0.015 * i as f32).collect();
    let red: Vec<f32> = (0..64).map(|i| 0.9 - 0.013 * i as f32).collect();
    let mut compared = 0;
    for case in 0..2000 {
        let tree = Tree::random(&mut rng, 1 + case % 7);
        let text = tree.render(&mut rng);
        let expr = Expr::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let program = Program::compile(&expr, &bind).unwrap_or_else(|e| panic!("{text}: {e}"));
        // The program's inputs are its bands in the order it lists them.
        let inputs: Vec<&[f32]> = program
            .bands()
            .iter()
            .map(|r| if *r == Role::N { &nir[..] } else { &red[..] })
            .collect();
        let mut out = vec![0.0_f32; nir.len()];
        program.eval(&inputs, &mut out, &mut Vec::new());
        for (i, got) in out.iter().enumerate() {
            let want = tree.eval([f64::from(nir[i]), f64::from(red[i])]);
            let reference = expr
                .eval(&|s| match s {
                    "N" => Some(f64::from(nir[i])),
                    "R" => Some(f64::from(red[i])),
                    _ => None,
                })
                .unwrap();
            assert!(
                reference.to_bits() == want.to_bits() || (reference.is_nan() && want.is_nan()),
                "{text}: parsed tree {reference} vs {want}"
            );
            if !want.is_finite() || want.abs() > f64::from(f32::MAX) {
                assert!(got.is_nan(), "{text}: {got} where {want} is undefined");
                continue;
            }
            let got = f64::from(*got);
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "{text} at N={} R={}: {got} vs {want}",
                nir[i],
                red[i]
            );
            compared += 1;
        }
    }
    assert!(compared > 50_000, "{compared}");
}

#[test]
fn nonsense_options_are_refused_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tile = sample("drone_20260718.tif");
    let index = |extra: &[&str]| {
        let mut args = vec![
            "index",
            tile.as_str(),
            "-b",
            "N=5",
            "-b",
            "R=3",
            "-o",
            "out",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<String>>()
    };
    fn run(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }
    // A constant SAVI does not have (its constant is L): refused, naming both.
    let stderr = fails(dir, &run(&index(&["-i", "savi", "--const", "l=0.5"])), 2);
    assert!(
        stderr.contains("--const l") && stderr.contains("did you mean L"),
        "{stderr}"
    );
    let stderr = fails(dir, &run(&index(&["-i", "ndvi", "--const", "K=0.5"])), 2);
    assert!(
        stderr.contains("--const K") && stderr.contains("use none"),
        "{stderr}"
    );
    refused_option(
        dir,
        &run(&index(&["-i", "ndvi", "--scale", "nan"])),
        "--scale",
    );
    refused_option(
        dir,
        &run(&index(&["-i", "ndvi", "--scale", "0"])),
        "--scale",
    );
    refused_option(
        dir,
        &run(&index(&["-i", "ndvi", "--offset", "inf"])),
        "--offset",
    );
    refused_option(
        dir,
        &run(&index(&["-i", "ndvi", "-j", "100000"])),
        "--threads",
    );
    refused_option(dir, &run(&index(&["-i", "ndvi", "-j", "0"])), "--threads");
    let stderr = refused_option(
        dir,
        &[
            "index", &tile, "-b", "N=-1", "-b", "R=3", "-i", "ndvi", "-o", "out",
        ],
        "--band",
    );
    assert!(stderr.contains("band numbers start at 1") && !stderr.contains("no such file"));
    let stderr = refused_option(
        dir,
        &[
            "stage",
            &tile,
            "--plots",
            &sample("plots.geojson"),
            "--lambda",
            "nan",
        ],
        "--lambda",
    );
    assert!(stderr.contains("'nan'"), "{stderr}");
    refused_option(
        dir,
        &[
            "stats",
            &tile,
            "--plots",
            &sample("plots.geojson"),
            "-j",
            "5000",
        ],
        "--threads",
    );
    assert!(all_files(dir).is_empty(), "{:?}", all_files(dir));
    // A catalogue constant the indices do not use is said, not silently dropped.
    let out = paddy(dir, &run(&index(&["-i", "ndvi", "--const", "L=0.5"])));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: --const L: none of the indices asked for uses L"),
        "{stderr}"
    );
    // The right constant, in its own case, is taken: SAVI with L = 0.25 by hand.
    paddy_ok(
        dir,
        &run(&index(&["-i", "savi", "--const", "L=0.25", "-q"])),
    );
    let savi = read_band(&dir.join("out/drone_20260718_savi.tif"), 1);
    let n = read_band(Path::new(&tile), 5);
    let r = read_band(Path::new(&tile), 3);
    let at = (0..n.data.len())
        .find(|&i| n.data[i] > 0.1 && r.data[i] > 0.01)
        .unwrap();
    let (nv, rv) = (n.data[at], r.data[at]);
    let want = 1.25 * (nv - rv) / (nv + rv + 0.25);
    assert!(
        (savi.data[at] - want).abs() < 1e-6,
        "{} vs {want}",
        savi.data[at]
    );
}

#[test]
fn a_run_file_with_absurd_numbers_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = std::fs::read_to_string(sample("nightly.toml")).unwrap();
    assert!(text.contains("# threads = 2"));
    for (threads, code) in [("100000", 2), ("0", 2), ("2", 0)] {
        let run = text.replace("# threads = 2", &format!("threads = {threads}"));
        std::fs::write(dir.join("run.toml"), run).unwrap();
        let out = paddy(dir, &["validate", "run.toml"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if code == 0 {
            // Only the paths (relative to the sample folder) are wrong now, not the threads.
            assert!(!stderr.contains("threads"), "{stderr}");
            continue;
        }
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains("run.toml: [machine] threads = ") && stderr.contains("from 1 to 1024"),
            "{stderr}"
        );
    }
    // TOML numbers can be nan and inf: refused naming the key.
    for (from, to, said) in [
        (
            "[stage]\n",
            "[stage]\nlambda = nan\n",
            "[stage] lambda = NaN",
        ),
        (
            "# stages_tolerance_days = 3",
            "stages_tolerance_days = -inf",
            "[prescribe] stages_tolerance_days = -inf",
        ),
    ] {
        assert!(text.contains(from));
        std::fs::write(dir.join("run.toml"), text.replace(from, to)).unwrap();
        let stderr = fails(dir, &["validate", "run.toml"], 2);
        assert!(stderr.contains(said), "{stderr}");
    }
}

/// The sample plots with `edit` applied to the features.
fn plots_edited(path: &Path, edit: impl Fn(&mut Vec<serde_json::Value>)) {
    let text = std::fs::read_to_string(sample("plots.geojson")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(doc["features"].as_array_mut().unwrap());
    std::fs::write(path, serde_json::to_string(&doc).unwrap()).unwrap();
}

#[test]
fn a_plot_without_its_id_is_named_by_its_number() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plots_edited(&dir.join("noid.geojson"), |features| {
        features[2]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("plot_id");
        features[5]["properties"]["plot_id"] = serde_json::json!("");
    });
    let out = paddy(
        dir,
        &[
            "stats",
            &sample("drone_20260718.tif"),
            "--plots",
            "noid.geojson",
            "-o",
            "s.csv",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "2 of 12 features have no value in 'plot_id' (feature 3, 6, counting from 1)"
        ),
        "{stderr}"
    );
    let table = rows(&std::fs::read_to_string(dir.join("s.csv")).unwrap());
    assert_eq!(table.len(), 12);
    assert_eq!(table[2]["plot_id"], "");
}

#[test]
fn a_plot_with_swapped_coordinates_is_named_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plots_edited(&dir.join("swapped.geojson"), |features| {
        features.truncate(1);
        let ring = features[0]["geometry"]["coordinates"][0]
            .as_array_mut()
            .unwrap();
        for point in ring.iter_mut() {
            let p = point.as_array_mut().unwrap();
            p.swap(0, 1);
        }
    });
    let stderr = fails(
        dir,
        &[
            "stats",
            &sample("drone_20260718.tif"),
            "--plots",
            "swapped.geojson",
            "-o",
            "s.csv",
        ],
        1,
    );
    assert!(
        stderr.contains("swapped.geojson: plot P01: cannot reproject")
            && stderr.contains("look like latitude, longitude"),
        "{stderr}"
    );
    assert!(!stderr.contains("Some("), "debug text in {stderr}");
    assert!(all_files(dir).iter().all(|f| f == "swapped.geojson"));
}

/// Mount a tmpfs of `size` on `dir` (None where this machine does not allow it); unmounted
/// when the guard drops.
fn small_disk(dir: &Path, size: &str) -> Option<impl Drop> {
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)");
        return None;
    }
    Some(Unmount(dir.to_path_buf()))
}

/// An output finished before the disk filled may stand (whole, as the message says); no
/// temporary may, and every raster left reads to its last pixel.
fn nothing_partial(dir: &Path) {
    for f in all_files(dir) {
        assert!(!is_temporary(&f), "temporary left: {f}");
        if !f.ends_with(".tif") {
            continue;
        }
        let out = std::process::Command::new("gdalinfo")
            .arg("-checksum")
            .arg(dir.join(&f))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !text.contains("ERROR"),
            "{f} not whole: {text}"
        );
    }
}

#[test]
fn index_and_prescribe_say_the_disk_is_full() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    index_both_flights(dir);
    let Some(_disk) = small_disk(&dir.join("small"), "100k") else {
        return;
    };
    let stderr = fails(
        dir,
        &[
            "index",
            &sample("drone_20260718.tif"),
            "-i",
            "ndvi,ndrei",
            "-o",
            "small/idx",
        ],
        1,
    );
    assert!(stderr.contains("the output disk is full"), "{stderr}");
    nothing_partial(&dir.join("small"));
    let stderr = fails(
        dir,
        &[
            "prescribe",
            "--plots",
            &sample("plots.geojson"),
            "--n-index",
            "idx/drone_20260718_ndrei.tif",
            "--spray-index",
            "idx/drone_20260718_ndvi.tif",
            "--previous",
            "idx/drone_20260626_ndvi.tif",
            "--at",
            "2026-07-18",
            "--out",
            "small/rx",
            "-q",
        ],
        1,
    );
    assert!(stderr.contains("the output disk is full"), "{stderr}");
    nothing_partial(&dir.join("small"));
}

/// One random edit of `text`: a byte changed, removed or doubled, a piece cut out or repeated,
/// or a token from `tokens` inserted.
fn mutate(rng: &mut Rng, text: &[u8], tokens: &[&str]) -> Vec<u8> {
    let mut out = text.to_vec();
    for _ in 0..1 + rng.below(3) {
        let n = out.len().max(1) as u64;
        let at = rng.below(n) as usize;
        match rng.below(6) {
            0 if !out.is_empty() => {
                let at = at.min(out.len() - 1);
                out[at] = rng.below(256) as u8;
            }
            1 if !out.is_empty() => {
                out.remove(at.min(out.len() - 1));
            }
            2 => {
                let end = (at + 1 + rng.below(40) as usize).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + 1 + rng.below(40) as usize).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                out.splice(at..at, piece);
            }
            _ => {
                let token = tokens[rng.below(tokens.len() as u64) as usize];
                let at = at.min(out.len());
                out.splice(at..at, token.bytes());
            }
        }
    }
    out
}

/// Run `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("panicked on {what}"))
}

/// 1500 mutations of `seed` (a seeded `Rng(rng)`) written to `path` and given to `read`: none
/// may panic, and every refusal must say something. Returns (accepted, refused).
fn fuzz_file(
    path: &Path,
    seed: &[u8],
    tokens: &[&str],
    rng: u64,
    read: impl Fn(&Path) -> paddy::Result<()>,
) -> (usize, usize) {
    let mut rng = Rng(rng);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..1500 {
        let bytes = mutate(&mut rng, seed, tokens);
        std::fs::write(path, &bytes).unwrap();
        let what = String::from_utf8_lossy(&bytes).into_owned();
        match no_panic(&what, || read(path)) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert!(!e.to_string().trim().is_empty(), "{what}");
                refused += 1;
            }
        }
    }
    (accepted, refused)
}

#[test]
fn mutated_formulas_parse_or_fail_with_a_message() {
    use paddy::catalogue::{formula::Expr, Catalogue, Role};
    use paddy::kernels::expr::{Program, Symbol};
    let seeds: Vec<String> = Catalogue::builtin()
        .indices()
        .map(|d| d.formula.clone())
        .collect();
    let tokens = [
        "(",
        ")",
        "**",
        "*",
        "/",
        "+",
        "-",
        "1e308",
        "1e-320",
        "0",
        ".",
        "e",
        "N",
        "R",
        "L",
        "(((",
        ")))",
        " ",
        "\u{e9}",
        "\0",
        "nan",
        "inf",
        "9999999999999999999999",
    ];
    let bind = |s: &str| Some(Role::parse_symbol(s).map_or(Symbol::Value(0.5), Symbol::Band));
    let mut rng = Rng(0xf022_0001);
    let (mut parsed, mut refused) = (0, 0);
    for i in 0..4000 {
        let seed = seeds[i % seeds.len()].as_bytes();
        let bytes = mutate(&mut rng, seed, &tokens);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let result = no_panic(&text, || {
            Expr::parse(&text).map(|e| {
                let program = Program::compile(&e, &bind).unwrap();
                let inputs = vec![[0.3_f32, 0.0, -1.0, f32::NAN]; program.bands().len()];
                let inputs: Vec<&[f32]> = inputs.iter().map(|b| &b[..]).collect();
                let mut out = [0.0_f32; 4];
                program.eval(&inputs, &mut out, &mut Vec::new());
            })
        });
        match result {
            Ok(()) => parsed += 1,
            Err(e) => {
                assert!(
                    !e.message.trim().is_empty() && e.position <= text.len(),
                    "{text}"
                );
                refused += 1;
            }
        }
    }
    // The mutations reach both sides.
    assert!(
        parsed > 400 && refused > 400,
        "{parsed} parsed, {refused} refused"
    );
}

#[test]
fn mutated_run_files_load_or_fail_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(sample("plots.geojson"), dir.join("plots.geojson")).unwrap();
    let seed = std::fs::read(sample("nightly.toml")).unwrap();
    let tokens = [
        "[[sources]]\n",
        "[stage]\n",
        "[prescribe]\n",
        "= \"\"\n",
        "= []\n",
        "= -1\n",
        "= 1e400\n",
        "\"",
        "'",
        "[",
        "]",
        "=",
        "\n",
        "#",
        "name = \"s2\"\n",
        "at = \"2026-02-30\"\n",
        "indices = [\"ndvi\", \"nope\"]\n",
        "threads = 0\n",
        "cell_size = -5.0\n",
    ];
    let (loaded, refused) = fuzz_file(&dir.join("run.toml"), &seed, &tokens, 0x70_0001, |p| {
        paddy::batch::config::load(p).map(|_| ())
    });
    assert!(
        loaded > 100 && refused > 100,
        "{loaded} loaded, {refused} refused"
    );
}

#[test]
fn mutated_plot_files_read_or_fail_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("plots.geojson");
    let seed = std::fs::read(sample("plots.geojson")).unwrap();
    let tokens = [
        "null",
        "[]",
        "{}",
        "\"",
        ",",
        "]",
        "[",
        "1e400",
        "-999",
        "\"Polygon\"",
        "\"Point\"",
        "\"MultiPolygon\"",
        "\"coordinates\": [[[0,0],[0,0],[0,0]]]",
        "\"properties\": null",
        "\"plot_id\": null",
        "NaN",
    ];
    let (read, refused) = fuzz_file(&path, &seed, &tokens, 0x9e0_0001, |p| {
        paddy::io::vector::read_plots(p, None, Some("plot_id")).and_then(|plots| {
            // And on to the plots' geodesic areas, as stats and prescribe use them.
            paddy::io::vector::wgs84(&plots, None).map(|parts| {
                paddy::plots::geodesic_areas(&parts);
            })
        })
    });
    assert!(read > 50 && refused > 50, "{read} read, {refused} refused");
}

/// `paddy run` on the sample with plot attributes named like its statistics, stage and
/// prescription columns: every table keeps paddy's values under paddy's names, and the plot's
/// own values under `attr_<name>`, as in the same run with plain plots.
#[test]
fn a_run_keeps_attributes_named_like_its_columns_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let clash = [
        ("drone_20260718_ndre_mean", serde_json::json!(10201.9)),
        ("stage", serde_json::json!("bogus")),
        ("n_status", serde_json::json!("fed")),
    ];
    for (name, extra) in [("clean", &clash[..0]), ("clash", &clash[..])] {
        let tiles = tmp.path().join(name).join("tiles");
        std::fs::create_dir_all(&tiles).unwrap();
        for e in std::fs::read_dir(root().join("sample_tiles")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, tiles.join(p.file_name().unwrap())).unwrap();
        }
        plots_with(&tiles.join("plots.geojson"), extra, &[]);
        let run = tiles.join("nightly.toml");
        let text = std::fs::read_to_string(&run).unwrap();
        std::fs::write(
            &run,
            text.replace("output = \"../out/nightly\"", "output = \"../out\""),
        )
        .unwrap();
        paddy_ok(
            &tiles.join(".."),
            &[
                "run",
                "tiles/nightly.toml",
                "--run-date",
                "2026-07-18",
                "-q",
            ],
        );
    }
    let out = |name: &str, file: &str| format!("{name}/out/2026-07-18/{file}");
    for (file, renamed) in [
        (
            "stats/drone_drone_20260718_plots",
            ("drone_20260718_ndre_mean", "10201.9"),
        ),
        ("stage/plots_stage", ("stage", "bogus")),
    ] {
        let (csv, geojson) = (format!("{file}.csv"), format!("{file}.geojson"));
        same_in_both_tables(
            tmp.path(),
            [&out("clean", &csv), &out("clash", &csv)],
            [&out("clean", &geojson), &out("clash", &geojson)],
            &[renamed],
        );
    }
    let summary = |name: &str| {
        rows(
            &std::fs::read_to_string(tmp.path().join(out(name, "rx/plots/rx_summary.csv")))
                .unwrap(),
        )
    };
    same_values_under_same_names(
        &summary("clean"),
        &summary("clash"),
        Some(&first_line(
            &tmp.path().join(out("clash", "rx/plots/rx_summary.csv")),
        )),
        &[("n_status", "fed"), ("stage", "bogus")],
    );
}
