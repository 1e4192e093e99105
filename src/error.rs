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

    /// The run was interrupted (Ctrl-C); nothing partial was left under a final name (exit 130).
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
    /// Process exit code: 2 for usage and configuration mistakes, 1 for failed processing.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Config { .. }
            | Error::MissingRole { .. }
            | Error::BandOutOfRange { .. } => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
}
