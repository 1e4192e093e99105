//! ISO 11783-10 (ISOXML) TASKDATA: TASKDATA.XML and a type-2 grid binary for ISOBUS terminals.
//!
//! A prescription goes to the tractor as one task ("TSK") on one field ("PFD") of a farm
//! ("FRM") and customer ("CTR"), applying one product ("PDT"). Some terminals hide tasks that
//! have no customer or farm, so both are always written. The rates are a grid ("GRD") of type 2:
//! one little-endian `i32` per cell and per process variable, here one variable, the setpoint
//! rate, in the ISO 11783-11 data dictionary's units:
//!
//! | quantity | DDI | unit (resolution) | from |
//! | --- | --- | --- | --- |
//! | [`Quantity::MassPerArea`] | 0x0006 Setpoint Mass Per Area Application Rate | mg/m² (1) | kg/ha × 100 |
//! | [`Quantity::VolumePerArea`] | 0x0001 Setpoint Volume Per Area Application Rate | mm³/m² (0.01) | L/ha × 10 000 |
//!
//! 1 kg/ha = 10⁶ mg / 10⁴ m² = 100 mg/m². 1 L/ha = 10⁶ mm³ / 10⁴ m² = 100 mm³/m², and DDI 1
//! counts in steps of 0.01 mm³/m², so 1 L/ha is the integer 10 000.
//!
//! The grid binary starts at the south-west corner (GRD A/B are the grid's minimum latitude and
//! longitude), row by row from south to north, each row west to east. Cells outside the field
//! (NaN in [`RateGrid::rates`]) get 0, so nothing is applied there; the task's out-of-field
//! treatment zone (code 0) also says 0. The grid names treatment zone 1, whose process data
//! variable says what the grid values are (the DDI and the product); its own value 0 is a
//! placeholder, as in other writers. The value presentation ("VPN") lets a terminal show the
//! values in kg/ha or L/ha.
//!
//! On a USB stick, terminals look for `TASKDATA/TASKDATA.XML` at the root: pass a directory
//! named `TASKDATA` to [`write_taskdata`].

#[cfg(feature = "io")]
use std::path::Path;

use super::qml::xml_attr;
use crate::error::{Error, Result};

/// The task file's name in the TASKDATA directory.
pub const TASKDATA_FILE: &str = "TASKDATA.XML";
/// The grid's name (GRD attribute G: "GRD" and five digits, without the extension).
pub const GRID_NAME: &str = "GRD00001";
/// The grid binary's file name: [`GRID_NAME`] with the upper-case extension terminals expect.
pub const GRID_FILE: &str = "GRD00001.BIN";

/// Longest designator ISO 11783-10 allows for names (customer, farm, field, product, task).
const MAX_NAME_CHARS: usize = 32;
/// Largest value of the GRD H (file length) and PFD D (area) attributes.
const MAX_UNSIGNED: u64 = 4_294_967_293;

/// What a rate measures, which chooses the data dictionary entity (DDI) and the scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A rate in kg/ha (solid fertiliser, granules): DDI 0x0006, mg/m².
    MassPerArea,
    /// A rate in L/ha (liquid fertiliser, sprays): DDI 0x0001, 0.01 mm³/m².
    VolumePerArea,
}

impl Quantity {
    /// The setpoint DDI.
    pub fn ddi(self) -> u16 {
        match self {
            Quantity::MassPerArea => 0x0006,
            Quantity::VolumePerArea => 0x0001,
        }
    }

    /// Grid integers per unit of rate (per kg/ha or per L/ha).
    pub fn scale(self) -> f64 {
        match self {
            Quantity::MassPerArea => 100.0,
            Quantity::VolumePerArea => 10_000.0,
        }
    }

    /// The unit rates are given in.
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::MassPerArea => "kg/ha",
            Quantity::VolumePerArea => "L/ha",
        }
    }

    /// A rate in [`Quantity::unit`] as the grid's integer, rounded to the nearest step.
    pub fn to_iso(self, rate: f64) -> f64 {
        (rate * self.scale()).round()
    }
}

/// Rates on a north-up grid in WGS84 (EPSG:4326) degrees.
#[derive(Debug, Clone, PartialEq)]
pub struct RateGrid {
    /// Latitude of the grid's south edge.
    pub min_lat: f64,
    /// Longitude of the grid's west edge.
    pub min_lon: f64,
    /// Cell height in degrees of latitude (positive).
    pub cell_lat: f64,
    /// Cell width in degrees of longitude (positive).
    pub cell_lon: f64,
    pub columns: u32,
    pub rows: u32,
    /// Row-major, the NORTHERN row first (as a GDAL raster in EPSG:4326 comes), in the
    /// quantity's unit; NaN outside the field.
    pub rates: Vec<f64>,
}

