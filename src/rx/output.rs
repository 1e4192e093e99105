//! The prescription files, in one folder, for each product (nitrogen, spray):
//!
//! - `rx_<product>.tif`: the rate grid (Float32, nodata −9999 where no plot touches a cell and
//!   where nothing was observed; a cell shared by plots has the rate of the plot covering most
//!   of it), with `rx_<product>.qml` (classified colours) and a PNG quicklook `rx_<product>.png`
//!   with its legend (not-observed cells hatched);
//! - `rx_<product>_zones.geojson` (RFC 7946, WGS84) and `rx_<product>_zones.shp.zip`: the
//!   machine layer, pieces that tile each plot exactly (no overlaps, nothing outside a plot,
//!   nothing where no rate was given), with plot_id, rate, unit, product, area and total; one
//!   `rx_<product>_zones.qml` styles both (QGIS looks up `<name>.qml` without the extension, so
//!   the vector layers cannot share the raster's name and style);
//! - `rx_<product>_plots.geojson` with `rx_<product>_plots.qml`: the layer for people, one
//!   feature per plot with its plot rate, status ("not observed" hatched) and reason — never to
//!   be loaded into a terminal;
//! - `TASKDATA_<product>/`: ISO 11783-10 TASKDATA.XML + grid, each cell the rate of the machine
//!   piece under its centre (copy one to a USB stick as `TASKDATA`);
//! - `rx_summary.csv`: per plot stage, index, SI, status, rates, product and spray totals;
//! - `rx_report.json`: settings, reference, totals, plots not observed and every file written.
//!
//! All totals (summary, report, quicklook notes, the machine layer's `total` column) are the
//! machine layer's: Σ piece rate × piece area.

use std::path::{Path, PathBuf};

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};

use crate::error::{Error, Result};
use crate::export::classes::{rate_classes, Palette};
use crate::export::{isoxml, qml, quicklook};
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
    unit: String,
    product: String,
    palette: Palette,
    quantity: isoxml::Quantity,
    /// kg N per kg product (nitrogen), for the n_rate column.
    n_fraction: Option<f64>,
}

