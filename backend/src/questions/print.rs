//! The printable .docx of one paper code, laid out as Vietnamese schools print a paper: the
//! header block (the Sở or school on the left, the exam's title, subject and time on the right),
//! the candidate's lines and the mã đề, the three parts with Part I options four across, two by
//! two or one per line by their length, Part III answer boxes, "— HẾT —", and "Trang x/y" with
//! the code at the foot of every page. Formulas are Word equations (OMML), so that they print as
//! mathematics and a teacher can still edit them; images are embedded from the blob store. The
//! answer keys are a separate file (`keys_docx`: every code in one table, for the markers).
use std::io::Write;

use super::{
    domain::{Piece, pieces},
    paper_code::PaperCodeResponse,
    papers::CodeKey,
};
use crate::{
    exam_format::Subject,
    maths::{self, Segment},
    text::escape_markup,
};

/// The text width of an A4 page with 2 cm margins, in twentieths of a point.
const TEXT_WIDTH: u32 = 9_638;

/// What the header block says: who sets the paper and what it is.
pub struct Header<'a> {
    /// "SỞ GIÁO DỤC VÀ ĐÀO TẠO …" or the school's name.
    pub organisation: &'a str,
    /// The exam's name, or the paper's where it is printed outside an exam.
    pub title: &'a str,
}

fn run(text: &str, bold: bool) -> String {
    let props = if bold { "<w:rPr><w:b/></w:rPr>" } else { "" };
    format!(
        r#"<w:r>{props}<w:t xml:space="preserve">{}</w:t></w:r>"#,
        escape_markup(text)
    )
}

fn italic(text: &str) -> String {
    format!(
        r#"<w:r><w:rPr><w:i/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>"#,
        escape_markup(text)
    )
}

const TAB: &str = "<w:r><w:tab/></w:r>";

