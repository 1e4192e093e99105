//! The statistics table as rows for CSV, GeoJSON and shapefiles ([`crate::io::table`] writes
//! them): id first, the plot's attributes, `status`, `area_m2`, `pixels`, then every statistic
//! of every raster band. With rasters on several pixel grids, where a plot touches different
//! cells on each, there is no one `pixels`: each band's group starts with its own
//! (`<prefix>_pixels`). An attribute named like one of these columns is written as
//! `attr_<name>` ([`crate::plots::attribute_columns`]). A shapefile's column names have at most
//! 10 bytes, so there the columns take short names ([`shapefile_names`]).

use std::path::Path;

use super::{Stats, StatsTable};
use crate::error::Result;
use crate::export::styles::StatsColumns;
use crate::io::table::{Kind, Table, Value};

pub use crate::io::table::Format;

/// The plot's own columns after the id and the attributes: `status`, `area_m2` and, with
/// rasters on one pixel grid, `pixels`.
fn plot_columns(st: &StatsTable) -> Vec<(String, Kind)> {
    let mut columns = vec![
        ("status".to_string(), Kind::Text),
        ("area_m2".into(), Kind::Real),
    ];
    if st.grids() == 1 {
        columns.push(("pixels".into(), Kind::Int));
    }
    columns
}

/// The columns of each band's group, as the `<suffix>` of `<prefix>_<suffix>` with its
/// shapefile suffix: with rasters on several grids `pixels` (`px`) first, then the statistics
/// ([`Stats::NAMES`], [`SHAPEFILE_STATS`]).
fn group_columns(st: &StatsTable) -> Vec<(&'static str, &'static str)> {
    let pixels = (st.grids() > 1).then_some(("pixels", "px"));
    pixels
        .into_iter()
        .chain(Stats::NAMES.iter().copied().zip(SHAPEFILE_STATS))
        .collect()
}

/// The columns after the id and the attributes.
fn computed_columns(st: &StatsTable) -> Vec<(String, Kind)> {
    let mut columns = plot_columns(st);
    let group = group_columns(st);
    for column in &st.columns {
        for (suffix, _) in &group {
            let kind = if *suffix == "pixels" {
                Kind::Int
            } else {
                Kind::Real
            };
            columns.push((format!("{}_{suffix}", column.prefix), kind));
        }
    }
    columns
}

