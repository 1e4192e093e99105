//! `paddy stage` on real series (../shared/data): the 68-date Sentinel-2 NDVI series over
//! Slovenian farmland (with its cloud band) and the 12-date MODIS NDVI series over Sinop, Mato
//! Grosso. For every plot whose raw series shows a clear season, paddy's season start, peak and
//! end must lie within one revisit interval of an independent reference computed here from the
//! raw per-plot means (`paddy stats`, itself checked against exactextract): amplitude-fraction
//! thresholds crossed between observations, as TIMESAT defines them, without any smoothing.

use std::collections::HashMap;
use std::path::Path;

use crate::common::{day, paddy_ok, rows, shared_data};

/// Season start and end at this share of the amplitude (paddy's default `--fraction`).
const FRACTION: f64 = 0.2;
/// A clear season rises and falls by at least this much (NDVI) on both sides.
const CLEAR_AMPLITUDE: f64 = 0.25;
/// A dip this deep inside the season splits it (a cut, a second crop): not one clear season.
const SPLITTING_DIP: f64 = 0.15;

/// The reference season of one raw series, with the tolerances the sampling allows.
#[derive(Debug)]
struct Reference {
    /// Linear-interpolated day the series crosses base + FRACTION × amplitude, rising.
    start: f64,
    /// Days between the observations that bracket the start crossing.
    start_gap: f64,
    /// Days the peak may be on: the observations within 10% of the amplitude of the maximum,
    /// widened by one revisit on each side.
    peak_span: (f64, f64),
    end: f64,
    end_gap: f64,
}

/// The single clear season of `points` (day, value), or None when the raw series does not show
/// one: fewer than 4 points, maximum at either end, amplitude under CLEAR_AMPLITUDE on a side,
/// more than one run above the thresholds, a splitting dip, a season hovering at its threshold,
/// or a peak plateau reaching the ends. With `despike`, single observations more than 0.2
/// below both neighbours are dropped first (clouds, where the series has no cloud mask).
fn reference(points: &[(f64, f64)], despike: bool) -> Option<Reference> {
    let mut pts: Vec<(f64, f64)> = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if despike {
        let all = pts.clone();
        pts = (0..all.len())
            .filter(|&i| {
                !(i > 0
                    && i + 1 < all.len()
                    && all[i - 1].1 - all[i].1 > 0.2
                    && all[i + 1].1 - all[i].1 > 0.2)
            })
            .map(|i| all[i])
            .collect();
    }
    let n = pts.len();
    if n < 4 {
        return None;
    }
    let k = (0..n).max_by(|&a, &b| pts[a].1.total_cmp(&pts[b].1))?;
    if k == 0 || k == n - 1 {
        return None;
    }
    let peak = pts[k].1;
    let base_left = pts[..k].iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let base_right = pts[k + 1..]
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min);
    let (amp_left, amp_right) = (peak - base_left, peak - base_right);
    if amp_left < CLEAR_AMPLITUDE || amp_right < CLEAR_AMPLITUDE {
        return None;
    }
    let threshold = |i: usize| {
        if i <= k {
            base_left + FRACTION * amp_left
        } else {
            base_right + FRACTION * amp_right
        }
    };
    let amplitude = |i: usize| if i <= k { amp_left } else { amp_right };
    let above: Vec<bool> = (0..n).map(|i| pts[i].1 >= threshold(i)).collect();
    let runs = (0..n)
        .filter(|&i| above[i] && (i == 0 || !above[i - 1]))
        .count();
    if runs != 1 {
        return None;
    }
    let first = above.iter().position(|&a| a)?;
    let last = above.iter().rposition(|&a| a)?;
    if first == 0 || last == n - 1 {
        return None;
    }
    let run: Vec<f64> = pts[first..=last].iter().map(|p| p.1).collect();
    for i in 1..run.len().saturating_sub(1) {
        let left = run[..i].iter().copied().fold(f64::MIN, f64::max);
        let right = run[i + 1..].iter().copied().fold(f64::MIN, f64::max);
        if left.min(right) - run[i] >= SPLITTING_DIP {
            return None;
        }
        // Once started, a clear season stays well above its thresholds.
        let j = first + i;
        if run[i] < threshold(j) + 0.1 * amplitude(j) {
            return None;
        }
    }
    let cross =
        |a: (f64, f64), b: (f64, f64), level: f64| a.0 + (level - a.1) / (b.1 - a.1) * (b.0 - a.0);
    let start = cross(pts[first - 1], pts[first], threshold(first));
    let end = cross(pts[last], pts[last + 1], threshold(last + 1));
    let near_level = peak - 0.1 * amp_left.min(amp_right);
    let near: Vec<usize> = (0..n).filter(|&i| pts[i].1 >= near_level).collect();
    let (lo, hi) = (*near.first()?, *near.last()?);
    if lo == 0 || hi == n - 1 {
        return None;
    }
    Some(Reference {
        start,
        start_gap: pts[first].0 - pts[first - 1].0,
        peak_span: (
            pts[lo].0 - (pts[lo].0 - pts[lo - 1].0),
            pts[hi].0 + (pts[hi + 1].0 - pts[hi].0),
        ),
        end,
        end_gap: pts[last + 1].0 - pts[last].0,
    })
}

