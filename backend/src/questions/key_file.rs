//! The files of `hocthi grade`: an answer key and candidates' responses, in the notation answer
//! keys are published in (docs/grading-files.md).
use serde::{Deserialize, Serialize};

use crate::exam_format::{
    Choice, PaperKey, PaperScore, Responses, ShortAnswer, Subject, TrueFalseAnswer, TrueFalseKey,
    format_of, parse_true_false_letter, score_paper,
};

/// A part given either as one published line ("1B 2A 3A", "SĐSĐ | ĐSSĐ") or as a JSON list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line<T> {
    Text(String),
    List(Vec<T>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub subject: Subject,
    #[serde(default)]
    pub paper_code: Option<String>,
    #[serde(default = "empty_line")]
    part1: Line<String>,
    #[serde(default = "empty_line")]
    part2: Line<String>,
    #[serde(default = "empty_line")]
    part3: Line<Line<String>>,
}

fn empty_line<T>() -> Line<T> {
    Line::List(Vec::new())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseFile {
    pub candidate: String,
    #[serde(default = "empty_line")]
    part1: Line<Option<String>>,
    #[serde(default = "empty_line")]
    part2: Line<Option<String>>,
    #[serde(default = "empty_line")]
    part3: Line<Option<String>>,
}

#[derive(Serialize)]
pub struct CandidateScore {
    pub candidate: String,
    #[serde(flatten)]
    pub score: PaperScore,
}

/// "1B 2A 3 4C": numbered tokens in order; a number alone is a blank.
fn numbered(text: &str) -> Result<Vec<Option<String>>, String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, token)| {
            let digits: String = token.chars().take_while(char::is_ascii_digit).collect();
            if digits.parse::<usize>().ok() != Some(i + 1) {
                return Err(format!("`{token}` should be question {}", i + 1));
            }
            let rest = &token[digits.len()..];
            Ok((!rest.is_empty()).then(|| rest.to_owned()))
        })
        .collect()
}

/// "SĐSĐ | ĐSSĐ" or "11,5 | 13,1": fields separated by `|`.
fn piped(text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        Vec::new()
    } else {
        text.split('|').map(|s| s.trim().to_owned()).collect()
    }
}

fn choice(text: &str, at: &str) -> Result<Choice, String> {
    Choice::parse(text).ok_or_else(|| format!("{at}: `{text}` is not A, B, C or D"))
}

impl KeyFile {
    pub fn into_key(self) -> Result<PaperKey, String> {
        let part1 = match self.part1 {
            Line::Text(t) => numbered(&t)?
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    c.ok_or(format!("part1 question {} has no key", i + 1))
                        .and_then(|c| choice(&c, "part1"))
                })
                .collect::<Result<_, _>>()?,
            Line::List(list) => list
                .iter()
                .map(|c| choice(c, "part1"))
                .collect::<Result<_, _>>()?,
        };
        let part2_texts = match self.part2 {
            Line::Text(t) => piped(&t),
            Line::List(list) => list,
        };
        let part2 = part2_texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                TrueFalseKey::parse(t).ok_or(format!(
                    "part2 question {}: `{t}` is not four Đ/S letters",
                    i + 1
                ))
            })
            .collect::<Result<_, _>>()?;
        let part3_texts: Vec<Vec<String>> = match self.part3 {
            Line::Text(t) => piped(&t)
                .into_iter()
                .map(|a| a.split('/').map(str::to_owned).collect())
                .collect(),
            Line::List(list) => list
                .into_iter()
                .map(|l| match l {
                    Line::Text(t) => t.split('/').map(str::to_owned).collect(),
                    Line::List(l) => l,
                })
                .collect(),
        };
        let part3 = part3_texts
            .iter()
            .enumerate()
            .map(|(i, accepted)| {
                accepted
                    .iter()
                    .map(|a| {
                        ShortAnswer::parse(a)
                            .map_err(|e| format!("part3 question {}: `{a}` ({e})", i + 1))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;
        let key = PaperKey {
            subject: self.subject,
            part1,
            part2,
            part3,
        };
        let format = format_of(key.subject);
        let shape = (key.part1.len(), key.part2.len(), key.part3.len());
        let want = (
            format.part1_questions as usize,
            format.part2_questions as usize,
            format.part3_questions as usize,
        );
        if shape != want {
            return Err(format!(
                "{} needs {} / {} / {} questions in parts I / II / III; the key has {} / {} / {}",
                key.subject.name_vi(),
                want.0,
                want.1,
                want.2,
                shape.0,
                shape.1,
                shape.2
            ));
        }
        Ok(key)
    }
}

fn true_false_answer(text: &str, at: &str) -> Result<TrueFalseAnswer, String> {
    let marks: Vec<Option<bool>> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' | '_' | '?' => Ok(None),
            c => parse_true_false_letter(c)
                .map(Some)
                .ok_or(format!("{at}: `{c}` is not Đ, S or - (blank)")),
        })
        .collect::<Result<_, _>>()?;
    marks
        .try_into()
        .map_err(|_| format!("{at}: `{text}` needs four marks"))
}

