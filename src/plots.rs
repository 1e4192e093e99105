//! Plots (paddies) as paddy carries them: ids, attributes, polygon rings in the file's CRS, and
//! what happened to each geometry on the way in. Plain data and pure geometry (densifying
//! edges, geodesic areas): [`crate::io::vector`] reads plots from any vector file OGR reads and
//! reprojects them; statistics, stages and prescriptions take them from there.

use std::path::PathBuf;

use geo::orient::{Direction, Orient};
use geo::GeodesicArea;

/// Polygon parts; each part is its rings (outer first, then holes); each ring its (x, y) points.
pub type Parts = Vec<Vec<Vec<(f64, f64)>>>;

/// The bounding box `[xmin, ymin, xmax, ymax]` of some points (infinite when there are none).
pub fn extent<'a>(points: impl IntoIterator<Item = &'a (f64, f64)>) -> [f64; 4] {
    points.into_iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, &(x, y)| [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
    )
}

/// Apply `f` to every ring of every part, keeping the structure.
pub fn map_rings<E>(
    parts: &Parts,
    mut f: impl FnMut(&[(f64, f64)]) -> std::result::Result<Vec<(f64, f64)>, E>,
) -> std::result::Result<Parts, E> {
    parts
        .iter()
        .map(|rings| rings.iter().map(|ring| f(ring)).collect())
        .collect()
}

/// A cell of a table: plot attributes carried through, statistics, dates.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// A short series (a smoothed curve): a JSON array in CSV, a real list in GeoJSON.
    Reals(Vec<f64>),
}

impl Value {
    /// The value as text (empty for null and NaN), for CSV and messages: numbers in the
    /// shortest form that reads back to the same f64.
    pub fn text(&self) -> String {
        self.as_text().into_owned()
    }

    /// [`Value::text`], borrowed where the value is text already. A list is written in one
    /// string (a county's stage table has 30 dates for each of 20 000 plots).
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        use std::fmt::Write;
        match self {
            Value::Null => "".into(),
            Value::Int(v) => v.to_string().into(),
            Value::Real(v) if v.is_nan() => "".into(),
            Value::Real(v) => v.to_string().into(),
            Value::Text(v) => v.as_str().into(),
            Value::Reals(v) => {
                let mut out = String::with_capacity(2 + 8 * v.len());
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if x.is_finite() {
                        // Writing into a String cannot fail.
                        let _ = write!(out, "{x}");
                    } else {
                        out.push_str("null");
                    }
                }
                out.push(']');
                out.into()
            }
        }
    }

    /// A real, or NaN for None.
    pub fn real(v: Option<f64>) -> Value {
        Value::Real(v.unwrap_or(f64::NAN))
    }

    /// Text, or null for None.
    pub fn text_or_null(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Text)
    }
}

/// The kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Reals,
}

/// What happened to a plot's geometry on the way in.
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    /// Valid polygon parts.
    Ok(Parts),
    /// Invalid in the file, repaired (how), now valid.
    Repaired(Parts, String),
    /// Not usable (why); the plot gets a row with count 0.
    Skipped(String),
}

/// One plot: its id, carried attributes and geometry in the file's CRS.
#[derive(Debug, Clone)]
pub struct Plot {
    pub id: String,
    pub attributes: Vec<Value>,
    pub geom: Geom,
}

impl Plot {
    /// The polygon parts, unless skipped.
    pub fn parts(&self) -> Option<&Parts> {
        match &self.geom {
            Geom::Ok(p) | Geom::Repaired(p, _) => Some(p),
            Geom::Skipped(_) => None,
        }
    }
}

/// All plots of one layer.
#[derive(Debug, Clone)]
pub struct Plots {
    pub path: PathBuf,
    pub layer: String,
    /// Name of the id column: the id field, or `fid` for feature ids.
    pub id_column: String,
    /// Carried attribute columns (every field but the id field), in layer order.
    pub fields: Vec<(String, Kind)>,
    pub plots: Vec<Plot>,
    /// The layer's CRS (WKT), if it has one.
    pub crs_wkt: Option<String>,
    /// Problems worth telling the user, each naming its plot.
    pub warnings: Vec<String>,
    /// Their lon/lat and areas, once made ([`crate::io::vector::wgs84_once`]): the units of a
    /// run share one read of a plot file, and so these.
    pub wgs84: std::sync::OnceLock<Wgs84>,
}

/// Every plot's parts in WGS84 longitude/latitude (vertices only) and its geodesic area (m²,
/// NaN without geometry or CRS).
#[derive(Debug, Clone, Default)]
pub struct Wgs84 {
    pub parts: Vec<Option<Parts>>,
    pub areas: Vec<f64>,
}

/// What a plot attribute is renamed to when an output column has its name.
pub const ATTRIBUTE_PREFIX: &str = "attr_";

