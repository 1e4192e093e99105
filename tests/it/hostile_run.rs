//! A run treated as a cluster treats it: stopped by SIGTERM or SIGHUP mid-window, killed and
//! swept by the next run, a second run on the same folder, a run file naming what does not
//! exist, outputs changed behind paddy's back.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{all_files, files_in, is_temporary, paddy, paddy_ok, root};

const DATE: &str = "2026-07-18";

/// A 2500 × 1900 five-band copy of a drone tile (about 18 windows: seconds of work with one
/// thread), named like the sample's flights; None (the test says it skipped) without
/// gdal_translate.
fn big_tile(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("drone_20260718.tif");
    let ok = Command::new("gdal_translate")
        .args(["-q", "-outsize", "2500", "1900", "-r", "nearest"])
        .args(["-co", "TILED=YES"])
        .arg(root().join("sample_tiles/drone_20260718.tif"))
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: gdal_translate is not available");
        return None;
    }
    Some(path)
}

/// Wait until the child has started writing (a staging file under `dir`), so a signal lands in
/// the middle of the work; panics if the child ends first.
fn wait_for_staging(child: &mut Child, dir: &Path) {
    let start = Instant::now();
    loop {
        if all_files(dir).iter().any(|f| f.contains(".staging-")) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("paddy ended ({status}) before writing a staging file");
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no staging file after 300 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddy"));
    command
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // paddy leaves a stop signal ignored when it starts with it ignored, as a background job
    // (`cmd &` ignores SIGINT) or `nohup` (SIGHUP) should; the tests may run as either, so the
    // child starts with the default dispositions that a terminal's foreground job has.
    // SAFETY: between fork and exec only signal(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command.spawn().unwrap()
}

#[test]
fn sigint_sigterm_and_sighup_stop_paddy_index_with_nothing_left() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    let t = tile.to_str().unwrap();
    for (sig, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
        (libc::SIGHUP, 129, "SIGHUP"),
    ] {
        let out_dir = tmp.path().join(format!("out-{name}"));
        let o = out_dir.to_str().unwrap();
        let args = ["index", t, "-i", "ndvi,ndre,evi", "-o", o, "-j", "1", "-q"];
        let mut child = spawn(tmp.path(), &args);
        wait_for_staging(&mut child, &out_dir);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "paddy: stopped by {name}: temporary files removed"
            )),
            "{stderr}"
        );
        // No temporary and no final file: the signal came before any output was whole.
        assert_eq!(files_in(&out_dir), Vec::<String>::new(), "{name}");
    }
}

/// A run file over the big tile alone, writing into `<dir>/out`.
fn big_run(dir: &Path, tile: &Path) -> PathBuf {
    std::fs::copy(
        root().join("sample_tiles/plots.geojson"),
        dir.join("plots.geojson"),
    )
    .unwrap();
    let run = dir.join("run.toml");
    let text = format!(
        "output = \"out\"\n[[sources]]\nname = \"drone\"\ntiles = [\"{}\"]\n\
         date_pattern = \"{{yyyy}}{{mm}}{{dd}}\"\nindices = [\"ndvi\", \"ndre\", \"evi\"]\n\
         [plots]\nfiles = [\"plots.geojson\"]\n[machine]\nthreads = 1\n",
        tile.file_name().unwrap().to_str().unwrap()
    );
    std::fs::write(&run, text).unwrap();
    run
}

