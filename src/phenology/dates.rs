//! Acquisition dates: a calendar date type, and the three ways `paddy stage` learns when an image
//! was taken — a pattern on the file name (`--date-pattern '{yyyy}{mm}{dd}'`), the raster's
//! metadata (ACQUISITION_DATETIME, Sentinel-2 PRODUCT_START_TIME, Landsat DATE_ACQUIRED, ...), or a
//! CSV listing `file,date`.
//!
//! Dates are whole days: a time series of index images is daily at best, and days after
//! transplanting is what the agronomy counts in. Times and time zones are dropped as written (a
//! Sentinel-2 `2021-06-17T10:15:59.024Z` is 2021-06-17); no conversion to local time is made.
//!
//! ```
//! use paddy::phenology::dates::{date_from_pattern, Date};
//! let d: Date = "2021-06-17T10:15:59.024Z".parse().unwrap();
//! assert_eq!(d.to_string(), "2021-06-17");
//! let m = date_from_pattern("MOD13Q1_2013257_ndvi.tif", "_{yyyy}{doy}_").unwrap();
//! assert_eq!(m, Date::from_ymd(2013, 9, 14));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, Sub};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use regex::Regex;

use crate::error::{Error, Result};

/// A calendar day: days since 1970-01-01 in the proleptic Gregorian calendar (negative before).
///
/// Ordered, hashable and cheap to copy; `b - a` is the number of days from `a` to `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Years a [`Date`] accepts. Wide enough for any archive, narrow enough that day arithmetic in
/// `i32` never overflows.
const MIN_YEAR: i32 = -9999;
const MAX_YEAR: i32 = 9999;

/// Days in 400 Gregorian years (97 of them leap): the calendar repeats with this period.
const DAYS_PER_ERA: i64 = 146_097;

/// Days from 0000-03-01 (the start of era 0, counted in March-based years) to 1970-01-01.
const EPOCH_FROM_ERA_START: i64 = 719_468;

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Day number (since 1970-01-01) of a valid civil date.
///
/// Counts in years that start on 1 March, so the leap day is the last day of its year and the
/// month lengths from March on repeat as 31,30,31,30,31 (153 days per five months). Whole
/// 400-year eras are then 146 097 days each. (The approach of Howard Hinnant's
/// `days_from_civil`; this is an independent implementation in `i64` with Euclidean division.)
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    // March-based year: January and February belong to the previous year.
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400); // 0..=399
    let march_month = (m + 9) % 12; // March = 0, ..., February = 11
    let day_of_march_year = (153 * march_month + 2) / 5 + d - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_march_year; // 0..=146096
    era * DAYS_PER_ERA + day_of_era - EPOCH_FROM_ERA_START
}

/// Civil date (year, month, day) of a day number since 1970-01-01: the inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + EPOCH_FROM_ERA_START;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA); // 0..=146096
                                                 // Remove the leap days of the era so far (one every 4 years, none every 100, one every 400;
                                                 // the last day of the era is the 400-year leap day) to get the year of the era.
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / (DAYS_PER_ERA - 1))
        / 365; // 0..=399
    let day_of_march_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_march_year + 2) / 153; // 0..=11
    let day = day_of_march_year - (153 * march_month + 2) / 5 + 1; // 1..=31
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year as i32, month as u32, day as u32)
}

impl Date {
    /// The date `year-month-day`, or `None` when it does not exist (month 13, 30 February, 29
    /// February of a common year) or the year is outside −9999..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day) as i32))
    }

    /// The date that is day `doy` (1 = 1 January) of `year`, or `None` when the year has no such
    /// day (366 in a common year). MODIS composites are named this way (`A2013257`).
    pub fn from_year_doy(year: i32, doy: u32) -> Option<Date> {
        let len = if is_leap_year(year) { 366 } else { 365 };
        if doy == 0 || doy > len {
            return None;
        }
        let first = Date::from_ymd(year, 1, 1)?;
        Some(Date(first.0 + doy as i32 - 1))
    }

    /// The date `days` days after 1970-01-01 (before it when negative).
    pub fn from_days_since_epoch(days: i32) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// (year, month 1–12, day 1–31).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(i64::from(self.0))
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// Day of the year, 1 = 1 January (366 = 31 December of a leap year).
    pub fn day_of_year(self) -> u32 {
        let year = self.year();
        let first = days_from_civil(year, 1, 1);
        (i64::from(self.0) - first + 1) as u32
    }

    /// Days from `self` to `later` (negative when `later` is earlier); same as `later - self`.
    pub fn days_until(self, later: Date) -> i32 {
        later.0 - self.0
    }
}

