//! The growth stage of each plot for a prescription: [`Stages`] from `paddy stage` (its CSV
//! table, or its results in memory), checked against the flight's date; or the plots' own
//! attributes.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::RasterInfo;
use crate::phenology::dates::{date_from_metadata, date_from_pattern, Date};
use crate::phenology::stage::Stage;
use crate::stage::StageResult;

/// One plot's growth stage, as the prescription sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotStage {
    pub class: String,
    pub stage: Option<Stage>,
    pub dat: Option<f64>,
    /// Where it came from (file or attributes), for reasons.
    pub source: String,
}

/// Each plot's growth stage from `paddy stage`, by plot id, and the dates (`at`) they were
/// found for.
#[derive(Debug, Clone, Default)]
pub struct Stages {
    pub by_id: HashMap<String, PlotStage>,
    pub dates: Vec<Date>,
    /// Where they came from, for messages: the table's file name, say.
    pub source: String,
}

impl Stages {
    /// The stages `paddy stage` found (in memory), as its CSV table would give them: class,
    /// stage and days after transplanting of each plot by id, at `result.at`. `source` names
    /// them in messages.
    pub fn from_stage_result(result: &StageResult, source: &str) -> Stages {
        let by_id = result
            .plots
            .iter()
            .map(|p| {
                let stage = PlotStage {
                    class: p.class.trim().to_string(),
                    stage: Some(p.call.stage),
                    dat: p.days_after_transplanting.filter(|d| d.is_finite()),
                    source: source.to_string(),
                };
                (p.id.trim().to_string(), stage)
            })
            .collect();
        Stages {
            by_id,
            dates: if result.plots.is_empty() {
                Vec::new()
            } else {
                vec![result.at]
            },
            source: source.to_string(),
        }
    }

    /// The stages in a `paddy stage` CSV table at `path`; `id_column` names the plot ids (else
    /// the first column holds them).
    pub fn read_csv(path: &Path, id_column: &str) -> Result<Stages> {
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
        let mut out = Stages {
            by_id: HashMap::new(),
            dates: Vec::new(),
            source: crate::io::file_name(path),
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
}

/// The flight's date: `at` (the date given, with where it came from), else the index
/// raster's acquisition metadata, else a date in its file name (YYYYMMDD); with where it came
/// from.
pub fn flight_date(at: Option<&(Date, String)>, info: &RasterInfo) -> Option<(Date, String)> {
    if let Some(given) = at {
        return Some(given.clone());
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

/// Refuse stages found for another date than the flight's, more than `tolerance_days` apart.
pub fn check_stage_dates(
    tolerance_days: f64,
    table: &Stages,
    flight: Option<&(Date, String)>,
) -> Result<()> {
    let Some((date, source)) = flight else {
        return Ok(());
    };
    for &at in &table.dates {
        let apart = at.days_until(*date).abs();
        if f64::from(apart) > tolerance_days {
            return Err(Error::usage(format!(
                "{}: the stage table is for {at} but the flight is of {date} (from {source}), {apart} days apart (more than the tolerance of {tolerance_days} days): find the stages at {date} for this flight",
                table.source
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phenology::smooth::DEFAULT_LAMBDA;
    use crate::phenology::stage::StageTable;
    use crate::stage::analyse::{analyse, Settings, Smoother};
    use crate::stage::series::PlotSeries;

    /// A rice season's NDVI every 5 days from `start`: bare soil, a logistic rise, a plateau.
    fn season(start: Date, dates: usize, days_to_half: f64) -> PlotSeries {
        let day0 = f64::from(start.days_since_epoch());
        let days: Vec<f64> = (0..dates).map(|i| day0 + 5.0 * i as f64).collect();
        let values = days
            .iter()
            .map(|d| 0.15 + 0.7 / (1.0 + (-(d - day0 - days_to_half) / 6.0).exp()))
            .collect();
        PlotSeries {
            valid_share: vec![1.0; dates],
            days,
            values,
            dropped: Vec::new(),
        }
    }

    /// What `paddy prescribe` gets from `paddy stage`'s results in memory is what it gets from
    /// the CSV table `paddy stage` writes of them.
    #[test]
    fn stages_in_memory_match_the_stage_table() {
        let table = StageTable::builtin();
        let at: Date = "2026-07-18".parse().unwrap();
        let settings = Settings {
            smoother: Smoother::Whittaker {
                lambda: DEFAULT_LAMBDA,
            },
            fraction: 0.2,
            table: &table,
            at,
            from: None,
            calibration: None,
        };
        let start: Date = "2026-05-20".parse().unwrap();
        let transplanted: Date = "2026-06-02".parse().unwrap();
        let plots = vec![
            // Transplanting recorded: days after transplanting from it.
            analyse(
                "A",
                "medium",
                Some(transplanted),
                &season(start, 12, 35.0),
                None,
                &settings,
            ),
            // Transplanting found from the curve, a class with spaces around it.
            analyse(
                " B ",
                " long ",
                None,
                &season(start, 12, 25.0),
                None,
                &settings,
            ),
            // Too few dates for a season.
            analyse("C", "short", None, &season(start, 2, 30.0), None, &settings),
        ];
        let dates: Vec<Date> = (0..12)
            .map(|i| Date::from_days_since_epoch(start.days_since_epoch() + 5 * i))
            .collect();
        let n = plots.len();
        let result = StageResult {
            dates,
            at,
            id_column: "plot_id".into(),
            fields: Vec::new(),
            attributes: vec![Vec::new(); n],
            plots,
            lonlat: vec![None; n],
            warnings: Vec::new(),
            index_name: "NDVI".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.csv");
        crate::stage::output::write(&result, &path, None).unwrap();
        let from_file = Stages::read_csv(&path, "plot_id").unwrap();
        let in_memory = Stages::from_stage_result(&result, "stage.csv");
        assert_eq!(in_memory.by_id, from_file.by_id);
        assert_eq!(in_memory.dates, vec![at]);
        assert_eq!(in_memory.dates, from_file.dates);
        assert_eq!(in_memory.source, from_file.source);
        // Not vacuous: a plot with days after transplanting, one without, a stage past
        // transplanting, and the trimmed id and class.
        let a = &in_memory.by_id["A"];
        assert_eq!(a.dat, Some(46.0));
        assert_eq!(a.class, "medium");
        assert!(a.stage.is_some_and(|s| s != Stage::Fallow), "{a:?}");
        assert_eq!(in_memory.by_id["B"].class, "long");
        assert!(in_memory.by_id.values().any(|p| p.dat.is_none()));
    }
}
