//! The QGIS style of each kind of output, in the current language ([`crate::i18n`]): what the
//! writers put beside their files as `name.qml`, which QGIS applies when it opens `name.tif` or
//! `name.geojson`. The XML is made by [`super::qml`]; here the choice of renderer, colours and
//! labels for each output:
//!
//! - the per-pixel stage raster: paletted, one entry per stage in the stage chart's colours,
//!   named in words;
//! - day-of-year rasters: a ramp whose labels are dates of the season's year;
//! - the confidence raster (0–100): a ramp labelled in per cent;
//! - the stage table as polygons: categorised by stage, labelled with the plot id and stage;
//! - the statistics as polygons: classed on the mean of the main index (NDVI when there is
//!   one), on the index's fixed ramp, labelled with the plot id and the mean, plots the index
//!   saw little of marked and labelled with the share seen ([`stats_plots`]);
//! - a prescription's plots for people: classed on the rate as its raster, each status marked,
//!   plots partly not observed marked and labelled with the share ([`rx_plots`]).

use std::path::{Path, PathBuf};

use super::classes::{Class, FAR};
use super::qml::{self, field, literal, Fill, Ramp, Rule, Stop, NOT_OBSERVED_COLOUR};
use crate::catalogue::Catalogue;
use crate::i18n::{self, t, tf};
use crate::phenology::dates::Date;
use crate::phenology::stage::Stage;

/// The style QGIS looks up for a vector or raster file paddy writes: `name.qml` beside
/// `name.geojson`, `name.tif`, `name.shp` or `name.shp.zip`; None for tables (.csv).
pub fn sidecar(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let stem_len = [
        ".shp.zip", ".geojson", ".json", ".shp", ".gpkg", ".tif", ".tiff",
    ]
    .iter()
    .find(|ext| lower.ends_with(*ext))
    .map(|ext| name.len() - ext.len())?;
    Some(path.with_file_name(format!("{}.qml", &name[..stem_len])))
}

/// The display ramp of an index named as in an output's file name (`ndvi`, `ndre`, `lswi`):
/// the catalogue's index of that name or alias, else a generic −1…1 vegetation ramp.
pub fn index_ramp(name: &str) -> Ramp {
    match Catalogue::builtin().index(name) {
        Some(def) => qml::ramp_for(&def.short_name, &def.application_domain),
        None => qml::ramp_for(&name.to_ascii_uppercase(), "vegetation"),
    }
}

/// The per-pixel stage raster: codes 0 (unknown) to 8 (maturity), named in words.
pub fn stage_raster() -> String {
    let mut stages = Stage::ALL.to_vec();
    stages.sort_by_key(|s| s.code());
    let entries: Vec<(u8, [u8; 3], String)> = stages
        .iter()
        .map(|s| (s.code(), s.colour(), i18n::stage(*s)))
        .collect();
    qml::paletted(&entries, &t("style.stage"))
}

