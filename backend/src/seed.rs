//! `hocthi seed`: loads the sample organisation from `content-samples/` (idempotent: what
//! exists already is left alone). Generated passwords are printed once, never logged.
use std::{collections::HashMap, path::Path};

use anyhow::{Context, bail};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::roles::Role,
    org::{UserFields, db, domain, validate_user},
    request::RequestMeta,
    state::AppState,
};

#[derive(Debug, Default)]
pub struct SeedReport {
    pub schools: usize,
    pub classes: usize,
    /// Sample question-bank items, approved and shared with the province.
    pub items: usize,
    /// Sample lessons in the content repository, with their pictures and sound.
    pub lessons: usize,
    /// Sample exam matrices checked against their subject's format.
    pub matrices: usize,
    /// (login, generated password) of each account created.
    pub users: Vec<(String, String)>,
}

pub async fn seed_if_present(state: &AppState) -> anyhow::Result<Option<SeedReport>> {
    if !state.settings.samples_dir.join("organisation").is_dir() {
        return Ok(None);
    }
    Ok(Some(seed(state, &state.settings.samples_dir).await?))
}

pub fn print_report(report: &SeedReport) {
    println!(
        "Sample data: {} schools, {} classes, {} accounts, {} questions, {} lessons.",
        report.schools,
        report.classes,
        report.users.len(),
        report.items,
        report.lessons
    );
    for (login, password) in &report.users {
        println!("  {login:<28} {password}");
    }
}

fn rows(path: &Path) -> anyhow::Result<Vec<HashMap<String, String>>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    reader
        .records()
        .map(|r| {
            Ok(headers
                .iter()
                .map(str::to_owned)
                .zip(r?.iter().map(str::to_owned))
                .collect())
        })
        .collect()
}

fn field<'a>(row: &'a HashMap<String, String>, name: &str, file: &str) -> anyhow::Result<&'a str> {
    row.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .with_context(|| format!("{file}: a row lacks `{name}`"))
}

/// Loads everything in the samples folder: the organisation, then question banks and matrices.
pub async fn seed(state: &AppState, samples: &Path) -> anyhow::Result<SeedReport> {
    let mut report = seed_organisation(state, &samples.join("organisation")).await?;
    report.items = seed_questions(state, &samples.join("questions")).await?;
    report.lessons = seed_lessons(state, &samples.join("lessons")).await?;
    report.matrices = check_matrices(&samples.join("matrices"))?;
    Ok(report)
}

fn files_with(dir: &Path, extension: &str) -> anyhow::Result<Vec<std::path::PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

