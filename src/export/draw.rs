//! Drawing on RGB images with a built-in 5×7 bitmap font (shared by charts and quicklooks):
//! a [`Canvas`] clipped to a rectangle with soft-edged lines, discs, rings, filled rectangles
//! and text, plus atomic PNG writing. No font or plotting crate.

use std::path::Path;

use image::{ImageFormat, RgbImage};

use crate::error::{Error, Result};

/// Inclusive pixel rectangle: columns `l..=r`, rows `t..=b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Leftmost column.
    pub l: i32,
    /// Top row.
    pub t: i32,
    /// Rightmost column (inclusive).
    pub r: i32,
    /// Bottom row (inclusive).
    pub b: i32,
}

impl Rect {
    /// The whole of `img`.
    pub fn of(img: &RgbImage) -> Rect {
        Rect {
            l: 0,
            t: 0,
            r: img.width() as i32 - 1,
            b: img.height() as i32 - 1,
        }
    }
}

/// Drawing on an image, clipped to a rectangle: nothing outside it (or outside the image) is
/// touched, whatever the coordinates.
pub struct Canvas<'a> {
    img: &'a mut RgbImage,
    clip: Rect,
}

impl<'a> Canvas<'a> {
    /// A canvas on `img` clipped to `clip` (the whole image when None), intersected with the
    /// image.
    pub fn new(img: &'a mut RgbImage, clip: Option<Rect>) -> Canvas<'a> {
        let all = Rect::of(img);
        let c = clip.unwrap_or(all);
        let clip = Rect {
            l: c.l.max(all.l),
            t: c.t.max(all.t),
            r: c.r.min(all.r),
            b: c.b.min(all.b),
        };
        Canvas { img, clip }
    }

    /// Mix `alpha` (0..=1; 0 or less does nothing) of `colour` into the pixel at (x, y).
    pub fn blend(&mut self, x: i32, y: i32, colour: [u8; 3], alpha: f64) {
        let c = self.clip;
        if alpha <= 0.0 || x < c.l || x > c.r || y < c.t || y > c.b {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (old, new) in p.0.iter_mut().zip(colour) {
            *old = (*old as f64 * (1.0 - a) + new as f64 * a).round() as u8;
        }
    }

    /// Paint the pixel at (x, y).
    pub fn set(&mut self, x: i32, y: i32, colour: [u8; 3]) {
        self.blend(x, y, colour, 1.0);
    }

    /// A horizontal line from column `x0` to `x1` (inclusive) on row `y`.
    pub fn hline(&mut self, x0: i32, x1: i32, y: i32, colour: [u8; 3]) {
        for x in x0.max(self.clip.l)..=x1.min(self.clip.r) {
            self.set(x, y, colour);
        }
    }

    /// A vertical line on column `x` from row `y0` to `y1` (inclusive).
    pub fn vline(&mut self, x: i32, y0: i32, y1: i32, colour: [u8; 3]) {
        for y in y0.max(self.clip.t)..=y1.min(self.clip.b) {
            self.set(x, y, colour);
        }
    }

    /// Fill the rectangle `rect` (inclusive).
    pub fn fill(&mut self, rect: Rect, colour: [u8; 3]) {
        for y in rect.t.max(self.clip.t)..=rect.b.min(self.clip.b) {
            self.hline(rect.l, rect.r, y, colour);
        }
    }

    /// The outline of `rect`, one pixel wide, on its edge pixels.
    pub fn frame(&mut self, rect: Rect, colour: [u8; 3]) {
        self.hline(rect.l, rect.r, rect.t, colour);
        self.hline(rect.l, rect.r, rect.b, colour);
        self.vline(rect.l, rect.t, rect.b, colour);
        self.vline(rect.r, rect.t, rect.b, colour);
    }

    /// Blend `cover(px, py)` of `colour` over the pixels of the box `(x0, x1, y0, y1)`
    /// (widened to whole pixels).
    pub fn shade(
        &mut self,
        bx: (f64, f64, f64, f64),
        colour: [u8; 3],
        cover: impl Fn(f64, f64) -> f64,
    ) {
        let c = self.clip;
        let (l, r) = (
            (bx.0.floor() as i32).max(c.l),
            (bx.1.ceil() as i32).min(c.r),
        );
        let (t, b) = (
            (bx.2.floor() as i32).max(c.t),
            (bx.3.ceil() as i32).min(c.b),
        );
        for y in t..=b {
            for x in l..=r {
                self.blend(x, y, colour, cover(x as f64, y as f64));
            }
        }
    }

    /// A line `width` pixels wide with soft edges (pixel centres at integer coordinates).
    /// Non-finite ends draw nothing.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), width: f64, colour: [u8; 3]) {
        let c = self.clip;
        let m = width + 1.0;
        let bounds = (
            c.l as f64 - m,
            c.r as f64 + m,
            c.t as f64 - m,
            c.b as f64 + m,
        );
        let Some((a, b)) = clip_segment(a, b, bounds) else {
            return;
        };
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let half = width / 2.0 + 0.5;
        let bx = (
            a.0.min(b.0) - half,
            a.0.max(b.0) + half,
            a.1.min(b.1) - half,
            a.1.max(b.1) + half,
        );
        self.shade(bx, colour, |x, y| {
            let u = if len2 > 0.0 {
                (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let d = (x - a.0 - u * dx).hypot(y - a.1 - u * dy);
            half - d
        });
    }

    /// A filled disc of radius `r` around (cx, cy), soft-edged.
    pub fn disc(&mut self, cx: f64, cy: f64, r: f64, colour: [u8; 3]) {
        let bx = (cx - r - 1.0, cx + r + 1.0, cy - r - 1.0, cy + r + 1.0);
        self.shade(bx, colour, |x, y| r + 0.5 - (x - cx).hypot(y - cy));
    }

    /// A one-pixel circle of radius `r` around (cx, cy), soft-edged.
    pub fn ring(&mut self, cx: f64, cy: f64, r: f64, colour: [u8; 3]) {
        let bx = (cx - r - 1.0, cx + r + 1.0, cy - r - 1.0, cy + r + 1.0);
        self.shade(bx, colour, |x, y| 1.0 - ((x - cx).hypot(y - cy) - r).abs());
    }

    /// [`Canvas::text`] over a halo of `halo` one pixel wide all round, so that it reads on
    /// any background; returns its width.
    pub fn text_halo(
        &mut self,
        x: i32,
        y: i32,
        text: &str,
        colour: [u8; 3],
        halo: [u8; 3],
        scale: i32,
    ) -> i32 {
        for (dx, dy) in [
            (-1, -1),
            (0, -1),
            (1, -1),
            (-1, 0),
            (1, 0),
            (-1, 1),
            (0, 1),
            (1, 1),
        ] {
            self.text(x + dx, y + dy, text, halo, scale);
        }
        self.text(x, y, text, colour, scale)
    }

    /// Fill the polygon with corners `points` (closed implicitly; even-odd rule), painting the
    /// pixels whose centres (integer coordinates) lie inside. Non-finite corners fill nothing.
    pub fn polygon(&mut self, points: &[(f64, f64)], colour: [u8; 3]) {
        if points.len() < 3 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return;
        }
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let c = self.clip;
        let mut crossings = Vec::new();
        for y in (lo.ceil() as i32).max(c.t)..=(hi.floor() as i32).min(c.b) {
            let yc = y as f64;
            crossings.clear();
            for (i, a) in points.iter().enumerate() {
                let b = points[(i + 1) % points.len()];
                if (a.1 <= yc) != (b.1 <= yc) {
                    crossings.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            crossings.sort_by(f64::total_cmp);
            for pair in crossings.chunks_exact(2) {
                let (x0, x1) = (pair[0].ceil(), pair[1].floor());
                let (x0, x1) = (x0.max(c.l as f64) as i32, x1.min(c.r as f64) as i32);
                self.hline(x0, x1, y, colour);
            }
        }
    }

    /// Draw `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`; returns
    /// its width ([`text_width`]). Text with a character the bitmap font lacks (Chinese) is
    /// drawn with the shipped outline font ([`outline_font`]) at the same line height.
    pub fn text(&mut self, x: i32, y: i32, text: &str, colour: [u8; 3], scale: i32) -> i32 {
        if !bitmap_only(text) {
            return self.outline_text(x, y, text, colour, scale);
        }
        for (i, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            let drop = i32::from("gpqy".contains(ch));
            let gx = x + i as i32 * 6 * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        let (px, py) = (gx + col * scale, y + (r as i32 + drop) * scale);
                        for k in 0..scale * scale {
                            self.set(px + k % scale, py + k / scale, colour);
                        }
                    }
                }
            }
        }
        text_width(text, scale)
    }

    /// [`Canvas::text`] with the outline fonts, anti-aliased: each character from the shipped
    /// subset, else from a system CJK font ([`system_font`]); one neither has is drawn as the
    /// bitmap font's stand-in, with a warning.
    fn outline_text(&mut self, x: i32, y: i32, text: &str, colour: [u8; 3], scale: i32) -> i32 {
        let size = outline_size(scale);
        let baseline = y as f32 + size * 0.86;
        let mut pen = x as f32;
        for ch in text.chars() {
            let Some(font) = font_for(ch) else {
                let stand_in = pen.round() as i32;
                let top = (baseline - 7.0 * scale as f32).round() as i32;
                self.text(stand_in, top, "?", colour, scale);
                pen += (6 * scale) as f32;
                continue;
            };
            let (m, coverage) = font.rasterize(ch, size);
            let left = (pen + m.xmin as f32).round() as i32;
            let top = (baseline - (m.ymin as f32 + m.height as f32)).round() as i32;
            for (i, &c) in coverage.iter().enumerate() {
                let (gx, gy) = ((i % m.width.max(1)) as i32, (i / m.width.max(1)) as i32);
                self.blend(left + gx, top + gy, colour, f64::from(c) / 255.0);
            }
            pen += m.advance_width;
        }
        text_width(text, scale)
    }
}

/// The outline font for text the bitmap font cannot draw: a subset of Noto Sans CJK SC with the
/// glyphs of ASCII and of every text in `lang/` (made by `scripts/make-cjk-font`; SIL Open Font
/// License, fonts/LICENSE-NotoSansCJK.txt).
pub fn outline_font() -> &'static fontdue::Font {
    static FONT: std::sync::OnceLock<fontdue::Font> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        let bytes: &[u8] = include_bytes!("../../fonts/NotoSansCJKsc-paddy.otf");
        // The font is part of the program: a broken one fails every test, never a user's run.
        fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default())
            .unwrap_or_else(|e| panic!("fonts/NotoSansCJKsc-paddy.otf: {e}"))
    })
}

