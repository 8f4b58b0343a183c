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
/// `![alt](blob:key)` image syntax pass through untouched. Stripping repeats until nothing
/// changes, so a tag hidden inside another (`<<b>img …>`) does not survive. This keeps pasted
/// markup out of the bank; it is not what makes text safe: every writer escapes what it outputs
/// with `escape_markup` (docs/SECURITY.md, finding 7).
pub fn clean_text(raw: &str) -> String {
    let mut text = raw.nfc().collect::<String>();
    loop {
        let stripped = strip_tags_once(&text);
        if stripped == text {
            return text.trim().to_owned();
        }
        text = stripped;
    }
}

fn strip_tags_once(raw: &str) -> String {
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
    out
}

/// Text made inert in HTML, XML, SVG and Word's XML: the one escape every writer uses, so text
/// that holds markup (an essay, a pasted stem) is shown as the characters it is.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
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

    #[test]
    fn hidden_and_nested_tags_do_not_survive_stripping_and_escaping_makes_the_rest_inert() {
        for attack in [
            "<<b>img src=x onerror=alert(1)>",
            "<<<i>b>script>alert(1)<</i>/script>",
            "<scr<b>ipt>alert(1)</scr</b>ipt>",
        ] {
            let cleaned = clean_text(attack);
            assert!(
                !cleaned.contains("<img") && !cleaned.contains("<script"),
                "{attack} -> {cleaned}"
            );
        }
        // Text that is not stripped (a `$` inside, as maths may hold) is escaped on output.
        let kept = clean_text("<img src=x onerror=alert(1) title=\"$\">");
        let shown = escape_markup(&kept);
        assert!(!shown.contains('<') && !shown.contains('"'), "{shown}");
        assert_eq!(
            escape_markup("a<b & \"c\" 'd'"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;"
        );
    }
}
