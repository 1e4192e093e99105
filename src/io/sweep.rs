//! Sweeping what a process that died (SIGKILL, power loss, a second Ctrl-C) left behind: paddy's
//! temporaries are hidden names tagged with the writer's process id — `.name.tif.staging-PID`,
//! `.name.tif.part-PID` and GDAL's side files of them (`.part-PID.ovr.tmp`), `.name.part-PID`
//! folders of zipped shapefiles. One whose process no longer runs on this machine is stale;
//! one of a live process (another paddy writing there now) is left alone.

use std::path::Path;

/// The process id in a paddy temporary's name, or None for any other name: a hidden name with
/// `.staging-DIGITS` or `.part-DIGITS` followed by the end or a dot.
pub fn temporary_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    ["staging-", "part-"].iter().find_map(|tag| {
        name.match_indices(&format!(".{tag}")).find_map(|(at, m)| {
            let rest = &name[at + m.len()..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let after = &rest[digits..];
            if digits == 0 || !(after.is_empty() || after.starts_with('.')) {
                return None;
            }
            rest[..digits].parse().ok()
        })
    })
}

/// Whether process `pid` runs on this machine (signal 0 checks without sending anything; a
/// process of another user answers EPERM, and is alive).
pub fn process_alive(pid: u32) -> bool {
    let Ok(id) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if id <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks the process exists.
    let rc = unsafe { libc::kill(id, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Remove the stale temporaries in `dir` (and its sub-folders when `deep`): those whose process
/// is dead. Returns the paths removed. Unreadable folders and files that cannot be removed are
/// passed over: a sweep never fails the work it comes before.
pub fn sweep_temporaries(dir: &Path, deep: bool) -> Vec<std::path::PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Not followed: a link to a folder elsewhere is not ours to sweep.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        match temporary_pid(&name) {
            Some(pid) if pid != std::process::id() && !process_alive(pid) => {
                let gone = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                if gone.is_ok() {
                    removed.push(path);
                }
            }
            Some(_) => {}
            None if deep && is_dir => removed.extend(sweep_temporaries(&path, true)),
            None => {}
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_told_from_other_names() {
        assert_eq!(temporary_pid(".a_ndvi.tif.staging-123"), Some(123));
        assert_eq!(temporary_pid(".a_ndvi.tif.part-77.ovr.tmp"), Some(77));
        assert_eq!(temporary_pid(".plots.part-9.shp.zip"), Some(9));
        assert_eq!(temporary_pid(".report.json.part-4"), Some(4));
        // Not hidden, no digits, digits run into letters: not paddy's.
        assert_eq!(temporary_pid("a.tif.part-12"), None);
        assert_eq!(temporary_pid(".a.tif.part-"), None);
        assert_eq!(temporary_pid(".a.tif.part-12x"), None);
        assert_eq!(temporary_pid(".paddy.lock"), None);
        assert_eq!(temporary_pid(".my.party-3"), None);
    }

    #[test]
    fn only_temporaries_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("index");
        std::fs::create_dir(&sub).unwrap();
        // 4999999 is above Linux's largest pid_max (4194304): never a live process.
        let dead = sub.join(".x.tif.staging-4999999");
        let dead_dir = dir.path().join(".plots.part-4999999");
        let mine = sub.join(format!(".x.tif.part-{}", std::process::id()));
        let other = sub.join("x.tif");
        for f in [&dead, &mine, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        std::fs::create_dir(&dead_dir).unwrap();
        std::fs::write(dead_dir.join("plots.shp"), b"x").unwrap();
        // Shallow: only the top folder.
        assert_eq!(sweep_temporaries(dir.path(), false), vec![dead_dir.clone()]);
        assert!(dead.exists());
        assert_eq!(sweep_temporaries(dir.path(), true), vec![dead.clone()]);
        assert!(mine.exists() && other.exists() && !dead_dir.exists());
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(4_999_999));
    }
}
