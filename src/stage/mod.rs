//! `paddy stage`: dated index rasters and plots in; per plot a smoothed index curve, the season's
//! events (transplanting, heading, maturity) and the growth stage at a date, out.
//!
//! Data flows one way: [`series`] dates the rasters and takes each plot's mean index per date
//! with `paddy stats`; [`analyse`] turns one plot's series into events and a stage with the pure
//! [`crate::phenology`] code; [`output`] and [`chart`] write tables and pictures.

pub mod analyse;
pub mod calibrate;
pub mod chart;
pub mod output;
pub mod pixels;
pub mod series;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::phenology::dates::Date;
use crate::phenology::stage::{Agreement, StageTable};
use crate::plots::{Kind, Parts, Value};

pub use analyse::{PlotStage, Smoother, SmootherKind};
pub use series::DateList;

/// What `paddy stage` is asked to do.
#[derive(Debug, Clone)]
pub struct StageRequest {
    pub rasters: Vec<PathBuf>,
    pub lswi: Vec<PathBuf>,
    /// The plots (per-plot mode); None with `--per-pixel` alone.
    pub plots: Option<PathBuf>,
    pub layer: Option<String>,
    pub id_field: Option<String>,
    pub class_field: String,
    pub default_class: String,
    pub transplanted_field: String,
    pub date_pattern: Option<String>,
    /// The rasters' dates when known (`paddy stage --dates`, or `paddy run`'s own index
    /// outputs); else from `date_pattern`, else from each file's metadata.
    pub dates: Option<DateList>,
    pub mask_band: Option<usize>,
    pub min_valid: f64,
    pub smoother: Smoother,
    pub fraction: f64,
    pub at: Option<Date>,
    /// Start of the window the season is looked for in (default: 200 days before `at`).
    pub from: Option<Date>,
    /// Multiply index values by this (e.g. 0.0001 for MODIS NDVI stored × 10000).
    pub scale: f64,
    pub table: StageTable,
    pub threads: Option<usize>,
}

/// Everything `paddy stage` produces.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// The dates of the index series, ascending.
    pub dates: Vec<Date>,
    /// The date the stages are given at.
    pub at: Date,
    pub id_column: String,
    pub fields: Vec<(String, Kind)>,
    /// Per plot: its attributes, in the order of `fields`.
    pub attributes: Vec<Vec<Value>>,
    pub plots: Vec<PlotStage>,
    pub lonlat: Vec<Option<Parts>>,
    pub warnings: Vec<String>,
    /// The index's name for charts (from the first raster's file name).
    pub index_name: String,
}

/// The dated series and the date of interest, shared by the per-plot and per-pixel runs.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub vi: Vec<series::Dated>,
    pub lswi: Vec<series::Dated>,
    pub dates: Vec<Date>,
    pub at: Date,
}

/// Check the settings and date the rasters.
pub fn prepare(req: &StageRequest) -> Result<Prepared> {
    if !(0.0..=1.0).contains(&req.min_valid) {
        return Err(Error::usage(format!(
            "the least valid share of a plot {} must be between 0 and 1",
            req.min_valid
        )));
    }
    if !(req.fraction > 0.0 && req.fraction < 1.0) {
        return Err(Error::usage(format!(
            "the season's amplitude fraction {} must be between 0 and 1",
            req.fraction
        )));
    }
    if !(req.scale.is_finite() && req.scale != 0.0) {
        return Err(Error::usage(format!(
            "the index scale {} must be a finite non-zero number",
            req.scale
        )));
    }
    let vi = series::date_rasters(
        &req.rasters,
        req.date_pattern.as_deref(),
        req.dates.as_ref(),
    )?;
    let lswi = series::date_rasters(&req.lswi, req.date_pattern.as_deref(), req.dates.as_ref())?;
    let dates: Vec<Date> = vi.iter().map(|d| d.date).collect();
    let at = req
        .at
        .unwrap_or_else(|| *dates.last().unwrap_or(&Date::from_days_since_epoch(0)));
    Ok(Prepared {
        vi,
        lswi,
        dates,
        at,
    })
}

