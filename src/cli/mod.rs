//! Command line: clap definitions, raw flags turned into checked settings, errors printed once.

mod bench;
mod index;
mod indices;
mod prescribe;
mod run;
mod sensors;
mod signals;
mod stage;
mod stats;
mod verify;

use clap::{Parser, Subcommand};

/// paddy: rice crop monitoring from drone and satellite imagery.
///
/// Computes vegetation, red-edge and water indices from multispectral tiles (Sentinel-2,
/// Landsat, PlanetScope, MicaSense, DJI, Parrot Sequoia or any GDAL raster), streamed in
/// parallel and written as Cloud Optimized GeoTIFFs that open ready to read in QGIS.
#[derive(Debug, Parser)]
#[command(name = "paddy", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Language of what people read: report.html, PNG titles, legends and labels, the QGIS
    /// styles' class names (en, zh-CN). Column names, codes and file names stay English.
    /// Default: the run file's `lang`, else en.
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    Index(Box<index::IndexArgs>),
    Indices(indices::IndicesArgs),
    Sensors(sensors::SensorsArgs),
    Stats(Box<stats::StatsArgs>),
    Stage(Box<stage::StageArgs>),
    Prescribe(Box<prescribe::PrescribeArgs>),
    Run(Box<run::RunArgs>),
    /// Finish a run split over machines with `run --shard`: stages, prescriptions, one report.
    ///
    /// Run it once, on one machine, after every `paddy run RUN.toml --shard I/N` has ended,
    /// with the same run file and --run-date as the shards. The tile units the shards did are
    /// up to date and skipped; one no shard finished (its shard failed or was stopped) is
    /// computed here. Then it runs the stages and prescriptions over every shard's tiles and
    /// writes report.json and report.html: the run folder one `paddy run` would have left.
    ///
    /// Exit codes as `paddy run`: 0 all done; 1 a unit failed; 2 a bad run file or --shard
    /// given; 3 a fault in paddy itself; 130/143/129 stopped.
    ///
    /// Example:  paddy merge sample_tiles/nightly.toml --run-date 2026-07-18
    #[command(verbatim_doc_comment, mut_arg("shard", |a| a.hide(true)))]
    Merge(Box<run::RunArgs>),
    Validate(run::ValidateArgs),
    Verify(verify::VerifyArgs),
    Bench(bench::BenchArgs),
}

/// Parse the command line, run, print any error once; returns the process exit code
/// (0 success, 1 processing failed, 2 bad usage or configuration, 3 a fault in paddy itself,
/// 128 + N stopped by signal N: 130 SIGINT (Ctrl-C), 143 SIGTERM, 129 SIGHUP).
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // With JSON logs, every line on stderr is JSON, the final error too.
    if let Command::Run(args) | Command::Merge(args) = &cli.command {
        crate::log::set_json(args.json_log());
    }
    if let Some(lang) = &cli.lang {
        if let Err(e) = crate::i18n::set(lang) {
            crate::log::error(&e);
            return e.exit_code();
        }
    }
    // SIGINT, SIGTERM, SIGHUP: stop at the next window, remove temporaries, exit 128 + N.
    signals::install();
    let result = match cli.command {
        Command::Index(args) => index::run(*args),
        Command::Indices(args) => indices::run(args),
        Command::Sensors(args) => sensors::run(args),
        Command::Stats(args) => stats::run(*args),
        Command::Stage(args) => stage::run(*args),
        Command::Prescribe(args) => prescribe::run(*args),
        Command::Run(args) => run::run_cmd(*args, false),
        Command::Merge(args) => run::run_cmd(*args, true),
        Command::Validate(args) => run::validate(args),
        Command::Verify(args) => verify::run(args),
        Command::Bench(args) => bench::run(args),
    };
    if let Some((signal, code)) = signals::received() {
        let after = match result {
            Ok(()) => " after the work had ended: its outputs are complete".to_string(),
            Err(crate::Error::Interrupted) => {
                ": temporary files removed, no partial output left under a final name".to_string()
            }
            Err(e) => format!(" ({e})"),
        };
        let message = format!("stopped by {signal}{after}");
        if crate::log::json() {
            let mut fields = serde_json::Map::new();
            fields.insert("signal".into(), signal.into());
            fields.insert("exit_code".into(), code.into());
            eprintln!("{}", crate::log::line("error", &message, fields));
        } else {
            eprintln!("paddy: {message}");
        }
        return code;
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            crate::log::error(&e);
            e.exit_code()
        }
    }
}

/// `-j N`: a thread count from 1 to [`crate::raster::engine::MAX_THREADS`].
fn parse_threads(text: &str) -> std::result::Result<usize, String> {
    use crate::raster::engine::MAX_THREADS;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{text}' is not a thread count from 1 to {MAX_THREADS}"
        )),
    }
}

/// A COG's first overview factor (`--first-overview`): a power of two from 2 to 1024.
fn parse_first_overview(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if crate::raster::pyramid::is_first_overview(n) => Ok(n),
        _ => Err(format!(
            "'{text}' is not an overview factor: use a power of two from 2 to 1024 (4 is 1/4)"
        )),
    }
}

/// A factor that must be a finite number other than 0 (`--scale`).
fn parse_scale(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v != 0.0 => Ok(v),
        _ => Err(format!("'{text}' is not a finite number other than 0")),
    }
}

/// A finite number (`--offset`).
fn parse_finite(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("'{text}' is not a finite number")),
    }
}

/// A finite number above 0 (`--lambda`).
fn parse_positive(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{text}' is not a finite number above 0")),
    }
}

/// A progress bar on stderr counting `unit`, hidden with --quiet (and by indicatif when stderr
/// is not a terminal).
fn progress_bar(quiet: bool, prefix: &str, unit: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// Run `work` with a progress bar counting windows (hidden with --quiet), then print the
/// warnings it returns on stderr unless quiet.
fn with_progress<T>(
    quiet: bool,
    prefix: &str,
    work: impl FnOnce(&dyn Fn(usize, usize)) -> crate::Result<T>,
    warnings: impl Fn(&T) -> &[String],
) -> crate::Result<T> {
    let bar = progress_bar(quiet, prefix, "windows");
    let out = work(&|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    if !quiet {
        for w in warnings(&out) {
            crate::log::warning(w);
        }
    }
    Ok(out)
}

/// Say on stderr (unless quiet) that temporaries a stopped paddy left in `dir` were removed.
fn say_swept(removed: &[std::path::PathBuf], dir: &std::path::Path, quiet: bool) {
    if !removed.is_empty() && !quiet {
        crate::log::notice(&format!(
            "removed {} temporary file(s) that a stopped paddy left in {}",
            removed.len(),
            dir.display()
        ));
    }
}
