//! The work of one unit, one function per kind: a tile's indices, a tile's statistics over a
//! plot file, a plot file's stages, its prescription. Each writes its files (atomically,
//! through the writers in `io`) and returns its [`Outcome`]: the files with their kinds and what
//! the report needs, taken from the results in memory. The statistics leave their map, the
//! stage its tables and chart, to write [`Behind`] the next units: the scheduler runs the
//! writing on a thread of its own while the next units compute, and records the unit once its
//! files are in place.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::catalogue::Catalogue;
use crate::error::{Error, Result};
use crate::index::{self, IndexRequest};
use crate::io::CogOptions;
use crate::phenology::dates::Date;
use crate::plots::Plots;
use crate::rx;
use crate::stage::{self, StageRequest};
use crate::zonal::{self, CoverageMode, StatsRequest};

use super::config::Loaded;
use super::memo::Memo;
use super::plan::{Plan, Tile, Unit, Work};
use super::report::{
    IndexRaster, Outcome, OutputFile, OutputKind, PlotLine, RxDates, RxOutcome, StageDates,
};
use super::reuse;

/// What a unit's work sees: the run, its plan and folder, and the units before it.
pub struct Ctx<'a> {
    pub run: &'a Loaded,
    pub plan: &'a Plan,
    /// The run folder.
    pub dir: &'a Path,
    /// Per unit so far: its outcome when it completed (computed or up to date).
    pub done: &'a [Option<Outcome>],
    /// What the units share in memory: the plot files as read, the stage's statistics.
    pub memo: &'a Memo,
}

/// A unit's files still to write once its work returned: only files no later unit reads (a
/// statistics map, the stage's tables and chart), since the units after it run meanwhile. What
/// a later unit reads (index rasters, statistics tables) is written by the unit itself.
pub type Behind = Box<dyn FnOnce() -> Result<()> + Send>;

/// A unit's work done: its outcome (every file it names in place once `behind` ran).
pub struct Done {
    pub outcome: Outcome,
    pub behind: Option<Behind>,
}

impl From<Outcome> for Done {
    fn from(outcome: Outcome) -> Self {
        Done {
            outcome,
            behind: None,
        }
    }
}

/// Do one unit's work.
pub fn execute(ctx: &Ctx, unit: &Unit) -> Result<Done> {
    match &unit.work {
        Work::Index { source, tile } => index(ctx, *source, *tile).map(Done::from),
        Work::Stats { index, plots } => stats(ctx, unit, *index, *plots),
        Work::Stage { plots, series } => stage(ctx, *plots, series),
        Work::Prescribe {
            plots,
            series,
            flight,
            flight_date,
            previous,
        } => prescribe(ctx, *plots, series, (*flight, *flight_date), *previous).map(Done::from),
    }
}

