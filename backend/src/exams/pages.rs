//! The candidate's pages: their tests, the waiting room, the test itself, the receipt and the
//! result. Questions are rendered here (HTML with MathML, figures from the attempt's media);
//! `webapp/static/exam.js` keeps the answer journal, saves, follows the server's clock and
//! submits, through the same API as every client, authenticated by the session cookie.
use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
};

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, web};
use askama::Template;
use uuid::Uuid;

use super::{
    domain::{AttemptState, ExamKind, receipt_code},
    grading,
    lifecycle::Context,
    my_attempts::attempts_of,
    taking::result_of,
};
use crate::{
    auth::roles::Role,
    error::ApiError,
    exam_format::Subject,
    questions::domain::{RenderedBody, rich_html},
    request::RequestMeta,
    state::AppState,
    webapp::{Frame, PageError, Visitor, assets, name_of, render, texts},
};

/// The texts `exam.js` shows, handed to it with the page.
pub const SCRIPT_TEXTS: &[&str] = &[
    "save_saved",
    "save_saving",
    "save_offline",
    "save_refused",
    "warn_5",
    "warn_1",
    "submit_summary",
    "submit_unanswered",
    "submit_flagged",
    "submit_pending",
    "short_answer_invalid",
    "next_section_confirm",
    "question_n",
    "part_n",
    "answered",
    "not_answered",
    "flagged",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(my_exams)
        .service(exam_page)
        .service(result_page);
}

/// The signed-in student, or the way to sign in.
async fn student(
    state: &AppState,
    meta: &RequestMeta,
    req: &HttpRequest,
) -> Result<Result<(Visitor, crate::auth::CurrentUser), HttpResponse>, PageError> {
    let visitor = Visitor::of(state, meta, req).await;
    let Some(user) = visitor.user.clone() else {
        return Ok(Err(visitor.sign_in_first(req.path())));
    };
    user.require(&[Role::Student], user.home())?;
    Ok(Ok((visitor, user)))
}

/// The student's own attempt; anyone else's does not exist.
async fn own_attempt(
    state: &AppState,
    user: &crate::auth::CurrentUser,
    id: Uuid,
) -> Result<Context, PageError> {
    let ctx = Context::load(&state.db, id).await?;
    if ctx.attempt.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found").into());
    }
    Ok(ctx)
}

fn state_key(state: AttemptState) -> &'static str {
    match state {
        AttemptState::NotStarted => "state_not_started",
        AttemptState::InProgress => "state_in_progress",
        AttemptState::Paused => "state_paused",
        AttemptState::Submitted => "state_submitted",
        _ => "state_closed",
    }
}

struct ExamRow {
    id: Uuid,
    exam_name: String,
    sitting_name: String,
    starts: String,
    minutes: i32,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "exams/templates/my_exams.html")]
struct MyExams {
    frame: Frame,
    rows: Vec<ExamRow>,
}

