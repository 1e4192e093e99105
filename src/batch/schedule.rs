//! Running a plan: each unit in order, skipped when its manifest says its outputs exist with
//! the same key, brought from another run folder that did it with the same key ([`earlier`]),
//! isolated when it fails (its dependants are skipped, the rest go on), its
//! outputs written atomically and its manifest last — so a run killed at any moment and run
//! again ends with the same files as one never interrupted. The report is built from the units'
//! outcomes, those of units up to date read from their manifests.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::phenology::dates::Date;

use super::config::Loaded;
use super::earlier::{self, Folder};
use super::integrity::{self, Recorded};
use super::memo::Memo;
use super::plan::{shard_of, Plan, Unit, Work};
use super::report::{self, Outcome, Report, Status, UnitKind, UnitReport};
use super::work::{self, Ctx, Done};

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
    /// Why a unit that was up to date ran again (an output gone or changed size), where a
    /// reused unit came from, or why one done in an earlier run folder was not reused.
    pub note: Option<&'a str>,
}

/// A finished run: its report (also written), and the units that failed from a fault in paddy
/// itself (a panic), which the command reports as an internal error.
#[derive(Debug, Clone)]
pub struct Finished {
    pub report: Report,
    pub faults: Vec<String>,
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

/// A run date as its folder is named: `YYYY-MM-DD` as it is, `YYYYMMDD` written so. Anything
/// else (a time, a time zone, other separators, a day not in the calendar) is a usage error:
/// the folder's name is what a resumed run and the next nights find a run by.
pub fn run_date(text: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::usage(format!(
            "'{text}' is not a run date ({why}); expected a date as YYYY-MM-DD (or YYYYMMDD), e.g. 2026-07-18"
        ))
    };
    let number = |s: Option<&str>, n: usize| {
        s.filter(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    };
    let parts = if text.len() == 8 {
        [text.get(..4), text.get(4..6), text.get(6..)]
    } else {
        let mut split = text.splitn(3, '-');
        [split.next(), split.next(), split.next()]
    };
    let [Some(y), Some(m), Some(d)] = [
        number(parts[0], 4),
        number(parts[1], 2),
        number(parts[2], 2),
    ] else {
        return Err(bad(
            "a time, a zone or other separators are not part of one",
        ));
    };
    let date = format!("{y}-{m}-{d}");
    match date.parse::<Date>() {
        Ok(parsed) if parsed.to_string() == date => Ok(date),
        _ => Err(bad("not a day of the calendar")),
    }
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

/// The version of the manifest format. A manifest of another version (or none, as before
/// outcomes were recorded) does not parse as up to date: its unit runs again. Format 3 added
/// each output's size and SHA-256.
pub(super) const MANIFEST_FORMAT: u32 = 3;

/// A unit's manifest (`.paddy/units/<id>.json`), written after its outputs.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    pub(super) format: u32,
    pub(super) id: String,
    pub(super) key: String,
    pub(super) outcome: Outcome,
    /// Every output file as written: `paddy verify` rehashes them, a resumed run checks sizes.
    pub(super) files: Vec<Recorded>,
}

pub(super) fn manifest_path(dir: &Path, id: &str) -> PathBuf {
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

/// The unit's recorded outcome when it is up to date: a manifest of this format with the same
/// key, every output present with the size it was written with.
pub fn up_to_date(dir: &Path, unit: &Unit) -> Option<Outcome> {
    recorded(dir, unit).ok()
}

/// The unit's recorded outcome when it is up to date; else, when the manifest is current but
/// an output is gone or changed size, why it runs again (None: no such manifest).
fn recorded(dir: &Path, unit: &Unit) -> std::result::Result<Outcome, Option<String>> {
    let text = std::fs::read_to_string(manifest_path(dir, &unit.id)).map_err(|_| None)?;
    let m: Manifest = serde_json::from_str(&text).map_err(|_| None)?;
    if m.format != MANIFEST_FORMAT || m.key != unit.key {
        return Err(None);
    }
    match integrity::size_change(dir, &m.files) {
        Some(change) => Err(Some(change)),
        None => Ok(m.outcome),
    }
}

/// Record a unit's outcome, after its outputs (hashed now).
fn write_manifest(dir: &Path, unit: &Unit, outcome: &Outcome) -> Result<()> {
    let files = integrity::record(dir, &outcome.outputs)?;
    write_manifest_of(dir, unit, outcome, files)
}

/// Record a unit's outcome and its files as `files` records them, after its outputs.
pub(super) fn write_manifest_of(
    dir: &Path,
    unit: &Unit,
    outcome: &Outcome,
    files: Vec<Recorded>,
) -> Result<()> {
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        id: unit.id.clone(),
        key: unit.key.clone(),
        outcome: outcome.clone(),
        files,
    };
    // Compact: a county's stage and prescription manifests hold a row per plot (indented, the
    // prescription's was 19.3 MB instead of 12.2).
    let text = serde_json::to_string(&manifest)
        .map_err(|e| Error::internal(format!("cannot format the manifest of {}: {e}", unit.id)))?;
    crate::io::write_atomic(&manifest_path(dir, &unit.id), text.as_bytes())
}

/// Whether a unit runs here: all of them without `--shard`, else the tile units of this shard.
pub fn in_this_run(unit: &Unit, shard: Option<(usize, usize)>) -> bool {
    match (shard, &unit.shard_key) {
        (None, _) => true,
        (Some((i, n)), Some(k)) => shard_of(k, n) == i - 1,
        (Some(_), None) => false,
    }
}

/// The run's date and folder (made), and the other run folders of its output root, where a
/// unit not up to date here may have been done (none with `--force`).
fn folders(run: &Loaded, opts: &Options) -> Result<(String, PathBuf, Vec<Folder>)> {
    let date = match &opts.run_date {
        Some(d) => run_date(d)?,
        None => today(),
    };
    let dir = run_dir(run, &date);
    let earlier = match opts.force {
        true => Vec::new(),
        false => earlier::folders(&run.resolve(&run.run.output), &date),
    };
    std::fs::create_dir_all(dir.join(".paddy").join("units")).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    Ok((date, dir, earlier))
}

/// Run the plan into the run folder; `log` hears of every unit as it ends. Returns the report
/// (also written as report.json / report.html, or report.shard-I-of-N.json for a shard) and
/// the units that failed from a fault. `memo` holds what the caller read already (the plot
/// files its checks opened), so that the units do not read it again.
pub fn run(
    run: &Loaded,
    plan: &Plan,
    opts: &Options,
    memo: &Memo,
    log: &mut dyn FnMut(Event),
) -> Result<Finished> {
    let (date, dir, earlier) = folders(run, opts)?;
    if let Some(mib) = run.run.machine.ram_mib {
        std::env::set_var("GDAL_CACHEMAX", format!("{mib}MB"));
    }
    let started = (Instant::now(), now());
    let total = plan
        .units
        .iter()
        .filter(|u| in_this_run(u, opts.shard))
        .count();
    let mut book = Book {
        reports: Vec::with_capacity(plan.units.len()),
        outcomes: Vec::with_capacity(plan.units.len()),
        faults: Vec::new(),
        log,
        done: 0,
        total,
    };
    // The units that ran, in order, until their turn in the log: some still writing their
    // files on a thread of their own while the next units compute (work::Behind), at most
    // WRITERS at once. The scope waits for them on every way out.
    std::thread::scope(|scope| -> Result<()> {
        let mut pending: VecDeque<Pending> = VecDeque::new();
        for (k, unit) in plan.units.iter().enumerate() {
            // A signal stops the run before its next unit (a unit's windows stop by themselves).
            if crate::raster::engine::stop_requested() {
                return Err(Error::Interrupted);
            }
            let base = UnitReport {
                id: unit.id.clone(),
                kind: kind(&unit.work),
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
                reused_from: None,
            };
            if !in_this_run(unit, opts.shard) {
                book.reports.push(UnitReport {
                    status: Status::OtherShard,
                    ..base
                });
                book.outcomes.push(None);
                continue;
            }
            let ctx = Ctx {
                run,
                plan,
                dir: &dir,
                done: &book.outcomes,
                memo,
            };
            let mut ran = run_unit(&ctx, unit, &book.reports, (opts.force, &earlier), base);
            if ran.report.status == Status::Interrupted {
                return Err(Error::Interrupted);
            }
            book.reports.push(ran.report.clone());
            book.outcomes.push(ran.outcome.clone());
            // The thread that writes the files also records them (the manifest, last), so
            // that a unit is up to date as soon as its files are, whatever runs meanwhile, and
            // a county's stage (50 MB of tables and chart) is not read again on this thread.
            // It takes the outcome along and gives it back with the files written.
            let writing = ran.behind.take().map(|behind| {
                let outcome = ran.outcome.take();
                let (dir, unit) = (dir.as_path(), unit);
                scope.spawn(move || {
                    let t0 = Instant::now();
                    let written = caught(behind).and_then(|()| {
                        let outcome = outcome.ok_or_else(|| {
                            Error::internal("a unit written behind without its outcome")
                        })?;
                        write_manifest(dir, unit, &outcome).map(|()| outcome)
                    });
                    (written, t0.elapsed().as_secs_f64())
                })
            });
            pending.push_back(Pending {
                unit: k,
                ran,
                writing,
            });
            // In order: those done, and the oldest while too many write.
            while let Some(p) = pending.pop_front() {
                let writers = pending.iter().filter(|p| p.writing()).count() + 1;
                if p.writing() && writers <= WRITERS {
                    pending.push_front(p);
                    break;
                }
                book.settle(p, &dir)?;
            }
        }
        pending.into_iter().try_for_each(|p| book.settle(p, &dir))
    })?;
    let Book {
        reports,
        outcomes,
        faults,
        ..
    } = book;
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
        stage_dates: None,
        prescription_dates: None,
        summary: Default::default(),
    };
    report.recount();
    if opts.shard.is_none() {
        // The first stage and prescription that completed.
        let first = |kind: UnitKind| {
            plan.units
                .iter()
                .zip(&outcomes)
                .find_map(|(u, o)| o.as_ref().filter(|_| self::kind(&u.work) == kind))
        };
        let (stage, rx) = (first(UnitKind::Stage), first(UnitKind::Prescribe));
        (report.plots, report.notes) = report::people(
            stage.map(|o| o.plots.as_slice()),
            rx.and_then(|o| o.prescription.as_ref()),
            &run.rx.nitrogen.product,
        );
        report.stage_dates = stage.and_then(|o| o.stage_dates.clone());
        report.prescription_dates = rx.and_then(|o| o.prescription_dates.clone());
    }
    write_report(&report, &dir, opts, run.run.machine.threads)?;
    Ok(Finished { report, faults })
}

