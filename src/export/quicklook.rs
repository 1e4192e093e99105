//! PNG quicklooks of classified rate maps with a legend: the prescription as a farmer or an
//! applicator operator sees it before loading it into a terminal. The map is drawn cell by cell
//! (nearest neighbour, no smoothing, so every pixel shows a rate that will be applied), with the
//! plot outlines and labels over it, a title bar, a legend of the same classes as the QGIS style
//! ([`super::classes`]), notes such as totals, a scale bar and a north arrow.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::classes::{class_of, Class};
use super::draw::{self, fit, text_height, text_width, Canvas, Rect};
use super::qml::{colour_at, Stop};
use crate::error::{Error, Result};
use crate::i18n::{t, tf};

/// A classified rate map to draw.
pub struct RateMap<'a> {
    /// Rates, row-major, north up; NaN where there is no rate (outside the plots).
    pub values: &'a [f32],
    /// Columns of the grid.
    pub width: usize,
    /// Rows of the grid.
    pub height: usize,
    /// Side of a cell in metres, for the scale bar (none drawn when None).
    pub cell_size_m: Option<f64>,
    /// Legend classes; a value in none of them is drawn grey.
    pub classes: &'a [Class],
    /// A continuous ramp instead of classes (index maps): cells coloured as QGIS interpolates
    /// the same stops ([`colour_at`]), the legend a colour bar labelled at the stops. Empty for
    /// a classified map.
    pub ramp: &'a [Stop],
    /// Title, e.g. "Nitrogen topdress, urea".
    pub title: &'a str,
    /// Unit of the rates, e.g. "kg urea/ha", shown over the legend ("Rate (kg urea/ha)"); for
    /// a ramp, the legend's heading itself (the index's name).
    pub unit: &'a str,
    /// Lines under the legend, e.g. "Total: 123 kg urea"; wrapped to the legend's width.
    pub notes: &'a [String],
    /// Plot rings in pixel coordinates of the grid (x right, y down, (0, 0) the top-left corner
    /// of the first cell; fractional), drawn as thin dark lines.
    pub outlines: &'a [Vec<Vec<(f64, f64)>>],
    /// Plot labels centred at pixel coordinates of the grid.
    pub labels: &'a [(f64, f64, String)],
    /// Cells of a plot that were not observed (drawn hatched, with a "not observed" legend
    /// entry); empty for none, else one flag per cell.
    pub unobserved: &'a [bool],
}

/// Plot outlines and their labels for [`RateMap`]: each plot's id and its parts in pixel
/// coordinates of the grid; a label at the mean of its plot's vertices.
pub type Overlay = (Vec<Vec<Vec<(f64, f64)>>>, Vec<(f64, f64, String)>);

/// The [`Overlay`] of `plots` (id, parts in pixel coordinates).
pub fn plot_overlay(plots: impl IntoIterator<Item = (String, crate::plots::Parts)>) -> Overlay {
    let mut outlines = Vec::new();
    let mut labels = Vec::new();
    for (id, parts) in plots {
        let pts: Vec<&(f64, f64)> = parts.iter().flatten().flatten().collect();
        let n = pts.len() as f64;
        if n > 0.0 {
            let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
            labels.push((sx / n, sy / n, id));
        }
        outlines.extend(parts);
    }
    (outlines, labels)
}

/// Cells with no rate (NaN).
pub const NO_RATE_COLOUR: [u8; 3] = [255, 255, 255];
/// Cells whose value is in no class.
pub const OTHER_COLOUR: [u8; 3] = [150, 150, 150];
/// Plot outlines.
pub const OUTLINE_COLOUR: [u8; 3] = [40, 40, 40];
/// The hatch of cells not observed: dark stripes on light grey.
pub const HATCH_COLOURS: [[u8; 3]; 2] = [[90, 90, 90], [235, 235, 235]];

/// The hatch's colour at canvas pixel (x, y): diagonal stripes 3 pixels wide, 6 apart.
fn hatch(x: i32, y: i32) -> [u8; 3] {
    HATCH_COLOURS[usize::from((x + y).rem_euclid(6) >= 2)]
}

/// Plots smaller than this on the map (pixels, their longer side) are not outlined.
const MIN_OUTLINE_PX: f64 = 4.0;
/// Plot labels need this much of the map each (pixels², some 60 × 40), or none is drawn.
const MIN_ROOM_PER_LABEL: f64 = 2400.0;

const WHITE: [u8; 3] = [255, 255, 255];
const TEXT: [u8; 3] = [35, 35, 35];
const FRAME: [u8; 3] = [140, 140, 140];
const TITLE_BAR: [u8; 3] = [238, 242, 236];
const RULE: [u8; 3] = [210, 214, 208];

