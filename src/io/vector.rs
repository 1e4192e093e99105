//! Plots from any vector file OGR reads (GeoJSON, GeoPackage, Shapefile, KML, FlatGeobuf): ids,
//! attributes, polygon rings checked and repaired; and plots reprojected with PROJ, densified
//! first so that straight edges stay true to the source.
//!
//! Geometries stay in the file's CRS in [`Plots`]; [`to_crs`] gives them in a raster's CRS and
//! [`wgs84`] in lon/lat for GeoJSON and geodesic areas.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use gdal::cpl::CslStringList;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{
    geometry_type_flatten, Feature, FieldValue, Geometry, Layer, LayerAccess, OGRFieldType,
    OGRwkbGeometryType,
};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use super::gdal_message;
use super::table::ogr_geometry;
use crate::error::{Error, Result};
use crate::plots::{densify, map_rings, Geom, Kind, Parts, Plot, Plots, Value};

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

fn vector_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A spatial reference that takes and gives (x, y) = (easting or longitude, northing or latitude).
fn gis_srs(wkt: &str) -> Option<SpatialRef> {
    let mut srs = SpatialRef::from_wkt(wkt).ok()?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Some(srs)
}

/// True when the CRS `wkt` is geographic (degrees), false when projected or unreadable.
pub fn is_geographic(wkt: &str) -> bool {
    gis_srs(wkt).is_some_and(|s| s.is_geographic())
}

/// The WKT of the CRS `EPSG:code`.
pub fn epsg_wkt(code: u32) -> Result<String> {
    SpatialRef::from_epsg(code)
        .and_then(|s| s.to_wkt())
        .map_err(|e| Error::usage(format!("PROJ cannot build EPSG:{code}: {e}")))
}

/// The name of the CRS `wkt` ("WGS 84 / Pseudo-Mercator"), if it has one.
pub fn crs_name(wkt: &str) -> Option<String> {
    SpatialRef::from_wkt(wkt).ok().and_then(|s| s.name())
}

