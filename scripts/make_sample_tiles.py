#!/usr/bin/env python3
"""Generate the synthetic rice scene in ``sample_tiles/``.

A small, physically plausible block of transplanted rice paddies in the Mekong delta
(UTM 48N, EPSG:32648), observed on five Sentinel-2-like dates and three drone flights.
Everything is drawn from one fixed seed and nothing depends on the clock, so two runs
write byte-identical files.

    python3 scripts/make_sample_tiles.py            # writes <repo>/sample_tiles/
    python3 scripts/make_sample_tiles.py --out DIR  # writes DIR/

Needs numpy and the GDAL Python bindings (Debian: python3-numpy, python3-gdal). When the
``python3`` on PATH lacks them (e.g. a pyenv shim) the script re-runs itself with
/usr/bin/python3.

The scene is rendered once per date on a 0.5 m grid as reflectance in seven bands
(blue, green, red, red edge 705 nm, red edge 717 nm, NIR, SWIR1). The Sentinel-2 stacks
are 20 x 20 box averages of that grid (linear mixing of the covers inside a 10 m pixel)
and the drone orthomosaics are a window of it, with extra fine texture and their own
sensor noise. See the README this script writes for the physical assumptions.
"""

import argparse
import datetime as dt
import json
import os
import sys

try:
    import numpy as np
    from osgeo import gdal, ogr, osr
except ImportError:  # pragma: no cover - depends on the interpreter used
    _SYS_PY = "/usr/bin/python3"
    if os.path.exists(_SYS_PY) and os.path.realpath(sys.executable) != os.path.realpath(_SYS_PY):
        sys.stderr.write("numpy/osgeo missing in %s; re-running with %s\n" % (sys.executable, _SYS_PY))
        os.execv(_SYS_PY, [_SYS_PY] + sys.argv)
    raise

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

# ---------------------------------------------------------------------------------------
# Scene constants
# ---------------------------------------------------------------------------------------
SEED = 20260607
EPSG = 32648
X0, Y0 = 560000.0, 1150000.0  # top-left corner of the block (easting, northing)
WIDTH_M, HEIGHT_M = 400.0, 300.0
FINE = 0.5  # m, the render grid (= drone pixel)
S2_RES = 10.0  # m
AGG = int(round(S2_RES / FINE))  # 20 fine pixels per S2 pixel
FW, FH = int(WIDTH_M / FINE), int(HEIGHT_M / FINE)  # 800 x 600
SW, SH = int(WIDTH_M / S2_RES), int(HEIGHT_M / S2_RES)  # 40 x 30

# Internal band order of the render (index into the 7-band cube).
BANDS7 = ("blue", "green", "red", "re705", "re717", "nir", "swir1")
B_BLUE, B_GREEN, B_RED, B_RE705, B_RE717, B_NIR, B_SWIR1 = range(7)

S2_BANDS = (  # name, render band, central wavelength um, FWHM um (S2A MSI)
    ("B2", B_BLUE, 0.4924, 0.066),
    ("B3", B_GREEN, 0.5598, 0.036),
    ("B4", B_RED, 0.6646, 0.031),
    ("B5", B_RE705, 0.7041, 0.015),
    ("B8", B_NIR, 0.8328, 0.106),
    ("B11", B_SWIR1, 1.6137, 0.091),
)
DRONE_BANDS = (  # MicaSense RedEdge-like
    ("Blue", B_BLUE, 0.475, 0.032),
    ("Green", B_GREEN, 0.560, 0.027),
    ("Red", B_RED, 0.668, 0.014),
    ("RedEdge", B_RE717, 0.717, 0.012),
    ("NIR", B_NIR, 0.842, 0.057),
)
S2_OFFSET = 1000  # processing baseline >= 04.00: DN = reflectance * 10000 + 1000
DRONE_NODATA = -10000.0

# Dates. Median transplanting (P06/P07) is 2026-06-02; S2A-only revisit of 10 days.
S2_DATES = (
    (dt.date(2026, 6, 7), "flooded / transplanting"),
    (dt.date(2026, 6, 27), "tillering"),
    (dt.date(2026, 7, 17), "panicle initiation"),
    (dt.date(2026, 8, 16), "heading"),
    (dt.date(2026, 9, 5), "grain filling"),
)
CLOUD_DATE = dt.date(2026, 6, 27)
NODATA_STRIP_DATE = dt.date(2026, 9, 5)
DRONE_DATES = (
    (dt.date(2026, 6, 26), "tillering"),
    (dt.date(2026, 7, 18), "panicle initiation"),
    (dt.date(2026, 8, 14), "heading"),
)
# Drone footprint (offsets in m from the top-left corner, x east, y south); 400 x 300 px.
DRONE_X, DRONE_Y, DRONE_W_M, DRONE_H_M = 92.0, 64.0, 200.0, 150.0
DRONE_CORNER_CUT_M = 12.0

# Varieties: the names are plausible Mekong-delta cultivar labels only; the synthetic
# phenology is driven by the duration class (development rate relative to medium).
VARIETIES = {"short": "OM5451", "medium": "IR64", "long": "ST25"}
DEV_RATE = {"short": 1.12, "medium": 1.00, "long": 0.88}

BASE_TRANSPLANT = dt.date(2026, 5, 29)
# Paddy interiors, in m from the top-left corner: (x0, x1, y0, y1); y grows southwards.
# Layout: earthen dike road along the north (y 0-5) and west (x 0-8) edges, 1.5 m bunds,
# an irrigation channel (x 184.5-191) running north-south through the whole block,
# neighbouring farmers' paddies along the east (x > 371.5) and south (y > 274) edges.
ROWS_Y = ((6.5, 94.5), (96.0, 181.0), (182.5, 272.5))
COLS_X = (  # per row, so that the grid is not perfectly regular
    ((9.5, 97.5), (99.0, 183.0), (192.5, 282.5), (284.0, 370.0)),
    ((9.5, 95.0), (96.5, 183.0), (192.5, 285.0), (286.5, 370.0)),
    ((9.5, 99.0), (100.5, 183.0), (192.5, 281.0), (282.5, 370.0)),
)
# (duration class, transplanting offset in days from BASE_TRANSPLANT), row-major P01..P12.
PLOT_SETUP = (
    ("short", 0), ("medium", 2), ("long", 5), ("medium", 9),
    ("short", 1), ("medium", 4), ("medium", 4), ("long", 7),
    ("medium", 6), ("short", 8), ("medium", 3), ("long", 9),
)
N_RICH_PLOT = "P06"
N_DEF_PLOT = "P07"
HOTSPOT_PLOT = "P11"
# N-deficient patch: ellipse (centre x, y, semi-axes a, b, rotation deg), offsets in m.
N_DEF_PATCH = (245.0, 130.0, 17.0, 12.0, 25.0)
# Disease hotspot: circle (centre x, y, radius) -> about 17 m across.
HOTSPOT = (236.0, 199.0, 8.5)
NEIGHBOUR_TRANSPLANT = dt.date(2026, 6, 16)

