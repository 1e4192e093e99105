//! Running a plan: each unit in order, skipped when its manifest says its outputs exist with
//! the same key, isolated when it fails (its dependants are skipped, the rest go on), its
//! outputs written atomically and its manifest last — so a run killed at any moment and run
//! again ends with the same files as one never interrupted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::catalogue::Catalogue;
use crate::error::{Error, Result};
use crate::index::{self, IndexRequest};
use crate::io::CogOptions;
use crate::phenology::dates::Date;
use crate::rx;
use crate::stage::{self, Smoother, StageRequest};
use crate::zonal::{self, CoverageMode, StatsRequest};

use super::config::Loaded;
use super::plan::{shard_of, Plan, Unit, Work};
use super::report::{OutputFile, PlotLine, Report, Status, UnitReport};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The run's date (its folder's name); default: today (UTC).
    pub run_date: Option<String>,
    /// Redo every unit.
    pub force: bool,
    /// `(I, N)`, 1-based: run only the tile units of shard I of N.
    pub shard: Option<(usize, usize)>,
}

/// One event for the log: a unit ended.
pub struct Event<'a> {
    pub done: usize,
    pub total: usize,
    pub unit: &'a UnitReport,
}

/// The run folder of a run file and date.
pub fn run_dir(run: &Loaded, date: &str) -> PathBuf {
    run.resolve(&run.run.output).join(date)
}

/// Today's date, UTC.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    Date::from_days_since_epoch(i32::try_from(days).unwrap_or(0)).to_string()
}

/// RFC 3339 UTC time of now.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = Date::from_days_since_epoch(i32::try_from(secs / 86_400).unwrap_or(0));
    let s = secs % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

fn manifest_path(dir: &Path, id: &str) -> PathBuf {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(".paddy")
        .join("units")
        .join(format!("{name}.json"))
}

/// The unit's recorded outputs when they are up to date: same key, every file present.
pub fn up_to_date(dir: &Path, unit: &Unit) -> Option<Vec<OutputFile>> {
    let text = std::fs::read_to_string(manifest_path(dir, &unit.id)).ok()?;
    let m: UnitReport = serde_json::from_str(&text).ok()?;
    (m.key == unit.key && m.outputs.iter().all(|o| dir.join(&o.path).exists())).then_some(m.outputs)
}

/// Remove temporaries a killed run left (hidden `.name.part-PID`, `.name.staging-PID`).
pub fn sweep_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with(".paddy") {
            if name.starts_with('.') && name.contains(".part-") {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                sweep_temporaries(&path);
            }
        } else if name.starts_with('.') && (name.contains(".part-") || name.contains(".staging-")) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Run the plan into the run folder; `log` hears of every unit as it ends. Returns the report
/// (also written as report.json / report.html, or report.shard-I-of-N.json for a shard).
pub fn run(
    run: &Loaded,
    plan: &Plan,
    opts: &Options,
    log: &mut dyn FnMut(Event),
) -> Result<Report> {
    let date = opts.run_date.clone().unwrap_or_else(today);
    let dir = run_dir(run, &date);
    std::fs::create_dir_all(dir.join(".paddy").join("units")).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    if let Some(mib) = run.run.machine.ram_mib {
        std::env::set_var("GDAL_CACHEMAX", format!("{mib}MB"));
    }
    let started = (Instant::now(), now());
    let mut reports: Vec<UnitReport> = Vec::with_capacity(plan.units.len());
    let total = plan.units.iter().filter(|u| in_this_run(u, opts)).count();
    let mut done = 0;
    for unit in &plan.units {
        let base = UnitReport {
            id: unit.id.clone(),
            kind: kind(&unit.work).into(),
            status: Status::Ok,
            key: unit.key.clone(),
            seconds: 0.0,
            inputs: unit
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            outputs: Vec::new(),
            error: None,
        };
        if !in_this_run(unit, opts) {
            reports.push(UnitReport {
                status: Status::OtherShard,
                ..base
            });
            continue;
        }
        let report = run_unit(run, plan, unit, &reports, &dir, opts, base);
        if report.error.as_deref() == Some(INTERRUPTED) {
            return Err(Error::Interrupted);
        }
        done += 1;
        log(Event {
            done,
            total,
            unit: &report,
        });
        reports.push(report);
    }
    let mut report = Report {
        software: format!("paddy {}", env!("CARGO_PKG_VERSION")),
        run_file: run.path.display().to_string(),
        config_hash: run.hash.clone(),
        run_date: date,
        started: started.1,
        finished: now(),
        seconds: started.0.elapsed().as_secs_f64(),
        shard: opts.shard.map(|(i, n)| [i, n]),
        inputs: inputs(plan),
        units: reports,
        plots: Vec::new(),
        notes: Vec::new(),
        summary: Default::default(),
    };
    report.recount();
    if opts.shard.is_none() {
        fill_people(&mut report, &dir, &run.rx.nitrogen.product);
    }
    write_report(&report, &dir, opts)?;
    Ok(report)
}

