//! Writing index rasters: windows stream into a tiled GeoTIFF beside the output. A Float32 COG
//! is written compressed as it streams, with its average overviews built window by window, and
//! assembled from their tiles in the same file ([`super::cog`]); other COGs are staged
//! uncompressed and compressed by GDAL's COG driver into a temporary name (which builds the
//! overviews when they are not there yet). A rename publishes the file; a failed run leaves
//! nothing under a final name.

use std::path::{Path, PathBuf};

use gdal::raster::{
    Buffer, ColorEntry, ColorTable, GdalType, PaletteInterpretation, RasterCreationOptions,
};
use gdal::{Dataset, DatasetOptions, DriverManager, GdalOpenFlags, Metadata};

use super::gdal_message;
use crate::error::{Error, Result};
use crate::raster::pyramid::{
    cog_factors, window_is_local, Level, TileRow, TileRows, DEFAULT_FIRST_OVERVIEW,
};
use crate::raster::{Grid, Window};

/// Tag of the uncompressed staging file beside an output.
const STAGING: &str = "staging";
/// Tag of a finished file waiting for its rename.
const PART: &str = "part";

/// A file (or directory) that is deleted when dropped, unless kept: staging and partial outputs.
#[derive(Debug)]
pub struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// A hidden name beside `final_path`: `.name.tif.<tag>-<pid>`.
    pub fn beside(final_path: &Path, tag: &str) -> TempPath {
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = final_path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()));
        TempPath { path, armed: true }
    }

    /// Guard an explicit temporary `path` (a file or a directory).
    pub fn at(path: PathBuf) -> TempPath {
        TempPath { path, armed: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Move the file to `dest` (atomic within one filesystem) and stop guarding it. Once a stop
    /// was asked for (a signal), nothing more is published: the temporary is removed instead.
    pub fn persist(mut self, dest: &Path) -> Result<()> {
        if crate::raster::engine::stop_requested() {
            return Err(Error::Interrupted);
        }
        std::fs::rename(&self.path, dest).map_err(|source| Error::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.path.is_dir() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Remove temporary files that a killed run (SIGKILL, power loss) left beside `final_path`:
/// `.name.tif.staging-PID`, `.name.tif.part-PID` and their GDAL side files, when process PID is
/// no longer running. Files of a live process (another paddy writing there) are left alone.
pub fn remove_stale_temporaries(final_path: &Path) {
    let (Some(dir), Some(name)) = (final_path.parent(), final_path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid = [STAGING, PART].iter().find_map(|tag| {
            let digits: String = rest
                .strip_prefix(tag)?
                .strip_prefix('-')?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u32>().ok()
        });
        if let Some(pid) = pid {
            let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
            if !alive {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// What an output band says about itself: description and metadata items.
#[derive(Debug, Clone, Default)]
pub struct OutputMeta {
    pub description: String,
    pub band_metadata: Vec<(String, String)>,
    pub dataset_metadata: Vec<(String, String)>,
    /// For a class raster (integer codes): each code's colour, written as the band's colour
    /// table; overviews then take the nearest code instead of an average.
    pub colours: Vec<(u16, [u8; 3])>,
}

/// The layout of a raster output (`paddy index --layout`, a run file's `layout`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Cloud Optimized GeoTIFF with overviews (the default: zooms fast in QGIS and streams over
    /// HTTP): compressed as it is written, overviews built in the same pass.
    #[default]
    Cog,
    /// A tiled GeoTIFF compressed as it is written, no overviews: one pass, what gdal_calc.py
    /// and rasterio write; fastest when nobody browses the file zoomed out.
    Tiled,
}

/// How values are transformed before compression (TIFF predictor; `paddy index --predictor`).
/// All are lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Predictor {
    /// The codec's best trade: horizontal differencing with ZSTD (chosen for speed: libtiff's
    /// floating-point predictor costs as much CPU as ZSTD itself and saves about 10 % of size),
    /// the floating-point predictor with DEFLATE and LZW (chosen for size and wide use).
    #[default]
    Auto,
    /// No predictor.
    None,
    /// Horizontal differencing (TIFF predictor 2), applied to the cells' bits as integers:
    /// exact for Float32 too.
    Horizontal,
    /// The floating-point predictor (TIFF predictor 3); integer rasters get horizontal.
    #[value(name = "float")]
    FloatingPoint,
}

/// The codec of a raster output (`paddy index --compress`, a run file's `compress`). All are
/// lossless.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Fastest to write and to read, files about as small as DEFLATE's; GDAL ≥ 2.3, QGIS ≥ 3.4.
    #[default]
    Zstd,
    /// Read by every GIS and terminal; about 2× slower end to end.
    Deflate,
    /// Read by every GIS.
    Lzw,
    /// No compression.
    None,
}

impl Codec {
    /// GDAL's COMPRESS value.
    pub fn gdal_name(self) -> &'static str {
        match self {
            Codec::Zstd => "ZSTD",
            Codec::Deflate => "DEFLATE",
            Codec::Lzw => "LZW",
            Codec::None => "NONE",
        }
    }
}

/// Compression and layout of the final GeoTIFF.
#[derive(Debug, Clone)]
pub struct CogOptions {
    pub layout: Layout,
    pub compress: Codec,
    /// Compression level, when the codec has one; `None`: ZSTD 1 (higher levels cost much time
    /// and gain almost nothing on Float32 index values), GDAL's default otherwise (DEFLATE 6).
    pub level: Option<u32>,
    pub predictor: Predictor,
    /// Threads GDAL may use to compress.
    pub threads: usize,
    /// Tile size in pixels.
    pub block_size: usize,
    /// A COG's first overview is 1/`first_overview` of the full resolution (a power of two,
    /// default [`DEFAULT_FIRST_OVERVIEW`]); the others halve it until one tile holds a level.
    pub first_overview: usize,
}

impl Default for CogOptions {
    fn default() -> Self {
        CogOptions {
            layout: Layout::Cog,
            compress: Codec::Zstd,
            level: None,
            predictor: Predictor::Auto,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            block_size: 512,
            first_overview: DEFAULT_FIRST_OVERVIEW,
        }
    }
}

impl CogOptions {
    /// DEFLATE with the floating-point predictor: what every GIS and terminal reads (for files
    /// handed to other people's software, such as prescription maps).
    pub fn widely_readable() -> Self {
        CogOptions {
            compress: Codec::Deflate,
            ..CogOptions::default()
        }
    }

    /// The overview factors of a COG of `width` × `height` pixels ([`cog_factors`]).
    pub fn overview_factors(&self, width: usize, height: usize) -> Vec<usize> {
        cog_factors(width, height, self.block_size, self.first_overview)
    }

    /// The TIFF predictor (1, 2 or 3) for cells that are `float` or not.
    fn predictor_code(&self, float: bool) -> u8 {
        let codec_takes_one = self.compress != Codec::None;
        match self.predictor {
            _ if !codec_takes_one => 1,
            Predictor::None => 1,
            Predictor::Horizontal => 2,
            Predictor::FloatingPoint => {
                if float {
                    3
                } else {
                    2
                }
            }
            Predictor::Auto => match (self.compress, float) {
                (Codec::Zstd, _) | (_, false) => 2,
                _ => 3,
            },
        }
    }

    fn level(&self) -> Option<u32> {
        self.level
            .or_else(|| (self.compress == Codec::Zstd).then_some(1))
    }

    fn creation_options(&self, classes: bool, float: bool) -> Vec<String> {
        let mut o = vec![
            format!("COMPRESS={}", self.compress.gdal_name()),
            format!("BLOCKSIZE={}", self.block_size),
            format!("NUM_THREADS={}", self.threads.max(1)),
            "BIGTIFF=IF_SAFER".into(),
            // Averages keep nodata out of overview pixels; the zoomed-out view stays honest.
            // Class codes are not numbers to average: the nearest code.
            format!(
                "OVERVIEW_RESAMPLING={}",
                if classes { "NEAREST" } else { "AVERAGE" }
            ),
        ];
        match self.predictor_code(float) {
            2 => o.push("PREDICTOR=STANDARD".into()),
            3 => o.push("PREDICTOR=FLOATING_POINT".into()),
            _ => {}
        }
        if let Some(level) = self.level() {
            o.push(format!("LEVEL={level}"));
        }
        o
    }

    /// Creation options of a tiled GeoTIFF compressed as it is written.
    fn tiled_options(&self, float: bool) -> Vec<String> {
        let mut o = vec![
            "TILED=YES".to_string(),
            format!("BLOCKXSIZE={}", self.block_size),
            format!("BLOCKYSIZE={}", self.block_size),
            format!("COMPRESS={}", self.compress.gdal_name()),
            format!("NUM_THREADS={}", self.threads.max(1)),
            "BIGTIFF=IF_SAFER".into(),
        ];
        match self.predictor_code(float) {
            1 => {}
            p => o.push(format!("PREDICTOR={p}")),
        }
        match (self.compress, self.level()) {
            (Codec::Deflate, Some(l)) => o.push(format!("ZLEVEL={l}")),
            (Codec::Zstd, Some(l)) => o.push(format!("ZSTD_LEVEL={l}")),
            _ => {}
        }
        o
    }
}

/// One single-band raster being written in windows (Float32 for indices; Int16, Byte… for
/// days and class codes), renamed into place when finished. How it is written:
///
/// * [`Layout::Tiled`]: compressed as it is written, no overviews.
/// * A COG of Float32 values written in windows that each hold whole overview cells (the usual
///   case): the full resolution compressed as it is written, each average overview level built
///   from the windows into its own compressed file, and the COG assembled from their tiles as
///   they are ([`super::cog`]), in the full resolution's own file: one compression pass, no
///   uncompressed copy, no second file.
/// * Any other COG (class codes, integer rasters, windows that split overview cells): staged
///   uncompressed and copied compressed by GDAL's COG driver.
pub struct IndexWriter<T: GdalType + Copy = f32> {
    final_path: PathBuf,
    stage: TempPath,
    dataset: Option<Dataset>,
    classes: bool,
    cog: CogOptions,
    route: Route,
    /// The COG's overview factors ([`CogOptions::overview_factors`]).
    factors: Vec<usize>,
    /// The overview levels, filled as windows arrive (Float32 COGs only).
    pyramid: Option<Pyramid>,
    cell: std::marker::PhantomData<T>,
}

/// How an output becomes its final file (see [`IndexWriter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Tiled,
    Assembled,
    Staged,
}

/// Overviews built in the stream (at the writer's factors): the nodata value, whether every window so far
/// could fill its share (if one could not, the COG driver rebuilds them from the file), each
/// level's rows of tiles being filled, and, when the COG is assembled, each level's own
/// compressed file.
struct Pyramid {
    nodata: f32,
    complete: bool,
    rows: Vec<TileRows>,
    levels: Vec<(TempPath, Option<Dataset>)>,
}

/// A GeoTIFF of one `T` band at `path`, `size` pixels, with creation `options`.
fn create_tiff<T: GdalType + Copy>(
    path: &Path,
    size: (usize, usize),
    options: &[String],
) -> gdal::errors::Result<Dataset> {
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let options = RasterCreationOptions::from_iter(options.iter().map(String::as_str));
    driver.create_with_band_type_with_options::<T, _>(path, size.0, size.1, 1, &options)
}

/// Georeferencing, nodata, description, metadata and colours of a new output.
fn describe(
    ds: &mut Dataset,
    grid: &Grid,
    nodata: f64,
    meta: &OutputMeta,
) -> gdal::errors::Result<()> {
    if let Some(gt) = grid.geo_transform {
        ds.set_geo_transform(&gt)?;
    }
    if let Some(wkt) = &grid.crs_wkt {
        ds.set_projection(wkt)?;
    }
    for (k, v) in &meta.dataset_metadata {
        ds.set_metadata_item(k, v, "")?;
    }
    let mut band = ds.rasterband(1)?;
    band.set_no_data_value(Some(nodata))?;
    band.set_description(&meta.description)?;
    for (k, v) in &meta.band_metadata {
        band.set_metadata_item(k, v, "")?;
    }
    if !meta.colours.is_empty() {
        let mut table = ColorTable::new(PaletteInterpretation::Rgba);
        for &(code, [r, g, b]) in &meta.colours {
            let entry = ColorEntry::rgba(r.into(), g.into(), b.into(), 255);
            table.set_color_entry(code, &entry);
        }
        band.set_color_table(&table);
    }
    Ok(())
}

impl<T: GdalType + Copy + 'static> IndexWriter<T> {
    /// Start an output on `grid` with `nodata` declared and `meta` attached, to be written as
    /// `cog` says, in windows that each hold whole overview cells.
    pub fn create(
        final_path: &Path,
        grid: &Grid,
        nodata: f64,
        meta: &OutputMeta,
        cog: &CogOptions,
    ) -> Result<Self> {
        Self::create_for_windows(final_path, grid, nodata, meta, cog, true)
    }

    /// [`IndexWriter::create`] for windows that may split overview cells (`local` false: a
    /// window's share of an overview is then not its own, and a COG is staged uncompressed).
    pub fn create_for_windows(
        final_path: &Path,
        grid: &Grid,
        nodata: f64,
        meta: &OutputMeta,
        cog: &CogOptions,
        local: bool,
    ) -> Result<Self> {
        super::init();
        remove_stale_temporaries(final_path);
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: final_path.to_path_buf(),
            message: gdal_message(&e),
        };
        let float = T::datatype().is_floating();
        let factors = cog.overview_factors(grid.width, grid.height);
        // Average overviews of Float32 values are built in the stream; class codes (nearest) and
        // other types are left to the COG driver.
        let averaged = meta.colours.is_empty() && T::datatype() == f32::datatype();
        let route = match cog.layout {
            Layout::Tiled => Route::Tiled,
            Layout::Cog if averaged && local && !factors.is_empty() => Route::Assembled,
            Layout::Cog => Route::Staged,
        };
        let stage = TempPath::beside(
            final_path,
            if route == Route::Tiled { PART } else { STAGING },
        );
        let options = if route == Route::Staged {
            [
                "TILED=YES",
                "BLOCKXSIZE=512",
                "BLOCKYSIZE=512",
                "COMPRESS=NONE",
                "BIGTIFF=IF_SAFER",
            ]
            .map(String::from)
            .to_vec()
        } else {
            cog.tiled_options(float)
        };
        let mut ds =
            create_tiff::<T>(stage.path(), (grid.width, grid.height), &options).map_err(fail)?;
        describe(&mut ds, grid, nodata, meta).map_err(fail)?;
        let pyramid = (route != Route::Tiled && averaged && !factors.is_empty()).then(|| Pyramid {
            rows: factors
                .iter()
                .map(|&f| {
                    let size = (grid.width.div_ceil(f), grid.height.div_ceil(f));
                    TileRows::new(size.0, size.1, cog.block_size, nodata as f32)
                })
                .collect(),
            nodata: nodata as f32,
            complete: true,
            levels: Vec::new(),
        });
        let mut writer = IndexWriter {
            final_path: final_path.to_path_buf(),
            stage,
            dataset: None,
            classes: !meta.colours.is_empty(),
            cog: cog.clone(),
            route,
            factors,
            pyramid,
            cell: std::marker::PhantomData,
        };
        if let Some(p) = writer.pyramid.as_mut() {
            if route == Route::Assembled {
                for (i, &f) in writer.factors.iter().enumerate() {
                    let path =
                        PathBuf::from(format!("{}.o{}", writer.stage.path().display(), i + 1));
                    let level = TempPath::at(path);
                    let size = (grid.width.div_ceil(f), grid.height.div_ceil(f));
                    let level_ds =
                        create_tiff::<f32>(level.path(), size, &options).map_err(fail)?;
                    p.levels.push((level, Some(level_ds)));
                }
            } else {
                let factors: Vec<i32> = writer.factors.iter().map(|&f| f as i32).collect();
                ds.build_overviews("NONE", &factors, &[]).map_err(fail)?;
            }
        }
        writer.dataset = Some(ds);
        Ok(writer)
    }

    /// The name the output gets when finished.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    fn write_error(&self, e: &gdal::errors::GdalError) -> Error {
        Error::Write {
            path: self.final_path.clone(),
            message: gdal_message(e),
        }
    }

    /// Write one window. Takes the buffer and hands it back for reuse.
    pub fn write(&mut self, window: Window, data: Vec<T>) -> Result<Vec<T>> {
        let ds = self.dataset.as_ref().ok_or_else(|| Error::Write {
            path: self.final_path.clone(),
            message: "written after finish (internal error)".into(),
        })?;
        let mut band = ds.rasterband(1).map_err(|e| self.write_error(&e))?;
        let mut buffer = Buffer::new((window.width, window.height), data);
        band.write(
            (window.x as isize, window.y as isize),
            (window.width, window.height),
            &mut buffer,
        )
        .map_err(|e| self.write_error(&e))?;
        let data = buffer.into_shape_and_vec().1;
        if let Some(pixels) = (&data as &dyn std::any::Any).downcast_ref::<Vec<f32>>() {
            self.write_overviews(window, pixels)?;
        }
        Ok(data)
    }

    /// This window's share of every overview level, when it holds all the pixels under its
    /// cells (windows that are whole tiles do); otherwise the COG driver builds the overviews.
    /// A level's rows of tiles go to GDAL once whole.
    fn write_overviews(&mut self, window: Window, pixels: &[f32]) -> Result<()> {
        let Some((width, height)) = self.dataset.as_ref().map(|d| d.raster_size()) else {
            return Ok(());
        };
        let Some(p) = self.pyramid.as_mut().filter(|p| p.complete) else {
            return Ok(());
        };
        let top = self.factors.last().copied().unwrap_or(1);
        if !window_is_local(&window, width, height, top) {
            p.complete = false;
            return Ok(());
        }
        let mut finished = Vec::new();
        // Level 1/2 first, halved until each factor of the pyramid (its first may be 1/4 or less).
        let mut level = Level::from_pixels(pixels, window.width, window.height, p.nodata);
        let mut at_factor = 2;
        for (i, &f) in self.factors.iter().enumerate() {
            while at_factor < f {
                level = level.halve();
                at_factor *= 2;
            }
            let values = level.values(p.nodata);
            let at = (window.x / f, window.y / f);
            for row in p.rows[i].add(at, (level.width, level.height), &values) {
                finished.push((i, row));
            }
        }
        self.write_tile_rows(finished)
    }

    /// Write finished rows of overview tiles, each to its level.
    fn write_tile_rows(&self, rows: Vec<(usize, TileRow)>) -> Result<()> {
        let (Some(p), Some(ds)) = (self.pyramid.as_ref(), self.dataset.as_ref()) else {
            return Ok(());
        };
        for (i, row) in rows {
            let band = match p.levels.get(i).and_then(|(_, d)| d.as_ref()) {
                Some(d) => d.rasterband(1),
                None => ds.rasterband(1).and_then(|b| b.overview(i)),
            };
            let width = row.values.len() / row.height.max(1);
            let mut values = Buffer::new((width, row.height), row.values);
            band.and_then(|mut o| o.write((0, row.y as isize), (width, row.height), &mut values))
                .map_err(|e| self.write_error(&e))?;
        }
        Ok(())
    }

    /// Close the file and give it its final name: a tiled output is read back and renamed; a
    /// COG is assembled from its compressed files, or its staging file is compressed into a
    /// COG by GDAL's driver, under a temporary name, read back, renamed.
    pub fn finish(self) -> Result<PathBuf> {
        let (file, path) = self.complete()?;
        file.persist(&path)?;
        Ok(path)
    }

    /// [`IndexWriter::finish`] up to the rename: the finished file under its temporary name,
    /// and its final name.
    fn complete(mut self) -> Result<(TempPath, PathBuf)> {
        let rest: Vec<(usize, TileRow)> = self
            .pyramid
            .iter_mut()
            .flat_map(|p| p.rows.iter_mut().enumerate())
            .flat_map(|(i, rows)| rows.rest().into_iter().map(move |r| (i, r)))
            .collect();
        self.write_tile_rows(rest)?;
        if let Some(ds) = self.dataset.take() {
            ds.close().map_err(|e| self.write_error(&e))?;
        }
        let mut levels = Vec::new();
        for (path, ds) in self.pyramid.iter_mut().flat_map(|p| p.levels.iter_mut()) {
            if let Some(ds) = ds.take() {
                ds.close().map_err(|e| Error::Write {
                    path: self.final_path.clone(),
                    message: gdal_message(&e),
                })?;
            }
            levels.push(path.path().to_path_buf());
        }
        // The finished file is the staging file itself (tiled, or a COG assembled in place) or
        // a copy of it beside.
        let complete = self.pyramid.as_ref().is_some_and(|p| p.complete);
        let copy = match self.route {
            Route::Tiled => None,
            Route::Assembled if complete => {
                let part = TempPath::beside(&self.final_path, PART);
                let levels: Vec<&Path> = levels.iter().map(PathBuf::as_path).collect();
                match super::cog::assemble(self.stage.path(), &levels, part.path())? {
                    super::cog::Assembled::InPlace => None,
                    super::cog::Assembled::Copied => Some(part),
                }
            }
            _ => {
                let part = TempPath::beside(&self.final_path, PART);
                self.copy_with_cog_driver(part.path())?;
                Some(part)
            }
        };
        let file = match copy {
            Some(part) => part,
            None => std::mem::replace(&mut self.stage, TempPath::at(PathBuf::new())),
        };
        self.check_reads_back(file.path())?;
        Ok((file, self.final_path.clone()))
    }

    /// GDAL's COG driver copies the staging file (or, when an assembled COG's windows split
    /// overview cells after all, its compressed full resolution) to `dest`. Overviews not built
    /// in the stream (class codes, other types, windows that split overview cells) are built by
    /// GDAL on that file first, at the pyramid's own factors, and used as they are.
    fn copy_with_cog_driver(&self, dest: &Path) -> Result<()> {
        let in_stream =
            self.route == Route::Staged && self.pyramid.as_ref().is_some_and(|p| p.complete);
        if !in_stream && !self.factors.is_empty() {
            self.build_overviews()?;
        }
        let staged = super::open(self.stage.path())?;
        let driver = DriverManager::get_driver_by_name("COG").map_err(|e| self.write_error(&e))?;
        let mut options = self
            .cog
            .creation_options(self.classes, T::datatype().is_floating());
        options.push(if self.factors.is_empty() {
            "OVERVIEWS=NONE".into()
        } else {
            "OVERVIEWS=FORCE_USE_EXISTING".into()
        });
        let options = RasterCreationOptions::from_iter(options);
        let copy = staged
            .create_copy(&driver, dest, &options)
            .map_err(|e| self.write_error(&e))?;
        copy.close().map_err(|e| self.write_error(&e))?;
        Ok(())
    }

    /// GDAL builds the staging file's overviews at the writer's factors: averages, or the
    /// nearest class code.
    fn build_overviews(&self) -> Result<()> {
        let mut ds = Dataset::open_ex(
            self.stage.path(),
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_UPDATE,
                ..DatasetOptions::default()
            },
        )
        .map_err(|e| self.write_error(&e))?;
        let factors: Vec<i32> = self.factors.iter().map(|&f| f as i32).collect();
        let resampling = if self.classes { "NEAREST" } else { "AVERAGE" };
        ds.build_overviews(resampling, &factors, &[])
            .map_err(|e| self.write_error(&e))?;
        ds.close().map_err(|e| self.write_error(&e))
    }

    /// GDAL's COG copy can end "successfully" with a short file when the disk fills up (the
    /// failed write is only logged): read the file's last row back before it may take the final
    /// name. The full-resolution data is written last, so a cut file fails here.
    fn check_reads_back(&self, path: &Path) -> Result<()> {
        let fail = |message: String| Error::Write {
            path: self.final_path.clone(),
            message: format!("the written file does not read back ({message}); is the disk full?"),
        };
        let ds = gdal::Dataset::open(path).map_err(|e| fail(gdal_message(&e)))?;
        let band = ds.rasterband(1).map_err(|e| fail(gdal_message(&e)))?;
        let (w, h) = band.size();
        if h > 0 {
            band.read_as::<f64>((0, h as isize - 1), (w, 1), (w, 1), None)
                .map_err(|e| fail(gdal_message(&e)))?;
        }
        Ok(())
    }
}

