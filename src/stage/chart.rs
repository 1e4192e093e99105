//! Small-multiples chart of per-plot index series for `paddy stage`: one panel per plot with the
//! kept observations, the dropped dates, the smoothed curve and the season events, all panels on
//! one time axis and one index range so that plots compare at a glance. Drawn by hand with
//! [`crate::export::draw`] (a clipped canvas and a 5×7 bitmap font): no font or plotting crate.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::Result;
use crate::export::draw::{self, fit, text_width, Canvas, Rect};
use crate::i18n::{t, tf};
use crate::phenology::dates::Date;

/// One panel.
pub struct Panel<'a> {
    /// Plot id, e.g. "P07".
    pub title: &'a str,
    /// Stage at the date of interest, e.g. "heading" or "unknown".
    pub subtitle: &'a str,
    /// Kept observations: (day since 1970-01-01, index value).
    pub points: &'a [(f64, f64)],
    /// Days of dropped (cloudy / low-coverage) observations.
    pub dropped: &'a [f64],
    /// Smoothed curve, daily: (day, value). A non-finite value breaks the line.
    pub curve: &'a [(f64, f64)],
    /// Vertical markers.
    pub events: &'a [Event<'a>],
}

/// A vertical marker: "T" transplanting, "H" heading, "M" maturity, "now" the date of the stage.
pub struct Event<'a> {
    pub day: f64,
    pub label: &'a str,
    pub colour: [u8; 3],
}

/// Event colours that read well on the chart (suggested, not required).
pub const TRANSPLANTING_COLOUR: [u8; 3] = [30, 100, 230];
pub const HEADING_COLOUR: [u8; 3] = [235, 130, 0];
pub const MATURITY_COLOUR: [u8; 3] = [140, 70, 20];
pub const NOW_COLOUR: [u8; 3] = [215, 25, 30];

const WHITE: [u8; 3] = [255, 255, 255];
const TEXT: [u8; 3] = [35, 35, 35];
const MUTED: [u8; 3] = [105, 105, 105];
const FRAME: [u8; 3] = [140, 140, 140];
const GRID: [u8; 3] = [225, 225, 225];
const MONTH_GRID: [u8; 3] = [240, 240, 240];
const CURVE: [u8; 3] = [0, 100, 0];
const POINT: [u8; 3] = [0, 0, 0];
const DROPPED: [u8; 3] = [150, 150, 150];

const PANEL_W: i32 = 300;
const PANEL_H: i32 = 200;
const MARGIN: i32 = 8;
const HEADER_H: i32 = 26;
const LEGEND_ROW: i32 = 14;
/// Plot area inside a panel, from the panel's edges (the left edge depends on the tick labels).
const PLOT_TOP: i32 = 30;
const PLOT_RIGHT: i32 = 10;
const PLOT_BOTTOM: i32 = 30;
/// Month `m` (1–12) as the language writes its short name.
fn month_name(m: u32) -> String {
    let months = &crate::i18n::current().months;
    months.get(m as usize - 1).cloned().unwrap_or_default()
}

/// Render panels in a grid (columns = ceil(sqrt(n))), all with the same time axis (min..max day
/// over all panels, padded) and the same y range (given, e.g. -0.2..1.0 for NDVI, or computed
/// from the data when None or not a valid range).
pub fn render(panels: &[Panel], y_range: Option<(f64, f64)>, index_name: &str) -> RgbImage {
    let header = Header {
        index_name,
        plots: panels.len(),
    };
    render_grid(panels, y_range, &header, 0)
}

/// What a chart's header names: the index, and the plots of the table (more than the panels
/// when the chart shows only those to check first).
pub struct Header<'a> {
    pub index_name: &'a str,
    pub plots: usize,
}

