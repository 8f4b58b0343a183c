//! Moodle XML: import (multichoice, shortanswer, numerical, essay, categories) and export.
//! Part II has no Moodle type of its own: it travels as a multiple-response multichoice with
//! exactly four answers, the true statements carrying a positive fraction. HọcThi metadata
//! rides in tags (`hocthi-level:hieu`, `hocthi-grade:12`, …) so a round trip loses nothing.
use super::{
    convention::{Parsed, ParsedItem},
    domain::{Body, Criterion, Kind, Level, Metadata, Statement},
};
use crate::exam_format::{Choice, Points, ShortAnswer};
use crate::text::{clean_text, escape_markup};
use crate::xml::Element;

/// Moodle text is HTML: tags go, entities are decoded, MathJax `\( \)` becomes `$ $`.
fn html_text(el: Option<&Element>) -> String {
    let raw = el
        .and_then(|e| e.child("text"))
        .map(|t| t.text())
        .unwrap_or_default();
    let stripped = clean_text(&raw.replace("<br>", "\n").replace("</p><p>", "\n"));
    stripped
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("\\(", "$")
        .replace("\\)", "$")
        .trim()
        .to_owned()
}

fn fraction(answer: &Element) -> f64 {
    answer
        .attr("fraction")
        .and_then(|f| f.parse().ok())
        .unwrap_or(0.0)
}

