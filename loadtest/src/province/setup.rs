//! Prepares a province sitting through the service's API, as Sở staff would: schools with a
//! class each (students from a roster file), a bank and a paper with codes, a province exam,
//! a sitting, rooms of 24 each with its own proctor, registration from the classes, the lock,
//! check-in,
//! and passkeys for the candidates who will use them: each school's teacher opens a class
//! enrollment session and each such student, signed in with their password, registers one.
use std::{collections::HashMap, time::Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use soft_authenticator::SoftAuthenticator;

use crate::api::{Api, Staff, exam_staff, id_of, maths_paper};

pub const STUDENT_PASSWORD: &str = "Mat-khau-thi-2026";
const STAFF_PASSWORD: &str = "Mat-khau-giam-thi-2026";
const STUDENTS_PER_SCHOOL: usize = 1000;
const CONCURRENCY: usize = 32;

pub struct Options<'a> {
    pub candidates: usize,
    pub minutes: u64,
    pub room_size: usize,
    /// Whether candidate i signs in with a passkey (enrolled here) or a password.
    pub passkey: &'a dyn Fn(usize) -> bool,
    pub origin: String,
}

/// One candidate as the traffic sees it.
pub struct Seat {
    pub login: String,
    pub attempt: String,
    /// Index into the authenticator's credentials, for passkey users.
    pub credential: Option<usize>,
}

pub struct Sitting {
    pub id: String,
    pub seats: Vec<Seat>,
    pub rooms: Vec<String>,
    /// Each room's own proctor, signed in (room i's at i): a person opens at most a few
    /// dashboards, as the service allows.
    pub proctor_tokens: Vec<String>,
    pub organiser_token: String,
    pub authenticator: SoftAuthenticator,
}

