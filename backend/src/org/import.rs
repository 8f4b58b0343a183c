//! Roster files (CSV or Excel .xlsx) read into rows, with a report line for every row.
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde::Serialize;
use utoipa::ToSchema;

use crate::text::fold;

pub const MAX_ROWS: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

/// Decides by content, not by name: an .xlsx is a zip, a CSV is UTF-8 text.
pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Result<FileKind, &'static str> {
    let declared = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    match declared.as_str() {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if is_zip => {
            Ok(FileKind::Xlsx)
        }
        "text/csv" | "text/plain" | "application/csv" if !is_zip => Ok(FileKind::Csv),
        "application/octet-stream" | "" if is_zip => Ok(FileKind::Xlsx),
        "application/octet-stream" | "" => Ok(FileKind::Csv),
        _ => Err("unsupported_media_type"),
    }
}

/// The columns a roster may have, found by their folded header in Vietnamese or English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Login,
    FullName,
    Role,
    Class,
    BirthDate,
    Email,
    Password,
    Subjects,
}

fn column_of(header: &str) -> Option<Column> {
    Some(match fold(header).replace('_', " ").as_str() {
        "login" | "username" | "ten dang nhap" | "tai khoan" => Column::Login,
        "full name" | "name" | "ho ten" | "ho va ten" => Column::FullName,
        "role" | "vai tro" => Column::Role,
        "class" | "lop" => Column::Class,
        "birth date" | "date of birth" | "ngay sinh" => Column::BirthDate,
        "email" | "thu dien tu" => Column::Email,
        "password" | "mat khau" => Column::Password,
        "subjects" | "subject" | "mon" | "mon hoc" => Column::Subjects,
        _ => return None,
    })
}

pub struct Table {
    columns: Vec<Option<Column>>,
    /// Every header folded (no diacritics, lower case), for files with columns of their own.
    pub headers: Vec<String>,
    /// (the row's number as the spreadsheet shows it, its cells)
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    pub fn get<'a>(&self, cells: &'a [String], column: Column) -> Option<&'a str> {
        let index = self.columns.iter().position(|c| *c == Some(column))?;
        cells.get(index).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn missing_required(&self) -> Vec<&'static str> {
        [
            (Column::Login, "login"),
            (Column::FullName, "full_name"),
            (Column::Role, "role"),
        ]
        .into_iter()
        .filter(|(c, _)| !self.columns.contains(&Some(*c)))
        .map(|(_, name)| name)
        .collect()
    }
}

fn build(mut raw: Vec<(usize, Vec<String>)>) -> Result<Table, &'static str> {
    raw.retain(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    if raw.is_empty() {
        return Err("empty_file");
    }
    let (_, header) = raw.remove(0);
    if raw.is_empty() {
        return Err("empty_file");
    }
    if raw.len() > MAX_ROWS {
        return Err("payload_too_large");
    }
    Ok(Table {
        columns: header.iter().map(|h| column_of(h)).collect(),
        headers: header.iter().map(|h| fold(h).replace('_', " ")).collect(),
        rows: raw,
    })
}

pub fn read(kind: FileKind, bytes: &[u8]) -> Result<Table, &'static str> {
    match kind {
        FileKind::Csv => read_csv(bytes),
        FileKind::Xlsx => read_xlsx(bytes),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Table, &'static str> {
    // Excel writes a byte-order mark; legacy encodings (TCVN3, VNI) are refused, not guessed.
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| "unreadable_file")?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|_| "unreadable_file")?;
        rows.push((index + 1, record.iter().map(str::to_owned).collect()));
    }
    build(rows)
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => {
            // Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
            let days = d.as_f64().floor() as i64;
            chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                .and_then(|base| base.checked_add_signed(chrono::Duration::days(days)))
                .map(|date| date.format("%d/%m/%Y").to_string())
                .unwrap_or_default()
        }
    }
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, &'static str> {
    crate::files::check_zip(bytes, &crate::files::OFFICE)?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| "unreadable_file")?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or("empty_file")?
        .map_err(|_| "unreadable_file")?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    if range.height() > MAX_ROWS + 1 {
        return Err("payload_too_large");
    }
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, row)| (first_row + i + 1, row.iter().map(cell_text).collect()))
        .collect();
    build(rows)
}

#[derive(Serialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Created,
    /// A dry run: the row is valid and would be created.
    WouldCreate,
    Skipped,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct RowReport {
    /// The row number as the spreadsheet shows it (the header is row 1).
    pub row: usize,
    pub login: Option<String>,
    pub status: RowStatus,
    /// Why the row was skipped: the column and a stable code with its text.
    pub field: Option<&'static str>,
    pub reason_code: Option<&'static str>,
    pub reason: Option<&'static str>,
    /// Shown once, for rows created without a password in the file.
    pub initial_password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// True when the valid rows were written.
    pub committed: bool,
    pub created: usize,
    pub skipped: usize,
    pub rows: Vec<RowReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_semicolons_and_vietnamese_headers() {
        let file = "\u{feff}Tên đăng nhập;Họ và tên;Vai trò;Lớp\nhs01;Nguyễn Văn An;học sinh;12A1\n;;;\nhs02;Trần Thị Bình;học sinh;12A1\n";
        let table = read(FileKind::Csv, file.as_bytes()).unwrap();
        assert!(table.missing_required().is_empty());
        assert_eq!(table.rows.len(), 2, "the blank row is dropped");
        let (row_number, cells) = &table.rows[1];
        assert_eq!(
            *row_number, 4,
            "row numbers count the header and blank rows"
        );
        assert_eq!(table.get(cells, Column::FullName), Some("Trần Thị Bình"));
        assert_eq!(table.get(cells, Column::Class), Some("12A1"));
    }

    #[test]
    fn content_decides_the_kind() {
        assert_eq!(detect(Some("text/csv"), b"a,b"), Ok(FileKind::Csv));
        assert_eq!(detect(None, b"PK\x03\x04rest"), Ok(FileKind::Xlsx));
        assert_eq!(
            detect(Some("text/csv"), b"PK\x03\x04rest"),
            Err("unsupported_media_type")
        );
        assert_eq!(
            detect(Some("image/png"), b"\x89PNG"),
            Err("unsupported_media_type")
        );
    }

    #[test]
    fn broken_files_are_refused() {
        assert_eq!(
            read(FileKind::Xlsx, b"PK\x03\x04 not really a zip").err(),
            Some("unreadable_file")
        );
        assert_eq!(
            read(FileKind::Csv, b"login,full_name,role\n").err(),
            Some("empty_file")
        );
        assert_eq!(
            read(FileKind::Csv, b"\xff\xfe\x00l").err(),
            Some("unreadable_file")
        );
    }
}
