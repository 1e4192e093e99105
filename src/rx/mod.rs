//! Prescriptions: nitrogen topdress rates and spray zones per plot and per grid cell.
//!
//! [`config`] holds every number (TOML, defaults from docs/AGRONOMY.md); [`nitrogen`] and
//! [`zones`] are pure rules on values and cell grids.

pub mod config;
pub mod nitrogen;
#[cfg(feature = "io")]
pub mod output;
#[cfg(feature = "io")]
pub mod run;
pub mod zones;
