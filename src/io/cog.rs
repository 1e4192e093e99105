//! A Cloud Optimized GeoTIFF assembled from tiles that are already compressed, so that no pixel
//! is compressed twice and nothing is staged uncompressed.
//!
//! GDAL 3.6's COG driver only writes by copying a dataset, and its copy decodes and re-encodes
//! every tile (measured: a ZSTD GeoTIFF copied into an identical one costs as much CPU as
//! compressing it). Instead, the full-resolution image and each overview level are written by
//! GDAL as compressed tiled GeoTIFFs while the windows stream, with the same codec options; this
//! module then lays their tiles out as a COG, byte for byte as GDAL compressed them: the ghost
//! header GDAL writes, every IFD before any pixel, the smallest overview's tiles first and the
//! full resolution last, each level's tiles in row-major order, each tile with GDAL's leader
//! (its size, 4 bytes) and trailer (its last 4 bytes repeated). The full-resolution IFD keeps all
//! the tags GDAL wrote (georeferencing, metadata, nodata); an overview's IFD keeps the tags of
//! its pixels' layout and encoding, marked as a reduced-resolution image.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
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

/// An IFD to write: its entries (without tile offsets and byte counts) and its tiles' source.
struct Out<'a> {
    entries: Vec<Entry>,
    image: &'a Image,
    file: &'a File,
}

/// The COG's byte layout: header and IFDs (with every tile offset filled in) and the data size.
fn layout(ifds: &mut [Out], bigtiff: bool) -> Vec<u8> {
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
    }
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
    b
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

/// Write a COG at `dest` from the tiled GeoTIFFs `full` (the full resolution, whose tags it
/// keeps) and `levels` (its overviews, largest first), all compressed with the same options.
pub(crate) fn assemble(full: &Path, levels: &[&Path], dest: &Path) -> Result<()> {
    let fail = |path: &Path, message: String| Error::Write {
        path: path.to_path_buf(),
        message: format!("assembling the COG: {message}"),
    };
    let open = |p: &Path| File::open(p).map_err(|e| fail(p, e.to_string()));
    let files: Vec<File> = std::iter::once(full)
        .chain(levels.iter().copied())
        .map(open)
        .collect::<Result<_>>()?;
    let images: Vec<Image> = files
        .iter()
        .zip(std::iter::once(full).chain(levels.iter().copied()))
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
        file: &files[0],
    });
    for (image, file) in images.iter().zip(&files).skip(1) {
        ifds.push(Out {
            entries: overview_entries(image, main),
            image,
            file,
        });
    }
    let head = layout(&mut ifds, bigtiff);
    let out = File::create(dest).map_err(|e| fail(dest, e.to_string()))?;
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let write_err = |e: std::io::Error| fail(dest, e.to_string());
    w.write_all(&head).map_err(write_err)?;
    for out in ifds.iter().rev() {
        for (&offset, &count) in out.image.offsets.iter().zip(&out.image.counts) {
            if count == 0 {
                continue;
            }
            let read_err = |e: std::io::Error| fail(full, format!("reading a tile: {e}"));
            w.write_all(&(count as u32).to_le_bytes())
                .map_err(write_err)?;
            // File to file: the kernel copies (copy_file_range), no pass through this process.
            let mut source = out.file;
            source.seek(SeekFrom::Start(offset)).map_err(read_err)?;
            let copied = std::io::copy(&mut source.take(count), &mut w).map_err(write_err)?;
            if copied != count {
                return Err(fail(full, format!("a tile of {count} bytes read {copied}")));
            }
            if count >= 4 {
                let mut last = [0u8; 4];
                out.file
                    .read_exact_at(&mut last, offset + count - 4)
                    .map_err(read_err)?;
                w.write_all(&last).map_err(write_err)?;
            }
        }
    }
    w.flush().map_err(write_err)?;
    Ok(())
}
