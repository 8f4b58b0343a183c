//! Checks on uploaded archives before any parser opens them: Office files (.xlsx, .docx) and
//! content packages are zips, and a zip can hide a bomb or a path that climbs out of a folder.
use std::{
    collections::HashMap,
    io::{Cursor, Read},
};

use bytes::Bytes;

use crate::imports::Budget;

pub struct ZipLimits {
    pub max_entries: usize,
    /// Total bytes after decompression, counted for real, not taken from the headers.
    pub max_total: u64,
}

/// Office documents small enough to handle in memory.
pub const OFFICE: ZipLimits = ZipLimits {
    max_entries: 2_000,
    max_total: 100 * 1024 * 1024,
};

pub fn check_zip(bytes: &[u8], limits: &ZipLimits) -> Result<(), &'static str> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| "unreadable_file")?;
    if archive.len() > limits.max_entries {
        return Err("archive_too_large");
    }
    let mut budget = limits.max_total;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|_| "unreadable_file")?;
        if entry.enclosed_name().is_none() {
            return Err("unsafe_path");
        }
        // Decompress into nothing, stopping one byte past what is left of the budget.
        let read = std::io::copy(&mut entry.take(budget + 1), &mut std::io::sink())
            .map_err(|_| "unreadable_file")?;
        if read > budget {
            return Err("archive_too_large");
        }
        budget -= read;
    }
    Ok(())
}

/// An uploaded archive whose parts a parser asks for by name. Each distinct part is inflated
/// once and paid for from the import budget; asking again returns the same bytes. (A .docx
/// that referred to one image 10,000 times, or a QTI manifest that listed one item as often,
/// used to inflate it each time.)
pub struct Archive<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    parts: HashMap<String, Option<Bytes>>,
}

impl<'a> Archive<'a> {
    /// Opens an archive after `check_zip` with the Office limits.
    pub fn open(bytes: &'a [u8]) -> Result<Self, &'static str> {
        check_zip(bytes, &OFFICE)?;
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| "unreadable_file")?;
        Ok(Self {
            zip,
            parts: HashMap::new(),
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// The part's bytes, or None when the archive has no such part.
    pub fn part(&mut self, name: &str, budget: &mut Budget) -> Result<Option<Bytes>, &'static str> {
        if name.contains("..") || name.starts_with('/') {
            return Err("unsafe_path");
        }
        if let Some(known) = self.parts.get(name) {
            return Ok(known.clone());
        }
        let read = match self.zip.by_name(name) {
            Ok(file) => {
                let mut out = Vec::new();
                file.take(budget.bytes_left().saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|_| "unreadable_file")?;
                budget.spend_bytes(out.len() as u64)?;
                Some(Bytes::from(out))
            }
            Err(zip::result::ZipError::FileNotFound) => None,
            Err(_) => return Err("unreadable_file"),
        };
        self.parts.insert(name.to_owned(), read.clone());
        Ok(read)
    }

    /// How many parts were inflated: each at most once.
    #[cfg(test)]
    fn inflated_parts(&self) -> usize {
        self.parts.values().filter(|p| p.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn bombs_paths_and_garbage_are_refused() {
        let small = ZipLimits {
            max_entries: 3,
            max_total: 1024,
        };
        assert_eq!(check_zip(&zip_of(&[("a.xml", b"<a/>")]), &small), Ok(()));
        let zeros = vec![0u8; 4096];
        let bomb = zip_of(&[("xl/sharedStrings.xml", &zeros)]);
        assert!(bomb.len() < 1024, "the bomb is small compressed");
        assert_eq!(check_zip(&bomb, &small), Err("archive_too_large"));
        assert_eq!(
            check_zip(&zip_of(&[("../../etc/passwd", b"x")]), &small),
            Err("unsafe_path")
        );
        assert_eq!(
            check_zip(
                &zip_of(&[("a", b""), ("b", b""), ("c", b""), ("d", b"")]),
                &small
            ),
            Err("archive_too_large")
        );
        assert_eq!(
            check_zip(b"PK\x03\x04 truncated", &small),
            Err("unreadable_file")
        );
    }

    #[test]
    fn each_part_is_inflated_once_and_paid_for_from_the_budget() {
        let image = vec![7u8; 4096];
        let bytes = zip_of(&[("word/media/a.png", &image), ("x.xml", b"<x/>")]);
        let mut archive = Archive::open(&bytes).unwrap();
        let mut budget = Budget::new(5_000, 10, std::time::Duration::from_secs(60));
        for _ in 0..1_000 {
            let part = archive.part("word/media/a.png", &mut budget).unwrap();
            assert_eq!(part.as_deref(), Some(&image[..]));
        }
        assert_eq!(archive.inflated_parts(), 1);
        assert_eq!(budget.bytes_left(), 5_000 - 4096);
        assert_eq!(archive.part("missing", &mut budget), Ok(None));
        assert_eq!(archive.part("../x.xml", &mut budget), Err("unsafe_path"));
        // A second distinct part over what is left is refused with the budget's code.
        let mut small = Budget::new(4_000, 10, std::time::Duration::from_secs(60));
        assert_eq!(
            Archive::open(&bytes)
                .unwrap()
                .part("word/media/a.png", &mut small),
            Err(crate::imports::TOO_LARGE)
        );
    }
}