#[test]
fn sigterm_stops_paddy_run_and_a_second_run_is_refused_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(tile) = big_tile(tmp.path()) else {
        return;
    };
    // Three flights, three index units: a signal late for the first still stops the run
    // midway on a loaded machine.
    for day in ["20260719", "20260720"] {
        std::fs::copy(&tile, tmp.path().join(format!("drone_{day}.tif"))).unwrap();
    }
    let run = big_run(tmp.path(), &tile);
    let text = std::fs::read_to_string(&run).unwrap();
    std::fs::write(
        &run,
        text.replace("drone_20260718.tif", "drone_202607??.tif"),
    )
    .unwrap();
    let r = run.to_str().unwrap();
    let run_dir = tmp.path().join("out").join(DATE);
    let mut child = spawn(tmp.path(), &["run", r, "--run-date", DATE, "-q"]);
    wait_for_staging(&mut child, &run_dir);
    // A second run on the same output root while the first writes: refused, naming the holder.
    let second = paddy(tmp.path(), &["run", r, "--run-date", DATE, "-q"]);
    let e = stderr_of(&second);
    assert_eq!(second.status.code(), Some(1), "{e}");
    assert!(
        e.contains("another paddy run is writing here")
            && e.contains(&format!("pid {}", child.id()))
            && e.contains("--wait"),
        "{e}"
    );
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("paddy: stopped by SIGTERM"), "{stderr}");
    let left = all_files(&run_dir);
    assert!(!left.iter().any(|f| is_temporary(f)), "{left:?}");
    assert!(!left.iter().any(|f| f.starts_with("report.")), "{left:?}");
    // What is left is whole: only the index units that finished (their manifests) left
    // rasters, and the run stopped before the last one.
    let finished: Vec<&String> = left
        .iter()
        .filter(|f| f.starts_with(".paddy/units/index_"))
        .collect();
    assert!(finished.len() < 3, "{left:?}");
    for tif in left.iter().filter(|f| f.ends_with(".tif")) {
        let stem = tif
            .trim_start_matches("index/drone/")
            .rsplit_once('_')
            .map_or("", |(stem, _)| stem);
        let manifest = format!(".paddy/units/index_drone_{stem}.json");
        assert!(
            left.contains(&manifest),
            "{tif} without {manifest}: {left:?}"
        );
    }
}

#[test]
fn stale_temporaries_of_dead_processes_are_swept_and_live_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let tile = tmp.path().join("drone_20260718.tif");
    std::fs::copy(root().join("sample_tiles/drone_20260718.tif"), &tile).unwrap();
    // 4999999 is above Linux's largest pid_max (4194304): a process that cannot be running.
    // This test's own process is alive.
    let live = std::process::id();
    let plant = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        for name in [
            ".other_ndre.tif.staging-4999999".to_string(),
            ".other_ndre.tif.part-4999999.ovr.tmp".to_string(),
            format!(".other_evi.tif.part-{live}"),
        ] {
            std::fs::write(dir.join(name), b"left by a killed paddy").unwrap();
        }
    };
    let kept = vec![format!(".other_evi.tif.part-{live}")];
    // paddy index sweeps its output folder.
    let out = tmp.path().join("out");
    plant(&out);
    let t = tile.to_str().unwrap();
    let done = paddy(tmp.path(), &["index", t, "-i", "ndvi", "-o", "out"]);
    assert!(done.status.success(), "{}", stderr_of(&done));
    assert!(
        stderr_of(&done).contains("removed 2 temporary file(s) that a stopped paddy left"),
        "{}",
        stderr_of(&done)
    );
    let hidden: Vec<String> = files_in(&out)
        .into_iter()
        .filter(|f| f.starts_with('.'))
        .collect();
    assert_eq!(hidden, kept);
    // paddy run sweeps its run folder, sub-folders and manifests included.
    let run = big_run(tmp.path(), &tile);
    let run_dir = tmp.path().join("out-run").join(DATE);
    std::fs::write(
        &run,
        std::fs::read_to_string(&run)
            .unwrap()
            .replace("output = \"out\"", "output = \"out-run\""),
    )
    .unwrap();
    let deep = run_dir.join("index/drone");
    plant(&deep);
    std::fs::create_dir_all(run_dir.join(".paddy/units")).unwrap();
    std::fs::write(run_dir.join(".paddy/units/.x.json.part-4999999"), b"{").unwrap();
    paddy_ok(
        tmp.path(),
        &["run", run.to_str().unwrap(), "--run-date", DATE, "-q"],
    );
    let left: Vec<String> = all_files(&run_dir)
        .into_iter()
        .filter(|f| is_temporary(f))
        .collect();
    assert_eq!(left, vec![format!("index/drone/{}", kept[0])]);
}