/// The first `yyyy-mm-dd` in `text`, as days since 1970-01-01.
fn date_in(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let s = &b[i..i + 10];
        let shape = s.iter().enumerate().all(|(k, c)| match k {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
        shape.then(|| day(&text[i..i + 10]))
    })
}

/// Per plot id: the raw series (day, mean × scale) from a `paddy stats` table, keeping the
/// dates in `[from, at]` where at least half the plot was valid (`paddy stage --min-valid`).
fn raw_series(
    stats: &[HashMap<String, String>],
    id: &str,
    scale: f64,
    from: i64,
    at: i64,
) -> HashMap<String, Vec<(f64, f64)>> {
    let mut out = HashMap::new();
    for row in stats {
        let mut points = Vec::new();
        for (column, value) in row {
            let Some(stem) = column.strip_suffix("_mean") else {
                continue;
            };
            let Some(t) = date_in(stem) else { continue };
            let nodata: f64 = row[&format!("{stem}_nodata_fraction")]
                .parse()
                .unwrap_or(1.0);
            if (from..=at).contains(&t) && nodata <= 0.5 {
                if let Ok(v) = value.parse::<f64>() {
                    points.push((t as f64, v * scale));
                }
            }
        }
        out.insert(row[id].clone(), points);
    }
    out
}

