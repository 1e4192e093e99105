//! What a batch run did, for scripts (`report.json`) and for people (`report.html`).

use serde::{Deserialize, Serialize};

/// How a unit of work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Computed in this run.
    Ok,
    /// Its outputs were already there with the same key (same inputs and settings).
    SkippedUpToDate,
    /// It failed; `error` says why.
    Failed,
    /// Not run because a unit it needs failed.
    SkippedDependency,
    /// Another shard's unit (`--shard`): not run here.
    OtherShard,
}

/// One output file of a unit, its path relative to the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub path: String,
    /// index, stats, stage, stage_chart, rx_nitrogen, rx_spray, rx_nitrogen_zones, style,
    /// quicklook, isoxml, summary, …
    pub kind: String,
}

/// One unit of work: a tile's indices, a date's statistics, the stage, a prescription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitReport {
    /// Stable id, e.g. `index:s2_20260607`, `stats:2026-06-07`, `stage`, `prescribe:drone`.
    pub id: String,
    /// index, stats, stage or prescribe.
    pub kind: String,
    pub status: Status,
    /// Hash of the unit's inputs and settings: outputs with the same key are up to date.
    pub key: String,
    pub seconds: f64,
    /// Input paths as given in the run file (resolved).
    pub inputs: Vec<String>,
    pub outputs: Vec<OutputFile>,
    pub error: Option<String>,
}

/// One plot's line in the run's table (from the stage and prescription units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotLine {
    pub plot_id: String,
    pub stage: String,
    pub days_after_transplanting: Option<f64>,
    pub confidence: Option<f64>,
    /// kg product/ha and its unit text, e.g. "kg urea/ha".
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
                Status::Failed => s.failed += 1,
                Status::SkippedDependency => s.skipped_dependency += 1,
                Status::OtherShard => {}
            }
            s.outputs += u.outputs.len();
        }
        self.summary = s;
    }
}