/// Finish several outputs, up to `at_once` side by side, and return their final paths in
/// order (or the first error; the others still finish or clean up). A COG's finish is an
/// overview pass on one thread and then compression on GDAL's threads, so outputs finished
/// together keep every core busy instead of idling through each overview pass in turn.
pub fn finish_all<T: GdalType + Copy + Send + 'static>(
    writers: Vec<IndexWriter<T>>,
    at_once: usize,
) -> Result<Vec<PathBuf>> {
    let n = writers.len();
    let queue = std::sync::Mutex::new(writers.into_iter().enumerate());
    let done = std::sync::Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..at_once.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((i, writer)) = next else { break };
                let result = writer.complete();
                if let Ok(mut d) = done.lock() {
                    d.push((i, result));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    // All or none: every file is finished before any takes its final name, so a stop asked
    // for while they finish leaves none of them.
    let finished: Vec<(TempPath, PathBuf)> =
        done.into_iter().map(|(_, r)| r).collect::<Result<_>>()?;
    finished
        .into_iter()
        .map(|(file, path)| file.persist(&path).map(|()| path))
        .collect()
}

/// Write a small file atomically: a temporary name beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomically(path, |temp| {
        std::fs::write(temp, contents).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Let `write` create the file at a temporary path beside `path`, then rename it into place; on
/// any error the temporary file is removed and nothing appears under `path`.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let temp = TempPath::beside(path, PART);
    write(temp.path())?;
    temp.persist(path)
}