/// Check paddy's per-plot seasons against the reference; returns how many plots had a clear
/// season.
fn check(
    name: &str,
    stats: &[HashMap<String, String>],
    stage: &[HashMap<String, String>],
    id: &str,
    scale: f64,
    window: (&str, &str),
    despike: bool,
) -> usize {
    let series = raw_series(stats, id, scale, day(window.0), day(window.1));
    let mut clear = 0;
    let mut failures = Vec::new();
    for row in stage {
        let plot = &row[id];
        let Some(r) = reference(&series[plot], despike) else {
            continue;
        };
        clear += 1;
        let date = |column: &str| {
            let text = &row[column];
            (!text.is_empty()).then(|| day(text) as f64)
        };
        let (Some(start), Some(peak), Some(end)) = (
            date("season_start"),
            date("heading_curve"),
            date("season_end"),
        ) else {
            failures.push(format!(
                "{plot}: no season from paddy ({}) but the raw series has a clear one: {r:?}",
                row["reason"]
            ));
            continue;
        };
        if (start - r.start).abs() > r.start_gap {
            failures.push(format!(
                "{plot}: start {} is {:.1} days from the reference (revisit {})",
                row["season_start"],
                start - r.start,
                r.start_gap
            ));
        }
        if !(r.peak_span.0..=r.peak_span.1).contains(&peak) {
            failures.push(format!(
                "{plot}: peak {} outside the reference's peak span {:?}",
                row["heading_curve"], r.peak_span
            ));
        }
        if (end - r.end).abs() > r.end_gap {
            failures.push(format!(
                "{plot}: end {} is {:.1} days from the reference (revisit {})",
                row["season_end"],
                end - r.end,
                r.end_gap
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {clear} clear seasons differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    clear
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn slovenia_s2_seasons_match_the_raw_series_reference() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let series = data.join("s2_slovenia_ndvi_series");
    let mut files: Vec<String> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| arg(&e.unwrap().path()))
        .filter(|p| p.ends_with(".tif"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 68);
    let plots = arg(&series.join("land_cover.gpkg"));
    let stats = dir.path().join("stats.csv");
    let mut args = vec!["stats"];
    args.extend(files.iter().map(String::as_str));
    let stats_arg = arg(&stats);
    args.extend([
        "--plots",
        &plots,
        "--mask-band",
        "2",
        "--no-quantiles",
        "--out",
        &stats_arg,
        "-q",
    ]);
    paddy_ok(dir.path(), &args);
    // The 2016 season, judged after it ended.
    let window = ("2016-01-01", "2017-03-31");
    let mut args = vec!["stage"];
    args.extend(files.iter().map(String::as_str));
    args.extend([
        "--plots",
        &plots,
        "--mask-band",
        "2",
        "--date-pattern",
        "{yyyy}-{mm}-{dd}",
        "--from",
        window.0,
        "--at",
        window.1,
        "-q",
    ]);
    let stage = rows(&paddy_ok(dir.path(), &args));
    assert_eq!(stage.len(), 88);
    let stats = rows(&std::fs::read_to_string(&stats).unwrap());
    let clear = check("slovenia", &stats, &stage, "fid", 1.0, window, false);
    // Most of the grassland, shrubland and forest plots green up once in 2016.
    assert!(clear >= 30, "only {clear} plots with a clear season");
}

#[test]
fn sinop_modis_seasons_match_the_raw_series_reference() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let series = data.join("modis_ndvi_sinop");
    let mut files: Vec<String> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| arg(&e.unwrap().path()))
        .filter(|p| p.ends_with(".jp2"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12);
    // The sample points become plots: squares of about one MODIS pixel around each.
    let samples = rows(&std::fs::read_to_string(series.join("samples_sinop_crop.csv")).unwrap());
    let h = 0.0009;
    let features: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            let (x, y): (f64, f64) = (
                s["longitude"].parse().unwrap(),
                s["latitude"].parse().unwrap(),
            );
            serde_json::json!({
                "type": "Feature",
                "properties": {"id": s["id"], "label": s["label"]},
                "geometry": {"type": "Polygon", "coordinates": [[
                    [x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h], [x - h, y - h]
                ]]}
            })
        })
        .collect();
    let plots = dir.path().join("samples.geojson");
    std::fs::write(
        &plots,
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let plots = arg(&plots);
    let stats = dir.path().join("stats.csv");
    let stats_arg = arg(&stats);
    let mut args = vec!["stats"];
    args.extend(files.iter().map(String::as_str));
    args.extend([
        "--plots",
        &plots,
        "--id-field",
        "id",
        "--no-quantiles",
        "--out",
        &stats_arg,
        "-q",
    ]);
    paddy_ok(dir.path(), &args);
    // Monthly composites without a cloud band: the upper envelope against the undetected
    // clouds, stiff enough (λ 5000) not to follow a single cloudy month.
    let window = ("2013-09-01", "2014-08-29");
    let mut args = vec!["stage"];
    args.extend(files.iter().map(String::as_str));
    args.extend([
        "--plots",
        &plots,
        "--id-field",
        "id",
        "--date-pattern",
        "{yyyy}-{mm}-{dd}",
        "--scale",
        "0.0001",
        "--smoother",
        "envelope",
        "--lambda",
        "5000",
        "--from",
        window.0,
        "--at",
        window.1,
        "-q",
    ]);
    let stage = rows(&paddy_ok(dir.path(), &args));
    assert_eq!(stage.len(), samples.len());
    let stats = rows(&std::fs::read_to_string(&stats).unwrap());
    let clear = check("sinop", &stats, &stage, "id", 0.0001, window, true);
    // Most samples are double-cropped soy/corn, forest or cerrado: two or no seasons. The
    // pastures and one soy field green up once.
    assert!(clear >= 2, "only {clear} plots with a clear season");
}

#[test]
fn the_reference_finds_a_textbook_season_and_refuses_a_split_one() {
    // A season rising from 0.2 to 0.8 between day 20 and 40 and falling back by day 80.
    let pts: Vec<(f64, f64)> = [
        (0.0, 0.2),
        (10.0, 0.2),
        (20.0, 0.2),
        (30.0, 0.5),
        (40.0, 0.8),
        (50.0, 0.8),
        (60.0, 0.7),
        (70.0, 0.5),
        (80.0, 0.2),
        (90.0, 0.2),
    ]
    .to_vec();
    let r = reference(&pts, false).unwrap();
    // Threshold 0.2 + 0.2 × 0.6 = 0.32: crossed 0.4 of the way from day 20 to 30 and 0.6 of
    // the way from day 70 to 80.
    assert!((r.start - 24.0).abs() < 1e-9, "{r:?}");
    assert!((r.end - 76.0).abs() < 1e-9, "{r:?}");
    assert_eq!(r.peak_span, (30.0, 60.0));
    let mut split = pts.clone();
    split[5].1 = 0.45;
    assert!(reference(&split, false).is_none());
    // A single cloudy date is dropped with despiking, and splits the season without.
    let mut cloudy = pts;
    cloudy[5].1 = 0.1;
    assert!(reference(&cloudy, false).is_none());
    assert!(reference(&cloudy, true).is_some());
}
