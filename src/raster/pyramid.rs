//! Average overviews built window by window while the windows stream, so that a COG's overviews
//! need no second pass over the file: each level's cell is the mean of the valid full-resolution
//! pixels under it (nodata pixels left out; nodata when none is valid).

use std::collections::HashMap;

use super::Window;

/// The first overview's reduction factor by default: 1/4. GDAL's COG driver starts at 1/2; that
/// level alone is three quarters of a pyramid's cells and a fifth of a Float32 index COG's
/// bytes and time (BENCHMARKS.md, "The first overview at 1/4"), while a view between 1/2 and 1/4
/// read from the full resolution costs a local reader (QGIS) little. `--first-overview 2`
/// restores GDAL's pyramid for files served over HTTP.
pub const DEFAULT_FIRST_OVERVIEW: usize = 4;

/// Whether `n` can be a COG's first overview factor: a power of two from 2 to 1024.
pub fn is_first_overview(n: usize) -> bool {
    (2..=1024).contains(&n) && n.is_power_of_two()
}

/// Overview factors of a COG with `tile`-pixel tiles whose first level is 1/`first` (a power of
/// two, at least 2): `first`, 2 × `first`, … until a level fits within one tile each way; none
/// for a raster that fits within one tile. With `first` 2 this is the rule of GDAL's COG driver.
pub fn cog_factors(width: usize, height: usize, tile: usize, first: usize) -> Vec<usize> {
    let tile = tile.max(1);
    let fits = |k: usize| width.div_ceil(k) <= tile && height.div_ceil(k) <= tile;
    let mut factors = Vec::new();
    let mut k = 1;
    while !fits(k) {
        k = if k == 1 {
            first.next_power_of_two().max(2)
        } else {
            k * 2
        };
        factors.push(k);
    }
    factors
}

/// True when `w` holds every full-resolution pixel of the cells it touches at `factor` (overview
/// cells, or output tiles of that size): its origin is a multiple of the factor and it ends on
/// one or at the raster's edge.
pub fn window_is_local(w: &Window, width: usize, height: usize, factor: usize) -> bool {
    let f = factor.max(1);
    let whole = |start: usize, len: usize, end: usize| {
        start % f == 0 && (len % f == 0 || start + len == end)
    };
    whole(w.x, w.width, width) && whole(w.y, w.height, height)
}

/// One level of one window: per cell, the sum and count of the valid pixels under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub width: usize,
    pub height: usize,
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl Level {
    /// The first level (factor 2) of a `width` × `height` window of pixels.
    pub fn from_pixels(pixels: &[f32], width: usize, height: usize, nodata: f32) -> Level {
        let (w2, h2) = (width.div_ceil(2), height.div_ceil(2));
        let mut level = Level::empty(w2, h2);
        for (y, row) in pixels.chunks_exact(width.max(1)).take(height).enumerate() {
            let cells = (y / 2) * w2..(y / 2 + 1) * w2;
            let sums = &mut level.sum[cells.clone()];
            let counts = &mut level.count[cells];
            // Whole pairs in a loop the compiler vectorises, then the odd edge pixel; the sum is
            // (s + a) + b in that order, as for pixels taken one by one.
            let pairs = row.chunks_exact(2);
            let edge = pairs.remainder();
            let mut cells = sums.iter_mut().zip(counts.iter_mut());
            for (pair, (s, c)) in pairs.zip(&mut cells) {
                let ((a, na), (b, nb)) = (valid(pair[0], nodata), valid(pair[1], nodata));
                *s = *s + a + b;
                *c += na + nb;
            }
            if let (&[v], Some((s, c))) = (edge, cells.next()) {
                let (a, na) = valid(v, nodata);
                *s += a;
                *c += na;
            }
        }
        level
    }

    /// The next level: each cell gathers the 2 × 2 cells (fewer at an odd edge) under it.
    pub fn halve(&self) -> Level {
        let (w2, h2) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut level = Level::empty(w2, h2);
        let w = self.width.max(1);
        let rows = self.sum.chunks_exact(w).zip(self.count.chunks_exact(w));
        for (y, (sum, count)) in rows.take(self.height).enumerate() {
            let cells = (y / 2) * w2..(y / 2 + 1) * w2;
            let mut cells = level.sum[cells.clone()]
                .iter_mut()
                .zip(&mut level.count[cells]);
            // As in `from_pixels`: whole pairs, then the odd edge cell, each added in order.
            let (sums, counts) = (sum.chunks_exact(2), count.chunks_exact(2));
            let edge = (sums.remainder(), counts.remainder());
            for ((a, n), (s, c)) in sums.zip(counts).zip(&mut cells) {
                *s = *s + a[0] + a[1];
                *c += n[0] + n[1];
            }
            if let ((&[a], &[n]), Some((s, c))) = (edge, cells.next()) {
                *s += a;
                *c += n;
            }
        }
        level
    }

    /// The level's values: means, `nodata` where no pixel under a cell is valid.
    pub fn values(&self, nodata: f32) -> Vec<f32> {
        self.sum
            .iter()
            .zip(&self.count)
            .map(|(&s, &n)| {
                if n == 0 {
                    nodata
                } else {
                    (s / f64::from(n)) as f32
                }
            })
            .collect()
    }

    fn empty(width: usize, height: usize) -> Level {
        Level {
            width,
            height,
            sum: vec![0.0; width * height],
            count: vec![0; width * height],
        }
    }
}