/// The map's long side is scaled to at most this many pixels (and to more than half of it by
/// an integer factor when the grid is smaller).
const MAP_MAX: usize = 900;
/// The same for maps on a ramp (index maps), which the report shows two a row: small enough
/// that their legend text is still 11 px or more on a 1366 px screen.
const RAMP_MAP_MAX: usize = 720;
const MARGIN: i32 = 12;
const TITLE_H: i32 = 36;
/// Room under the map for the scale bar and the north arrow.
const FOOTER_H: i32 = 52;
/// Narrowest column under the map (scale bar and north arrow need it).
const MIN_MAP_COLUMN: i32 = 220;
const GAP: i32 = 20;
const LEGEND_MIN_W: i32 = 170;
const LEGEND_MAX_W: i32 = 440;
/// Class labels are drawn at three times the font's size, to read at a glance and still at
/// 11 px when the report shows the picture at half its size.
const LABEL_SCALE: i32 = 3;
/// Height in pixels of a capital or digit of the legend's labels, as drawn in the PNG
/// (report.html says it beside each picture, for its check of the text size on screen).
pub const LEGEND_TEXT_PX: i32 = 7 * LABEL_SCALE;
const ROW: i32 = 32;
const SWATCH_W: i32 = 36;
const SWATCH_H: i32 = 24;
/// Height of a ramp's colour bar per interval between stops.
const RAMP_STEP: i32 = 44;
/// Legend heading and its rule above the first swatch.
const HEADING_H: i32 = 34;
const NOTE_SCALE: i32 = 2;
const NOTE_ROW: i32 = 20;

/// Render the quicklook. Errors when the grid is empty or `values` does not hold
/// `width × height` cells, or when the cell size is not a positive number.
pub fn render(map: &RateMap) -> Result<RgbImage> {
    validate(map)?;
    let most = if map.ramp.is_empty() {
        MAP_MAX
    } else {
        RAMP_MAP_MAX
    };
    let scale = map_scale(map.width, map.height, most);
    let (mw, mh) = (scaled(map.width, scale), scaled(map.height, scale));

    let legend = Legend::new(map);
    let column = mw.max(MIN_MAP_COLUMN);
    let width = MARGIN + column + GAP + legend.width + MARGIN;
    let body = (mh + FOOTER_H).max(legend.height());
    let height = TITLE_H + MARGIN + body + MARGIN;
    let mut img = RgbImage::from_pixel(width as u32, height as u32, Rgb(WHITE));

    // Title bar.
    let mut cv = Canvas::new(&mut img, None);
    cv.fill(
        Rect {
            l: 0,
            t: 0,
            r: width - 1,
            b: TITLE_H - 1,
        },
        TITLE_BAR,
    );
    cv.hline(0, width - 1, TITLE_H - 1, RULE);
    let title = fit(map.title, 2, width - 2 * MARGIN);
    cv.text(MARGIN, (TITLE_H - 1 - 14) / 2, &title, TEXT, 2);

    let area = Rect {
        l: MARGIN,
        t: TITLE_H + MARGIN,
        r: MARGIN + mw - 1,
        b: TITLE_H + MARGIN + mh - 1,
    };
    draw_cells(&mut img, map, scale, area);
    draw_overlays(&mut img, map, scale, area);
    let mut cv = Canvas::new(&mut img, None);
    cv.frame(
        Rect {
            l: area.l - 1,
            t: area.t - 1,
            r: area.r + 1,
            b: area.b + 1,
        },
        FRAME,
    );

    // Scale bar at the left under the map, north arrow at the right end of the column.
    let footer = area.b + 12;
    if let Some(cell) = map.cell_size_m {
        let room = (column / 3).max(100).min(column - 50);
        draw_scale_bar(&mut cv, MARGIN, footer, scale / cell, room);
    }
    draw_north_arrow(&mut cv, MARGIN + column - 14, footer - 4);

    legend.draw(&mut cv, MARGIN + column + GAP, TITLE_H + MARGIN);
    Ok(img)
}

/// Render and write the quicklook as a PNG, atomically (a temporary name beside `path`, then a
/// rename).
pub fn write_png(path: &Path, map: &RateMap) -> Result<()> {
    draw::write_png(&render(map)?, path)
}

fn validate(map: &RateMap) -> Result<()> {
    if map.width == 0 || map.height == 0 {
        return Err(Error::usage(format!(
            "quicklook of '{}': the grid is empty ({} × {} cells)",
            map.title, map.width, map.height
        )));
    }
    let cells = map.width.checked_mul(map.height);
    if cells != Some(map.values.len()) {
        return Err(Error::usage(format!(
            "quicklook of '{}': {} values for a grid of {} × {} cells",
            map.title,
            map.values.len(),
            map.width,
            map.height
        )));
    }
    if !map.unobserved.is_empty() && map.unobserved.len() != map.values.len() {
        return Err(Error::usage(format!(
            "quicklook of '{}': {} not-observed flags for {} cells",
            map.title,
            map.unobserved.len(),
            map.values.len()
        )));
    }
    if let Some(c) = map.cell_size_m.filter(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(Error::usage(format!(
            "quicklook of '{}': cell size {c} m is not a positive length",
            map.title
        )));
    }
    Ok(())
}

/// Output pixels per grid cell: a whole number that brings the long side to more than half of
/// MAP_MAX and at most MAP_MAX, or below 1 (sampling) for grids larger than that.
fn map_scale(width: usize, height: usize, most: usize) -> f64 {
    let long = width.max(height).max(1);
    if long <= most {
        (most / long) as f64
    } else {
        most as f64 / long as f64
    }
}

/// Output pixels for `cells` cells.
fn scaled(cells: usize, scale: f64) -> i32 {
    ((cells as f64 * scale).round() as i32).max(1)
}

/// Each pixel of `area` takes the colour of the cell under its centre.
fn draw_cells(img: &mut RgbImage, map: &RateMap, scale: f64, area: Rect) {
    let cell = |p: i32, n: usize| (((p as f64 + 0.5) / scale) as usize).min(n - 1);
    let cols: Vec<usize> = (0..=area.r - area.l)
        .map(|px| cell(px, map.width))
        .collect();
    for py in 0..=area.b - area.t {
        let row = cell(py, map.height) * map.width;
        for (px, &col) in cols.iter().enumerate() {
            let colour = if map.unobserved.get(row + col) == Some(&true) {
                hatch(px as i32, py)
            } else {
                colour_of(map, map.values[row + col])
            };
            img.put_pixel(
                (area.l + px as i32) as u32,
                (area.t + py) as u32,
                Rgb(colour),
            );
        }
    }
}