fn wgs84_srs() -> Result<SpatialRef> {
    let mut srs = SpatialRef::from_epsg(4326)
        .map_err(|e| Error::usage(format!("PROJ cannot build EPSG:4326: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// Read the polygon features of `layer` (default: the only layer) of the vector file `path`.
/// `id_field` names the plot id field (default `plot_id` when the layer has one, else feature
/// ids). Errors name the file, the layers or the fields there are; they leave naming the
/// setting that chooses a layer or an id field to the caller.
pub fn read_plots(path: &Path, layer: Option<&str>, id_field: Option<&str>) -> Result<Plots> {
    let ds = open_vector(path)?;
    let mut layer = pick_layer(&ds, path, layer)?;
    let layer_name = layer.name();
    let crs_wkt = layer.spatial_ref().and_then(|s| s.to_wkt().ok());
    let columns = Columns::of(&layer, path, id_field)?;
    let (plots, mut warnings) = read_features(&mut layer, &columns, path, &layer_name)?;
    let mut seen = HashSet::new();
    let duplicates: Vec<&str> = plots
        .iter()
        .filter(|p| !seen.insert(p.id.as_str()))
        .map(|p| p.id.as_str())
        .collect();
    if !duplicates.is_empty() {
        warnings.push(format!(
            "{} plot ids appear more than once in '{}' (e.g. '{}'): each feature keeps its own row",
            duplicates.len(),
            columns.id_column,
            duplicates[0]
        ));
    }
    Ok(Plots {
        path: path.to_path_buf(),
        layer: layer_name,
        id_column: columns.id_column,
        fields: columns.fields,
        plots,
        crs_wkt,
        warnings,
        wgs84: Default::default(),
    })
}

/// Open `path` read-only as a vector file.
fn open_vector(path: &Path) -> Result<Dataset> {
    super::init();
    if !path.to_string_lossy().starts_with("/vsi") && !path.exists() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    Dataset::open_ex(
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
    })
}

/// The layer named `layer`, else the only one.
fn pick_layer<'a>(ds: &'a Dataset, path: &Path, layer: Option<&str>) -> Result<Layer<'a>> {
    let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    match layer {
        Some(name) => ds.layer_by_name(name).map_err(|_| {
            vector_error(
                path,
                format!("no layer '{name}'; layers: {}", names.join(", ")),
            )
        }),
        None if names.len() == 1 => ds
            .layer(0)
            .map_err(|e| vector_error(path, gdal_message(&e))),
        None if names.is_empty() => Err(vector_error(path, "the file has no layers")),
        None => Err(vector_error(path, choose_layer_message(&names))),
    }
}

/// What a file with several layers and none chosen is told: it ends with [`CHOOSE_LAYER`], to
/// which a caller may add how its user chooses one.
fn choose_layer_message(names: &[String]) -> String {
    format!(
        "the file has {} layers ({}): {CHOOSE_LAYER}",
        names.len(),
        names.join(", ")
    )
}

/// The end of the message for a vector file with several layers when none was chosen.
pub const CHOOSE_LAYER: &str = "choose one";

/// A layer's fields: which holds the id, which are carried, and their kinds.
struct Columns {
    /// Every field, with its OGR type.
    all: Vec<(String, OGRFieldType::Type)>,
    id_index: Option<usize>,
    id_column: String,
    /// Indices of the carried fields (all but the id field).
    carried: Vec<usize>,
    fields: Vec<(String, Kind)>,
}

fn kind_of(t: OGRFieldType::Type) -> Kind {
    match t {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => Kind::Int,
        OGRFieldType::OFTReal => Kind::Real,
        _ => Kind::Text,
    }
}

impl Columns {
    fn of(layer: &Layer, path: &Path, id_field: Option<&str>) -> Result<Columns> {
        let all: Vec<(String, OGRFieldType::Type)> = layer
            .defn()
            .fields()
            .map(|f| (f.name(), f.field_type()))
            .collect();
        let field_names = || {
            let names: Vec<&str> = all.iter().map(|f| f.0.as_str()).collect();
            if names.is_empty() {
                "the layer has no fields".to_string()
            } else {
                format!("fields: {}", names.join(", "))
            }
        };
        let id_index = match id_field {
            Some(name) => Some(
                all.iter()
                    .position(|f| f.0 == name)
                    .or_else(|| all.iter().position(|f| f.0.eq_ignore_ascii_case(name)))
                    .ok_or_else(|| Error::Config {
                        path: path.to_path_buf(),
                        message: format!("no field '{name}' for the plot ids; {}", field_names()),
                    })?,
            ),
            None => all.iter().position(|f| f.0 == "plot_id"),
        };
        let id_column = id_index.map_or_else(|| "fid".to_string(), |i| all[i].0.clone());
        let carried: Vec<usize> = (0..all.len()).filter(|&i| Some(i) != id_index).collect();
        let fields = carried
            .iter()
            .map(|&i| (all[i].0.clone(), kind_of(all[i].1)))
            .collect();
        Ok(Columns {
            all,
            id_index,
            id_column,
            carried,
            fields,
        })
    }

    /// The `n`th feature's id (None: the id field is empty) and carried attributes.
    fn values(&self, feature: &Feature, n: usize) -> (Option<String>, Vec<Value>) {
        let field = |i: usize| value_of(feature.field(i).ok().flatten());
        let id = match self.id_index {
            Some(i) => Some(field(i).text()).filter(|t| !t.trim().is_empty()),
            None => Some(feature.fid().unwrap_or(n as u64).to_string()),
        };
        let attributes = self
            .carried
            .iter()
            .map(|&i| match (field(i), kind_of(self.all[i].1)) {
                // Keep the column's declared kind for outputs.
                (Value::Int(v), Kind::Real) => Value::Real(v as f64),
                (v, _) => v,
            })
            .collect();
        (id, attributes)
    }
}

/// How a message names the `n`th feature's plot: by id, or by its number when it has none.
fn plot_label(id: &str, n: usize) -> String {
    if id.is_empty() {
        format!("feature {} (no id)", n + 1)
    } else {
        format!("plot {id}")
    }
}

/// Every feature of `layer` as a plot, with a warning for each repaired or skipped geometry;
/// refuses a layer with no polygons at all.
fn read_features(
    layer: &mut Layer,
    columns: &Columns,
    path: &Path,
    layer_name: &str,
) -> Result<(Vec<Plot>, Vec<String>)> {
    let mut plots = Vec::new();
    let mut warnings = Vec::new();
    let mut polygonal = 0usize;
    let mut other_types = BTreeMap::<String, usize>::new();
    let mut without_id = Vec::new();
    for (n, feature) in layer.features().enumerate() {
        let (id, attributes) = columns.values(&feature, n);
        let id = id.unwrap_or_else(|| {
            without_id.push(n + 1);
            String::new()
        });
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
            Geom::Repaired(_, how) => warnings.push(format!("{}: {how}", plot_label(&id, n))),
            Geom::Skipped(why) => warnings.push(format!("{}: skipped: {why}", plot_label(&id, n))),
            Geom::Ok(_) => {}
        }
        plots.push(Plot {
            id,
            attributes,
            geom,
        });
    }
    if !without_id.is_empty() {
        let mut shown: Vec<String> = without_id.iter().take(5).map(|n| n.to_string()).collect();
        if without_id.len() > 5 {
            shown.push("…".into());
        }
        warnings.push(format!(
            "{} of {} features have no value in '{}' (feature {}, counting from 1): their rows have an empty id",
            without_id.len(),
            plots.len(),
            columns.id_column,
            shown.join(", "),
        ));
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
    Ok((plots, warnings))
}

/// Every plot's parts in the CRS `target_wkt`, edges densified to at most `max_segment`
/// target units before reprojecting so that straight edges stay true to the source.
/// Plots with no usable geometry give None. Many plots are cut into runs reprojected side by
/// side on `threads` workers (None: all cores), each with its own PROJ transformation.
pub fn to_crs(
    plots: &Plots,
    target_wkt: Option<&str>,
    max_segment: f64,
    threads: Option<usize>,
) -> Result<Vec<Option<Parts>>> {
    let (Some(src), Some(dst)) = (plots.crs_wkt.as_deref(), target_wkt) else {
        return Ok(plots.plots.iter().map(|p| p.parts().cloned()).collect());
    };
    if super::same_crs(Some(src), Some(dst)) {
        return Ok(plots.plots.iter().map(|p| p.parts().cloned()).collect());
    }
    let transform = transform_to(&plots.path, src, dst)?;
    // Source units per target unit near the plots, to densify in source units.
    let scale = local_scale(plots, &transform).unwrap_or(1.0);
    let step = max_segment * scale;
    let run = |plots_run: &[Plot], transform: &CoordTransform| {
        plots_run
            .iter()
            .map(|p| {
                p.parts()
                    .map(|parts| reproject(parts, transform, step, &plots.path, &p.id))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()
    };
    if plots.plots.len() <= PLOTS_PER_RUN {
        return run(&plots.plots, &transform);
    }
    in_runs(&plots.plots, threads, |plots_run| {
        run(plots_run, &transform_to(&plots.path, src, dst)?)
    })
}

/// Plots per run of [`in_runs`] (a county's 20 000 plots took 0.19 s on one core to WGS84).
const PLOTS_PER_RUN: usize = 2048;

/// `f` of `items` cut into runs of [`PLOTS_PER_RUN`], side by side on `threads` workers (None:
/// all cores), the results joined in order; one run on this thread.
fn in_runs<T: Sync, U: Send>(
    items: &[T],
    threads: Option<usize>,
    f: impl Fn(&[T]) -> Result<Vec<U>> + Sync,
) -> Result<Vec<U>> {
    if items.len() <= PLOTS_PER_RUN {
        return f(items);
    }
    let runs: Vec<&[T]> = items.chunks(PLOTS_PER_RUN).collect();
    let mut out = Vec::with_capacity(items.len());
    for part in crate::raster::engine::map(&runs, threads, |_, run| f(run))? {
        out.extend(part?);
    }
    Ok(out)
}

/// Every plot's parts in WGS84 longitude/latitude (not densified: vertices only).
pub fn wgs84(plots: &Plots, threads: Option<usize>) -> Result<Vec<Option<Parts>>> {
    let target = wgs84_srs()?.to_wkt().unwrap_or_default();
    to_crs(plots, Some(&target), f64::INFINITY, threads)
}

/// [`wgs84`] and the plots' geodesic areas, made once per plot set and kept in it.
pub fn wgs84_once(plots: &Plots, threads: Option<usize>) -> Result<&crate::plots::Wgs84> {
    if let Some(made) = plots.wgs84.get() {
        return Ok(made);
    }
    let parts = wgs84(plots, threads)?;
    let areas = in_runs(&parts, threads, |run| Ok(crate::plots::geodesic_areas(run)))?;
    Ok(plots
        .wgs84
        .get_or_init(|| crate::plots::Wgs84 { parts, areas }))
}

fn transform_to(path: &Path, src: &str, dst: &str) -> Result<CoordTransform> {
    let (Some(s), Some(d)) = (gis_srs(src), gis_srs(dst)) else {
        return Err(vector_error(path, "cannot read the layer's CRS"));
    };
    CoordTransform::new(&s, &d).map_err(|e| {
        vector_error(
            path,
            format!(
                "PROJ cannot transform from {} to {}: {}",
                super::crs_name(src),
                super::crs_name(dst),
                gdal_message(&e)
            ),
        )
    })
}

/// Source units per target unit, measured at the first plot with a geometry.
fn local_scale(plots: &Plots, transform: &CoordTransform) -> Option<f64> {
    let (x, y) = plots
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
                        "plot {id}: cannot reproject its geometry: {}{}",
                        gdal_message(&e),
                        swapped_hint(ring)
                    ),
                )
            })?;
        Ok(xs.into_iter().zip(ys).collect())
    })
}

