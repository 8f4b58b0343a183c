//! MathML Core, as Chromium, Firefox and Safari render it: written for screens and QTI, read
//! back from QTI packages.
use super::{
    Node, Unsupported,
    latex::{scripts, symbol},
};
use crate::{text::escape_markup, xml::Element};

pub const NAMESPACE: &str = "http://www.w3.org/1998/Math/MathML";

/// A formula as a `<math>` element, inline or set apart (`display`).
pub fn write(node: &Node, display: bool) -> String {
    let mode = if display { r#" display="block""# } else { "" };
    let mut out = format!(r#"<math xmlns="{NAMESPACE}"{mode}>"#);
    match node {
        Node::Row(nodes) => nodes.iter().for_each(|n| put(&mut out, n)),
        other => put(&mut out, other),
    }
    out.push_str("</math>");
    out
}

fn token(out: &mut String, tag: &str, attrs: &str, text: &str) {
    out.push_str(&format!("<{tag}{attrs}>{}</{tag}>", escape_markup(text)));
}

fn wrap(out: &mut String, tag: &str, attrs: &str, parts: &[&Node]) {
    out.push_str(&format!("<{tag}{attrs}>"));
    for part in parts {
        put(out, part);
    }
    out.push_str(&format!("</{tag}>"));
}

fn put(out: &mut String, node: &Node) {
    match node {
        Node::Row(nodes) => {
            out.push_str("<mrow>");
            nodes.iter().for_each(|n| put(out, n));
            out.push_str("</mrow>");
        }
        Node::Ident(c) => token(out, "mi", "", c.encode_utf8(&mut [0; 4])),
        Node::Word(w) if w.chars().count() == 1 => token(out, "mi", r#" mathvariant="normal""#, w),
        Node::Word(w) => token(out, "mi", "", w),
        Node::Number(n) => token(out, "mn", "", n),
        Node::Op(op) => token(out, "mo", "", op),
        Node::Text(t) => token(out, "mtext", "", t),
        Node::Space { wide } => out.push_str(if *wide {
            r#"<mspace width="1em"/>"#
        } else {
            r#"<mspace width="0.1667em"/>"#
        }),
        Node::Frac(num, den) => wrap(out, "mfrac", "", &[num, den]),
        Node::Sqrt(body) => wrap(out, "msqrt", "", &[body]),
        Node::Root(index, body) => wrap(out, "mroot", "", &[body, index]),
        Node::Scripts {
            base,
            sub,
            sup,
            limits,
        } => {
            let (under, over, both) = if *limits {
                ("munder", "mover", "munderover")
            } else {
                ("msub", "msup", "msubsup")
            };
            match (sub, sup) {
                (Some(sub), Some(sup)) => wrap(out, both, "", &[base, sub, sup]),
                (Some(sub), None) => wrap(out, under, "", &[base, sub]),
                (None, Some(sup)) => wrap(out, over, "", &[base, sup]),
                (None, None) => put(out, base),
            }
        }
        Node::Accent(body, mark) => {
            out.push_str(r#"<mover accent="true">"#);
            put(out, body);
            token(out, "mo", "", mark.encode_utf8(&mut [0; 4]));
            out.push_str("</mover>");
        }
        Node::Fenced { open, close, body } => {
            out.push_str("<mrow>");
            if let Some(open) = open {
                token(
                    out,
                    "mo",
                    r#" fence="true" form="prefix""#,
                    open.encode_utf8(&mut [0; 4]),
                );
            }
            match body.as_ref() {
                Node::Row(nodes) => nodes.iter().for_each(|n| put(out, n)),
                other => put(out, other),
            }
            if let Some(close) = close {
                token(
                    out,
                    "mo",
                    r#" fence="true" form="postfix""#,
                    close.encode_utf8(&mut [0; 4]),
                );
            }
            out.push_str("</mrow>");
        }
        Node::Table(rows) => {
            out.push_str(r#"<mtable columnalign="left">"#);
            for row in rows {
                out.push_str("<mtr>");
                for cell in row {
                    out.push_str("<mtd>");
                    put(out, cell);
                    out.push_str("</mtd>");
                }
                out.push_str("</mtr>");
            }
            out.push_str("</mtable>");
        }
    }
}

/// Reads a `<math>` element written as text.
#[cfg(test)]
pub fn read_str(text: &str) -> Result<Node, Unsupported> {
    let root = crate::xml::parse(text.as_bytes(), &mut crate::imports::Budget::for_import())
        .map_err(|e| Unsupported(format!("MathML is not well-formed XML ({e})")))?;
    read(&root)
}

/// Reads a `<math>` element (or any MathML element) to the tree.
pub fn read(el: &Element) -> Result<Node, Unsupported> {
    let parts = || el.elements().map(read).collect::<Result<Vec<_>, _>>();
    let nth = |n: usize| -> Result<Node, Unsupported> {
        el.elements()
            .nth(n)
            .map(read)
            .unwrap_or_else(|| Err(Unsupported(format!("MathML <{}> lacks a part", el.name))))
    };
    let text = || el.text().trim().to_owned();
    let single = |t: String| -> Result<char, Unsupported> {
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(Unsupported(format!(
                "MathML <{}> of one character expected",
                el.name
            ))),
        }
    };
    Ok(match el.name.as_str() {
        "math" | "semantics" => Node::row(parts()?),
        "mrow" | "mstyle" | "mpadded" => {
            let mut nodes = parts()?;
            let is_fence = |e: Option<&Element>, form: &str| {
                e.is_some_and(|e| {
                    e.name == "mo"
                        && e.attr("fence") == Some("true")
                        && e.attr("form") == Some(form)
                })
            };
            let opens = is_fence(el.elements().next(), "prefix");
            let closes = is_fence(el.elements().last(), "postfix");
            if opens || closes {
                let close = if closes { nodes.pop() } else { None };
                let open = if opens { Some(nodes.remove(0)) } else { None };
                let side = |n: Option<Node>| match n {
                    Some(Node::Op(op)) => op.chars().next(),
                    Some(Node::Ident(c)) => Some(c),
                    _ => None,
                };
                Node::Fenced {
                    open: side(open),
                    close: side(close),
                    body: Box::new(Node::row(nodes)),
                }
            } else if el.name == "mrow" {
                Node::Row(nodes)
            } else {
                Node::row(nodes)
            }
        }
        "mi" => {
            let t = text();
            if el.attr("mathvariant") == Some("normal") || t.chars().count() > 1 {
                Node::Word(t)
            } else {
                let c = single(t)?;
                if c.is_alphabetic() {
                    Node::Ident(c)
                } else {
                    symbol(c)
                }
            }
        }
        "mn" => Node::Number(text()),
        "mo" => {
            let t = text();
            match (t.chars().count(), t.chars().next()) {
                (1, Some(c)) => symbol(c),
                _ => Node::Op(t),
            }
        }
        "mtext" | "ms" => Node::Text(el.text()),
        "mspace" => Node::Space {
            wide: el.attr("width").is_some_and(|w| {
                w.trim_end_matches("em")
                    .parse::<f32>()
                    .is_ok_and(|em| em >= 0.5)
            }),
        },
        "mfrac" => Node::Frac(Box::new(nth(0)?), Box::new(nth(1)?)),
        "msqrt" => Node::Sqrt(Box::new(Node::row(parts()?))),
        "mroot" => Node::Root(Box::new(nth(1)?), Box::new(nth(0)?)),
        "msub" => scripts(nth(0)?, Some(nth(1)?), None, false),
        "msup" => scripts(nth(0)?, None, Some(nth(1)?), false),
        "msubsup" => scripts(nth(0)?, Some(nth(1)?), Some(nth(2)?), false),
        "munder" => scripts(nth(0)?, Some(nth(1)?), None, true),
        "mover" if el.attr("accent") == Some("true") => match nth(1)? {
            Node::Op(mark) | Node::Word(mark) if mark.chars().count() == 1 => {
                Node::Accent(Box::new(nth(0)?), single(mark)?)
            }
            Node::Ident(mark) => Node::Accent(Box::new(nth(0)?), mark),
            _ => return Err(Unsupported("MathML accent that is not one mark".into())),
        },
        "mover" => scripts(nth(0)?, None, Some(nth(1)?), true),
        "munderover" => scripts(nth(0)?, Some(nth(1)?), Some(nth(2)?), true),
        "mtable" => Node::Table(
            el.children_named("mtr")
                .map(|row| {
                    row.children_named("mtd")
                        .map(|cell| {
                            Ok(Node::row(
                                cell.elements().map(read).collect::<Result<_, _>>()?,
                            ))
                        })
                        .collect::<Result<Vec<_>, Unsupported>>()
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(Unsupported(format!("MathML element <{other}>"))),
    })
}