fn colour_of(map: &RateMap, value: f32) -> [u8; 3] {
    if value.is_nan() {
        return NO_RATE_COLOUR;
    }
    if !map.ramp.is_empty() {
        return colour_at(map.ramp, f64::from(value)).unwrap_or(OTHER_COLOUR);
    }
    let classes = map.classes;
    class_of(classes, f64::from(value)).map_or(OTHER_COLOUR, |i| classes[i].colour)
}

/// Plot outlines, then labels over them, clipped to the map.
fn draw_overlays(img: &mut RgbImage, map: &RateMap, scale: f64, area: Rect) {
    // Grid coordinates to canvas coordinates (pixel centres are integers on the canvas).
    let at = |(x, y): (f64, f64)| {
        (
            area.l as f64 + x * scale - 0.5,
            area.t as f64 + y * scale - 0.5,
        )
    };
    let mut cv = Canvas::new(img, Some(area));
    for ring in map.outlines.iter().flatten() {
        // A plot a few pixels across is a dot: thousands of them would hide the map.
        let [x0, y0, x1, y1] = crate::plots::extent(ring);
        let across = (x1 - x0).max(y1 - y0) * scale;
        if across.is_nan() || across < MIN_OUTLINE_PX {
            continue;
        }
        let closed = ring.first() == ring.last();
        let n = ring.len();
        let segments = if closed || n < 3 {
            n.saturating_sub(1)
        } else {
            n
        };
        for i in 0..segments {
            cv.line(at(ring[i]), at(ring[(i + 1) % n]), 1.2, OUTLINE_COLOUR);
        }
    }
    let labels: Vec<_> = map
        .labels
        .iter()
        .filter(|(x, y, text)| x.is_finite() && y.is_finite() && !text.trim().is_empty())
        .collect();
    // Large text where there is room for it: an average of 100 × 60 pixels a label; none
    // where the plots are too many to name (a county on one map: its layers name them).
    let (map_w, map_h) = (area.r - area.l + 1, area.b - area.t + 1);
    let room = f64::from(map_w) * f64::from(map_h) / labels.len().max(1) as f64;
    if room < MIN_ROOM_PER_LABEL {
        return;
    }
    let size = if room >= 6000.0 { 2 } else { 1 };
    // No label over another: the first placed keeps its place (one halo pixel around each).
    let mut taken = vec![false; (map_w.max(0) * map_h.max(0)) as usize];
    for (x, y, text) in labels {
        let text = fit(text, size, area.r - area.l - 4);
        let (cx, cy) = at((*x, *y));
        let (w, h) = (text_width(&text, size), 7 * size);
        // Kept inside the map, in f64 first so that far-off coordinates cannot overflow.
        let place = |centre: f64, size: i32, lo: i32, hi: i32| {
            let hi = (hi - 1 - size).max(lo + 2);
            (centre - f64::from(size / 2))
                .round()
                .clamp(f64::from(lo + 2), f64::from(hi)) as i32
        };
        let lx = place(cx, w, area.l, area.r);
        let ly = place(cy, h, area.t, area.b);
        let cols = (lx - 1 - area.l).max(0)..(lx + w + 1 - area.l).min(map_w);
        let rows = (ly - 1 - area.t).max(0)..(ly + h + 1 - area.t).min(map_h);
        let cell = |c: i32, r: i32| (r * map_w + c) as usize;
        if rows
            .clone()
            .any(|r| cols.clone().any(|c| taken[cell(c, r)]))
        {
            continue;
        }
        for r in rows {
            for c in cols.clone() {
                taken[cell(c, r)] = true;
            }
        }
        cv.text_halo(lx, ly, &text, TEXT, WHITE, size);
    }
}

/// A scale bar at (x, y) of a round length that is at most `max_px` pixels long, with
/// `px_per_m` pixels a metre; nothing when no round length fits.
fn draw_scale_bar(cv: &mut Canvas, x: i32, y: i32, px_per_m: f64, max_px: i32) {
    let Some(metres) = round_length(max_px as f64 / px_per_m) else {
        return;
    };
    let len = (metres * px_per_m).round() as i32;
    if len < 8 {
        return;
    }
    let bar = Rect {
        l: x,
        t: y,
        r: x + len,
        b: y + 5,
    };
    // Four alternating segments, dark first.
    for k in 0..4 {
        let seg = Rect {
            l: x + len * k / 4,
            r: x + len * (k + 1) / 4,
            ..bar
        };
        cv.fill(seg, if k % 2 == 0 { TEXT } else { WHITE });
    }
    cv.frame(bar, TEXT);
    let label = length_text(metres);
    cv.text(x, y + 10, "0", TEXT, 2);
    let half = text_width(&label, 2) / 2;
    cv.text(x + len - half, y + 10, &label, TEXT, 2);
}

/// The largest 1, 2 or 5 times a power of ten metres not above `max_m`.
fn round_length(max_m: f64) -> Option<f64> {
    if !(max_m.is_finite() && max_m > 0.0) {
        return None;
    }
    let mag = 10f64.powf(max_m.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|f| f * mag)
        .find(|&m| m <= max_m * (1.0 + 1e-9))
}