/// A hint when a ring's coordinates look like latitude, longitude (x within ±90, y beyond):
/// GeoJSON and most GIS files put longitude first.
fn swapped_hint(ring: &[(f64, f64)]) -> &'static str {
    let swapped = !ring.is_empty()
        && ring
            .iter()
            .all(|&(x, y)| x.abs() <= 90.0 && y.abs() > 90.0 && y.abs() <= 180.0);
    if swapped {
        ": its coordinates look like latitude, longitude; the file must give longitude first (x, y)"
    } else {
        ""
    }
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
    use gdal::vector::{FieldDefn, LayerOptions};
    use gdal::DriverManager;

    /// A GeoPackage with two layers, `paddies` and `hotspots`, one square plot each with a
    /// `plot_id` and a `variety`.
    fn two_layers(dir: &Path) -> std::path::PathBuf {
        super::super::init();
        let path = dir.join("two.gpkg");
        let driver = DriverManager::get_driver_by_name("GPKG").unwrap();
        let mut ds = driver.create_vector_only(&path).unwrap();
        for (name, id) in [("paddies", "P1"), ("hotspots", "H1")] {
            let layer = ds
                .create_layer(LayerOptions {
                    name,
                    srs: None,
                    ty: OGRwkbGeometryType::wkbPolygon,
                    options: None,
                })
                .unwrap();
            for field in ["plot_id", "variety"] {
                FieldDefn::new(field, OGRFieldType::OFTString)
                    .unwrap()
                    .add_to_layer(&layer)
                    .unwrap();
            }
            let geometry = ogr_geometry(&vec![vec![vec![
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 1.0),
                (0.0, 1.0),
                (0.0, 0.0),
            ]]])
            .unwrap();
            let mut feature = Feature::new(layer.defn()).unwrap();
            feature.set_field_string(0, id).unwrap();
            feature.set_field_string(1, "IR64").unwrap();
            feature.set_geometry(geometry).unwrap();
            feature.create(&layer).unwrap();
        }
        path
    }

    #[test]
    fn the_lon_lat_and_areas_are_made_once_and_equal_a_fresh_reprojection() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_tiles/plots.geojson");
        let plots = read_plots(&sample, None, Some("plot_id")).unwrap();
        assert!(plots.wgs84.get().is_none());
        let made = wgs84_once(&plots, None).unwrap();
        let fresh = wgs84(&plots, None).unwrap();
        assert_eq!(made.parts, fresh);
        assert_eq!(made.areas, crate::plots::geodesic_areas(&fresh));
        // The sample's plots are of 0.4–0.9 ha.
        assert!(
            made.areas.iter().all(|a| (4_000.0..9_000.0).contains(a)),
            "{:?}",
            made.areas
        );
        // Kept: the second call returns the very same data.
        assert!(std::ptr::eq(wgs84_once(&plots, None).unwrap(), made));
    }

    /// Plots enough for several runs reprojected side by side come back in their order, each
    /// as a transformation of its own (a fresh PROJ object per plot) gives it, skipped plots
    /// as None in their place.
    #[test]
    fn many_plots_reprojected_side_by_side_equal_one_by_one() {
        super::super::init();
        let utm = SpatialRef::from_epsg(32648).unwrap().to_wkt().unwrap();
        let n = 2 * PLOTS_PER_RUN + 77;
        let plots = Plots {
            path: std::path::PathBuf::from("many.gpkg"),
            layer: "many".into(),
            id_column: "plot_id".into(),
            fields: Vec::new(),
            plots: (0..n)
                .map(|i| {
                    let (x, y) = (
                        500_000.0 + 150.0 * (i % 90) as f64,
                        1_500_000.0 + 150.0 * (i / 90) as f64,
                    );
                    let ring = vec![(x, y), (x + 100.0, y), (x + 100.0, y + 80.0), (x, y)];
                    Plot {
                        id: format!("P{i}"),
                        attributes: Vec::new(),
                        geom: if i == PLOTS_PER_RUN + 3 {
                            Geom::Skipped("empty geometry".into())
                        } else {
                            Geom::Ok(vec![vec![ring]])
                        },
                    }
                })
                .collect(),
            crs_wkt: Some(utm.clone()),
            warnings: Vec::new(),
            wgs84: Default::default(),
        };
        let target = wgs84_srs().unwrap().to_wkt().unwrap();
        for threads in [Some(1), Some(3), None] {
            let together = to_crs(&plots, Some(&target), f64::INFINITY, threads).unwrap();
            assert_eq!(together.len(), n);
            for (plot, got) in plots.plots.iter().zip(&together) {
                let want = plot.parts().map(|parts| {
                    let t = transform_to(&plots.path, &utm, &target).unwrap();
                    reproject(parts, &t, f64::INFINITY, &plots.path, &plot.id).unwrap()
                });
                assert_eq!(got, &want, "plot {}", plot.id);
            }
        }
        // In place: west to east with the plots' x, about 105° E (UTM zone 48's meridian).
        let all = to_crs(&plots, Some(&target), f64::INFINITY, Some(2)).unwrap();
        let lon = |i: usize| all[i].as_ref().unwrap()[0][0][0].0;
        assert!(lon(0) < lon(1) && (104.0..106.0).contains(&lon(0)));
        // Their areas, made in runs too, are those of the parts taken all at once.
        let made = wgs84_once(&plots, Some(3)).unwrap();
        let bits = |areas: &[f64]| areas.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
        let all_at_once = crate::plots::geodesic_areas(&made.parts);
        assert!(bits(&made.areas) == bits(&all_at_once), "areas differ");
        // A right triangle of 100 m × 80 m; the skipped plot has none.
        assert!(
            (3_990.0..4_010.0).contains(&made.areas[0]),
            "{}",
            made.areas[0]
        );
        assert!(made.areas[PLOTS_PER_RUN + 3].is_nan());
    }

    /// A wrong or missing layer or id field is told with the file, the layers or fields there
    /// are, and no command-line flag (the caller adds how its user sets them).
    #[test]
    fn layer_and_id_field_errors_name_no_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_layers(dir.path());
        let err = read_plots(&path, None, None).unwrap_err();
        assert!(matches!(err, Error::Input { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("two.gpkg"), "{text}");
        assert!(
            text.contains("paddies") && text.contains("hotspots"),
            "{text}"
        );
        assert!(
            text.ends_with(CHOOSE_LAYER) && !text.contains("--"),
            "{text}"
        );
        let text = read_plots(&path, Some("nope"), None)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("no layer 'nope'") && !text.contains("--"),
            "{text}"
        );
        let err = read_plots(&path, Some("hotspots"), Some("paddy_no")).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("paddy_no") && text.contains("plot_id, variety"),
            "{text}"
        );
        assert!(!text.contains("--"), "{text}");
        let plots = read_plots(&path, Some("hotspots"), Some("PLOT_ID")).unwrap();
        assert_eq!(plots.layer, "hotspots");
        assert_eq!(plots.id_column, "plot_id");
        assert_eq!(plots.plots.len(), 1);
        assert_eq!(plots.plots[0].id, "H1");
        assert_eq!(plots.fields, vec![("variety".to_string(), Kind::Text)]);
        assert_eq!(plots.plots[0].attributes, vec![Value::Text("IR64".into())]);
    }
}
