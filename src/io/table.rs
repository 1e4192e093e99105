//! Tables of plots out: CSV (one row per plot, in column order), RFC 7946 GeoJSON (WGS84
//! lon/lat plot geometries with the row as properties, written by OGR) and ESRI shapefiles (the
//! same, zipped into one `.shp.zip` or as a `.shp` with its side files). Each is written under a
//! temporary name and renamed. The same table always gives the same CSV and GeoJSON bytes; a
//! shapefile's DBF header also holds the date it was written. A shapefile's column names have
//! at most 10 bytes: longer ones are shortened ([`shapefile_names`]), and
//! [`Table::shapefile_note`] says how for the caller to warn. Used by `paddy stats`,
//! `paddy stage` and `paddy prescribe`.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;

use super::gdal_message;
use crate::error::{Error, Result};
pub use crate::plots::{map_rings, Kind, Parts, Value};

mod names;
pub use names::{note_of as shapefile_note_of, shapefile_names, SHAPEFILE_NAME_MAX};

/// Rows of values under named, typed columns, each row with its plot geometry in lon/lat.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<(String, Kind)>,
    pub rows: Vec<Vec<Value>>,
    /// Per row: the geometry in WGS84 lon/lat, if known.
    pub lonlat: Vec<Option<Parts>>,
    /// Per column, the name it would rather have in a shapefile (at most 10 bytes) than its
    /// own cut short; None, or no entry, for the generic rule ([`shapefile_names`]).
    pub short_names: Vec<Option<String>>,
}

/// Output formats, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
    /// An ESRI shapefile: `.shp.zip` (`zipped`, one file, what GDAL ≥ 3.1 and QGIS open
    /// directly) or `.shp` with its `.shx`, `.dbf`, `.prj` and `.cpg` beside it.
    Shapefile {
        zipped: bool,
    },
}

/// Longest shapefile (DBF) text value, in bytes.
const SHAPEFILE_TEXT_MAX: usize = 254;

impl Format {
    /// The format for `path` by its extension.
    pub fn for_path(path: &Path) -> Result<Format> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".shp.zip") {
            return Ok(Format::Shapefile { zipped: true });
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" => Ok(Format::Csv),
            "geojson" | "json" => Ok(Format::GeoJson),
            "shp" => Ok(Format::Shapefile { zipped: false }),
            _ => Err(Error::usage(format!(
                "{}: unknown output format '.{ext}': use .csv, .geojson, .shp.zip or .shp",
                path.display()
            ))),
        }
    }
}

impl Table {
    /// The columns' names in a shapefile, one per column ([`shapefile_names`] with the
    /// table's [`Table::short_names`]).
    pub fn shapefile_names(&self) -> Result<Vec<String>> {
        shapefile_names(&self.columns, &self.short_names)
    }

    /// The columns a shapefile of the table names otherwise, as (name, shapefile name).
    pub fn shapefile_renamed(&self) -> Result<Vec<(String, String)>> {
        Ok(names::renamed(&self.columns, &self.shapefile_names()?))
    }

    /// The fields a shapefile of the table names otherwise, as (index in the layer, shapefile
    /// name, column name): the aliases a QGIS style gives them, so QGIS shows the long names.
    pub fn shapefile_aliases(&self) -> Result<Vec<(usize, String, String)>> {
        Ok(names::aliases(&self.columns, &self.shapefile_names()?))
    }

    /// What a shapefile of the table names otherwise, in words for a warning: "shapefile column
    /// names have at most 10 bytes, so it has days_after_transplanting as days_after; …";
    /// None when it names every column as the CSV does.
    pub fn shapefile_note(&self) -> Result<Option<String>> {
        Ok(names::note(&self.shapefile_renamed()?))
    }

    /// Refuse two columns with one name (ignoring case, as OGR matches field names): a reader
    /// would take one column's values for the other's.
    fn check_unique_columns(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        match self
            .columns
            .iter()
            .find(|(name, _)| !seen.insert(name.to_lowercase()))
        {
            Some((name, _)) => Err(Error::internal(format!(
                "a table has two columns named '{name}'"
            ))),
            None => Ok(()),
        }
    }

    /// The table as CSV bytes.
    pub fn csv_bytes(&self) -> Result<Vec<u8>> {
        self.check_unique_columns()?;
        let fail = |e: csv::Error| Error::usage(format!("cannot format the CSV table: {e}"));
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(self.columns.iter().map(|c| c.0.as_str()))
            .map_err(fail)?;
        for row in &self.rows {
            for value in row {
                writer
                    .write_field(value.as_text().as_bytes())
                    .map_err(fail)?;
            }
            // An empty record ends the row the fields began.
            writer.write_record(None::<&[u8]>).map_err(fail)?;
        }
        writer
            .into_inner()
            .map_err(|e| Error::usage(format!("cannot format the CSV table: {e}")))
    }

