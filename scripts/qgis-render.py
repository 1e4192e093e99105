#!/usr/bin/python3
"""Render a paddy index raster as QGIS shows it (with its .qml style) to a PNG, headless.

Usage: QT_QPA_PLATFORM=offscreen scripts/qgis-render.py INDEX.tif OUT.png
Needs Debian python3-qgis and qgis-providers.
"""
import sys
from qgis.core import (QgsApplication, QgsRasterLayer, QgsMapSettings, QgsMapRendererParallelJob, QgsProject)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False); app.initQgis()
path, out = sys.argv[1], sys.argv[2]
layer = QgsRasterLayer(path, "ndvi")
assert layer.isValid()
# QGIS applies name.qml when a user adds the layer; loadDefaultStyle() does the same here.
msg, ok = layer.loadDefaultStyle()
print("style loaded:", ok, msg, layer.renderer().type())
s = QgsMapSettings(); s.setLayers([layer]); s.setExtent(layer.extent()); s.setOutputSize(QSize(800, 600)); s.setBackgroundColor(QColor("white"))
job = QgsMapRendererParallelJob(s); job.start(); job.waitForFinished()
job.renderedImage().save(out, "png")
shader = layer.renderer().shader().rasterShaderFunction()
print([ (round(i.value,2), i.color.name(), i.label) for i in shader.colorRampItemList()])
