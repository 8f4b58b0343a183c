//! IMS QTI 3.0: items (choice, text entry, extended text; Part II as a composite of four
//! true/false choice interactions) and content packages (imsmanifest.xml + one file per item).
//! HọcThi metadata travels in the manifest under its own namespace, so a round trip keeps it.
use std::{
    collections::HashMap,
    io::{Cursor, Write},
};

use super::{
    convention::{Parsed, ParsedItem},
    docx::EmbeddedImage,
    domain::{Body, Criterion, Metadata, Piece, Statement, default_rubric, figure_name, pieces},
};
use crate::exam_format::{Choice, Points, ShortAnswer};
use crate::files::Archive;
use crate::imports::Budget;
use crate::maths::{self, Segment};
use crate::text::{clean_text, escape_markup};
use crate::xml::{self, Element};

const NS: &str = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0";

/// Our text as XHTML paragraphs (line breaks become paragraphs).
fn para(text: &str) -> String {
    text.lines()
        .map(|l| format!("<p>{}</p>", inline(l)))
        .collect()
}

/// Text escaped, with its formulas as MathML (QTI 3.0 carries MathML in item bodies). A formula
/// stored before the subset was checked, and outside it, goes as its source text.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(&inline_maths(t)),
            // The package carries the figure beside the items (`items/media/<name>`).
            Piece::Figure { alt, key } => out.push_str(&format!(
                r#"<img src="media/{}" alt="{}"/>"#,
                escape_markup(figure_name(key)),
                escape_markup(alt)
            )),
        }
    }
    out
}

fn inline_maths(text: &str) -> String {
    let mut out = String::new();
    for segment in maths::segments(text) {
        match segment {
            Segment::Text(t) => out.push_str(&escape_markup(t)),
            Segment::Formula { source, display } => match maths::latex::parse(source) {
                Ok(node) => out.push_str(&maths::mathml::write(&node, display)),
                Err(_) => out.push_str(&escape_markup(&format!("${source}$"))),
            },
        }
    }
    out
}

/// The text below an element, with each MathML formula read back to `$…$` LaTeX.
fn text_with_maths(el: &Element, out: &mut String) {
    for node in &el.children {
        match node {
            xml::Node::Text(t) => out.push_str(t),
            xml::Node::Element(e) if e.name == "math" => match maths::mathml::read(e) {
                Ok(formula) => {
                    let mark = if e.attr("display") == Some("block") {
                        "$$"
                    } else {
                        "$"
                    };
                    out.push_str(&format!("{mark}{}{mark}", maths::latex::write(&formula)));
                }
                // Kept as a formula the item check refuses with its reason, never dropped.
                Err(why) => out.push_str(&maths::refused(&why)),
            },
            // A figure of the package, found again by `parse_package` from its path.
            xml::Node::Element(e) if e.name == "img" => out.push_str(&format!(
                "![{}](embedded:{})",
                e.attr("alt").unwrap_or("hình").replace([']', '['], ""),
                e.attr("src")
                    .unwrap_or_default()
                    .replace(['(', ')', ' '], "")
            )),
            // The interaction's own prompt is read with it; its choices are not stem text.
            xml::Node::Element(e) if INTERACTIONS.contains(&e.name.as_str()) => {}
            xml::Node::Element(e) => text_with_maths(e, out),
        }
    }
}

/// Elements of an item body that are answers or keys, not text of the stem.
const INTERACTIONS: [&str; 6] = [
    "qti-choice-interaction",
    "qti-text-entry-interaction",
    "qti-extended-text-interaction",
    "qti-rubric-block",
    "qti-response-declaration",
    "qti-simple-choice",
];

