//! The Word convention Vietnamese teachers write question banks in, read from paragraphs
//! (plain-text lines or .docx paragraphs with their formatting):
//!
//! - `PHẦN I` / `PHẦN II` / `PHẦN III` headings choose the item type;
//! - `Câu N.` or `Câu N:` starts an item;
//! - options `A.`-`D.` (one per line, or several on one line); the correct one is marked by
//!   underline, bold, red colour or a leading `*` on its label;
//! - Part II statements `a)`-`d)`, a marked statement is true (Đ), an unmarked one false (S);
//! - `Đáp án:` gives Part III's answer (several accepted forms separated by `;` or `/`);
//! - `Lời giải:` starts the worked solution; optional metadata lines `Mức độ:`, `Chủ đề:`,
//!   `Năng lực:`, `Nguồn:`, `Thẻ:`.
use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{Body, Level, Statement};
use crate::exam_format::{Choice, ShortAnswer};
use crate::text::fold;

/// A run of text with the marks that can flag a correct answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub bold: bool,
    pub underline: bool,
    pub red: bool,
}

impl Run {
    pub fn plain(text: impl Into<String>) -> Self {
        Run {
            text: text.into(),
            ..Default::default()
        }
    }
}

/// A paragraph: its runs, and where it is, for reports ("dòng 12", "đoạn 12").
#[derive(Clone, Debug, Default)]
pub struct Paragraph {
    pub number: usize,
    pub runs: Vec<Run>,
}

impl Paragraph {
    pub fn text(&self) -> String {
        self.runs.iter().map(|r| r.text.as_str()).collect()
    }
}

/// One item read from the file, or why it could not be.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The paragraph where the item starts.
    pub at: usize,
    /// Index of the group (shared stimulus) it belongs to, in the file's list of groups.
    pub group: Option<usize>,
    pub number: String,
    pub result: Result<ParsedItem, &'static str>,
}

#[derive(Clone, Debug)]
pub struct ParsedItem {
    pub body: Body,
    pub level: Option<Level>,
    pub topic: Option<String>,
    pub competency: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub solution: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
enum Part {
    One,
    Two,
    Three,
}

/// Which marks a label carries: `*`, underline, red, bold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Marks {
    star: bool,
    underline: bool,
    red: bool,
    bold: bool,
}

struct Labelled {
    label: char,
    text: String,
    marks: Marks,
}

/// Splits a paragraph into labelled pieces (`A.`…`D.` or `a)`…`d)`), keeping each label's marks.
fn labelled(paragraph: &Paragraph, labels: &[char], closer: char, already: usize) -> Vec<Labelled> {
    // Flatten to characters with the run each came from.
    let chars: Vec<(char, &Run)> = paragraph
        .runs
        .iter()
        .flat_map(|r| r.text.chars().map(move |c| (c, r)))
        .collect();
    let mut starts = Vec::new();
    for i in 0..chars.len() {
        let (c, _) = chars[i];
        let star = i > 0 && chars[i - 1].0 == '*';
        let before_ok = {
            let j = if star { i.wrapping_sub(1) } else { i };
            j == 0
                || chars
                    .get(j.wrapping_sub(1))
                    .is_some_and(|(p, _)| p.is_whitespace())
        };
        if labels.contains(&c) && chars.get(i + 1).is_some_and(|(n, _)| *n == closer) && before_ok {
            let next = already + starts.len();
            if next < labels.len() && c == labels[next] {
                starts.push((i, star));
            }
        }
    }
    let mut out = Vec::new();
    for (k, (start, star)) in starts.iter().enumerate() {
        let end = starts
            .get(k + 1)
            .map(|(s, st)| if *st { s - 1 } else { *s })
            .unwrap_or(chars.len());
        let label_run = chars[*start].1;
        let text: String = chars[start + 2..end].iter().map(|(c, _)| *c).collect();
        out.push(Labelled {
            label: chars[*start].0,
            text: text.trim().to_owned(),
            marks: Marks {
                star: *star,
                underline: label_run.underline,
                red: label_run.red,
                bold: label_run.bold,
            },
        });
    }
    out
}

/// The mark that singles answers out: the first of `*`, underline, red, bold that is not on
/// every label (teachers often bold all labels and underline the right one).
fn deciding_mark(all: &[Marks]) -> Option<fn(&Marks) -> bool> {
    let tests: [fn(&Marks) -> bool; 4] = [|m| m.star, |m| m.underline, |m| m.red, |m| m.bold];
    tests
        .into_iter()
        .find(|t| all.iter().any(t) && !all.iter().all(t))
}

