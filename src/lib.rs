//! # paddy
//!
//! A batch pipeline for rice crop monitoring: multispectral drone and satellite tiles in,
//! vegetation / red-edge / water indices, per-plot statistics, growth stages and fertiliser and
//! pesticide prescription maps out.
//!
//! Data flows one way: [`sensors`] and [`io`] turn tiles into reflectance windows,
//! [`kernels`] compute indices over slices, [`raster::engine`] streams windows in parallel, and
//! [`index`] ties it together for `paddy index`; [`zonal`] turns rasters into per-plot
//! statistics with exact pixel coverage for `paddy stats`. The [`catalogue`] holds every Awesome Spectral
//! Indices formula.
//!
//! Without the default `io` feature the crate has no system dependencies: kernels, the
//! expression engine, the catalogue, sensor profiles and the streaming engine only.

#[cfg(feature = "io")]
pub mod batch;
pub mod catalogue;
#[cfg(feature = "io")]
pub mod cli;
pub mod error;
pub mod export;
#[cfg(feature = "io")]
pub mod index;
#[cfg(feature = "io")]
pub mod io;
pub mod kernels;
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
