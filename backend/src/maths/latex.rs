//! LaTeX in and out: `parse` reads with `pulldown-latex` and keeps what the subset holds;
//! `write` gives the canonical text, which `parse` reads back to the same tree.
use pulldown_latex::{
    Parser, Storage,
    event::{
        Content, DimensionUnit, EnvironmentFlow, Event, Font, Grouping, ScriptPosition, ScriptType,
        StateChange, Visual,
    },
};

use super::{Node, Unsupported, limits_by_default};

/// Marks set over a body, as the parser gives them.
pub(super) const ACCENTS: [char; 6] = ['→', '‾', '^', '˙', '~', '¨'];

/// Formulas longer than this are refused: an item's formula is a line or two.
const MAX_LEN: usize = 4_000;

pub fn parse(source: &str) -> Result<Node, Unsupported> {
    if source.len() > MAX_LEN {
        return Err(Unsupported(format!(
            "formula longer than {MAX_LEN} characters"
        )));
    }
    let storage = Storage::new();
    let events = Parser::new(source, &storage)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            Unsupported(format!(
                "LaTeX {}",
                first.trim_start_matches("parsing error: ")
            ))
        })?;
    let mut reader = Reader {
        events: &events,
        at: 0,
    };
    let nodes = reader.sequence(Stop::End)?;
    if reader.at < events.len() {
        return Err(Unsupported(
            "LaTeX group closed that was never opened".into(),
        ));
    }
    Ok(Node::row(nodes))
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// The end of the input or of the group.
    End,
    /// The end of a table cell: `&`, `\\` or the end of the environment.
    Cell,
}

struct Reader<'e, 'a> {
    events: &'e [Event<'a>],
    at: usize,
}

fn unsupported(what: impl Into<String>) -> Unsupported {
    Unsupported(what.into())
}

