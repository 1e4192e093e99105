//! Files made for people and other programs beside the rasters: QGIS styles, classified
//! legends, PNG quicklooks and ISOBUS task data.

pub mod classes;
#[cfg(feature = "io")]
pub mod draw;
pub mod isoxml;
pub mod kind;
pub mod qml;
#[cfg(feature = "io")]
pub mod quicklook;
pub mod styles;
