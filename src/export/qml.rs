//! QGIS layer styles (`.qml`). QGIS applies `name.qml` automatically when it opens `name.tif`, so
//! an index raster opens as a colour map with a legend instead of a grey square.
//!
//! Ranges are fixed per index (not stretched to each file) so maps of different dates and fields
//! read the same: a colour means the same value everywhere.
//!
//! Prescription maps get classified styles from the shared legend ([`Class`]): a discrete colour
//! map for the rate raster ([`raster_classes`]), a graduated, labelled style for the machine
//! layer ([`vector_graduated`]) and rules for the plots ([`vector_rules`], [`class_rules`]), so
//! a rate has the same colour in all three and in the quicklook.
//! `scripts/qgis-style-check.py` loads layers with their styles in QGIS and reports what it read.

use super::classes::{float32_safe, Class, FAR};

/// The end of every raster style: the pipe's neutral filters, then the document's close.
const RASTER_PIPE_END: &str = r#"    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeOn="0" grayscaleMode="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"#;

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

/// One item of a continuous ramp: at `value` the colour `colour`, labelled `label` in the
/// legend. The QGIS style and the PNG quicklook's legend are both made from these
/// ([`Ramp::stops`]), so they cannot differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub value: f64,
    pub colour: [u8; 3],
    pub label: String,
}

impl Ramp {
    /// The ramp's colours evenly from `min` to `max`, each labelled by `label(value)`.
    pub fn stops(&self, label: impl Fn(f64) -> String) -> Vec<Stop> {
        let steps = self.colours.len().max(2) - 1;
        self.colours
            .iter()
            .enumerate()
            .map(|(i, colour)| {
                let value = self.min + (self.max - self.min) * i as f64 / steps as f64;
                let value = (value * 1e6).round() / 1e6;
                Stop {
                    value,
                    colour: rgb(colour),
                    label: label(value),
                }
            })
            .collect()
    }

    /// The stops labelled with their values (two decimals, trailing zeros cut).
    pub fn value_stops(&self) -> Vec<Stop> {
        self.stops(|v| {
            let s = format!("{v:.2}");
            s.trim_end_matches('0')
                .trim_end_matches('.')
                .replace("-0", "−0")
        })
    }
}

/// The colour of `value` on `stops` as QGIS draws an INTERPOLATED ramp: linear in RGB between
/// neighbouring stops, the end colours beyond the ends; None for NaN or no stops.
pub fn colour_at(stops: &[Stop], value: f64) -> Option<[u8; 3]> {
    let (first, last) = (stops.first()?, stops.last()?);
    if value.is_nan() {
        return None;
    }
    if value <= first.value {
        return Some(first.colour);
    }
    if value >= last.value {
        return Some(last.colour);
    }
    let k = stops.windows(2).position(|w| value <= w[1].value)?;
    let (a, b) = (&stops[k], &stops[k + 1]);
    let t = if b.value > a.value {
        (value - a.value) / (b.value - a.value)
    } else {
        1.0
    };
    let mix =
        |i: usize| (f64::from(a.colour[i]) * (1.0 - t) + f64::from(b.colour[i]) * t).round() as u8;
    Some([mix(0), mix(1), mix(2)])
}

/// `#rrggbb` as RGB (grey for a malformed one; the ramps here are constants).
pub fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0x808080);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A single-band pseudocolour style for band 1 with `ramp`, labelled with `title` in the legend.
pub fn pseudocolor(ramp: &Ramp, title: &str) -> String {
    pseudocolor_stops(&ramp.value_stops(), title)
}

/// A single-band pseudocolour style for band 1 interpolated through `stops`, each labelled as
/// given (dates, percentages), `title` in a comment.
pub fn pseudocolor_stops(stops: &[Stop], title: &str) -> String {
    let items: String = stops
        .iter()
        .map(|s| {
            format!(
                "          <item alpha=\"255\" value=\"{}\" label=\"{}\" color=\"{}\"/>\n",
                s.value,
                xml_attr(&s.label),
                hex(s.colour)
            )
        })
        .collect();
    let title = xml_comment(title);
    let min = stops.first().map_or(0.0, |s| s.value);
    let max = stops.last().map_or(1.0, |s| s.value);
    raster_style(&title, min, max, "INTERPOLATED", 2, &items)
}

