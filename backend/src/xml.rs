//! A small element tree over quick-xml, for the XML inside uploads (.docx, Moodle XML, QTI).
//! Namespaces are dropped to local names (`w:p` → `p`); DOCTYPEs and entity declarations are
//! refused, so no external entity is ever fetched or expanded; depth is bounded, and every
//! event is paid for from the caller's import budget (`imports::Budget`).
use quick_xml::{Reader, events::Event};

use crate::imports::Budget;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name, without any namespace prefix.
    pub name: String,
    /// (local name, value) pairs.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

const MAX_DEPTH: usize = 256;

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

pub fn parse(bytes: &[u8], budget: &mut Budget) -> Result<Element, &'static str> {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| "malformed_xml")?;
        budget.spend_node()?;
        match event {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err("malformed_xml");
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                let el = element(&e)?;
                stack
                    .last_mut()
                    .ok_or("malformed_xml")?
                    .children
                    .push(Node::Element(el));
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("malformed_xml")?;
                stack
                    .last_mut()
                    .ok_or("malformed_xml")?
                    .children
                    .push(Node::Element(done));
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t)?,
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().map_err(|_| "malformed_xml")? {
                    Some(c) => c.to_string(),
                    None => match &*r {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        // Entities from a DTD are never expanded.
                        _ => return Err("xml_entity"),
                    },
                };
                push_text(&mut stack, &text)?;
            }
            Event::DocType(_) => return Err("xml_entity"),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err("malformed_xml");
    }
    let root = stack.pop().expect("one left");
    root.children
        .into_iter()
        .find_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
        .ok_or("malformed_xml")
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, &'static str> {
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|_| "malformed_xml")?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| "xml_entity")?
            .into_owned();
        attrs.push((local(attr.key.as_ref()), value));
    }
    Ok(Element {
        name: local(e.name().as_ref()),
        attrs,
        children: Vec::new(),
    })
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), &'static str> {
    let top = stack.last_mut().ok_or("malformed_xml")?;
    match top.children.last_mut() {
        Some(Node::Text(existing)) => existing.push_str(text),
        _ => top.children.push(Node::Text(text.to_owned())),
    }
    Ok(())
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// Every descendant named `name`, depth first.
    pub fn descendants<'a>(&'a self, name: &'a str) -> Vec<&'a Element> {
        let mut found = Vec::new();
        for e in self.elements() {
            if e.name == name {
                found.push(e);
            }
            found.extend(e.descendants(name));
        }
        found
    }

    /// All text below this element, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Element, &'static str> {
        super::parse(bytes, &mut Budget::for_import())
    }

    #[test]
    fn parses_namespaced_xml_and_refuses_entities() {
        let doc = parse(br#"<?xml version="1.0"?><w:document xmlns:w="x"><w:p><w:t xml:space="preserve">a &amp; b &#7899;</w:t><w:br/></w:p></w:document>"#).unwrap();
        assert_eq!(doc.name, "document");
        let p = doc.child("p").unwrap();
        assert_eq!(p.text(), "a & b ớ");
        assert!(p.child("br").is_some());
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert_eq!(parse(xxe), Err("xml_entity"));
        assert_eq!(parse(b"<a><b></a>"), Err("malformed_xml"));
        assert_eq!(parse(b"not xml at all"), Err("malformed_xml"));
    }

    /// A short file of many empty elements builds a large tree (7 MiB once held ~280 MiB): the
    /// node budget stops it, shared by every part of one import.
    #[test]
    fn the_node_budget_is_shared_across_parts() {
        let many = format!("<r>{}</r>", "<a/>".repeat(1_000));
        let mut budget = Budget::new(u64::MAX, 1_500, std::time::Duration::from_secs(60));
        assert!(super::parse(many.as_bytes(), &mut budget).is_ok());
        assert_eq!(
            super::parse(many.as_bytes(), &mut budget),
            Err(crate::imports::TOO_COMPLEX),
            "the second part finds the budget spent by the first"
        );
    }
}
