//! `paddy prescribe`: index rasters, plots and their growth stage in; per-plot and per-cell
//! nitrogen rates and spray zones out (written by [`super::output`]).
//!
//! Each rate grid ([`super::layout`]) is laid in the first index raster's CRS when it is
//! projected and true to the ground's areas at the plots, else in the plots' UTM zone
//! ([`place`]), over the extent of the plots that get a rate from it: those whose bounding box meets the index
//! raster's footprint (the flight), and every plot when that product has a `default_rate`.
//! A plot outside the flight is still listed (summary, report), "not observed: outside the
//! flight", with no rate or the default; it costs no grid cells and, without a default, is not
//! on the maps, so a flight over 50 paddies of a county's 20 000 costs a grid over those 50.
//! The nitrogen grid is at `grid.cell_size`, the spray grid at the flight's resolution (at least
//! [`SPRAY_MIN_CELL`], at most the nitrogen cell) unless `spray.cell_size` says. The index is
//! resampled onto a grid by GDAL's `average` (each source pixel weighted by its overlap). Each
//! pass gives every plot a rate in each cell it touches; the layout turns those into the raster
//! and the machine layer.
//!
//! Not observed is not zero: a plot whose valid index covers too little of it, and the cells of
//! a plot with no valid index, get the configured `default_rate`, and without one no rate at
//! all (no machine feature, nodata in the raster).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::io::RasterInfo;
use crate::phenology::dates::Date;
use crate::phenology::stage::StageTable;
use crate::plots::{Geom, Parts, Plot, Plots, Value};
use crate::raster::Grid;
use crate::zonal::{self, CoverageMode, StatsRequest};

use super::config::{CombineConfig, NitrogenConfig, NotAdmitted, RxConfig, StageWindow};
use super::layout::{bbox, cell_rates, layout, tile, totals};
pub use super::layout::{Layout, RatePass};
use super::nitrogen::{self, Rate};
use super::reference::{self, Strip};
use super::stages::{check_stage_dates, flight_date};
pub use super::stages::{PlotStage, Stages};
use super::zones::{self, Combine, ZoneParams};

/// The finest spray cell chosen from the flight's resolution (m): fine enough that a 0.02 ha
/// paddy inside 1.5 m bunds has 20+ cells wholly inside it, coarse enough that a cell averages
/// 16 pixels of a 0.5 m drone mosaic (a single pixel's noise would drown a stress patch). On
/// seeded terraced seasons 1 m cells drew tighter edges on clean data but lost every patch once
/// pixel noise reached the patch's depth (holes in the stress break the opening); 2 m cells
/// found them, and the edge refinement of `zones::refine_edges` keeps their edges tight.
pub const SPRAY_MIN_CELL: f64 = 2.0;

/// What `paddy prescribe` is asked to do (the plots are [`run`]'s argument).
#[derive(Debug, Clone)]
pub struct PrescribeRequest {
    /// The index the nitrogen rule reads (NDRE at panicle initiation, say).
    pub n_index: Option<PathBuf>,
    /// The index stress zones are found in (NDVI, say), and an earlier flight of it.
    pub spray_index: Option<PathBuf>,
    pub previous: Option<PathBuf>,
    /// Each plot's class, stage and days after transplanting from `paddy stage` (its table,
    /// [`Stages::read_csv`], or its results, [`Stages::from_stage_result`]).
    pub stages: Option<Stages>,
    /// The date of the flight, and where it came from (for the report: `--at`, say). Without
    /// `stages`, each plot's stage comes from it and the plots' `transplanted_field` and
    /// `class_field` attributes; with `stages`, their date must agree with it.
    pub at: Option<(Date, String)>,
    /// Most days the stages' date may differ from the flight's.
    pub stages_tolerance_days: f64,
    pub class_field: String,
    pub default_class: String,
    pub transplanted_field: String,
    pub table: StageTable,
    pub config: RxConfig,
    pub threads: Option<usize>,
}

/// One plot's prescription.
#[derive(Debug, Clone)]
pub struct PlotRx {
    pub id: String,
    pub attributes: Vec<Value>,
    pub stage: PlotStage,
    /// An N-rich reference plot of its group (marked so, and not left out).
    pub reference: bool,
    /// Marked N-rich but left out of its group's reference, being below the sufficiency
    /// threshold of the highest N-rich plot ([`super::reference`]): rated as a plot.
    pub left_out_of_reference: bool,
    /// Plot mean of the N index, and the share of the plot it covers.
    pub n_index: f64,
    pub n_coverage: f64,
    /// The plot rate (for people) and whether the plot was observed well enough to have one.
    pub nitrogen: Rate,
    pub n_observed: bool,
    /// Whether the nitrogen stage window could be judged (a known stage, or days after
    /// transplanting of a class the table has): without it the plot is not rated as 0 but
    /// gets the default rate, or none.
    pub n_staged: bool,
    /// Whether cells of the plot get their own rate (inside the window, index present).
    pub n_variable: bool,
    /// Geodesic area.
    pub area_ha: f64,
    /// kg product the machine layer applies on the plot (Σ piece rate × piece area).
    pub n_product_kg: f64,
    /// Area of the plot with no nitrogen rate (not observed, no default rate), m².
    pub n_unobserved_m2: f64,
    pub spray_observed: bool,
    /// As `n_staged`, for the spray window.
    pub spray_staged: bool,
    pub spray_rate_outside: f64,
    pub spray_reason: String,
    /// Area of the plot's spray pieces with a rate above 0, and the product on them.
    pub spray_area_m2: f64,
    pub spray_product_l: f64,
    pub spray_unobserved_m2: f64,
    /// Plot rings in the grids' CRS.
    pub parts: Option<Parts>,
}

/// One stress zone (connected stressed cells, cleaned and buffered) of the spray grid.
#[derive(Debug, Clone)]
pub struct SprayZone {
    pub id: u32,
    /// Index into [`Prescription::plots`].
    pub plot: usize,
    pub area_m2: f64,
    pub stressed_m2: f64,
    pub rate: f64,
}

/// Everything computed, for the writers.
#[derive(Debug, Clone)]
pub struct Prescription {
    pub plots: Vec<PlotRx>,
    pub id_column: String,
    pub fields: Vec<(String, crate::io::table::Kind)>,
    pub nitrogen: Option<RatePass>,
    pub n_index_name: String,
    /// How the reference was found, in words.
    pub reference: String,
    /// Why the reference may not be N-rich (its plots disagree, plots greener than it, no plot
    /// compared with it): warned about, and said loudly when nothing is ordered.
    pub reference_doubts: Vec<String>,
    pub threshold: f64,
    pub spray: Option<RatePass>,
    pub zones: Vec<SprayZone>,
    /// The flight date the stage table was checked against, and where it came from.
    pub flight_date: Option<(Date, String)>,
    pub warnings: Vec<String>,
}

