#!/usr/bin/python3
"""Load layers with their QGIS styles (.qml) the way QGIS does, and report what QGIS read.

Usage:
  QT_QPA_PLATFORM=offscreen scripts/qgis-style-check.py [options] LAYER [LAYER ...]

Each LAYER is a raster (GeoTIFF) or a vector (GeoPackage, GeoJSON, shapefile, .shp.zip). Its
style is the file QGIS applies when a user adds the layer (name.qml beside it; the script prints
which path that is), or STYLE from --style. For each layer the script prints the renderer, its
classes (value bounds, colour, label) and, for vectors, the labelling and the fields' aliases
(a shapefile's short column names with the long names QGIS shows).

Options:
  --style STYLE.qml     load this style instead of the layer's default one (all layers)
  --classes N           fail unless the renderer has N classes
  --renderer TYPE       fail unless the renderer is TYPE (singlebandpseudocolor, graduatedSymbol…)
  --render DIR          also draw each layer with its style into DIR/NAME.png
  --features            for a vector, also print one line per feature: `feature {"legend":
                        [...], "label": ...}`, the legend entries (rules, ranges, categories)
                        QGIS draws it with and its label as QGIS evaluates it (JSON)

Exit status: 0 when every layer opened, its style loaded and the expectations held; 1 otherwise;
2 for a usage mistake. Needs Debian python3-qgis and qgis-providers (QGIS >= 3.22).
"""
import argparse
import json
import os
import sys

from osgeo import gdal
from qgis.core import (QgsApplication, QgsColorRampShader, QgsExpression,
                       QgsExpressionContext, QgsExpressionContextUtils,
                       QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer,
                       QgsRenderContext, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def is_raster(path):
    """Whether GDAL opens path as a raster (asked quietly: a vector is not an error)."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return gdal.OpenEx(path, gdal.OF_RASTER) is not None
    finally:
        gdal.PopErrorHandler()


def open_layer(path):
    """The layer at path: a raster if GDAL reads one there, else a vector."""
    name = os.path.basename(path)
    # Styles are loaded below, explicitly: a layer that loaded its default style itself would
    # hide a --style that fails to load.
    if is_raster(path):
        options = QgsRasterLayer.LayerOptions()
        options.loadDefaultStyle = False
        layer = QgsRasterLayer(path, name, "gdal", options)
    else:
        options = QgsVectorLayer.LayerOptions()
        options.loadDefaultStyle = False
        layer = QgsVectorLayer(path, name, "ogr", options)
    return layer if layer.isValid() else None


def raster_classes(layer):
    """(description, [(bound text, colour, label)]) of a raster layer's renderer."""
    renderer = layer.renderer()
    kind = renderer.type()
    if kind == "paletted":
        rows = [(f"= {c.value:g}", c.color.name(), c.label) for c in renderer.classes()]
        return f"{kind} band {renderer.band()}", rows
    if kind != "singlebandpseudocolor":
        return f"{kind}", []
    ramp = renderer.shader().rasterShaderFunction()
    ramp_type = {QgsColorRampShader.Interpolated: "INTERPOLATED",
                 QgsColorRampShader.Discrete: "DISCRETE",
                 QgsColorRampShader.Exact: "EXACT"}.get(ramp.colorRampType(), "?")
    items = ramp.colorRampItemList()
    prefix = "<= " if ramp.colorRampType() == QgsColorRampShader.Discrete else ""
    rows = [(f"{prefix}{item.value:g}", item.color.name(), item.label) for item in items]
    return f"{kind} band {renderer.band()}, colour ramp {ramp_type}", rows


def feature_lines(layer):
    """Per feature: the legend entries QGIS draws it with and its label text."""
    renderer = layer.renderer().clone()
    # Entries that draw (a rule without a symbol is a heading; the root rule is none).
    labels = {item.ruleKey(): item.label() for item in renderer.legendSymbolItems()
              if item.symbol() is not None}
    context = QgsRenderContext()
    expression_context = QgsExpressionContext()
    expression_context.appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    context.setExpressionContext(expression_context)
    renderer.startRender(context, layer.fields())
    label = None
    if layer.labelsEnabled() and layer.labeling() is not None:
        settings = layer.labeling().settings()
        text = settings.fieldName if settings.isExpression else f'"{settings.fieldName}"'
        label = QgsExpression(text)
        label.prepare(expression_context)
    lines = []
    for feature in layer.getFeatures():
        expression_context.setFeature(feature)
        keys = renderer.legendKeysForFeature(feature, context)
        text = label.evaluate(expression_context) if label is not None else None
        lines.append({"legend": sorted(labels[k] for k in keys if k in labels),
                      "label": None if text is None else str(text)})
    renderer.stopRender(context)
    return lines


def vector_classes(layer):
    """(description, [(bound text, colour, label)], labelling text) of a vector layer."""
    renderer = layer.renderer()
    kind = renderer.type()
    rows = []
    if kind == "graduatedSymbol":
        description = f"{kind} on {renderer.classAttribute()!r}"
        for r in renderer.ranges():
            rows.append((f"{r.lowerValue():g} .. {r.upperValue():g}",
                         r.symbol().color().name(), r.label()))
    elif kind == "RuleRenderer":
        description = kind
        for rule in renderer.rootRule().descendants():
            colour = rule.symbol().color().name() if rule.symbol() else "-"
            rows.append((rule.filterExpression() or "(all)", colour, rule.label()))
    elif kind == "categorizedSymbol":
        description = f"{kind} on {renderer.classAttribute()!r}"
        for c in renderer.categories():
            rows.append((f"= {c.value()}", c.symbol().color().name(), c.label()))
    else:
        description = kind
    if layer.labelsEnabled() and layer.labeling() is not None:
        settings = layer.labeling().settings()
        what = "expression" if settings.isExpression else "field"
        labels = f"labels: on, {what} {settings.fieldName!r}"
    else:
        labels = "labels: off"
    return description, rows, labels


def render(layer, out):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    extent = layer.extent()
    extent.scale(1.1)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(800, 600))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(out, "png")


