//! `paddy stage --per-pixel`: the same analysis as per plot, for every pixel of a series on one
//! grid, for fields without plot boundaries. Streams in windows like `paddy index`: each worker
//! reads one window of every date, analyses each pixel's series, and the writer puts the window
//! into four rasters:
//!
//! - `transplanting_doy.tif`, `heading_doy.tif` (Int16): day of year of the event, counted from
//!   1 January of the year of `--at` (so a date in the year before is ≤ 0); nodata −32768;
//! - `stage.tif` (Byte): the stage code (0 unknown, 1 fallow, 2 seedling … 8 maturity) with a
//!   colour table and a QGIS style naming the stages; nodata 255 where the pixel was never observed;
//! - `confidence.tif` (Byte): the confidence × 100; nodata 255.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::export::styles;
use crate::io::{finish_all, CogOptions, IndexWriter, OutputMeta, RasterInfo, Readers};
use crate::phenology::dates::Date;
use crate::phenology::stage::Stage;
use crate::raster::{engine, plan_windows, Window};

use super::analyse::{self, Settings};
use super::series::{Dated, PlotSeries};
use super::{Prepared, StageRequest};

/// Nodata of the day-of-year rasters.
pub const DOY_NODATA: i16 = i16::MIN;
/// Nodata of the stage and confidence rasters.
pub const CODE_NODATA: u8 = 255;

/// What `--per-pixel` wrote.
#[derive(Debug, Clone)]
pub struct PixelReport {
    pub outputs: Vec<PathBuf>,
    /// Pixels with at least one valid observation.
    pub observed: usize,
    /// Pixels per stage code (index = code).
    pub per_stage: [usize; 9],
    pub at: Date,
    pub dates: Vec<Date>,
}

/// One series of rasters: the band to read in each file and how.
struct Source {
    path: PathBuf,
    day: f64,
    band: usize,
    nodata: Option<f64>,
    scale_offset: Option<(f64, f64)>,
}

/// The index band of a per-pixel raster: its only band besides the mask band.
fn sources(dated: &[Dated], mask_band: Option<usize>) -> Result<(Vec<Source>, Vec<RasterInfo>)> {
    let mut out = Vec::with_capacity(dated.len());
    let mut infos = Vec::with_capacity(dated.len());
    for d in dated {
        let info = RasterInfo::read(&d.path)?;
        if let Some(mask) = mask_band {
            info.check_band(mask)?;
        }
        let bands: Vec<usize> = (1..=info.band_count)
            .filter(|&b| Some(b) != mask_band)
            .collect();
        let [band] = bands[..] else {
            return Err(Error::Input {
                path: d.path.clone(),
                message: format!(
                    "has {} bands besides the mask band: stages per pixel need one index band per file (plus the mask band)",
                    bands.len()
                ),
            });
        };
        out.push(Source {
            path: d.path.clone(),
            day: f64::from(d.date.days_since_epoch()),
            band,
            nodata: info.band_nodata[band - 1],
            scale_offset: info.band_scale_offset[band - 1],
        });
        infos.push(info);
    }
    Ok((out, infos))
}

/// Four output values of one pixel.
#[derive(Default)]
struct Cells {
    transplanting: Vec<i16>,
    heading: Vec<i16>,
    stage: Vec<u8>,
    confidence: Vec<u8>,
}

struct Worker {
    readers: Readers,
    values: Vec<Vec<f64>>,
    valid: Vec<Vec<bool>>,
}