#[get("/my/exams")]
async fn my_exams(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (visitor, user) = match student(&state, &meta, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let rows = attempts_of(&state, user.id)
        .await?
        .into_iter()
        .map(|a| ExamRow {
            id: a.id,
            exam_name: a.exam_name,
            sitting_name: a.sitting_name,
            starts: texts::date_time(a.starts_at),
            minutes: a.minutes,
            state: state_key(a.state),
        })
        .collect();
    let name = name_of(&state, &visitor).await;
    let frame = Frame::new(&visitor, &req, visitor.t.get("my_exams_title"), name);
    render(&visitor, &req, StatusCode::OK, &MyExams { frame, rows })
}

/// What the waiting room and the test page both show about the attempt.
struct About {
    attempt_id: Uuid,
    exam_name: String,
    sitting_name: String,
    subject: String,
    minutes: i32,
    code: String,
    number: Option<String>,
    exam_js: &'static str,
    script_texts: String,
}

impl About {
    fn of(ctx: &Context, visitor: &Visitor) -> About {
        About {
            attempt_id: ctx.attempt.id,
            exam_name: ctx.exam.name.clone(),
            sitting_name: ctx.sitting.name.clone(),
            subject: Subject::parse(&ctx.sitting.subject)
                .map_or_else(|| ctx.sitting.subject.clone(), |s| s.name_vi().to_owned()),
            minutes: ctx.sitting.minutes + ctx.candidate.as_ref().map_or(0, |c| c.extra_minutes),
            code: ctx.attempt.code.clone(),
            number: ctx.candidate.as_ref().map(|c| c.number.clone()),
            exam_js: assets::url("exam.js"),
            script_texts: visitor.t.json(SCRIPT_TEXTS),
        }
    }
}

#[derive(Template)]
#[template(path = "exams/templates/lobby.html")]
struct Lobby {
    frame: Frame,
    about: About,
    starts_at: String,
    late_minutes: i32,
    needs_check_in: bool,
    checked_in: bool,
    opens_later: bool,
    needs_passkey: bool,
    can_start: bool,
}

struct Stimulus {
    title: String,
    html: String,
}

struct QuestionView {
    slot: usize,
    number: usize,
    stem: String,
    /// (letter, HTML): Part I's options or Part II's statements.
    choices: Vec<(char, String)>,
    /// The shared stimulus's group, if any ("" when none).
    group: String,
    stimulus: Option<Stimulus>,
}

struct PartView {
    part: u8,
    roman: &'static str,
    /// "open", or under forward-only navigation "done" or "later".
    status: &'static str,
    questions: Vec<QuestionView>,
}

#[derive(Template)]
#[template(path = "exams/templates/exam.html")]
struct ExamPage {
    frame: Frame,
    about: About,
    parts: Vec<PartView>,
    total: usize,
    has_next_section: bool,
    heartbeat_seconds: u64,
    /// The attempt with its answers for the device it runs on (JSON), or empty.
    view: String,
}

#[derive(Template)]
#[template(path = "exams/templates/receipt.html")]
struct Receipt {
    frame: Frame,
    about: About,
    submitted_at: String,
    receipt: String,
    result_shown: bool,
}

fn roman(part: u8) -> &'static str {
    match part {
        1 => "I",
        2 => "II",
        3 => "III",
        _ => "IV",
    }
}