/// Each `<subject>-<grade>.docx` is imported as the first sample teacher of that subject, then
/// approved and shared with the province. A teacher who already has items is left alone.
async fn seed_questions(state: &AppState, dir: &Path) -> anyhow::Result<usize> {
    use crate::{
        exam_format::Subject,
        questions::{db as qdb, import},
    };
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut created = 0;
    for file in files_with(dir, "docx")? {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let (subject, grade) = stem
            .rsplit_once('-')
            .context("sample banks are named <subject>-<grade>.docx")?;
        let subject =
            Subject::parse(subject).with_context(|| format!("{stem}: unknown subject"))?;
        let grade: i16 = grade
            .parse()
            .with_context(|| format!("{stem}: the grade is not a number"))?;
        let author = crate::entities::user::Entity::find()
            .filter(
                crate::entities::user::Column::Subjects.contains(format!(" {} ", subject.code())),
            )
            .one(&state.db)
            .await?
            .with_context(|| format!("{stem}: no sample teacher of {}", subject.name_vi()))?;
        let existing = crate::entities::item::Entity::find()
            .filter(crate::entities::item::Column::AuthorId.eq(author.id))
            .count(&state.db)
            .await?;
        if existing > 0 {
            continue;
        }
        let query = import::ImportQuery {
            subject,
            grade,
            topic: "Mẫu".into(),
            level: None,
            series: Some("ket_noi".into()),
            dry_run: false,
            keep_valid: false,
        };
        let bytes = std::fs::read(&file)?;
        let (report, rejected) = import::import_file(
            state,
            &RequestMeta::system(&state.audit_key),
            author.id,
            author.school_id,
            &query,
            &bytes::Bytes::from(bytes),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{stem}: {e}"))?;
        if rejected {
            bail!("{stem}: {} items were rejected", report.rejected);
        }
        let txn = state.db.begin().await?;
        for id in report.items.iter().filter_map(|i| i.item_id) {
            qdb::publish(&txn, id, 1).await?;
            qdb::set_scope(&txn, id, "province").await?;
        }
        txn.commit().await?;
        created += report.created;
    }
    Ok(created)
}

/// Lessons written as JSON (`content-samples/lessons/*.json`): sections of text and media, each
/// media section naming a file next to it; published to the province repository by their
/// author. A lesson already there (same author, same title) is left alone.
async fn seed_lessons(state: &AppState, dir: &Path) -> anyhow::Result<usize> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut created = 0;
    for file in files_with(dir, "json")? {
        let name = file.display().to_string();
        let mut lesson: serde_json::Value = serde_json::from_slice(&std::fs::read(&file)?)
            .with_context(|| format!("{name} is not JSON"))?;
        let login = lesson["author"]
            .as_str()
            .with_context(|| format!("{name}: no author"))?;
        let author = crate::entities::user::Entity::find()
            .filter(crate::entities::user::Column::Login.eq(login))
            .one(&state.db)
            .await?
            .with_context(|| format!("{name}: no sample account {login}"))?;
        let title = lesson["title"].as_str().unwrap_or_default().to_owned();
        let existing = crate::entities::content_item::Entity::find()
            .filter(crate::entities::content_item::Column::AuthorId.eq(author.id))
            .filter(crate::entities::content_item::Column::Title.eq(title.as_str()))
            .count(&state.db)
            .await?;
        if existing > 0 {
            continue;
        }
        let sections = lesson["sections"]
            .as_array_mut()
            .with_context(|| format!("{name}: no sections"))?;
        for section in sections.iter_mut() {
            if let Some(path) = section
                .get("file")
                .and_then(|f| f.as_str())
                .map(str::to_owned)
            {
                let bytes = std::fs::read(dir.join(&path))
                    .with_context(|| format!("{name}: cannot read {path}"))?;
                let stored = crate::content::uploads::store_bytes(
                    state,
                    author.id,
                    author.school_id,
                    bytes.into(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{name}: {path}: {e}"))?;
                section["file_id"] = serde_json::json!(stored.id);
            }
        }
        let request: crate::content::items::ContentRequest =
            serde_json::from_value(serde_json::json!({
                "title": title,
                "description": lesson["description"],
                "scope": "province",
                "body": { "kind": "lesson", "sections": lesson["sections"] },
                "metadata": lesson["metadata"],
            }))
            .with_context(|| format!("{name} is not a lesson"))?;
        crate::content::items::create_published(state, &author, request)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        created += 1;
    }
    Ok(created)
}

fn check_matrices(dir: &Path) -> anyhow::Result<usize> {
    let files = files_with(dir, "json")?;
    for file in &files {
        let matrix: crate::questions::papers::Matrix =
            serde_json::from_slice(&std::fs::read(file)?)
                .with_context(|| format!("{} is not a matrix", file.display()))?;
        matrix
            .check_shape()
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    }
    Ok(files.len())
}

async fn seed_organisation(state: &AppState, dir: &Path) -> anyhow::Result<SeedReport> {
    let mut report = SeedReport::default();
    let txn = audit::Change::begin(&state.db).await?;
    let mut schools: HashMap<String, Uuid> = HashMap::new();
    for row in rows(&dir.join("schools.csv"))? {
        let code = field(&row, "code", "schools.csv")?.to_uppercase();
        let id = match db::find_school_by_code(&txn, &code).await? {
            Some(s) => s.id,
            None => {
                let level = domain::check_school_level(field(&row, "level", "schools.csv")?)
                    .map_err(anyhow::Error::msg)?;
                report.schools += 1;
                db::insert_school(
                    &txn,
                    &code,
                    &crate::text::clean_name(field(&row, "name", "schools.csv")?),
                    level,
                )
                .await?
                .id
            }
        };
        schools.insert(code, id);
    }
    let school = |code: &str| {
        schools
            .get(&code.to_uppercase())
            .copied()
            .with_context(|| format!("unknown school `{code}`"))
    };
    let mut classes: HashMap<(Uuid, String), Uuid> = HashMap::new();
    for row in rows(&dir.join("classes.csv"))? {
        let school_id = school(field(&row, "school_code", "classes.csv")?)?;
        let name = crate::text::clean_name(field(&row, "name", "classes.csv")?);
        let year = field(&row, "school_year", "classes.csv")?;
        let grade: i16 = field(&row, "grade", "classes.csv")?.parse()?;
        let id = match db::find_class_by_name(&txn, school_id, year, &name).await? {
            Some(c) => c.id,
            None => {
                report.classes += 1;
                db::insert_class(&txn, school_id, &name, grade, year)
                    .await?
                    .id
            }
        };
        classes.insert((school_id, name), id);
    }
    let mut pending = Vec::new();
    for row in rows(&dir.join("users.csv"))? {
        let school_id = school(field(&row, "school_code", "users.csv")?)?;
        let login = field(&row, "login", "users.csv")?;
        if db::login_exists(&txn, &crate::auth::domain::normalise_login(login)).await? {
            continue;
        }
        let roles = field(&row, "role", "users.csv")?
            .split('+')
            .map(|r| Role::parse(r).with_context(|| format!("users.csv: unknown role `{r}`")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let class_id = match row.get("class").filter(|c| !c.is_empty()) {
            Some(name) => Some(
                *classes
                    .get(&(school_id, crate::text::clean_name(name)))
                    .with_context(|| format!("unknown class `{name}`"))?,
            ),
            None => None,
        };
        let birth_date = match row.get("birth_date").filter(|d| !d.is_empty()) {
            Some(d) => Some(domain::parse_date(d).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let new = validate_user(UserFields {
            login,
            email: row.get("email").map(String::as_str),
            full_name: field(&row, "full_name", "users.csv")?,
            roles,
            school_id: Some(school_id),
            class_id,
            birth_date,
            subjects: row
                .get("subjects")
                .map(|list| {
                    list.split('+')
                        .filter_map(crate::exam_format::Subject::parse)
                        .collect()
                })
                .unwrap_or_default(),
        });
        match new {
            Ok(new) => pending.push(new),
            Err(problems) => bail!("users.csv: `{login}` is not valid: {problems:?}"),
        }
    }
    for new in pending {
        let password = domain::generate_password();
        let hash = state
            .passwords
            .hash(password.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        db::insert_user(&txn, &new, hash).await?;
        report.users.push((new.login, password));
    }
    txn.commit(&RequestMeta::system(&state.audit_key), Event {
            actor: None,
            action: "samples.seeded",
            target_type: "province",
            target_id: None,
            details: serde_json::json!({ "schools": report.schools, "classes": report.classes, "users": report.users.len() }),
        }).await?;
    Ok(report)
}