impl Reader<'_, '_> {
    fn next(&mut self) -> Result<&Event<'_>, Unsupported> {
        let event = self
            .events
            .get(self.at)
            .ok_or_else(|| unsupported("LaTeX ends too early"))?;
        self.at += 1;
        Ok(event)
    }

    /// Elements up to the end of the group (consumed) or of a cell (left for the table).
    fn sequence(&mut self, stop: Stop) -> Result<Vec<Node>, Unsupported> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut font: Option<Font> = None;
        // Upright letters read one by one in a font group make one word (\mathrm{cm}).
        let mut spelling = false;
        while let Some(event) = self.events.get(self.at) {
            match event {
                Event::End => {
                    if stop == Stop::End {
                        self.at += 1;
                    }
                    break;
                }
                Event::EnvironmentFlow(_) => {
                    if stop == Stop::Cell {
                        break;
                    }
                    return Err(unsupported("LaTeX & or \\\\ outside a matrix or system"));
                }
                Event::StateChange(StateChange::Font(f)) => {
                    font = *f;
                    self.at += 1;
                    continue;
                }
                Event::StateChange(StateChange::Style(_)) => {
                    self.at += 1;
                    continue;
                }
                _ => {}
            }
            let single_letter = matches!(event, Event::Content(Content::Ordinary { content, .. }) if content.is_alphabetic());
            let node = self.element(font)?;
            match node {
                Node::Row(inner) => nodes.extend(inner),
                Node::Word(w) if spelling && single_letter && font == Some(Font::UpRight) => {
                    match nodes.last_mut() {
                        Some(Node::Word(before)) => before.push_str(&w),
                        _ => nodes.push(Node::Word(w)),
                    }
                }
                other => nodes.push(other),
            }
            spelling = single_letter && font == Some(Font::UpRight);
        }
        Ok(nodes)
    }

    /// One element: a leaf, a group, or a construct with its arguments.
    fn element(&mut self, font: Option<Font>) -> Result<Node, Unsupported> {
        let event = self.next()?.clone();
        match event {
            Event::Content(content) => leaf(content, font),
            Event::Begin(grouping) => self.group(grouping),
            Event::End => Err(unsupported("LaTeX group closed that was never opened")),
            Event::Visual(Visual::Fraction(None)) => {
                let num = self.element(font)?;
                let den = self.element(font)?;
                Ok(Node::Frac(Box::new(num), Box::new(den)))
            }
            Event::Visual(Visual::SquareRoot) => Ok(Node::Sqrt(Box::new(self.element(font)?))),
            Event::Visual(Visual::Root) => {
                let radicand = self.element(font)?;
                let index = self.element(font)?;
                Ok(Node::Root(Box::new(index), Box::new(radicand)))
            }
            Event::Visual(Visual::Negation) => match self.element(font)? {
                Node::Op(op) => match op.as_str() {
                    "=" => Ok(Node::Op("≠".into())),
                    "∈" => Ok(Node::Op("∉".into())),
                    "⊂" => Ok(Node::Op("⊄".into())),
                    "≡" => Ok(Node::Op("≢".into())),
                    _ => Err(unsupported(format!("negated {op}"))),
                },
                _ => Err(unsupported(
                    "a negation (\\not) of something other than a relation",
                )),
            },
            Event::Visual(_) => Err(unsupported(
                "LaTeX layout command (\\genfrac, \\binom, \\smash, \\clap)",
            )),
            Event::Script { ty, position } => {
                let base = self.element(font)?;
                let (sub, sup) = match ty {
                    ScriptType::Subscript => (Some(self.element(font)?), None),
                    ScriptType::Superscript => (None, Some(self.element(font)?)),
                    ScriptType::SubSuperscript => {
                        let sub = self.element(font)?;
                        (Some(sub), Some(self.element(font)?))
                    }
                };
                let limits = position != ScriptPosition::Right;
                Ok(scripts(base, sub, sup, limits))
            }
            Event::Space { width, height, .. } => {
                // Spaces typed between symbols (\, \; \quad) are measured in em or mu; a
                // set size (\hspace{1cm}) or a vertical one is layout the subset leaves out.
                let em = match width {
                    Some(w) if w.unit == DimensionUnit::Em => w.value,
                    Some(w) if w.unit == DimensionUnit::Mu => w.value / 18.0,
                    _ => return Err(unsupported("LaTeX space of a set size (\\hspace, \\kern)")),
                };
                if height.is_some_and(|h| h.value != 0.0) || em <= 0.0 {
                    return Err(unsupported("LaTeX space with a height or a negative width"));
                }
                Ok(Node::Space { wide: em >= 0.5 })
            }
            Event::StateChange(StateChange::Color(_)) => {
                Err(unsupported("colour (\\color, \\textcolor)"))
            }
            Event::StateChange(_) | Event::EnvironmentFlow(_) => {
                Err(unsupported("LaTeX command without an argument"))
            }
        }
    }

    fn group(&mut self, grouping: Grouping) -> Result<Node, Unsupported> {
        match grouping {
            Grouping::Normal => Ok(Node::row(self.sequence(Stop::End)?)),
            Grouping::LeftRight(open, close) => {
                let body = Node::row(self.sequence(Stop::End)?);
                Ok(Node::Fenced {
                    open,
                    close,
                    body: Box::new(body),
                })
            }
            Grouping::Matrix { .. } | Grouping::Array(_) => self.table(),
            Grouping::Cases { left: true } => Ok(Node::Fenced {
                open: Some('{'),
                close: None,
                body: Box::new(self.table()?),
            }),
            _ => Err(unsupported(
                "LaTeX environment (only matrix, pmatrix, bmatrix, vmatrix, cases and array)",
            )),
        }
    }

    /// Cells up to the end of the environment, split at `&` and rows at `\\`.
    fn table(&mut self) -> Result<Node, Unsupported> {
        let mut rows: Vec<Vec<Node>> = vec![Vec::new()];
        loop {
            let cell = Node::row(self.sequence(Stop::Cell)?);
            rows.last_mut().expect("a row").push(cell);
            match self.next()? {
                Event::EnvironmentFlow(EnvironmentFlow::Alignment) => {}
                Event::EnvironmentFlow(EnvironmentFlow::NewLine { .. }) => rows.push(Vec::new()),
                Event::End => break,
                _ => return Err(unsupported("LaTeX line decorations in a matrix (\\hline)")),
            }
        }
        // `a \\ b \\` ends with an empty row, as people type it.
        if rows.len() > 1
            && rows
                .last()
                .is_some_and(|r| r.len() == 1 && r[0] == Node::Row(vec![]))
        {
            rows.pop();
        }
        Ok(Node::Table(rows))
    }
}

