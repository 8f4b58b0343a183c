//! `POST /schools/{id}/users/import`: a roster file (CSV or .xlsx) checked row by row and
//! written whole, unless the caller keeps the valid rows.
use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    NewUser, UserFields, db, domain,
    import::{self, Column, RosterImportReport, RowReport, RowStatus},
    routes::{check_grant, unique_violation},
    validate_user,
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, password, roles::Role},
    error::{ApiError, FieldError, Problem},
    i18n,
    request::RequestMeta,
    state::AppState,
};

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Check the file and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Import the valid rows even when others are invalid (by default one bad row stops the file).
    #[serde(default)]
    pub keep_valid: bool,
    /// School year used to find the class named in each row; defaults to the newest one.
    pub school_year: Option<String>,
}

struct PlannedRow {
    report: RowReport,
    user: Option<NewUser>,
    password: Option<String>,
}

fn skipped(row: usize, login: Option<&str>, field: &'static str, code: &'static str) -> PlannedRow {
    PlannedRow {
        report: RowReport {
            row,
            login: login.map(str::to_owned),
            status: RowStatus::Skipped,
            field: Some(field),
            reason_code: Some(code),
            reason: Some(i18n::message(code)),
            initial_password: None,
        },
        user: None,
        password: None,
    }
}

/// Imports accounts from a roster file (CSV or .xlsx, sent as the body) into a school, with a
/// report line per row. All-or-nothing unless `keep_valid` is set.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("school_id" = Uuid, Path), ImportQuery),
    request_body(content = Vec<u8>, description = "The file: text/csv or application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        content_type = "text/csv"),
    responses(
        (status = 200, description = "imported (or checked, for a dry run)", body = RosterImportReport),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "rejected: invalid rows, nothing written; the body is the report", body = RosterImportReport, content_type = "application/problem+json")))]
