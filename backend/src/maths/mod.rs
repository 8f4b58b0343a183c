//! Mathematics, one model for every format. Items keep formulas as canonical LaTeX between `$`
//! signs; `latex::parse` reads the documented subset (docs/question-bank.md) into a `Node`
//! tree, and the tree is written as canonical LaTeX (`latex::write`), MathML Core for screens and
//! QTI (`mathml`), and OMML for Word files (`omml`); MathML and OMML are read back to the same
//! tree. Anything outside the subset is refused with its reason, never passed on as raw text.
pub(crate) mod latex;
pub(crate) mod mathml;
pub(crate) mod omml;

/// One formula, as a tree every format is written from.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Row(Vec<Node>),
    /// A variable or a constant symbol, italic where the script makes it so: x, α, ∞, ℝ.
    Ident(char),
    /// Upright letters: a function (sin, lim), a unit (cm), an element (Fe), `\mathrm{d}`.
    Word(String),
    Number(String),
    /// An operator, relation, arrow, punctuation or unpaired bracket: +, ≤, →, ',', (.
    Op(String),
    /// Words inside a formula (`\text{…}`).
    Text(String),
    /// `\,` (thin) or `\quad` (wide).
    Space {
        wide: bool,
    },
    Frac(Box<Node>, Box<Node>),
    Sqrt(Box<Node>),
    /// The index, then the radicand: ∛x is `Root(3, x)`.
    Root(Box<Node>, Box<Node>),
    /// Sub- and superscripts, or limits set under and over (∑, lim, an arrow's label).
    Scripts {
        base: Box<Node>,
        sub: Option<Box<Node>>,
        sup: Option<Box<Node>>,
        limits: bool,
    },
    /// A mark over its body: → (vector), ‾ (overline), ^ (hat), ˙ (dot), ~ (tilde).
    Accent(Box<Node>, char),
    /// `\left( … \right)`; a missing side is `None` (`\left\{ … \right.`).
    Fenced {
        open: Option<char>,
        close: Option<char>,
        body: Box<Node>,
    },
    /// Rows of cells: a matrix (inside `Fenced` for its brackets) or a system (`cases`).
    Table(Vec<Vec<Node>>),
}

/// Why a formula was refused: what it used that the subset does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Node {
    /// A row of several nodes, or the node itself when there is one.
    pub fn row(mut nodes: Vec<Node>) -> Node {
        if nodes.len() == 1 {
            nodes.pop().expect("one")
        } else {
            Node::Row(nodes)
        }
    }

    fn children(&self) -> &[Node] {
        match self {
            Node::Row(nodes) => nodes,
            other => std::slice::from_ref(other),
        }
    }
}

/// About how many characters wide a formula prints: what it shows, not its LaTeX (a fraction
/// is as wide as its wider line). Used to lay out a printed paper's options.
pub fn shown_len(node: &Node) -> usize {
    match node {
        Node::Row(nodes) => nodes.iter().map(shown_len).sum(),
        Node::Ident(_) | Node::Op(_) => 1,
        Node::Word(t) | Node::Number(t) | Node::Text(t) => t.chars().count(),
        Node::Space { .. } => 1,
        Node::Frac(num, den) => shown_len(num).max(shown_len(den)) + 1,
        Node::Sqrt(body) | Node::Accent(body, _) => shown_len(body) + 1,
        Node::Root(index, body) => shown_len(index).div_ceil(2) + shown_len(body) + 1,
        Node::Scripts { base, sub, sup, .. } => {
            let script = |s: &Option<Box<Node>>| s.as_deref().map(shown_len).unwrap_or(0);
            shown_len(base) + script(sub).max(script(sup)).div_ceil(2)
        }
        Node::Fenced { body, .. } => shown_len(body) + 2,
        Node::Table(rows) => rows
            .iter()
            .map(|row| row.iter().map(shown_len).sum::<usize>() + row.len())
            .max()
            .unwrap_or(0),
    }
}

/// Large operators whose limits go under and over by default (`\sum_{i=1}^{n}`), as opposed
/// to integrals, whose bounds go to the right.
fn limits_by_default(base: &Node) -> bool {
    match base {
        Node::Op(op) => matches!(op.as_str(), "∑" | "∏" | "⋃" | "⋂"),
        Node::Word(word) => matches!(word.as_str(), "lim" | "max" | "min" | "sup" | "inf"),
        _ => false,
    }
}

/// A part of item text: words, or a formula between `$` signs (`$$` for one set apart).
#[derive(Debug, PartialEq)]
pub enum Segment<'a> {
    Text(&'a str),
    Formula { source: &'a str, display: bool },
}

/// Splits text at its `$…$` and `$$…$$` formulas; `\$` is a dollar sign in the text, and a `$`
/// without its pair is text.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'$' => {
                let display = bytes.get(i + 1) == Some(&b'$');
                let mark = if display { "$$" } else { "$" };
                let from = i + mark.len();
                let Some(len) = text[from..].find(mark) else {
                    break;
                };
                if i > start {
                    out.push(Segment::Text(&text[start..i]));
                }
                out.push(Segment::Formula {
                    source: &text[from..from + len],
                    display,
                });
                i = from + len + mark.len();
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < text.len() {
        out.push(Segment::Text(&text[start..]));
    }
    out
}

