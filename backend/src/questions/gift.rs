//! GIFT, Moodle's plain-text format: multiple choice (`=right ~wrong`), multiple response with
//! four weighted answers (→ Part II), short answer (`=a =b`), numerical (`#2.5`), essay (`{}`)
//! and `$CATEGORY:` lines. Single true/false questions are reported, as for Moodle XML.
use super::{
    convention::{Parsed, ParsedItem},
    domain::{Body, Statement},
};
use crate::exam_format::{Choice, ShortAnswer};
use crate::text::clean_text;

/// GIFT when a line starts a titled question or a category, and none uses the Word convention.
pub fn looks_like_gift(text: &str) -> bool {
    let lines = || text.lines().map(str::trim_start);
    lines().any(|l| l.starts_with("::") || l.starts_with("$CATEGORY:"))
        && !lines().any(|l| l.starts_with("Câu "))
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(if n == 'n' { '\n' } else { n });
            }
        } else {
            out.push(c);
        }
    }
    // A format marker says how the text is written; it is not part of it.
    let out = out.trim_start();
    let text = ["[plain]", "[html]", "[moodle]", "[markdown]"]
        .iter()
        .find_map(|marker| out.strip_prefix(marker))
        .unwrap_or(out);
    clean_text(text)
}

/// A question's `::title::`, and the rest.
fn title_of(block: &str) -> (String, &str) {
    let rest = block.trim();
    if let Some(after) = rest.strip_prefix("::")
        && let Some(end) = after.find("::")
    {
        return (after[..end].trim().to_owned(), after[end + 2..].trim());
    }
    (String::new(), rest)
}

/// Splits at unescaped occurrences of any of `marks`, keeping the mark that began each piece.
fn split_marked(text: &str, marks: &[char]) -> Vec<(char, String)> {
    let mut out: Vec<(char, String)> = Vec::new();
    let mut escaped = false;
    for c in text.chars() {
        if !escaped && marks.contains(&c) {
            out.push((c, String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(c);
        }
        escaped = !escaped && c == '\\';
    }
    out
}

/// Finds the first unescaped `ch` at or after `from`.
fn find_unescaped(text: &str, ch: char, from: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if i >= from && !escaped && c == ch {
            return Some(i);
        }
        escaped = !escaped && c == '\\';
    }
    None
}

fn question(rest: &str) -> Result<Body, &'static str> {
    let open = find_unescaped(rest, '{', 0).ok_or("missing_answer")?;
    let close = find_unescaped(rest, '}', open).ok_or("malformed_gift")?;
    let stem = unescape(&format!("{} {}", &rest[..open], &rest[close + 1..]));
    let inside = rest[open + 1..close].trim();
    if stem.is_empty() {
        return Err("missing_stem");
    }
    if inside.is_empty() {
        return Ok(Body::Essay {
            stem,
            rubric: super::domain::default_rubric(crate::exam_format::Points::hundredths(100)),
        });
    }
    if matches!(inside, "T" | "F" | "TRUE" | "FALSE")
        || inside.starts_with("T#")
        || inside.starts_with("F#")
    {
        return Err("single_true_false");
    }
    if let Some(number) = inside.strip_prefix('#') {
        let number = number.split('#').next().unwrap_or("").trim();
        // A Part III answer is compared as written: a tolerance (`{#3:2}` is 1 to 5), a range
        // or several weighted answers would be narrowed to one value, so they are refused.
        let (value, tolerance) = number.split_once(':').unwrap_or((number, "0"));
        let exact = tolerance.trim().replace(',', ".").parse::<f64>() == Ok(0.0);
        if !exact || value.contains("..") || value.contains('=') || value.contains('%') {
            return Err("numeric_tolerance_unsupported");
        }
        let value = value.trim();
        let accepted = ShortAnswer::parse(value).map_err(|e| {
            if e == "short_answer_too_long" {
                e
            } else {
                "short_answer_invalid"
            }
        })?;
        return Ok(Body::ShortAnswer {
            stem,
            accepted: vec![accepted],
        });
    }
    // Drop per-answer feedback (`#…`) before reading the answers.
    let answers: Vec<(char, String)> = split_marked(inside, &['=', '~'])
        .into_iter()
        .map(|(m, a)| (m, a.split('#').next().unwrap_or("").to_owned()))
        .collect();
    let weighted = |a: &str| -> Option<(f64, String)> {
        let a = a.trim().strip_prefix('%')?;
        let (w, text) = a.split_once('%')?;
        Some((w.parse().ok()?, text.to_owned()))
    };
    if answers.iter().any(|(_, a)| a.contains("->")) {
        // Matching: no type of the national format holds it.
        return Err("unsupported_question_type");
    }
    if answers.iter().all(|(m, _)| *m == '=') {
        let accepted = answers
            .iter()
            .map(|(_, a)| ShortAnswer::parse(&unescape(a)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                if e == "short_answer_too_long" {
                    e
                } else {
                    "short_answer_invalid"
                }
            })?;
        return Ok(Body::ShortAnswer { stem, accepted });
    }
    if answers
        .iter()
        .all(|(m, a)| *m == '~' && weighted(a).is_some())
    {
        if answers.len() != 4 {
            return Err("needs_four_statements");
        }
        let statements = answers
            .iter()
            .filter_map(|(_, a)| weighted(a))
            .map(|(w, text)| Statement {
                text: unescape(&text),
                correct: w > 0.0,
            })
            .collect();
        return Ok(Body::TrueFalse { stem, statements });
    }
    if answers.len() != 4 {
        return Err("needs_four_options");
    }
    let right: Vec<usize> = (0..4).filter(|i| answers[*i].0 == '=').collect();
    if right.len() != 1 {
        return Err(if right.is_empty() {
            "missing_answer"
        } else {
            "several_answers"
        });
    }
    let options = answers.iter().map(|(_, a)| unescape(a)).collect();
    Ok(Body::MultipleChoice {
        stem,
        options,
        correct: Choice::from_index(right[0]).expect("four"),
    })
}

