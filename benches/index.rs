//! Benchmarks of `paddy index`.
//!
//! * `kernels/*`: the hand-written slice kernels (NDVI, EVI, MSAVI) on 1 Mi pixels of synthetic
//!   reflectance, in pixels per second (criterion prints Melem/s = Mpx/s), and the same NDVI and
//!   EVI through the expression engine (`--engine expr`, and every index without a hand-written
//!   kernel). This is the compute ceiling: no GDAL, no allocation.
//! * `index_run/*`: the whole library path that `paddy index` takes (`index::plan` then
//!   `index::run`: decode → reflectance → kernels → staging GeoTIFF → COG with DEFLATE and
//!   overviews) on a 2048 × 2048 4-band UInt16 tiled DEFLATE GeoTIFF generated here, into a
//!   temporary folder, so `cargo bench` needs no data. Throughput in input pixels.
//!
//! Run: `cargo bench --bench index` (about a minute on 2 cores); one group:
//! `cargo bench --bench index -- kernels`. End-to-end numbers on a full Sentinel-2-sized tile
//! come from `scripts/bench-index` (see BENCHMARKS.md).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{DriverManager, Metadata};

use paddy::catalogue::{Catalogue, Role};
use paddy::index::{self, IndexRequest};
use paddy::io::Codec;
use paddy::kernels::{self, EviConstants, Formula};

/// Pixels per kernel call: 1 Mi, four times a processing window (`TARGET_WINDOW_PIXELS`).
const KERNEL_PIXELS: usize = 1 << 20;
/// Side of the generated tile for the end-to-end benchmark.
const TILE: usize = 2048;

/// A small deterministic generator (SplitMix64), so no `rand` dependency is needed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Surface reflectance of a pixel with vegetation fraction `v` (0 bare soil … 1 dense canopy),
/// as (red, green, blue, nir), with multiplicative noise `n` in about ±1.
fn reflectance(v: f32, n: [f32; 4]) -> [f32; 4] {
    let red = 0.16 - 0.13 * v;
    let green = 0.12 - 0.06 * v;
    let blue = 0.09 - 0.06 * v;
    let nir = 0.22 + 0.30 * v;
    [
        red * (1.0 + 0.06 * n[0]),
        green * (1.0 + 0.06 * n[1]),
        blue * (1.0 + 0.06 * n[2]),
        nir * (1.0 + 0.04 * n[3]),
    ]
}

/// Synthetic per-pixel reflectance slices for the kernels: (red, blue, nir).
fn kernel_inputs(n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng(42);
    let (mut red, mut blue, mut nir) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for _ in 0..n {
        let v = rng.unit();
        let noise = [0; 4].map(|_: i32| 2.0 * rng.unit() - 1.0);
        let [r, _, b, nr] = reflectance(v, noise);
        red.push(r);
        blue.push(b);
        nir.push(nr);
    }
    (red, blue, nir)
}

/// Indices timed by hand kernel and engine (MTCI has no hand kernel: engine only).
const KERNEL_INDICES: &[&str] = &[
    "NDVI", "NDREI", "EVI", "SAVI", "MSAVI", "LSWI", "CIRE", "MTCI",
];

/// Each index by its hand-written kernel and by the expression engine, next to a memory copy,
/// in cache (4 Ki px: 16 KiB a band) and out of cache (16 Mi px: 64 MiB a band). Throughput is
/// in bytes read + written, so every line compares directly with `copy`'s GB/s.
fn bench_kernels(c: &mut Criterion) {
    let cat = Catalogue::builtin();
    for (label, n) in [("in_cache", 1usize << 12), ("out_of_cache", 1usize << 24)] {
        let (red, blue, nir) = kernel_inputs(n);
        // Other roles: plausible reflectances derived from the same pixels.
        let band = |r: Role| -> &[f32] {
            match r {
                Role::R => &red,
                Role::B | Role::G => &blue,
                _ => &nir,
            }
        };
        let extra: Vec<(Role, Vec<f32>)> = [Role::RE1, Role::RE2, Role::S1]
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let k = 0.55 + 0.1 * i as f32;
                (
                    r,
                    nir.iter().zip(&red).map(|(n, r)| k * n + 0.3 * r).collect(),
                )
            })
            .collect();
        let band = |r: Role| -> &[f32] {
            extra
                .iter()
                .find(|(k, _)| *k == r)
                .map_or_else(|| band(r), |(_, v)| v.as_slice())
        };
        let mut out = vec![0.0f32; n];
        let mut scratch = Vec::new();
        let mut group = c.benchmark_group(format!("kernels_{label}"));
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_millis(if n > 1 << 20 { 2000 } else { 500 }));
        group.throughput(Throughput::Bytes((8 * n) as u64));
        group.bench_function("copy", |b| {
            b.iter(|| out.copy_from_slice(black_box(band(Role::N))))
        });
        for &name in KERNEL_INDICES {
            let def = cat.index(name).expect("catalogue index");
            let value = |c: &str| cat.constant(c).and_then(|d| d.default);
            let engine = Formula::for_index(def, &value, false).expect("compiles");
            let mut formulas = vec![("engine", engine)];
            if let Ok(hand @ Formula::Hand(_)) = Formula::for_index(def, &value, true) {
                formulas.insert(0, ("hand", hand));
            }
            for (kind, formula) in formulas {
                let bytes = 4 * n * (formula.roles().len() + 1);
                group.throughput(Throughput::Bytes(bytes as u64));
                group.bench_function(format!("{}_{kind}", name.to_lowercase()), |b| {
                    b.iter(|| formula.apply(&band, black_box(&mut out), &mut scratch))
                });
            }
        }
        group.finish();
    }
}

