//! Sensor profiles: data files that say how a sensor's digital numbers become reflectance, which
//! band is which role, and which quality band masks what. The built-in ones are embedded TOML
//! files (`src/sensors/profiles/`); users add their own with `--sensor path/to/profile.toml`.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::catalogue::Role;
use crate::error::{Error, Result};

const BUILTIN: &[(&str, &str)] = &[
    ("generic", include_str!("profiles/generic.toml")),
    ("sentinel2-l2a", include_str!("profiles/sentinel2-l2a.toml")),
    ("landsat-c2-l2", include_str!("profiles/landsat-c2-l2.toml")),
    (
        "micasense-rededge",
        include_str!("profiles/micasense-rededge.toml"),
    ),
    ("dji-p4m", include_str!("profiles/dji-p4m.toml")),
    ("dji-mavic3m", include_str!("profiles/dji-mavic3m.toml")),
    (
        "parrot-sequoia",
        include_str!("profiles/parrot-sequoia.toml"),
    ),
    (
        "planetscope-4b",
        include_str!("profiles/planetscope-4b.toml"),
    ),
    (
        "planetscope-8b",
        include_str!("profiles/planetscope-8b.toml"),
    ),
];

/// The profile file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    description: String,
    #[serde(default = "one")]
    scale: f64,
    #[serde(default)]
    offset: f64,
    /// Metadata key holding an additive DN offset (Sentinel-2 `BOA_ADD_OFFSET`).
    offset_metadata: Option<String>,
    nodata: Option<f64>,
    #[serde(default)]
    raw_counts: bool,
    #[serde(default)]
    use_band_scale: bool,
    detect: Option<String>,
    #[serde(default)]
    bands: Vec<RuleFile>,
    #[serde(default)]
    positions: BTreeMap<String, usize>,
    mask: Option<MaskFile>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    role: String,
    #[serde(rename = "match")]
    pattern: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskFile {
    role: String,
    #[serde(default)]
    invalid_classes: Vec<u32>,
    #[serde(default)]
    invalid_bits: Vec<u32>,
}

/// How a quality band marks pixels to drop.
#[derive(Debug, Clone, PartialEq)]
pub enum MaskRule {
    /// The pixel's class is one of these (Sentinel-2 SCL).
    Classes(Vec<u32>),
    /// Any of these bits is set (Landsat QA_PIXEL); held as one bit mask.
    Bits(u64),
}

impl MaskRule {
    /// True when a quality value marks the pixel invalid.
    pub fn is_invalid(&self, value: u32) -> bool {
        match self {
            MaskRule::Classes(c) => c.contains(&value),
            MaskRule::Bits(bits) => (value as u64) & bits != 0,
        }
    }
}

/// A sensor profile, checked and ready to use.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// reflectance = DN × scale + offset
    pub scale: f64,
    pub offset: f64,
    /// Metadata key with an additive DN offset, applied before scaling.
    pub offset_metadata: Option<String>,
    /// No-data DN when the file declares none.
    pub nodata: Option<f64>,
    /// Values are raw sensor counts, not reflectance (indices are then only relative).
    pub raw_counts: bool,
    /// Use the band's own GDAL scale/offset when it has them (generic profile).
    pub use_band_scale: bool,
    detect: Option<Regex>,
    rules: Vec<(Role, Regex)>,
    /// Band number (1-based) of each role in a single multi-band file without band names.
    pub positions: BTreeMap<Role, usize>,
    /// Which quality band masks which values.
    pub mask: Option<(Role, MaskRule)>,
}