/// The output columns of a table's plot attributes, written beside the id column `id_column`
/// and the `computed` columns: an attribute whose name is taken (ignoring case) is written as
/// `attr_<name>` (`attr_` again while that too is taken), so no value ever lands under another
/// column's name. Returns the columns, in the order of `fields`, and a warning per renamed
/// attribute naming both names.
pub fn attribute_columns(
    id_column: &str,
    fields: &[(String, Kind)],
    computed: &[(String, Kind)],
) -> (Vec<(String, Kind)>, Vec<String>) {
    let mut taken: std::collections::HashSet<String> = computed
        .iter()
        .map(|c| c.0.to_lowercase())
        .chain(std::iter::once(id_column.to_lowercase()))
        .collect();
    // Attributes that keep their names are taken first, so a renamed one never takes the
    // name of another attribute.
    let clashes: Vec<bool> = fields
        .iter()
        .map(|(name, _)| taken.contains(&name.to_lowercase()))
        .collect();
    for ((name, _), clash) in fields.iter().zip(&clashes) {
        if !clash {
            taken.insert(name.to_lowercase());
        }
    }
    let mut warnings = Vec::new();
    let columns = fields
        .iter()
        .zip(&clashes)
        .map(|((name, kind), clash)| {
            if !clash {
                return (name.clone(), *kind);
            }
            let mut renamed = format!("{ATTRIBUTE_PREFIX}{name}");
            while !taken.insert(renamed.to_lowercase()) {
                renamed = format!("{ATTRIBUTE_PREFIX}{renamed}");
            }
            warnings.push(format!(
                "plot attribute '{name}' is written as '{renamed}': the output has a column '{name}' of its own"
            ));
            (renamed, *kind)
        })
        .collect();
    (columns, warnings)
}

/// Geodesic area (m², on the WGS84 ellipsoid) of each plot given its lon/lat parts; NaN for a
/// plot without parts.
pub fn geodesic_areas(lonlat: &[Option<Parts>]) -> Vec<f64> {
    areas_by(lonlat, |p| p.geodesic_area_signed().abs())
}

/// Planar area (the CRS's units squared) of each plot given its parts; NaN for a plot without
/// parts.
pub fn planar_areas(parts: &[Option<Parts>]) -> Vec<f64> {
    areas_by(parts, geo::Area::unsigned_area)
}

fn areas_by(parts: &[Option<Parts>], area: impl Fn(&geo::Polygon) -> f64) -> Vec<f64> {
    parts
        .iter()
        .map(|parts| {
            parts.as_ref().map_or(f64::NAN, |parts| {
                parts
                    .iter()
                    // Wound as RFC 7946 has it: otherwise the geodesic area is that of the
                    // rest of the globe.
                    .map(|rings| oriented(rings).map_or(0.0, |p| area(&p)))
                    .sum()
            })
        })
        .collect()
}

/// One part's rings (outer first, then holes) as a polygon wound as RFC 7946 (section 3.1.6)
/// has it: the outer ring counter-clockwise, holes clockwise, with x east and y north. `None`
/// without rings.
pub fn oriented(rings: &[Vec<(f64, f64)>]) -> Option<geo::Polygon> {
    let ring = |r: &Vec<(f64, f64)>| geo::LineString::from(r.clone());
    let (outer, holes) = rings.split_first()?;
    Some(
        geo::Polygon::new(ring(outer), holes.iter().map(ring).collect()).orient(Direction::Default),
    )
}

/// Insert points so that no segment is longer than `step` (same units as the ring).
pub fn densify(ring: &[(f64, f64)], step: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(ring.len());
    for (i, &(x, y)) in ring.iter().enumerate() {
        if let Some(&(px, py)) = i.checked_sub(1).and_then(|j| ring.get(j)) {
            let length = (x - px).hypot(y - py);
            let pieces = (length / step).ceil();
            if pieces.is_finite() && pieces > 1.0 {
                let n = pieces.min(10_000.0) as usize;
                for k in 1..n {
                    let t = k as f64 / n as f64;
                    out.push((px + t * (x - px), py + t * (y - py)));
                }
            }
        }
        out.push((x, y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<(String, Kind)> {
        names.iter().map(|n| (n.to_string(), Kind::Text)).collect()
    }

    #[test]
    fn clashing_attributes_are_renamed_once_and_uniquely() {
        let fields = named(&["Status", "variety", "attr_status", "val_mean", "plot_id"]);
        let computed = named(&["status", "val_mean"]);
        let (columns, warnings) = attribute_columns("plot_id", &fields, &computed);
        let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "attr_attr_Status",
                "variety",
                "attr_status",
                "attr_val_mean",
                "attr_plot_id"
            ]
        );
        assert_eq!(warnings.len(), 3);
        assert!(warnings[0].contains("'Status'") && warnings[0].contains("'attr_attr_Status'"));
        let (same, none) = attribute_columns("fid", &named(&["variety"]), &computed);
        assert_eq!(same, named(&["variety"]));
        assert!(none.is_empty());
    }

    #[test]
    fn densify_keeps_ends_and_bounds_pieces() {
        let ring = [(0.0, 0.0), (10.0, 0.0), (10.0, 1.0), (0.0, 0.0)];
        let d = densify(&ring, 3.0);
        assert_eq!(d.first(), Some(&(0.0, 0.0)));
        assert_eq!(d.last(), Some(&(0.0, 0.0)));
        assert!(d
            .windows(2)
            .all(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) <= 3.0 + 1e-12));
        assert_eq!(densify(&ring, f64::INFINITY), ring.to_vec());
    }
}
