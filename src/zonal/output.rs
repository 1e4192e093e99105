//! The statistics table as rows for CSV and GeoJSON ([`crate::io::table`] writes them): id
//! first, the plot's attributes, `status`, `area_m2`, `pixels`, then every statistic of every
//! raster band. An attribute named like one of these columns is written as `attr_<name>`
//! ([`crate::plots::attribute_columns`]).

use std::path::Path;

use super::{Stats, StatsTable};
use crate::error::Result;
use crate::io::table::{Kind, Table, Value};

pub use crate::io::table::Format;

/// The columns after the id and the attributes.
fn computed_columns(st: &StatsTable) -> Vec<(String, Kind)> {
    let mut columns = vec![
        ("status".to_string(), Kind::Text),
        ("area_m2".into(), Kind::Real),
        ("pixels".into(), Kind::Int),
    ];
    for column in &st.columns {
        for stat in Stats::NAMES {
            columns.push((format!("{}_{stat}", column.prefix), Kind::Real));
        }
    }
    columns
}

/// The attributes' columns and a warning for each one renamed.
pub fn attribute_columns(st: &StatsTable) -> (Vec<(String, Kind)>, Vec<String>) {
    crate::plots::attribute_columns(&st.id_column, &st.fields, &computed_columns(st))
}

/// The statistics as a table.
pub fn table(st: &StatsTable) -> Table {
    let mut columns = vec![(st.id_column.clone(), Kind::Text)];
    columns.extend(attribute_columns(st).0);
    columns.extend(computed_columns(st));
    let rows = st
        .rows
        .iter()
        .map(|row| {
            let mut values = vec![Value::Text(row.id.clone())];
            values.extend(row.attributes.iter().cloned());
            values.push(Value::Text(row.status.clone()));
            values.push(Value::Real(row.area_m2));
            values.push(Value::Int(row.pixels as i64));
            for stats in &row.stats {
                values.extend(stats.values().map(Value::Real));
            }
            values
        })
        .collect();
    Table {
        columns,
        rows,
        lonlat: st.lonlat.clone(),
    }
}

/// The statistics as CSV bytes.
pub fn csv_bytes(st: &StatsTable) -> Result<Vec<u8>> {
    table(st).csv_bytes()
}

/// Write the statistics to `path` (.csv or .geojson; a large GeoJSON on `threads` threads,
/// None: all cores), and beside a vector its QGIS style (graduated on the main index's mean,
/// [`crate::export::styles::stats_plots`]).
pub fn write(st: &StatsTable, path: &Path, threads: Option<usize>) -> Result<()> {
    table(st).write(path, threads)?;
    let prefixes: Vec<String> = st.columns.iter().map(|c| c.prefix.clone()).collect();
    let style = crate::export::styles::sidecar(path)
        .zip(crate::export::styles::stats_plots(&st.id_column, &prefixes));
    if let Some((style, qml)) = style {
        crate::io::write_atomic(&style, qml.as_bytes())?;
    }
    Ok(())
}
