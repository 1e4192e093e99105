#!/usr/bin/env python3
"""Helpers of scripts/bench-peers: the peers' Python drivers, the floors, the inputs, the checks.

    bench_peers_tools.py rio-index SRC OUTDIR --index ndvi,savi,msavi2,ndwi --bands R=1,G=2,N=4
                                   [--scale 0.0001] [--threads N]
    bench_peers_tools.py exactextract RASTER PLOTS OUT.csv      count, mean, min, max
    bench_peers_tools.py rasterstats RASTER PLOTS OUT.csv       count, mean, min, max
    bench_peers_tools.py decode RASTER BANDS [PART PARTS]       floor: decode bands, rows of tiles
    bench_peers_tools.py arith SIZE INNER.txt                   floor: NDVI arithmetic in memory
    bench_peers_tools.py copy SIZE INNER.txt                    floor: memory copy of a raster
    bench_peers_tools.py plots RASTER OUT.gpkg N FILL           input: N plots on a grid
    bench_peers_tools.py cmp-stats PADDY.csv EE.csv             paddy stats vs exactextract, 1e-6
    bench_peers_tools.py cmp-raster REF.tif OTHER.tif [BAND]    max |difference| of two rasters

Which interpreter runs what: rio-index, exactextract and rasterstats run in the peers' venv
(target/peers-venv: rasterio's wheel brings its own GDAL, exactextract and rasterstats are what
`pip install` gives a user); decode, arith, copy, plots and the checks run in Debian's
/usr/bin/python3 with python3-gdal, the GDAL that paddy, gdal_calc.py and OTB use. Every
subcommand imports only what it needs, so no process loads two GDALs.

`arith` and `copy` time themselves (the part that is the floor, without the interpreter's start
or the first touch of the buffers) and write "WALL CPU" seconds to INNER.txt; bench-peers uses
those numbers instead of the process's.
"""

import math
import os
import sys
import time

NODATA_OUT = -9999.0


# ---------------------------------------------------------------- rasterio + numpy


def formulas(np, names):
    """name -> (roles, f(reflectances) -> float32 array) for the indices paddy's catalogue names."""
    L = np.float32(1.0)  # the Awesome Spectral Indices catalogue's default, as paddy's SAVI
    one, two, half, eight = np.float32(1), np.float32(2), np.float32(0.5), np.float32(8)

    def ndvi(r):
        return (r["N"] - r["R"]) / (r["N"] + r["R"])

    def savi(r):
        return (one + L) * (r["N"] - r["R"]) / (r["N"] + r["R"] + L)

    def msavi2(r):
        t = two * r["N"] + one
        return half * (t - np.sqrt(t * t - eight * (r["N"] - r["R"])))

    def ndwi(r):
        return (r["G"] - r["N"]) / (r["G"] + r["N"])

    table = {"ndvi": ("RN", ndvi), "savi": ("RN", savi), "msavi2": ("RN", msavi2),
             "msavi": ("RN", msavi2), "ndwi": ("GN", ndwi)}
    out = {}
    for n in names:
        if n not in table:
            sys.exit(f"rio-index: unknown index {n!r} (known: {', '.join(table)})")
        out[n] = table[n]
    return out


