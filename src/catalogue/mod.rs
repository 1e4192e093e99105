//! The Awesome Spectral Indices catalogue (formulas, band symbols, constants with defaults),
//! embedded in the binary; a newer copy can be loaded from a folder.

pub mod formula;
pub mod roles;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};
pub use roles::Role;

/// One catalogue index.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexDef {
    pub short_name: String,
    pub long_name: String,
    pub formula: String,
    /// Band symbols and constants the formula uses.
    pub bands: Vec<String>,
    pub application_domain: String,
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub platforms: Vec<String>,
}

impl IndexDef {
    /// Band roles the formula needs (symbols that are bands, not constants).
    pub fn roles(&self) -> Vec<Role> {
        self.bands
            .iter()
            .filter_map(|s| Role::parse_symbol(s))
            .collect()
    }

    /// Constants the formula uses.
    pub fn constants(&self) -> Vec<&str> {
        self.bands
            .iter()
            .filter(|s| Role::parse_symbol(s).is_none())
            .map(String::as_str)
            .collect()
    }
}

/// A catalogue constant.
#[derive(Debug, Clone, Deserialize)]
pub struct ConstantDef {
    pub short_name: String,
    pub description: String,
    pub default: Option<f64>,
}

#[derive(Deserialize)]
struct IndexFile {
    #[serde(rename = "SpectralIndices")]
    spectral_indices: BTreeMap<String, IndexDef>,
}

/// The catalogue: indices and constants by name.
#[derive(Debug, Clone)]
pub struct Catalogue {
    indices: BTreeMap<String, IndexDef>,
    constants: BTreeMap<String, ConstantDef>,
}

/// Names people use that the catalogue spells differently.
const ALIASES: &[(&str, &str)] = &[
    ("NDRE", "NDREI"),
    ("MSAVI2", "MSAVI"),
    ("CIGREEN", "CIG"),
    ("CIREDEDGE", "CIRE"),
];

impl Catalogue {
    /// The copy embedded at build time.
    pub fn builtin() -> &'static Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalogue::from_json(
                include_str!("data/spectral-indices-dict.json"),
                include_str!("data/constants.json"),
            )
            .expect("the embedded catalogue is valid JSON (checked by tests)")
        })
    }

    /// The catalogue in `dir` when given, else the built-in one.
    pub fn load_or_builtin(dir: Option<&Path>) -> Result<std::borrow::Cow<'static, Catalogue>> {
        Ok(match dir {
            Some(dir) => std::borrow::Cow::Owned(Catalogue::load(dir)?),
            None => std::borrow::Cow::Borrowed(Catalogue::builtin()),
        })
    }

    /// Load `spectral-indices-dict.json` and `constants.json` from a folder.
    pub fn load(dir: &Path) -> Result<Catalogue> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        Catalogue::from_json(
            &read("spectral-indices-dict.json")?,
            &read("constants.json")?,
        )
        .map_err(|message| Error::Config {
            path: dir.to_path_buf(),
            message,
        })
    }

    fn from_json(indices: &str, constants: &str) -> std::result::Result<Catalogue, String> {
        let indices: IndexFile = serde_json::from_str(indices)
            .map_err(|e| format!("spectral-indices-dict.json: {e}"))?;
        let constants: BTreeMap<String, ConstantDef> =
            serde_json::from_str(constants).map_err(|e| format!("constants.json: {e}"))?;
        Ok(Catalogue {
            indices: indices.spectral_indices,
            constants,
        })
    }

    /// All indices, by name.
    pub fn indices(&self) -> impl Iterator<Item = &IndexDef> {
        self.indices.values()
    }

    /// Look an index up by its exact catalogue name, a common alias (NDRE, MSAVI2, CIgreen), or
    /// its name in any case when that names one index only.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.lookup(name).ok()
    }

    /// Like [`Catalogue::index`], but on failure says which indices a name could mean (empty:
    /// none). The catalogue has names that differ only in case (BAI and BaI, MSR705 and
    /// mSR705): for those only the exact spelling is taken.
    pub fn lookup(&self, name: &str) -> std::result::Result<&IndexDef, Vec<String>> {
        let name = name.trim();
        if let Some(def) = self.indices.get(name) {
            return Ok(def);
        }
        let upper = name.to_ascii_uppercase();
        if let Some((_, canonical)) = ALIASES.iter().find(|(alias, _)| *alias == upper) {
            return self.indices.get(*canonical).ok_or_else(Vec::new);
        }
        let matches: Vec<&IndexDef> = self
            .indices
            .values()
            .filter(|d| d.short_name.eq_ignore_ascii_case(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            many => Err(many.iter().map(|d| d.short_name.clone()).collect()),
        }
    }

    /// True when another index has the same name but for case (BAI and BaI).
    pub fn has_case_twin(&self, short_name: &str) -> bool {
        self.indices
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(short_name))
            .count()
            > 1
    }

    /// A constant's definition.
    pub fn constant(&self, name: &str) -> Option<&ConstantDef> {
        self.constants.get(name)
    }
}

impl Role {
    /// Parse an exact catalogue symbol (no aliases, case-sensitive): tells bands from constants
    /// such as `g` or `L` in a formula's symbol list.
    pub fn parse_symbol(symbol: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.is_spectral() && r.symbol() == symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_every_index() {
        let c = Catalogue::builtin();
        assert_eq!(c.indices().count(), 254);
        assert_eq!(c.index("ndre").unwrap().short_name, "NDREI");
        assert_eq!(c.index("MSAVI2").unwrap().short_name, "MSAVI");
        assert_eq!(
            c.index("evi").unwrap().roles(),
            vec![Role::N, Role::R, Role::B]
        );
        assert_eq!(
            c.index("evi").unwrap().constants(),
            vec!["g", "C1", "C2", "L"]
        );
        assert_eq!(c.constant("g").unwrap().default, Some(2.5));
        // Names that differ only in case are told apart; any case works where unambiguous.
        assert_eq!(c.index("BaI").unwrap().formula, "R + S1 - N");
        assert_ne!(c.index("BAI").unwrap().formula, "R + S1 - N");
        assert_eq!(c.lookup("bai").unwrap_err(), vec!["BAI", "BaI"]);
        assert!(c.has_case_twin("MSR705") && !c.has_case_twin("NDVI"));
        assert_eq!(c.index("gndvi").unwrap().short_name, "GNDVI");
    }
}
