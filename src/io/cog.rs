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
//!
//! The full resolution is not even copied where it can stay: GDAL writes its tiles with their
//! leaders and trailers, in the order the windows arrive (row-major from the streaming engine),
//! and where the file system can insert whole blocks at the start of a file (ext4, XFS:
//! `FALLOC_FL_INSERT_RANGE`) the header, IFDs and overviews are inserted in front of those tiles
//! and the file is renamed. Elsewhere (tmpfs, tiles out of order) its tiles are copied behind
//! the overviews into a new file, file to file in the kernel.

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

/// The COG's byte layout: header and IFDs, with every tile offset filled in. The overviews' tiles
/// follow the IFDs, smallest level first. The full resolution's tiles follow them too, unless
/// `insert` gives the file system's block size: then they stay where they are in their file and
/// the header, IFDs and overviews are to be inserted in front of them, in as many whole blocks
/// as they need. Returns the bytes up to the first tile and that shift (0 without `insert`).
fn layout(ifds: &mut [Out], bigtiff: bool, insert: Option<u64>) -> (Vec<u8>, u64) {
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
        out.entries
            .retain(|e| e.tag != TILE_OFFSETS && e.tag != TILE_BYTE_COUNTS);
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
    let mut shift = 0;
    let last = ifds.len() - 1;
    for (k, out) in ifds.iter_mut().rev().enumerate() {
        let offsets: Vec<u64> = match insert {
            Some(block) if k == last => {
                shift = at.next_multiple_of(block.max(1));
                let moved = |&o: &u64| if o == 0 { 0 } else { o + shift };
                out.image.offsets.iter().map(moved).collect()
            }
            _ => {
                let mut offsets = Vec::with_capacity(out.image.counts.len());
                for &c in &out.image.counts {
                    offsets.push(if c == 0 { 0 } else { at + 4 });
                    at += if c == 0 { 0 } else { 4 + c + trailer(c) };
                }
                offsets
            }
        };
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
    (b, shift)
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
/// Where `full`'s tiles are already in COG order with their leaders and trailers and
/// `may_insert` allows, `full` itself becomes the COG ([`insert_in_front`]: renamed to `dest`);
/// otherwise its tiles are copied behind the overviews into a new file.
pub(crate) fn assemble(full: &Path, levels: &[&Path], dest: &Path, may_insert: bool) -> Result<()> {
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
    if may_insert && in_order_with_leaders(&files[0], main) {
        if let Some(done) = insert_in_front(full, &mut ifds, bigtiff, dest) {
            return done;
        }
    }
    let (head, _) = layout(&mut ifds, bigtiff, None);
    let out = File::create(dest).map_err(|e| fail(dest, e.to_string()))?;
    let mut w = BufWriter::with_capacity(1 << 20, out);
    w.write_all(&head).map_err(|e| fail(dest, e.to_string()))?;
    write_tiles(&ifds, &mut w, full, dest)?;
    w.flush().map_err(|e| fail(dest, e.to_string()))?;
    Ok(())
}

fn fail(path: &Path, message: String) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        message: format!("assembling the COG: {message}"),
    }
}

/// Write the tiles of `ifds` (smallest overview first) to `w`, each with its leader and trailer.
fn write_tiles(ifds: &[Out], w: &mut impl Write, full: &Path, dest: &Path) -> Result<()> {
    let write_err = |e: std::io::Error| fail(dest, e.to_string());
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
            let copied = std::io::copy(&mut source.take(count), w).map_err(write_err)?;
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
    Ok(())
}

/// Insert `len` bytes (whole blocks of its file system) at the start of `file`; false where the
/// file system cannot (only Linux has `FALLOC_FL_INSERT_RANGE`; of its file systems, ext4 and XFS).
#[cfg(target_os = "linux")]
pub(crate) fn insert_blocks(file: &File, len: u64) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(len) = libc::off_t::try_from(len) else {
        return false;
    };
    // SAFETY: fallocate on an open file descriptor that `file` keeps alive; no memory is passed.
    unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_INSERT_RANGE, 0, len) == 0 }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn insert_blocks(_file: &File, _len: u64) -> bool {
    false
}

/// Writeback of the full resolution's file while the windows stream. Before it can shift a
/// file's blocks, ext4 writes every dirty page of the file to disk and drops it from the page
/// cache: at the end of a 10980² NDVI that was 0.24 s of 500 MB, all on the critical path. Asked
/// for as the file grows, that writeback happens beside the streaming, and 0.05 s are left.
#[derive(Default)]
pub(crate) struct Writeback {
    file: Option<File>,
    requested: u64,
}

impl Writeback {
    /// How much the file grows between two requests.
    const STEP: u64 = 32 << 20;

