//! Per-plot (zonal) statistics: exact pixel coverage of polygons, coverage-weighted statistics
//! with exactextract's definitions, and (with the `io` feature) the one-pass run behind
//! `paddy stats` over plots and rasters already read ([`crate::io::vector`] reads plots).

pub mod coverage;
#[cfg(feature = "io")]
pub mod output;
#[cfg(feature = "io")]
mod run;
pub mod stats;

pub use coverage::{CoverageMode, PixelPolygon};
#[cfg(feature = "io")]
pub use run::{check_crs, columns, run, to_pixel, Column, PlotRow, StatsRequest, StatsTable};
pub use stats::{Accumulator, Stats};
