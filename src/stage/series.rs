//! Dated rasters in, one index time series per plot out (through `paddy stats`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::RasterInfo;
use crate::phenology::dates::{
    date_from_metadata, read_date_list, suggest_pattern, Date, DatePattern,
};
use crate::zonal::{self, CoverageMode, StatsRequest, StatsTable};

/// A raster and its acquisition date, with where the date came from.
#[derive(Debug, Clone)]
pub struct Dated {
    pub path: PathBuf,
    pub date: Date,
    /// `list`, `file name` or the metadata key.
    pub source: String,
}

/// Acquisition dates known before the rasters are opened: a date per file, found by the
/// file's path or by its name. Read from a CSV of file,date ([`DateList::read`], `paddy stage
/// --dates`), or made in memory by a caller that knows its files' dates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DateList {
    /// What the list is, for messages: the CSV's path, or a description.
    pub origin: String,
    pub dates: Vec<(PathBuf, Date)>,
}

impl DateList {
    /// A CSV of file,date (see [`read_date_list`]).
    pub fn read(path: &Path) -> Result<DateList> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(DateList {
            origin: path.display().to_string(),
            dates: read_date_list(&text, path)?
                .into_iter()
                .map(|(file, date)| (PathBuf::from(file), date))
                .collect(),
        })
    }

    /// The date listed for `path`, by its path or else its file name.
    fn date_of(&self, path: &Path) -> Option<Date> {
        let name = crate::io::file_name(path);
        self.dates.iter().find_map(|(listed, date)| {
            (listed == path || crate::io::file_name(listed) == name).then_some(*date)
        })
    }
}

/// Date every raster: from the `list` when given, else from the file name by `pattern` when
/// given, else from GDAL metadata (ACQUISITION_DATETIME, PRODUCT_START_TIME, DATE_ACQUIRED, …).
/// Returns them sorted by date; an undated file is a usage error (exit 2, as in `paddy run`)
/// naming it and saying how to date it, with a pattern that reads its name where one would.
pub fn date_rasters(
    paths: &[PathBuf],
    pattern: Option<&str>,
    list: Option<&DateList>,
) -> Result<Vec<Dated>> {
    let pattern = pattern.map(DatePattern::new).transpose()?;
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let name = crate::io::file_name(path);
        let from_list = list.and_then(|l| l.date_of(path));
        let dated = if let Some(date) = from_list {
            Some((date, "list".to_string()))
        } else if let Some(pattern) = &pattern {
            pattern
                .date_in(&name)?
                .map(|d| (d, "file name".to_string()))
        } else {
            let info = RasterInfo::read(path)?;
            date_from_metadata(&info.metadata).map(|(d, key)| (d, key.to_string()))
        };
        let Some((date, source)) = dated else {
            return Err(undated(path, pattern.as_ref(), list));
        };
        out.push(Dated {
            path: path.clone(),
            date,
            source,
        });
    }
    out.sort_by_key(|d| d.date);
    Ok(out)
}

/// A raster `date_rasters` cannot date, as a mistake on the command line (exit 2), as `paddy
/// run` reports an undated tile: it names the file and, when `pattern` does not match its name,
/// the pattern and what it reads; where the name holds a date as YYYYMMDD, YYYY-MM-DD or
/// YYYYDDD, the `--date-pattern` that reads it (by [`suggest_pattern`], as `paddy run`).
fn undated(path: &Path, pattern: Option<&DatePattern>, list: Option<&DateList>) -> Error {
    let name = crate::io::file_name(path);
    let suggestion = suggest_pattern(&name);
    let would = match &suggestion {
        Some((p, date)) => format!("for this name, --date-pattern '{p}' would read {date}"),
        None => "its name holds no date written as YYYYMMDD, YYYY-MM-DD or YYYYDDD: rename it, \
                 or give its date in a --dates list (file,date)"
            .to_string(),
    };
    // Not in the list (when one is given) and not dated otherwise either.
    let file = match list {
        Some(list) => format!("{} is not in {}, and", path.display(), list.origin),
        None => format!("{}:", path.display()),
    };
    let message = match (pattern, &suggestion) {
        (Some(p), _) => format!(
            "{file} does not match --date-pattern '{}', which reads dates written as '{}'; \
             {would}",
            p.as_str(),
            p.example()
        ),
        (None, Some(_)) => format!(
            "{file} has no acquisition date in its metadata: give a --date-pattern of the file \
             names; {would}"
        ),
        (None, None) => format!(
            "{file} has no acquisition date in its metadata, nor in its name: give a --dates \
             list (file,date), or a --date-pattern of names that hold the date (e.g. \
             --date-pattern '{{yyyy}}{{mm}}{{dd}}' for names like s2_20260718_ndvi.tif)"
        ),
    };
    Error::usage(message)
}

/// At most this many dates or files are named in one message; the rest are counted.
const NAMED: usize = 6;

/// `items`, at most [`NAMED`] of them, then how many more.
fn listed(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > NAMED {
        text.push_str(&format!(" and {} more", items.len() - NAMED));
    }
    text
}

