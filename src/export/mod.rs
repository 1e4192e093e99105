//! Files made for people and other programs beside the rasters: QGIS styles for now.

pub mod qml;