/// A paletted style for a coded Byte raster (band 1): one entry per code with its colour and
/// its name in the legend; codes not listed (nodata) are not drawn.
pub fn paletted(entries: &[(u8, [u8; 3], String)], title: &str) -> String {
    let items: String = entries
        .iter()
        .map(|(code, colour, label)| {
            format!(
                "        <paletteEntry value=\"{code}\" color=\"{}\" alpha=\"255\" label=\"{}\"/>\n",
                hex(*colour),
                xml_attr(label)
            )
        })
        .collect();
    let title = xml_comment(title);
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
  <!-- {title}: written by paddy -->
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
{items}      </colorPalette>
    </rasterrenderer>
{RASTER_PIPE_END}"#
    )
}

/// A categorised style for a polygon layer: one category per text value of `field`, a fill in
/// its colour and its label in the legend, labels from the QGIS expression `label_expression`.
pub fn vector_categorised(
    field: &str,
    categories: &[(String, [u8; 3], String)],
    label_expression: &str,
    title: &str,
) -> String {
    let cats: String = categories
        .iter()
        .enumerate()
        .map(|(i, (value, _, label))| {
            format!(
                "      <category value=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\" type=\"string\"/>\n",
                xml_attr(value),
                xml_attr(label)
            )
        })
        .collect();
    let symbols: String = categories
        .iter()
        .enumerate()
        .map(|(i, (_, colour, _))| fill_symbol(i, &Fill::solid(*colour)))
        .collect();
    let field = xml_attr(field);
    let title = xml_comment(title);
    let labeling = labeling(label_expression);
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories" labelsEnabled="1">
  <!-- {title}: written by paddy -->
  <renderer-v2 type="categorizedSymbol" attr="{field}" symbollevels="0" forceraster="0" enableorderby="0">
    <categories>
{cats}    </categories>
    <symbols>
{symbols}    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
{labeling}  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <layerGeometryType>2</layerGeometryType>
</qgis>
"#
    )
}

/// The `<labeling>` element: labels from the QGIS expression, dark text on a white buffer, at
/// the polygon's centroid.
fn labeling(label_expression: &str) -> String {
    let expression = xml_attr(label_expression);
    format!(
        r#"  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="{expression}" isExpression="1" fontFamily="Sans Serif" namedStyle="Regular" fontSize="9" fontSizeUnit="Point" fontWeight="50" fontItalic="0" fontUnderline="0" fontStrikeout="0" fontKerning="1" fontLetterSpacing="0" fontWordSpacing="0" textColor="30,30,30,255" textOpacity="1" blendMode="0" multilineHeight="1" capitalization="0" allowHtml="0" useSubstitutions="0" previewBkgrdColor="255,255,255,255">
        <text-buffer bufferDraw="1" bufferSize="0.7" bufferSizeUnits="MM" bufferColor="255,255,255,255" bufferOpacity="0.8" bufferNoFill="1" bufferJoinStyle="128" bufferBlendMode="0"/>
      </text-style>
      <text-format wrapChar="" multilineAlign="3" autoWrapLength="0" formatNumbers="0" decimals="3" plussign="0" addDirectionSymbol="0"/>
      <placement placement="1" layerType="PolygonGeometry" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" dist="0" distUnits="MM" offsetType="0" quadOffset="4" xOffset="0" yOffset="0" offsetUnits="MM" rotationAngle="0" priority="5" overrunDistance="0" overrunDistanceUnit="MM"/>
      <rendering drawLabels="1" obstacle="1" obstacleFactor="1" obstacleType="1" displayAll="0" upsidedownLabels="0" labelPerPart="0" mergeLines="0" minFeatureSize="0" limitNumLabels="0" maxNumLabels="2000" scaleVisibility="0" scaleMin="0" scaleMax="0" fontLimitPixelSize="0" fontMinPixelSize="3" fontMaxPixelSize="10000" zIndex="0" unplacedVisibility="0"/>
    </settings>
  </labeling>
"#
    )
}

