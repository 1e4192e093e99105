//! The `paddy` binary: everything lives in the library; this only sets the exit code.

fn main() {
    std::process::exit(paddy::cli::main());
}