/// "50 m", "2 km", "0.5 m".
fn length_text(metres: f64) -> String {
    let (v, unit) = if metres >= 1000.0 {
        (metres / 1000.0, "km")
    } else {
        (metres, "m")
    };
    let s = format!("{v:.3}");
    format!("{} {unit}", s.trim_end_matches('0').trim_end_matches('.'))
}

/// A north arrow: "N" over an arrowhead whose tip is at (cx, top + 12).
fn draw_north_arrow(cv: &mut Canvas, cx: i32, top: i32) {
    cv.text(cx - 4, top - 6, "N", TEXT, 2);
    let (x, tip) = (cx as f64, (top + 11) as f64);
    let left = [(x, tip), (x - 7.0, tip + 20.0), (x, tip + 15.0)];
    let right = [(x, tip), (x + 7.0, tip + 20.0), (x, tip + 15.0)];
    cv.polygon(&left, TEXT);
    cv.polygon(&right, WHITE);
    for ring in [left, right] {
        for i in 0..3 {
            cv.line(ring[i], ring[(i + 1) % 3], 1.0, TEXT);
        }
    }
}

/// The legend panel: a heading, one row per class, "no rate" (and "other value" when some
/// value is in no class), then the notes.
struct Legend {
    width: i32,
    heading: String,
    /// The ramp's stops, top (highest) first, drawn as a colour bar; empty for classes.
    ramp: Vec<Stop>,
    rows: Vec<(Option<[u8; 3]>, String)>,
    notes: Vec<String>,
}

impl Legend {
    fn new(map: &RateMap) -> Legend {
        let heading = match (map.unit.trim(), map.ramp.is_empty()) {
            (unit, false) => unit.to_string(),
            ("", true) => t("legend.rate"),
            (unit, true) => tf("legend.rate_unit", &[("unit", unit)]),
        };
        let mut rows: Vec<(Option<[u8; 3]>, String)> = map
            .classes
            .iter()
            .filter(|_| map.ramp.is_empty())
            .map(|c| (Some(c.colour), c.label.clone()))
            .collect();
        if map.unobserved.contains(&true) {
            rows.push((None, t("legend.not_observed")));
        }
        let no_value = if map.ramp.is_empty() {
            "legend.no_rate"
        } else {
            "legend.no_data"
        };
        rows.push((Some(NO_RATE_COLOUR), t(no_value)));
        let other = map.ramp.is_empty()
            && map
                .values
                .iter()
                .any(|v| !v.is_nan() && class_of(map.classes, f64::from(*v)).is_none());
        if other {
            rows.push((Some(OTHER_COLOUR), t("legend.other_value")));
        }
        let ramp: Vec<Stop> = map.ramp.iter().rev().cloned().collect();
        let widest = rows
            .iter()
            .map(|(_, label)| label)
            .chain(ramp.iter().map(|s| &s.label))
            .map(|label| SWATCH_W + 8 + text_width(label, LABEL_SCALE))
            .chain([text_width(&heading, LABEL_SCALE)])
            .chain(map.notes.iter().map(|n| text_width(n, NOTE_SCALE)))
            .max()
            .unwrap_or(0);
        let width = widest.clamp(LEGEND_MIN_W, LEGEND_MAX_W);
        let notes = map.notes.iter().flat_map(|n| wrap(n, width)).collect();
        Legend {
            width,
            heading,
            ramp,
            rows,
            notes,
        }
    }

    /// Height of the colour bar (0 without a ramp).
    fn bar_height(&self) -> i32 {
        match self.ramp.len() {
            0 => 0,
            n => (n as i32 - 1) * RAMP_STEP + SWATCH_H,
        }
    }

    fn height(&self) -> i32 {
        let notes = if self.notes.is_empty() {
            0
        } else {
            8 + self.notes.len() as i32 * NOTE_ROW
        };
        let bar = if self.ramp.is_empty() {
            0
        } else {
            self.bar_height() + 12
        };
        HEADING_H + bar + self.rows.len() as i32 * ROW + notes
    }

    /// The colour bar at (x, top): each row in the ramp's colour of its value, highest at the
    /// top; each stop's row in exactly the stop's colour, with its label beside it.
    fn draw_ramp(&self, cv: &mut Canvas, x: i32, top: i32) {
        let (Some(high), Some(low)) = (self.ramp.first(), self.ramp.last()) else {
            return;
        };
        let half = SWATCH_H / 2;
        let span = (self.ramp.len() as i32 - 1) * RAMP_STEP;
        let ascending: Vec<Stop> = self.ramp.iter().rev().cloned().collect();
        for dy in 0..self.bar_height() {
            let k = (dy - half).clamp(0, span);
            let value = if span == 0 {
                high.value
            } else {
                high.value + (low.value - high.value) * f64::from(k) / f64::from(span)
            };
            let colour = colour_at(&ascending, value).unwrap_or(OTHER_COLOUR);
            cv.hline(x, x + SWATCH_W - 1, top + dy, colour);
        }
        for (i, stop) in self.ramp.iter().enumerate() {
            let row = top + half + i as i32 * RAMP_STEP;
            cv.hline(x, x + SWATCH_W - 1, row, stop.colour);
            cv.hline(x + SWATCH_W, x + SWATCH_W + 4, row, FRAME);
            let label = fit(&stop.label, LABEL_SCALE, self.width - SWATCH_W - 8);
            cv.text(
                x + SWATCH_W + 8,
                row - 7 * LABEL_SCALE / 2,
                &label,
                TEXT,
                LABEL_SCALE,
            );
        }
        cv.frame(
            Rect {
                l: x,
                t: top,
                r: x + SWATCH_W - 1,
                b: top + self.bar_height() - 1,
            },
            FRAME,
        );
    }

