//! `paddy bench`: how fast each index kernel runs on one core, next to a memory-copy baseline
//! measured in the same run, in cache and out of cache.

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::catalogue::{Catalogue, Role};
use crate::error::{Error, Result};
use crate::kernels::Formula;

/// Time index kernels on one core against a memory-copy baseline of the same bytes.
///
/// For each index, the hand-written kernel (where there is one) and the expression engine run
/// over synthetic reflectance slices; "GB/s" counts the bytes read and written, and "copy" is
/// the speed of copying memory measured in the same run, so the last column says how close a
/// kernel comes to memory speed. Out of cache: slices larger than the caches; in cache: a small
/// slice computed many times.
///
///   paddy bench --index ndvi,evi,mtci --pixels 16777216
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    /// Indices to time (catalogue names).
    #[arg(
        long,
        short = 'i',
        value_delimiter = ',',
        default_value = "ndvi,ndre,evi,savi,msavi,lswi,cire,mtci"
    )]
    index: Vec<String>,

    /// Pixels per slice for the out-of-cache run (4 bytes each, per band).
    #[arg(long, default_value_t = 1 << 24)]
    pixels: usize,

    /// Pixels per slice for the in-cache run.
    #[arg(long, default_value_t = 1 << 12)]
    cache_pixels: usize,

    /// Repetitions; the fastest counts.
    #[arg(long, default_value_t = 5)]
    repeat: usize,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One measured row.
#[derive(Debug, Serialize)]
pub struct BenchRow {
    pub index: String,
    pub engine: String,
    pub size: String,
    pub pixels: usize,
    pub mpix_per_s: f64,
    pub gb_per_s: f64,
    pub ratio_to_copy: f64,
}

fn samples(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.01 + ((s >> 40) as f32 / (1u64 << 24) as f32) * 0.6
        })
        .collect()
}

/// Fastest of `repeat` timings of `rounds` calls of `f`, in seconds per call.
fn best(repeat: usize, rounds: usize, mut f: impl FnMut()) -> f64 {
    (0..repeat.max(1))
        .map(|_| {
            let t = Instant::now();
            for _ in 0..rounds {
                f();
            }
            t.elapsed().as_secs_f64() / rounds as f64
        })
        .fold(f64::INFINITY, f64::min)
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.pixels == 0 || args.cache_pixels == 0 {
        return Err(Error::usage("--pixels and --cache-pixels must be positive"));
    }
    let cat = Catalogue::builtin();
    let mut defs = Vec::new();
    for name in &args.index {
        let def = cat
            .index(name)
            .ok_or_else(|| Error::usage(format!("unknown index '{name}'")))?;
        if def
            .constants()
            .iter()
            .any(|c| cat.constant(c).and_then(|d| d.default).is_none())
        {
            return Err(Error::usage(format!(
                "{}: has constants without a default; bench indices that have defaults",
                def.short_name
            )));
        }
        defs.push(def.clone());
    }
    let mut rows = Vec::new();
    for (label, n) in [
        ("out of cache", args.pixels),
        ("in cache", args.cache_pixels),
    ] {
        // In cache: repeat the small slice so each timing covers about as many pixels as one
        // out-of-cache call.
        let rounds = (args.pixels / n).clamp(1, 1 << 16);
        let bands: Vec<(Role, Vec<f32>)> = Role::ALL
            .iter()
            .filter(|r| r.is_spectral())
            .enumerate()
            .map(|(i, &r)| (r, samples(n, 7 + i as u64)))
            .collect();
        let band = |r: Role| -> &[f32] {
            bands
                .iter()
                .find(|(k, _)| *k == r)
                .map_or(&[][..], |(_, v)| v.as_slice())
        };
        let mut out = vec![0.0f32; n];
        let copy = best(args.repeat, rounds, || {
            out.copy_from_slice(band(Role::N));
            std::hint::black_box(&mut out);
        });
        let copy_gbs = (8 * n) as f64 / copy / 1e9;
        rows.push(BenchRow {
            index: "copy".into(),
            engine: "memcpy".into(),
            size: label.into(),
            pixels: n,
            mpix_per_s: n as f64 / copy / 1e6,
            gb_per_s: copy_gbs,
            ratio_to_copy: 1.0,
        });
        let mut scratch = Vec::new();
        for def in &defs {
            let value = |c: &str| cat.constant(c).and_then(|d| d.default);
            let engine = Formula::for_index(def, &value, false)
                .map_err(|e| Error::usage(format!("{}: {e}", def.short_name)))?;
            let mut formulas = vec![engine];
            if let Ok(hand @ Formula::Hand(_)) = Formula::for_index(def, &value, true) {
                formulas.insert(0, hand);
            }
            for f in &formulas {
                let bytes = 4 * n * (f.roles().len() + 1);
                let t = best(args.repeat, rounds, || {
                    f.apply(&band, &mut out, &mut scratch);
                    std::hint::black_box(&mut out);
                });
                let gbs = bytes as f64 / t / 1e9;
                rows.push(BenchRow {
                    index: def.short_name.clone(),
                    engine: match f {
                        Formula::Hand(_) => "hand",
                        Formula::Compiled(_) => "engine",
                    }
                    .into(),
                    size: label.into(),
                    pixels: n,
                    mpix_per_s: n as f64 / t / 1e6,
                    gb_per_s: gbs,
                    ratio_to_copy: gbs / copy_gbs,
                });
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    println!("one core; GB/s = bytes read + written; copy = memcpy of the same size in this run");
    println!(
        "{:<12} {:<7} {:<13} {:>10} {:>9} {:>8}",
        "INDEX", "ENGINE", "SIZE", "Mpix/s", "GB/s", "vs copy"
    );
    for r in &rows {
        println!(
            "{:<12} {:<7} {:<13} {:>10.0} {:>9.1} {:>7.0}%",
            r.index,
            r.engine,
            r.size,
            r.mpix_per_s,
            r.gb_per_s,
            100.0 * r.ratio_to_copy
        );
    }
    Ok(())
}