fn kind(work: &Work) -> UnitKind {
    match work {
        Work::Index { .. } => UnitKind::Index,
        Work::Stats { .. } => UnitKind::Stats,
        Work::Stage { .. } => UnitKind::Stage,
        Work::Prescribe { .. } => UnitKind::Prescribe,
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

/// A unit's end: its line in the report, its outcome when it completed, and whether it failed
/// from a fault in paddy (a panic).
struct Ran {
    report: UnitReport,
    outcome: Option<Outcome>,
    fault: bool,
    /// Why a unit whose manifest was current ran again (an output gone or resized), or where
    /// a reused unit came from, or why it was not reused.
    note: Option<String>,
    /// Its files still to write (its manifest waits for them).
    behind: Option<work::Behind>,
}

/// Units whose files are written behind the next units, at most (each holds its tables).
const WRITERS: usize = 2;

/// A unit that ran, waiting for its turn in the log, and perhaps for its files being written
/// on their own thread: its outcome already serves the units after it (which do not read
/// those files, see [`work::Behind`]).
struct Pending<'scope> {
    unit: usize,
    ran: Ran,
    /// Writes its files, then its manifest; gives its outcome back and the seconds spent.
    writing: Option<std::thread::ScopedJoinHandle<'scope, (Result<Outcome>, f64)>>,
}

impl Pending<'_> {
    /// Whether its files are still being written.
    fn writing(&self) -> bool {
        self.writing.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Wait for the files and the manifest its thread writes after them, then end the unit or
    /// say why it failed. Its seconds are its work's and its writing's.
    fn settle(self, dir: &Path) -> Ran {
        let Some(handle) = self.writing else {
            return self.ran;
        };
        let (written, writing) = handle.join().unwrap_or_else(|_| {
            let e = Error::internal("the thread writing a unit's files stopped");
            (Err(e), 0.0)
        });
        let Ran { report, note, .. } = self.ran;
        let seconds = report.seconds + writing;
        let base = UnitReport {
            outputs: Vec::new(),
            ..report
        };
        let ran = end_of(dir, base, seconds, written);
        Ran { note, ..ran }
    }
}

/// The units' lines and outcomes as the run goes, the faults, and the log.
struct Book<'l> {
    reports: Vec<UnitReport>,
    outcomes: Vec<Option<Outcome>>,
    faults: Vec<String>,
    log: &'l mut dyn FnMut(Event<'_>),
    done: usize,
    total: usize,
}

