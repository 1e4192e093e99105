//! Units an earlier night already did: each night is a run folder of its own
//! (`<output>/<run date>/`), and a unit that is not up to date in tonight's folder may have
//! been done, with the same key, in another folder of the same output root. Its files are then
//! brought into tonight's folder by hard link (a copy where linking fails) instead of being
//! computed and written again: a county's indices and statistics are a minute of CPU and
//! 4 GB a night, and only the new tile's units and the season's stage change.
//!
//! The key decides, as for a resumed run: a folder of another run file, or of another paddy,
//! whose unit has the same id but another key is passed over. Its files must still be as its
//! manifest records them (the sizes, as a resumed run checks them; a copy is rehashed as it is
//! read); the styles beside its tables, which no manifest records, come along. They are linked
//! under temporary names, all renamed once all are there, and the unit's manifest is written
//! last, so that a run killed at any moment leaves no partial file under a final name and a
//! unit that is not yet up to date (the next run brings it again).
//!
//! A hard link shares the file with the other folder: that is safe because paddy never writes
//! into an existing file. Every output is written under a temporary name and renamed into
//! place (`io::write_atomic`/`write_atomically`, `TempPath::persist`, the COG and table
//! writers); the only writes into an open file (`io::cog::assemble` moving tiles "in place",
//! GDAL building overviews, `io::table` joining GeoJSON parts) work on those temporaries before
//! their rename. A rerun that computes a unit again (`--force`, a new key) renames a new file
//! over the link, so the folder it was linked from keeps its own.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::TempPath;

use super::integrity::{self, Recorded};
use super::plan::Unit;
use super::report::{Outcome, OutputKind};
use super::schedule::{self, Manifest};

/// Another run folder of the output root: its date (its name) and its path.
#[derive(Debug, Clone)]
pub struct Folder {
    pub date: String,
    pub dir: PathBuf,
}

/// The run folders of output root `root` other than `current`'s (folders named by a run date,
/// YYYY-MM-DD, holding units' manifests), the most recent date first.
pub fn folders(root: &Path, current: &str) -> Vec<Folder> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<Folder> = entries
        .flatten()
        .filter_map(|e| {
            let date = e.file_name().to_str()?.to_string();
            let dated = schedule::run_date(&date).ok()? == date;
            let dir = e.path();
            (dated && date != current && dir.join(".paddy").join("units").is_dir())
                .then_some(Folder { date, dir })
        })
        .collect();
    // YYYY-MM-DD sorts as the dates do.
    found.sort_by(|a, b| b.date.cmp(&a.date));
    found
}

/// The most recent folder of `folders` where `unit` completed with its key and its files are
/// still there with their sizes, with the manifest it has there; or None, with why the folders
/// that had it could not give it (an output gone or resized), for the log.
pub(super) fn find<'a>(
    folders: &'a [Folder],
    unit: &Unit,
) -> std::result::Result<(&'a Folder, Manifest), Option<String>> {
    let mut why = None;
    for folder in folders {
        let Some(m) = manifest_with_key(&folder.dir, unit) else {
            continue;
        };
        if !reusable(&m.outcome) {
            return Err(None);
        }
        match integrity::size_change(&folder.dir, &m.files) {
            None => return Ok((folder, m)),
            Some(change) => {
                why.get_or_insert(format!("not reused from {}: {change}", folder.date));
            }
        }
    }
    Err(why)
}

/// The date of the folder of `folders` that `unit` would be brought from (for `--dry-run`).
pub fn source<'a>(folders: &'a [Folder], unit: &Unit) -> Option<&'a str> {
    find(folders, unit).ok().map(|(f, _)| f.date.as_str())
}

/// Whether a unit can be brought. A prescription's ISOXML task (`TASKDATA_*/TASKDATA.XML`) has
/// its grid (`GRD00001.BIN`, the rates a terminal applies) beside it, which no manifest
/// records and so nothing can check: such a unit is computed again (seconds, not minutes).
fn reusable(outcome: &Outcome) -> bool {
    outcome.outputs.iter().all(|o| o.kind != OutputKind::Isoxml)
}

/// `unit`'s manifest in run folder `dir` when it is of this paddy's format, id and key. Only
/// the head of the file is read for a folder whose unit has another key: a county's stage and
/// prescription manifests are megabytes, and a season has a folder a night.
fn manifest_with_key(dir: &Path, unit: &Unit) -> Option<Manifest> {
    let path = schedule::manifest_path(dir, &unit.id);
    let mut head = Vec::new();
    std::fs::File::open(&path)
        .ok()?
        .take(HEAD)
        .read_to_end(&mut head)
        .ok()?;
    // The manifest is compact JSON with its key near the start; a key is hex.
    let wanted = format!("\"key\":\"{}\"", unit.key);
    if !head.windows(wanted.len()).any(|w| w == wanted.as_bytes()) {
        return None;
    }
    let m: Manifest = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    (m.format == schedule::MANIFEST_FORMAT && m.id == unit.id && m.key == unit.key).then_some(m)
}

