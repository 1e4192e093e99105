//! `paddy index`: vegetation, red-edge and water indices from a multispectral raster, in one
//! streamed pass, written as Cloud Optimized GeoTIFFs.

mod grid;
mod inputs;
mod plan;
mod run;

pub use grid::GridChoice;
pub use plan::{
    custom_index, output_stem, plan, plans, BandRef, Engine, IndexPlan, IndexRequest, PlannedIndex,
    DEFAULT_OUT_NODATA,
};
pub use run::{run, IndexReport, OutputReport};