impl Book<'_> {
    /// Unit `k`'s end: its line and outcome in place of what was pushed for it, its fault,
    /// and the log's event.
    fn end(&mut self, ran: Ran, k: usize) -> Result<()> {
        if ran.report.status == Status::Interrupted {
            return Err(Error::Interrupted);
        }
        if ran.fault {
            self.faults.push(ran.report.id.clone());
        }
        self.done += 1;
        (self.log)(Event {
            done: self.done,
            total: self.total,
            unit: &ran.report,
            note: ran.note.as_deref(),
        });
        self.reports[k] = ran.report;
        self.outcomes[k] = ran.outcome;
        Ok(())
    }

    /// Wait for a pending unit's files and end it.
    fn settle(&mut self, p: Pending, dir: &Path) -> Result<()> {
        let k = p.unit;
        let ran = p.settle(dir);
        self.end(ran, k)
    }
}

/// Run (or skip) one unit, never failing the run: errors and panics become the unit's status.
/// Unless `force`, a unit up to date is skipped, and one done in an `earlier` folder with the
/// same key is brought from there.
fn run_unit(
    ctx: &Ctx,
    unit: &Unit,
    before: &[UnitReport],
    (force, earlier): (bool, &[Folder]),
    base: UnitReport,
) -> Ran {
    let ended = |report: UnitReport, outcome: Option<Outcome>| Ran {
        report,
        outcome,
        fault: false,
        note: None,
        behind: None,
    };
    // Hard dependencies must have their outputs; the stage takes whatever dates succeeded.
    let failed: Vec<&str> = unit
        .deps
        .iter()
        .filter(|&&d| ctx.done[d].is_none())
        .map(|&d| before[d].id.as_str())
        .collect();
    let soft = matches!(unit.work, Work::Stage { .. });
    if !failed.is_empty() && (!soft || failed.len() == unit.deps.len()) {
        let report = UnitReport {
            status: Status::SkippedDependency,
            error: Some(format!(
                "needs {}, which did not complete",
                failed.join(", ")
            )),
            ..base
        };
        return ended(report, None);
    }
    let mut note = None;
    if !force {
        match recorded(ctx.dir, unit) {
            Ok(outcome) => {
                let report = UnitReport {
                    status: Status::SkippedUpToDate,
                    outputs: outcome.outputs.clone(),
                    ..base
                };
                return ended(report, Some(outcome));
            }
            Err(change) => note = change.map(|c| format!("run again: {c}")),
        }
        match earlier::find(earlier, unit) {
            Ok((from, manifest)) => match reuse(ctx, unit, from, &manifest, base.clone()) {
                Ok(ran) => return ran,
                Err(why) => note = Some(why),
            },
            Err(why) => note = note.or(why),
        }
    }
    let ran = execute(ctx, unit, base);
    Ran { note, ..ran }
}

