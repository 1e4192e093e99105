#!/usr/bin/env python3
"""Compare `paddy stats --coverage exact` with exactextract, plot by plot.

    scripts/exactextract-compare.py --paddy target/release/paddy \\
        --plots PLOTS.shp --id-field id RASTER... [--show N] [--write-reference REF.csv]

Runs exactextract (Python API, ops count, mean, stdev, min, max, median, quantile(q=0.1),
quantile(q=0.9), plus values and coverage) on every band of every RASTER over the plots, runs
`paddy stats RASTER... --plots PLOTS --id-field F --coverage exact --out TMP/stats.csv`, joins
the two and compares each statistic. Without --paddy only the exactextract half runs (with
--show / --write-reference, to look at the reference values).

Agreement: |a - b| <= 1e-6 * max(|a|, |b|) + 1e-9 for every plot; "no value" (empty cell in
paddy's CSV, None/NaN from exactextract) only agrees with "no value".

* count, mean, stdev, min, max: paddy against exactextract's ops directly.
* median, p10, p90: exactextract's ops return the quantile cast to the raster's data type
  (rounded to float32 for Float32 rasters, truncated to an integer for integer rasters), so
  paddy is compared with exactextract's definition evaluated in float64 on exactextract's own
  pixel values and coverage fractions (its ops `values`, `coverage`): equal values are merged
  (their coverage summed), then with the n distinct values x_1 < ... < x_n, weights w_k and
  S_k = (k-1) w_k + (n-1) sum_{i<k} w_i, the q-quantile interpolates x linearly in S at
  q (n-1) sum w. The script checks on every run that this reference, cast like exactextract
  casts it, reproduces exactextract's own quantile ops (the "self-check"), and shows how far
  paddy is from the raw (cast) ops too, for information.

Rows are joined by the id field when its values are unique, else by position (both are in
layer order), checking that the ids agree row by row.

Exit status: 0 all agree, 1 some differ (or paddy failed), 2 usage / input error,
77 exactextract (or GDAL's Python bindings) cannot be imported: "SKIP: ..." on stdout.
exactextract is looked for in the running interpreter, then in the venv that scripts/peers-venv
makes (${PADDY_PEERS_VENV:-target/peers-venv}), which this script re-executes itself with.
"""

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

REL_TOL = 1e-6
ABS_TOL = 1e-9
DIRECT = ["count", "mean", "stdev", "min", "max"]
QUANTILES = [("median", "median", 0.5), ("p10", "quantile_10", 0.1), ("p90", "quantile_90", 0.9)]
EE_OPS = DIRECT + ["median", "quantile(q=0.1)", "quantile(q=0.9)", "values", "coverage"]
PADDY_STATS = DIRECT + [q[0] for q in QUANTILES] + ["nodata_fraction"]


def import_peers():
    """Import exactextract and GDAL; re-exec in the peers venv, or exit 77 with SKIP."""
    try:
        import exactextract  # noqa: F401
        from osgeo import gdal, ogr  # noqa: F401

        return
    except Exception as e:  # ImportError, or a binary module failing to load
        reason = f"{type(e).__name__}: {e}"
    venv = os.environ.get("PADDY_PEERS_VENV", "target/peers-venv")
    if not os.path.isabs(venv):
        venv = os.path.join(ROOT, venv)
    py = os.path.join(venv, "bin", "python")
    if (
        os.access(py, os.X_OK)
        and not os.environ.get("_EXACTEXTRACT_COMPARE_REEXEC")
        and os.path.realpath(sys.executable) != os.path.realpath(py)
    ):
        os.environ["_EXACTEXTRACT_COMPARE_REEXEC"] = "1"
        os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])
    print(f"SKIP: exactextract cannot be imported ({reason}); run scripts/peers-venv")
    sys.exit(77)