/// Ends the question being read: its `::title::` (or its position) names it in the report.
fn flush(block: &mut String, at: usize, topic: &Option<String>, out: &mut Vec<Parsed>) {
    if block.trim().is_empty() {
        block.clear();
        return;
    }
    // The report names a question by its title where it has one, refused or not.
    let (title, rest) = title_of(block);
    let number = if title.is_empty() {
        (out.len() + 1).to_string()
    } else {
        title
    };
    let result = question(rest).map(|body| ParsedItem {
        body,
        level: None,
        topic: topic.clone(),
        competency: None,
        source: None,
        tags: vec![],
        solution: None,
    });
    out.push(Parsed {
        at,
        group: None,
        number,
        result,
    });
    block.clear();
}

pub fn parse(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut topic: Option<String> = None;
    let mut block = String::new();
    let mut block_start = 0;
    let mut depth = 0i32;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if depth == 0 && trimmed.starts_with("//") {
            continue;
        }
        if depth == 0
            && let Some(category) = trimmed.strip_prefix("$CATEGORY:")
        {
            flush(&mut block, block_start, &topic, &mut out);
            let parts: Vec<&str> = category
                .split('/')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.starts_with('$'))
                .collect();
            topic = Some(parts.join(" / ")).filter(|t| !t.is_empty());
            continue;
        }
        if depth == 0 && trimmed.is_empty() {
            flush(&mut block, block_start, &topic, &mut out);
            continue;
        }
        if block.is_empty() {
            block_start = i + 1;
        }
        depth += trimmed.matches('{').count() as i32 - trimmed.matches("\\{").count() as i32;
        depth -= trimmed.matches('}').count() as i32 - trimmed.matches("\\}").count() as i32;
        depth = depth.max(0);
        block.push_str(line);
        block.push('\n');
    }
    flush(&mut block, block_start, &topic, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gift_questions_of_every_supported_kind() {
        let file = "// Ngân hàng mẫu\n$CATEGORY: $course$/Hóa học 10/Chương 1. Cấu tạo nguyên tử\n\n\
::Câu 1:: Hạt nhân nguyên tử gồm {\n=proton và neutron\n~electron và proton\n~electron và neutron\n~chỉ có proton\n}\n\n\
::Câu 2:: Xét các phát biểu về nguyên tử {\n~%50%Electron mang điện âm\n~%-100%Neutron mang điện dương\n~%50%Proton nằm trong hạt nhân\n~%-100%Nguyên tử mang điện âm\n}\n\n\
::Câu 3:: Số proton của nguyên tử carbon (Z \\= 6) là {#6}\n\n\
::Câu 4:: Nguyên tố có Z \\= 11 là {=11 =Na}\n\n\
::Câu 5:: Trình bày mô hình nguyên tử Rutherford {}\n\n\
::Câu 6:: Electron mang điện âm {T}\n";
        assert!(looks_like_gift(file));
        let items = parse(file);
        let kinds: Vec<Result<&str, &str>> = items
            .iter()
            .map(|p| {
                p.result
                    .as_ref()
                    .map(|i| i.body.kind().as_str())
                    .map_err(|e| *e)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                Ok("multiple_choice"),
                Ok("true_false"),
                Ok("short_answer"),
                Err("short_answer_invalid"),
                Ok("essay"),
                Err("single_true_false")
            ]
        );
        let first = items[0].result.as_ref().unwrap();
        assert_eq!(
            first.topic.as_deref(),
            Some("Hóa học 10 / Chương 1. Cấu tạo nguyên tử")
        );
        let Body::TrueFalse { statements, .. } = &items[1].result.as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(
            statements.iter().map(|s| s.correct).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        let Body::ShortAnswer { stem, .. } = &items[2].result.as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(stem, "Số proton của nguyên tử carbon (Z = 6) là");
        assert_eq!(
            items[5].number, "Câu 6",
            "a refused question is named by its title"
        );
    }

    #[test]
    fn numeric_tolerances_are_refused_and_format_markers_dropped() {
        let file = "::Số khối:: Số khối của Na là {#23}\n\n::Sai số:: Khối lượng mol của Na (g/mol) {#23:0.5}\n\n::Khoảng:: Số electron lớp ngoài cùng {#1..2}\n\n::Không sai số:: Số hiệu nguyên tử của O {#8:0}\n\n::Ghép:: Ghép nguyên tố với kí hiệu {=Natri -> Na =Kali -> K =Oxi -> O}\n\n::Định dạng::[html]<b>Nguyên tố</b> nào là kim loại kiềm? {=[plain]Natri ~[markdown]Oxi ~Clo ~Neon}\n";
        let items = parse(file);
        let outcomes: Vec<(&str, Result<&str, &str>)> = items
            .iter()
            .map(|p| {
                (
                    p.number.as_str(),
                    p.result
                        .as_ref()
                        .map(|i| i.body.kind().as_str())
                        .map_err(|e| *e),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                ("Số khối", Ok("short_answer")),
                ("Sai số", Err("numeric_tolerance_unsupported")),
                ("Khoảng", Err("numeric_tolerance_unsupported")),
                ("Không sai số", Ok("short_answer")),
                ("Ghép", Err("unsupported_question_type")),
                ("Định dạng", Ok("multiple_choice")),
            ]
        );
        let Body::MultipleChoice { stem, options, .. } = &items[5].result.as_ref().unwrap().body
        else {
            panic!()
        };
        assert_eq!(stem, "Nguyên tố nào là kim loại kiềm?");
        assert_eq!(options, &["Natri", "Oxi", "Clo", "Neon"]);
    }
}
