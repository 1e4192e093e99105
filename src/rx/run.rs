//! `paddy prescribe`: index rasters, plots and their growth stage in; per-plot and per-cell
//! nitrogen rates and spray zones out (written by [`super::output`]).
//!
//! The rate grid is laid in the index raster's projected CRS over the plots' extent, at the
//! configured cell size, aligned to whole cells; the index is resampled onto it by GDAL's
//! `average` (each source pixel weighted by its overlap); a cell belongs to the plot its centre
//! falls in, and only such cells ever get a rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::{table::Value, RasterInfo};
use crate::phenology::dates::Date;
use crate::phenology::stage::{Stage, StageTable};
use crate::raster::Grid;
use crate::zonal::plots::{gis_srs, Plots};
use crate::zonal::{self, CoverageMode, PixelPolygon, StatsRequest};

use super::config::{CombineConfig, RxConfig, StageWindow};
use super::nitrogen::{self, Rate};
use super::zones::{self, Combine, ZoneParams};

/// What `paddy prescribe` is asked to do.
#[derive(Debug, Clone)]
pub struct PrescribeRequest {
    pub plots: PathBuf,
    pub layer: Option<String>,
    pub id_field: Option<String>,
    /// The index the nitrogen rule reads (NDRE at panicle initiation, say).
    pub n_index: Option<PathBuf>,
    /// The index stress zones are found in (NDVI, say), and an earlier flight of it.
    pub spray_index: Option<PathBuf>,
    pub previous: Option<PathBuf>,
    /// `paddy stage` output (CSV) giving each plot's class, stage and days after transplanting.
    pub stages: Option<PathBuf>,
    /// Without `stages`: the date of the flight, with the plots' `transplanted_field` and
    /// `class_field` attributes.
    pub at: Option<Date>,
    pub class_field: String,
    pub default_class: String,
    pub transplanted_field: String,
    pub table: StageTable,
    pub config: RxConfig,
    pub threads: Option<usize>,
}

/// One plot's growth stage, as the prescription sees it.
#[derive(Debug, Clone, Default)]
pub struct PlotStage {
    pub class: String,
    pub stage: Option<Stage>,
    pub dat: Option<f64>,
    /// Where it came from (file or attributes), for reasons.
    pub source: String,
}

/// One plot's prescription.
#[derive(Debug, Clone)]
pub struct PlotRx {
    pub id: String,
    pub attributes: Vec<Value>,
    pub stage: PlotStage,
    pub reference: bool,
    /// Plot mean of the N index, and the share of the plot it covers.
    pub n_index: f64,
    pub n_coverage: f64,
    pub nitrogen: Rate,
    /// Whether cells of the plot get their own rate (inside the window, index present).
    pub n_variable: bool,
    pub area_ha: f64,
    /// kg product: the plot rate × area, and the grid's cells summed.
    pub n_product_kg: f64,
    pub n_grid_product_kg: f64,
    pub spray_rate_outside: f64,
    pub spray_reason: String,
    pub spray_area_m2: f64,
    pub spray_product_l: f64,
    /// Plot rings in the grid's CRS.
    pub parts: Option<crate::io::table::Parts>,
}

/// One spray zone.
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
    pub grid: Grid,
    pub cell_size: f64,
    /// Cell → plot number (1-based into `plots`), 0 outside every plot.
    pub labels: Vec<u32>,
    /// Cells wholly inside their plot.
    pub core: Vec<bool>,
    pub plots: Vec<PlotRx>,
    pub id_column: String,
    pub fields: Vec<(String, crate::io::table::Kind)>,
    /// kg product/ha per cell (NaN outside plots), when an N index was given.
    pub nitrogen: Option<Vec<f32>>,
    pub n_index_name: String,
    /// How the reference was found, in words.
    pub reference: String,
    pub threshold: f64,
    /// L/ha per cell (NaN outside plots), when a spray index was given.
    pub spray: Option<Vec<f32>>,
    pub zone_ids: Vec<u32>,
    pub zones: Vec<SprayZone>,
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

