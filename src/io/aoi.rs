//! An area of interest: `minx,miny,maxx,maxy[,CRS]` or any vector file OGR reads, as bounds in
//! a raster's CRS (OGR transforms them, edges densified, so a lon/lat box covers its whole
//! projected shape).

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::LayerAccess;

use super::gdal_message;
use crate::error::{Error, Result};

/// The area as given: bounds (minx, miny, maxx, maxy) in `crs_wkt` (None: the raster's CRS).
#[derive(Debug, Clone, PartialEq)]
pub struct Aoi {
    pub bounds: [f64; 4],
    pub crs_wkt: Option<String>,
    /// How the user gave it, for messages.
    pub text: String,
}

impl Aoi {
    /// Parse an area of interest: a vector file when one exists by that name, else
    /// `minx,miny,maxx,maxy[,CRS]` (CRS as EPSG:4326 or anything OGR understands).
    pub fn parse(text: &str) -> Result<Aoi> {
        let path = Path::new(text);
        if path.exists() {
            return Aoi::from_vector(path);
        }
        let parts: Vec<&str> = text.splitn(5, ',').map(str::trim).collect();
        let numbers: Vec<f64> = parts
            .iter()
            .take(4)
            .filter_map(|p| p.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .collect();
        if parts.len() < 4 || numbers.len() != 4 {
            return Err(Error::usage(format!(
                "area of interest {text}: neither a vector file nor minx,miny,maxx,maxy[,CRS] (e.g. 108.1,26.1,108.3,26.3,EPSG:4326)"
            )));
        }
        let bounds = [numbers[0], numbers[1], numbers[2], numbers[3]];
        if bounds[0] >= bounds[2] || bounds[1] >= bounds[3] {
            return Err(Error::usage(format!(
                "area of interest {text}: minx must be below maxx and miny below maxy"
            )));
        }
        let crs_wkt = match parts.get(4) {
            None => None,
            Some(def) => Some(
                SpatialRef::from_definition(def)
                    .and_then(|s| s.to_wkt())
                    .map_err(|e| {
                        Error::usage(format!(
                            "area of interest {text}: CRS '{def}': {}",
                            gdal_message(&e)
                        ))
                    })?,
            ),
        };
        Ok(Aoi {
            bounds,
            crs_wkt,
            text: text.to_string(),
        })
    }

    /// The extent of every feature of every layer of a vector file, in its CRS.
    fn from_vector(path: &Path) -> Result<Aoi> {
        super::init();
        let fail = |message: String| Error::Input {
            path: path.to_path_buf(),
            message,
        };
        let ds = gdal::Dataset::open(path).map_err(|e| {
            fail(format!(
                "area of interest: cannot open as vector: {}",
                gdal_message(&e)
            ))
        })?;
        let mut bounds: Option<[f64; 4]> = None;
        let mut crs_wkt = None;
        for layer in ds.layers() {
            let Ok(e) = layer.get_extent() else {
                continue;
            };
            if crs_wkt.is_none() {
                crs_wkt = layer.spatial_ref().and_then(|s| s.to_wkt().ok());
            }
            let b = bounds.get_or_insert([e.MinX, e.MinY, e.MaxX, e.MaxY]);
            *b = [
                b[0].min(e.MinX),
                b[1].min(e.MinY),
                b[2].max(e.MaxX),
                b[3].max(e.MaxY),
            ];
        }
        let bounds =
            bounds.ok_or_else(|| fail("area of interest: the file has no features".into()))?;
        Ok(Aoi {
            bounds,
            crs_wkt,
            text: path.display().to_string(),
        })
    }

    /// The bounds in longitude and latitude (WGS84), as a STAC search takes them.
    pub fn lon_lat_bounds(&self) -> Result<[f64; 4]> {
        let wgs84 = SpatialRef::from_epsg(4326)
            .and_then(|s| s.to_wkt())
            .map_err(|e| Error::usage(format!("WGS84: {}", gdal_message(&e))))?;
        self.bounds_in(Some(&wgs84))
    }

    /// The bounds in the CRS `target_wkt` (unchanged when the area has no CRS of its own, or
    /// the same one).
    pub fn bounds_in(&self, target_wkt: Option<&str>) -> Result<[f64; 4]> {
        let (Some(from), Some(to)) = (self.crs_wkt.as_deref(), target_wkt) else {
            return Ok(self.bounds);
        };
        if super::same_crs(Some(from), Some(to)) {
            return Ok(self.bounds);
        }
        let fail = |e: gdal::errors::GdalError| {
            Error::usage(format!(
                "area of interest {}: cannot transform to the rasters' CRS: {}",
                self.text,
                gdal_message(&e)
            ))
        };
        let mut a = SpatialRef::from_wkt(from).map_err(fail)?;
        let mut b = SpatialRef::from_wkt(to).map_err(fail)?;
        a.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        b.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let t = CoordTransform::new(&a, &b).map_err(fail)?;
        t.transform_bounds(&self.bounds, 21).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_parse_with_and_without_a_crs() {
        let a = Aoi::parse("1,2,3,4").unwrap();
        assert_eq!(a.bounds, [1.0, 2.0, 3.0, 4.0]);
        assert!(a.crs_wkt.is_none());
        let b = Aoi::parse("108.1, 26.1, 108.3, 26.3, EPSG:4326").unwrap();
        assert!(b.crs_wkt.unwrap().contains("WGS 84"));
        assert!(Aoi::parse("1,2,3").is_err());
        assert!(Aoi::parse("3,2,1,4").is_err());
        assert!(Aoi::parse("1,2,3,4,EPSG:99999999").is_err());
    }

    #[test]
    fn a_lon_lat_box_is_transformed_to_utm() {
        let a = Aoi::parse("105,10,105.01,10.01,EPSG:4326").unwrap();
        let utm = SpatialRef::from_epsg(32648).unwrap().to_wkt().unwrap();
        let b = a.bounds_in(Some(&utm)).unwrap();
        // 105°E is UTM 48's central meridian: x = 500 000 m there; 0.01° ≈ 1.1 km.
        assert!((b[0] - 500_000.0).abs() < 1.0, "{b:?}");
        assert!((b[3] - b[1] - 1106.0).abs() < 5.0, "{b:?}");
    }
}