/// A unit brought from another run folder (`from`, where `manifest` records it) into this one,
/// reported `reused` with the folder's date; or why it could not be, and it is computed.
fn reuse(
    ctx: &Ctx,
    unit: &Unit,
    from: &Folder,
    manifest: &Manifest,
    base: UnitReport,
) -> std::result::Result<Ran, String> {
    let t0 = Instant::now();
    let (report, outcome) = match caught(|| earlier::bring(from, manifest, ctx.dir, unit)) {
        Ok(outcome) => {
            let report = UnitReport {
                status: Status::Reused,
                seconds: t0.elapsed().as_secs_f64(),
                outputs: outcome.outputs.clone(),
                reused_from: Some(from.date.clone()),
                ..base
            };
            (report, Some(outcome))
        }
        Err(Error::Interrupted) => {
            let report = UnitReport {
                status: Status::Interrupted,
                ..base
            };
            (report, None)
        }
        Err(e) => return Err(format!("not reused from {}: {e}", from.date)),
    };
    Ok(Ran {
        report,
        outcome,
        fault: false,
        note: Some(format!("reused from {}", from.date)),
        behind: None,
    })
}

/// Do a unit's work and record it (its manifest, after its outputs), unless its files are
/// still to be written behind the next unit: then the thread that writes them records it
/// (see [`Pending`]).
fn execute(ctx: &Ctx, unit: &Unit, base: UnitReport) -> Ran {
    let t0 = Instant::now();
    let result = caught(|| work::execute(ctx, unit));
    let seconds = t0.elapsed().as_secs_f64();
    match result {
        Ok(Done {
            outcome,
            behind: Some(behind),
        }) => Ran {
            report: UnitReport {
                status: Status::Ok,
                seconds,
                outputs: outcome.outputs.clone(),
                ..base
            },
            outcome: Some(outcome),
            fault: false,
            note: None,
            behind: Some(behind),
        },
        Ok(Done {
            outcome,
            behind: None,
        }) => record(ctx.dir, unit, base, seconds, Ok(outcome)),
        Err(e) => record(ctx.dir, unit, base, seconds, Err(e)),
    }
}

