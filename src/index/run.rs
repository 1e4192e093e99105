//! Executing an index plan: one pass over the input, every index computed from the same
//! reflectance window, outputs streamed to staging files and published as COGs.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::plan::{IndexPlan, PlannedIndex};
use crate::catalogue::Role;
use crate::error::Result;
use crate::export::qml;
use crate::io::{
    file_name, finish_all, write_atomic, IndexWriter, OutputMeta, Readers, WarpedFiles,
};
use crate::raster::pyramid::window_is_local;
use crate::raster::{engine, plan_windows, Window, TARGET_WINDOW_PIXELS};

/// Summary of one output, for people and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct OutputReport {
    pub index: String,
    pub path: PathBuf,
    /// The QGIS style beside it.
    pub style: PathBuf,
    pub valid_pixels: u64,
    pub nodata_pixels: u64,
    /// Valid pixels (counted in `valid_pixels`) whose computed value equals the output nodata
    /// value, so that they read as nodata: 0 unless the nodata lies in the index's range.
    pub nodata_collisions: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

/// Summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub sensor: String,
    pub width: usize,
    pub height: usize,
    pub windows: usize,
    pub seconds: f64,
    pub megapixels_per_second: f64,
    pub outputs: Vec<OutputReport>,
    pub warnings: Vec<String>,
}

/// Running statistics of one output's valid pixels.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    valid: u64,
    /// Valid pixels whose value equals the output nodata.
    collided: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        if other.valid == 0 {
            return;
        }
        if self.valid == 0 {
            *self = *other;
            return;
        }
        self.valid += other.valid;
        self.collided += other.collided;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Keep `v` where the pixel is valid and finite; elsewhere write `nodata`. Returns the tally,
/// which also counts the valid values equal to `nodata` (they will read as nodata).
///
/// Branch-free over eight lanes so that it vectorises: a per-pixel `if` with `f64::min` made
/// this loop 7 % of a whole ZSTD run's CPU time in `perf`. Min and max stay in f32 (exact for
/// f32 values); the sum is f64 per lane, so the mean matches a float64 re-computation.
fn finalize(out: &mut [f32], valid: &[bool], nodata: f32) -> Tally {
    const L: usize = 8;
    let (mut count, mut collided, mut sum) = ([0u64; L], [0u64; L], [0f64; L]);
    let (mut lo, mut hi) = ([f32::INFINITY; L], [f32::NEG_INFINITY; L]);
    let mut lane = |i: usize, v: &mut f32, ok: bool| {
        let keep = ok && v.is_finite();
        let x = if keep { *v } else { 0.0 };
        count[i] += keep as u64;
        collided[i] += (keep && x == nodata) as u64;
        sum[i] += x as f64;
        let (l, h) = if keep {
            (x, x)
        } else {
            (f32::INFINITY, f32::NEG_INFINITY)
        };
        lo[i] = if l < lo[i] { l } else { lo[i] };
        hi[i] = if h > hi[i] { h } else { hi[i] };
        *v = if keep { x } else { nodata };
    };
    let mut chunks = out.chunks_exact_mut(L);
    let mut oks = valid.chunks_exact(L);
    for (c, k) in (&mut chunks).zip(&mut oks) {
        for i in 0..L {
            lane(i, &mut c[i], k[i]);
        }
    }
    for (v, &ok) in chunks.into_remainder().iter_mut().zip(oks.remainder()) {
        lane(0, v, ok);
    }
    let valid: u64 = count.iter().sum();
    Tally {
        valid,
        collided: collided.iter().sum(),
        sum: sum.iter().sum(),
        min: lo.iter().copied().fold(f32::INFINITY, f32::min) as f64,
        max: hi.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64,
    }
}

/// The GDAL block cache an index run needs, in MiB (used unless GDAL_CACHEMAX is set).
///
/// Room for the windows in flight (their input blocks, up to 8 bands of 4 bytes, and their
/// outputs), at least 64 MiB. When windows do not cover whole output tiles (inputs stored in
/// strips), also a row of output tiles per output, twice: a partly written tile that is evicted
/// gets compressed, read back and compressed again, which costs time and leaves dead space in
/// the file. A bigger cache than needed is not free either: GDAL fills it with fresh memory
/// (measured on a 10980² NDVI: 64 MiB instead of 256 MiB takes peak RSS from 347 to 150 MiB).
/// A COG's overview tiles need no room: they reach GDAL whole ([`crate::raster::pyramid::TileRows`]).
fn cache_mib(
    windows: &[Window],
    (width, height): (usize, usize),
    tile: usize,
    outputs: usize,
    threads: usize,
) -> u32 {
    let tile = tile.max(1);
    let aligned = windows
        .iter()
        .all(|w| window_is_local(w, width, height, tile));
    let largest = windows.iter().map(Window::len).max().unwrap_or(0);
    let mut bytes = 2 * threads * largest * (32 + 4 * outputs);
    if !aligned {
        bytes += 2 * outputs * width.div_ceil(tile) * tile * tile * 4;
    }
    (bytes >> 20).clamp(64, u32::MAX as usize) as u32
}

