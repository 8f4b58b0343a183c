//! Reading a Word (.docx) question bank: paragraphs with the formatting that marks answers,
//! equations (OMML) as LaTeX, and embedded images. Our own reader: equation-only paragraphs and
//! images matter here, and general-purpose docx crates drop them.
use std::collections::HashMap;

use bytes::Bytes;

use super::convention::{Paragraph, Run};
use crate::{
    files::Archive,
    imports::Budget,
    xml::{self, Element, Node},
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
            "oMath" => runs.push(Run::plain(format!("${}$", latex(child).trim()))),
            "oMathPara" => {
                let inner: Vec<String> = child
                    .children_named("oMath")
                    .map(|m| latex(m).trim().to_owned())
                    .collect();
                runs.push(Run::plain(format!("$${}$$", inner.join(" \\\\ "))));
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

// ---------------------------------------------------------------------------------------------
// OMML → LaTeX

fn symbol(c: char) -> Option<&'static str> {
    Some(match c {
        '−' => "-",
        '×' => "\\times ",
        '·' | '⋅' => "\\cdot ",
        '÷' => "\\div ",
        '≤' => "\\le ",
        '≥' => "\\ge ",
        '≠' => "\\ne ",
        '≈' => "\\approx ",
        '±' => "\\pm ",
        '∞' => "\\infty ",
        '∈' => "\\in ",
        '∉' => "\\notin ",
        '⊂' => "\\subset ",
        '∪' => "\\cup ",
        '∩' => "\\cap ",
        '∅' => "\\emptyset ",
        '→' => "\\to ",
        '⇒' => "\\Rightarrow ",
        '⇔' => "\\Leftrightarrow ",
        '°' => "^\\circ ",
        'π' => "\\pi ",
        'α' => "\\alpha ",
        'β' => "\\beta ",
        'γ' => "\\gamma ",
        'δ' => "\\delta ",
        'Δ' => "\\Delta ",
        'ε' => "\\varepsilon ",
        'λ' => "\\lambda ",
        'μ' => "\\mu ",
        'ω' => "\\omega ",
        'Ω' => "\\Omega ",
        'φ' => "\\varphi ",
        'θ' => "\\theta ",
        'ρ' => "\\rho ",
        'σ' => "\\sigma ",
        'ℝ' => "\\mathbb{R}",
        _ => return None,
    })
}

fn text_of_run(el: &Element) -> String {
    el.children_named("t")
        .map(|t| t.text())
        .collect::<String>()
        .chars()
        .map(|c| {
            symbol(c)
                .map(str::to_owned)
                .unwrap_or_else(|| c.to_string())
        })
        .collect()
}

fn part(el: &Element, name: &str) -> String {
    el.child(name).map(latex).unwrap_or_default()
}

fn prop<'a>(el: &'a Element, props: &str, name: &str) -> Option<&'a str> {
    el.child(props)?.child(name)?.attr("val")
}