impl RateGrid {
    /// The grid of a north-up raster in EPSG:4326 with GDAL geotransform `gt`
    /// (`[west, cell width, 0, north, 0, -cell height]`) and its rates, northern row first.
    pub fn from_north_up(gt: [f64; 6], columns: u32, rows: u32, rates: Vec<f64>) -> Result<Self> {
        let north_up = gt[2] == 0.0 && gt[4] == 0.0 && gt[1] > 0.0 && gt[5] < 0.0;
        if !north_up {
            return Err(Error::usage(format!(
                "ISOXML grid: the raster must be north-up, without rotation (geotransform {gt:?})"
            )));
        }
        Ok(RateGrid {
            min_lat: gt[3] + f64::from(rows) * gt[5],
            min_lon: gt[0],
            cell_lat: -gt[5],
            cell_lon: gt[1],
            columns,
            rows,
            rates,
        })
    }
}

/// One prescription task for a terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's name on the terminal.
    pub name: String,
    pub customer: String,
    pub farm: String,
    /// The field's name.
    pub field: String,
    /// The field's area in m².
    pub field_area_m2: f64,
    /// The product applied (one product per task).
    pub product: String,
    pub quantity: Quantity,
    pub grid: RateGrid,
}

/// The grid's integers, south row first, after checking the task can be written.
fn checked_cells(task: &Task) -> Result<Vec<i32>> {
    let fail = |message: String| Err(Error::usage(format!("ISOXML task: {message}")));
    for (what, text) in [
        ("name", &task.name),
        ("customer", &task.customer),
        ("farm", &task.farm),
        ("field name", &task.field),
        ("product", &task.product),
    ] {
        if text.trim().is_empty() {
            return fail(format!("the {what} is empty"));
        }
    }
    if !task.field_area_m2.is_finite()
        || task.field_area_m2 < 0.0
        || task.field_area_m2.round() > MAX_UNSIGNED as f64
    {
        return fail(format!(
            "the field area {} m² is not a valid area",
            task.field_area_m2
        ));
    }
    let grid = &task.grid;
    let (columns, rows) = (u64::from(grid.columns), u64::from(grid.rows));
    if columns == 0 || rows == 0 {
        return fail(format!(
            "the rate grid is empty ({columns} columns × {rows} rows)"
        ));
    }
    let cells = columns * rows;
    if grid.rates.len() as u64 != cells {
        return fail(format!(
            "the rate grid has {} rates for {columns} columns × {rows} rows = {cells} cells",
            grid.rates.len()
        ));
    }
    if cells > MAX_UNSIGNED / 4 {
        return fail(format!(
            "the rate grid has {cells} cells; a grid file holds at most {} (use larger cells)",
            MAX_UNSIGNED / 4
        ));
    }
    for (what, size) in [
        ("cell height", grid.cell_lat),
        ("cell width", grid.cell_lon),
    ] {
        // GRD C and D: degrees, more than 0 and at most 1.
        if !size.is_finite() || size <= 0.0 || size > 1.0 {
            return fail(format!(
                "the {what} {size}° is not in (0, 1] degrees (the grid must be in EPSG:4326)"
            ));
        }
    }
    let north = grid.min_lat + rows as f64 * grid.cell_lat;
    if !grid.min_lat.is_finite() || grid.min_lat < -90.0 || north > 90.0 + 1e-9 {
        return fail(format!(
            "the grid's latitudes {}° to {north}° are not in [-90, 90] (the grid must be in EPSG:4326)",
            grid.min_lat
        ));
    }
    if !grid.min_lon.is_finite() || !(-180.0..=180.0).contains(&grid.min_lon) {
        return fail(format!(
            "the grid's west edge {}° is not in [-180, 180] (the grid must be in EPSG:4326)",
            grid.min_lon
        ));
    }
    let quantity = task.quantity;
    let max_rate = f64::from(i32::MAX) / quantity.scale();
    let mut out = Vec::with_capacity(grid.rates.len());
    // ISO rows run south to north: the raster's last row first.
    for row in (0..grid.rows as usize).rev() {
        let start = row * grid.columns as usize;
        for (column, &rate) in grid.rates[start..start + grid.columns as usize]
            .iter()
            .enumerate()
        {
            if rate.is_nan() {
                out.push(0);
                continue;
            }
            let value = quantity.to_iso(rate);
            if !(0.0..=f64::from(i32::MAX)).contains(&value) {
                let unit = quantity.unit();
                return fail(format!(
                    "the rate {rate} {unit} at row {row}, column {column} is not in [0, {max_rate}] {unit}"
                ));
            }
            out.push(value as i32);
        }
    }
    Ok(out)
}