/// The plots' stages from a `paddy stage` CSV (by id).
fn stages_from_csv(path: &Path, id_column: &str) -> Result<HashMap<String, PlotStage>> {
    let bad = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let id = col(id_column)
        .or(if header.is_empty() { None } else { Some(0) })
        .ok_or_else(|| bad("empty file".into()))?;
    let (Some(stage), Some(dat)) = (col("stage"), col("days_after_transplanting")) else {
        return Err(bad(
            "not a paddy stage table: it needs the columns stage and days_after_transplanting"
                .into(),
        ));
    };
    let class = col("class");
    let mut out = HashMap::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", line + 2)))?;
        let get = |k: usize| record.get(k).unwrap_or("").trim().to_string();
        out.insert(
            get(id),
            PlotStage {
                class: class.map(get).unwrap_or_default(),
                stage: get(stage).parse::<Stage>().ok(),
                dat: get(dat).parse::<f64>().ok().filter(|d| d.is_finite()),
                source: crate::io::file_name(path),
            },
        );
    }
    Ok(out)
}

/// The grid: the raster's projected CRS, the plots' extent snapped to whole cells.
fn rx_grid(
    info: &RasterInfo,
    plots: &Plots,
    cell: f64,
) -> Result<(Grid, Vec<Option<crate::io::table::Parts>>)> {
    let Some(wkt) = info.grid.crs_wkt.as_deref() else {
        return Err(Error::Input {
            path: info.path.clone(),
            message: "the raster has no CRS: a prescription grid needs a projected CRS in metres"
                .into(),
        });
    };
    if gis_srs(wkt).is_some_and(|s| s.is_geographic()) {
        return Err(Error::Input {
            path: info.path.clone(),
            message: "the raster is in geographic coordinates (degrees): reproject it to a projected CRS in metres (e.g. its UTM zone with gdalwarp -t_srs EPSG:326xx) for a prescription grid".into(),
        });
    }
    let parts = plots.to_crs(Some(wkt), cell / 2.0)?;
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in parts.iter().flatten() {
        for &(x, y) in p.iter().flatten().flatten() {
            bbox = [
                bbox[0].min(x),
                bbox[1].min(y),
                bbox[2].max(x),
                bbox[3].max(y),
            ];
        }
    }
    if !(bbox[0].is_finite() && bbox[2] > bbox[0] && bbox[3] > bbox[1]) {
        return Err(Error::Input {
            path: plots.path.clone(),
            message: "no plot has a usable polygon".into(),
        });
    }
    let x0 = (bbox[0] / cell).floor() * cell;
    let y1 = (bbox[3] / cell).ceil() * cell;
    let width = ((bbox[2] - x0) / cell).ceil().max(1.0) as usize;
    let height = ((y1 - bbox[1]) / cell).ceil().max(1.0) as usize;
    if width.saturating_mul(height) > 400_000_000 {
        return Err(Error::usage(format!(
            "a {width} × {height} grid at {cell} m is too large: raise grid.cell_size or split the plots"
        )));
    }
    Ok((
        Grid {
            width,
            height,
            geo_transform: Some([x0, cell, 0.0, y1, 0.0, -cell]),
            crs_wkt: Some(wkt.to_string()),
        },
        parts,
    ))
}