/// GDAL reports a full disk as a failed write ("IO error writing tag data"): say what it is
/// when the output's filesystem has (almost) no room left.
pub fn disk_full(dir: &Path) -> Option<String> {
    let c = std::ffi::CString::new(dir.as_os_str().to_string_lossy().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct for a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    (free < 4 << 20).then(|| {
        format!(
            "the output disk is full: {} KiB free at {}",
            free / 1024,
            dir.display()
        )
    })
}

/// `error`, from writing under `dir`, said as a full disk when that is what it is (see
/// [`disk_full`]); the one mapping `paddy run`, `index` and `prescribe` share.
pub fn explain_full_disk(dir: &Path, error: Error) -> Error {
    match disk_full(dir) {
        Some(note) => Error::Input {
            path: dir.to_path_buf(),
            message: format!("{error} ({note}); the files already written are whole"),
        },
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pixel of every level of a COG, as GDAL reads it: full resolution first.
    fn levels(path: &Path) -> Vec<(usize, usize, Vec<f32>)> {
        let ds = Dataset::open(path).expect("open");
        let band = ds.rasterband(1).expect("band");
        let mut out = Vec::new();
        let read = |b: &gdal::raster::RasterBand| {
            let (w, h) = b.size();
            let v = b
                .read_as::<f32>((0, 0), (w, h), (w, h), None)
                .expect("read");
            (w, h, v.into_shape_and_vec().1)
        };
        out.push(read(&band));
        for i in 0..band.overview_count().expect("count") {
            out.push(read(&band.overview(i as usize).expect("overview")));
        }
        out
    }

    /// A 1300 × 1100 Float32 raster with nodata spots, written in 256² windows (`local`: each
    /// holds whole overview cells) as a COG of 256² tiles at `path`.
    fn write_test_cog(path: &Path, local: bool) -> Route {
        let (w, h) = (1300, 1100);
        let grid = Grid {
            width: w,
            height: h,
            geo_transform: Some([500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0]),
            crs_wkt: None,
        };
        let value = |x: usize, y: usize| -> f32 {
            match (x * 7 + y * 13) % 97 {
                0 => -9999.0,
                k => ((x as f32) * 0.37).sin() * 0.5 + k as f32 / 200.0 + y as f32 * 1e-4,
            }
        };
        let meta = OutputMeta {
            description: "TEST".into(),
            ..OutputMeta::default()
        };
        let cog = CogOptions {
            threads: 2,
            block_size: 256,
            ..CogOptions::default()
        };
        let windows = crate::raster::plan_windows(w, h, (256, 256), 1 << 16);
        let mut writer =
            IndexWriter::<f32>::create_for_windows(path, &grid, -9999.0, &meta, &cog, local)
                .expect("create");
        let route = writer.route;
        for win in &windows {
            let data = (0..win.len())
                .map(|i| value(win.x + i % win.width, win.y + i / win.width))
                .collect();
            writer.write(*win, data).expect("write");
        }
        writer.finish().expect("finish");
        route
    }

    /// The assembled COG against the staged route (what GDAL's COG driver made of the same
    /// windows before): the same pixels at every level, bit for bit, and the same tile bytes.
    #[test]
    fn an_assembled_cog_has_the_staged_cogs_pixels() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut paths = Vec::new();
        for local in [true, false] {
            let path = tmp.path().join(format!("local-{local}.tif"));
            let route = write_test_cog(&path, local);
            let expected = if local {
                Route::Assembled
            } else {
                Route::Staged
            };
            assert_eq!(route, expected);
            paths.push(path);
        }
        let (assembled, staged) = (levels(&paths[0]), levels(&paths[1]));
        assert_eq!(
            assembled.len(),
            3,
            "full resolution and 2 overviews (1/4, 1/8)"
        );
        assert_eq!(assembled.len(), staged.len());
        for (k, (a, s)) in assembled.iter().zip(&staged).enumerate() {
            assert_eq!((a.0, a.1), (s.0, s.1), "level {k}");
            let same =
                a.2.iter()
                    .zip(&s.2)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "level {k}: pixels differ");
        }
        // GDAL's driver compresses with the same libtiff codec: every level's tiles are the
        // same bytes.
        assert_eq!(tile_bytes(&paths[0]), tile_bytes(&paths[1]));
    }

    /// Every level's tiles, as stored (compressed), full resolution first, row-major.
    fn tile_bytes(path: &Path) -> Vec<Vec<Vec<u8>>> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path).expect("open");
        let ds = Dataset::open(path).expect("open");
        let main = ds.rasterband(1).expect("band");
        let n = main.overview_count().expect("count") as usize;
        let bands = std::iter::once(ds.rasterband(1).expect("band"))
            .chain((0..n).map(|i| main.overview(i).expect("overview")));
        let item = |b: &gdal::raster::RasterBand, key: String| -> u64 {
            b.metadata_item(&key, "TIFF")
                .and_then(|v| v.parse().ok())
                .expect("TIFF block metadata")
        };
        bands
            .map(|b| {
                let ((w, h), (bw, bh)) = (b.size(), b.block_size());
                let mut tiles = Vec::new();
                for y in 0..h.div_ceil(bh) {
                    for x in 0..w.div_ceil(bw) {
                        let at = item(&b, format!("BLOCK_OFFSET_{x}_{y}"));
                        let mut t = vec![0u8; item(&b, format!("BLOCK_SIZE_{x}_{y}")) as usize];
                        file.read_exact_at(&mut t, at).expect("tile");
                        tiles.push(t);
                    }
                }
                tiles
            })
            .collect()
    }

    /// Class codes (nearest, built by GDAL on the staging file) get the same pyramid as the
    /// averaged index values: 1/4 and 1/8 by default, GDAL's 1/2, 1/4 and 1/8 from 2; each
    /// overview cell is one of the codes under it, and the file is a COG.
    #[test]
    fn class_codes_get_the_same_pyramid() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (w, h) = (1300usize, 1100usize);
        let grid = Grid {
            width: w,
            height: h,
            geo_transform: Some([500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0]),
            crs_wkt: None,
        };
        let meta = OutputMeta {
            description: "stage".into(),
            colours: vec![(1, [10, 20, 30]), (2, [40, 50, 60]), (3, [70, 80, 90])],
            ..OutputMeta::default()
        };
        let code = |x: usize, y: usize| 1 + ((x / 37 + y / 53) % 3) as u8;
        for (first, sizes) in [
            (4usize, vec![(325usize, 275usize), (163, 138)]),
            (2, vec![(650, 550), (325, 275), (163, 138)]),
        ] {
            let cog = CogOptions {
                threads: 1,
                block_size: 256,
                first_overview: first,
                ..CogOptions::default()
            };
            let path = tmp.path().join(format!("stage-{first}.tif"));
            let mut writer =
                IndexWriter::<u8>::create(&path, &grid, 0.0, &meta, &cog).expect("create");
            for win in crate::raster::plan_windows(w, h, (256, 256), 1 << 16) {
                let data = (0..win.len())
                    .map(|i| code(win.x + i % win.width, win.y + i / win.width))
                    .collect();
                writer.write(win, data).expect("write");
            }
            writer.finish().expect("finish");
            let ds = Dataset::open(&path).expect("open");
            assert_eq!(
                ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
                Some("COG")
            );
            let band = ds.rasterband(1).expect("band");
            let n = band.overview_count().expect("count") as usize;
            let got: Vec<(usize, usize)> = (0..n)
                .map(|i| band.overview(i).expect("overview").size())
                .collect();
            assert_eq!(got, sizes, "first overview 1/{first}");
            for i in 0..n {
                let o = band.overview(i).expect("overview");
                let (ow, oh) = o.size();
                let v = o
                    .read_as::<u8>((0, 0), (ow, oh), (ow, oh), None)
                    .expect("read");
                assert!(v.data().iter().all(|c| (1..=3).contains(c)), "level {i}");
            }
        }
    }

    /// A window that splits overview cells after all falls back to GDAL's driver, whole.
    #[test]
    fn windows_that_split_overview_cells_still_make_a_cog() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let grid = Grid {
            width: 700,
            height: 600,
            geo_transform: None,
            crs_wkt: None,
        };
        let cog = CogOptions {
            threads: 1,
            block_size: 256,
            ..CogOptions::default()
        };
        let path = tmp.path().join("strips.tif");
        let mut writer =
            IndexWriter::<f32>::create(&path, &grid, -9999.0, &OutputMeta::default(), &cog)
                .expect("create");
        for y in (0..600).step_by(7) {
            let height = 7.min(600 - y);
            let win = Window {
                x: 0,
                y,
                width: 700,
                height,
            };
            let data = (0..win.len()).map(|i| (y + i / 700) as f32).collect();
            writer.write(win, data).expect("write");
        }
        writer.finish().expect("finish");
        let got = levels(&path);
        assert_eq!(got.len(), 2, "full resolution and 1 overview (1/4)");
        assert!(got[0]
            .2
            .iter()
            .enumerate()
            .all(|(i, &v)| v == (i / 700) as f32));
        let names = std::fs::read_dir(tmp.path()).expect("dir").count();
        assert_eq!(names, 1, "temporary files left behind");
    }
}
