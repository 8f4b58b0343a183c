//! What the pages say, from one table (`texts.tsv`): Vietnamese first, English on request.
//! Dates, times and numbers in the Vietnamese form whatever the language (`domain.md`).
use std::{collections::HashMap, sync::LazyLock};

use chrono::{DateTime, FixedOffset, Utc};

use crate::i18n::Lang;

static TEXTS: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> = LazyLock::new(|| {
    include_str!("texts.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("key\t") && !l.is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, (cols.next()?, cols.next()?)))
        })
        .collect()
});

/// The texts of one page in its reader's language.
#[derive(Clone, Copy, Debug)]
pub struct Texts(pub Lang);

impl Texts {
    /// The text for `key`; a missing key shows itself (a test keeps the table complete).
    pub fn get(&self, key: &str) -> &'static str {
        match TEXTS.get(key) {
            Some((vi, en)) => match self.0 {
                Lang::Vi => vi,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "a page text is missing");
                "?"
            }
        }
    }

    /// Whether the table has `key` (the pages' own tests check their scripts' keys).
    #[cfg(test)]
    pub fn has(key: &str) -> bool {
        TEXTS.contains_key(key)
    }

    /// The text for `key` with `{name}` replaced by `value`.
    pub fn with(&self, key: &str, name: &str, value: &dyn std::fmt::Display) -> String {
        self.get(key)
            .replace(&format!("{{{name}}}"), &value.to_string())
    }

    /// An error code's message (`i18n/messages.tsv`) in this language.
    pub fn message(&self, code: &str) -> &'static str {
        let (vi, en) = crate::i18n::text(code);
        match self.0 {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    pub fn code(&self) -> &'static str {
        match self.0 {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// Every text of `keys` as a JSON object, for a page's script.
    pub fn json(&self, keys: &[&str]) -> String {
        let map: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|k| ((*k).to_owned(), self.get(k).into()))
            .collect();
        // Inside <script type="application/json">: no "</script>" can close it early.
        serde_json::Value::Object(map)
            .to_string()
            .replace('<', "\\u003c")
    }
}

/// Vietnam's time (UTC+7, no daylight saving).
fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::east_opt(7 * 3600).expect("a valid offset"))
}

/// "14:05 07/12/2026".
pub fn date_time(at: DateTime<Utc>) -> String {
    local(at).format("%H:%M %d/%m/%Y").to_string()
}

/// "14:05:09 07/12/2026", for a receipt.
pub fn date_time_seconds(at: DateTime<Utc>) -> String {
    local(at).format("%H:%M:%S %d/%m/%Y").to_string()
}

/// "8,75" from "8.75".
pub fn decimal(points: &str) -> String {
    points.replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a template or script asks for has both texts.
    #[test]
    fn every_text_used_is_in_the_table() {
        let sources = [
            include_str!("templates/layout.html"),
            include_str!("templates/home.html"),
            include_str!("templates/sign_in.html"),
            include_str!("templates/error.html"),
            include_str!("../exams/templates/my_exams.html"),
            include_str!("../exams/templates/lobby.html"),
            include_str!("../exams/templates/exam.html"),
            include_str!("../exams/templates/receipt.html"),
            include_str!("../exams/templates/result.html"),
            include_str!("../exams/templates/my_rooms.html"),
            include_str!("../exams/templates/room.html"),
            include_str!("../exams/pages.rs"),
        ];
        let mut missing: Vec<&str> = Vec::new();
        for source in sources {
            for call in ["t.get(\"", "t.with(\""] {
                for piece in source.split(call).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    if !TEXTS.contains_key(key) {
                        missing.push(key);
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "texts missing from texts.tsv: {missing:?}"
        );
        for (key, (vi, en)) in TEXTS.iter() {
            assert!(!vi.is_empty() && !en.is_empty(), "{key} needs both texts");
        }
        assert_eq!(
            include_str!("texts.tsv")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .count()
                - 1,
            TEXTS.len(),
            "a key appears twice"
        );
    }

    #[test]
    fn dates_and_numbers_take_the_vietnamese_form() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T07:05:09Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date_time(at), "14:05 07/12/2026");
        assert_eq!(date_time_seconds(at), "14:05:09 07/12/2026");
        assert_eq!(decimal("8.75"), "8,75");
        assert_eq!(Texts(Lang::En).with("question_n", "n", &3), "Question 3");
        assert_eq!(Texts(Lang::Vi).with("question_n", "n", &3), "Câu 3");
    }
}