/// A classified style for a single-band Float32 rate raster (band 1): a DISCRETE colour ramp with
/// one item per class, in the class colour, labelled with the class label; nodata and NaN pixels
/// are transparent. `title` goes into a comment at the top.
///
/// In QGIS a DISCRETE item's value is the upper bound of its class: a pixel takes the colour of
/// the first item whose value is at least the pixel value, and a pixel above the last item is
/// not drawn. So the grey "0" class (upper bound 0) catches exactly zero (and anything below),
/// and each rate class catches the rates above the class below, up to its upper bound: the
/// half-open classes of [`super::classes`] (a pixel on an edge is in the lower class). Items are
/// written in ascending order, as QGIS's search needs. A rate stored as Float32 can round up
/// past its f64 class bound (42.7 is stored as 42.70000076…), which would push the pixel into
/// the next class or, for the largest rate, off the map; each item value is therefore the
/// larger of the bound and the bound rounded to f32 ([`float32_safe`]).
pub fn raster_classes(classes: &[Class], title: &str) -> String {
    let mut ordered: Vec<&Class> = classes.iter().collect();
    ordered.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    let items: String = ordered
        .iter()
        .map(|c| {
            format!(
                "          <item alpha=\"255\" value=\"{}\" label=\"{}\" color=\"{}\"/>\n",
                float32_safe(c.upper),
                xml_attr(&c.label),
                c.hex()
            )
        })
        .collect();
    // The lowest bound that is a value (the first class reaches down to −FAR).
    let min = ordered
        .iter()
        .map(|c| if c.lower > -FAR { c.lower } else { c.upper })
        .fold(f64::INFINITY, f64::min);
    let min = if min.is_finite() { min } else { 0.0 };
    let max = ordered.last().map_or(0.0, |c| float32_safe(c.upper));
    let title = xml_comment(title);
    raster_style(&title, min, max, "DISCRETE", 1, &items)
}

/// A single-band pseudocolour style for band 1: colour ramp items between `min` and `max`, of
/// QGIS ramp type `ramp_type` (INTERPOLATED, DISCRETE) and classification mode `mode`.
fn raster_style(title: &str, min: f64, max: f64, ramp_type: &str, mode: u8, items: &str) -> String {
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
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
        <colorrampshader colorRampType="{ramp_type}" classificationMode="{mode}" clip="0" minimumValue="{min}" maximumValue="{max}" labelPrecision="2">
{items}        </colorrampshader>
      </rastershader>
    </rasterrenderer>
{RASTER_PIPE_END}"#
    )
}

/// A classified style for a polygon layer: a graduated renderer on the numeric `field` with one
/// range per class (`lower`..=`upper`, the class label, a fill in the class colour with a thin
/// dark-grey outline), and labels from the QGIS expression `label_expression`, for example
/// `"plot_id" || ': ' || format_number("rate", 0) || ' kg/ha'`. `title` goes into a comment.
///
/// QGIS gives a feature the first range with `lower <= value <= upper`, so the touching ranges
/// of [`super::classes`] (each class's lower bound is the upper bound of the one before,
/// written in ascending order) put an edge value in the lower class: each range holds `lower <
/// value <= upper`, as [`super::classes::class_of`] and the DISCRETE raster ramp. Bounds are
/// written in full precision.
pub fn vector_graduated(
    field: &str,
    classes: &[Class],
    label_expression: &str,
    title: &str,
) -> String {
    let ranges: String = classes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "      <range lower=\"{}\" upper=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\"/>\n",
                c.lower,
                c.upper,
                xml_attr(&c.label)
            )
        })
        .collect();
    let symbols: String = classes
        .iter()
        .enumerate()
        .map(|(i, c)| fill_symbol(i, &Fill::solid(c.colour)))
        .collect();
    let field = xml_attr(field);
    let labeling = labeling(label_expression);
    let title = xml_comment(title);
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories" labelsEnabled="1">
  <!-- {title}: written by paddy -->
  <renderer-v2 type="graduatedSymbol" attr="{field}" graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0">
    <ranges>
{ranges}    </ranges>
    <symbols>
{symbols}    </symbols>
    <classificationMethod id="Custom">
      <symmetricMode enabled="0" symmetrypoint="0" astride="0"/>
      <labelFormat format="%1 - %2" labelprecision="2" trimtrailingzeroes="1"/>
    </classificationMethod>
    <rotation/>
    <sizescale/>
  </renderer-v2>
{labeling}  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <layerGeometryType>2</layerGeometryType>
</qgis>
"#
    )
}

