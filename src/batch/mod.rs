//! `paddy run`: the nightly batch — a run file ([`config`]), units of work keyed by their
//! inputs and settings ([`plan`]), run with resume and isolation of failures ([`run`]), and a
//! report for scripts and people ([`report`], [`html`]).

pub mod config;
pub mod html;
pub mod lock;
pub mod plan;
pub mod quicklook;
pub mod report;
pub mod run;
