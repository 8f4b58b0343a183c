//! Items of a question bank: their content by type, their metadata, and the checks that make
//! an item valid. Content is text with LaTeX (`$…$`, `$$…$$`) and images referenced by blob key
//! (`![alt](blob:key)`); HTML is not part of the model and is stripped on the way in.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::exam_format::{Choice, Points, ShortAnswer, Subject, TrueFalseKey};
use crate::{
    error::FieldError,
    text::{clean_text, fold},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Part I: four options, one correct.
    MultipleChoice,
    /// Part II: four statements, each true (Đ) or false (S).
    TrueFalse,
    /// Part III: a number of at most four characters.
    ShortAnswer,
    Essay,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::MultipleChoice,
        Kind::TrueFalse,
        Kind::ShortAnswer,
        Kind::Essay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MultipleChoice => "multiple_choice",
            Kind::TrueFalse => "true_false",
            Kind::ShortAnswer => "short_answer",
            Kind::Essay => "essay",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Cognitive level: Biết / Hiểu / Vận dụng.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Biet,
    Hieu,
    VanDung,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Biet, Level::Hieu, Level::VanDung];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Biet => "biet",
            Level::Hieu => "hieu",
            Level::VanDung => "van_dung",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match fold(text).replace(' ', "_").as_str() {
            "biet" | "nhan_biet" | "nb" => Some(Level::Biet),
            "hieu" | "thong_hieu" | "th" => Some(Level::Hieu),
            "van_dung" | "vd" | "van_dung_cao" | "vdc" => Some(Level::VanDung),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Statement {
    pub text: String,
    /// Đ (true) or S (false).
    pub correct: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Criterion {
    pub description: String,
    #[schema(value_type = String, example = "0.5")]
    pub points: Points,
}

/// What the candidate sees and what is right, by item type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    MultipleChoice {
        stem: String,
        /// Options A-D in the author's order.
        options: Vec<String>,
        #[schema(value_type = String, example = "B")]
        correct: Choice,
    },
    TrueFalse {
        stem: String,
        /// Statements a-d.
        statements: Vec<Statement>,
    },
    ShortAnswer {
        stem: String,
        /// Every accepted form, each at most 4 characters of `0-9 - ,` (e.g. ["0,5", "0,50"]).
        #[schema(value_type = Vec<String>)]
        accepted: Vec<ShortAnswer>,
    },
    Essay {
        stem: String,
        rubric: Vec<Criterion>,
    },
}

