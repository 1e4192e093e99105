//! GDAL's warper and polygoniser, which the `gdal` crate does not wrap: resampling an index
//! raster onto a prescription grid (gdalwarp's `average`, weighted by pixel overlap), a rate
//! grid to WGS84 for ISOBUS, and zone rasters to polygons.

use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::ptr::{null, null_mut};

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::vector::{
    Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DriverManager};

use super::gdal_message;
use crate::error::{Error, Result};
use crate::raster::Grid;

/// GDAL's last error message.
fn last_error() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a valid NUL-terminated string owned by GDAL.
    let msg = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
    let text = msg.to_string_lossy().trim().to_string();
    if text.is_empty() {
        "GDAL gave no reason".into()
    } else {
        text
    }
}

/// Run gdalwarp with `args` from `src`: into the existing `dest` (returns None), or into a new
/// in-memory dataset (`args` must then hold `-of MEM`; returns it). Errors name `what`.
fn gdalwarp(
    src: &Dataset,
    dest: Option<&Dataset>,
    args: &[String],
    what: &Path,
) -> Result<Option<Dataset>> {
    run_gdalwarp(src, dest, "", args, what)
}

/// Run gdalwarp with `args` from `src` into a new dataset named `name` (a file, or a /vsimem/
/// path; `args` choose its format), returned open. Errors name `what`.
pub(super) fn gdalwarp_to(
    src: &Dataset,
    name: &str,
    args: &[String],
    what: &Path,
) -> Result<Dataset> {
    run_gdalwarp(src, None, name, args, what)?.ok_or_else(|| Error::Input {
        path: what.to_path_buf(),
        message: "gdalwarp made no dataset".into(),
    })
}

fn run_gdalwarp(
    src: &Dataset,
    dest: Option<&Dataset>,
    name: &str,
    args: &[String],
    what: &Path,
) -> Result<Option<Dataset>> {
    let fail = |message: String| Error::Input {
        path: what.to_path_buf(),
        message,
    };
    let strings: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("bad warp argument: {e}")))?;
    let mut argv: Vec<*mut c_char> = strings.iter().map(|c| c.as_ptr() as *mut c_char).collect();
    argv.push(null_mut());
    let name = CString::new(name).map_err(|e| fail(format!("bad warp output name: {e}")))?;
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the call, and the
    // options are freed after it. The datasets stay open during the call. With a destination
    // handle GDALWarp writes into it and returns that same handle (still owned by `dest`);
    // without, the returned handle is new and owned by the Dataset made from it.
    unsafe {
        let options = gdal_sys::GDALWarpAppOptionsNew(argv.as_mut_ptr(), null_mut());
        if options.is_null() {
            return Err(fail(format!("gdalwarp options {args:?}: {}", last_error())));
        }
        let mut sources = [src.c_dataset()];
        let mut usage_error = 0;
        let out = gdal_sys::GDALWarp(
            if dest.is_some() {
                null()
            } else {
                name.as_ptr()
            },
            dest.map_or(null_mut(), |d| d.c_dataset()),
            1,
            sources.as_mut_ptr(),
            options,
            &mut usage_error,
        );
        gdal_sys::GDALWarpAppOptionsFree(options);
        if out.is_null() || usage_error != 0 {
            return Err(fail(format!("gdalwarp: {}", last_error())));
        }
        Ok(dest.is_none().then(|| Dataset::from_c_dataset(out)))
    }
}