# Cloud on CLOUD_DATE, on the 10 m grid: ellipse centre (col, row), semi-axes (px);
# shadow is the cloud shifted by (dcol, drow) = sun in the north-east at 10:30 local
# time in June at 10 N, so shadows fall to the south-west.
CLOUD = (33.2, 6.0, 2.3, 1.7)
SHADOW_SHIFT = (-3, 2)

# Labels of the cover map (0..11 are the plots P01..P12).
L_NEIGHBOUR, L_BUND, L_ROAD, L_CHANNEL = 12, 13, 14, 15

# ---------------------------------------------------------------------------------------
# Spectra (surface reflectance, 0-1), bands as BANDS7
# ---------------------------------------------------------------------------------------
# Rice canopy over flooded soil, against development days d (= days after transplanting
# times the variety's development rate; medium-duration varieties: d = DAT). Piecewise
# linear between the anchors, flat before the first and after the last.
PHENO_D = np.array([0.0, 10.0, 25.0, 45.0, 62.0, 75.0, 90.0, 105.0])
PHENO_SPECTRA = np.array([
    # blue   green  red    re705  re717  nir    swir1
    [0.055, 0.075, 0.075, 0.080, 0.080, 0.085, 0.035],  # 0: flooded, puddled, seedlings
    [0.053, 0.075, 0.070, 0.080, 0.084, 0.090, 0.038],  # 10: recovery, sparse seedlings
    [0.040, 0.072, 0.052, 0.095, 0.125, 0.165, 0.080],  # 25: tillering, ~40 % cover
    [0.033, 0.070, 0.038, 0.100, 0.170, 0.290, 0.130],  # 45: panicle initiation
    [0.029, 0.068, 0.027, 0.105, 0.210, 0.400, 0.170],  # 62: heading, peak green
    [0.030, 0.070, 0.029, 0.108, 0.210, 0.395, 0.175],  # 75: flowering, still peak
    [0.045, 0.088, 0.070, 0.135, 0.190, 0.290, 0.200],  # 90: grain filling, yellowing
    [0.060, 0.100, 0.100, 0.150, 0.180, 0.250, 0.230],  # 105: maturity, drained
])
PHENO_STAGE_NAMES = ("flooded", "recovery", "tillering", "panicle initiation",
                     "heading", "flowering", "grain filling", "maturity")
BUND_GRASS = np.array([0.045, 0.085, 0.075, 0.130, 0.170, 0.260, 0.220])  # grass on soil
BUND_SOIL = np.array([0.065, 0.095, 0.115, 0.140, 0.150, 0.175, 0.215])  # freshly repaired mud
BUND_REPAIRED = dt.date(2026, 5, 25)  # bunds re-plastered during land preparation
ROAD = np.array([0.075, 0.105, 0.130, 0.160, 0.175, 0.210, 0.270])  # compacted moist clay
CHANNEL = np.array([0.060, 0.085, 0.075, 0.060, 0.050, 0.035, 0.012])  # turbid water
CLOUD_SPEC = np.array([0.42, 0.41, 0.40, 0.40, 0.40, 0.42, 0.30])  # thick cumulus
SHADOW_FACTOR = np.array([0.50, 0.42, 0.40, 0.40, 0.40, 0.40, 0.40])  # diffuse sky light

# Multiplicative modifiers at full severity.
N_RICH_MOD = np.array([0.97, 0.97, 0.88, 0.94, 1.00, 1.07, 1.00])
N_DEF_MOD = np.array([1.05, 1.06, 1.30, 1.10, 0.97, 0.85, 1.05])
HOTSPOT_MOD = np.array([1.05, 1.05, 1.80, 1.15, 0.95, 0.65, 1.10])
# Response of the canopy bands to a vigour anomaly v (spec *= 1 + v * response).
VIGOUR_RESPONSE = np.array([-0.2, -0.2, -1.2, -0.3, 0.3, 1.0, 0.3])


def n_rich_severity(d):
    return np.clip((d - 12.0) / 13.0, 0.0, 1.0)


def n_def_severity(d):  # visible from tillering on
    return np.clip((d - 12.0) / 13.0, 0.0, 1.0)


def hotspot_severity(d):  # appears at panicle initiation, full by ~55 d
    return np.clip((d - 35.0) / 20.0, 0.0, 1.0)


def canopy_weight(d):  # 0 = water/soil dominated, 1 = closed canopy
    return np.clip((d - 5.0) / 35.0, 0.0, 1.0)


# ---------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------
def make_plots():
    plots = []
    for r, (y0, y1) in enumerate(ROWS_Y):
        for c, (x0, x1) in enumerate(COLS_X[r]):
            i = r * 4 + c
            dur, off = PLOT_SETUP[i]
            pid = "P%02d" % (i + 1)
            plots.append({
                "plot_id": pid, "row": r, "col": c,
                "x0": x0, "x1": x1, "y0": y0, "y1": y1,
                "duration_class": dur, "variety": VARIETIES[dur],
                "transplanted": BASE_TRANSPLANT + dt.timedelta(days=off),
                "n_rich": pid == N_RICH_PLOT,
            })
    return plots


def development_days(transplanted, date, duration_class):
    dat = (date - transplanted).days
    return max(dat, 0) * DEV_RATE[duration_class], dat


def pheno_spectrum(d):
    return np.array([np.interp(d, PHENO_D, PHENO_SPECTRA[:, b]) for b in range(7)])


