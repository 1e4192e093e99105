//! Shapefile column names: a DBF column name has at most 10 bytes, and OGR matches field names
//! ignoring case, so every table written as a shapefile takes names that fit and differ
//! (ignoring case), chosen from its columns alone (the same columns always give the same
//! names), and says which it shortened.

use std::collections::HashSet;

use super::Kind;
use crate::error::{Error, Result};

/// Longest shapefile (DBF) column name, in bytes.
pub const SHAPEFILE_NAME_MAX: usize = 10;

/// The name each of `columns` takes in a shapefile, in order:
///
/// 1. a column's `preferred` short name (None, or a list shorter than the columns: none),
///    which must fit and differ from the other preferred names;
/// 2. else its own name, when it fits and is free, the columns in order;
/// 3. else its name cut to 10 bytes (at a character boundary), and when that is taken cut
///    shorter and numbered `_1`, `_2`, … (the first free), the columns in order.
///
/// No two names are alike ignoring case. Columns a shapefile leaves out ([`Kind::Reals`]) keep
/// their names and take none from the others.
pub fn shapefile_names(
    columns: &[(String, Kind)],
    preferred: &[Option<String>],
) -> Result<Vec<String>> {
    let written = |k: usize| columns[k].1 != Kind::Reals;
    let mut names: Vec<Option<String>> = vec![None; columns.len()];
    let mut taken: HashSet<String> = HashSet::new();
    for (k, short) in preferred.iter().enumerate().take(columns.len()) {
        let Some(short) = short.as_ref().filter(|_| written(k)) else {
            continue;
        };
        if short.is_empty()
            || short.len() > SHAPEFILE_NAME_MAX
            || !taken.insert(short.to_lowercase())
        {
            return Err(Error::internal(format!(
                "the shapefile name '{short}' of column '{}' is empty, too long or taken",
                columns[k].0
            )));
        }
        names[k] = Some(short.clone());
    }
    for (k, (name, _)) in columns.iter().enumerate() {
        if names[k].is_none()
            && written(k)
            && name.len() <= SHAPEFILE_NAME_MAX
            && taken.insert(name.to_lowercase())
        {
            names[k] = Some(name.clone());
        }
    }
    for (k, (name, _)) in columns.iter().enumerate() {
        if names[k].is_some() || !written(k) {
            continue;
        }
        let mut short = cut(name, SHAPEFILE_NAME_MAX).to_string();
        let mut n = 0;
        while short.is_empty() || !taken.insert(short.to_lowercase()) {
            n += 1;
            let suffix = format!("_{n}");
            short = format!("{}{suffix}", cut(name, SHAPEFILE_NAME_MAX - suffix.len()));
        }
        names[k] = Some(short);
    }
    Ok(names
        .into_iter()
        .zip(columns)
        .map(|(short, (full, _))| short.unwrap_or_else(|| full.clone()))
        .collect())
}

/// The columns a shapefile names otherwise, as (name, shapefile name), in column order:
/// `columns` against their [`shapefile_names`] `short`.
pub fn renamed(columns: &[(String, Kind)], short: &[String]) -> Vec<(String, String)> {
    columns
        .iter()
        .zip(short)
        .filter(|((name, kind), short)| *kind != Kind::Reals && name != *short)
        .map(|((name, _), short)| (name.clone(), short.clone()))
        .collect()
}

/// The fields a shapefile names otherwise, as (the field's index in the shapefile's layer, its
/// shapefile name, the column's name), in column order: `columns` against their
/// [`shapefile_names`] `short`, the columns a shapefile leaves out ([`Kind::Reals`]) not counted.
/// What a QGIS style beside the shapefile gives as the fields' aliases.
pub fn aliases(columns: &[(String, Kind)], short: &[String]) -> Vec<(usize, String, String)> {
    columns
        .iter()
        .zip(short)
        .filter(|((_, kind), _)| *kind != Kind::Reals)
        .enumerate()
        .filter(|(_, ((name, _), short))| name != *short)
        .map(|(index, ((name, _), short))| (index, short.clone(), name.clone()))
        .collect()
}

/// `renamed` in words for a warning (None when empty): "shapefile column names have at most
/// 10 bytes, so it has days_after_transplanting as days_after; …".
pub fn note(renamed: &[(String, String)]) -> Option<String> {
    (!renamed.is_empty()).then(|| {
        let pairs: Vec<String> = renamed
            .iter()
            .map(|(name, short)| format!("{name} as {short}"))
            .collect();
        note_of(&pairs)
    })
}