/// The drone flights and the plots in `dir`, with a run file whose source reads `source_extra`
/// lines and whose `[plots]` reads `plots_extra`.
fn drone_run(dir: &Path, source_extra: &str, plots_extra: &str) -> PathBuf {
    for f in ["drone_20260626.tif", "drone_20260718.tif", "plots.geojson"] {
        std::fs::copy(root().join("sample_tiles").join(f), dir.join(f)).unwrap();
    }
    let run = dir.join("run.toml");
    let text = format!(
        "output = \"out\"\n[[sources]]\nname = \"drone\"\ntiles = [\"drone_*.tif\"]\n\
         date_pattern = \"{{yyyy}}{{mm}}{{dd}}\"\n{source_extra}\n\
         [plots]\nfiles = [\"plots.geojson\"]\n{plots_extra}\n"
    );
    std::fs::write(&run, text).unwrap();
    run
}

/// What is wrong, the source's lines, the `[plots]` lines, a file made a dangling link, what
/// the message names.
type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a [&'a str]);

#[test]
fn validate_and_run_refuse_what_a_run_could_not_resolve_before_any_work() {
    let ndvi = "indices = [\"ndvi\"]";
    let cases: [Case; 6] = [
        (
            "a misspelt index",
            "indices = [\"ndvi\", \"ndvii\"]",
            "",
            None,
            &["source 'drone': unknown index 'ndvii' (did you mean NDVI"],
        ),
        (
            "an unknown sensor",
            "indices = [\"ndvi\"]\nsensor = \"micasense-altum2\"",
            "",
            None,
            &["source 'drone': sensor: unknown sensor 'micasense-altum2'"],
        ),
        (
            "a plot id field the plot file lacks",
            ndvi,
            "id_field = \"plot_nr\"",
            None,
            &["plots.geojson", "no field 'plot_nr' for the plot ids"],
        ),
        (
            "a dangling link among the tiles",
            ndvi,
            "",
            Some("drone_20260801.tif"),
            &[
                "drone_20260801.tif is a link to",
                "gone/drone_20260801.tif, which does not exist",
            ],
        ),
        (
            "[stats] naming an index no source computes",
            ndvi,
            "[stats]\nindices = [\"ndre\"]",
            None,
            &["[stats] index 'ndre' is not computed by any source"],
        ),
        (
            "a plot file that is a dangling link",
            ndvi,
            "",
            Some("plots.geojson"),
            &[
                "[plots] ",
                "plots.geojson is a link to",
                "gone/plots.geojson, which does not exist",
            ],
        ),
    ];
    for (what, source, plots, dangling, names) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let run = drone_run(tmp.path(), source, plots);
        if let Some(name) = dangling {
            let _ = std::fs::remove_file(tmp.path().join(name));
            std::os::unix::fs::symlink(tmp.path().join("gone").join(name), tmp.path().join(name))
                .unwrap();
        }
        let r = run.to_str().unwrap();
        for command in [&["validate", r][..], &["run", r, "--run-date", DATE][..]] {
            let out = paddy(tmp.path(), command);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                stderr_of(&out)
            );
            assert_eq!(out.status.code(), Some(2), "{what}, {command:?}: {text}");
            for n in names {
                assert!(text.contains(n), "{what}, {command:?}: {text}");
            }
            // Nothing computed, not even the output folder made.
            assert!(!tmp.path().join("out").exists(), "{what}, {command:?}");
        }
    }
}