def rio_index(args):
    """Indices with rasterio + numpy, window by window (one row of the input's blocks at a time,
    the whole width): DN x scale -> reflectance (float32), nodata where an input is nodata or
    the formula is undefined, each index to its own Float32 GeoTIFF, DEFLATE, floating-point
    predictor, 512 x 512 tiles. --threads N > 1 sets GDAL's NUM_THREADS on both sides: the
    multi-threaded decoding of a window's tiles (GDAL_NUM_THREADS) and the multi-threaded
    compression of the output (creation option NUM_THREADS)."""
    import argparse

    ap = argparse.ArgumentParser(prog="bench_peers_tools.py rio-index")
    ap.add_argument("src")
    ap.add_argument("outdir")
    ap.add_argument("--index", required=True)
    ap.add_argument("--bands", required=True, help="ROLE=BAND,... e.g. R=1,G=2,N=4")
    ap.add_argument("--scale", type=float, default=None, help="default: the file's band scale, else 1")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(args)

    # GDAL reads its configuration from the environment too (GDAL_CACHEMAX comes from there);
    # set before rasterio loads GDAL.
    if a.threads > 1:
        os.environ["GDAL_NUM_THREADS"] = str(a.threads)
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    bands = dict(kv.split("=") for kv in a.bands.split(","))
    bands = {k: int(v) for k, v in bands.items()}
    idx = formulas(np, [n.strip().lower() for n in a.index.split(",")])
    roles = sorted({ro for rs, _ in idx.values() for ro in rs})
    stem = os.path.splitext(os.path.basename(a.src))[0]
    os.makedirs(a.outdir, exist_ok=True)
    with rasterio.Env(), rasterio.open(a.src) as src:
        W, H = src.width, src.height
        bh = src.block_shapes[0][0]
        nodata_in = src.nodata
        scale = a.scale if a.scale is not None else (src.scales[bands[roles[0]] - 1] or 1.0)
        scale = np.float32(scale)
        profile = {
            "driver": "GTiff", "width": W, "height": H, "count": 1, "dtype": "float32",
            "crs": src.crs, "transform": src.transform, "nodata": NODATA_OUT,
            "tiled": True, "blockxsize": 512, "blockysize": 512,
            "compress": "deflate", "predictor": 3, "bigtiff": "IF_SAFER",
        }
        if a.threads > 1:
            profile["num_threads"] = str(a.threads)
        outs = {n: rasterio.open(os.path.join(a.outdir, f"{stem}_{n}.tif"), "w", **profile) for n in idx}
        try:
            band_list = [bands[ro] for ro in roles]
            for y in range(0, H, bh):
                win = Window(0, y, W, min(bh, H - y))
                dn = src.read(band_list, window=win)
                valid = np.ones(dn.shape[1:], dtype=bool)
                if nodata_in is not None:
                    for k in range(len(roles)):
                        valid &= dn[k] != nodata_in
                refl = {ro: dn[k].astype(np.float32) * scale for k, ro in enumerate(roles)}
                with np.errstate(divide="ignore", invalid="ignore"):
                    for n, (_, f) in idx.items():
                        v = f(refl)
                        v[~(valid & np.isfinite(v))] = NODATA_OUT
                        outs[n].write(v, 1, window=win)
        finally:
            for o in outs.values():
                o.close()


# ---------------------------------------------------------------- per-plot statistics peers


def exactextract_run(args):
    """exactextract (Python API, GDAL sources, feature-sequential) count, mean, min, max; CSV
    written with OGR. The same driver as scripts/bench-stats'."""
    import warnings

    import exactextract
    from exactextract.feature import GDALFeatureSource
    from exactextract.raster import GDALRasterSource
    from osgeo import gdal, ogr

    gdal.UseExceptions()
    raster, plots, out = args[:3]
    warnings.simplefilter("ignore")
    if os.path.exists(out):
        os.remove(out)
    vds = ogr.Open(plots)
    exactextract.exact_extract(
        GDALRasterSource(gdal.Open(raster), 1), GDALFeatureSource(vds.GetLayer(0)),
        ["count", "mean", "min", "max"], include_cols=["plot_id"], strategy="feature-sequential",
        output="gdal", output_options={"filename": out, "driver": "CSV"},
    )


def rasterstats_run(args):
    """rasterstats zonal_stats count, mean, min, max (pixel centres); CSV with the csv module."""
    import csv

    from rasterstats import zonal_stats

    raster, plots, out = args[:3]
    stats = ["count", "mean", "min", "max"]
    res = zonal_stats(plots, raster, stats=stats, all_touched=False, geojson_out=True)
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["plot_id"] + stats)
        for f in res:
            p = f["properties"]
            w.writerow([p["plot_id"]] + [p.get(s) for s in stats])


# ---------------------------------------------------------------- floors


def decode(args):
    """Decode BANDS (e.g. "1,4") as the file's type, one row of blocks x the whole width at a
    time (one dataset-level read, so a pixel-interleaved tile is inflated once); PART of PARTS
    splits the rows between processes."""
    from osgeo import gdal

    gdal.UseExceptions()
    path, bands = args[0], [int(b) for b in args[1].split(",")]
    part, parts = (int(args[2]), int(args[3])) if len(args) > 3 else (0, 1)
    ds = gdal.Open(path)
    bh = ds.GetRasterBand(1).GetBlockSize()[1]
    W, H = ds.RasterXSize, ds.RasterYSize
    for y in list(range(0, H, bh))[part::parts]:
        ds.ReadRaster(0, y, W, min(bh, H - y), band_list=bands)


