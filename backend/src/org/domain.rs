//! Validated values of the organisation: names kept exactly (NFC), folded forms for
//! diacritic-insensitive lookups, logins, dates, school years.
use chrono::{Datelike, NaiveDate};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// A person's or school's name as typed, trimmed, inner spaces collapsed, in NFC so the same
/// name typed on two keyboards (precomposed or combining marks) is stored identically.
pub fn clean_name(raw: &str) -> String {
    raw.nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lower case without diacritics, for search: "Nguyễn Thị Đào" -> "nguyen thi dao".
pub fn fold(raw: &str) -> String {
    raw.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn normalise_login(raw: &str) -> String {
    raw.trim().to_lowercase()
}

pub fn check_login(login: &str) -> Result<(), &'static str> {
    let ok = (3..=64).contains(&login.len())
        && login.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        });
    if ok { Ok(()) } else { Err("invalid_login") }
}

pub fn check_email(email: &str) -> Result<(), &'static str> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if ok { Ok(()) } else { Err("invalid_email") }
}

pub fn check_name(name: &str) -> Result<(), &'static str> {
    match name.chars().count() {
        0 => Err("required"),
        n if n > 200 => Err("too_long"),
        _ => Ok(()),
    }
}

/// A short code (school code): unaccented letters, digits, `-` and `_`.
pub fn check_code(code: &str) -> Result<(), &'static str> {
    let ok = (1..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err("invalid_code") }
}

/// `dd/mm/yyyy` (as Vietnamese forms write it) or ISO `yyyy-mm-dd`.
pub fn parse_date(raw: &str) -> Result<NaiveDate, &'static str> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d-%m-%Y"))
        .ok()
        .filter(|d| (1900..=2100).contains(&d.year()))
        .ok_or("invalid_date")
}

/// "2025-2026": two consecutive years.
pub fn check_school_year(raw: &str) -> Result<(), &'static str> {
    let ok = raw.split_once('-').is_some_and(|(a, b)| {
        matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a >= 2000 && b == a + 1 && a.to_string().len() == 4)
    });
    if ok {
        Ok(())
    } else {
        Err("invalid_school_year")
    }
}

pub fn check_school_level(raw: &str) -> Result<&'static str, &'static str> {
    match raw.trim().to_uppercase().as_str() {
        "TH" => Ok("TH"),
        "THCS" => Ok("THCS"),
        "THPT" => Ok("THPT"),
        _ => Err("invalid_school_level"),
    }
}

/// A random password for accounts created without one: 12 characters, no look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_diacritics_and_fold_for_search() {
        let decomposed = "Nguye\u{302}\u{303}n Thi\u{323} \u{110}a\u{300}o";
        assert_eq!(clean_name(decomposed), "Nguyễn Thị Đào");
        assert_eq!(clean_name("  Lê   Văn  Tám "), "Lê Văn Tám");
        assert_eq!(fold("Nguyễn Thị Đào"), "nguyen thi dao");
        assert_eq!(fold(decomposed), "nguyen thi dao");
        assert_eq!(fold("Dao động điều hòa"), "dao dong dieu hoa");
    }

    #[test]
    fn dates_in_vietnamese_and_iso_form() {
        let want = NaiveDate::from_ymd_opt(2009, 3, 7).unwrap();
        assert_eq!(parse_date("07/03/2009"), Ok(want));
        assert_eq!(parse_date("2009-03-07"), Ok(want));
        assert_eq!(parse_date("31/02/2009"), Err("invalid_date"));
        assert_eq!(parse_date("hôm qua"), Err("invalid_date"));
    }

    #[test]
    fn logins_school_years_and_codes() {
        assert!(check_login("hs.an-2009@truong.vn").is_ok());
        assert!(check_login("Nguyễn").is_err());
        assert!(check_login("ab").is_err());
        assert!(check_school_year("2025-2026").is_ok());
        assert!(check_school_year("2025-2027").is_err());
        assert!(check_school_year("25-26").is_err());
        assert!(check_code("THPT-CVA").is_ok());
        assert!(check_code("THPT CVA").is_err());
        assert_eq!(generate_password().len(), 12);
    }
}