impl Map<'_> {
    fn nitrogen(&self) -> bool {
        self.n_fraction.is_some()
    }

    /// A plot's rate for people (None: no rate), status, reason and machine total.
    fn plot(&self, p: &PlotRx) -> (Option<f64>, &'static str, String, f64) {
        let (rate, observed, reason, total) = if self.nitrogen() {
            (
                p.nitrogen.product,
                p.n_observed,
                &p.nitrogen.reason,
                p.n_product_kg,
            )
        } else {
            (
                p.spray_rate_outside,
                p.spray_observed,
                &p.spray_reason,
                p.spray_product_l,
            )
        };
        let status = match (observed, rate.is_finite()) {
            (true, _) => "prescribed",
            (false, true) => "not observed (default rate)",
            (false, false) => "not observed",
        };
        (
            rate.is_finite().then_some(rate),
            status,
            reason.clone(),
            total,
        )
    }
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
    if let Some(pass) = &rx.nitrogen {
        maps.push(Map {
            name: "nitrogen",
            title: format!("Nitrogen topdress, {}", n.product),
            pass,
            unit: format!("kg {}/ha", n.product),
            product: n.product.clone(),
            palette: Palette::Nitrogen,
            quantity: isoxml::Quantity::MassPerArea,
            n_fraction: Some(n.n_fraction),
        });
    }
    if let Some(pass) = &rx.spray {
        maps.push(Map {
            name: "spray",
            title: format!("Spray zones, {}", config.spray.product),
            pass,
            unit: "L/ha".into(),
            product: config.spray.product.clone(),
            palette: Palette::Spray,
            quantity: isoxml::Quantity::VolumePerArea,
            n_fraction: None,
        });
    }
    for map in &maps {
        write_map(rx, map, dir, &mut out)?;
    }
    for row in &rx.plots {
        out.total_n_product_kg += row.n_product_kg;
        out.total_spray_l += row.spray_product_l;
        out.total_spray_area_m2 += row.spray_area_m2;
    }
    out.total_n_kg = out.total_n_product_kg * n.n_fraction;
    let summary = dir.join("rx_summary.csv");
    summary_table(rx).write(&summary)?;
    out.files.push(("summary".into(), summary));
    let report = dir.join("rx_report.json");
    out.files.push(("report".into(), report.clone()));
    let ids = |f: &dyn Fn(&PlotRx) -> bool| -> Vec<String> {
        rx.plots
            .iter()
            .filter(|p| f(p))
            .map(|p| p.id.clone())
            .collect()
    };
    let grid = |pass: &RatePass| {
        serde_json::json!({
            "cell_size_m": pass.layout.cell_size,
            "width": pass.layout.grid.width,
            "height": pass.layout.grid.height,
            "geo_transform": pass.layout.grid.geo_transform,
        })
    };
    let json = serde_json::json!({
        "software": format!("paddy {}", env!("CARGO_PKG_VERSION")),
        "inputs": inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "flight_date": rx.flight_date.as_ref().map(|(d, from)| serde_json::json!({
            "date": d.to_string(),
            "from": from,
        })),
        "nitrogen": rx.nitrogen.as_ref().map(|pass| serde_json::json!({
            "grid": grid(pass),
            "index": rx.n_index_name,
            "reference": rx.reference,
            "sufficiency_threshold": rx.threshold,
            "product": n.product,
            "product_kg": round2(out.total_n_product_kg),
            "n_kg": round2(out.total_n_kg),
            "zones": pass.pieces.len(),
            "not_observed": ids(&|p| !p.n_observed),
            "not_observed_m2": round2(rx.plots.iter().map(|p| p.n_unobserved_m2).sum()),
        })),
        "spray": rx.spray.as_ref().map(|pass| serde_json::json!({
            "grid": grid(pass),
            "product": config.spray.product,
            "zones": rx.zones.len(),
            "sprayed_area_m2": round2(out.total_spray_area_m2),
            "product_l": round2(out.total_spray_l),
            "not_observed": ids(&|p| !p.spray_observed),
            "not_observed_m2": round2(rx.plots.iter().map(|p| p.spray_unobserved_m2).sum()),
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

/// Two decimals, and never "-0".
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// One rate map: GeoTIFF + style + quicklook, machine and people layers + styles, ISOXML.
fn write_map(rx: &Prescription, map: &Map, dir: &Path, out: &mut Written) -> Result<()> {
    let pass = map.pass;
    let grid = &pass.layout.grid;
    let rates: Vec<f64> = pass.values.iter().map(|&v| f64::from(v)).collect();
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
    out.files.push((kind.clone(), tif.clone()));
    let style = tif.with_extension("qml");
    crate::io::write_atomic(&style, qml::raster_classes(&classes, &map.title).as_bytes())?;
    out.files.push(("style".into(), style));

    // The machine layer.
    // 9 decimals of a degree (~0.1 mm): at the usual 7 (~1 cm) pieces that tile a plot exactly
    // could cross their neighbours or themselves.
    let zones = machine_table(rx, map)?;
    let path = dir.join(format!("rx_{}_zones.geojson", map.name));
    zones.write_geojson_with_decimals(&path, 9)?;
    out.files.push((format!("{kind}_zones"), path));
    let path = dir.join(format!("rx_{}_zones.shp.zip", map.name));
    zones.write(&path)?;
    out.files.push((format!("{kind}_zones"), path));
    let vstyle = dir.join(format!("rx_{}_zones.qml", map.name));
    let label = format!(
        "format_number(\"rate\", 1) || ' {}'",
        map.unit.replace('\'', "''")
    );
    crate::io::write_atomic(
        &vstyle,
        qml::vector_graduated("rate", &classes, &label, &map.title).as_bytes(),
    )?;
    out.files.push(("style".into(), vstyle));

    // The layer for people.
    let people = dir.join(format!("rx_{}_plots.geojson", map.name));
    plots_table(rx, map)?.write(&people)?;
    out.files.push((format!("{kind}_plots"), people));
    let pstyle = dir.join(format!("rx_{}_plots.qml", map.name));
    let label = format!(
        "\"plot_id\" || ': ' || coalesce(format_number(\"rate\", 1) || ' {}', 'not observed')",
        map.unit.replace('\'', "''")
    );
    crate::io::write_atomic(
        &pstyle,
        qml::vector_plots("rate", "status", &classes, &label, &map.title).as_bytes(),
    )?;
    out.files.push(("style".into(), pstyle));

    write_quicklook(rx, map, &classes, &dir.join(format!("rx_{}.png", map.name)))?;
    out.files
        .push(("quicklook".into(), dir.join(format!("rx_{}.png", map.name))));

    // ISOBUS task data: the machine pieces on WGS84 cells of about the grid's size.
    let task_dir = dir.join(format!("TASKDATA_{}", map.name));
    write_isoxml(rx, map, &task_dir)?;
    out.files
        .push(("isoxml".into(), task_dir.join("TASKDATA.XML")));
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
    let total: f64 = pass
        .pieces
        .iter()
        .map(|p| p.rate * p.area_m2 / 10_000.0)
        .sum();
    let unseen = rx
        .plots
        .iter()
        .filter(|p| !map.plot(p).1.eq("prescribed"))
        .count();
    let mut notes = vec![
        format!(
            "Total: {:.2} {} of {}",
            total,
            if map.quantity == isoxml::Quantity::MassPerArea {
                "kg"
            } else {
                "L"
            },
            map.product
        ),
        format!("Cells: {} m", pass.layout.cell_size),
    ];
    if unseen > 0 {
        notes.push(format!("{unseen} plot(s) not observed"));
    }
    quicklook::write_png(
        png,
        &quicklook::RateMap {
            values: &pass.values,
            width: pass.layout.grid.width,
            height: pass.layout.grid.height,
            cell_size_m: Some(pass.layout.cell_size),
            classes,
            title: &map.title,
            unit: &map.unit,
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
    };
    crate::io::vector::wgs84(&plots)
}

/// The columns both vector layers start with.
fn columns(map: &Map) -> Vec<(String, Kind)> {
    let mut columns: Vec<(String, Kind)> = vec![
        ("plot_id".into(), Kind::Text),
        ("rate".into(), Kind::Real),
        ("unit".into(), Kind::Text),
        ("product".into(), Kind::Text),
    ];
    if map.nitrogen() {
        columns.push(("n_rate".into(), Kind::Real));
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
        let reason = if status != "prescribed" {
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
            Value::Real(piece.rate),
            Value::Text(map.unit.clone()),
            Value::Text(map.product.clone()),
        ];
        if let Some(f) = map.n_fraction {
            row.push(Value::Real(piece.rate * f));
        }
        row.extend([
            Value::Int(i as i64 + 1),
            Value::Real(piece.area_m2 / 10_000.0),
            Value::Real(piece.rate * piece.area_m2 / 10_000.0),
            Value::Text(reason),
        ]);
        table.rows.push(row);
        geoms.push(Some(piece.parts.clone()));
    }
    table.lonlat = to_lonlat(rx, geoms)?;
    Ok(table)
}

/// The layer for people: one feature per plot, its plot rate, status and reason.
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
        ("reason".into(), Kind::Text),
    ]);
    for plot in &rx.plots {
        let (rate, status, reason, total) = map.plot(plot);
        let mut row = vec![
            Value::Text(plot.id.clone()),
            Value::real(rate),
            Value::Text(map.unit.clone()),
            Value::Text(map.product.clone()),
        ];
        if let Some(f) = map.n_fraction {
            row.push(Value::real(rate.map(|r| r * f)));
        }
        let unseen = if map.nitrogen() {
            plot.n_unobserved_m2
        } else {
            plot.spray_unobserved_m2
        };
        row.extend([
            Value::Text(status.into()),
            Value::real(Some(plot.area_ha)),
            Value::Real(round2(total)),
            Value::Real(round2(unseen)),
            Value::Text(reason),
        ]);
        table.rows.push(row);
    }
    table.lonlat = to_lonlat(rx, rx.plots.iter().map(|p| p.parts.clone()).collect())?;
    Ok(table)
}

/// "not observed" or "prescribed" (or with the default rate) for a summary row.
fn status(observed: bool, rate: f64) -> Value {
    Value::Text(
        match (observed, rate.is_finite()) {
            (true, _) => "prescribed",
            (false, true) => "not observed (default rate)",
            (false, false) => "not observed",
        }
        .into(),
    )
}

/// Per plot: attributes, stage, index, SI, status, rates and totals. A plot attribute whose name
/// is one of the computed columns is written as `<name>_input`.
pub fn summary_table(rx: &Prescription) -> Table {
    const COMPUTED: [(&str, Kind); 19] = [
        ("class", Kind::Text),
        ("stage", Kind::Text),
        ("days_after_transplanting", Kind::Real),
        ("area_ha", Kind::Real),
        ("n_index", Kind::Real),
        ("n_index_coverage", Kind::Real),
        ("si", Kind::Real),
        ("n_status", Kind::Text),
        ("n_rate_kg_ha", Kind::Real),
        ("product_rate_kg_ha", Kind::Real),
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
    let mut columns: Vec<(String, Kind)> = vec![(rx.id_column.clone(), Kind::Text)];
    columns.extend(rx.fields.iter().map(|(name, kind)| {
        let clash = COMPUTED.iter().any(|c| c.0.eq_ignore_ascii_case(name));
        (
            if clash {
                format!("{name}_input")
            } else {
                name.clone()
            },
            *kind,
        )
    }));
    columns.extend(COMPUTED.iter().map(|(n, k)| (n.to_string(), *k)));
    let n_pass = rx.nitrogen.is_some();
    let s_pass = rx.spray.is_some();
    let rows = rx
        .plots
        .iter()
        .map(|p| {
            let mut row = vec![Value::Text(p.id.clone())];
            row.extend(p.attributes.iter().cloned());
            let rate = |v: f64| Value::real(Some(v).filter(|v| v.is_finite()));
            row.extend([
                Value::Text(p.stage.class.clone()),
                Value::Text(p.stage.stage.map_or("unknown", |s| s.name()).to_string()),
                Value::real(p.stage.dat),
                Value::real(Some(p.area_ha)),
                Value::real(Some(p.n_index)),
                Value::real(Some(p.n_coverage)),
                Value::real(p.nitrogen.si),
            ]);
            if n_pass {
                row.extend([
                    status(p.n_observed, p.nitrogen.product),
                    rate(p.nitrogen.n),
                    rate(p.nitrogen.product),
                    Value::Real(round2(p.n_product_kg)),
                    Value::Real(round2(p.n_unobserved_m2)),
                    Value::Text(p.nitrogen.reason.clone()),
                ]);
            } else {
                row.extend(std::iter::repeat(Value::Null).take(6));
            }
            if s_pass {
                row.extend([
                    status(p.spray_observed, p.spray_rate_outside),
                    rate(p.spray_rate_outside),
                    Value::Real(round2(p.spray_area_m2)),
                    Value::Real(round2(p.spray_product_l)),
                    Value::Real(round2(p.spray_unobserved_m2)),
                    Value::Text(p.spray_reason.clone()),
                ]);
            } else {
                row.extend(std::iter::repeat(Value::Null).take(6));
            }
            row
        })
        .collect();
    Table {
        columns,
        rows,
        lonlat: Vec::new(),
    }
}
