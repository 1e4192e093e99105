//! The `paddy` binary: everything lives in the library; this only sets the exit code.

fn main() {
    // Rust ignores SIGPIPE, which turns `paddy indices | head` into a panic on the next print;
    // the default action ends the process quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // GDAL's block cache and compression jobs allocate and free megabyte buffers all the time.
    // glibc hands those to mmap/munmap and trims its heap eagerly, so every new buffer is fresh
    // memory, costly to first touch on VMs (a third of paddy index's system time). Keep freed
    // memory for reuse instead; peak RSS does not grow, since the peak is reached anyway.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    with_huge_pages();
    std::process::exit(paddy::cli::main());
}

/// Start again with glibc's malloc asking for transparent huge pages
/// (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, glibc ≥ 2.35), where the kernel gives them only
/// to memory that asks (`madvise`, Debian's default). A county's night first-touches ~700 MiB
/// of tables, series and GDAL blocks: in 4 KiB pages that was 205 000 page faults and 12 % of
/// its CPU samples on a VM; in 2 MiB pages about 85 000 (BENCHMARKS.md, "Huge pages").
/// Tunables are read once, when a process starts, so the only way to set them for GDAL's
/// allocations too is to exec this binary again with them (the same process id, arguments
/// and descriptors). Nothing happens when GLIBC_TUNABLES already names the tunable (set by
/// the user, or this is the second start), for the commands that read and write little, when
/// the kernel gives huge pages to all memory or to none, or with PADDY_NO_HUGE_PAGES set; if
/// the exec fails, paddy runs as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_huge_pages() {
    use std::os::unix::process::CommandExt;
    const TUNABLE: &str = "glibc.malloc.hugetlb";
    // The commands that touch much memory; the others are not worth a second start.
    const HEAVY: [&str; 6] = ["index", "stats", "stage", "prescribe", "run", "merge"];
    if !std::env::args_os().any(|a| a.to_str().is_some_and(|a| HEAVY.contains(&a))) {
        return;
    }
    let tunables = match std::env::var_os("GLIBC_TUNABLES").map(|t| t.into_string()) {
        None => String::new(),
        Some(Ok(t)) => t,
        // Not ours to rewrite.
        Some(Err(_)) => return,
    };
    if tunables.contains(TUNABLE) || std::env::var_os("PADDY_NO_HUGE_PAGES").is_some() {
        return;
    }
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
    if !thp.is_ok_and(|mode| mode.contains("[madvise]")) {
        return;
    }
    let value = if tunables.is_empty() {
        format!("{TUNABLE}=1")
    } else {
        format!("{tunables}:{TUNABLE}=1")
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // Only returns if the exec failed.
    let _ = command.args(args).env("GLIBC_TUNABLES", value).exec();
}
