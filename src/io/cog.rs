//! A Cloud Optimized GeoTIFF assembled from tiles that are already compressed, so that no pixel
//! is compressed twice and nothing is staged uncompressed.
//!
//! GDAL 3.6's COG driver only writes by copying a dataset, and its copy decodes and re-encodes
//! every tile (measured: a ZSTD GeoTIFF copied into an identical one costs as much CPU as
//! compressing it). Instead, the full-resolution image and each overview level are written by
//! GDAL as compressed tiled GeoTIFFs while the windows stream, with the same codec options; this
//! module then lays their tiles out as a COG, byte for byte as GDAL compressed them, in the full
//! resolution's own file (its tiles moved back to make room in front; see [`assemble`]): the ghost
//! header GDAL writes, every IFD before any pixel, the smallest overview's tiles first and the
//! full resolution last, each level's tiles in row-major order, each tile with GDAL's leader
//! (its size, 4 bytes) and trailer (its last 4 bytes repeated). The full-resolution IFD keeps all
//! the tags GDAL wrote (georeferencing, metadata, nodata); an overview's IFD keeps the tags of
//! its pixels' layout and encoding, marked as a reduced-resolution image.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};

/// GDAL's structural metadata, right after the TIFF header of every COG it writes.
const GHOST: &str = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n\
BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ";

const NEW_SUBFILE_TYPE: u16 = 254;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
const GDAL_NODATA: u16 = 42113;
/// Tags an overview's IFD takes from its level's file: size, sample layout, codec, tiling.
const OVERVIEW_TAGS: [u16; 11] = [256, 257, 258, 259, 262, 277, 284, 317, 322, 323, 339];

/// One IFD entry with its value's bytes (little-endian, wherever they were stored).
#[derive(Debug, Clone)]
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    value: Vec<u8>,
}

/// The first image of a tiled TIFF: its entries and where its tiles are.
#[derive(Debug)]
struct Image {
    entries: Vec<Entry>,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    bigtiff: bool,
}