    fn draw(&self, cv: &mut Canvas, x: i32, y: i32) {
        let heading = fit(&self.heading, LABEL_SCALE, self.width);
        cv.text(x, y, &heading, TEXT, LABEL_SCALE);
        cv.hline(x, x + self.width, y + text_height(LABEL_SCALE) + 2, RULE);
        let mut top = y + HEADING_H;
        if !self.ramp.is_empty() {
            self.draw_ramp(cv, x, top);
            top += self.bar_height() + 12;
        }
        for (colour, label) in &self.rows {
            let swatch = Rect {
                l: x,
                t: top,
                r: x + SWATCH_W - 1,
                b: top + SWATCH_H - 1,
            };
            match colour {
                Some(colour) => cv.fill(swatch, *colour),
                None => {
                    for py in swatch.t..=swatch.b {
                        for px in swatch.l..=swatch.r {
                            cv.set(px, py, hatch(px, py));
                        }
                    }
                }
            }
            cv.frame(swatch, FRAME);
            let label = fit(label, LABEL_SCALE, self.width - SWATCH_W - 8);
            let ty = top + (SWATCH_H - 7 * LABEL_SCALE) / 2;
            cv.text(x + SWATCH_W + 8, ty, &label, TEXT, LABEL_SCALE);
            top += ROW;
        }
        top += 8;
        if !self.notes.is_empty() {
            cv.hline(x, x + self.width, top - 4, RULE);
        }
        for line in &self.notes {
            cv.text(x, top, line, TEXT, NOTE_SCALE);
            top += NOTE_ROW;
        }
    }
}