/// Whether the shipped outline font has a glyph for `ch` (not the missing-glyph box).
pub fn outline_has(ch: char) -> bool {
    ch.is_whitespace() || outline_font().lookup_glyph_index(ch) != 0
}

/// System fonts tried, in order, for characters the shipped subset lacks (users' own texts:
/// plot ids, product names): the file in `PADDY_CJK_FONT`, then Debian's `fonts-noto-cjk`
/// (face 2 of the collection: Simplified Chinese), `fonts-wqy-microhei`, `fonts-wqy-zenhei`
/// and Droid Sans Fallback. (path, face in a collection)
const SYSTEM_FONTS: [(&str, u32); 4] = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        0,
    ),
];

/// The first system CJK font of [`SYSTEM_FONTS`] (or `PADDY_CJK_FONT`) that loads, read once
/// and only when a text needs it; `None` when there is none.
pub fn system_font() -> Option<&'static fontdue::Font> {
    static FONT: std::sync::OnceLock<Option<fontdue::Font>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        let chosen = std::env::var("PADDY_CJK_FONT")
            .ok()
            .filter(|p| !p.is_empty())
            .map(|p| (p, 0));
        let known = SYSTEM_FONTS.iter().map(|&(p, i)| (p.to_string(), i));
        chosen.into_iter().chain(known).find_map(|(path, face)| {
            let bytes = std::fs::read(&path).ok()?;
            let settings = fontdue::FontSettings {
                collection_index: face,
                ..fontdue::FontSettings::default()
            };
            fontdue::Font::from_bytes(bytes, settings).ok()
        })
    })
    .as_ref()
}

