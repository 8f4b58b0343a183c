//! The import rule of ARCHITECTURE.md, checked over the source: no cycle between capability
//! folders and none between files, except cycles that ARCHITECTURE.md names with why (listed in
//! `KNOWN_FILE_CYCLES` / `KNOWN_FOLDER_CYCLES` below; none today). A new cycle, or a named one
//! that grows, fails; a named one that is gone fails too, so the lists stay true. And the size
//! rule: a file over 700 lines says at its top why it is one file.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// The composition root: it builds the application from every capability, and handlers reach
/// the handles it holds. Its own edges are not counted between folders.
const ROOT: &[&str] = &["jobs", "lib", "main", "startup", "state"];

/// Cycles between files that ARCHITECTURE.md names, each as its sorted member list.
const KNOWN_FILE_CYCLES: &[&[&str]] = &[];

/// Cycles between capability folders (the root left out) that ARCHITECTURE.md names.
const KNOWN_FOLDER_CYCLES: &[&[&str]] = &[];

type Module = Vec<String>;

#[test]
fn imports_form_no_cycle_but_the_named_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules_under(&src);
    let known: BTreeSet<&Module> = modules.keys().collect();
    let mut file_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut folder_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &modules {
        let from = module.join("::");
        file_edges.entry(from.clone()).or_default();
        for path in referenced_paths(module, text) {
            let Some(target) = longest_known(&known, &path) else {
                continue;
            };
            if target == module {
                continue;
            }
            file_edges
                .entry(from.clone())
                .or_default()
                .insert(target.join("::"));
            let (a, b) = (folder_of(module), folder_of(target));
            if a != b && !ROOT.contains(&a) && !ROOT.contains(&b) {
                folder_edges
                    .entry(a.to_owned())
                    .or_default()
                    .insert(b.to_owned());
            }
        }
    }
    let file_cycles = cycles(&file_edges);
    let folder_cycles = cycles(&folder_edges);
    assert_eq!(
        file_cycles,
        as_sets(KNOWN_FILE_CYCLES),
        "cycles between files changed: name a new one in ARCHITECTURE.md and here, or break it"
    );
    assert_eq!(
        folder_cycles,
        as_sets(KNOWN_FOLDER_CYCLES),
        "cycles between capability folders changed"
    );
}

/// Past this many lines a file says at its top why it is one file.
const LONG_FILE: usize = 700;

#[test]
fn a_file_over_700_lines_says_why_at_its_top() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let unexplained: Vec<String> = modules_under(&src)
        .into_iter()
        .filter(|(_, text)| text.lines().count() > LONG_FILE)
        .filter(|(_, text)| {
            !text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .any(|l| l.starts_with("//! Over 700 lines:"))
        })
        .map(|(module, _)| module.join("::"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "split these by concern, or say at the top why not (\"//! Over 700 lines: …\"): {unexplained:?}"
    );
}

#[test]
fn the_reader_finds_grouped_nested_and_inline_paths() {
    let module = vec!["exams".to_owned(), "taking".to_owned()];
    let text = "use crate::{auth::{CurrentUser, roles::Role}, error::ApiError};\n\
                use super::domain::Facts;\n\
                fn f() { crate::text::fold(\"x\"); }\n\
                #[cfg(test)]\nmod tests { use crate::seed; }";
    let paths: BTreeSet<String> = referenced_paths(&module, text)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let want: BTreeSet<String> = [
        "auth::CurrentUser",
        "auth::roles::Role",
        "error::ApiError",
        "exams::domain::Facts",
        "text::fold",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(paths, want, "test modules are not part of the graph");
}

fn as_sets(lists: &[&[&str]]) -> BTreeSet<BTreeSet<String>> {
    lists
        .iter()
        .map(|l| l.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

fn folder_of(module: &Module) -> &str {
    module.first().map_or("lib", String::as_str)
}

/// Every `.rs` file under `src`, by module path (`exams/mod.rs` is `exams`), with its text
/// (`referenced_paths` reads only what comes before the test module).
fn modules_under(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            out.insert(module, fs::read_to_string(&path).expect("a source file"));
        }
    }
    out
}

/// The crate paths a file names, resolved to absolute module paths (without `crate`).
fn referenced_paths(module: &Module, text: &str) -> Vec<Module> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut found = Vec::new();
    for statement in text.split(';') {
        if let Some(at) = statement.find("use ") {
            let before = &statement[..at];
            if before.trim_end().is_empty() || before.ends_with(char::is_whitespace) {
                for path in expand(statement[at + 4..].trim()) {
                    found.extend(resolve(module, &path));
                }
            }
        }
    }
    // Paths written inline (`crate::text::fold(..)`).
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.extend(resolve(module, path.trim_end_matches(':')));
        }
    }
    found
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_owned()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p))
        .map(|p| match (prefix.is_empty(), p == "self") {
            (true, _) => p,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}::{p}"),
        })
        .collect()
}

fn resolve(module: &Module, path: &str) -> Option<Module> {
    let mut parts = path.split("::").map(str::trim).filter(|p| !p.is_empty());
    let mut base: Module = match parts.next()? {
        "crate" => Vec::new(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        "self" => module.clone(),
        _ => return None,
    };
    for part in parts {
        if part == "super" {
            base.pop();
        } else {
            base.push(part.to_owned());
        }
    }
    // `crate::{..}` alone, as the inline scan sees the head of a grouped `use`.
    (!base.is_empty()).then_some(base)
}

fn longest_known<'a>(known: &BTreeSet<&'a Module>, path: &Module) -> Option<&'a Module> {
    (1..=path.len())
        .rev()
        .find_map(|n| known.get(&path[..n].to_vec()).copied())
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<BTreeSet<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: BTreeSet<BTreeSet<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w.as_str()) {
                    let low = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.insert(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.insert(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: BTreeSet::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}