/// "shapefile column names have at most 10 bytes, so it has " and `parts`, joined by "; ".
pub fn note_of(parts: &[String]) -> String {
    format!(
        "shapefile column names have at most {SHAPEFILE_NAME_MAX} bytes, so it has {}",
        parts.join("; ")
    )
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<(String, Kind)> {
        names.iter().map(|n| (n.to_string(), Kind::Real)).collect()
    }

    #[test]
    fn names_that_fit_are_kept_and_long_ones_cut_and_numbered() {
        let cols = columns(&[
            "plot_id",
            "transplanting",
            "transplanting_earliest",
            "Transplant",
            "days_after_transplanting",
            "ทุ่งนาข้าว",
        ]);
        let names = shapefile_names(&cols, &[]).expect("names");
        // `Transplant` fits and is kept first, so the cut `transplant` (the same, ignoring
        // case) is numbered, cut to leave room for the number.
        assert_eq!(
            names,
            [
                "plot_id",
                "transpla_1",
                "transpla_2",
                "Transplant",
                "days_after",
                // 10 bytes cut at a character boundary: three Thai characters of 3 bytes.
                "ทุ่",
            ]
        );
        assert!(names.iter().all(|n| n.len() <= SHAPEFILE_NAME_MAX));
        let lower: HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(lower.len(), names.len());
        assert_eq!(
            renamed(&cols, &names),
            [
                ("transplanting".to_string(), "transpla_1".to_string()),
                (
                    "transplanting_earliest".to_string(),
                    "transpla_2".to_string()
                ),
                (
                    "days_after_transplanting".to_string(),
                    "days_after".to_string()
                ),
                ("ทุ่งนาข้าว".to_string(), "ทุ่".to_string()),
            ]
        );
        let said = note(&renamed(&cols, &names)).expect("a note");
        assert!(
            said.starts_with("shapefile column names have at most 10 bytes, so it has ")
                && said.contains("days_after_transplanting as days_after"),
            "{said}"
        );
        assert_eq!(note(&[]), None);
    }

    #[test]
    fn numbers_count_past_nine_and_the_same_columns_give_the_same_names() {
        let long: Vec<String> = (0..12).map(|k| format!("nitrogen_rate_{k:02}")).collect();
        let cols = columns(&long.iter().map(String::as_str).collect::<Vec<_>>());
        let names = shapefile_names(&cols, &[]).expect("names");
        assert_eq!(names[0], "nitrogen_r");
        assert_eq!(names[1], "nitrogen_1");
        assert_eq!(names[9], "nitrogen_9");
        assert_eq!(names[10], "nitroge_10");
        assert_eq!(names[11], "nitroge_11");
        assert_eq!(shapefile_names(&cols, &[]).expect("names"), names);
    }

    #[test]
    fn preferred_names_come_first_and_list_columns_take_no_name() {
        let mut cols = columns(&["ndvi_mean", "s2_20260717_ndvi_mean", "x"]);
        cols.push(("ndvi_series_of_the_season".into(), Kind::Reals));
        let preferred = [None, Some("ndvi_mean".to_string())];
        let names = shapefile_names(&cols, &preferred).expect("names");
        // The column that would have kept its name gives way to the preferred one.
        assert_eq!(
            names,
            ["ndvi_mea_1", "ndvi_mean", "x", "ndvi_series_of_the_season"]
        );
        assert_eq!(renamed(&cols, &names).len(), 2, "the series is not written");
        // A preferred name that is empty, does not fit or is taken is a mistake of the caller's.
        for bad in ["much_too_long", "X", ""] {
            let wrong = [Some("x".to_string()), Some(bad.to_string())];
            let e = shapefile_names(&columns(&["a", "b"]), &wrong);
            assert!(e.is_err(), "{bad}");
        }
    }

    #[test]
    fn aliases_give_the_layer_index_of_each_renamed_field() {
        let mut cols = columns(&["plot_id", "days_after_transplanting"]);
        // A list column before a renamed one: not in the shapefile, so not counted.
        cols.insert(1, ("ndvi_series_of_the_season".into(), Kind::Reals));
        cols.push(("heading_earliest".into(), Kind::Text));
        let names = shapefile_names(&cols, &[]).expect("names");
        assert_eq!(
            aliases(&cols, &names),
            [
                (1, "days_after".into(), "days_after_transplanting".into()),
                (2, "heading_ea".into(), "heading_earliest".into()),
            ]
        );
    }
}
