//! The prescription files, in one folder, for each product (nitrogen, spray):
//!
//! - `rx_<product>.tif`: the rate grid over the plots it rates (the flight's; all with a
//!   default rate: [`super::run`]) (Float32, nodata −9999 where no plot touches a cell and
//!   where nothing was observed; a cell shared by plots has the rate of the plot covering most
//!   of it), with `rx_<product>.qml` (classified colours) and a PNG quicklook `rx_<product>.png`
//!   with its legend (not-observed cells hatched);
//! - `rx_<product>_zones.geojson` (RFC 7946, WGS84) and `rx_<product>_zones.shp.zip`: the
//!   machine layer, pieces that tile each plot exactly (no overlaps, nothing outside a plot,
//!   nothing where no rate was given), with plot_id, rate, unit, product, area and total; one
//!   `rx_<product>_zones.qml` styles both (QGIS looks up `<name>.qml` without the extension, so
//!   the vector layers cannot share the raster's name and style);
//! - `rx_<product>_plots.geojson` with `rx_<product>_plots.qml`: the layer for people, one
//!   feature per plot on the grid (the flight's; all with a default rate) with its plot rate,
//!   status (each marked: [`PlotStatus::mark`]), total, share not observed (marked when large),
//!   spray zones and reason ([`crate::export::styles::rx_plots`]) — never to be loaded into a
//!   terminal;
//! - `TASKDATA_<product>/`: ISO 11783-10 TASKDATA.XML + grid, each cell the rate of the machine
//!   piece under its centre (copy one to a USB stick as `TASKDATA`);
//! - `rx_summary.csv`: per plot stage, index, SI, status, rates, product and spray totals;
//! - `rx_report.json`: settings, reference, totals, plots not observed and every file written.
//!
//! All totals (summary, report, quicklook notes, the machine layer's `total` column) are the
//! machine layer's: Σ piece rate × piece area.

use std::path::{Path, PathBuf};

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::export::classes::{rate_classes, Palette};
use crate::export::kind::OutputKind;
use crate::export::styles::StatusMark;
use crate::export::{isoxml, qml, quicklook, styles};
use crate::io::table::{Kind, Parts, Table, Value};
use crate::io::{CogOptions, IndexWriter, OutputMeta};
use crate::plots::{Geom, Plot, Plots};
use crate::raster::Window;

use super::config::RxConfig;
use super::run::{PlotRx, Prescription, RatePass};

/// Nodata of the rate grids (a number every terminal and GIS reads).
pub const NODATA: f32 = -9999.0;

/// One map: which pass, its unit and product.
struct Map<'a> {
    name: &'static str,
    title: String,
    pass: &'a RatePass,
    /// The rate's unit in data (raster metadata, the layers' `unit` column): English, as
    /// every machine reads it (`kg urea/ha`, `L/ha`).
    unit: String,
    /// The same unit as people read it in the language chosen: legends, labels, styles.
    label_unit: String,
    product: String,
    palette: Palette,
    quantity: isoxml::Quantity,
    /// kg N per kg product (nitrogen), for the n_kg_ha column.
    n_fraction: Option<f64>,
}

impl Map<'_> {
    fn nitrogen(&self) -> bool {
        self.n_fraction.is_some()
    }

    /// A plot's rate for people (None: no rate), status, reason and machine total.
    fn plot(&self, p: &PlotRx) -> (Option<f64>, PlotStatus, String, f64) {
        let (rate, observed, staged, reason, total) = if self.nitrogen() {
            (
                p.nitrogen.product,
                p.n_observed,
                p.n_staged,
                &p.nitrogen.reason,
                p.n_product_kg,
            )
        } else {
            (
                p.spray_rate_outside,
                p.spray_observed,
                p.spray_staged,
                &p.spray_reason,
                p.spray_product_l,
            )
        };
        (
            rate.is_finite().then_some(rate),
            PlotStatus::of(observed, staged, rate),
            reason.clone(),
            total,
        )
    }

    /// The kinds of the rate grid, the machine layer and the layer for people.
    fn kinds(&self) -> [OutputKind; 3] {
        if self.nitrogen() {
            [
                OutputKind::RxNitrogen,
                OutputKind::RxNitrogenZones,
                OutputKind::RxNitrogenPlots,
            ]
        } else {
            [
                OutputKind::RxSpray,
                OutputKind::RxSprayZones,
                OutputKind::RxSprayPlots,
            ]
        }
    }
}

/// Declares [`PlotStatus`] from one list of its variants and their texts, with the list of all
/// of them ([`PlotStatus::ALL`]) made from the same list: whatever reads every status (the
/// plots layer's style: [`PlotStatus::mark`]) cannot miss one added later.
macro_rules! plot_status {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// A plot's standing in one pass, as the summary, the plots layer and `report.json`
        /// write it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum PlotStatus {
            $($(#[doc = $doc])* #[serde(rename = $text)] $variant,)*
        }

        impl PlotStatus {
            /// Every status, in the order declared.
            pub const ALL: &'static [PlotStatus] = &[$(PlotStatus::$variant,)*];

            /// The text written in the files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(PlotStatus::$variant => $text,)*
                }
            }
        }
    };
}

plot_status! {
    /// Observed well enough to have its own rate.
    Prescribed = "prescribed",
    /// Not observed; the configured default rate applies.
    DefaultRate = "not observed (default rate)",
    /// Not observed, and no rate.
    NotObserved = "not observed",
    /// Observed, but its growth stage is unknown (no transplanting date, say), so whether it is
    /// in the window is too; the configured default rate applies.
    StageUnknownDefault = "stage unknown (default rate)",
    /// Observed, stage unknown, and no rate.
    StageUnknown = "stage unknown",
}