/// Check a dated index series and its LSWI series (`lswi` empty: none) before any work: the
/// LSWI rasters are of the index rasters' dates (an LSWI raster without an index raster of its
/// date gives no flooding signal, and an index raster without one loses that date's signal:
/// plots left without water read as never flooded). Two rasters of one date are legitimate
/// (two granules, or two passes, as in the Slovenian S2 series) but also what a copy under
/// another name looks like, where that date counts twice: the warnings name them. Both series
/// sorted by date, as [`date_rasters`] returns them. The error (a usage error) names the dates
/// and the files.
pub fn check_series(vi: &[Dated], lswi: &[Dated]) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for (what, series) in [("index", vi), ("LSWI", lswi)] {
        let twice: Vec<String> = series
            .windows(2)
            .filter(|pair| pair[0].date == pair[1].date)
            .map(|pair| {
                format!(
                    "{} and {} are both of {}",
                    pair[0].path.display(),
                    pair[1].path.display(),
                    pair[0].date
                )
            })
            .collect();
        if !twice.is_empty() {
            warnings.push(format!(
                "two {what} rasters of one date, both used as observations of it (where both cover a plot, that date counts twice; a copy under another name should go): {}",
                listed(&twice)
            ));
        }
    }
    if lswi.is_empty() {
        return Ok(warnings);
    }
    let without = |series: &[Dated], others: &[Dated]| -> Vec<String> {
        series
            .iter()
            .filter(|d| !others.iter().any(|o| o.date == d.date))
            .map(|d| format!("{} ({})", d.date, d.path.display()))
            .collect()
    };
    let (no_lswi, no_index) = (without(vi, lswi), without(lswi, vi));
    if no_lswi.is_empty() && no_index.is_empty() {
        return Ok(warnings);
    }
    let mut parts = Vec::new();
    if !no_lswi.is_empty() {
        parts.push(format!("no LSWI raster of {}", listed(&no_lswi)));
    }
    if !no_index.is_empty() {
        parts.push(format!("no index raster of {}", listed(&no_index)));
    }
    Err(Error::usage(format!(
        "the LSWI rasters must be of the index rasters' dates, one each ({} index, {} LSWI \
         rasters): {}",
        vi.len(),
        lswi.len(),
        parts.join("; ")
    )))
}

/// One plot's index series: the observations kept (days since 1970-01-01, mean index) and
/// those dropped (with why).
#[derive(Debug, Clone, Default)]
pub struct PlotSeries {
    pub days: Vec<f64>,
    pub values: Vec<f64>,
    /// Valid share of the plot's covered area on each kept date.
    pub valid_share: Vec<f64>,
    /// Dates dropped for this plot: too little valid coverage (cloud, nodata) or none.
    pub dropped: Vec<Date>,
}

/// What to summarise.
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    pub plots: PathBuf,
    pub layer: Option<String>,
    pub id_field: Option<String>,
    pub mask_band: Option<usize>,
    /// Keep a date for a plot only when at least this share of its area is valid.
    pub min_valid: f64,
    pub assume_same_crs: bool,
    pub threads: Option<usize>,
}

/// Per-plot means of every dated raster (one pass per pixel grid), and for each series the
/// plot's observations. `series[k][plot]` follows `dated[k]`'s order of rasters.
pub fn plot_series(
    req: &SeriesRequest,
    dated: &[&[Dated]],
    progress: &dyn Fn(usize, usize),
) -> Result<(StatsTable, Vec<Vec<PlotSeries>>)> {
    let rasters: Vec<PathBuf> = dated
        .iter()
        .flat_map(|d| d.iter().map(|d| d.path.clone()))
        .collect();
    let plots =
        crate::io::vector::read_plots(&req.plots, req.layer.as_deref(), req.id_field.as_deref())?;
    let infos = crate::io::RasterInfo::read_all(&rasters)?;
    let table = zonal::run(
        &plots,
        &infos,
        &StatsRequest {
            coverage: CoverageMode::Exact,
            assume_same_crs: req.assume_same_crs,
            quantiles: false,
            mask_band: req.mask_band,
            threads: req.threads,
        },
        progress,
    )?;
    let series = series_of_table(req, dated, &table)?;
    Ok((table, series))
}

/// The plots' series from a statistics table whose columns are `dated`'s rasters in order (as
/// [`plot_series`] computes it, or as a caller already has it: `paddy run` reuses the tables
/// its statistics units wrote).
pub fn series_of_table(
    req: &SeriesRequest,
    dated: &[&[Dated]],
    table: &StatsTable,
) -> Result<Vec<Vec<PlotSeries>>> {
    let rasters: Vec<PathBuf> = dated
        .iter()
        .flat_map(|d| d.iter().map(|d| d.path.clone()))
        .collect();
    if rasters.is_empty() {
        return Err(Error::usage("give at least one raster"));
    }
    // One column per raster is expected: an index raster has one band (plus a mask band).
    if table.columns.len() != rasters.len() {
        let multi = table
            .columns
            .iter()
            .find(|c| c.band > 1 && Some(c.band) != req.mask_band)
            .map_or_else(|| rasters[0].clone(), |c| c.path.clone());
        return Err(Error::usage(format!(
            "{}: expected one index band per dated raster; name its cloud/quality band as the mask band",
            multi.display()
        )));
    }
    let mut out = Vec::with_capacity(dated.len());
    let mut column = 0;
    for series in dated {
        // Plot by plot, each series allocated once for every date.
        let per_plot = table
            .rows
            .iter()
            .map(|row| {
                let n = series.len();
                let mut s = PlotSeries {
                    days: Vec::with_capacity(n),
                    values: Vec::with_capacity(n),
                    valid_share: Vec::with_capacity(n),
                    dropped: Vec::new(),
                };
                for (d, stats) in series.iter().zip(&row.stats[column..column + n]) {
                    let share = 1.0 - stats.nodata_fraction;
                    if stats.count > 0.0 && stats.mean.is_finite() && share >= req.min_valid {
                        s.days.push(f64::from(d.date.days_since_epoch()));
                        s.values.push(stats.mean);
                        s.valid_share.push(share);
                    } else {
                        s.dropped.push(d.date);
                    }
                }
                s
            })
            .collect();
        column += series.len();
        out.push(per_plot);
    }
    Ok(out)
}
