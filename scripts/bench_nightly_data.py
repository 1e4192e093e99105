#!/usr/bin/env python3
"""A county for scripts/bench-nightly: many small paddies, a season of Sentinel-2-like tiles, drone flights.

    scripts/bench_nightly_data.py OUT_DIR [--seed 20] [--plots 20000] [--size 3900]
                                  [--dates 30] [--flight YYYY-MM-DD ...]

Idempotent: each file is written only when missing, so the same command with --dates 31 and a
second --flight adds the night's new acquisitions. The crop model (leaf area, flooding, winter
crops, spectra) is scripts/make-season-truth's, imported from it; only the geometry is new:

- a ``--size``² scene of 10 m pixels (3900² = 1521 km²), EPSG:32648;
- ``--plots`` paddies of 0.02-1 ha (area log-uniform, aspect 0.6-1.6), one per cell of a grid
  over the scene, each at a random place in its cell; ``plots.gpkg`` (UTM) with ``plot_id``,
  ``duration_class``, ``transplanted`` (every other plot) and ``role``;
- ``s2_YYYYMMDD.tif`` (B2, B4, B8, B11 UInt16 DN, offset -1000, tiled 512, DEFLATE, band
  interleaved) and ``s2_YYYYMMDD_scl.tif`` every 5 days from 1 April; 30 % of the dates carry
  clouds over part of the scene;
- ``drone_YYYYMMDD.tif`` per ``--flight``: 2500² pixels of 1 m (6.25 km²) in the middle of the
  scene, five Float32 reflectance bands (Blue, Green, Red, RedEdge, NIR), the plots' red edge
  scaled by a drawn nitrogen sufficiency.

Needs numpy and the GDAL Python bindings; re-runs itself with /usr/bin/python3 otherwise.
"""

import argparse
import datetime as dt
import importlib.machinery
import importlib.util
import os
import sys

try:
    import numpy as np
    from osgeo import gdal, ogr, osr
except ImportError:  # pragma: no cover - depends on the interpreter used
    _SYS_PY = "/usr/bin/python3"
    if os.path.exists(_SYS_PY) and os.path.realpath(sys.executable) != os.path.realpath(_SYS_PY):
        os.execv(_SYS_PY, [_SYS_PY] + sys.argv)
    raise

gdal.UseExceptions()
ogr.UseExceptions()


