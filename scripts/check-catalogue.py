#!/usr/bin/env python3
"""Check paddy's index outputs against an independent float64 reference.

Usage:
    check-catalogue.py INPUT.tif OUTDIR CATALOGUE_DIR STEM [NAME=VALUE ...]
                       [--indices NAME,NAME,...] [--max-lines N]

INPUT.tif      the raster paddy read: one band per role, each band's description is the role's
               catalogue symbol (N, R, RE1, ...); its nodata value and non-finite values mark
               missing inputs. Scale 1, offset 0: the values are the reflectances.
OUTDIR         where paddy wrote OUTDIR/<STEM>_<name lower-case>.tif
CATALOGUE_DIR  spectral-indices-dict.json and constants.json (Awesome Spectral Indices)
STEM           the output file stem
NAME=VALUE     constants, as given to paddy with --const (override constants.json defaults)
--indices      check only these catalogue indices (default: all of them)
--max-lines    failing pixels printed per index (default 5)

The reference is Python's own parser: every catalogue formula is a Python expression, evaluated
with eval() on numpy float64 arrays (numpy's IEEE semantics: x/0 = ±inf, 0/0 = nan, a root of a
negative number = nan; warnings silenced). Nothing of paddy's parser or engine is used.

Rules, per index and pixel:
  * an input band the index uses is nodata or not finite  -> the output must be nodata (-9999);
  * the reference is nan or ±inf                           -> the output must be nodata;
  * the reference is finite but beyond float32 (paddy rounds its float64 result to float32, and a
    value that rounds to ±inf is undefined in a Float32 file) -> the output must be nodata;
  * the reference is finite and within float32 range      -> the output must not be nodata and
    |out - ref| <= 1e-5 * max(1, |ref|).
  Fairness at the float32 overflow boundary: float64 values up to 2**128 - 2**103 (exclusive)
  round to ±FLT_MAX, larger ones to ±inf. A reference within the same relative tolerance (1e-5)
  of that boundary may legitimately land on either side (two float64 evaluations differ by a few
  ulps, e.g. pow() against repeated multiplication), so there either a value within tolerance
  or nodata is accepted.

Prints one line per failing pixel (at most --max-lines per index), one summary line per failing
index, and finally `catalogue indices checked: N of TOTAL`. Exit status 0 only if every checked
index passes and no expected output is missing; 1 on failures; 2 on usage errors.
"""

import json
import os
import sys

try:
    import numpy as np
    from osgeo import gdal
