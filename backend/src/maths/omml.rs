//! Office Math (OMML), the equations of Word: read from the teachers' .docx files and written
//! into every .docx the service makes, so that formulas print as equations and stay editable.
use super::{
    Node, Unsupported,
    latex::{FUNCTIONS, scripts, symbol},
};
use crate::{text::escape_markup, xml::Element};

pub const NAMESPACE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/math";

/// Integrals, sums and products: written as Word's n-ary operator, its operand the rest of the
/// formula's row.
const LARGE: [&str; 7] = ["∫", "∬", "∮", "∑", "∏", "⋃", "⋂"];

/// A thin and a wide space, as Word keeps spaces inside equations.
const THIN: char = '\u{2009}';
const WIDE: char = '\u{2003}';

/// A formula as an `<m:oMath>` element (the `m` prefix bound by the document).
pub fn write(node: &Node) -> String {
    let mut out = String::from("<m:oMath>");
    put_row(&mut out, node.children());
    out.push_str("</m:oMath>");
    out
}

fn run(out: &mut String, text: &str, upright: bool) {
    let props = if upright {
        r#"<m:rPr><m:sty m:val="p"/></m:rPr>"#
    } else {
        ""
    };
    out.push_str(&format!(
        r#"<m:r>{props}<m:t xml:space="preserve">{}</m:t></m:r>"#,
        escape_markup(text)
    ));
}

fn part(out: &mut String, tag: &str, node: &Node) {
    out.push_str(&format!("<m:{tag}>"));
    put_row(out, node.children());
    out.push_str(&format!("</m:{tag}>"));
}

