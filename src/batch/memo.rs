//! What the units of one `paddy run` share in memory instead of computing it again: each plot
//! file as read (by the run's checks before any unit, then kept), the latest statistics table
//! of a plot file on each raster grid (its rows, the plots' status, area and pixels there, are
//! the stage's rows on that grid), and the stage's per-plot statistics table (gathered from the
//! statistics units' tables, with those rows or one exact-coverage pass for them), which the
//! stage unit builds and the prescription takes again for its flight's plots. The units run one
//! after another on one
//! thread; nothing here is written anywhere or outlives the run, and a value is only kept once
//! whole (a unit that fails or panics while making one leaves nothing behind).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::Result;
use crate::plots::Plots;
use crate::raster::Grid;
use crate::zonal::StatsTable;

/// The stage's statistics of a plot file (by its index in the plan) over its rasters (the
/// index rasters then the LSWI rasters, each in date order).
type TableKey = (usize, Vec<PathBuf>);

/// A run's shared values (see the module's documentation).
#[derive(Default)]
pub struct Memo {
    plots: RefCell<HashMap<usize, Rc<Plots>>>,
    /// `None`: the statistics units' tables cannot serve (the stage computes it all).
    tables: RefCell<HashMap<TableKey, Option<Rc<StatsTable>>>>,
    /// Per plot file and grid, the latest statistics table made on that grid.
    rows: RefCell<Vec<(usize, Grid, Arc<StatsTable>)>>,
}

impl Memo {
    /// Plot file `k` of the plan, read by `read` the first time (an error is not kept: the
    /// next unit that needs the file reads it again and meets the error itself).
    pub fn plots(&self, k: usize, read: impl FnOnce() -> Result<Plots>) -> Result<Rc<Plots>> {
        if let Some(plots) = self.plots.borrow().get(&k) {
            return Ok(Rc::clone(plots));
        }
        let plots = Rc::new(read()?);
        self.plots.borrow_mut().insert(k, Rc::clone(&plots));
        Ok(plots)
    }

    /// Keep `table`, the statistics of plot file `plots` whose first raster lies on `grid`, in
    /// place of any kept for the same file and grid.
    pub fn keep_rows(&self, plots: usize, grid: &Grid, table: Arc<StatsTable>) {
        let mut rows = self.rows.borrow_mut();
        rows.retain(|(k, g, _)| (*k, g) != (plots, grid));
        rows.push((plots, grid.clone(), table));
    }

    /// The latest statistics table of plot file `plots` made on `grid` in this run, if any: its
    /// rows (status, area, pixels, geometry) are those of any raster on that grid.
    pub fn rows_on(&self, plots: usize, grid: &Grid) -> Option<Arc<StatsTable>> {
        let rows = self.rows.borrow();
        rows.iter()
            .find(|(k, g, _)| (*k, g) == (plots, grid))
            .map(|(_, _, t)| Arc::clone(t))
    }

    /// The stage's statistics table of plot file `plots` over `rasters`, made by `make` the
    /// first time.
    pub fn stage_table(
        &self,
        plots: usize,
        rasters: &[PathBuf],
        make: impl FnOnce() -> Option<StatsTable>,
    ) -> Option<Rc<StatsTable>> {
        let key = (plots, rasters.to_vec());
        if let Some(table) = self.tables.borrow().get(&key) {
            return table.clone();
        }
        let table = make().map(Rc::new);
        self.tables.borrow_mut().insert(key, table.clone());
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn plots(n: usize) -> Plots {
        Plots {
            path: PathBuf::from("plots.geojson"),
            layer: String::new(),
            id_column: "id".into(),
            fields: Vec::new(),
            plots: Vec::with_capacity(n),
            crs_wkt: None,
            warnings: vec![n.to_string()],
            wgs84: Default::default(),
        }
    }

    #[test]
    fn a_plot_file_is_read_once_and_a_failed_read_is_not_kept() {
        let memo = Memo::default();
        assert!(memo.plots(0, || Err(Error::usage("broken"))).is_err());
        let first = memo.plots(0, || Ok(plots(1))).expect("read");
        let again = memo.plots(0, || Ok(plots(2))).expect("kept");
        assert!(Rc::ptr_eq(&first, &again));
        let other = memo.plots(1, || Ok(plots(3))).expect("read");
        assert_eq!(other.warnings, ["3"]);
    }

    #[test]
    fn a_statistics_table_serves_the_same_plot_file_on_the_same_grid_only() {
        let memo = Memo::default();
        let grid = |width: usize| Grid {
            width,
            height: 10,
            geo_transform: Some([0.0, 10.0, 0.0, 100.0, 0.0, -10.0]),
            crs_wkt: None,
        };
        let table = |warning: &str| {
            Arc::new(StatsTable {
                id_column: "id".into(),
                fields: Vec::new(),
                columns: Vec::new(),
                rows: Vec::new(),
                lonlat: Vec::new(),
                warnings: vec![warning.into()],
                coverage: crate::zonal::CoverageMode::Exact,
            })
        };
        assert!(memo.rows_on(0, &grid(10)).is_none());
        memo.keep_rows(0, &grid(10), table("first"));
        memo.keep_rows(0, &grid(20), table("other grid"));
        memo.keep_rows(0, &grid(10), table("latest"));
        let kept = |k, w| memo.rows_on(k, &grid(w)).map(|t| t.warnings[0].clone());
        assert_eq!(kept(0, 10).as_deref(), Some("latest"));
        assert_eq!(kept(0, 20).as_deref(), Some("other grid"));
        assert_eq!(kept(1, 10), None);
        assert_eq!(kept(0, 30), None);
    }

    #[test]
    fn a_stage_table_is_made_once_per_plot_file_and_rasters() {
        let memo = Memo::default();
        let rasters = [PathBuf::from("a.tif"), PathBuf::from("b.tif")];
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            None
        };
        assert!(memo.stage_table(0, &rasters, make).is_none());
        assert!(memo.stage_table(0, &rasters, make).is_none());
        assert_eq!(made.get(), 1);
        assert!(memo.stage_table(0, &rasters[..1], make).is_none());
        assert!(memo.stage_table(1, &rasters, make).is_none());
        assert_eq!(made.get(), 3);
    }
}