impl PlotStatus {
    /// Observed (well enough to judge), with a known stage (when the pass needs one), and the
    /// rate given.
    pub fn of(observed: bool, staged: bool, rate: f64) -> Self {
        match (observed, staged, rate.is_finite()) {
            (true, true, _) => PlotStatus::Prescribed,
            (true, false, true) => PlotStatus::StageUnknownDefault,
            (true, false, false) => PlotStatus::StageUnknown,
            (false, _, true) => PlotStatus::DefaultRate,
            (false, _, false) => PlotStatus::NotObserved,
        }
    }

    /// How the plots layer's style marks a plot of this status over its rate's colour.
    pub fn mark(self) -> StatusMark {
        match self {
            PlotStatus::Prescribed => StatusMark::Plain,
            PlotStatus::DefaultRate | PlotStatus::NotObserved => StatusMark::NotObserved,
            PlotStatus::StageUnknownDefault | PlotStatus::StageUnknown => StatusMark::StageUnknown,
        }
    }
}

/// One plot's line of `rx_summary.csv` (the computed columns; the plot's own attributes are
/// written between the id and these). `paddy run` keeps these rows for its report. Numbers are
/// as written: None where the file has an empty cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub plot_id: String,
    pub class: String,
    /// The stage's name, "unknown" without one.
    pub stage: String,
    pub days_after_transplanting: Option<f64>,
    pub area_ha: Option<f64>,
    pub n_index: Option<f64>,
    pub n_index_coverage: Option<f64>,
    pub si: Option<f64>,
    /// None without a nitrogen pass (empty columns).
    pub nitrogen: Option<NitrogenRow>,
    /// None without a spray pass (empty columns).
    pub spray: Option<SprayRow>,
}

/// The nitrogen columns of a summary row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NitrogenRow {
    pub status: PlotStatus,
    pub n_kg_ha: Option<f64>,
    pub product_kg_ha: Option<f64>,
    pub product_kg: Option<f64>,
    pub not_observed_m2: Option<f64>,
    pub reason: String,
}

/// The spray columns of a summary row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SprayRow {
    pub status: PlotStatus,
    pub rate_outside_l_ha: Option<f64>,
    pub area_m2: Option<f64>,
    pub product_l: Option<f64>,
    pub not_observed_m2: Option<f64>,
    pub reason: String,
}

/// `rx_report.json`. The fields (here and in the structs below) are in alphabetical order:
/// the order of the keys in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxReport {
    /// Every file written, paths relative to the report's folder (a moved folder stays whole).
    pub files: Vec<RxFile>,
    pub flight_date: Option<FlightDate>,
    /// The flights read, each with its date and files: the one rated, and the one before it
    /// that the spray zones compare with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flights: Vec<FlightRead>,
    /// Every file read: as given (`paddy prescribe`), or seen from the report's folder as its
    /// `files` are (`paddy run`: the same bytes wherever the run's folders move together).
    pub inputs: Vec<String>,
    pub nitrogen: Option<NitrogenTotals>,
    /// `paddy 0.1.0`.
    pub software: String,
    pub spray: Option<SprayTotals>,
    /// Where the plots' growth stages come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<String>,
    pub warnings: Vec<String>,
}

/// One flight a prescription read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlightRead {
    /// YYYY-MM-DD, when known, and where it comes from.
    pub date: Option<String>,
    pub date_from: Option<String>,
    /// Its files: in a run, the tile first, then the index rasters computed from it.
    pub files: Vec<String>,
    /// `flight` (the rates and zones are read from it) or `previous` (the spray zones compare
    /// with it).
    pub role: String,
}

/// What a prescription read, for `rx_report.json`.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Every file read (`inputs`).
    pub files: Vec<PathBuf>,
    pub flights: Vec<FlightRead>,
    pub stages: Option<String>,
}

/// One file of the prescription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxFile {
    pub kind: OutputKind,
    pub path: String,
}

/// The flight date the stage table was checked against, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlightDate {
    pub date: String,
    pub from: String,
}

/// A rate grid's size and place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridInfo {
    #[serde(deserialize_with = "nan_if_null")]
    pub cell_size_m: f64,
    pub geo_transform: Option<[f64; 6]>,
    pub height: usize,
    pub width: usize,
}

/// The nitrogen pass: the reference, the totals to order, the plots not observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NitrogenTotals {
    pub grid: GridInfo,
    /// The N index's name.
    pub index: String,
    /// kg N (two decimals).
    #[serde(deserialize_with = "nan_if_null")]
    pub n_kg: f64,
    pub not_observed: Vec<String>,
    #[serde(deserialize_with = "nan_if_null")]
    pub not_observed_m2: f64,
    pub product: String,
    /// kg product (two decimals).
    #[serde(deserialize_with = "nan_if_null")]
    pub product_kg: f64,
    /// How the reference was found, in words.
    pub reference: String,
    /// Plots observed but of unknown growth stage (the default rate, or none).
    #[serde(default)]
    pub stage_unknown: Vec<String>,
    #[serde(deserialize_with = "nan_if_null")]
    pub sufficiency_threshold: f64,
    pub zones: usize,
}

/// The spray pass: zones, area and product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SprayTotals {
    pub grid: GridInfo,
    pub not_observed: Vec<String>,
    #[serde(deserialize_with = "nan_if_null")]
    pub not_observed_m2: f64,
    pub product: String,
    /// L of product (two decimals).
    #[serde(deserialize_with = "nan_if_null")]
    pub product_l: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub sprayed_area_m2: f64,
    /// Plots observed but of unknown growth stage (the default rate, or none).
    #[serde(default)]
    pub stage_unknown: Vec<String>,
    pub zones: usize,
}