# ---------------------------------------------------------------------------------------
# Noise helpers (pure numpy, deterministic)
# ---------------------------------------------------------------------------------------
def gauss_kernel(sigma):
    r = int(np.ceil(3.0 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(a, sigma):
    """Separable Gaussian blur with reflect padding."""
    k = gauss_kernel(sigma)
    r = len(k) // 2
    for axis in (0, 1):
        p = np.pad(a, [(r, r) if ax == axis else (0, 0) for ax in (0, 1)], mode="reflect")
        out = np.zeros_like(a)
        n = a.shape[axis]
        for j, w in enumerate(k):
            sl = [slice(None), slice(None)]
            sl[axis] = slice(j, j + n)
            out += w * p[tuple(sl)]
        a = out
    return a


def smooth_field(rng, corr_m, std, h=FH, w=FW, res=FINE):
    """Gaussian random field with roughly corr_m correlation length, on an h x w grid."""
    cell = corr_m / 4.0  # coarse cell, the blur spans ~4 cells
    hc = int(np.ceil(h * res / cell)) + 3
    wc = int(np.ceil(w * res / cell)) + 3
    sigma = 2.0
    k = gauss_kernel(sigma)
    coarse = blur(rng.standard_normal((hc, wc)), sigma) / np.sum(k ** 2)  # unit variance
    # Bilinear interpolation at fine pixel centres.
    yy = ((np.arange(h) + 0.5) * res) / cell + 0.5
    xx = ((np.arange(w) + 0.5) * res) / cell + 0.5
    iy = np.floor(yy).astype(int)
    ix = np.floor(xx).astype(int)
    fy = (yy - iy)[:, None]
    fx = (xx - ix)[None, :]
    c00 = coarse[iy][:, ix]
    c01 = coarse[iy][:, ix + 1]
    c10 = coarse[iy + 1][:, ix]
    c11 = coarse[iy + 1][:, ix + 1]
    f = (c00 * (1 - fy) * (1 - fx) + c01 * (1 - fy) * fx + c10 * fy * (1 - fx) + c11 * fy * fx)
    return std * f


# ---------------------------------------------------------------------------------------
# Scene rendering on the 0.5 m grid
# ---------------------------------------------------------------------------------------
def fine_coords():
    x = (np.arange(FW) + 0.5) * FINE
    y = (np.arange(FH) + 0.5) * FINE
    return np.meshgrid(x, y)


def cover_map(plots):
    xs, ys = fine_coords()
    lab = np.full((FH, FW), L_BUND, dtype=np.int16)
    lab[(xs > 371.5) | (ys > 274.0)] = L_NEIGHBOUR
    # bunds between the neighbours' paddies
    lab[(ys > 274.0) & ((np.abs(xs - 370.75) < 0.75) | (np.abs(xs - 96.0) < 0.75))] = L_BUND
    lab[(xs > 371.5) & (np.abs(ys - 140.0) < 0.75)] = L_BUND
    for i, p in enumerate(plots):
        lab[(xs >= p["x0"]) & (xs < p["x1"]) & (ys >= p["y0"]) & (ys < p["y1"])] = i
    lab[(ys < 5.0) | (xs < 8.0)] = L_ROAD
    lab[(xs >= 184.5) & (xs < 191.0) & (ys >= 5.0)] = L_CHANNEL
    return lab


def anomaly_masks(rng, lab, plots):
    xs, ys = fine_coords()
    ids = [p["plot_id"] for p in plots]
    # N-deficient patch: soft-edged, slightly irregular ellipse.
    cx, cy, a, b, rot = N_DEF_PATCH
    t = np.deg2rad(rot)
    u = (xs - cx) * np.cos(t) + (ys - cy) * np.sin(t)
    v = -(xs - cx) * np.sin(t) + (ys - cy) * np.cos(t)
    e = np.sqrt((u / a) ** 2 + (v / b) ** 2) + smooth_field(rng, 12.0, 0.10)
    ndef = np.clip((1.15 - e) / 0.30, 0.0, 1.0) * (lab == ids.index(N_DEF_PLOT))
    # Disease hotspot: roughly circular, full severity in the core, cosine fall-off.
    hx, hy, hr = HOTSPOT
    rr = np.hypot(xs - hx, ys - hy) / hr + smooth_field(rng, 6.0, 0.08)
    core, edge = 0.6, 1.2
    hot = np.where(rr <= core, 1.0,
                   np.where(rr >= edge, 0.0, 0.5 * (1 + np.cos(np.pi * (rr - core) / (edge - core)))))
    hot = hot * (lab == ids.index(HOTSPOT_PLOT))
    return ndef, hot


class Scene:
    def __init__(self):
        self.plots = make_plots()
        rng = np.random.default_rng([SEED, 0])
        self.lab = cover_map(self.plots)
        self.ndef_mask, self.hot_mask = anomaly_masks(rng, self.lab, self.plots)
        self.vigour_static = smooth_field(rng, 25.0, 0.035)
        self.surface_static = smooth_field(rng, 15.0, 0.04)

    def render(self, date, rng):
        """Reflectance cube (7, FH, FW) for a date, before any sensor effects."""
        nlab = L_CHANNEL + 1
        table = np.zeros((nlab, 7))
        dev = np.zeros(nlab)
        nrich_sev = np.zeros(nlab)
        for i, p in enumerate(self.plots):
            d, _ = development_days(p["transplanted"], date, p["duration_class"])
            table[i] = pheno_spectrum(d)
            dev[i] = d
            if p["n_rich"]:
                nrich_sev[i] = n_rich_severity(d)
        d, _ = development_days(NEIGHBOUR_TRANSPLANT, date, "medium")
        table[L_NEIGHBOUR] = pheno_spectrum(d)
        dev[L_NEIGHBOUR] = d
        grass = np.clip((date - BUND_REPAIRED).days / 40.0, 0.15, 1.0)  # grass regrowing
        table[L_BUND] = grass * BUND_GRASS + (1.0 - grass) * BUND_SOIL
        table[L_ROAD] = ROAD
        table[L_CHANNEL] = CHANNEL

        lab = self.lab
        cube = table[lab].transpose(2, 0, 1).copy()  # (7, H, W)
        # N-rich reference: whole plot.
        s = nrich_sev[lab]
        cube *= 1.0 + s[None] * (N_RICH_MOD - 1.0)[:, None, None]
        # N-deficient patch and disease hotspot.
        pid = [p["plot_id"] for p in self.plots]
        d_ndef = dev[pid.index(N_DEF_PLOT)]
        d_hot = dev[pid.index(HOTSPOT_PLOT)]
        s = self.ndef_mask * n_def_severity(d_ndef)
        cube *= 1.0 + s[None] * (N_DEF_MOD - 1.0)[:, None, None]
        s = self.hot_mask * hotspot_severity(d_hot)
        cube *= 1.0 + s[None] * (HOTSPOT_MOD - 1.0)[:, None, None]
        # Vigour texture on the crop, water depth / turbidity texture below it.
        crop = lab <= L_NEIGHBOUR
        g = canopy_weight(dev)[lab] * crop
        vig = self.vigour_static + smooth_field(rng, 15.0, 0.015)
        surf = self.surface_static + smooth_field(rng, 10.0, 0.01)
        cube *= 1.0 + (vig * g)[None] * VIGOUR_RESPONSE[:, None, None]
        cube *= 1.0 + (surf * np.where(crop, 0.5 * (1.0 - g), 0.6))[None]
        return cube


# ---------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------
def srs():
    s = osr.SpatialReference()
    s.ImportFromEPSG(EPSG)
    return s


def write_tif(path, data, gdal_type, geotransform, nodata, descriptions, predictor,
              band_md=None, band_imagery_md=None, ds_md=None, color_table=None):
    nb, h, w = data.shape
    opts = ["COMPRESS=DEFLATE", "ZLEVEL=9", "PREDICTOR=%d" % predictor, "INTERLEAVE=BAND"]
    if w >= 256 and h >= 256:
        opts += ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
    drv = gdal.GetDriverByName("GTiff")
    if os.path.exists(path):
        drv.Delete(path)
    ds = drv.Create(path, w, h, nb, gdal_type, options=opts)
    ds.SetGeoTransform(geotransform)
    ds.SetSpatialRef(srs())
    if ds_md:
        ds.SetMetadata(ds_md)
    for i in range(nb):
        band = ds.GetRasterBand(i + 1)
        band.SetDescription(descriptions[i])
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if band_md:
            band.SetMetadata(band_md[i])
        if band_imagery_md:
            band.SetMetadata(band_imagery_md[i], "IMAGERY")
        if color_table is not None:
            band.SetColorTable(color_table)
        band.WriteArray(data[i])
    ds.FlushCache()
    ds = None
    aux = path + ".aux.xml"
    if os.path.exists(aux):
        raise RuntimeError("GDAL wrote a side file %s: something is not stored in the TIFF" % aux)


def reflectance_to_dn(refl):
    dn = np.floor(np.clip(refl, 0.0, 6.5) * 10000.0 + 0.5) + S2_OFFSET
    return dn.astype(np.uint16)


SCL_NAMES = {0: "NO_DATA", 1: "SATURATED_OR_DEFECTIVE", 2: "DARK_AREA_PIXELS", 3: "CLOUD_SHADOWS",
             4: "VEGETATION", 5: "NOT_VEGETATED", 6: "WATER", 7: "UNCLASSIFIED",
             8: "CLOUD_MEDIUM_PROBABILITY", 9: "CLOUD_HIGH_PROBABILITY", 10: "THIN_CIRRUS",
             11: "SNOW"}
SCL_COLOURS = {0: (0, 0, 0), 1: (255, 0, 0), 2: (47, 47, 47), 3: (100, 50, 0), 4: (0, 160, 0),
               5: (255, 230, 90), 6: (0, 0, 255), 7: (128, 128, 128), 8: (192, 192, 192),
               9: (255, 255, 255), 10: (100, 200, 255), 11: (255, 150, 255)}


def classify_scl(refl):
    """SCL-like classes from (clean) 10 m reflectance: 4 vegetation, 5 bare soil, 6 water."""
    red, nir, swir = refl[B_RED], refl[B_NIR], refl[B_SWIR1]
    ndvi = (nir - red) / (nir + red)
    scl = np.full(red.shape, 5, dtype=np.uint8)
    scl[ndvi >= 0.35] = 4
    scl[(nir < 0.11) & (ndvi < 0.25) & (swir < 0.06)] = 6
    return scl


def make_s2(scene, date, stage, out_dir):
    rng = np.random.default_rng([SEED, 1, date.toordinal()])
    cube = scene.render(date, rng)
    refl = cube.reshape(7, SH, AGG, SW, AGG).mean(axis=(2, 4))
    # Sensor noise (noise-equivalent reflectance plus a relative term).
    refl = refl + rng.standard_normal(refl.shape) * (0.002 + 0.01 * refl)
    refl = np.clip(refl, 0.0, None)
    scl = classify_scl(refl)
    if date == CLOUD_DATE:
        cc, cr, ca, cb = CLOUD
        cols, rows = np.meshgrid(np.arange(SW) + 0.5, np.arange(SH) + 0.5)
        cloud = ((cols - cc) / ca) ** 2 + ((rows - cr) / cb) ** 2 <= 1.0
        dc, dr = SHADOW_SHIFT
        shadow = np.zeros_like(cloud)
        shadow[max(dr, 0):SH + min(dr, 0), max(dc, 0):SW + min(dc, 0)] = \
            cloud[max(-dr, 0):SH - max(dr, 0), max(-dc, 0):SW - max(dc, 0)]
        shadow &= ~cloud
        bright = CLOUD_SPEC[:, None] * (1.0 + 0.08 * rng.standard_normal(int(cloud.sum())))[None]
        refl[:, cloud] = bright
        refl[:, shadow] *= SHADOW_FACTOR[:, None]
        scl[cloud] = 9
        scl[shadow] = 3
    dn = np.stack([reflectance_to_dn(refl[b]) for _, b, _, _ in S2_BANDS])
    if date == NODATA_STRIP_DATE:
        # Swath edge along the west side, slightly slanted like an orbit track.
        cols, rows = np.meshgrid(np.arange(SW), np.arange(SH))
        strip = cols < 2 + (rows * 0.11).astype(int)
        dn[:, strip] = 0
        scl[strip] = 0
    gt = (X0, S2_RES, 0.0, Y0, 0.0, -S2_RES)
    tag = date.strftime("%Y%m%d")
    start = date.strftime("%Y-%m-%d") + "T03:30:00Z"
    ds_md = {
        "SPACECRAFT_NAME": "Sentinel-2A-like synthetic",
        "PRODUCT_START_TIME": start,
        "PROCESSING_LEVEL": "Level-2A",
        "PROCESSING_BASELINE": "05.11",
        "BOA_QUANTIFICATION_VALUE": "10000",
        "BOA_ADD_OFFSET": "-1000",
        "CROP_STAGE": stage,
        "SYNTHETIC": "YES: made by scripts/make_sample_tiles.py",
    }
    band_md = [{"BOA_ADD_OFFSET": "-1000"} for _ in S2_BANDS]
    band_im = [{"CENTRAL_WAVELENGTH_UM": "%.4f" % wl, "FWHM_UM": "%.3f" % fw} for _, _, wl, fw in S2_BANDS]
    write_tif(os.path.join(out_dir, "s2_%s.tif" % tag), dn, gdal.GDT_UInt16, gt, 0,
              [n for n, _, _, _ in S2_BANDS], 2, band_md=band_md, band_imagery_md=band_im, ds_md=ds_md)
    ct = gdal.ColorTable()
    for k in range(256):
        ct.SetColorEntry(k, SCL_COLOURS.get(k, (0, 0, 0)) + (255,))
    scl_md = {"PRODUCT_START_TIME": start, "SPACECRAFT_NAME": "Sentinel-2A-like synthetic",
              "SYNTHETIC": "YES: made by scripts/make_sample_tiles.py"}
    for k in (0, 3, 4, 5, 6, 9):
        scl_md["CLASS_%d" % k] = SCL_NAMES[k]
    write_tif(os.path.join(out_dir, "s2_%s_scl.tif" % tag), scl[None], gdal.GDT_Byte, gt, 0,
              ["SCL"], 2, ds_md=scl_md, color_table=ct)


def drone_footprint():
    w, h = int(DRONE_W_M / FINE), int(DRONE_H_M / FINE)
    x, y = np.meshgrid((np.arange(w) + 0.5) * FINE, (np.arange(h) + 0.5) * FINE)
    c = DRONE_CORNER_CUT_M
    cuts = [c, 0.6 * c, 1.3 * c, 0.8 * c]  # not all corners alike
    inside = ((x + y >= cuts[0]) & ((DRONE_W_M - x) + y >= cuts[1])
              & (x + (DRONE_H_M - y) >= cuts[2]) & ((DRONE_W_M - x) + (DRONE_H_M - y) >= cuts[3]))
    return inside


def make_drone(scene, date, stage, out_dir):
    rng = np.random.default_rng([SEED, 2, date.toordinal()])
    cube = scene.render(date, rng)
    c0, r0 = int(DRONE_X / FINE), int(DRONE_Y / FINE)
    w, h = int(DRONE_W_M / FINE), int(DRONE_H_M / FINE)
    sub = cube[:, r0:r0 + h, c0:c0 + w]
    lab = scene.lab[r0:r0 + h, c0:c0 + w]
    # Hill / leaf scale texture the 10 m pixels average away, stronger on partial cover.
    dev = np.zeros(L_CHANNEL + 1)
    for i, p in enumerate(scene.plots):
        dev[i] = development_days(p["transplanted"], date, p["duration_class"])[0]
    dev[L_NEIGHBOUR] = development_days(NEIGHBOUR_TRANSPLANT, date, "medium")[0]
    g = canopy_weight(dev)[lab] * (lab <= L_NEIGHBOUR)
    gap = g * (1.0 - g) * 4.0  # 1 at half cover, 0 at none or full
    tex = blur(rng.standard_normal((h, w)), 1.5) * (0.03 + 0.06 * gap) / 0.188
    sub = sub * (1.0 + tex[None] * VIGOUR_RESPONSE[:, None, None] * (lab <= L_NEIGHBOUR)[None])
    sel = [b for _, b, _, _ in DRONE_BANDS]
    refl = sub[sel]
    refl = refl + rng.standard_normal(refl.shape) * (0.002 + 0.015 * refl)
    refl = np.round(np.clip(refl, 0.0, 1.0), 4).astype(np.float32)
    refl[:, ~drone_footprint()] = DRONE_NODATA
    gt = (X0 + DRONE_X, FINE, 0.0, Y0 - DRONE_Y, 0.0, -FINE)
    ds_md = {
        "SENSOR": "5-band multispectral camera (MicaSense RedEdge-like), synthetic",
        "ACQUISITION_DATE": date.isoformat(),
        "REFLECTANCE_SCALE": "1 (reflectance 0-1)",
        "CROP_STAGE": stage,
        "SYNTHETIC": "YES: made by scripts/make_sample_tiles.py",
    }
    band_im = [{"CENTRAL_WAVELENGTH_UM": "%.3f" % wl, "FWHM_UM": "%.3f" % fw} for _, _, wl, fw in DRONE_BANDS]
    write_tif(os.path.join(out_dir, "drone_%s.tif" % date.strftime("%Y%m%d")), refl, gdal.GDT_Float32, gt,
              DRONE_NODATA, [n for n, _, _, _ in DRONE_BANDS], 3, band_imagery_md=band_im, ds_md=ds_md)


def to_lonlat():
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    src = srs()
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)

    def f(ring_en):
        pts = ct.TransformPoints([(e, n) for e, n in ring_en])
        return [[round(p[0], 7), round(p[1], 7)] for p in pts]
    return f


def ring_signed_area(ring):
    s = 0.0
    for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:]):
        s += x1 * y2 - x2 * y1
    return 0.5 * s