/// Truthy attribute values: non-zero numbers, true / yes / y / 1.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i != 0,
        Value::Real(r) => *r != 0.0 && !r.is_nan(),
        Value::Text(t) => matches!(
            t.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "y" | "1" | "t"
        ),
        _ => false,
    }
}

/// Whether a plot with `value` in the reference field is an N-rich reference: the configured
/// reference_value (text, ignoring case), else a truthy value.
fn is_reference(cfg: &NitrogenConfig, value: &Value) -> bool {
    match &cfg.reference_value {
        Some(want) => value.text().trim().eq_ignore_ascii_case(want.trim()),
        None => truthy(value),
    }
}

/// How far (as a share) the planar areas of the flight's CRS may stray from the ground's at the
/// plots before the grids are laid in the plots' UTM zone instead: 1 %. A UTM zone strays
/// by 0.1 % at most (−0.08 % at its central meridian, about +0.1 % at its edges); Web Mercator
/// by 26 % at 27° N, the latitude of the county paddy is made for.
const AREA_TOLERANCE: f64 = 0.01;

/// The CRS the prescription's grids are laid in, and the plots in it.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The grids' CRS (WKT): the flight's own when it is projected and measures areas truly at
    /// the plots, else the plots' UTM zone.
    wkt: String,
    /// The plots' parts in it.
    parts: Vec<Option<Parts>>,
    /// Each plot's planar area in the flight's own CRS (its units²; NaN without a polygon):
    /// the share of a plot its valid pixels cover is measured in the flight's units.
    flight_areas: Vec<f64>,
    /// Units² of the flight's own CRS per m² on the ground at the plots (1 for a UTM flight,
    /// 1.26 for Web Mercator at 27° N, ~10⁻¹⁰ degrees² for a geographic one): the ground area
    /// of the flight's pixels.
    flight_units_per_m2: f64,
    /// Why the grids are not in the flight's CRS, for the warnings.
    note: Option<String>,
}

/// Where the prescription's grids go for a flight `info`: in its own CRS when it is projected
/// and its planar areas at the plots are within [`AREA_TOLERANCE`] of their geodesic areas
/// (so a cell of 5 m is 25 m² of paddy, and kg/ha × ha is what the plots take); else (a
/// geographic flight, Web Mercator, which drone software often exports) in the UTM zone of the
/// plots' centre, with a warning saying so. The index is resampled onto the grids by GDAL
/// either way.
fn place(info: &RasterInfo, plots: &Plots, densify: f64, threads: Option<usize>) -> Result<Placed> {
    let Some(wkt) = info.grid.crs_wkt.as_deref() else {
        return Err(Error::Input {
            path: info.path.clone(),
            message: "the raster has no CRS: a prescription grid needs to know where its cells are on the ground"
                .into(),
        });
    };
    let own = crate::io::vector::to_crs(plots, Some(wkt), densify, threads)?;
    let wgs84 = crate::io::vector::wgs84_once(plots, threads)?;
    let flight_areas = crate::plots::planar_areas(&own);
    let (planar, ground) = flight_areas
        .iter()
        .copied()
        .zip(&wgs84.areas)
        .filter(|(a, g)| a.is_finite() && g.is_finite() && *a > 0.0 && **g > 0.0)
        .fold((0.0, 0.0), |(a, g), (p, q)| (a + p, g + q));
    let per_m2 = planar / ground;
    let geographic = crate::io::vector::is_geographic(wkt);
    if !per_m2.is_finite() {
        // No plot with a known area on the ground (plots without a CRS): the flight's CRS,
        // taken to be the plots' too, if it is in metres at all.
        if geographic {
            return Err(Error::Input {
                path: info.path.clone(),
                message: "the raster is in geographic coordinates (degrees) and the plots have no CRS to find their UTM zone from: give the plots a CRS, or reproject the raster to a projected CRS in metres (e.g. its UTM zone with gdalwarp -t_srs EPSG:326xx)".into(),
            });
        }
        return Ok(Placed {
            wkt: wkt.to_string(),
            parts: own,
            flight_areas,
            flight_units_per_m2: 1.0,
            note: None,
        });
    }
    if !geographic && (per_m2 - 1.0).abs() <= AREA_TOLERANCE {
        return Ok(Placed {
            wkt: wkt.to_string(),
            parts: own,
            flight_areas,
            flight_units_per_m2: per_m2,
            note: None,
        });
    }
    let code = utm_zone(&wgs84.parts).ok_or_else(|| Error::Input {
        path: plots.path.clone(),
        message: "no plot has a position in longitude and latitude to choose a UTM zone for the prescription grids".into(),
    })?;
    let utm_wkt = crate::io::vector::epsg_wkt(code)?;
    let name = crate::io::vector::crs_name(wkt).unwrap_or_else(|| "its CRS".into());
    let file = crate::io::file_name(&info.path);
    let why = if geographic {
        format!("is in geographic coordinates ({name})")
    } else {
        format!("is in {name}, whose areas are {per_m2:.3}× the ground's at the plots")
    };
    Ok(Placed {
        wkt: utm_wkt.clone(),
        parts: crate::io::vector::to_crs(plots, Some(&utm_wkt), densify, threads)?,
        flight_areas,
        flight_units_per_m2: per_m2,
        note: Some(format!(
            "{file} {why}: the prescription grids are laid in UTM zone {}{} (EPSG:{code}) instead, so that cells, areas and totals are true on the ground",
            code % 100,
            if code / 100 == 326 { "N" } else { "S" }
        )),
    })
}

/// The EPSG code (WGS 84 / UTM, 326zz north, 327zz south) of the UTM zone of the centre of the
/// plots' lon/lat bounding box, and None without any.
fn utm_zone(lonlat: &[Option<Parts>]) -> Option<u32> {
    let b = bbox(lonlat.iter().flatten());
    if !(b[0].is_finite() && b[1].is_finite() && b[2].is_finite() && b[3].is_finite()) {
        return None;
    }
    let (lon, lat) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let zone = (((lon + 180.0) / 6.0).floor() as i64).rem_euclid(60) as u32 + 1;
    Some(if lat >= 0.0 {
        32600 + zone
    } else {
        32700 + zone
    })
}