/// Converts one OMML element (and everything below it) to LaTeX.
pub fn latex(el: &Element) -> String {
    let mut out = String::new();
    for node in &el.children {
        let Node::Element(child) = node else { continue };
        match child.name.as_str() {
            "r" => out.push_str(&text_of_run(child)),
            "f" => out.push_str(&format!(
                "\\frac{{{}}}{{{}}}",
                part(child, "num"),
                part(child, "den")
            )),
            "sSup" => out.push_str(&format!(
                "{{{}}}^{{{}}}",
                part(child, "e"),
                part(child, "sup")
            )),
            "sSub" => out.push_str(&format!(
                "{{{}}}_{{{}}}",
                part(child, "e"),
                part(child, "sub")
            )),
            "sSubSup" => out.push_str(&format!(
                "{{{}}}_{{{}}}^{{{}}}",
                part(child, "e"),
                part(child, "sub"),
                part(child, "sup")
            )),
            "rad" => {
                let degree = part(child, "deg");
                if degree.trim().is_empty()
                    || prop(child, "radPr", "degHide").is_some_and(|v| v == "1" || v == "on")
                {
                    out.push_str(&format!("\\sqrt{{{}}}", part(child, "e")));
                } else {
                    out.push_str(&format!("\\sqrt[{degree}]{{{}}}", part(child, "e")));
                }
            }
            "d" => {
                let open = prop(child, "dPr", "begChr").unwrap_or("(");
                let close = prop(child, "dPr", "endChr").unwrap_or(")");
                let sep = prop(child, "dPr", "sepChr").unwrap_or("|");
                let delim = |c: &str| match c {
                    "{" => "\\{".to_owned(),
                    "}" => "\\}".to_owned(),
                    "" => ".".to_owned(),
                    other => other.to_owned(),
                };
                let inner: Vec<String> = child.children_named("e").map(latex).collect();
                let sep = if sep == "|" { "|" } else { sep };
                out.push_str(&format!(
                    "\\left{}{}\\right{}",
                    delim(open),
                    inner.join(if inner.len() > 1 && sep == "|" {
                        ","
                    } else {
                        sep
                    }),
                    delim(close)
                ));
            }
            "nary" => {
                let op = match prop(child, "naryPr", "chr").unwrap_or("∫") {
                    "∑" => "\\sum",
                    "∏" => "\\prod",
                    "∮" => "\\oint",
                    "∬" => "\\iint",
                    "⋃" => "\\bigcup",
                    "⋂" => "\\bigcap",
                    _ => "\\int",
                };
                let (sub, sup) = (part(child, "sub"), part(child, "sup"));
                out.push_str(op);
                if !sub.is_empty() {
                    out.push_str(&format!("_{{{sub}}}"));
                }
                if !sup.is_empty() {
                    out.push_str(&format!("^{{{sup}}}"));
                }
                out.push_str(&format!(" {}", part(child, "e")));
            }
            "func" => {
                let name = part(child, "fName");
                let known = [
                    "sin", "cos", "tan", "cot", "log", "ln", "lim", "exp", "max", "min",
                ];
                let name = if known.contains(&name.trim()) {
                    format!("\\{} ", name.trim())
                } else {
                    name
                };
                out.push_str(&format!("{name}{}", part(child, "e")));
            }
            "limLow" => out.push_str(&format!(
                "{}_{{{}}}",
                part(child, "e").replace("lim", "\\lim"),
                part(child, "lim")
            )),
            "limUpp" => out.push_str(&format!("{}^{{{}}}", part(child, "e"), part(child, "lim"))),
            "acc" => {
                let command = match prop(child, "accPr", "chr").unwrap_or("̂") {
                    "⃗" | "→" => "\\vec",
                    "̄" | "¯" => "\\overline",
                    "̇" => "\\dot",
                    _ => "\\hat",
                };
                out.push_str(&format!("{command}{{{}}}", part(child, "e")));
            }
            "bar" => out.push_str(&format!("\\overline{{{}}}", part(child, "e"))),
            "eqArr" => {
                let rows: Vec<String> = child.children_named("e").map(latex).collect();
                out.push_str(&format!(
                    "\\begin{{cases}}{}\\end{{cases}}",
                    rows.join(" \\\\ ")
                ));
            }
            name if name.ends_with("Pr") => {}
            _ => out.push_str(&latex(child)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn omml(inner: &str) -> String {
        let doc = format!(r#"<m:oMath xmlns:m="m">{inner}</m:oMath>"#);
        latex(&xml::parse(doc.as_bytes(), &mut Budget::for_import()).unwrap())
    }

    #[test]
    fn equations_become_latex() {
        let r = |t: &str| format!("<m:r><m:t>{t}</m:t></m:r>");
        assert_eq!(
            omml(&format!(
                "<m:f><m:num>{}</m:num><m:den>{}</m:den></m:f>",
                r("1"),
                r("2")
            )),
            "\\frac{1}{2}"
        );
        assert_eq!(
            omml(&format!(
                "<m:sSup><m:e>{}</m:e><m:sup>{}</m:sup></m:sSup>",
                r("x"),
                r("2")
            )),
            "{x}^{2}"
        );
        assert_eq!(
            omml(&format!(
                "<m:rad><m:radPr><m:degHide m:val=\"1\"/></m:radPr><m:deg/><m:e>{}</m:e></m:rad>",
                r("x+1")
            )),
            "\\sqrt{x+1}"
        );
        assert_eq!(
            omml(&format!(
                "<m:nary><m:naryPr><m:chr m:val=\"∫\"/></m:naryPr><m:sub>{}</m:sub><m:sup>{}</m:sup><m:e>{}</m:e></m:nary>",
                r("0"),
                r("1"),
                r("x dx")
            )),
            "\\int_{0}^{1} x dx"
        );
        assert_eq!(
            omml(&format!(
                "<m:d><m:e>{}</m:e><m:e>{}</m:e></m:d>",
                r("1"),
                r("+∞")
            )),
            "\\left(1,+\\infty \\right)"
        );
        assert_eq!(omml(&r("a ≤ b")), "a \\le  b");
    }
}
