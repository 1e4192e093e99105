//! Rice phenology from index time series (for `paddy stage`): acquisition dates, gap-aware
//! smoothing, season events (transplanting, heading, maturity) and growth stages. Pure code on
//! plain slices: no GDAL.

pub mod dates;
pub mod season;
pub mod smooth;
pub mod stage;