/// A pixel's share of a cell: its value (0 for nodata or a non-finite value) and count.
fn valid(v: f32, nodata: f32) -> (f64, u32) {
    let ok = v != nodata && v.is_finite();
    (if ok { f64::from(v) } else { 0.0 }, u32::from(ok))
}

/// The rows of one overview level's tiles while windows fill them: a row is handed back whole
/// once every pixel of it has arrived, so that GDAL compresses each overview tile once. (Written
/// piece by piece, a partly filled tile that GDAL's block cache evicts is compressed, read back
/// and compressed again: on a 10980² NDVI that was 263 extra tile compressions of 655.)
#[derive(Debug)]
pub struct TileRows {
    width: usize,
    height: usize,
    tile: usize,
    nodata: f32,
    /// Rows being filled, by row number: their values and how many of them have arrived.
    open: HashMap<usize, (Vec<f32>, usize)>,
}

/// A finished row of tiles: its first line, its number of lines, its values (level width wide).
#[derive(Debug, PartialEq)]
pub struct TileRow {
    pub y: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

impl TileRows {
    /// Rows of `tile` lines over a `width` × `height` level whose unfilled pixels are `nodata`.
    pub fn new(width: usize, height: usize, tile: usize, nodata: f32) -> TileRows {
        TileRows {
            width,
            height,
            tile: tile.max(1),
            nodata,
            open: HashMap::new(),
        }
    }

    /// Add the `w` × `h` `values` whose first pixel is at (`x`, `y`); returns the rows they finish.
    pub fn add(
        &mut self,
        (x, y): (usize, usize),
        (w, h): (usize, usize),
        values: &[f32],
    ) -> Vec<TileRow> {
        let mut done = Vec::new();
        let w_in = w.min(self.width.saturating_sub(x));
        let mut line = y;
        while line < (y + h).min(self.height) {
            let row = line / self.tile;
            let top = row * self.tile;
            let lines = self.tile.min(self.height - top);
            let end = (y + h).min(top + lines);
            let (width, nodata) = (self.width, self.nodata);
            let entry = self
                .open
                .entry(row)
                .or_insert_with(|| (vec![nodata; width * lines], 0));
            for l in line..end {
                let from = &values[(l - y) * w..][..w_in];
                entry.0[(l - top) * width + x..][..w_in].copy_from_slice(from);
            }
            entry.1 += (end - line) * w_in;
            if entry.1 >= width * lines {
                if let Some((values, _)) = self.open.remove(&row) {
                    done.push(TileRow {
                        y: top,
                        height: lines,
                        values,
                    });
                }
            }
            line = end;
        }
        done
    }

