//! Every stable error code the service answers with has its text in both languages: a code
//! without an entry would silently show the generic "the request is not valid".
use std::{collections::BTreeSet, fs, path::Path};

/// The generic text a code without an entry falls back to.
fn fallback() -> (&'static str, &'static str) {
    hocthi::i18n::text("\u{0}no such code\u{0}")
}

/// Codes written where the service raises an error: `ApiError::Forbidden("…")` and the other
/// one-code variants, `ApiError::field(…, "…")`, `FieldError::new(…, "…")` and `code: "…"`.
fn raised_codes(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut codes = BTreeSet::new();
    let openers = [
        "ApiError::BadRequest(\"",
        "ApiError::Unauthorized(\"",
        "ApiError::Forbidden(\"",
        "ApiError::NotFound(\"",
        "ApiError::Conflict(\"",
        "ApiError::Quota(\"",
        "code: \"",
    ];
    for opener in openers {
        for (at, _) in text.match_indices(opener) {
            let rest = &text[at + opener.len()..];
            if let Some(end) = rest.find('"') {
                codes.insert(rest[..end].to_owned());
            }
        }
    }
    // The second string argument of ApiError::field / FieldError::new.
    for opener in ["ApiError::field(", "FieldError::new("] {
        for (at, _) in text.match_indices(opener) {
            let call = &text[at + opener.len()..];
            let call = &call[..closing_paren(call)];
            if let Some(last) = call.rsplit(',').next() {
                let last = last.trim();
                if last.starts_with('"') && last.ends_with('"') && last.len() > 2 {
                    codes.insert(last[1..last.len() - 1].to_owned());
                }
            }
        }
    }
    codes.retain(|c| {
        !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())
    });
    codes
}

/// Where the call opened just before `rest` closes, skipping nested calls and strings.
fn closing_paren(rest: &str) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in rest.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, '(') => depth += 1,
            (false, _, ')') if depth == 0 => return i,
            (false, _, ')') => depth -= 1,
            _ => {}
        }
    }
    rest.len()
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(fs::read_to_string(&path).expect("a source file"));
        }
    }
}

#[test]
fn every_raised_code_has_a_message_in_both_languages() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let codes: BTreeSet<String> = files.iter().flat_map(|f| raised_codes(f)).collect();
    assert!(
        codes.len() > 100,
        "the scan finds the codes: {}",
        codes.len()
    );
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| hocthi::i18n::text(c) == fallback())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a line in i18n/messages.tsv: {missing:?}"
    );
    for code in &codes {
        let (vi, en) = hocthi::i18n::text(code);
        assert!(!vi.is_empty() && !en.is_empty() && vi != en, "{code}");
    }
}

#[test]
fn the_scan_reads_each_way_a_code_is_written() {
    let text = r#"
        return Err(ApiError::Forbidden("not_exam_staff"));
        problems.push(FieldError::new(format!("x[{i}]"), "not_school_staff"));
        ApiError::field("name", "required")
        ApiError::TooManyRequests { code: "too_many_streams", retry_after_secs: 1 }
    "#;
    let want: BTreeSet<String> = [
        "not_exam_staff",
        "not_school_staff",
        "required",
        "too_many_streams",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(raised_codes(text), want);
}
