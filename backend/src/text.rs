//! Text as people type it, made safe and comparable: names kept exactly (NFC), text stripped of
//! markup, and the folded form (lower case, no diacritics) every search and lookup compares.
//! Shared words below the capabilities: it imports nothing of the crate.
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

/// Removes HTML tags (never rendered as HTML), normalises to NFC and trims. LaTeX and the
/// `![alt](blob:key)` image syntax pass through untouched.
pub fn clean_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after
            .find('>')
            .filter(|end| looks_like_tag(&after[1..*end]))
        {
            Some(end) => rest = &after[end + 1..],
            None => {
                // A `<` of mathematics (`$a<b$`), not markup.
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out.nfc().collect::<String>().trim().to_owned()
}

/// `b`, `/p`, `img src="x"`, `br/`, `!-- comment --`: a tag name, then anything but maths.
fn looks_like_tag(inner: &str) -> bool {
    if inner.starts_with("!--") {
        return inner.ends_with("--");
    }
    let name = inner.strip_prefix('/').unwrap_or(inner);
    let name_len = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name[name_len..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == '/')
        && !inner.contains('$')
        && !inner.contains('\n')
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
    fn html_is_stripped_but_maths_survives() {
        assert_eq!(
            clean_text("<b>Cho</b> hàm số <script>alert(1)</script>$y=x^2$"),
            "Cho hàm số alert(1)$y=x^2$"
        );
        assert_eq!(clean_text("Nếu $a<b$ và $b < c$"), "Nếu $a<b$ và $b < c$");
        assert_eq!(clean_text("$a<b$ và $c>d$"), "$a<b$ và $c>d$");
        assert_eq!(
            clean_text("<p>Một</p><!-- x --><br/><img src=\"a.png\" onerror=\"alert(1)\">hai"),
            "Mộthai"
        );
        assert_eq!(
            clean_text("  Hình: ![đồ thị](blob:items/a.png) "),
            "Hình: ![đồ thị](blob:items/a.png)"
        );
    }
}
