//! `paddy run`, `paddy validate`, `paddy merge`: the nightly batch.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::batch::memo::Memo;
use crate::batch::report::{Report, Status};
use crate::batch::{config, earlier, lock, plan, schedule};
use crate::error::{Error, Result};

/// Run the nightly batch of a run file: indices of every tile, per-plot statistics, growth
/// stages and prescriptions, into <output>/<run date>/ with report.json and report.html.
///
/// Each unit of work (a tile's indices, a tile's statistics, a plot file's stage, its
/// prescription) is keyed by a hash of its inputs and settings; a rerun skips units whose
/// outputs exist with the same key and redoes the rest (--force redoes all). Every file is
/// written under a temporary name and renamed, so a run killed at any moment leaves no partial
/// file, and running it again finishes the job. A unit that fails (a corrupt tile, a missing
/// band) fails alone: the others complete, the report says why, and the exit code is 1.
///
/// The run file is checked as `paddy validate` checks it before any work: a misspelt index
/// or sensor, a dangling tile link or a plot file without its id field computes nothing.
/// A resumed run also compares each recorded output's size, and runs again (saying why) a
/// unit whose file is gone or changed size; `paddy verify` rehashes them all.
///
/// Each run date is a folder of its own. A unit not up to date in it that another run folder
/// of the output root did with the same key (the most recent date that has it, its files of
/// their recorded sizes) is reused: its files are hard-linked from there (copied where linking
/// fails) and it is reported `reused`, so the next night computes only what changed.
///
/// SIGINT (Ctrl-C), SIGTERM (Slurm, Kubernetes) and SIGHUP stop the run before its next unit
/// or window: temporaries are removed, nothing partial is left under a final name, and the
/// exit code is 128 + the signal (130, 143, 129). Temporaries a killed paddy left (its PID no
/// longer running) are swept at the start of the next run.
///
/// Exit codes: 0 all done; 1 a unit failed (or the run could not write); 2 a bad run file;
/// 3 a unit failed from a fault in paddy itself (please report it); 130/143/129 stopped.
///
/// Several machines on shared storage: run `paddy run RUN.toml --shard I/N` on each (I = 1…N:
/// a Slurm array task, a Kubernetes Indexed Job, GNU parallel), then `paddy merge RUN.toml` once:
/// it runs the stages and prescriptions and writes the report one machine would have written
/// (scripts/slurm-array.sh, scripts/k8s-indexed-job.yaml).
///
/// Example:  paddy run sample_tiles/nightly.toml --run-date 2026-07-18
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The run file (TOML; see sample_tiles/nightly.toml).
    #[arg(value_name = "RUN.toml")]
    run_file: PathBuf,

    /// The run's date, the output folder's name (default: today, UTC): YYYY-MM-DD, or YYYYMMDD
    /// (written YYYY-MM-DD). A rerun after a crash must use the same date to resume.
    #[arg(long, value_name = "YYYY-MM-DD")]
    run_date: Option<String>,

    /// List the units and whether each would run, be reused or is up to date; compute nothing.
    #[arg(long)]
    dry_run: bool,

    /// Redo every unit, even those up to date or done in another run folder.
    #[arg(long)]
    force: bool,

    /// Run only shard I of N (1-based) of the tile units; finish with `paddy merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,

    /// If another run holds the output root, wait for it instead of refusing.
    #[arg(long)]
    wait: bool,

    /// Log lines as JSON (one object per unit) instead of text.
    #[arg(long, value_name = "FORMAT", default_value = "plain", value_parser = ["plain", "json"])]
    log_format: String,

    /// Print the report (report.json) on stdout at the end.
    #[arg(long)]
    json: bool,

    /// Only errors.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Check a run file and its inputs without computing anything.
///
/// Resolves everything a run would: index names (a misspelt one is named, with the nearest
/// catalogue names), sensor profiles, [stats]/[stage]/[prescribe] references, the files behind
/// the tile globs (a link whose target is gone is an error naming both), masks, acquisition
/// dates, and each plot file's id field. Every tile and mask is opened.
///
/// Exit codes: 0 ok; 2 the run file is wrong (a name, a reference, a missing id field, a
/// dangling link: `paddy run` refuses these too, before any work); 1 a file is broken (a run
/// would fail only the units that read it).
///
/// Example:  paddy validate sample_tiles/nightly.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ValidateArgs {
    /// The run file.
    #[arg(value_name = "RUN.toml")]
    run_file: PathBuf,
}

