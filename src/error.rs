//! The one error type of the library. Every variant names the file, band, role or index it concerns,
//! so `main` can print it once, on one line, and pick the exit code.

use std::path::PathBuf;

/// Result alias used throughout paddy.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with the context a user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command line or settings (exit code 2).
    #[error("{0}")]
    Usage(String),

    /// A configuration or sensor-profile file is wrong (exit code 2).
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// An index needs a band role that is not mapped (exit code 2).
    #[error("index {index} needs band {role} ({role_name}), which is not mapped: {hint}")]
    MissingRole {
        index: String,
        role: String,
        role_name: String,
        hint: String,
    },

    /// A band number outside the file (exit code 2).
    #[error("{path}: band {band} does not exist (the file has {count} band{s})", s = if *count == 1 { "" } else { "s" })]
    BandOutOfRange {
        path: PathBuf,
        band: usize,
        count: usize,
    },

    /// Two inputs that must share a pixel grid do not (exit code 1).
    #[error("{a} and {b} are not on the same pixel grid: {what}")]
    GridMismatch {
        a: PathBuf,
        b: PathBuf,
        what: String,
    },

    /// GDAL could not open a file as a raster (exit code 1).
    #[error("{path}: cannot open as a raster: {message}")]
    Open { path: PathBuf, message: String },

    /// An input file holds something paddy cannot use (a vector with no polygons, a layer that
    /// does not exist, a CRS that cannot be read) (exit code 1).
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },

    /// Reading a band failed (exit code 1).
    #[error("{path}: band {band}: read failed: {message}")]
    Read {
        path: PathBuf,
        band: usize,
        message: String,
    },

    /// Writing an output failed (exit code 1).
    #[error("{path}: write failed: {message}")]
    Write { path: PathBuf, message: String },

    /// A fault in paddy itself, not in the user's input or settings: a panic caught in a unit of
    /// `paddy run`, a broken invariant (exit code 3). The message asks for a report.
    #[error("internal error (please report): {0}")]
    Internal(String),

    /// The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP); nothing partial was left under
    /// a final name (exit 130; the command line gives 128 + the signal's number).
    #[error("interrupted; no partial output was left behind")]
    Interrupted,

    /// Any other I/O problem with a file (exit code 1).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Process exit code: 2 for usage and configuration mistakes, 1 for failed processing, 3
    /// for a fault in paddy itself, 130 when interrupted.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Internal(_) => 3,
            Error::Usage(_)
            | Error::Config { .. }
            | Error::MissingRole { .. }
            | Error::BandOutOfRange { .. } => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }

    /// The error's kind and what it names (its file, band, index, role…), as fields of a JSON
    /// log line: `kind` always, `path` where there is a file, the rest by kind.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let path = |p: &std::path::Path| json!(p.display().to_string());
        let (kind, fields) = match self {
            Error::Usage(_) => ("usage", vec![]),
            Error::Config { path: p, message } => (
                "config",
                vec![("path", path(p)), ("detail", json!(message))],
            ),
            Error::MissingRole {
                index,
                role,
                role_name,
                ..
            } => (
                "missing_role",
                vec![
                    ("index", json!(index)),
                    ("role", json!(role)),
                    ("role_name", json!(role_name)),
                ],
            ),
            Error::BandOutOfRange {
                path: p,
                band,
                count,
            } => (
                "band_out_of_range",
                vec![
                    ("path", path(p)),
                    ("band", json!(band)),
                    ("count", json!(count)),
                ],
            ),
            Error::GridMismatch { a, b, .. } => (
                "grid_mismatch",
                vec![("path", path(a)), ("other_path", path(b))],
            ),
            Error::Open { path: p, message } => {
                ("open", vec![("path", path(p)), ("detail", json!(message))])
            }
            Error::Input { path: p, message } => {
                ("input", vec![("path", path(p)), ("detail", json!(message))])
            }
            Error::Read {
                path: p,
                band,
                message,
            } => (
                "read",
                vec![
                    ("path", path(p)),
                    ("band", json!(band)),
                    ("detail", json!(message)),
                ],
            ),
            Error::Write { path: p, message } => {
                ("write", vec![("path", path(p)), ("detail", json!(message))])
            }
            Error::Internal(_) => ("internal", vec![]),
            Error::Interrupted => ("interrupted", vec![]),
            Error::Io { path: p, source } => (
                "io",
                vec![("path", path(p)), ("detail", json!(source.to_string()))],
            ),
        };
        let mut map = serde_json::Map::new();
        map.insert("kind".into(), json!(kind));
        map.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
        map
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// Shorthand for an internal fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_tell_mistakes_from_data_from_faults() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(
            Error::Input {
                path: "a.tif".into(),
                message: "x".into()
            }
            .exit_code(),
            1
        );
        let fault = Error::internal("index out of bounds");
        assert_eq!(fault.exit_code(), 3);
        assert_eq!(
            fault.to_string(),
            "internal error (please report): index out of bounds"
        );
        assert_eq!(Error::Interrupted.exit_code(), 130);
    }
}