/// A symbol as the LaTeX reader makes it (`!` and `∀` are identifiers, `+` and `∈` operators),
/// so that a formula read from Word or MathML is the tree its LaTeX gives.
pub(super) fn symbol(c: char) -> Node {
    let source = match command_of(c) {
        Some(command) => command.to_owned(),
        None => c.to_string(),
    };
    match parse(&source) {
        Ok(node @ (Node::Ident(_) | Node::Op(_))) => node,
        _ => Node::Op(c.to_string()),
    }
}

/// Scripts, with an accent recognised and `\underset{a}{\overset{b}{X}}` made one node. Large
/// operators and `lim` keep their usual placement whatever the source said (`\sum` inline and
/// displayed are one formula).
pub(super) fn scripts(base: Node, sub: Option<Node>, sup: Option<Node>, limits: bool) -> Node {
    let limits = limits || limits_by_default(&base);
    if let (true, None, Some(Node::Ident(mark))) = (limits, &sub, &sup)
        && ACCENTS.contains(mark)
    {
        return Node::Accent(Box::new(base), *mark);
    }
    // One side set on a base that has only the other: one node with both (an \underset of an
    // \overset; Word's limUpp around a limLow).
    if let Node::Scripts {
        base: inner,
        sub: inner_sub,
        sup: inner_sup,
        limits: inner_limits,
    } = &base
        && *inner_limits == limits
        && inner_sub.is_some() != inner_sup.is_some()
        && sub.is_some() == inner_sup.is_some()
        && sup.is_some() == inner_sub.is_some()
    {
        return Node::Scripts {
            base: inner.clone(),
            sub: inner_sub.clone().or(sub.map(Box::new)),
            sup: inner_sup.clone().or(sup.map(Box::new)),
            limits,
        };
    }
    Node::Scripts {
        base: Box::new(base),
        sub: sub.map(Box::new),
        sup: sup.map(Box::new),
        limits,
    }
}

