//! One writer per output root: an advisory lock (flock) on `<root>/.paddy.lock`. A full run or
//! a merge holds it exclusively; shards share it (each runs its own units), so a full run and
//! shards never write at once. The lock goes with the process, even on SIGKILL.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

/// Take the lock on `root` (created if needed): `shared` for shards. With `wait`, wait until
/// the other run ends (or a signal stops this one); else fail at once, saying who holds it.
pub fn acquire(root: &Path, shared: bool, wait: bool) -> Result<Lock> {
    std::fs::create_dir_all(root).map_err(|source| Error::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let path = root.join(".paddy.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    let mode = if shared { libc::LOCK_SH } else { libc::LOCK_EX };
    // Waiting polls rather than blocks in flock, which a signal does not interrupt (the
    // handlers restart system calls): a stop asked for while waiting ends the wait.
    let taken = loop {
        // SAFETY: flock on a file descriptor this process owns for the life of `file`.
        let rc =
            unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), mode | libc::LOCK_NB) };
        if rc == 0 || !wait {
            break rc == 0;
        }
        if crate::raster::engine::stop_requested() {
            return Err(Error::Interrupted);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    if !taken {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(Error::Input {
            path: root.to_path_buf(),
            message: format!(
                "another paddy run is writing here ({}); wait for it, or pass --wait",
                if holder.trim().is_empty() {
                    "pid unknown".into()
                } else {
                    holder.trim().to_string()
                }
            ),
        });
    }
    if !shared {
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {}", std::process::id());
    }
    Ok(Lock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_exclusive_lock_is_refused_and_shared_locks_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let a = acquire(dir.path(), false, false).unwrap();
        let e = acquire(dir.path(), false, false).unwrap_err().to_string();
        assert!(e.contains("another paddy run") && e.contains("pid"), "{e}");
        assert!(acquire(dir.path(), true, false).is_err());
        drop(a);
        let s1 = acquire(dir.path(), true, false).unwrap();
        let _s2 = acquire(dir.path(), true, false).unwrap();
        assert!(acquire(dir.path(), false, false).is_err());
        drop(s1);
    }
}