/// Paths relative to the run folder.
fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn output(dir: &Path, path: &Path, kind: OutputKind) -> OutputFile {
    OutputFile {
        path: rel(dir, path),
        kind,
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// The index rasters (absolute) of a completed index unit, by lower-case index name; none when
/// the unit did not complete.
pub(super) fn index_rasters(ctx: &Ctx, unit: usize) -> HashMap<String, PathBuf> {
    ctx.done[unit]
        .iter()
        .flat_map(|o| &o.indices)
        .map(|r| (r.index.clone(), ctx.dir.join(&r.path)))
        .collect()
}

/// Plot file `k` of the plan, read once in a run.
pub(super) fn plot_set(ctx: &Ctx, k: usize) -> Result<Rc<Plots>> {
    plot_file(ctx.memo, ctx.run, ctx.plan, k)
}

/// Plot file `k` of `plan` read as the run file says (layer, id field), once per `memo`: the
/// run's checks read it before any unit, the units take it from there.
pub fn plot_file(memo: &Memo, run: &Loaded, plan: &Plan, k: usize) -> Result<Rc<Plots>> {
    let plots = &run.run.plots;
    memo.plots(k, || {
        crate::io::vector::read_plots(
            &plan.plots[k],
            plots.layer.as_deref(),
            plots.id_field.as_deref(),
        )
    })
}

/// The stem of the files a plot file's units write (`plots` for `plots.geojson`).
fn plots_name(plan: &Plan, plots: usize) -> String {
    let name = crate::io::file_name(&plan.plots[plots]);
    name.split('.').next().unwrap_or("plots").to_string()
}

/// A tile's indices, each with its style and PNG quicklook.
fn index(ctx: &Ctx, source: usize, tile: usize) -> Result<Outcome> {
    let cfg = &ctx.run.run;
    let threads = cfg.machine.threads;
    let src = &cfg.sources[source];
    let t = &ctx.plan.tiles[source][tile];
    let mut inputs = vec![t.path.clone()];
    inputs.extend(t.mask.iter().cloned());
    let defaults = CogOptions::default();
    let request = IndexRequest {
        sensor: src.sensor.clone(),
        out_dir: ctx.dir.join("index").join(&src.name),
        cog: CogOptions {
            threads: threads.unwrap_or(defaults.threads),
            compress: src.compress.unwrap_or(defaults.compress),
            layout: src.layout.unwrap_or(defaults.layout),
            first_overview: src.first_overview.unwrap_or(defaults.first_overview),
            ..defaults
        },
        threads,
        ..IndexRequest::new(inputs, src.indices.clone())
    };
    let plan = index::plan(&request, Catalogue::builtin())?;
    let report = index::run(&plan, &|_, _| {})?;
    // The plots drawn on the quicklooks; a plot file that does not read leaves them without
    // (the statistics units report it).
    let sets: Vec<Rc<Plots>> = (0..ctx.plan.plots.len())
        .filter_map(|k| plot_set(ctx, k).ok())
        .collect();
    let plots: Vec<&Plots> = sets.iter().map(|p| &**p).collect();
    let mut outcome = Outcome::default();
    for o in &report.outputs {
        outcome
            .outputs
            .push(output(ctx.dir, &o.path, OutputKind::Index));
        outcome
            .outputs
            .push(output(ctx.dir, &o.style, OutputKind::Style));
        let png = o.path.with_extension("png");
        super::quicklook::index_png(&o.path, &o.index, &plots, &png)?;
        outcome
            .outputs
            .push(output(ctx.dir, &png, OutputKind::Quicklook));
        // The name as the run file gives it: the file name's last part (`<stem>_<index>.tif`).
        let stem = o.path.file_stem().map(|s| s.to_string_lossy().into_owned());
        if let Some(name) = stem.as_deref().and_then(|s| s.rsplit('_').next()) {
            outcome.indices.push(IndexRaster {
                index: name.to_ascii_lowercase(),
                path: rel(ctx.dir, &o.path),
            });
        }
    }
    Ok(outcome)
}

/// Per-plot statistics of a tile's indices (those `[stats]` names, default all) over a plot
/// file, as CSV (every plot) and GeoJSON (the plots the tile sees).
fn stats(ctx: &Ctx, unit: &Unit, index: usize, plots: usize) -> Result<Done> {
    let cfg = &ctx.run.run;
    let all = index_rasters(ctx, index);
    let wanted = cfg
        .stats
        .as_ref()
        .and_then(|s| s.indices.clone())
        .unwrap_or_else(|| all.keys().cloned().collect());
    let mut rasters: Vec<PathBuf> = wanted
        .iter()
        .filter_map(|w| all.get(&w.to_ascii_lowercase()).cloned())
        .collect();
    rasters.sort();
    let plot_set = plot_set(ctx, plots)?;
    let infos = crate::io::RasterInfo::read_all(&rasters)?;
    let table = zonal::run(
        &plot_set,
        &infos,
        &StatsRequest {
            coverage: CoverageMode::Exact,
            assume_same_crs: false,
            quantiles: true,
            mask_band: None,
            threads: cfg.machine.threads,
        },
        &|_, _| {},
    )?;
    let name = unit.id.trim_start_matches("stats:").replace(':', "_");
    let sdir = ctx.dir.join("stats");
    create_dir(&sdir)?;
    let paths: Vec<PathBuf> = ["csv", "geojson"]
        .iter()
        .map(|ext| sdir.join(format!("{name}.{ext}")))
        .collect();
    let outcome = Outcome {
        outputs: paths
            .iter()
            .map(|path| output(ctx.dir, path, OutputKind::Stats))
            .collect(),
        ..Outcome::default()
    };
    // The table now (the stage reads it), the map behind the next units. The table keeps every
    // plot (the same rows each date, for joins); the map shows the plots the tile sees, so a
    // flight's map over a county's plot file is the flight's plots.
    // Each table by one writer: the next units keep the cores busy meanwhile (in parts, the
    // county's first run took more memory and no less time).
    zonal::output::write(&table, &paths[0], Some(1))?;
    if let Some(kept) = reuse::kept_path(ctx.dir, &paths[0]) {
        reuse::keep(&kept, &table)?;
    }
    // Its rows are the stage's on this grid: the stage need not cover the plots again.
    let table = std::sync::Arc::new(table);
    if let Some(first) = infos.first() {
        ctx.memo
            .keep_rows(plots, &first.grid, std::sync::Arc::clone(&table));
    }
    let map = paths[1].clone();
    let behind: Behind =
        Box::new(move || zonal::output::write(&table.filter(|r| !r.outside), &map, Some(1)));
    Ok(Done {
        outcome,
        behind: Some(behind),
    })
}

/// A plot file's stages at `[stage] at` (default the series' last date): table, chart and the
/// plots' lines for the report.
fn stage(ctx: &Ctx, plots: usize, series: &[usize]) -> Result<Done> {
    let stage_cfg = ctx
        .run
        .run
        .stage
        .as_ref()
        .ok_or_else(|| Error::internal("a stage unit without [stage]"))?;
    let result = stage_at(ctx, plots, series, stage_cfg.at.as_deref(), None)?;
    let name = plots_name(ctx.plan, plots);
    let sdir = ctx.dir.join("stage");
    create_dir(&sdir)?;
    let tables: Vec<PathBuf> = ["csv", "geojson"]
        .iter()
        .map(|ext| sdir.join(format!("{name}_stage.{ext}")))
        .collect();
    let png = sdir.join(format!("{name}_stage.png"));
    let mut outcome = Outcome::default();
    for path in &tables {
        outcome
            .outputs
            .push(output(ctx.dir, path, OutputKind::Stage));
    }
    outcome
        .outputs
        .push(output(ctx.dir, &png, OutputKind::Quicklook));
    let at_from = match stage_cfg.at {
        Some(_) => "stage.at",
        None => "last index date",
    };
    outcome.stage_dates = Some(stage_dates(ctx, &result, at_from));
    // As the table has them: NaN is an empty cell.
    let num = |v: f64| (!v.is_nan()).then_some(v);
    outcome.plots = result
        .plots
        .iter()
        .map(|p| {
            PlotLine::stage(
                p.id.clone(),
                p.call.stage.name().to_string(),
                p.days_after_transplanting.and_then(num),
                num(p.confidence),
            )
        })
        .collect();
    // The tables and the chart side by side, behind the next unit.
    let threads = ctx.run.run.machine.threads;
    let behind: Behind = Box::new(move || {
        let (written, chart) = crate::raster::engine::join(
            threads,
            || stage::output::write_all(&result, &tables, threads),
            || stage::write_chart(&result, &png),
        )?;
        written.and(chart)
    });
    Ok(Done {
        outcome,
        behind: Some(behind),
    })
}

/// A plot file's prescription from the flight (an index unit, with its date) and the one before
/// (spray zones), with every plot's stage on the day of the flight.
fn prescribe(
    ctx: &Ctx,
    plots: usize,
    series: &[usize],
    (flight, flight_date): (usize, Date),
    previous: Option<usize>,
) -> Result<Outcome> {
    let run = ctx.run;
    let cfg = &run.run;
    let (Some(rx_cfg), Some(stage_cfg)) = (&cfg.prescribe, &cfg.stage) else {
        return Err(Error::internal(
            "a prescribe unit without [prescribe] and [stage]",
        ));
    };
    let out = ctx.dir.join("rx").join(plots_name(ctx.plan, plots));
    create_dir(&out)?;
    let pick = |which: &Option<String>, rasters: &HashMap<String, PathBuf>| {
        which
            .as_ref()
            .and_then(|i| rasters.get(&i.to_ascii_lowercase()).cloned())
    };
    let flight_rasters = index_rasters(ctx, flight);
    let plot_set = plot_set(ctx, plots)?;
    let mut request = rx::run::PrescribeRequest {
        n_index: pick(&rx_cfg.n_index, &flight_rasters),
        spray_index: pick(&rx_cfg.spray_index, &flight_rasters),
        previous: previous.and_then(|p| pick(&rx_cfg.spray_index, &index_rasters(ctx, p))),
        stages: None,
        // The rx_report.json's flight date, and where it comes from.
        at: Some((
            flight_date,
            tile_of(ctx, flight).map_or_else(
                || "the run's flight".to_string(),
                |t| format!("the date of the run's flight {}", t.stem),
            ),
        )),
        stages_tolerance_days: rx_cfg.stages_tolerance_days.unwrap_or(3.0),
        class_field: stage_cfg.class_field.clone(),
        default_class: stage_cfg
            .default_class
            .clone()
            .unwrap_or_else(|| "medium".into()),
        transplanted_field: stage_cfg.transplanted_field.clone(),
        table: run.table.clone(),
        config: run.rx.clone(),
        threads: cfg.machine.threads,
    };
    // The stage on the day of the flight of the plots a flight sees: the prescription reads no
    // other plot's (a county's 20 000 plots cost 0.8 CPU-s a night for a flight over 50).
    let in_flight = rx::run::plots_in_flight(&plot_set, &request)?;
    let keep: HashSet<&str> = plot_set
        .plots
        .iter()
        .zip(&in_flight.seen)
        .filter(|(_, &seen)| seen)
        .map(|(p, _)| p.id.as_str())
        .collect();
    let at = flight_date.to_string();
    let result = stage_at(ctx, plots, series, Some(&at), Some(&keep))?;
    let stages = out.join("stage_at_flight.csv");
    stage::output::write(&result, &stages, cfg.machine.threads)?;
    // The stage reaches the prescription in memory; stage_at_flight.csv is for people.
    request.stages = Some(rx::run::Stages::from_stage_result(
        &result,
        "stage_at_flight.csv",
    ));
    let prescription = rx::run::run_in_flight(&plot_set, &request, Some(in_flight))?;
    let read = rx_inputs(ctx, plots, &request, (flight, previous), &stages);
    let written = rx::output::write(&prescription, &run.rx, &out, &read, cfg.machine.threads)?;
    let mut outputs = vec![output(ctx.dir, &stages, OutputKind::Stage)];
    outputs.extend(
        written
            .files
            .iter()
            .map(|(kind, path)| output(ctx.dir, path, *kind)),
    );
    let tile = |unit: usize| match ctx.plan.units[unit].work {
        Work::Index { source, tile } => Some(&ctx.plan.tiles[source][tile]),
        _ => None,
    };
    // The earlier flight counts where the spray zones compared with it.
    let previous = previous
        .filter(|_| request.previous.is_some())
        .and_then(tile);
    let prescription_dates = RxDates {
        source: rx_cfg.source.clone(),
        flight_date: flight_date.to_string(),
        flight: tile(flight).map_or_else(String::new, |t| t.stem.clone()),
        previous_flight_date: previous.and_then(|t| t.date).map(|d| d.to_string()),
        previous_flight: previous.map(|t| t.stem.clone()),
        stage: stage_dates(ctx, &result, "flight date"),
    };
    Ok(Outcome {
        outputs,
        prescription: Some(RxOutcome {
            rows: written.rows,
            report: written.report,
        }),
        prescription_dates: Some(prescription_dates),
        ..Outcome::default()
    })
}

/// The dates stages of the run's series rest on: the day given and the last raster read.
fn stage_dates(ctx: &Ctx, result: &stage::StageResult, at_from: &str) -> StageDates {
    let cfg = ctx.run.run.stage.as_ref();
    StageDates::new(
        result.at,
        at_from,
        (
            cfg.map_or("", |s| s.source.as_str()),
            cfg.map_or("", |s| s.index.as_str()),
        ),
        &result.dates,
    )
}

/// The tile an index unit computes.
fn tile_of<'a>(ctx: &Ctx<'a>, unit: usize) -> Option<&'a Tile> {
    match ctx.plan.units.get(unit)?.work {
        Work::Index { source, tile } => ctx.plan.tiles.get(source)?.get(tile),
        _ => None,
    }
}

