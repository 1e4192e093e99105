//! What a batch run did, for scripts (`report.json`) and for people (`report.html`): each unit's
//! status and [`Outcome`] (its files and, for the stage and prescription, the plots' lines and
//! totals), and the plot table and notes built from the outcomes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use crate::export::kind::OutputKind;
use crate::rx::output::{RxReport, SummaryRow};

/// How a unit of work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Computed in this run.
    Ok,
    /// Its outputs were already there with the same key (same inputs and settings).
    SkippedUpToDate,
    /// Done with the same key in another run folder of the output root (an earlier night):
    /// its files were brought from there (hard links), not computed again.
    Reused,
    /// It failed; `error` says why.
    Failed,
    /// Not run because a unit it needs failed.
    SkippedDependency,
    /// Another shard's unit (`--shard`): not run here.
    OtherShard,
    /// Stopped by Ctrl-C: the run ends there, so no written report holds this status.
    Interrupted,
}

impl Status {
    /// Whether the unit's outputs are those of an earlier run: up to date here, or reused
    /// from another run folder.
    pub fn earlier(self) -> bool {
        matches!(self, Status::SkippedUpToDate | Status::Reused)
    }
}

/// What a unit does (serialised in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// A tile's indices.
    Index,
    /// A tile's per-plot statistics over one plot file.
    Stats,
    /// A plot file's growth stages.
    Stage,
    /// A plot file's prescription.
    Prescribe,
}

impl UnitKind {
    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Index => "index",
            UnitKind::Stats => "stats",
            UnitKind::Stage => "stage",
            UnitKind::Prescribe => "prescribe",
        }
    }
}

/// One output file of a unit, its path relative to the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub path: String,
    pub kind: OutputKind,
}

/// One unit of work: a tile's indices, a date's statistics, the stage, a prescription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitReport {
    /// Stable id, e.g. `index:s2_20260607`, `stats:2026-06-07`, `stage`, `prescribe:drone`.
    pub id: String,
    pub kind: UnitKind,
    pub status: Status,
    /// Hash of the unit's inputs and settings: outputs with the same key are up to date.
    pub key: String,
    pub seconds: f64,
    /// Input paths as given in the run file (resolved).
    pub inputs: Vec<String>,
    pub outputs: Vec<OutputFile>,
    pub error: Option<String>,
    /// A unit `reused`: the date (folder) of the run its files were brought from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// One plot's line in the run's table (from the stage and prescription units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotLine {
    pub plot_id: String,
    pub stage: String,
    pub days_after_transplanting: Option<f64>,
    pub confidence: Option<f64>,
    /// kg product/ha (`product_kg_ha` in report.json, as in rx_summary.csv) and its unit
    /// text, e.g. "kg urea/ha".
    #[serde(rename = "product_kg_ha", alias = "n_rate")]
    pub n_rate: Option<f64>,
    pub n_unit: String,
    pub n_reason: String,
    /// "prescribed", "not observed" or "not observed (default rate)" (rx_summary.csv's
    /// n_status; empty without a prescription).
    #[serde(default)]
    pub n_status: String,
    pub spray_area_m2: Option<f64>,
    pub spray_reason: String,
    /// As `n_status`, for spray.
    #[serde(default)]
    pub spray_status: String,
}

/// Counts over the units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub ok: usize,
    pub skipped_up_to_date: usize,
    /// Units brought from an earlier run folder (status `reused`).
    #[serde(default)]
    pub reused: usize,
    pub failed: usize,
    pub skipped_dependency: usize,
    pub outputs: usize,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `paddy 0.1.0`.
    pub software: String,
    pub run_file: String,
    /// SHA-256 of the run file's settings (normalised), hex.
    pub config_hash: String,
    /// The run's date (the output folder's name), YYYY-MM-DD.
    pub run_date: String,
    /// Wall-clock start and end, RFC 3339 UTC.
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    /// `[I, N]` for a shard's report.
    pub shard: Option<[usize; 2]>,
    /// Every input file.
    pub inputs: Vec<String>,
    pub units: Vec<UnitReport>,
    pub plots: Vec<PlotLine>,
    /// Lines a person should read first (totals to order, warnings).
    pub notes: Vec<String>,
    /// The dates the plot table's stages rest on (the first stage unit that completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_dates: Option<StageDates>,
    /// The flights the prescription rests on (the first prescription that completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription_dates: Option<RxDates>,
    pub summary: Summary,
}

impl Report {
    /// Recount `summary` from the units.
    pub fn recount(&mut self) {
        let mut s = Summary::default();
        for u in &self.units {
            match u.status {
                Status::Ok => s.ok += 1,
                Status::SkippedUpToDate => s.skipped_up_to_date += 1,
                Status::Reused => s.reused += 1,
                Status::Failed => s.failed += 1,
                Status::SkippedDependency => s.skipped_dependency += 1,
                Status::OtherShard | Status::Interrupted => {}
            }
            s.outputs += u.outputs.len();
        }
        self.summary = s;
    }
}