/// The name of an index raster's index: its band description (paddy index writes the short
/// name), else its file stem.
fn index_name(info: &RasterInfo) -> String {
    info.descriptions
        .first()
        .filter(|d| !d.is_empty())
        .cloned()
        .or_else(|| {
            info.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "index".into())
}

/// Compute the prescription for `plots` (read once by [`crate::io::vector::read_plots`]; their
/// parts in the grids' CRS and their areas are computed here, once).
/// Refuses a flight that covers none of the plots (a wrong file or CRS, most likely) before
/// anything is computed.
pub fn run(plots: &Plots, req: &PrescribeRequest) -> Result<Prescription> {
    let in_flight = plots_in_flight(plots, req)?;
    if in_flight.placed.is_some() && !in_flight.seen.iter().any(|&s| s) {
        let flights: Vec<String> = [&req.n_index, &req.spray_index]
            .into_iter()
            .flatten()
            .map(|p| crate::io::file_name(p))
            .collect();
        return Err(Error::Input {
            path: plots.path.clone(),
            message: format!(
                "none of its {} plots is under {}: check that the flight and the plots are of the same place (and their CRS)",
                plots.plots.len(),
                flights.join(" or ")
            ),
        });
    }
    run_in_flight(plots, req, Some(in_flight))
}

/// [`run`], with the plots in the grids' CRS as [`plots_in_flight`] found them for the same
/// request (so they are projected once).
pub fn run_in_flight(
    plots: &Plots,
    req: &PrescribeRequest,
    in_flight: Option<InFlight>,
) -> Result<Prescription> {
    req.config.check("settings")?;
    let Some(first) = req.n_index.as_ref().or(req.spray_index.as_ref()) else {
        return Err(Error::usage(
            "no index raster: a prescription needs an index for nitrogen, one for spray zones, or both",
        ));
    };
    if req.stages.is_none() && req.at.is_none() {
        return Err(Error::usage(
            "no growth stages: a prescription needs each plot's stage from paddy stage, or the flight date (with the plots' transplanted and duration class attributes)",
        ));
    }
    let mut warnings = plots.warnings.clone();
    let info = RasterInfo::read(first)?;
    let flight = flight_date(req.at.as_ref(), &info);
    // Growth stage per plot.
    if let Some(stages) = &req.stages {
        check_stage_dates(req.stages_tolerance_days, stages, flight.as_ref())?;
        if flight.is_none() {
            warnings.push(format!(
                "the flight's date is unknown (none given, no acquisition date in {}): the stage table's date could not be checked",
                crate::io::file_name(&info.path)
            ));
        }
    }
    let from_stages = req.stages.as_ref().map(|s| &s.by_id);
    if let Some(stages) = &req.stages {
        refuse_shared_ids(plots, &stages.source)?;
    }
    let n_cell = req.config.grid.cell_size;
    let placed = match in_flight.and_then(|f| f.placed) {
        Some(placed) if placed.parts.len() == plots.plots.len() => placed,
        _ => place(&info, plots, (n_cell / 2.0).min(1.0), req.threads)?,
    };
    warnings.extend(placed.note.clone());
    let parts = &placed.parts;
    let (n_flight, spray_flight) = flights(req, &info, &placed)?;
    let mut rows = plot_rows(req, plots, from_stages, parts)?;
    let seen = seen_by_any(&[&n_flight, &spray_flight], rows.len());
    warnings.extend(stage_warnings(req, &rows, from_stages, &seen));
    warnings.extend(super::output::summary_attribute_columns(&plots.id_column, &plots.fields).1);
    let mut rx = Prescription {
        plots: Vec::new(),
        id_column: plots.id_column.clone(),
        fields: plots.fields.clone(),
        nitrogen: None,
        n_index_name: String::new(),
        reference: String::new(),
        reference_doubts: Vec::new(),
        threshold: f64::NAN,
        spray: None,
        zones: Vec::new(),
        flight_date: flight,
        warnings: Vec::new(),
    };
    let wkt = Some(placed.wkt.as_str());
    // Kept for the spray pass when it reads the same file onto the same grid.
    let mut n_resampled: Option<(Grid, Vec<f32>)> = None;
    if let (Some(path), Some(flight)) = (&req.n_index, &n_flight) {
        let on_grid = flight.on_grid(req.config.nitrogen.default_rate);
        let layout = layout(wkt, &plots.path, parts, &on_grid, flight.footprint, n_cell)?;
        let values = crate::io::warp::resample(path, 1, &layout.grid, "average")?;
        if req
            .spray_index
            .as_deref()
            .is_some_and(|s| crate::io::same_file(s, path))
        {
            n_resampled = Some((layout.grid.clone(), values.clone()));
        }
        rx.n_index_name = index_name(&info);
        rx.threshold = req.config.nitrogen.threshold_for(&rx.n_index_name);
        plot_means(plots, &info, &placed.flight_areas, req.threads, &mut rows)?;
        let pass = nitrogen_pass(
            req,
            values,
            layout,
            flight,
            &mut rx,
            &mut rows,
            &mut warnings,
        )?;
        rx.nitrogen = Some(pass);
    }
    if let (Some(path), Some(flight)) = (&req.spray_index, &spray_flight) {
        let spray_info = RasterInfo::read(path)?;
        // The flight's pixel on the ground (its CRS's units are not metres everywhere).
        let per_m = if placed.note.is_some()
            && crate::io::same_crs(
                spray_info.grid.crs_wkt.as_deref(),
                info.grid.crs_wkt.as_deref(),
            ) {
            placed.flight_units_per_m2.sqrt()
        } else {
            1.0
        };
        let pixel = spray_info
            .grid
            .geo_transform
            .map_or(n_cell, |g| g[1].abs().max(g[5].abs()) / per_m);
        let cell = req
            .config
            .spray
            .cell_size
            .unwrap_or_else(|| pixel.max(SPRAY_MIN_CELL).min(n_cell));
        let on_grid = flight.on_grid(req.config.spray.default_rate);
        let layout = layout(wkt, &plots.path, parts, &on_grid, flight.footprint, cell)?;
        let values = match n_resampled {
            Some((grid, values)) if grid == layout.grid => values,
            _ => crate::io::warp::resample(path, 1, &layout.grid, "average")?,
        };
        let pass = spray_pass(req, values, layout, flight, &mut rx, &mut rows)?;
        rx.spray = Some(pass);
    }
    let unstaged: Vec<&str> = rows
        .iter()
        .filter(|r| (r.n_observed && !r.n_staged) || (r.spray_observed && !r.spray_staged))
        .map(|r| r.id.as_str())
        .collect();
    if !unstaged.is_empty() {
        warnings.push(format!(
            "{} plot(s) under the flight have no known growth stage ({}{}): they get the default rate, or none, never 0; give them a transplanted date, or their stage from paddy stage",
            unstaged.len(),
            unstaged[..unstaged.len().min(5)].join(", "),
            if unstaged.len() > 5 { ", …" } else { "" }
        ));
    }
    rx.plots = rows;
    rx.warnings = warnings;
    Ok(rx)
}

/// An index raster's footprint in the grids' CRS and the plots it can see.
struct Flight {
    /// The raster's extent, `[xmin, ymin, xmax, ymax]` in the grids' CRS.
    footprint: [f64; 4],
    /// Per plot: its bounding box meets the footprint (a plot with no polygon: false).
    sees: Vec<bool>,
    /// The raster's file name, for the reasons of plots outside it.
    name: String,
}

impl Flight {
    fn new(info: &RasterInfo, wkt: Option<&str>, parts: &[Option<Parts>]) -> Result<Self> {
        let Some(gt) = info.grid.geo_transform else {
            return Err(Error::Input {
                path: info.path.clone(),
                message: "the raster has no geotransform: a prescription needs its extent".into(),
            });
        };
        let (w, h) = (info.grid.width as f64, info.grid.height as f64);
        let corner =
            |c: f64, r: f64| (gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]);
        let ring = vec![
            corner(0.0, 0.0),
            corner(w, 0.0),
            corner(w, h),
            corner(0.0, h),
            corner(0.0, 0.0),
        ];
        // Its outline in the grids' CRS (the identity when the CRS is the grids'), each edge cut
        // in 64 so that a reprojected edge bends as it should.
        let side = (w * gt[1].hypot(gt[4])).max(h * gt[2].hypot(gt[5]));
        let outline = Plots {
            path: info.path.clone(),
            layer: String::new(),
            id_column: String::new(),
            fields: Vec::new(),
            plots: vec![Plot {
                id: crate::io::file_name(&info.path),
                attributes: Vec::new(),
                geom: Geom::Ok(vec![vec![ring]]),
            }],
            crs_wkt: info.grid.crs_wkt.clone(),
            warnings: Vec::new(),
            wgs84: Default::default(),
        };
        let outline = crate::io::vector::to_crs(&outline, wkt, (side / 64.0).max(1e-9), Some(1))?;
        let footprint = bbox(outline.iter().flatten());
        let sees = parts
            .iter()
            .map(|p| {
                p.as_ref().is_some_and(|p| {
                    let b = bbox(std::iter::once(p));
                    b[0] <= footprint[2]
                        && b[2] >= footprint[0]
                        && b[1] <= footprint[3]
                        && b[3] >= footprint[1]
                })
            })
            .collect();
        Ok(Flight {
            footprint,
            sees,
            name: crate::io::file_name(&info.path),
        })
    }

    /// The plots a pass lays its grid over: those the flight sees, and all of them when the
    /// pass gives a default rate to what it does not see (then the grid is the plots' extent).
    fn on_grid(&self, default_rate: Option<f64>) -> Vec<bool> {
        match default_rate {
            Some(_) => vec![true; self.sees.len()],
            None => self.sees.clone(),
        }
    }

    /// Why plot `k` was not observed, when the reason is that the flight missed it.
    fn missed(&self, k: usize) -> Option<String> {
        (!self.sees.get(k).copied().unwrap_or(false))
            .then(|| format!("outside the flight ({})", self.name))
    }
}

