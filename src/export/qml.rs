//! QGIS layer styles (`.qml`). QGIS applies `name.qml` automatically when it opens `name.tif`, so
//! an index raster opens as a colour map with a legend instead of a grey square.
//!
//! Ranges are fixed per index (not stretched to each file) so maps of different dates and fields
//! read the same: a colour means the same value everywhere.

/// A colour ramp from `min` to `max` through the given colours (evenly spaced).
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    pub min: f64,
    pub max: f64,
    pub colours: &'static [&'static str],
}

/// ColorBrewer RdYlGn: bare soil and water red/brown, dense healthy canopy dark green.
const RED_YELLOW_GREEN: &[&str] = &[
    "#a50026", "#f46d43", "#fee08b", "#a6d96a", "#1a9850", "#006837",
];
/// Brown to blue for water and moisture indices.
const BROWN_BLUE: &[&str] = &[
    "#8c510a", "#d8b365", "#f6e8c3", "#c7eae5", "#5ab4ac", "#01665e", "#08306b",
];

/// The display range and colours for a catalogue index (by catalogue short name).
pub fn ramp_for(index: &str, domain: &str) -> Ramp {
    let (min, max, colours) = match index {
        "NDVI" => (-0.2, 0.9, RED_YELLOW_GREEN),
        "GNDVI" => (-0.2, 0.8, RED_YELLOW_GREEN),
        "NDREI" => (-0.1, 0.6, RED_YELLOW_GREEN),
        "EVI" | "EVI2" => (-0.1, 0.9, RED_YELLOW_GREEN),
        "SAVI" | "OSAVI" | "MSAVI" => (-0.1, 0.8, RED_YELLOW_GREEN),
        "CIRE" => (0.0, 4.0, RED_YELLOW_GREEN),
        "CIG" => (0.0, 8.0, RED_YELLOW_GREEN),
        "LSWI" | "NDMI" => (-0.4, 0.6, BROWN_BLUE),
        "NDWI" => (-0.8, 0.4, BROWN_BLUE),
        _ if domain == "water" => (-1.0, 1.0, BROWN_BLUE),
        _ => (-1.0, 1.0, RED_YELLOW_GREEN),
    };
    Ramp { min, max, colours }
}

/// A single-band pseudocolour style for band 1 with `ramp`, labelled with `title` in the legend.
pub fn pseudocolor(ramp: &Ramp, title: &str) -> String {
    let steps = ramp.colours.len().max(2) - 1;
    let items: String = ramp
        .colours
        .iter()
        .enumerate()
        .map(|(i, colour)| {
            let value = ramp.min + (ramp.max - ramp.min) * i as f64 / steps as f64;
            let value = (value * 1e6).round() / 1e6;
            format!(
                "          <item alpha=\"255\" value=\"{value}\" label=\"{value:.2}\" color=\"{colour}\"/>\n"
            )
        })
        .collect();
    let title = xml_escape(title);
    let (min, max) = (ramp.min, ramp.max);
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="AllStyleCategories">
  <!-- {title}: written by paddy -->
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" classificationMin="{min}" classificationMax="{max}" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="2" clip="0" minimumValue="{min}" maximumValue="{max}" labelPrecision="2">
{items}        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeOn="0" grayscaleMode="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"#
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace("--", "- -")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_spans_the_ramp_and_escapes_the_title() {
        let ramp = ramp_for("NDVI", "vegetation");
        let qml = pseudocolor(&ramp, "NDVI <a & b>");
        assert!(qml.contains("value=\"-0.2\""));
        assert!(qml.contains("value=\"0.9\""));
        assert_eq!(qml.matches("<item ").count(), RED_YELLOW_GREEN.len());
        assert!(qml.contains("NDVI &lt;a &amp; b&gt;"));
        assert_eq!(ramp_for("SOMETHING", "water").colours, BROWN_BLUE);
    }
}
