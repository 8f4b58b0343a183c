//! Logins: the one name an account signs in with, compared in one form however it was typed.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lower_case_ascii_of_a_bounded_length() {
        assert_eq!(normalise_login("  HS.An@Truong.VN "), "hs.an@truong.vn");
        assert!(check_login("hs.an-2009@truong.vn").is_ok());
        assert!(check_login("Nguyễn").is_err());
        assert!(check_login("ab").is_err());
    }
}