impl ResponseFile {
    pub fn into_responses(self, key: &PaperKey) -> Result<(String, Responses), String> {
        let who = self.candidate.clone();
        let part1_raw = match self.part1 {
            Line::Text(t) => numbered(&t).map_err(|e| format!("{who}, part I: {e}"))?,
            Line::List(l) => l,
        };
        // Every error names the candidate, the part and the question.
        let part1 = part1_raw
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.as_deref()
                    .map(|c| choice(c, &format!("{who}, part I question {}", i + 1)))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let part2_raw: Vec<Option<String>> = match self.part2 {
            Line::Text(t) => piped(&t).into_iter().map(Some).collect(),
            Line::List(l) => l,
        };
        let part2 = part2_raw
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.as_deref()
                    .map(|t| true_false_answer(t, &format!("{who}, part II question {}", i + 1)))
                    .unwrap_or(Ok([None; 4]))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let part3 = match self.part3 {
            Line::Text(t) => piped(&t)
                .into_iter()
                .map(|a| (!a.is_empty()).then_some(a))
                .collect(),
            Line::List(l) => l,
        };
        for (part, given, questions) in [
            ("I", part1.len(), key.part1.len()),
            ("II", part2.len(), key.part2.len()),
            ("III", part3.len(), key.part3.len()),
        ] {
            if given > questions {
                return Err(format!(
                    "{who}, part {part}: {given} answers where the key has {questions} questions"
                ));
            }
        }
        Ok((
            who,
            Responses {
                part1,
                part2,
                part3,
            },
        ))
    }
}