/// The outline font that has a glyph for `ch`: the shipped subset, else a system font; `None`
/// (and a warning, once per character) when neither has it.
fn font_for(ch: char) -> Option<&'static fontdue::Font> {
    if outline_has(ch) {
        return Some(outline_font());
    }
    if let Some(font) = system_font().filter(|f| f.lookup_glyph_index(ch) != 0) {
        return Some(font);
    }
    static WARNED: std::sync::Mutex<Vec<char>> = std::sync::Mutex::new(Vec::new());
    if let Ok(mut warned) = WARNED.lock() {
        if !warned.contains(&ch) {
            warned.push(ch);
            crate::log::warning(&format!(
                "no font has a glyph for '{ch}' (U+{:04X}); it is drawn as '?' in PNGs: install \
                 Debian's fonts-noto-cjk or set PADDY_CJK_FONT to a font file",
                ch as u32
            ));
        }
    }
    None
}

/// Pixel size of the outline font at `scale`: ideographs as tall as the bitmap's line, and
/// never under 11 px (smaller ideographs do not read).
fn outline_size(scale: i32) -> f32 {
    (9.0 * scale as f32).max(11.0)
}

/// Whether the bitmap font draws every character of `text`.
fn bitmap_only(text: &str) -> bool {
    text.chars().all(|c| bitmap_glyph(c).is_some())
}