/// Run `paddy stage` per plot.
pub fn run(req: &StageRequest, progress: &dyn Fn(usize, usize)) -> Result<StageResult> {
    run_with_table(req, progress, None)
}

/// [`run`] on rasters already dated by [`prepare`] (and checked, e.g. by
/// [`series::check_series`]), so they are not dated again.
pub fn run_prepared(
    req: &StageRequest,
    prepared: Prepared,
    progress: &dyn Fn(usize, usize),
) -> Result<StageResult> {
    run_on(req, prepared, progress, None)
}

/// Days after the last raster past which the date of the stage is said to lie well after the
/// series ([`late_date`]): more than a revisit of the slowest series `paddy stage` is made for
/// (monthly composites), so every stage is read off observations a month old or older.
pub const LATE_DAYS: i32 = 30;

/// A warning when the date of the stage lies more than [`LATE_DAYS`] after the last raster:
/// the stages are then extrapolated from observations that old, or, where no raster lies in
/// the window the season is looked for in (from `from`, default [`analyse::SEASON_SPAN`] days
/// before the date), not read off the rasters at all.
pub fn late_date(prepared: &Prepared, from: Option<Date>) -> Option<String> {
    let last = *prepared.dates.last()?;
    let at = prepared.at;
    let days = at.days_since_epoch() - last.days_since_epoch();
    if days <= LATE_DAYS {
        return None;
    }
    let start = analyse::window_start(at, from);
    let first = prepared
        .dates
        .iter()
        .find(|d| d.days_since_epoch() >= start.days_since_epoch() && **d <= at);
    let consequence = match first {
        Some(_) => {
            format!("every stage is extrapolated from observations {days} days old or older")
        }
        None => format!(
            "no raster lies in the window the season is looked for in ({start} to {at}), so no \
             plot's season is seen there"
        ),
    };
    Some(format!(
        "the stage is given at {at}, {days} days after the last raster ({last}): {consequence}"
    ))
}

/// [`run`], with the per-plot statistics of the rasters already at hand when `table` is given:
/// its columns are the index rasters then the LSWI rasters, each list in date order, with each
/// plot's count, mean and nodata fraction (what `paddy stats` computes with exact coverage).
pub fn run_with_table(
    req: &StageRequest,
    progress: &dyn Fn(usize, usize),
    table: Option<&crate::zonal::StatsTable>,
) -> Result<StageResult> {
    if req.plots.is_none() {
        return Err(no_plots());
    }
    let prepared = prepare(req)?;
    run_on(req, prepared, progress, table)
}

fn no_plots() -> Error {
    Error::usage(
        "per-plot stages need the plots (stage rasters without plots come from the per-pixel run)",
    )
}

