//! Tables of plots out: CSV (one row per plot, in column order) and RFC 7946 GeoJSON (WGS84
//! lon/lat plot geometries with the row as properties, written by OGR). Both are written under
//! a temporary name and renamed, and the same table always gives the same bytes. Used by
//! `paddy stats` and `paddy stage`.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;

use crate::error::{gdal_message, Error, Result};

/// Polygon parts; each part is its rings (outer first, then holes); each ring its (x, y) points.
pub type Parts = Vec<Vec<Vec<(f64, f64)>>>;

/// Apply `f` to every ring of every part, keeping the structure.
pub fn map_rings<E>(
    parts: &Parts,
    mut f: impl FnMut(&[(f64, f64)]) -> std::result::Result<Vec<(f64, f64)>, E>,
) -> std::result::Result<Parts, E> {
    parts
        .iter()
        .map(|rings| rings.iter().map(|ring| f(ring)).collect())
        .collect()
}

/// A cell of a table: plot attributes carried through, statistics, dates.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// A short series (a smoothed curve): a JSON array in CSV, a real list in GeoJSON.
    Reals(Vec<f64>),
}

impl Value {
    /// The value as text (empty for null and NaN), for CSV and messages: numbers in the
    /// shortest form that reads back to the same f64.
    pub fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(v) => v.to_string(),
            Value::Real(v) if v.is_nan() => String::new(),
            Value::Real(v) => v.to_string(),
            Value::Text(v) => v.clone(),
            Value::Reals(v) => {
                let items: Vec<String> = v
                    .iter()
                    .map(|x| {
                        if x.is_finite() {
                            x.to_string()
                        } else {
                            "null".into()
                        }
                    })
                    .collect();
                format!("[{}]", items.join(","))
            }
        }
    }

    /// A real, or NaN for None.
    pub fn real(v: Option<f64>) -> Value {
        Value::Real(v.unwrap_or(f64::NAN))
    }

    /// Text, or null for None.
    pub fn text_or_null(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Text)
    }
}

/// The kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Reals,
}

/// Rows of values under named, typed columns, each row with its plot geometry in lon/lat.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<(String, Kind)>,
    pub rows: Vec<Vec<Value>>,
    /// Per row: the geometry in WGS84 lon/lat, if known.
    pub lonlat: Vec<Option<Parts>>,
}

/// Output formats, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
}

impl Format {
    /// The format for `path` by its extension.
    pub fn for_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" => Ok(Format::Csv),
            "geojson" | "json" => Ok(Format::GeoJson),
            _ => Err(Error::usage(format!(
                "{}: unknown output format '.{ext}': use .csv or .geojson",
                path.display()
            ))),
        }
    }
}

impl Table {
    /// The table as CSV bytes.
    pub fn csv_bytes(&self) -> Result<Vec<u8>> {
        let fail = |e: csv::Error| Error::usage(format!("cannot format the CSV table: {e}"));
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(self.columns.iter().map(|c| c.0.as_str()))
            .map_err(fail)?;
        for row in &self.rows {
            writer
                .write_record(row.iter().map(Value::text))
                .map_err(fail)?;
        }
        writer
            .into_inner()
            .map_err(|e| Error::usage(format!("cannot format the CSV table: {e}")))
    }

    /// Write the table to `path` in the format its extension names.
    pub fn write(&self, path: &Path) -> Result<()> {
        match Format::for_path(path)? {
            Format::Csv => super::write_atomic(path, &self.csv_bytes()?),
            Format::GeoJson => super::write_atomically(path, |temp| self.write_geojson(temp, path)),
        }
    }

    fn write_geojson(&self, temp: &Path, final_path: &Path) -> Result<()> {
        if self.lonlat.iter().all(Option::is_none) {
            return Err(Error::usage(format!(
                "{}: GeoJSON needs plots with a known CRS (they are written in WGS84 lon/lat)",
                final_path.display()
            )));
        }
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: final_path.to_path_buf(),
            message: gdal_message(&e),
        };
        let driver = DriverManager::get_driver_by_name("GeoJSON").map_err(fail)?;
        let mut ds = driver.create_vector_only(temp).map_err(fail)?;
        let mut srs = SpatialRef::from_epsg(4326).map_err(fail)?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let name = final_path
            .file_stem()
            .map_or("plots".into(), |s| s.to_string_lossy().into_owned());
        let layer = ds
            .create_layer(LayerOptions {
                name: &name,
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbUnknown,
                // RFC 7946: WGS84 lon/lat, counter-clockwise outer rings, 7 decimals (~1 cm).
                options: Some(&["RFC7946=YES", "WRITE_NAME=NO"]),
            })
            .map_err(fail)?;
        for (name, kind) in &self.columns {
            let kind = match kind {
                Kind::Int => OGRFieldType::OFTInteger64,
                Kind::Real => OGRFieldType::OFTReal,
                Kind::Text => OGRFieldType::OFTString,
                Kind::Reals => OGRFieldType::OFTRealList,
            };
            FieldDefn::new(name, kind)
                .and_then(|f| f.add_to_layer(&layer))
                .map_err(fail)?;
        }
        let defn = layer.defn();
        for (row, parts) in self.rows.iter().zip(&self.lonlat) {
            let mut feature = gdal::vector::Feature::new(defn).map_err(fail)?;
            for (k, value) in row.iter().enumerate() {
                match value {
                    Value::Null => feature.set_field_null(k),
                    Value::Int(v) => feature.set_field_integer64(k, *v),
                    Value::Real(v) if v.is_nan() => feature.set_field_null(k),
                    Value::Real(v) => feature.set_field_double(k, *v),
                    Value::Text(v) => feature.set_field_string(k, v),
                    Value::Reals(v) => feature.set_field_double_list(k, v),
                }
                .map_err(fail)?;
            }
            if let Some(parts) = parts {
                feature
                    .set_geometry(ogr_geometry(parts).map_err(fail)?)
                    .map_err(fail)?;
            }
            feature.create(&layer).map_err(fail)?;
        }
        ds.close().map_err(fail)
    }
}

/// An OGR Polygon (one part) or MultiPolygon from parts.
pub fn ogr_geometry(parts: &Parts) -> gdal::errors::Result<Geometry> {
    let polygon = |rings: &Vec<Vec<(f64, f64)>>| -> gdal::errors::Result<Geometry> {
        let mut polygon = Geometry::empty(OGRwkbGeometryType::wkbPolygon)?;
        for points in rings {
            let mut ring = Geometry::empty(OGRwkbGeometryType::wkbLinearRing)?;
            for &p in points {
                ring.add_point_2d(p);
            }
            polygon.add_geometry(ring)?;
        }
        Ok(polygon)
    };
    if let [single] = parts.as_slice() {
        return polygon(single);
    }
    let mut multi = Geometry::empty(OGRwkbGeometryType::wkbMultiPolygon)?;
    for rings in parts {
        multi.add_geometry(polygon(rings)?)?;
    }
    Ok(multi)
}