/// A unit's end once its files are written: its manifest last (only a unit whose every output
/// is in place is up to date), or the error that stopped it.
fn record(dir: &Path, unit: &Unit, base: UnitReport, seconds: f64, result: Result<Outcome>) -> Ran {
    let result = result.and_then(|outcome| write_manifest(dir, unit, &outcome).map(|()| outcome));
    end_of(dir, base, seconds, result)
}

/// A unit's line and outcome once its files and manifest are written, or the error that
/// stopped it (with a note when the disk is full).
fn end_of(dir: &Path, base: UnitReport, seconds: f64, result: Result<Outcome>) -> Ran {
    let ended = |report: UnitReport, outcome: Option<Outcome>| Ran {
        report,
        outcome,
        fault: false,
        note: None,
        behind: None,
    };
    let failed = |error: &Error| UnitReport {
        status: Status::Failed,
        seconds,
        error: Some(match crate::io::disk_full(dir) {
            Some(note) => format!("{error} ({note})"),
            None => error.to_string(),
        }),
        ..base.clone()
    };
    match result {
        Ok(outcome) => {
            let report = UnitReport {
                status: Status::Ok,
                seconds,
                outputs: outcome.outputs.clone(),
                ..base
            };
            ended(report, Some(outcome))
        }
        Err(Error::Interrupted) => {
            let report = UnitReport {
                status: Status::Interrupted,
                ..base
            };
            ended(report, None)
        }
        Err(e @ Error::Internal(_)) => Ran {
            fault: true,
            ..ended(failed(&e), None)
        },
        Err(e) => ended(failed(&e), None),
    }
}

