//! # paddy
//!
//! A batch pipeline for rice crop monitoring: multispectral drone and satellite tiles in,
//! vegetation / red-edge / water indices, per-plot statistics, growth stages and fertiliser and
//! pesticide prescription maps out.
//!
//! Data flows one way, through layers that only call downwards (docs/ARCHITECTURE.md):
//!
//! - [`error`]: the one error type; every variant names its file, band, plot or setting.
//!   [`log`]: how warnings and the final error are said on stderr (plain or JSON lines).
//! - Pure cores, no GDAL and no files: [`catalogue`] (every Awesome Spectral Indices formula,
//!   band roles, a float64 evaluator), [`kernels`] (index kernels on slices and the expression
//!   engine), [`sensors`] (sensor profiles as data), [`raster`] (grids, windows and the
//!   streaming engine over rayon), [`phenology`] (dates, smoothing, flooding onset, fitted
//!   heading, the stage table), [`plots`] (plot geometry as plain values).
//! - [`io`]: the only module that talks to GDAL/OGR/PROJ — products and windows of
//!   reflectance, plots read and reprojected, COGs, tables and vectors written atomically.
//! - [`export`]: what people and machines open beside the rasters — QGIS styles, legends, PNG
//!   quicklooks, ISOXML task data.
//! - The commands' cores, taking data and returning typed results: [`index`] (indices in one
//!   streamed pass), [`zonal`] (exact coverage and per-plot statistics), [`stage`] (events and
//!   growth stage per plot or pixel), [`rx`] (nitrogen and spray prescriptions).
//! - [`batch`]: `paddy run` — run file, plan, resumable units, report.
//! - [`cli`]: the command line, flags parsed once into settings.
//!
//! Without the default `io` feature the crate has no system dependencies: kernels, the
//! expression engine, the catalogue, sensor profiles, the streaming engine, phenology and the
//! pure parts of statistics and prescriptions.

#[cfg(feature = "io")]
pub mod batch;
pub mod catalogue;
#[cfg(feature = "io")]
pub mod cli;
pub mod error;
pub mod export;
pub mod i18n;
#[cfg(feature = "io")]
pub mod index;
#[cfg(feature = "io")]
pub mod io;
pub mod kernels;
pub mod log;
pub mod phenology;
#[cfg(feature = "io")]
pub mod plots;
pub mod raster;
pub mod rx;
pub mod sensors;
#[cfg(feature = "io")]
pub mod stage;
pub mod zonal;

pub use error::{Error, Result};