fn type_size(kind: u16) -> Option<u64> {
    match kind {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// An entry's values as integers (SHORT, LONG or LONG8).
fn integers(e: &Entry) -> Option<Vec<u64>> {
    let size = type_size(e.kind)? as usize;
    let values = e.value.chunks_exact(size);
    match e.kind {
        3 => Some(values.map(|c| u64::from(u16_at(c, 0))).collect()),
        4 => Some(values.map(|c| u64::from(u32_at(c, 0))).collect()),
        16 => Some(values.map(|c| u64_at(c, 0)).collect()),
        _ => None,
    }
}

impl Image {
    /// Read the first IFD of the little-endian TIFF `file` (as GDAL writes on this machine).
    fn read(file: &File) -> std::result::Result<Image, String> {
        let read = |at: u64, len: u64| -> std::result::Result<Vec<u8>, String> {
            if len > 1 << 30 {
                return Err(format!("a TIFF value of {len} bytes"));
            }
            let mut b = vec![0u8; len as usize];
            file.read_exact_at(&mut b, at)
                .map_err(|e| format!("reading {len} bytes at {at}: {e}"))?;
            Ok(b)
        };
        let head = read(0, 16)?;
        if &head[0..2] != b"II" {
            return Err("not a little-endian TIFF".into());
        }
        let bigtiff = match u16_at(&head, 2) {
            42 => false,
            43 => true,
            m => return Err(format!("TIFF version {m}")),
        };
        let (ifd, count_len, entry_len, inline) = if bigtiff {
            (u64_at(&head, 8), 8u64, 20u64, 8u64)
        } else {
            (u64::from(u32_at(&head, 4)), 2, 12, 4)
        };
        let n = if bigtiff {
            u64_at(&read(ifd, 8)?, 0)
        } else {
            u64::from(u16_at(&read(ifd, 2)?, 0))
        };
        let raw = read(ifd + count_len, n * entry_len)?;
        let mut entries = Vec::with_capacity(n as usize);
        for e in raw.chunks_exact(entry_len as usize) {
            let (tag, kind) = (u16_at(e, 0), u16_at(e, 2));
            let (count, field) = if bigtiff {
                (u64_at(e, 4), &e[12..20])
            } else {
                (u64::from(u32_at(e, 4)), &e[8..12])
            };
            let len = type_size(kind).ok_or(format!("tag {tag} has TIFF type {kind}"))? * count;
            let value = if len <= inline {
                field[..len as usize].to_vec()
            } else if bigtiff {
                read(u64_at(field, 0), len)?
            } else {
                read(u64::from(u32_at(field, 0)), len)?
            };
            entries.push(Entry {
                tag,
                kind,
                count,
                value,
            });
        }
        let find = |tag: u16| -> std::result::Result<Vec<u64>, String> {
            entries
                .iter()
                .find(|e| e.tag == tag)
                .and_then(integers)
                .ok_or(format!("no tag {tag}"))
        };
        let (offsets, counts) = (find(TILE_OFFSETS)?, find(TILE_BYTE_COUNTS)?);
        if offsets.len() != counts.len() {
            return Err("tile offsets and byte counts differ in number".into());
        }
        Ok(Image {
            entries,
            offsets,
            counts,
            bigtiff,
        })
    }

    fn entry(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }
}

/// An IFD to write: its entries (without tile offsets and byte counts), its tiles' source image
/// and, once laid out, where each of its tiles goes in the COG (0: an empty tile).
struct Out<'a> {
    entries: Vec<Entry>,
    image: &'a Image,
    at: Vec<u64>,
}

/// The COG's byte layout: header and IFDs (with every tile offset filled in, and each `Out`'s
/// `at`), and the COG's length.
fn layout(ifds: &mut [Out], bigtiff: bool) -> (Vec<u8>, u64) {
    let (inline, count_len, entry_len, next_len) = if bigtiff {
        (8u64, 8u64, 20u64, 8u64)
    } else {
        (4, 2, 12, 4)
    };
    let ghost = format!(
        "GDAL_STRUCTURAL_METADATA_SIZE={:06} bytes\n{GHOST}",
        GHOST.len()
    );
    let header_len = if bigtiff { 16 } else { 8 };
    let start = (header_len + ghost.len() as u64).next_multiple_of(2);
    let offset_kind = if bigtiff { 16 } else { 4 };
    for out in ifds.iter_mut() {
        let n = out.image.offsets.len() as u64;
        for tag in [TILE_OFFSETS, TILE_BYTE_COUNTS] {
            out.entries.push(Entry {
                tag,
                kind: offset_kind,
                count: n,
                value: vec![0; (n * type_size(offset_kind).unwrap_or(8)) as usize],
            });
        }
        out.entries.sort_by_key(|e| e.tag);
    }
    // Sizes first: an IFD, then the values too long to sit in it.
    let outside = |e: &Entry| e.value.len() as u64 > inline;
    let ifd_len = |o: &Out| {
        let n = o.entries.len() as u64;
        let values: u64 = o
            .entries
            .iter()
            .filter(|e| outside(e))
            .map(|e| (e.value.len() as u64).next_multiple_of(2))
            .sum();
        count_len + n * entry_len + next_len + values
    };
    let data_start = start + ifds.iter().map(ifd_len).sum::<u64>();
    // Tile offsets: smallest overview first, full resolution last.
    let mut at = data_start;
    for out in ifds.iter_mut().rev() {
        let mut offsets = Vec::with_capacity(out.image.counts.len());
        for &c in &out.image.counts {
            offsets.push(if c == 0 { 0 } else { at + 4 });
            at += if c == 0 { 0 } else { 4 + c + trailer(c) };
        }
        let encode = |values: &[u64]| -> Vec<u8> {
            values
                .iter()
                .flat_map(|&v| {
                    if bigtiff {
                        v.to_le_bytes().to_vec()
                    } else {
                        (v as u32).to_le_bytes().to_vec()
                    }
                })
                .collect()
        };
        for e in out.entries.iter_mut() {
            match e.tag {
                TILE_OFFSETS => e.value = encode(&offsets),
                TILE_BYTE_COUNTS => e.value = encode(&out.image.counts),
                _ => {}
            }
        }
        out.at = offsets;
    }
    let end = at;
    let mut b = Vec::with_capacity(data_start as usize);
    b.extend_from_slice(b"II");
    if bigtiff {
        b.extend_from_slice(&43u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&start.to_le_bytes());
    } else {
        b.extend_from_slice(&42u16.to_le_bytes());
        b.extend_from_slice(&(start as u32).to_le_bytes());
    }
    b.extend_from_slice(ghost.as_bytes());
    b.resize(start as usize, 0);
    let word = |b: &mut Vec<u8>, v: u64, wide: bool| {
        if wide {
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.extend_from_slice(&(v as u32).to_le_bytes());
        }
    };
    for (i, out) in ifds.iter().enumerate() {
        let here = b.len() as u64;
        let n = out.entries.len() as u64;
        if bigtiff {
            b.extend_from_slice(&n.to_le_bytes());
        } else {
            b.extend_from_slice(&(n as u16).to_le_bytes());
        }
        let mut value_at = here + count_len + n * entry_len + next_len;
        let mut values = Vec::new();
        for e in &out.entries {
            b.extend_from_slice(&e.tag.to_le_bytes());
            b.extend_from_slice(&e.kind.to_le_bytes());
            word(&mut b, e.count, bigtiff);
            if outside(e) {
                word(&mut b, value_at, bigtiff);
                values.extend_from_slice(&e.value);
                values.resize(values.len().next_multiple_of(2), 0);
                value_at = here + count_len + n * entry_len + next_len + values.len() as u64;
            } else {
                let mut field = e.value.clone();
                field.resize(inline as usize, 0);
                b.extend_from_slice(&field);
            }
        }
        let next = if i + 1 < ifds.len() {
            here + ifd_len(out)
        } else {
            0
        };
        word(&mut b, next, bigtiff);
        b.extend_from_slice(&values);
    }
    (b, end)
}

/// Bytes of GDAL's trailer after a tile of `count` bytes: its last 4 bytes, repeated.
fn trailer(count: u64) -> u64 {
    if count >= 4 {
        4
    } else {
        0
    }
}

/// The entries of overview `level`'s IFD: its layout and codec tags, nodata as the main image's.
fn overview_entries(level: &Image, main: &Image) -> Vec<Entry> {
    let mut entries: Vec<Entry> = level
        .entries
        .iter()
        .filter(|e| OVERVIEW_TAGS.contains(&e.tag))
        .cloned()
        .collect();
    entries.push(Entry {
        tag: NEW_SUBFILE_TYPE,
        kind: 4,
        count: 1,
        value: 1u32.to_le_bytes().to_vec(),
    });
    entries.extend(main.entry(GDAL_NODATA).cloned());
    entries
}

/// Where [`assemble`] left the COG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assembled {
    /// In the full resolution's own file: its tiles moved back, the header, IFDs and overviews
    /// written in front of them.
    InPlace,
    /// In `dest`, the full resolution's file left as it was.
    Copied,
}