/// Colour of the hatch that marks plots (or parts) with no observation.
pub const NOT_OBSERVED_COLOUR: [u8; 3] = [90, 90, 90];

/// How a rule of a rule-based style draws a polygon: a QGIS simple fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    pub colour: [u8; 3],
    /// QGIS's brush style: `solid`, `no` (none), `b_diagonal` and `f_diagonal` (hatches),
    /// `dense6` (sparse dots), …
    pub brush: &'static str,
    pub outline: [u8; 3],
    /// `solid`, `dash`, `no`.
    pub outline_style: &'static str,
    pub outline_mm: f64,
}

impl Fill {
    /// A solid fill, thin dark-grey (#404040) outline: a class colour.
    pub fn solid(colour: [u8; 3]) -> Fill {
        Fill {
            colour,
            brush: "solid",
            outline: [64, 64, 64],
            outline_style: "solid",
            outline_mm: 0.2,
        }
    }

    /// A hatch (or other brush) in `colour` over whatever is below, thin dark-grey outline.
    pub fn brush(colour: [u8; 3], brush: &'static str) -> Fill {
        Fill {
            brush,
            ..Fill::solid(colour)
        }
    }
}

/// One rule of a rule-based style. A feature for which `filter` (a QGIS expression; None: every
/// feature) holds is drawn with `fill` and then offered to the `children`; QGIS draws every
/// rule that matches, in order, so a later rule's hatch lies over an earlier rule's colour.
/// A rule without a fill draws nothing: in the legend it is a heading over its children.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub filter: Option<String>,
    pub label: String,
    pub fill: Option<Fill>,
    pub children: Vec<Rule>,
}

impl Rule {
    /// A rule with a filter and a fill, no children.
    pub fn new(filter: String, label: String, fill: Fill) -> Rule {
        Rule {
            filter: Some(filter),
            label,
            fill: Some(fill),
            children: Vec::new(),
        }
    }
}

/// QGIS expression text for a field name.
pub fn field(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// QGIS expression text for a string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The filter that holds exactly the values of `class` in `field`: `"f" > lower AND "f" <=
/// upper`, the half-open classes of [`super::classes`] (a bound at ±[`FAR`] is left out).
pub fn class_filter(field_name: &str, class: &Class) -> String {
    let f = field(field_name);
    let mut parts = Vec::new();
    if class.lower > -FAR {
        parts.push(format!("{f} > {}", class.lower));
    }
    if class.upper < FAR {
        parts.push(format!("{f} <= {}", class.upper));
    }
    if parts.is_empty() {
        format!("{f} IS NOT NULL")
    } else {
        parts.join(" AND ")
    }
}

/// One rule per class on the numeric `field`, a solid fill in the class colour.
pub fn class_rules(field_name: &str, classes: &[Class]) -> Vec<Rule> {
    classes
        .iter()
        .map(|c| {
            Rule::new(
                class_filter(field_name, c),
                c.label.clone(),
                Fill::solid(c.colour),
            )
        })
        .collect()
}

/// A rule-based style for a polygon layer, labels from `label_expression`; `title` goes into a
/// comment.
pub fn vector_rules(rules: &[Rule], label_expression: &str, title: &str) -> String {
    let mut xml = String::new();
    let mut symbols = String::new();
    let mut next = (0usize, 0usize);
    write_rules(rules, 3, &mut next, &mut xml, &mut symbols);
    let labeling = labeling(label_expression);
    let title = xml_comment(title);
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories" labelsEnabled="1">
  <!-- {title}: written by paddy -->
  <renderer-v2 type="RuleRenderer" symbollevels="0" forceraster="0" enableorderby="0">
    <rules key="root">
{xml}    </rules>
    <symbols>
{symbols}    </symbols>
  </renderer-v2>
{labeling}  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <layerGeometryType>2</layerGeometryType>
</qgis>
"#
    )
}