/// At most [`MAX_NAME_CHARS`] characters of `text`, trimmed, escaped for an attribute.
fn name(text: &str) -> String {
    let short: String = text.trim().chars().take(MAX_NAME_CHARS).collect();
    xml_attr(short.trim_end())
}

/// TASKDATA.XML for `task`, which references the grid file [`GRID_FILE`]. Names longer than the
/// 32 characters ISO 11783-10 allows are cut.
pub fn taskdata_xml(task: &Task) -> Result<String> {
    checked_cells(task)?;
    let grid = &task.grid;
    let quantity = task.quantity;
    let ddi = format!("{:04X}", quantity.ddi());
    let scale = 1.0 / quantity.scale();
    let unit = quantity.unit();
    let version = xml_attr(env!("CARGO_PKG_VERSION"));
    let area = task.field_area_m2.round() as u64;
    let file_length = u64::from(grid.columns) * u64::from(grid.rows) * 4;
    let (customer, farm, field) = (name(&task.customer), name(&task.farm), name(&task.field));
    let (product, task_name) = (name(&task.product), name(&task.name));
    let (min_lat, min_lon) = (grid.min_lat, grid.min_lon);
    let (cell_lat, cell_lon) = (grid.cell_lat, grid.cell_lon);
    let (columns, rows) = (grid.columns, grid.rows);
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ISO11783_TaskData VersionMajor="4" VersionMinor="3" ManagementSoftwareManufacturer="paddy" ManagementSoftwareVersion="{version}" DataTransferOrigin="1">
  <CTR A="CTR1" B="{customer}"/>
  <FRM A="FRM1" B="{farm}" I="CTR1"/>
  <PFD A="PFD1" C="{field}" D="{area}" E="CTR1" F="FRM1"/>
  <PDT A="PDT1" B="{product}" F="1"/>
  <TSK A="TSK1" B="{task_name}" C="CTR1" D="FRM1" E="PFD1" G="1" J="0">
    <TZN A="0" B="Outside the field">
      <PDV A="{ddi}" B="0" C="PDT1" E="VPN1"/>
    </TZN>
    <TZN A="1" B="Prescription">
      <PDV A="{ddi}" B="0" C="PDT1" E="VPN1"/>
    </TZN>
    <GRD A="{min_lat:.9}" B="{min_lon:.9}" C="{cell_lat}" D="{cell_lon}" E="{columns}" F="{rows}" G="{GRID_NAME}" H="{file_length}" I="2" J="1"/>
  </TSK>
  <VPN A="VPN1" B="0" C="{scale}" D="1" E="{unit}"/>
</ISO11783_TaskData>
"#
    ))
}

/// The type-2 grid binary for `task`: one little-endian `i32` per cell, south row first, each
/// row west to east; the rate in the quantity's ISO unit, 0 outside the field (NaN rates).
pub fn grid_bin(task: &Task) -> Result<Vec<u8>> {
    Ok(checked_cells(task)?
        .into_iter()
        .flat_map(i32::to_le_bytes)
        .collect())
}

