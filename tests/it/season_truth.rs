//! `paddy stage` against a season with known dates: `scripts/make-season-truth` draws 40
//! terraced paddies (two duration classes, varieties heading ±4 days around their class,
//! flooding 2–7 days before transplanting, a winter crop on about half, ~30 % cloudy dates on a
//! 5-day revisit) and writes every plot's flooding, transplanting, heading and stage per date.
//! The test indexes the season, asks for the stage on 12 dates, prints the error table beside
//! two baselines computed here (the raw clear maximum for heading; the season start at 20 % of
//! the amplitude for transplanting) and holds the thresholds.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::common::{day, ndvi_lswi, paddy_ok, root, rows};

/// Not a seed the rules were looked at with (15, 3 and 4 were). `PADDY_SEASON_SEED=N` draws
/// another season (the thresholds still hold, or the test says by how much they miss).
const SEED: &str = "7";

fn seed() -> String {
    std::env::var("PADDY_SEASON_SEED").unwrap_or_else(|_| SEED.to_string())
}

/// The 12 dates the stage is asked for: every 10 days from 5 June.
fn eval_dates() -> Vec<String> {
    let first = day("2025-06-05");
    (0..12)
        .map(|k| {
            let d = first + 10 * k;
            // Back to ISO through the same civil calendar as `day`.
            (1..=12)
                .flat_map(|m| (1..=31).map(move |dd| format!("2025-{m:02}-{dd:02}")))
                .find(|s| day(s) == d)
                .unwrap()
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn mae(v: &[f64]) -> f64 {
    mean(&v.iter().map(|x| x.abs()).collect::<Vec<_>>())
}

/// Merges the boundary pairs the issue allows to be confused.
fn merged(stage: &str) -> &str {
    match stage {
        "booting" => "panicle_initiation",
        "maturity" => "grain_filling",
        s => s,
    }
}

/// `scripts/make-season-truth DIR --seed SEED` plus `extra` arguments.
pub(crate) fn generate(dir: &Path, seed: &str, extra: &[&str]) {
    let status = Command::new(root().join("scripts/make-season-truth"))
        .arg(dir)
        .args(["--seed", seed])
        .args(extra)
        .status()
        .expect("scripts/make-season-truth runs (python3 with numpy and GDAL: scripts/setup)");
    assert!(status.success());
}

/// Indexes the generated season (NDVI and LSWI, SCL-masked) into DIR/idx: the NDVI and LSWI
/// series, in date order.
pub(crate) fn index_season(dir: &Path) -> (Vec<String>, Vec<String>) {
    let idx = dir.join("idx");
    let mut tiles: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("s2_") && n.ends_with(".tif") && !n.contains("_scl")
        })
        .collect();
    tiles.sort();
    for tile in &tiles {
        let scl = tile.with_file_name(format!(
            "{}_scl.tif",
            tile.file_stem().unwrap().to_string_lossy()
        ));
        ndvi_lswi(dir, tile, &scl, &idx);
    }
    let series = |index: &str| -> Vec<String> {
        tiles
            .iter()
            .map(|t| {
                let stem = t.file_stem().unwrap().to_string_lossy().to_string();
                idx.join(format!("{stem}_{index}.tif"))
                    .display()
                    .to_string()
            })
            .collect()
    };
    (series("ndvi"), series("lswi"))
}

/// `paddy stage` over the indexed season (NDVI with LSWI, dates from the file names) on `at`,
/// with `extra` arguments, in `dir`: its standard output.
pub(crate) fn stage_on(
    dir: &Path,
    (ndvi, lswi): (&[String], &[String]),
    plots: &str,
    at: &str,
    extra: &[&str],
) -> String {
    let mut args = vec!["stage"];
    args.extend(ndvi.iter().map(String::as_str));
    args.push("--lswi");
    args.extend(lswi.iter().map(String::as_str));
    args.extend([
        "--plots",
        plots,
        "--date-pattern",
        "{yyyy}{mm}{dd}",
        "--at",
        at,
    ]);
    args.extend(extra);
    args.push("-q");
    paddy_ok(dir, &args)
}

#[test]
fn stages_agree_with_a_season_of_known_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(dir, &seed(), &[]);
    let (ndvi, lswi) = index_season(dir);
    let plots = dir.join("plots.geojson").display().to_string();

    let truth: HashMap<String, HashMap<String, String>> =
        rows(&std::fs::read_to_string(dir.join("truth.csv")).unwrap())
            .into_iter()
            .map(|r| (r["plot_id"].clone(), r))
            .collect();
    let truth_stage = |id: &str, at: &str| -> String {
        // The generator's rule (scripts/make-season-truth): written for the acquisition dates;
        // recomputed here for any date from the plot's known dates.
        let t = &truth[id];
        let (d, tr, h, hv) = (
            day(at),
            day(&t["transplanting"]),
            day(&t["heading"]),
            day(&t["harvest"]),
        );
        let s = if d < tr || d >= hv {
            "fallow"
        } else if d - tr < 10 {
            "seedling"
        } else if d - h < -30 {
            "tillering"
        } else if d - h < -12 {
            "panicle_initiation"
        } else if d - h < 0 {
            "booting"
        } else if d - h < 8 {
            "heading"
        } else if d - h < 30 {
            "grain_filling"
        } else {
            "maturity"
        };
        s.to_string()
    };

    let (mut exact, mut close, mut n) = (0usize, 0usize, 0usize);
    let mut last = Vec::new();
    let mut confidences = Vec::new();
    for at in eval_dates() {
        let out = rows(&stage_on(dir, (&ndvi, &lswi), &plots, &at, &[]));
        assert_eq!(out.len(), truth.len());
        for r in &out {
            let want = truth_stage(&r["plot_id"], &at);
            n += 1;
            exact += usize::from(r["stage"] == want);
            close += usize::from(merged(&r["stage"]) == merged(&want));
            confidences.push(r["confidence"].clone());
        }
        last = out;
    }

    // Transplanting on the plots without a recorded date; heading where it was read off the
    // observations; both at the last date.
    let mut tp = Vec::new();
    let mut tp_base = Vec::new();
    let mut hd = Vec::new();
    let mut hd_base = Vec::new();
    // The same plots' `heading`: the top weighed with the table's day.
    let mut hd_weighed = Vec::new();
    let mut bracketed = 0usize;
    let raw_max = raw_clear_maximum(dir, &ndvi, &plots);
    for r in &last {
        let t = &truth[&r["plot_id"]];
        if t["recorded"] == "0" && !r["transplanting"].is_empty() {
            let truth_day = day(&t["transplanting"]);
            tp.push((day(&r["transplanting"]) - truth_day) as f64);
            let (lo, hi) = (
                day(&r["transplanting_earliest"]),
                day(&r["transplanting_latest"]),
            );
            bracketed += usize::from(lo <= truth_day && truth_day <= hi);
            if !r["season_start"].is_empty() {
                tp_base.push((day(&r["season_start"]) - truth_day) as f64);
            }
        }
        if !r["heading_curve"].is_empty() {
            let h = day(&t["heading"]);
            hd.push((day(&r["heading_curve"]) - h) as f64);
            hd_weighed.push((day(&r["heading"]) - h) as f64);
            if let Some(raw) = raw_max.get(&r["plot_id"]) {
                hd_base.push((raw - h) as f64);
            }
        }
    }
    let distinct: std::collections::BTreeSet<_> = confidences.iter().collect();
    println!(
        "season of known dates (seed {}, {} plots, 12 dates)",
        seed(),
        truth.len()
    );
    println!("| what | paddy | baseline |");
    println!("|---|---|---|");
    println!(
        "| transplanting MAE, days ({} plots without a record) | {:.1} (bias {:+.1}) | {:.1} (season start at 20 % amplitude) |",
        tp.len(),
        mae(&tp),
        mean(&tp),
        mae(&tp_base)
    );
    println!(
        "| heading MAE, days ({} plots dated from the observations) | {:.1} (bias {:+.1}) | {:.1} (bias {:+.1}, raw clear maximum) |",
        hd.len(),
        mae(&hd),
        mean(&hd),
        mae(&hd_base),
        mean(&hd_base)
    );
    println!(
        "| the same plots' `heading`, weighed with the table's day | {:.1} (bias {:+.1}) | |",
        mae(&hd_weighed),
        mean(&hd_weighed)
    );
    println!(
        "| stage, exact / boundary pairs merged ({n} plot-dates) | {:.1} % / {:.1} % | |",
        100.0 * exact as f64 / n as f64,
        100.0 * close as f64 / n as f64
    );
    println!(
        "| truth inside the transplanting bracket | {bracketed} of {} | |",
        tp.len()
    );

    assert!(
        tp.len() >= 18,
        "transplanting estimated for {} plots",
        tp.len()
    );
    // The acceptance bars are MAE ≤ 5 days, ≥ 75 % exact and ≥ 92 % merged; on the twenty seeds
    // 21–40 (README) transplanting MAE is at most 2.5 days, every truth is bracketed and the
    // stage at least 85.6 % exact, so the test holds tighter bars there.
    assert!(mae(&tp) <= 3.0, "transplanting MAE {:.1}", mae(&tp));
    assert!(
        bracketed * 100 >= tp.len() * 95,
        "{bracketed} of {} bracketed",
        tp.len()
    );
    assert!(
        hd.len() >= 15,
        "heading from the observations on {} plots",
        hd.len()
    );
    assert!(mae(&hd) <= 4.0, "heading MAE {:.1}", mae(&hd));
    assert!(mean(&hd).abs() <= 2.0, "heading bias {:.1}", mean(&hd));
    assert!(
        mae(&hd_weighed) <= 4.0,
        "weighed heading MAE {:.1}",
        mae(&hd_weighed)
    );
    assert!(
        mean(&hd_weighed).abs() <= 2.0,
        "weighed heading bias {:.1}",
        mean(&hd_weighed)
    );
    assert!(exact * 100 >= n * 85, "exact {exact} of {n}");
    assert!(close * 100 >= n * 92, "merged {close} of {n}");
    assert!(
        distinct.len() >= 10,
        "confidence takes {} values",
        distinct.len()
    );
}