/// A worker's state: GDAL handles, per role a reflectance buffer and its validity, the quality
/// mask, and scratch space. Each index's validity is built from the roles it reads only, so
/// asking for more indices never changes another index's mask.
struct Worker {
    readers: Readers,
    bands: Vec<(Role, Vec<f32>, Vec<bool>)>,
    quality: Vec<bool>,
    valid: Vec<bool>,
    scratch: Vec<Vec<f64>>,
}

/// Finished buffers go back here to be reused: fresh memory is costly to first touch.
struct Pool(Mutex<Vec<Vec<f32>>>);

impl Pool {
    fn take(&self, len: usize) -> Vec<f32> {
        let mut v = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        v.resize(len, 0.0);
        v
    }
    fn give(&self, v: Vec<f32>) {
        if let Ok(mut p) = self.0.lock() {
            p.push(v);
        }
    }
}

fn output_meta(plan: &IndexPlan, out: &PlannedIndex) -> OutputMeta {
    let mut band = vec![
        ("INDEX".to_string(), out.def.short_name.clone()),
        ("LONG_NAME".into(), out.def.long_name.clone()),
        ("FORMULA".into(), out.def.formula.clone()),
        ("DOMAIN".into(), out.def.application_domain.clone()),
        ("REFERENCE".into(), out.def.reference.clone()),
        ("SENSOR".into(), plan.profile.name.clone()),
        ("COMPUTED_BY".into(), out.formula.engine_name().into()),
    ];
    if !out.constants.is_empty() {
        let c: Vec<String> = out
            .constants
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        band.push(("CONSTANTS".into(), c.join(" ")));
    }
    for role in out.formula.roles() {
        if let Some(spec) = plan.roles.get(&role) {
            let file = file_name(&spec.path);
            band.push((
                format!("BAND_{role}"),
                format!(
                    "{file} band {} × {} + {}{}{}",
                    spec.band,
                    spec.scale,
                    spec.offset,
                    spec.nodata
                        .map_or(String::new(), |n| format!(", nodata {n}")),
                    spec.warp.as_ref().map_or(String::new(), |w| format!(
                        ", resampled {} onto the output grid",
                        w.resampling.gdal_name()
                    ))
                ),
            ));
        }
    }
    if let Some(mask) = &plan.mask {
        let file = file_name(&mask.path);
        band.push((
            "QUALITY_MASK".into(),
            format!("{file} band {}: {:?}", mask.band, mask.rule),
        ));
    }
    OutputMeta {
        description: out.def.short_name.clone(),
        band_metadata: band,
        dataset_metadata: std::iter::once((
            "SOFTWARE".to_string(),
            format!("paddy {}", env!("CARGO_PKG_VERSION")),
        ))
        .chain(
            plan.acquisition_date
                .map(|d| ("ACQUISITION_DATE".to_string(), d.to_string())),
        )
        .collect(),
        colours: Vec::new(),
    }
}