/// The rubric given to an essay imported without one (GIFT, Moodle without grader info).
pub fn default_rubric(points: Points) -> Vec<Criterion> {
    vec![Criterion {
        description: "Chấm theo hướng dẫn chấm của giáo viên".to_owned(),
        points,
    }]
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::MultipleChoice { .. } => Kind::MultipleChoice,
            Body::TrueFalse { .. } => Kind::TrueFalse,
            Body::ShortAnswer { .. } => Kind::ShortAnswer,
            Body::Essay { .. } => Kind::Essay,
        }
    }

    pub fn stem(&self) -> &str {
        match self {
            Body::MultipleChoice { stem, .. }
            | Body::TrueFalse { stem, .. }
            | Body::ShortAnswer { stem, .. }
            | Body::Essay { stem, .. } => stem,
        }
    }

    /// Every text of the body a reader sees: stem, options, statements.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Body::MultipleChoice { stem, options, .. } => std::iter::once(stem.as_str())
                .chain(options.iter().map(String::as_str))
                .collect(),
            Body::TrueFalse { stem, statements } => std::iter::once(stem.as_str())
                .chain(statements.iter().map(|s| s.text.as_str()))
                .collect(),
            Body::ShortAnswer { stem, .. } | Body::Essay { stem, .. } => vec![stem],
        }
    }

    /// The same, to rewrite them.
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            Body::MultipleChoice { stem, options, .. } => {
                std::iter::once(stem).chain(options.iter_mut()).collect()
            }
            Body::TrueFalse { stem, statements } => std::iter::once(stem)
                .chain(statements.iter_mut().map(|s| &mut s.text))
                .collect(),
            Body::ShortAnswer { stem, .. } | Body::Essay { stem, .. } => vec![stem],
        }
    }

    pub fn true_false_key(&self) -> Option<TrueFalseKey> {
        match self {
            Body::TrueFalse { statements, .. } if statements.len() == 4 => {
                Some(TrueFalseKey([0, 1, 2, 3].map(|i| statements[i].correct)))
            }
            _ => None,
        }
    }

    /// The same content with every key removed: what a candidate may see.
    pub fn without_key(&self) -> serde_json::Value {
        match self {
            Body::MultipleChoice { stem, options, .. } => {
                serde_json::json!({ "kind": "multiple_choice", "stem": stem, "options": options })
            }
            Body::TrueFalse { stem, statements } => serde_json::json!({
                "kind": "true_false", "stem": stem,
                "statements": statements.iter().map(|s| &s.text).collect::<Vec<_>>(),
            }),
            Body::ShortAnswer { stem, .. } => {
                serde_json::json!({ "kind": "short_answer", "stem": stem })
            }
            Body::Essay { stem, .. } => serde_json::json!({ "kind": "essay", "stem": stem }),
        }
    }

    /// Cleans every text and checks the shape; all problems are returned at once.
    pub fn validate(self) -> Result<Body, Vec<FieldError>> {
        let mut problems = Vec::new();
        let text = |field: String, raw: String, problems: &mut Vec<FieldError>| {
            let clean = clean_text(&raw);
            if clean.is_empty() {
                problems.push(FieldError::new(field, "required"));
            } else if clean.chars().count() > 20_000 {
                problems.push(FieldError::new(field, "too_long"));
            } else {
                // Formulas are kept in canonical LaTeX, and one outside the subset is refused.
                match crate::maths::canonical_text(&clean) {
                    Ok(canonical) => return canonical,
                    Err(_) => problems.push(FieldError::new(field, "unsupported_math")),
                }
            }
            clean
        };
        let body = match self {
            Body::MultipleChoice {
                stem,
                options,
                correct,
            } => {
                if options.len() != 4 {
                    problems.push(FieldError::new("body.options", "needs_four_options"));
                }
                let options = options
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| text(format!("body.options[{i}]"), o, &mut problems))
                    .collect::<Vec<_>>();
                let mut seen = std::collections::HashSet::new();
                if options
                    .iter()
                    .any(|o| !o.is_empty() && !seen.insert(fold(o)))
                {
                    problems.push(FieldError::new("body.options", "duplicate_options"));
                }
                Body::MultipleChoice {
                    stem: text("body.stem".into(), stem, &mut problems),
                    options,
                    correct,
                }
            }
            Body::TrueFalse { stem, statements } => {
                if statements.len() != 4 {
                    problems.push(FieldError::new("body.statements", "needs_four_statements"));
                }
                let statements = statements
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| Statement {
                        text: text(format!("body.statements[{i}].text"), s.text, &mut problems),
                        correct: s.correct,
                    })
                    .collect();
                Body::TrueFalse {
                    stem: text("body.stem".into(), stem, &mut problems),
                    statements,
                }
            }
            Body::ShortAnswer { stem, accepted } => {
                if accepted.is_empty() {
                    problems.push(FieldError::new("body.accepted", "required"));
                }
                Body::ShortAnswer {
                    stem: text("body.stem".into(), stem, &mut problems),
                    accepted,
                }
            }
            Body::Essay { stem, rubric } => {
                if rubric.is_empty() {
                    problems.push(FieldError::new("body.rubric", "required"));
                }
                let rubric = rubric
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| Criterion {
                        description: text(
                            format!("body.rubric[{i}].description"),
                            c.description,
                            &mut problems,
                        ),
                        points: c.points,
                    })
                    .collect();
                Body::Essay {
                    stem: text("body.stem".into(), stem, &mut problems),
                    rubric,
                }
            }
        };
        if problems.is_empty() {
            Ok(body)
        } else {
            Err(problems)
        }
    }
}

/// Metadata that places an item in the curriculum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Metadata {
    pub subject: Subject,
    pub grade: i16,
    /// Textbook series: "ket_noi", "chan_troi", "canh_dieu" (or left out).
    pub series: Option<String>,
    /// Chapter / lesson path, e.g. ["Chương 1. Dao động", "Bài 2. Dao động điều hòa"].
    pub topic: Vec<String>,
    pub level: Level,
    /// A competency code from the specification table (bảng đặc tả).
    pub competency: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// Worked solution (lời giải).
    pub solution: Option<String>,
}

pub const SERIES: [&str; 3] = ["ket_noi", "chan_troi", "canh_dieu"];

