//! PNG quicklooks of index rasters for the run report: the index's fixed colour ramp (the same
//! as its QGIS style) cut into classes, drawn with the prescription quicklook's legend.

use std::path::Path;

use crate::error::Result;
use crate::export::classes::Class;
use crate::export::{qml, quicklook};

/// Longest side of the quicklook's grid, in cells (GDAL reads the overviews).
const SIDE: usize = 600;

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0x808080);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn short(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Classes over the index's display range, one per ramp colour; the ends catch values beyond.
pub fn index_classes(index: &str) -> Vec<Class> {
    let domain = if matches!(index, "LSWI" | "NDWI" | "NDMI" | "MNDWI") {
        "water"
    } else {
        "vegetation"
    };
    let ramp = qml::ramp_for(index, domain);
    let n = ramp.colours.len().max(1);
    let step = (ramp.max - ramp.min) / n as f64;
    (0..n)
        .map(|i| {
            let lower = ramp.min + step * i as f64;
            let upper = lower + step;
            let label = match (i, n - 1 - i) {
                (0, _) => format!("< {}", short(upper)),
                (_, 0) => format!("> {}", short(lower)),
                _ => format!("{}–{}", short(lower), short(upper)),
            };
            Class {
                lower: if i == 0 { f64::MIN } else { lower },
                upper: if i + 1 == n { f64::MAX } else { upper },
                colour: rgb(ramp.colours[i]),
                label,
            }
        })
        .collect()
}

/// Draw `tif` (band 1; nodata left white) as `png`.
pub fn index_png(tif: &Path, index: &str, png: &Path) -> Result<()> {
    let preview = crate::io::read_preview(tif, SIDE)?;
    let classes = index_classes(index);
    let title = format!("{index}: {}", crate::io::file_name(tif));
    quicklook::write_png(
        png,
        &quicklook::RateMap {
            values: &preview.values,
            width: preview.width,
            height: preview.height,
            cell_size_m: preview.cell_size.filter(|c| c.is_finite() && *c > 0.0),
            classes: &classes,
            title: &title,
            unit: index,
            notes: &[],
            outlines: &[],
            labels: &[],
            unobserved: &[],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::classes::class_of;

    #[test]
    fn classes_cover_every_value_in_ramp_order() {
        let c = index_classes("NDVI");
        assert_eq!(c.len(), 6);
        assert_eq!(class_of(&c, -5.0), Some(0));
        assert_eq!(class_of(&c, 5.0), Some(5));
        assert_eq!(c[0].colour, [0xa5, 0x00, 0x26]);
        assert!(c[0].label.starts_with('<') && c[5].label.starts_with('>'));
    }
}