fn leaf(content: Content<'_>, font: Option<Font>) -> Result<Node, Unsupported> {
    Ok(match content {
        Content::Text(t) => Node::Text(t.to_owned()),
        Content::Number(n) => Node::Number(n.to_owned()),
        Content::Function(f) => Node::Word(f.to_owned()),
        Content::Ordinary { content, .. } => match font {
            None | Some(Font::Italic) => Node::Ident(content),
            Some(Font::UpRight) if content.is_alphabetic() => Node::Word(content.to_string()),
            Some(Font::UpRight) => Node::Ident(content),
            Some(Font::DoubleStruck) => Node::Ident(match content {
                'R' => 'ℝ',
                'N' => 'ℕ',
                'Z' => 'ℤ',
                'Q' => 'ℚ',
                'C' => 'ℂ',
                other => return Err(unsupported(format!("\\mathbb{{{other}}}"))),
            }),
            Some(_) => {
                return Err(unsupported(
                    "font (\\mathbf, \\mathcal, …): only \\mathrm and \\mathbb",
                ));
            }
        },
        Content::LargeOp { content, .. } | Content::BinaryOp { content, .. } => {
            Node::Op(content.to_string())
        }
        Content::Relation { content, .. } => {
            let mut buf = [0u8; 8];
            Node::Op(String::from_utf8_lossy(content.encode_utf8_to_buf(&mut buf)).into_owned())
        }
        Content::Delimiter { content, .. } | Content::Punctuation(content) => {
            Node::Op(content.to_string())
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Named operators written as commands (`\sin`); other upright words go in `\mathrm{…}`.
pub(super) const FUNCTIONS: [&str; 22] = [
    "sin", "cos", "tan", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log", "ln",
    "lg", "exp", "lim", "max", "min", "sup", "inf", "det", "gcd", "deg",
];

fn command_of(c: char) -> Option<&'static str> {
    Some(match c {
        'α' => "\\alpha",
        'β' => "\\beta",
        'γ' => "\\gamma",
        'Γ' => "\\Gamma",
        'δ' => "\\delta",
        'Δ' => "\\Delta",
        'ε' => "\\varepsilon",
        'ϵ' => "\\epsilon",
        'ζ' => "\\zeta",
        'η' => "\\eta",
        'θ' => "\\theta",
        'Θ' => "\\Theta",
        'κ' => "\\kappa",
        'λ' => "\\lambda",
        'Λ' => "\\Lambda",
        'μ' => "\\mu",
        'ν' => "\\nu",
        'ξ' => "\\xi",
        'π' => "\\pi",
        'Π' => "\\Pi",
        'ρ' => "\\rho",
        'σ' => "\\sigma",
        'Σ' => "\\Sigma",
        'τ' => "\\tau",
        'φ' => "\\varphi",
        'ϕ' => "\\phi",
        'Φ' => "\\Phi",
        'χ' => "\\chi",
        'ψ' => "\\psi",
        'Ψ' => "\\Psi",
        'ω' => "\\omega",
        'Ω' => "\\Omega",
        '∞' => "\\infty",
        '∅' => "\\emptyset",
        '°' => "\\degree",
        '∠' => "\\angle",
        '△' => "\\triangle",
        '′' => "\\prime",
        'ℝ' => "\\mathbb{R}",
        'ℕ' => "\\mathbb{N}",
        'ℤ' => "\\mathbb{Z}",
        'ℚ' => "\\mathbb{Q}",
        'ℂ' => "\\mathbb{C}",
        '−' => "-",
        '∗' => "*",
        '×' => "\\times",
        '⋅' | '·' => "\\cdot",
        '÷' => "\\div",
        '±' => "\\pm",
        '∓' => "\\mp",
        '≤' => "\\le",
        '≥' => "\\ge",
        '≠' => "\\ne",
        '≈' => "\\approx",
        '≡' => "\\equiv",
        '∼' => "\\sim",
        '≃' => "\\simeq",
        '∝' => "\\propto",
        '→' => "\\to",
        '←' => "\\leftarrow",
        '↔' => "\\leftrightarrow",
        '⇒' => "\\Rightarrow",
        '⇐' => "\\Leftarrow",
        '⇔' => "\\Leftrightarrow",
        '⇌' => "\\rightleftharpoons",
        '↑' => "\\uparrow",
        '↓' => "\\downarrow",
        '∈' => "\\in",
        '∉' => "\\notin",
        '∋' => "\\ni",
        '⊂' => "\\subset",
        '⊃' => "\\supset",
        '⊆' => "\\subseteq",
        '⊄' => "\\not\\subset",
        '∪' => "\\cup",
        '∩' => "\\cap",
        '∖' => "\\setminus",
        '∀' => "\\forall",
        '∃' => "\\exists",
        '∧' => "\\land",
        '∨' => "\\lor",
        '¬' => "\\neg",
        '∥' => "\\parallel",
        '⊥' => "\\perp",
        '∘' => "\\circ",
        '∫' => "\\int",
        '∬' => "\\iint",
        '∮' => "\\oint",
        '∑' => "\\sum",
        '∏' => "\\prod",
        '⋃' => "\\bigcup",
        '⋂' => "\\bigcap",
        '{' => "\\{",
        '}' => "\\}",
        '⟨' => "\\langle",
        '⟩' => "\\rangle",
        '|' => "|",
        '∣' => "\\mid",
        '…' => "\\ldots",
        '⋯' => "\\cdots",
        '%' => "\\%",
        '#' => "\\#",
        '&' => "\\&",
        _ => return None,
    })
}

/// Appends `text`, keeping a command's name apart from a letter after it (`\pi x`).
fn push(out: &mut String, text: &str) {
    let ends_in_command = {
        let letters = out
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        letters > 0 && out[..out.len() - letters].ends_with('\\')
    };
    if ends_in_command && text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push(' ');
    }
    out.push_str(text);
}

fn push_char(out: &mut String, c: char) {
    match command_of(c) {
        Some(command) => push(out, command),
        None => push(out, c.encode_utf8(&mut [0; 4])),
    }
}

pub fn write(node: &Node) -> String {
    let mut out = String::new();
    put(&mut out, node);
    out
}

fn group(out: &mut String, node: &Node) {
    out.push('{');
    put(out, node);
    out.push('}');
}

fn put_row(out: &mut String, nodes: &[Node]) {
    for (i, node) in nodes.iter().enumerate() {
        let between_numbers = matches!(node, Node::Op(op) if op == ",")
            && matches!(nodes.get(i.wrapping_sub(1)), Some(Node::Number(_)))
            && matches!(nodes.get(i + 1), Some(Node::Number(_)));
        if between_numbers {
            // A decimal comma, as Vietnamese writes 3,14.
            out.push_str("{,}");
        } else if let Node::Row(inner) = node {
            out.push('{');
            put_row(out, inner);
            out.push('}');
        } else {
            put(out, node);
        }
    }
}

fn put(out: &mut String, node: &Node) {
    match node {
        Node::Row(nodes) => put_row(out, nodes),
        Node::Ident(c) => push_char(out, *c),
        Node::Word(w) if FUNCTIONS.contains(&w.as_str()) => push(out, &format!("\\{w}")),
        Node::Word(w) => push(out, &format!("\\mathrm{{{w}}}")),
        Node::Number(n) => push(out, n),
        Node::Op(op) => op.chars().for_each(|c| push_char(out, c)),
        Node::Text(t) => push(out, &format!("\\text{{{}}}", t.replace(['{', '}'], ""))),
        Node::Space { wide: false } => push(out, "\\,"),
        Node::Space { wide: true } => push(out, "\\quad"),
        Node::Frac(num, den) => {
            push(out, "\\frac");
            group(out, num);
            group(out, den);
        }
        Node::Sqrt(body) => {
            push(out, "\\sqrt");
            group(out, body);
        }
        Node::Root(index, body) => {
            push(out, "\\sqrt[");
            put(out, index);
            out.push(']');
            group(out, body);
        }
        Node::Scripts {
            base,
            sub,
            sup,
            limits,
        } => put_scripts(out, base, sub.as_deref(), sup.as_deref(), *limits),
        Node::Accent(body, mark) => {
            push(
                out,
                match mark {
                    '→' => "\\overrightarrow",
                    '‾' => "\\overline",
                    '^' => "\\hat",
                    '˙' => "\\dot",
                    '~' => "\\tilde",
                    _ => "\\ddot",
                },
            );
            group(out, body);
        }
        Node::Fenced { open, close, body } => match (open, close, body.as_ref()) {
            (Some('('), Some(')'), Node::Table(rows)) => environment(out, "pmatrix", rows),
            (Some('['), Some(']'), Node::Table(rows)) => environment(out, "bmatrix", rows),
            (Some('|'), Some('|'), Node::Table(rows)) => environment(out, "vmatrix", rows),
            (Some('{'), None, Node::Table(rows)) => environment(out, "cases", rows),
            _ => {
                push(out, "\\left");
                fence(out, *open);
                put(out, body);
                push(out, "\\right");
                fence(out, *close);
            }
        },
        Node::Table(rows) => environment(out, "matrix", rows),
    }
}

fn fence(out: &mut String, side: Option<char>) {
    match side {
        None => out.push('.'),
        Some(c) => push_char(out, c),
    }
}

fn environment(out: &mut String, name: &str, rows: &[Vec<Node>]) {
    push(out, &format!("\\begin{{{name}}}"));
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            out.push_str(" \\\\ ");
        }
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                out.push_str(" & ");
            }
            put(out, cell);
        }
    }
    push(out, &format!("\\end{{{name}}}"));
}