def check(path, args):
    """Report on one layer; the list of its failures."""
    failures = []
    layer = open_layer(path)
    if layer is None:
        print(f"{path}: QGIS cannot open it as a raster or a vector layer")
        return [f"{path}: not a layer"]
    if args.style:
        style = args.style
        message, ok = layer.loadNamedStyle(style)
    else:
        style = layer.styleURI()
        message, ok = layer.loadDefaultStyle()
    state = "loaded" if ok else f"NOT loaded ({message})"
    kind = "raster" if isinstance(layer, QgsRasterLayer) else "vector"
    print(f"{path}: {kind}, style {style}: {state}")
    if not ok:
        failures.append(f"{path}: style not loaded")
    if kind == "raster":
        description, rows = raster_classes(layer)
        labels = None
    else:
        description, rows, labels = vector_classes(layer)
    print(f"  renderer {description}, {len(rows)} classes")
    for bounds, colour, label in rows:
        print(f"    {bounds}: {colour} {label!r}")
    if labels:
        print(f"  {labels}")
    if kind == "vector":
        fields = layer.fields()
        aliases = [f"{f.name()} as {f.alias()!r}" for f in fields if f.alias()]
        print(f"  field aliases: {', '.join(aliases) if aliases else 'none'}")
    if args.features and kind == "vector":
        for line in feature_lines(layer):
            print("  feature " + json.dumps(line, ensure_ascii=False))
    renderer_type = layer.renderer().type()
    if args.renderer and renderer_type != args.renderer:
        failures.append(f"{path}: renderer {renderer_type}, expected {args.renderer}")
    if args.classes is not None and len(rows) != args.classes:
        failures.append(f"{path}: {len(rows)} classes, expected {args.classes}")
    if args.render:
        os.makedirs(args.render, exist_ok=True)
        out = os.path.join(args.render, os.path.basename(path) + ".png")
        render(layer, out)
        print(f"  drawn to {out}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layers", nargs="+", metavar="LAYER")
    parser.add_argument("--style")
    parser.add_argument("--classes", type=int)
    parser.add_argument("--renderer")
    parser.add_argument("--render", metavar="DIR")
    parser.add_argument("--features", action="store_true")
    args = parser.parse_args()
    app = QgsApplication([], False)
    app.initQgis()
    failures = []
    for path in args.layers:
        failures += check(path, args)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    app.exitQgis()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
