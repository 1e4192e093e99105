//! A small picture of a raster's first band for quicklooks: GDAL reads it decimated (from the
//! overviews when the file has them), nodata as NaN.

use std::path::Path;

use super::gdal_message;
use crate::error::{Error, Result};

/// Band 1 of a raster at most `side` cells on its longest side.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Row-major values, NaN where the band has nodata or a non-finite value.
    pub values: Vec<f32>,
    pub width: usize,
    pub height: usize,
    /// The preview's cell size in the raster's units, when it is georeferenced.
    pub cell_size: Option<f64>,
}

/// Read band 1 of `path` decimated to at most `side` cells on its longest side.
pub fn read_preview(path: &Path, side: usize) -> Result<Preview> {
    let fail = |e: gdal::errors::GdalError| Error::Read {
        path: path.to_path_buf(),
        band: 1,
        message: gdal_message(&e),
    };
    let ds = super::open(path)?;
    let band = ds.rasterband(1).map_err(fail)?;
    let (w, h) = band.size();
    let scale = (w.max(h) as f64 / side as f64).max(1.0);
    let (bw, bh) = (
        ((w as f64 / scale).round() as usize).max(1),
        ((h as f64 / scale).round() as usize).max(1),
    );
    let nodata = band.no_data_value();
    let buffer = band
        .read_as::<f32>((0, 0), (w, h), (bw, bh), None)
        .map_err(fail)?;
    let values: Vec<f32> = buffer
        .data()
        .iter()
        .map(|&v| {
            if Some(f64::from(v)) == nodata || !v.is_finite() {
                f32::NAN
            } else {
                v
            }
        })
        .collect();
    let cell_size = ds.geo_transform().ok().map(|g| g[1].abs() * scale);
    Ok(Preview {
        values,
        width: bw,
        height: bh,
        cell_size,
    })
}