/// One tile to place: from `file` (an index into the sources) at `from`, `count` bytes, to the
/// COG's `to`, with GDAL's leader before it and trailer after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tile {
    file: usize,
    from: u64,
    count: u64,
    to: u64,
}

/// Whether the full resolution's tiles can be moved within their own file, last first, without
/// any tile, leader or trailer landing on a tile not moved yet: true when each lies behind every
/// source that comes before its own. GDAL writes a tiled file's tiles in order behind its IFD,
/// and the COG puts its header, IFDs and overviews in front of them, so they all move back.
fn movable(tiles: &[Tile]) -> bool {
    let mut sorted: Vec<&Tile> = tiles.iter().collect();
    sorted.sort_by_key(|t| t.from);
    let mut end_before = 0;
    sorted.iter().all(|t| {
        let ok = t.to >= end_before + 4;
        end_before = end_before.max(t.from + t.count);
        ok
    })
}

/// Write a COG from the tiled GeoTIFFs `full` (the full resolution, whose tags it keeps) and
/// `levels` (its overviews, largest first), all compressed with the same options: in `full`
/// itself when its tiles can move back within it (as GDAL lays them out), else in `dest`.
///
/// In place, the file's 400 MB of a Sentinel-2 tile's NDVI are moved within pages the kernel
/// already holds instead of being copied into new ones, and no staging file is removed after.
pub(crate) fn assemble(full: &Path, levels: &[&Path], dest: &Path) -> Result<Assembled> {
    assemble_with(full, levels, dest, true)
}

