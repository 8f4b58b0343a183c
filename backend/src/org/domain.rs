//! Validated values of the organisation: logins, email addresses, codes, dates, school years.
use chrono::{Datelike, NaiveDate};

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
    fn dates_in_vietnamese_and_iso_form() {
        let want = NaiveDate::from_ymd_opt(2009, 3, 7).unwrap();
        assert_eq!(parse_date("07/03/2009"), Ok(want));
        assert_eq!(parse_date("2009-03-07"), Ok(want));
        assert_eq!(parse_date("31/02/2009"), Err("invalid_date"));
        assert_eq!(parse_date("hôm qua"), Err("invalid_date"));
    }

    #[test]
    fn school_years_and_codes() {
        assert!(check_school_year("2025-2026").is_ok());
        assert!(check_school_year("2025-2027").is_err());
        assert!(check_school_year("25-26").is_err());
        assert!(check_code("THPT-CVA").is_ok());
        assert!(check_code("THPT CVA").is_err());
        assert_eq!(generate_password().len(), 12);
    }
}
