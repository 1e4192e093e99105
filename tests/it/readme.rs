//! The README's command examples run as written: every `paddy` command of its ```sh blocks is
//! run, in order, in a temporary folder holding a copy of sample_tiles/ (and ../shared beside it,
//! as beside a checkout). A command whose input files are not there (placeholders such as
//! `S2_tile.tif`, or outputs of a command that was itself skipped) is skipped and listed.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// The `paddy` commands of the README's ```sh blocks, continuation lines joined, comments cut.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = match trimmed.find(" #") {
            Some(i) if !trimmed[..i].contains('\'') => trimmed[..i].trim_end(),
            _ => trimmed,
        };
        if code.starts_with('#') {
            continue;
        }
        pending.push_str(code.trim_end_matches('\\').trim_end());
        pending.push(' ');
        if !code.ends_with('\\') {
            let command = pending.trim().to_string();
            pending.clear();
            let first = command.split_whitespace().next().unwrap_or("");
            if first == "paddy" || first == "target/release/paddy" {
                commands.push(command);
            }
        }
    }
    commands
}

/// The command's words, single quotes honoured.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut word, mut quoted) = (String::new(), false);
    for c in command.chars() {
        match c {
            '\'' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Input files the command names that are not in `dir` (outputs: values of --out, --chart,
/// --per-pixel and a `>` redirect).
fn missing_inputs(command: &str, dir: &Path) -> Vec<String> {
    let data = [
        ".tif", ".TIF", ".jp2", ".toml", ".geojson", ".shp", ".gpkg", ".csv", ".json", ".zip",
        ".tar", ".SAFE",
    ];
    let w = words(command);
    let mut missing = Vec::new();
    for (i, word) in w.iter().enumerate().skip(1) {
        let previous = w[i - 1].as_str();
        if matches!(previous, "--out" | "-o" | "--chart" | "--per-pixel" | ">") {
            continue;
        }
        // --band ROLE=FILE[:BAND] names a file too.
        let word = match (previous, word.split_once('=')) {
            ("--band" | "-b", Some((_, file))) => file.rsplit_once(':').map_or(file, |(f, _)| f),
            _ => word.as_str(),
        };
        if word.starts_with("https://") || word.starts_with("http://") || word.starts_with("s3://")
        {
            missing.push(format!("{word} (needs the internet)"));
            continue;
        }
        if word.starts_with('-') || !data.iter().any(|e| word.ends_with(e)) {
            continue;
        }
        let exists = if word.contains('*') {
            let probe = Command::new("bash")
                .current_dir(dir)
                .args(["-c", &format!("compgen -G '{word}'")])
                .output()
                .expect("bash runs");
            !probe.stdout.is_empty()
        } else {
            dir.join(word).exists()
        };
        if !exists {
            missing.push(word.to_string());
        }
    }
    missing
}

#[test]
fn readme_examples_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(commands.len() >= 10, "found only {commands:?}");

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    std::fs::create_dir(&work).unwrap();
    let copied = Command::new("cp")
        .args(["-r", root().join("sample_tiles").to_str().unwrap()])
        .arg(&work)
        .status()
        .unwrap();
    assert!(copied.success());
    let shared = root().join("../shared");
    if shared.is_dir() {
        std::os::unix::fs::symlink(shared.canonicalize().unwrap(), tmp.path().join("shared"))
            .unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_paddy")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for command in &commands {
        let missing = missing_inputs(command, &work);
        if !missing.is_empty() {
            skipped.push(format!(
                "{command}\n    (not available: {})",
                missing.join(", ")
            ));
            continue;
        }
        let runnable = command.replacen("target/release/paddy", "paddy", 1);
        let out = Command::new("bash")
            .current_dir(&work)
            .env("PATH", &path)
            .args(["-c", &runnable])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command failed ({:?}): {command}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        ran.push(command.clone());
    }
    eprintln!("README commands run ({}):", ran.len());
    for c in &ran {
        eprintln!("  {c}");
    }
    eprintln!("README commands SKIPPED, their inputs are placeholders or not available here:");
    for c in &skipped {
        eprintln!("  {c}");
    }
    // The examples on the sample data must be among those run, not skipped.
    for must in [
        "paddy run sample_tiles/nightly.toml",
        "paddy index sample_tiles/s2_2026*.tif",
        "paddy index sample_tiles/drone_20260626.tif sample_tiles/drone_20260718.tif",
        "paddy prescribe --plots sample_tiles/plots.geojson --at 2026-07-18",
    ] {
        assert!(
            ran.iter().any(|c| c.contains(must)),
            "'{must}' did not run; skipped: {skipped:#?}"
        );
    }
}

#[test]
fn commands_are_extracted_with_continuations_and_without_comments() {
    let text = "x\n```sh\n# c\npaddy a b \\\n    --c d   # note\nls\n```\n```toml\npaddy no\n```\n";
    assert_eq!(readme_commands(text), ["paddy a b --c d"]);
    assert_eq!(
        words("paddy --expr 'A=(N - R)'"),
        ["paddy", "--expr", "A=(N - R)"]
    );
}

/// `paddy --help` says in one line what `merge` and `verify` do, in the words that teach it
/// (the shards it finishes, the hashes it checks), and the README's list of commands names every
/// command the help lists.
#[test]
fn the_help_summaries_teach_merge_and_verify_and_the_readme_lists_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let help = paddy_ok(tmp.path(), &["--help"]);
    // The commands section: "  name   summary", a wrapped summary going on on lines that start
    // with spaces only.
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let section = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap();
    for line in section.lines() {
        let text = line.trim();
        match line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            Some(l) => {
                let (name, summary) = l.split_once(' ').unwrap();
                commands.push((name.to_string(), vec![summary.trim().to_string()]));
            }
            None => commands.last_mut().unwrap().1.push(text.to_string()),
        }
    }
    let summary = |name: &str| {
        let (_, lines) = commands.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(lines.len(), 1, "{name}'s summary wraps: {lines:?}");
        lines[0].clone()
    };
    let merge = summary("merge");
    assert!(
        merge.contains("--shard") && merge.contains("report"),
        "{merge}"
    );
    let verify = summary("verify");
    assert!(
        verify.contains("SHA-256") && verify.contains("outputs"),
        "{verify}"
    );
    // merge takes no --shard: its help does not offer one.
    let merge_help = paddy_ok(tmp.path(), &["merge", "--help"]);
    assert!(!merge_help.contains("--shard <"), "{merge_help}");
    assert!(paddy_ok(tmp.path(), &["run", "--help"]).contains("--shard <"));
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let list = readme
        .split("Commands: ")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap();
    for (name, _) in commands.iter().filter(|(n, _)| n != "help") {
        assert!(
            list.contains(&format!("`paddy {name}`")),
            "README's list lacks {name}"
        );
    }
}