impl Sub for Date {
    type Output = i32;
    /// Days from `rhs` to `self`.
    fn sub(self, rhs: Date) -> i32 {
        self.0 - rhs.0
    }
}

impl Add<i32> for Date {
    type Output = Date;
    /// The date `rhs` days later (earlier when negative).
    fn add(self, rhs: i32) -> Date {
        Date(self.0 + rhs)
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD` (ISO 8601); years before 0 or after 9999 keep a sign as ISO allows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        if (0..=9999).contains(&y) {
            write!(f, "{y:04}-{m:02}-{d:02}")
        } else {
            write!(f, "{y:+05}-{m:02}-{d:02}")
        }
    }
}

/// Why a text is not a date (the message of [`Date::from_str`]'s error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParseError(String);

impl fmt::Display for DateParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateParseError {}

/// Parses `n` ASCII digits.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl FromStr for Date {
    type Err = DateParseError;

    /// Accepts `YYYY-MM-DD`, `YYYYMMDD`, `YYYY:MM:DD` (EXIF / TIFFTAG_DATETIME) and `YYYY/MM/DD`,
    /// optionally followed by a time after `T` or a space (`2021-06-17T10:15:59.024Z`,
    /// `2021-06-17 10:15:59`, `2021:06:17 10:15:59`, `20210617T101559`), which is dropped as
    /// written (no time-zone conversion). Surrounding white space is ignored.
    fn from_str(text: &str) -> std::result::Result<Date, DateParseError> {
        let bad = |why: &str| {
            DateParseError(format!(
                "'{text}' is not a date ({why}; expected YYYY-MM-DD, YYYYMMDD or an ISO date-time)"
            ))
        };
        let s = text.trim();
        // Split off a time part: 'T'/'t' or a space after the date, then something starting
        // with a digit.
        let (date_part, time_part) = match s.find(['T', 't', ' ']) {
            Some(i) => (&s[..i], Some(s[i + 1..].trim_start())),
            None => (s, None),
        };
        if let Some(time) = time_part {
            if !time.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(bad("the text after the date is not a time"));
            }
        }
        let (y, m, d) = if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
            (&date_part[..4], &date_part[4..6], &date_part[6..])
        } else {
            let sep = date_part
                .chars()
                .find(|c| matches!(c, '-' | ':' | '/'))
                .ok_or_else(|| bad("no date separator"))?;
            let parts: Vec<&str> = date_part.split(sep).collect();
            if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2
            {
                return Err(bad("not year, month and day"));
            }
            (parts[0], parts[1], parts[2])
        };
        let (y, m, d) = match (digits(y), digits(m), digits(d)) {
            (Some(y), Some(m), Some(d)) => (y as i32, m, d),
            _ => return Err(bad("not digits")),
        };
        Date::from_ymd(y, m, d).ok_or_else(|| bad("no such day"))
    }
}

/// The tokens a date pattern may hold, and the digits each matches.
const TOKENS: &[(&str, usize)] = &[("yyyy", 4), ("yy", 2), ("mm", 2), ("dd", 2), ("doy", 3)];

/// A compiled `--date-pattern`: finds an acquisition date in a file name.
///
/// Tokens: `{yyyy}` four-digit year, `{yy}` two-digit year (20yy), `{mm}` month, `{dd}` day,
/// `{doy}` three-digit day of the year; everything else is literal text. The pattern needs one
/// year and either `{mm}` with `{dd}` or `{doy}`. It may match anywhere in the name, but a token
/// at either end of the pattern does not start or end inside a longer run of digits (so
/// `{yyyy}{mm}{dd}` does not match inside `2015256072326`). The first match decides: in
/// Sentinel-2 and Landsat names the acquisition date comes before the processing date.
#[derive(Debug, Clone)]
pub struct DatePattern {
    pattern: String,
    regex: Regex,
    /// Capture group of each token, if present.
    year4: Option<usize>,
    year2: Option<usize>,
    month: Option<usize>,
    day: Option<usize>,
    doy: Option<usize>,
}

impl DatePattern {
    /// Compiles `pattern`; an unknown or repeated token, an unclosed `{`, or a pattern without a
    /// year, or without `{mm}{dd}` / `{doy}`, is a usage error naming the pattern.
    pub fn new(pattern: &str) -> Result<DatePattern> {
        let bad = |why: String| {
            Error::usage(format!(
                "date pattern '{pattern}': {why} (tokens: {{yyyy}}, {{yy}}, {{mm}}, {{dd}}, {{doy}}; \
                 e.g. '{{yyyy}}{{mm}}{{dd}}' or '_{{yyyy}}{{doy}}_')"
            ))
        };
        let mut body = String::new();
        let mut groups: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut rest = pattern;
        let mut starts_with_token = false;
        let mut ends_with_token = false;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let close = after
                    .find('}')
                    .ok_or_else(|| bad("'{' without a closing '}'".into()))?;
                let name = &after[..close];
                let &(token, width) = TOKENS
                    .iter()
                    .find(|(t, _)| *t == name)
                    .ok_or_else(|| bad(format!("unknown token {{{name}}}")))?;
                if groups.contains_key(token) {
                    return Err(bad(format!("token {{{token}}} appears twice")));
                }
                // Group 1 is the whole match without the digit boundaries; tokens follow.
                groups.insert(token, groups.len() + 2);
                if body.is_empty() {
                    starts_with_token = true;
                }
                body.push_str(&format!("([0-9]{{{width}}})"));
                ends_with_token = true;
                rest = &after[close + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                if rest[..end].contains('}') {
                    return Err(bad("'}' without an opening '{'".into()));
                }
                body.push_str(&regex::escape(&rest[..end]));
                ends_with_token = false;
                rest = &rest[end..];
            }
        }
        let year4 = groups.get("yyyy").copied();
        let year2 = groups.get("yy").copied();
        let month = groups.get("mm").copied();
        let day = groups.get("dd").copied();
        let doy = groups.get("doy").copied();
        match (year4, year2) {
            (None, None) => return Err(bad("no year token {yyyy} or {yy}".into())),
            (Some(_), Some(_)) => return Err(bad("both {yyyy} and {yy}".into())),
            _ => {}
        }
        match (month, day, doy) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            (_, _, Some(_)) => return Err(bad("{doy} together with {mm} or {dd}".into())),
            _ => {
                return Err(bad(
                    "needs both {mm} and {dd}, or {doy} (day of the year)".into()
                ))
            }
        }
        // Digit boundaries at the ends (the regex crate has no look-around, so a non-digit or
        // the start/end is matched outside the capture groups).
        let regex = format!(
            "{}({}){}",
            if starts_with_token {
                "(?:^|[^0-9])"
            } else {
                ""
            },
            body,
            if ends_with_token { "(?:[^0-9]|$)" } else { "" }
        );
        let regex = Regex::new(&regex).map_err(|e| bad(e.to_string()))?;
        Ok(DatePattern {
            pattern: pattern.to_string(),
            regex,
            year4,
            year2,
            month,
            day,
            doy,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// What this pattern reads, for messages: the pattern with 18 July 2026 filled in
    /// (`{yyyy}{mm}{dd}` → `20260718`, `_{yyyy}{doy}_` → `_2026199_`).
    pub fn example(&self) -> String {
        [
            ("{yyyy}", "2026"),
            ("{yy}", "26"),
            ("{mm}", "07"),
            ("{dd}", "18"),
            ("{doy}", "199"),
        ]
        .iter()
        .fold(self.pattern.clone(), |text, (token, value)| {
            text.replace(token, value)
        })
    }

    /// The date in `file_name` (pass the file name, not a whole path, or a folder name may
    /// match): `Ok(None)` when the pattern does not match; an [`Error::Input`] naming the file
    /// when the first match is not a real date (month 13, day 32, day 366 of a common year), since
    /// that almost always means a wrong pattern (`{dd}{mm}` swapped, digits of another field).
    pub fn date_in(&self, file_name: &str) -> Result<Option<Date>> {
        let Some(caps) = self.regex.captures(file_name) else {
            return Ok(None);
        };
        let num = |g: Option<usize>| g.map(|g| caps[g].parse::<u32>().expect("digits"));
        let year = match (num(self.year4), num(self.year2)) {
            (Some(y), _) => y as i32,
            (None, Some(yy)) => 2000 + yy as i32,
            (None, None) => unreachable!("a pattern always has a year"),
        };
        let matched = &caps[1];
        let date = match (num(self.month), num(self.day), num(self.doy)) {
            (Some(m), Some(d), _) => Date::from_ymd(year, m, d)
                .ok_or_else(|| format!("year {year}, month {m}, day {d} is not a date")),
            (_, _, Some(doy)) => Date::from_year_doy(year, doy)
                .ok_or_else(|| format!("day {doy} of {year} is not a date")),
            _ => unreachable!("a pattern always has month and day or day of year"),
        };
        date.map(Some).map_err(|why| Error::Input {
            path: PathBuf::from(file_name),
            message: format!(
                "date pattern '{}' matched '{}' but {why}: check the pattern",
                self.pattern, matched
            ),
        })
    }
}

/// A date pattern that reads a date from `file_name`, to suggest when the name does not match
/// the pattern given, with the date it reads: the first date in the name written as YYYYMMDD,
/// YYYY-MM-DD (or with `_` or `.`) or YYYYDDD (year and day of the year), of a year from 1970
/// to 2100. None when the name holds no such date.
pub fn suggest_pattern(file_name: &str) -> Option<(String, Date)> {
    const CANDIDATES: [&str; 5] = [
        "{yyyy}{mm}{dd}",
        "{yyyy}-{mm}-{dd}",
        "{yyyy}_{mm}_{dd}",
        "{yyyy}.{mm}.{dd}",
        "{yyyy}{doy}",
    ];
    CANDIDATES
        .iter()
        .filter_map(|candidate| {
            let pattern = DatePattern::new(candidate).ok()?;
            let start = pattern.regex.captures(file_name)?.get(1)?.start();
            let date = pattern.date_in(file_name).ok().flatten()?;
            (1970..=2100)
                .contains(&date.ymd().0)
                .then(|| (start, candidate.to_string(), date))
        })
        .min_by_key(|(start, _, _)| *start)
        .map(|(_, pattern, date)| (pattern, date))
}

/// The acquisition date in `file_name` by `pattern` (see [`DatePattern`]; compile it once with
/// [`DatePattern::new`] when dating many files). An invalid pattern is a usage error; a name that
/// does not match is `Ok(None)`; a match that is not a real date is an error naming the file.
pub fn date_from_pattern(file_name: &str, pattern: &str) -> Result<Option<Date>> {
    DatePattern::new(pattern)?.date_in(file_name)
}

/// Metadata keys that hold an acquisition date, in the order they are tried.
///
/// - `ACQUISITION_DATETIME`, `ACQUISITION_DATE`: written by processing chains and drone software
///   (the Slovenia series and the sample drone tiles carry them);
/// - `PRODUCT_START_TIME`, `SENSING_TIME`, `DATATAKE_1_DATATAKE_SENSING_START`: Sentinel-2 SAFE
///   products as GDAL reports them;
/// - `DATE_ACQUIRED`: Landsat MTL;
/// - `RANGEBEGINNINGDATE`: MODIS HDF composites (the first day of the compositing period, the
///   same day the `A2013257` in their file names gives);
/// - `TIFFTAG_DATETIME` last: the TIFF/EXIF date-time is the time the *file* was written, which
///   for a processed raster is the processing date, not the acquisition; it is right only for
///   raw camera captures.
pub const DATE_METADATA_KEYS: &[&str] = &[
    "ACQUISITION_DATETIME",
    "ACQUISITION_DATE",
    "PRODUCT_START_TIME",
    "SENSING_TIME",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "DATE_ACQUIRED",
    "RANGEBEGINNINGDATE",
    "TIFFTAG_DATETIME",
];

/// The acquisition date in a raster's metadata (key → value, as GDAL lists the default domain)
/// and the key it came from: the first key of [`DATE_METADATA_KEYS`] that is present (exact name,
/// else ignoring case) and parses as a date. A present key with an unparsable value is passed
/// over for the next one.
pub fn date_from_metadata(meta: &BTreeMap<String, String>) -> Option<(Date, &'static str)> {
    DATE_METADATA_KEYS.iter().find_map(|&key| {
        let value = meta.get(key).or_else(|| {
            meta.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })?;
        value.parse::<Date>().ok().map(|d| (d, key))
    })
}

/// Splits one CSV field list on `sep`, trimming white space and one pair of double quotes.
fn fields(line: &str, sep: char) -> Vec<&str> {
    line.split(sep)
        .map(|f| {
            let f = f.trim();
            f.strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(f)
        })
        .collect()
}

/// Reads a date list: lines `file,date` (or `file;date`), in the order given.
///
/// The separator is `;` when the first data line holds one, else `,`. Blank lines and lines
/// starting with `#` are skipped. The first data line is taken as a header when its second field
/// is not a date (`file,date`). Dates take any form [`Date`] parses. A line without exactly two
/// fields, an empty file name, a bad date, or a file listed twice is an [`Error::Config`] naming
/// `source` and the line number. Two files may share a date (two passes on one day). An empty
/// list is `Ok` and empty: the caller decides whether that is an error.
pub fn read_date_list(text: &str, source: &Path) -> Result<Vec<(String, Date)>> {
    let err = |line: usize, message: String| Error::Config {
        path: source.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut sep = None;
    let mut out: Vec<(String, Date)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first_data_line = sep.is_none();
        let sep = *sep.get_or_insert(if line.contains(';') { ';' } else { ',' });
        let f = fields(line, sep);
        if f.len() != 2 {
            return Err(err(
                line_no,
                format!(
                    "expected two fields 'file{sep}date', found {} in '{line}'",
                    f.len()
                ),
            ));
        }
        let date = match f[1].parse::<Date>() {
            Ok(d) => d,
            // A header such as `file,date`: no digit in its date column (a mistyped first date
            // such as `2026-13-07` is reported, not skipped).
            Err(_) if first_data_line && !f[1].bytes().any(|b| b.is_ascii_digit()) => continue,
            Err(e) => return Err(err(line_no, e.to_string())),
        };
        if f[0].is_empty() {
            return Err(err(line_no, "empty file name".into()));
        }
        if let Some(prev) = seen.insert(f[0].to_string(), line_no) {
            return Err(err(
                line_no,
                format!("'{}' is already listed on line {prev}", f[0]),
            ));
        }
        out.push((f[0].to_string(), date));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Date {
        Date::from_ymd(y, m, d).unwrap()
    }

    #[test]
    fn known_day_numbers() {
        assert_eq!(ymd(1970, 1, 1).days_since_epoch(), 0);
        assert_eq!(ymd(1970, 1, 2).days_since_epoch(), 1);
        assert_eq!(ymd(1969, 12, 31).days_since_epoch(), -1);
        assert_eq!(ymd(2000, 1, 1).days_since_epoch(), 10_957);
        assert_eq!(ymd(2000, 3, 1).days_since_epoch(), 11_017);
        assert_eq!(ymd(2026, 11, 28).days_since_epoch(), 20_785);
        assert_eq!(ymd(1900, 1, 1).days_since_epoch(), -25_567);
        assert_eq!(ymd(1600, 3, 1).days_since_epoch(), -135_080);
        assert_eq!(Date::from_days_since_epoch(20_785).ymd(), (2026, 11, 28));
        assert_eq!(Date::from_days_since_epoch(11_017).ymd(), (2000, 3, 1));
        assert_eq!(Date::from_days_since_epoch(-1).ymd(), (1969, 12, 31));
    }

    #[test]
    fn leap_years() {
        assert!(!is_leap_year(1900));
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2026));
        assert!(Date::from_ymd(1900, 2, 29).is_none());
        assert_eq!(ymd(2000, 3, 1) - ymd(2000, 2, 28), 2);
        assert_eq!(ymd(1900, 3, 1) - ymd(1900, 2, 28), 1);
        assert_eq!(ymd(2024, 3, 1) - ymd(2024, 2, 28), 2);
        assert_eq!(ymd(2024, 12, 31).day_of_year(), 366);
        assert_eq!(ymd(2023, 12, 31).day_of_year(), 365);
        assert_eq!(ymd(2024, 3, 1).day_of_year(), 61);
        assert_eq!(ymd(2026, 1, 1).day_of_year(), 1);
        assert_eq!(ymd(2013, 9, 14).day_of_year(), 257);
        assert_eq!(Date::from_year_doy(2024, 366), Some(ymd(2024, 12, 31)));
        assert_eq!(Date::from_year_doy(2023, 366), None);
        assert_eq!(Date::from_year_doy(2023, 0), None);
    }

    #[test]
    fn invalid_dates_are_none() {
        assert!(Date::from_ymd(2021, 13, 1).is_none());
        assert!(Date::from_ymd(2021, 0, 1).is_none());
        assert!(Date::from_ymd(2021, 4, 31).is_none());
        assert!(Date::from_ymd(2021, 1, 0).is_none());
        assert!(Date::from_ymd(10_000, 1, 1).is_none());
    }

    /// Every day over ±3 eras round-trips and consecutive days step through the calendar.
    #[test]
    fn round_trip_over_a_range() {
        let start = ymd(1600, 1, 1).days_since_epoch();
        let end = ymd(2800, 12, 31).days_since_epoch();
        let mut prev = civil_from_days(i64::from(start) - 1);
        for n in start..=end {
            let (y, m, d) = civil_from_days(i64::from(n));
            assert_eq!(days_from_civil(y, m, d), i64::from(n));
            let next_expected = if prev.2 < days_in_month(prev.0, prev.1) {
                (prev.0, prev.1, prev.2 + 1)
            } else if prev.1 < 12 {
                (prev.0, prev.1 + 1, 1)
            } else {
                (prev.0 + 1, 1, 1)
            };
            assert_eq!((y, m, d), next_expected, "day {n}");
            prev = (y, m, d);
        }
        for n in [-3_652_425, -719_528, -719_468, 2_932_896] {
            let (y, m, d) = civil_from_days(n);
            assert_eq!(days_from_civil(y, m, d), n);
        }
    }

    #[test]
    fn display_and_parse() {
        let d = ymd(2021, 6, 17);
        assert_eq!(d.to_string(), "2021-06-17");
        assert_eq!(ymd(33, 1, 5).to_string(), "0033-01-05");
        for text in [
            "2021-06-17",
            "20210617",
            "2021-06-17T10:15:59.024Z",
            "2021-06-17 10:15:59",
            "2021:06:17 10:15:59",
            "2021/06/17",
            "20210617T101559",
            "  2021-06-17\n",
            "2021-06-17T23:59:59+05:30",
        ] {
            assert_eq!(text.parse::<Date>(), Ok(d), "{text}");
        }
        for text in [
            "",
            "2021-13-01",
            "2021-02-29",
            "17/06/2021",
            "2021-6-17",
            "2021-06-17Tx",
            "2021-06-17junk",
            "2021061",
            "yesterday",
            "2021-06:17",
        ] {
            assert!(text.parse::<Date>().is_err(), "{text}");
        }
        let e = "2021-13-01".parse::<Date>().unwrap_err().to_string();
        assert!(e.contains("2021-13-01") && e.contains("no such day"), "{e}");
    }

    #[test]
    fn arithmetic_and_order() {
        let a = ymd(2026, 6, 2);
        let b = ymd(2026, 8, 16);
        assert_eq!(b - a, 75);
        assert_eq!(a.days_until(b), 75);
        assert_eq!(a + 75, b);
        assert!(a < b);
    }

    #[test]
    fn patterns_find_dates_anywhere() {
        let cases = [
            ("s2_20260717_ndvi.tif", "{yyyy}{mm}{dd}", ymd(2026, 7, 17)),
            (
                "MOD13Q1_2013257_ndvi.tif",
                "_{yyyy}{doy}_",
                ymd(2013, 9, 14),
            ),
            (
                "S2B_MSIL2A_20210617T101559_N0300_R022_T33UVP_20210617T130000.SAFE",
                "_{yyyy}{mm}{dd}T",
                ymd(2021, 6, 17),
            ),
            (
                "S2B_MSIL2A_20210617T101559_N0300_R022_T33UVP_20210618T130000.SAFE",
                "{yyyy}{mm}{dd}",
                ymd(2021, 6, 17),
            ),
            (
                "LC08_L2SP_044034_20200101_20200115_02_T1_SR_B4.TIF",
                "{yyyy}{mm}{dd}",
                ymd(2020, 1, 1),
            ),
            (
                "MOD13Q1.A2013257.h12v10.006.2015256072326.hdf",
                "A{yyyy}{doy}",
                ymd(2013, 9, 14),
            ),
            ("flight_17-06-21.tif", "{dd}-{mm}-{yy}", ymd(2021, 6, 17)),
            (
                "TERRA_MODIS_012010_NDVI_2013-09-14.jp2",
                "{yyyy}-{mm}-{dd}",
                ymd(2013, 9, 14),
            ),
            (
                "weird.name+(2021)[06]17.tif",
                "+({yyyy})[{mm}]{dd}",
                ymd(2021, 6, 17),
            ),
        ];
        for (name, pattern, want) in cases {
            assert_eq!(
                date_from_pattern(name, pattern).unwrap(),
                Some(want),
                "{name} {pattern}"
            );
        }
    }

    #[test]
    fn digit_runs_are_not_split() {
        // 8 digits inside 13 do not make a date, and no 7-digit year+doy hides in 2015256072326.
        assert_eq!(
            date_from_pattern("x_2015256072326.hdf", "{yyyy}{mm}{dd}").unwrap(),
            None
        );
        assert_eq!(
            date_from_pattern("MOD.2015256072326.hdf", "{yyyy}{doy}").unwrap(),
            None
        );
        assert_eq!(
            date_from_pattern("tile_12_20260717.tif", "{yyyy}{mm}{dd}").unwrap(),
            Some(ymd(2026, 7, 17))
        );
    }

    #[test]
    fn non_matching_names_are_none() {
        // In Sentinel-2 names the T follows the date (`_20210617T101559_`).
        assert_eq!(
            date_from_pattern(
                "S2B_MSIL2A_20210617T101559_N0300_R022_T33UVP_20210617T130000.SAFE",
                "T{yyyy}{mm}{dd}"
            )
            .unwrap(),
            None
        );
        assert_eq!(
            date_from_pattern("s2_ndvi_2015-07-11.tif", "{yyyy}{mm}{dd}").unwrap(),
            None
        );
        assert_eq!(
            date_from_pattern("land_cover.gpkg", "{yyyy}-{mm}-{dd}").unwrap(),
            None
        );
    }

    /// For a name the pattern given does not match, a pattern that reads the date it holds:
    /// real product names, the dates their formats document.
    #[test]
    fn a_pattern_is_suggested_for_a_name_that_holds_a_date() {
        let cases = [
            (
                "TERRA_MODIS_012010_NDVI_2013-09-14.jp2",
                Some(("{yyyy}-{mm}-{dd}", ymd(2013, 9, 14))),
            ),
            (
                "MOD13Q1.A2013257.h12v10.006.2015256072326.hdf",
                Some(("{yyyy}{doy}", ymd(2013, 9, 14))),
            ),
            (
                "LC08_L2SP_044034_20200101_20200115_02_T1_SR_B4.TIF",
                Some(("{yyyy}{mm}{dd}", ymd(2020, 1, 1))),
            ),
            (
                "S2B_MSIL2A_20210617T101559_N0300_R022_T33UVP_20210618T130000.SAFE",
                Some(("{yyyy}{mm}{dd}", ymd(2021, 6, 17))),
            ),
            (
                "flight_2026.07.18.tif",
                Some(("{yyyy}.{mm}.{dd}", ymd(2026, 7, 18))),
            ),
            ("land_cover.gpkg", None),
            ("x_2015256072326.hdf", None),
            // Eight digits that are no day of the calendar.
            ("plot_12345678.tif", None),
        ];
        for (name, want) in cases {
            let got = suggest_pattern(name);
            assert_eq!(got.as_ref().map(|(p, d)| (p.as_str(), *d)), want, "{name}");
            // The pattern suggested reads that date from the name.
            if let Some((pattern, date)) = got {
                assert_eq!(date_from_pattern(name, &pattern).unwrap(), Some(date));
            }
        }
        let pattern = DatePattern::new("_{yyyy}{doy}_").unwrap();
        assert_eq!(pattern.example(), "_2026199_");
        assert_eq!(
            date_from_pattern(&pattern.example(), pattern.as_str()).unwrap(),
            Some(ymd(2026, 7, 18))
        );
    }

    #[test]
    fn impossible_dates_are_errors_naming_the_file() {
        let e = date_from_pattern("s2_20261317.tif", "{yyyy}{mm}{dd}").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Input { .. }));
        assert!(
            text.contains("s2_20261317.tif") && text.contains("month 13"),
            "{text}"
        );
        let e = date_from_pattern("A2023366.tif", "A{yyyy}{doy}").unwrap_err();
        assert!(e.to_string().contains("day 366 of 2023"), "{e}");
    }