def _inner(path, wall, cpu):
    with open(path, "w") as fh:
        fh.write(f"{wall:.4f} {cpu:.4f}\n")


def _best_of(fn, reps):
    best = None
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if best is None or w < best[0]:
            best = (w, c)
    return best


def arith(args):
    """NDVI of two SIZE x SIZE float32 reflectance bands in memory, numpy, one thread, in
    chunks of 1 Mi px (in cache, as a block-wise tool computes it); best of 3."""
    import numpy as np

    size, inner = int(args[0]), args[1]
    n = size * size
    rng = np.random.default_rng(1)
    red = (rng.integers(200, 3000, n, dtype=np.uint16).astype(np.float32)) * np.float32(1e-4)
    nir = (rng.integers(1000, 6000, n, dtype=np.uint16).astype(np.float32)) * np.float32(1e-4)
    out = np.empty(n, dtype=np.float32)
    tmp = np.empty(1 << 20, dtype=np.float32)
    chunk = 1 << 20

    def run():
        for i in range(0, n, chunk):
            j = min(i + chunk, n)
            t = tmp[: j - i]
            np.add(nir[i:j], red[i:j], out=t)
            np.subtract(nir[i:j], red[i:j], out=out[i:j])
            np.divide(out[i:j], t, out=out[i:j])

    run()  # first touch of the output pages
    wall, cpu = _best_of(run, 3)
    _inner(inner, wall, cpu)


def copy(args):
    """memcpy-speed floor: copy a SIZE x SIZE float32 raster (the output of one index) in
    memory, one thread; best of 5. Writes the GB/s to INNER.txt's second line."""
    import numpy as np

    size, inner = int(args[0]), args[1]
    a = np.ones(size * size, dtype=np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)  # first touch
    wall, cpu = _best_of(lambda: np.copyto(b, a), 5)
    _inner(inner, wall, cpu)
    with open(inner, "a") as fh:
        fh.write(f"{a.nbytes / wall / 1e9:.1f}\n")


# ---------------------------------------------------------------- inputs


def plots(args):
    """N square-ish plots (field plot_id) on a regular grid over RASTER: side FILL of the grid
    spacing, aspect 0.8-1.25, centre jittered by 5 % of the spacing, rotated by up to 15 degrees
    (seeded), so edges cut pixels. The generator of scripts/bench-stats, same seed."""
    import random

    from osgeo import gdal, ogr, osr

    gdal.UseExceptions()
    raster, out, n, fill = args[0], args[1], int(args[2]), float(args[3])
    ds = gdal.Open(raster)
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    w, h = ds.RasterXSize * dx, ds.RasterYSize * -dy
    nx = math.ceil(math.sqrt(n * w / h))
    ny = math.ceil(n / nx)
    sx, sy = w / nx, h / ny
    rng = random.Random(20240601)
    dst = ogr.GetDriverByName("GPKG").CreateDataSource(out)
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    lyr = dst.CreateLayer("plots", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("plot_id", ogr.OFTInteger))
    dst.StartTransaction()
    for k in range(n):
        i, j = k % nx, k // nx
        cx = x0 + (i + 0.5 + rng.uniform(-0.05, 0.05)) * sx
        cy = y0 - (j + 0.5 + rng.uniform(-0.05, 0.05)) * sy
        side = fill * min(sx, sy)
        aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
        hw, hh = side * math.sqrt(aspect) / 2, side / math.sqrt(aspect) / 2
        t = math.radians(rng.uniform(-15, 15))
        c, s = math.cos(t), math.sin(t)
        k2 = min(1.0, 0.45 * min(sx, sy) / (abs(c) * max(hw, hh) + abs(s) * max(hw, hh)))
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for ux, uy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh), (-hw, -hh)):
            ring.AddPoint_2D(cx + k2 * (ux * c - uy * s), cy + k2 * (ux * s + uy * c))
        poly = ogr.Geometry(ogr.wkbPolygon)
        poly.AddGeometry(ring)
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("plot_id", k + 1)
        f.SetGeometry(poly)
        lyr.CreateFeature(f)
    dst.CommitTransaction()
    dst = None
    print(f"{out}: {n} plots, grid {nx}x{ny}, spacing {sx:.0f} x {sy:.0f} m, side ~{fill * min(sx, sy):.0f} m",
          file=sys.stderr)