def ccw_rect(x0, x1, y0, y1):
    """Rectangle from offsets (y south) to a counter-clockwise UTM ring, closed."""
    e0, e1 = X0 + x0, X0 + x1
    n_top, n_bot = Y0 - y0, Y0 - y1
    return [(e0, n_bot), (e1, n_bot), (e1, n_top), (e0, n_top), (e0, n_bot)]


def dump_geojson(path, features):
    fc = {"type": "FeatureCollection", "features": features}
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("{\n\"type\": \"FeatureCollection\",\n\"features\": [\n")
        fh.write(",\n".join(json.dumps(f, separators=(", ", ": ")) for f in fc["features"]))
        fh.write("\n]\n}\n")


def make_vectors(scene, out_dir):
    proj = to_lonlat()
    feats = []
    for p in scene.plots:
        ring = proj(ccw_rect(p["x0"], p["x1"], p["y0"], p["y1"]))
        assert ring_signed_area(ring) > 0, "outer ring must be counter-clockwise"
        area_ha = round((p["x1"] - p["x0"]) * (p["y1"] - p["y0"]) / 10000.0, 4)
        feats.append({
            "type": "Feature",
            "properties": {
                "plot_id": p["plot_id"], "variety": p["variety"], "duration_class": p["duration_class"],
                "transplanted": p["transplanted"].isoformat(), "n_rich": p["n_rich"], "area_ha": area_ha,
            },
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        })
    dump_geojson(os.path.join(out_dir, "plots.geojson"), feats)

    # Ground truth of the two anomalies (nominal outlines) for tests.
    ang = np.deg2rad(np.arange(0, 360, 10))
    cx, cy, a, b, rot = N_DEF_PATCH
    t = np.deg2rad(rot)
    u, v = a * np.cos(ang), b * np.sin(ang)
    pts = [(X0 + cx + ui * np.cos(t) - vi * np.sin(t), Y0 - (cy + ui * np.sin(t) + vi * np.cos(t)))
           for ui, vi in zip(u, v)]
    hx, hy, hr = HOTSPOT
    hpts = [(X0 + hx + hr * np.cos(q), Y0 - (hy + hr * np.sin(q))) for q in ang]
    out = []
    for kind, plot, visible, ptsx in (
            ("n_deficient", N_DEF_PLOT, "tillering", pts),
            ("disease_hotspot", HOTSPOT_PLOT, "panicle initiation", hpts)):
        ring_en = list(ptsx) + [ptsx[0]]
        if ring_signed_area(ring_en) < 0:
            ring_en = ring_en[::-1]
        ring = proj(ring_en)
        assert ring_signed_area(ring) > 0
        out.append({
            "type": "Feature",
            "properties": {"kind": kind, "plot_id": plot, "visible_from": visible},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        })
    dump_geojson(os.path.join(out_dir, "anomalies.geojson"), out)