/// [`run_with_table`] on the dated rasters.
fn run_on(
    req: &StageRequest,
    prepared: Prepared,
    progress: &dyn Fn(usize, usize),
    table: Option<&crate::zonal::StatsTable>,
) -> Result<StageResult> {
    let Some(plots) = &req.plots else {
        return Err(no_plots());
    };
    let late = late_date(&prepared, req.from);
    let Prepared {
        vi,
        lswi,
        dates,
        at,
    } = prepared;
    let mut groups: Vec<&[series::Dated]> = vec![&vi];
    if !lswi.is_empty() {
        groups.push(&lswi);
    }
    let series_req = series::SeriesRequest {
        plots: plots.clone(),
        layer: req.layer.clone(),
        id_field: req.id_field.clone(),
        mask_band: req.mask_band,
        min_valid: req.min_valid,
        assume_same_crs: false,
        threads: req.threads,
    };
    let computed;
    let (table, mut per_series) = match table {
        Some(t) => (t, series::series_of_table(&series_req, &groups, t)?),
        None => {
            let (t, series) = series::plot_series(&series_req, &groups, progress)?;
            computed = t;
            (&computed, series)
        }
    };
    if req.scale != 1.0 {
        for s in per_series.iter_mut().flatten() {
            s.values.iter_mut().for_each(|v| *v *= req.scale);
        }
    }
    let lswi_series = (per_series.len() > 1).then(|| per_series.pop().unwrap_or_default());
    let vi_series = per_series.pop().unwrap_or_default();
    let field = |name: &str| {
        table
            .fields
            .iter()
            .position(|f| f.0.eq_ignore_ascii_case(name))
    };
    let class_at = field(&req.class_field);
    let transplanted_at = field(&req.transplanted_field);
    let mut warnings = table.warnings.clone();
    warnings.extend(late);
    if class_at.is_none() {
        warnings.push(format!(
            "the plots have no '{}' field: every plot is taken as '{}' duration",
            req.class_field, req.default_class
        ));
    }
    let settings = analyse::Settings {
        smoother: req.smoother,
        fraction: req.fraction,
        table: &req.table,
        at,
        from: req.from,
        calibration: None,
    };
    let inputs: Vec<(&str, String, Option<Date>)> = table
        .rows
        .iter()
        .map(|row| {
            let class = class_at
                .map(|k| row.attributes[k].text())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| req.default_class.clone());
            let transplanted = transplanted_at.and_then(|k| match &row.attributes[k] {
                Value::Text(t) => t.parse::<Date>().ok(),
                _ => None,
            });
            (row.id.as_str(), class, transplanted)
        })
        .collect();
    let mut plots = analyse_plots(
        &inputs,
        &vi_series,
        lswi_series.as_deref(),
        &dates,
        &settings,
        req.threads,
    )?;
    if let Some(k) = transplanted_at {
        say_unreadable_dates(&mut plots, table, k, &mut warnings);
    }
    for p in &plots {
        if p.unknown_class {
            warnings.push(format!(
                "plot {}: duration class '{}' is not in the stage table ({}): stage from the curve only",
                p.id,
                p.class,
                req.table.class_names().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    // The index's name for the chart: a part of the first file name that names a catalogue
    // index (s2_20260717_ndvi.tif → NDVI), else "index".
    let catalogue = crate::catalogue::Catalogue::builtin();
    let index_name = req
        .rasters
        .first()
        .and_then(|p| p.file_stem())
        .and_then(|stem| {
            stem.to_string_lossy()
                .split(['_', '-', '.'])
                .filter(|part| part.chars().any(|c| c.is_ascii_alphabetic()))
                .find_map(|part| {
                    catalogue
                        .lookup(part)
                        .ok()
                        .map(|def| def.short_name.clone())
                })
        })
        .unwrap_or_else(|| "index".into());
    warnings.extend(output::attribute_columns(&table.id_column, &table.fields).1);
    Ok(StageResult {
        dates,
        at,
        id_column: table.id_column.clone(),
        fields: table.fields.clone(),
        attributes: table.rows.iter().map(|r| r.attributes.clone()).collect(),
        plots,
        lonlat: table.lonlat.clone(),
        warnings,
        index_name,
    })
}

/// A transplanting date a plot gives (in `table`'s field `k`) that is not a date: the plot was
/// dated as if it gave none, and a warning and its reason say so, naming the value and what
/// dated it instead.
fn say_unreadable_dates(
    plots: &mut [PlotStage],
    table: &crate::zonal::StatsTable,
    k: usize,
    warnings: &mut Vec<String>,
) {
    let field = &table.fields[k].0;
    for (p, row) in plots.iter_mut().zip(&table.rows) {
        let Some(why) = unreadable_date(&row.attributes[k]) else {
            continue;
        };
        let instead = match p.transplanting_source {
            "" => "no transplanting date".to_string(),
            source => format!("transplanting from the {source}"),
        };
        warnings.push(format!(
            "plot {}: its '{field}' value {why}: {instead} instead",
            p.id
        ));
        p.call
            .reason
            .push_str(&format!("; its '{field}' value {why}, so it is not used"));
    }
}

/// Why a plot's transplanting date `value` cannot be read, for a value that is there but is
/// not a date (empty text and no value are no date, not a wrong one).
fn unreadable_date(value: &Value) -> Option<String> {
    match value {
        Value::Text(t) if t.trim().is_empty() => None,
        Value::Text(t) => t.parse::<Date>().err().map(|e| e.to_string()),
        Value::Real(r) if r.is_nan() => None,
        Value::Int(_) | Value::Real(_) | Value::Reals(_) => Some(format!(
            "{} is a number, not a date (YYYY-MM-DD)",
            value.text()
        )),
        Value::Null => None,
    }
}

/// Every plot observed ([`analyse::observe`]) and concluded ([`analyse::conclude`]); then, once
/// the scene's well-dated plots have measured when the water signal ends after transplanting and
/// when each class heads ([`calibrate::calibrate`]): every plot concluded again from the same
/// observations with the class's stages moved where a class heads days away from the stage
/// table, else the plots dated by the onset of flooding whose water signal has ended, or all of
/// them where the scene's puddling lead counts ([`calibrate::Calibration::lead`]: it moves the
/// point estimate and widens the bracket of each), and the plots never seen flooded whose curve
/// rose while the scene's well-dated plots were transplanted ([`calibrate::Planted`]).
fn analyse_plots<'a>(
    inputs: &[(&str, String, Option<Date>)],
    vi: &[series::PlotSeries],
    lswi: Option<&[series::PlotSeries]>,
    dates: &[Date],
    settings: &analyse::Settings<'a>,
    threads: Option<usize>,
) -> Result<Vec<PlotStage>> {
    // What each plot's observations show does not depend on the scene's calibration: observed
    // once, side by side on the run's workers, in the table's order, and concluded again below
    // where the calibration counts.
    let observed: Vec<analyse::Observed> =
        crate::raster::engine::map(inputs, threads, |i, (_, _, transplanted)| {
            analyse::observe(*transplanted, &vi[i], lswi.map(|s| &s[i]), settings)
        })?;
    let analyse_plot = |i: usize, settings: &analyse::Settings| {
        let (id, class, transplanted) = &inputs[i];
        analyse::conclude(id, class, *transplanted, &observed[i], settings)
    };
    let mut plots: Vec<PlotStage> =
        crate::raster::engine::map(inputs, threads, |i, _| analyse_plot(i, settings))?;
    let days: Vec<f64> = dates
        .iter()
        .map(|d| f64::from(d.days_since_epoch()))
        .collect();
    let at = f64::from(settings.at.days_since_epoch());
    let calibration = calibrate::shortest_spacing(&days)
        .map(|spacing| calibrate::calibrate(&plots, spacing, settings.table, at))
        .unwrap_or_default();
    // A class that heads days away from the table: every plot again with its stages moved.
    if let Some(table) = calibration.stage_table(settings.table) {
        let settings = analyse::Settings {
            table: &table,
            calibration: Some(&calibration),
            ..*settings
        };
        return crate::raster::engine::map(inputs, threads, |i, _| analyse_plot(i, &settings));
    }
    let flooded_again = !calibration.lags.is_empty() || calibration.lead().is_some();
    if flooded_again || calibration.planted.is_some() {
        let settings = analyse::Settings {
            calibration: Some(&calibration),
            ..*settings
        };
        // Side by side too (in a county, most plots are dated by the onset of flooding).
        let again: Vec<usize> = plots
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                (flooded_again
                    && p.transplanting_source == "flooding onset"
                    && p.flood
                        .is_some_and(|f| f.canopy.is_some() || calibration.lead().is_some()))
                    || (observed[*i].season_set_aside() && calibration.planted.is_some())
            })
            .map(|(i, _)| i)
            .collect();
        let redone =
            crate::raster::engine::map(&again, threads, |_, &i| analyse_plot(i, &settings))?;
        for (i, p) in again.into_iter().zip(redone) {
            plots[i] = p;
        }
    }
    Ok(plots)
}