/// The kernels through their public slice functions, as a library user calls them.
fn bench_slice_functions(c: &mut Criterion) {
    let n = KERNEL_PIXELS;
    let (red, blue, nir) = kernel_inputs(n);
    let mut out = vec![0.0f32; n];
    let evi = EviConstants {
        g: 2.5,
        c1: 6.0,
        c2: 7.5,
        l: 1.0,
    };
    let mut group = c.benchmark_group("slice_functions");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_millis(1000));
    group.bench_function("ndvi", |b| {
        b.iter(|| kernels::ndvi(black_box(&nir), black_box(&red), black_box(&mut out)))
    });
    group.bench_function("evi", |b| {
        b.iter(|| {
            kernels::evi(
                black_box(&nir),
                black_box(&red),
                black_box(&blue),
                evi,
                black_box(&mut out),
            )
        })
    });
    group.finish();
}

/// Write a `size` × `size` 4-band UInt16 GeoTIFF like a Sentinel-2 L2A stack: tiled 512 × 512,
/// DEFLATE, EPSG:32633 at 10 m, bands described Red / Green / Blue / NIR with nodata 0 and
/// scale 0.0001 (so the generic profile needs no --band or --scale). The scene is square
/// "fields" of smoothly varying vegetation cover with per-pixel noise, reflectance × 10000.
fn write_tile(path: &Path, size: usize) {
    const FIELD: usize = 96;
    let fields = size.div_ceil(FIELD);
    let mut rng = Rng(7);
    // Each field's cover, 0 (bare/flooded) … 1 (closed canopy).
    let cover: Vec<f32> = (0..fields * fields).map(|_| rng.unit()).collect();
    let mut bands = vec![vec![0u16; size * size]; 4];
    for y in 0..size {
        for x in 0..size {
            let f = cover[(y / FIELD) * fields + x / FIELD];
            // Smooth within-field gradient (soil, water supply), kept in [0, 1].
            let wave = 0.08 * ((x as f32) * 0.011).sin() * ((y as f32) * 0.007).cos();
            let v = (f + wave).clamp(0.0, 1.0);
            let noise = [0; 4].map(|_: i32| 2.0 * rng.unit() - 1.0);
            for (band, r) in bands.iter_mut().zip(reflectance(v, noise)) {
                band[y * size + x] = (r * 10_000.0).round().clamp(1.0, 65_535.0) as u16;
            }
        }
    }
    let driver = DriverManager::get_driver_by_name("GTiff").expect("GDAL GTiff driver");
    let options = RasterCreationOptions::from_iter([
        "TILED=YES",
        "BLOCKXSIZE=512",
        "BLOCKYSIZE=512",
        "COMPRESS=DEFLATE",
        "PREDICTOR=2",
    ]);
    let mut ds = driver
        .create_with_band_type_with_options::<u16, _>(path, size, size, 4, &options)
        .expect("create the benchmark tile");
    ds.set_geo_transform(&[300_000.0, 10.0, 0.0, 5_400_000.0, 0.0, -10.0])
        .expect("geotransform");
    let srs = SpatialRef::from_epsg(32633).expect("EPSG:32633");
    ds.set_projection(&srs.to_wkt().expect("WKT")).expect("CRS");
    for (i, (name, data)) in ["Red", "Green", "Blue", "NIR"]
        .iter()
        .zip(bands)
        .enumerate()
    {
        let mut band = ds.rasterband(i + 1).expect("band");
        band.set_description(name).expect("description");
        band.set_no_data_value(Some(0.0)).expect("nodata");
        band.set_scale(0.0001).expect("scale");
        band.set_offset(0.0).expect("offset");
        let mut buffer = Buffer::new((size, size), data);
        band.write((0, 0), (size, size), &mut buffer)
            .expect("write band");
    }
    ds.close().expect("close the benchmark tile");
}

fn bench_index_run(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let tile: PathBuf = dir.path().join("bench-tile.tif");
    write_tile(&tile, TILE);
    let out_dir = dir.path().join("out");
    let catalogue = Catalogue::builtin();

    let mut group = c.benchmark_group("index_run");
    group.throughput(Throughput::Elements((TILE * TILE) as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    // (label, indices, output compression, measurement time). On 2 cores a run takes about
    // 0.45 s per DEFLATE output (most of it compressing the Float32 COG) and 0.3 s with NONE;
    // the times ask for two runs per sample (flat sampling, 10 samples; with one criterion
    // warns that it cannot complete the samples in time).
    let cases: [(&str, &[&str], Codec, u64); 3] = [
        ("ndvi", &["ndvi"], Codec::Deflate, 8),
        ("ndvi_uncompressed", &["ndvi"], Codec::None, 5),
        (
            "ndvi_savi_msavi2_ndwi",
            &["ndvi", "savi", "msavi2", "ndwi"],
            Codec::Deflate,
            30,
        ),
    ];
    for (label, indices, compress, seconds) in cases {
        let mut request = IndexRequest::new(
            vec![tile.clone()],
            indices.iter().map(|s| s.to_string()).collect(),
        );
        request.out_dir = out_dir.clone();
        request.cog.compress = compress;
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_with_input(
            BenchmarkId::new(label, format!("{TILE}x{TILE}")),
            &request,
            |b, request| {
                b.iter(|| {
                    // Planning is part of what `paddy index` does; it is cheap (it opens the file).
                    let plan = index::plan(request, catalogue).expect("plan");
                    let report = index::run(&plan, &|_, _| {}).expect("run");
                    assert_eq!(report.outputs.len(), indices.len());
                    black_box(report)
                })
            },
        );
    }
    group.finish();
    drop(dir);
}

criterion_group!(
    benches,
    bench_kernels,
    bench_slice_functions,
    bench_index_run
);
criterion_main!(benches);