/// Liang–Barsky: the part of segment a-b inside (xmin, xmax, ymin, ymax).
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    (x0, x1, y0, y1): (f64, f64, f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut u0, mut u1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else if p < 0.0 {
            u0 = u0.max(q / p);
        } else {
            u1 = u1.min(q / p);
        }
    }
    (u0 <= u1 && dx.is_finite() && dy.is_finite()).then_some({
        (
            (a.0 + u0 * dx, a.1 + u0 * dy),
            (a.0 + u1 * dx, a.1 + u1 * dy),
        )
    })
}

/// Width in pixels of `text` drawn at `scale`: with the bitmap font 6 pixels a character (5
/// of glyph, 1 of space), less the trailing space; with the outline font its advances.
pub fn text_width(text: &str, scale: i32) -> i32 {
    if !bitmap_only(text) {
        let size = outline_size(scale);
        let w: f32 = text
            .chars()
            .map(|c| font_for(c).map_or((6 * scale) as f32, |f| f.metrics(c, size).advance_width))
            .sum();
        return w.ceil() as i32;
    }
    (text.chars().count() as i32 * 6 - 1).max(0) * scale
}

/// Height in pixels of a line of text at `scale`, descenders ("gpqy") included.
pub fn text_height(scale: i32) -> i32 {
    8 * scale
}

/// `text`, cut and ended with ".." where it is wider than `max` pixels.
pub fn fit(text: &str, scale: i32, max: i32) -> String {
    if text_width(text, scale) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len())
        .rev()
        .map(|k| {
            chars[..k]
                .iter()
                .chain(['.', '.'].iter())
                .collect::<String>()
        })
        .find(|s| text_width(s, scale) <= max)
        .unwrap_or_else(|| "..".to_string())
}

/// Encode `img` as PNG at `path` atomically (a temporary name beside `path`, then a rename), so
/// a failed write leaves nothing under `path`.
pub fn write_png(img: &RgbImage, path: &Path) -> Result<()> {
    crate::io::write_atomically(path, |temp| {
        img.save_with_format(temp, ImageFormat::Png)
            .map_err(|e| Error::Write {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    })
}

/// The glyph of `ch`, or the question mark's stand-in when the font lacks it.
fn glyph(ch: char) -> &'static [u8; 7] {
    bitmap_glyph(ch).unwrap_or(&UNKNOWN)
}

/// The bitmap glyph of `ch`; typographic dashes and the minus sign (class labels write ranges
/// as "10–20") share the hyphen's.
fn bitmap_glyph(ch: char) -> Option<&'static [u8; 7]> {
    let ch = match ch {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        c => c,
    };
    GLYPHS.iter().find(|(c, _)| *c == ch).map(|(_, rows)| rows)
}

/// Shown for characters the font lacks.
const UNKNOWN: [u8; 7] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04];

