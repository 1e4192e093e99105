//! paddy starts its heavy commands again with glibc's malloc asking for transparent huge pages
//! (src/main.rs, `with_huge_pages`): the second start keeps the arguments, with the user's
//! own tunables set, and PADDY_NO_HUGE_PAGES turns it off.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `paddy index` on a FIFO nobody writes to: it blocks opening it, long enough to be looked
/// at. With PADDY_NO_HUGE_PAGES set when `opt_out`.
fn blocked_paddy(fifo: &Path, out: &Path, opt_out: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddy"));
    command
        .arg("index")
        .arg(fifo)
        .args(["--index", "ndvi", "--out"])
        .arg(out)
        .env("GLIBC_TUNABLES", "glibc.malloc.tcache_count=7")
        .env_remove("PADDY_NO_HUGE_PAGES")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if opt_out {
        command.env("PADDY_NO_HUGE_PAGES", "1");
    }
    command.spawn().unwrap()
}

/// Waits until process `pid` blocks opening the FIFO (the kernel's wait_for_partner), then
/// tells whether a mapping of its memory is advised for huge pages (`hg` in its VmFlags: what
/// glibc's malloc does with glibc.malloc.hugetlb=1), and gives its command line.
fn advised_when_blocked(pid: u32) -> (bool, Vec<String>) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("wait_for_partner") {
            let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
            let advised = smaps
                .lines()
                .any(|l| l.starts_with("VmFlags:") && l.split_whitespace().any(|f| f == "hg"));
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            let args = cmdline
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            return (advised, args);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("paddy never blocked on the FIFO");
}

#[test]
fn a_heavy_command_starts_again_with_huge_pages_and_the_same_arguments() {
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || !thp.is_ok_and(|m| m.contains("[madvise]"))
    {
        eprintln!("SKIPPED: transparent huge pages are not in madvise mode here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("tile with spaces.tif");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = dir.path().join("out dir");
    for opt_out in [false, true] {
        let mut child = blocked_paddy(&fifo, &out, opt_out);
        let (advised, args) = advised_when_blocked(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            advised, !opt_out,
            "huge pages asked for (opted out: {opt_out})"
        );
        let want: Vec<String> = [
            env!("CARGO_BIN_EXE_paddy").to_string(),
            "index".into(),
            fifo.display().to_string(),
            "--index".into(),
            "ndvi".into(),
            "--out".into(),
            out.display().to_string(),
        ]
        .into();
        assert_eq!(args, want);
    }
}