fn assemble_with(full: &Path, levels: &[&Path], dest: &Path, in_place: bool) -> Result<Assembled> {
    let fail = |path: &Path, message: String| Error::Write {
        path: path.to_path_buf(),
        message: format!("assembling the COG: {message}"),
    };
    let paths: Vec<&Path> = std::iter::once(full)
        .chain(levels.iter().copied())
        .collect();
    let files: Vec<File> = paths
        .iter()
        .map(|p| File::open(p).map_err(|e| fail(p, e.to_string())))
        .collect::<Result<_>>()?;
    let images: Vec<Image> = files
        .iter()
        .zip(&paths)
        .map(|(f, p)| Image::read(f).map_err(|m| fail(p, m)))
        .collect::<Result<_>>()?;
    let main = &images[0];
    let data: u64 = images.iter().flat_map(|i| &i.counts).map(|&c| c + 8).sum();
    // Classic TIFF unless GDAL chose BigTIFF for the full resolution or offsets would overflow.
    let bigtiff = main.bigtiff || data + (1 << 24) > u64::from(u32::MAX);
    let mut ifds: Vec<Out> = Vec::with_capacity(images.len());
    ifds.push(Out {
        entries: main
            .entries
            .iter()
            .filter(|e| ![TILE_OFFSETS, TILE_BYTE_COUNTS, NEW_SUBFILE_TYPE].contains(&e.tag))
            .cloned()
            .collect(),
        image: main,
        at: Vec::new(),
    });
    for image in &images[1..] {
        ifds.push(Out {
            entries: overview_entries(image, main),
            image,
            at: Vec::new(),
        });
    }
    let (head, end) = layout(&mut ifds, bigtiff);
    // The full resolution's tiles, the last in its file first, then the overviews'.
    let mut tiles: Vec<Tile> = ifds
        .iter()
        .enumerate()
        .flat_map(|(file, out)| {
            let image = out.image;
            (0..image.counts.len()).map(move |k| Tile {
                file,
                from: image.offsets[k],
                count: image.counts[k],
                to: out.at[k],
            })
        })
        .filter(|t| t.count > 0)
        .collect();
    let main_tiles = tiles.iter().filter(|t| t.file == 0).count();
    tiles[..main_tiles].sort_by_key(|t| std::cmp::Reverse(t.from));
    let (how, target_path) = if in_place && movable(&tiles[..main_tiles]) {
        (Assembled::InPlace, full)
    } else {
        (Assembled::Copied, dest)
    };
    // In place, a second handle on `full`: its own position to write at while reading.
    let target = match how {
        Assembled::InPlace => File::options().write(true).open(full),
        Assembled::Copied => File::create(dest),
    }
    .map_err(|e| fail(target_path, e.to_string()))?;
    let write_err = |e: std::io::Error| fail(target_path, e.to_string());
    for t in &tiles {
        let (path, file) = (paths[t.file], &files[t.file]);
        let read_err = |e: std::io::Error| fail(path, format!("reading a tile: {e}"));
        let mut last = [0u8; 4];
        if t.count >= 4 {
            file.read_exact_at(&mut last, t.from + t.count - 4)
                .map_err(read_err)?;
        }
        let same_file = how == Assembled::InPlace && t.file == 0;
        if !same_file || t.to >= t.from + t.count || t.to + t.count <= t.from {
            // Apart: the kernel copies (copy_file_range), no pass through this process.
            let (mut source, mut sink) = (file, &target);
            source.seek(SeekFrom::Start(t.from)).map_err(read_err)?;
            sink.seek(SeekFrom::Start(t.to)).map_err(write_err)?;
            let copied = std::io::copy(&mut source.take(t.count), &mut sink).map_err(write_err)?;
            if copied != t.count {
                let message = format!("a tile of {} bytes read {copied}", t.count);
                return Err(fail(path, message));
            }
        } else {
            // A tile moved by less than its length: through memory.
            let mut bytes = vec![0u8; t.count as usize];
            file.read_exact_at(&mut bytes, t.from).map_err(read_err)?;
            target.write_all_at(&bytes, t.to).map_err(write_err)?;
        }
        target
            .write_all_at(&(t.count as u32).to_le_bytes(), t.to - 4)
            .map_err(write_err)?;
        if t.count >= 4 {
            target
                .write_all_at(&last, t.to + t.count)
                .map_err(write_err)?;
        }
    }
    target.write_all_at(&head, 0).map_err(write_err)?;
    target.set_len(end).map_err(write_err)?;
    Ok(how)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use gdal::raster::{Buffer, RasterCreationOptions};
    use gdal::{DriverManager, Metadata};

    /// A compressed tiled Float32 GeoTIFF of `size`² pixels with 16² tiles, values from `seed`.
    fn tiled(path: &Path, size: usize, seed: u32) {
        let driver = DriverManager::get_driver_by_name("GTiff").expect("GTiff");
        let options = RasterCreationOptions::from_iter([
            "TILED=YES",
            "BLOCKXSIZE=16",
            "BLOCKYSIZE=16",
            "COMPRESS=ZSTD",
            "PREDICTOR=2",
        ]);
        let ds = driver
            .create_with_band_type_with_options::<f32, _>(path, size, size, 1, &options)
            .expect("create");
        let values: Vec<f32> = (0..size * size)
            .map(|i| ((i as u32).wrapping_mul(2654435761) ^ seed) as f32 / u32::MAX as f32)
            .collect();
        let mut buffer = Buffer::new((size, size), values);
        let mut band = ds.rasterband(1).expect("band");
        band.set_no_data_value(Some(-9999.0)).expect("nodata");
        band.write((0, 0), (size, size), &mut buffer)
            .expect("write");
        ds.close().expect("close");
    }

    /// Moved within its own file or copied into another, the COG is the same bytes, and GDAL
    /// reads it as a COG with its overviews.
    #[test]
    fn a_cog_assembled_in_place_is_the_one_copied() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let p = |name: &str| tmp.path().join(name);
        tiled(&p("full.tif"), 100, 1);
        tiled(&p("o1.tif"), 25, 2);
        tiled(&p("o2.tif"), 13, 3);
        std::fs::copy(p("full.tif"), p("moved.tif")).expect("copy");
        let levels = [p("o1.tif"), p("o2.tif")];
        let levels: Vec<&Path> = levels.iter().map(PathBuf::as_path).collect();
        let copied = assemble_with(&p("full.tif"), &levels, &p("copied.tif"), false);
        assert_eq!(copied.expect("copied"), Assembled::Copied);
        let moved = assemble(&p("moved.tif"), &levels, &p("unused.tif"));
        assert_eq!(moved.expect("in place"), Assembled::InPlace);
        assert!(!p("unused.tif").exists());
        let bytes = |name: &str| std::fs::read(p(name)).expect("read");
        assert_eq!(bytes("moved.tif"), bytes("copied.tif"));
        let ds = gdal::Dataset::open(p("moved.tif")).expect("open");
        let layout = ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE");
        assert_eq!(layout.as_deref(), Some("COG"));
        let band = ds.rasterband(1).expect("band");
        assert_eq!(band.overview_count().expect("overviews"), 2);
        let original = gdal::Dataset::open(p("full.tif")).expect("open");
        let read = |ds: &gdal::Dataset| {
            let b = ds.rasterband(1).expect("band");
            b.read_as::<f32>((0, 0), (100, 100), (100, 100), None)
                .expect("read")
                .data()
                .to_vec()
        };
        assert_eq!(read(&ds), read(&original));
    }

    /// Tiles are moved last first: each must land behind every source still to move.
    #[test]
    fn tiles_move_in_place_only_behind_the_sources_still_to_move() {
        let tile = |from, to| Tile {
            file: 0,
            from,
            count: 100,
            to,
        };
        // GDAL's order, all moved back by a header: fine, even by less than a tile.
        assert!(movable(&[tile(200, 1004), tile(100, 804), tile(0, 604)]));
        assert!(movable(&[tile(200, 220), tile(100, 112), tile(0, 4)]));
        // The last tile's leader would land on the first's bytes before they moved.
        assert!(!movable(&[tile(100, 102), tile(0, 210)]));
        assert!(movable(&[tile(100, 104), tile(0, 212)]));
        // Sources out of the COG's order: the later tile would overwrite the earlier one.
        assert!(!movable(&[tile(0, 1004), tile(100, 4)]));
    }
}