    /// The rows still open (some of their pixels never arrived), top first.
    pub fn rest(&mut self) -> Vec<TileRow> {
        let mut rows: Vec<TileRow> = self
            .open
            .drain()
            .map(|(row, (values, _))| TileRow {
                y: row * self.tile,
                height: values.len() / self.width.max(1),
                values,
            })
            .collect();
        rows.sort_by_key(|r| r.y);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_the_cog_rule() {
        // GDAL's rule with 2.
        assert_eq!(cog_factors(10980, 10980, 512, 2), [2, 4, 8, 16, 32]);
        assert_eq!(cog_factors(512, 512, 512, 2), Vec::<usize>::new());
        assert_eq!(cog_factors(513, 10, 512, 2), [2]);
        assert_eq!(cog_factors(300, 2000, 512, 2), [2, 4]);
        // From 1/4: the same coarse levels; a raster over one tile still gets one level.
        assert_eq!(cog_factors(10980, 10980, 512, 4), [4, 8, 16, 32]);
        assert_eq!(cog_factors(512, 512, 512, 4), Vec::<usize>::new());
        assert_eq!(cog_factors(513, 10, 512, 4), [4]);
        assert_eq!(cog_factors(300, 2000, 512, 4), [4]);
        assert_eq!(cog_factors(10980, 10980, 512, 64), [64]);
    }

    #[test]
    fn locality_needs_aligned_origins_and_whole_or_edge_extents() {
        let w = |x, y, width, height| Window {
            x,
            y,
            width,
            height,
        };
        assert!(window_is_local(&w(512, 0, 512, 512), 10980, 10980, 32));
        assert!(window_is_local(
            &w(10752, 10752, 228, 228),
            10980,
            10980,
            32
        ));
        assert!(!window_is_local(&w(0, 23, 10980, 23), 10980, 10980, 2));
        assert!(!window_is_local(&w(0, 0, 10980, 23), 10980, 10980, 2));
    }

    /// Every level against the mean of the valid pixels of its block, computed directly.
    #[test]
    fn levels_are_means_of_the_valid_pixels_under_them() {
        let (w, h, nodata) = (13usize, 7usize, -9999.0f32);
        let px: Vec<f32> = (0..w * h)
            .map(|i| match i % 9 {
                4 => nodata,
                7 => f32::NAN,
                _ => (i as f32 * 0.37).sin(),
            })
            .collect();
        let px = &px;
        let mut level = Level::from_pixels(px, w, h, nodata);
        for f in [2usize, 4, 8, 16] {
            assert_eq!((level.width, level.height), (w.div_ceil(f), h.div_ceil(f)));
            let values = level.values(nodata);
            for (cy, row) in values.chunks(level.width).enumerate() {
                for (cx, &v) in row.iter().enumerate() {
                    let valid: Vec<f64> = (cy * f..((cy + 1) * f).min(h))
                        .flat_map(|y| (cx * f..((cx + 1) * f).min(w)).map(move |x| px[y * w + x]))
                        .filter(|v| *v != nodata && v.is_finite())
                        .map(f64::from)
                        .collect();
                    if valid.is_empty() {
                        assert_eq!(v, nodata);
                    } else {
                        let mean = valid.iter().sum::<f64>() / valid.len() as f64;
                        assert!(
                            (f64::from(v) - mean).abs() < 1e-6,
                            "factor {f} ({cx}, {cy})"
                        );
                    }
                }
            }
            level = level.halve();
        }
    }

    /// Rows of tiles come back whole, once, whatever order their pieces arrive in; the last,
    /// short row too; pixels no piece covered stay nodata (only in `rest`).
    #[test]
    fn tile_rows_come_back_whole_once() {
        let (w, h, tile) = (10usize, 7usize, 4usize);
        let value = |x: usize, y: usize| (y * w + x) as f32;
        let piece = |x0: usize, y0: usize, pw: usize, ph: usize| -> Vec<f32> {
            (y0..y0 + ph)
                .flat_map(|y| (x0..x0 + pw).map(move |x| value(x, y)))
                .collect()
        };
        let mut rows = TileRows::new(w, h, tile, -1.0);
        let mut done = Vec::new();
        // Pieces of 5 × 2, bottom right first; one spans the boundary between the two rows.
        for (x, y, pw, ph) in [(5, 5, 5, 2), (0, 5, 5, 2), (0, 0, 5, 4), (5, 0, 5, 3)] {
            done.extend(rows.add((x, y), (pw, ph), &piece(x, y, pw, ph)));
        }
        assert_eq!(done.len(), 0, "row 0 lacks (5..10, 3), row 1 lacks line 4");
        done.extend(rows.add((5, 3), (5, 2), &piece(5, 3, 5, 2)));
        assert_eq!(done.len(), 1, "row 0 whole; row 1 still lacks (0..5, 4)");
        assert_eq!((done[0].y, done[0].height), (0, 4));
        assert_eq!(done[0].values, piece(0, 0, w, 4));
        let rest = rows.rest();
        assert_eq!((rest[0].y, rest[0].height), (4, 3));
        let mut expected = piece(0, 4, w, 3);
        expected[..5].fill(-1.0);
        assert_eq!(rest[0].values, expected);
        done.extend(rows.add((0, 4), (5, 1), &piece(0, 4, 5, 1)));
        assert_eq!(
            done.len(),
            1,
            "a row handed to rest is not handed out again"
        );
    }
}