/// Plots the stage chart shows at most, one panel each: a county's 20 000 plots would make a
/// PNG of 43 000 × 28 000 pixels (240 MB, 4 GB in memory while drawn) that nobody can open.
pub const CHART_PLOTS: usize = 400;

/// Which plots the chart shows, in the order shown, from each plot's agreement and confidence:
/// all of them, in the table's order, when they fit in `limit`; else the `limit` to check
/// first: those whose days after transplanting and curve disagree, then the least confident,
/// ties in the table's order.
fn check_first(calls: &[(Agreement, f64)], limit: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    if calls.len() > limit {
        order.sort_by(|&a, &b| {
            let key = |i: usize| (calls[i].0 != Agreement::Disagree, calls[i].1);
            let ((da, ca), (db, cb)) = (key(a), key(b));
            da.cmp(&db).then(ca.total_cmp(&cb))
        });
        order.truncate(limit);
    }
    order
}

/// Write the small-multiples chart of the plots ([`check_first`], at most [`CHART_PLOTS`]):
/// observations, smoothed curve, dropped dates, and the events (T transplanting, H heading,
/// M maturity, now = the date of the stage).
pub fn write_chart(result: &StageResult, path: &std::path::Path) -> Result<()> {
    use chart::{Event, Panel, HEADING_COLOUR, MATURITY_COLOUR, NOW_COLOUR, TRANSPLANTING_COLOUR};
    let day = |d: Date| f64::from(d.days_since_epoch());
    let calls: Vec<(Agreement, f64)> = result
        .plots
        .iter()
        .map(|p| (p.call.agreement, p.confidence))
        .collect();
    let shown: Vec<&PlotStage> = check_first(&calls, CHART_PLOTS)
        .into_iter()
        .map(|i| &result.plots[i])
        .collect();
    // Per plot: the curve as (day, value), the dropped days and the events.
    type PanelData<'e> = (Vec<(f64, f64)>, Vec<f64>, Vec<Event<'e>>);
    let data: Vec<PanelData> = shown
        .iter()
        .map(|p| {
            let curve: Vec<(f64, f64)> =
                p.curve.days().zip(p.curve.values.iter().copied()).collect();
            let dropped: Vec<f64> = p.dropped_dates.iter().map(|d| day(*d)).collect();
            let mut events = Vec::new();
            if let Some(t) = p.transplanting {
                events.push(Event {
                    day: day(t),
                    label: "T",
                    colour: TRANSPLANTING_COLOUR,
                });
            }
            if let Some(h) = p.heading {
                events.push(Event {
                    day: day(h),
                    label: "H",
                    colour: HEADING_COLOUR,
                });
            }
            if let Some(m) = p.maturity {
                events.push(Event {
                    day: day(m),
                    label: "M",
                    colour: MATURITY_COLOUR,
                });
            }
            events.push(Event {
                day: day(result.at),
                label: "now",
                colour: NOW_COLOUR,
            });
            (curve, dropped, events)
        })
        .collect();
    let stages: Vec<String> = shown
        .iter()
        .map(|p| crate::i18n::stage(p.call.stage))
        .collect();
    let panels: Vec<Panel> = shown
        .iter()
        .zip(&data)
        .zip(&stages)
        .map(|((p, (curve, dropped, events)), stage)| Panel {
            title: &p.id,
            subtitle: stage,
            points: &p.points,
            dropped,
            curve,
            events,
        })
        .collect();
    let header = chart::Header {
        index_name: &result.index_name,
        plots: result.plots.len(),
    };
    chart::write_png(&panels, Some((-0.2, 1.0)), &header, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_too_large_shows_the_plots_to_check_first() {
        use Agreement::{Agree, CurveOnly, DatOnly, Disagree};
        let calls = [
            (Agree, 1.0),
            (Disagree, 0.9),
            (DatOnly, 0.4),
            (Agree, 0.3),
            (Disagree, 0.5),
            (CurveOnly, 0.4),
            (Agreement::None, 0.0),
        ];
        // All of them, in the table's order, when they fit.
        assert_eq!(check_first(&calls, 7), (0..7).collect::<Vec<_>>());
        // Else disagreements first (least confident first), then the least confident, ties in
        // the table's order.
        assert_eq!(check_first(&calls, 6), [4, 1, 6, 3, 2, 5]);
        assert_eq!(check_first(&calls, 3), [4, 1, 6]);
        assert_eq!(check_first(&calls, 0), Vec::<usize>::new());
    }
}
