//! Stopping cleanly on SIGINT (Ctrl-C), SIGTERM (Slurm, Kubernetes, `kill`) and SIGHUP (a closed
//! terminal): the first signal asks the work to stop at its next window (or, in `paddy run`,
//! before its next unit); nothing is published after it, temporaries are removed as the work
//! unwinds, and the process exits with 128 + the signal's number (130, 143, 129), as a shell
//! reports a process the signal ended. A second signal ends the process at once (the next
//! `paddy index` or `paddy run` sweeps what it left).

use std::sync::atomic::{AtomicI32, Ordering};

/// The first stop signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals that stop paddy.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: atomic stores and _exit.
    if RECEIVED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: _exit is async-signal-safe; it ends the process without running destructors.
        unsafe { libc::_exit(128 + signal) };
    }
    crate::raster::engine::request_stop();
}

/// Handle the stop signals; one the process was started ignoring (`nohup` ignores SIGHUP, a
/// shell's background job SIGINT) stays ignored.
pub fn install() {
    for signal in STOP_SIGNALS {
        // SAFETY: sigaction with zeroed, then filled structs; the handler only stores atomics.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The stop signal received, if any: its name and the exit code it gives (128 + its number).
pub fn received() -> Option<(&'static str, i32)> {
    let signal = RECEIVED.load(Ordering::SeqCst);
    let name = match signal {
        0 => return None,
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    };
    Some((name, 128 + signal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        // The numbers are POSIX's on Linux and the BSDs; shells report 128 + N.
        assert_eq!(128 + libc::SIGINT, 130);
        assert_eq!(128 + libc::SIGTERM, 143);
        assert_eq!(128 + libc::SIGHUP, 129);
        assert_eq!(received(), None);
    }
}