/// Run a plan. `progress(done, total)` is called after each window is written.
pub fn run(plan: &IndexPlan, progress: &dyn Fn(usize, usize)) -> Result<IndexReport> {
    let started = Instant::now();
    if let Some(dir) = plan.outputs.first().and_then(|o| o.path.parent()) {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| crate::error::Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let warped = WarpedFiles::create(&plan.warps)?;
    let (width, height) = (plan.grid.width, plan.grid.height);
    let windows = plan_windows(width, height, plan.block_size, TARGET_WINDOW_PIXELS);
    let top = plan
        .cog
        .overview_factors(width, height)
        .last()
        .copied()
        .unwrap_or(1);
    let local = windows
        .iter()
        .all(|w| window_is_local(w, width, height, top));
    let mut writers = plan
        .outputs
        .iter()
        .map(|o| {
            IndexWriter::create_for_windows(
                &o.path,
                &plan.grid,
                plan.out_nodata,
                &output_meta(plan, o),
                &plan.cog,
                local,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let threads = plan.threads.unwrap_or(plan.cog.threads).max(1);
    let resampled = (plan.resampled_cache_bytes >> 20) as u32;
    crate::io::prefer_block_cache_mib(
        cache_mib(
            &windows,
            (plan.grid.width, plan.grid.height),
            plan.cog.block_size,
            plan.outputs.len(),
            threads,
        )
        .saturating_add(resampled),
    );
    let pool = Pool(Mutex::new(Vec::new()));
    let mut tallies = vec![Tally::default(); plan.outputs.len()];
    let mut done = 0usize;

    // Each output's roles as positions in a worker's band list (which follows plan.roles), found
    // once here rather than for every window.
    let reads: Vec<Vec<usize>> = plan
        .outputs
        .iter()
        .map(|o| {
            o.formula
                .roles()
                .iter()
                .filter_map(|r| plan.roles.keys().position(|k| k == r))
                .collect()
        })
        .collect();
    let init = || -> Result<Worker> {
        Ok(Worker {
            readers: Readers::open_with(&plan.files, &warped)?,
            bands: plan
                .roles
                .keys()
                .map(|&r| (r, Vec::new(), Vec::new()))
                .collect(),
            quality: Vec::new(),
            valid: Vec::new(),
            scratch: Vec::new(),
        })
    };
    let compute = |w: &mut Worker, window: Window| compute(plan, &reads, &pool, w, window);
    let sink = |window: Window, results: Vec<(Vec<f32>, Tally)>| -> Result<()> {
        for ((writer, tally), (data, t)) in writers.iter_mut().zip(tallies.iter_mut()).zip(results)
        {
            tally.add(&t);
            pool.give(writer.write(window, data)?);
        }
        done += 1;
        progress(done, windows.len());
        Ok(())
    };
    engine::stream(&windows, plan.threads, init, compute, sink)?;

    let total = (plan.grid.width * plan.grid.height) as u64;
    let outputs = publish(plan, writers, &tallies, total)?;
    let mut warnings = plan.warnings.clone();
    warnings.extend(outputs.iter().filter(|o| o.nodata_collisions > 0).map(|o| {
        format!(
            "{}: {} computed pixel{} equal{} the output nodata value {} and read{} as nodata in {}; choose a nodata value outside the index's values",
            o.index,
            o.nodata_collisions,
            if o.nodata_collisions == 1 { "" } else { "s" },
            if o.nodata_collisions == 1 { "s" } else { "" },
            plan.out_nodata,
            if o.nodata_collisions == 1 { "s" } else { "" },
            o.path.display()
        )
    }));
    let seconds = started.elapsed().as_secs_f64();
    Ok(IndexReport {
        sensor: plan.profile.name.clone(),
        width: plan.grid.width,
        height: plan.grid.height,
        windows: windows.len(),
        seconds,
        megapixels_per_second: total as f64 / 1e6 / seconds.max(1e-9),
        outputs,
        warnings,
    })
}

/// One window of every output: read the roles and the quality mask, apply each formula, keep
/// its valid pixels. `reads[k]`: the positions of output k's roles in the worker's band list.
fn compute(
    plan: &IndexPlan,
    reads: &[Vec<usize>],
    pool: &Pool,
    w: &mut Worker,
    window: Window,
) -> Result<Vec<(Vec<f32>, Tally)>> {
    let n = window.len();
    for (role, buf, ok) in w.bands.iter_mut() {
        buf.resize(n, 0.0);
        ok.clear();
        ok.resize(n, true);
        w.readers
            .read_reflectance(&plan.roles[role], window, buf, ok)?;
    }
    w.quality.clear();
    w.quality.resize(n, true);
    if let Some(mask) = &plan.mask {
        w.readers.apply_quality_mask(mask, window, &mut w.quality)?;
    }
    let Worker {
        bands,
        quality,
        valid,
        scratch,
        ..
    } = w;
    let band = |r: Role| -> &[f32] {
        bands
            .iter()
            .find(|(k, _, _)| *k == r)
            .map_or(&[][..], |(_, b, _)| b.as_slice())
    };
    let nodata = plan.out_nodata as f32;
    let mut results = Vec::with_capacity(plan.outputs.len());
    for (o, read) in plan.outputs.iter().zip(reads) {
        valid.clone_from(quality);
        for &i in read {
            for (v, &k) in valid.iter_mut().zip(&bands[i].2) {
                *v &= k;
            }
        }
        let mut out = pool.take(n);
        o.formula.apply(&band, &mut out, scratch);
        let tally = finalize(&mut out, valid, nodata);
        results.push((out, tally));
    }
    Ok(results)
}

/// Finish every output under its final name, write its QGIS style beside it, and report it
/// (`total`: pixels of the grid).
fn publish(
    plan: &IndexPlan,
    writers: Vec<IndexWriter>,
    tallies: &[Tally],
    total: u64,
) -> Result<Vec<OutputReport>> {
    let mut outputs = Vec::new();
    let paths = finish_all(writers, plan.cog.threads)?;
    for ((path, tally), planned) in paths.into_iter().zip(tallies).zip(&plan.outputs) {
        let ramp = qml::ramp_for(&planned.def.short_name, &planned.def.application_domain);
        let title = format!("{} ({})", planned.def.short_name, planned.def.long_name);
        write_atomic(
            &path.with_extension("qml"),
            qml::pseudocolor(&ramp, &title).as_bytes(),
        )?;
        let has = tally.valid > 0;
        outputs.push(OutputReport {
            index: planned.def.short_name.clone(),
            style: path.with_extension("qml"),
            path,
            valid_pixels: tally.valid,
            nodata_pixels: total - tally.valid,
            nodata_collisions: tally.collided,
            min: has.then_some(tally.min),
            max: has.then_some(tally.max),
            mean: has.then(|| tally.sum / tally.valid as f64),
        });
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::plan_windows;

    #[test]
    fn the_cache_holds_a_row_of_tiles_only_when_windows_split_them() {
        let tiled = plan_windows(10980, 10980, (512, 512), TARGET_WINDOW_PIXELS);
        assert_eq!(cache_mib(&tiled, (10980, 10980), 512, 1, 2), 64);
        let strips = plan_windows(10980, 10980, (10980, 1), TARGET_WINDOW_PIXELS);
        // 4 outputs × 22 tiles of 1 MiB, twice, plus the windows in flight.
        let mib = cache_mib(&strips, (10980, 10980), 512, 4, 2);
        assert!(
            (4 * 22 * 2..4 * 22 * 2 + 64).contains(&(mib as usize)),
            "{mib}"
        );
        // Many threads need room for their windows even when aligned.
        assert!(cache_mib(&tiled, (10980, 10980), 512, 4, 16) > 64);
    }

    /// The lane-wise tally against a plain float64 loop, over lengths that leave every
    /// remainder, with invalid, NaN and infinite pixels mixed in.
    #[test]
    fn finalize_matches_a_plain_loop() {
        for n in [0usize, 1, 7, 8, 9, 31, 1000] {
            let mut v: Vec<f32> = (0..n)
                .map(|i| match i % 11 {
                    3 => f32::NAN,
                    5 => f32::INFINITY,
                    // Equal to a nodata value the test chooses.
                    4 => 1.0,
                    _ => ((i * 37 % 101) as f32 - 50.0) / 17.0,
                })
                .collect();
            let ok: Vec<bool> = (0..n).map(|i| i % 7 != 2).collect();
            let keep: Vec<bool> = v
                .iter()
                .zip(&ok)
                .map(|(x, &k)| k && x.is_finite())
                .collect();
            let kept: Vec<f64> = v
                .iter()
                .zip(&keep)
                .filter(|p| *p.1)
                .map(|p| *p.0 as f64)
                .collect();
            let expected: Vec<f32> = v
                .iter()
                .zip(&keep)
                .map(|(&x, &k)| if k { x } else { -9999.0 })
                .collect();
            let collisions = kept.iter().filter(|&&x| x == 1.0).count() as u64;
            assert!(n < 100 || collisions > 0);
            let t = finalize(&mut v.clone(), &ok, 1.0);
            assert_eq!(t.collided, collisions, "n = {n}");
            let t = finalize(&mut v, &ok, -9999.0);
            assert_eq!(v, expected, "n = {n}");
            assert_eq!(t.valid, kept.len() as u64);
            assert_eq!(t.collided, 0);
            let sum: f64 = kept.iter().sum();
            assert!((t.sum - sum).abs() <= 1e-9 * sum.abs().max(1.0), "n = {n}");
            if !kept.is_empty() {
                assert_eq!(t.min, kept.iter().copied().fold(f64::INFINITY, f64::min));
                assert_eq!(
                    t.max,
                    kept.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                );
            }
        }
    }
}