/// Where the bands' groups start among `columns` (the table's, [`columns`]).
fn first_group_column(st: &StatsTable, columns: usize) -> usize {
    columns.saturating_sub(st.columns.len() * group_columns(st).len())
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
    let one_grid = st.grids() == 1;
    let rows = st
        .rows
        .iter()
        .map(|row| {
            let pixels = |grid: usize| Value::Int(row.pixels.get(grid).map_or(0, |&n| n as i64));
            let mut values = vec![Value::Text(row.id.clone())];
            values.extend(row.attributes.iter().cloned());
            values.push(Value::Text(row.status.clone()));
            values.push(Value::Real(row.area_m2));
            if one_grid {
                values.push(pixels(0));
            }
            for (column, stats) in st.columns.iter().zip(&row.stats) {
                if !one_grid {
                    values.push(pixels(column.grid));
                }
                values.extend(stats.values().map(Value::Real));
            }
            values
        })
        .collect();
    Table {
        short_names: preferred_names(st, &columns),
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

/// The names the statistics table would rather have in a shapefile, one per column of
/// [`table`]: `status`, `area_m2`, `pixels` as they are and the groups' columns as
/// `<group>_<short>` ([`shapefile_groups`], [`group_columns`]); None for the id and the
/// attributes, which take the generic rule ([`crate::io::table::shapefile_names`]).
fn preferred_names(st: &StatsTable, columns: &[(String, Kind)]) -> Vec<Option<String>> {
    let first_stat = first_group_column(st, columns.len());
    let mut names: Vec<Option<String>> = vec![None; columns.len()];
    let fixed = plot_columns(st).len();
    for k in first_stat.saturating_sub(fixed)..first_stat {
        names[k] = Some(columns[k].0.clone());
    }
    let group = group_columns(st);
    let stat_names = shapefile_groups(st).into_iter().flat_map(|g| {
        group
            .iter()
            .map(move |(_, s)| Some(format!("{g}_{s}")))
            .collect::<Vec<_>>()
    });
    for (slot, name) in names[first_stat..].iter_mut().zip(stat_names) {
        *slot = name;
    }
    names
}

/// The column names a shapefile of the statistics takes, one per column of [`table`]: the
/// groups' columns as `<group>_<short>`, `status`, `area_m2`, `pixels` as they are, and the id and
/// the attributes by the generic rule of every table (kept when they fit and are free, else
/// cut to 10 bytes and numbered `_1`, `_2`, … if that is taken). No two names are alike,
/// ignoring case.
pub fn shapefile_names(st: &StatsTable) -> Result<Vec<String>> {
    let columns = columns(st);
    crate::io::table::shapefile_names(&columns, &preferred_names(st, &columns))
}

/// What a shapefile of the statistics names differently from the CSV and GeoJSON, in words
/// (None when nothing): the statistics' groups and short names, and each id or attribute
/// column cut to fit.
pub fn shapefile_note(st: &StatsTable) -> Result<Option<String>> {
    let full: Vec<String> = columns(st).into_iter().map(|(n, _)| n).collect();
    let short = shapefile_names(st)?;
    let first_stat = first_group_column(st, full.len());
    let mut parts = Vec::new();
    if !st.columns.is_empty() {
        let groups: Vec<String> = st
            .columns
            .iter()
            .zip(shapefile_groups(st))
            .map(|(c, g)| format!("{}_… as {g}_…", c.prefix))
            .collect();
        let stats: Vec<String> = group_columns(st)
            .into_iter()
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{a} as {b}"))
            .collect();
        parts.push(format!("{} ({})", groups.join(", "), stats.join(", ")));
    }
    for (a, b) in full[..first_stat].iter().zip(&short[..first_stat]) {
        if a != b {
            parts.push(format!("{a} as {b}"));
        }
    }
    Ok((!parts.is_empty()).then(|| crate::io::table::shapefile_note_of(&parts)))
}

/// Write the statistics to `path` (.csv, .geojson, or a shapefile with the names of
/// [`shapefile_names`]; a large GeoJSON on `threads` threads, None: all cores), and beside a
/// vector its QGIS style (classed on the main index's mean, the plots it saw little of marked:
/// [`crate::export::styles::stats_plots`]; beside a shapefile with the columns' names as the
/// aliases of the fields it names otherwise).
pub fn write(st: &StatsTable, path: &Path, threads: Option<usize>) -> Result<()> {
    let table = table(st);
    table.write(path, threads)?;
    // The style names the columns as the file does, and gives the fields a shapefile names
    // otherwise their names as aliases.
    let (names, aliases) = match Format::for_path(path)? {
        Format::Shapefile { .. } => (table.shapefile_names()?, table.shapefile_aliases()?),
        _ => (
            table.columns.iter().map(|c| c.0.clone()).collect(),
            Vec::new(),
        ),
    };
    let first_stat = first_group_column(st, names.len());
    let group = group_columns(st);
    let at = |stat: &str| group.iter().position(|(n, _)| *n == stat).unwrap_or(0);
    let name = |k: usize| names.get(k).cloned();
    let groups: Vec<StatsColumns> = st
        .columns
        .iter()
        .enumerate()
        .filter_map(|(k, c)| {
            let first = first_stat + k * group.len();
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
        let qml = crate::export::qml::with_aliases(&qml, &aliases);
        crate::io::write_atomic(&style, qml.as_bytes())?;
    }
    Ok(())
}
