//! Reading a Word (.docx) question bank: paragraphs with the formatting that marks answers,
//! equations (OMML) as LaTeX, and embedded images. Our own reader: equation-only paragraphs and
//! images matter here, and general-purpose docx crates drop them.
use std::collections::HashMap;

use bytes::Bytes;

use super::convention::{Paragraph, Run};
use crate::{
    files::Archive,
    imports::Budget,
    xml::{self, Element},
};

/// An image embedded in the document; its place in the text is `![hình](embedded:<id>)`.
pub struct EmbeddedImage {
    pub id: String,
    pub file_name: String,
    pub bytes: Bytes,
}

pub struct Document {
    pub paragraphs: Vec<Paragraph>,
    pub images: Vec<EmbeddedImage>,
}

/// Reads a .docx. Each part (and each image, however often the text refers to it) is inflated
/// once, and everything is paid for from the import's budget.
pub fn read(archive: &mut Archive, budget: &mut Budget) -> Result<Document, &'static str> {
    let document = archive
        .part("word/document.xml", budget)?
        .ok_or("unreadable_file")?;
    let root = xml::parse(&document, budget)?;
    let rels: HashMap<String, String> =
        match archive.part("word/_rels/document.xml.rels", budget)? {
            Some(rels) => xml::parse(&rels, budget)?
                .children_named("Relationship")
                .filter_map(|r| Some((r.attr("Id")?.to_owned(), r.attr("Target")?.to_owned())))
                .collect(),
            None => HashMap::new(),
        };
    let body = root.child("body").ok_or("unreadable_file")?;
    let mut paragraphs = Vec::new();
    let mut wanted_images = Vec::new();
    for (i, p) in body.descendants("p").into_iter().enumerate() {
        let mut runs = Vec::new();
        paragraph_runs(p, &mut runs, &mut wanted_images);
        paragraphs.push(Paragraph {
            number: i + 1,
            runs,
        });
    }
    // One image per relationship id, in the order the text first refers to it.
    let mut seen = std::collections::HashSet::new();
    wanted_images.retain(|id| seen.insert(id.clone()));
    let mut images = Vec::new();
    for id in wanted_images {
        let Some(target) = rels.get(&id) else {
            continue;
        };
        let path = format!("word/{}", target.trim_start_matches("./"));
        if let Some(bytes) = archive.part(&path, budget)? {
            let file_name = path.rsplit('/').next().unwrap_or("image").to_owned();
            images.push(EmbeddedImage {
                id,
                file_name,
                bytes,
            });
        }
    }
    Ok(Document { paragraphs, images })
}

fn on(el: Option<&Element>) -> bool {
    el.is_some_and(|e| !matches!(e.attr("val"), Some("0" | "false" | "none")))
}

fn is_red(hex: &str) -> bool {
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    hex.len() == 6 && channel(0) >= 0xC0 && channel(2) < 0x60 && channel(4) < 0x60
}

fn paragraph_runs(el: &Element, runs: &mut Vec<Run>, images: &mut Vec<String>) {
    for child in el.elements() {
        match child.name.as_str() {
            "r" => {
                let props = child.child("rPr");
                let style = Run {
                    text: String::new(),
                    bold: on(props.and_then(|p| p.child("b"))),
                    underline: on(props.and_then(|p| p.child("u"))),
                    red: props
                        .and_then(|p| p.child("color"))
                        .and_then(|c| c.attr("val"))
                        .is_some_and(is_red),
                };
                let mut text = String::new();
                for part in child.elements() {
                    match part.name.as_str() {
                        "t" => text.push_str(&part.text()),
                        "tab" => text.push('\t'),
                        "br" | "cr" => text.push(' '),
                        "drawing" | "pict" | "object" => {
                            for id in image_ids(part) {
                                text.push_str(&format!("![hình](embedded:{id})"));
                                images.push(id);
                            }
                        }
                        _ => {}
                    }
                }
                runs.push(Run { text, ..style });
            }
            "oMath" => runs.push(Run::plain(formula(child))),
            "oMathPara" => {
                let inner: Vec<String> = child.children_named("oMath").map(formula).collect();
                runs.push(Run::plain(inner.join(" ")));
            }
            "hyperlink" | "ins" | "smartTag" | "sdt" | "sdtContent" | "fldSimple" => {
                paragraph_runs(child, runs, images)
            }
            _ => {}
        }
    }
}