/// The day of each plot's highest clear mean NDVI (at least half the plot valid), from
/// `paddy stats` over every date: the raw-maximum baseline for heading.
fn raw_clear_maximum(dir: &Path, ndvi: &[String], plots: &str) -> HashMap<String, i64> {
    let mut args = vec!["stats"];
    args.extend(ndvi.iter().map(String::as_str));
    args.extend(["--plots", plots, "--id-field", "plot_id"]);
    let stats = rows(&paddy_ok(dir, &args));
    let dates: Vec<(String, i64)> = ndvi
        .iter()
        .map(|p| {
            let stem = Path::new(p)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            let ymd = &stem[3..11];
            let iso = format!("{}-{}-{}", &ymd[0..4], &ymd[4..6], &ymd[6..8]);
            (stem, day(&iso))
        })
        .collect();
    let last = day(eval_dates().last().unwrap());
    stats
        .iter()
        .filter_map(|r| {
            let best = dates
                .iter()
                .filter(|(_, d)| *d <= last && *d >= day("2025-06-01"))
                .filter_map(|(stem, d)| {
                    let m: f64 = r.get(&format!("{stem}_mean"))?.parse().ok()?;
                    let nodata: f64 = r.get(&format!("{stem}_nodata_fraction"))?.parse().ok()?;
                    (m.is_finite() && nodata <= 0.5).then_some((m, *d))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))?;
            Some((r["plot_id"].clone(), best.1))
        })
        .collect()
}