fn starts_item(text: &str) -> Option<(String, String)> {
    let t = text.trim_start();
    let rest = t.strip_prefix("Câu ").or_else(|| t.strip_prefix("CÂU "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let after = rest[digits.len()..].strip_prefix(['.', ':'])?;
    Some((digits, after.trim().to_owned()))
}

fn part_heading(text: &str) -> Option<Part> {
    let folded = fold(text);
    let rest = folded.strip_prefix("phan ")?;
    let numeral: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
    match numeral.as_str() {
        "i" | "1" => Some(Part::One),
        "ii" | "2" => Some(Part::Two),
        "iii" | "3" => Some(Part::Three),
        _ => None,
    }
}

/// `Đáp án:` → ("dap an", "…"): a label before a colon, folded.
fn meta_line(text: &str) -> Option<(String, String)> {
    let (label, value) = text.split_once(':')?;
    let folded = fold(label);
    let known = [
        "dap an",
        "loi giai",
        "huong dan giai",
        "muc do",
        "chu de",
        "nang luc",
        "nguon",
        "the",
    ];
    known
        .contains(&folded.as_str())
        .then(|| (folded, value.trim().to_owned()))
}

/// A shared stimulus opened by a `Ngữ liệu:` line: the items after it belong to it until
/// `Hết ngữ liệu`, another `Ngữ liệu:` or a part heading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupDraft {
    pub title: String,
    pub stimulus: String,
}

struct Draft {
    at: usize,
    group: Option<usize>,
    number: String,
    part: Part,
    stem: Vec<String>,
    options: Vec<Labelled>,
    answer: Option<String>,
    solution: Vec<String>,
    in_solution: bool,
    meta: Vec<(String, String)>,
}

impl Draft {
    fn finish(self) -> Parsed {
        let Draft {
            at,
            group,
            number,
            part,
            stem,
            options,
            answer,
            solution,
            meta,
            ..
        } = self;
        let result = (|| {
            let stem = stem.join("\n").trim().to_owned();
            if stem.is_empty() {
                return Err("missing_stem");
            }
            let marks: Vec<Marks> = options.iter().map(|o| o.marks).collect();
            let body = match part {
                Part::One => {
                    if options.len() != 4 {
                        return Err("needs_four_options");
                    }
                    let mark = deciding_mark(&marks).ok_or("missing_answer")?;
                    let marked: Vec<usize> = (0..4).filter(|i| mark(&marks[*i])).collect();
                    if marked.len() != 1 {
                        return Err("several_answers");
                    }
                    Body::MultipleChoice {
                        stem,
                        options: options.into_iter().map(|o| o.text).collect(),
                        correct: Choice::from_index(marked[0]).expect("four options"),
                    }
                }
                Part::Two => {
                    if options.len() != 4 {
                        return Err("needs_four_statements");
                    }
                    // All false is a legitimate key, so no mark at all means S, S, S, S.
                    let mark = deciding_mark(&marks);
                    Body::TrueFalse {
                        stem,
                        statements: options
                            .into_iter()
                            .map(|o| Statement {
                                correct: mark.is_some_and(|m| m(&o.marks)),
                                text: o.text,
                            })
                            .collect(),
                    }
                }
                Part::Three => {
                    let answer = answer.ok_or("missing_answer")?;
                    let accepted = answer
                        .split([';', '/'])
                        .map(|a| ShortAnswer::parse(a))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| {
                            if e == "short_answer_too_long" {
                                "short_answer_too_long"
                            } else {
                                "short_answer_invalid"
                            }
                        })?;
                    Body::ShortAnswer { stem, accepted }
                }
            };
            let get = |key: &str| {
                meta.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            let level = match get("muc do") {
                Some(l) => Some(Level::parse(&l).ok_or("invalid_level")?),
                None => None,
            };
            Ok(ParsedItem {
                body,
                level,
                topic: get("chu de"),
                competency: get("nang luc"),
                source: get("nguon"),
                tags: get("the")
                    .map(|t| t.split(',').map(|s| s.trim().to_owned()).collect())
                    .unwrap_or_default(),
                solution: Some(solution.join("\n").trim().to_owned()).filter(|s| !s.is_empty()),
            })
        })();
        Parsed {
            at,
            group,
            number,
            result,
        }
    }
}

fn group_start(text: &str) -> Option<String> {
    let (label, rest) = text.split_once(':')?;
    matches!(fold(label).as_str(), "ngu lieu" | "doan van" | "passage")
        .then(|| rest.trim().to_owned())
}

fn group_end(text: &str) -> bool {
    matches!(
        fold(text).trim_end_matches('.'),
        "het ngu lieu" | "het doan van" | "end of passage"
    )
}

/// Reads every item and shared passage; problems are reported per item, never by failing the
/// whole file.
pub fn parse_with_groups(paragraphs: &[Paragraph]) -> (Vec<Parsed>, Vec<GroupDraft>) {
    let mut groups: Vec<GroupDraft> = Vec::new();
    let mut open_group: Option<usize> = None;
    // True while the stimulus of the open group is still being read.
    let mut in_stimulus = false;
    let mut part = Part::One;
    let mut items = Vec::new();
    let mut current: Option<Draft> = None;
    for paragraph in paragraphs {
        let text = paragraph.text();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(p) = part_heading(trimmed) {
            items.extend(current.take().map(Draft::finish));
            part = p;
            open_group = None;
            continue;
        }
        if let Some(title) = group_start(trimmed) {
            items.extend(current.take().map(Draft::finish));
            groups.push(GroupDraft {
                title: if title.is_empty() {
                    "Ngữ liệu".into()
                } else {
                    title
                },
                stimulus: String::new(),
            });
            open_group = Some(groups.len() - 1);
            in_stimulus = true;
            continue;
        }
        if group_end(trimmed) {
            items.extend(current.take().map(Draft::finish));
            open_group = None;
            continue;
        }
        if let Some((number, rest)) = starts_item(trimmed) {
            in_stimulus = false;
            items.extend(current.take().map(Draft::finish));
            current = Some(Draft {
                at: paragraph.number,
                group: open_group,
                number,
                part,
                stem: vec![rest].into_iter().filter(|s| !s.is_empty()).collect(),
                options: Vec::new(),
                answer: None,
                solution: Vec::new(),
                in_solution: false,
                meta: Vec::new(),
            });
            continue;
        }
        if in_stimulus && let Some(g) = open_group {
            let stimulus = &mut groups[g].stimulus;
            if !stimulus.is_empty() {
                stimulus.push('\n');
            }
            stimulus.push_str(trimmed);
            continue;
        }
        let Some(draft) = current.as_mut() else {
            continue;
        };
        if let Some((key, value)) = meta_line(trimmed) {
            match key.as_str() {
                "dap an" => draft.answer = Some(value),
                "loi giai" | "huong dan giai" => {
                    draft.in_solution = true;
                    draft.solution.push(value);
                }
                _ => draft.meta.push((key, value)),
            }
            continue;
        }
        if draft.in_solution {
            draft.solution.push(trimmed.to_owned());
            continue;
        }
        let (labels, closer): (&[char], char) = match draft.part {
            Part::One => (&['A', 'B', 'C', 'D', 'E', 'F'], '.'),
            Part::Two => (&['a', 'b', 'c', 'd', 'e', 'f'], ')'),
            Part::Three => (&[], '.'),
        };
        let found = if labels.is_empty() {
            Vec::new()
        } else {
            labelled(paragraph, labels, closer, draft.options.len())
        };
        if found
            .first()
            .is_some_and(|f| trimmed.trim_start_matches('*').starts_with(f.label))
        {
            draft.options.extend(found);
        } else if let Some(last) = draft.options.last_mut() {
            last.text.push('\n');
            last.text.push_str(trimmed);
        } else {
            draft.stem.push(trimmed.to_owned());
        }
    }
    items.extend(current.map(Draft::finish));
    (items, groups)
}

/// Plain text in the same convention: one paragraph a line, `*` the only mark.
pub fn paragraphs_of_text(text: &str) -> Vec<Paragraph> {
    text.lines()
        .enumerate()
        .map(|(i, line)| Paragraph {
            number: i + 1,
            runs: vec![Run::plain(line)],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BANK: &str = "\
PHẦN I. Câu trắc nghiệm nhiều phương án lựa chọn
Câu 1. Cho hàm số $y = x^3 - 3x$. Hàm số đồng biến trên khoảng nào?
A. $(-1; 1)$
*B. $(1; +\\infty)$
C. $(-\\infty; 1)$
D. $(-2; 2)$
Lời giải: Ta có $y' = 3x^2 - 3 > 0$ khi $|x| > 1$.
Mức độ: Thông hiểu
Câu 2: Giá trị của $\\log_2 8$ là
A. 2    *B. 3    C. 4    D. 8
Câu 3. Thiếu đáp án
A. 1
B. 2
C. 3
D. 4
Câu 4. Năm phương án
A. 1
B. 2
*C. 3
D. 4
E. 5
PHẦN II. Câu trắc nghiệm đúng sai
Câu 1. Cho hàm số $f(x) = e^x$.
*a) $f'(x) = e^x$
b) $f(0) = 0$
*c) Hàm số đồng biến trên $\\mathbb{R}$
d) Đồ thị cắt trục hoành
Câu 2. Chỉ có ba ý
a) Một
b) Hai
c) Ba
PHẦN III. Câu trắc nghiệm trả lời ngắn
Câu 1. Tính $\\int_0^1 3x^2\\,dx$.
Đáp án: 1
Câu 2. Diện tích (làm tròn đến hàng phần mười)?
Đáp án: 0,5; 0.50
Câu 3. Đáp án quá dài
Đáp án: 12345
Câu 4. Không có đáp án
";

    #[test]
    fn the_text_convention_reads_good_items_and_names_bad_ones() {
        let items = parse_with_groups(&paragraphs_of_text(BANK)).0;
        let summary: Vec<(usize, &str, Result<&str, &str>)> = items
            .iter()
            .map(|p| {
                (
                    p.at,
                    p.number.as_str(),
                    p.result
                        .as_ref()
                        .map(|i| i.body.kind().as_str())
                        .map_err(|e| *e),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (2, "1", Ok("multiple_choice")),
                (9, "2", Ok("multiple_choice")),
                (11, "3", Err("missing_answer")),
                (16, "4", Err("needs_four_options")),
                (23, "1", Ok("true_false")),
                (28, "2", Err("needs_four_statements")),
                (33, "1", Ok("short_answer")),
                (35, "2", Ok("short_answer")),
                (37, "3", Err("short_answer_too_long")),
                (39, "4", Err("missing_answer")),
            ]
        );
        let first = items[0].result.as_ref().unwrap();
        assert_eq!(first.level, Some(Level::Hieu));
        assert_eq!(
            first.solution.as_deref(),
            Some("Ta có $y' = 3x^2 - 3 > 0$ khi $|x| > 1$.")
        );
        let Body::MultipleChoice {
            options, correct, ..
        } = &first.body
        else {
            panic!()
        };
        assert_eq!(
            (options[1].as_str(), *correct),
            ("$(1; +\\infty)$", Choice::B)
        );
        let Body::MultipleChoice {
            options, correct, ..
        } = &items[1].result.as_ref().unwrap().body
        else {
            panic!()
        };
        assert_eq!(
            (options.join("|"), *correct),
            ("2|3|4|8".to_owned(), Choice::B),
            "options on one line"
        );
        let Body::TrueFalse { statements, .. } = &items[4].result.as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(
            statements.iter().map(|s| s.correct).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        let Body::ShortAnswer { accepted, .. } = &items[7].result.as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(
            accepted.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            ["0,5", "0,50"]
        );
    }

    #[test]
    fn a_passage_groups_the_items_after_it() {
        let text = "PHẦN I\nNgữ liệu: Read the passage and answer questions 1-2.\nHanoi is the capital of Vietnam.\nIt has many lakes.\nCâu 1. What is the capital?\nA. Hue\n*B. Hanoi\nC. Da Nang\nD. Can Tho\nCâu 2. What does it have many of?\n*A. lakes\nB. deserts\nC. volcanoes\nD. glaciers\nHết ngữ liệu\nCâu 3. Choose the odd one out.\n*A. apple\nB. run\nC. jump\nD. swim\n";
        let (items, groups) = parse_with_groups(&paragraphs_of_text(text));
        assert_eq!(
            groups,
            [GroupDraft {
                title: "Read the passage and answer questions 1-2.".into(),
                stimulus: "Hanoi is the capital of Vietnam.\nIt has many lakes.".into()
            }]
        );
        assert_eq!(
            items.iter().map(|i| i.group).collect::<Vec<_>>(),
            [Some(0), Some(0), None]
        );
        assert!(items.iter().all(|i| i.result.is_ok()));
    }

    #[test]
    fn formatting_marks_the_answer_when_labels_share_a_style() {
        let run = |text: &str, bold: bool, underline: bool| Run {
            text: text.into(),
            bold,
            underline,
            red: false,
        };
        let paragraphs = vec![
            Paragraph {
                number: 1,
                runs: vec![Run::plain("Câu 1. Chọn đáp án đúng")],
            },
            // Every label is bold; only C is also underlined: underline decides.
            Paragraph {
                number: 2,
                runs: vec![run("A.", true, false), run(" một", false, false)],
            },
            Paragraph {
                number: 3,
                runs: vec![run("B.", true, false), run(" hai", false, false)],
            },
            Paragraph {
                number: 4,
                runs: vec![run("C.", true, true), run(" ba", false, false)],
            },
            Paragraph {
                number: 5,
                runs: vec![run("D.", true, false), run(" bốn", false, false)],
            },
        ];
        let items = parse_with_groups(&paragraphs).0;
        let Body::MultipleChoice {
            correct, options, ..
        } = &items[0].result.as_ref().unwrap().body
        else {
            panic!()
        };
        assert_eq!((*correct, options[2].as_str()), (Choice::C, "ba"));
    }
}