def season_model():
    """scripts/make-season-truth as a module (its crop model and constants)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-season-truth")
    loader = importlib.machinery.SourceFileLoader("season_truth", path)
    spec = importlib.util.spec_from_loader("season_truth", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


M = season_model()
RES = 10.0
DRONE_RES, DRONE_SIZE = 1.0, 2500


def make_plots(rng, n, size):
    """n plots, one per cell of a square grid over the scene; boxes in metres from the corner."""
    cols = int(np.ceil(np.sqrt(n)))
    cell = size * RES / cols
    cells = rng.permutation(cols * cols)[:n]
    plots = []
    for k, c in enumerate(sorted(cells)):
        r, q = divmod(int(c), cols)
        area = float(np.exp(rng.uniform(np.log(200.0), np.log(10000.0))))
        aspect = rng.uniform(0.6, 1.6)
        w, h = np.sqrt(area * aspect), np.sqrt(area / aspect)
        x0 = q * cell + rng.uniform(0, cell - w)
        y0 = r * cell + rng.uniform(0, cell - h)
        cls = "short" if rng.random() < 0.5 else "medium"
        t = M.FIRST + dt.timedelta(days=int(rng.integers(45, 85)))
        heading = t + dt.timedelta(days=int(round(M.HEADING_DAT[cls] + rng.uniform(-4, 4))))
        plots.append({
            "id": "P%05d" % (k + 1), "box": (x0, x0 + w, y0, y0 + h), "class": cls,
            "transplanting": t, "flooding": t - dt.timedelta(days=int(rng.integers(2, 8))),
            "heading": heading, "maturity": heading + dt.timedelta(days=30),
            "harvest": heading + dt.timedelta(days=45), "recorded": k % 2 == 0,
            "winter_crop": rng.random() < 0.5,
            "winter_peak": M.FIRST + dt.timedelta(days=int(rng.integers(0, 15))),
            "gain": rng.normal(1.0, 0.03), "lai_max": rng.uniform(4.0, 6.0),
            "si": float(rng.uniform(0.80, 1.0)),
        })
    return plots


def labels(plots, x0, y0, width, height, res):
    """Plot index per pixel (pixel centres inside the box), -1 outside every plot."""
    lab = np.full((height, width), -1, np.int32)
    for i, p in enumerate(plots):
        bx0, bx1, by0, by1 = p["box"]
        c0 = int(np.ceil((bx0 - x0) / res - 0.5))
        c1 = int(np.ceil((bx1 - x0) / res - 0.5))
        r0 = int(np.ceil((by0 - y0) / res - 0.5))
        r1 = int(np.ceil((by1 - y0) / res - 0.5))
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, width), min(r1, height)
        if c0 < c1 and r0 < r1:
            lab[r0:r1, c0:c1] = i
    return lab


def srs():
    s = osr.SpatialReference()
    s.ImportFromEPSG(M.EPSG)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def write(path, bands, gdal_type, names, nodata, md, res, origin=(0.0, 0.0), band_md=None):
    tmp = path + ".tmp"
    h, w = bands[0].shape
    ds = gdal.GetDriverByName("GTiff").Create(
        tmp, w, h, len(bands), gdal_type,
        options=["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "ZLEVEL=1",
                 "PREDICTOR=2", "INTERLEAVE=BAND", "NUM_THREADS=ALL_CPUS"])
    ds.SetGeoTransform((M.X0 + origin[0], res, 0.0, M.Y0 - origin[1], 0.0, -res))
    ds.SetSpatialRef(srs())
    ds.SetMetadata(md)
    for i, data in enumerate(bands):
        b = ds.GetRasterBand(i + 1)
        b.SetDescription(names[i])
        b.SetNoDataValue(nodata)
        if band_md:
            b.SetMetadata(band_md)
        b.WriteArray(data)
    ds = None
    os.replace(tmp, path)


def clouds(rng, size):
    """Cloud and shadow masks: blobs on a coarse grid, nearest-upsampled."""
    coarse = max(size // 30, 1)
    cloud = np.zeros((size, size), bool)
    if rng.random() < 0.3:
        yy, xx = np.mgrid[0:coarse, 0:coarse]
        field = np.zeros((coarse, coarse))
        for _ in range(8):
            cy, cx, s = rng.uniform(0, coarse), rng.uniform(0, coarse), rng.uniform(3, 15)
            field += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        small = field >= np.quantile(field, 1 - rng.uniform(0.1, 0.6))
        rep = int(np.ceil(size / coarse))
        cloud = np.kron(small, np.ones((rep, rep), bool))[:size, :size]
    shadow = np.zeros_like(cloud)
    shadow[3:, :-2] = cloud[:-3, 2:]
    return cloud, shadow & ~cloud


def s2_date(out, plots, lab, d, seed, size):
    tag = d.strftime("%Y%m%d")
    path = os.path.join(out, "s2_%s.tif" % tag)
    if os.path.exists(path):
        return
    rng = np.random.default_rng([seed, d.toordinal()])
    lut = np.empty((len(plots) + 1, 4), np.float32)
    for i, p in enumerate(plots):
        lut[i] = M.plot_spectrum(p, d) * p["gain"]
    lut[-1] = M.GRASS
    lut *= rng.normal(1.0, 0.015)
    refl = [lut[:, b][lab] for b in range(4)]  # lab == -1 picks the last row: grass
    cloud, shadow = clouds(rng, size)
    for b in range(4):
        refl[b] += rng.standard_normal(refl[b].shape, dtype=np.float32) * 0.004
        refl[b][cloud] = M.CLOUD[b]
        refl[b][shadow] *= 0.45
    red, nir, swir = refl[1], refl[2], refl[3]
    ndvi = (nir - red) / (nir + red + 1e-6)
    wet = (nir - swir) / (nir + swir + 1e-6)
    scl = np.where(ndvi > 0.4, 4, np.where(wet > ndvi + 0.1, 6, 5)).astype(np.uint8)
    scl[cloud], scl[shadow] = 9, 3
    dn = [(np.floor(np.clip(r, 0, 6.5) * 10000 + 0.5) + M.OFFSET).astype(np.uint16) for r in refl]
    md = {"PRODUCT_START_TIME": d.isoformat() + "T03:20:00Z", "BOA_ADD_OFFSET": "-1000",
          "BOA_QUANTIFICATION_VALUE": "10000", "PROCESSING_BASELINE": "05.11",
          "SYNTHETIC": "YES: made by scripts/bench_nightly_data.py"}
    write(os.path.join(out, "s2_%s_scl.tif" % tag), [scl], gdal.GDT_Byte, ["SCL"], 0,
          {"PRODUCT_START_TIME": md["PRODUCT_START_TIME"]}, RES)
    write(path, dn, gdal.GDT_UInt16, ["B2", "B4", "B8", "B11"], 0, md, RES,
          band_md={"BOA_ADD_OFFSET": "-1000"})


def flight(out, plots, d, seed, size):
    path = os.path.join(out, "drone_%s.tif" % d.strftime("%Y%m%d"))
    if os.path.exists(path):
        return
    rng = np.random.default_rng([seed, d.toordinal(), 7])
    origin = ((size * RES - DRONE_SIZE * DRONE_RES) / 2,) * 2
    lab = labels(plots, origin[0], origin[1], DRONE_SIZE, DRONE_SIZE, DRONE_RES)
    lut = np.empty((len(plots) + 1, 5), np.float32)
    for i, p in enumerate(plots):
        b2, b4, b8, _ = M.plot_spectrum(p, d) * p["gain"]
        lai = (M.leaf_area(p, d) or (0.0, 0.0))[0]
        ndre = (1 - np.exp(-0.5 * lai)) * 0.40 * p["si"] + 0.02 * np.exp(-0.5 * lai)
        lut[i] = (b2, (b2 + b8) / 4, b4, b8 * (1 - ndre) / (1 + ndre), b8)
    g = M.GRASS
    lut[-1] = (g[0], (g[0] + g[2]) / 4, g[1], g[2] * 0.75 / 1.25, g[2])
    bands = []
    for b in range(5):
        v = lut[:, b][lab]
        v += rng.standard_normal(v.shape, dtype=np.float32) * 0.005
        bands.append(v)
    md = {"ACQUISITION_DATE": d.isoformat(),
          "SYNTHETIC": "YES: made by scripts/bench_nightly_data.py"}
    write(path, bands, gdal.GDT_Float32, ["Blue", "Green", "Red", "RedEdge", "NIR"], -10000.0,
          md, DRONE_RES, origin)


def write_plots(path, plots):
    if os.path.exists(path):
        return
    tmp = path + ".tmp.gpkg"
    if os.path.exists(tmp):
        os.remove(tmp)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(tmp)
    layer = ds.CreateLayer("plots", srs(), ogr.wkbPolygon)
    for name in ("plot_id", "duration_class", "transplanted", "role"):
        layer.CreateField(ogr.FieldDefn(name, ogr.OFTString))
    defn = layer.GetLayerDefn()
    layer.StartTransaction()
    for i, p in enumerate(plots):
        x0, x1, y0, y1 = p["box"]
        f = ogr.Feature(defn)
        f.SetField("plot_id", p["id"])
        f.SetField("duration_class", p["class"])
        if p["recorded"]:
            f.SetField("transplanted", p["transplanting"].isoformat())
        f.SetField("role", "normal")
        ring = "POLYGON((%f %f,%f %f,%f %f,%f %f,%f %f))" % (
            M.X0 + x0, M.Y0 - y1, M.X0 + x1, M.Y0 - y1, M.X0 + x1, M.Y0 - y0,
            M.X0 + x0, M.Y0 - y0, M.X0 + x0, M.Y0 - y1)
        f.SetGeometry(ogr.CreateGeometryFromWkt(ring))
        layer.CreateFeature(f)
    layer.CommitTransaction()
    ds = None
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--plots", type=int, default=20000)
    ap.add_argument("--size", type=int, default=3900)
    ap.add_argument("--dates", type=int, default=30)
    ap.add_argument("--flight", type=dt.date.fromisoformat, action="append", default=[])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    plots = make_plots(np.random.default_rng(a.seed), a.plots, a.size)
    write_plots(os.path.join(a.out, "plots.gpkg"), plots)
    lab = labels(plots, 0.0, 0.0, a.size, a.size, RES)
    for k in range(a.dates):
        s2_date(a.out, plots, lab, M.FIRST + dt.timedelta(days=M.REVISIT * k), a.seed, a.size)
    for d in a.flight:
        flight(a.out, plots, d, a.seed, a.size)


if __name__ == "__main__":
    main()
