//! The language of what people read, chosen per request from `Accept-Language`.
//! Vietnamese is the default; English when the client prefers it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// Picks the first of `vi` or `en` by quality value; anything else falls back to Vietnamese.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Vi;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("vi") => Lang::Vi,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Vi)
    }
}

/// What a request carries through its task: its id and its reader's language.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub lang: Lang,
}

tokio::task_local! {
    pub static REQUEST: RequestContext;
}

pub fn current_lang() -> Lang {
    REQUEST.try_with(|c| c.lang).unwrap_or(Lang::Vi)
}

pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|c| c.request_id.clone()).ok()
}

/// The table: code → (Vietnamese, English), from `messages.tsv`.
static MESSAGES: std::sync::LazyLock<
    std::collections::HashMap<&'static str, (&'static str, &'static str)>,
> = std::sync::LazyLock::new(|| {
    table(include_str!("messages.tsv")).expect("messages.tsv is checked by the tests")
});

/// Reads the table; a line without both texts, or a code twice, is an error naming the line.
fn table(
    text: &'static str,
) -> Result<std::collections::HashMap<&'static str, (&'static str, &'static str)>, String> {
    let mut out = std::collections::HashMap::new();
    let rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1);
    for (n, line) in rows {
        let fields: Vec<&str> = line.split('\t').collect();
        let [code, vi, en] = fields[..] else {
            return Err(format!("line {}: expected code, vi, en", n + 1));
        };
        if code.is_empty() || vi.trim().is_empty() || en.trim().is_empty() {
            return Err(format!("line {}: {code:?} needs both texts", n + 1));
        }
        if out.insert(code, (vi, en)).is_some() {
            return Err(format!("line {}: {code:?} appears twice", n + 1));
        }
    }
    Ok(out)
}

/// Human text for a stable code, in both languages. Unknown codes fall back to a generic text,
/// so a missing entry never hides the code itself.
pub fn text(code: &str) -> (&'static str, &'static str) {
    MESSAGES
        .get(code)
        .copied()
        .unwrap_or(("Yêu cầu không hợp lệ.", "The request is not valid."))
}

pub fn message(code: &str) -> &'static str {
    let (vi, en) = text(code);
    match current_lang() {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_with_both_texts_for_every_code_and_no_code_twice() {
        let table = table(include_str!("messages.tsv")).expect("the table reads");
        assert!(table.len() > 200);
        assert_eq!(
            text("invalid_cursor"),
            (
                "Con trỏ phân trang không hợp lệ.",
                "The page cursor is not valid."
            )
        );
        assert!(super::table("code\tvi\ten\nx\tchỉ tiếng Việt\t\n").is_err());
        assert!(super::table("code\tvi\ten\nx\ta\tb\nx\tc\td\n").is_err());
    }

    #[test]
    fn accept_language_picks_by_quality() {
        let cases = [
            (None, Lang::Vi, "no header means Vietnamese"),
            (Some("en-US,en;q=0.9"), Lang::En, "plain English"),
            (
                Some("fr, en;q=0.5, vi;q=0.8"),
                Lang::Vi,
                "vi has the higher q",
            ),
            (Some("vi;q=0.2, en;q=0.7"), Lang::En, "en has the higher q"),
            (Some("de, fr"), Lang::Vi, "unsupported languages fall back"),
        ];
        for (header, want, why) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{why}");
        }
    }
}