/// JSON writes a NaN as null; read it back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// (kind, path) of every file.
    pub files: Vec<(OutputKind, PathBuf)>,
    pub total_n_product_kg: f64,
    pub total_n_kg: f64,
    pub total_spray_l: f64,
    pub total_spray_area_m2: f64,
    /// The rows of `rx_summary.csv` and the contents of `rx_report.json`.
    pub rows: Vec<SummaryRow>,
    pub report: RxReport,
}

/// Write every output of `rx` into `dir`, on `threads` workers (None: all cores).
pub fn write(
    rx: &Prescription,
    config: &RxConfig,
    dir: &Path,
    inputs: &Inputs,
    threads: Option<usize>,
) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    let n = &config.nitrogen;
    let mut maps = Vec::new();
    if let Some(pass) = &rx.nitrogen {
        maps.push(Map {
            name: "nitrogen",
            title: crate::i18n::tf("rx.nitrogen_title", &[("product", &n.product)]),
            pass,
            unit: format!("kg {}/ha", n.product),
            label_unit: crate::i18n::tf("unit.product_per_ha", &[("product", &n.product)]),
            product: n.product.clone(),
            palette: Palette::Nitrogen,
            quantity: isoxml::Quantity::MassPerArea,
            n_fraction: Some(n.n_fraction),
        });
    }
    if let Some(pass) = &rx.spray {
        maps.push(Map {
            name: "spray",
            title: crate::i18n::tf("rx.spray_title", &[("product", &config.spray.product)]),
            pass,
            unit: "L/ha".into(),
            label_unit: crate::i18n::t("unit.litres_per_ha"),
            product: config.spray.product.clone(),
            palette: Palette::Spray,
            quantity: isoxml::Quantity::VolumePerArea,
            n_fraction: None,
        });
    }
    // The products' maps side by side (two at most: each writes its own files), listed in order.
    let written = crate::raster::engine::map(&maps, threads, |_, map| {
        let mut files = Vec::new();
        // Each map's tables on its share of the workers.
        let threads = threads.map(|t| (t / maps.len()).max(1));
        write_map(rx, map, dir, threads, &mut files).map(|()| files)
    })?;
    for map_files in written {
        files.extend(map_files?);
    }
    let (mut total_n_product_kg, mut total_spray_l, mut total_spray_area_m2) = (0.0, 0.0, 0.0);
    for row in &rx.plots {
        total_n_product_kg += row.n_product_kg;
        total_spray_l += row.spray_product_l;
        total_spray_area_m2 += row.spray_area_m2;
    }
    let total_n_kg = total_n_product_kg * n.n_fraction;
    let rows = summary_rows(rx);
    let summary = dir.join("rx_summary.csv");
    summary_table(rx, &rows).write(&summary, threads)?;
    files.push((OutputKind::Summary, summary));
    let path = dir.join("rx_report.json");
    files.push((OutputKind::Report, path.clone()));
    let ids = |f: &dyn Fn(&PlotRx) -> bool| -> Vec<String> {
        rx.plots
            .iter()
            .filter(|p| f(p))
            .map(|p| p.id.clone())
            .collect()
    };
    let grid = |pass: &RatePass| GridInfo {
        cell_size_m: pass.layout.cell_size,
        width: pass.layout.grid.width,
        height: pass.layout.grid.height,
        geo_transform: pass.layout.grid.geo_transform,
    };
    let report = RxReport {
        software: format!("paddy {}", env!("CARGO_PKG_VERSION")),
        inputs: inputs
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        flights: inputs.flights.clone(),
        stages: inputs.stages.clone(),
        flight_date: rx.flight_date.as_ref().map(|(d, from)| FlightDate {
            date: d.to_string(),
            from: from.clone(),
        }),
        nitrogen: rx.nitrogen.as_ref().map(|pass| NitrogenTotals {
            grid: grid(pass),
            index: rx.n_index_name.clone(),
            reference: rx.reference.clone(),
            sufficiency_threshold: rx.threshold,
            product: n.product.clone(),
            product_kg: round2(total_n_product_kg),
            n_kg: round2(total_n_kg),
            zones: pass.pieces.len(),
            not_observed: ids(&|p| !p.n_observed),
            stage_unknown: ids(&|p| p.n_observed && !p.n_staged),
            not_observed_m2: round2(rx.plots.iter().map(|p| p.n_unobserved_m2).sum()),
        }),
        spray: rx.spray.as_ref().map(|pass| SprayTotals {
            grid: grid(pass),
            product: config.spray.product.clone(),
            zones: rx.zones.len(),
            sprayed_area_m2: round2(total_spray_area_m2),
            product_l: round2(total_spray_l),
            not_observed: ids(&|p| !p.spray_observed),
            stage_unknown: ids(&|p| p.spray_observed && !p.spray_staged),
            not_observed_m2: round2(rx.plots.iter().map(|p| p.spray_unobserved_m2).sum()),
        }),
        warnings: rx.warnings.clone(),
        files: files
            .iter()
            .map(|(kind, p)| RxFile {
                kind: *kind,
                path: p.strip_prefix(dir).unwrap_or(p).display().to_string(),
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::internal(format!("cannot format the report: {e}")))?;
    crate::io::write_atomic(&path, text.as_bytes())?;
    Ok(Written {
        files,
        total_n_product_kg,
        total_n_kg,
        total_spray_l,
        total_spray_area_m2,
        rows,
        report,
    })
}

/// Two decimals, and never "-0".
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// `v` to 12 significant digits: a rate without the noise of binary fractions (40 kg urea/ha ×
/// 0.46 is 18.4 kg N/ha, not 18.400000000000002), to far below any spreader's precision.
pub fn clean(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v + 0.0;
    }
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// A total to order (kg, L) for people: two decimals as rx_report.json keeps them, trailing
/// zeros cut (`0.08`, `32.57`, `15`), as report.html writes them, so the command's summary, the
/// report and the run's page show one number.
pub fn amount(v: f64) -> String {
    let s = format!("{:.2}", round2(v));
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One rate map: GeoTIFF + style + quicklook, machine and people layers + styles, ISOXML.
fn write_map(
    rx: &Prescription,
    map: &Map,
    dir: &Path,
    threads: Option<usize>,
    files: &mut Vec<(OutputKind, PathBuf)>,
) -> Result<()> {
    let pass = map.pass;
    let grid = &pass.layout.grid;
    // The classes depend only on the distinct rates (a handful; the grid has millions of cells).
    let mut seen = std::collections::HashSet::new();
    let rates: Vec<f64> = pass
        .values
        .iter()
        .filter(|&&v| v.is_finite() && v > 0.0 && seen.insert(v.to_bits()))
        .map(|&v| f64::from(v))
        .collect();
    let classes = rate_classes(&rates, &map.label_unit, map.palette, 7);
    let [grid_kind, zones_kind, plots_kind] = map.kinds();

    // The rate grid.
    let tif = dir.join(format!("rx_{}.tif", map.name));
    // QGIS's legend heads the classes with "Band 1: <description>".
    let description = crate::i18n::tf(
        "rx.rate_band",
        &[("product", &map.product), ("unit", &map.unit)],
    );
    let meta = OutputMeta {
        description,
        band_metadata: vec![
            ("UNIT".into(), map.unit.clone()),
            ("PRODUCT".into(), map.product.clone()),
        ],
        dataset_metadata: vec![(
            "SOFTWARE".into(),
            format!("paddy {}", env!("CARGO_PKG_VERSION")),
        )],
        colours: Vec::new(),
    };
    let mut writer = IndexWriter::<f32>::create(
        &tif,
        grid,
        f64::from(NODATA),
        &meta,
        &CogOptions::widely_readable(),
    )?;
    let data: Vec<f32> = pass
        .values
        .iter()
        .map(|&v| if v.is_finite() { v } else { NODATA })
        .collect();
    writer.write(
        Window {
            x: 0,
            y: 0,
            width: grid.width,
            height: grid.height,
        },
        data,
    )?;
    writer.finish()?;
    files.push((grid_kind, tif.clone()));
    let style = tif.with_extension("qml");
    crate::io::write_atomic(&style, qml::raster_classes(&classes, &map.title).as_bytes())?;
    files.push((OutputKind::Style, style));

    // The machine layer.
    // 9 decimals of a degree (~0.1 mm): at the usual 7 (~1 cm) pieces that tile a plot exactly
    // could cross their neighbours or themselves.
    let zones = machine_table(rx, map)?;
    let path = dir.join(format!("rx_{}_zones.geojson", map.name));
    zones.write_geojson_with_decimals(&path, 9, threads)?;
    files.push((zones_kind, path));
    let path = dir.join(format!("rx_{}_zones.shp.zip", map.name));
    zones.write(&path, threads)?;
    files.push((zones_kind, path));
    let vstyle = dir.join(format!("rx_{}_zones.qml", map.name));
    let label = format!(
        "format_number(\"rate\", 1) || ' {}'",
        map.label_unit.replace('\'', "''")
    );
    crate::io::write_atomic(
        &vstyle,
        qml::vector_graduated("rate", &classes, &label, &map.title).as_bytes(),
    )?;
    files.push((OutputKind::Style, vstyle));

    // The layer for people.
    let people = dir.join(format!("rx_{}_plots.geojson", map.name));
    plots_table(rx, map)?.write(&people, threads)?;
    files.push((plots_kind, people));
    let pstyle = dir.join(format!("rx_{}_plots.qml", map.name));
    let statuses: Vec<(&str, StatusMark)> = PlotStatus::ALL
        .iter()
        .map(|s| (s.as_str(), s.mark()))
        .collect();
    let text = styles::rx_plots(
        &classes,
        &map.label_unit,
        &statuses,
        !map.nitrogen(),
        &map.title,
    );
    crate::io::write_atomic(&pstyle, text.as_bytes())?;
    files.push((OutputKind::Style, pstyle));

    write_quicklook(rx, map, &classes, &dir.join(format!("rx_{}.png", map.name)))?;
    files.push((
        OutputKind::Quicklook,
        dir.join(format!("rx_{}.png", map.name)),
    ));

    // ISOBUS task data: the machine pieces on WGS84 cells of about the grid's size.
    let task_dir = dir.join(format!("TASKDATA_{}", map.name));
    write_isoxml(rx, map, &task_dir)?;
    files.push((OutputKind::Isoxml, task_dir.join("TASKDATA.XML")));
    Ok(())
}

/// The PNG: the raster's cells, plot outlines and ids, not-observed cells hatched, the total.
fn write_quicklook(
    rx: &Prescription,
    map: &Map,
    classes: &[crate::export::classes::Class],
    png: &Path,
) -> Result<()> {
    let pass = map.pass;
    let gt = pass
        .layout
        .grid
        .geo_transform
        .unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
    // The plots on the map: a county's others are off it (the grid covers the flight's plots).
    let (w, h) = (
        pass.layout.grid.width as f64,
        pass.layout.grid.height as f64,
    );
    let (outlines, labels) = quicklook::plot_overlay(rx.plots.iter().filter_map(|p| {
        let parts = crate::zonal::to_pixel(&gt, p.parts.as_ref()?);
        let b = super::layout::bbox(std::iter::once(&parts));
        (b[0] <= w && b[2] >= 0.0 && b[1] <= h && b[3] >= 0.0).then(|| (p.id.clone(), parts))
    }));
    let total: f64 = pass
        .pieces
        .iter()
        .map(|p| p.rate * p.area_m2 / 10_000.0)
        .sum();
    let count = |of: &[PlotStatus]| {
        rx.plots
            .iter()
            .filter(|p| of.contains(&map.plot(p).1))
            .count()
    };
    let unseen = count(&[PlotStatus::NotObserved, PlotStatus::DefaultRate]);
    let unstaged = count(&[PlotStatus::StageUnknown, PlotStatus::StageUnknownDefault]);
    let unit = if map.quantity == isoxml::Quantity::MassPerArea {
        crate::i18n::t("unit.kg")
    } else {
        crate::i18n::t("unit.litres")
    };
    let mut notes = vec![
        crate::i18n::tf(
            "rx.total",
            &[
                ("amount", &format!("{total:.2}")),
                ("unit", &unit),
                ("product", &map.product),
            ],
        ),
        crate::i18n::tf("rx.cells", &[("size", &pass.layout.cell_size.to_string())]),
    ];
    if unseen > 0 {
        notes.push(crate::i18n::tf(
            "rx.not_observed_plots",
            &[("n", &unseen.to_string())],
        ));
    }
    if unstaged > 0 {
        notes.push(crate::i18n::tf(
            "rx.stage_unknown_plots",
            &[("n", &unstaged.to_string())],
        ));
    }
    quicklook::write_png(
        png,
        &quicklook::RateMap {
            values: &pass.values,
            width: pass.layout.grid.width,
            height: pass.layout.grid.height,
            cell_size_m: Some(pass.layout.cell_size),
            classes,
            ramp: &[],
            title: &map.title,
            unit: &map.label_unit,
            notes: &notes,
            outlines: &outlines,
            labels: &labels,
            unobserved: &pass.unobserved,
        },
    )
}

/// A ring as a geo LineString.
fn line(points: &[(f64, f64)]) -> LineString<f64> {
    LineString::new(points.iter().map(|&(x, y)| Coord { x, y }).collect())
}

/// The task: a WGS84 grid of about the rate grid's cell size, each cell taking the rate of the
/// machine piece that holds its centre (0, nothing applied, outside every piece).
fn write_isoxml(rx: &Prescription, map: &Map, dir: &Path) -> Result<()> {
    let pass = map.pass;
    let lonlat = to_lonlat(
        rx,
        pass.pieces.iter().map(|p| Some(p.parts.clone())).collect(),
    )?;
    let polygons: Vec<(MultiPolygon<f64>, f64, [f64; 4])> = lonlat
        .iter()
        .zip(&pass.pieces)
        .filter_map(|(parts, piece)| {
            let parts = parts.as_ref()?;
            let mut bbox = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for &(x, y) in parts.iter().flatten().flatten() {
                bbox = [
                    bbox[0].min(x),
                    bbox[1].min(y),
                    bbox[2].max(x),
                    bbox[3].max(y),
                ];
            }
            let mp = MultiPolygon::new(
                parts
                    .iter()
                    .filter(|rings| !rings.is_empty())
                    .map(|rings| {
                        Polygon::new(
                            line(&rings[0]),
                            rings[1..].iter().map(|r| line(r)).collect(),
                        )
                    })
                    .collect(),
            );
            Some((mp, piece.rate, bbox))
        })
        .collect();
    let lat = centre_lat(rx).unwrap_or(0.0);
    let cell = pass.layout.cell_size;
    let cell_lat = cell / 111_320.0;
    let cell_lon = cell / (111_320.0 * lat.to_radians().cos().max(0.01));
    let (grid, _) =
        crate::io::warp::to_wgs84(&pass.values, &pass.layout.grid, (cell_lon, cell_lat), dir)?;
    let gt = grid.geo_transform.unwrap_or_default();
    let mut rates = vec![f64::NAN; grid.width * grid.height];
    for (mp, rate, bbox) in &polygons {
        let col = |x: f64| ((x - gt[0]) / gt[1] - 0.5).max(0.0);
        let row = |y: f64| ((y - gt[3]) / gt[5] - 0.5).max(0.0);
        let (c0, c1) = (
            col(bbox[0]).floor() as usize,
            col(bbox[2]).ceil() as usize + 1,
        );
        let (r0, r1) = (
            row(bbox[3]).floor() as usize,
            row(bbox[1]).ceil() as usize + 1,
        );
        for r in r0..r1.min(grid.height) {
            for c in c0..c1.min(grid.width) {
                let centre = Point::new(
                    gt[0] + (c as f64 + 0.5) * gt[1],
                    gt[3] + (r as f64 + 0.5) * gt[5],
                );
                if mp.contains(&centre) {
                    rates[r * grid.width + c] = *rate;
                }
            }
        }
    }
    let area: f64 = pass.pieces.iter().map(|p| p.area_m2).sum();
    let task = isoxml::Task {
        name: format!("paddy {} {}", map.name, map.product),
        customer: "paddy".into(),
        farm: "paddy".into(),
        field: "plots".into(),
        field_area_m2: area,
        product: map.product.clone(),
        quantity: map.quantity,
        grid: isoxml::RateGrid::from_north_up(gt, grid.width as u32, grid.height as u32, rates)?,
    };
    isoxml::write_taskdata(dir, &task)
}

/// Latitude of the plots' centre.
fn centre_lat(rx: &Prescription) -> Option<f64> {
    let first = rx.plots.iter().find_map(|p| p.parts.clone());
    let parts = to_lonlat(rx, vec![first])
        .ok()?
        .into_iter()
        .flatten()
        .next()?;
    let pts: Vec<(f64, f64)> = parts.into_iter().flatten().flatten().collect();
    (!pts.is_empty()).then(|| pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64)
}

/// The grids' CRS (the plots' parts are in it).
fn crs(rx: &Prescription) -> Option<String> {
    rx.nitrogen
        .as_ref()
        .or(rx.spray.as_ref())
        .and_then(|p| p.layout.grid.crs_wkt.clone())
}

/// Parts in the grids' CRS → WGS84 lon/lat.
fn to_lonlat(rx: &Prescription, parts: Vec<Option<Parts>>) -> Result<Vec<Option<Parts>>> {
    let plots = Plots {
        path: PathBuf::from("rx zones"),
        layer: String::new(),
        id_column: String::new(),
        fields: Vec::new(),
        plots: parts
            .into_iter()
            .map(|p| Plot {
                id: String::new(),
                attributes: Vec::new(),
                geom: p.map_or(Geom::Skipped(String::new()), Geom::Ok),
            })
            .collect(),
        crs_wkt: crs(rx),
        warnings: Vec::new(),
        wgs84: Default::default(),
    };
    // Written inside the maps' workers: one thread each.
    crate::io::vector::wgs84(&plots, Some(1))
}

/// The columns both vector layers start with: `rate` in the product's unit (`unit`: kg urea/ha,
/// L/ha; the column terminals read), and for nitrogen the same rate as kg N/ha (`n_kg_ha`, the
/// name rx_summary.csv gives it).
fn columns(map: &Map) -> Vec<(String, Kind)> {
    let mut columns: Vec<(String, Kind)> = vec![
        ("plot_id".into(), Kind::Text),
        ("rate".into(), Kind::Real),
        ("unit".into(), Kind::Text),
        ("product".into(), Kind::Text),
    ];
    if map.nitrogen() {
        columns.push(("n_kg_ha".into(), Kind::Real));
    }
    columns
}

/// The machine layer: one feature per piece, plot by plot.
fn machine_table(rx: &Prescription, map: &Map) -> Result<Table> {
    let mut table = Table {
        columns: columns(map),
        ..Table::default()
    };
    table.columns.extend([
        ("zone".into(), Kind::Int),
        ("area_ha".into(), Kind::Real),
        ("total".into(), Kind::Real),
        ("reason".into(), Kind::Text),
    ]);
    let mut geoms = Vec::new();
    for (i, piece) in map.pass.pieces.iter().enumerate() {
        let plot = &rx.plots[piece.plot];
        let (plot_rate, status, reason, _) = map.plot(plot);
        let reason = if status != PlotStatus::Prescribed {
            reason
        } else if map.nitrogen() && plot.n_variable {
            format!("cells with SI below {} get N", rx.threshold)
        } else if !map.nitrogen() && piece.rate > 0.0 && plot_rate.is_some_and(|r| piece.rate > r) {
            "stress zone".into()
        } else {
            reason
        };
        let mut row = vec![
            Value::Text(plot.id.clone()),
            Value::Real(clean(piece.rate)),
            Value::Text(map.unit.clone()),
            Value::Text(map.product.clone()),
        ];
        if let Some(f) = map.n_fraction {
            row.push(Value::Real(clean(piece.rate * f)));
        }
        row.extend([
            Value::Int(i as i64 + 1),
            Value::Real(clean(piece.area_m2 / 10_000.0)),
            Value::Real(clean(piece.rate * piece.area_m2 / 10_000.0)),
            Value::Text(reason),
        ]);
        table.rows.push(row);
        geoms.push(Some(piece.parts.clone()));
    }
    table.lonlat = to_lonlat(rx, geoms)?;
    Ok(table)
}

/// The layer for people: one feature per plot on the pass's grid (those the flight sees, every
/// plot with a default rate), its plot rate, status, the machine layer's total on it (empty
/// with no rate, as in the summary), the area and share of it with no rate because nothing was
/// seen there (`not_observed_m2`, `not_observed_pct` of the plot's area on the grid) and
/// reason; for spray also the stress zones' rate and area (`zone_rate`, empty without zones,
/// and `zone_m2`: the machine pieces above the plot's rate). The plots off the grid are in the
/// summary and the report, not on this map: a flight over 50 paddies of a county's 20 000 is a
/// map of those 50 (QGIS zooms to them), not of 19 950 hatched outlines.
fn plots_table(rx: &Prescription, map: &Map) -> Result<Table> {
    let mut table = Table {
        columns: columns(map),
        ..Table::default()
    };
    table.columns.extend([
        ("status".into(), Kind::Text),
        ("area_ha".into(), Kind::Real),
        ("total".into(), Kind::Real),
        ("not_observed_m2".into(), Kind::Real),
        ("not_observed_pct".into(), Kind::Real),
    ]);
    if !map.nitrogen() {
        table.columns.extend([
            ("zone_rate".into(), Kind::Real),
            ("zone_m2".into(), Kind::Real),
        ]);
    }
    table.columns.push(("reason".into(), Kind::Text));
    let layout = &map.pass.layout;
    let on_map: Vec<(usize, &PlotRx)> = rx
        .plots
        .iter()
        .enumerate()
        .filter(|&(k, _)| layout.cells.get(k).is_some_and(Option::is_some))
        .collect();
    for &(k, plot) in &on_map {
        let (rate, status, reason, total) = map.plot(plot);
        let mut row = vec![
            Value::Text(plot.id.clone()),
            Value::real(rate.map(clean)),
            Value::Text(map.unit.clone()),
            Value::Text(map.product.clone()),
        ];
        if let Some(f) = map.n_fraction {
            row.push(Value::real(rate.map(|r| clean(r * f))));
        }
        let unseen = if map.nitrogen() {
            plot.n_unobserved_m2
        } else {
            plot.spray_unobserved_m2
        };
        let area = layout.areas_m2.get(k).copied().unwrap_or(f64::NAN);
        let share = (100.0 * unseen / area).clamp(0.0, 100.0);
        row.extend([
            Value::Text(status.as_str().into()),
            Value::real(Some(plot.area_ha)),
            // No rate, no total: empty, not 0.
            Value::real(rate.map(|_| round2(total))),
            Value::Real(round2(unseen)),
            Value::real(share.is_finite().then(|| (share * 10.0).round() / 10.0)),
        ]);
        if !map.nitrogen() {
            let (zone_rate, zone_m2) = zones_of(&map.pass.pieces, k, rate);
            row.extend([Value::real(zone_rate), Value::Real(round2(zone_m2))]);
        }
        row.push(Value::Text(reason));
        table.rows.push(row);
    }
    table.lonlat = to_lonlat(rx, on_map.iter().map(|(_, p)| p.parts.clone()).collect())?;
    Ok(table)
}

/// The stress zones of plot `k` among `pieces`: the machine pieces whose rate is above the
/// plot's rate (`outside`; every piece when the plot has none): their area-weighted rate (None
/// without zones) and area, m².
fn zones_of(pieces: &[super::tiles::Piece], k: usize, outside: Option<f64>) -> (Option<f64>, f64) {
    let (mut area, mut amount) = (0.0, 0.0);
    for p in pieces
        .iter()
        .filter(|p| p.plot == k && outside.map_or(true, |r| p.rate > r))
    {
        area += p.area_m2;
        amount += p.rate * p.area_m2;
    }
    ((area > 0.0).then(|| amount / area), area)
}

/// The summary's rows, one per plot: stage, index, SI, status, rates and totals.
pub fn summary_rows(rx: &Prescription) -> Vec<SummaryRow> {
    // As the table writes them: NaN is an empty cell; rates also empty when infinite.
    let num = |v: f64| (!v.is_nan()).then_some(v);
    let rate = |v: f64| v.is_finite().then_some(v);
    rx.plots
        .iter()
        .map(|p| SummaryRow {
            plot_id: p.id.clone(),
            class: p.stage.class.clone(),
            stage: p.stage.stage.map_or("unknown", |s| s.name()).to_string(),
            days_after_transplanting: p.stage.dat.and_then(num),
            area_ha: num(p.area_ha),
            n_index: num(p.n_index),
            n_index_coverage: num(p.n_coverage),
            si: p.nitrogen.si.and_then(num),
            // No rate, no total: an empty cell, not 0 kg.
            nitrogen: rx.nitrogen.as_ref().map(|_| NitrogenRow {
                status: PlotStatus::of(p.n_observed, p.n_staged, p.nitrogen.product),
                n_kg_ha: rate(p.nitrogen.n).map(clean),
                product_kg_ha: rate(p.nitrogen.product).map(clean),
                product_kg: rate(p.nitrogen.product).and(num(round2(p.n_product_kg))),
                not_observed_m2: num(round2(p.n_unobserved_m2)),
                reason: p.nitrogen.reason.clone(),
            }),
            spray: rx.spray.as_ref().map(|_| SprayRow {
                status: PlotStatus::of(p.spray_observed, p.spray_staged, p.spray_rate_outside),
                rate_outside_l_ha: rate(p.spray_rate_outside).map(clean),
                area_m2: num(round2(p.spray_area_m2)),
                product_l: rate(p.spray_rate_outside).and(num(round2(p.spray_product_l))),
                not_observed_m2: num(round2(p.spray_unobserved_m2)),
                reason: p.spray_reason.clone(),
            }),
        })
        .collect()
}

/// The computed columns of `rx_summary.csv`, after the id and the plot's attributes.
const SUMMARY_COLUMNS: [(&str, Kind); 19] = [
    ("class", Kind::Text),
    ("stage", Kind::Text),
    ("days_after_transplanting", Kind::Real),
    ("area_ha", Kind::Real),
    ("n_index", Kind::Real),
    ("n_index_coverage", Kind::Real),
    ("si", Kind::Real),
    ("n_status", Kind::Text),
    ("n_kg_ha", Kind::Real),
    ("product_kg_ha", Kind::Real),
    ("product_kg", Kind::Real),
    ("n_not_observed_m2", Kind::Real),
    ("n_reason", Kind::Text),
    ("spray_status", Kind::Text),
    ("spray_rate_outside_l_ha", Kind::Real),
    ("spray_area_m2", Kind::Real),
    ("spray_product_l", Kind::Real),
    ("spray_not_observed_m2", Kind::Real),
    ("spray_reason", Kind::Text),
];

/// The attributes' columns of `rx_summary.csv` (one named like a computed column is written as
/// `attr_<name>`, [`crate::plots::attribute_columns`]) and a warning for each one renamed.
pub fn summary_attribute_columns(
    id_column: &str,
    fields: &[(String, Kind)],
) -> (Vec<(String, Kind)>, Vec<String>) {
    let computed: Vec<(String, Kind)> = SUMMARY_COLUMNS
        .iter()
        .map(|(n, k)| (n.to_string(), *k))
        .collect();
    crate::plots::attribute_columns(id_column, fields, &computed)
}

/// `rx_summary.csv`: per plot the id, its attributes, then the computed columns of `rows` (one
/// row per plot of `rx`).
pub fn summary_table(rx: &Prescription, rows: &[SummaryRow]) -> Table {
    let mut columns: Vec<(String, Kind)> = vec![(rx.id_column.clone(), Kind::Text)];
    columns.extend(summary_attribute_columns(&rx.id_column, &rx.fields).0);
    columns.extend(SUMMARY_COLUMNS.iter().map(|(n, k)| (n.to_string(), *k)));
    let text = |s: &str| Value::Text(s.to_string());
    let rows = rx
        .plots
        .iter()
        .zip(rows)
        .map(|(p, r)| {
            let mut row = vec![text(&r.plot_id)];
            row.extend(p.attributes.iter().cloned());
            row.extend([
                text(&r.class),
                text(&r.stage),
                Value::real(r.days_after_transplanting),
                Value::real(r.area_ha),
                Value::real(r.n_index),
                Value::real(r.n_index_coverage),
                Value::real(r.si),
            ]);
            match &r.nitrogen {
                Some(n) => row.extend([
                    text(n.status.as_str()),
                    Value::real(n.n_kg_ha),
                    Value::real(n.product_kg_ha),
                    Value::real(n.product_kg),
                    Value::real(n.not_observed_m2),
                    text(&n.reason),
                ]),
                None => row.extend(std::iter::repeat(Value::Null).take(6)),
            }
            match &r.spray {
                Some(s) => row.extend([
                    text(s.status.as_str()),
                    Value::real(s.rate_outside_l_ha),
                    Value::real(s.area_m2),
                    Value::real(s.product_l),
                    Value::real(s.not_observed_m2),
                    text(&s.reason),
                ]),
                None => row.extend(std::iter::repeat(Value::Null).take(6)),
            }
            row
        })
        .collect();
    Table {
        columns,
        rows,
        ..Table::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> GridInfo {
        GridInfo {
            cell_size_m: 5.0,
            geo_transform: Some([500_000.0, 5.0, 0.0, 1_000_000.0, 0.0, -5.0]),
            height: 3,
            width: 4,
        }
    }

    fn report() -> RxReport {
        RxReport {
            files: vec![RxFile {
                kind: OutputKind::RxNitrogenZones,
                path: "rx_nitrogen_zones.geojson".into(),
            }],
            flight_date: Some(FlightDate {
                date: "2026-07-18".into(),
                from: "--at".into(),
            }),
            flights: vec![FlightRead {
                date: Some("2026-07-18".into()),
                date_from: Some("--at".into()),
                files: vec!["ndre.tif".into()],
                role: "flight".into(),
            }],
            inputs: vec!["plots.geojson".into()],
            stages: Some("stage.csv".into()),
            nitrogen: Some(NitrogenTotals {
                grid: grid(),
                index: "NDRE".into(),
                n_kg: 12.5,
                not_observed: vec!["P03".into()],
                stage_unknown: Vec::new(),
                not_observed_m2: 0.0,
                product: "urea".into(),
                product_kg: 27.17,
                reference: "the plot P01 (role = n_rich)".into(),
                sufficiency_threshold: f64::NAN,
                zones: 7,
            }),
            software: "paddy 0.1.0".into(),
            spray: Some(SprayTotals {
                grid: grid(),
                not_observed: vec![],
                stage_unknown: Vec::new(),
                not_observed_m2: 1.25,
                product: "fungicide".into(),
                product_l: 3.0,
                sprayed_area_m2: 1500.0,
                zones: 2,
            }),
            warnings: vec!["a warning".into()],
        }
    }

    #[test]
    fn the_report_keeps_its_keys_in_alphabetical_order() {
        // serde_json's map (without preserve_order) sorts keys: the order rx_report.json had
        // when it was built as a map, which the struct fields must keep.
        let r = report();
        let text = serde_json::to_string_pretty(&r).unwrap();
        let sorted = serde_json::to_string_pretty(&serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(text, sorted);
        assert!(text.contains("\"sufficiency_threshold\": null"), "{text}");
        assert!(text.contains("\"kind\": \"rx_nitrogen_zones\""), "{text}");
    }

    #[test]
    fn the_report_reads_back_with_a_nan_as_null() {
        let r = report();
        let back: RxReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        let n = back.nitrogen.as_ref().unwrap();
        assert!(n.sufficiency_threshold.is_nan());
        assert_eq!(n.product_kg, 27.17);
        assert_eq!(back.spray, r.spray);
    }

    #[test]
    fn statuses_are_written_as_before() {
        assert_eq!(PlotStatus::of(true, true, f64::NAN), PlotStatus::Prescribed);
        assert_eq!(PlotStatus::of(false, true, 20.0), PlotStatus::DefaultRate);
        assert_eq!(
            PlotStatus::of(false, false, f64::NAN),
            PlotStatus::NotObserved
        );
        assert_eq!(
            PlotStatus::of(true, false, 20.0),
            PlotStatus::StageUnknownDefault
        );
        assert_eq!(
            PlotStatus::of(true, false, f64::NAN),
            PlotStatus::StageUnknown
        );
        for s in [
            PlotStatus::Prescribed,
            PlotStatus::DefaultRate,
            PlotStatus::NotObserved,
            PlotStatus::StageUnknownDefault,
            PlotStatus::StageUnknown,
        ] {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(
            PlotStatus::DefaultRate.as_str(),
            "not observed (default rate)"
        );
    }
}
