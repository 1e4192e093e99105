//! The dates of a zip's entries. OGR writes a `.shp.zip` with every entry dated 0 in MS-DOS
//! form, which `unzip -l` and file managers show as "1980-00-00 00:00" (month and day 0 do not
//! exist); [`date_entries`] gives them the time they were written instead, as `zip` would. The
//! shapefile's DBF header carries the day of writing anyway, so the bytes were never the same
//! from one day to the next.

use std::path::Path;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::phenology::dates::Date;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;

/// Date every entry of the zip at `path` `when` (UTC: MS-DOS times carry no zone), in place.
pub(crate) fn date_entries(path: &Path, when: SystemTime) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = std::fs::read(path).map_err(io)?;
    let (time, date) = dos_time(when);
    if stamp(&mut bytes, time, date).is_none() {
        return Err(Error::internal(format!(
            "{}: not a zip file paddy can date (its directory did not read)",
            path.display()
        )));
    }
    std::fs::write(path, &bytes).map_err(io)
}

/// `when` in MS-DOS form: (time: hour << 11 | minute << 5 | second / 2, date: (year − 1980)
/// << 9 | month << 5 | day), UTC; before 1980, 1 January 1980.
fn dos_time(when: SystemTime) -> (u16, u16) {
    let secs = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i32::try_from(secs / 86_400).unwrap_or(i32::MAX);
    let (year, month, day) = Date::from_days_since_epoch(days).ymd();
    if !(1980..=2107).contains(&year) {
        return (0, (1 << 5) | 1);
    }
    let of_day = secs % 86_400;
    let (h, m, s) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let time = ((h << 11) | (m << 5) | (s / 2)) as u16;
    let date = (((year - 1980) as u32) << 9) | (month << 5) | day;
    (time, date as u16)
}

/// Set the time and date of every entry of the zip in `bytes`, in its central directory and in
/// each local header; the number of entries, or None when the archive does not read as a plain
/// (not Zip64) zip, in which case `bytes` may be partly changed.
fn stamp(bytes: &mut [u8], time: u16, date: u16) -> Option<usize> {
    // The end of central directory record: 22 bytes and a comment of at most 64 KiB, last.
    let earliest = bytes.len().saturating_sub(22 + 0xFFFF);
    let end = (earliest..=bytes.len().checked_sub(22)?)
        .rev()
        .find(|&i| u32_at(bytes, i) == Some(END_OF_CENTRAL_DIRECTORY))?;
    let entries = usize::from(u16_at(bytes, end + 10)?);
    let mut at = usize::try_from(u32_at(bytes, end + 16)?).ok()?;
    for _ in 0..entries {
        if u32_at(bytes, at)? != CENTRAL_HEADER {
            return None;
        }
        put_u16(bytes, at + 12, time)?;
        put_u16(bytes, at + 14, date)?;
        let local = usize::try_from(u32_at(bytes, at + 42)?).ok()?;
        if u32_at(bytes, local)? != LOCAL_HEADER {
            return None;
        }
        put_u16(bytes, local + 10, time)?;
        put_u16(bytes, local + 12, date)?;
        let name = usize::from(u16_at(bytes, at + 28)?);
        let extra = usize::from(u16_at(bytes, at + 30)?);
        let comment = usize::from(u16_at(bytes, at + 32)?);
        at += 46 + name + extra + comment;
    }
    Some(entries)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn put_u16(bytes: &mut [u8], at: usize, value: u16) -> Option<()> {
    bytes
        .get_mut(at..at.checked_add(2)?)?
        .copy_from_slice(&value.to_le_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dos_times_are_the_calendar_utc() {
        // 2026-07-18 13:45:30 UTC is 1 784 382 330 s after 1970 (20 652 days + 49 530 s).
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(20_652 * 86_400 + 49_530);
        let (time, date) = dos_time(when);
        assert_eq!(date >> 9, 2026 - 1980);
        assert_eq!((date >> 5) & 0xF, 7);
        assert_eq!(date & 0x1F, 18);
        assert_eq!(
            (time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2),
            (13, 45, 30)
        );
        assert_eq!(dos_time(SystemTime::UNIX_EPOCH), (0, (1 << 5) | 1));
    }

    /// A zip as `zip` writes it for two stored entries (a minimal archive built here by the
    /// format's layout), dated 0 as OGR dates its entries.
    fn two_entry_zip() -> Vec<u8> {
        let mut zip = Vec::new();
        let mut central = Vec::new();
        for (name, data) in [("a.shp", &b"abc"[..]), ("a.dbf", &b"de"[..])] {
            let offset = zip.len() as u32;
            let crc = 0u32;
            zip.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
            zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            zip.extend_from_slice(&crc.to_le_bytes());
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
            zip.extend_from_slice(&0u16.to_le_bytes());
            zip.extend_from_slice(name.as_bytes());
            zip.extend_from_slice(data);
            central.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let start = zip.len() as u32;
        let size = central.len() as u32;
        zip.extend(central);
        zip.extend_from_slice(&END_OF_CENTRAL_DIRECTORY.to_le_bytes());
        zip.extend_from_slice(&[0, 0, 0, 0, 2, 0, 2, 0]);
        zip.extend_from_slice(&size.to_le_bytes());
        zip.extend_from_slice(&start.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    #[test]
    fn every_entry_is_dated_in_both_headers() {
        let mut zip = two_entry_zip();
        let before = zip.clone();
        assert_eq!(stamp(&mut zip, 0x6ABC, 0x5CF2), Some(2));
        // Only the date fields changed: 4 bytes in each of 2 local and 2 central headers.
        let changed = zip.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert!(changed <= 16, "{changed} bytes changed");
        for local in [0, 30 + 5 + 3] {
            assert_eq!(u16_at(&zip, local + 10), Some(0x6ABC));
            assert_eq!(u16_at(&zip, local + 12), Some(0x5CF2));
        }
        // Not a zip, or cut short: refused, no panic.
        assert_eq!(
            stamp(&mut b"not a zip at all, not at all".to_vec(), 1, 1),
            None
        );
        let cut = zip.len() - 30;
        assert_eq!(stamp(&mut zip[..cut].to_vec(), 1, 1), None);
    }
}