/// Reads a parsed `<quiz>` document.
pub fn from_quiz(root: &Element) -> Result<Vec<Parsed>, &'static str> {
    if root.name != "quiz" {
        return Err("unsupported_media_type");
    }
    let mut topic: Option<String> = None;
    let mut out = Vec::new();
    for (index, q) in root.children_named("question").enumerate() {
        let kind = q.attr("type").unwrap_or("");
        if kind == "category" {
            let path = q
                .child("category")
                .and_then(|c| c.child("text"))
                .map(|t| t.text())
                .unwrap_or_default();
            let parts: Vec<&str> = path
                .split('/')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.starts_with('$'))
                .collect();
            // `$course$/HọcThi/<subject>/<topic…>`: the topic is what follows the subject.
            let start = if parts.first() == Some(&"HọcThi") {
                2
            } else {
                0
            };
            topic =
                Some(parts.get(start..).unwrap_or_default().join(" / ")).filter(|t| !t.is_empty());
            continue;
        }
        let number = q
            .child("name")
            .and_then(|n| n.child("text"))
            .map(|t| t.text())
            .unwrap_or_else(|| (index + 1).to_string());
        let stem = html_text(q.child("questiontext"));
        let answers: Vec<&Element> = q.children_named("answer").collect();
        let body = match kind {
            "multichoice" => {
                let single = q
                    .child("single")
                    .map(|s| s.text().trim() != "false")
                    .unwrap_or(true);
                let texts: Vec<String> = answers.iter().map(|a| html_text(Some(a))).collect();
                if single {
                    let right: Vec<usize> = (0..answers.len())
                        .filter(|i| fraction(answers[*i]) >= 100.0)
                        .collect();
                    match (answers.len(), right.as_slice()) {
                        (4, [one]) => Ok(Body::MultipleChoice {
                            stem,
                            options: texts,
                            correct: Choice::from_index(*one).expect("four"),
                        }),
                        (4, []) => Err("missing_answer"),
                        (4, _) => Err("several_answers"),
                        _ => Err("needs_four_options"),
                    }
                } else if answers.len() == 4 {
                    let statements = texts
                        .into_iter()
                        .zip(&answers)
                        .map(|(text, a)| Statement {
                            text,
                            correct: fraction(a) > 0.0,
                        })
                        .collect();
                    Ok(Body::TrueFalse { stem, statements })
                } else {
                    Err("needs_four_statements")
                }
            }
            "shortanswer" | "numerical" => answers
                .iter()
                .filter(|a| fraction(a) >= 100.0)
                .map(|a| ShortAnswer::parse(&html_text(Some(a))))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    if e == "short_answer_too_long" {
                        e
                    } else {
                        "short_answer_invalid"
                    }
                })
                .and_then(|accepted| {
                    if accepted.is_empty() {
                        Err("missing_answer")
                    } else {
                        Ok(Body::ShortAnswer { stem, accepted })
                    }
                }),
            "essay" => {
                let points = q
                    .child("defaultgrade")
                    .and_then(|g| Points::parse(&g.text()))
                    .unwrap_or(Points::hundredths(100));
                let guide = html_text(q.child("graderinfo"));
                let rubric = if guide.is_empty() {
                    super::domain::default_rubric(points)
                } else {
                    guide.lines().map(|l| criterion(l, points)).collect()
                };
                Ok(Body::Essay { stem, rubric })
            }
            "truefalse" => Err("single_true_false"),
            _ => Err("unsupported_question_type"),
        };
        let tags: Vec<String> = q
            .child("tags")
            .map(|t| {
                t.children_named("tag")
                    .map(|t| t.text().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let tag = |name: &str| {
            tags.iter().find_map(|t| {
                t.strip_prefix(&format!("hocthi-{name}:"))
                    .map(str::to_owned)
            })
        };
        let solution = Some(html_text(q.child("generalfeedback"))).filter(|s| !s.is_empty());
        let result = body.and_then(|body| {
            Ok(ParsedItem {
                body,
                level: match tag("level") {
                    Some(l) => Some(Level::parse(&l).ok_or("invalid_level")?),
                    None => None,
                },
                topic: tag("topic").or_else(|| topic.clone()),
                competency: tag("competency"),
                source: tag("source"),
                tags: tags
                    .iter()
                    .filter(|t| !t.starts_with("hocthi-"))
                    .cloned()
                    .collect(),
                solution,
            })
        });
        out.push(Parsed {
            at: index + 1,
            group: None,
            number,
            result,
        });
    }
    Ok(out)
}

/// "Mở bài đúng yêu cầu (0,5 điểm)" → a criterion; a line without points gets `whole`.
fn criterion(line: &str, whole: Points) -> Criterion {
    if let Some((text, rest)) = line.rsplit_once('(')
        && let Some(p) = rest
            .trim_end_matches(')')
            .split_whitespace()
            .next()
            .and_then(Points::parse)
    {
        return Criterion {
            description: text.trim().to_owned(),
            points: p,
        };
    }
    Criterion {
        description: line.trim().to_owned(),
        points: whole,
    }
}

fn html(text: &str) -> String {
    let escaped = escape_markup(text);
    format!(
        "<![CDATA[<p>{}</p>]]>",
        escaped.replace('\n', "</p><p>").replace("]]>", "]]&gt;")
    )
}

/// Writes items (with their metadata) as one Moodle XML quiz file.
pub fn export(items: &[(String, Body, Metadata)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<quiz>\n");
    let mut last_category = String::new();
    for (name, body, meta) in items {
        let category = format!(
            "$course$/HọcThi/{}/{}",
            meta.subject.code(),
            meta.topic.join("/")
        );
        if category != last_category {
            out.push_str(&format!(
                "  <question type=\"category\"><category><text>{}</text></category></question>\n",
                escape_markup(&category)
            ));
            last_category = category;
        }
        let kind = match body.kind() {
            Kind::MultipleChoice | Kind::TrueFalse => "multichoice",
            Kind::ShortAnswer => "shortanswer",
            Kind::Essay => "essay",
        };
        out.push_str(&format!(
            "  <question type=\"{kind}\">\n    <name><text>{}</text></name>\n",
            escape_markup(name)
        ));
        out.push_str(&format!(
            "    <questiontext format=\"html\"><text>{}</text></questiontext>\n",
            html(body.stem())
        ));
        if let Some(solution) = &meta.solution {
            out.push_str(&format!(
                "    <generalfeedback format=\"html\"><text>{}</text></generalfeedback>\n",
                html(solution)
            ));
        }
        let answer = |fraction: &str, text: &str| {
            format!(
                "    <answer fraction=\"{fraction}\" format=\"html\"><text>{}</text><feedback><text></text></feedback></answer>\n",
                html(text)
            )
        };
        match body {
            Body::MultipleChoice {
                options, correct, ..
            } => {
                out.push_str("    <single>true</single>\n    <shuffleanswers>true</shuffleanswers>\n    <answernumbering>ABCD</answernumbering>\n");
                for (i, o) in options.iter().enumerate() {
                    out.push_str(&answer(if i == correct.index() { "100" } else { "0" }, o));
                }
            }
            Body::TrueFalse { statements, .. } => {
                out.push_str("    <single>false</single>\n    <shuffleanswers>false</shuffleanswers>\n    <answernumbering>abc</answernumbering>\n");
                let trues = statements.iter().filter(|s| s.correct).count().max(1);
                for s in statements {
                    let fraction = if s.correct {
                        format!("{:.5}", 100.0 / trues as f64)
                    } else {
                        "-100".into()
                    };
                    out.push_str(&answer(&fraction, &s.text));
                }
            }
            Body::ShortAnswer { accepted, .. } => {
                out.push_str("    <usecase>0</usecase>\n");
                for a in accepted {
                    out.push_str(&answer("100", a.as_str()));
                }
            }
            Body::Essay { rubric, .. } => {
                let total: Points = rubric.iter().map(|c| c.points).sum();
                out.push_str(&format!("    <defaultgrade>{total}</defaultgrade>\n    <responseformat>editor</responseformat>\n"));
                let guide: Vec<String> = rubric
                    .iter()
                    .map(|c| format!("{} ({} điểm)", c.description, c.points))
                    .collect();
                out.push_str(&format!(
                    "    <graderinfo format=\"html\"><text>{}</text></graderinfo>\n",
                    html(&guide.join("\n"))
                ));
            }
        }
        let mut tags = vec![
            format!("hocthi-level:{}", meta.level.as_str()),
            format!("hocthi-grade:{}", meta.grade),
            format!("hocthi-topic:{}", meta.topic.join(" / ")),
        ];
        for (name, value) in [
            ("competency", &meta.competency),
            ("source", &meta.source),
            ("series", &meta.series),
        ] {
            if let Some(v) = value {
                tags.push(format!("hocthi-{name}:{v}"));
            }
        }
        tags.extend(meta.tags.iter().cloned());
        out.push_str("    <tags>");
        for t in tags {
            out.push_str(&format!("<tag><text>{}</text></tag>", escape_markup(&t)));
        }
        out.push_str("</tags>\n  </question>\n");
    }
    out.push_str("</quiz>\n");
    out
}
