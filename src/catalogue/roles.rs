//! Band roles: the Awesome Spectral Indices band symbols (`N`, `R`, `RE1`, …) plus the quality
//! bands that sensor profiles use as masks.

use std::fmt;

/// What a band is, in the catalogue's words. Spectral roles use the catalogue's symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Aerosols / coastal blue (~443 nm).
    A,
    /// Blue.
    B,
    /// Green.
    G,
    /// Green 1 (PlanetScope green I).
    G1,
    /// Yellow.
    Y,
    /// Red.
    R,
    /// Red edge 1 (~705 nm).
    RE1,
    /// Red edge 2 (~740 nm).
    RE2,
    /// Red edge 3 (~783 nm).
    RE3,
    /// Near infrared.
    N,
    /// Near infrared 2 (narrow NIR, ~865 nm).
    N2,
    /// Water vapour.
    WV,
    /// Short-wave infrared 1 (~1610 nm).
    S1,
    /// Short-wave infrared 2 (~2200 nm).
    S2,
    /// Thermal infrared.
    T,
    /// Thermal infrared 1.
    T1,
    /// Thermal infrared 2.
    T2,
    /// Radar backscatter, vertical transmit / vertical receive (Sentinel-1).
    VV,
    /// Radar backscatter, vertical transmit / horizontal receive.
    VH,
    /// Radar backscatter, horizontal transmit / horizontal receive.
    HH,
    /// Radar backscatter, horizontal transmit / vertical receive.
    HV,
    /// Sentinel-2 scene classification (used as a mask, not in formulas).
    Scl,
    /// Landsat Collection 2 QA_PIXEL bit flags (used as a mask, not in formulas).
    QaPixel,
}

impl Role {
    /// All roles, spectral first.
    pub const ALL: [Role; 23] = [
        Role::A,
        Role::B,
        Role::G,
        Role::G1,
        Role::Y,
        Role::R,
        Role::RE1,
        Role::RE2,
        Role::RE3,
        Role::N,
        Role::N2,
        Role::WV,
        Role::S1,
        Role::S2,
        Role::T,
        Role::T1,
        Role::T2,
        Role::VV,
        Role::VH,
        Role::HH,
        Role::HV,
        Role::Scl,
        Role::QaPixel,
    ];

    /// The catalogue symbol (`RE1`), or the quality band's name (`SCL`, `QA_PIXEL`).
    pub fn symbol(self) -> &'static str {
        match self {
            Role::A => "A",
            Role::B => "B",
            Role::G => "G",
            Role::G1 => "G1",
            Role::Y => "Y",
            Role::R => "R",
            Role::RE1 => "RE1",
            Role::RE2 => "RE2",
            Role::RE3 => "RE3",
            Role::N => "N",
            Role::N2 => "N2",
            Role::WV => "WV",
            Role::S1 => "S1",
            Role::S2 => "S2",
            Role::T => "T",
            Role::T1 => "T1",
            Role::T2 => "T2",
            Role::VV => "VV",
            Role::VH => "VH",
            Role::HH => "HH",
            Role::HV => "HV",
            Role::Scl => "SCL",
            Role::QaPixel => "QA_PIXEL",
        }
    }

    /// A name a person reads.
    pub fn long_name(self) -> &'static str {
        match self {
            Role::A => "coastal aerosol",
            Role::B => "blue",
            Role::G => "green",
            Role::G1 => "green 1",
            Role::Y => "yellow",
            Role::R => "red",
            Role::RE1 => "red edge 1",
            Role::RE2 => "red edge 2",
            Role::RE3 => "red edge 3",
            Role::N => "near infrared",
            Role::N2 => "near infrared 2",
            Role::WV => "water vapour",
            Role::S1 => "short-wave infrared 1",
            Role::S2 => "short-wave infrared 2",
            Role::T => "thermal infrared",
            Role::T1 => "thermal infrared 1",
            Role::T2 => "thermal infrared 2",
            Role::VV => "radar VV backscatter",
            Role::VH => "radar VH backscatter",
            Role::HH => "radar HH backscatter",
            Role::HV => "radar HV backscatter",
            Role::Scl => "Sentinel-2 scene classification",
            Role::QaPixel => "Landsat QA_PIXEL flags",
        }
    }

    /// True for bands that carry reflectance (used by index formulas).
    pub fn is_spectral(self) -> bool {
        !matches!(self, Role::Scl | Role::QaPixel)
    }

    /// Parse a symbol or one of the friendly aliases (`nir`, `rededge`, `swir1`, …), any case.
    pub fn parse(text: &str) -> Option<Role> {
        let t = text.trim().to_ascii_uppercase();
        let alias = match t.as_str() {
            "COASTAL" | "AEROSOL" | "COASTAL_BLUE" => Some(Role::A),
            "BLUE" => Some(Role::B),
            "GREEN" => Some(Role::G),
            "YELLOW" => Some(Role::Y),
            "RED" => Some(Role::R),
            "REDEDGE" | "RED_EDGE" | "REDEDGE1" | "RE" => Some(Role::RE1),
            "REDEDGE2" => Some(Role::RE2),
            "REDEDGE3" => Some(Role::RE3),
            "NIR" => Some(Role::N),
            "NIR2" | "NARROW_NIR" => Some(Role::N2),
            "SWIR1" | "SWIR" => Some(Role::S1),
            "SWIR2" => Some(Role::S2),
            "TIR" | "THERMAL" => Some(Role::T),
            "QA" | "QA_PIXEL" => Some(Role::QaPixel),
            _ => None,
        };
        alias.or_else(|| Role::ALL.into_iter().find(|r| r.symbol() == t))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_round_trip_and_aliases_resolve() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.symbol()), Some(role));
        }
        assert_eq!(Role::parse("nir"), Some(Role::N));
        assert_eq!(Role::parse("RedEdge"), Some(Role::RE1));
        assert_eq!(Role::parse("swir1"), Some(Role::S1));
        assert_eq!(Role::parse("re1"), Some(Role::RE1));
        assert_eq!(Role::parse("X"), None);
    }

    #[test]
    fn every_catalogue_band_symbol_is_a_role() {
        let bands: serde_json::Value =
            serde_json::from_str(include_str!("data/bands.json")).unwrap();
        for symbol in bands.as_object().unwrap().keys() {
            assert!(Role::parse(symbol).is_some(), "catalogue band {symbol}");
        }
    }
}