/// `f`'s result, a panic in it an internal error with the panic's message.
fn caught<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(Error::internal(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ))
    })
}

/// report.json and report.html side by side (a county's are 10 and 44 MB), or a shard's JSON.
fn write_report(report: &Report, dir: &Path, opts: &Options, threads: Option<usize>) -> Result<()> {
    let json = |path: &Path| {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Error::internal(format!("cannot format the report: {e}")))?;
        crate::io::write_atomic(path, text.as_bytes())
    };
    match opts.shard {
        Some((i, n)) => json(&dir.join(format!("report.shard-{i}-of-{n}.json"))),
        None => {
            let (written, html) = crate::raster::engine::join(
                threads,
                || json(&dir.join("report.json")),
                || super::html::write(report, dir, &dir.join("report.html")),
            )?;
            written.and(html)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::{OutputFile, OutputKind};
    use super::*;

    #[test]
    fn a_panic_in_a_unit_is_an_internal_error_with_its_message() {
        let e = caught(|| -> Result<()> { panic!("index {} out of range", 7) }).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.to_string(),
            "internal error (please report): index 7 out of range"
        );
        let e = caught(|| -> Result<()> { panic!("static text") }).unwrap_err();
        assert!(e.to_string().ends_with(": static text"), "{e}");
        // Results and errors pass through as they are.
        assert_eq!(caught(|| Ok(5)).unwrap(), 5);
        let e = caught(|| -> Result<()> { Err(Error::usage("bad")) }).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_run_date_is_yyyy_mm_dd_or_yyyymmdd_written_so() {
        assert_eq!(run_date("2025-07-15").unwrap(), "2025-07-15");
        assert_eq!(run_date("20250715").unwrap(), "2025-07-15");
        assert_eq!(run_date("20240229").unwrap(), "2024-02-29");
        for bad in [
            "2025-07-15T23:30:00+08:00",
            "2025-07-15 ",
            " 2025-07-15",
            "2025/07/15",
            "2025-7-15",
            "2025-02-29",
            "2025-13-01",
            "2025071",
            "２０２５０７１５",
            "",
        ] {
            let e = run_date(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(
                e.to_string().contains("expected a date as YYYY-MM-DD"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_manifest_is_up_to_date_only_in_this_format_with_its_key_and_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let unit = Unit {
            id: "stage:plots".into(),
            work: Work::Stage {
                plots: 0,
                series: vec![],
            },
            deps: vec![],
            inputs: vec![],
            key: "k1".into(),
            shard_key: None,
        };
        std::fs::create_dir_all(dir.path().join(".paddy/units")).unwrap();
        std::fs::write(dir.path().join("out.csv"), "x\n").unwrap();
        let outcome = Outcome {
            outputs: vec![OutputFile {
                path: "out.csv".into(),
                kind: OutputKind::Stage,
            }],
            ..Outcome::default()
        };
        write_manifest(dir.path(), &unit, &outcome).unwrap();
        assert_eq!(up_to_date(dir.path(), &unit), Some(outcome.clone()));
        // Another key, another format, a missing output: run again.
        let other = Unit {
            key: "k2".into(),
            ..unit.clone()
        };
        assert_eq!(up_to_date(dir.path(), &other), None);
        let path = manifest_path(dir.path(), &unit.id);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"format\":3,"), "{text}");
        std::fs::write(&path, text.replace("\"format\":3", "\"format\":2")).unwrap();
        assert_eq!(up_to_date(dir.path(), &unit), None);
        write_manifest(dir.path(), &unit, &outcome).unwrap();
        std::fs::remove_file(dir.path().join("out.csv")).unwrap();
        assert_eq!(up_to_date(dir.path(), &unit), None);
    }
}