/// The text with each formula in its canonical LaTeX (`$\frac12$` becomes `$\frac{1}{2}$`), or
/// the first formula the subset refuses, with why.
pub fn canonical_text(text: &str) -> Result<String, (String, Unsupported)> {
    let mut out = String::with_capacity(text.len());
    for segment in segments(text) {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Formula { source, display } => {
                let node = latex::parse(source).map_err(|e| (source.to_owned(), e))?;
                let mark = if display { "$$" } else { "$" };
                out.push_str(mark);
                out.push_str(&latex::write(&node));
                out.push_str(mark);
            }
        }
    }
    Ok(out)
}

/// A formula read from a file that the model cannot hold: kept in the text as one the item
/// check refuses (`unsupported_math`), never as raw text or dropped.
pub fn refused(why: &Unsupported) -> String {
    format!("$\\unsupported{{{}}}$", why.0.replace(['{', '}', '$'], ""))
}

/// Item text as HTML for a screen: text escaped, formulas as MathML. A formula outside the
/// subset (stored before the check existed) shows as its source, marked for the reviewer.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::new();
    for segment in segments(text) {
        match segment {
            Segment::Text(t) => out.push_str(&crate::text::escape_markup(t)),
            Segment::Formula { source: f, display } => match latex::parse(f) {
                Ok(node) => out.push_str(&mathml::write(&node, display)),
                Err(_) => {
                    out.push_str(r#"<code class="math-error">"#);
                    out.push_str(&crate::text::escape_markup(f));
                    out.push_str("</code>");
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_found_between_dollar_signs() {
        assert_eq!(
            segments(r"Tính $\frac{1}{2}+x$ với giá \$5 và $x$, $$y=2$$"),
            [
                Segment::Text("Tính "),
                Segment::Formula {
                    source: r"\frac{1}{2}+x",
                    display: false
                },
                Segment::Text(r" với giá \$5 và "),
                Segment::Formula {
                    source: "x",
                    display: false
                },
                Segment::Text(", "),
                Segment::Formula {
                    source: "y=2",
                    display: true
                },
            ]
        );
        assert_eq!(
            canonical_text(r"Cho $\frac12 x^3$ và $$\int_0^2 f$$.").unwrap(),
            r"Cho $\frac{1}{2}x^{3}$ và $$\int_{0}^{2}f$$."
        );
        let (formula, why) = canonical_text(r"Sai $\color{red}x$").unwrap_err();
        assert_eq!(formula, r"\color{red}x");
        assert!(why.0.contains("colour"), "{why}");
        assert_eq!(segments("Giá 5$ thôi"), [Segment::Text("Giá 5$ thôi")]);
    }

    /// The corpus: expressions from the sample banks and the 2025 exam subjects (Toán, Vật lí,
    /// Hóa học, Sinh học). Each must read, and come back as itself from canonical LaTeX, from
    /// MathML and from OMML.
    #[test]
    fn the_corpus_goes_through_every_format_and_back() {
        let corpus = include_str!("corpus.txt");
        let mut checked = 0;
        let mut failures = Vec::new();
        for line in corpus.lines() {
            let source = line.trim();
            if source.is_empty() || source.starts_with('#') {
                continue;
            }
            checked += 1;
            let node = match latex::parse(source) {
                Ok(node) => node,
                Err(e) => {
                    failures.push(format!("{source}: not read: {e}"));
                    continue;
                }
            };
            failures.extend(round_trips(source, &node));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(checked >= 150, "only {checked} expressions");
    }

    /// Round trips of one tree through every format; the failures, described.
    fn round_trips(source: &str, node: &Node) -> Vec<String> {
        let mut failures = Vec::new();
        let canonical = latex::write(node);
        match latex::parse(&canonical) {
            Ok(again) if again == *node => {}
            other => failures.push(format!("{source}: LaTeX {canonical} gives {other:?}")),
        }
        let ml = mathml::write(node, false);
        match mathml::read_str(&ml) {
            Ok(again) if again == *node => {}
            other => failures.push(format!("{source}: MathML {ml} gives {other:?}")),
        }
        let word = omml::write(node);
        match omml::read_str(&word) {
            Ok(again) if again == *node => {}
            other => failures.push(format!("{source}: OMML {word} gives {other:?}")),
        }
        failures
    }

    /// Every equation of the sample Word banks (Toán, Vật lí) reads, and its tree comes back
    /// from canonical LaTeX, MathML and OMML.
    #[test]
    fn the_sample_banks_equations_go_through_every_format_and_back() {
        use std::io::Read;
        let mut checked = 0;
        let mut failures = Vec::new();
        for name in ["toan-12.docx", "vat-li-12.docx"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../content-samples/questions")
                .join(name);
            let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
            let mut xml = Vec::new();
            zip.by_name("word/document.xml")
                .unwrap()
                .read_to_end(&mut xml)
                .unwrap();
            let root = crate::xml::parse(&xml, &mut crate::imports::Budget::for_import()).unwrap();
            for equation in root.descendants("oMath") {
                checked += 1;
                match omml::read(equation) {
                    Ok(node) => failures.extend(round_trips(name, &node)),
                    Err(e) => failures.push(format!("{name}: equation {checked} not read: {e}")),
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(checked >= 200, "only {checked} equations");
    }

    #[test]
    fn what_the_subset_does_not_hold_is_named() {
        for (source, reason) in [
            (r"\color{red}{x}", "colour"),
            (r"\frac{1}", "LaTeX"),
            (r"\begin{align}x&=1\end{align}", "environment"),
            (r"\hspace{1cm}", "space"),
        ] {
            let e = latex::parse(source).expect_err(source);
            assert!(e.0.contains(reason), "{source}: {e}");
        }
    }
}