impl Metadata {
    pub fn validate(mut self) -> Result<Metadata, Vec<FieldError>> {
        let mut problems = Vec::new();
        if !(1..=12).contains(&self.grade) {
            problems.push(FieldError::new("metadata.grade", "invalid_grade"));
        }
        if let Some(series) = &self.series
            && !SERIES.contains(&series.as_str())
        {
            problems.push(FieldError::new("metadata.series", "invalid_series"));
        }
        self.topic = self
            .topic
            .iter()
            .map(|t| clean_text(t))
            .filter(|t| !t.is_empty())
            .collect();
        if self.topic.is_empty() {
            problems.push(FieldError::new("metadata.topic", "required"));
        }
        self.tags = self
            .tags
            .iter()
            .map(|t| fold(t).replace(' ', "-"))
            .filter(|t| !t.is_empty())
            .collect();
        self.tags.sort();
        self.tags.dedup();
        self.solution = self
            .solution
            .map(|s| clean_text(&s))
            .filter(|s| !s.is_empty());
        if let Some(solution) = &self.solution {
            match crate::maths::canonical_text(solution) {
                Ok(canonical) => self.solution = Some(canonical),
                Err(_) => problems.push(FieldError::new("metadata.solution", "unsupported_math")),
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    pub fn topic_path(&self) -> String {
        self.topic.join(" / ")
    }
}

/// Everything a search may match, folded: stem, options, statements, topic, tags.
pub fn search_text(body: &Body, metadata: &Metadata) -> String {
    let mut parts = vec![body.stem().to_owned(), metadata.topic_path()];
    match body {
        Body::MultipleChoice { options, .. } => parts.extend(options.iter().cloned()),
        Body::TrueFalse { statements, .. } => {
            parts.extend(statements.iter().map(|s| s.text.clone()))
        }
        _ => {}
    }
    parts.extend(metadata.tags.iter().cloned());
    fold(&parts.join(" "))
}

/// An item's texts as a screen shows them: escaped text, formulas as MathML.
#[derive(Serialize, ToSchema)]
pub struct RenderedBody {
    pub stem: String,
    /// Part I's four options, in order (empty for other kinds).
    pub options: Vec<String>,
    /// Part II's four statements, in order (empty for other kinds).
    pub statements: Vec<String>,
}

impl RenderedBody {
    /// Content as a paper code holds it (`stem`, `options`, `statements` in the code's order)
    /// as HTML; `src` gives a figure's address from its name.
    pub fn of_content(content: &serde_json::Value, src: &dyn Fn(&str) -> String) -> Self {
        let html = |t: &serde_json::Value| rich_html(t.as_str().unwrap_or_default(), src);
        let list = |field: &str| -> Vec<String> {
            content[field]
                .as_array()
                .map(|l| l.iter().map(html).collect())
                .unwrap_or_default()
        };
        RenderedBody {
            stem: html(&content["stem"]),
            options: list("options"),
            statements: list("statements"),
        }
    }

    /// The body of item `item_id` as HTML; its figures point at the item's media route.
    pub fn of(body: &Body, item_id: uuid::Uuid) -> Self {
        let src = |name: &str| format!("/api/v1/items/{item_id}/media/{name}");
        let html = |t: &String| rich_html(t, &src);
        let (options, statements) = match body {
            Body::MultipleChoice { options, .. } => (options.iter().map(html).collect(), vec![]),
            Body::TrueFalse { statements, .. } => {
                (vec![], statements.iter().map(|s| html(&s.text)).collect())
            }
            _ => (vec![], vec![]),
        };
        RenderedBody {
            stem: rich_html(body.stem(), &src),
            options,
            statements,
        }
    }
}

/// Where the figures of item text live in the blob store, named by their content's hash.
pub const FIGURES: &str = "items/media/";

/// A part of item text: words and formulas, or a figure (`![alt](blob:key)`).
#[derive(Debug, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    Figure { alt: &'a str, key: &'a str },
}

/// Splits item text at its figures.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("![") {
        let Some(mid) = rest[start..].find("](") else {
            break;
        };
        let Some(end) = rest[start + mid..].find(')') else {
            break;
        };
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        out.push(Piece::Figure {
            alt: &rest[start + 2..start + mid],
            key: &rest[start + mid + 2..start + mid + end],
        });
        rest = &rest[start + mid + end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// A figure's file name in the blob store's figure folder, from its key in item text
/// (`blob:items/media/<name>`).
pub fn figure_name(key: &str) -> &str {
    key.trim_start_matches("blob:").trim_start_matches(FIGURES)
}

/// Item text as HTML: formulas as MathML, figures (`![alt](blob:items/media/<name>)`) as
/// images whose address `src` gives from the figure's name.
pub fn rich_html(text: &str, src: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(&crate::maths::text_to_html(t)),
            Piece::Figure { alt, key } => {
                let name = figure_name(key);
                out.push_str(&format!(
                    r#"<img src="{}" alt="{}">"#,
                    crate::text::escape_markup(&src(name)),
                    crate::text::escape_markup(alt)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_by_type() {
        let five = Body::MultipleChoice {
            stem: "Câu hỏi".into(),
            options: vec!["1".into(), "2".into(), "3".into(), "4".into(), "5".into()],
            correct: Choice::A,
        };
        assert_eq!(five.validate().unwrap_err()[0].code, "needs_four_options");
        let three = Body::TrueFalse {
            stem: "Xét các mệnh đề".into(),
            statements: (0..3)
                .map(|i| Statement {
                    text: format!("Mệnh đề {i}"),
                    correct: true,
                })
                .collect(),
        };
        assert_eq!(
            three.validate().unwrap_err()[0].code,
            "needs_four_statements"
        );
        let empty = Body::ShortAnswer {
            stem: "<p></p>".into(),
            accepted: vec![],
        };
        let codes: Vec<&str> = empty
            .validate()
            .unwrap_err()
            .iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["required", "required"]);
    }

    #[test]
    fn levels_parse_from_vietnamese() {
        assert_eq!(Level::parse("Nhận biết"), Some(Level::Biet));
        assert_eq!(Level::parse("Thông hiểu"), Some(Level::Hieu));
        assert_eq!(Level::parse("Vận dụng"), Some(Level::VanDung));
        assert_eq!(Level::parse("khó"), None);
    }
}
