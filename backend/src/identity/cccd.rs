//! The chip ID card (căn cước công dân): the 12-digit number checked by its structure, and the
//! one-line QR payload a proctor's scanner types.
use chrono::NaiveDate;

/// Province codes of birth registration (Circular 07/2016/TT-BCA, 63 provinces and cities).
const PROVINCES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37,
    38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77,
    79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdNumber {
    pub digits: String,
    pub female: bool,
    /// The birth year the number encodes.
    pub birth_year: i32,
}

/// Digits 1-3: province of birth registration; digit 4: sex and century (even male, odd
/// female; 0-1 born 1900-1999, 2-3 2000-2099, …); digits 5-6: the birth year's last two digits;
/// digits 7-12: random.
pub fn parse_number(text: &str) -> Result<IdNumber, &'static str> {
    let digits = text.trim();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("invalid_id_number");
    }
    let province: u16 = digits[..3].parse().map_err(|_| "invalid_id_number")?;
    if !PROVINCES.contains(&province) {
        return Err("invalid_id_number");
    }
    let code = i32::from(digits.as_bytes()[3] - b'0');
    let year: i32 = digits[4..6].parse().map_err(|_| "invalid_id_number")?;
    Ok(IdNumber {
        digits: digits.to_owned(),
        female: code % 2 == 1,
        birth_year: 1900 + (code / 2) * 100 + year,
    })
}

/// What the card's QR code says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardQr {
    pub number: IdNumber,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub female: Option<bool>,
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%d%m%Y").ok()
}

/// `number|old 9-digit ID|full name|ddmmyyyy|Nam/Nữ|address|issue ddmmyyyy`.
pub fn parse_qr(line: &str) -> Result<CardQr, &'static str> {
    let fields: Vec<&str> = line.trim().split('|').collect();
    if fields.len() < 5 || fields[2].trim().is_empty() {
        return Err("malformed_qr");
    }
    let number = parse_number(fields[0])?;
    let birth_date = date(fields[3]).ok_or("malformed_qr")?;
    let female = match crate::text::fold(fields[4]).as_str() {
        "nu" => Some(true),
        "nam" => Some(false),
        _ => None,
    };
    if number.birth_year != chrono::Datelike::year(&birth_date) {
        return Err("invalid_id_number");
    }
    Ok(CardQr {
        number,
        full_name: crate::text::clean_name(fields[2]),
        birth_date,
        female,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_is_checked_by_its_structure() {
        let n = parse_number("001308012345").unwrap();
        assert_eq!((n.female, n.birth_year), (true, 2008));
        let m = parse_number("079208001234").unwrap();
        assert_eq!((m.female, m.birth_year), (false, 2008));
        for bad in [
            "00130801234",
            "0013080123456",
            "00130801234a",
            "003308012345",
            "000308012345",
        ] {
            assert_eq!(parse_number(bad), Err("invalid_id_number"), "{bad}");
        }
    }

    #[test]
    fn the_qr_line_is_read() {
        let qr =
            parse_qr("001308012345||Nguyễn Thị Lan|07032008|Nữ|Số 1 Tràng Tiền, Hà Nội|01052021")
                .unwrap();
        assert_eq!(qr.full_name, "Nguyễn Thị Lan");
        assert_eq!(qr.birth_date, NaiveDate::from_ymd_opt(2008, 3, 7).unwrap());
        assert_eq!(qr.female, Some(true));
        assert_eq!(parse_qr("001308012345|Nguyễn Thị Lan"), Err("malformed_qr"));
        assert_eq!(
            parse_qr("001308012345||Lan|31022008|Nữ|x|y"),
            Err("malformed_qr")
        );
        // The number says born in 2008; the card's date says 2009.
        assert_eq!(
            parse_qr("001308012345||Lan|07032009|Nữ|x|y"),
            Err("invalid_id_number")
        );
    }
}
