//! `paddy verify`: are a run's outputs still what paddy wrote?

use std::path::PathBuf;

use clap::Args;

use crate::batch::integrity::{self, State};
use crate::error::{Error, Result};

/// Check a run's outputs against the SHA-256 hashes recorded when paddy wrote them.
///
/// Every output that the units' manifests record (RUN_DIR/.paddy/units) is hashed again and
/// compared with its recorded size and hash; each file changed, missing or unreadable is named.
///
/// A resumed `paddy run` compares sizes only (cheap) and runs again a unit whose file changed
/// size or is gone. Damage that keeps the size (a flipped byte in a ZSTD tile, which GDAL may
/// decode without any error) only a hash finds: run this after copying a run, before
/// delivering prescriptions, or from cron on archived runs.
///
/// Exit codes: 0 every file as written; 1 a file changed, is missing or unreadable (each named
/// on stdout); 2 RUN_DIR is not a run folder.
///
/// Example:  paddy verify out/nightly/2026-07-18
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// A run folder: <output>/<run date> of a run file.
    #[arg(value_name = "RUN_DIR")]
    run_dir: PathBuf,

    /// Print the result as JSON (every file, its state, recorded and present size and hash).
    #[arg(long)]
    json: bool,

    /// Only the problems.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn word(state: State) -> &'static str {
    match state {
        State::Ok => "ok",
        State::Missing => "missing",
        State::SizeChanged => "size changed",
        State::Changed => "changed",
        State::Unreadable => "unreadable",
    }
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let verified = integrity::verify(&args.run_dir)?;
    let bad: Vec<_> = verified
        .files
        .iter()
        .filter(|f| f.state != State::Ok)
        .collect();
    if args.json {
        let text = serde_json::to_string_pretty(&verified)
            .map_err(|e| Error::internal(format!("cannot format the result: {e}")))?;
        println!("{text}");
    } else {
        for f in &bad {
            let sizes = match f.size_now {
                Some(now) if now != f.size => format!(" ({} bytes written, {now} now)", f.size),
                _ => String::new(),
            };
            println!("{:<12} {} (unit {}){sizes}", word(f.state), f.path, f.unit);
        }
        if !args.quiet {
            for u in &verified.unrecorded_units {
                println!("unrecorded   unit {u}: its manifest has no hashes (an older paddy wrote it; `paddy run --force` records them)");
            }
            println!(
                "{} file(s) of {} unit(s) checked: {} as written, {} not",
                verified.files.len(),
                verified.units,
                verified.files.len() - bad.len(),
                bad.len()
            );
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Input {
            path: args.run_dir,
            message: format!(
                "{} output file(s) are not what paddy wrote: {}",
                bad.len(),
                bad.iter()
                    .map(|f| format!("{} ({})", f.path, word(f.state)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}
