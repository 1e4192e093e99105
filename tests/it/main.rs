//! Integration tests: the real `paddy` binary run in temp dirs, on the sample tiles and on real
//! imagery in ../shared/data. One test binary, modules by theme.

mod aoi;
mod architecture;
mod bad_input;
mod batch;
mod catalogue;
mod cog;
mod common;
mod decision_chain;
mod exactextract;
mod formats;
mod hostile;
mod hostile_run;
mod huge_pages;
mod indices_cli;
mod nightly;
mod nights;
mod prescribe;
mod products;
mod qgis_expr;
mod qgis_styles;
mod readme;
mod real_data;
mod real_seasons;
mod remote;
mod report_html;
mod resolutions;
mod sample_tiles;
mod season_truth;
mod several_stacks;
mod stage;
mod stats;
mod streaming;
mod styles;
mod terraces;
