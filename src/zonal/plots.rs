//! Plots (paddies) from any vector file OGR reads: ids, attributes, polygon rings, repairs.
//!
//! Geometries stay in the file's CRS here; [`Plots::to_crs`] densifies and reprojects them for
//! a raster, and [`Plots::wgs84`] gives lon/lat rings for GeoJSON and geodesic areas.

use std::path::{Path, PathBuf};

use gdal::cpl::CslStringList;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{
    geometry_type_flatten, FieldValue, Geometry, LayerAccess, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use geo::orient::{Direction, Orient};
use geo::GeodesicArea;

use crate::error::{gdal_message, Error, Result};

pub use crate::io::table::{map_rings, ogr_geometry, Kind, Parts, Value};

/// An attribute value as paddy carries it.
fn value_of(value: Option<FieldValue>) -> Value {
    match value {
        None => Value::Null,
        Some(FieldValue::IntegerValue(v)) => Value::Int(v.into()),
        Some(FieldValue::Integer64Value(v)) => Value::Int(v),
        Some(FieldValue::RealValue(v)) => Value::Real(v),
        Some(FieldValue::StringValue(v)) => Value::Text(v),
        Some(FieldValue::DateValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::DateTimeValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::IntegerListValue(v)) => Value::Text(format!("{v:?}")),
        Some(FieldValue::Integer64ListValue(v)) => Value::Text(format!("{v:?}")),
        Some(FieldValue::RealListValue(v)) => Value::Text(format!("{v:?}")),
        Some(FieldValue::StringListValue(v)) => Value::Text(format!("{v:?}")),
    }
}

/// What happened to a plot's geometry on the way in.
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    /// Valid polygon parts.
    Ok(Parts),
    /// Invalid in the file, repaired (how), now valid.
    Repaired(Parts, String),
    /// Not usable (why); the plot gets a row with count 0.
    Skipped(String),
}

/// One plot: its id, carried attributes and geometry in the file's CRS.
#[derive(Debug, Clone)]
pub struct Plot {
    pub id: String,
    pub attributes: Vec<Value>,
    pub geom: Geom,
}

impl Plot {
    /// The polygon parts, unless skipped.
    pub fn parts(&self) -> Option<&Parts> {
        match &self.geom {
            Geom::Ok(p) | Geom::Repaired(p, _) => Some(p),
            Geom::Skipped(_) => None,
        }
    }
}

/// All plots of one layer.
#[derive(Debug, Clone)]
pub struct Plots {
    pub path: PathBuf,
    pub layer: String,
    /// Name of the id column: the id field, or `fid` for feature ids.
    pub id_column: String,
    /// Carried attribute columns (every field but the id field), in layer order.
    pub fields: Vec<(String, Kind)>,
    pub plots: Vec<Plot>,
    /// The layer's CRS (WKT), if it has one.
    pub crs_wkt: Option<String>,
    /// Problems worth telling the user, each naming its plot.
    pub warnings: Vec<String>,
}

fn vector_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A spatial reference that takes and gives (x, y) = (easting or longitude, northing or latitude).
pub fn gis_srs(wkt: &str) -> Option<SpatialRef> {
    let mut srs = SpatialRef::from_wkt(wkt).ok()?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Some(srs)
}

