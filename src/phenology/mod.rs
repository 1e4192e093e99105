//! Rice phenology from index time series (for `paddy stage`): acquisition dates, gap-aware
//! smoothing, season events, transplanting from the onset of flooding, heading from the
//! observations around the maximum, and growth stages. Pure code on plain slices: no GDAL.

pub mod dates;
pub mod flooding;
pub mod peak;
pub mod season;
pub mod smooth;
pub mod stage;
