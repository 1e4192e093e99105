//! Prescriptions: nitrogen topdress rates and spray zones per plot and per grid cell.
//!
//! [`config`] holds every number (TOML, defaults from docs/AGRONOMY.md); [`nitrogen`] and
//! [`zones`] are pure rules on values and cell grids, [`reference`] the N-rich reference of a
//! group of plots; [`stages`] gives each plot its growth
//! stage (from `paddy stage`'s table or results, or the plots' attributes); [`layout`] lays the
//! grids and the plots on them; [`tiles`] cuts the rate cells by the plot outlines into the
//! machine layers; [`run`] computes over plots and stages already read, [`output`] writes.

pub mod config;
#[cfg(feature = "io")]
pub mod layout;
pub mod nitrogen;
#[cfg(feature = "io")]
pub mod output;
pub mod reference;
#[cfg(feature = "io")]
pub mod run;
#[cfg(feature = "io")]
pub mod stages;
#[cfg(feature = "io")]
pub mod tiles;
pub mod zones;