impl RunArgs {
    /// Whether the log is JSON lines (`--log-format json`).
    pub fn json_log(&self) -> bool {
        self.log_format == "json"
    }
}

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::usage(format!(
            "--shard {text}: expected I/N with 1 <= I <= N, e.g. 2/4"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `--run-date` as the run folder is named (YYYY-MM-DD; YYYYMMDD written so), or exit 2.
fn check_date(date: Option<&str>) -> Result<Option<String>> {
    date.map(|d| schedule::run_date(d).map_err(|e| Error::usage(format!("--run-date: {e}"))))
        .transpose()
}

pub fn run_cmd(args: RunArgs, merge: bool) -> Result<()> {
    let run_date = check_date(args.run_date.as_deref())?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if merge && shard.is_some() {
        return Err(Error::usage("paddy merge takes no --shard"));
    }
    let loaded = config::load(&args.run_file)?;
    if let Some(lang) = &loaded.run.lang {
        crate::i18n::set_default(lang)?;
    }
    let plan = plan::plan(&loaded)?;
    // What validate calls a mistake in the run file (a plot file without its id field) fails
    // the run before any work; a broken file fails only the units that read it.
    // The plot files it reads stay in `memo` for the units.
    let memo = Memo::default();
    if let Some(e) = problems(&loaded, &plan, false, &memo).into_iter().next() {
        return Err(e);
    }
    let opts = schedule::Options {
        run_date,
        force: args.force,
        shard,
    };
    let date = opts.run_date.clone().unwrap_or_else(schedule::today);
    let dir = schedule::run_dir(&loaded, &date);
    if args.dry_run {
        let earlier = match args.force {
            true => Vec::new(),
            false => earlier::folders(&loaded.resolve(&loaded.run.output), &date),
        };
        for u in &plan.units {
            let mut from = None;
            let state = if !schedule::in_this_run(u, shard) {
                "other shard"
            } else if args.force {
                "would run"
            } else if schedule::up_to_date(&dir, u).is_some() {
                "up to date"
            } else {
                from = earlier::source(&earlier, u);
                if from.is_some() {
                    "would reuse"
                } else {
                    "would run"
                }
            };
            let from = from.map_or(String::new(), |d| format!(" (from {d})"));
            println!("{state:<12} {}{from}", u.id);
        }
        println!("into {}", dir.display());
        return Ok(());
    }
    let root = loaded.resolve(&loaded.run.output);
    let _lock = match lock::acquire(&root, shard.is_some(), false) {
        Err(Error::Input { .. }) if args.wait => {
            if !args.quiet {
                crate::log::notice(&format!(
                    "another paddy run is writing in {}; waiting for it to end",
                    root.display()
                ));
            }
            lock::acquire(&root, shard.is_some(), true)?
        }
        taken => taken?,
    };
    // Temporaries of a stopped or killed run, when their process is gone. Not in a shard: the
    // other shards' processes run on other machines, where a PID here proves nothing.
    if shard.is_none() {
        super::say_swept(&crate::io::sweep_temporaries(&dir, true), &dir, args.quiet);
    }
    let tty = std::io::stderr().is_terminal() && !args.quiet && args.log_format == "plain";
    let bar = super::progress_bar(!tty, "run", "units");
    let json = args.log_format == "json";
    let quiet = args.quiet;
    let finished = schedule::run(&loaded, &plan, &opts, &memo, &mut |e| {
        bar.set_length(e.total as u64);
        bar.set_position(e.done as u64);
        if quiet && e.unit.status != Status::Failed {
            return;
        }
        let line = if json {
            let level = match e.unit.status {
                Status::Failed => "error",
                _ => "info",
            };
            serde_json::json!({
                "level": level, "unit": e.unit.id, "status": e.unit.status,
                "seconds": e.unit.seconds, "done": e.done, "total": e.total,
                "error": e.unit.error, "note": e.note,
            })
            .to_string()
        } else {
            let status = serde_json::to_value(e.unit.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            format!(
                "[{:>3}/{}] {status:<18} {} ({:.1} s){}{}",
                e.done,
                e.total,
                e.unit.id,
                e.unit.seconds,
                e.unit
                    .error
                    .as_ref()
                    .map_or(String::new(), |m| format!(": {m}")),
                e.note.map_or(String::new(), |n| format!(" [{n}]"))
            )
        };
        bar.suspend(|| eprintln!("{line}"));
    })
    .map_err(|e| crate::io::explain_full_disk(&dir, e))?;
    bar.finish_and_clear();
    let report = &finished.report;
    summary(report, &dir, args.json, args.quiet);
    if !finished.faults.is_empty() {
        return Err(Error::internal(format!(
            "{} unit(s) failed from a fault in paddy: {} (see {})",
            finished.faults.len(),
            finished.faults.join(", "),
            dir.join("report.json").display()
        )));
    }
    if report.summary.failed > 0 {
        return Err(Error::Input {
            path: dir,
            message: format!(
                "{} unit(s) failed: {}",
                report.summary.failed,
                report
                    .units
                    .iter()
                    .filter(|u| u.status == Status::Failed)
                    .map(|u| u.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

fn summary(report: &Report, dir: &std::path::Path, json: bool, quiet: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return;
    }
    if quiet {
        return;
    }
    let s = &report.summary;
    println!(
        "{} units: {} done, {} up to date, {} reused, {} failed, {} skipped; {} files; {:.1} s",
        s.ok + s.skipped_up_to_date + s.reused + s.failed + s.skipped_dependency,
        s.ok,
        s.skipped_up_to_date,
        s.reused,
        s.failed,
        s.skipped_dependency,
        s.outputs,
        report.seconds
    );
    for n in &report.notes {
        println!("  {n}");
    }
    match report.shard {
        Some([i, n]) => println!(
            "shard {i} of {n} done: {}",
            dir.join(format!("report.shard-{i}-of-{n}.json")).display()
        ),
        None => println!("report: {}", dir.join("report.html").display()),
    }
}

/// Problems a run would meet in its run file's inputs: tiles and masks that do not open, tiles
/// with no date (with `open_tiles`), plot files without the id field. Each with its exit code
/// (2: the run file and its files disagree, 1: a file is broken). The plot files are read into
/// `memo`, as the units read them.
fn problems(
    loaded: &config::Loaded,
    plan: &plan::Plan,
    open_tiles: bool,
    memo: &Memo,
) -> Vec<Error> {
    let mut problems = Vec::new();
    let tiles = plan.tiles.iter().enumerate().filter(|_| open_tiles);
    for (si, t) in tiles.flat_map(|(si, tiles)| tiles.iter().map(move |t| (si, t))) {
        for p in std::iter::once(&t.path).chain(t.mask.iter()) {
            if let Err(e) = crate::io::check_input(p) {
                problems.push(e);
            }
        }
        if t.date.is_none() {
            problems.push(plan::undated(loaded, &loaded.run.sources[si], &t.path, ""));
        }
    }
    for k in 0..plan.plots.len() {
        if let Err(e) = crate::batch::work::plot_file(memo, loaded, plan, k) {
            if open_tiles || e.exit_code() == 2 {
                problems.push(e);
            }
        }
    }
    problems
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let loaded = config::load(&args.run_file)?;
    let plan = plan::plan(&loaded)?;
    let problems = problems(&loaded, &plan, true, &Memo::default());
    let tiles: usize = plan.tiles.iter().map(Vec::len).sum();
    println!(
        "{}: {} source(s), {tiles} tile(s), {} plot file(s), {} unit(s)",
        args.run_file.display(),
        loaded.run.sources.len(),
        plan.plots.len(),
        plan.units.len()
    );
    for p in &problems {
        println!("  problem: {p}");
    }
    if problems.is_empty() {
        println!("  ok");
        return Ok(());
    }
    let message = format!("{} problem(s)", problems.len());
    if problems.iter().any(|e| e.exit_code() == 2) {
        Err(Error::Config {
            path: args.run_file,
            message,
        })
    } else {
        Err(Error::Input {
            path: args.run_file,
            message,
        })
    }
}
