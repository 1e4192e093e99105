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
    std::process::exit(paddy::cli::main());
}