/// The attempt's page: the waiting room before the start, the test while it runs, the receipt
/// once it is handed in.
#[get("/exam/{attempt_id}")]
async fn exam_page(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let (visitor, user) = match student(&state, &meta, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let ctx = own_attempt(&state, &user, path.into_inner()).await?;
    let name = name_of(&state, &visitor).await;
    let about = About::of(&ctx, &visitor);
    let t = visitor.t;
    match ctx.state()? {
        AttemptState::NotStarted => {
            let policy = ctx.policy()?;
            let is_exam = ExamKind::parse(&ctx.exam.kind)? == ExamKind::Exam;
            let needs_check_in = is_exam && policy.identity.needs_check_in();
            let checked_in = ctx
                .candidate
                .as_ref()
                .is_some_and(|c| c.checked_in_at.is_some());
            let opens_later = state.clock.now() < ctx.sitting.starts_at;
            let page = Lobby {
                frame: Frame::new(&visitor, &req, t.get("lobby_title"), name),
                starts_at: texts::date_time(ctx.sitting.starts_at),
                late_minutes: ctx.sitting.late_start_minutes,
                needs_check_in,
                checked_in,
                opens_later,
                needs_passkey: policy.identity.needs_passkey(),
                can_start: !opens_later && (checked_in || !needs_check_in),
                about,
            };
            render(&visitor, &req, StatusCode::OK, &page)
        }
        AttemptState::InProgress | AttemptState::Paused => {
            let paper = state
                .exams
                .paper(ctx.attempt.paper_id, &ctx.attempt.code)
                .await?;
            let rendered = rendered(ctx.attempt.paper_id, &ctx.attempt.code, &paper.body)?;
            let forward_only = ctx.sitting.navigation == "forward_only";
            let total = rendered.1;
            let parts = parts_of(&rendered, ctx.attempt.id, forward_only, ctx.attempt.section);
            let last_part = parts.iter().map(|p| p.part).max().unwrap_or(1);
            // The attempt as it stands comes with the page, so the browser it runs on needs no
            // resume call to begin (one request fewer for each candidate at the start). Not
            // under a passkey policy: there every resume asks the passkey again.
            let view = if ctx.policy()?.identity.needs_passkey() {
                String::new()
            } else {
                let view = super::taking::view(&state, &ctx, true).await?;
                serde_json::json!({ "device": ctx.attempt.device_id, "view": view })
                    .to_string()
                    .replace('<', "\\u003c")
            };
            let page = ExamPage {
                frame: Frame::new(&visitor, &req, &ctx.exam.name, name),
                about,
                parts,
                total,
                has_next_section: forward_only && (ctx.attempt.section as u8) < last_part,
                heartbeat_seconds: state.settings.heartbeat_interval.as_secs(),
                view,
            };
            render(&visitor, &req, StatusCode::OK, &page)
        }
        _ => {
            let latest = grading::latest_answers(&state.db, ctx.attempt.id).await?;
            let receipt = receipt_code(
                ctx.attempt.id,
                latest.iter().map(|(slot, (_, v))| (*slot, v.as_deref())),
            );
            let policy = ctx.policy()?;
            let page = Receipt {
                frame: Frame::new(&visitor, &req, t.get("receipt_title"), name),
                submitted_at: ctx
                    .attempt
                    .submitted_at
                    .map(texts::date_time_seconds)
                    .unwrap_or_default(),
                receipt,
                result_shown: ctx.exam.results_released
                    || policy.release == super::domain::ResultRelease::Immediate,
                about,
            };
            render(&visitor, &req, StatusCode::OK, &page)
        }
    }
}

/// Stands for the attempt in the figures' addresses of a code's questions rendered once.
const ANY_ATTEMPT: &str = "00000000-0000-0000-0000-000000000000";

/// A code's questions with their parts, rendered, and how many there are.
type Rendered = Arc<(Vec<(u8, QuestionView)>, usize)>;

/// Every code's questions as HTML (with MathML), by (paper, code), rendered once: every
/// candidate on the code gets the same but for their attempt in the figures' addresses. A
/// code's printed content never changes (a key correction changes only its key).
static RENDERED: LazyLock<RwLock<HashMap<(Uuid, String), Rendered>>> =
    LazyLock::new(Default::default);

/// Codes kept; past it the cache starts again (a province's sitting uses a few hundred).
const RENDERED_CODES: usize = 4096;

fn rendered(paper_id: Uuid, code: &str, body: &[u8]) -> Result<Rendered, ApiError> {
    let key = (paper_id, code.to_owned());
    if let Some(hit) = RENDERED.read().expect("not poisoned").get(&key) {
        return Ok(hit.clone());
    }
    let paper: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::Unexpected(e.into()))?;
    let questions = Arc::new(render_questions(&paper));
    let mut cache = RENDERED.write().expect("not poisoned");
    if cache.len() >= RENDERED_CODES {
        cache.clear();
    }
    cache.insert(key, questions.clone());
    Ok(questions)
}