/// How much of a manifest is read to find its key (its format, id and key come first).
const HEAD: u64 = 64 * 1024;

/// Bring `unit`'s files from `from` (where `m` is its manifest) into run folder `dir`: each
/// linked (or copied) under a temporary name beside its place and checked, then all renamed
/// into place, then the unit's manifest. Returns the unit's outcome as recorded there.
pub(super) fn bring(from: &Folder, m: &Manifest, dir: &Path, unit: &Unit) -> Result<Outcome> {
    let mut staged: Vec<(TempPath, PathBuf)> = Vec::with_capacity(m.files.len());
    let recorded = m.files.iter().map(|f| (PathBuf::from(&f.path), Some(f)));
    let beside = unrecorded(from, m).into_iter().map(|rel| (rel, None));
    for (rel, f) in recorded.chain(beside) {
        let (source, dest) = (from.dir.join(&rel), dir.join(&rel));
        if same_file(&source, &dest) {
            // Brought already by a run killed before the manifest: renaming a link over another
            // link to the same file would leave the temporary.
            continue;
        }
        let temp = TempPath::beside(&dest, "part");
        create_parent(&dest)?;
        link_or_copy(&source, temp.path(), f)?;
        staged.push((temp, dest));
    }
    for (temp, dest) in staged {
        temp.persist(&dest)?;
    }
    // The files are those the manifest there records, checked: their hashes stand (rehashing
    // them would read what linking saves reading; `paddy verify` rehashes).
    schedule::write_manifest_of(dir, unit, &m.outcome, m.files.clone())?;
    Ok(m.outcome.clone())
}