/// [`render`] with a given number of columns (0: ceil(sqrt(n))).
pub fn render_grid(
    panels: &[Panel],
    y_range: Option<(f64, f64)>,
    header: &Header,
    columns: usize,
) -> RgbImage {
    let name = if header.index_name.trim().is_empty() {
        "index"
    } else {
        header.index_name
    };
    if panels.is_empty() {
        let mut img = RgbImage::from_pixel(240, 50, Rgb(WHITE));
        let mut cv = Canvas::new(&mut img, None);
        let w = cv.text(MARGIN, MARGIN, name, TEXT, 2);
        cv.text(MARGIN + w + 10, MARGIN + 7, &t("chart.no_plots"), MUTED, 1);
        return img;
    }
    let (columns, rows) = grid_shape(panels.len(), columns);
    let axes = Axes::new(panels, y_range);
    let width = 2 * MARGIN + columns as i32 * PANEL_W;
    let legend = legend_items(panels);
    let legend_rows = place_legend(&legend, width - 2 * MARGIN).len() as i32;
    let legend_top = MARGIN + HEADER_H + rows as i32 * PANEL_H;
    let height = legend_top + 10 + legend_rows * LEGEND_ROW + MARGIN;
    let mut img = RgbImage::from_pixel(width as u32, height as u32, Rgb(WHITE));

    let mut cv = Canvas::new(&mut img, None);
    let w = cv.text(MARGIN, MARGIN, &fit(name, 2, width / 2), TEXT, 2);
    let n = panels.len().to_string();
    let mut info = if header.plots > panels.len() {
        let total = header.plots.to_string();
        tf("chart.check_first", &[("n", &n), ("total", &total)])
    } else {
        tf("chart.per_plot", &[("n", &n)])
    };
    if let Some((first, last)) = axes.data_days {
        info += &tf(
            "chart.span",
            &[("from", &ymd_text(first)), ("to", &ymd_text(last))],
        );
    }
    cv.text(MARGIN + w + 8, MARGIN + 7, &info, MUTED, 1);

    for (i, panel) in panels.iter().enumerate() {
        let x = MARGIN + (i % columns) as i32 * PANEL_W;
        let y = MARGIN + HEADER_H + (i / columns) as i32 * PANEL_H;
        draw_panel(&mut img, panel, &axes, x, y);
    }
    draw_legend(&mut img, &legend, legend_top, width);
    img
}

/// Render and write a PNG atomically (a temporary name beside `path`, then a rename).
pub fn write_png(
    panels: &[Panel],
    y_range: Option<(f64, f64)>,
    header: &Header,
    path: &Path,
) -> Result<()> {
    draw::write_png(&render_grid(panels, y_range, header, 0), path)
}

fn grid_shape(n: usize, columns: usize) -> (usize, usize) {
    let columns = match columns {
        0 => ((n as f64).sqrt().ceil() as usize).max(1),
        c => c.min(n.max(1)),
    };
    (columns, n.div_ceil(columns))
}

/// The plot area of the panel whose top-left corner is (x, y).
fn plot_rect(x: i32, y: i32, left: i32) -> Rect {
    Rect {
        l: x + left,
        t: y + PLOT_TOP,
        r: x + PANEL_W - PLOT_RIGHT,
        b: y + PANEL_H - PLOT_BOTTOM,
    }
}

/// Shared axes: time range, value range, value ticks and month ticks.
struct Axes {
    t0: f64,
    t1: f64,
    y0: f64,
    y1: f64,
    ticks: Vec<(f64, String)>,
    /// Width of the left margin (tick labels) of every panel.
    left: i32,
    /// (first, last) day of the data, unpadded.
    data_days: Option<(f64, f64)>,
}