    #[test]
    fn bad_patterns_are_usage_errors() {
        for (pattern, says) in [
            ("{yyyy}{mm}{hh}", "unknown token {hh}"),
            ("{mm}{dd}", "no year"),
            ("{yyyy}{mm}", "needs both {mm} and {dd}"),
            ("{yyyy}{doy}{mm}{dd}", "{doy} together"),
            ("{yyyy}{mm}{dd", "without a closing"),
            ("{yyyy}}{mm}{dd}", "without an opening"),
            ("{yyyy}{yyyy}{mm}{dd}", "appears twice"),
            ("{yy}{yyyy}{doy}", "both {yyyy} and {yy}"),
        ] {
            let e = DatePattern::new(pattern).unwrap_err();
            assert!(matches!(e, Error::Usage(_)));
            let text = e.to_string();
            assert!(
                text.contains(pattern) && text.contains(says),
                "{pattern}: {text}"
            );
        }
    }

    #[test]
    fn metadata_keys_in_order() {
        let meta = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // TIFFTAG_DATETIME (processing date) loses to the acquisition.
        let m = meta(&[
            ("TIFFTAG_DATETIME", "2024:01:05 12:00:00"),
            ("PRODUCT_START_TIME", "2021-06-17T10:15:59.024Z"),
        ]);
        assert_eq!(
            date_from_metadata(&m),
            Some((ymd(2021, 6, 17), "PRODUCT_START_TIME"))
        );
        let m = meta(&[("TIFFTAG_DATETIME", "2021:06:17 10:15:59")]);
        assert_eq!(
            date_from_metadata(&m),
            Some((ymd(2021, 6, 17), "TIFFTAG_DATETIME"))
        );
        let m = meta(&[("DATE_ACQUIRED", "2013-04-12"), ("SENSING_TIME", "junk")]);
        assert_eq!(
            date_from_metadata(&m),
            Some((ymd(2013, 4, 12), "DATE_ACQUIRED"))
        );
        let m = meta(&[("acquisition_datetime", "2015-12-08T10:04:09")]);
        assert_eq!(
            date_from_metadata(&m),
            Some((ymd(2015, 12, 8), "ACQUISITION_DATETIME"))
        );
        assert_eq!(
            date_from_metadata(&meta(&[("AREA_OR_POINT", "Area")])),
            None
        );
    }