const INTERRUPTED: &str = "interrupted";

fn in_this_run(unit: &Unit, opts: &Options) -> bool {
    match (opts.shard, &unit.shard_key) {
        (None, _) => true,
        (Some((i, n)), Some(k)) => shard_of(k, n) == i - 1,
        (Some(_), None) => false,
    }
}

fn kind(work: &Work) -> &'static str {
    match work {
        Work::Index { .. } => "index",
        Work::Stats { .. } => "stats",
        Work::Stage { .. } => "stage",
        Work::Prescribe { .. } => "prescribe",
    }
}

fn inputs(plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .tiles
        .iter()
        .flatten()
        .flat_map(|t| std::iter::once(&t.path).chain(t.mask.iter()))
        .chain(plan.plots.iter())
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Run (or skip) one unit, never failing the run: errors and panics become the unit's status.
#[allow(clippy::too_many_arguments)]
fn run_unit(
    run: &Loaded,
    plan: &Plan,
    unit: &Unit,
    before: &[UnitReport],
    dir: &Path,
    opts: &Options,
    base: UnitReport,
) -> UnitReport {
    // Hard dependencies must have their outputs; the stage takes whatever dates succeeded.
    let failed: Vec<&str> = unit
        .deps
        .iter()
        .filter(|&&d| !matches!(before[d].status, Status::Ok | Status::SkippedUpToDate))
        .map(|&d| before[d].id.as_str())
        .collect();
    let soft = matches!(unit.work, Work::Stage { .. });
    if !failed.is_empty() && (!soft || failed.len() == unit.deps.len()) {
        return UnitReport {
            status: Status::SkippedDependency,
            error: Some(format!(
                "needs {}, which did not complete",
                failed.join(", ")
            )),
            ..base
        };
    }
    if !opts.force {
        if let Some(outputs) = up_to_date(dir, unit) {
            return UnitReport {
                status: Status::SkippedUpToDate,
                outputs,
                ..base
            };
        }
    }
    let t0 = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute(run, plan, unit, before, dir)
    }));
    let seconds = t0.elapsed().as_secs_f64();
    let result = match result {
        Ok(r) => r,
        Err(panic) => Err(Error::usage(format!(
            "internal error (please report): {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        ))),
    };
    match result {
        Ok(outputs) => {
            let report = UnitReport {
                status: Status::Ok,
                seconds,
                outputs,
                ..base
            };
            // The manifest last: only a unit whose every output is in place is up to date.
            let manifest = UnitReport {
                seconds: 0.0,
                ..report.clone()
            };
            let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
            match crate::io::write_atomic(&manifest_path(dir, &unit.id), text.as_bytes()) {
                Ok(()) => report,
                Err(e) => UnitReport {
                    status: Status::Failed,
                    error: Some(e.to_string()),
                    ..report
                },
            }
        }
        Err(Error::Interrupted) => UnitReport {
            status: Status::Failed,
            error: Some(INTERRUPTED.into()),
            ..base
        },
        Err(e) => UnitReport {
            status: Status::Failed,
            seconds,
            error: Some(match disk_full(dir) {
                Some(note) => format!("{e} ({note})"),
                None => e.to_string(),
            }),
            ..base
        },
    }
}

/// GDAL reports a full disk as a failed write ("IO error writing tag data"): say what it is
/// when the output's filesystem has (almost) no room left.
pub fn disk_full(dir: &Path) -> Option<String> {
    let c = std::ffi::CString::new(dir.as_os_str().to_string_lossy().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct for a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    (free < 4 << 20).then(|| {
        format!(
            "the output disk is full: {} KiB free at {}",
            free / 1024,
            dir.display()
        )
    })
}

/// Paths relative to the run folder.
fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn output(dir: &Path, path: &Path, kind: &str) -> OutputFile {
    OutputFile {
        path: rel(dir, path),
        kind: kind.into(),
    }
}

/// The index rasters a finished index unit wrote (absolute), by index label.
fn index_outputs(dir: &Path, report: &UnitReport) -> HashMap<String, PathBuf> {
    report
        .outputs
        .iter()
        .filter(|o| o.kind == "index")
        .filter_map(|o| {
            let p = dir.join(&o.path);
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            let label = stem.rsplit('_').next()?.to_ascii_lowercase();
            Some((label, p))
        })
        .collect()
}

fn execute(
    run: &Loaded,
    plan: &Plan,
    unit: &Unit,
    before: &[UnitReport],
    dir: &Path,
) -> Result<Vec<OutputFile>> {
    let cfg = &run.run;
    let threads = cfg.machine.threads;
    let plots_cfg = &cfg.plots;
    match &unit.work {
        Work::Index { source, tile } => {
            let src = &cfg.sources[*source];
            let t = &plan.tiles[*source][*tile];
            let out_dir = dir.join("index").join(&src.name);
            let mut inputs = vec![t.path.clone()];
            inputs.extend(t.mask.iter().cloned());
            let request = IndexRequest {
                sensor: src.sensor.clone(),
                out_dir: out_dir.clone(),
                cog: {
                    let defaults = CogOptions::default();
                    CogOptions {
                        threads: threads.unwrap_or(defaults.threads),
                        compress: src.compress.unwrap_or(defaults.compress),
                        layout: src.layout.unwrap_or(defaults.layout),
                        ..defaults
                    }
                },
                threads,
                ..IndexRequest::new(inputs, src.indices.clone())
            };
            let plan = index::plan(&request, Catalogue::builtin())?;
            let report = index::run(&plan, &|_, _| {})?;
            let mut outputs = Vec::new();
            for o in &report.outputs {
                outputs.push(output(dir, &o.path, "index"));
                outputs.push(output(dir, &o.style, "style"));
                let png = o.path.with_extension("png");
                super::quicklook::index_png(&o.path, &o.index, &png)?;
                outputs.push(output(dir, &png, "quicklook"));
            }
            Ok(outputs)
        }
        Work::Stats { index, plots } => {
            let rasters: Vec<PathBuf> = {
                let all = index_outputs(dir, &before[*index]);
                let wanted = cfg
                    .stats
                    .as_ref()
                    .and_then(|s| s.indices.clone())
                    .unwrap_or_else(|| all.keys().cloned().collect());
                let mut v: Vec<PathBuf> = wanted
                    .iter()
                    .filter_map(|w| all.get(&w.to_ascii_lowercase()).cloned())
                    .collect();
                v.sort();
                v
            };
            let plot_set = crate::io::vector::read_plots(
                &plan.plots[*plots],
                plots_cfg.layer.as_deref(),
                plots_cfg.id_field.as_deref(),
            )?;
            let infos = crate::io::RasterInfo::read_all(&rasters)?;
            let table = zonal::run(
                &plot_set,
                &infos,
                &StatsRequest {
                    coverage: CoverageMode::Exact,
                    assume_same_crs: false,
                    quantiles: true,
                    mask_band: None,
                    threads,
                },
                &|_, _| {},
            )?;
            let name = unit.id.trim_start_matches("stats:").replace(':', "_");
            let mut outputs = Vec::new();
            for ext in ["csv", "geojson"] {
                let path = dir.join("stats").join(format!("{name}.{ext}"));
                std::fs::create_dir_all(dir.join("stats")).map_err(|source| Error::Io {
                    path: dir.join("stats"),
                    source,
                })?;
                zonal::output::write(&table, &path)?;
                outputs.push(output(dir, &path, "stats"));
            }
            Ok(outputs)
        }
        Work::Stage { plots, indices } => {
            let stage_cfg = cfg
                .stage
                .as_ref()
                .ok_or_else(|| Error::usage("no [stage]"))?;
            let (result, _) = stage_at(
                run,
                plan,
                before,
                dir,
                *plots,
                indices,
                stage_cfg.at.as_deref(),
            )?;
            let name = crate::io::file_name(&plan.plots[*plots]);
            let name = name.split('.').next().unwrap_or("plots").to_string();
            let sdir = dir.join("stage");
            std::fs::create_dir_all(&sdir).map_err(|source| Error::Io {
                path: sdir.clone(),
                source,
            })?;
            let mut outputs = Vec::new();
            for ext in ["csv", "geojson"] {
                let path = sdir.join(format!("{name}_stage.{ext}"));
                stage::output::write(&result, &path)?;
                outputs.push(output(dir, &path, "stage"));
            }
            let png = sdir.join(format!("{name}_stage.png"));
            stage::write_chart(&result, &png)?;
            outputs.push(output(dir, &png, "quicklook"));
            Ok(outputs)
        }
        Work::Prescribe {
            plots,
            stage: stage_unit,
            flight,
            previous,
        } => {
            let rx_cfg = cfg
                .prescribe
                .as_ref()
                .ok_or_else(|| Error::usage("no [prescribe]"))?;
            let stage_cfg = cfg
                .stage
                .as_ref()
                .ok_or_else(|| Error::usage("no [stage]"))?;
            let Work::Stage { indices, .. } = &plan.units[*stage_unit].work else {
                return Err(Error::usage("internal error: prescribe without stage"));
            };
            let Work::Index { source, tile } = plan.units[*flight].work else {
                return Err(Error::usage("internal error: flight is not an index unit"));
            };
            let flight_date = plan.tiles[source][tile].date;
            let name = crate::io::file_name(&plan.plots[*plots]);
            let name = name.split('.').next().unwrap_or("plots").to_string();
            let out = dir.join("rx").join(&name);
            std::fs::create_dir_all(&out).map_err(|source| Error::Io {
                path: out.clone(),
                source,
            })?;
            // The stage of every plot on the day of the flight.
            let at = flight_date.map(|d| d.to_string());
            let (result, _) = stage_at(run, plan, before, dir, *plots, indices, at.as_deref())?;
            let stages = out.join("stage_at_flight.csv");
            stage::output::write(&result, &stages)?;
            let flight_outputs = index_outputs(dir, &before[*flight]);
            let pick = |which: &Option<String>, outs: &HashMap<String, PathBuf>| {
                which
                    .as_ref()
                    .and_then(|i| outs.get(&i.to_ascii_lowercase()).cloned())
            };
            let plot_set = crate::io::vector::read_plots(
                &plan.plots[*plots],
                plots_cfg.layer.as_deref(),
                plots_cfg.id_field.as_deref(),
            )?;
            let request = rx::run::PrescribeRequest {
                n_index: pick(&rx_cfg.n_index, &flight_outputs),
                spray_index: pick(&rx_cfg.spray_index, &flight_outputs),
                previous: previous
                    .and_then(|p| pick(&rx_cfg.spray_index, &index_outputs(dir, &before[p]))),
                stages: Some(rx::run::Stages::read_csv(&stages, &plot_set.id_column)?),
                // "--at" as before: the report's flight date source is unchanged.
                at: flight_date.map(|d| (d, "--at".to_string())),
                stages_tolerance_days: rx_cfg.stages_tolerance_days.unwrap_or(3.0),
                class_field: stage_cfg.class_field.clone(),
                default_class: stage_cfg
                    .default_class
                    .clone()
                    .unwrap_or_else(|| "medium".into()),
                transplanted_field: stage_cfg.transplanted_field.clone(),
                table: run.table.clone(),
                config: run.rx.clone(),
                threads,
            };
            let rxr = rx::run::run(&plot_set, &request)?;
            let written = rx::output::write(&rxr, &run.rx, &out, &[])?;
            let mut outputs = vec![output(dir, &stages, "stage")];
            for (kind, path) in &written.files {
                outputs.push(output(dir, path, kind));
            }
            Ok(outputs)
        }
    }
}

/// The stage of one plot file from the index units that completed, at `at` (default: the last
/// date).
fn stage_at(
    run: &Loaded,
    plan: &Plan,
    before: &[UnitReport],
    dir: &Path,
    plots: usize,
    indices: &[usize],
    at: Option<&str>,
) -> Result<(stage::StageResult, Vec<PathBuf>)> {
    let cfg = run
        .run
        .stage
        .as_ref()
        .ok_or_else(|| Error::usage("no [stage]"))?;
    let mut vi = Vec::new();
    let mut lswi = Vec::new();
    let mut lines = String::from("file,date\n");
    for &u in indices {
        if !matches!(before[u].status, Status::Ok | Status::SkippedUpToDate) {
            continue;
        }
        let Work::Index { source, tile } = plan.units[u].work else {
            continue;
        };
        let Some(date) = plan.tiles[source][tile].date else {
            continue;
        };
        let outs = index_outputs(dir, &before[u]);
        if let Some(p) = outs.get(&cfg.index.to_ascii_lowercase()) {
            lines.push_str(&format!("{},{date}\n", p.display()));
            vi.push(p.clone());
        }
        if let Some(l) = cfg
            .lswi
            .as_ref()
            .and_then(|l| outs.get(&l.to_ascii_lowercase()))
        {
            lines.push_str(&format!("{},{date}\n", l.display()));
            lswi.push(l.clone());
        }
    }
    if vi.is_empty() {
        return Err(Error::usage(
            "no index raster of the stage series completed",
        ));
    }
    // Dates from a list written beside the stage outputs (the index files carry theirs too).
    let list = dir.join(".paddy").join(format!("dates-{plots}.csv"));
    crate::io::write_atomic(&list, lines.as_bytes())?;
    let lambda = cfg
        .lambda
        .unwrap_or(crate::phenology::smooth::DEFAULT_LAMBDA);
    let smoother = match cfg.smoother.as_deref() {
        Some("envelope") => Smoother::Envelope { lambda },
        Some("savgol") => Smoother::SavitzkyGolay,
        _ => Smoother::Whittaker { lambda },
    };
    let request = StageRequest {
        rasters: vi.clone(),
        lswi,
        plots: Some(plan.plots[plots].clone()),
        layer: run.run.plots.layer.clone(),
        id_field: run.run.plots.id_field.clone(),
        class_field: cfg.class_field.clone(),
        default_class: cfg.default_class.clone().unwrap_or_else(|| "medium".into()),
        transplanted_field: cfg.transplanted_field.clone(),
        date_pattern: None,
        dates: Some(list),
        mask_band: None,
        min_valid: 0.5,
        smoother,
        fraction: 0.2,
        at: at.and_then(|a| a.parse::<Date>().ok()),
        from: None,
        scale: 1.0,
        table: run.table.clone(),
        threads: run.run.machine.threads,
    };
    let result = stage::run(&request, &|_, _| {})?;
    Ok((result, vi))
}

/// The plot table and the notes for people, from the stage and prescription outputs.
fn fill_people(report: &mut Report, dir: &Path, product: &str) {
    type Rows = (Vec<HashMap<String, String>>, Option<String>);
    let read = |path: &Path| -> Rows {
        let Ok(mut r) = csv::Reader::from_path(path) else {
            return (Vec::new(), None);
        };
        let Ok(header) = r.headers().cloned() else {
            return (Vec::new(), None);
        };
        let rows = r
            .records()
            .flatten()
            .map(|rec| {
                header
                    .iter()
                    .map(String::from)
                    .zip(rec.iter().map(String::from))
                    .collect()
            })
            .collect();
        (rows, header.get(0).map(String::from))
    };
    let find = |kind: &str, suffix: &str| {
        report
            .units
            .iter()
            .filter(|u| u.kind == kind)
            .flat_map(|u| u.outputs.iter())
            .find(|o| o.path.ends_with(suffix))
            .map(|o| dir.join(&o.path))
    };
    let stage = find("stage", "_stage.csv")
        .map(|p| read(&p))
        .unwrap_or_default();
    let rx = find("prescribe", "rx_summary.csv")
        .map(|p| read(&p))
        .unwrap_or_default();
    let num = |r: &HashMap<String, String>, k: &str| r.get(k).and_then(|v| v.parse::<f64>().ok());
    // Both tables start with the plots' id column, whatever its name.
    let id_of = |r: &HashMap<String, String>, id_column: &Option<String>| {
        id_column
            .as_ref()
            .and_then(|c| r.get(c))
            .cloned()
            .unwrap_or_default()
    };
    let (stage, stage_id) = stage;
    let (rx, rx_id) = rx;
    for s in &stage {
        let id = id_of(s, &stage_id);
        let r = rx.iter().find(|r| id_of(r, &rx_id) == id);
        report.plots.push(PlotLine {
            plot_id: id,
            stage: s.get("stage").cloned().unwrap_or_default(),
            days_after_transplanting: num(s, "days_after_transplanting"),
            confidence: num(s, "confidence"),
            n_rate: r.and_then(|r| num(r, "product_rate_kg_ha")),
            n_unit: if r.is_some() {
                format!("kg {product}/ha")
            } else {
                String::new()
            },
            n_reason: r
                .and_then(|r| r.get("n_reason").cloned())
                .unwrap_or_default(),
            n_status: r
                .and_then(|r| r.get("n_status").cloned())
                .unwrap_or_default(),
            spray_area_m2: r.and_then(|r| num(r, "spray_area_m2")),
            spray_reason: r
                .and_then(|r| r.get("spray_reason").cloned())
                .unwrap_or_default(),
            spray_status: r
                .and_then(|r| r.get("spray_status").cloned())
                .unwrap_or_default(),
        });
    }
    if let Some(path) = find("prescribe", "rx_report.json") {
        if let Ok(v) = std::fs::read(&path)
            .map_err(|_| ())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|_| ()))
        {
            let n = &v["nitrogen"];
            if n.is_object() {
                report.notes.push(format!(
                    "Nitrogen to order: {} kg {} ({} kg N); {}",
                    n["product_kg"],
                    n["product"].as_str().unwrap_or(""),
                    n["n_kg"],
                    n["reference"].as_str().unwrap_or("")
                ));
            }
            let s = &v["spray"];
            if s.is_object() {
                report.notes.push(format!(
                    "Spray: {} zone(s), {} m², {} L of {}",
                    s["zones"],
                    s["sprayed_area_m2"],
                    s["product_l"],
                    s["product"].as_str().unwrap_or("")
                ));
            }
            for w in v["warnings"].as_array().into_iter().flatten() {
                if let Some(w) = w.as_str() {
                    report.notes.push(format!("Warning: {w}"));
                }
            }
        }
    }
}

fn write_report(report: &Report, dir: &Path, opts: &Options) -> Result<()> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| Error::usage(format!("cannot format the report: {e}")))?;
    match opts.shard {
        Some((i, n)) => crate::io::write_atomic(
            &dir.join(format!("report.shard-{i}-of-{n}.json")),
            text.as_bytes(),
        ),
        None => {
            crate::io::write_atomic(&dir.join("report.json"), text.as_bytes())?;
            super::html::write(report, dir, &dir.join("report.html"))
        }
    }
}
