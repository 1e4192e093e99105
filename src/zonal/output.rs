//! Statistics tables out: CSV (one row per plot, id first) and RFC 7946 GeoJSON (WGS84 lon/lat
//! plot geometries with the statistics as properties, written by OGR). Both are written under
//! a temporary name and renamed, and the same input always gives the same bytes.

use std::path::Path;

use gdal::vector::{FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::DriverManager;

use super::plots::{Kind, Value};
use super::{Stats, StatsTable};
use crate::error::{gdal_message, Error, Result};

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

/// Every column name in output order.
pub fn header(table: &StatsTable) -> Vec<String> {
    let mut names = vec![table.id_column.clone()];
    names.extend(table.fields.iter().map(|f| f.0.clone()));
    names.extend(["status", "area_m2", "pixels"].map(String::from));
    for column in &table.columns {
        for stat in Stats::NAMES {
            names.push(format!("{}_{stat}", column.prefix));
        }
    }
    names
}

/// A number as CSV text: shortest text that reads back to the same f64; empty for NaN.
fn number(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        v.to_string()
    }
}

/// The table as CSV bytes.
pub fn csv_bytes(table: &StatsTable) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::usage(format!("cannot format the CSV table: {e}"));
    writer.write_record(header(table)).map_err(fail)?;
    for row in &table.rows {
        let mut record = vec![row.id.clone()];
        record.extend(row.attributes.iter().map(Value::text));
        record.push(row.status.clone());
        record.push(number(row.area_m2));
        record.push(row.pixels.to_string());
        for stats in &row.stats {
            record.extend(stats.values().map(number));
        }
        writer.write_record(record).map_err(fail)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::usage(format!("cannot format the CSV table: {e}")))
}

/// Write the table to `path` in the format its extension names.
pub fn write(table: &StatsTable, path: &Path) -> Result<()> {
    match Format::for_path(path)? {
        Format::Csv => crate::io::write_atomic(path, &csv_bytes(table)?),
        Format::GeoJson => {
            crate::io::write_atomically(path, |temp| write_geojson(table, temp, path))
        }
    }
}

fn write_geojson(table: &StatsTable, temp: &Path, final_path: &Path) -> Result<()> {
    if table.lonlat.iter().all(Option::is_none) {
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
    let srs = super::plots::gis_srs(
        &gdal::spatial_ref::SpatialRef::from_epsg(4326)
            .and_then(|s| s.to_wkt())
            .map_err(fail)?,
    );
    let name = final_path
        .file_stem()
        .map_or("stats".into(), |s| s.to_string_lossy().into_owned());
    let layer = ds
        .create_layer(LayerOptions {
            name: &name,
            srs: srs.as_ref(),
            ty: OGRwkbGeometryType::wkbUnknown,
            // RFC 7946: WGS84 lon/lat, counter-clockwise outer rings, 7 decimals (~1 cm).
            options: Some(&["RFC7946=YES", "WRITE_NAME=NO"]),
        })
        .map_err(fail)?;
    let names = header(table);
    let n_fields = table.fields.len();
    for (i, name) in names.iter().enumerate() {
        let kind = if i == 0 || name == "status" {
            OGRFieldType::OFTString
        } else if (1..=n_fields).contains(&i) {
            match table.fields[i - 1].1 {
                Kind::Int => OGRFieldType::OFTInteger64,
                Kind::Real => OGRFieldType::OFTReal,
                Kind::Text => OGRFieldType::OFTString,
            }
        } else if name == "pixels" {
            OGRFieldType::OFTInteger64
        } else {
            OGRFieldType::OFTReal
        };
        FieldDefn::new(name, kind)
            .and_then(|f| f.add_to_layer(&layer))
            .map_err(fail)?;
    }
    let defn = layer.defn();
    for (row, parts) in table.rows.iter().zip(&table.lonlat) {
        let mut feature = gdal::vector::Feature::new(defn).map_err(fail)?;
        let mut k = 0;
        let mut set = |feature: &mut gdal::vector::Feature, value: Value| {
            let r = match value {
                Value::Null => feature.set_field_null(k),
                Value::Int(v) => feature.set_field_integer64(k, v),
                Value::Real(v) if v.is_nan() => feature.set_field_null(k),
                Value::Real(v) => feature.set_field_double(k, v),
                Value::Text(v) => feature.set_field_string(k, &v),
            };
            k += 1;
            r
        };
        set(&mut feature, Value::Text(row.id.clone())).map_err(fail)?;
        for a in &row.attributes {
            set(&mut feature, a.clone()).map_err(fail)?;
        }
        set(&mut feature, Value::Text(row.status.clone())).map_err(fail)?;
        set(&mut feature, Value::Real(row.area_m2)).map_err(fail)?;
        set(&mut feature, Value::Int(row.pixels as i64)).map_err(fail)?;
        for stats in &row.stats {
            for v in stats.values() {
                set(&mut feature, Value::Real(v)).map_err(fail)?;
            }
        }
        if let Some(parts) = parts {
            feature
                .set_geometry(super::plots::ogr_geometry(parts).map_err(fail)?)
                .map_err(fail)?;
        }
        feature.create(&layer).map_err(fail)?;
    }
    ds.close().map_err(fail)
}