fn atomic(node: &Node) -> bool {
    match node {
        Node::Ident(_) | Node::Op(_) | Node::Accent(..) | Node::Frac(..) | Node::Sqrt(_) => true,
        Node::Number(n) => n.chars().count() == 1,
        Node::Word(w) => FUNCTIONS.contains(&w.as_str()),
        Node::Fenced { .. } => true,
        _ => false,
    }
}

fn put_scripts(
    out: &mut String,
    base: &Node,
    sub: Option<&Node>,
    sup: Option<&Node>,
    limits: bool,
) {
    if limits && !limits_by_default(base) {
        if let (Node::Op(op), Some(sup)) = (base, sup)
            && op == "→"
        {
            push(out, "\\xrightarrow");
            if let Some(sub) = sub {
                out.push('[');
                put(out, sub);
                out.push(']');
            }
            group(out, sup);
            return;
        }
        // \underset{a}{\overset{b}{X}} reads back as one node with both.
        if let Some(sub) = sub {
            push(out, "\\underset");
            group(out, sub);
            out.push('{');
        }
        match sup {
            Some(sup) => {
                push(out, "\\overset");
                group(out, sup);
                group(out, base);
            }
            None => put(out, base),
        }
        if sub.is_some() {
            out.push('}');
        }
        return;
    } else if atomic(base) {
        put(out, base);
    } else {
        group(out, base);
    }
    if let Some(sub) = sub {
        out.push('_');
        group(out, sub);
    }
    if let Some(sup) = sup {
        out.push('^');
        group(out, sup);
    }
}