# ---------------------------------------------------------------------------------------
# Read-back summary for the README
# ---------------------------------------------------------------------------------------
def read_s2_reflectance(path):
    ds = gdal.Open(path)
    arr = ds.ReadAsArray().astype(np.float64)
    off = float(ds.GetMetadataItem("BOA_ADD_OFFSET"))
    valid = np.all(arr != 0, axis=0)
    return (arr + off) / 10000.0, valid


def indices(blue, red, re, nir, swir=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "NDVI": (nir - red) / (nir + red),
            "NDRE": (nir - re) / (nir + re),
            "EVI": 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1),
        }
        if swir is not None:
            out["LSWI"] = (nir - swir) / (nir + swir)
    return out


def pixel_plot_ids(plots, w, h, gt):
    """Index of the plot whose interior holds each pixel centre (-1 = none)."""
    x = gt[0] + (np.arange(w) + 0.5) * gt[1]
    y = gt[3] + (np.arange(h) + 0.5) * gt[5]
    xs, ys = np.meshgrid(x - X0, Y0 - y)
    ids = np.full((h, w), -1, dtype=np.int16)
    for i, p in enumerate(plots):
        ids[(xs >= p["x0"]) & (xs < p["x1"]) & (ys >= p["y0"]) & (ys < p["y1"])] = i
    return ids