/// The flights of the nitrogen and spray indices (the first index raster is `info`), in the
/// grids' CRS.
fn flights(
    req: &PrescribeRequest,
    info: &RasterInfo,
    placed: &Placed,
) -> Result<(Option<Flight>, Option<Flight>)> {
    let (wkt, parts) = (Some(placed.wkt.as_str()), &placed.parts);
    let n = match &req.n_index {
        Some(_) => Some(Flight::new(info, wkt, parts)?),
        None => None,
    };
    let spray = match &req.spray_index {
        Some(path) => Some(Flight::new(&RasterInfo::read(path)?, wkt, parts)?),
        None => None,
    };
    Ok((n, spray))
}

/// Per plot: some flight sees it.
fn seen_by_any(flights: &[&Option<Flight>], n_plots: usize) -> Vec<bool> {
    (0..n_plots)
        .map(|k| {
            flights
                .iter()
                .filter_map(|f| f.as_ref())
                .any(|f| f.sees.get(k).copied().unwrap_or(false))
        })
        .collect()
}

/// Which plots a flight sees, and the plots in the grids' CRS ([`plots_in_flight`]).
pub struct InFlight {
    /// Per plot: a flight of the request sees it.
    pub seen: Vec<bool>,
    /// The grids' CRS and the plots in it (None without an index raster).
    placed: Option<Placed>,
}

/// Which of `plots` a flight of `req` sees: the only plots whose growth stage the prescription
/// reads (a plot no flight sees is not observed, and its rate, none or the default, does not
/// depend on its stage). `paddy run` computes the stage on the flight's day for these alone.
pub fn plots_in_flight(plots: &Plots, req: &PrescribeRequest) -> Result<InFlight> {
    let Some(first) = req.n_index.as_ref().or(req.spray_index.as_ref()) else {
        return Ok(InFlight {
            seen: vec![false; plots.plots.len()],
            placed: None,
        });
    };
    let info = RasterInfo::read(first)?;
    let densify = (req.config.grid.cell_size / 2.0).min(1.0);
    let placed = place(&info, plots, densify, req.threads)?;
    let (n, spray) = flights(req, &info, &placed)?;
    Ok(InFlight {
        seen: seen_by_any(&[&n, &spray], placed.parts.len()),
        placed: Some(placed),
    })
}

/// Warnings about the plots' stages: a reference value no plot has, plots the stages miss
/// (of those a flight sees: only their stage is read).
fn stage_warnings(
    req: &PrescribeRequest,
    rows: &[PlotRx],
    from_stages: Option<&HashMap<String, PlotStage>>,
    seen: &[bool],
) -> Vec<String> {
    let mut warnings = Vec::new();
    let n = &req.config.nitrogen;
    if let Some(value) = n.reference_value.as_deref() {
        if req.n_index.is_some() && !rows.iter().any(|r| r.reference) {
            warnings.push(format!(
                "no plot has {} = '{value}': the reference is virtual",
                n.reference_field
            ));
        }
    }
    if let Some(map) = from_stages {
        let missing: Vec<&str> = rows
            .iter()
            .zip(seen)
            .filter(|(r, &seen)| seen && !map.contains_key(&r.id))
            .map(|(r, _)| r.id.as_str())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "{} plot(s) not in the stage table (growth stage unknown: rate 0): {}",
                missing.len(),
                missing.join(", ")
            ));
        }
    }
    warnings
}

/// Stages join the plots by id, so two plots of one id would take one stage (the other
/// plot's: a booting plot outside the window, say, when it is at panicle initiation): refused,
/// naming the ids and where they are.
fn refuse_shared_ids(plots: &Plots, stages: &str) -> Result<()> {
    let mut features: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, p) in plots.plots.iter().enumerate() {
        features.entry(p.id.as_str()).or_default().push(k + 1);
    }
    let mut shared: Vec<(&str, Vec<usize>)> =
        features.into_iter().filter(|(_, f)| f.len() > 1).collect();
    if shared.is_empty() {
        return Ok(());
    }
    shared.sort_by_key(|(_, f)| f[0]);
    let named: Vec<String> = shared
        .iter()
        .take(5)
        .map(|(id, f)| {
            let at: Vec<String> = f.iter().map(usize::to_string).collect();
            format!("'{id}' (features {})", at.join(", "))
        })
        .collect();
    Err(Error::Input {
        path: plots.path.clone(),
        message: format!(
            "{} plot id(s) belong to more than one plot: {}{}; the stages ({stages}) are joined to the plots by '{}', so each plot needs an id of its own for a prescription",
            shared.len(),
            named.join(", "),
            if shared.len() > 5 { ", …" } else { "" },
            plots.id_column
        ),
    })
}