fn put_row(out: &mut String, nodes: &[Node]) {
    for (i, node) in nodes.iter().enumerate() {
        if let Node::Scripts { base, sub, sup, .. } = node
            && matches!(base.as_ref(), Node::Op(op) if LARGE.contains(&op.as_str()))
        {
            let Node::Op(op) = base.as_ref() else {
                unreachable!()
            };
            let place = if super::limits_by_default(base) {
                "undOvr"
            } else {
                "subSup"
            };
            out.push_str(&format!(
                r#"<m:nary><m:naryPr><m:chr m:val="{op}"/><m:limLoc m:val="{place}"/>{}{}</m:naryPr>"#,
                if sub.is_none() { r#"<m:subHide m:val="1"/>"# } else { "" },
                if sup.is_none() { r#"<m:supHide m:val="1"/>"# } else { "" },
            ));
            part(out, "sub", sub.as_deref().unwrap_or(&Node::Row(vec![])));
            part(out, "sup", sup.as_deref().unwrap_or(&Node::Row(vec![])));
            out.push_str("<m:e>");
            put_row(out, &nodes[i + 1..]);
            out.push_str("</m:e></m:nary>");
            return;
        }
        put(out, node);
    }
}

fn put(out: &mut String, node: &Node) {
    match node {
        Node::Row(nodes) => {
            // A group inside a row (`{…}` in LaTeX) keeps its bounds as a box.
            out.push_str("<m:box><m:e>");
            put_row(out, nodes);
            out.push_str("</m:e></m:box>");
        }
        Node::Ident(c) => run(out, c.encode_utf8(&mut [0; 4]), false),
        Node::Word(w) => run(out, w, true),
        Node::Number(n) => run(out, n, false),
        Node::Op(op) => run(out, op, false),
        Node::Text(t) => out.push_str(&format!(
            r#"<m:r><m:rPr><m:nor/></m:rPr><m:t xml:space="preserve">{}</m:t></m:r>"#,
            escape_markup(t)
        )),
        Node::Space { wide } => run(out, if *wide { "\u{2003}" } else { "\u{2009}" }, false),
        Node::Frac(num, den) => {
            out.push_str("<m:f>");
            part(out, "num", num);
            part(out, "den", den);
            out.push_str("</m:f>");
        }
        Node::Sqrt(body) => {
            out.push_str(r#"<m:rad><m:radPr><m:degHide m:val="1"/></m:radPr><m:deg/>"#);
            part(out, "e", body);
            out.push_str("</m:rad>");
        }
        Node::Root(index, body) => {
            out.push_str("<m:rad>");
            part(out, "deg", index);
            part(out, "e", body);
            out.push_str("</m:rad>");
        }
        Node::Scripts {
            base,
            sub,
            sup,
            limits: false,
        } => {
            let tag = match (sub, sup) {
                (Some(_), Some(_)) => "sSubSup",
                (Some(_), None) => "sSub",
                _ => "sSup",
            };
            out.push_str(&format!("<m:{tag}>"));
            part(out, "e", base);
            if let Some(sub) = sub {
                part(out, "sub", sub);
            }
            if let Some(sup) = sup {
                part(out, "sup", sup);
            }
            out.push_str(&format!("</m:{tag}>"));
        }
        Node::Scripts {
            base,
            sub,
            sup,
            limits: true,
        } => {
            if sup.is_some() {
                out.push_str("<m:limUpp><m:e>");
            }
            match sub {
                Some(sub) => {
                    out.push_str("<m:limLow>");
                    part(out, "e", base);
                    part(out, "lim", sub);
                    out.push_str("</m:limLow>");
                }
                None => put_row(out, base.children()),
            }
            if let Some(sup) = sup {
                out.push_str("</m:e>");
                part(out, "lim", sup);
                out.push_str("</m:limUpp>");
            }
        }
        Node::Accent(body, '‾') => {
            out.push_str(r#"<m:bar><m:barPr><m:pos m:val="top"/></m:barPr>"#);
            part(out, "e", body);
            out.push_str("</m:bar>");
        }
        Node::Accent(body, mark) => {
            out.push_str(&format!(
                r#"<m:acc><m:accPr><m:chr m:val="{}"/></m:accPr>"#,
                combining(*mark)
            ));
            part(out, "e", body);
            out.push_str("</m:acc>");
        }
        Node::Fenced { open, close, body } => {
            let side =
                |c: &Option<char>| c.map(|c| escape_markup(&c.to_string())).unwrap_or_default();
            out.push_str(&format!(
                r#"<m:d><m:dPr><m:begChr m:val="{}"/><m:endChr m:val="{}"/></m:dPr>"#,
                side(open),
                side(close)
            ));
            part(out, "e", body);
            out.push_str("</m:d>");
        }
        Node::Table(rows) => {
            out.push_str("<m:m>");
            for row in rows {
                out.push_str("<m:mr>");
                for cell in row {
                    part(out, "e", cell);
                }
                out.push_str("</m:mr>");
            }
            out.push_str("</m:m>");
        }
    }
}

/// The combining mark Word draws an accent with.
fn combining(mark: char) -> char {
    match mark {
        '→' => '\u{20D7}',
        '^' => '\u{0302}',
        '˙' => '\u{0307}',
        '~' => '\u{0303}',
        '¨' => '\u{0308}',
        other => other,
    }
}

fn mark_of(chr: &str) -> Option<char> {
    Some(match chr {
        "\u{20D7}" | "→" | "\u{20D1}" => '→',
        "\u{0302}" | "^" | "ˆ" => '^',
        "\u{0307}" | "˙" => '˙',
        "\u{0303}" | "~" | "˜" => '~',
        "\u{0308}" | "¨" => '¨',
        "\u{0305}" | "\u{0304}" | "¯" | "‾" => '‾',
        _ => return None,
    })
}

/// Reads an `<m:oMath>` written as text (prefix `m`, bound or not).
#[cfg(test)]
pub fn read_str(text: &str) -> Result<Node, Unsupported> {
    let doc = text.replacen(
        "<m:oMath>",
        &format!(r#"<m:oMath xmlns:m="{NAMESPACE}">"#),
        1,
    );
    let root = crate::xml::parse(doc.as_bytes(), &mut crate::imports::Budget::for_import())
        .map_err(|e| Unsupported(format!("OMML is not well-formed XML ({e})")))?;
    read(&root)
}

/// Reads an OMML element (an `oMath`, or any part of one) to the tree.
pub fn read(el: &Element) -> Result<Node, Unsupported> {
    Ok(Node::row(sequence(el)?))
}

fn prop<'a>(el: &'a Element, props: &str, name: &str) -> Option<&'a str> {
    let p = el.child(props)?.child(name)?;
    Some(p.attr("val").unwrap_or("1"))
}

fn on(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "on" | "true"))
}

fn argument(el: &Element, name: &str) -> Result<Node, Unsupported> {
    match el.child(name) {
        Some(part) => read(part),
        None => Ok(Node::Row(vec![])),
    }
}

/// The children of a container, in order, as one row.
fn sequence(el: &Element) -> Result<Vec<Node>, Unsupported> {
    let mut nodes = Vec::new();
    for child in el.elements() {
        element(child, &mut nodes)?;
        bounds_of_a_large_operator(&mut nodes);
    }
    Ok(nodes)
}

/// An integral typed as `∫` then scripts on empty bases (`∫{}_{0}{}^{2}`, as files made outside
/// the equation editor hold it): the scripts are the integral's bounds.
fn bounds_of_a_large_operator(nodes: &mut Vec<Node>) {
    let [
        ..,
        before,
        Node::Scripts {
            base,
            sub,
            sup,
            limits: false,
        },
    ] = nodes.as_slice()
    else {
        return;
    };
    if **base != Node::Row(vec![]) {
        return;
    }
    let (op, had_sub, had_sup) = match before {
        Node::Op(op) => (op, None, None),
        Node::Scripts { base, sub, sup, .. } => match base.as_ref() {
            Node::Op(op) => (op, sub.as_deref(), sup.as_deref()),
            _ => return,
        },
        _ => return,
    };
    if !LARGE.contains(&op.as_str())
        || (had_sub.is_some() && sub.is_some())
        || (had_sup.is_some() && sup.is_some())
    {
        return;
    }
    let merged = scripts(
        Node::Op(op.clone()),
        had_sub.cloned().or(sub.as_deref().cloned()),
        had_sup.cloned().or(sup.as_deref().cloned()),
        false,
    );
    nodes.truncate(nodes.len() - 2);
    nodes.push(merged);
}

fn element(el: &Element, nodes: &mut Vec<Node>) -> Result<(), Unsupported> {
    let boxed = |n: Node| Box::new(n);
    match el.name.as_str() {
        "r" => read_run(el, nodes),
        "f" => nodes.push(Node::Frac(
            boxed(argument(el, "num")?),
            boxed(argument(el, "den")?),
        )),
        "sSup" => nodes.push(scripts(
            argument(el, "e")?,
            None,
            Some(argument(el, "sup")?),
            false,
        )),
        "sSub" => nodes.push(scripts(
            argument(el, "e")?,
            Some(argument(el, "sub")?),
            None,
            false,
        )),
        "sSubSup" => nodes.push(scripts(
            argument(el, "e")?,
            Some(argument(el, "sub")?),
            Some(argument(el, "sup")?),
            false,
        )),
        "sPre" => {
            return Err(Unsupported(
                "Word pre-scripts (isotopes: write {}^{14}C)".into(),
            ));
        }
        "rad" => {
            let degree = argument(el, "deg")?;
            let hidden = on(prop(el, "radPr", "degHide")) || degree == Node::Row(vec![]);
            let body = argument(el, "e")?;
            nodes.push(if hidden {
                Node::Sqrt(boxed(body))
            } else {
                Node::Root(boxed(degree), boxed(body))
            });
        }
        "nary" => {
            let op = prop(el, "naryPr", "chr").unwrap_or("∫").to_owned();
            let sub = (!on(prop(el, "naryPr", "subHide")))
                .then(|| argument(el, "sub"))
                .transpose()?;
            let sup = (!on(prop(el, "naryPr", "supHide")))
                .then(|| argument(el, "sup"))
                .transpose()?;
            let empty = |n: &Option<Node>| n.as_ref().is_none_or(|n| *n == Node::Row(vec![]));
            let base = Node::Op(op);
            if empty(&sub) && empty(&sup) {
                nodes.push(base);
            } else {
                let sub = sub.filter(|n| *n != Node::Row(vec![]));
                let sup = sup.filter(|n| *n != Node::Row(vec![]));
                nodes.push(scripts(
                    base,
                    sub,
                    sup,
                    prop(el, "naryPr", "limLoc") == Some("undOvr"),
                ));
            }
            if let Some(e) = el.child("e") {
                nodes.extend(sequence(e)?);
            }
        }
        "func" => {
            if let Some(name) = el.child("fName") {
                nodes.extend(sequence(name)?);
            }
            if let Some(e) = el.child("e") {
                nodes.extend(sequence(e)?);
            }
        }
        "limLow" => nodes.push(scripts(
            argument(el, "e")?,
            Some(argument(el, "lim")?),
            None,
            true,
        )),
        "limUpp" => nodes.push(scripts(
            argument(el, "e")?,
            None,
            Some(argument(el, "lim")?),
            true,
        )),
        "acc" => {
            let chr = prop(el, "accPr", "chr").unwrap_or("\u{0302}");
            let mark = mark_of(chr).ok_or_else(|| Unsupported(format!("Word accent {chr}")))?;
            nodes.push(Node::Accent(boxed(argument(el, "e")?), mark));
        }
        "bar" => {
            if prop(el, "barPr", "pos") == Some("bot") {
                return Err(Unsupported("Word underline bar".into()));
            }
            nodes.push(Node::Accent(boxed(argument(el, "e")?), '‾'));
        }
        "d" => {
            let side = |name: &str, default: char| match prop(el, "dPr", name) {
                None => Some(default),
                Some("") => None,
                Some(v) => v.chars().next(),
            };
            let separator = prop(el, "dPr", "sepChr").unwrap_or(",").to_owned();
            let mut inner = Vec::new();
            for (i, e) in el.children_named("e").enumerate() {
                if i > 0 {
                    inner.push(Node::Op(separator.clone()));
                }
                inner.extend(sequence(e)?);
            }
            nodes.push(Node::Fenced {
                open: side("begChr", '('),
                close: side("endChr", ')'),
                body: boxed(Node::row(inner)),
            });
        }
        "eqArr" => nodes.push(Node::Table(
            el.children_named("e")
                .map(|e| Ok(vec![read(e)?]))
                .collect::<Result<_, Unsupported>>()?,
        )),
        "m" => nodes.push(Node::Table(
            el.children_named("mr")
                .map(|row| {
                    row.children_named("e")
                        .map(read)
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<_, _>>()?,
        )),
        "box" | "borderBox" | "phant" | "groupChr" if el.child("e").is_some() => {
            let inner = argument(el, "e")?;
            if el.name == "box" {
                nodes.push(match inner {
                    Node::Row(nodes) => Node::Row(nodes),
                    other => other,
                });
            } else {
                nodes.extend(inner.children().iter().cloned());
            }
        }
        "oMath" | "oMathPara" | "e" => nodes.extend(sequence(el)?),
        name if name.ends_with("Pr") || name == "ctrlPr" => {}
        other => return Err(Unsupported(format!("Word equation part {other}"))),
    }
    Ok(())
}

/// A run's text, split into tokens: numbers, letters, operators; upright runs (`sty p`) of
/// letters are words, and normal-text runs (`nor`) are text.
fn read_run(el: &Element, nodes: &mut Vec<Node>) {
    let text: String = el.children_named("t").map(|t| t.text()).collect();
    let props = el.child("rPr");
    if props.is_some_and(|p| p.child("nor").is_some()) {
        nodes.push(Node::Text(text));
        return;
    }
    let upright = props
        .and_then(|p| p.child("sty"))
        .and_then(|s| s.attr("val"))
        .is_some_and(|v| v == "p");
    if upright && !text.is_empty() && text.chars().all(char::is_alphabetic) {
        nodes.push(Node::Word(text));
        return;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // x³ typed as a character: a power, as the equation editor would have made it.
        if let Some(high) = raised(c).or(lowered(c)) {
            let up = raised(c).is_some();
            let mut digits = String::from(high);
            i += 1;
            while let Some(d) = chars
                .get(i)
                .and_then(|&c| if up { raised(c) } else { lowered(c) })
            {
                digits.push(d);
                i += 1;
            }
            let base = nodes.pop().unwrap_or(Node::Row(vec![]));
            let script = Some(Node::Number(digits));
            nodes.push(if up {
                scripts(base, None, script, false)
            } else {
                scripts(base, script, None, false)
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            nodes.push(Node::Number(chars[start..i].iter().collect()));
            continue;
        }
        // A function's name typed in a plain run (`log`, `sin`) is the function, as the
        // equation editor would have made it.
        if c.is_alphabetic() {
            let end = (i..chars.len())
                .find(|&j| !chars[j].is_alphabetic())
                .unwrap_or(chars.len());
            let word: String = chars[i..end].iter().collect();
            if FUNCTIONS.contains(&word.as_str()) {
                nodes.push(Node::Word(word));
                i = end;
                continue;
            }
        }
        i += 1;
        match c {
            THIN => nodes.push(Node::Space { wide: false }),
            WIDE => nodes.push(Node::Space { wide: true }),
            c if c.is_whitespace() => {}
            '-' => nodes.push(Node::Op("−".into())),
            c if c.is_alphabetic() => nodes.push(Node::Ident(c)),
            c => nodes.push(symbol(c)),
        }
    }
}

fn raised(c: char) -> Option<char> {
    Some(match c {
        '⁰' => '0',
        '¹' => '1',
        '²' => '2',
        '³' => '3',
        '⁴'..='⁹' => char::from_u32(c as u32 - '⁴' as u32 + '4' as u32)?,
        _ => return None,
    })
}

fn lowered(c: char) -> Option<char> {
    ('₀'..='₉')
        .contains(&c)
        .then(|| char::from_u32(c as u32 - '₀' as u32 + '0' as u32))
        .flatten()
}