impl Axes {
    fn new(panels: &[Panel], y_range: Option<(f64, f64)>) -> Axes {
        let (mut dmin, mut dmax) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut vmin, mut vmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in panels {
            for &(d, v) in p.points.iter().chain(p.curve) {
                if d.is_finite() && v.is_finite() {
                    (dmin, dmax) = (dmin.min(d), dmax.max(d));
                    (vmin, vmax) = (vmin.min(v), vmax.max(v));
                }
            }
            for d in p
                .dropped
                .iter()
                .copied()
                .chain(p.events.iter().map(|e| e.day))
            {
                if d.is_finite() {
                    (dmin, dmax) = (dmin.min(d), dmax.max(d));
                }
            }
        }
        let data_days = (dmin <= dmax).then_some((dmin, dmax));
        let (t0, t1) = match data_days {
            None => (-15.0, 15.0),
            Some((a, b)) if b - a < 1.0 => (a - 15.0, b + 15.0),
            Some((a, b)) => {
                let pad = ((b - a) * 0.03).max(2.0);
                (a - pad, b + pad)
            }
        };
        let given = y_range.filter(|(a, b)| a.is_finite() && b.is_finite() && a < b);
        let (y0, y1, step) = match given {
            Some((a, b)) => (a, b, nice_step((b - a) / 6.0)),
            None => {
                let (mut a, mut b) = if vmin <= vmax {
                    (vmin, vmax)
                } else {
                    (0.0, 1.0)
                };
                if b - a < 1e-9 * a.abs().max(1.0) {
                    let pad = 0.1 * a.abs().max(1.0);
                    (a, b) = (a - pad, b + pad);
                }
                let pad = (b - a) * 0.04;
                let step = nice_step((b - a + 2.0 * pad) / 6.0);
                let (a, b) = ((a - pad) / step, (b + pad) / step);
                (a.floor() * step, b.ceil() * step, step)
            }
        };
        let decimals = (0..=6)
            .find(|&d| {
                let s = step * 10f64.powi(d as i32);
                (s - s.round()).abs() < 1e-6
            })
            .unwrap_or(6);
        let first = (y0 / step - 1e-9).ceil() as i64;
        let last = (y1 / step + 1e-9).floor() as i64;
        let ticks: Vec<(f64, String)> = (first..=last.min(first + 40))
            .map(|k| {
                let v = k as f64 * step;
                let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
                (v, format!("{v:.decimals$}"))
            })
            .collect();
        let widest = ticks
            .iter()
            .map(|(_, s)| text_width(s, 1))
            .max()
            .unwrap_or(0);
        Axes {
            t0,
            t1,
            y0,
            y1,
            ticks,
            left: (widest + 10).max(30),
            data_days,
        }
    }

    fn x(&self, day: f64, plot: Rect) -> f64 {
        plot.l as f64 + (day - self.t0) / (self.t1 - self.t0) * (plot.r - plot.l) as f64
    }

    fn y(&self, value: f64, plot: Rect) -> f64 {
        plot.b as f64 - (value - self.y0) / (self.y1 - self.y0) * (plot.b - plot.t) as f64
    }
}

/// A step of 1, 2 or 5 times a power of ten near `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A tick on the time axis: its day, the label under it and the year under that (where shown).
struct TimeTick {
    day: f64,
    label: Option<String>,
    year: Option<i64>,
}