/// Write `dir/TASKDATA.XML` and `dir/GRD00001.BIN`, creating `dir`. Each file is written under a
/// temporary name and renamed; the grid first, so a TASKDATA.XML never names a missing grid.
/// Nothing is written when the task is invalid.
#[cfg(feature = "io")]
pub fn write_taskdata(dir: &Path, task: &Task) -> Result<()> {
    let xml = taskdata_xml(task)?;
    let bin = grid_bin(task)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    crate::io::write_atomic(&dir.join(GRID_FILE), &bin)?;
    crate::io::write_atomic(&dir.join(TASKDATA_FILE), xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3 × 2 grid (columns × rows) of kg/ha rates, northern row first; one cell outside.
    fn task() -> Task {
        Task {
            name: "N topdressing".into(),
            customer: "Somchai & Sons".into(),
            farm: "Ban <Nong> Farm".into(),
            field: "Plot \"7\"".into(),
            field_area_m2: 1234.4,
            product: "Urea 46-0-0".into(),
            quantity: Quantity::MassPerArea,
            grid: RateGrid {
                min_lat: 14.0,
                min_lon: 100.5,
                cell_lat: 0.0001,
                cell_lon: 0.00012,
                columns: 3,
                rows: 2,
                // North row: 10, 20, 30; south row: 40, NaN, 55.55.
                rates: vec![10.0, 20.0, 30.0, 40.0, f64::NAN, 55.55],
            },
        }
    }

    fn cells(bin: &[u8]) -> Vec<i32> {
        bin.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn grid_binary_is_south_first_in_mg_per_m2_with_zero_outside() {
        let bin = grid_bin(&task()).expect("valid task");
        assert_eq!(bin.len(), 3 * 2 * 4);
        let values = cells(&bin);
        // First the southern row (40 kg/ha → 4000 mg/m²), then the northern one.
        assert_eq!(values, [4000, 0, 5555, 1000, 2000, 3000]);
    }

    #[test]
    fn litres_per_hectare_are_hundredths_of_mm3_per_m2() {
        let mut t = task();
        t.quantity = Quantity::VolumePerArea;
        t.grid.rates = vec![2.0, 0.5, 1.25, 0.0, 150.0, f64::NAN];
        let values = cells(&grid_bin(&t).expect("valid task"));
        // 2 L/ha = 200 mm³/m² = 20000 steps of 0.01 mm³/m².
        assert_eq!(values, [0, 1_500_000, 0, 20_000, 5_000, 12_500]);
        let xml = taskdata_xml(&t).expect("valid task");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let pdv = doc
            .descendants()
            .find(|n| n.has_tag_name("PDV"))
            .expect("a PDV");
        assert_eq!(pdv.attribute("A"), Some("0001"));
        let vpn = doc
            .descendants()
            .find(|n| n.has_tag_name("VPN"))
            .expect("a VPN");
        assert_eq!(vpn.attribute("C"), Some("0.0001"));
        assert_eq!(vpn.attribute("E"), Some("L/ha"));
    }

    #[test]
    fn taskdata_names_everything_a_terminal_needs() {
        let xml = taskdata_xml(&task()).expect("valid task");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "ISO11783_TaskData");
        assert_eq!(root.attribute("VersionMajor"), Some("4"));
        assert_eq!(
            root.attribute("ManagementSoftwareManufacturer"),
            Some("paddy")
        );
        assert_eq!(
            root.attribute("ManagementSoftwareVersion"),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(root.attribute("DataTransferOrigin"), Some("1"));
        let element = |tag: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name(tag))
                .unwrap_or_else(|| panic!("no {tag}"))
        };
        assert_eq!(element("CTR").attribute("B"), Some("Somchai & Sons"));
        assert_eq!(element("FRM").attribute("B"), Some("Ban <Nong> Farm"));
        let pfd = element("PFD");
        assert_eq!(pfd.attribute("C"), Some("Plot \"7\""));
        assert_eq!(pfd.attribute("D"), Some("1234"));
        assert_eq!(element("PDT").attribute("B"), Some("Urea 46-0-0"));
        let tsk = element("TSK");
        assert_eq!(tsk.attribute("C"), Some("CTR1"));
        assert_eq!(tsk.attribute("D"), Some("FRM1"));
        assert_eq!(tsk.attribute("E"), Some("PFD1"));
        assert_eq!(tsk.attribute("G"), Some("1"));
        assert_eq!(tsk.attribute("J"), Some("0"));

        let grd = element("GRD");
        assert_eq!(grd.parent(), Some(tsk));
        let number = |k: &str| -> f64 {
            grd.attribute(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("GRD {k}"))
        };
        assert_eq!(number("A"), 14.0);
        assert_eq!(number("B"), 100.5);
        assert_eq!(number("C"), 0.0001);
        assert_eq!(number("D"), 0.00012);
        assert_eq!(grd.attribute("E"), Some("3"));
        assert_eq!(grd.attribute("F"), Some("2"));
        let g = grd.attribute("G").expect("GRD G");
        assert!(g.len() == 8 && g.starts_with("GRD") && g[3..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(format!("{g}.BIN"), GRID_FILE);
        assert_eq!(grd.attribute("H"), Some("24"));
        assert_eq!(grd.attribute("I"), Some("2"));
        // The grid's treatment zone holds the one process variable: setpoint mass per area.
        let zone = grd.attribute("J").expect("GRD J");
        let tzn = tsk
            .children()
            .find(|n| n.has_tag_name("TZN") && n.attribute("A") == Some(zone))
            .expect("the grid's TZN");
        let pdvs: Vec<_> = tzn.children().filter(|n| n.has_tag_name("PDV")).collect();
        assert_eq!(pdvs.len(), 1);
        assert_eq!(pdvs[0].attribute("A"), Some("0006"));
        assert_eq!(pdvs[0].attribute("C"), Some("PDT1"));
        // The out-of-field zone applies nothing.
        let outside = tsk
            .children()
            .find(|n| n.has_tag_name("TZN") && n.attribute("A") == Some("0"))
            .expect("the out-of-field TZN");
        let pdv = outside.children().find(|n| n.has_tag_name("PDV"));
        assert_eq!(pdv.and_then(|p| p.attribute("B")), Some("0"));
        assert_eq!(element("VPN").attribute("C"), Some("0.01"));
    }

    #[test]
    fn long_names_are_cut_to_32_characters() {
        let mut t = task();
        t.field = "ท".repeat(40);
        let xml = taskdata_xml(&t).expect("valid task");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let pfd = doc
            .descendants()
            .find(|n| n.has_tag_name("PFD"))
            .and_then(|n| n.attribute("C"))
            .expect("PFD C");
        assert_eq!(pfd.chars().count(), 32);
    }

    #[test]
    fn invalid_tasks_are_refused_with_the_reason() {
        let refused = |change: &dyn Fn(&mut Task), words: &str| {
            let mut t = task();
            change(&mut t);
            let message = grid_bin(&t).expect_err("refused").to_string();
            assert!(message.contains(words), "{message:?} lacks {words:?}");
            assert!(taskdata_xml(&t).is_err());
        };
        refused(
            &|t| {
                t.grid.columns = 0;
                t.grid.rates.clear();
            },
            "empty",
        );
        refused(
            &|t| t.grid.rates.push(1.0),
            "7 rates for 3 columns × 2 rows",
        );
        refused(&|t| t.grid.cell_lat = f64::NAN, "cell height");
        refused(&|t| t.grid.cell_lon = 30.0, "cell width");
        refused(&|t| t.grid.min_lat = 89.99995, "latitudes");
        refused(
            &|t| t.grid.rates[1] = -5.0,
            "rate -5 kg/ha at row 0, column 1",
        );
        refused(&|t| t.grid.rates[5] = f64::INFINITY, "row 1, column 2");
        // 30 000 000 kg/ha is 3·10⁹ mg/m², past i32.
        refused(&|t| t.grid.rates[0] = 3.0e7, "21474836.47");
        refused(&|t| t.customer = " ".into(), "customer is empty");
        refused(&|t| t.field_area_m2 = -1.0, "field area");
    }

    #[test]
    fn grid_from_a_north_up_geotransform() {
        let grid = RateGrid::from_north_up(
            [100.5, 0.00012, 0.0, 14.0002, 0.0, -0.0001],
            3,
            2,
            vec![0.0; 6],
        )
        .expect("north-up");
        assert!((grid.min_lat - 14.0).abs() < 1e-12);
        assert_eq!(
            (grid.min_lon, grid.cell_lat, grid.cell_lon),
            (100.5, 0.0001, 0.00012)
        );
        assert!(RateGrid::from_north_up([0.0, 1.0, 0.1, 0.0, 0.0, -1.0], 1, 1, vec![0.0]).is_err());
        assert!(RateGrid::from_north_up([0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 1, 1, vec![0.0]).is_err());
    }

    #[cfg(feature = "io")]
    #[test]
    fn writes_both_files_into_a_new_directory() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("stick").join("TASKDATA");
        write_taskdata(&dir, &task()).expect("written");
        let xml = std::fs::read_to_string(dir.join("TASKDATA.XML")).expect("TASKDATA.XML");
        assert!(roxmltree::Document::parse(&xml).is_ok());
        let bin = std::fs::read(dir.join("GRD00001.BIN")).expect("GRD00001.BIN");
        assert_eq!(bin.len(), 24);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["GRD00001.BIN", "TASKDATA.XML"]);

        let mut bad = task();
        bad.grid.rates.pop();
        let other = tmp.path().join("other");
        assert!(write_taskdata(&other, &bad).is_err());
        assert!(!other.exists());
    }
}