/// Run the per-pixel analysis and write the rasters into `dir`.
pub fn run(
    req: &StageRequest,
    prepared: &Prepared,
    dir: &Path,
    progress: &dyn Fn(usize, usize),
) -> Result<PixelReport> {
    let (vi, vi_infos) = sources(&prepared.vi, req.mask_band)?;
    let (lswi, lswi_infos) = sources(&prepared.lswi, req.mask_band)?;
    let Some(first) = vi_infos.first() else {
        return Err(Error::usage("no index rasters given"));
    };
    for info in vi_infos.iter().chain(&lswi_infos).skip(1) {
        first.check_same_grid(info)?;
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let grid = first.grid.clone();
    // Every date of a window is held at once: keep a worker's buffers near 16 MiB.
    let series_len = vi.len() + lswi.len();
    let target = ((1usize << 21) / series_len.max(1)).max(4096);
    let windows = plan_windows(grid.width, grid.height, first.block_size, target);
    let year_start = f64::from(
        Date::from_ymd(prepared.at.year(), 1, 1)
            .unwrap_or(prepared.at)
            .days_since_epoch(),
    ) - 1.0;
    let settings = Settings {
        smoother: req.smoother,
        fraction: req.fraction,
        table: &req.table,
        at: prepared.at,
        from: req.from,
        // Pixels are analysed a window at a time: no scene-wide pass dates the canopy lag.
        calibration: None,
    };

    let name = |file: &str| dir.join(file);
    let meta = |description: &str, unit: &str, colours: Vec<(u16, [u8; 3])>| OutputMeta {
        description: description.to_string(),
        band_metadata: vec![("UNIT".into(), unit.into())],
        dataset_metadata: vec![
            (
                "SOFTWARE".into(),
                format!("paddy {}", env!("CARGO_PKG_VERSION")),
            ),
            ("STAGE_AT".into(), prepared.at.to_string()),
            (
                "DAY_OF_YEAR_FROM".into(),
                format!("{}-01-01", prepared.at.year()),
            ),
            (
                "STAGE_CODES".into(),
                Stage::ALL
                    .iter()
                    .map(|s| format!("{}={}", s.code(), s.name()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
        colours,
    };
    let stage_colours: Vec<(u16, [u8; 3])> = Stage::ALL
        .iter()
        .map(|s| (u16::from(s.code()), s.colour()))
        .collect();
    let cog = CogOptions::default();
    let mut transplanting = IndexWriter::<i16>::create(
        &name("transplanting_doy.tif"),
        &grid,
        f64::from(DOY_NODATA),
        &meta("transplanting day of year", "day of year", Vec::new()),
        &cog,
    )?;
    let mut heading = IndexWriter::<i16>::create(
        &name("heading_doy.tif"),
        &grid,
        f64::from(DOY_NODATA),
        &meta("heading day of year", "day of year", Vec::new()),
        &cog,
    )?;
    let mut stage = IndexWriter::<u8>::create(
        &name("stage.tif"),
        &grid,
        f64::from(CODE_NODATA),
        &meta("rice growth stage code", "code", stage_colours),
        &cog,
    )?;
    let mut confidence = IndexWriter::<u8>::create(
        &name("confidence.tif"),
        &grid,
        f64::from(CODE_NODATA),
        &meta("stage confidence", "percent", Vec::new()),
        &cog,
    )?;

    let paths: Vec<PathBuf> = vi.iter().chain(&lswi).map(|s| s.path.clone()).collect();
    let mut per_stage = [0usize; 9];
    let mut observed = 0usize;
    let mut day_range = (i16::MAX, i16::MIN);
    let mut done = 0usize;
    engine::stream(
        &windows,
        req.threads,
        || {
            Ok(Worker {
                readers: Readers::open(&paths)?,
                values: vec![Vec::new(); series_len],
                valid: vec![Vec::new(); series_len],
            })
        },
        |worker, window| analyse_window(worker, window, &vi, &lswi, req, &settings, year_start),
        |window, cells| {
            for &code in &cells.stage {
                if code != CODE_NODATA {
                    observed += 1;
                    per_stage[usize::from(code).min(8)] += 1;
                }
            }
            for &d in cells.transplanting.iter().chain(&cells.heading) {
                if d != DOY_NODATA {
                    day_range = (day_range.0.min(d), day_range.1.max(d));
                }
            }
            transplanting.write(window, cells.transplanting)?;
            heading.write(window, cells.heading)?;
            stage.write(window, cells.stage)?;
            confidence.write(window, cells.confidence)?;
            done += 1;
            progress(done, windows.len());
            Ok(())
        },
    )?;
    let mut outputs = finish_all(vec![transplanting, heading], cog.threads)?;
    outputs.extend(finish_all(vec![stage, confidence], cog.threads)?);
    write_styles(&outputs, day_range, prepared.at.year())?;
    Ok(PixelReport {
        outputs,
        observed,
        per_stage,
        at: prepared.at,
        dates: prepared.dates.clone(),
    })
}

/// QGIS styles beside the rasters ([`styles`]): days on a ramp over the range found labelled
/// with dates of `year`, the stage paletted with its names, confidence 0–100 %.
fn write_styles(outputs: &[PathBuf], day_range: (i16, i16), year: i32) -> Result<()> {
    let (lo, hi) = if day_range.0 <= day_range.1 {
        (f64::from(day_range.0), f64::from(day_range.1))
    } else {
        (1.0, 365.0)
    };
    for path in outputs {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let style = match stem.as_deref() {
            Some("transplanting_doy") => {
                styles::day_of_year("style.transplanting_doy", lo, hi, year)
            }
            Some("heading_doy") => styles::day_of_year("style.heading_doy", lo, hi, year),
            Some("confidence") => styles::confidence_percent(),
            Some("stage") => styles::stage_raster(),
            _ => continue,
        };
        crate::io::write_atomic(&path.with_extension("qml"), style.as_bytes())?;
    }
    Ok(())
}

/// Analyse every pixel of `window`.
fn analyse_window(
    worker: &mut Worker,
    window: Window,
    vi: &[Source],
    lswi: &[Source],
    req: &StageRequest,
    settings: &Settings,
    year_start: f64,
) -> Result<Cells> {
    let n = window.len();
    for (k, source) in vi.iter().chain(lswi).enumerate() {
        worker.values[k].resize(n, 0.0);
        worker.valid[k].resize(n, false);
        worker.readers.read_physical(
            &source.path,
            source.band,
            source.nodata,
            req.mask_band,
            source.scale_offset,
            window,
            &mut worker.values[k],
            &mut worker.valid[k],
        )?;
    }
    let series = |offset: usize, sources: &[Source], i: usize| {
        let mut s = PlotSeries::default();
        for (k, source) in sources.iter().enumerate() {
            let (v, ok) = (worker.values[offset + k][i], worker.valid[offset + k][i]);
            if ok && v.is_finite() {
                s.days.push(source.day);
                s.values.push(v * req.scale);
                s.valid_share.push(1.0);
            } else {
                s.dropped
                    .push(Date::from_days_since_epoch(source.day as i32));
            }
        }
        s
    };
    let doy = |d: Option<Date>| {
        d.map_or(DOY_NODATA, |d| {
            (f64::from(d.days_since_epoch()) - year_start).clamp(-32767.0, 32767.0) as i16
        })
    };
    let mut cells = Cells {
        transplanting: Vec::with_capacity(n),
        heading: Vec::with_capacity(n),
        stage: Vec::with_capacity(n),
        confidence: Vec::with_capacity(n),
    };
    for i in 0..n {
        let v = series(0, vi, i);
        if v.days.is_empty() {
            cells.transplanting.push(DOY_NODATA);
            cells.heading.push(DOY_NODATA);
            cells.stage.push(CODE_NODATA);
            cells.confidence.push(CODE_NODATA);
            continue;
        }
        let l = (!lswi.is_empty()).then(|| series(vi.len(), lswi, i));
        let p = analyse::analyse("", &req.default_class, None, &v, l.as_ref(), settings);
        cells.transplanting.push(doy(p.transplanting));
        cells.heading.push(doy(p.heading));
        cells.stage.push(p.call.stage.code());
        cells
            .confidence
            .push((p.confidence * 100.0).round().clamp(0.0, 100.0) as u8);
    }
    Ok(cells)
}