def summarise(scene, out_dir):
    rows = []
    gt = (X0, S2_RES, 0.0, Y0, 0.0, -S2_RES)
    ids = pixel_plot_ids(scene.plots, SW, SH, gt)
    per_plot = []
    for date, stage in S2_DATES:
        tag = date.strftime("%Y%m%d")
        refl, valid = read_s2_reflectance(os.path.join(out_dir, "s2_%s.tif" % tag))
        scl = gdal.Open(os.path.join(out_dir, "s2_%s_scl.tif" % tag)).ReadAsArray()
        ok = valid & (ids >= 0) & np.isin(scl, (4, 5, 6))
        ix = indices(refl[0], refl[2], refl[3], refl[4], refl[5])
        per_plot.append([float(np.mean(ix["NDVI"][ok & (ids == i)])) for i in range(len(scene.plots))])
        dats = [(date - p["transplanted"]).days for p in scene.plots]
        rows.append((date, stage, min(dats), max(dats), int(ok.sum()),
                     {k: float(np.mean(v[ok])) for k, v in ix.items()},
                     int((scl == 9).sum()), int((scl == 3).sum()), int((~valid).sum())))
    drows = []
    for date, stage in DRONE_DATES:
        ds = gdal.Open(os.path.join(out_dir, "drone_%s.tif" % date.strftime("%Y%m%d")))
        arr = ds.ReadAsArray().astype(np.float64)
        dgt = ds.GetGeoTransform()
        dids = pixel_plot_ids(scene.plots, ds.RasterXSize, ds.RasterYSize, dgt)
        valid = np.all(arr != DRONE_NODATA, axis=0)
        ix = indices(arr[0], arr[2], arr[3], arr[4])
        per = {}
        for pid in ("P06", "P07"):
            m = valid & (dids == [p["plot_id"] for p in scene.plots].index(pid))
            per[pid] = {k: float(np.mean(ix[k][m])) for k in ("NDVI", "NDRE")}
        drows.append((date, stage, int((~valid).sum()), per))
        cover = []
        for i, p in enumerate(scene.plots):
            n_plot = (p["x1"] - p["x0"]) * (p["y1"] - p["y0"]) / FINE ** 2
            cover.append((p["plot_id"], float(np.sum(valid & (dids == i))) / n_plot))
    plot_ndvi = [list(v) for v in zip(*per_plot)]
    return rows, drows, cover, plot_ndvi