pub fn item_xml(id: &str, body: &Body) -> String {
    let mut declarations = String::new();
    let mut interactions = String::new();
    match body {
        Body::MultipleChoice {
            options, correct, ..
        } => {
            declarations.push_str(&format!(
                r#"<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"><qti-correct-response><qti-value>{}</qti-value></qti-correct-response></qti-response-declaration>"#,
                correct.letter()
            ));
            interactions.push_str(r#"<qti-choice-interaction response-identifier="RESPONSE" shuffle="true" max-choices="1">"#);
            for (i, o) in options.iter().enumerate() {
                let label = Choice::from_index(i).map(|c| c.letter()).unwrap_or('X');
                interactions.push_str(&format!(
                    r#"<qti-simple-choice identifier="{label}">{}</qti-simple-choice>"#,
                    inline(o)
                ));
            }
            interactions.push_str("</qti-choice-interaction>");
        }
        Body::TrueFalse { statements, .. } => {
            for (i, s) in statements.iter().enumerate() {
                let label = (b'A' + i as u8) as char;
                declarations.push_str(&format!(
                    r#"<qti-response-declaration identifier="RESPONSE_{label}" cardinality="single" base-type="identifier"><qti-correct-response><qti-value>{}</qti-value></qti-correct-response></qti-response-declaration>"#,
                    if s.correct { "DUNG" } else { "SAI" }
                ));
                interactions.push_str(&format!(
                    r#"<qti-choice-interaction response-identifier="RESPONSE_{label}" shuffle="false" max-choices="1"><qti-prompt>{}</qti-prompt><qti-simple-choice identifier="DUNG">Đúng</qti-simple-choice><qti-simple-choice identifier="SAI">Sai</qti-simple-choice></qti-choice-interaction>"#,
                    inline(&s.text)
                ));
            }
        }
        Body::ShortAnswer { accepted, .. } => {
            let values: String = accepted
                .iter()
                .map(|a| format!("<qti-value>{}</qti-value>", escape_markup(a.as_str())))
                .collect();
            declarations.push_str(&format!(
                r#"<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"><qti-correct-response>{values}</qti-correct-response></qti-response-declaration>"#
            ));
            interactions.push_str(r#"<qti-text-entry-interaction response-identifier="RESPONSE" expected-length="4"/>"#);
        }
        Body::Essay { rubric, .. } => {
            declarations.push_str(r#"<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>"#);
            interactions
                .push_str(r#"<qti-extended-text-interaction response-identifier="RESPONSE"/>"#);
            interactions.push_str(r#"<qti-rubric-block use="scoring" view="scorer">"#);
            for c in rubric {
                interactions.push_str(&format!(
                    r#"<p data-points="{}">{}</p>"#,
                    c.points,
                    escape_markup(&c.description)
                ));
            }
            interactions.push_str("</qti-rubric-block>");
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><qti-assessment-item xmlns="{NS}" identifier="I{id}" title="{id}" adaptive="false" time-dependent="false">{declarations}<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/><qti-item-body><div class="stem">{}</div>{interactions}</qti-item-body><qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/></qti-assessment-item>"#,
        para(body.stem())
    )
}

/// The figures items show, by their names in the blob store's figure folder.
pub fn figures_of<'a>(bodies: impl IntoIterator<Item = &'a Body>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for body in bodies {
        for text in body.texts() {
            for piece in pieces(text) {
                if let Piece::Figure { key, .. } = piece
                    && key.starts_with("blob:")
                    && !names.iter().any(|n| n == figure_name(key))
                {
                    names.push(figure_name(key).to_owned());
                }
            }
        }
    }
    names
}

/// A package of items with their metadata, and the figures they show (`items/media/<name>`,
/// as `figures_of` names them).
pub fn package(
    items: &[(String, Body, Metadata)],
    figures: &[(String, bytes::Bytes)],
) -> anyhow::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut resources = String::new();
    for (id, body, meta) in items {
        let href = format!("items/{id}.xml");
        zip.start_file(&href, options)?;
        zip.write_all(item_xml(id, body).as_bytes())?;
        let files: String = figures_of([body])
            .iter()
            .map(|name| format!(r#"<file href="items/media/{}"/>"#, escape_markup(name)))
            .collect();
        resources.push_str(&format!(
            r#"<resource identifier="R{id}" type="imsqti_item_xmlv3p0" href="{href}"><metadata><hocthi:metadata>{}</hocthi:metadata></metadata><file href="{href}"/>{files}</resource>"#,
            escape_markup(&serde_json::to_string(meta)?)
        ));
    }
    for (name, bytes) in figures {
        zip.start_file(format!("items/media/{name}"), options)?;
        zip.write_all(bytes)?;
    }
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" xmlns:hocthi="https://hocthi.vn/xsd/metadata" identifier="HOCTHI-EXPORT"><metadata><schema>QTI Package</schema><schemaversion>3.0.0</schemaversion></metadata><organizations/><resources>{resources}</resources></manifest>"#
    );
    zip.start_file("imsmanifest.xml", options)?;
    zip.write_all(manifest.as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

/// Text of an element: paragraphs joined by line breaks, then cleaned like any content.
fn text_of(el: &Element) -> String {
    let read = |e: &Element| {
        let mut text = String::new();
        text_with_maths(e, &mut text);
        text
    };
    let paragraphs: Vec<String> = el.descendants("p").into_iter().map(read).collect();
    if paragraphs.is_empty() {
        clean_text(&read(el))
    } else {
        clean_text(&paragraphs.join("\n"))
    }
}

/// The stem of an item another tool wrote: the body's blocks around its interactions, one
/// line each, then the prompt of its one interaction.
fn stem_of(body: &Element, prompt: Option<&Element>) -> String {
    let mut lines = Vec::new();
    for node in &body.children {
        match node {
            xml::Node::Text(t) => lines.push(t.clone()),
            xml::Node::Element(e) if INTERACTIONS.contains(&e.name.as_str()) => {}
            xml::Node::Element(e) if e.name == "img" || e.name == "math" => {
                let mut line = String::new();
                text_with_maths(
                    &Element {
                        children: vec![node.clone()],
                        ..Element::default()
                    },
                    &mut line,
                );
                lines.push(line);
            }
            xml::Node::Element(e) => lines.push(text_of(e)),
        }
    }
    if let Some(prompt) = prompt {
        lines.push(text_of(prompt));
    }
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    clean_text(&lines.join("\n"))
}

fn correct_values(item: &Element, response: &str) -> Vec<String> {
    item.children_named("qti-response-declaration")
        .find(|d| d.attr("identifier") == Some(response))
        .and_then(|d| d.child("qti-correct-response"))
        .map(|c| {
            c.children_named("qti-value")
                .map(|v| v.text().trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// An item file: its title, where it has one (the report names the item by it), and its body.
fn parse_item(
    bytes: &[u8],
    budget: &mut Budget,
) -> Result<(Option<String>, Result<Body, &'static str>), &'static str> {
    let root = xml::parse(bytes, budget)?;
    let title = root.attr("title").map(clean_text).filter(|t| !t.is_empty());
    Ok((title, item_from(&root)))
}

/// Reads a parsed `<qti-assessment-item>`.
pub fn item_from(item: &Element) -> Result<Body, &'static str> {
    if item.name != "qti-assessment-item" {
        return Err("unsupported_media_type");
    }
    let body = item.child("qti-item-body").ok_or("missing_stem")?;
    let ours = body.elements().find(|e| e.attr("class") == Some("stem"));
    // HọcThi writes its stem apart; other tools' stems are the text around the interactions
    // and the prompt of the one interaction.
    let stem_with = |prompt: Option<&Element>| match ours {
        Some(stem) => text_of(stem),
        None => stem_of(body, prompt),
    };
    let choices = body.descendants("qti-choice-interaction");
    if let [one] = choices.as_slice() {
        let response = one.attr("response-identifier").unwrap_or("RESPONSE");
        let right = correct_values(item, response);
        let several = one.attr("max-choices").is_some_and(|m| m != "1")
            || right.len() > 1
            || item.children_named("qti-response-declaration").any(|d| {
                d.attr("identifier") == Some(response) && d.attr("cardinality") == Some("multiple")
            });
        if several {
            // Part I has one right answer; guessing one of several would score it wrongly.
            return Err("multiple_response_unsupported");
        }
        let stem = stem_with(one.child("qti-prompt"));
        let options: Vec<&Element> = one.children_named("qti-simple-choice").collect();
        if options.len() != 4 {
            return Err("needs_four_options");
        }
        let index = options
            .iter()
            .position(|o| right.first().map(String::as_str) == o.attr("identifier"))
            .ok_or("missing_answer")?;
        return Ok(Body::MultipleChoice {
            stem,
            options: options.iter().map(|o| text_of(o)).collect(),
            correct: Choice::from_index(index).expect("four"),
        });
    }
    if !choices.is_empty() {
        if choices.len() != 4 {
            return Err("needs_four_statements");
        }
        let statements = choices
            .iter()
            .map(|c| {
                let response = c.attr("response-identifier").unwrap_or_default();
                let right = correct_values(item, response);
                let first = c
                    .children_named("qti-simple-choice")
                    .next()
                    .and_then(|s| s.attr("identifier"))
                    .unwrap_or_default();
                Statement {
                    text: c.child("qti-prompt").map(text_of).unwrap_or_default(),
                    correct: right.first().is_some_and(|v| {
                        v == first || v == "DUNG" || v.eq_ignore_ascii_case("true")
                    }),
                }
            })
            .collect();
        return Ok(Body::TrueFalse {
            stem: stem_with(None),
            statements,
        });
    }
    if let Some(entry) = body.descendants("qti-text-entry-interaction").first() {
        let accepted = correct_values(
            item,
            entry.attr("response-identifier").unwrap_or("RESPONSE"),
        )
        .iter()
        .map(|v| ShortAnswer::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            if e == "short_answer_too_long" {
                e
            } else {
                "short_answer_invalid"
            }
        })?;
        return if accepted.is_empty() {
            Err("missing_answer")
        } else {
            Ok(Body::ShortAnswer {
                stem: stem_with(None),
                accepted,
            })
        };
    }
    if let Some(extended) = body.descendants("qti-extended-text-interaction").first() {
        let stem = stem_with(extended.child("qti-prompt"));
        let rubric: Vec<Criterion> = body
            .descendants("qti-rubric-block")
            .iter()
            .flat_map(|r| r.children_named("p"))
            .map(|p| Criterion {
                description: clean_text(&p.text()),
                points: p
                    .attr("data-points")
                    .and_then(Points::parse)
                    .unwrap_or(Points::hundredths(100)),
            })
            .collect();
        let rubric = if rubric.is_empty() {
            default_rubric(Points::hundredths(100))
        } else {
            rubric
        };
        return Ok(Body::Essay { stem, rubric });
    }
    Err("unsupported_question_type")
}

/// Every item of a package, with the metadata the manifest carries for it. An item the
/// manifest lists more than once is read and parsed once.
/// `src` of a figure in the item file `href`, as a path inside the package; `None` when it
/// climbs out of the package or is not a file in it.
fn package_path(href: &str, src: &str) -> Option<String> {
    if src.contains("://") || src.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = href.split('/').collect();
    parts.pop();
    for segment in src.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            name => parts.push(name),
        }
    }
    Some(parts.join("/"))
}

/// Points the item's figures (`embedded:<src>` as read) at their path in the package, and
/// lists those paths.
fn locate_figures(
    body: &mut Body,
    href: &str,
    found: &mut Vec<String>,
) -> Result<(), &'static str> {
    for text in body.texts_mut() {
        let mut located = String::with_capacity(text.len());
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => located.push_str(t),
                Piece::Figure { alt, key } => {
                    let src = key.strip_prefix("embedded:").ok_or("unreadable_file")?;
                    let path = package_path(href, src).ok_or("image_missing")?;
                    located.push_str(&format!("![{alt}](embedded:{path})"));
                    if !found.contains(&path) {
                        found.push(path);
                    }
                }
            }
        }
        *text = located;
    }
    Ok(())
}

pub fn parse_package(
    archive: &mut Archive,
    budget: &mut Budget,
) -> Result<(Vec<Parsed>, Vec<EmbeddedImage>), &'static str> {
    let manifest = archive
        .part("imsmanifest.xml", budget)?
        .ok_or("unreadable_file")?;
    let manifest = xml::parse(&manifest, budget)?;
    let mut bodies: HashMap<String, Result<Body, &'static str>> = HashMap::new();
    let mut figures: Vec<String> = Vec::new();
    let mut titles: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    let resources = manifest
        .child("resources")
        .map(|r| r.children_named("resource").collect::<Vec<_>>())
        .unwrap_or_default();
    for (i, resource) in resources.into_iter().enumerate() {
        if !resource
            .attr("type")
            .unwrap_or_default()
            .starts_with("imsqti_item")
        {
            continue;
        }
        let href = resource.attr("href").unwrap_or_default();
        let meta: Option<Metadata> = resource
            .child("metadata")
            .and_then(|m| m.child("metadata"))
            .and_then(|m| serde_json::from_str(&m.text()).ok());
        let body = match bodies.get(href) {
            Some(known) => known.clone(),
            None => {
                let parsed = match archive.part(href, budget) {
                    Ok(Some(bytes)) => match parse_item(&bytes, budget) {
                        Ok((title, body)) => {
                            if let Some(title) = title {
                                titles.insert(href.to_owned(), title);
                            }
                            body.and_then(|mut body| {
                                locate_figures(&mut body, href, &mut figures)?;
                                Ok(body)
                            })
                        }
                        Err(code) => Err(code),
                    },
                    Ok(None) => Err("unreadable_file"),
                    Err(code) => Err(code),
                };
                // A spent budget ends the whole import; a bad item only this one.
                if let Err(code) = parsed
                    && crate::imports::is_budget(code)
                {
                    return Err(code);
                }
                bodies.insert(href.to_owned(), parsed.clone());
                parsed
            }
        };
        let result = body.map(|body| ParsedItem {
            body,
            level: meta.as_ref().map(|m| m.level),
            topic: meta.as_ref().map(|m| m.topic.join(" / ")),
            competency: meta.as_ref().and_then(|m| m.competency.clone()),
            source: meta.as_ref().and_then(|m| m.source.clone()),
            tags: meta.as_ref().map(|m| m.tags.clone()).unwrap_or_default(),
            solution: meta.as_ref().and_then(|m| m.solution.clone()),
        });
        out.push(Parsed {
            at: i + 1,
            group: None,
            number: titles.get(href).cloned().unwrap_or_else(|| href.to_owned()),
            result,
        });
    }
    // Each figure once, read from the package within the budget.
    let mut images = Vec::new();
    for path in figures {
        if let Some(bytes) = archive.part(&path, budget)? {
            images.push(EmbeddedImage {
                file_name: path.rsplit('/').next().unwrap_or("image").to_owned(),
                id: path,
                bytes,
            });
        }
    }
    // An item whose figure the package lacks is refused, not stored with a hole.
    for parsed in &mut out {
        if let Ok(item) = &parsed.result {
            let missing = item.body.texts().iter().any(|t| {
                pieces(t).iter().any(|p| {
                    matches!(p, Piece::Figure { key, .. }
                        if !images.iter().any(|i| key.strip_prefix("embedded:") == Some(i.id.as_str())))
                })
            });
            if missing {
                parsed.result = Err("image_missing");
            }
        }
    }
    Ok((out, images))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that clean_text keeps (a `$` inside it, as maths may hold) leaves every writer as
    /// characters, never as markup (docs/SECURITY.md, finding 7).
    #[test]
    fn markup_in_an_item_is_written_escaped_in_qti_and_moodle_xml() {
        let attack = r#"<img src=x onerror=alert(1) title="$">"#;
        let body = Body::MultipleChoice {
            stem: attack.to_owned(),
            options: vec![attack.to_owned(), "2".into(), "3".into(), "4".into()],
            correct: Choice::A,
        };
        let qti = item_xml("i1", &body);
        let metadata = Metadata {
            subject: crate::exam_format::Subject::Toan,
            grade: 12,
            series: None,
            topic: vec!["Chương 1".into()],
            level: super::super::domain::Level::Biet,
            competency: None,
            tags: Vec::new(),
            source: None,
            solution: Some(attack.to_owned()),
        };
        let moodle = super::super::moodle::export(&[("Câu 1".into(), body, metadata)]);
        for (format, written) in [("QTI", qti), ("Moodle XML", moodle)] {
            assert!(!written.contains("<img"), "{format}: {written}");
            assert!(written.contains("&lt;img"), "{format}: {written}");
        }
    }
}