impl Profile {
    /// A built-in profile by name, or a profile file by path.
    pub fn find(name_or_path: &str) -> Result<Profile> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, Path::new(name_or_path));
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            return Profile::parse(&text, path);
        }
        Err(Error::usage(format!(
            "unknown sensor '{name_or_path}': built-in profiles are {} (or give a profile .toml file)",
            Profile::builtin_names().join(", ")
        )))
    }

    /// Names of the built-in profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// All built-in profiles.
    pub fn builtin() -> Vec<Profile> {
        BUILTIN
            .iter()
            .filter_map(|(n, t)| Profile::parse(t, Path::new(n)).ok())
            .collect()
    }

    /// Parse and check a profile; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Profile> {
        let config = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let file: ProfileFile = toml::from_str(text).map_err(|e| config(e.to_string()))?;
        let role =
            |s: &str| Role::parse(s).ok_or_else(|| config(format!("unknown band role '{s}'")));
        let regex = |s: &str| Regex::new(s).map_err(|e| config(format!("pattern '{s}': {e}")));
        let rules = file
            .bands
            .iter()
            .map(|r| Ok((role(&r.role)?, regex(&r.pattern)?)))
            .collect::<Result<Vec<_>>>()?;
        let positions = file
            .positions
            .iter()
            .map(|(k, &v)| Ok((role(k)?, v)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let mask = match file.mask {
            None => None,
            Some(m) => {
                let rule = match (m.invalid_classes.is_empty(), m.invalid_bits.is_empty()) {
                    (false, true) => MaskRule::Classes(m.invalid_classes),
                    (true, false) => MaskRule::Bits(
                        m.invalid_bits
                            .iter()
                            .filter(|&&b| b < 64)
                            .fold(0u64, |acc, &b| acc | (1 << b)),
                    ),
                    _ => {
                        return Err(config(
                            "[mask] needs exactly one of invalid_classes or invalid_bits".into(),
                        ))
                    }
                };
                Some((role(&m.role)?, rule))
            }
        };
        if !(file.scale.is_finite() && file.scale != 0.0 && file.offset.is_finite()) {
            return Err(config(
                "scale must be finite and non-zero, offset finite".into(),
            ));
        }
        Ok(Profile {
            name: file.name,
            description: file.description,
            scale: file.scale,
            offset: file.offset,
            offset_metadata: file.offset_metadata,
            nodata: file.nodata,
            raw_counts: file.raw_counts,
            use_band_scale: file.use_band_scale,
            detect: file.detect.as_deref().map(regex).transpose()?,
            rules,
            positions,
            mask,
        })
    }

    /// The role a band description or file name names, by the profile's rules (first match).
    pub fn role_for(&self, text: &str) -> Option<Role> {
        self.rules
            .iter()
            .find(|(_, re)| re.is_match(text))
            .map(|(role, _)| *role)
    }

    /// True when the profile's detection pattern matches (a file name or a metadata value).
    pub fn detects(&self, text: &str) -> bool {
        self.detect.as_ref().is_some_and(|re| re.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for name in Profile::builtin_names() {
            Profile::find(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(Profile::builtin().len(), BUILTIN.len());
    }

    #[test]
    fn sentinel2_names_map_to_roles() {
        let p = Profile::find("sentinel2-l2a").unwrap();
        assert_eq!(p.role_for("B4"), Some(Role::R));
        assert_eq!(p.role_for("B04, central wavelength 665 nm"), Some(Role::R));
        assert_eq!(p.role_for("T48PWS_20260105T032101_B08_10m"), Some(Role::N));
        assert_eq!(p.role_for("T48PWS_20260105T032101_B8A_20m"), Some(Role::N2));
        assert_eq!(p.role_for("B11"), Some(Role::S1));
        assert_eq!(p.role_for("B1"), Some(Role::A));
        assert_eq!(p.role_for("SCL"), Some(Role::Scl));
        assert_eq!(p.role_for("TCI"), None);
    }

    #[test]
    fn landsat_numbering_follows_the_sensor() {
        let p = Profile::find("landsat-c2-l2").unwrap();
        assert_eq!(
            p.role_for("LC08_L2SP_040027_20200829_20200906_02_T1_SR_B4"),
            Some(Role::R)
        );
        assert_eq!(
            p.role_for("LE07_L2SP_040027_20200829_20200906_02_T1_SR_B4"),
            Some(Role::N)
        );
        assert_eq!(
            p.role_for("LT05_L2SP_224063_19880814_20200917_02_T1_SR_B3"),
            Some(Role::R)
        );
        assert_eq!(
            p.role_for("LC09_L2SP_040027_20220101_20220102_02_T1_QA_PIXEL"),
            Some(Role::QaPixel)
        );
        assert!(p.detects("LC08_L2SP_040027_20200829_20200906_02_T1_SR_B4.TIF"));
        let MaskRule::Bits(bits) = p.mask.as_ref().unwrap().1.clone() else {
            panic!()
        };
        assert_eq!(bits, 0b11_1111);
        assert!(p.mask.as_ref().unwrap().1.is_invalid(1 << 3));
        assert!(p.mask.as_ref().unwrap().1.is_invalid(1 << 5));
        assert!(!p.mask.as_ref().unwrap().1.is_invalid(1 << 6));
    }

    /// A band name ends at anything but a letter or digit: `_` and a date may follow
    /// (`sr_b5_20200829.tif`), another digit may not (`SR_B1` is not `SR_B10`).
    #[test]
    fn landsat_band_names_end_at_a_separator() {
        let p = Profile::find("landsat-c2-l2").unwrap();
        assert_eq!(p.role_for("sr_b4_20200829.tif"), Some(Role::R));
        assert_eq!(p.role_for("sr_b5_20200829.tif"), Some(Role::N));
        assert_eq!(p.role_for("SR_B6-2020.tif"), Some(Role::S1));
        assert_eq!(p.role_for("LC08_X_SR_B5.TIF"), Some(Role::N));
        assert_eq!(p.role_for("SR_B7"), Some(Role::S2));
        assert_eq!(p.role_for("qa_pixel_20200829.tif"), Some(Role::QaPixel));
        assert_eq!(
            p.role_for("LE07_L2SP_040027_20200829_20200906_02_T1_SR_B4_clip.tif"),
            Some(Role::N)
        );
        for name in [
            "LC08_X_SR_B10.TIF",
            "sr_b10_20200829.tif",
            "SR_B1A.tif",
            "xsr_b5.tif",
            "LC08_X_ST_B10.TIF",
            "qa_pixels.tif",
        ] {
            assert_eq!(p.role_for(name), None, "{name}");
        }
    }

    #[test]
    fn generic_names_drone_bands() {
        let p = Profile::find("generic").unwrap();
        assert_eq!(p.role_for("Red"), Some(Role::R));
        assert_eq!(p.role_for("RedEdge"), Some(Role::RE1));
        assert_eq!(p.role_for("Red Edge"), Some(Role::RE1));
        assert_eq!(p.role_for("NIR"), Some(Role::N));
        assert_eq!(p.role_for("field_nir"), Some(Role::N));
        assert_eq!(p.role_for("Band 1"), None);
    }

    #[test]
    fn drone_file_names_map_to_roles() {
        let m = Profile::find("micasense-rededge").unwrap();
        assert_eq!(m.role_for("IMG_0001_3.tif"), Some(Role::R));
        assert_eq!(m.role_for("IMG_0001_5.tif"), Some(Role::RE1));
        let s = Profile::find("parrot-sequoia").unwrap();
        assert_eq!(
            s.role_for("IMG_180413_080658_0000_REG.TIF"),
            Some(Role::RE1)
        );
        assert_eq!(s.role_for("IMG_180413_080658_0000_RED.TIF"), Some(Role::R));
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let err =
            Profile::parse("name='x'\ndescription='y'\nscal=1", Path::new("p.toml")).unwrap_err();
        assert!(err.to_string().contains("scal"), "{err}");
        let err = Profile::parse(
            "name='x'\ndescription='y'\n[[bands]]\nrole='Q'\nmatch='a'",
            Path::new("p.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown band role 'Q'"), "{err}");
        assert!(Profile::find("nosuchsensor").is_err());
    }
}