    /// Write the table to `path` in the format its extension names.
    ///
    /// Shapefiles: polygons in WGS84 lon/lat (EPSG:4326, with its `.prj`), text in UTF-8 (with a
    /// `.cpg` saying so), integer, real and text columns as such, null and NaN as null. A
    /// shapefile has no list type, so [`Kind::Reals`] columns (short series) are left out: the
    /// CSV and GeoJSON carry them. Column names take at most 10 bytes
    /// ([`Table::shapefile_names`]; [`Table::shapefile_note`] says which changed); a text longer
    /// than 254 bytes is refused with an error naming its column. A `.shp.zip`
    /// appears whole under its name or not at all. A `.shp` is written into a hidden directory
    /// beside it and its files are then renamed into place, the side files first and the `.shp`
    /// last (each file is replaced whole, the set not at once; stale spatial indexes `.qix`,
    /// `.sbn`, `.sbx` of the old file are removed).
    /// A GeoJSON of many rows is written on up to `threads` threads (None: all cores).
    pub fn write(&self, path: &Path, threads: Option<usize>) -> Result<()> {
        self.check_unique_columns()?;
        match Format::for_path(path)? {
            Format::Csv => super::write_atomic(path, &self.csv_bytes()?),
            Format::GeoJson => {
                super::write_atomically(path, |temp| self.write_geojson(temp, path, 7, threads))
            }
            Format::Shapefile { zipped: true } => self.write_shapefile_zip(path),
            Format::Shapefile { zipped: false } => self.write_shapefile_set(path),
        }
    }

    /// The columns a shapefile keeps: (index in the row, shapefile name, OGR type, text
    /// width), after checking text lengths fit a DBF.
    fn shapefile_columns(
        &self,
        final_path: &Path,
    ) -> Result<Vec<(usize, String, OGRFieldType::Type, usize)>> {
        if !self.lonlat.is_empty() && self.lonlat.iter().all(Option::is_none) {
            return Err(Error::usage(format!(
                "{}: a shapefile needs plots with a known CRS (they are written in WGS84 lon/lat)",
                final_path.display()
            )));
        }
        let short = self.shapefile_names()?;
        let mut columns = Vec::new();
        for (k, ((name, kind), short)) in self.columns.iter().zip(short).enumerate() {
            if *kind == Kind::Reals {
                continue;
            }
            let (ogr_type, width) = match kind {
                Kind::Int => (OGRFieldType::OFTInteger64, 0),
                Kind::Real => (OGRFieldType::OFTReal, 0),
                _ => {
                    let longest = self
                        .rows
                        .iter()
                        .filter_map(|row| match row.get(k) {
                            Some(Value::Text(v)) => Some(v.len()),
                            _ => None,
                        })
                        .max()
                        .unwrap_or(0);
                    if longest > SHAPEFILE_TEXT_MAX {
                        return Err(Error::usage(format!(
                            "{}: column '{name}' holds a text of {longest} bytes; shapefile texts have at most {SHAPEFILE_TEXT_MAX}",
                            final_path.display()
                        )));
                    }
                    (OGRFieldType::OFTString, longest.max(1))
                }
            };
            columns.push((k, short, ogr_type, width));
        }
        Ok(columns)
    }

