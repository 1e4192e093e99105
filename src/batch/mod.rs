//! `paddy run`: the nightly batch — a run file ([`config`]), units of work keyed by their
//! inputs and settings ([`plan`]), scheduled with resume and isolation of failures
//! ([`schedule`]), a unit done with the same key on an earlier night linked from that night's
//! folder ([`earlier`]), each doing its work and returning a typed outcome ([`work`]), and a report
//! for scripts and people built from the outcomes ([`report`], [`html`]).

pub mod config;
pub mod earlier;
pub mod html;
pub mod integrity;
pub mod lock;
pub mod memo;
pub mod plan;
pub mod quicklook;
pub mod report;
mod reuse;
pub mod schedule;
pub mod work;
