//! PNG quicklooks of index rasters for the run report: the index's continuous colour ramp —
//! the very stops, range and labels of its QGIS style ([`styles::index_ramp`],
//! [`qml::Ramp::value_stops`]) — so a raster looks the same in the report and in QGIS, with
//! nodata called "no data" and the title the index as the file names it.

use std::path::Path;

use crate::error::Result;
use crate::export::{qml, quicklook, styles};
use crate::i18n::tf;
use crate::io::Preview;
use crate::plots::Plots;

/// Longest side of the quicklook's grid, in cells (GDAL reads the overviews): small enough that
/// the report shows two pictures a row with legend text of 11 px or more.
const SIDE: usize = 480;

/// The stops the quicklook of an index raster named `index` (as in its file name: `ndre`)
/// draws, the same as its style's.
pub fn index_stops(index: &str) -> Vec<qml::Stop> {
    styles::index_ramp(index).value_stops()
}

/// Draw `tif` (band 1; nodata left white) as `png`, with the outlines and ids of `plots`. The
/// index is named as the file names it (`…_ndre.tif`: NDRE, though the catalogue calls it
/// NDREI), else `index`.
pub fn index_png(tif: &Path, index: &str, plots: &[&Plots], png: &Path) -> Result<()> {
    let preview = crate::io::read_preview(tif, SIDE)?;
    let (outlines, labels) = overlay(&preview, plots)?;
    let stem = tif.file_stem().map(|s| s.to_string_lossy().into_owned());
    let token = stem
        .as_deref()
        .and_then(|s| s.rsplit_once('_').map(|(_, t)| t.to_string()))
        .filter(|t| crate::catalogue::Catalogue::builtin().index(t).is_some())
        .unwrap_or_else(|| index.to_string());
    let stops = index_stops(&token);
    let name = token.to_ascii_uppercase();
    let title = tf(
        "quicklook.index_title",
        &[("index", &name), ("file", &crate::io::file_name(tif))],
    );
    quicklook::write_png(
        png,
        &quicklook::RateMap {
            values: &preview.values,
            width: preview.width,
            height: preview.height,
            cell_size_m: preview.cell_size.filter(|c| c.is_finite() && *c > 0.0),
            classes: &[],
            ramp: &stops,
            title: &title,
            unit: &name,
            notes: &[],
            outlines: &outlines,
            labels: &labels,
            unobserved: &[],
        },
    )
}

/// The plots' outlines and ids on the preview's grid (none without a geotransform).
fn overlay(preview: &Preview, plots: &[&Plots]) -> Result<quicklook::Overlay> {
    let Some(gt) = preview.geo_transform else {
        return Ok(Default::default());
    };
    let step = preview.cell_size.unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let mut placed = Vec::new();
    for set in plots {
        let parts = crate::io::vector::to_crs(set, preview.crs_wkt.as_deref(), step, Some(1))?;
        for (plot, parts) in set.plots.iter().zip(parts) {
            if let Some(parts) = parts {
                placed.push((plot.id.clone(), crate::zonal::to_pixel(&gt, &parts)));
            }
        }
    }
    Ok(quicklook::plot_overlay(placed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quicklook's stops are its style's items: same values, colours and labels, in order.
    #[test]
    fn stops_are_the_style_items() {
        for index in ["ndvi", "ndre", "lswi"] {
            let stops = index_stops(index);
            let qml = qml::pseudocolor(&styles::index_ramp(index), index);
            let opts = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            };
            let doc = roxmltree::Document::parse_with_options(&qml, opts).unwrap();
            let items: Vec<(f64, String, String)> = doc
                .descendants()
                .filter(|n| n.has_tag_name("item"))
                .map(|n| {
                    (
                        n.attribute("value").unwrap().parse().unwrap(),
                        n.attribute("color").unwrap().to_string(),
                        n.attribute("label").unwrap().to_string(),
                    )
                })
                .collect();
            let ours: Vec<(f64, String, String)> = stops
                .iter()
                .map(|s| {
                    let [r, g, b] = s.colour;
                    (s.value, format!("#{r:02x}{g:02x}{b:02x}"), s.label.clone())
                })
                .collect();
            assert_eq!(items, ours, "{index}");
        }
    }
}