/// What a run's prescription of plot file `plots` read, for its `rx_report.json`: the plot
/// file, each flight (the one rated, and the one before it when the spray zones compare with
/// it) with its date, tile and index rasters, and the stage table on the flight's day (files of
/// the run folder relative to it, as the report's outputs).
fn rx_inputs(
    ctx: &Ctx,
    plots: usize,
    request: &rx::run::PrescribeRequest,
    (flight, previous): (usize, Option<usize>),
    stages: &Path,
) -> rx::output::Inputs {
    // Seen from the rx folder, as rx_report.json names its own files: the same bytes wherever
    // the run file and its folders are moved together.
    let here = stages.parent().unwrap_or(ctx.dir);
    let shown = |p: &Path| relative_to(here, p).display().to_string();
    let rx_cfg = ctx.run.run.prescribe.as_ref();
    let source = rx_cfg.map_or("", |r| r.source.as_str());
    let at = ctx.run.run.stage.as_ref().and_then(|s| s.at.as_deref());
    let read = |unit: usize, role: &str, rasters: Vec<&PathBuf>| {
        let tile = tile_of(ctx, unit);
        let date_from = tile.map(|t| match (role, at) {
            ("flight", Some(at)) => format!(
                "{}: the latest flight of source '{source}' on or before [stage] at {at}",
                t.stem
            ),
            ("flight", None) => format!("{}: the latest flight of source '{source}'", t.stem),
            _ => format!("{}: the flight of source '{source}' before it", t.stem),
        });
        let mut files: Vec<String> = tile.map(|t| shown(&t.path)).into_iter().collect();
        files.extend(rasters.into_iter().map(|p| shown(p)));
        rx::output::FlightRead {
            date: tile.and_then(|t| t.date).map(|d| d.to_string()),
            date_from,
            files,
            role: role.to_string(),
        }
    };
    let mut flights = vec![read(
        flight,
        "flight",
        [&request.n_index, &request.spray_index]
            .into_iter()
            .flatten()
            .collect(),
    )];
    if let (Some(p), Some(raster)) = (previous, &request.previous) {
        flights.push(read(p, "previous", vec![raster]));
    }
    let mut files = vec![PathBuf::from(shown(&ctx.plan.plots[plots]))];
    for f in &flights {
        files.extend(f.files.iter().map(PathBuf::from));
    }
    files.push(PathBuf::from(shown(stages)));
    let series = ctx.run.run.stage.as_ref().map_or(String::new(), |s| {
        format!(" from the '{}' {} series", s.source, s.index)
    });
    rx::output::Inputs {
        files,
        flights,
        stages: Some(format!(
            "{}: the plots' growth stages on the flight's day{series}",
            shown(stages)
        )),
    }
}

