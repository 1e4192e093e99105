//! What the units of one `paddy run` share in memory instead of computing it again: each plot
//! file as read (by the run's checks before any unit, then kept), and the stage's per-plot
//! statistics table (gathered from the statistics units' tables, with one exact-coverage pass
//! for the plots' rows), which the stage unit builds and the prescription takes again for its
//! flight's plots. The units run one after another on one
//! thread; nothing here is written anywhere or outlives the run, and a value is only kept once
//! whole (a unit that fails or panics while making one leaves nothing behind).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::error::Result;
use crate::plots::Plots;
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