/// A paragraph kept on the page of the next one: a heading with its first question, a stem
/// with its options.
fn kept(runs: &str) -> String {
    format!(r#"<w:p><w:pPr><w:keepNext/></w:pPr>{runs}</w:p>"#)
}

fn paragraph(runs: &str, centered: bool) -> String {
    let props = if centered {
        r#"<w:pPr><w:jc w:val="center"/></w:pPr>"#
    } else {
        ""
    };
    format!("<w:p>{props}{runs}</w:p>")
}

/// A paragraph with tab stops at the given positions (twips from the left margin), kept with
/// the next one or not.
fn tabbed(runs: &str, stops: &[u32], keep: bool) -> String {
    let keep = if keep { "<w:keepNext/>" } else { "" };
    let tabs: String = stops
        .iter()
        .map(|at| format!(r#"<w:tab w:val="left" w:pos="{at}"/>"#))
        .collect();
    format!(
        r#"<w:p><w:pPr>{keep}<w:tabs>{tabs}</w:tabs><w:spacing w:after="60"/></w:pPr>{runs}</w:p>"#
    )
}

/// A Word field (PAGE, NUMPAGES) as its current value is computed by the reader.
fn field(code: &str) -> String {
    format!(
        r#"<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> {code} </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>"#
    )
}

/// Text with its `$…$` formulas as Word equations. A formula stored before the subset was
/// checked, and outside it, prints as its source in brackets for the teacher to fix.
fn text_with_formulas(text: &str) -> String {
    let mut out = String::new();
    for segment in maths::segments(text) {
        match segment {
            Segment::Text(t) => out.push_str(&run(t, false)),
            Segment::Formula { source, .. } => match maths::latex::parse(source) {
                Ok(node) => out.push_str(&maths::omml::write(&node)),
                Err(_) => out.push_str(&run(&format!("[{source}]"), false)),
            },
        }
    }
    out
}

/// How long a text looks printed, in characters: a formula counts what it shows, not its
/// LaTeX; an image counts as a full line.
fn printed_len(text: &str) -> usize {
    if text.contains("](blob:") {
        return usize::MAX;
    }
    maths::segments(text)
        .iter()
        .map(|segment| match segment {
            Segment::Text(t) => t.chars().count(),
            Segment::Formula { source, .. } => maths::latex::parse(source)
                .map(|node| maths::shown_len(&node))
                .unwrap_or(source.len()),
        })
        .sum()
}

/// An image to embed: its blob key and bytes.
pub struct Picture {
    pub key: String,
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Text with `![alt](blob:key)` images turned into inline pictures, 6 cm wide.
fn rich(text: &str, pictures: &[Picture]) -> String {
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(&text_with_formulas(t)),
            Piece::Figure { key, .. } => {
                let key = key.trim_start_matches("blob:");
                match pictures.iter().position(|p| p.key == key) {
                    Some(i) => out.push_str(&format!(
                        r#"<w:r><w:drawing><wp:inline><wp:extent cx="2286000" cy="1428750"/><wp:docPr id="{id}" name="hinh{id}"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="{id}" name="hinh{id}"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdImg{id}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="2286000" cy="1428750"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"#,
                        id = i + 1
                    )),
                    None => out.push_str(&run("[hình]", false)),
                }
            }
        }
    }
    out
}

const HEADINGS: [&str; 3] = [
    "PHẦN I. Câu trắc nghiệm nhiều phương án lựa chọn.",
    "PHẦN II. Câu trắc nghiệm đúng sai.",
    "PHẦN III. Câu trắc nghiệm trả lời ngắn.",
];

const INSTRUCTIONS: [&str; 3] = [
    "Thí sinh trả lời từ câu 1 đến câu {n}. Mỗi câu hỏi thí sinh chỉ chọn một phương án.",
    "Thí sinh trả lời từ câu 1 đến câu {n}. Trong mỗi ý a), b), c), d) ở mỗi câu, thí sinh chọn đúng hoặc sai.",
    "Thí sinh trả lời từ câu 1 đến câu {n}.",
];

/// A table without borders: the header block, two columns of centred lines.
fn header_block(header: &Header, subject: Subject, minutes: u16) -> String {
    let cell = |width: u32, lines: &[String]| {
        format!(
            r#"<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{}</w:tc>"#,
            lines.concat()
        )
    };
    let left = [
        paragraph(&run(&header.organisation.to_uppercase(), true), true),
        paragraph(&run("ĐỀ CHÍNH THỨC", true), true),
        paragraph(
            &format!(
                "{}{}{}",
                italic("(Đề thi có "),
                field("NUMPAGES"),
                italic(" trang)")
            ),
            true,
        ),
    ];
    let right = [
        paragraph(&run(&header.title.to_uppercase(), true), true),
        paragraph(
            &run(&format!("Môn: {}", subject.name_vi().to_uppercase()), true),
            true,
        ),
        paragraph(
            &italic(&format!(
                "Thời gian làm bài: {minutes} phút, không kể thời gian phát đề"
            )),
            true,
        ),
    ];
    format!(
        r#"<w:tbl><w:tblPr><w:tblW w:w="{TEXT_WIDTH}" w:type="dxa"/><w:tblBorders><w:top w:val="nil"/><w:left w:val="nil"/><w:bottom w:val="nil"/><w:right w:val="nil"/><w:insideH w:val="nil"/><w:insideV w:val="nil"/></w:tblBorders></w:tblPr><w:tblGrid><w:gridCol w:w="3855"/><w:gridCol w:w="5783"/></w:tblGrid><w:tr>{}{}</w:tr></w:tbl>"#,
        cell(3855, &left),
        cell(5783, &right)
    )
}

/// Part III's four answer boxes, one per character of the answer.
fn answer_boxes() -> String {
    let border = r#"<w:top w:val="single" w:sz="6"/><w:left w:val="single" w:sz="6"/><w:bottom w:val="single" w:sz="6"/><w:right w:val="single" w:sz="6"/>"#;
    let label = r#"<w:tc><w:tcPr><w:tcW w:w="1700" w:type="dxa"/></w:tcPr><w:p><w:r><w:t>Trả lời:</w:t></w:r></w:p></w:tc>"#;
    let boxes: String = (0..4)
        .map(|_| {
            format!(
                r#"<w:tc><w:tcPr><w:tcW w:w="567" w:type="dxa"/><w:tcBorders>{border}</w:tcBorders></w:tcPr><w:p/></w:tc>"#
            )
        })
        .collect();
    format!(
        r#"<w:tbl><w:tblPr><w:tblW w:w="3968" w:type="dxa"/><w:tblInd w:w="400" w:type="dxa"/></w:tblPr><w:tblGrid><w:gridCol w:w="1700"/><w:gridCol w:w="567"/><w:gridCol w:w="567"/><w:gridCol w:w="567"/><w:gridCol w:w="567"/></w:tblGrid><w:tr><w:trPr><w:trHeight w:val="454"/></w:trPr>{label}{boxes}</w:tr></w:tbl><w:p/>"#
    )
}

/// Part I's four options: four across when each fits a quarter of the line, two by two when
/// each fits half, one per line otherwise.
fn options(labels: &[&str], texts: &[&str], pictures: &[Picture]) -> String {
    let longest = texts.iter().map(|t| printed_len(t)).max().unwrap_or(0);
    let per_line = if longest <= 18 {
        4
    } else if longest <= 40 {
        2
    } else {
        1
    };
    let stops: Vec<u32> = (1..per_line)
        .map(|i| TEXT_WIDTH / per_line * i + 283)
        .collect();
    let mut out = String::new();
    let lines = labels.len().div_ceil(per_line as usize);
    for (n, (line_labels, line_texts)) in labels
        .chunks(per_line as usize)
        .zip(texts.chunks(per_line as usize))
        .enumerate()
    {
        let mut runs = String::from(TAB);
        for (i, (label, text)) in line_labels.iter().zip(line_texts).enumerate() {
            if i > 0 {
                runs.push_str(TAB);
            }
            runs.push_str(&run(&format!("{label}. "), true));
            runs.push_str(&rich(text, pictures));
        }
        let mut all_stops = vec![283];
        all_stops.extend(&stops);
        out.push_str(&tabbed(&runs, &all_stops, n + 1 < lines));
    }
    out
}

/// The candidates' file of one code: no key in it.
pub fn docx(
    header: &Header,
    code: &PaperCodeResponse,
    pictures: &[Picture],
) -> anyhow::Result<Vec<u8>> {
    let mut body = header_block(header, code.subject, code.minutes);
    body.push_str(&tabbed(
        &format!(
            "{}{TAB}{}",
            run("Họ và tên thí sinh: …………………………………………………", false),
            run(&format!("Mã đề thi {}", code.code), true)
        ),
        &[7400],
        false,
    ));
    body.push_str(&paragraph(
        &run("Số báo danh: …………………………………………………………", false),
        false,
    ));
    for part in 1..=3u8 {
        let questions: Vec<_> = code.questions.iter().filter(|q| q.part == part).collect();
        if questions.is_empty() {
            continue;
        }
        body.push_str(&kept(&run(HEADINGS[part as usize - 1], true)));
        body.push_str(&kept(&italic(
            &INSTRUCTIONS[part as usize - 1].replace("{n}", &questions.len().to_string()),
        )));
        let mut last_group = None;
        for q in questions {
            if q.group_id.is_some()
                && q.group_id != last_group
                && let Some(group) = code.groups.iter().find(|g| Some(g.id) == q.group_id)
            {
                body.push_str(&kept(&run(&group.title, true)));
                for line in group.stimulus.lines() {
                    body.push_str(&kept(&rich(line, pictures)));
                }
            }
            last_group = q.group_id;
            let stem = q.content["stem"].as_str().unwrap_or_default();
            body.push_str(&kept(&format!(
                "{}{}",
                run(&format!("Câu {}. ", q.number), true),
                rich(stem, pictures)
            )));
            let listed = |field: &str| -> Vec<&str> {
                q.content[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t.as_str().unwrap_or_default())
                    .collect()
            };
            match part {
                1 => body.push_str(&options(
                    &["A", "B", "C", "D"],
                    &listed("options"),
                    pictures,
                )),
                2 => {
                    let statements = listed("statements");
                    for (i, (label, text)) in
                        ["a", "b", "c", "d"].iter().zip(&statements).enumerate()
                    {
                        body.push_str(&tabbed(
                            &format!(
                                "{TAB}{}{}",
                                run(&format!("{label}) "), true),
                                rich(text, pictures)
                            ),
                            &[283],
                            i + 1 < statements.len(),
                        ));
                    }
                }
                _ => body.push_str(&answer_boxes()),
            }
        }
    }
    body.push_str(&paragraph(&run("— HẾT —", true), true));
    body.push_str(&paragraph(
        &italic("Thí sinh không được sử dụng tài liệu. Cán bộ coi thi không giải thích gì thêm."),
        true,
    ));
    package(&body, pictures, &format!("Mã đề {}", code.code))
}

/// The markers' file: every code's key in tables, Part I letters, Part II Đ/S and Part III
/// answers, eight codes per table so that it fits the page.
pub fn keys_docx(header: &Header, keys: &[CodeKey]) -> anyhow::Result<Vec<u8>> {
    let Some(first) = keys.first() else {
        anyhow::bail!("a paper has at least one code");
    };
    let mut body = String::new();
    body.push_str(&paragraph(
        &run(&header.organisation.to_uppercase(), true),
        true,
    ));
    body.push_str(&paragraph(&run("ĐÁP ÁN", true), true));
    body.push_str(&paragraph(&run(&header.title.to_uppercase(), true), true));
    body.push_str(&paragraph(
        &run(&format!("Môn: {}", first.subject.name_vi()), false),
        true,
    ));
    let cell = |text: &str, bold: bool| {
        format!(
            r#"<w:tc><w:tcPr><w:tcBorders><w:top w:val="single" w:sz="4"/><w:left w:val="single" w:sz="4"/><w:bottom w:val="single" w:sz="4"/><w:right w:val="single" w:sz="4"/></w:tcBorders></w:tcPr>{}</w:tc>"#,
            paragraph(&run(text, bold), true)
        )
    };
    let parts = [
        ("PHẦN I", 1, first.part1.len()),
        ("PHẦN II", 2, first.part2.len()),
        ("PHẦN III", 3, first.part3.len()),
    ];
    for (title, part, count) in parts {
        if count == 0 {
            continue;
        }
        body.push_str(&paragraph(&run(title, true), false));
        for chunk in keys.chunks(8) {
            let mut table = String::from(
                r#"<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:jc w:val="center"/></w:tblPr><w:tr>"#,
            );
            table.push_str(&cell("Câu \\ Mã đề", true));
            for key in chunk {
                table.push_str(&cell(&key.paper_code, true));
            }
            table.push_str("</w:tr>");
            for i in 0..count {
                table.push_str("<w:tr>");
                table.push_str(&cell(&(i + 1).to_string(), true));
                for key in chunk {
                    table.push_str(&cell(&key_answer(key, part, i), false));
                }
                table.push_str("</w:tr>");
            }
            table.push_str("</w:tbl><w:p/>");
            body.push_str(&table);
        }
    }
    package(&body, &[], "Đáp án")
}

/// One answer of a code's key as the markers read it: a letter, four Đ/S, or the accepted
/// answers.
fn key_answer(key: &CodeKey, part: u8, i: usize) -> String {
    let answer = match part {
        1 => key.part1.get(i).cloned(),
        2 => key.part2.get(i).map(|s| {
            s.chars()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        _ => key.part3.get(i).map(|a| a.join(" / ")),
    };
    answer.unwrap_or_default()
}

/// A .docx package around a body: A4, 2 cm margins, "Trang x/y" and a note in the footer.
fn package(body: &str, pictures: &[Picture], footer_note: &str) -> anyhow::Result<Vec<u8>> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" xmlns:m="{math}"><w:body>{body}<w:sectPr><w:footerReference w:type="default" r:id="rIdFooter"/><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="567" w:gutter="0"/></w:sectPr></w:body></w:document>"#,
        math = maths::omml::NAMESPACE
    );
    let footer = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:p><w:pPr><w:tabs><w:tab w:val="right" w:pos="{TEXT_WIDTH}"/></w:tabs></w:pPr>{}{}{}{}{TAB}{}</w:p></w:ftr>"#,
        run("Trang ", false),
        field("PAGE"),
        run("/", false),
        field("NUMPAGES"),
        run(footer_note, false)
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdFooter" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>"#,
    );
    for (i, p) in pictures.iter().enumerate() {
        rels.push_str(&format!(
            r#"<Relationship Id="rIdImg{}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/hinh{}.{}"/>"#,
            i + 1,
            i + 1,
            p.extension
        ));
    }
    rels.push_str("</Relationships>");
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Default Extension="jpg" ContentType="image/jpeg"/><Default Extension="gif" ContentType="image/gif"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/></Types>"#;
    let package_rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", package_rels.as_bytes()),
        ("word/document.xml", document.as_bytes()),
        ("word/footer1.xml", footer.as_bytes()),
        ("word/_rels/document.xml.rels", rels.as_bytes()),
    ] {
        zip.start_file(name, options)?;
        zip.write_all(bytes)?;
    }
    for (i, p) in pictures.iter().enumerate() {
        zip.start_file(format!("word/media/hinh{}.{}", i + 1, p.extension), options)?;
        zip.write_all(&p.bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: [&str; 4]) -> usize {
        options(&["A", "B", "C", "D"], &texts, &[])
            .matches("<w:p>")
            .count()
    }

    #[test]
    fn options_go_four_across_two_by_two_or_one_per_line_by_length() {
        assert_eq!(
            lines(["$\\frac{3}{10}$", "$\\frac{1}{2}$", "$2$", "$-1$"]),
            1
        );
        // A long fraction in LaTeX is still short on paper.
        assert_eq!(
            lines([
                "$\\frac{\\sqrt{3}}{2}$",
                "$\\frac{\\sqrt{2}}{2}$",
                "$\\frac{1}{2}$",
                "$\\sqrt{3}$"
            ]),
            1
        );
        assert_eq!(
            lines([
                "Hàm số đồng biến trên ℝ",
                "Hàm số nghịch biến trên ℝ",
                "Hàm số có hai cực trị",
                "Hàm số không có cực trị"
            ]),
            2
        );
        assert_eq!(
            lines([
                "Đồ thị hàm số cắt trục hoành tại ba điểm phân biệt có hoành độ dương",
                "b",
                "c",
                "d"
            ]),
            4
        );
    }
}