fn wrap(text: &str, width: i32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&joined, NOTE_SCALE) <= width || line.is_empty() {
            line = joined;
        } else {
            lines.push(fit(&line, NOTE_SCALE, width));
            line = word.to_string();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(fit(&line, NOTE_SCALE, width));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::classes::{rate_classes, Palette};
    use crate::export::draw::count;

    fn classes() -> Vec<Class> {
        rate_classes(&[0.0, 20.0, 30.0, 40.0], "kg N/ha", Palette::Nitrogen, 7)
    }

    fn map<'a>(values: &'a [f32], width: usize, classes: &'a [Class]) -> RateMap<'a> {
        RateMap {
            values,
            width,
            height: values.len() / width.max(1),
            cell_size_m: Some(2.0),
            classes,
            ramp: &[],
            title: "Nitrogen topdress, urea",
            unit: "kg N/ha",
            notes: &[],
            outlines: &[],
            labels: &[],
            unobserved: &[],
        }
    }

    /// The image pixel at the centre of cell (col, row).
    fn cell_centre(scale: f64, col: usize, row: usize) -> (u32, u32) {
        let c = |i: usize| ((i as f64 + 0.5) * scale) as u32;
        (MARGIN as u32 + c(col), (TITLE_H + MARGIN) as u32 + c(row))
    }

    #[test]
    fn cells_take_their_class_colour_nan_white_others_grey() {
        let classes = classes();
        let nan = f32::NAN;
        #[rustfmt::skip]
        let values = [
            0.0, 20.0, 30.0, 40.0,
            nan, 20.0, 45.0, 40.0,
            nan, nan, 0.0, 30.0,
        ];
        let img = render(&map(&values, 4, &classes)).unwrap();
        let scale = map_scale(4, 3, MAP_MAX);
        assert_eq!(scale, 225.0);
        for (i, &v) in values.iter().enumerate() {
            let (x, y) = cell_centre(scale, i % 4, i / 4);
            let want = if v.is_nan() {
                NO_RATE_COLOUR
            } else if v == 45.0 {
                // Above the largest class: in none (QGIS leaves it undrawn).
                OTHER_COLOUR
            } else {
                classes[class_of(&classes, f64::from(v)).unwrap()].colour
            };
            assert_eq!(img.get_pixel(x, y).0, want, "cell {i} ({v})");
            // Nearest neighbour: the cell's corners inside too.
            let (x0, y0) = (x - 111, y - 111);
            assert_eq!(img.get_pixel(x0, y0).0, want, "corner of cell {i}");
        }
        // The map is 4 × 225 by 3 × 225 pixels, framed.
        let frame_x = MARGIN as u32 + 4 * 225;
        assert_eq!(img.get_pixel(frame_x, cell_centre(scale, 0, 0).1).0, FRAME);
        assert_eq!(
            img.get_pixel(frame_x - 1, cell_centre(scale, 0, 0).1).0,
            classes[3].colour
        );
    }

    #[test]
    fn legend_has_a_swatch_per_class_and_no_rate() {
        let classes = classes();
        let values = [0.0, 20.0, 30.0, f32::NAN, 45.0, 40.0];
        let img = render(&map(&values, 3, &classes)).unwrap();
        let legend_x = MARGIN + MIN_MAP_COLUMN.max(900) + GAP;
        let panel = Rect {
            l: legend_x,
            t: TITLE_H,
            r: img.width() as i32 - 1,
            b: img.height() as i32 - 1,
        };
        let inside = ((SWATCH_W - 2) * (SWATCH_H - 2)) as usize;
        for c in &classes {
            assert!(
                count(&img, panel, c.colour) >= inside,
                "{} missing",
                c.label
            );
        }
        assert!(count(&img, panel, OTHER_COLOUR) >= inside);
        // "no rate": a framed white swatch after the classes.
        let top = TITLE_H + MARGIN + HEADING_H + classes.len() as i32 * ROW;
        let swatch = Rect {
            l: legend_x,
            t: top,
            r: legend_x + SWATCH_W - 1,
            b: top + SWATCH_H - 1,
        };
        assert_eq!(count(&img, swatch, NO_RATE_COLOUR), inside);
        assert_eq!(
            count(&img, swatch, FRAME),
            (SWATCH_W * SWATCH_H) as usize - inside
        );
        // Without values outside the classes, no grey swatch.
        let img = render(&map(&values[..3], 3, &classes)).unwrap();
        assert_eq!(count(&img, Rect::of(&img), OTHER_COLOUR), 0);
    }

    #[test]
    fn the_map_side_is_scaled_to_a_readable_size() {
        let classes = classes();
        for (w, h) in [
            (1, 1),
            (7, 3),
            (3, 7),
            (100, 40),
            (450, 451),
            (901, 10),
            (2500, 1700),
        ] {
            let values = vec![20.0f32; w * h];
            let img = render(&map(&values, w, &classes)).unwrap();
            let scale = map_scale(w, h, MAP_MAX);
            let long = scaled(w.max(h), scale);
            assert!((450..=900).contains(&long), "{w}×{h}: long side {long}");
            if w.max(h) <= 900 {
                assert_eq!(scale.fract(), 0.0, "{w}×{h}: not a whole factor");
            }
            let max_w = (MARGIN + 900 + GAP + LEGEND_MAX_W + MARGIN) as u32;
            let max_h = (TITLE_H + 2 * MARGIN + 900 + FOOTER_H) as u32;
            assert!(
                img.width() <= max_w && img.height() <= max_h,
                "{w}×{h}: {:?}",
                img.dimensions()
            );
            assert!(
                img.width() >= 400 && img.height() >= 150,
                "{w}×{h}: {:?}",
                img.dimensions()
            );
        }
    }

    #[test]
    fn large_grids_are_sampled() {
        let classes = classes();
        let (w, h) = (1800, 20);
        let values: Vec<f32> = (0..w * h)
            .map(|i| if i % w < w / 2 { 20.0 } else { 40.0 })
            .collect();
        let img = render(&map(&values, w, &classes)).unwrap();
        let y = (TITLE_H + MARGIN + 5) as u32;
        let left = MARGIN as u32;
        assert_eq!(img.get_pixel(left, y).0, classes[1].colour);
        assert_eq!(img.get_pixel(left + 449, y).0, classes[1].colour);
        assert_eq!(img.get_pixel(left + 450, y).0, classes[3].colour);
        assert_eq!(img.get_pixel(left + 899, y).0, classes[3].colour);
        assert_eq!(img.get_pixel(left + 900, y).0, FRAME);
    }

    #[test]
    fn outlines_labels_scale_bar_and_arrow_are_drawn() {
        let classes = classes();
        let values = vec![40.0f32; 20 * 10];
        let outlines = vec![vec![vec![(2.0, 2.0), (8.0, 2.0), (8.0, 8.0), (2.0, 8.0)]]];
        let labels = vec![
            (15.0, 5.0, "P07".to_string()),
            (f64::NAN, 1.0, "nowhere".to_string()),
            (1e300, -1e300, "far".to_string()),
        ];
        let notes = vec!["Total: 123 kg urea over 0.04 ha, in one pass".to_string()];
        let rate_map = RateMap {
            outlines: &outlines,
            labels: &labels,
            notes: &notes,
            ..map(&values, 20, &classes)
        };
        let img = render(&rate_map).unwrap();
        let scale = map_scale(20, 10, MAP_MAX);
        assert_eq!(scale, 45.0);
        let dark = |x: u32, y: u32| img.get_pixel(x, y).0.iter().all(|&c| c < 120);
        // The ring's top edge at grid y = 2, midway along it; not inside the ring.
        let (x, _) = cell_centre(scale, 5, 0);
        let edge = (TITLE_H + MARGIN) as u32 + 90;
        assert!(dark(x, edge) || dark(x, edge - 1), "no outline");
        assert_eq!(img.get_pixel(x, edge + 20).0, classes[3].colour);
        // The label: dark text with white around it, centred on grid (15, 5).
        let (cx, cy) = cell_centre(scale, 15, 5);
        let around = Rect {
            l: cx as i32 - 40,
            t: cy as i32 - 60,
            r: cx as i32 + 40,
            b: cy as i32 + 30,
        };
        assert!(count(&img, around, TEXT) > 30);
        assert!(count(&img, around, WHITE) > 30);
        // Scale bar: 20 cells of 2 m are 900 px, 40 m; a round length fits in the column.
        let footer = Rect {
            l: 0,
            t: TITLE_H + MARGIN + 450 + 2,
            r: MARGIN + 900,
            b: img.height() as i32 - 1,
        };
        assert!(count(&img, footer, TEXT) > 300, "no scale bar or arrow");
        let no_scale = render(&RateMap {
            cell_size_m: None,
            ..rate_map
        })
        .unwrap();
        assert!(count(&no_scale, footer, TEXT) < count(&img, footer, TEXT) - 200);
    }

    #[test]
    fn a_county_of_tiny_plots_leaves_the_map_readable_and_labels_never_overlap() {
        let classes = classes();
        let (w, h) = (900, 900);
        let values = vec![40.0f32; w * h];
        let map_area = Rect {
            l: MARGIN,
            t: TITLE_H + MARGIN,
            r: MARGIN + 899,
            b: TITLE_H + MARGIN + 899,
        };
        // 20 000 plots of 2 × 2 pixels, each labelled: neither outlines nor labels.
        let square = |x: f64, y: f64, side: f64| {
            vec![vec![
                (x, y),
                (x + side, y),
                (x + side, y + side),
                (x, y + side),
                (x, y),
            ]]
        };
        let spots: Vec<(f64, f64)> = (0..20_000)
            .map(|i| (f64::from(i % 150) * 6.0, f64::from(i / 150) * 6.0))
            .collect();
        let outlines: Vec<_> = spots.iter().map(|&(x, y)| square(x, y, 2.0)).collect();
        let labels: Vec<_> = spots
            .iter()
            .map(|&(x, y)| (x + 1.0, y + 1.0, "P00001".to_string()))
            .collect();
        let img = render(&RateMap {
            outlines: &outlines,
            labels: &labels,
            ..map(&values, w, &classes)
        })
        .unwrap();
        let cells = 900 * 900;
        assert_eq!(count(&img, map_area, classes[3].colour), cells);
        // The same plots 5 × 5 pixels are outlined (the map is mostly outline then).
        let big: Vec<_> = spots.iter().map(|&(x, y)| square(x, y, 5.0)).collect();
        let img = render(&RateMap {
            outlines: &big,
            ..map(&values, w, &classes)
        })
        .unwrap();
        assert!(count(&img, map_area, classes[3].colour) < cells / 2);
        // Three labels on one spot and one apart: two drawn, the first of the three kept.
        let labels = vec![
            (300.0, 300.0, "AAAA".to_string()),
            (300.0, 300.0, "BBBB".to_string()),
            (302.0, 301.0, "CCCC".to_string()),
            (600.0, 600.0, "DDDD".to_string()),
        ];
        let one = |labels: &[(f64, f64, String)]| {
            let img = render(&RateMap {
                labels,
                ..map(&values, w, &classes)
            })
            .unwrap();
            count(&img, map_area, TEXT)
        };
        let (a, b, d) = (one(&labels[..1]), one(&labels[1..2]), one(&labels[3..]));
        assert!(a > 0 && b > 0 && d > 0);
        assert_eq!(one(&labels), a + d);
    }

    #[test]
    fn bad_grids_are_refused_with_the_reason() {
        let classes = classes();
        let values = [1.0f32; 6];
        let mut m = map(&values, 4, &classes);
        m.height = 2;
        let err = render(&m).unwrap_err().to_string();
        assert!(err.contains("6 values for a grid of 4 × 2"), "{err}");
        m.width = 0;
        assert!(render(&m).unwrap_err().to_string().contains("empty"));
        let (mut m, big) = (map(&values, 3, &classes), usize::MAX / 2);
        (m.width, m.height) = (big, 3);
        assert!(render(&m).is_err());
        for cell in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let m = RateMap {
                cell_size_m: Some(cell),
                ..map(&values, 3, &classes)
            };
            let err = render(&m).unwrap_err().to_string();
            assert!(err.contains("cell size"), "{err}");
        }
        // No classes at all: every value grey, still a picture.
        let m = map(&values, 3, &[]);
        assert!(render(&m).is_ok());
    }

    #[test]
    fn round_scale_lengths() {
        assert_eq!(round_length(173.0), Some(100.0));
        assert_eq!(round_length(60.0), Some(50.0));
        assert_eq!(round_length(2.0), Some(2.0));
        assert_eq!(round_length(0.34), Some(0.2));
        assert_eq!(round_length(0.0), None);
        assert_eq!(length_text(50.0), "50 m");
        assert_eq!(length_text(2000.0), "2 km");
        assert_eq!(length_text(0.5), "0.5 m");
        assert_eq!(
            wrap("one two three", 6 * 8 * NOTE_SCALE),
            vec!["one two", "three"]
        );
        assert_eq!(wrap("", 100), vec![""]);
    }

    #[test]
    fn writes_the_png_atomically() {
        let classes = classes();
        let values = [0.0f32, 20.0, f32::NAN, 40.0];
        let m = map(&values, 2, &classes);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rx.png");
        write_png(&path, &m).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgb8(), render(&m).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_png(&dir.path().join("no/such/dir/rx.png"), &m).is_err());
        let bad = map(&values[..3], 2, &classes);
        assert!(write_png(&dir.path().join("bad.png"), &bad).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A field of six plots with zoned rates between bunds; written where
    /// PADDY_QUICKLOOK_EXAMPLE says, to look at.
    #[test]
    fn example_field() {
        let (w, h) = (150, 96);
        let mut values = vec![f32::NAN; w * h];
        let mut outlines = Vec::new();
        let mut labels = Vec::new();
        let steps = [0.0f32, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        for p in 0..6 {
            let (x0, y0) = (4 + (p % 3) * 49, 4 + (p / 3) * 46);
            let (pw, ph) = (44, 42);
            for y in y0..y0 + ph {
                for x in x0..x0 + pw {
                    // Rates rise towards a weak corner of each plot.
                    let d = ((x - x0) as f32 / pw as f32 + (y - y0) as f32 / ph as f32) / 2.0;
                    let k = ((d * 5.0) as usize + p) % steps.len();
                    values[y * w + x] = steps[k];
                }
            }
            let (a, b) = (x0 as f64, y0 as f64);
            let (c, d) = ((x0 + pw) as f64, (y0 + ph) as f64);
            outlines.push(vec![vec![(a, b), (c, b), (c, d), (a, d), (a, b)]]);
            labels.push(((a + c) / 2.0, (b + d) / 2.0, format!("P{:02}", p + 1)));
        }
        let rates: Vec<f64> = steps.iter().map(|&s| f64::from(s)).collect();
        let classes = rate_classes(&rates, "kg/ha", Palette::Nitrogen, 7);
        let notes = vec![
            "Total: 1,234 kg urea on 1.24 ha".to_string(),
            "Mean rate 71 kg/ha; applicator steps of 10 kg/ha".to_string(),
        ];
        let m = RateMap {
            values: &values,
            width: w,
            height: h,
            cell_size_m: Some(1.0),
            classes: &classes,
            ramp: &[],
            title: "Nitrogen topdress, urea",
            unit: "kg urea/ha",
            notes: &notes,
            outlines: &outlines,
            labels: &labels,
            unobserved: &[],
        };
        let img = render(&m).unwrap();
        assert_eq!(map_scale(w, h, MAP_MAX), 6.0);
        if let Some(path) = std::env::var_os("PADDY_QUICKLOOK_EXAMPLE") {
            write_png(Path::new(&path), &m).unwrap();
        }
        assert!(count(&img, Rect::of(&img), classes[6].colour) > 1000);
    }

    #[test]
    fn not_observed_cells_are_hatched_with_their_own_legend_entry() {
        let c = classes();
        let values = [0.0, f32::NAN, 20.0, f32::NAN];
        let plain = render(&map(&values, 2, &c)).unwrap();
        assert_eq!(count(&plain, Rect::of(&plain), HATCH_COLOURS[0]), 0);
        let unobserved = [false, true, false, false];
        let hatched = render(&RateMap {
            unobserved: &unobserved,
            ..map(&values, 2, &c)
        })
        .unwrap();
        // A quarter of the map (450 × 450 pixels) plus the legend swatch, a third of it dark.
        let dark = count(&hatched, Rect::of(&hatched), HATCH_COLOURS[0]);
        assert!(dark > 450 * 450 / 4, "{dark}");
        assert!(Legend::new(&RateMap {
            unobserved: &unobserved,
            ..map(&values, 2, &c)
        })
        .rows
        .iter()
        .any(|(swatch, label)| swatch.is_none() && label == "not observed"));
        // A wrong number of flags is refused.
        assert!(render(&RateMap {
            unobserved: &[true],
            ..map(&values, 2, &c)
        })
        .is_err());
    }

    /// An index map's legend is the continuous ramp of its style: the bar's row of each stop is
    /// the stop's colour, the row half-way between two stops their mean (no classes), and the
    /// cells take the colour QGIS interpolates; nodata is "no data".
    #[test]
    fn ramp_legend_is_the_styles_ramp() {
        let ramp = crate::export::qml::ramp_for("NDVI", "vegetation");
        let stops = ramp.value_stops();
        let values = [-0.2f32, 0.0, 0.35, 0.9, f32::NAN, 0.5];
        let m = RateMap {
            ramp: &stops,
            classes: &[],
            unit: "NDVI",
            ..map(&values, 3, &[])
        };
        let legend = Legend::new(&m);
        assert_eq!(legend.heading, "NDVI");
        assert!(legend.rows.iter().any(|(_, l)| l == "no data"));
        assert!(!legend.rows.iter().any(|(_, l)| l == "no rate"));
        let img = render(&m).unwrap();
        let x = (MARGIN + MIN_MAP_COLUMN.max(720) + GAP + SWATCH_W / 2) as u32;
        let top = TITLE_H + MARGIN + HEADING_H + SWATCH_H / 2;
        let n = stops.len();
        for (i, stop) in stops.iter().rev().enumerate() {
            let y = (top + i as i32 * RAMP_STEP) as u32;
            assert_eq!(img.get_pixel(x, y).0, stop.colour, "stop {}", stop.label);
        }
        for i in 0..n - 1 {
            let (hi, lo) = (&stops[n - 1 - i], &stops[n - 2 - i]);
            let y = (top + i as i32 * RAMP_STEP + RAMP_STEP / 2) as u32;
            let mid: Vec<i32> = (0..3)
                .map(|k| (i32::from(hi.colour[k]) + i32::from(lo.colour[k])) / 2)
                .collect();
            let got = img.get_pixel(x, y).0;
            for k in 0..3 {
                assert!(
                    (i32::from(got[k]) - mid[k]).abs() <= 2,
                    "{got:?} vs {mid:?}"
                );
            }
        }
        // Cell 0.35 is half-way between the stops at 0.13 and 0.57 (… of −0.2…0.9 in 5 steps).
        let scale = map_scale(3, 2, RAMP_MAP_MAX);
        let (cx, cy) = cell_centre(scale, 2, 0);
        let want = crate::export::qml::colour_at(&stops, 0.35).unwrap();
        assert_eq!(img.get_pixel(cx, cy).0, want);
        let (nx, ny) = cell_centre(scale, 1, 1);
        assert_eq!(img.get_pixel(nx, ny).0, NO_RATE_COLOUR);
    }
}