pub async fn prepare(api: &Api, admin: &str, o: &Options<'_>) -> anyhow::Result<Sitting> {
    let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let clock = Instant::now();
    let schools = o.candidates.div_ceil(STUDENTS_PER_SCHOOL).max(1);
    let mut classes = Vec::new();
    let mut teachers = Vec::new();
    let mut first_school = String::new();
    for s in 0..schools {
        let school = api
            .post(
                "/api/v1/schools",
                Some(admin),
                json!({ "code": format!("LT{s:03}-{tag}"),
                "name": format!("Trường THPT số {} ({tag})", s + 1), "level": "THPT" }),
            )
            .await?;
        let school = id_of(&school)?;
        let class = api
            .post(
                &format!("/api/v1/schools/{school}/classes"),
                Some(admin),
                json!({ "name": "12A1", "grade": 12, "school_year": "2026-2027" }),
            )
            .await?;
        classes.push(id_of(&class)?);
        if s == 0 {
            first_school = school.clone();
        }
        let mut csv = String::from("login,full_name,role,class,password\n");
        let teacher = format!("gvcn.{s:03}.{tag}");
        csv.push_str(&format!(
            "{teacher},Giáo Viên Chủ Nhiệm {s:03},teacher,12A1,{STAFF_PASSWORD}\n"
        ));
        teachers.push(teacher);
        for i in (s * STUDENTS_PER_SCHOOL)..((s + 1) * STUDENTS_PER_SCHOOL).min(o.candidates) {
            csv.push_str(&format!(
                "{},Nguyễn Thí Sinh {i:06},student,12A1,{STUDENT_PASSWORD}\n",
                login(&tag, i)
            ));
        }
        api.post_csv(
            &format!("/api/v1/schools/{school}/users/import"),
            admin,
            csv,
        )
        .await?;
    }
    eprintln!(
        "setup: {} students in {schools} schools imported in {:.1} s",
        o.candidates,
        clock.elapsed().as_secs_f64()
    );

    let Staff {
        teacher, reviewer, ..
    } = exam_staff(api, admin, &first_school, &tag, STAFF_PASSWORD).await?;
    let room_count = o.candidates.div_ceil(o.room_size);
    let (tag, first_school) = (&tag, &first_school);
    let proctors: Vec<(String, String)> = stream::iter(0..room_count)
        .map(|r| async move {
            let login = format!("gt{r:04}.{tag}");
            let created = api
                .post(
                    "/api/v1/users",
                    Some(admin),
                    json!({ "login": login, "password": STAFF_PASSWORD,
                    "full_name": format!("Giám Thị Phòng {:04}", r + 1), "roles": ["proctor"],
                    "school_id": first_school }),
                )
                .await?;
            let id = created["user"]["id"]
                .as_str()
                .context("a proctor's id")?
                .to_owned();
            Ok::<_, anyhow::Error>((id, api.token(&login, STAFF_PASSWORD).await?))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let paper = maths_paper(api, &teacher, &reviewer, 24).await?;

    let exam = api
        .post(
            "/api/v1/exams",
            Some(admin),
            json!({ "name": format!("Kiểm tra Toán 12 toàn tỉnh ({tag})"), "kind": "exam", "scope": "province" }),
        )
        .await?;
    let exam = id_of(&exam)?;
    // Candidates may start any time in the next four hours: the traffic decides when.
    let sitting = api
        .post(
            &format!("/api/v1/exams/{exam}/sittings"),
            Some(admin),
            json!({ "name": "Ca 1 - Toán", "paper_id": paper, "starts_at": chrono::Utc::now() - chrono::Duration::minutes(1),
                    "late_start_minutes": 240, "minutes": o.minutes }),
        )
        .await?;
    let sitting = id_of(&sitting)?;
    let mut rooms = Vec::new();
    for (r, (proctor_id, _)) in proctors.iter().enumerate() {
        let room = api
            .post(&format!("/api/v1/sittings/{sitting}/rooms"), Some(admin),
                json!({ "name": format!("Phòng {:04}", r + 1), "capacity": o.room_size, "proctor_ids": [proctor_id] }))
            .await?;
        rooms.push(id_of(&room)?);
    }
    api.post(
        &format!("/api/v1/sittings/{sitting}/candidates"),
        Some(admin),
        json!({ "class_ids": classes }),
    )
    .await?;
    let locked = Instant::now();
    api.post(
        &format!("/api/v1/sittings/{sitting}/lock"),
        Some(admin),
        json!({}),
    )
    .await?;
    eprintln!(
        "setup: lock ({} attempts) in {:.2} s",
        o.candidates,
        locked.elapsed().as_secs_f64()
    );

    let roster = api
        .get(&format!("/api/v1/sittings/{sitting}/candidates"), admin)
        .await?;
    let roster = roster.as_array().context("the candidates")?;
    if roster.len() != o.candidates {
        bail!(
            "{} candidates registered, {} expected",
            roster.len(),
            o.candidates
        );
    }
    // Candidate i is "… Sinh {i:06}": the number ties a roster row to its login.
    let mut by_index: HashMap<usize, &Value> = HashMap::new();
    for c in roster {
        let name = c["full_name"].as_str().unwrap_or_default();
        let i: usize = name
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("a numbered name: {name}"))?;
        by_index.insert(i, c);
    }

    // The province admin organises the exam, so checks every room in.
    stream::iter(roster.iter())
        .map(|c| async move {
            api.post(
                &format!("/api/v1/candidates/{}/check-in", id_of(c)?),
                Some(admin),
                json!({ "reason": "Đối chiếu thẻ dự thi tại phòng" }),
            )
            .await
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    eprintln!(
        "setup: checked in by {:.1} s",
        clock.elapsed().as_secs_f64()
    );

    // Passkeys: each school's teacher opens a class session; each passkey student signs in with
    // their password (a code binds a passkey only to the student's own session) and registers.
    let rp_id = origin_host(&o.origin);
    let mut authenticator = SoftAuthenticator::new(&o.origin, &rp_id);
    let mut seats = Vec::with_capacity(o.candidates);
    let wanted: Vec<usize> = (0..o.candidates).filter(|i| (o.passkey)(*i)).collect();
    let mut class_codes = Vec::new();
    for (s, teacher) in teachers.iter().enumerate() {
        let token = api.token(teacher, STAFF_PASSWORD).await?;
        let session = api
            .post(
                &format!("/api/v1/classes/{}/passkey-enrollment", classes[s]),
                Some(&token),
                json!({ "minutes": 120 }),
            )
            .await?;
        class_codes.push(session["code"].clone());
    }
    let class_codes = &class_codes;
    let options: HashMap<usize, (String, Value, Value)> = stream::iter(wanted.iter().copied())
        .map(|i| async move {
            let token = api.token(&login(tag, i), STUDENT_PASSWORD).await?;
            let start = api
                .post(
                    "/api/v1/passkeys/registration/start",
                    Some(&token),
                    json!({ "code": class_codes[i / STUDENTS_PER_SCHOOL] }),
                )
                .await?;
            Ok::<_, anyhow::Error>((
                i,
                (
                    token,
                    start["ceremony_id"].clone(),
                    start["options"].clone(),
                ),
            ))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut finishes = Vec::new();
    let mut credentials = HashMap::new();
    for i in &wanted {
        let (token, ceremony, opts) = &options[i];
        let (index, credential) = authenticator.register(opts);
        credentials.insert(*i, index);
        finishes.push((
            token.as_str(),
            json!({ "ceremony_id": ceremony, "credential": credential }),
        ));
    }
    stream::iter(finishes)
        .map(|(token, body)| async move {
            api.post("/api/v1/passkeys/registration/finish", Some(token), body)
                .await
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    for i in 0..o.candidates {
        let attempt = by_index[&i]["attempt_id"]
            .as_str()
            .context("an attempt after the lock")?
            .to_owned();
        seats.push(Seat {
            login: login(tag, i),
            attempt,
            credential: credentials.get(&i).copied(),
        });
    }
    eprintln!(
        "setup: {} passkeys enrolled; ready in {:.1} s",
        wanted.len(),
        clock.elapsed().as_secs_f64()
    );
    Ok(Sitting {
        id: sitting,
        seats,
        rooms,
        proctor_tokens: proctors.into_iter().map(|(_, token)| token).collect(),
        organiser_token: admin.to_owned(),
        authenticator,
    })
}

fn login(tag: &str, i: usize) -> String {
    format!("ts{i:06}.{tag}")
}

/// The host of an origin: its WebAuthn RP id.
pub fn origin_host(origin: &str) -> String {
    origin
        .split("://")
        .nth(1)
        .and_then(|h| h.split([':', '/']).next())
        .unwrap_or("localhost")
        .to_owned()
}