def fail(msg, code=2):
    print(f"exactextract-compare: {msg}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- inputs


def read_plots(path, id_field):
    """Layer-order list of (fid, id value) and the layer's SRS, with OGR."""
    from osgeo import ogr

    ds = ogr.Open(path)
    if ds is None:
        fail(f"cannot open {path}")
    if ds.GetLayerCount() != 1:
        fail(f"{path}: {ds.GetLayerCount()} layers; one is expected")
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    if id_field != "fid" and defn.GetFieldIndex(id_field) < 0:
        names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
        fail(f"{path}: no field {id_field!r} (fields: {', '.join(names)})")
    plots = []
    for f in layer:
        ident = f.GetFID() if id_field == "fid" else f.GetField(id_field)
        plots.append((f.GetFID(), ident))
    srs = layer.GetSpatialRef()
    return plots, (srs.Clone() if srs else None)


def raster_bands(path):
    """(prefix, band index, GDAL data type name, is integer) for each band, as paddy names them."""
    from osgeo import gdal

    ds = gdal.Open(path)
    if ds is None:
        fail(f"cannot open {path}")
    stem = os.path.basename(path)
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    out = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        prefix = stem if ds.RasterCount == 1 else f"{stem}_b{b}"
        dtype = gdal.GetDataTypeName(band.DataType)
        is_int = band.DataType not in (
            gdal.GDT_Float32,
            gdal.GDT_Float64,
            gdal.GDT_CFloat32,
            gdal.GDT_CFloat64,
        )
        out.append((prefix, b, dtype, is_int))
    return out


# ---------------------------------------------------------------- exactextract


def ee_quantile(values, weights, q):
    """exactextract's weighted quantile (WeightedQuantiles over its value histogram), float64."""
    import numpy as np

    x, inverse = np.unique(values, return_inverse=True)
    w = np.bincount(inverse, weights=weights)
    n = len(x)
    cum = np.cumsum(w)
    s = np.zeros(n)
    if n > 1:
        k = np.arange(1, n)
        s[1:] = k * w[1:] + (n - 1) * cum[:-1]
    target = q * cum[-1] * (n - 1)
    right = int(np.searchsorted(s, target, side="right"))
    if right >= n:
        return float(x[-1])
    left = right - 1
    return float(x[left] + (target - s[left]) * (x[right] - x[left]) / (s[right] - s[left]))


def cast_like_exactextract(value, is_int):
    """The quantile as exactextract returns it: in the raster's value type."""
    import numpy as np

    if value is None:
        return None
    return float(math.trunc(value)) if is_int else float(np.float32(value))


def run_exactextract(raster, band, is_int, plots_path, id_field, ids):
    """Per plot (layer order): {stat: value or None}, plus ('ref', quantile name) references."""
    import exactextract
    from exactextract.feature import GDALFeatureSource
    from exactextract.raster import GDALRasterSource
    from osgeo import gdal, ogr

    rds = gdal.Open(raster)
    vds = ogr.Open(plots_path)
    rast = GDALRasterSource(rds, band)
    vec = GDALFeatureSource(vds.GetLayer(0))
    with warnings.catch_warnings():
        # exactextract warns when the vector's and raster's SRS differ in any detail (e.g. a
        # +towgs84 term); main() checks the SRS itself.
        warnings.simplefilter("ignore")
        cols = [] if id_field == "fid" else [id_field]
        feats = exactextract.exact_extract(rast, vec, EE_OPS, include_cols=cols, strategy="feature-sequential")
    if len(feats) != len(ids):
        fail(f"exactextract returned {len(feats)} features for {len(ids)} plots")
    if cols:
        # exactextract's GeoJSON output puts a field named "id" in the feature's "id"
        got = [f["properties"].get(id_field, f.get("id")) for f in feats]
        if got != ids:
            fail(f"exactextract's results are not in layer order ({id_field}: {got[:5]}... vs {ids[:5]}...)")
    rows = []
    for f in feats:
        p = f["properties"]
        row = {}
        for s in DIRECT:
            row[s] = as_number(p.get(s))
        if row["count"] is None:
            row["count"] = 0.0
        values, cover = p["values"], p["coverage"]
        keep = cover > 0
        values, cover = values[keep], cover[keep]
        for name, key, q in QUANTILES:
            row[("op", name)] = as_number(p.get(key))
            row[name] = ee_quantile(values, cover, q) if len(values) else None
        rows.append(row)
    return rows


def as_number(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


# ---------------------------------------------------------------- paddy


def run_paddy(paddy, rasters, plots, id_field, tmp):
    out = os.path.join(tmp, "stats.csv")
    cmd = [paddy, "stats", *rasters, "--plots", plots, "--id-field", id_field]
    cmd += ["--coverage", "exact", "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(out):
        print(f"paddy failed (exit {proc.returncode}): {' '.join(cmd)}")
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        for line in tail:
            print(f"  {line}")
        sys.exit(1)
    with open(out, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    return cmd, header, rows


def paddy_number(cell):
    cell = cell.strip()
    if cell == "" or cell.lower() in ("nan", "-nan"):
        return None
    return float(cell)


# ---------------------------------------------------------------- comparing


def agree(a, b):
    if a is None or b is None:
        return a is None and b is None
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + ABS_TOL


def rel_diff(a, b):
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def fmt(v):
    return "-" if v is None else f"{v:.9g}"


def fmt_rel(r):
    if r == 0:
        return "0"
    return "missing" if math.isinf(r) else f"{r:.1e}"


class Tally:
    """Worst relative difference and mismatch count of one (raster, stat)."""

    def __init__(self):
        self.worst = 0.0
        self.where = None
        self.bad = 0

    def add(self, label, a, b):
        r = rel_diff(a, b)
        ok = agree(a, b)
        self.bad += not ok
        # the worst failing pair first, else the largest difference
        if self.where is None or (not ok, r) > (self.where[3], self.worst):
            self.worst, self.where = r, (label, a, b, not ok)


def print_table(title, rows, col_names):
    widths = [max(len(str(r[i])) for r in rows + [col_names]) for i in range(len(col_names))]
    print(title)
    print("  " + "  ".join(str(c).ljust(w) for c, w in zip(col_names, widths)))
    for r in rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paddy", help="paddy binary (omit to run only exactextract)")
    ap.add_argument("--plots", required=True, help="plot polygons (one layer)")
    ap.add_argument("--id-field", required=True, help="plot id field, or fid")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print exactextract's values for the first N plots")
    ap.add_argument("--write-reference", metavar="CSV", help="write exactextract's values in paddy's column layout")
    ap.add_argument("--keep", metavar="DIR", help="run paddy in DIR and keep its output")
    ap.add_argument("rasters", nargs="+", metavar="RASTER")
    args = ap.parse_args()

    import_peers()
    import importlib.metadata

    from osgeo import gdal, osr

    gdal.UseExceptions()
    ee_version = importlib.metadata.version("exactextract")

    plots, vsrs = read_plots(args.plots, args.id_field)
    ids = [ident for _, ident in plots]
    bands = []  # (raster, prefix, band, dtype, is_int)
    for r in args.rasters:
        for prefix, b, dtype, is_int in raster_bands(r):
            bands.append((r, prefix, b, dtype, is_int))
        rsrs = gdal.Open(r).GetSpatialRef()
        if vsrs is not None and rsrs is not None and not rsrs.IsSame(vsrs):
            # exactextract does not reproject; tolerate definitions that differ only in details
            # that do not move coordinates (e.g. +towgs84=0,0,0 on the same ellipsoid).
            ct = osr.CoordinateTransformation(vsrs, rsrs)
            x, y, _ = ct.TransformPoint(0.0, 0.0)
            if abs(x) > 1e-6 or abs(y) > 1e-6:
                fail(f"{args.plots} is not in the CRS of {r}: exactextract would not reproject it")
    prefixes = [b[1] for b in bands]
    if len(set(prefixes)) != len(prefixes):
        fail(f"rasters give duplicate column prefixes: {prefixes}")

    ee = {}
    for r, prefix, b, dtype, is_int in bands:
        ee[prefix] = run_exactextract(r, b, is_int, args.plots, args.id_field, ids)

    if args.show:
        cols = ["count", "mean", "stdev", "min", "max", "median", "p10", "p90"]
        for r, prefix, b, dtype, is_int in bands:
            rows = []
            for i in range(min(args.show, len(plots))):
                row = ee[prefix][i]
                rows.append([f"{args.id_field}={ids[i]}"] + [fmt(row[c]) for c in cols])
            print_table(f"exactextract {ee_version}, {prefix} ({dtype}), first {len(rows)} plots:", rows, ["plot"] + cols)
        print()

    if args.write_reference:
        with open(args.write_reference, "w", newline="") as fh:
            w = csv.writer(fh)
            head = [args.id_field]
            for p in prefixes:
                head += [f"{p}_{s}" for s in DIRECT + [q[0] for q in QUANTILES]]
            w.writerow(head)
            for i, ident in enumerate(ids):
                line = [ident]
                for p in prefixes:
                    row = ee[p][i]
                    line += ["" if row[s] is None else repr(row[s]) for s in DIRECT + [q[0] for q in QUANTILES]]
                w.writerow(line)

    # Self-check: the float64 quantile reference reproduces exactextract's own (cast) ops.
    self_bad = []
    for r, prefix, b, dtype, is_int in bands:
        for i, row in enumerate(ee[prefix]):
            for name, _, _ in QUANTILES:
                ref, op = row[name], row[("op", name)]
                cast = cast_like_exactextract(ref, is_int)
                ok = agree(cast, op)
                if not ok and is_int and ref is not None and op is not None:
                    # truncation next to an integer: a 1e-6 difference may flip it
                    ok = abs(ref - round(ref)) <= REL_TOL * abs(ref) + ABS_TOL and abs(op - round(ref)) <= 1
                if not ok:
                    self_bad.append(f"{prefix} {name} {args.id_field}={ids[i]}: reference {fmt(ref)} -> {fmt(cast)}, exactextract op {fmt(op)}")
    if self_bad:
        print("SELF-CHECK FAILED: the float64 quantile reference does not reproduce exactextract's ops:")
        for line in self_bad[:10]:
            print(f"  {line}")

    if not args.paddy:
        print(f"exactextract {ee_version}: {len(plots)} plots x {len(prefixes)} bands computed; no --paddy, nothing compared")
        return 1 if self_bad else 0

    tmp_ctx = tempfile.TemporaryDirectory(prefix="exactextract-compare.")
    tmp = args.keep or tmp_ctx.name
    os.makedirs(tmp, exist_ok=True)
    cmd, header, prows = run_paddy(os.path.abspath(args.paddy), args.rasters, args.plots, args.id_field, tmp)

    problems = []
    if not header or header[0] != args.id_field:
        problems.append(f"paddy's first column is {header[0] if header else None!r}, not {args.id_field!r}")
    col = {name: i for i, name in enumerate(header)}
    missing = [f"{p}_{s}" for p in prefixes for s in PADDY_STATS if f"{p}_{s}" not in col]
    if missing:
        print(f"paddy's CSV lacks columns: {', '.join(missing[:12])}{' ...' if len(missing) > 12 else ''}")
        print(f"  header: {','.join(header)}")
        return 1
    if len(prows) != len(plots):
        print(f"paddy wrote {len(prows)} rows for {len(plots)} plots")
        return 1

    # Join: by id when unique, else by position with the ids checked.
    def same_id(cell, ident):
        if str(ident) == cell or (ident is None and cell == ""):
            return True
        try:
            return float(cell) == float(ident)
        except (TypeError, ValueError):
            return False

    pid = [row[0] for row in prows]
    if len(set(map(str, ids))) == len(ids):
        index = {str(i): k for k, i in enumerate(ids)}
        order = []
        for k, cell in enumerate(pid):
            j = index.get(cell)
            if j is None:
                j = next((jj for jj, ident in enumerate(ids) if same_id(cell, ident)), None)
            if j is None:
                problems.append(f"paddy row {k + 1}: id {cell!r} is not a plot id")
            order.append(j)
        join = f"joined by {args.id_field}"
        if sorted(o for o in order if o is not None) != list(range(len(ids))):
            problems.append("paddy's ids are not each plot once")
    else:
        order = list(range(len(ids)))
        bad = [k for k, (cell, ident) in enumerate(zip(pid, ids)) if not same_id(cell, ident)]
        if bad:
            k = bad[0]
            problems.append(f"row {k + 1}: paddy id {pid[k]!r}, layer id {ids[k]!r} ({len(bad)} rows differ)")
        join = f"joined by row ({args.id_field} not unique; ids checked row by row)"
    if problems:
        print("paddy's rows do not match the plots:")
        for p in problems:
            print(f"  {p}")
        return 1

    tallies = {}
    for (r, prefix, b, dtype, is_int) in bands:
        for s in DIRECT + [q[0] for q in QUANTILES]:
            tallies[(prefix, s)] = Tally()
            if s in ("median", "p10", "p90"):
                tallies[(prefix, ("op", s))] = Tally()
        for k, prow in enumerate(prows):
            j = order[k]
            erow = ee[prefix][j]
            label = f"{args.id_field}={ids[j]} (row {j + 1})"
            for s in DIRECT + [q[0] for q in QUANTILES]:
                pv = paddy_number(prow[col[f"{prefix}_{s}"]])
                tallies[(prefix, s)].add(label, pv, erow[s])
                if s in ("median", "p10", "p90"):
                    tallies[(prefix, ("op", s))].add(label, cast_like_exactextract(pv, is_int), erow[("op", s)])

    def table(stats, with_op):
        rows = []
        for (r, prefix, b, dtype, is_int) in bands:
            for s in stats:
                t = tallies[(prefix, s)]
                label, pv, ev, _ = t.where
                row = [prefix, s, fmt_rel(t.worst), label, f"{fmt(pv)} / {fmt(ev)}", t.bad or "ok"]
                if with_op:
                    o = tallies[(prefix, ("op", s))]
                    row.append(f"{fmt_rel(o.worst)} ({o.bad} differ)" if o.bad else f"{fmt_rel(o.worst)} (ok)")
                rows.append(row)
        return rows

    cols = ["raster", "stat", "max rel diff", "worst plot", "paddy / exactextract there", "mismatches"]
    print(f"paddy stats --coverage exact vs exactextract {ee_version}: {len(plots)} plots, {len(prefixes)} bands, {join}")
    print(f"agreement: |a-b| <= {REL_TOL:g}*max(|a|,|b|) + {ABS_TOL:g}; no value agrees only with no value")
    print()
    print_table("count, mean, stdev, min, max (exactextract's ops):", table(DIRECT, False), cols)
    print()
    print_table(
        "median, p10, p90 (exactextract's weighted quantile in float64 from its own pixel values and coverage; "
        "last column: paddy cast to the raster type vs exactextract's cast op, for information):",
        table(["median", "p10", "p90"], True),
        cols + ["vs cast op"],
    )
    n_direct = sum(tallies[(p, s)].bad for p in prefixes for s in DIRECT)
    n_quant = sum(tallies[(p, s)].bad for p in prefixes for s in ("median", "p10", "p90"))
    print()
    verdict = "AGREE" if not (n_direct or n_quant or self_bad) else "DIFFER"
    print(f"{verdict}: {n_direct} mismatches in count/mean/stdev/min/max, {n_quant} in median/p10/p90"
          + (f", quantile self-check failed {len(self_bad)}x" if self_bad else ""))
    if verdict != "AGREE":
        print(f"paddy command: {' '.join(cmd)}")
    return 0 if verdict == "AGREE" else 1


if __name__ == "__main__":
    sys.exit(main())