/// The ramp of a day-of-year raster from day `lo` to `hi` (counted from 1 January of `year`,
/// so day 1 is 1 January), labelled with dates.
pub fn day_of_year_stops(lo: f64, hi: f64, year: i32) -> Vec<Stop> {
    const DAYS: &[&str] = &["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
    let ramp = Ramp {
        min: lo,
        max: hi.max(lo + 1.0),
        colours: DAYS,
    };
    let jan1 = Date::from_ymd(year, 1, 1).map_or(0, |d| d.days_since_epoch());
    let mut stops =
        ramp.stops(|v| i18n::date(Date::from_days_since_epoch(jan1 + v.round() as i32 - 1)));
    // Whole days: a stop between two days would be labelled with a date it is not.
    for s in &mut stops {
        s.value = s.value.round();
    }
    stops.dedup_by(|a, b| a.value == b.value);
    stops
}

/// A day-of-year raster's style: `title_key` names it (`style.heading_doy`).
pub fn day_of_year(title_key: &str, lo: f64, hi: f64, year: i32) -> String {
    qml::pseudocolor_stops(&day_of_year_stops(lo, hi, year), &t(title_key))
}

/// The confidence raster (confidence × 100): red (unsure) to green (sure), labelled in %.
pub fn confidence_percent() -> String {
    const SHARE: &[&str] = &["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"];
    let ramp = Ramp {
        min: 0.0,
        max: 100.0,
        colours: SHARE,
    };
    qml::pseudocolor_stops(&ramp.stops(|v| format!("{v:.0} %")), &t("style.confidence"))
}

/// The stage table's polygons: categorised on `stage` (the table's name of the stage), each
/// stage in the chart's colour and named in words; labels the plot id over the stage's name.
pub fn stage_plots(id_column: &str) -> String {
    let categories: Vec<(String, [u8; 3], String)> = Stage::ALL
        .iter()
        .map(|s| (s.name().to_string(), s.colour(), i18n::stage(*s)))
        .collect();
    let cases: String = categories
        .iter()
        .map(|(name, _, label)| {
            format!(
                " WHEN {} = {} THEN {}",
                field("stage"),
                literal(name),
                literal(label)
            )
        })
        .collect();
    let expression = format!(
        "{} || char(10) || CASE{cases} ELSE coalesce({}, '') END",
        field(id_column),
        field("stage")
    );
    qml::vector_categorised("stage", &categories, &expression, &t("style.stage_plots"))
}

/// Classes over a ramp's range, one per colour; the end classes reach far beyond it, so every
/// value has a class. Half-open like every classed legend ([`super::classes`]): `> 0.17–0.35`
/// holds 0.35, not 0.17; negative numbers with a minus sign (−0.02), as the ramps' labels.
pub fn ramp_classes(ramp: &Ramp) -> Vec<Class> {
    let n = ramp.colours.len().max(1);
    let step = (ramp.max - ramp.min) / n as f64;
    let short = |v: f64| {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        match s.strip_prefix('-') {
            Some("0") => "0".to_string(),
            Some(rest) => format!("−{rest}"),
            None => s.to_string(),
        }
    };
    (0..n)
        .map(|i| {
            // The same expression for an edge in both classes it bounds: they touch exactly.
            let lower = ramp.min + step * i as f64;
            let upper = ramp.min + step * (i + 1) as f64;
            let label = match (i, n - 1 - i) {
                (0, _) => format!("≤ {}", short(upper)),
                (_, 0) => format!("> {}", short(lower)),
                _ => format!("> {}–{}", short(lower), short(upper)),
            };
            Class {
                lower: if i == 0 { -FAR } else { lower },
                upper: if i + 1 == n { FAR } else { upper },
                colour: qml::rgb(ramp.colours[i]),
                label,
            }
        })
        .collect()
}

/// Above this share of a plot (per cent) left unobserved, its map says so: the label gives the
/// share, and dots under a dashed outline lie over the plot's colour. The same for the
/// prescriptions' plots (the share with no rate because nothing was seen there) and for the
/// statistics (the share the index did not see).
pub const UNSEEN_PCT: f64 = 10.0;

/// Colour of the hatch that marks plots of unknown growth stage.
pub const STAGE_UNKNOWN_COLOUR: [u8; 3] = [140, 81, 10];

/// Colour of the dashed outline of a plot seen on only part of it: a magenta that stands out
/// on the light rate colours and on the dark greens of a vegetation index alike.
pub const PARTLY_SEEN_COLOUR: [u8; 3] = [170, 0, 120];

/// The fill over a plot seen on only part of it ([`UNSEEN_PCT`]): sparse dots in the grey of
/// the not-observed hatch, a thick dashed outline.
pub fn partly_seen_fill() -> Fill {
    Fill {
        colour: NOT_OBSERVED_COLOUR,
        brush: "dense6",
        outline: PARTLY_SEEN_COLOUR,
        outline_style: "dash",
        outline_mm: 0.8,
    }
}

/// The current language's text `key` as a QGIS expression: each `{name}` placeholder given in
/// `values` is that expression, the rest literal text.
fn text_expression(key: &str, values: &[(&str, String)]) -> String {
    let template = t(key);
    let mut parts: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut rest = template.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        let value = close.and_then(|c| {
            let name = &rest[open + 1..c];
            values.iter().find(|(n, _)| *n == name).map(|(_, v)| (c, v))
        });
        match value {
            Some((close, expression)) => {
                text.push_str(&rest[..open]);
                if !text.is_empty() {
                    parts.push(literal(&std::mem::take(&mut text)));
                }
                parts.push(format!("({expression})"));
                rest = &rest[close + 1..];
            }
            None => {
                text.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() || parts.is_empty() {
        parts.push(literal(&text));
    }
    parts.join(" || ")
}

/// How the people layer of a prescription marks a plot of one status over its rate's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMark {
    /// Nothing over the rate's colour.
    Plain,
    /// Not observed: a dark-grey hatch (over the default rate's colour when it has one).
    NotObserved,
    /// Observed, growth stage unknown: a brown hatch the other way.
    StageUnknown,
}

/// The people layer of a prescription (`rx_<product>_plots`): rule-based on `rate` in the
/// rate's `classes` (the raster's and the machine layer's), then for each [`StatusMark`] but
/// [`StatusMark::Plain`] a hatch over the plots of the `statuses` so marked (every status the
/// layer can carry, with its mark), then dots under a dashed outline over the plots with a rate
/// whose `not_observed_pct` is above [`UNSEEN_PCT`]. Each has its legend entry. Labels: the plot
/// id and its rate in `unit` (or, with none, its status in words); with `zones` (spray) the
/// stress zones' rate and area (`zone_rate`, `zone_m2`); the share not observed when above
/// [`UNSEEN_PCT`].
pub fn rx_plots(
    classes: &[Class],
    unit: &str,
    statuses: &[(&str, StatusMark)],
    zones: bool,
    title: &str,
) -> String {
    let mut rules = qml::class_rules("rate", classes);
    let marks = [
        (
            StatusMark::NotObserved,
            "legend.not_observed",
            Fill::brush(NOT_OBSERVED_COLOUR, "b_diagonal"),
        ),
        (
            StatusMark::StageUnknown,
            "legend.stage_unknown",
            Fill::brush(STAGE_UNKNOWN_COLOUR, "f_diagonal"),
        ),
    ];
    let mut no_rate = String::new();
    for (mark, key, fill) in marks {
        let names: Vec<String> = statuses
            .iter()
            .filter(|(_, m)| *m == mark)
            .map(|(name, _)| literal(name))
            .collect();
        if names.is_empty() {
            continue;
        }
        let filter = format!("{} IN ({})", field("status"), names.join(", "));
        no_rate.push_str(&format!(" WHEN {filter} THEN {}", literal(&t(key))));
        rules.push(Rule::new(filter, t(key), fill));
    }
    let unseen = format!(
        "{} IS NOT NULL AND {} > {UNSEEN_PCT}",
        field("rate"),
        field("not_observed_pct")
    );
    let pct = UNSEEN_PCT.to_string();
    rules.push(Rule::new(
        unseen.clone(),
        tf("legend.partly_unseen", &[("pct", &pct)]),
        partly_seen_fill(),
    ));
    let in_unit = |column: &str| {
        format!(
            "format_number({}, 1) || {}",
            field(column),
            literal(&format!(" {unit}"))
        )
    };
    let mut label = format!(
        "{} || ': ' || CASE WHEN {} IS NULL THEN CASE{no_rate} ELSE coalesce({}, '') END ELSE {} END",
        field("plot_id"),
        field("rate"),
        field("status"),
        in_unit("rate")
    );
    if zones {
        let area = format!("format_number({}, 0)", field("zone_m2"));
        let zone = text_expression(
            "style.spray_zones",
            &[("rate", in_unit("zone_rate")), ("area", area)],
        );
        label.push_str(&format!(
            " || CASE WHEN {} > 0 THEN char(10) || {zone} ELSE '' END",
            field("zone_m2")
        ));
    }
    let share = text_expression(
        "style.not_observed_share",
        &[(
            "pct",
            format!("format_number({}, 0)", field("not_observed_pct")),
        )],
    );
    label.push_str(&format!(
        " || CASE WHEN {unseen} THEN char(10) || {share} ELSE '' END"
    ));
    qml::vector_rules(&rules, &label, title)
}

/// One raster band's columns in a statistics table, as its style reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsColumns {
    /// The columns' prefix (`s2_20260717_ndvi` for `s2_20260717_ndvi_mean`).
    pub prefix: String,
    /// The mean's and the count's column names (in a shapefile short ones: `ndvi_mean`).
    pub mean: String,
    pub count: String,
    /// Ground area of one of the raster's pixels (m²; NaN when unknown): with the count of
    /// valid pixels and the plot's `area_m2`, the share of the plot the index saw.
    pub pixel_m2: f64,
}

/// The statistics' polygons, given the table's id column and its raster bands' columns: the
/// mean of the first NDVI band (else the first band) in its index's colours, under a legend
/// heading that names the index and the statistic; a plot with no mean outlined, as "no data";
/// a plot the index saw on less than 100 − [`UNSEEN_PCT`] % of its area (known when the pixel
/// area is) dotted under a dashed outline. Labels: the plot id, the mean, and the share seen
/// when it is that low. None without columns.
pub fn stats_plots(id_column: &str, groups: &[StatsColumns]) -> Option<String> {
    let index_of = |p: &str| p.rsplit('_').next().unwrap_or(p).to_string();
    let main = groups
        .iter()
        .find(|g| index_of(&g.prefix).eq_ignore_ascii_case("ndvi"))
        .or_else(|| groups.first())?;
    let index = index_of(&main.prefix);
    let mean = field(&main.mean);
    let title = tf("style.stats", &[("index", &index.to_ascii_uppercase())]);
    let heading = Rule {
        filter: None,
        label: title.clone(),
        fill: None,
        children: qml::class_rules(&main.mean, &ramp_classes(&index_ramp(&index))),
    };
    let no_data = Fill {
        brush: "no",
        ..Fill::solid([255, 255, 255])
    };
    let mut rules = vec![
        heading,
        Rule::new(format!("{mean} IS NULL"), t("legend.no_data"), no_data),
    ];
    let mut label = format!(
        "{} || char(10) || coalesce(format_number({mean}, 2), '')",
        field(id_column)
    );
    if main.pixel_m2.is_finite() && main.pixel_m2 > 0.0 {
        let seen = format!(
            "coalesce({}, 0) * {} / {}",
            field(&main.count),
            main.pixel_m2,
            field("area_m2")
        );
        let low = format!("{seen} < {}", 1.0 - UNSEEN_PCT / 100.0);
        let pct = (100.0 - UNSEEN_PCT).to_string();
        rules.push(Rule::new(
            low.clone(),
            tf("style.partly_seen", &[("pct", &pct)]),
            partly_seen_fill(),
        ));
        let share = text_expression(
            "style.seen_share",
            &[("pct", format!("format_number(100 * {seen}, 0)"))],
        );
        label.push_str(&format!(
            " || CASE WHEN {low} THEN char(10) || {share} ELSE '' END"
        ));
    }
    Some(qml::vector_rules(&rules, &label, &title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_drops_the_whole_extension() {
        let p = |s: &str| sidecar(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(p("a/x.geojson").as_deref(), Some("a/x.qml"));
        assert_eq!(p("a/x.shp.zip").as_deref(), Some("a/x.qml"));
        assert_eq!(p("x.v1.tif").as_deref(), Some("x.v1.qml"));
        assert_eq!(p("x.csv"), None);
    }

    #[test]
    fn day_of_year_labels_are_the_dates_of_the_season() {
        // Day 152 of 2026 is 1 June (2026 is not a leap year: 31+28+31+30+31 = 151).
        let stops = day_of_year_stops(152.0, 212.0, 2026);
        assert_eq!(stops.first().map(|s| s.label.as_str()), Some("1 Jun"));
        assert_eq!(stops.last().map(|s| s.label.as_str()), Some("31 Jul"));
        assert_eq!(stops.len(), 5);
        // 2024 is a leap year: day 152 is 31 May.
        assert_eq!(day_of_year_stops(152.0, 160.0, 2024)[0].label, "31 May");
    }

    #[test]
    fn ndre_files_take_the_ndrei_ramp() {
        assert_eq!(index_ramp("ndre"), qml::ramp_for("NDREI", "vegetation"));
        assert_eq!(
            index_ramp("lswi").colours,
            qml::ramp_for("LSWI", "water").colours
        );
    }

    #[test]
    fn text_expressions_fill_placeholders_with_expressions() {
        let e = text_expression("style.spray_zones", &[("rate", "\"r\"".into())]);
        // {area} has no value here: it stays text.
        assert_eq!(e, "'zones: ' || (\"r\") || ' on {area} m²'");
        let e = text_expression("legend.not_observed", &[]);
        assert_eq!(e, "'not observed'");
    }

    #[test]
    fn every_status_mark_has_its_rule_and_plain_has_none() {
        let classes = crate::export::classes::rate_classes(
            &[20.0],
            "L/ha",
            crate::export::classes::Palette::Spray,
            7,
        );
        let statuses = [
            ("ok", StatusMark::Plain),
            ("gone", StatusMark::NotObserved),
            ("gone too", StatusMark::NotObserved),
            ("unstaged", StatusMark::StageUnknown),
        ];
        let text = rx_plots(&classes, "L/ha", &statuses, true, "t");
        assert!(text.contains("IN ('gone', 'gone too')"), "{text}");
        assert!(text.contains("IN ('unstaged')"), "{text}");
        assert!(!text.contains("'ok'"), "{text}");
        assert!(text.contains("label=\"stage unknown\""), "{text}");
        // Without stage-unknown statuses, no rule for them.
        let text = rx_plots(&classes, "L/ha", &statuses[..2], false, "t");
        assert!(!text.contains("stage unknown"), "{text}");
        assert!(!text.contains("zone_m2"), "{text}");
    }

    #[test]
    fn ramp_classes_cover_every_value_in_ramp_order() {
        let c = ramp_classes(&index_ramp("ndvi"));
        assert_eq!(c.len(), 6);
        assert_eq!(super::super::classes::class_of(&c, -5.0), Some(0));
        assert_eq!(super::super::classes::class_of(&c, 5.0), Some(5));
        assert_eq!(c[0].colour, [0xa5, 0x00, 0x26]);
        // Half-open, touching, labelled with minus signs.
        assert!(c.windows(2).all(|w| w[0].upper == w[1].lower));
        assert_eq!(c[0].label, "≤ −0.02");
        assert_eq!(c[1].label, "> −0.02–0.17");
        assert_eq!(c[5].label, "> 0.72");
        let edge = c[1].upper;
        assert_eq!(super::super::classes::class_of(&c, edge), Some(1));
    }
}