# ---------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------
def write_readme(scene, out_dir, rows, drows, drone_cover, plot_ndvi):
    L = []
    a = L.append
    a("# sample_tiles: a synthetic rice scene")
    a("")
    a("**Everything here is synthetic**, made by `scripts/make_sample_tiles.py` from a fixed seed "
      "(%d). It is a small, physically plausible block of transplanted rice paddies in the Mekong "
      "delta, meant for tests, examples and the demo run. No file here was observed by a real sensor. "
      "Real imagery for tests (none of it over rice) lives in `../shared/data` (see its README)." % SEED)
    a("")
    a("Regenerate (byte-identical output; numpy and the GDAL Python bindings, Debian `python3-numpy` "
      "`python3-gdal`):")
    a("")
    a("```sh")
    a("python3 scripts/make_sample_tiles.py            # writes sample_tiles/ at the repo root")
    a("python3 scripts/make_sample_tiles.py --out DIR  # or elsewhere")
    a("```")
    a("")
    a("If the `python3` on PATH lacks numpy or osgeo (a pyenv shim, say), the script re-runs itself "
      "with /usr/bin/python3. It takes a few seconds.")
    a("")
    a("This README is written by the same script; edit the script, not this file.")
    a("")
    a("## Files")
    a("")
    a("| file | what | grid | type, bands |")
    a("|---|---|---|---|")
    for date, stage in S2_DATES:
        tag = date.strftime("%Y%m%d")
        extra = ""
        if date == CLOUD_DATE:
            extra = "; a small cloud (SCL 9) and its shadow (SCL 3)"
        if date == NODATA_STRIP_DATE:
            extra = "; swath-edge strip of no data (DN 0) along the west edge"
        a("| `s2_%s.tif` | Sentinel-2-like L2A, %s, %s%s | EPSG:32648, 10 m, %d × %d, origin E %d N %d | "
          "UInt16 × 6: B2, B3, B4, B5, B8, B11; nodata 0 |" % (tag, date.isoformat(), stage, extra, SW, SH, X0, Y0))
        a("| `s2_%s_scl.tif` | scene classification of the same date | same | Byte × 1 (SCL); nodata 0 |" % tag)
    for date, stage in DRONE_DATES:
        a("| `drone_%s.tif` | drone orthomosaic, %s, %s; corners outside the flight are nodata | "
          "EPSG:32648, 0.5 m, %d × %d, origin E %d N %d, tiled 256 | Float32 reflectance × 5: Blue, Green, Red, "
          "RedEdge, NIR; nodata %d |" % (date.strftime("%Y%m%d"), date.isoformat(), stage,
                                         int(DRONE_W_M / FINE), int(DRONE_H_M / FINE), X0 + DRONE_X,
                                         Y0 - DRONE_Y, DRONE_NODATA))
    a("| `plots.geojson` | the 12 paddies (interiors, inside the bunds) with ground truth | RFC 7946, WGS84 lon/lat, "
      "7 decimals, counter-clockwise outer rings | properties `plot_id`, `variety`, `duration_class`, "
      "`transplanted`, `n_rich`, `area_ha` |")
    a("| `anomalies.geojson` | nominal outlines of the N-deficient patch and the disease hotspot (ground truth "
      "for tests) | as above | properties `kind`, `plot_id`, `visible_from` |")
    a("")
    a("All GeoTIFFs: DEFLATE, PREDICTOR=2 (integers) or 3 (Float32), band interleaved; the S2 files are "
      "small enough for strips, the drone files are tiled 256 × 256. Every band has its description set "
      "(the band name) and its centre wavelength and FWHM in the `IMAGERY` metadata domain "
      "(`CENTRAL_WAVELENGTH_UM`, `FWHM_UM`).")
    a("")
    a("### Sentinel-2-like stacks")
    a("")
    a("- Band order: B2 blue (490 nm), B3 green (560), B4 red (665), B5 red edge 1 (705), B8 NIR (833), "
      "B11 SWIR1 (1614). Real B5 and B11 are 20 m; here they are simply given at 10 m.")
    a("- Digital numbers follow processing baseline ≥ 04.00: **reflectance = (DN + BOA_ADD_OFFSET) / 10000 "
      "with BOA_ADD_OFFSET = −1000**, i.e. DN = round(reflectance × 10000) + 1000. DN 0 is no data. "
      "`BOA_ADD_OFFSET=-1000` is set on the dataset and on every band; the dataset also carries "
      "`BOA_QUANTIFICATION_VALUE=10000`, `SPACECRAFT_NAME=Sentinel-2A-like synthetic`, "
      "`PRODUCT_START_TIME=YYYY-MM-DDT03:30:00Z` (acquisition time, 10:30 local) and `CROP_STAGE`.")
    a("- SCL values used: 0 no data, 3 cloud shadow, 4 vegetation, 5 not vegetated (bare soil, dike road), "
      "6 water, 9 cloud high probability. They come from simple rules on the 10 m reflectance "
      "(water: NIR < 0.11, NDVI < 0.25, SWIR1 < 0.06; vegetation: NDVI ≥ 0.35; otherwise 5), then the cloud, "
      "shadow and no-data pixels. The SCL files carry the ESA colour table.")
    a("- %s: a cloud of %d pixels over P04 (all bands ≈ 0.3–0.45) and its shadow of %d pixels shifted "
      "3 pixels west and 2 south (sun in the north-east; reflectance × 0.4–0.5)." %
      (CLOUD_DATE.isoformat(), next(r[6] for r in rows if r[0] == CLOUD_DATE),
       next(r[7] for r in rows if r[0] == CLOUD_DATE)))
    a("- %s: %d no-data pixels (DN 0 in all bands, SCL 0) in a slanted strip 2–5 pixels wide along the west "
      "edge, as at a swath edge; it covers the dike road and the west edge of P01, P05, P09." %
      (NODATA_STRIP_DATE.isoformat(), next(r[8] for r in rows if r[0] == NODATA_STRIP_DATE)))
    a("")
    a("### Drone orthomosaics")
    a("")
    a("- Band order: Blue (475 nm), Green (560), Red (668), RedEdge (717), NIR (842): a MicaSense "
      "RedEdge-like camera, already calibrated to reflectance (Float32, 0–1, rounded to 4 decimals).")
    full = [p for p, f in drone_cover if f > 0.999]
    part = ["%s %d %%" % (p, round(100 * f)) for p, f in drone_cover if 0 < f <= 0.999]
    a("- Footprint: %g m × %g m around the block centre (E %d–%d, N %d–%d); the four corners are cut "
      "(outside the flight) and hold nodata %d. Plots wholly inside: %s (P06 is the N-rich reference, "
      "P07 holds the N-deficient patch). Plots partly inside (share of the plot's area): %s. The "
      "hotspot in P11 is inside." %
      (DRONE_W_M, DRONE_H_M, X0 + DRONE_X, X0 + DRONE_X + DRONE_W_M, Y0 - DRONE_Y - DRONE_H_M, Y0 - DRONE_Y,
       DRONE_NODATA, ", ".join(full), ", ".join(part)))
    a("- The drone's red edge is 717 nm, not Sentinel-2's 705 nm, so drone NDRE is lower than S2 NDRE "
      "on the same canopy; compare sufficiency indices, not raw values, across sensors.")
    a("")
    a("## The scene")
    a("")
    a("A 400 m × 300 m block, top-left corner E %d N %d (EPSG:32648, UTM 48N), about 105.55 E 10.40 N:" % (X0, Y0))
    a("")
    a("- 12 paddies (P01–P12, row-major from the north-west: row 1 = P01–P04), 84–92.5 m × 85–90 m, "
      "separated by 1.5 m earthen bunds (grass and soil);")
    a("- an irrigation channel, 6.5 m of turbid open water, running north–south between the second and "
      "third columns (E %.1f–%.1f);" % (X0 + 184.5, X0 + 191))
    a("- an earthen dike road along the north (5 m) and west (8 m) edges;")
    a("- neighbours' paddies (not in `plots.geojson`) along the east and south edges, transplanted later (%s)." %
      NEIGHBOUR_TRANSPLANT.isoformat())
    a("")
    a("### Ground truth per plot")
    a("")
    a("| plot | variety | duration class | transplanted | N-rich | area (ha) | notes |")
    a("|---|---|---|---|---|---|---|")
    for p in scene.plots:
        note = ""
        if p["plot_id"] == N_RICH_PLOT:
            note = "N-rich reference: whole plot greener from tillering on"
        if p["plot_id"] == N_DEF_PLOT:
            note = ("N-deficient patch (about %d m × %d m ellipse around E %d N %d) from tillering on" %
                    (2 * N_DEF_PATCH[2], 2 * N_DEF_PATCH[3], X0 + N_DEF_PATCH[0], Y0 - N_DEF_PATCH[1]))
        if p["plot_id"] == HOTSPOT_PLOT:
            note = ("disease-stress hotspot (about %d m across, centre E %d N %d) from panicle initiation on" %
                    (2 * HOTSPOT[2], X0 + HOTSPOT[0], Y0 - HOTSPOT[1]))
        a("| %s | %s | %s | %s | %s | %.4f | %s |" % (
            p["plot_id"], p["variety"], p["duration_class"], p["transplanted"].isoformat(),
            "yes" if p["n_rich"] else "no", (p["x1"] - p["x0"]) * (p["y1"] - p["y0"]) / 1e4, note))
    a("")
    a("Variety names are plausible Mekong-delta labels; only the duration class drives the synthetic "
      "crop, through a development rate: development day d = days after transplanting (DAT) × %.2f (short), "
      "%.2f (medium), %.2f (long). P06 (N-rich) and P07 (N-deficient patch) share variety and "
      "transplanting date, so a sufficiency index P07 / P06 is like for like." %
      (DEV_RATE["short"], DEV_RATE["medium"], DEV_RATE["long"]))
    a("")
    a("## Dates and stages")
    a("")
    a("| date | stage (medium variety, transplanted %s) | DAT range over plots |" % dt.date(2026, 6, 2).isoformat())
    a("|---|---|---|")
    for date, stage, dmin, dmax, *_ in rows:
        a("| %s (S2) | %s | %d–%d |" % (date.isoformat(), stage, dmin, dmax))
    for date, stage in DRONE_DATES:
        dats = [(date - p["transplanted"]).days for p in scene.plots]
        a("| %s (drone) | %s | %d–%d |" % (date.isoformat(), stage, min(dats), max(dats)))
    a("")
    a("## Physical assumptions")
    a("")
    a("The scene is rendered as surface reflectance on a 0.5 m grid and mixed linearly into 10 m pixels. "
      "Rice canopy reflectance over flooded soil against development day d (piecewise linear between the "
      "anchors):")
    a("")
    a("| d | stage | blue | green | red | red edge 705 | red edge 717 | NIR | SWIR1 | NDVI | NDRE (705) | LSWI | EVI |")
    a("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d, name, s in zip(PHENO_D, PHENO_STAGE_NAMES, PHENO_SPECTRA):
        ix = indices(s[0], s[2], s[3], s[5], s[6])
        a("| %d | %s | %s | %.2f | %.2f | %.2f | %.2f |" % (
            d, name, " | ".join("%.3f" % v for v in s), ix["NDVI"], ix["NDRE"], ix["LSWI"], ix["EVI"]))
    a("")
    a("Where the values come from (typical ranges, not one study):")
    a("")
    a("- **Flooded / transplanting**: a few centimetres of turbid water over puddled clay with small "
      "seedlings. Water absorbs strongly in the NIR and almost completely in the SWIR, so NIR stays below "
      "~0.1 and SWIR1 near 0.03: NDVI ≈ 0.06, LSWI ≈ 0.4, EVI ≈ 0.02, so the paddy rule of Xiao et al. "
      "(2005, 2006), LSWI + 0.05 ≥ NDVI (or EVI), holds. This is the flooding signal used to map paddy "
      "rice from MODIS and Landsat/Sentinel-2 time series.")
    a("- **Tillering to heading**: NIR rises with leaf area and red falls with chlorophyll absorption, "
      "NDVI going from ≈ 0.5 at tillering to ≈ 0.85 at heading, where it saturates; EVI peaks near "
      "heading at ≈ 0.65 (the peak that Sakamoto et al. (2005) take as the heading date). Red-edge-1 "
      "reflectance stays near 0.1 while NIR rises, so NDRE keeps rising to ≈ 0.55 and stays sensitive to "
      "nitrogen after NDVI saturates. LSWI stays ≈ 0.35–0.4 because the canopy is wet and water stands below.")
    a("- **Grain filling to maturity**: leaves senesce and panicles turn yellow: red and green rise, NIR "
      "falls, the field is drained: NDVI ≈ 0.6 at grain filling, ≈ 0.4 at maturity, LSWI falls towards 0.")
    a("- **Water** (channel): turbid Mekong water with much suspended sediment: green/red ≈ 0.08, NIR "
      "≈ 0.035, SWIR1 ≈ 0.01. **Dike road**: compacted moist alluvial clay, SWIR1 > NIR (LSWI < 0). "
      "**Bunds**: re-plastered with mud before transplanting (NDVI ≈ 0.2), grass regrowing to NDVI ≈ 0.55 "
      "within ~40 days. **Cloud**: bright and flat, 0.4–0.45 in the "
      "visible and NIR, ≈ 0.3 in SWIR1.")
    a("- **N-rich reference** (%s): from tillering on NIR × %.2f, red × %.2f, red edge 705 × %.2f: a denser, "
      "darker green canopy, higher NDVI and clearly higher NDRE." % (N_RICH_PLOT, N_RICH_MOD[B_NIR],
                                                                     N_RICH_MOD[B_RED], N_RICH_MOD[B_RE705]))
    a("- **N-deficient patch** (%s): from tillering on (full by 25 d) NIR × %.2f, red × %.2f, red edge 705 "
      "× %.2f, green × %.2f: paler, thinner canopy." % (N_DEF_PLOT, N_DEF_MOD[B_NIR], N_DEF_MOD[B_RED],
                                                        N_DEF_MOD[B_RE705], N_DEF_MOD[B_GREEN]))
    a("- **Disease hotspot** (%s): from panicle initiation (half severity at 45 d, full from 55 d) NIR × "
      "%.2f, red × %.2f in the core, fading out with a cosine edge: necrotic lesions and lodging as with "
      "sheath blight or blast." % (HOTSPOT_PLOT, HOTSPOT_MOD[B_NIR], HOTSPOT_MOD[B_RED]))
    a("- **Texture and noise**: a smooth vigour field (≈ 25 m correlation, 3.5 % on NIR, opposite on red) "
      "common to all dates plus a weaker one per date; water depth / turbidity texture under young rice; "
      "on the drone, extra plant-scale texture strongest at half cover. Sensor noise: Sentinel-2 "
      "0.002 + 1 % of reflectance, drone 0.002 + 1.5 % (1 sigma).")
    a("")
    a("## What the files give")
    a("")
    a("Mean index over the paddy pixels (pixel centre inside a plot in `plots.geojson`, SCL 4/5/6, not "
      "no data), read back from the written S2 files with the −1000 offset applied:")
    a("")
    a("| date | stage | pixels | NDVI | NDRE | LSWI | EVI | LSWI + 0.05 ≥ NDVI |")
    a("|---|---|---|---|---|---|---|---|")
    for date, stage, dmin, dmax, n, m, *_ in rows:
        a("| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %s |" % (
            date.isoformat(), stage, n, m["NDVI"], m["NDRE"], m["LSWI"], m["EVI"],
            "yes" if m["LSWI"] + 0.05 >= m["NDVI"] else "no"))
    a("")
    a("The heading mean is below the canopy peak (NDVI 0.87) because on 2026-08-16 the short-duration "
      "plots are already in grain filling and the long-duration ones only just heading; likewise the "
      "grain-filling mean mixes maturity (short) with late heading (long). Per plot, S2 NDVI (mean over "
      "pixels whose centre is in the plot; cloud, shadow and no data left out):")
    a("")
    a("| plot | class | " + " | ".join(d.isoformat() for d, _ in S2_DATES) + " |")
    a("|---|---|" + "---|" * len(S2_DATES))
    for p, vals in zip(scene.plots, plot_ndvi):
        a("| %s | %s | %s |" % (p["plot_id"], p["duration_class"], " | ".join("%.2f" % v for v in vals)))
    a("")
    a("Drone, mean over the plot pixels of P06 (N-rich reference) and P07 (with the N-deficient patch):")
    a("")
    a("| date | stage | nodata pixels | NDVI P06 | NDVI P07 | NDRE P06 | NDRE P07 | NDRE SI P07/P06 |")
    a("|---|---|---|---|---|---|---|---|")
    for date, stage, nnd, per in drows:
        a("| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
            date.isoformat(), stage, nnd, per["P06"]["NDVI"], per["P07"]["NDVI"], per["P06"]["NDRE"],
            per["P07"]["NDRE"], per["P07"]["NDRE"] / per["P06"]["NDRE"]))
    a("")
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(L))