/// The `<rule>` elements of `rules` at `depth` (indent of two spaces each) and their symbols;
/// `next` counts the rules (their keys) and the symbols (their names) written so far.
fn write_rules(
    rules: &[Rule],
    depth: usize,
    next: &mut (usize, usize),
    xml: &mut String,
    symbols: &mut String,
) {
    let indent = "  ".repeat(depth);
    for rule in rules {
        let key = next.0;
        next.0 += 1;
        let mut attrs = format!("key=\"rule{key}\"");
        if let Some(filter) = &rule.filter {
            attrs.push_str(&format!(" filter=\"{}\"", xml_attr(filter)));
        }
        attrs.push_str(&format!(" label=\"{}\"", xml_attr(&rule.label)));
        if let Some(fill) = &rule.fill {
            attrs.push_str(&format!(" symbol=\"{}\"", next.1));
            symbols.push_str(&fill_symbol(next.1, fill));
            next.1 += 1;
        }
        if rule.children.is_empty() {
            xml.push_str(&format!("{indent}<rule {attrs}/>\n"));
        } else {
            xml.push_str(&format!("{indent}<rule {attrs}>\n"));
            write_rules(&rule.children, depth + 1, next, xml, symbols);
            xml.push_str(&format!("{indent}</rule>\n"));
        }
    }
}

/// A QGIS fill symbol named `index` drawn as `fill`. The properties are written both as the
/// `Option` map QGIS ≥ 3.20 reads and as the `prop` list older versions read, as QGIS 3.22
/// itself writes them.
fn fill_symbol(index: usize, fill: &Fill) -> String {
    let rgba = |[r, g, b]: [u8; 3]| format!("{r},{g},{b},255");
    let props = [
        ("color", rgba(fill.colour)),
        ("style", fill.brush.into()),
        ("outline_color", rgba(fill.outline)),
        ("outline_style", fill.outline_style.into()),
        ("outline_width", fill.outline_mm.to_string()),
        ("outline_width_unit", "MM".into()),
        ("joinstyle", "bevel".into()),
        ("offset", "0,0".into()),
        ("offset_unit", "MM".into()),
    ];
    let options: String = props
        .iter()
        .map(|(k, v)| {
            format!("            <Option type=\"QString\" name=\"{k}\" value=\"{v}\"/>\n")
        })
        .collect();
    let legacy: String = props
        .iter()
        .map(|(k, v)| format!("          <prop k=\"{k}\" v=\"{v}\"/>\n"))
        .collect();
    format!(
        r#"      <symbol type="fill" name="{index}" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
{options}          </Option>
{legacy}        </layer>
      </symbol>
"#
    )
}

/// `style`, a vector style of this module, with QGIS field aliases: an `<aliases>` element of
/// one `<alias field="…" index="…" name="…"/>` per (index of the field in the layer, the
/// field's name, its alias), as QGIS 3 writes them in a style, so that its attribute table,
/// identify results and forms show the alias for the field (a shapefile's `days_after` as
/// `days_after_transplanting`). QGIS finds the field by its name (the index when the name is
/// missing). No aliases: the style as it is.
pub fn with_aliases(style: &str, aliases: &[(usize, String, String)]) -> String {
    let end = match style.rfind("</qgis>") {
        Some(end) if !aliases.is_empty() => end,
        _ => return style.to_string(),
    };
    let items: String = aliases
        .iter()
        .map(|(index, field, alias)| {
            format!(
                "    <alias field=\"{}\" index=\"{index}\" name=\"{}\"/>\n",
                xml_attr(field),
                xml_attr(alias)
            )
        })
        .collect();
    format!(
        "{}  <aliases>\n{items}  </aliases>\n{}",
        &style[..end],
        &style[end..]
    )
}

