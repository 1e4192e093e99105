//! The stage table as rows for CSV and GeoJSON ([`crate::io::table`] writes them).

use std::path::{Path, PathBuf};

use super::StageResult;
use crate::error::Result;
use crate::io::table::{Kind, Table, Value};
use crate::phenology::dates::Date;

pub use crate::io::table::Format;

/// Columns after the id and the plot's attributes, with their kinds.
const COLUMNS: [(&str, Kind); 27] = [
    ("class", Kind::Text),
    ("stage", Kind::Text),
    ("stage_code", Kind::Int),
    ("at", Kind::Text),
    ("confidence", Kind::Real),
    ("agreement", Kind::Text),
    ("reason", Kind::Text),
    ("transplanting", Kind::Text),
    ("transplanting_earliest", Kind::Text),
    ("transplanting_latest", Kind::Text),
    ("transplanting_source", Kind::Text),
    ("flooding", Kind::Text),
    ("days_after_transplanting", Kind::Real),
    ("season_start", Kind::Text),
    ("heading", Kind::Text),
    ("heading_earliest", Kind::Text),
    ("heading_latest", Kind::Text),
    ("heading_source", Kind::Text),
    ("heading_curve", Kind::Text),
    ("days_to_heading", Kind::Real),
    ("season_end", Kind::Text),
    ("maturity", Kind::Text),
    ("peak_value", Kind::Real),
    ("amplitude", Kind::Real),
    ("valid_dates", Kind::Int),
    ("dropped_dates", Kind::Int),
    ("residual", Kind::Real),
];

fn date_of(day: Option<f64>) -> Value {
    Value::text_or_null(
        day.filter(|d| d.is_finite())
            .map(|d| Date::from_days_since_epoch(d.round() as i32).to_string()),
    )
}

/// The columns after the id and the attributes: [`COLUMNS`] and `series`.
fn computed_columns() -> Vec<(String, Kind)> {
    let mut columns: Vec<(String, Kind)> =
        COLUMNS.iter().map(|(n, k)| (n.to_string(), *k)).collect();
    columns.push(("series".into(), Kind::Reals));
    columns
}

/// The attributes' columns (one named like a computed column is written as `attr_<name>`,
/// [`crate::plots::attribute_columns`]) and a warning for each one renamed.
pub fn attribute_columns(
    id_column: &str,
    fields: &[(String, Kind)],
) -> (Vec<(String, Kind)>, Vec<String>) {
    crate::plots::attribute_columns(id_column, fields, &computed_columns())
}

/// The stages as a table: id, attributes, then [`COLUMNS`], then `series`: the smoothed index
/// on every date of the series (rounded to 0.001; null before or after the plot's curve).
pub fn table(result: &StageResult) -> Table {
    let mut columns = vec![(result.id_column.clone(), Kind::Text)];
    columns.extend(attribute_columns(&result.id_column, &result.fields).0);
    columns.extend(computed_columns());
    let rows = result
        .plots
        .iter()
        .zip(&result.attributes)
        .map(|(p, attributes)| {
            let season = p.season.as_ref();
            let mut row = vec![Value::Text(p.id.clone())];
            row.extend(attributes.iter().cloned());
            row.extend([
                Value::Text(p.class.clone()),
                Value::Text(p.call.stage.name().into()),
                Value::Int(p.call.stage.code().into()),
                Value::Text(result.at.to_string()),
                Value::Real(p.confidence),
                Value::Text(p.call.agreement.name().into()),
                Value::Text(p.call.reason.clone()),
                Value::text_or_null(p.transplanting.map(|d| d.to_string())),
                date_of(p.transplanting_range.map(|t| t.earliest)),
                date_of(p.transplanting_range.map(|t| t.latest)),
                Value::Text(p.transplanting_source.into()),
                Value::text_or_null(p.flooding.map(|d| d.to_string())),
                Value::real(p.days_after_transplanting),
                date_of(season.map(|s| s.start)),
                Value::text_or_null(p.heading.map(|d| d.to_string())),
                date_of(p.heading_range.map(|h| h.earliest)),
                date_of(p.heading_range.map(|h| h.latest)),
                Value::Text(p.heading_source.into()),
                Value::text_or_null(p.heading_curve.map(|d| d.to_string())),
                Value::real(p.days_to_heading),
                date_of(season.and_then(|s| s.end)),
                Value::text_or_null(p.maturity.map(|d| d.to_string())),
                Value::real(season.map(|s| s.peak_value)),
                Value::real(season.map(|s| s.amplitude)),
                Value::Int(p.valid_dates as i64),
                Value::Int(p.dropped_dates.len() as i64),
                Value::Real(p.residual),
            ]);
            let inside = |d: f64| !p.curve.is_empty() && d >= p.curve.start && d <= p.curve.end();
            row.push(Value::Reals(
                result
                    .dates
                    .iter()
                    .map(|d| {
                        let day = f64::from(d.days_since_epoch());
                        if inside(day) {
                            (p.curve.at(day) * 1000.0).round() / 1000.0
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            ));
            row
        })
        .collect();
    Table {
        columns,
        rows,
        lonlat: result.lonlat.clone(),
        short_names: Vec::new(),
    }
}

/// The stages as CSV bytes.
pub fn csv_bytes(result: &StageResult) -> Result<Vec<u8>> {
    table(result).csv_bytes()
}

/// Write the stages to `path` (.csv or .geojson; a large GeoJSON on `threads` threads, None:
/// all cores), and beside a vector its QGIS style (categorised by stage,
/// [`crate::export::styles::stage_plots`]).
pub fn write(result: &StageResult, path: &Path, threads: Option<usize>) -> Result<()> {
    write_table(&table(result), &result.id_column, path, threads)
}

/// [`write`] to each of `paths`, the table made once and the files written side by side on
/// `threads` workers, each by one writer.
pub fn write_all(result: &StageResult, paths: &[PathBuf], threads: Option<usize>) -> Result<()> {
    let table = table(result);
    crate::raster::engine::map(paths, threads, |_, path| {
        write_table(&table, &result.id_column, path, threads)
    })?
    .into_iter()
    .collect()
}

fn write_table(table: &Table, id_column: &str, path: &Path, threads: Option<usize>) -> Result<()> {
    table.write(path, threads)?;
    if let Some(style) = crate::export::styles::sidecar(path) {
        let qml = crate::export::styles::stage_plots(id_column);
        crate::io::write_atomic(&style, qml.as_bytes())?;
    }
    Ok(())
}
