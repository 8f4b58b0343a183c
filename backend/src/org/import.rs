//! Roster files (CSV or Excel .xlsx) read into rows, with a report line for every row.
use std::{collections::BTreeMap, io::Cursor};

use bytes::Bytes;
use calamine::{Data, Reader, Xlsx};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::ApiError,
    imports::{Budget, ImportQueue},
    text::fold,
};

pub const MAX_ROWS: usize = 20_000;
/// Columns a row may use: a roster has about ten; a cell beyond is refused, not ignored.
pub const MAX_COLUMNS: u32 = 100;

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

/// Reads a roster off the HTTP workers, within the import budget (`imports`).
pub async fn read_queued(
    queue: &ImportQueue,
    kind: FileKind,
    body: Bytes,
) -> Result<Table, ApiError> {
    queue.run(move |budget| read(kind, &body, budget)).await
}

pub fn read(kind: FileKind, bytes: &[u8], budget: &mut Budget) -> Result<Table, &'static str> {
    match kind {
        FileKind::Csv => read_csv(bytes, budget),
        FileKind::Xlsx => read_xlsx(bytes, budget),
    }
}

fn read_csv(bytes: &[u8], budget: &mut Budget) -> Result<Table, &'static str> {
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
        if record.len() > MAX_COLUMNS as usize {
            return Err("payload_too_large");
        }
        // Blank lines count too: the header and MAX_ROWS rows, and one to tell "more".
        if index > MAX_ROWS + 1 {
            return Err("payload_too_large");
        }
        budget.spend_node()?;
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

/// The first sheet, cell by cell: a sheet that puts one cell in A1 and another in XFD1048576
/// would make a dense range of 17 billion cells, so rows are gathered sparsely and bounded.
fn read_xlsx(bytes: &[u8], budget: &mut Budget) -> Result<Table, &'static str> {
    crate::files::check_zip(bytes, &crate::files::OFFICE)?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| "unreadable_file")?;
    let first = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or("empty_file")?;
    let mut cells = workbook
        .worksheet_cells_reader(&first)
        .map_err(|_| "unreadable_file")?;
    let mut sparse: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let mut first_column = u32::MAX;
    while let Some(cell) = cells.next_cell().map_err(|_| "unreadable_file")? {
        budget.spend_node()?;
        let (row, column) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.trim().is_empty() {
            continue;
        }
        if column >= MAX_COLUMNS {
            return Err("payload_too_large");
        }
        if !sparse.contains_key(&row) && sparse.len() > MAX_ROWS {
            return Err("payload_too_large");
        }
        first_column = first_column.min(column);
        sparse.entry(row).or_default().push((column, text));
    }
    let rows = sparse
        .into_iter()
        .map(|(row, filled)| {
            let width = filled.iter().map(|(c, _)| c - first_column + 1).max();
            let mut cells = vec![String::new(); width.unwrap_or(0) as usize];
            for (column, text) in filled {
                cells[(column - first_column) as usize] = text;
            }
            (row as usize + 1, cells)
        })
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
pub struct RosterImportReport {
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

    fn read(kind: FileKind, bytes: &[u8]) -> Result<Table, &'static str> {
        super::read(kind, bytes, &mut Budget::for_import())
    }

    fn sheet(cells: &[(u32, u16, &str)]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (row, column, text) in cells {
            sheet.write_string(*row, *column, *text).unwrap();
        }
        book.save_to_buffer().unwrap()
    }

    /// Two cells far apart used to make a dense range of every cell between them (17 billion
    /// for A1 and XFD1048576): rows are now gathered sparsely, and a far column is refused.
    #[test]
    fn a_sheet_is_read_sparsely_and_far_cells_are_refused() {
        let header = [(0, 0, "login"), (0, 1, "full_name"), (0, 2, "role")];
        let mut cells = header.to_vec();
        cells.extend([
            (1_048_000, 0, "hs01"),
            (1_048_000, 1, "An"),
            (1_048_000, 2, "học sinh"),
        ]);
        let table = read(FileKind::Xlsx, &sheet(&cells)).unwrap();
        assert_eq!(table.rows.len(), 1);
        assert_eq!(
            table.rows[0].0, 1_048_001,
            "the row number as Excel shows it"
        );
        assert_eq!(table.get(&table.rows[0].1, Column::FullName), Some("An"));

        let mut far = header.to_vec();
        far.push((1_048_575, 16_383, "x"));
        assert_eq!(
            read(FileKind::Xlsx, &sheet(&far)).err(),
            Some("payload_too_large")
        );
    }

    #[test]
    fn too_many_rows_are_refused_before_they_are_all_held() {
        let mut file = String::from("login,full_name,role\n");
        for i in 0..=MAX_ROWS + 5 {
            file.push_str(&format!("hs{i},An,học sinh\n"));
        }
        assert_eq!(
            read(FileKind::Csv, file.as_bytes()).err(),
            Some("payload_too_large")
        );
        let mut small = Budget::new(u64::MAX, 10, std::time::Duration::from_secs(60));
        assert_eq!(
            super::read(FileKind::Csv, file.as_bytes(), &mut small).err(),
            Some(crate::imports::TOO_COMPLEX)
        );
    }

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
