//! Whether a run's outputs are still what paddy wrote: each unit's manifest records every
//! output file's size and SHA-256 ([`record`]). A resumed run compares sizes, which costs a
//! `stat` per file ([`size_change`]); `paddy verify` rehashes every file ([`verify`]) and so
//! finds damage that keeps the size — a flipped byte in a ZSTD tile that GDAL decodes without
//! a word.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::report::OutputFile;

/// One output file as written: its path relative to the run folder, size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Size and SHA-256 (hex) of a file, read in 1 MiB pieces.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    hash_stream(&mut std::fs::File::open(path)?, |_| Ok(()))
}

/// Size and SHA-256 (hex) of what `from` yields, each piece also handed to `each` (the writer
/// of a copy, say) as it is read.
pub fn hash_stream(
    from: &mut impl Read,
    mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buffer)?;
        let Some(piece) = buffer.get(..n).filter(|p| !p.is_empty()) else {
            break;
        };
        hasher.update(piece);
        each(piece)?;
        size += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

/// The files of `rel` under `dir`: itself, or every file below it for a folder, sorted.
fn files_of(dir: &Path, rel: &Path) -> Vec<PathBuf> {
    let full = dir.join(rel);
    if !full.is_dir() {
        return vec![rel.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(&full).into_iter().flatten().flatten() {
        out.extend(files_of(dir, &rel.join(e.file_name())));
    }
    out.sort();
    out
}

/// Size and hash of every output of a unit (a folder's files one by one), just written.
pub fn record(dir: &Path, outputs: &[OutputFile]) -> Result<Vec<Recorded>> {
    let mut recorded = Vec::new();
    for o in outputs {
        for rel in files_of(dir, Path::new(&o.path)) {
            let full = dir.join(&rel);
            let (size, sha256) = hash_file(&full).map_err(|source| Error::Io {
                path: full.clone(),
                source,
            })?;
            recorded.push(Recorded {
                path: rel.display().to_string(),
                size,
                sha256,
            });
        }
    }
    Ok(recorded)
}

/// The first recorded file that is gone or has another size now, said in words.
pub fn size_change(dir: &Path, files: &[Recorded]) -> Option<String> {
    files
        .iter()
        .find_map(|f| match std::fs::metadata(dir.join(&f.path)) {
            Err(_) => Some(format!("{} is missing", f.path)),
            Ok(m) if m.len() != f.size => Some(format!(
                "{} changed size since it was written ({} bytes, now {})",
                f.path,
                f.size,
                m.len()
            )),
            Ok(_) => None,
        })
}

/// What `paddy verify` found about one recorded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ok,
    /// Not there any more.
    Missing,
    /// Another size than written.
    SizeChanged,
    /// The same size, other bytes.
    Changed,
    /// Cannot be read.
    Unreadable,
}

/// One file's check.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    pub unit: String,
    pub path: String,
    pub state: State,
    /// What was recorded and, when the file could be read, what it is now.
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_now: Option<u64>,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256_now: Option<String>,
}

/// Every recorded file of a run folder checked, and the units whose manifest records no
/// hashes (written by an older paddy, or unreadable).
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub run_dir: String,
    pub units: usize,
    pub files: Vec<FileCheck>,
    pub unrecorded_units: Vec<String>,
}

impl Verified {
    /// Whether every recorded file is as written.
    pub fn ok(&self) -> bool {
        self.files.iter().all(|f| f.state == State::Ok)
    }
}

/// The part of a manifest `verify` reads (any format that has these keys).
#[derive(Deserialize)]
struct Hashes {
    id: String,
    #[serde(default)]
    files: Option<Vec<Recorded>>,
}

fn check(dir: &Path, unit: &str, f: &Recorded) -> FileCheck {
    let full = dir.join(&f.path);
    let (state, now) = if !full.exists() {
        (State::Missing, None)
    } else {
        match hash_file(&full) {
            Err(_) => (State::Unreadable, None),
            Ok((size, hash)) if size != f.size => (State::SizeChanged, Some((size, hash))),
            Ok((size, hash)) if hash != f.sha256 => (State::Changed, Some((size, hash))),
            Ok(now) => (State::Ok, Some(now)),
        }
    };
    FileCheck {
        unit: unit.to_string(),
        path: f.path.clone(),
        state,
        size: f.size,
        size_now: now.as_ref().map(|n| n.0),
        sha256: f.sha256.clone(),
        sha256_now: now.map(|n| n.1),
    }
}

/// Rehash every output the manifests of run folder `dir` record. An error (exit 2) when `dir`
/// is not a run folder (no `.paddy/units`).
pub fn verify(dir: &Path) -> Result<Verified> {
    let units_dir = dir.join(".paddy").join("units");
    let entries = std::fs::read_dir(&units_dir).map_err(|_| Error::Config {
        path: dir.to_path_buf(),
        message: "not a run folder of paddy run (no .paddy/units in it)".into(),
    })?;
    let mut manifests: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json") && !crate::io::file_name(p).starts_with('.')
        })
        .collect();
    manifests.sort();
    let mut verified = Verified {
        run_dir: dir.display().to_string(),
        units: manifests.len(),
        files: Vec::new(),
        unrecorded_units: Vec::new(),
    };
    for m in &manifests {
        let parsed = std::fs::read_to_string(m)
            .ok()
            .and_then(|t| serde_json::from_str::<Hashes>(&t).ok());
        match parsed {
            Some(Hashes {
                id,
                files: Some(files),
            }) => verified
                .files
                .extend(files.iter().map(|f| check(dir, &id, f))),
            Some(Hashes { id, files: None }) => verified.unrecorded_units.push(id),
            None => verified.unrecorded_units.push(crate::io::file_name(m)),
        }
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::report::OutputKind;

    #[test]
    fn sha256_is_the_standard_one() {
        // FIPS 180-2's example: SHA-256("abc").
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            hash_file(&p).unwrap(),
            (
                3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()
            )
        );
    }

    #[test]
    fn sizes_and_hashes_tell_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("zip/inner")).unwrap();
        std::fs::write(dir.path().join("a.csv"), b"x,y\n1,2\n").unwrap();
        std::fs::write(dir.path().join("zip/inner/b.xml"), b"<b/>").unwrap();
        let outputs = [
            OutputFile {
                path: "a.csv".into(),
                kind: OutputKind::Stats,
            },
            OutputFile {
                path: "zip".into(),
                kind: OutputKind::Isoxml,
            },
        ];
        let rec = record(dir.path(), &outputs).unwrap();
        assert_eq!(
            rec.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["a.csv", "zip/inner/b.xml"]
        );
        assert_eq!(size_change(dir.path(), &rec), None);
        // Same size, other bytes: only a hash sees it.
        std::fs::write(dir.path().join("a.csv"), b"x,y\n1,3\n").unwrap();
        assert_eq!(size_change(dir.path(), &rec), None);
        let c = check(dir.path(), "u", &rec[0]);
        assert_eq!(c.state, State::Changed);
        std::fs::write(dir.path().join("a.csv"), b"x,y\n").unwrap();
        assert!(size_change(dir.path(), &rec)
            .unwrap()
            .contains("a.csv changed size since it was written (8 bytes, now 4)"));
        std::fs::remove_file(dir.path().join("zip/inner/b.xml")).unwrap();
        assert_eq!(check(dir.path(), "u", &rec[1]).state, State::Missing);
    }
}
