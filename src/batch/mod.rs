//! `paddy run`: the nightly batch — a run file, units of work keyed by their inputs, resume,
//! isolation of failures, and a report.

pub mod html;
pub mod report;
