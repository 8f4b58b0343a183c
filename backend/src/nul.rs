//! Text with a NUL character (U+0000) is refused at the edge with 400 `nul_character`, on every
//! store: PostgreSQL cannot hold it in text (it answered 500), SQLite would store it, and no one
//! types it. Checked without buffering: the path and query for `%00`, JSON bodies for a `\u0000`
//! escape and plain-text bodies (CSV rosters) for a 0x00 byte, as their chunks stream through.
//! Binary bodies (.xlsx, .docx, images) are left to their parsers; a NUL that reaches the
//! database from them is still a 400 (`error.rs`). A JSON body that is an array, not an object,
//! is refused here too (400 `json_object_expected`). docs/SECURITY.md, finding 11.
use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    middleware::Next,
};
use futures_util::StreamExt;

use crate::error::{ApiError, NUL_FOUND as FOUND, OBJECT_EXPECTED};

pub async fn refuse_nul(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let uri = req.uri();
    if has_encoded_nul(uri.path()) || uri.query().is_some_and(has_encoded_nul) {
        let refusal = ApiError::BadRequest(FOUND).error_response();
        return Ok(req.into_response(refusal));
    }
    let scanner = match req.content_type() {
        t if t == "application/json" || t.ends_with("+json") => Some(Scanner::json()),
        t if t.starts_with("text/") => Some(Scanner::raw()),
        _ => None,
    };
    if let Some(mut scanner) = scanner {
        let body = req.take_payload().map(move |chunk| {
            let chunk = chunk?;
            if let Some(code) = scanner.feed(&chunk) {
                return Err(PayloadError::Io(std::io::Error::other(code)));
            }
            Ok(chunk)
        });
        req.set_payload(Payload::from(
            Box::pin(body) as futures_util::stream::LocalBoxStream<'static, _>
        ));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn has_encoded_nul(text: &str) -> bool {
    text.contains("%00")
}

/// Finds a NUL across chunk boundaries: a raw 0x00 byte, or in JSON an unescaped `\u0000`;
/// and a JSON body that opens as an array.
struct Scanner {
    json: bool,
    /// The first byte that is not white space has been seen.
    started: bool,
    /// The previous byte was a backslash that escapes the next one.
    escaped: bool,
    /// How much of `u0000` followed an escaping backslash so far.
    progress: usize,
}

impl Scanner {
    fn json() -> Self {
        Scanner {
            json: true,
            started: false,
            escaped: false,
            progress: 0,
        }
    }

    fn raw() -> Self {
        Scanner {
            json: false,
            started: false,
            escaped: false,
            progress: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Option<&'static str> {
        if !self.json {
            return bytes.contains(&0).then_some(FOUND);
        }
        const ESCAPE: &[u8] = b"u0000";
        for &b in bytes {
            if !self.started && !b.is_ascii_whitespace() {
                self.started = true;
                if b == b'[' {
                    return Some(OBJECT_EXPECTED);
                }
            }
            if self.progress > 0 {
                if b == ESCAPE[self.progress] {
                    self.progress += 1;
                    if self.progress == ESCAPE.len() {
                        return Some(FOUND);
                    }
                    continue;
                }
                // Another `\uXXXX`: its digits are plain bytes.
                self.progress = 0;
            }
            if self.escaped {
                self.escaped = false;
                if b == b'u' {
                    self.progress = 1;
                }
            } else if b == b'\\' {
                self.escaped = true;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_has_nul(chunks: &[&str]) -> bool {
        let mut s = Scanner::json();
        chunks.iter().any(|c| s.feed(c.as_bytes()) == Some(FOUND))
    }

    #[test]
    fn json_escapes_of_nul_are_found_across_chunks_and_nothing_else() {
        let cases = [
            (vec![r#"{"q":"a\u0000b"}"#], true, "one chunk"),
            (
                vec![r#"{"q":"a\u00"#, r#"00b"}"#],
                true,
                "split in the digits",
            ),
            (
                vec![r#"{"q":"a\"#, r#"u0000"}"#],
                true,
                "split after the backslash",
            ),
            (
                vec![r#"{"q":"a\\\u0000"}"#],
                true,
                "an escaped backslash, then the escape",
            ),
            (
                vec![r#"{"q":"a\\u0000"}"#],
                false,
                "an escaped backslash, then text",
            ),
            (vec![r#"{"q":"\u0041\u00e9 Đ"}"#], false, "other escapes"),
            (vec![r#"{"q":"0000 u0000"}"#], false, "digits alone"),
        ];
        for (chunks, want, why) in cases {
            assert_eq!(json_has_nul(&chunks), want, "{why}");
        }
        assert_eq!(Scanner::raw().feed(b"login,name\nhs\0x,An"), Some(FOUND));
        assert_eq!(Scanner::raw().feed("login,name\nhs.an,Ân".as_bytes()), None);
        assert_eq!(
            Scanner::json().feed(b" \n [\"THPT-X\"]"),
            Some(OBJECT_EXPECTED)
        );
        assert_eq!(Scanner::json().feed(br#"{"a":[1]}"#), None);
        assert!(has_encoded_nul("/api/v1/items?q=%00"));
    }
}