# ---------------------------------------------------------------------------------------
def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(repo, "sample_tiles"),
                    help="output folder (default: sample_tiles/ at the repo root)")
    args = ap.parse_args(argv)
    out = args.out
    os.makedirs(out, exist_ok=True)
    scene = Scene()
    for date, stage in S2_DATES:
        make_s2(scene, date, stage, out)
    for date, stage in DRONE_DATES:
        make_drone(scene, date, stage, out)
    make_vectors(scene, out)
    rows, drows, cover, plot_ndvi = summarise(scene, out)
    write_readme(scene, out, rows, drows, cover, plot_ndvi)
    print("wrote %s" % out)
    print("%-10s %-24s %6s %6s %6s %6s %6s" % ("date", "stage", "pixels", "NDVI", "NDRE", "LSWI", "EVI"))
    for date, stage, dmin, dmax, n, m, *_ in rows:
        print("%-10s %-24s %6d %6.3f %6.3f %6.3f %6.3f" % (date.isoformat(), stage, n, m["NDVI"], m["NDRE"],
                                                          m["LSWI"], m["EVI"]))
    for date, stage, nnd, per in drows:
        print("drone %s %-20s NDRE P06 %.3f P07 %.3f" % (date.isoformat(), stage, per["P06"]["NDRE"],
                                                          per["P07"]["NDRE"]))


if __name__ == "__main__":
    main()
