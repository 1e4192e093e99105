//! The stage table as rows for CSV, GeoJSON and shapefiles ([`crate::io::table`] writes
//! them). A shapefile's column names have at most 10 bytes: there the long columns take the
//! short names of [`SHAPEFILE_NAMES`], and long attribute names are cut
//! ([`crate::io::table::shapefile_names`]).

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

/// The names [`COLUMNS`] longer than 10 bytes take in a shapefile: readable, and alike where
/// the columns are (the `transplanting_…` columns as `transp_…`, `heading_…` as `head_…`,
/// earliest and latest as min and max), where cutting them would number them
/// (`transpla_1`, `transpla_2`, …).
pub const SHAPEFILE_NAMES: [(&str, &str); 13] = [
    ("transplanting", "transp"),
    ("transplanting_earliest", "transp_min"),
    ("transplanting_latest", "transp_max"),
    ("transplanting_source", "transp_src"),
    ("days_after_transplanting", "days_after"),
    ("season_start", "seas_start"),
    ("heading_earliest", "head_min"),
    ("heading_latest", "head_max"),
    ("heading_source", "head_src"),
    ("heading_curve", "head_curve"),
    ("days_to_heading", "days_to_hd"),
    ("valid_dates", "n_valid"),
    ("dropped_dates", "n_dropped"),
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

/// The table's columns: the id, the attributes, then the computed ones.
fn columns(result: &StageResult) -> Vec<(String, Kind)> {
    let mut columns = vec![(result.id_column.clone(), Kind::Text)];
    columns.extend(attribute_columns(&result.id_column, &result.fields).0);
    columns.extend(computed_columns());
    columns
}

/// The shapefile names of `columns` that [`SHAPEFILE_NAMES`] gives (the computed columns
/// only: an attribute is never named like one, [`attribute_columns`]).
fn preferred_names(columns: &[(String, Kind)]) -> Vec<Option<String>> {
    let first_computed = columns.len().saturating_sub(computed_columns().len());
    columns
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let short = SHAPEFILE_NAMES.iter().find(|(long, _)| long == name);
            short
                .filter(|_| k >= first_computed)
                .map(|(_, s)| s.to_string())
        })
        .collect()
}

/// What a shapefile of the stages names otherwise than the CSV, in words for a warning (None
/// when nothing).
pub fn shapefile_note(result: &StageResult) -> Result<Option<String>> {
    let table = Table {
        short_names: preferred_names(&columns(result)),
        columns: columns(result),
        ..Table::default()
    };
    table.shapefile_note()
}

/// A warning for each shapefile among `paths` that names columns otherwise than the CSV:
/// `<path>: ` and [`shapefile_note`].
pub fn shapefile_notes(result: &StageResult, paths: &[PathBuf]) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for path in paths {
        if let Format::Shapefile { .. } = Format::for_path(path)? {
            if let Some(note) = shapefile_note(result)? {
                notes.push(format!("{}: {note}", path.display()));
            }
        }
    }
    Ok(notes)
}

/// The stages as a table: id, attributes, then [`COLUMNS`], then `series`: the smoothed index
/// on every date of the series (rounded to 0.001; null before or after the plot's curve).
pub fn table(result: &StageResult) -> Table {
    let columns = columns(result);
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
        short_names: preferred_names(&columns),
        columns,
        rows,
        lonlat: result.lonlat.clone(),
    }
}

/// The stages as CSV bytes.
pub fn csv_bytes(result: &StageResult) -> Result<Vec<u8>> {
    table(result).csv_bytes()
}

/// Write the stages to `path` (.csv, .geojson, or a shapefile with the names of
/// [`crate::io::table::Table::shapefile_names`]; a large GeoJSON on `threads` threads, None:
/// all cores), and beside a vector its QGIS style (categorised by stage,
/// [`crate::export::styles::stage_plots`]; beside a shapefile with the columns' names as the
/// aliases of the fields it names otherwise).
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
        // The style names the id column as the file does (`stage` fits a shapefile), and
        // gives the fields a shapefile names otherwise their names as aliases.
        let (short_id, aliases) = match Format::for_path(path)? {
            Format::Shapefile { .. } => (
                table.shapefile_names()?.into_iter().next(),
                table.shapefile_aliases()?,
            ),
            _ => (None, Vec::new()),
        };
        let id_column = short_id.unwrap_or_else(|| id_column.to_string());
        let qml = crate::export::qml::with_aliases(
            &crate::export::styles::stage_plots(&id_column),
            &aliases,
        );
        crate::io::write_atomic(&style, qml.as_bytes())?;
    }
    Ok(())
}
