//! The statistics table as rows for CSV, GeoJSON and shapefiles ([`crate::io::table`] writes
//! them): id first, the plot's attributes, `status`, `area_m2`, `pixels`, then every statistic
//! of every raster band. An attribute named like one of these columns is written as
//! `attr_<name>` ([`crate::plots::attribute_columns`]). A shapefile's column names have at most
//! 10 bytes, so there the columns take short names ([`shapefile_names`]).

use std::path::Path;

use super::{Stats, StatsTable};
use crate::error::Result;
use crate::export::styles::StatsColumns;
use crate::io::table::{Kind, Table, Value, SHAPEFILE_NAME_MAX};

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

/// The table's columns: the id, the attributes, then the computed ones.
fn columns(st: &StatsTable) -> Vec<(String, Kind)> {
    let mut columns = vec![(st.id_column.clone(), Kind::Text)];
    columns.extend(attribute_columns(st).0);
    columns.extend(computed_columns(st));
    columns
}

/// The statistics as a table.
pub fn table(st: &StatsTable) -> Table {
    let columns = columns(st);
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

/// The statistics' names in a shapefile's columns, in the order of [`Stats::NAMES`]
/// (`<group>_cnt`, `<group>_mean`, …): with a group name of at most 5 bytes they fit the
/// 10 bytes a shapefile (DBF) column name may have.
pub const SHAPEFILE_STATS: [&str; 9] = [
    "cnt", "mean", "std", "min", "max", "med", "p10", "p90", "nodf",
];

/// The longest group name that fits `<group>_<statistic>` in a shapefile column.
const SHAPEFILE_GROUP_MAX: usize = 5;

/// Each raster band's group name in a shapefile (the `<group>` of `<group>_mean`): the last
/// `_` part of its prefix, i.e. the index (`ndvi` for `s2_20260717_ndvi`), when every group's
/// is 1 to 5 bytes long and no two are alike (ignoring case); otherwise `r1`, `r2`, … in the
/// order of the rasters and bands.
pub fn shapefile_groups(st: &StatsTable) -> Vec<String> {
    let last: Vec<&str> = st
        .columns
        .iter()
        .map(|c| c.prefix.rsplit('_').next().unwrap_or(&c.prefix))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let usable = last
        .iter()
        .all(|g| !g.is_empty() && g.len() <= SHAPEFILE_GROUP_MAX && seen.insert(g.to_lowercase()));
    if usable {
        last.iter().map(|g| g.to_string()).collect()
    } else {
        (1..=st.columns.len()).map(|k| format!("r{k}")).collect()
    }
}

/// The column names a shapefile of the statistics takes, one per column of [`table`]: the
/// statistics as `<group>_<short>` ([`shapefile_groups`], [`SHAPEFILE_STATS`]); `status`,
/// `area_m2`, `pixels` as they are; the id and the attributes as they are when they fit 10 bytes
/// and are free, else cut to 10 bytes, and when that is taken cut shorter and numbered (`_1`,
/// `_2`, …) as OGR does. No two names are alike, ignoring case.
pub fn shapefile_names(st: &StatsTable) -> Vec<String> {
    let full: Vec<String> = columns(st).into_iter().map(|(n, _)| n).collect();
    let stats = st.columns.len() * Stats::NAMES.len();
    let first_stat = full.len().saturating_sub(stats);
    let fixed = first_stat.saturating_sub(3)..first_stat;
    let groups = shapefile_groups(st);
    let stat_names = groups
        .iter()
        .flat_map(|g| SHAPEFILE_STATS.iter().map(move |s| format!("{g}_{s}")));
    let mut names: Vec<Option<String>> = vec![None; full.len()];
    for (slot, name) in names[first_stat..].iter_mut().zip(stat_names) {
        *slot = Some(name);
    }
    for k in fixed {
        names[k] = Some(full[k].clone());
    }
    let mut taken: std::collections::HashSet<String> =
        names.iter().flatten().map(|n| n.to_lowercase()).collect();
    // The id and attributes that fit keep their names, in order; then the others are cut.
    for (k, name) in full.iter().enumerate().take(first_stat.saturating_sub(3)) {
        if name.len() <= SHAPEFILE_NAME_MAX && taken.insert(name.to_lowercase()) {
            names[k] = Some(name.clone());
        }
    }
    for (k, name) in full.iter().enumerate() {
        if names[k].is_some() {
            continue;
        }
        let mut short = cut(name, SHAPEFILE_NAME_MAX).to_string();
        let mut n = 0;
        while !taken.insert(short.to_lowercase()) {
            n += 1;
            let suffix = format!("_{n}");
            short = format!("{}{suffix}", cut(name, SHAPEFILE_NAME_MAX - suffix.len()));
        }
        names[k] = Some(short);
    }
    names
        .into_iter()
        .zip(full)
        .map(|(short, full)| short.unwrap_or(full))
        .collect()
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What a shapefile of the statistics names differently from the CSV and GeoJSON, in words
/// (None when nothing): the statistics' groups and short names, and each id or attribute
/// column cut to fit.
pub fn shapefile_note(st: &StatsTable) -> Option<String> {
    let full: Vec<String> = columns(st).into_iter().map(|(n, _)| n).collect();
    let short = shapefile_names(st);
    let first_stat = full
        .len()
        .saturating_sub(st.columns.len() * Stats::NAMES.len());
    let mut parts = Vec::new();
    if !st.columns.is_empty() {
        let groups: Vec<String> = st
            .columns
            .iter()
            .zip(shapefile_groups(st))
            .map(|(c, g)| format!("{}_… as {g}_…", c.prefix))
            .collect();
        let stats: Vec<String> = Stats::NAMES
            .iter()
            .zip(SHAPEFILE_STATS)
            .filter(|(a, b)| *a != b)
            .map(|(a, b)| format!("{a} as {b}"))
            .collect();
        parts.push(format!("{} ({})", groups.join(", "), stats.join(", ")));
    }
    for (a, b) in full[..first_stat].iter().zip(&short[..first_stat]) {
        if a != b {
            parts.push(format!("{a} as {b}"));
        }
    }
    (!parts.is_empty()).then(|| {
        format!(
            "shapefile column names have at most {SHAPEFILE_NAME_MAX} bytes, so it has {}",
            parts.join("; ")
        )
    })
}

/// Write the statistics to `path` (.csv, .geojson, or a shapefile with the names of
/// [`shapefile_names`]; a large GeoJSON on `threads` threads, None: all cores), and beside a
/// vector its QGIS style (classed on the main index's mean, the plots it saw little of marked:
/// [`crate::export::styles::stats_plots`]).
pub fn write(st: &StatsTable, path: &Path, threads: Option<usize>) -> Result<()> {
    let mut table = table(st);
    if let Format::Shapefile { .. } = Format::for_path(path)? {
        for ((name, _), short) in table.columns.iter_mut().zip(shapefile_names(st)) {
            *name = short;
        }
    }
    table.write(path, threads)?;
    let first_stat = table
        .columns
        .len()
        .saturating_sub(st.columns.len() * Stats::NAMES.len());
    let at = |stat: &str| Stats::NAMES.iter().position(|n| *n == stat).unwrap_or(0);
    let name = |k: usize| table.columns.get(k).map(|c| c.0.clone());
    let groups: Vec<StatsColumns> = st
        .columns
        .iter()
        .enumerate()
        .filter_map(|(k, c)| {
            let first = first_stat + k * Stats::NAMES.len();
            Some(StatsColumns {
                prefix: c.prefix.clone(),
                mean: name(first + at("mean"))?,
                count: name(first + at("count"))?,
                pixel_m2: c.pixel_m2,
            })
        })
        .collect();
    let id_column = name(0).unwrap_or_else(|| st.id_column.clone());
    let style = crate::export::styles::sidecar(path)
        .zip(crate::export::styles::stats_plots(&id_column, &groups));
    if let Some((style, qml)) = style {
        crate::io::write_atomic(&style, qml.as_bytes())?;
    }
    Ok(())
}