    /// Write the shapefile's layer `layer_name` at `target` (a `.shp` or a `.shp.zip` name).
    fn write_shapefile(&self, target: &Path, layer_name: &str, final_path: &Path) -> Result<()> {
        let columns = self.shapefile_columns(final_path)?;
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: final_path.to_path_buf(),
            message: gdal_message(&e),
        };
        let driver = DriverManager::get_driver_by_name("ESRI Shapefile").map_err(fail)?;
        let mut ds = driver.create_vector_only(target).map_err(fail)?;
        let mut srs = SpatialRef::from_epsg(4326).map_err(fail)?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let layer = ds
            .create_layer(LayerOptions {
                name: layer_name,
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPolygon,
                // Without ENCODING the DBF says ISO-8859-1 and no .cpg is written.
                options: Some(&["SHPT=POLYGON", "ENCODING=UTF-8"]),
            })
            .map_err(fail)?;
        for (_, name, ogr_type, width) in &columns {
            let field = FieldDefn::new(name, *ogr_type).map_err(fail)?;
            if *width > 0 {
                field.set_width(*width as i32);
            }
            field.add_to_layer(&layer).map_err(fail)?;
        }
        let sources: Vec<usize> = columns.iter().map(|&(k, ..)| k).collect();
        self.write_features(&layer, &sources, 0..self.rows.len(), false)
            .map_err(fail)?;
        ds.close().map_err(fail)
    }

    /// A `.shp.zip`: written by OGR under a hidden temporary name that keeps the `.shp.zip`
    /// ending (OGR zips only such names), its entries dated now (OGR leaves them at 0, shown
    /// as 1980-00-00), then renamed.
    fn write_shapefile_zip(&self, path: &Path) -> Result<()> {
        let stem = shapefile_stem(path, ".shp.zip");
        let temp = super::TempPath::at(
            path.with_file_name(format!(".{stem}.part-{}.shp.zip", std::process::id())),
        );
        // A leftover of a killed run with the same process id would make OGR refuse the name.
        let _ = std::fs::remove_file(temp.path());
        self.write_shapefile(temp.path(), &stem, path)?;
        super::zip_times::date_entries(temp.path(), std::time::SystemTime::now())?;
        temp.persist(path)
    }

    /// A `.shp` and its side files: written by OGR into a hidden directory beside `path`, then
    /// renamed into place, the `.shp` last.
    fn write_shapefile_set(&self, path: &Path) -> Result<()> {
        let stem = shapefile_stem(path, ".shp");
        let file_name = path.file_name().map_or_else(
            || format!("{stem}.shp"),
            |n| n.to_string_lossy().into_owned(),
        );
        let staging = super::TempPath::at(
            path.with_file_name(format!(".{file_name}.part-{}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(staging.path());
        std::fs::create_dir(staging.path()).map_err(io_error(staging.path()))?;
        self.write_shapefile(&staging.path().join(&file_name), &stem, path)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(staging.path())
            .map_err(io_error(staging.path()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .map_err(io_error(staging.path()))?;
        let is_shp = |p: &PathBuf| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp"));
        files.sort_by_key(|p| (is_shp(p), p.clone()));
        for ext in ["qix", "sbn", "sbx"] {
            let _ = std::fs::remove_file(path.with_extension(ext));
        }
        for file in files {
            let Some(name) = file.file_name() else {
                continue;
            };
            let dest = path.with_file_name(name);
            std::fs::rename(&file, &dest).map_err(io_error(&dest))?;
        }
        Ok(())
    }

    /// A GeoJSON file as [`Table::write`] writes it, with `decimals` decimals of a degree
    /// instead of 7 (~1 cm): layers whose polygons tile each other exactly need more, or the
    /// rounding makes a ring cross itself or its neighbour.
    pub fn write_geojson_with_decimals(
        &self,
        path: &Path,
        decimals: u8,
        threads: Option<usize>,
    ) -> Result<()> {
        super::write_atomically(path, |temp| {
            self.write_geojson(temp, path, decimals, threads)
        })
    }

    fn write_geojson(
        &self,
        temp: &Path,
        final_path: &Path,
        decimals: u8,
        threads: Option<usize>,
    ) -> Result<()> {
        if !self.lonlat.is_empty() && self.lonlat.iter().all(Option::is_none) {
            return Err(Error::usage(format!(
                "{}: GeoJSON needs plots with a known CRS (they are written in WGS84 lon/lat)",
                final_path.display()
            )));
        }
        let split = self.lonlat.iter().flatten().any(crosses_antimeridian);
        let cores =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let parts = cores.min(self.rows.len() / ROWS_PER_PART).max(1);
        self.write_geojson_parts(temp, final_path, decimals, parts, split)
    }

    /// [`Table::write_geojson`] with the rows cut into `parts` runs, each written by OGR on a
    /// thread of its own and the files then joined into one ([`join_collections`]): the same
    /// bytes as one OGR writer makes, in a fraction of the time on several cores. `split`: a
    /// plot crosses the antimeridian, and OGR's RFC 7946 mode is used, by one writer.
    fn write_geojson_parts(
        &self,
        temp: &Path,
        final_path: &Path,
        decimals: u8,
        parts: usize,
        split: bool,
    ) -> Result<()> {
        let n = self.rows.len();
        if parts <= 1 || n < parts || split {
            return self.write_geojson_rows(temp, final_path, decimals, 0..n, split);
        }
        let files: Vec<super::TempPath> = (0..parts)
            .map(|i| super::TempPath::at(PathBuf::from(format!("{}.{i}", temp.display()))))
            .collect();
        let ranges: Vec<std::ops::Range<usize>> = (0..parts)
            .map(|i| i * n / parts..(i + 1) * n / parts)
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .zip(&ranges)
                .skip(1)
                .map(|(file, rows)| {
                    s.spawn(|| {
                        let rows = rows.clone();
                        self.write_geojson_rows(file.path(), final_path, decimals, rows, split)
                    })
                })
                .collect();
            let rows = ranges[0].clone();
            let first = self.write_geojson_rows(files[0].path(), final_path, decimals, rows, split);
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Write {
                            path: final_path.to_path_buf(),
                            message: "a GeoJSON writer thread panicked (internal error)".into(),
                        })
                    })
                })
                .fold(first, Result::and)
        })?;
        let paths: Vec<&Path> = files.iter().map(|f| f.path()).collect();
        match join_collections(&paths) {
            Ok(true) => std::fs::rename(paths[0], temp).map_err(io_error(final_path)),
            // Not laid out as OGR writes today: one writer, as before.
            Ok(false) => self.write_geojson_rows(temp, final_path, decimals, 0..n, split),
            Err(e) => Err(io_error(final_path)(e)),
        }
    }

    /// Rows `rows` of the table as a GeoJSON FeatureCollection at `temp`, written by OGR (in
    /// its RFC 7946 mode when `split`).
    fn write_geojson_rows(
        &self,
        temp: &Path,
        final_path: &Path,
        decimals: u8,
        rows: std::ops::Range<usize>,
        split: bool,
    ) -> Result<()> {
        // GDAL's message names the file it was given, the temporary one: say the final name.
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: final_path.to_path_buf(),
            message: gdal_message(&e).replace(
                &temp.display().to_string(),
                &final_path.display().to_string(),
            ),
        };
        let driver = DriverManager::get_driver_by_name("GeoJSON").map_err(fail)?;
        let mut ds = driver.create_vector_only(temp).map_err(fail)?;
        let mut srs = SpatialRef::from_epsg(4326).map_err(fail)?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let name = final_path
            .file_stem()
            .map_or("plots".into(), |s| s.to_string_lossy().into_owned());
        // RFC 7946: WGS84 lon/lat, no `crs` member, counter-clockwise outer rings, 7 decimals
        // (~1 cm) unless asked for more. The rings are lon/lat already, and paddy orients them
        // (`rfc7946_rings`), so OGR is asked for RFC 7946 only where a plot crosses the
        // antimeridian and must be split: in that mode OGR copies every feature before writing
        // it, field by field through a name map made per feature (a quarter of the time of
        // writing 20 000 plots' statistics). Reals with 9 significant figures: every Float32
        // value exactly, and no 17-digit tails (0.73631967846907209 ha) that OGR prints twice
        // to check (~17 % of the writing, 11 % of the file).
        let precision = format!("COORDINATE_PRECISION={decimals}");
        let mut options = vec!["WRITE_NAME=NO", &precision, "SIGNIFICANT_FIGURES=9"];
        if split {
            options.push("RFC7946=YES");
        }
        let layer = ds
            .create_layer(LayerOptions {
                name: &name,
                srs: split.then_some(&srs),
                ty: OGRwkbGeometryType::wkbUnknown,
                options: Some(&options),
            })
            .map_err(fail)?;
        for (name, kind) in &self.columns {
            let kind = match kind {
                Kind::Int => OGRFieldType::OFTInteger64,
                Kind::Real => OGRFieldType::OFTReal,
                Kind::Text => OGRFieldType::OFTString,
                // A JSON array (so a gap is null: OGR's real lists would write NaN, which is
                // not JSON).
                Kind::Reals => {
                    add_json_field(&layer, name).map_err(|message| Error::Write {
                        path: final_path.to_path_buf(),
                        message,
                    })?;
                    continue;
                }
            };
            FieldDefn::new(name, kind)
                .and_then(|f| f.add_to_layer(&layer))
                .map_err(fail)?;
        }
        let sources: Vec<usize> = (0..self.columns.len()).collect();
        self.write_features(&layer, &sources, rows, !split)
            .map_err(fail)?;
        ds.close().map_err(fail)
    }

    /// One feature per row into `layer`, whose field `i` holds the row's column `sources[i]`;
    /// NaN and missing values are null, a list of reals is JSON text. With `orient`, the rings
    /// run as RFC 7946 has them ([`rfc7946_rings`]).
    fn write_features(
        &self,
        layer: &gdal::vector::Layer,
        sources: &[usize],
        rows: std::ops::Range<usize>,
        orient: bool,
    ) -> gdal::errors::Result<()> {
        let defn = layer.defn();
        let (rows, lonlat) = (
            self.rows.get(rows.clone()).unwrap_or_default(),
            self.lonlat.get(rows).unwrap_or_default(),
        );
        for (row, parts) in rows.iter().zip(lonlat) {
            let mut feature = gdal::vector::Feature::new(defn)?;
            for (field, &k) in sources.iter().enumerate() {
                let value = row.get(k).unwrap_or(&Value::Null);
                match value {
                    Value::Null => feature.set_field_null(field),
                    Value::Real(v) if v.is_nan() => feature.set_field_null(field),
                    Value::Int(v) => feature.set_field_integer64(field, *v),
                    Value::Real(v) => feature.set_field_double(field, *v),
                    Value::Text(v) => feature.set_field_string(field, v),
                    Value::Reals(_) => feature.set_field_string(field, &value.as_text()),
                }?;
            }
            if let Some(parts) = parts {
                let geometry = if orient {
                    ogr_geometry(&rfc7946_rings(parts))
                } else {
                    ogr_geometry(parts)
                };
                feature.set_geometry(geometry?)?;
            }
            feature.create(layer)?;
        }
        Ok(())
    }
}

