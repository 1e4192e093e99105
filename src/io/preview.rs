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
    /// The preview grid's geotransform (the raster's, its cells widened), when georeferenced.
    pub geo_transform: Option<[f64; 6]>,
    /// The raster's CRS (WKT), when it has one.
    pub crs_wkt: Option<String>,
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
    let gt = ds.geo_transform().ok();
    let cell_size = gt.map(|g| g[1].abs() * scale);
    let (sx, sy) = (w as f64 / bw as f64, h as f64 / bh as f64);
    let geo_transform = gt.map(|g| [g[0], g[1] * sx, g[2] * sy, g[3], g[4] * sx, g[5] * sy]);
    let crs_wkt = Some(ds.projection()).filter(|p| !p.trim().is_empty());
    Ok(Preview {
        values,
        width: bw,
        height: bh,
        cell_size,
        geo_transform,
        crs_wkt,
    })
}