/// Scores every candidate in `responses` (a JSON array) against `key` (a JSON object).
pub fn grade(key_json: &str, responses_json: &str) -> Result<Vec<CandidateScore>, String> {
    let key: KeyFile = serde_json::from_str(key_json).map_err(|e| format!("the key file: {e}"))?;
    let key = key.into_key().map_err(|e| format!("the key file: {e}"))?;
    let responses: Vec<ResponseFile> =
        serde_json::from_str(responses_json).map_err(|e| format!("the responses file: {e}"))?;
    responses
        .into_iter()
        .map(|r| {
            let (candidate, responses) = r.into_responses(&key)?;
            Ok(CandidateScore {
                candidate,
                score: score_paper(&key, &responses),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real published key: Geography 2025, paper code 0926.
    const GEOGRAPHY_0926: &str = r#"{
        "subject": "dia_li",
        "paper_code": "0926",
        "part1": "1B 2A 3A 4B 5D 6D 7C 8C 9A 10B 11B 12A 13C 14A 15D 16D 17D 18D",
        "part2": "SĐSĐ | ĐSSĐ | ĐĐSS | ĐSĐS",
        "part3": "11,5 | 13,1 | 27,5 | 10,9 | 1121 | 2,9"
    }"#;

    #[test]
    fn the_published_key_graded_against_itself_and_others() {
        let responses = r#"[
            { "candidate": "perfect",
              "part1": "1B 2A 3A 4B 5D 6D 7C 8C 9A 10B 11B 12A 13C 14A 15D 16D 17D 18D",
              "part2": "SĐSĐ | ĐSSĐ | ĐĐSS | ĐSĐS",
              "part3": "11,5 | 13,1 | 27,5 | 10,9 | 1121 | 2,9" },
            { "candidate": "blank" },
            { "candidate": "mixed",
              "part1": ["B", "A", null, "C"],
              "part2": ["SĐSĐ", "ĐS-Đ", "SSĐĐ", null],
              "part3": ["11.5", "13,10", null, "10,9"] }
        ]"#;
        let scores = grade(GEOGRAPHY_0926, responses).unwrap();
        let totals: Vec<(String, String, String, String, String)> = scores
            .iter()
            .map(|s| {
                (
                    s.candidate.clone(),
                    s.score.part1.to_string(),
                    s.score.part2.to_string(),
                    s.score.part3.to_string(),
                    s.score.total.to_string(),
                )
            })
            .collect();
        assert_eq!(
            totals,
            [
                (
                    "perfect".into(),
                    "4.50".into(),
                    "4.00".into(),
                    "1.50".into(),
                    "10.00".into()
                ),
                (
                    "blank".into(),
                    "0.00".into(),
                    "0.00".into(),
                    "0.00".into(),
                    "0.00".into()
                ),
                // Part I: 2 right. Part II: 4 + 3 + 0 (SSĐĐ vs ĐĐSS) + blank = 1 + 0.5 + 0 + 0.
                // Part III: 11.5 -> 11,5 right; 13,10 is not 13,1; 10,9 right.
                (
                    "mixed".into(),
                    "0.50".into(),
                    "1.50".into(),
                    "0.50".into(),
                    "2.50".into()
                ),
            ]
        );
    }

    #[test]
    fn malformed_files_are_named() {
        let cases = [
            (
                r#"{"subject": "dia_li", "part1": "1B 3A"}"#,
                "should be question 2",
            ),
            (
                r#"{"subject": "dia_li", "part1": ["E"]}"#,
                "not A, B, C or D",
            ),
            (
                r#"{"subject": "dia_li", "part2": "SĐS"}"#,
                "four Đ/S letters",
            ),
            (
                r#"{"subject": "dia_li", "part3": "12345"}"#,
                "short_answer_too_long",
            ),
            (r#"{"subject": "toan", "part1": ["A"]}"#, "needs 12 / 4 / 6"),
            (r#"{"subject": "hoa"}"#, "unknown variant"),
        ];
        for (key, words) in cases {
            let err = grade(key, "[]").map(|_| ()).unwrap_err();
            assert!(err.contains(words), "{key}: {err}");
        }
        // A responses file's errors name the candidate, the part and the question.
        for (responses, words) in [
            (
                r#"[{"candidate": "x", "part2": ["SĐSĐ", "ĐĐ"]}]"#,
                "x, part II question 2: `ĐĐ` needs four marks",
            ),
            (
                r#"[{"candidate": "y", "part1": "1A 2B 3E"}]"#,
                "y, part I question 3: `E` is not A, B, C or D",
            ),
            (
                r#"[{"candidate": "z", "part1": "1A 3B"}]"#,
                "z, part I: `3B` should be question 2",
            ),
            (
                r#"[{"candidate": "w", "part3": "1 | 2 | 3 | 4 | 5 | 6 | 7"}]"#,
                "w, part III: 7 answers where the key has 6 questions",
            ),
        ] {
            let err = grade(GEOGRAPHY_0926, responses).map(|_| ()).unwrap_err();
            assert!(err.contains(words), "{responses}: {err}");
        }
    }
}