/// Band `band` of the raster at `path`, resampled onto `grid` by `resampling` (gdalwarp's
/// `-r`: `average` weights source pixels by their overlap with each cell; `near`, `bilinear`…),
/// as row-major f32 with NaN where no valid source pixel falls. Source nodata and masks are
/// honoured, and band scale/offset applied.
pub fn resample(path: &Path, band: usize, grid: &Grid, resampling: &str) -> Result<Vec<f32>> {
    super::init();
    let src = super::open(path)?;
    super::resample::no_signed_bytes_for_the_warper(path, &src)?;
    let fail = |e: gdal::errors::GdalError| Error::Read {
        path: path.to_path_buf(),
        band,
        message: gdal_message(&e),
    };
    let count = src.raster_count();
    if band == 0 || band > count {
        return Err(Error::Read {
            path: path.to_path_buf(),
            band,
            message: format!("the file has {count} band(s)"),
        });
    }
    // One band only: a VRT of the chosen band (gdalwarp in GDAL 3.6 has no -srcband), unless
    // the file has no other. The VRT reads through a working buffer of doubles: a fifth of
    // the warp of a single-band index raster.
    let single = if count == 1 {
        src
    } else {
        let options =
            gdal::programs::raster::BuildVRTOptions::new(["-b".to_string(), band.to_string()])
                .map_err(fail)?;
        gdal::programs::raster::build_vrt(None, &[src], Some(options)).map_err(fail)?
    };
    let (scale, offset) = {
        let b = single.rasterband(1).map_err(fail)?;
        (b.scale().unwrap_or(1.0), b.offset().unwrap_or(0.0))
    };
    let dest = memory_grid(grid).map_err(fail)?;
    let mut args: Vec<String> = [
        "-r",
        resampling,
        "-dstnodata",
        "nan",
        "-wo",
        "INIT_DEST=NO_DATA",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if grid.crs_wkt.is_none() {
        args.extend(["-to".into(), "SRC_METHOD=NO_GEOTRANSFORM".into()]);
    }
    gdalwarp(&single, Some(&dest), &args, path)?;
    let b = dest.rasterband(1).map_err(fail)?;
    let values = b
        .read_as::<f32>(
            (0, 0),
            (grid.width, grid.height),
            (grid.width, grid.height),
            None,
        )
        .map_err(fail)?;
    let (_, mut data) = values.into_shape_and_vec();
    if (scale, offset) != (1.0, 0.0) {
        for v in data.iter_mut() {
            *v = (f64::from(*v) * scale + offset) as f32;
        }
    }
    Ok(data)
}

/// An in-memory Float32 dataset on `grid`, filled with NaN (its nodata).
fn memory_grid(grid: &Grid) -> gdal::errors::Result<Dataset> {
    let driver = DriverManager::get_driver_by_name("MEM")?;
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(
        "",
        grid.width,
        grid.height,
        1,
        &RasterCreationOptions::default(),
    )?;
    if let Some(gt) = grid.geo_transform {
        ds.set_geo_transform(&gt)?;
    }
    if let Some(wkt) = &grid.crs_wkt {
        ds.set_projection(wkt)?;
    }
    let mut band = ds.rasterband(1)?;
    band.set_no_data_value(Some(f64::NAN))?;
    band.fill(f64::NAN, None)?;
    Ok(ds)
}

/// `values` on `grid`, warped by nearest neighbour to WGS84 lon/lat cells of `cell_deg` =
/// (lon, lat) degrees: the grid (north-up) and its values (NaN = no data).
pub fn to_wgs84(
    values: &[f32],
    grid: &Grid,
    cell_deg: (f64, f64),
    what: &Path,
) -> Result<(Grid, Vec<f32>)> {
    super::init();
    let fail = |e: gdal::errors::GdalError| Error::Write {
        path: what.to_path_buf(),
        message: gdal_message(&e),
    };
    let src = memory_grid(grid).map_err(fail)?;
    {
        let mut band = src.rasterband(1).map_err(fail)?;
        let mut buffer = Buffer::new((grid.width, grid.height), values.to_vec());
        band.write((0, 0), (grid.width, grid.height), &mut buffer)
            .map_err(fail)?;
    }
    let args: Vec<String> = [
        "-of",
        "MEM",
        "-t_srs",
        "EPSG:4326",
        "-r",
        "near",
        "-tr",
        &cell_deg.0.to_string(),
        &cell_deg.1.to_string(),
        "-tap",
        "-dstnodata",
        "nan",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = gdalwarp(&src, None, &args, what)?.ok_or_else(|| Error::Write {
        path: what.to_path_buf(),
        message: "gdalwarp made no dataset".into(),
    })?;
    let (w, h) = out.raster_size();
    let gt = out.geo_transform().map_err(fail)?;
    let b = out.rasterband(1).map_err(fail)?;
    let data = b
        .read_as::<f32>((0, 0), (w, h), (w, h), None)
        .map_err(fail)?
        .into_shape_and_vec()
        .1;
    Ok((
        Grid {
            width: w,
            height: h,
            geo_transform: Some(gt),
            crs_wkt: Some(out.projection()),
        },
        data,
    ))
}

/// Polygons of the connected areas of equal non-zero value of `labels` on `grid`
/// (GDALPolygonize, 4-connected… 8-connected with `eight`), in the grid's CRS: (value, parts).
pub fn polygonize(
    labels: &[i32],
    grid: &Grid,
    eight: bool,
    what: &Path,
) -> Result<Vec<(i32, crate::plots::Parts)>> {
    super::init();
    let fail = |e: gdal::errors::GdalError| Error::Write {
        path: what.to_path_buf(),
        message: gdal_message(&e),
    };
    let driver = DriverManager::get_driver_by_name("MEM").map_err(fail)?;
    let mut ds = driver
        .create_with_band_type_with_options::<i32, _>(
            "",
            grid.width,
            grid.height,
            1,
            &RasterCreationOptions::default(),
        )
        .map_err(fail)?;
    if let Some(gt) = grid.geo_transform {
        ds.set_geo_transform(&gt).map_err(fail)?;
    }
    {
        let mut band = ds.rasterband(1).map_err(fail)?;
        let mut buffer = Buffer::new((grid.width, grid.height), labels.to_vec());
        band.write((0, 0), (grid.width, grid.height), &mut buffer)
            .map_err(fail)?;
        band.set_no_data_value(Some(0.0)).map_err(fail)?;
    }
    let vdriver = DriverManager::get_driver_by_name("Memory").map_err(fail)?;
    let mut vds = vdriver.create_vector_only("").map_err(fail)?;
    let layer = vds
        .create_layer(LayerOptions {
            name: "zones",
            srs: None,
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .map_err(fail)?;
    FieldDefn::new("value", OGRFieldType::OFTInteger)
        .and_then(|f| f.add_to_layer(&layer))
        .map_err(fail)?;
    let band = ds.rasterband(1).map_err(fail)?;
    let mask = band.open_mask_band().map_err(fail)?;
    let connectedness = CString::new(if eight { "8CONNECTED=8" } else { "" })
        .map_err(|e| Error::usage(e.to_string()))?;
    let mut options: Vec<*mut c_char> = Vec::new();
    if eight {
        options.push(connectedness.as_ptr() as *mut c_char);
    }
    options.push(null_mut());
    // SAFETY: band, mask and layer are alive for the call; options is NULL-terminated.
    let rv = unsafe {
        gdal_sys::GDALPolygonize(
            band.c_rasterband(),
            mask.c_rasterband(),
            layer.c_layer(),
            0,
            options.as_mut_ptr(),
            None,
            null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(Error::Write {
            path: what.to_path_buf(),
            message: format!("polygonize: {}", last_error()),
        });
    }
    let mut layer = layer;
    let mut out = Vec::new();
    for feature in layer.features() {
        let value = feature_value(&feature);
        let Some(geometry) = feature.geometry() else {
            continue;
        };
        let mut parts = Vec::new();
        super::vector::polygon_parts(geometry, &mut parts);
        out.push((value, parts));
    }
    out.sort_by_key(|(v, _)| *v);
    Ok(out)
}

fn feature_value(feature: &Feature) -> i32 {
    feature.field_as_integer(0).ok().flatten().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::raster::Buffer;
    use gdal::DriverManager;

    /// A 12 × 10 Float32 GeoTIFF of `bands` bands in UTM 48N at 1 m; band 1 holds `values`
    /// (nodata -9999), the others a constant.
    fn raster(path: &Path, bands: usize, values: &[f32]) {
        crate::io::init();
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver
            .create_with_band_type::<f32, _>(path, 12, 10, bands)
            .unwrap();
        ds.set_geo_transform(&[600_000.0, 1.0, 0.0, 2_980_000.0, 0.0, -1.0])
            .unwrap();
        ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32648).unwrap())
            .unwrap();
        for b in 1..=bands {
            let mut band = ds.rasterband(b).unwrap();
            band.set_no_data_value(Some(-9999.0)).unwrap();
            let data = if b == 1 {
                values.to_vec()
            } else {
                vec![5.0; values.len()]
            };
            let mut buffer = Buffer::new((12, 10), data);
            band.write((0, 0), (12, 10), &mut buffer).unwrap();
        }
    }

    #[test]
    fn a_single_band_file_resamples_as_its_band_of_a_multi_band_file() {
        let dir = tempfile::tempdir().unwrap();
        // A ramp with a nodata corner and a NaN.
        let mut values: Vec<f32> = (0..120).map(|k| 0.01 * k as f32).collect();
        values[0] = -9999.0;
        values[1] = -9999.0;
        values[13] = -9999.0;
        values[14] = -9999.0;
        values[50] = f32::NAN;
        let one = dir.path().join("one.tif");
        let three = dir.path().join("three.tif");
        raster(&one, 1, &values);
        raster(&three, 3, &values);
        // 2 m cells, one column and one row past the source on each side.
        let grid = Grid {
            width: 8,
            height: 7,
            geo_transform: Some([599_998.0, 2.0, 0.0, 2_980_002.0, 0.0, -2.0]),
            crs_wkt: Some(
                gdal::spatial_ref::SpatialRef::from_epsg(32648)
                    .unwrap()
                    .to_wkt()
                    .unwrap(),
            ),
        };
        for method in ["average", "near"] {
            let direct = resample(&one, 1, &grid, method).unwrap();
            let through_vrt = resample(&three, 1, &grid, method).unwrap();
            assert_eq!(direct.len(), 56);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&direct), bits(&through_vrt), "{method}");
            // Cells past the source are NaN (the last row and column); a cell inside is the
            // mean of its four pixels (the numbers gdalwarp's command gives for this grid).
            assert!(direct[48..].iter().all(|v| v.is_nan()), "{direct:?}");
            assert!((0..7).all(|r| direct[r * 8 + 7].is_nan()), "{direct:?}");
            if method == "average" {
                let mean = (values[2 * 12 + 2]
                    + values[2 * 12 + 3]
                    + values[3 * 12 + 2]
                    + values[3 * 12 + 3])
                    / 4.0;
                assert!((direct[2 * 8 + 2] - mean).abs() < 1e-6, "{direct:?}");
            }
        }
        // The other bands are reachable too.
        let second = resample(&three, 2, &grid, "average").unwrap();
        assert!(second.iter().filter(|v| v.is_finite()).all(|&v| v == 5.0));
        assert!(resample(&one, 2, &grid, "average").is_err());
    }
}