/// 5×7 glyphs, one byte a row, bit 4 the leftmost pixel. "gpqy" are drawn one row lower.
#[rustfmt::skip]
const GLYPHS: [(char, [u8; 7]); 81] = [
    (' ', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), ('-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    ('_', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F]), ('.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (',', [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08]), (':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    (';', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08]),
    ('/', [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00]), ('(', [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02]),
    (')', [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08]), ('%', [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03]),
    ('+', [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00]), ('=', [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00]),
    ('<', [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02]), ('>', [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08]),
    ('!', [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04]), ('\'', [0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00]),
    ('#', [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A]), ('*', [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00]),
    ('0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]), ('1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]), ('3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    ('4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]), ('5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    ('6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]), ('7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    ('8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]), ('9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    ('A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]), ('B', [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]),
    ('C', [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]), ('D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    ('E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]), ('F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    ('G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]), ('H', [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    ('I', [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]), ('J', [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]),
    ('K', [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]), ('L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    ('M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]), ('N', [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]),
    ('O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]), ('P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    ('Q', [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]), ('R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    ('S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]), ('T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    ('U', [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]), ('V', [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    ('W', [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]), ('X', [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]),
    ('Y', [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04]), ('Z', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]),
    ('a', [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F]), ('b', [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E]),
    ('c', [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E]), ('d', [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F]),
    ('e', [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E]), ('f', [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08]),
    ('g', [0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E]), ('h', [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11]),
    ('i', [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E]), ('j', [0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C]),
    ('k', [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12]), ('l', [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('m', [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11]), ('n', [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11]),
    ('o', [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E]), ('p', [0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10]),
    ('q', [0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01]), ('r', [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10]),
    ('s', [0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E]), ('t', [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06]),
    ('u', [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D]), ('v', [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    ('w', [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A]), ('x', [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11]),
    ('y', [0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E]), ('z', [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F]),
];

/// Pixels of `colour` in `rect` (clipped to the image): for tests of what was drawn.
#[cfg(test)]
pub(crate) fn count(img: &RgbImage, rect: Rect, colour: [u8; 3]) -> usize {
    let all = Rect::of(img);
    let mut n = 0;
    for y in rect.t.max(0)..=rect.b.min(all.b) {
        for x in rect.l.max(0)..=rect.r.min(all.r) {
            n += usize::from(img.get_pixel(x as u32, y as u32).0 == colour);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    const WHITE: [u8; 3] = [255, 255, 255];
    const TEXT: [u8; 3] = [35, 35, 35];

    #[test]
    fn glyphs_are_drawn_where_asked() {
        let mut img = RgbImage::from_pixel(40, 20, Rgb(WHITE));
        let mut cv = Canvas::new(&mut img, None);
        assert_eq!(cv.text(3, 2, "A ", TEXT, 1), 11);
        for (r, bits) in glyph('A').iter().enumerate() {
            for c in 0..5 {
                let inked = img.get_pixel(3 + c, 2 + r as u32).0 == TEXT;
                assert_eq!(inked, bits & (0b10000 >> c) != 0, "row {r} col {c}");
            }
        }
        assert_eq!(
            count(&img, Rect::of(&img), TEXT),
            glyph('A')
                .iter()
                .map(|b| b.count_ones() as usize)
                .sum::<usize>()
        );
        // Scaled ×2: four times the ink.
        let mut big = RgbImage::from_pixel(40, 20, Rgb(WHITE));
        Canvas::new(&mut big, None).text(0, 0, "A", TEXT, 2);
        assert_eq!(
            count(&big, Rect::of(&big), TEXT),
            4 * count(&img, Rect::of(&img), TEXT)
        );
        // Every character a label needs has its own glyph.
        let needed = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz -_.,:;/()%+";
        for ch in needed.chars() {
            assert!(GLYPHS.iter().any(|(c, _)| *c == ch), "{ch:?} has no glyph");
        }
        let distinct: std::collections::HashSet<_> = GLYPHS.iter().map(|(_, g)| g).collect();
        assert_eq!(distinct.len(), GLYPHS.len());
    }

    #[test]
    fn nothing_is_drawn_outside_the_clip() {
        let mut img = RgbImage::from_pixel(30, 20, Rgb(WHITE));
        let clip = Rect {
            l: 5,
            t: 4,
            r: 14,
            b: 11,
        };
        let mut cv = Canvas::new(&mut img, Some(clip));
        cv.fill(
            Rect {
                l: -100,
                t: -100,
                r: 100,
                b: 100,
            },
            TEXT,
        );
        cv.line((-50.0, -50.0), (80.0, 60.0), 3.0, TEXT);
        cv.line((f64::NAN, 0.0), (10.0, 10.0), 3.0, TEXT);
        cv.disc(0.0, 0.0, 40.0, TEXT);
        cv.text(-20, -3, "WWWWWWWWWWWW", TEXT, 3);
        assert_eq!(count(&img, clip, TEXT), 10 * 8);
        assert_eq!(count(&img, Rect::of(&img), TEXT), 10 * 8);
        // A clip larger than the image is cut to it.
        let mut cv = Canvas::new(
            &mut img,
            Some(Rect {
                l: -9,
                t: -9,
                r: 99,
                b: 99,
            }),
        );
        cv.fill(Rect::of(&RgbImage::new(100, 100)), TEXT);
        assert_eq!(count(&img, Rect::of(&img), TEXT), 30 * 20);
    }

    #[test]
    fn frame_and_fill_cover_their_pixels() {
        let mut img = RgbImage::from_pixel(12, 10, Rgb(WHITE));
        let mut cv = Canvas::new(&mut img, None);
        let r = Rect {
            l: 2,
            t: 1,
            r: 8,
            b: 6,
        };
        cv.frame(r, TEXT);
        assert_eq!(count(&img, Rect::of(&img), TEXT), 2 * 7 + 2 * 4);
        assert_eq!(img.get_pixel(5, 3).0, WHITE);
        Canvas::new(&mut img, None).fill(r, TEXT);
        assert_eq!(count(&img, Rect::of(&img), TEXT), 7 * 6);
    }

    #[test]
    fn dashes_share_the_hyphen_and_halos_surround_text() {
        assert_eq!(glyph('\u{2013}'), glyph('-'));
        assert_eq!(glyph('\u{2212}'), glyph('-'));
        assert_eq!(glyph('~'), &UNKNOWN);
        let dark = [0, 0, 0];
        let mut img = RgbImage::from_pixel(20, 12, Rgb(dark));
        let w = Canvas::new(&mut img, None).text_halo(2, 2, "I", TEXT, WHITE, 1);
        assert_eq!(w, 5);
        // The "I" (0x0E top row) is ringed by white: left of and above its first row.
        assert_eq!(img.get_pixel(2, 2).0, WHITE);
        assert_eq!(img.get_pixel(4, 1).0, WHITE);
        assert_eq!(img.get_pixel(3, 2).0, TEXT);
        assert_eq!(img.get_pixel(15, 10).0, dark);
    }

    #[test]
    fn polygons_fill_pixel_centres_inside() {
        let mut img = RgbImage::from_pixel(20, 20, Rgb(WHITE));
        let mut cv = Canvas::new(&mut img, None);
        // A 10×5 axis-aligned box through pixel edges: exactly 10×5 pixels.
        cv.polygon(&[(1.5, 2.5), (11.5, 2.5), (11.5, 7.5), (1.5, 7.5)], TEXT);
        assert_eq!(count(&img, Rect::of(&img), TEXT), 50);
        assert_eq!(img.get_pixel(2, 3).0, TEXT);
        assert_eq!(img.get_pixel(1, 3).0, WHITE);
        // A triangle: about half of its box; outside the clip and NaN corners: nothing.
        let mut img = RgbImage::from_pixel(20, 20, Rgb(WHITE));
        let mut cv = Canvas::new(
            &mut img,
            Some(Rect {
                l: 0,
                t: 0,
                r: 9,
                b: 19,
            }),
        );
        cv.polygon(&[(-0.5, -0.5), (19.5, -0.5), (-0.5, 19.5)], TEXT);
        cv.polygon(&[(0.0, 0.0), (f64::NAN, 5.0), (5.0, 5.0)], [1, 2, 3]);
        let n = count(&img, Rect::of(&img), TEXT);
        assert!((140..=160).contains(&n), "{n}");
        assert_eq!(
            count(
                &img,
                Rect {
                    l: 10,
                    t: 0,
                    r: 19,
                    b: 19
                },
                TEXT
            ),
            0
        );
    }

    #[test]
    fn fit_cuts_long_text_to_the_width() {
        assert_eq!(fit("short", 1, 100), "short");
        let cut = fit("a label far too long for the room", 1, 60);
        assert!(cut.ends_with("..") && text_width(&cut, 1) <= 60, "{cut}");
        assert_eq!(text_width("", 2), 0);
        assert_eq!(text_width("ab", 2), 22);
    }

    #[test]
    fn writes_png_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let img = RgbImage::from_pixel(3, 2, Rgb([1, 2, 3]));
        write_png(&img, &path).unwrap();
        let back = image::open(&path).unwrap().to_rgb8();
        assert_eq!(back, img);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/folder/a.png");
        assert!(matches!(
            write_png(&img, &missing),
            Err(Error::Write { .. })
        ));
    }
}

#[cfg(test)]
mod outline_tests {
    use super::*;

    /// Every character of every language's texts has a glyph in one of the two fonts, so no
    /// text drawn in a PNG shows a missing-glyph box. (The drawn strings are these texts, with
    /// numbers, ids and units in ASCII, which the bitmap font has.)
    #[test]
    fn every_text_of_every_language_has_its_glyphs() {
        for lang in crate::i18n::all() {
            let months = lang.months.iter().map(|m| ("date.months", m));
            for (key, text) in lang
                .texts
                .iter()
                .map(|(k, v)| (k.as_str(), v))
                .chain(months)
            {
                let missing: String = text
                    .chars()
                    .filter(|&c| bitmap_glyph(c).is_none() && !outline_has(c))
                    .collect();
                assert!(
                    missing.is_empty(),
                    "{}: {key}: no glyph for {missing:?}",
                    lang.code
                );
            }
        }
        // The check can fail: a character outside the subset has no glyph.
        assert!(!outline_has('龘'));
        assert!(outline_has('穗') && outline_has('A'));
    }

    /// Users' own texts (a plot id, a product name in Chinese) may hold characters the shipped
    /// subset lacks: they come from a system CJK font (`scripts/setup` installs Debian's
    /// fonts-noto-cjk), drawn as ideographs, not as the '?' stand-in.
    #[test]
    fn characters_outside_the_subset_come_from_a_system_font() {
        let rare = "岑巩尿素";
        assert!(
            rare.chars().all(|c| !outline_has(c)),
            "in the subset already"
        );
        if system_font().is_none() {
            eprintln!("SKIPPED: no system CJK font (install fonts-noto-cjk)");
            return;
        }
        let dark = |text: &str| {
            let mut img = RgbImage::from_pixel(160, 40, image::Rgb([255, 255, 255]));
            let w = Canvas::new(&mut img, None).text(4, 4, text, [0, 0, 0], 2);
            let inked = img.pixels().filter(|p| p.0[0] < 128).count();
            (w, inked)
        };
        let (w, inked) = dark(rare);
        let (qw, qinked) = dark("????");
        // Four ideographs are wider and far darker than four question marks.
        assert!(
            w > qw && inked > 3 * qinked,
            "{w} {inked} against {qw} {qinked}"
        );
        assert!(rare.chars().all(|c| font_for(c).is_some()));
    }

    #[test]
    fn chinese_text_is_drawn_with_the_outline_font_within_its_width() {
        let mut img = RgbImage::from_pixel(200, 40, image::Rgb([255, 255, 255]));
        let w = Canvas::new(&mut img, None).text(4, 4, "幼穗分化 PI", [0, 0, 0], 2);
        assert!(w > 60 && w < 190, "{w}");
        let inked: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(inked.len() > 150, "{} dark pixels", inked.len());
        let right = inked.iter().map(|p| p.0).max().unwrap_or(0) as i32;
        let bottom = inked.iter().map(|p| p.1).max().unwrap_or(0) as i32;
        assert!(
            right <= 4 + w && bottom <= 4 + text_height(2) + 2,
            "{right} {bottom}"
        );
    }
}
