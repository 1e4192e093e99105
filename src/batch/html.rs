//! `report.html`: the run for a person (stub; see the helper's work).