/// What a finished unit did: its files, and what the report needs from it. Saved in the unit's
/// manifest, so a unit that is up to date feeds the report without reading its outputs back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub outputs: Vec<OutputFile>,
    /// Index units: the index rasters, by the name the run file gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indices: Vec<IndexRaster>,
    /// Stage units: one line per plot (the stage columns; the prescription's are empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plots: Vec<PlotLine>,
    /// Prescribe units: the rows of rx_summary.csv and the contents of rx_report.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription: Option<RxOutcome>,
    /// Stage units: the dates the stages rest on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_dates: Option<StageDates>,
    /// Prescribe units: the flights and the stage the prescription rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription_dates: Option<RxDates>,
}

/// The dates a set of stages rests on: the day they are given for, and the newest index raster
/// read (the stages read no observation after the day). Dates as YYYY-MM-DD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDates {
    /// The day the stages are given for.
    pub at: String,
    /// Where that day comes from: `stage.at` (the run file's `[stage] at`), `last index date`
    /// (no `at`: the series' last date) or `flight date` (a prescription's stages).
    pub at_from: String,
    /// The series: its source and index (as the run file names them).
    pub source: String,
    pub index: String,
    /// The newest date of the series on or before `at`: the last observation the stages read
    /// (None when no raster of the series is that early).
    pub last_index_date: Option<String>,
}

impl StageDates {
    /// The dates of stages given `at` (from `at_from`) off a series of `dates` (any order).
    pub fn new(
        at: crate::phenology::dates::Date,
        at_from: &str,
        (source, index): (&str, &str),
        dates: &[crate::phenology::dates::Date],
    ) -> Self {
        StageDates {
            at: at.to_string(),
            at_from: at_from.to_string(),
            source: source.to_string(),
            index: index.to_string(),
            last_index_date: dates
                .iter()
                .filter(|d| **d <= at)
                .max()
                .map(|d| d.to_string()),
        }
    }
}

/// The flights a prescription rests on, and the stages it read (given for the flight's day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxDates {
    /// The flights' source (as the run file names it).
    pub source: String,
    /// The flight the rates and zones are read from: its date and its tile's stem.
    pub flight_date: String,
    pub flight: String,
    /// The earlier flight the spray zones compare with, when they compare with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_flight_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_flight: Option<String>,
    /// The plots' stages on the flight's day.
    pub stage: StageDates,
}

/// An index raster an index unit wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexRaster {
    /// Lower case, as in the file name (`ndvi`).
    pub index: String,
    /// Relative to the run folder.
    pub path: String,
}

/// What a prescription unit tells the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxOutcome {
    pub rows: Vec<SummaryRow>,
    pub report: RxReport,
}

impl PlotLine {
    /// A stage unit's line: the plot's stage, no prescription.
    pub fn stage(
        plot_id: String,
        stage: String,
        days_after_transplanting: Option<f64>,
        confidence: Option<f64>,
    ) -> Self {
        PlotLine {
            plot_id,
            stage,
            days_after_transplanting,
            confidence,
            n_rate: None,
            n_unit: String::new(),
            n_reason: String::new(),
            n_status: String::new(),
            spray_area_m2: None,
            spray_reason: String::new(),
            spray_status: String::new(),
        }
    }

    /// With the plot's prescription (`n_unit`: the nitrogen rate's unit, e.g. `kg urea/ha`).
    fn with_rx(self, row: &SummaryRow, n_unit: &str) -> Self {
        let n = row.nitrogen.as_ref();
        let s = row.spray.as_ref();
        PlotLine {
            n_rate: n.and_then(|n| n.product_kg_ha),
            n_unit: n_unit.to_string(),
            n_reason: n.map(|n| n.reason.clone()).unwrap_or_default(),
            n_status: n.map(|n| n.status.as_str().to_string()).unwrap_or_default(),
            spray_area_m2: s.and_then(|s| s.area_m2),
            spray_reason: s.map(|s| s.reason.clone()).unwrap_or_default(),
            spray_status: s.map(|s| s.status.as_str().to_string()).unwrap_or_default(),
            ..self
        }
    }
}

