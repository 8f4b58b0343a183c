//! The printable .docx of one paper code, in the form schools print: header, the three parts,
//! and the answer key on its own page. Equations stay as LaTeX text (`$…$`); images are
//! embedded from the blob store.
use std::io::Write;

use super::paper_code::PaperCodeResponse;

fn run(text: &str, bold: bool) -> String {
    let props = if bold { "<w:rPr><w:b/></w:rPr>" } else { "" };
    format!(
        r#"<w:r>{props}<w:t xml:space="preserve">{}</w:t></w:r>"#,
        crate::text::escape_markup(text)
    )
}

fn paragraph(runs: &str, centered: bool) -> String {
    let props = if centered {
        r#"<w:pPr><w:jc w:val="center"/></w:pPr>"#
    } else {
        ""
    };
    format!("<w:p>{props}{runs}</w:p>")
}

/// An image to embed: its blob key and bytes.
pub struct Picture {
    pub key: String,
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Text with `![alt](blob:key)` images turned into inline pictures.
fn rich(text: &str, pictures: &[Picture]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("![") {
        let Some(mid) = rest[start..].find("](blob:") else {
            break;
        };
        let Some(end) = rest[start + mid..].find(')') else {
            break;
        };
        out.push_str(&run(&rest[..start], false));
        let key = &rest[start + mid + 7..start + mid + end];
        match pictures.iter().position(|p| p.key == key) {
            Some(i) => out.push_str(&format!(
                r#"<w:r><w:drawing><wp:inline><wp:extent cx="2286000" cy="1428750"/><wp:docPr id="{id}" name="hinh{id}"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="{id}" name="hinh{id}"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdImg{id}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="2286000" cy="1428750"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"#,
                id = i + 1
            )),
            None => out.push_str(&run("[hình]", false)),
        }
        rest = &rest[start + mid + end + 1..];
    }
    out.push_str(&run(rest, false));
    out
}

const HEADINGS: [&str; 3] = [
    "PHẦN I. Câu trắc nghiệm nhiều phương án lựa chọn.",
    "PHẦN II. Câu trắc nghiệm đúng sai.",
    "PHẦN III. Câu trắc nghiệm trả lời ngắn.",
];

pub fn docx(
    paper_name: &str,
    code: &PaperCodeResponse,
    pictures: &[Picture],
) -> anyhow::Result<Vec<u8>> {
    let mut body = String::new();
    body.push_str(&paragraph(&run("SỞ GIÁO DỤC VÀ ĐÀO TẠO", true), true));
    body.push_str(&paragraph(&run(&paper_name.to_uppercase(), true), true));
    body.push_str(&paragraph(
        &run(
            &format!(
                "Môn: {} — Thời gian làm bài: {} phút, không kể thời gian phát đề",
                code.subject.name_vi(),
                code.minutes
            ),
            false,
        ),
        true,
    ));
    body.push_str(&paragraph(
        &run(&format!("Mã đề: {}", code.code), true),
        true,
    ));
    body.push_str(&paragraph(
        &run("Họ và tên thí sinh: ……………………………… Số báo danh: …………", false),
        false,
    ));
    for part in 1..=3u8 {
        let questions: Vec<_> = code.questions.iter().filter(|q| q.part == part).collect();
        if questions.is_empty() {
            continue;
        }
        body.push_str(&paragraph(&run(HEADINGS[part as usize - 1], true), false));
        let mut last_group = None;
        for q in questions {
            if q.group_id.is_some()
                && q.group_id != last_group
                && let Some(group) = code.groups.iter().find(|g| Some(g.id) == q.group_id)
            {
                body.push_str(&paragraph(&run(&group.title, true), false));
                for line in group.stimulus.lines() {
                    body.push_str(&paragraph(&rich(line, pictures), false));
                }
            }
            last_group = q.group_id;
            let stem = q.content["stem"].as_str().unwrap_or_default();
            body.push_str(&paragraph(
                &format!(
                    "{}{}",
                    run(&format!("Câu {}. ", q.number), true),
                    rich(stem, pictures)
                ),
                false,
            ));
            let (list, labels, closer) = match part {
                1 => ("options", ["A", "B", "C", "D"], "."),
                _ => ("statements", ["a", "b", "c", "d"], ")"),
            };
            for (label, text) in labels
                .iter()
                .zip(q.content[list].as_array().into_iter().flatten())
            {
                let text = text.as_str().unwrap_or_default();
                body.push_str(&paragraph(
                    &format!(
                        "{}{}",
                        run(&format!("{label}{closer} "), true),
                        rich(text, pictures)
                    ),
                    false,
                ));
            }
        }
    }
    body.push_str(r#"<w:p><w:r><w:br w:type="page"/></w:r></w:p>"#);
    body.push_str(&paragraph(
        &run(&format!("ĐÁP ÁN — Mã đề {}", code.code), true),
        true,
    ));
    let key = &code.key;
    let part1: Vec<String> = key
        .part1
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}", i + 1))
        .collect();
    for (title, line) in [
        ("Phần I: ", part1.join(" ")),
        ("Phần II: ", key.part2.join(" | ")),
        (
            "Phần III: ",
            key.part3
                .iter()
                .map(|a| a.join(" / "))
                .collect::<Vec<_>>()
                .join(" | "),
        ),
    ] {
        if !line.is_empty() {
            body.push_str(&paragraph(
                &format!("{}{}", run(title, true), run(&line, false)),
                false,
            ));
        }
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="709" w:gutter="0"/></w:sectPr></w:body></w:document>"#
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
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
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Default Extension="jpg" ContentType="image/jpeg"/><Default Extension="gif" ContentType="image/gif"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let package_rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", package_rels.as_bytes()),
        ("word/document.xml", document.as_bytes()),
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
