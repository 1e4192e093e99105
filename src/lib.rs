//! # paddy
//!
//! A batch pipeline for rice crop monitoring: multispectral drone and satellite tiles in,
//! vegetation / red-edge / water indices, per-plot statistics, growth stages and fertiliser and
//! pesticide prescription maps out.
//!
//! Data flows one way: [`sensors`] and [`io`] turn tiles into reflectance windows,
//! [`kernels`] compute indices over slices, [`raster::engine`] streams windows in parallel, and
//! [`index`] ties it together for `paddy index`. The [`catalogue`] holds every Awesome Spectral
//! Indices formula.

pub mod catalogue;
pub mod cli;
pub mod error;
pub mod export;
pub mod index;
pub mod io;
pub mod kernels;
pub mod raster;
pub mod sensors;

pub use error::{Error, Result};
