//! The prescription files, in one folder:
//!
//! - `rx_nitrogen.tif`, `rx_spray.tif`: rate grids (Float32, nodata −9999 outside the plots,
//!   unit and product in the metadata), each with `rx_*.qml` (classified colours) and a PNG
//!   quicklook `rx_*.png` with its legend;
//! - `rx_nitrogen_zones.geojson`, `rx_spray_zones.geojson` (RFC 7946, WGS84): one feature per
//!   plot and per zone of equal rate inside it, with plot_id, rate, unit, product, reason, and
//!   the same features as `rx_*_zones.shp.zip` for terminals; one `rx_*_zones.qml` styles both
//!   (QGIS looks up `<name>.qml` without the extension, so the vector layers cannot share the
//!   raster's name and style);
//! - `TASKDATA_nitrogen/`, `TASKDATA_spray/`: ISO 11783-10 TASKDATA.XML + grid (copy one to a
//!   USB stick as `TASKDATA`);
//! - `rx_summary.csv`: per plot stage, index, SI, rates, product and spray totals;
//! - `rx_report.json`: settings, reference, totals and every file written.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::export::classes::{rate_classes, Palette};
use crate::export::{isoxml, qml, quicklook};
use crate::io::table::{Kind, Parts, Table, Value};
use crate::io::{CogOptions, IndexWriter, OutputMeta};
use crate::raster::Window;
use crate::zonal::plots::{Geom, Plot, Plots};

use super::config::RxConfig;
use super::run::Prescription;

/// Nodata of the rate grids (a number every terminal and GIS reads).
pub const NODATA: f32 = -9999.0;

/// One map: which grid, its unit and product.
struct Map<'a> {
    name: &'static str,
    title: String,
    values: &'a [f32],
    unit: String,
    product: String,
    palette: Palette,
    quantity: isoxml::Quantity,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// (kind, path) of every file.
    pub files: Vec<(String, PathBuf)>,
    pub total_n_product_kg: f64,
    pub total_n_kg: f64,
    pub total_spray_l: f64,
    pub total_spray_area_m2: f64,
}