/// An I/O error on `path`, as paddy reports it.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { path, source }
}

/// Rows below which a GeoJSON is not worth cutting into parts written side by side.
const ROWS_PER_PART: usize = 2000;

/// How OGR's GeoJSON driver ends the features' array and the file.
const COLLECTION_END: &[u8] = b"\n]\n}\n";
/// How it separates two features.
const FEATURE_SEPARATOR: &[u8] = b",\n";

/// Join the FeatureCollections at `parts` (consecutive rows of one table, written by OGR with
/// the same layer options) into the first: its features, then each other part's, as one OGR
/// writer would have written them all. False, with nothing changed, where a part does not
/// begin like the first (up to its features' array) or end as OGR ends one.
fn join_collections(parts: &[&Path]) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom, Write};
    const START: &[u8] = b"\"features\": [\n";
    // Each part's size and the length of its head, up to its first feature.
    let mut heads: Vec<(Vec<u8>, u64)> = Vec::with_capacity(parts.len());
    for part in parts {
        let mut file = std::fs::File::open(part)?;
        let len = file.metadata()?.len();
        let mut start = vec![0u8; len.min(1 << 16) as usize];
        file.read_exact(&mut start)?;
        let mut end = vec![0u8; COLLECTION_END.len().min(len as usize)];
        file.seek(SeekFrom::End(-(end.len() as i64)))?;
        file.read_exact(&mut end)?;
        let Some(at) = start.windows(START.len()).position(|w| w == START) else {
            return Ok(false);
        };
        start.truncate(at + START.len());
        if end != COLLECTION_END || len < (start.len() + end.len()) as u64 {
            return Ok(false);
        }
        heads.push((start, len));
    }
    if heads.iter().any(|(head, _)| *head != heads[0].0) {
        return Ok(false);
    }
    let mut out = std::fs::OpenOptions::new().write(true).open(parts[0])?;
    out.set_len(heads[0].1 - COLLECTION_END.len() as u64)?;
    out.seek(SeekFrom::End(0))?;
    for (part, (head, len)) in parts.iter().zip(&heads).skip(1) {
        out.write_all(FEATURE_SEPARATOR)?;
        // File to file in the kernel (copy_file_range).
        let mut file = std::fs::File::open(part)?;
        file.seek(SeekFrom::Start(head.len() as u64))?;
        let features = len - (head.len() + COLLECTION_END.len()) as u64;
        std::io::copy(&mut file.take(features), &mut out)?;
    }
    out.write_all(COLLECTION_END)?;
    Ok(true)
}