/// Month ticks (first of each month) between t0 and t1, labels thinned to fit `px` pixels; over
/// long spans, year ticks instead.
fn time_ticks(t0: f64, t1: f64, px: f64) -> Vec<TimeTick> {
    let mut out = Vec::new();
    if !(t0.abs() < 1e7 && t1.abs() < 1e7 && t1 > t0) {
        return out;
    }
    let per_month = px / (t1 - t0) * 30.44;
    let (mut y, mut m, _) = civil_from_days(t0.floor() as i64);
    if let Some(k) = [1, 2, 3, 4, 6, 12]
        .into_iter()
        .find(|k| per_month * *k as f64 >= 24.0)
    {
        let mut last_year = None;
        loop {
            let day = days_from_civil(y, m, 1) as f64;
            if day > t1 {
                break;
            }
            let labelled = (m - 1) % k == 0;
            if day >= t0 && (labelled || per_month >= 4.0) {
                let year = (labelled && last_year != Some(y)).then_some(y);
                if labelled {
                    last_year = Some(y);
                }
                let label = labelled.then(|| month_name(m));
                out.push(TimeTick { day, label, year });
            }
            // Short spans: the 15th too.
            if per_month >= 80.0 && (t0..=t1).contains(&(day + 14.0)) {
                out.push(TimeTick {
                    day: day + 14.0,
                    label: Some("15".into()),
                    year: None,
                });
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
    } else {
        let per_year = per_month * 12.0;
        let step = [2, 5, 10, 20, 50, 100, 200, 500, 1000]
            .into_iter()
            .find(|k| per_year * *k as f64 >= 30.0)
            .unwrap_or(5000);
        for year in y + 1..=civil_from_days(t1.floor() as i64).0 {
            if year % step == 0 {
                let day = days_from_civil(year, 1, 1) as f64;
                out.push(TimeTick {
                    day,
                    label: Some(year.to_string()),
                    year: None,
                });
            }
        }
    }
    out
}

fn draw_panel(img: &mut RgbImage, panel: &Panel, axes: &Axes, x: i32, y: i32) {
    let plot = plot_rect(x, y, axes.left);
    let cell = Rect {
        l: x,
        t: y,
        r: x + PANEL_W - 1,
        b: y + PANEL_H - 1,
    };
    let mut cv = Canvas::new(img, Some(cell));

    // Title (plot id), then the stage.
    let room = PANEL_W - 12;
    let sub_w = text_width(panel.subtitle, 1).min(room / 2);
    let title_room = room - if sub_w > 0 { sub_w + 8 } else { 0 };
    let scale = if text_width(panel.title, 2) <= title_room {
        2
    } else {
        1
    };
    let title = fit(panel.title, scale, title_room);
    let w = cv.text(x + 6, y + 3, &title, TEXT, scale);
    let sub = fit(panel.subtitle, 1, room - w - 8);
    cv.text(x + 6 + w + 8, y + 3 + 7 * scale - 7, &sub, MUTED, 1);

    // Value grid and labels.
    for (v, label) in &axes.ticks {
        let py = axes.y(*v, plot).round() as i32;
        cv.hline(plot.l, plot.r, py, GRID);
        cv.hline(plot.l - 3, plot.l - 1, py, FRAME);
        cv.text(plot.l - 5 - text_width(label, 1), py - 3, label, MUTED, 1);
    }
    // Month grid and labels.
    for tick in time_ticks(axes.t0, axes.t1, (plot.r - plot.l) as f64) {
        let px = axes.x(tick.day, plot).round() as i32;
        cv.vline(px, plot.t + 1, plot.b - 1, MONTH_GRID);
        cv.vline(px, plot.b + 1, plot.b + 3, FRAME);
        for (row, text) in [(0, tick.label), (1, tick.year.map(|y| y.to_string()))] {
            if let Some(text) = text {
                let half = text_width(&text, 1) / 2;
                let lx = (px - half).clamp(x + 2, x + PANEL_W - 2 - 2 * half);
                cv.text(lx, plot.b + 6 + 10 * row, &text, MUTED, 1);
            }
        }
    }

    // Data, clipped to the plot area.
    let inner = Rect {
        l: plot.l + 1,
        t: plot.t + 1,
        r: plot.r - 1,
        b: plot.b - 1,
    };
    let mut dv = Canvas::new(img, Some(inner));
    let mut events: Vec<&Event> = panel.events.iter().filter(|e| e.day.is_finite()).collect();
    events.sort_by(|a, b| a.day.total_cmp(&b.day));
    for e in &events {
        let px = axes.x(e.day, plot).round() as i32;
        for py in plot.t..=plot.b {
            if e.label != "now" || (py - plot.t) % 5 < 3 {
                dv.set(px, py, e.colour);
            }
        }
    }
    let mut prev: Option<(f64, f64)> = None;
    for &(d, v) in panel.curve {
        let p = (axes.x(d, plot), axes.y(v, plot));
        let ok = d.is_finite() && v.is_finite() && p.0.is_finite() && p.1.is_finite();
        if let (Some(a), true) = (prev, ok) {
            dv.line(a, p, 2.0, CURVE);
        }
        prev = ok.then_some(p);
    }
    for &d in panel.dropped.iter().filter(|d| d.is_finite()) {
        dv.ring(axes.x(d, plot), (plot.b - 4) as f64, 2.5, DROPPED);
    }
    let mut any = false;
    for &(d, v) in panel
        .points
        .iter()
        .filter(|(d, v)| d.is_finite() && v.is_finite())
    {
        any = true;
        let px = axes.x(d, plot);
        if v > axes.y1 || v < axes.y0 {
            // Off the scale: a small arrow at the edge.
            let (edge, dir) = if v > axes.y1 {
                (plot.t + 1, 1)
            } else {
                (plot.b - 1, -1)
            };
            for k in 0..4 {
                dv.hline(
                    px.round() as i32 - k,
                    px.round() as i32 + k,
                    edge + dir * k,
                    POINT,
                );
            }
        } else {
            dv.disc(px, axes.y(v, plot), 2.4, POINT);
        }
    }
    if !any
        && !panel
            .curve
            .iter()
            .any(|(d, v)| d.is_finite() && v.is_finite())
    {
        let no_data = t("legend.no_data");
        let w = text_width(&no_data, 1);
        dv.text(
            (plot.l + plot.r - w) / 2,
            (plot.t + plot.b) / 2 - 3,
            &no_data,
            MUTED,
            1,
        );
    }

    // Frame, then event labels above it, pushed right where they would overlap.
    let mut cv = Canvas::new(img, Some(cell));
    cv.frame(plot, FRAME);
    let mut next_free = x;
    for e in &events {
        let px = axes.x(e.day, plot).round() as i32;
        let label = match e.label {
            "now" => t("chart.now"),
            other => other.to_string(),
        };
        let w = text_width(&label, 1);
        let lx = (px - w / 2).max(next_free).min(x + PANEL_W - 2 - w);
        cv.vline(px, plot.t - 2, plot.t - 1, e.colour);
        cv.text(lx, plot.t - 10, &label, e.colour, 1);
        next_free = lx + w + 3;
    }
}

enum Symbol {
    Dot,
    Line,
    Ring,
    Event([u8; 3]),
}

/// A legend entry: its symbol, a part drawn in the symbol's colour (event labels) and the text.
struct LegendItem {
    symbol: Symbol,
    key: String,
    text: String,
}

impl LegendItem {
    fn width(&self) -> i32 {
        let key = if self.key.is_empty() {
            0
        } else {
            text_width(&self.key, 1) + 6
        };
        16 + key + text_width(&self.text, 1)
    }
}

fn legend_items(panels: &[Panel]) -> Vec<LegendItem> {
    let item = |symbol, text: &str| LegendItem {
        symbol,
        key: String::new(),
        text: text.into(),
    };
    let mut items = vec![
        item(Symbol::Dot, &t("chart.observation")),
        item(Symbol::Line, &t("chart.smoothed")),
        item(Symbol::Ring, &t("chart.dropped")),
    ];
    let mut seen: Vec<(&str, [u8; 3])> = Vec::new();
    for e in panels.iter().flat_map(|p| p.events) {
        if !seen.contains(&(e.label, e.colour)) {
            seen.push((e.label, e.colour));
            let text = match e.label {
                "T" => t("chart.transplanting"),
                "H" => t("chart.heading"),
                "M" => t("chart.maturity"),
                "now" => t("chart.date_of_stage"),
                _ => String::new(),
            };
            items.push(LegendItem {
                symbol: Symbol::Event(e.colour),
                key: match e.label {
                    "now" => t("chart.now"),
                    other => other.to_string(),
                },
                text,
            });
        }
    }
    items
}

/// Rows of (x offset, item index) that fit in `width`.
fn place_legend(items: &[LegendItem], width: i32) -> Vec<Vec<(i32, usize)>> {
    let mut rows: Vec<Vec<(i32, usize)>> = vec![Vec::new()];
    let mut x = 0;
    for (i, item) in items.iter().enumerate() {
        let w = item.width();
        if x > 0 && x + w > width {
            rows.push(Vec::new());
            x = 0;
        }
        rows.last_mut().unwrap().push((x, i));
        x += w + 18;
    }
    rows
}

fn draw_legend(img: &mut RgbImage, items: &[LegendItem], top: i32, width: i32) {
    let mut cv = Canvas::new(img, None);
    cv.hline(MARGIN, width - MARGIN, top + 2, GRID);
    for (r, row) in place_legend(items, width - 2 * MARGIN).iter().enumerate() {
        let y = top + 10 + r as i32 * LEGEND_ROW;
        for &(dx, i) in row {
            let (x, item) = (MARGIN + dx, &items[i]);
            let (cx, cy) = ((x + 5) as f64, (y + 3) as f64);
            match item.symbol {
                Symbol::Dot => cv.disc(cx, cy, 2.4, POINT),
                Symbol::Line => cv.line((cx - 5.0, cy + 2.0), (cx + 5.0, cy - 2.0), 2.0, CURVE),
                Symbol::Ring => cv.ring(cx, cy, 2.5, DROPPED),
                Symbol::Event(c) => cv.vline(x + 5, y - 2, y + 8, c),
            }
            let mut tx = x + 16;
            if let Symbol::Event(c) = item.symbol {
                tx += cv.text(tx, y, &item.key, c, 1) + 6;
            }
            cv.text(tx, y, &item.text, TEXT, 1);
        }
    }
}

fn ymd_text(day: f64) -> String {
    Date::from_days_since_epoch(day.floor() as i32).to_string()
}

/// Days since 1970-01-01 of a date (0 for an impossible one; callers pass the 1st of a month).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    Date::from_ymd(y as i32, m, d).map_or(0, |d| i64::from(d.days_since_epoch()))
}

/// (year, month, day) of a day since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let (y, m, d) = Date::from_days_since_epoch(z as i32).ymd();
    (i64::from(y), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::draw::count;

    /// Day 0 of the synthetic season: 2024-04-01.
    const START: f64 = 19_814.0;

    const NDVI_HEADER: Header = Header {
        index_name: "NDVI",
        plots: 0,
    };

    /// A double-logistic rice season: flooded soil, green-up, heading at the top, senescence.
    fn season(day: f64, shift: f64) -> f64 {
        let t = day - START - shift;
        let up = 1.0 / (1.0 + (-(t - 55.0) / 8.0).exp());
        let down = 1.0 / (1.0 + (-(t - 130.0) / 9.0).exp());
        0.1 + 0.72 * (up - down)
    }

    struct Series {
        id: String,
        stage: &'static str,
        points: Vec<(f64, f64)>,
        dropped: Vec<f64>,
        curve: Vec<(f64, f64)>,
        events: Vec<(f64, &'static str, [u8; 3])>,
    }

    fn series(n: usize) -> Vec<Series> {
        let stages = [
            "tillering",
            "panicle initiation",
            "booting",
            "heading",
            "grain filling",
        ];
        (0..n)
            .map(|i| {
                let shift = (i as f64 * 7.0) % 40.0 - 20.0;
                let (mut points, mut dropped) = (Vec::new(), Vec::new());
                for k in 0..20 {
                    let day = START + 3.0 + 10.0 * k as f64;
                    if (k + i) % 5 == 2 {
                        dropped.push(day);
                    } else {
                        let noise = (((k * 7 + i * 13) % 11) as f64 - 5.0) * 0.008;
                        points.push((day, season(day, shift) + noise));
                    }
                }
                let curve = (0..200)
                    .map(|d| START + d as f64)
                    .map(|d| (d, season(d, shift)))
                    .collect();
                let events = vec![
                    (START + 40.0 + shift, "T", TRANSPLANTING_COLOUR),
                    (START + 92.0 + shift, "H", HEADING_COLOUR),
                    (START + 140.0 + shift, "M", MATURITY_COLOUR),
                    (START + 110.0, "now", NOW_COLOUR),
                ];
                Series {
                    id: format!("P{:02}", i + 1),
                    stage: stages[i % stages.len()],
                    points,
                    dropped,
                    curve,
                    events,
                }
            })
            .collect()
    }

    fn render_series(all: &[Series], y_range: Option<(f64, f64)>) -> RgbImage {
        let events: Vec<Vec<Event>> = all
            .iter()
            .map(|s| {
                s.events
                    .iter()
                    .map(|&(day, label, colour)| Event { day, label, colour })
                    .collect()
            })
            .collect();
        let panels: Vec<Panel> = all
            .iter()
            .zip(&events)
            .map(|(s, events)| Panel {
                title: &s.id,
                subtitle: s.stage,
                points: &s.points,
                dropped: &s.dropped,
                curve: &s.curve,
                events,
            })
            .collect();
        render(&panels, y_range, "NDVI")
    }

    #[test]
    fn twelve_panels_show_curves_and_events() {
        let all = series(12);
        let img = render_series(&all, Some((-0.2, 1.0)));
        img.save("/tmp/stage-chart-example.png").unwrap();
        // 4 columns × 3 rows of 300×200 panels, a header and a one-row legend.
        assert_eq!(img.width() as i32, 2 * MARGIN + 4 * PANEL_W);
        let legend = place_legend(&legend_items(&[]), 4 * PANEL_W).len() as i32;
        assert_eq!(legend, 1);
        assert_eq!(
            img.height() as i32,
            MARGIN + HEADER_H + 3 * PANEL_H + 10 + LEGEND_ROW + MARGIN
        );
        let axes_left = {
            let p = [];
            let _: &[Panel] = &p;
            Axes::new(&p, Some((-0.2, 1.0))).left
        };
        for i in 0..12 {
            let (x, y) = (
                MARGIN + (i % 4) * PANEL_W,
                MARGIN + HEADER_H + (i / 4) * PANEL_H,
            );
            let plot = plot_rect(x, y, axes_left);
            assert!(count(&img, plot, CURVE) > 100, "panel {i} has no curve");
            assert!(count(&img, plot, POINT) > 20, "panel {i} has no points");
        }
        for colour in [
            TRANSPLANTING_COLOUR,
            HEADING_COLOUR,
            MATURITY_COLOUR,
            NOW_COLOUR,
        ] {
            assert!(
                count(&img, Rect::of(&img), colour) > 12 * 50,
                "{colour:?} missing"
            );
        }
    }

    #[test]
    fn edge_cases_do_not_panic() {
        let empty = render(&[], None, "NDVI");
        assert!(empty.width() > 0 && count(&empty, Rect::of(&empty), TEXT) > 0);

        let nan = [
            (f64::NAN, 0.5),
            (19_900.0, f64::NAN),
            (19_910.0, f64::INFINITY),
            (19_920.0, 0.4),
        ];
        let wild = [
            (19_900.0, 7.0),
            (19_905.0, -3.0),
            (19_910.0, 1e300),
            (19_915.0, -f64::MAX),
        ];
        let one_day = [(19_900.0, 0.3)];
        let ev = [Event {
            day: f64::NAN,
            label: "now",
            colour: NOW_COLOUR,
        }];
        type Case<'a> = (&'a [(f64, f64)], &'a [f64], &'a [Event<'a>]);
        let cases: [Case; 5] = [
            (&[], &[], &[]),
            (&nan, &[f64::NAN, 19_930.0], &ev),
            (&wild, &[], &[]),
            (&one_day, &[19_900.0], &[]),
            (&[], &[19_900.0], &ev),
        ];
        for (points, dropped, events) in cases {
            let panel = |title| Panel {
                title,
                subtitle: "unknown",
                points,
                dropped,
                curve: points,
                events,
            };
            for range in [
                None,
                Some((-0.2, 1.0)),
                Some((1.0, 1.0)),
                Some((f64::NAN, 2.0)),
            ] {
                let long = "a-very-long-plot-identifier-that-does-not-fit";
                let img = render(&[panel("P1"), panel(long)], range, "");
                assert!(img.width() > 0 && img.height() > 0);
                let header = Header {
                    index_name: "EVI",
                    plots: 1,
                };
                let img = render_grid(&[panel("P1")], range, &header, 5);
                assert_eq!(img.width() as i32, 2 * MARGIN + PANEL_W);
            }
        }
    }

    #[test]
    fn calendar_and_ticks() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 4, 1), START as i64);
        for day in [-800_000, -1, 0, 59, 11_016, 19_814, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(ymd_text(START + 0.7), "2024-04-01");
        // A season: every month labelled, the year once.
        let ticks = time_ticks(START, START + 200.0, 250.0);
        assert_eq!(ticks.len(), 7);
        assert_eq!(ticks[0].label.as_deref(), Some("Apr"));
        assert_eq!(ticks.iter().filter(|t| t.year.is_some()).count(), 1);
        // Three years on the same width: thinned labels, one year label per year.
        let ticks = time_ticks(START, START + 1096.0, 250.0);
        assert!(ticks.iter().filter(|t| t.label.is_some()).count() <= 12);
        assert_eq!(ticks.iter().filter(|t| t.year.is_some()).count(), 4);
        assert!(time_ticks(0.0, 1e6, 250.0).len() <= 20);
    }

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.png");
        write_png(&[], None, &NDVI_HEADER, &path).unwrap();
        let back = image::open(&path).unwrap();
        assert_eq!(back.width(), render(&[], None, "NDVI").width());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/folder/stage.png");
        assert!(write_png(&[], None, &NDVI_HEADER, &missing).is_err());
    }
}