/// Write every output of `rx` into `dir`.
pub fn write(
    rx: &Prescription,
    config: &RxConfig,
    dir: &Path,
    inputs: &[PathBuf],
) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Written::default();
    let n = &config.nitrogen;
    let mut maps = Vec::new();
    if let Some(values) = &rx.nitrogen {
        maps.push(Map {
            name: "nitrogen",
            title: format!("Nitrogen topdress, {}", n.product),
            values,
            unit: format!("kg {}/ha", n.product),
            product: n.product.clone(),
            palette: Palette::Nitrogen,
            quantity: isoxml::Quantity::MassPerArea,
        });
    }
    if let Some(values) = &rx.spray {
        maps.push(Map {
            name: "spray",
            title: format!("Spray zones, {}", config.spray.product),
            values,
            unit: "L/ha".into(),
            product: config.spray.product.clone(),
            palette: Palette::Spray,
            quantity: isoxml::Quantity::VolumePerArea,
        });
    }
    for map in &maps {
        write_map(rx, map, dir, &mut out)?;
    }
    for row in &rx.plots {
        out.total_n_product_kg += row.n_grid_product_kg;
        out.total_spray_l += row.spray_product_l;
        out.total_spray_area_m2 += row.spray_area_m2;
    }
    out.total_n_kg = out.total_n_product_kg * n.n_fraction;
    let summary = dir.join("rx_summary.csv");
    summary_table(rx).write(&summary)?;
    out.files.push(("summary".into(), summary));
    let report = dir.join("rx_report.json");
    out.files.push(("report".into(), report.clone()));
    let json = serde_json::json!({
        "software": format!("paddy {}", env!("CARGO_PKG_VERSION")),
        "inputs": inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "grid": {
            "cell_size_m": rx.cell_size,
            "width": rx.grid.width,
            "height": rx.grid.height,
            "geo_transform": rx.grid.geo_transform,
        },
        "nitrogen": rx.nitrogen.as_ref().map(|_| serde_json::json!({
            "index": rx.n_index_name,
            "reference": rx.reference,
            "sufficiency_threshold": rx.threshold,
            "product": n.product,
            "product_kg": round2(out.total_n_product_kg),
            "n_kg": round2(out.total_n_kg),
        })),
        "spray": rx.spray.as_ref().map(|_| serde_json::json!({
            "product": config.spray.product,
            "zones": rx.zones.len(),
            "sprayed_area_m2": round2(out.total_spray_area_m2),
            "product_l": round2(out.total_spray_l),
        })),
        "warnings": rx.warnings,
        // Paths relative to this report's folder, so a moved folder stays whole.
        "files": out.files.iter().map(|(k, p)| serde_json::json!({
            "kind": k,
            "path": p.strip_prefix(dir).unwrap_or(p).display().to_string(),
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::usage(format!("cannot format the report: {e}")))?;
    crate::io::write_atomic(&report, text.as_bytes())?;
    Ok(out)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// One rate map: GeoTIFF + style + quicklook, zones as GeoJSON + shapefile + style, ISOXML.
fn write_map(rx: &Prescription, map: &Map, dir: &Path, out: &mut Written) -> Result<()> {
    let rates: Vec<f64> = map.values.iter().map(|&v| f64::from(v)).collect();
    let classes = rate_classes(&rates, &map.unit, map.palette, 7);
    let kind = format!("rx_{}", map.name);

    // The rate grid.
    let tif = dir.join(format!("rx_{}.tif", map.name));
    let meta = OutputMeta {
        description: map.title.clone(),
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
        &rx.grid,
        f64::from(NODATA),
        &meta,
        &CogOptions::widely_readable(),
    )?;
    let data: Vec<f32> = map
        .values
        .iter()
        .map(|&v| if v.is_finite() { v } else { NODATA })
        .collect();
    writer.write(
        Window {
            x: 0,
            y: 0,
            width: rx.grid.width,
            height: rx.grid.height,
        },
        data,
    )?;
    writer.finish()?;
    out.files.push((kind.clone(), tif.clone()));
    let style = tif.with_extension("qml");
    crate::io::write_atomic(&style, qml::raster_classes(&classes, &map.title).as_bytes())?;
    out.files.push(("style".into(), style));

    // Zones: connected cells of one rate inside one plot.
    let zones = zone_table(rx, map, &dir.join(format!("rx_{}_zones.geojson", map.name)))?;
    for ext in ["geojson", "shp.zip"] {
        let path = dir.join(format!("rx_{}_zones.{ext}", map.name));
        zones.write(&path)?;
        out.files.push((format!("{kind}_zones"), path));
    }
    let vstyle = dir.join(format!("rx_{}_zones.qml", map.name));
    // One label per plot (zones would clutter the map): its id and plot rate.
    let label = format!(
        "CASE WHEN \"kind\" = 'plot' THEN \"plot_id\" || ': ' || format_number(\"rate\", 0) || ' {}' END",
        map.unit.replace('\'', "''")
    );
    crate::io::write_atomic(
        &vstyle,
        qml::vector_graduated("rate", &classes, &label, &map.title).as_bytes(),
    )?;
    out.files.push(("style".into(), vstyle));

    // The quicklook.
    let png = dir.join(format!("rx_{}.png", map.name));
    let gt = rx
        .grid
        .geo_transform
        .unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
    let outlines: Vec<Vec<Vec<(f64, f64)>>> = rx
        .plots
        .iter()
        .filter_map(|p| p.parts.as_ref())
        .flat_map(|parts| crate::zonal::to_pixel(&gt, parts))
        .collect();
    let labels: Vec<(f64, f64, String)> = rx
        .plots
        .iter()
        .filter_map(|p| {
            let parts = crate::zonal::to_pixel(&gt, p.parts.as_ref()?);
            let pts: Vec<&(f64, f64)> = parts.iter().flatten().flatten().collect();
            let n = pts.len() as f64;
            (n > 0.0).then(|| {
                let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
                (sx / n, sy / n, p.id.clone())
            })
        })
        .collect();
    let total: f64 = map
        .values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v) * rx.cell_size * rx.cell_size / 10_000.0)
        .sum();
    let notes = vec![
        format!(
            "Total: {:.1} {} of {}",
            total,
            if map.quantity == isoxml::Quantity::MassPerArea {
                "kg"
            } else {
                "L"
            },
            map.product
        ),
        format!("Cells: {} m", rx.cell_size),
    ];
    quicklook::write_png(
        &png,
        &quicklook::RateMap {
            values: map.values,
            width: rx.grid.width,
            height: rx.grid.height,
            cell_size_m: Some(rx.cell_size),
            classes: &classes,
            title: &map.title,
            unit: &map.unit,
            notes: &notes,
            outlines: &outlines,
            labels: &labels,
        },
    )?;
    out.files.push(("quicklook".into(), png));

    // ISOBUS task data: the grid in WGS84 cells of about the same size.
    let task_dir = dir.join(format!("TASKDATA_{}", map.name));
    write_isoxml(rx, map, &task_dir)?;
    out.files
        .push(("isoxml".into(), task_dir.join("TASKDATA.XML")));
    Ok(())
}

fn write_isoxml(rx: &Prescription, map: &Map, dir: &Path) -> Result<()> {
    let lat = centre_lat(rx).unwrap_or(0.0);
    let cell_lat = rx.cell_size / 111_320.0;
    let cell_lon = rx.cell_size / (111_320.0 * lat.to_radians().cos().max(0.01));
    let (grid, values) =
        crate::io::warp::to_wgs84(map.values, &rx.grid, (cell_lon, cell_lat), dir)?;
    let gt = grid.geo_transform.unwrap_or_default();
    let rates: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    let area: f64 = rx
        .plots
        .iter()
        .map(|p| p.area_ha * 10_000.0)
        .filter(|a| a.is_finite())
        .sum();
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

/// Latitude of the grid's centre.
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

/// Parts in the grid's CRS → WGS84 lon/lat.
fn to_lonlat(rx: &Prescription, parts: Vec<Option<Parts>>) -> Result<Vec<Option<Parts>>> {
    Plots {
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
        crs_wkt: rx.grid.crs_wkt.clone(),
        warnings: Vec::new(),
    }
    .wgs84()
}

/// Features of one map: each plot (its rate and reason), then each zone of equal rate in it.
fn zone_table(rx: &Prescription, map: &Map, what: &Path) -> Result<Table> {
    let nitrogen = map.name == "nitrogen";
    let mut table = Table {
        columns: vec![
            ("plot_id".into(), Kind::Text),
            ("kind".into(), Kind::Text),
            ("zone".into(), Kind::Int),
            ("rate".into(), Kind::Real),
            ("unit".into(), Kind::Text),
            ("product".into(), Kind::Text),
            ("n_rate".into(), Kind::Real),
            ("area_ha".into(), Kind::Real),
            ("total".into(), Kind::Real),
            ("reason".into(), Kind::Text),
        ],
        ..Table::default()
    };
    if !nitrogen {
        table.columns.retain(|c| c.0 != "n_rate");
    }
    // Zone keys: (plot, rate) pairs → polygon values 1…K.
    let mut keys: Vec<(u32, i64)> = Vec::new();
    let key_of = |v: f32| (f64::from(v) * 1000.0).round() as i64;
    let mut ids = vec![0i32; map.values.len()];
    for (i, (&v, &label)) in map.values.iter().zip(&rx.labels).enumerate() {
        if label == 0 || !v.is_finite() {
            continue;
        }
        let key = (label, key_of(v));
        let k = match keys.iter().position(|x| *x == key) {
            Some(k) => k,
            None => {
                keys.push(key);
                keys.len() - 1
            }
        };
        ids[i] = (k + 1) as i32;
    }
    let polygons = crate::io::warp::polygonize(&ids, &rx.grid, false, what)?;
    let mut geoms: Vec<Option<Parts>> = Vec::new();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let unit = Value::Text(map.unit.clone());
    let product = Value::Text(map.product.clone());
    for plot in &rx.plots {
        let (rate, reason) = if nitrogen {
            (plot.nitrogen.product, plot.nitrogen.reason.clone())
        } else {
            (plot.spray_rate_outside, plot.spray_reason.clone())
        };
        let total = if nitrogen {
            plot.n_grid_product_kg
        } else {
            plot.spray_product_l
        };
        let mut row = vec![
            Value::Text(plot.id.clone()),
            Value::Text("plot".into()),
            Value::Int(0),
            Value::Real(rate),
            unit.clone(),
            product.clone(),
        ];
        if nitrogen {
            row.push(Value::Real(plot.nitrogen.n));
        }
        row.extend([
            Value::real(Some(plot.area_ha)),
            Value::Real(round2(total)),
            Value::Text(reason),
        ]);
        rows.push(row);
        geoms.push(plot.parts.clone());
    }
    let n_fraction = rx
        .plots
        .iter()
        .find(|p| p.nitrogen.product > 0.0)
        .map_or(0.0, |p| p.nitrogen.n / p.nitrogen.product);
    for (zone, (value, parts)) in polygons.into_iter().enumerate() {
        let Some(&(label, key)) = usize::try_from(value - 1).ok().and_then(|k| keys.get(k)) else {
            continue;
        };
        let plot = &rx.plots[label as usize - 1];
        let rate = key as f64 / 1000.0;
        let area: f64 = polygon_area(&parts) / 10_000.0;
        let reason = if nitrogen {
            if plot.n_variable {
                format!("cells with SI below {} get N", rx.threshold)
            } else {
                plot.nitrogen.reason.clone()
            }
        } else if rate > 0.0 && rate > plot.spray_rate_outside {
            "stress zone".into()
        } else {
            plot.spray_reason.clone()
        };
        let mut row = vec![
            Value::Text(plot.id.clone()),
            Value::Text("zone".into()),
            Value::Int(zone as i64 + 1),
            Value::Real(rate),
            unit.clone(),
            product.clone(),
        ];
        if nitrogen {
            row.push(Value::Real(rate * n_fraction));
        }
        row.extend([
            Value::Real(round2(area * 10_000.0) / 10_000.0),
            Value::Real(round2(rate * area)),
            Value::Text(reason),
        ]);
        rows.push(row);
        geoms.push(Some(parts));
    }
    table.rows = rows;
    table.lonlat = to_lonlat(rx, geoms)?;
    Ok(table)
}

/// Planar area of parts (outer rings minus holes), in CRS units².
fn polygon_area(parts: &Parts) -> f64 {
    let ring = |r: &Vec<(f64, f64)>| {
        r.windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum::<f64>()
            .abs()
            / 2.0
    };
    parts
        .iter()
        .map(|rings| {
            rings
                .iter()
                .enumerate()
                .map(|(i, r)| if i == 0 { ring(r) } else { -ring(r) })
                .sum::<f64>()
        })
        .sum()
}

/// Per plot: attributes, stage, index, SI, rates and totals.
pub fn summary_table(rx: &Prescription) -> Table {
    let mut columns: Vec<(String, Kind)> = vec![(rx.id_column.clone(), Kind::Text)];
    columns.extend(rx.fields.iter().cloned());
    for (name, kind) in [
        ("class", Kind::Text),
        ("stage", Kind::Text),
        ("days_after_transplanting", Kind::Real),
        ("area_ha", Kind::Real),
        ("n_index", Kind::Real),
        ("n_index_coverage", Kind::Real),
        ("si", Kind::Real),
        ("n_rate_kg_ha", Kind::Real),
        ("product_rate_kg_ha", Kind::Real),
        ("product_kg", Kind::Real),
        ("grid_product_kg", Kind::Real),
        ("n_reason", Kind::Text),
        ("spray_area_m2", Kind::Real),
        ("spray_product_l", Kind::Real),
        ("spray_reason", Kind::Text),
    ] {
        columns.push((name.into(), kind));
    }
    let rows = rx
        .plots
        .iter()
        .map(|p| {
            let mut row = vec![Value::Text(p.id.clone())];
            row.extend(p.attributes.iter().cloned());
            row.extend([
                Value::Text(p.stage.class.clone()),
                Value::Text(p.stage.stage.map_or("unknown", |s| s.name()).to_string()),
                Value::real(p.stage.dat),
                Value::real(Some(p.area_ha)),
                Value::real(Some(p.n_index)),
                Value::real(Some(p.n_coverage)),
                Value::real(p.nitrogen.si),
                Value::Real(p.nitrogen.n),
                Value::Real(p.nitrogen.product),
                Value::Real(round2(p.n_product_kg)),
                Value::Real(round2(p.n_grid_product_kg)),
                Value::Text(p.nitrogen.reason.clone()),
                Value::Real(round2(p.spray_area_m2)),
                Value::Real(round2(p.spray_product_l)),
                Value::Text(p.spray_reason.clone()),
            ]);
            row
        })
        .collect();
    Table {
        columns,
        rows,
        lonlat: Vec::new(),
    }
}