    /// Ask the kernel to start writing back what `path` gained since the last request, once
    /// that is [`Writeback::STEP`] or more. Only a request: nothing waits for the disk, and a
    /// failure (no such file yet) is no error.
    pub(crate) fn nudge(&mut self, path: &Path) {
        if self.file.is_none() {
            self.file = File::open(path).ok();
        }
        let Some(file) = &self.file else {
            return;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        if len >= self.requested + Self::STEP {
            start_writeback(file, self.requested, len - self.requested);
            self.requested = len;
        }
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, from: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    if let (Ok(from), Ok(len)) = (from.try_into(), len.try_into()) {
        // SAFETY: sync_file_range on an open file descriptor that `file` keeps alive; no
        // memory is passed. SYNC_FILE_RANGE_WRITE only starts the writeback.
        unsafe { libc::sync_file_range(file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _from: u64, _len: u64) {}

/// Whether the tiles of `image` already sit in `file` as a COG wants them: row-major (offsets
/// increasing), each with GDAL's leader and trailer (what [`crate::io::write`] asks GDAL for).
fn in_order_with_leaders(file: &File, image: &Image) -> bool {
    let mut previous = 0;
    let word = |at: u64| {
        let mut b = [0u8; 4];
        file.read_exact_at(&mut b, at).ok().map(|()| b)
    };
    for (&offset, &count) in image.offsets.iter().zip(&image.counts) {
        if count == 0 {
            continue;
        }
        if count < 4 || offset < previous + 4 || count > u64::from(u32::MAX) {
            return false;
        }
        let leader = word(offset - 4).map(u32::from_le_bytes);
        let (last, trailer) = (word(offset + count - 4), word(offset + count));
        if leader != Some(count as u32) || last.is_none() || last != trailer {
            return false;
        }
        previous = offset + count + 4;
    }
    true
}

/// Make the COG out of the full resolution's own file: insert whole file-system blocks in
/// front of its tiles (`fallocate(FALLOC_FL_INSERT_RANGE)`, ext4 and XFS), write the header,
/// IFDs and overviews there, and rename the file to `dest`, so that the full resolution is
/// neither copied nor read. `None` where the file system cannot insert (the caller copies).
fn insert_in_front(
    full: &Path,
    ifds: &mut [Out],
    bigtiff: bool,
    dest: &Path,
) -> Option<Result<()>> {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(full)
        .ok()?;
    let block = file.metadata().ok()?.blksize();
    let (head, shift) = layout(ifds, bigtiff, Some(block));
    if !insert_blocks(&file, shift) {
        return None;
    }
    // From here the file is the COG's: any failure is an error (the file is a temporary).
    let main = ifds[0].image;
    let end = main
        .offsets
        .iter()
        .zip(&main.counts)
        .filter(|(_, &c)| c > 0)
        .map(|(&o, &c)| o + shift + c + 4)
        .max()
        .unwrap_or(shift);
    let written = (|| -> Result<()> {
        file.write_all_at(&head, 0)
            .map_err(|e| fail(dest, e.to_string()))?;
        let mut w = BufWriter::with_capacity(1 << 20, &file);
        w.seek(SeekFrom::Start(head.len() as u64))
            .map_err(|e| fail(dest, e.to_string()))?;
        write_tiles(&ifds[1..], &mut w, full, dest)?;
        w.flush().map_err(|e| fail(dest, e.to_string()))?;
        drop(w);
        // Whatever GDAL left after the last tile (an IFD it rewrote at the end) is not the COG's.
        file.set_len(end).map_err(|e| fail(dest, e.to_string()))?;
        std::fs::rename(full, dest).map_err(|e| fail(dest, e.to_string()))
    })();
    Some(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::raster::RasterCreationOptions;
    use gdal::DriverManager;

    /// A 600 × 500 Float32 tiled GeoTIFF at `path`, its tiles written to the file row by row or
    /// column by column; with `extra` options, a copy of an empty VRT (the route an assembled COG's full
    /// resolution takes).
    fn tiled(path: &Path, extra: &[&str], row_major: bool) {
        let options = [
            "TILED=YES",
            "BLOCKXSIZE=256",
            "BLOCKYSIZE=256",
            "COMPRESS=ZSTD",
        ];
        let options = RasterCreationOptions::from_iter(options.iter().chain(extra).copied());
        let mut ds = if extra.is_empty() {
            DriverManager::get_driver_by_name("GTiff")
                .expect("GTiff")
                .create_with_band_type_with_options::<f32, _>(path, 600, 500, 1, &options)
                .expect("create")
        } else {
            DriverManager::get_driver_by_name("VRT")
                .expect("VRT")
                .create_with_band_type::<f32, _>("", 600, 500, 1)
                .expect("vrt")
                .create_copy(
                    &DriverManager::get_driver_by_name("GTiff").expect("GTiff"),
                    path,
                    &options,
                )
                .expect("copy")
        };
        let columns: Vec<(usize, usize)> = (0..3)
            .flat_map(|x| (0..2).map(move |y| (x * 256, y * 256)))
            .collect();
        let mut order = columns;
        if row_major {
            order.sort_by_key(|&(x, y)| (y, x));
        }
        for (x, y) in order {
            let (w, h) = (256.min(600 - x), 256.min(500 - y));
            let values = (0..w * h).map(|i| (x + y + i % 13) as f32).collect();
            let mut buffer = gdal::raster::Buffer::new((w, h), values);
            let mut band = ds.rasterband(1).expect("band");
            band.write((x as isize, y as isize), (w, h), &mut buffer)
                .expect("write");
            // Each tile to the file as it comes (the block cache would order them).
            ds.flush_cache().expect("flush");
        }
        ds.close().expect("close");
    }

    fn check(path: &Path) -> bool {
        let file = File::open(path).expect("open");
        let image = Image::read(&file).expect("TIFF");
        in_order_with_leaders(&file, &image)
    }

    /// Only tiles that GDAL wrote with leaders and trailers, in row-major order, stay in place.
    #[test]
    fn only_tiles_with_leaders_in_row_major_order_stay_in_place() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let plain = tmp.path().join("plain.tif");
        tiled(&plain, &[], true);
        assert!(!check(&plain), "a plain GeoTIFF has no leaders");
        let cog_route = ["COPY_SRC_OVERVIEWS=YES", "SPARSE_OK=TRUE"];
        let rows = tmp.path().join("rows.tif");
        tiled(&rows, &cog_route, true);
        assert!(check(&rows), "the COG route's full resolution");
        let columns = tmp.path().join("columns.tif");
        tiled(&columns, &cog_route, false);
        assert!(!check(&columns), "tiles written column by column");
    }
}