/// The files a unit wrote beside those its manifest records, which no manifest records, as
/// they are in folder `from` (relative to it): each vector's QGIS style (`name.qml` beside a
/// statistics or stage table's `name.geojson`), and a statistics unit's kept columns for the
/// stage (`.paddy/stats/*.bin`, checked by their own digest when read; without it the stage
/// parses the table). They are brought when there; nothing says what their size should be.
fn unrecorded(from: &Folder, m: &Manifest) -> Vec<PathBuf> {
    let recorded: HashSet<&Path> = m.files.iter().map(|f| Path::new(&f.path)).collect();
    let styles = m
        .files
        .iter()
        .filter_map(|f| crate::export::styles::sidecar(Path::new(&f.path)))
        .filter(|style| !recorded.contains(style.as_path()));
    let tables = m.outcome.outputs.iter();
    let kept = tables
        .filter(|o| o.kind == OutputKind::Stats && o.path.ends_with(".csv"))
        .filter_map(|o| super::reuse::kept_path(Path::new(""), Path::new(&o.path)));
    let mut found: Vec<PathBuf> = styles
        .chain(kept)
        .filter(|rel| from.dir.join(rel).is_file())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether `a` and `b` are the same file (one inode on one device).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

/// `source` at `temp`: a hard link, else (another filesystem, too many links, a filesystem
/// without links) a copy. With `recorded`, a link must have the recorded size and a copy the
/// recorded size and SHA-256 (it is read anyway).
fn link_or_copy(source: &Path, temp: &Path, recorded: Option<&Recorded>) -> Result<()> {
    let changed = |what: String| Error::Input {
        path: source.to_path_buf(),
        message: format!("{what} since it was written"),
    };
    if std::fs::hard_link(source, temp).is_ok() {
        let size = std::fs::metadata(temp)
            .map_err(|e| io_error(temp, e))?
            .len();
        return match recorded {
            Some(r) if size != r.size => Err(changed(format!(
                "changed size ({} bytes, now {size})",
                r.size
            ))),
            _ => Ok(()),
        };
    }
    let (size, sha256) = copy_hashing(source, temp)?;
    match recorded {
        Some(r) if size != r.size || sha256 != r.sha256 => Err(changed("changed".to_string())),
        _ => Ok(()),
    }
}

/// Copy `source` to `dest` (created), returning the size and SHA-256 (hex) of what was copied.
fn copy_hashing(source: &Path, dest: &Path) -> Result<(u64, String)> {
    let mut from = std::fs::File::open(source).map_err(|e| io_error(source, e))?;
    let mut to = std::fs::File::create(dest).map_err(|e| io_error(dest, e))?;
    // A failed write is the copy's error, a failed read the source's.
    let mut write_error = None;
    let hashed = super::integrity::hash_stream(&mut from, |piece| {
        to.write_all(piece).map_err(|e| {
            let kind = e.kind();
            write_error = Some(e);
            std::io::Error::from(kind)
        })
    });
    match (hashed, write_error) {
        (_, Some(e)) => Err(io_error(dest, e)),
        (Err(e), None) => Err(io_error(source, e)),
        (Ok(done), None) => Ok(done),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::Work;
    use super::super::report::OutputFile;
    use super::*;

    fn unit(key: &str) -> Unit {
        Unit {
            id: "index:s2:s2_20260607".into(),
            work: Work::Index { source: 0, tile: 0 },
            deps: vec![],
            inputs: vec![],
            key: key.into(),
            shard_key: None,
        }
    }

    /// Run folder `date` under `root` where `unit` completed with one output, `index/a.tif`.
    fn done(root: &Path, date: &str, unit: &Unit, bytes: &[u8]) -> (PathBuf, Outcome) {
        let dir = root.join(date);
        std::fs::create_dir_all(dir.join("index")).unwrap();
        std::fs::create_dir_all(dir.join(".paddy/units")).unwrap();
        std::fs::write(dir.join("index/a.tif"), bytes).unwrap();
        let outcome = Outcome {
            outputs: vec![OutputFile {
                path: "index/a.tif".into(),
                kind: OutputKind::Index,
            }],
            ..Outcome::default()
        };
        let files = integrity::record(&dir, &outcome.outputs).unwrap();
        schedule::write_manifest_of(&dir, unit, &outcome, files).unwrap();
        (dir, outcome)
    }

    #[test]
    fn the_other_run_folders_most_recent_first() {
        let root = tempfile::tempdir().unwrap();
        for name in [
            "2026-07-01",
            "2026-07-20",
            "2026-07-10",
            "20260705",
            "notes",
        ] {
            std::fs::create_dir_all(root.path().join(name).join(".paddy/units")).unwrap();
        }
        // A dated folder that is no run folder.
        std::fs::create_dir_all(root.path().join("2026-07-30")).unwrap();
        let found: Vec<String> = folders(root.path(), "2026-07-10")
            .into_iter()
            .map(|f| f.date)
            .collect();
        assert_eq!(found, ["2026-07-20", "2026-07-01"]);
        assert!(folders(&root.path().join("none"), "2026-07-10").is_empty());
    }

    #[test]
    fn a_unit_is_brought_with_its_key_linked_and_only_while_its_files_are_whole() {
        let root = tempfile::tempdir().unwrap();
        let u = unit("k1");
        let (a, outcome) = done(root.path(), "2026-07-01", &u, b"raster bytes");
        // The same id with another key (another run file, another paddy): passed over.
        let (_, _) = done(root.path(), "2026-07-05", &unit("k0"), b"other");
        let all = folders(root.path(), "2026-07-10");
        assert_eq!(all.len(), 2);
        assert!(matches!(find(&all, &unit("k2")), Err(None)));
        let (from, m) = find(&all, &u).unwrap();
        assert_eq!(from.date, "2026-07-01");
        assert_eq!(source(&all, &u), Some("2026-07-01"));
        let b = root.path().join("2026-07-10");
        std::fs::create_dir_all(b.join(".paddy/units")).unwrap();
        assert_eq!(bring(from, &m, &b, &u).unwrap(), outcome);
        assert_eq!(
            std::fs::read(b.join("index/a.tif")).unwrap(),
            b"raster bytes"
        );
        assert!(same_file(&a.join("index/a.tif"), &b.join("index/a.tif")));
        // Up to date there now; nothing left under a temporary name.
        assert_eq!(schedule::up_to_date(&b, &u), Some(outcome));
        let names: Vec<String> = std::fs::read_dir(b.join("index"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.tif"]);
        // Brought again over the same link (a run killed before the manifest): still fine.
        std::fs::remove_file(schedule::manifest_path(&b, &u.id)).unwrap();
        bring(from, &m, &b, &u).unwrap();
        assert_eq!(std::fs::read_dir(b.join("index")).unwrap().count(), 1);
        // A file of another size in the earlier folder: not brought, and why.
        std::fs::write(a.join("index/a.tif"), b"raster").unwrap();
        let why = find(&all, &u).err().flatten().unwrap();
        assert!(
            why.contains("not reused from 2026-07-01: index/a.tif changed size"),
            "{why}"
        );
    }

    #[test]
    fn a_copy_is_hashed_as_it_is_made_and_refused_when_the_bytes_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&source, vec![7u8; (1 << 20) + 3]).unwrap();
        let made = copy_hashing(&source, &copy).unwrap();
        assert_eq!(made, integrity::hash_file(&source).unwrap());
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            std::fs::read(&source).unwrap()
        );
        // As recorded: a link passes on its size; other bytes of the same size only a hash sees.
        let recorded = Recorded {
            path: "a".into(),
            size: made.0,
            sha256: "0".repeat(64),
        };
        let linked = dir.path().join("c");
        link_or_copy(&source, &linked, Some(&recorded)).unwrap();
        assert!(same_file(&source, &linked));
        let short = Recorded {
            size: 3,
            ..recorded
        };
        let e = link_or_copy(&source, &dir.path().join("d"), Some(&short)).unwrap_err();
        assert!(e.to_string().contains("changed size"), "{e}");
    }
}