/// Each question of a code with its part, rendered; and how many there are.
fn render_questions(paper: &serde_json::Value) -> (Vec<(u8, QuestionView)>, usize) {
    let src = |name: &str| format!("/api/v1/attempts/{ANY_ATTEMPT}/media/{name}");
    let groups = paper["groups"].as_array().cloned().unwrap_or_default();
    let mut shown_groups = std::collections::HashSet::new();
    let questions = paper["questions"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(questions.len());
    for (slot, q) in questions.iter().enumerate() {
        let part = q["part"].as_u64().unwrap_or(4) as u8;
        let rendered = RenderedBody::of_content(&q["content"], &src);
        let choices = if part == 1 {
            ['A', 'B', 'C', 'D']
                .into_iter()
                .zip(rendered.options)
                .collect()
        } else {
            ['a', 'b', 'c', 'd']
                .into_iter()
                .zip(rendered.statements)
                .collect()
        };
        let stimulus = q["group_id"].as_str().and_then(|g| {
            if !shown_groups.insert(g.to_owned()) {
                return None;
            }
            groups.iter().find(|x| x["id"] == g).map(|x| Stimulus {
                title: x["title"].as_str().unwrap_or_default().to_owned(),
                html: rich_html(x["stimulus"].as_str().unwrap_or_default(), &src),
            })
        });
        out.push((
            part,
            QuestionView {
                slot,
                number: q["number"].as_u64().unwrap_or(slot as u64 + 1) as usize,
                stem: rendered.stem,
                choices,
                group: q["group_id"].as_str().unwrap_or_default().to_owned(),
                stimulus,
            },
        ));
    }
    (out, questions.len())
}

/// A code's rendered questions for one attempt, by part, with each part's state under
/// forward-only navigation.
fn parts_of(
    rendered: &(Vec<(u8, QuestionView)>, usize),
    attempt: Uuid,
    forward_only: bool,
    section: i32,
) -> Vec<PartView> {
    let attempt = attempt.to_string();
    let own = |html: &String| {
        if html.contains(ANY_ATTEMPT) {
            html.replace(ANY_ATTEMPT, &attempt)
        } else {
            html.clone()
        }
    };
    let mut parts: Vec<PartView> = Vec::new();
    for (part, q) in &rendered.0 {
        let view = QuestionView {
            slot: q.slot,
            number: q.number,
            stem: own(&q.stem),
            choices: q.choices.iter().map(|(l, h)| (*l, own(h))).collect(),
            group: q.group.clone(),
            stimulus: q.stimulus.as_ref().map(|s| Stimulus {
                title: s.title.clone(),
                html: own(&s.html),
            }),
        };
        match parts.last_mut() {
            Some(p) if p.part == *part => p.questions.push(view),
            _ => parts.push(PartView {
                part: *part,
                roman: roman(*part),
                status: match (forward_only, i32::from(*part).cmp(&section)) {
                    (false, _) | (true, std::cmp::Ordering::Equal) => "open",
                    (true, std::cmp::Ordering::Less) => "done",
                    (true, std::cmp::Ordering::Greater) => "later",
                },
                questions: vec![view],
            }),
        }
    }
    parts
}

struct PartScore {
    roman: &'static str,
    points: String,
}

struct QuestionRow {
    label: String,
    answer: String,
    key: Option<String>,
}

#[derive(Template)]
#[template(path = "exams/templates/result.html")]
struct ResultPage {
    frame: Frame,
    exam_name: String,
    released: bool,
    parts: Vec<PartScore>,
    essay: Option<String>,
    essays_pending: usize,
    total: Option<String>,
    questions: Vec<QuestionRow>,
    shows_key: bool,
}

#[get("/exam/{attempt_id}/result")]
async fn result_page(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let (visitor, user) = match student(&state, &meta, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let ctx = own_attempt(&state, &user, path.into_inner()).await?;
    let name = name_of(&state, &visitor).await;
    let t = visitor.t;
    let frame = Frame::new(&visitor, &req, t.get("result_title"), name);
    let result = match result_of(&state, &user, &ctx).await {
        Ok(result) => Some(result),
        Err(ApiError::Conflict("results_not_released" | "not_graded")) => None,
        Err(e) => return Err(e.into()),
    };
    let mut page = ResultPage {
        frame,
        exam_name: ctx.exam.name.clone(),
        released: result.is_some(),
        parts: Vec::new(),
        essay: None,
        essays_pending: 0,
        total: None,
        questions: Vec::new(),
        shows_key: false,
    };
    if let Some(result) = result {
        let score = &result.score;
        page.parts = [(1, score.part1), (2, score.part2), (3, score.part3)]
            .into_iter()
            .map(|(part, points)| PartScore {
                roman: roman(part),
                points: texts::decimal(&points.to_string()),
            })
            .collect();
        page.essay = score.essay.map(|p| texts::decimal(&p.to_string()));
        page.essays_pending = score.essays_pending;
        page.total = score.total.map(|p| texts::decimal(&p.to_string()));
        page.shows_key = result.questions.iter().any(|q| q.key.is_some());
        page.questions = result
            .questions
            .into_iter()
            .map(|q| QuestionRow {
                label: format!("{}.{}", roman(q.part), q.number),
                answer: q.answer.unwrap_or_default(),
                key: q.key,
            })
            .collect();
    }
    render(&visitor, &req, StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_text_the_scripts_show_is_in_the_table() {
        let missing: Vec<&&str> = super::SCRIPT_TEXTS
            .iter()
            .chain(super::super::room_pages::SCRIPT_TEXTS)
            .filter(|k| !crate::webapp::texts::Texts::has(k))
            .collect();
        assert!(
            missing.is_empty(),
            "texts missing from texts.tsv: {missing:?}"
        );
    }
}