/// `path` as seen from folder `from`, climbing with `..` where it is not inside it; both taken
/// lexically (`a/b/../c` is `a/c`). Returned as it is unless both are absolute.
fn relative_to(from: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    fn lexical(p: &Path) -> Vec<Component<'_>> {
        let mut out: Vec<Component> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out
    }
    if !(from.is_absolute() && path.is_absolute()) {
        return path.to_path_buf();
    }
    let (a, b) = (lexical(from), lexical(path));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The stage of one plot file from the index units of the series that completed, at `at`
/// (default: the last date).
fn stage_at(
    ctx: &Ctx,
    plots: usize,
    series: &[usize],
    at: Option<&str>,
    keep: Option<&HashSet<&str>>,
) -> Result<stage::StageResult> {
    let run = ctx.run;
    let cfg = run
        .run
        .stage
        .as_ref()
        .ok_or_else(|| Error::internal("a stage without [stage]"))?;
    let mut vi = Vec::new();
    let mut lswi = Vec::new();
    let mut dates = Vec::new();
    for &u in series {
        if ctx.done[u].is_none() {
            continue;
        }
        let Some(date) = ctx.plan.date_of(u) else {
            continue;
        };
        let rasters = index_rasters(ctx, u);
        if let Some(p) = rasters.get(&cfg.index.to_ascii_lowercase()) {
            dates.push((p.clone(), date));
            vi.push(p.clone());
        }
        if let Some(l) = cfg
            .lswi
            .as_ref()
            .and_then(|l| rasters.get(&l.to_ascii_lowercase()))
        {
            dates.push((l.clone(), date));
            lswi.push(l.clone());
        }
    }
    if vi.is_empty() {
        return Err(Error::usage(
            "no index raster of the stage series completed",
        ));
    }
    // Each raster's date from the plan, in memory (the index files carry theirs too).
    let dates = stage::DateList {
        origin: "the run's acquisition dates".into(),
        dates,
    };
    let lambda = cfg
        .lambda
        .unwrap_or(crate::phenology::smooth::DEFAULT_LAMBDA);
    let smoother = cfg.smoother.unwrap_or_default().with_lambda(lambda);
    // The stage unit's table serves the prescription's stage too (its flight's plots).
    let rasters: Vec<PathBuf> = vi.iter().chain(&lswi).cloned().collect();
    let table = ctx.memo.stage_table(plots, &rasters, || {
        reuse::reused_statistics(
            ctx,
            plots,
            &vi,
            &lswi,
            &dates.dates,
            run.run.machine.threads,
        )
    });
    let kept = keep
        .zip(table.as_deref())
        .map(|(keep, t)| reuse::only(t, keep));
    let request = StageRequest {
        rasters: vi,
        lswi,
        plots: Some(ctx.plan.plots[plots].clone()),
        layer: run.run.plots.layer.clone(),
        id_field: run.run.plots.id_field.clone(),
        class_field: cfg.class_field.clone(),
        default_class: cfg.default_class.clone().unwrap_or_else(|| "medium".into()),
        transplanted_field: cfg.transplanted_field.clone(),
        date_pattern: None,
        dates: Some(dates),
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
    stage::run_with_table(&request, &|_, _| {}, kept.as_ref().or(table.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_relative_to_a_folder_climb_out_of_it() {
        let rx = Path::new("/data/tiles/../out/2026-07-18/rx/plots");
        assert_eq!(
            relative_to(rx, Path::new("/data/tiles/drone_20260718.tif")),
            Path::new("../../../../tiles/drone_20260718.tif")
        );
        assert_eq!(
            relative_to(
                rx,
                Path::new("/data/out/2026-07-18/rx/plots/stage_at_flight.csv")
            ),
            Path::new("stage_at_flight.csv")
        );
        assert_eq!(
            relative_to(rx, Path::new("/data/out/2026-07-18/./index/drone/x.tif")),
            Path::new("../../index/drone/x.tif")
        );
        assert_eq!(relative_to(rx, Path::new("x.tif")), Path::new("x.tif"));
    }
}