    #[test]
    fn date_lists() {
        let p = Path::new("dates.csv");
        let text = "\u{feff}file,date\n# a comment\n\na.tif,2026-06-07\n";
        assert_eq!(
            read_date_list(text, p).unwrap(),
            vec![("a.tif".to_string(), ymd(2026, 6, 7))]
        );
        // `;` separates when the first data line has one, so file names may hold commas.
        let text = "file;date\n# a comment\n\na.tif;2026-06-07\n \"b, c.tif\" ; 20260627 \n";
        let list = read_date_list(text, p).unwrap();
        assert_eq!(
            list,
            vec![
                ("a.tif".to_string(), ymd(2026, 6, 7)),
                ("b, c.tif".to_string(), ymd(2026, 6, 27)),
            ]
        );
        // No header; two files on one day are fine.
        let list = read_date_list("a.tif,2026-06-07\nb.tif,2026-06-07T10:00:00Z\n", p).unwrap();
        assert_eq!(list.len(), 2);
        assert!(read_date_list("# nothing\n\n", p).unwrap().is_empty());
    }

    #[test]
    fn date_list_errors_name_the_line() {
        let p = Path::new("dates.csv");
        for (text, says) in [
            ("file,date\na.tif,2026-06-07\nb.tif,2026-13-07\n", "line 3"),
            ("a.tif,2026-13-07\nb.tif,2026-06-07\n", "line 1"),
            ("a.tif,2026-06-07\nb.tif\n", "line 2: expected two fields"),
            ("a.tif,2026-06-07\nb.tif,2026-06-08,x\n", "line 2"),
            ("a.tif,2026-06-07\n,2026-06-08\n", "line 2: empty file name"),
            (
                "a.tif,2026-06-07\n\na.tif,2026-06-08\n",
                "line 3: 'a.tif' is already listed on line 1",
            ),
        ] {
            let e = read_date_list(text, p).unwrap_err();
            assert!(matches!(e, Error::Config { .. }));
            let msg = e.to_string();
            assert!(
                msg.starts_with("dates.csv: ") && msg.contains(says),
                "{msg}"
            );
        }
    }