/// A tile whose name the source's date pattern does not match is a mistake in the run file
/// (exit 2, nothing computed): the message names the tile and the pattern, shows what the
/// pattern reads, and gives a pattern that reads the date the name holds (checked here by
/// reading the name with that pattern through `paddy validate` of a corrected run file).
#[test]
fn a_tile_the_date_pattern_does_not_match_is_named_with_a_pattern_that_would() {
    let tmp = tempfile::tempdir().unwrap();
    let run = drone_run(
        tmp.path(),
        "indices = [\"ndvi\"]",
        "[stage]\nsource = \"drone\"\nindex = \"ndvi\"",
    );
    // A third flight, its date written with dashes.
    let odd = "drone_2026-08-14.tif";
    std::fs::copy(
        root().join("sample_tiles/drone_20260814.tif"),
        tmp.path().join(odd),
    )
    .unwrap();
    let r = run.to_str().unwrap();
    for command in [&["validate", r][..], &["run", r, "--run-date", DATE][..]] {
        let out = paddy(tmp.path(), command);
        let text = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {text}");
        for says in [
            &format!("{}: source 'drone': tile ", run.display())[..],
            &format!("{odd} does not match date_pattern \"{{yyyy}}{{mm}}{{dd}}\"")[..],
            "which reads dates written as '20260718'",
            "for this name, date_pattern = \"{yyyy}-{mm}-{dd}\" would read 2026-08-14",
        ] {
            assert!(text.contains(says), "{command:?}: no {says:?} in {text}");
        }
        assert!(!text.contains("give a date_pattern"), "{text}");
        assert!(!tmp.path().join("out").exists(), "{command:?}");
    }
    // The pattern suggested reads every tile of the source once they are named alike.
    for (from, to) in [
        ("drone_20260626.tif", "drone_2026-06-26.tif"),
        ("drone_20260718.tif", "drone_2026-07-18.tif"),
    ] {
        std::fs::rename(tmp.path().join(from), tmp.path().join(to)).unwrap();
    }
    let text = std::fs::read_to_string(&run)
        .unwrap()
        .replace("{yyyy}{mm}{dd}", "{yyyy}-{mm}-{dd}");
    std::fs::write(&run, text).unwrap();
    let out = paddy(tmp.path(), &["validate", r]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A name with no date at all: said so, exit 2 as well.
    std::fs::rename(tmp.path().join(odd), tmp.path().join("drone_latest.tif")).unwrap();
    let out = paddy(tmp.path(), &["run", r, "--run-date", DATE]);
    let text = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("drone_latest.tif does not match date_pattern")
            && text.contains("its name holds no date"),
        "{text}"
    );
}