/// Each plot's row before the passes: id, attributes, stage, reference flag, geodesic area.
fn plot_rows(
    req: &PrescribeRequest,
    plots: &Plots,
    from_stages: Option<&HashMap<String, PlotStage>>,
    parts: &[Option<Parts>],
) -> Result<Vec<PlotRx>> {
    let field = |name: &str| {
        plots
            .fields
            .iter()
            .position(|f| f.0.eq_ignore_ascii_case(name))
    };
    let (class_at, transplanted_at) = (field(&req.class_field), field(&req.transplanted_field));
    let stage_of = |k: usize| -> PlotStage {
        let plot = &plots.plots[k];
        if let Some(map) = from_stages {
            return map.get(&plot.id).cloned().unwrap_or_default();
        }
        let class = class_at
            .map(|i| plot.attributes[i].text())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| req.default_class.clone());
        let transplanted =
            transplanted_at.and_then(|i| plot.attributes[i].text().parse::<Date>().ok());
        let dat = match (transplanted, &req.at) {
            (Some(t), Some((at, _))) => Some(f64::from(t.days_until(*at))),
            _ => None,
        };
        let stage = dat.and_then(|d| req.table.get(&class).map(|s| s.stage_at(d)));
        PlotStage {
            class,
            stage,
            dat,
            source: "plot attributes".into(),
        }
    };
    let n = &req.config.nitrogen;
    let ref_field = field(&n.reference_field);
    // The plots' id column is not among their fields: `--reference-field plot_id
    // --reference-value P06` names the strip by its id.
    let by_id = ref_field.is_none()
        && n.reference_value.is_some()
        && !plots.id_column.is_empty()
        && n.reference_field.eq_ignore_ascii_case(&plots.id_column);
    if ref_field.is_none() && n.reference_value.is_some() && !by_id {
        return Err(Error::usage(format!(
            "reference field '{}' (for reference value '{}') is not a field of {} (fields: {})",
            n.reference_field,
            n.reference_value.as_deref().unwrap_or(""),
            plots.path.display(),
            std::iter::once(plots.id_column.as_str())
                .filter(|c| !c.is_empty())
                .chain(plots.fields.iter().map(|f| f.0.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let areas = &crate::io::vector::wgs84_once(plots, req.threads)?.areas;
    Ok((0..plots.plots.len())
        .map(|k| {
            let plot = &plots.plots[k];
            PlotRx {
                id: plot.id.clone(),
                attributes: plot.attributes.clone(),
                stage: stage_of(k),
                reference: match ref_field {
                    Some(i) => is_reference(n, &plot.attributes[i]),
                    None => by_id && is_reference(n, &Value::Text(plot.id.clone())),
                },
                left_out_of_reference: false,
                n_index: f64::NAN,
                n_coverage: 0.0,
                nitrogen: Rate::zero(""),
                n_observed: false,
                n_staged: true,
                n_variable: false,
                area_ha: areas.get(k).copied().unwrap_or(f64::NAN) / 10_000.0,
                n_product_kg: 0.0,
                n_unobserved_m2: 0.0,
                spray_observed: false,
                spray_staged: true,
                spray_rate_outside: 0.0,
                spray_reason: String::new(),
                spray_area_m2: 0.0,
                spray_product_l: 0.0,
                spray_unobserved_m2: 0.0,
                parts: parts[k].clone(),
            }
        })
        .collect())
}

/// Each plot's reference ([`references`]) and what was found about it.
struct References {
    /// Per plot: its group's reference value (NaN: none).
    of: Vec<f64>,
    /// Per plot: its group's reference is N-rich plots (not a virtual one).
    real: Vec<bool>,
    /// The references in words, group by group.
    said: String,
    /// Plots marked N-rich left out of their group's reference.
    left_out: Vec<usize>,
    /// Why a reference may not be N-rich: warned about (the plots disagree) or kept for the
    /// loud line when nothing is ordered (no plot compared with a reference).
    doubts: Vec<String>,
}

/// How the N-rich plots are marked, in the settings' words.
fn marked_by(cfg: &NitrogenConfig) -> String {
    match &cfg.reference_value {
        Some(v) => format!("{} = '{v}'", cfg.reference_field),
        None => format!("a true '{}'", cfg.reference_field),
    }
}

/// The reference per group of like plots (same variety, say): the group's N-rich plots within
/// the sufficiency threshold of the highest one (area-weighted; one below it is left out, with
/// a warning naming both: [`super::reference`]), else a high percentile of the group's cells
/// (a virtual reference).
fn references(
    cfg: &NitrogenConfig,
    rx: &Prescription,
    rows: &[PlotRx],
    values: &[f32],
    labels: &[u32],
    warnings: &mut Vec<String>,
) -> References {
    let group_at = rx
        .fields
        .iter()
        .position(|f| f.0.eq_ignore_ascii_case(&cfg.reference_group_field));
    let group_of = |row: &PlotRx| group_at.map_or(String::new(), |i| row.attributes[i].text());
    let mut groups: Vec<String> = rows.iter().map(group_of).collect();
    groups.sort();
    groups.dedup();
    let group_index: Vec<usize> = rows
        .iter()
        .map(|r| groups.binary_search(&group_of(r)).unwrap_or(0))
        .collect();
    let mut cells_of: Vec<Vec<f64>> = vec![Vec::new(); groups.len()];
    for (&v, &label) in values.iter().zip(labels) {
        if let Some(&g) = label
            .checked_sub(1)
            .and_then(|k| group_index.get(k as usize))
        {
            cells_of[g].push(f64::from(v));
        }
    }
    let observed = |r: &PlotRx| r.n_index.is_finite() && r.n_coverage >= cfg.min_coverage;
    let mut by_group = vec![(f64::NAN, false); groups.len()];
    let mut found = References {
        of: Vec::new(),
        real: Vec::new(),
        said: String::new(),
        left_out: Vec::new(),
        doubts: Vec::new(),
    };
    let mut said = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let members: Vec<usize> = (0..rows.len()).filter(|&k| group_index[k] == g).collect();
        let name = if group_at.is_some() {
            format!("{} {group}: ", cfg.reference_group_field)
        } else {
            String::new()
        };
        let refs: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&k| rows[k].reference && observed(&rows[k]))
            .collect();
        let strips: Vec<Strip> = refs
            .iter()
            .map(|&k| Strip {
                id: &rows[k].id,
                index: rows[k].n_index,
                weight: rows[k].area_ha * rows[k].n_coverage,
            })
            .collect();
        let Some(r) = reference::from_strips(&strips, rx.threshold) else {
            if members.iter().any(|&k| rows[k].reference) {
                warnings.push(format!(
                    "{name}the N-rich reference plot(s) lack a valid index: using a virtual reference"
                ));
            }
            let p = nitrogen::percentile(&cells_of[g], cfg.virtual_percentile);
            said.push(match p {
                Some(v) => format!(
                    "{name}virtual reference (the {}th percentile of {}) = {v:.4}",
                    cfg.virtual_percentile, rx.n_index_name
                ),
                None => format!("{name}no reference (no valid index)"),
            });
            by_group[g] = (p.unwrap_or(f64::NAN), false);
            continue;
        };
        by_group[g] = (r.value, true);
        let ids = |of: &mut dyn Iterator<Item = usize>| -> String {
            of.map(|i| rows[refs[i]].id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let kept = ids(&mut r.kept.iter().copied());
        let mean = if r.kept.len() > 1 {
            " (area-weighted mean)"
        } else {
            ""
        };
        let out: Vec<String> = r
            .left_out
            .iter()
            .map(|&(i, si)| format!("{} {:.4}, SI {si:.3}", rows[refs[i]].id, strips[i].index))
            .collect();
        said.push(if out.is_empty() {
            format!("{name}N-rich reference {kept}{mean} = {:.4}", r.value)
        } else {
            format!(
                "{name}N-rich reference {kept}{mean} = {:.4} (left out: {})",
                r.value,
                out.join("; ")
            )
        });
        if !r.left_out.is_empty() {
            let top = &rows[refs[r.highest]];
            let below: Vec<String> = r
                .left_out
                .iter()
                .map(|&(i, si)| {
                    format!(
                        "{}'s {} {:.4} is SI {si:.3} against {}'s {:.4}",
                        rows[refs[i]].id, rx.n_index_name, strips[i].index, top.id, top.n_index
                    )
                })
                .collect();
            let doubt = format!(
                "{name}the N-rich reference plots disagree: {}, below the sufficiency threshold {}; a plot with all the nitrogen it can use does not fall that far below another, so {} is short of nitrogen or not an N-rich strip (check that {} marks only the N-rich strips): left out of the reference and rated as a plot; the reference is {kept}{mean} = {:.4}",
                below.join("; "),
                rx.threshold,
                ids(&mut r.left_out.iter().map(|&(i, _)| i)),
                marked_by(cfg),
                r.value
            );
            warnings.push(doubt.clone());
            found.doubts.push(doubt);
        }
        let left_out: Vec<usize> = r.left_out.iter().map(|&(i, _)| refs[i]).collect();
        found.left_out.extend(&left_out);
        let compared = members
            .iter()
            .any(|&k| observed(&rows[k]) && (!rows[k].reference || left_out.contains(&k)));
        if !compared {
            found.doubts.push(format!(
                "{name}every plot observed is an N-rich reference ({kept}): none is compared with it"
            ));
        }
    }
    found.of = group_index.iter().map(|&g| by_group[g].0).collect();
    found.real = group_index.iter().map(|&g| by_group[g].1).collect();
    found.said = said.join("; ");
    found
}

/// Plots greener than their N-rich reference by more than N-rich strips may differ (SI above
/// 1 / threshold): a reference that is not N-rich (the deficient plot taken for the strip, say)
/// hides the need of every plot compared with it. One warning naming them, or None.
fn greener_than_reference(
    cfg: &NitrogenConfig,
    rx: &Prescription,
    rows: &[PlotRx],
    refs: &References,
) -> Option<String> {
    let greener: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|&(k, r)| refs.real[k] && r.n_observed && !r.reference)
        .filter_map(|(k, r)| {
            let si = r.nitrogen.si?;
            reference::greener_than_reference(si, rx.threshold).then(|| {
                format!(
                    "{} SI {si:.3} ({} {:.4} against {:.4})",
                    r.id, rx.n_index_name, r.n_index, refs.of[k]
                )
            })
        })
        .collect();
    if greener.is_empty() {
        return None;
    }
    Some(format!(
        "{} plot(s) are greener than their N-rich reference by more than N-rich strips differ (SI above 1/{} = {:.3}): {}{}; a reference that is not N-rich hides every plot's need (check that {} marks the N-rich strips)",
        greener.len(),
        rx.threshold,
        1.0 / rx.threshold,
        greener[..greener.len().min(5)].join(", "),
        if greener.len() > 5 { ", …" } else { "" },
        marked_by(cfg)
    ))
}

/// The rate where nothing was observed: `default` through `to_rate`, or NaN (no rate).
fn default_value(default: Option<f64>, to_rate: impl Fn(f64) -> f64) -> f32 {
    default.map_or(f32::NAN, |d| to_rate(d) as f32)
}

/// "growth stage unknown: …" and what it gets: a plot the flight saw whose window cannot be
/// judged gets what a plot not observed gets, never 0 as if it were outside the window.
fn stage_unknown(stage: &PlotStage, default: f32, unit: &str) -> String {
    let why = if stage.dat.is_none() {
        "no transplanting date or stage for this plot"
    } else {
        "its duration class is not in the stage table"
    };
    let gets = if default.is_nan() {
        "no rate (no default_rate)".to_string()
    } else {
        format!("default_rate {default} {unit}")
    };
    format!("growth stage unknown ({why}): {gets}")
}

/// "not observed: …" and what it gets.
fn not_observed(why: String, default: f32, unit: &str) -> String {
    if default.is_nan() {
        format!("not observed: {why}; no rate (no default_rate)")
    } else {
        format!("not observed: {why}; default_rate {default} {unit}")
    }
}

/// Each plot's mean of the N index (exact coverage) over the raster `info`, and the share of
/// the plot's area with a valid index: valid pixels (by coverage) × pixel area ÷ plot area, both
/// in the raster's own CRS (`areas`), so parts of a plot outside the raster count as missing.
fn plot_means(
    plots: &Plots,
    info: &RasterInfo,
    areas: &[f64],
    threads: Option<usize>,
    rows: &mut [PlotRx],
) -> Result<()> {
    let stats = zonal::run(
        plots,
        std::slice::from_ref(info),
        &StatsRequest {
            coverage: CoverageMode::Exact,
            assume_same_crs: false,
            quantiles: false,
            mask_band: None,
            threads,
        },
        &|_, _| {},
    )?;
    if stats.rows.len() != rows.len() {
        return Err(Error::usage(format!(
            "internal error: {} plot rows from stats, {} plots",
            stats.rows.len(),
            rows.len()
        )));
    }
    let pixel = info
        .grid
        .geo_transform
        .map_or(f64::NAN, |g| (g[1] * g[5] - g[2] * g[4]).abs());
    for ((row, s), area) in rows.iter_mut().zip(&stats.rows).zip(areas) {
        if let Some(st) = s.stats.first() {
            row.n_index = st.mean;
            let share = st.count * pixel / area;
            row.n_coverage = if share.is_finite() {
                share.clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
    }
    Ok(())
}

/// Nitrogen, once the plot means are in: the reference, plot and cell rates, the machine layer.
fn nitrogen_pass(
    req: &PrescribeRequest,
    values: Vec<f32>,
    layout: Layout,
    flight: &Flight,
    rx: &mut Prescription,
    rows: &mut [PlotRx],
    warnings: &mut Vec<String>,
) -> Result<RatePass> {
    let cfg = &req.config.nitrogen;
    let refs = references(cfg, rx, rows, &values, &layout.labels, warnings);
    for &k in &refs.left_out {
        rows[k].reference = false;
        rows[k].left_out_of_reference = true;
    }
    rx.reference = refs.said.clone();
    rx.reference_doubts = refs.doubts.clone();
    let reference_of = &refs.of;
    let default = default_value(cfg.default_rate, |d| nitrogen::rails(cfg, d).1);
    plot_rates(req, rx, rows, reference_of, flight, default);
    if let Some(greener) = greener_than_reference(cfg, rx, rows, &refs) {
        warnings.push(greener.clone());
        rx.reference_doubts.push(greener);
    }
    // Each plot's cells: its own rate in cells wholly inside it with a valid index (when the
    // plot is rated cell by cell), the plot rate in edge cells (mixed with the bund or a
    // channel), the default where the index is missing.
    let rates = cell_rates(&layout, |k, i| {
        let (row, v) = (&rows[k], values[i]);
        if !row.n_observed || !v.is_finite() {
            default
        } else if row.n_variable && layout.labels[i] == (k + 1) as u32 && layout.core[i] {
            let cell = nitrogen::rate(
                cfg,
                rx.threshold,
                f64::from(v),
                reference_of[k],
                row.stage.dat,
            );
            cell.product as f32
        } else {
            row.nitrogen.product as f32
        }
    });
    let pass = tile(layout, rates, req.config.grid.min_zone_m2);
    for (k, row) in rows.iter_mut().enumerate() {
        let (kg, area) = totals(&pass.pieces, k);
        row.n_product_kg = kg;
        row.n_unobserved_m2 = (pass.layout.areas_m2[k] - area).max(0.0);
        if row.nitrogen.product.is_finite() {
            note_unseen(
                &mut row.nitrogen.reason,
                row.n_unobserved_m2,
                pass.layout.areas_m2[k],
            );
        }
    }
    if let Some(loud) = nothing_ordered(cfg, rx, rows) {
        warnings.insert(0, loud);
    }
    Ok(pass)
}

/// The loud line when the prescription orders nothing although plots were compared with a
/// reference that is in doubt ([`Prescription::reference_doubts`]): an all-zero prescription
/// from a wrong reference looks like a field with all the nitrogen it needs.
fn nothing_ordered(cfg: &NitrogenConfig, rx: &Prescription, rows: &[PlotRx]) -> Option<String> {
    let ordered: f64 = rows.iter().map(|r| r.n_product_kg).sum();
    let compared = rows
        .iter()
        .filter(|r| r.n_observed && r.nitrogen.si.is_some())
        .count();
    if ordered > 0.0 || compared == 0 || rx.reference_doubts.is_empty() {
        return None;
    }
    Some(format!(
        "NOTHING TO ORDER, AND THE REFERENCE IS IN DOUBT: 0 kg {} for {compared} observed plot(s) with a sufficiency index; {}. Do not take the zero for a field with all the nitrogen it needs: check that {} marks the N-rich strips",
        cfg.product,
        rx.reference_doubts.join("; "),
        marked_by(cfg)
    ))
}

/// Each plot's nitrogen rate: the default when not observed, none for the N-rich references,
/// none outside the stage window, else the rule's rate from the plot mean.
fn plot_rates(
    req: &PrescribeRequest,
    rx: &Prescription,
    rows: &mut [PlotRx],
    reference_of: &[f64],
    flight: &Flight,
    default: f32,
) {
    let cfg = &req.config.nitrogen;
    let unit = format!("kg {}/ha", cfg.product);
    let window = StageWindow::new(&cfg.stages, cfg.margin_days);
    for (k, row) in rows.iter_mut().enumerate() {
        row.n_observed = row.n_index.is_finite() && row.n_coverage >= cfg.min_coverage;
        let admitted = window.admits(&req.table, &row.stage.class, row.stage.stage, row.stage.dat);
        row.nitrogen = if !row.n_observed {
            let why = flight.missed(k).unwrap_or_else(|| {
                format!(
                    "{} covers {:.0}% of the plot (min_coverage {:.0}%)",
                    rx.n_index_name,
                    row.n_coverage * 100.0,
                    cfg.min_coverage * 100.0
                )
            });
            let mut r = Rate::zero(not_observed(why, default, &unit));
            r.product = f64::from(default);
            r.n = r.product * cfg.n_fraction;
            r
        } else if row.reference {
            Rate {
                si: Some(row.n_index / reference_of[k]).filter(|s| s.is_finite()),
                ..Rate::zero("N-rich reference: never topdressed by the prescription")
            }
        } else if let Err(NotAdmitted::Outside(why)) = admitted {
            Rate::zero(why)
        } else if admitted.is_err() {
            row.n_staged = false;
            let mut r = Rate::zero(stage_unknown(&row.stage, default, &unit));
            r.product = f64::from(default);
            r.n = r.product * cfg.n_fraction;
            r
        } else {
            row.n_variable = true;
            nitrogen::rate(
                cfg,
                rx.threshold,
                row.n_index,
                reference_of[k],
                row.stage.dat,
            )
        };
        if row.left_out_of_reference {
            row.nitrogen.reason = format!(
                "marked N-rich, but below the other N-rich plots by more than the threshold: left out of the reference and rated as a plot: {}",
                row.nitrogen.reason
            );
        }
    }
}

/// Spray: stress zones on the spray grid, rates per cell, the machine layer, areas and product.
fn spray_pass(
    req: &PrescribeRequest,
    mut values: Vec<f32>,
    layout: Layout,
    flight: &Flight,
    rx: &mut Prescription,
    rows: &mut [PlotRx],
) -> Result<RatePass> {
    let cfg = &req.config.spray;
    let (cell, w, h) = (layout.cell_size, layout.grid.width, layout.grid.height);
    let cell_m2 = cell * cell;
    let seen: Vec<bool> = values.iter().map(|v| v.is_finite()).collect();
    let (valid, judged) = judge(&mut values, &layout, rows.len());
    let previous = match &req.previous {
        Some(p) => {
            let before = crate::io::warp::resample(p, 1, &layout.grid, "average")?;
            Some(if cfg.drop_relative {
                relative_previous(&values, &before, &layout.labels, rows.len())
            } else {
                before
            })
        }
        None => None,
    };
    let params = ZoneParams {
        z_threshold: (cfg.z_threshold > 0.0).then_some(cfg.z_threshold),
        drop_threshold: previous.as_ref().map(|_| cfg.drop_threshold),
        combine: match cfg.combine {
            CombineConfig::Either => Combine::Either,
            CombineConfig::Both => Combine::Both,
        },
        opening_radius: cfg.opening_m / cell,
        min_area_cells: (cfg.min_area_m2 / cell_m2 - 1e-9).ceil().max(1.0) as usize,
        buffer_radius: cfg.buffer_m / cell,
    };
    let found = zones::spray_zones(
        &values,
        previous.as_deref(),
        &layout.labels,
        w,
        h,
        rows.len(),
        &params,
    )?;
    let default = default_value(cfg.default_rate, |d| d);
    let admitted = spray_plots(req, rows, (&judged, &valid), &layout, flight, default);
    let rates = cell_rates(&layout, |k, i| {
        if !judged[k] || !rows[k].spray_staged {
            default
        } else if !admitted[k] {
            0.0
        } else if layout.labels[i] == (k + 1) as u32 && found.zone[i] > 0 {
            cfg.rate as f32
        } else if seen[i] {
            cfg.preventive_rate as f32
        } else {
            default
        }
    });
    let pass = tile(layout, rates, req.config.grid.min_zone_m2);
    rx.zones = found
        .zones
        .iter()
        .filter(|z| admitted.get(z.plot as usize - 1).copied().unwrap_or(false))
        .map(|z| SprayZone {
            id: z.id,
            plot: z.plot as usize - 1,
            area_m2: z.cells as f64 * cell_m2,
            stressed_m2: z.stressed_cells as f64 * cell_m2,
            rate: cfg.rate,
        })
        .collect();
    for (k, row) in rows.iter_mut().enumerate() {
        let (litres, area) = totals(&pass.pieces, k);
        row.spray_product_l = litres;
        row.spray_area_m2 = pass
            .pieces
            .iter()
            .filter(|p| p.plot == k && p.rate > 0.0)
            .map(|p| p.area_m2)
            .sum();
        row.spray_unobserved_m2 = (pass.layout.areas_m2[k] - area).max(0.0);
        if row.spray_rate_outside.is_finite() {
            note_unseen(
                &mut row.spray_reason,
                row.spray_unobserved_m2,
                pass.layout.areas_m2[k],
            );
        }
    }
    Ok(pass)
}

/// A rated plot's `reason`, with the share of it that has no rate because nothing was seen
/// there when that share is above [`crate::export::styles::UNSEEN_PCT`] (as the plots layer
/// marks it): the summary, `report.json` and `report.html` then say that most of a
/// "prescribed" plot was not seen, not only its rate.
fn note_unseen(reason: &mut String, unseen_m2: f64, area_m2: f64) {
    let pct = 100.0 * unseen_m2 / area_m2;
    if pct.is_finite() && pct > crate::export::styles::UNSEEN_PCT {
        reason.push_str(&format!(
            "; {pct:.0} % of the plot ({unseen_m2:.0} of {area_m2:.0} m²) not observed: no rate there"
        ));
    }
}

/// Which plots are judged for stress, and each plot's count of valid cells. Only cells wholly
/// inside their plot are tested (edge cells mix in the bund): the others become NaN in
/// `values`. A plot whose such cells with a valid index cover less than a quarter of it (or
/// are fewer than 20) is not judged, and its cells become NaN too: its median and MAD would
/// describe the seen corner, not the plot.
fn judge(values: &mut [f32], layout: &Layout, n_plots: usize) -> (Vec<usize>, Vec<bool>) {
    let cell_m2 = layout.cell_size * layout.cell_size;
    for (v, &inside) in values.iter_mut().zip(&layout.core) {
        if !inside {
            *v = f32::NAN;
        }
    }
    let mut valid = vec![0usize; n_plots];
    for (&v, &label) in values.iter().zip(&layout.labels) {
        if let Some(c) = label.checked_sub(1).and_then(|k| valid.get_mut(k as usize)) {
            *c += usize::from(v.is_finite());
        }
    }
    let judged: Vec<bool> = (0..n_plots)
        .map(|k| valid[k] >= 20 && valid[k] as f64 * cell_m2 * 4.0 >= layout.areas_m2[k])
        .collect();
    for (v, &label) in values.iter_mut().zip(&layout.labels) {
        if label.checked_sub(1).is_some_and(|k| !judged[k as usize]) {
            *v = f32::NAN;
        }
    }
    (valid, judged)
}

/// Per plot: observed, in the spray window, the rate outside zones and why; returns whether
/// each plot is sprayed by zone (judged and in the window).
fn spray_plots(
    req: &PrescribeRequest,
    rows: &mut [PlotRx],
    (judged, valid): (&[bool], &[usize]),
    layout: &Layout,
    flight: &Flight,
    default: f32,
) -> Vec<bool> {
    let cfg = &req.config.spray;
    let cell = layout.cell_size;
    let cell_m2 = cell * cell;
    let window = StageWindow::new(&cfg.stages, cfg.margin_days);
    rows.iter_mut()
        .enumerate()
        .map(|(k, row)| {
            row.spray_observed = judged[k];
            let admits =
                window.admits(&req.table, &row.stage.class, row.stage.stage, row.stage.dat);
            let in_window = admits.is_ok();
            row.spray_staged = admits != Err(NotAdmitted::UnknownStage);
            row.spray_rate_outside = match (judged[k], in_window) {
                (true, true) => cfg.preventive_rate,
                (true, false) if row.spray_staged => 0.0,
                _ => f64::from(default),
            };
            row.spray_reason = match (judged[k], admits) {
                (false, _) => not_observed(
                    flight.missed(k).unwrap_or_else(|| format!(
                        "{:.0} m² of the plot's {:.0} m² seen in {cell} m cells wholly inside it (a quarter and 20 cells needed to find stress)",
                        valid[k] as f64 * cell_m2,
                        layout.areas_m2[k]
                    )),
                    default,
                    "L/ha",
                ),
                (true, Ok(())) => format!(
                    "in the spray window: {} L/ha in stress zones, {} L/ha elsewhere",
                    cfg.rate, cfg.preventive_rate
                ),
                (true, Err(NotAdmitted::UnknownStage)) => stage_unknown(&row.stage, default, "L/ha"),
                (true, Err(NotAdmitted::Outside(why))) => why,
            };
            judged[k] && in_window
        })
        .collect()
}

/// The previous flight shifted per plot by the plot's median change, so that "dropped since the
/// previous flight" means "rose less than the rest of its plot": between two flights a healthy
/// canopy grows, and a stressed patch shows as lagging, not as an absolute drop.
fn relative_previous(now: &[f32], before: &[f32], labels: &[u32], n_plots: usize) -> Vec<f32> {
    let mut changes: Vec<Vec<f64>> = vec![Vec::new(); n_plots];
    for ((&a, &b), &label) in now.iter().zip(before).zip(labels) {
        if let Some(c) = label
            .checked_sub(1)
            .and_then(|k| changes.get_mut(k as usize))
        {
            if a.is_finite() && b.is_finite() {
                c.push(f64::from(a) - f64::from(b));
            }
        }
    }
    let medians: Vec<f64> = changes
        .iter()
        .map(|c| nitrogen::percentile(c, 50.0).unwrap_or(0.0))
        .collect();
    before
        .iter()
        .zip(labels)
        .map(|(&b, &label)| {
            let shift = label
                .checked_sub(1)
                .and_then(|k| medians.get(k as usize))
                .copied()
                .unwrap_or(0.0);
            (f64::from(b) + shift) as f32
        })
        .collect()
}
