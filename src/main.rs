//! The `paddy` binary: everything lives in the library; this only sets the exit code.

fn main() {
    // Rust ignores SIGPIPE, which turns `paddy indices | head` into a panic on the next print;
    // the default action ends the process quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(paddy::cli::main());
}