/// Cell → plot number (1-based), by cell centre (a cell in two plots goes to the first), and
/// whether the cell lies wholly inside its plot (no bund or neighbour mixed in: only such
/// cells are tested for stress).
fn label_cells(grid: &Grid, parts: &[Option<crate::io::table::Parts>]) -> (Vec<u32>, Vec<bool>) {
    let n = grid.width * grid.height;
    let (mut labels, mut core) = (vec![0u32; n], vec![false; n]);
    let Some(gt) = grid.geo_transform else {
        return (labels, core);
    };
    let (mut centre, mut exact) = (Vec::new(), Vec::new());
    for (k, p) in parts.iter().enumerate() {
        let Some(poly) = p
            .as_ref()
            .and_then(|p| PixelPolygon::new(&zonal::to_pixel(&gt, p)))
        else {
            continue;
        };
        let Some(rect) = poly.cells(grid.width, grid.height) else {
            continue;
        };
        poly.coverage(rect, CoverageMode::Centre, &mut centre);
        poly.coverage(rect, CoverageMode::Exact, &mut exact);
        for r in 0..rect.height {
            for c in 0..rect.width {
                let i = (rect.y + r) * grid.width + rect.x + c;
                let j = r * rect.width + c;
                if centre[j] > 0.5 && labels[i] == 0 {
                    labels[i] = (k + 1) as u32;
                    core[i] = exact[j] >= 0.999;
                }
            }
        }
    }
    (labels, core)
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

/// Compute the prescription.
pub fn run(req: &PrescribeRequest) -> Result<Prescription> {
    req.config.check("settings")?;
    let Some(first) = req.n_index.as_ref().or(req.spray_index.as_ref()) else {
        return Err(Error::usage(
            "give --n-index (nitrogen), --spray-index (spray zones) or both",
        ));
    };
    if req.stages.is_none() && req.at.is_none() {
        return Err(Error::usage(
            "give --stages STAGE.csv (from paddy stage) or --at DATE (the flight date, with the plots' transplanted and duration class attributes)",
        ));
    }
    let cell = req.config.grid.cell_size;
    let plots = Plots::read(&req.plots, req.layer.as_deref(), req.id_field.as_deref())?;
    let mut warnings = plots.warnings.clone();
    let info = RasterInfo::read(first)?;
    let (grid, parts) = rx_grid(&info, &plots, cell)?;
    let (labels, core) = label_cells(&grid, &parts);
    let field = |name: &str| {
        plots
            .fields
            .iter()
            .position(|f| f.0.eq_ignore_ascii_case(name))
    };

    // Growth stage per plot.
    let from_csv = match &req.stages {
        Some(path) => Some(stages_from_csv(path, &plots.id_column)?),
        None => None,
    };
    let (class_at, transplanted_at) = (field(&req.class_field), field(&req.transplanted_field));
    let stage_of = |k: usize| -> PlotStage {
        let plot = &plots.plots[k];
        if let Some(map) = &from_csv {
            return map.get(&plot.id).cloned().unwrap_or_default();
        }
        let class = class_at
            .map(|i| plot.attributes[i].text())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| req.default_class.clone());
        let transplanted =
            transplanted_at.and_then(|i| plot.attributes[i].text().parse::<Date>().ok());
        let dat = match (transplanted, req.at) {
            (Some(t), Some(at)) => Some(f64::from(t.days_until(at))),
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
    let ref_field = field(&req.config.nitrogen.reference_field);
    let mut rows: Vec<PlotRx> = (0..plots.plots.len())
        .map(|k| {
            let plot = &plots.plots[k];
            PlotRx {
                id: plot.id.clone(),
                attributes: plot.attributes.clone(),
                stage: stage_of(k),
                reference: ref_field.is_some_and(|i| truthy(&plot.attributes[i])),
                n_index: f64::NAN,
                n_coverage: 0.0,
                nitrogen: Rate::zero(""),
                n_variable: false,
                area_ha: f64::NAN,
                n_product_kg: 0.0,
                n_grid_product_kg: 0.0,
                spray_rate_outside: 0.0,
                spray_reason: String::new(),
                spray_area_m2: 0.0,
                spray_product_l: 0.0,
                parts: parts[k].clone(),
            }
        })
        .collect();
    let areas = Plots::geodesic_areas(&plots.wgs84()?);
    for (row, a) in rows.iter_mut().zip(&areas) {
        row.area_ha = a / 10_000.0;
    }
    if let Some(map) = &from_csv {
        let missing: Vec<&str> = rows
            .iter()
            .filter(|r| !map.contains_key(&r.id))
            .map(|r| r.id.as_str())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "{} plot(s) not in the stage table (rate 0): {}",
                missing.len(),
                missing.join(", ")
            ));
        }
    }

    let mut rx = Prescription {
        grid,
        cell_size: cell,
        labels,
        core,
        plots: Vec::new(),
        id_column: plots.id_column.clone(),
        fields: plots.fields.clone(),
        nitrogen: None,
        n_index_name: String::new(),
        reference: String::new(),
        threshold: f64::NAN,
        spray: None,
        zone_ids: Vec::new(),
        zones: Vec::new(),
        warnings: Vec::new(),
    };
    // Each index onto the grid once, also when one file serves both passes.
    let resample = |p: &Path| crate::io::warp::resample(p, 1, &rx.grid, "average");
    let n_values = req.n_index.as_deref().map(resample).transpose()?;
    let spray_values = match (&req.spray_index, &req.n_index, &n_values) {
        (Some(s), Some(n), Some(v)) if crate::io::same_file(s, n) => Some(v.clone()),
        (Some(s), ..) => Some(resample(s)?),
        _ => None,
    };
    if let (Some(path), Some(values)) = (&req.n_index, n_values) {
        nitrogen_pass(req, path, values, &mut rx, &mut rows, &mut warnings)?;
    }
    if let Some(values) = spray_values {
        spray_pass(req, values, &mut rx, &mut rows)?;
    }
    rx.plots = rows;
    rx.warnings = warnings;
    Ok(rx)
}

