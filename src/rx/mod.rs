//! Prescriptions: nitrogen topdress rates and spray zones per plot and per grid cell.

pub mod zones;