/// The name of a shapefile path without `ending` (case-insensitive): its layer name and the
/// name of the files inside a `.shp.zip`.
fn shapefile_stem(path: &Path, ending: &str) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cut = name.len().saturating_sub(ending.len());
    let stem = match (name.get(..cut), name.get(cut..)) {
        (Some(stem), Some(end)) if end.eq_ignore_ascii_case(ending) => stem,
        _ => name.as_str(),
    };
    if stem.is_empty() {
        "plots".into()
    } else {
        stem.to_string()
    }
}

/// Add a string field of JSON subtype to `layer`: OGR's GeoJSON driver writes its text as
/// JSON (an array here), not as a quoted string.
fn add_json_field(layer: &gdal::vector::Layer, name: &str) -> std::result::Result<(), String> {
    let c_name = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: the field definition is created, used and destroyed here; OGR_L_CreateField
    // copies it into the layer, which outlives the call.
    unsafe {
        let field = gdal_sys::OGR_Fld_Create(c_name.as_ptr(), OGRFieldType::OFTString);
        if field.is_null() {
            return Err(format!("cannot create the field {name}"));
        }
        gdal_sys::OGR_Fld_SetSubType(field, gdal_sys::OGRFieldSubType::OFSTJSON);
        let rv = gdal_sys::OGR_L_CreateField(layer.c_layer(), field, 1);
        gdal_sys::OGR_Fld_Destroy(field);
        if rv != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(format!("cannot add the field {name}"));
        }
    }
    Ok(())
}

/// `parts` with RFC 7946's winding (section 3.1.6): outer rings counter-clockwise, holes
/// clockwise ([`crate::plots::oriented`]).
fn rfc7946_rings(parts: &Parts) -> Parts {
    parts
        .iter()
        .map(|rings| {
            crate::plots::oriented(rings).map_or_else(Vec::new, |polygon| {
                std::iter::once(polygon.exterior())
                    .chain(polygon.interiors())
                    .map(|ring| ring.coords().map(|c| (c.x, c.y)).collect())
                    .collect()
            })
        })
        .collect()
}

/// Whether a lon/lat polygon spans more than half the globe in longitude: a plot across the
/// antimeridian, whose ring jumps from +180° to -180°.
fn crosses_antimeridian(parts: &Parts) -> bool {
    let lons = parts.iter().flatten().flatten().map(|p| p.0);
    let (lo, hi) = lons.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    hi - lo > 180.0
}