# ---------------------------------------------------------------- checks

REL_TOL, ABS_TOL = 1e-6, 1e-9  # scripts/exactextract-compare.py's agreement


def _num(cell):
    cell = (cell or "").strip()
    if cell == "" or cell.lower() in ("nan", "-nan", "none"):
        return None
    return float(cell)


def cmp_stats(args):
    """paddy's CSV against exactextract's (count, mean, min, max), joined by plot_id; prints one
    line; exit 1 on any disagreement beyond 1e-6 relative."""
    import csv

    paddy_csv, ee_csv = args[:2]
    with open(paddy_csv, newline="") as fh:
        rd = csv.reader(fh)
        head = next(rd)
        prow = list(rd)
    with open(ee_csv, newline="") as fh:
        ee = {r["plot_id"]: r for r in csv.DictReader(fh)}
    stats = ["count", "mean", "min", "max"]
    col = {}
    for s in stats:
        c = [i for i, h in enumerate(head) if h == s or h.endswith("_" + s)]
        if not c:
            print(f"paddy's CSV has no {s} column (header: {','.join(head)})")
            sys.exit(1)
        col[s] = c[0]
    worst = {s: (0.0, None) for s in stats}
    bad = 0
    for r in prow:
        e = ee.get(r[0])
        if e is None:
            print(f"plot_id {r[0]} is not in exactextract's output")
            sys.exit(1)
        for s in stats:
            a, b = _num(r[col[s]]), _num(e.get(s))
            if s == "count" and b is None:
                b = 0.0
            if s == "count" and a is None:
                a = 0.0
            if a is None or b is None:
                ok, rel = (a is None and b is None), (0.0 if a is None and b is None else math.inf)
            else:
                rel = 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))
                ok = abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + ABS_TOL
            bad += not ok
            if rel > worst[s][0]:
                worst[s] = (rel, r[0])
    if len(prow) != len(ee):
        print(f"paddy has {len(prow)} rows, exactextract {len(ee)}")
        sys.exit(1)
    detail = ", ".join(f"{s} {worst[s][0]:.1e}" for s in stats)
    verdict = "AGREE" if bad == 0 else f"DIFFER ({bad} values)"
    print(f"{verdict} to 1e-6: {len(prow)} plots; worst relative difference: {detail}")
    sys.exit(0 if bad == 0 else 1)


def cmp_raster(args):
    """Largest |REF - OTHER| over pixels valid in both (nodata and non-finite are invalid), and
    how many pixels are valid in one only; block by block."""
    import numpy as np
    from osgeo import gdal

    gdal.UseExceptions()
    ref, other = gdal.Open(args[0]), gdal.Open(args[1])
    band = int(args[2]) if len(args) > 2 else 1
    a_b, b_b = ref.GetRasterBand(1), other.GetRasterBand(band)
    if (ref.RasterXSize, ref.RasterYSize) != (other.RasterXSize, other.RasterYSize):
        print(f"sizes differ: {ref.RasterXSize}x{ref.RasterYSize} vs {other.RasterXSize}x{other.RasterYSize}")
        sys.exit(1)
    W, H = ref.RasterXSize, ref.RasterYSize
    worst, only, n = 0.0, 0, 0
    for y in range(0, H, 1024):
        h = min(1024, H - y)
        a = a_b.ReadAsArray(0, y, W, h).astype(np.float64)
        b = b_b.ReadAsArray(0, y, W, h).astype(np.float64)
        va, vb = np.isfinite(a), np.isfinite(b)
        if a_b.GetNoDataValue() is not None:
            va &= a != a_b.GetNoDataValue()
        if b_b.GetNoDataValue() is not None:
            vb &= b != b_b.GetNoDataValue()
        both = va & vb
        only += int((va ^ vb).sum())
        n += int(both.sum())
        if both.any():
            worst = max(worst, float(np.abs(a[both] - b[both]).max()))
    print(f"max |difference| {worst:.2e} over {n} pixels; valid in one only: {only}")


COMMANDS = {
    "rio-index": rio_index, "exactextract": exactextract_run, "rasterstats": rasterstats_run,
    "decode": decode, "arith": arith, "copy": copy, "plots": plots,
    "cmp-stats": cmp_stats, "cmp-raster": cmp_raster,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