except ImportError:
    # The `python3` on PATH may be a pyenv one without numpy/GDAL; Debian's has both
    # (python3-numpy, python3-gdal).
    system = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(system) and os.path.exists(system):
        os.execv(system, [system, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("check-catalogue.py: needs numpy and osgeo.gdal (python3-numpy, python3-gdal)\n")
    sys.exit(2)

gdal.UseExceptions()

OUT_NODATA = -9999.0
TOLERANCE = 1e-5
F32_MAX = float(np.finfo(np.float32).max)  # 2**128 - 2**104
F32_OVERFLOW = 2.0**128 - 2.0**103  # float64 values at or beyond this round to ±inf in float32


def usage(message):
    sys.stderr.write(f"check-catalogue.py: {message}\n")
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def parse_args(argv):
    positional, constants, only, max_lines = [], {}, None, 5
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--indices", "--max-lines"):
            if i + 1 >= len(argv):
                usage(f"{a} needs a value")
            value = argv[i + 1]
            i += 2
            if a == "--indices":
                only = [n for n in value.split(",") if n]
            else:
                max_lines = int(value)
            continue
        if a.startswith("--"):
            usage(f"unknown option {a}")
        if len(positional) >= 4:
            name, sep, value = a.partition("=")
            if not sep:
                usage(f"'{a}': expected NAME=VALUE")
            try:
                constants[name.strip()] = float(value)
            except ValueError:
                usage(f"'{a}': {value!r} is not a number")
        else:
            positional.append(a)
        i += 1
    if len(positional) != 4:
        usage("expected INPUT.tif OUTDIR CATALOGUE_DIR STEM")
    return positional, constants, only, max_lines


def read_input(path):
    """{symbol: float64 array with nan where the input is missing}, {symbol: invalid mask}."""
    ds = gdal.Open(path)
    bands, invalid = {}, {}
    for i in range(1, ds.RasterCount + 1):
        b = ds.GetRasterBand(i)
        symbol = b.GetDescription().strip()
        if not symbol:
            usage(f"{path}: band {i} has no description (the role symbol)")
        data = b.ReadAsArray().astype(np.float64)
        bad = ~np.isfinite(data)
        nodata = b.GetNoDataValue()
        if nodata is not None:
            bad |= data == nodata
        scale, offset = b.GetScale(), b.GetOffset()
        if (scale not in (None, 1.0)) or (offset not in (None, 0.0)):
            usage(f"{path}: band {i} has scale/offset {scale}/{offset}; expected none")
        data = np.where(bad, np.nan, data)
        bands[symbol] = data
        invalid[symbol] = bad
    return bands, invalid, (ds.RasterYSize, ds.RasterXSize)


def reference(formula, namespace, shape):
    with np.errstate(all="ignore"):
        value = eval(formula, {"__builtins__": {}}, dict(namespace))  # noqa: S307
        value = np.asarray(value)
        if np.iscomplexobj(value):  # a Python scalar root of a negative constant
            value = np.where(value.imag == 0, value.real, np.nan)
        return np.broadcast_to(value.astype(np.float64), shape)


def fmt(v):
    return repr(float(v))


def main():
    (input_path, out_dir, catalogue_dir, stem), overrides, only, max_lines = parse_args(
        sys.argv[1:]
    )
    with open(os.path.join(catalogue_dir, "spectral-indices-dict.json")) as f:
        catalogue = json.load(f)["SpectralIndices"]
    with open(os.path.join(catalogue_dir, "constants.json")) as f:
        constant_defs = json.load(f)
    constants = {k: v["default"] for k, v in constant_defs.items() if v.get("default") is not None}
    constants.update(overrides)

    bands, invalid, shape = read_input(input_path)
    namespace = {k: np.float64(v) for k, v in constants.items()}
    namespace.update(bands)

    names = list(catalogue) if only is None else only
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        usage(f"not catalogue indices: {', '.join(unknown)}")

    checked, failed_indices, failed_pixels, problems = 0, [], 0, 0
    # Pixels compared, by what was expected: a value, nodata for a missing input, nodata for an
    # undefined (nan/inf) reference, nodata beyond float32, either (at the float32 boundary).
    tally = {"value": 0, "input nodata": 0, "undefined": 0, "beyond float32": 0, "boundary": 0}
    for name in names:
        spec = catalogue[name]
        formula = spec["formula"]
        # paddy names files in lower case, except indices whose names differ from another's only
        # by case (BAI / BaI), which keep their exact spelling.
        twins = sum(1 for other in catalogue if other.lower() == name.lower()) > 1
        label = name if twins else name.lower()
        path = os.path.join(out_dir, f"{stem}_{label}.tif")
        if not os.path.exists(path):
            print(f"MISSING {name}: {path} was not written")
            problems += 1
            continue
        used = [s for s in spec["bands"] if s in bands]
        unset = [s for s in spec["bands"] if s not in bands and s not in namespace]
        if unset:
            print(f"ERROR {name}: no value for {', '.join(unset)} (give NAME=VALUE)")
            problems += 1
            continue
        try:
            ref = reference(formula, namespace, shape)
        except Exception as e:  # a formula Python cannot evaluate is itself a finding
            print(f"ERROR {name}: the reference cannot evaluate '{formula}': {e!r}")
            problems += 1
            continue

        ds = gdal.Open(path)
        b = ds.GetRasterBand(1)
        header = []
        if (ds.RasterYSize, ds.RasterXSize) != shape:
            header.append(f"size {ds.RasterXSize}x{ds.RasterYSize}, input {shape[1]}x{shape[0]}")
        if gdal.GetDataTypeName(b.DataType) != "Float32":
            header.append(f"type {gdal.GetDataTypeName(b.DataType)}, expected Float32")
        if b.GetNoDataValue() != OUT_NODATA:
            header.append(f"nodata {b.GetNoDataValue()}, expected {OUT_NODATA}")
        if header:
            print(f"FAIL {name}: {path}: {'; '.join(header)}")
            failed_indices.append(name)
            checked += 1
            continue
        out = b.ReadAsArray().astype(np.float64)
        out_nodata = out == OUT_NODATA

        missing_input = np.zeros(shape, dtype=bool)
        for s in used:
            missing_input |= invalid[s]
        finite = np.isfinite(ref)
        magnitude = np.where(finite, np.abs(ref), np.inf)
        # Valid for certain: finite and clearly below the float32 overflow boundary.
        must_value = ~missing_input & (magnitude < F32_MAX / (1 + TOLERANCE))
        # Either is fair: within the tolerance of the boundary (see the module docstring).
        either = ~missing_input & ~must_value & (magnitude < F32_OVERFLOW * (1 + TOLERANCE))
        must_nodata = ~must_value & ~either

        with np.errstate(all="ignore"):
            close = np.abs(out - ref) <= TOLERANCE * np.maximum(1.0, np.abs(ref))
        bad = (must_value & (out_nodata | ~close)) | (must_nodata & ~out_nodata)
        bad |= either & ~out_nodata & ~close
        bad |= ~np.isfinite(out)  # NaN or inf written instead of nodata
        checked += 1
        tally["value"] += int(must_value.sum())
        tally["input nodata"] += int(missing_input.sum())
        tally["undefined"] += int((~missing_input & ~finite).sum())
        tally["beyond float32"] += int((~missing_input & finite & must_nodata).sum())
        tally["boundary"] += int(either.sum())
        count = int(bad.sum())
        if count == 0:
            continue
        failed_indices.append(name)
        failed_pixels += count
        ys, xs = np.nonzero(bad)
        for y, x in list(zip(ys, xs))[:max_lines]:
            inputs = ", ".join(
                f"{s}={'nodata' if invalid[s][y, x] else fmt(bands[s][y, x])}" for s in used
            )
            got = "nodata" if out_nodata[y, x] else fmt(out[y, x])
            if missing_input[y, x]:
                want = "nodata (an input is nodata)"
            elif must_nodata[y, x]:
                want = f"nodata (reference {fmt(ref[y, x])})"
            else:
                want = fmt(ref[y, x])
            print(f"FAIL {name} pixel x={x} y={y}: expected {want}, got {got}; {inputs}")
        print(f"FAIL {name}: {count} of {bad.size} pixels wrong; formula {formula}")

    total = len(catalogue)
    print("pixels compared: " + ", ".join(f"{v} {k}" for k, v in tally.items()))
    print(f"catalogue indices checked: {checked} of {total}")
    print(
        f"failures: {len(failed_indices)} indices, {failed_pixels} pixels, "
        f"{problems} missing or unevaluable"
        + (f" ({', '.join(failed_indices)})" if failed_indices else "")
    )
    sys.exit(0 if not failed_indices and not problems else 1)


if __name__ == "__main__":
    main()
