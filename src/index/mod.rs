//! `paddy index`: vegetation, red-edge and water indices from a multispectral raster, in one
//! streamed pass, written as Cloud Optimized GeoTIFFs.

mod plan;
mod run;

pub use plan::{
    output_stem, plan, BandRef, IndexPlan, IndexRequest, PlannedIndex, DEFAULT_OUT_NODATA,
};
pub use run::{run, IndexReport, OutputReport};