fn image_ids(el: &Element) -> Vec<String> {
    let mut ids: Vec<String> = el
        .descendants("blip")
        .iter()
        .filter_map(|b| b.attr("embed").map(str::to_owned))
        .collect();
    // Old equation objects (MathType) carry only a preview picture.
    ids.extend(
        el.descendants("imagedata")
            .iter()
            .filter_map(|i| i.attr("id").map(str::to_owned)),
    );
    ids
}

/// A Word equation as canonical LaTeX between `$` signs. One the maths model cannot hold is
/// kept as a formula the item check refuses (`unsupported_math`), never as raw text.
fn formula(el: &Element) -> String {
    match crate::maths::omml::read(el) {
        Ok(node) => format!("${}$", crate::maths::latex::write(&node)),
        Err(why) => crate::maths::refused(&why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn omml(inner: &str) -> String {
        let doc = format!(r#"<m:oMath xmlns:m="m">{inner}</m:oMath>"#);
        formula(&xml::parse(doc.as_bytes(), &mut Budget::for_import()).unwrap())
    }

    #[test]
    fn equations_become_canonical_latex() {
        let r = |t: &str| format!("<m:r><m:t>{t}</m:t></m:r>");
        assert_eq!(
            omml(&format!(
                "<m:f><m:num>{}</m:num><m:den>{}</m:den></m:f>",
                r("1"),
                r("2")
            )),
            "$\\frac{1}{2}$"
        );
        assert_eq!(
            omml(&format!(
                "<m:sSup><m:e>{}</m:e><m:sup>{}</m:sup></m:sSup>",
                r("x"),
                r("2")
            )),
            "$x^{2}$"
        );
        assert_eq!(
            omml(&format!(
                "<m:rad><m:radPr><m:degHide m:val=\"1\"/></m:radPr><m:deg/><m:e>{}</m:e></m:rad>",
                r("x+1")
            )),
            "$\\sqrt{x+1}$"
        );
        // An integral with limits, as Word writes it: bounds, not empty groups.
        assert_eq!(
            omml(&format!(
                "<m:nary><m:naryPr><m:chr m:val=\"∫\"/><m:limLoc m:val=\"subSup\"/></m:naryPr><m:sub>{}</m:sub><m:sup>{}</m:sup><m:e>{}</m:e></m:nary>",
                r("0"),
                r("2"),
                r("4x dx")
            )),
            "$\\int_{0}^{2}4xdx$"
        );
        assert_eq!(
            omml(&format!(
                "<m:d><m:e>{}</m:e><m:e>{}</m:e></m:d>",
                r("1"),
                r("+∞")
            )),
            "$\\left(1,+\\infty\\right)$"
        );
        // The same integral as files made outside the equation editor hold it: `∫` and
        // scripts on empty bases.
        assert_eq!(
            omml(&format!(
                "{}<m:sSub><m:e>{}</m:e><m:sub>{}</m:sub></m:sSub><m:sSup><m:e>{}</m:e><m:sup>{}</m:sup></m:sSup>{}",
                r("∫"),
                r(""),
                r("0"),
                r(""),
                r("3"),
                r(" 2x dx")
            )),
            "$\\int_{0}^{3}2xdx$"
        );
        assert_eq!(omml(&r("a ≤ b")), "$a\\le b$");
        assert_eq!(
            omml(&format!(
                "<m:sSub><m:e>{}</m:e><m:sub>{}</m:sub></m:sSub>{}",
                r("log"),
                r("2"),
                r("8")
            )),
            "$\\log_{2}8$"
        );
        // x³ typed as a character inside an equation is a power.
        assert_eq!(omml(&r("x³ − 2x²")), "$x^{3}-2x^{2}$");
        // What the model does not hold is refused by the item check, with its reason.
        let refused = omml("<m:sPre><m:sub/><m:sup/><m:e/></m:sPre>");
        assert!(crate::maths::canonical_text(&refused).is_err(), "{refused}");
    }
}
