//! Checks on uploaded archives before any parser opens them: Office files (.xlsx, .docx) and
//! content packages are zips, and a zip can hide a bomb or a path that climbs out of a folder.
use std::io::{Cursor, Read};

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
}
