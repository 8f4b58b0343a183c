//! The OpenAPI document names each schema by its Rust type's name alone, so two types of one
//! name in different modules became one schema and documented the wrong body (`MarkRequest`,
//! `ReviewRequest`, `ImportReport`). Checked over the source: every type deriving `ToSchema`
//! has a name of its own.
use std::{collections::BTreeMap, fs, path::Path};

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn every_documented_type_has_a_name_of_its_own() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, text) in &files {
        let mut derives_schema = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                derives_schema = true;
                continue;
            }
            if line.starts_with("#[") || line.starts_with("///") {
                continue;
            }
            if derives_schema {
                let name = line
                    .trim_start_matches("pub ")
                    .strip_prefix("struct ")
                    .or_else(|| line.trim_start_matches("pub ").strip_prefix("enum "))
                    .and_then(|rest| {
                        rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                            .next()
                    });
                if let Some(name) = name {
                    seen.entry(name.to_owned()).or_default().push(file.clone());
                }
            }
            derives_schema = false;
        }
    }
    assert!(
        seen.len() > 100,
        "the scan finds the documented types ({})",
        seen.len()
    );
    let clashes: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(clashes.is_empty(), "schema names used twice: {clashes:?}");
}