/// An OGR Polygon (one part) or MultiPolygon from parts.
pub fn ogr_geometry(parts: &Parts) -> gdal::errors::Result<Geometry> {
    let polygon = |rings: &Vec<Vec<(f64, f64)>>| -> gdal::errors::Result<Geometry> {
        let mut polygon = Geometry::empty(OGRwkbGeometryType::wkbPolygon)?;
        for points in rings {
            let mut ring = Geometry::empty(OGRwkbGeometryType::wkbLinearRing)?;
            for &p in points {
                ring.add_point_2d(p);
            }
            polygon.add_geometry(ring)?;
        }
        Ok(polygon)
    };
    if let [single] = parts.as_slice() {
        return polygon(single);
    }
    let mut multi = Geometry::empty(OGRwkbGeometryType::wkbMultiPolygon)?;
    for rings in parts {
        multi.add_geometry(polygon(rings)?)?;
    }
    Ok(multi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::Dataset;

    /// A square ring, counter-clockwise (as RFC 7946 GeoJSON has outer rings).
    fn square(lon: f64, lat: f64, size: f64) -> Vec<(f64, f64)> {
        vec![
            (lon, lat),
            (lon + size, lat),
            (lon + size, lat + size),
            (lon, lat + size),
            (lon, lat),
        ]
    }

    /// Two plots: a square, and a square with a square hole (clockwise).
    fn table() -> Table {
        let mut hole = square(100.0104, 14.0004, 0.0002);
        hole.reverse();
        Table {
            columns: vec![
                ("plot_id".into(), Kind::Text),
                ("rate".into(), Kind::Real),
                ("zone".into(), Kind::Int),
                ("ndvi_curve".into(), Kind::Reals),
            ],
            rows: vec![
                vec![
                    Value::Text("A-1 ทุ่งนา".into()),
                    Value::Real(42.5),
                    Value::Int(3),
                    Value::Reals(vec![0.1, 0.2]),
                ],
                vec![
                    Value::Text("B-2".into()),
                    Value::Real(f64::NAN),
                    Value::Int(-7_000_000_000),
                    Value::Reals(vec![]),
                ],
            ],
            lonlat: vec![
                Some(vec![vec![square(100.0, 14.0, 0.001)]]),
                Some(vec![vec![square(100.01, 14.0, 0.001), hole]]),
            ],
            short_names: Vec::new(),
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Check what OGR reads back from a shapefile written from [`table`].
    fn check_read_back(path: &Path) {
        let ds = Dataset::open(path).expect("OGR opens the shapefile");
        let mut layer = ds.layer(0).expect("a layer");
        assert_eq!(layer.name(), "plots");
        assert_eq!(layer.feature_count(), 2);
        assert_eq!(layer.defn().geometry_type(), OGRwkbGeometryType::wkbPolygon);
        let srs = layer.spatial_ref().expect("a .prj");
        assert_eq!(srs.auth_code().ok(), Some(4326));
        let fields: Vec<(String, OGRFieldType::Type)> = layer
            .defn()
            .fields()
            .map(|f| (f.name(), f.field_type()))
            .collect();
        // The series column is left out; the others keep their types.
        assert_eq!(
            fields,
            [
                ("plot_id".to_string(), OGRFieldType::OFTString),
                ("rate".to_string(), OGRFieldType::OFTReal),
                ("zone".to_string(), OGRFieldType::OFTInteger64),
            ]
        );
        let features: Vec<_> = layer.features().collect();
        let first = &features[0];
        assert_eq!(
            first.field_as_string(0).expect("read"),
            Some("A-1 ทุ่งนา".to_string())
        );
        assert_eq!(first.field_as_double(1).expect("read"), Some(42.5));
        assert_eq!(first.field_as_integer64(2).expect("read"), Some(3));
        let second = &features[1];
        assert_eq!(second.field_as_double(1).expect("read"), None);
        assert_eq!(
            second.field_as_integer64(2).expect("read"),
            Some(-7_000_000_000)
        );
        // Longitude is x: the files are in lon/lat whatever EPSG:4326's axis order.
        let envelope = first.geometry().expect("a geometry").envelope();
        assert!((envelope.MinX - 100.0).abs() < 1e-9 && (envelope.MinY - 14.0).abs() < 1e-9);
        // The hole survives as a hole (OGR writes the rings in the shapefile's winding order).
        let holed = second.geometry().expect("a geometry");
        assert_eq!(holed.geometry_type(), OGRwkbGeometryType::wkbPolygon);
        assert_eq!(holed.geometry_count(), 2);
        assert!((holed.area() - (1e-6 - 4e-8)).abs() < 1e-12);
    }

    /// Every polygon (its rings) of a GeoJSON file's features, as written.
    fn polygons_in(path: &Path) -> Vec<Vec<Vec<[f64; 2]>>> {
        let text = std::fs::read_to_string(path).expect("read back");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(json.get("crs").is_none(), "RFC 7946 has no crs member");
        let polygons = |g: &serde_json::Value| -> Vec<Vec<Vec<[f64; 2]>>> {
            let c = &g["coordinates"];
            let one = |p: &serde_json::Value| -> Vec<Vec<[f64; 2]>> {
                serde_json::from_value(p.clone()).expect("rings of positions")
            };
            match g["type"].as_str() {
                Some("Polygon") => vec![one(c)],
                Some("MultiPolygon") => c.as_array().expect("parts").iter().map(one).collect(),
                other => panic!("geometry type {other:?}"),
            }
        };
        json["features"]
            .as_array()
            .expect("features")
            .iter()
            .flat_map(|f| polygons(&f["geometry"]))
            .collect()
    }

    #[test]
    fn geojson_rings_wind_as_rfc_7946_says_and_the_antimeridian_is_split() {
        crate::io::init();
        let dir = tempfile::tempdir().expect("temp dir");
        // Outer rings clockwise and the hole counter-clockwise: the other way round.
        let mut t = table();
        for parts in t.lonlat.iter_mut().flatten() {
            for ring in parts.iter_mut().flatten() {
                ring.reverse();
            }
        }
        for table in [table(), t] {
            let path = dir.path().join("plots.geojson");
            table.write(&path, None).expect("written");
            let polygons = polygons_in(&path);
            assert_eq!(polygons.len(), 2);
            for polygon in &polygons {
                for (k, ring) in polygon.iter().enumerate() {
                    let points: Vec<(f64, f64)> = ring.iter().map(|p| (p[0], p[1])).collect();
                    let area = geo::Area::signed_area(&geo::Polygon::new(points.into(), vec![]));
                    assert!(
                        if k == 0 { area > 0.0 } else { area < 0.0 },
                        "ring {k}: {area}"
                    );
                }
            }
            // The hole is still a hole, of the same size.
            assert_eq!(polygons[1].len(), 2);
        }
        // A plot across the antimeridian, in lon/lat as PROJ gives it (-180 < lon <= 180):
        // OGR splits it at 180 degrees into two parts inside [-180, 180].
        let across = vec![
            (179.9995, 10.0),
            (-179.9995, 10.0),
            (-179.9995, 10.001),
            (179.9995, 10.001),
            (179.9995, 10.0),
        ];
        assert!(crosses_antimeridian(&vec![vec![across.clone()]]));
        assert!(!crosses_antimeridian(&vec![vec![square(
            100.0, 14.0, 0.001
        )]]));
        let split = Table {
            rows: vec![table().rows[0].clone()],
            lonlat: vec![Some(vec![vec![across]])],
            ..table()
        };
        let path = dir.path().join("across.geojson");
        split.write(&path, None).expect("written");
        let parts = polygons_in(&path);
        assert_eq!(parts.len(), 2, "two parts, one each side: {parts:?}");
        for part in &parts {
            let lons: Vec<f64> = part[0].iter().map(|p| p[0]).collect();
            let (lo, hi) = lons
                .iter()
                .fold((180.0f64, -180.0f64), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(hi - lo < 0.01, "a part spans {lo}..{hi}");
        }
    }

    #[test]
    fn a_table_without_rows_is_an_empty_map_and_one_without_a_crs_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = Table {
            rows: vec![],
            lonlat: vec![],
            ..table()
        };
        for name in ["none.geojson", "none.shp.zip"] {
            let path = dir.path().join(name);
            empty.write(&path, None).expect("an empty map");
            let ds = Dataset::open(&path).expect("OGR opens it");
            assert_eq!(ds.layer(0).expect("a layer").feature_count(), 0, "{name}");
        }
        let no_crs = Table {
            lonlat: vec![None, None],
            ..table()
        };
        let e = no_crs
            .write(&dir.path().join("x.geojson"), None)
            .expect_err("no lon/lat")
            .to_string();
        assert!(e.contains("known CRS"), "{e}");
    }

    /// A GeoJSON written in parts side by side has the bytes of one written at once, and OGR
    /// reads every feature back in order.
    #[test]
    fn a_geojson_written_in_parts_is_the_one_written_at_once() {
        crate::io::init();
        let dir = tempfile::tempdir().expect("temp dir");
        let two = table();
        let mut big = Table {
            rows: vec![],
            lonlat: vec![],
            ..table()
        };
        for i in 0..11 {
            let k = i % 2;
            let mut row = two.rows[k].clone();
            row[0] = Value::Text(format!("P{i} «{}»", ["田", "ทุ่ง"][k]));
            big.rows.push(row);
            big.lonlat.push(two.lonlat[k].clone());
        }
        let whole = dir.path().join("whole.geojson");
        big.write_geojson_parts(&whole, &whole, 7, 1, false)
            .expect("at once");
        for parts in [2, 3, 11] {
            let cut = dir.path().join(format!("cut{parts}.geojson"));
            big.write_geojson_parts(&cut, &cut, 7, parts, false)
                .expect("in parts");
            assert_eq!(
                std::fs::read(&cut).expect("read"),
                std::fs::read(&whole).expect("read"),
                "{parts} parts"
            );
        }
        let names: Vec<String> = names_in(dir.path());
        assert_eq!(
            names,
            [
                "cut11.geojson",
                "cut2.geojson",
                "cut3.geojson",
                "whole.geojson"
            ],
            "no part left behind"
        );
        let ds = Dataset::open(dir.path().join("cut3.geojson")).expect("OGR opens it");
        let mut layer = ds.layer(0).expect("a layer");
        let ids: Vec<Option<String>> = layer
            .features()
            .map(|f| f.field_as_string(0).expect("read"))
            .collect();
        let want: Vec<Option<String>> = big
            .rows
            .iter()
            .map(|r| Some(r[0].as_text().into_owned()))
            .collect();
        assert_eq!(ids, want);
    }

    /// Files that do not begin or end as OGR's collections are left as they are.
    #[test]
    fn collections_laid_out_otherwise_are_not_joined() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ogr = "{\n\"type\": \"FeatureCollection\",\n\"features\": [\n{ \"a\": 1 }\n]\n}\n";
        let cases = [
            ("{\"type\":\"FeatureCollection\",\"features\":[{}]}", "no OGR head"),
            ("{\n\"type\": \"FeatureCollection\",\n\"features\": [\n{ }", "cut short"),
            (
                "{\n\"type\": \"FeatureCollection\",\n\"name\": \"x\",\n\"features\": [\n{ }\n]\n}\n",
                "another head",
            ),
        ];
        for (other, why) in cases {
            let (a, b) = (dir.path().join("a"), dir.path().join("b"));
            std::fs::write(&a, ogr).expect("write");
            std::fs::write(&b, other).expect("write");
            assert!(!join_collections(&[&a, &b]).expect("read"), "{why}");
            assert_eq!(std::fs::read_to_string(&a).expect("read"), ogr, "{why}");
        }
        let b = dir.path().join("b");
        std::fs::write(&b, ogr.replace('1', "2")).expect("write");
        assert!(join_collections(&[&dir.path().join("a"), &b]).expect("read"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a")).expect("read"),
            ogr.replace("1 }\n]", "1 },\n{ \"a\": 2 }\n]")
        );
    }

    #[test]
    fn zipped_shapefile_reads_back_with_fields_geometry_and_crs() {
        crate::io::init();
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("plots.shp.zip");
        table().write(&path, None).expect("written");
        assert_eq!(names_in(tmp.path()), ["plots.shp.zip"]);
        check_read_back(&path);
    }

    #[test]
    fn shapefile_set_lands_whole_and_replaces_stale_indexes() {
        crate::io::init();
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("plots.shp");
        std::fs::write(tmp.path().join("plots.qix"), b"stale").expect("stale index");
        table().write(&path, None).expect("written");
        table()
            .write(&path, None)
            .expect("written again over the first");
        assert_eq!(
            names_in(tmp.path()),
            [
                "plots.cpg",
                "plots.dbf",
                "plots.prj",
                "plots.shp",
                "plots.shx"
            ]
        );
        check_read_back(&path);
    }

    /// Long column names are shortened (generically, or to the caller's preferred names),
    /// and OGR reads the columns back under those names with their values; a text too long
    /// for a DBF is refused before anything is written.
    #[test]
    fn long_column_names_are_shortened_and_long_texts_refused() {
        crate::io::init();
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("plots.shp.zip");
        let mut long = table();
        long.columns[1].0 = "rate_kg_per_ha".into();
        long.columns[2].0 = "Rate_kg_per_ha_zone".into();
        long.columns[3].0 = "smoothed_ndvi_series".into();
        assert_eq!(
            long.shapefile_names().expect("names"),
            [
                "plot_id",
                "rate_kg_pe",
                "Rate_kg__1",
                "smoothed_ndvi_series"
            ]
        );
        let note = long.shapefile_note().expect("names").expect("a note");
        assert_eq!(
            note,
            "shapefile column names have at most 10 bytes, so it has rate_kg_per_ha as \
             rate_kg_pe; Rate_kg_per_ha_zone as Rate_kg__1"
        );
        long.write(&path, None).expect("written");
        let read_back = |path: &Path| -> Vec<String> {
            let ds = Dataset::open(path).expect("OGR opens it");
            let layer = ds.layer(0).expect("a layer");
            let names = layer.defn().fields().map(|f| f.name()).collect();
            names
        };
        assert_eq!(read_back(&path), ["plot_id", "rate_kg_pe", "Rate_kg__1"]);
        let ds = Dataset::open(&path).expect("OGR opens it");
        let mut layer = ds.layer(0).expect("a layer");
        let first = layer.features().next().expect("a feature");
        let at = |name: &str| first.field_index(name).expect("a field of that name");
        assert_eq!(
            first.field_as_double(at("rate_kg_pe")).expect("read"),
            Some(42.5)
        );
        assert_eq!(
            first.field_as_integer64(at("Rate_kg__1")).expect("read"),
            Some(3)
        );
        // Preferred names come first.
        long.short_names = vec![None, Some("rate".into()), Some("zone".into())];
        long.write(&path, None).expect("written");
        assert_eq!(read_back(&path), ["plot_id", "rate", "zone"]);
        std::fs::remove_file(&path).expect("removed");
        let mut wordy = table();
        wordy.rows[1][0] = Value::Text("x".repeat(300));
        let message = wordy.write(&path, None).expect_err("refused").to_string();
        assert!(message.contains("'plot_id'"), "{message}");
        assert!(names_in(tmp.path()).is_empty());
    }

    #[test]
    fn formats_by_name() {
        let format = |name: &str| Format::for_path(Path::new(name));
        assert_eq!(
            format("out/x.SHP.ZIP").ok(),
            Some(Format::Shapefile { zipped: true })
        );
        assert_eq!(
            format("x.shp").ok(),
            Some(Format::Shapefile { zipped: false })
        );
        assert_eq!(format("x.geojson").ok(), Some(Format::GeoJson));
        let message = format("x.zip").expect_err("refused").to_string();
        assert!(message.contains(".shp.zip"), "{message}");
        assert_eq!(
            shapefile_stem(Path::new("d/Plots.SHP.zip"), ".shp.zip"),
            "Plots"
        );
        assert_eq!(shapefile_stem(Path::new(".shp.zip"), ".shp.zip"), "plots");
    }
}