/// Text for a comment: XML forbids `--` inside one (and a `-` just before its end).
fn xml_comment(text: &str) -> String {
    let mut text = xml_text(text).replace("--", "- -");
    if text.ends_with('-') {
        text.push(' ');
    }
    text
}

/// `&`, `<` and `>` escaped, and characters XML 1.0 does not allow (most control characters,
/// U+FFFE, U+FFFF) dropped; tabs and line breaks kept.
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Text for an attribute value between double quotes: markup characters and quotes escaped,
/// tabs and line breaks as character references (a parser would otherwise turn them into
/// spaces), characters XML 1.0 does not allow dropped.
pub(crate) fn xml_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document (tab and line breaks are handled by the callers).
fn xml_char(c: char) -> bool {
    !(c < '\u{20}' || c == '\u{FFFE}' || c == '\u{FFFF}')
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

    use crate::export::classes::{rate_classes, Palette};

    fn class(lower: f64, upper: f64, colour: [u8; 3], label: &str) -> Class {
        Class {
            lower,
            upper,
            colour,
            label: label.into(),
        }
    }

    /// The style as an XML document (QGIS styles start with a DOCTYPE, which roxmltree refuses
    /// unless asked).
    fn parse(qml: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        roxmltree::Document::parse_with_options(qml, options).expect("well-formed XML")
    }

    /// The element named `tag`, which must exist.
    fn find<'a, 'input>(
        doc: &'a roxmltree::Document<'input>,
        tag: &str,
    ) -> roxmltree::Node<'a, 'input> {
        doc.descendants()
            .find(|n| n.has_tag_name(tag))
            .unwrap_or_else(|| panic!("no <{tag}> in the style"))
    }

    fn children<'a, 'input>(
        node: roxmltree::Node<'a, 'input>,
        tag: &str,
    ) -> Vec<roxmltree::Node<'a, 'input>> {
        node.children().filter(|n| n.has_tag_name(tag)).collect()
    }

    #[test]
    fn raster_style_is_discrete_with_one_item_per_class_at_its_upper_bound() {
        let classes = rate_classes(&[0.0, 30.0, 45.0, 60.0], "kg N/ha", Palette::Nitrogen, 7);
        let qml = raster_classes(&classes, "N -- rate <kg/ha>");
        let doc = parse(&qml);
        let renderer = find(&doc, "rasterrenderer");
        assert_eq!(renderer.attribute("type"), Some("singlebandpseudocolor"));
        assert_eq!(renderer.attribute("band"), Some("1"));
        assert_eq!(renderer.attribute("nodataColor"), Some(""));
        let shader = find(&doc, "colorrampshader");
        assert_eq!(shader.attribute("colorRampType"), Some("DISCRETE"));
        let items = children(shader, "item");
        assert_eq!(items.len(), 4);
        let values: Vec<&str> = items.iter().filter_map(|i| i.attribute("value")).collect();
        // The zero class ends at 0: exactly-zero pixels are grey, not the first rate's colour.
        assert_eq!(values, ["0", "30", "45", "60"]);
        let colours: Vec<&str> = items.iter().filter_map(|i| i.attribute("color")).collect();
        assert_eq!(colours[0], "#e0e0e0");
        assert_eq!(colours[1], "#ffffcc");
        assert_eq!(colours[3], "#0c2c84");
        assert_eq!(items[2].attribute("label"), Some("45 kg N/ha"));
        assert!(qml.contains("<!-- N - - rate &lt;kg/ha&gt;: written by paddy -->"));
    }

    #[test]
    fn raster_items_are_sorted_and_cover_float32_rounding() {
        // 42.7 stored as Float32 is 42.70000076…; 40.3 is 40.29999923… (already below).
        let classes = vec![
            class(42.7, 42.7, [1, 2, 3], "high"),
            class(0.0, 0.0, [224, 224, 224], "zero"),
            class(40.3, 40.3, [4, 5, 6], "low"),
        ];
        let qml = raster_classes(&classes, "t");
        let doc = parse(&qml);
        let items = children(find(&doc, "colorrampshader"), "item");
        let labels: Vec<&str> = items.iter().filter_map(|i| i.attribute("label")).collect();
        assert_eq!(labels, ["zero", "low", "high"]);
        let value = |k: usize| -> f64 {
            items[k]
                .attribute("value")
                .and_then(|v| v.parse().ok())
                .expect("numeric value")
        };
        assert_eq!(value(1), 40.3);
        assert!(value(2) >= f64::from(42.7f32) && value(2) > 42.7);
        // Still below the next representable Float32, so the class stays tight.
        assert!(value(2) < f64::from(f32::from_bits(42.7f32.to_bits() + 1)));
    }

    #[test]
    fn vector_style_has_one_graduated_range_per_class_and_expression_labels() {
        let classes = vec![
            class(0.0, 0.0, [224, 224, 224], "0 kg/ha"),
            class(10.0, 22.5, [65, 182, 196], "10–22.5 kg/ha"),
            class(22.5, 35.0, [12, 44, 132], "A & B <\"high\">"),
        ];
        let expression = r#""plot_id" || ': ' || format_number("rate", 0) || ' kg/ha'"#;
        let qml = vector_graduated("rate", &classes, expression, "plots");
        let doc = parse(&qml);
        assert_eq!(doc.root_element().attribute("labelsEnabled"), Some("1"));
        let renderer = find(&doc, "renderer-v2");
        assert_eq!(renderer.attribute("type"), Some("graduatedSymbol"));
        assert_eq!(renderer.attribute("attr"), Some("rate"));
        let ranges = children(find(&doc, "ranges"), "range");
        assert_eq!(ranges.len(), 3);
        let bounds: Vec<(f64, f64)> = ranges
            .iter()
            .map(|r| {
                let get = |k: &str| -> f64 {
                    r.attribute(k)
                        .and_then(|v| v.parse().ok())
                        .expect("numeric bound")
                };
                (get("lower"), get("upper"))
            })
            .collect();
        assert_eq!(bounds, [(0.0, 0.0), (10.0, 22.5), (22.5, 35.0)]);
        assert_eq!(ranges[2].attribute("label"), Some("A & B <\"high\">"));
        assert_eq!(ranges[1].attribute("label"), Some("10–22.5 kg/ha"));
        // Each range points at a fill symbol in its class colour, outlined in dark grey.
        let symbols = children(find(&doc, "symbols"), "symbol");
        assert_eq!(symbols.len(), 3);
        for (range, class) in ranges.iter().zip(&classes) {
            let symbol = symbols
                .iter()
                .find(|s| s.attribute("name") == range.attribute("symbol"))
                .expect("the range's symbol");
            assert_eq!(symbol.attribute("type"), Some("fill"));
            let layer = children(*symbol, "layer")[0];
            assert_eq!(layer.attribute("class"), Some("SimpleFill"));
            let prop = |k: &str| {
                children(layer, "prop")
                    .into_iter()
                    .find(|p| p.attribute("k") == Some(k))
                    .and_then(|p| p.attribute("v"))
            };
            let [r, g, b] = class.colour;
            assert_eq!(prop("color"), Some(format!("{r},{g},{b},255").as_str()));
            assert_eq!(prop("outline_color"), Some("64,64,64,255"));
            let option = children(children(layer, "Option")[0], "Option")
                .into_iter()
                .find(|o| o.attribute("name") == Some("color"))
                .and_then(|o| o.attribute("value"));
            assert_eq!(option, Some(format!("{r},{g},{b},255").as_str()));
        }
        let labeling = find(&doc, "labeling");
        assert_eq!(labeling.attribute("type"), Some("simple"));
        let text = find(&doc, "text-style");
        assert_eq!(text.attribute("fieldName"), Some(expression));
        assert_eq!(text.attribute("isExpression"), Some("1"));
    }

    #[test]
    fn attribute_text_survives_a_parser_unchanged() {
        let label = "a\tb\nc \"q\" <x> & y \u{1} z";
        let xml = format!("<r a=\"{}\"/>", xml_attr(label));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        // The control character XML cannot carry is dropped; everything else is kept.
        assert_eq!(
            doc.root_element().attribute("a"),
            Some("a\tb\nc \"q\" <x> & y  z")
        );
        let comment = format!("<r><!-- {} --></r>", xml_comment("x -- y -"));
        assert!(roxmltree::Document::parse(&comment).is_ok());
    }

    #[test]
    fn aliases_go_into_the_style_as_qgis_reads_them() {
        let style = vector_categorised("stage", &[], "\"plot_id\"", "t");
        assert_eq!(with_aliases(&style, &[]), style);
        let aliases = [
            (
                3,
                "days_after".to_string(),
                "days_after_transplanting".to_string(),
            ),
            (7, "a&b".to_string(), "\"a\" & <b>".to_string()),
        ];
        let qml = with_aliases(&style, &aliases);
        let doc = parse(&qml);
        // QGIS looks for <aliases> among the children of <qgis>.
        let element = children(doc.root_element(), "aliases");
        assert_eq!(element.len(), 1);
        let read: Vec<(usize, String, String)> = children(element[0], "alias")
            .iter()
            .map(|a| {
                let get = |k: &str| a.attribute(k).expect("attribute").to_string();
                (
                    get("index").parse().expect("index"),
                    get("field"),
                    get("name"),
                )
            })
            .collect();
        assert_eq!(read, aliases);
        // The rest of the style is unchanged.
        assert_eq!(find(&doc, "renderer-v2").attribute("attr"), Some("stage"));
    }

    #[test]
    fn rules_nest_with_one_symbol_per_fill_and_half_open_class_filters() {
        let classes = rate_classes(&[0.0, 25.0, 65.0], "kg urea/ha", Palette::Nitrogen, 7);
        let mut rules = class_rules("rate", &classes);
        rules.push(Rule::new(
            "\"status\" IN ('not observed')".into(),
            "not observed <&>".into(),
            Fill::brush(NOT_OBSERVED_COLOUR, "b_diagonal"),
        ));
        let heading = Rule {
            filter: None,
            label: "N rate".into(),
            fill: None,
            children: rules,
        };
        let text = vector_rules(&[heading], "\"plot_id\"", "N <&>");
        let doc = parse(&text);
        let root = find(&doc, "rules");
        let top = children(root, "rule");
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].attribute("symbol"), None);
        assert_eq!(top[0].attribute("filter"), None);
        let inner = children(top[0], "rule");
        assert_eq!(inner.len(), classes.len() + 1);
        assert_eq!(inner[0].attribute("filter"), Some("\"rate\" <= 0"));
        assert_eq!(
            inner[2].attribute("filter"),
            Some("\"rate\" > 25 AND \"rate\" <= 65")
        );
        let last = inner.last().unwrap();
        assert_eq!(last.attribute("label"), Some("not observed <&>"));
        // Every key unique; every symbol named once and its rule's.
        let keys: std::collections::HashSet<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rule"))
            .filter_map(|n| n.attribute("key"))
            .collect();
        assert_eq!(keys.len(), classes.len() + 2);
        let symbols = children(find(&doc, "symbols"), "symbol");
        assert_eq!(symbols.len(), classes.len() + 1);
        let symbol = symbols
            .iter()
            .find(|n| n.attribute("name") == last.attribute("symbol"))
            .unwrap();
        assert!(symbol
            .descendants()
            .any(|n| n.attribute("name") == Some("style")
                && n.attribute("value") == Some("b_diagonal")));
    }
}