/// A season whose varieties head 8 days later than the stage table's classes
/// (`make-season-truth --heading-shift 8`): by late in the season paddy has measured each
/// class's heading on the scene's well-dated plots, within 3 days of the true median, and says
/// so in the reason of the plots it placed with it.
#[test]
fn a_scene_whose_varieties_head_later_moves_the_classes_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(dir, "21", &["--heading-shift", "8"]);
    let (ndvi, lswi) = index_season(dir);
    let plots = dir.join("plots.geojson").display().to_string();
    // The true median days from transplanting to heading, per class.
    let mut by_class: HashMap<String, Vec<i64>> = HashMap::new();
    for t in rows(&std::fs::read_to_string(dir.join("truth.csv")).unwrap()) {
        by_class
            .entry(t["duration_class"].clone())
            .or_default()
            .push(day(&t["heading"]) - day(&t["transplanting"]));
    }
    let out = rows(&stage_on(dir, (&ndvi, &lswi), &plots, "2025-09-13", &[]));
    let mut measured = 0;
    for (class, days) in &mut by_class {
        days.sort_unstable();
        let truth = days[days.len() / 2] as f64;
        let said = format!("this scene's '{class}' plots head ");
        let Some(r) = out.iter().find(|r| r["reason"].contains(&said)) else {
            continue;
        };
        let tail = &r["reason"][r["reason"].find(&said).unwrap() + said.len()..];
        let days: f64 = tail.split(' ').next().unwrap().parse().unwrap();
        println!("{class}: measured {days} days after transplanting, truth {truth}");
        assert!(
            (days - truth).abs() <= 3.0,
            "{class}: {days} against {truth}"
        );
        measured += 1;
    }
    assert!(
        measured >= 1,
        "no class's heading measured: {:?}",
        out[0]["reason"]
    );
}