fn wgs84() -> Result<SpatialRef> {
    let mut srs = SpatialRef::from_epsg(4326)
        .map_err(|e| Error::usage(format!("PROJ cannot build EPSG:4326: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

impl Plots {
    /// Read the polygon features of `layer` (default: the only layer) of `path`. `id_field`
    /// names the plot id field (default `plot_id` when the layer has one, else feature ids).
    pub fn read(path: &Path, layer: Option<&str>, id_field: Option<&str>) -> Result<Plots> {
        crate::io::init();
        if !path.to_string_lossy().starts_with("/vsi") && !path.exists() {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let ds = Dataset::open_ex(
            path,
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_VECTOR
                    | GdalOpenFlags::GDAL_OF_READONLY
                    | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
                ..Default::default()
            },
        )
        .map_err(|e| {
            vector_error(
                path,
                format!("cannot open as a vector file: {}", gdal_message(&e)),
            )
        })?;
        let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
        let mut layer = match layer {
            Some(name) => ds.layer_by_name(name).map_err(|_| {
                vector_error(
                    path,
                    format!("no layer '{name}'; layers: {}", names.join(", ")),
                )
            })?,
            None if names.len() == 1 => ds
                .layer(0)
                .map_err(|e| vector_error(path, gdal_message(&e)))?,
            None if names.is_empty() => return Err(vector_error(path, "the file has no layers")),
            None => {
                return Err(vector_error(
                    path,
                    format!(
                        "the file has {} layers ({}): choose one with --layer",
                        names.len(),
                        names.join(", ")
                    ),
                ))
            }
        };
        let layer_name = layer.name();
        let crs_wkt = layer.spatial_ref().and_then(|s| s.to_wkt().ok());
        let all_fields: Vec<(String, OGRFieldType::Type)> = layer
            .defn()
            .fields()
            .map(|f| (f.name(), f.field_type()))
            .collect();
        let field_names = || {
            let names: Vec<&str> = all_fields.iter().map(|f| f.0.as_str()).collect();
            if names.is_empty() {
                "the layer has no fields".to_string()
            } else {
                format!("fields: {}", names.join(", "))
            }
        };
        let id_index = match id_field {
            Some(name) => Some(
                all_fields
                    .iter()
                    .position(|f| f.0 == name)
                    .or_else(|| {
                        all_fields
                            .iter()
                            .position(|f| f.0.eq_ignore_ascii_case(name))
                    })
                    .ok_or_else(|| Error::Config {
                        path: path.to_path_buf(),
                        message: format!("no field '{name}' for --id-field; {}", field_names()),
                    })?,
            ),
            None => all_fields.iter().position(|f| f.0 == "plot_id"),
        };
        let id_column = id_index.map_or_else(|| "fid".to_string(), |i| all_fields[i].0.clone());
        let kind = |t: OGRFieldType::Type| match t {
            OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => Kind::Int,
            OGRFieldType::OFTReal => Kind::Real,
            _ => Kind::Text,
        };
        let carried: Vec<usize> = (0..all_fields.len())
            .filter(|&i| Some(i) != id_index)
            .collect();
        let fields = carried
            .iter()
            .map(|&i| (all_fields[i].0.clone(), kind(all_fields[i].1)))
            .collect();

        let mut plots = Vec::new();
        let mut warnings = Vec::new();
        let mut polygonal = 0usize;
        let mut other_types = std::collections::BTreeMap::<String, usize>::new();
        for (n, feature) in layer.features().enumerate() {
            let field = |i: usize| value_of(feature.field(i).ok().flatten());
            let id = match id_index {
                Some(i) => field(i).text(),
                None => feature.fid().unwrap_or(n as u64).to_string(),
            };
            let attributes = carried
                .iter()
                .map(|&i| match (field(i), kind(all_fields[i].1)) {
                    // Keep the column's declared kind for outputs.
                    (Value::Int(v), Kind::Real) => Value::Real(v as f64),
                    (v, _) => v,
                })
                .collect();
            let geom = match feature.geometry() {
                None => Geom::Skipped("no geometry".into()),
                Some(g) if g.is_empty() => Geom::Skipped("empty geometry".into()),
                Some(g) => read_geometry(g),
            };
            match &geom {
                Geom::Skipped(why) if why.starts_with("not a polygon") => {
                    *other_types
                        .entry(
                            feature
                                .geometry()
                                .map_or(String::new(), |g| g.geometry_name()),
                        )
                        .or_default() += 1;
                }
                _ => polygonal += 1,
            }
            match &geom {
                Geom::Repaired(_, how) => warnings.push(format!("plot {id}: {how}")),
                Geom::Skipped(why) => warnings.push(format!("plot {id}: skipped: {why}")),
                Geom::Ok(_) => {}
            }
            plots.push(Plot {
                id,
                attributes,
                geom,
            });
        }
        if polygonal == 0 {
            let found = if other_types.is_empty() {
                "it has no features".to_string()
            } else {
                let kinds: Vec<String> = other_types
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                format!("found {}", kinds.join(", "))
            };
            return Err(vector_error(
                path,
                format!("layer '{layer_name}' has no polygons to use as plots ({found})"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let duplicates: Vec<&str> = plots
            .iter()
            .filter(|p| !seen.insert(p.id.as_str()))
            .map(|p| p.id.as_str())
            .collect();
        if !duplicates.is_empty() {
            warnings.push(format!(
                "{} plot ids appear more than once in '{id_column}' (e.g. '{}'): each feature keeps its own row",
                duplicates.len(),
                duplicates[0]
            ));
        }
        Ok(Plots {
            path: path.to_path_buf(),
            layer: layer_name,
            id_column,
            fields,
            plots,
            crs_wkt,
            warnings,
        })
    }

    /// Every plot's parts in the CRS `target_wkt`, edges densified to at most `max_segment`
    /// target units before reprojecting so that straight edges stay true to the source.
    /// Plots with no usable geometry give None.
    pub fn to_crs(&self, target_wkt: Option<&str>, max_segment: f64) -> Result<Vec<Option<Parts>>> {
        let (Some(src), Some(dst)) = (self.crs_wkt.as_deref(), target_wkt) else {
            return Ok(self.plots.iter().map(|p| p.parts().cloned()).collect());
        };
        if crate::io::same_crs(Some(src), Some(dst)) {
            return Ok(self.plots.iter().map(|p| p.parts().cloned()).collect());
        }
        let transform = self.transform_to(src, dst)?;
        // Source units per target unit near the plots, to densify in source units.
        let scale = self.local_scale(&transform).unwrap_or(1.0);
        let step = max_segment * scale;
        self.plots
            .iter()
            .map(|p| {
                p.parts()
                    .map(|parts| reproject(parts, &transform, step, &self.path, &p.id))
                    .transpose()
            })
            .collect()
    }

    /// Every plot's parts in WGS84 longitude/latitude (not densified: vertices only).
    pub fn wgs84(&self) -> Result<Vec<Option<Parts>>> {
        let target = wgs84()?.to_wkt().unwrap_or_default();
        self.to_crs(Some(&target), f64::INFINITY)
    }

    /// Geodesic area (m², on the WGS84 ellipsoid) of each plot given its lon/lat parts.
    pub fn geodesic_areas(lonlat: &[Option<Parts>]) -> Vec<f64> {
        lonlat
            .iter()
            .map(|parts| {
                parts.as_ref().map_or(f64::NAN, |parts| {
                    parts
                        .iter()
                        .map(|rings| {
                            let ring = |r: &Vec<(f64, f64)>| geo::LineString::from(r.clone());
                            let Some(outer) = rings.first() else {
                                return 0.0;
                            };
                            // Outer ring counter-clockwise, holes clockwise: otherwise the
                            // geodesic area is that of the rest of the globe.
                            geo::Polygon::new(ring(outer), rings[1..].iter().map(ring).collect())
                                .orient(Direction::Default)
                                .geodesic_area_signed()
                                .abs()
                        })
                        .sum()
                })
            })
            .collect()
    }

    fn transform_to(&self, src: &str, dst: &str) -> Result<CoordTransform> {
        let (Some(s), Some(d)) = (gis_srs(src), gis_srs(dst)) else {
            return Err(vector_error(&self.path, "cannot read the layer's CRS"));
        };
        CoordTransform::new(&s, &d).map_err(|e| {
            vector_error(
                &self.path,
                format!(
                    "PROJ cannot transform from {} to {}: {}",
                    crate::io::crs_name(src),
                    crate::io::crs_name(dst),
                    gdal_message(&e)
                ),
            )
        })
    }

    /// Source units per target unit, measured at the first plot with a geometry.
    fn local_scale(&self, transform: &CoordTransform) -> Option<f64> {
        let (x, y) = self
            .plots
            .iter()
            .find_map(|p| p.parts()?.first()?.first()?.first().copied())?;
        let d = 1e-6 * (x.abs() + y.abs()).max(1e-3);
        let mut xs = [x, x + d, x];
        let mut ys = [y, y, y + d];
        transform.transform_coords(&mut xs, &mut ys, &mut []).ok()?;
        let moved = |i: usize| (xs[i] - xs[0]).hypot(ys[i] - ys[0]);
        let target_per_source = moved(1).max(moved(2)) / d;
        (target_per_source > 0.0 && target_per_source.is_finite()).then(|| 1.0 / target_per_source)
    }
}

/// Densify (pieces of at most `step`) and transform every ring.
fn reproject(
    parts: &Parts,
    transform: &CoordTransform,
    step: f64,
    path: &Path,
    id: &str,
) -> Result<Parts> {
    map_rings(parts, |ring| {
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = densify(ring, step).into_iter().unzip();
        transform
            .transform_coords(&mut xs, &mut ys, &mut [])
            .map_err(|e| {
                vector_error(
                    path,
                    format!(
                        "plot {id}: cannot reproject its geometry: {}",
                        gdal_message(&e)
                    ),
                )
            })?;
        Ok(xs.into_iter().zip(ys).collect())
    })
}

/// Insert points so that no segment is longer than `step` (same units as the ring).
pub fn densify(ring: &[(f64, f64)], step: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(ring.len());
    for (i, &(x, y)) in ring.iter().enumerate() {
        if let Some(&(px, py)) = i.checked_sub(1).and_then(|j| ring.get(j)) {
            let length = (x - px).hypot(y - py);
            let pieces = (length / step).ceil();
            if pieces.is_finite() && pieces > 1.0 {
                let n = pieces.min(10_000.0) as usize;
                for k in 1..n {
                    let t = k as f64 / n as f64;
                    out.push((px + t * (x - px), py + t * (y - py)));
                }
            }
        }
        out.push((x, y));
    }
    out
}

/// Polygon parts of a geometry, checked and repaired.
fn read_geometry(geometry: &Geometry) -> Geom {
    let mut parts = Parts::new();
    let kind = polygon_parts(geometry, &mut parts);
    if let Some(kind) = kind {
        return Geom::Skipped(format!("not a polygon ({kind})"));
    }
    if parts.is_empty() {
        return Geom::Skipped("empty geometry".into());
    }
    let mut fixes = Vec::new();
    // Rings that do not end where they start (OGR accepts them from GeoJSON and KML).
    for ring in parts.iter_mut().flatten() {
        if ring.len() > 1 && ring.first() != ring.last() {
            ring.push(ring[0]);
            if !fixes.contains(&"closed an unclosed ring") {
                fixes.push("closed an unclosed ring");
            }
        }
    }
    let closed = if fixes.is_empty() {
        None
    } else {
        match ogr_geometry(&parts) {
            Ok(g) => Some(g),
            Err(_) => return Geom::Skipped("cannot rebuild its rings".into()),
        }
    };
    let geometry = closed.as_ref().unwrap_or(geometry);
    if !geometry.is_valid() {
        // GEOS MakeValid: a bow-tie becomes two triangles, a self-touching ring two rings.
        let repaired = geometry.make_valid(&CslStringList::new()).ok();
        let mut fixed = Parts::new();
        if let Some(g) = &repaired {
            polygon_parts(g, &mut fixed);
        }
        if fixed.is_empty() {
            return Geom::Skipped("invalid geometry that OGR MakeValid cannot repair".into());
        }
        let how = format!(
            "invalid geometry (self-intersecting or overlapping rings) repaired with OGR MakeValid into {} polygon part{}",
            fixed.len(),
            if fixed.len() == 1 { "" } else { "s" }
        );
        let mut text: Vec<String> = fixes.iter().map(|f| f.to_string()).collect();
        text.push(how);
        return Geom::Repaired(fixed, text.join("; "));
    }
    if fixes.is_empty() {
        Geom::Ok(parts)
    } else {
        Geom::Repaired(parts, fixes.join("; "))
    }
}

/// Collect the polygons of `g` (recursing into multi-geometries and collections) into `out`.
/// Returns the geometry type name when `g` holds nothing polygonal at all.
pub fn polygon_parts(g: &Geometry, out: &mut Parts) -> Option<String> {
    use OGRwkbGeometryType::*;
    match geometry_type_flatten(g.geometry_type()) {
        t if t == wkbPolygon => {
            let rings = (0..g.geometry_count())
                .map(|i| {
                    let ring = g.get_geometry(i);
                    let mut points = Vec::new();
                    ring.get_points(&mut points);
                    points.into_iter().map(|(x, y, _)| (x, y)).collect()
                })
                .filter(|r: &Vec<(f64, f64)>| r.len() >= 3)
                .collect::<Vec<_>>();
            if !rings.is_empty() {
                out.push(rings);
            }
            None
        }
        t if t == wkbMultiPolygon || t == wkbGeometryCollection => {
            let before = out.len();
            for i in 0..g.geometry_count() {
                polygon_parts(&g.get_geometry(i), out);
            }
            (out.len() == before && t == wkbGeometryCollection).then(|| g.geometry_name())
        }
        _ => Some(g.geometry_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densify_keeps_ends_and_bounds_pieces() {
        let ring = [(0.0, 0.0), (10.0, 0.0), (10.0, 1.0), (0.0, 0.0)];
        let d = densify(&ring, 3.0);
        assert_eq!(d.first(), Some(&(0.0, 0.0)));
        assert_eq!(d.last(), Some(&(0.0, 0.0)));
        assert!(d
            .windows(2)
            .all(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) <= 3.0 + 1e-12));
        assert_eq!(densify(&ring, f64::INFINITY), ring.to_vec());
    }
}