    /// The real series of ../shared/data (next to the repository; its README): every file
    /// gets a date from the recommended pattern, and (Slovenia) the date agrees with the
    /// ACQUISITION_DATETIME GDAL wrote into the file's GDAL_METADATA tag.
    #[test]
    fn real_series_are_dated_by_the_recommended_patterns() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        let list = |dir: &str, ext: &str| -> Option<Vec<String>> {
            let dir = root.join(dir);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                eprintln!("skipped: {} is not here", dir.display());
                return None;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(ext))
                .collect();
            names.sort();
            Some(names)
        };

        if let Some(names) = list("modis_ndvi_sinop", ".jp2") {
            assert_eq!(names.len(), 12);
            let pattern = DatePattern::new("_NDVI_{yyyy}-{mm}-{dd}").unwrap();
            let mut dates: Vec<Date> = names
                .iter()
                .map(|n| pattern.date_in(n).unwrap().unwrap_or_else(|| panic!("{n}")))
                .collect();
            assert_eq!(dates[0], ymd(2013, 9, 14));
            assert_eq!(dates[11], ymd(2014, 8, 29));
            dates.dedup();
            assert_eq!(dates.len(), 12, "MODIS dates are distinct");
        }

        if let Some(names) = list("s2_slovenia_ndvi_series", ".tif") {
            assert_eq!(names.len(), 68);
            let pattern = DatePattern::new("s2_ndvi_{yyyy}-{mm}-{dd}_").unwrap();
            let mut dates = Vec::new();
            for n in &names {
                let d = pattern.date_in(n).unwrap().unwrap_or_else(|| panic!("{n}"));
                // Cross-check with the metadata GDAL stored in the file (plain XML in the TIFF).
                let bytes = std::fs::read(root.join("s2_slovenia_ndvi_series").join(n)).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                let key = "<Item name=\"ACQUISITION_DATETIME\">";
                let at = text
                    .find(key)
                    .unwrap_or_else(|| panic!("{n}: no date item"))
                    + key.len();
                let value = &text[at..at + text[at..].find('<').unwrap()];
                let meta =
                    BTreeMap::from([("ACQUISITION_DATETIME".to_string(), value.to_string())]);
                assert_eq!(date_from_metadata(&meta).map(|m| m.0), Some(d), "{n}");
                dates.push(d);
            }
            assert_eq!(dates[0], ymd(2015, 7, 11));
            assert_eq!(dates[67], ymd(2017, 12, 22));
            // Sorted by name is sorted by date; one day has two acquisitions
            // (s2_ndvi_2015-12-08_100409.tif, all cloud, and s2_ndvi_2015-12-08_101125.tif).
            assert!(dates.windows(2).all(|w| w[0] <= w[1]));
            let twice: Vec<Date> = dates
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0])
                .collect();
            assert_eq!(twice, vec![ymd(2015, 12, 8)]);
        }
    }
}