/// The plot table and the notes for people: each plot of a stage unit with its row of a
/// prescription (matched by id), then the prescription's totals to order and its warnings. The
/// run passes the first stage and the first prescription that completed. `product` is the
/// nitrogen product's name.
pub fn people(
    stage: Option<&[PlotLine]>,
    rx: Option<&RxOutcome>,
    product: &str,
) -> (Vec<PlotLine>, Vec<String>) {
    let n_unit = format!("kg {product}/ha");
    // By id, the first row of an id as a search from the top would find it: a county's 20 000
    // plots searched row by row were 400 million comparisons, every night.
    let mut by_id: HashMap<&str, &SummaryRow> = HashMap::new();
    for r in rx.map_or(&[][..], |rx| &rx.rows) {
        by_id.entry(r.plot_id.as_str()).or_insert(r);
    }
    let plots = stage
        .unwrap_or_default()
        .iter()
        .map(|line| match by_id.get(line.plot_id.as_str()) {
            Some(row) => line.clone().with_rx(row, &n_unit),
            None => line.clone(),
        })
        .collect();
    let mut notes = Vec::new();
    if let Some(report) = rx.map(|rx| &rx.report) {
        if let Some(n) = &report.nitrogen {
            notes.push(format!(
                "Nitrogen to order: {} kg {} ({} kg N); {}",
                json_number(n.product_kg),
                n.product,
                json_number(n.n_kg),
                n.reference
            ));
        }
        if let Some(s) = &report.spray {
            notes.push(format!(
                "Spray: {} zone(s), {} m², {} L of {}",
                s.zones,
                json_number(s.sprayed_area_m2),
                json_number(s.product_l),
                s.product
            ));
        }
        notes.extend(report.warnings.iter().map(|w| format!("Warning: {w}")));
    }
    (plots, notes)
}

/// A number as rx_report.json writes it (`120.0`, `null` for NaN), so the notes read as the file.
fn json_number(v: f64) -> String {
    serde_json::Value::from(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rx::output::{GridInfo, NitrogenRow, NitrogenTotals, PlotStatus, SprayTotals};

    fn row(id: &str, rate: Option<f64>) -> SummaryRow {
        SummaryRow {
            plot_id: id.into(),
            class: "medium".into(),
            stage: "panicle_initiation".into(),
            days_after_transplanting: Some(45.0),
            area_ha: Some(0.5),
            n_index: Some(0.31),
            n_index_coverage: Some(1.0),
            si: Some(0.93),
            nitrogen: Some(NitrogenRow {
                status: if rate.is_some() {
                    PlotStatus::Prescribed
                } else {
                    PlotStatus::NotObserved
                },
                n_kg_ha: rate.map(|r| r * 0.46),
                product_kg_ha: rate,
                product_kg: Some(10.0),
                not_observed_m2: Some(0.0),
                reason: "SI 0.93".into(),
            }),
            spray: None,
        }
    }

    fn grid() -> GridInfo {
        GridInfo {
            cell_size_m: 5.0,
            geo_transform: None,
            height: 1,
            width: 1,
        }
    }

    #[test]
    fn plot_lines_take_their_prescription_by_id_and_notes_the_totals() {
        let stage = vec![
            PlotLine::stage("P01".into(), "tillering".into(), Some(30.0), Some(0.8)),
            PlotLine::stage("P02".into(), "booting".into(), None, None),
            PlotLine::stage("P03".into(), "heading".into(), None, Some(1.0)),
        ];
        let rx = RxOutcome {
            rows: vec![row("P02", None), row("P01", Some(40.0))],
            report: RxReport {
                files: vec![],
                flight_date: None,
                flights: vec![],
                inputs: vec![],
                stages: None,
                nitrogen: Some(NitrogenTotals {
                    grid: grid(),
                    index: "NDRE".into(),
                    n_kg: 55.2,
                    not_observed: vec!["P02".into()],
                    stage_unknown: Vec::new(),
                    not_observed_m2: 0.0,
                    product: "urea".into(),
                    product_kg: 120.0,
                    reference: "plot P09".into(),
                    sufficiency_threshold: 0.95,
                    zones: 3,
                }),
                software: "paddy".into(),
                spray: Some(SprayTotals {
                    grid: grid(),
                    not_observed: vec![],
                    stage_unknown: Vec::new(),
                    not_observed_m2: 0.0,
                    product: "fungicide".into(),
                    product_l: 1.5,
                    sprayed_area_m2: 300.25,
                    zones: 2,
                }),
                warnings: vec!["P02: too little of the plot observed".into()],
            },
        };
        let (plots, notes) = people(Some(&stage), Some(&rx), "urea");
        assert_eq!(plots.len(), 3);
        assert_eq!(plots[0].stage, "tillering");
        assert_eq!(plots[0].n_rate, Some(40.0));
        assert_eq!(plots[0].n_unit, "kg urea/ha");
        assert_eq!(plots[0].n_status, "prescribed");
        assert_eq!(plots[0].n_reason, "SI 0.93");
        assert_eq!(plots[0].spray_status, "");
        assert_eq!(plots[1].n_rate, None);
        assert_eq!(plots[1].n_status, "not observed");
        // No row for P03: its line stays the stage's, without a unit.
        assert_eq!(plots[2], stage[2]);
        assert_eq!(
            notes,
            [
                // Numbers as rx_report.json writes them: 120.0, not 120.
                "Nitrogen to order: 120.0 kg urea (55.2 kg N); plot P09",
                "Spray: 2 zone(s), 300.25 m², 1.5 L of fungicide",
                "Warning: P02: too little of the plot observed",
            ]
        );
        // Without a prescription: the stage lines, no notes.
        let (plots, notes) = people(Some(&stage), None, "urea");
        assert_eq!(plots, stage);
        assert!(notes.is_empty());
        assert!(people(None, Some(&rx), "urea").0.is_empty());
    }
}