#[post("/schools/{school_id}/users/import")]
pub async fn import_users(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let school_id = path.into_inner();
    user.require(&[Role::SchoolAdmin], Scope::School(school_id))?;
    db::find_school(&state.db, school_id)
        .await?
        .ok_or(ApiError::NotFound("school_not_found"))?;
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let kind = import::detect(content_type, &body).map_err(|_| ApiError::UnsupportedMediaType)?;
    let table = import::read_queued(&state.imports, kind, body.clone()).await?;
    let missing = table.missing_required();
    if !missing.is_empty() {
        return Err(ApiError::fields(
            missing
                .into_iter()
                .map(|c| FieldError::new(c, "missing_columns"))
                .collect(),
        ));
    }

    let classes = db::list_classes(&state.db, school_id).await?;
    let year = query
        .school_year
        .clone()
        .or_else(|| classes.first().map(|c| c.school_year.clone()));
    let class_by_name: HashMap<String, Uuid> = classes
        .iter()
        .filter(|c| Some(&c.school_year) == year.as_ref())
        .map(|c| (crate::text::fold(&c.name), c.id))
        .collect();

    let mut seen = HashSet::new();
    let mut planned = Vec::with_capacity(table.rows.len());
    for (row, cells) in &table.rows {
        let row = *row;
        let login = table.get(cells, Column::Login);
        let roles = match table.get(cells, Column::Role).map(|r| {
            r.split([',', '+'])
                .map(Role::parse)
                .collect::<Option<Vec<_>>>()
        }) {
            Some(Some(roles)) => roles,
            Some(None) => {
                planned.push(skipped(row, login, "role", "invalid_role"));
                continue;
            }
            None => {
                planned.push(skipped(row, login, "role", "required"));
                continue;
            }
        };
        if check_grant(&user, &roles).is_err() {
            planned.push(skipped(row, login, "role", "forbidden"));
            continue;
        }
        let class_id = match table.get(cells, Column::Class) {
            None => None,
            Some(name) => match class_by_name.get(&crate::text::fold(name)) {
                Some(id) => Some(*id),
                None => {
                    planned.push(skipped(row, login, "class", "unknown_class"));
                    continue;
                }
            },
        };
        let birth_date = match table.get(cells, Column::BirthDate).map(domain::parse_date) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(code)) => {
                planned.push(skipped(row, login, "birth_date", code));
                continue;
            }
        };
        let subjects = match table.get(cells, Column::Subjects).map(|list| {
            list.split([',', '+', ';'])
                .map(crate::exam_format::Subject::parse)
                .collect::<Option<Vec<_>>>()
        }) {
            None => Vec::new(),
            Some(Some(subjects)) => subjects,
            Some(None) => {
                planned.push(skipped(row, login, "subjects", "invalid_subject"));
                continue;
            }
        };
        let password = table.get(cells, Column::Password).map(str::to_owned);
        if let Some(Err(code)) = password.as_deref().map(password::check_strength) {
            planned.push(skipped(row, login, "password", code));
            continue;
        }
        let fields = UserFields {
            login: login.unwrap_or(""),
            email: table.get(cells, Column::Email),
            full_name: table.get(cells, Column::FullName).unwrap_or(""),
            roles,
            school_id: Some(school_id),
            class_id,
            birth_date,
            subjects,
        };
        let new = match validate_user(fields) {
            Ok(new) => new,
            Err(problems) => {
                planned.push(skipped(row, login, problems[0].0, problems[0].1));
                continue;
            }
        };
        if !seen.insert(new.login.clone()) {
            planned.push(skipped(row, login, "login", "duplicate_in_file"));
            continue;
        }
        if db::login_exists(&state.db, &new.login).await? {
            planned.push(skipped(row, login, "login", "login_taken"));
            continue;
        }
        planned.push(PlannedRow {
            report: RowReport {
                row,
                login: Some(new.login.clone()),
                status: RowStatus::WouldCreate,
                field: None,
                reason_code: None,
                reason: None,
                initial_password: None,
            },
            user: Some(new),
            password,
        });
    }

    let skipped_count = planned.iter().filter(|p| p.user.is_none()).count();
    let rejected = skipped_count > 0 && !query.keep_valid;
    if query.dry_run || rejected {
        let report = RosterImportReport {
            dry_run: query.dry_run,
            committed: false,
            created: 0,
            skipped: skipped_count,
            rows: planned.into_iter().map(|p| p.report).collect(),
        };
        return Ok(if rejected {
            crate::error::rejected_with("import_rejected", report)
        } else {
            HttpResponse::Ok().json(report)
        });
    }

    // Hash every password first (bounded by the hasher's permits), then write in one transaction.
    let hashes = futures_util::future::try_join_all(
        planned.iter_mut().filter(|p| p.user.is_some()).map(|p| {
            let secret = match p.password.take() {
                Some(given) => given,
                None => {
                    let generated = domain::generate_password();
                    p.report.initial_password = Some(generated.clone());
                    generated
                }
            };
            state.passwords.hash(secret)
        }),
    )
    .await?;
    let txn = audit::Change::begin(&state.db).await?;
    let mut created = 0;
    for (p, hash) in planned.iter_mut().filter(|p| p.user.is_some()).zip(hashes) {
        let new = p.user.as_ref().expect("filtered on user");
        match db::insert_user(&txn, new, hash).await {
            // Someone took the login since the check: stop, roll back, let the admin retry.
            Err(e) if unique_violation(&e) => return Err(ApiError::Conflict("login_taken")),
            other => other?,
        };
        p.report.status = RowStatus::Created;
        created += 1;
    }
    txn.commit(&meta, Event::by(user.id, "users.imported", "school", school_id, serde_json::json!({ "created": created, "skipped": skipped_count, "format": format!("{kind:?}") }))).await?;
    Ok(HttpResponse::Ok().json(RosterImportReport {
        dry_run: false,
        committed: true,
        created,
        skipped: skipped_count,
        rows: planned.into_iter().map(|p| p.report).collect(),
    }))
}