/// Nitrogen: plot means (exact coverage), the reference, plot and cell rates.
fn nitrogen_pass(
    req: &PrescribeRequest,
    path: &Path,
    values: Vec<f32>,
    rx: &mut Prescription,
    rows: &mut [PlotRx],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let cfg = &req.config.nitrogen;
    let info = RasterInfo::read(path)?;
    rx.n_index_name = index_name(&info);
    rx.threshold = cfg.threshold_for(&rx.n_index_name);
    let stats = zonal::run(
        &StatsRequest {
            rasters: vec![path.to_path_buf()],
            plots: req.plots.clone(),
            layer: req.layer.clone(),
            id_field: req.id_field.clone(),
            coverage: CoverageMode::Exact,
            assume_same_crs: false,
            quantiles: false,
            mask_band: None,
            threads: req.threads,
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
    // The share of each plot's area with a valid index: valid pixels (by coverage) × pixel
    // area ÷ plot area, so parts of a plot outside the raster count as missing.
    let pixel_m2 = info
        .grid
        .geo_transform
        .map_or(f64::NAN, |g| (g[1] * g[5] - g[2] * g[4]).abs());
    for (row, s) in rows.iter_mut().zip(&stats.rows) {
        if let Some(st) = s.stats.first() {
            row.n_index = st.mean;
            let share = st.count * pixel_m2 / s.area_m2;
            row.n_coverage = if share.is_finite() {
                share.clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
    }

    // The reference, per group of like plots (same variety, say): the group's N-rich plots
    // (area-weighted), else a high percentile of the group's cells (a virtual reference).
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
    for (&v, &label) in values.iter().zip(&rx.labels) {
        if let Some(&g) = label
            .checked_sub(1)
            .and_then(|k| group_index.get(k as usize))
        {
            cells_of[g].push(f64::from(v));
        }
    }
    let mut references: HashMap<String, f64> = HashMap::new();
    let mut said = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let members: Vec<usize> = (0..rows.len()).filter(|&k| group_index[k] == g).collect();
        let name = if group_at.is_some() {
            format!("{} {group}: ", cfg.reference_group_field)
        } else {
            String::new()
        };
        let refs: Vec<&PlotRx> = members
            .iter()
            .map(|&k| &rows[k])
            .filter(|r| r.reference && r.n_index.is_finite() && r.n_coverage >= cfg.min_coverage)
            .collect();
        let vi_ref = if refs.is_empty() {
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
            p.unwrap_or(f64::NAN)
        } else {
            let w: f64 = refs.iter().map(|r| r.area_ha * r.n_coverage).sum();
            let v = refs
                .iter()
                .map(|r| r.n_index * r.area_ha * r.n_coverage)
                .sum::<f64>()
                / w;
            said.push(format!(
                "{name}N-rich reference {} = {v:.4}",
                refs.iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            v
        };
        references.insert(group.clone(), vi_ref);
    }
    rx.reference = said.join("; ");
    let reference_of = |row: &PlotRx| references.get(&group_of(row)).copied().unwrap_or(f64::NAN);

    let window = StageWindow::new(&cfg.stages, cfg.margin_days);
    for row in rows.iter_mut() {
        let admitted = window.admits(&req.table, &row.stage.class, row.stage.stage, row.stage.dat);
        row.nitrogen = if row.reference {
            Rate {
                si: Some(1.0),
                ..Rate::zero("N-rich reference: never topdressed by the prescription")
            }
        } else if let Err(why) = admitted {
            Rate::zero(why)
        } else if row.n_coverage < cfg.min_coverage {
            Rate::zero(format!(
                "{} covers {:.0}% of the plot (min_coverage {:.0}%)",
                rx.n_index_name,
                row.n_coverage * 100.0,
                cfg.min_coverage * 100.0
            ))
        } else {
            let r = nitrogen::rate(
                cfg,
                rx.threshold,
                row.n_index,
                reference_of(row),
                row.stage.dat,
            );
            row.n_variable = true;
            r
        };
        row.n_product_kg = row.nitrogen.product * row.area_ha.max(0.0);
    }
    let cell_ha = rx.cell_size * rx.cell_size / 10_000.0;
    // Cells wholly inside a plot get their own rate; edge cells (mixed with the bund or a
    // channel) and cells without index take the plot's rate.
    let grid: Vec<f32> = values
        .iter()
        .zip(&rx.labels)
        .zip(&rx.core)
        .map(|((&v, &label), &inside)| {
            let Some(row) = label.checked_sub(1).and_then(|k| rows.get(k as usize)) else {
                return f32::NAN;
            };
            if !row.n_variable || !inside || !v.is_finite() {
                return row.nitrogen.product as f32;
            }
            nitrogen::rate(
                cfg,
                rx.threshold,
                f64::from(v),
                reference_of(row),
                row.stage.dat,
            )
            .product as f32
        })
        .collect();
    for (&r, &label) in grid.iter().zip(&rx.labels) {
        if let Some(row) = label.checked_sub(1).and_then(|k| rows.get_mut(k as usize)) {
            row.n_grid_product_kg += f64::from(r) * cell_ha;
        }
    }
    rx.nitrogen = Some(grid);
    Ok(())
}

/// Spray: stress zones on the grid, rates per cell, areas and product per plot and zone.
fn spray_pass(
    req: &PrescribeRequest,
    mut values: Vec<f32>,
    rx: &mut Prescription,
    rows: &mut [PlotRx],
) -> Result<()> {
    let cfg = &req.config.spray;
    // Edge cells mix in the bund: never stress, never in a plot's statistics. A plot seen on
    // less than a quarter of its cells (or fewer than 20) is not judged: its median and MAD
    // would describe the seen corner, not the plot.
    for (v, &inside) in values.iter_mut().zip(&rx.core) {
        if !inside {
            *v = f32::NAN;
        }
    }
    let mut seen = vec![(0usize, 0usize); rows.len()];
    for (&v, &label) in values.iter().zip(&rx.labels) {
        if let Some(c) = label.checked_sub(1).and_then(|k| seen.get_mut(k as usize)) {
            c.0 += 1;
            c.1 += usize::from(v.is_finite());
        }
    }
    let judged: Vec<bool> = seen
        .iter()
        .map(|&(cells, valid)| valid >= 20 && valid * 4 >= cells)
        .collect();
    for (v, &label) in values.iter_mut().zip(&rx.labels) {
        if label.checked_sub(1).is_some_and(|k| !judged[k as usize]) {
            *v = f32::NAN;
        }
    }
    let previous = match &req.previous {
        Some(p) => {
            let before = crate::io::warp::resample(p, 1, &rx.grid, "average")?;
            Some(if cfg.drop_relative {
                relative_previous(&values, &before, &rx.labels, rows.len())
            } else {
                before
            })
        }
        None => None,
    };
    let cell = rx.cell_size;
    let params = ZoneParams {
        z_threshold: (cfg.z_threshold > 0.0).then_some(cfg.z_threshold),
        drop_threshold: previous.as_ref().map(|_| cfg.drop_threshold),
        combine: match cfg.combine {
            CombineConfig::Either => Combine::Either,
            CombineConfig::Both => Combine::Both,
        },
        opening_radius: cfg.opening_m / cell,
        min_area_cells: (cfg.min_area_m2 / (cell * cell)).ceil().max(1.0) as usize,
        buffer_radius: cfg.buffer_m / cell,
    };
    let (w, h) = (rx.grid.width, rx.grid.height);
    let found = zones::spray_zones(
        &values,
        previous.as_deref(),
        &rx.labels,
        w,
        h,
        rows.len(),
        &params,
    )?;
    let window = StageWindow::new(&cfg.stages, cfg.margin_days);
    // Per plot: in the window or not. No coverage is required: zones are where stress was
    // seen, and cells not seen get the preventive rate.
    let admitted: Vec<bool> = rows
        .iter_mut()
        .enumerate()
        .map(|(k, row)| {
            match window.admits(&req.table, &row.stage.class, row.stage.stage, row.stage.dat) {
                Ok(()) => {
                    row.spray_rate_outside = cfg.preventive_rate;
                    row.spray_reason = if judged[k] {
                        format!(
                            "in the spray window: {} L/ha in stress zones, {} L/ha elsewhere",
                            cfg.rate, cfg.preventive_rate
                        )
                    } else {
                        format!(
                            "too little of the plot seen to find stress zones ({} of {} cells): {} L/ha",
                            seen[k].1, seen[k].0, cfg.preventive_rate
                        )
                    };
                    true
                }
                Err(why) => {
                    row.spray_rate_outside = 0.0;
                    row.spray_reason = why;
                    false
                }
            }
        })
        .collect();
    let cell_m2 = cell * cell;
    let grid: Vec<f32> = found
        .zone
        .iter()
        .zip(&rx.labels)
        .map(|(&z, &label)| {
            let Some(k) = label.checked_sub(1).map(|k| k as usize) else {
                return f32::NAN;
            };
            if !admitted.get(k).copied().unwrap_or(false) {
                0.0
            } else if z > 0 {
                cfg.rate as f32
            } else {
                cfg.preventive_rate as f32
            }
        })
        .collect();
    for (&r, &label) in grid.iter().zip(&rx.labels) {
        if let Some(row) = label.checked_sub(1).and_then(|k| rows.get_mut(k as usize)) {
            row.spray_product_l += f64::from(r) * cell_m2 / 10_000.0;
        }
    }
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
    for z in &rx.zones {
        rows[z.plot].spray_area_m2 += z.area_m2;
    }
    let kept: std::collections::HashSet<u32> = rx.zones.iter().map(|z| z.id).collect();
    rx.zone_ids = found
        .zone
        .iter()
        .map(|&z| if kept.contains(&z) { z } else { 0 })
        .collect();
    rx.spray = Some(grid);
    Ok(())
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