/// Flip every byte of `path` from `from` for `len` bytes, in place: the size stays.
fn flip_bytes(path: &Path, from: usize, len: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    for b in &mut bytes[from..from + len] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_names_changed_outputs_and_a_resumed_run_redoes_resized_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let run = drone_run(tmp.path(), "indices = [\"ndvi\", \"ndre\"]", "[stats]");
    let r = run.to_str().unwrap();
    paddy_ok(tmp.path(), &["run", r, "--run-date", DATE, "-q"]);
    let rd = tmp.path().join("out").join(DATE);
    let rd_s = rd.to_str().unwrap();
    let fine = paddy_ok(tmp.path(), &["verify", rd_s]);
    assert!(
        fine.contains("16 file(s) of 4 unit(s) checked: 16 as written, 0 not"),
        "{fine}"
    );
    // A ZSTD tile's bytes changed in place, its size kept (the last quarter of the file: tile
    // data, past the header and the tile offsets).
    let tif = rd.join("index/drone/drone_20260718_ndvi.tif");
    let size = std::fs::metadata(&tif).unwrap().len() as usize;
    flip_bytes(&tif, size * 3 / 4, 64);
    assert_eq!(std::fs::metadata(&tif).unwrap().len() as usize, size);
    // A quicklook of the other flight cut short.
    let png = rd.join("index/drone/drone_20260626_ndre.png");
    let bytes = std::fs::read(&png).unwrap();
    std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
    let out = paddy(tmp.path(), &["verify", rd_s]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr_of(&out));
    assert!(
        text.contains(
            "changed      index/drone/drone_20260718_ndvi.tif (unit index:drone:drone_20260718)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "size changed index/drone/drone_20260626_ndre.png (unit index:drone:drone_20260626)"
        ),
        "{text}"
    );
    assert!(stderr_of(&out).contains("2 output file(s) are not what paddy wrote"));
    let json = paddy(tmp.path(), &["verify", rd_s, "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let state = |p: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .map(|f| f["state"].as_str().unwrap().to_string())
    };
    assert_eq!(
        state("index/drone/drone_20260718_ndvi.tif").as_deref(),
        Some("changed")
    );
    assert_eq!(
        state("index/drone/drone_20260626_ndre.png").as_deref(),
        Some("size-changed")
    );
    assert_eq!(
        state("index/drone/drone_20260718_ndre.tif").as_deref(),
        Some("ok")
    );
    // A resumed run compares sizes only: the resized file's unit runs again, and says why; the
    // same-size damage is for verify to find.
    let again = paddy(tmp.path(), &["run", r, "--run-date", DATE]);
    let log = stderr_of(&again);
    assert!(again.status.success(), "{log}");
    assert!(
        log.contains("index:drone:drone_20260626")
            && log.contains(
                "[run again: index/drone/drone_20260626_ndre.png changed size since it was written"
            ),
        "{log}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rd.join("report.json")).unwrap()).unwrap();
    let status = |id: &str| {
        report["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .map(|u| u["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("index:drone:drone_20260626").as_deref(), Some("ok"));
    assert_eq!(
        status("index:drone:drone_20260718").as_deref(),
        Some("skipped-up-to-date")
    );
    assert_eq!(std::fs::read(&png).unwrap().len(), bytes.len());
    let out = paddy(tmp.path(), &["verify", rd_s, "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        ["changed      index/drone/drone_20260718_ndvi.tif (unit index:drone:drone_20260718)"]
    );
    // Not a run folder: a usage mistake.
    let out = paddy(tmp.path(), &["verify", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("not a run folder"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_run_waiting_for_the_lock_stops_on_sigterm_and_runs_once_it_is_free() {
    let tmp = tempfile::tempdir().unwrap();
    let run = drone_run(tmp.path(), "indices = [\"ndvi\"]", "");
    let r = run.to_str().unwrap();
    let root = tmp.path().join("out");
    // Another run holds the output root.
    let held = paddy::batch::lock::acquire(&root, false, false).unwrap();
    let args = ["run", r, "--run-date", DATE, "--wait"];
    // The first line of the child's stderr, and the reader for the rest (kept open: paddy's
    // last line would end it with SIGPIPE on a closed pipe).
    let waiting_line = |child: &mut Child| {
        use std::io::BufRead;
        let mut rest = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        rest.read_line(&mut line).unwrap();
        (line, rest)
    };
    let rest_of = |mut rest: std::io::BufReader<std::process::ChildStderr>| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut rest, &mut text).unwrap();
        text
    };
    let mut child = spawn(tmp.path(), &args);
    let (line, rest) = waiting_line(&mut child);
    assert!(
        line.contains("another paddy run is writing in") && line.contains("waiting for it to end"),
        "{line}"
    );
    signal(&child, libc::SIGTERM);
    let text = rest_of(rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{text}");
    assert!(text.starts_with("paddy: stopped by SIGTERM"), "{text}");
    assert!(!root.join(DATE).exists(), "nothing written while waiting");
    // Freed: a waiting run goes ahead.
    let mut child = spawn(tmp.path(), &args);
    let (line, rest) = waiting_line(&mut child);
    assert!(line.contains("waiting for it to end"), "{line}");
    drop(held);
    let text = rest_of(rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(root.join(DATE).join("report.json").exists());
}
