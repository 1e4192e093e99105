//! The growth stage of each plot for a prescription: a `paddy stage` table (checked against
//! the flight's date) or the plots' own attributes.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::RasterInfo;
use crate::phenology::dates::{date_from_metadata, date_from_pattern, Date};
use crate::phenology::stage::Stage;

/// One plot's growth stage, as the prescription sees it.
#[derive(Debug, Clone, Default)]
pub struct PlotStage {
    pub class: String,
    pub stage: Option<Stage>,
    pub dat: Option<f64>,
    /// Where it came from (file or attributes), for reasons.
    pub source: String,
}

/// A `paddy stage` table: each plot's stage by id, and the dates (`at`) it was made for.
pub struct StageCsv {
    pub by_id: HashMap<String, PlotStage>,
    pub dates: Vec<Date>,
}

/// The plots' stages from a `paddy stage` CSV (by id).
pub fn stages_from_csv(path: &Path, id_column: &str) -> Result<StageCsv> {
    let bad = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let id = col(id_column)
        .or(if header.is_empty() { None } else { Some(0) })
        .ok_or_else(|| bad("empty file".into()))?;
    let (Some(stage), Some(dat)) = (col("stage"), col("days_after_transplanting")) else {
        return Err(bad(
            "not a paddy stage table: it needs the columns stage and days_after_transplanting"
                .into(),
        ));
    };
    let (class, at) = (col("class"), col("at"));
    let mut out = StageCsv {
        by_id: HashMap::new(),
        dates: Vec::new(),
    };
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", line + 2)))?;
        let get = |k: usize| record.get(k).unwrap_or("").trim().to_string();
        if let Some(date) = at.map(get).filter(|t| !t.is_empty()) {
            let date = date
                .parse::<Date>()
                .map_err(|e| bad(format!("row {}: at '{date}': {e}", line + 2)))?;
            if !out.dates.contains(&date) {
                out.dates.push(date);
            }
        }
        out.by_id.insert(
            get(id),
            PlotStage {
                class: class.map(get).unwrap_or_default(),
                stage: get(stage).parse::<Stage>().ok(),
                dat: get(dat).parse::<f64>().ok().filter(|d| d.is_finite()),
                source: crate::io::file_name(path),
            },
        );
    }
    Ok(out)
}

/// The flight's date: --at, else the index raster's acquisition metadata, else a date in its
/// file name (YYYYMMDD); with where it came from.
pub fn flight_date(at: Option<Date>, info: &RasterInfo) -> Option<(Date, String)> {
    if let Some(d) = at {
        return Some((d, "--at".into()));
    }
    let name = crate::io::file_name(&info.path);
    if let Some((d, key)) = date_from_metadata(&info.metadata) {
        return Some((d, format!("{name} metadata {key}")));
    }
    date_from_pattern(&name, "{yyyy}{mm}{dd}")
        .ok()
        .flatten()
        .map(|d| (d, format!("the name {name}")))
}

/// Refuse a stage table made for another date than the flight's.
pub fn check_stage_dates(
    tolerance_days: f64,
    path: &Path,
    table: &StageCsv,
    flight: Option<&(Date, String)>,
) -> Result<()> {
    let Some((date, source)) = flight else {
        return Ok(());
    };
    for &at in &table.dates {
        let apart = at.days_until(*date).abs();
        if f64::from(apart) > tolerance_days {
            return Err(Error::usage(format!(
                "--stages {}: the stage table is for {at} but the flight is of {date} (from {source}), {apart} days apart (more than --stages-tolerance {}): run `paddy stage --at {date}` for this flight",
                path.display(),
                tolerance_days
            )));
        }
    }
    Ok(())
}
