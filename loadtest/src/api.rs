//! A small JSON client for setting up load tests through the service's own API.
use anyhow::{Context, bail};
use serde_json::{Value, json};

pub struct Api {
    pub client: reqwest::Client,
    /// The service's base URL, without `/api/v1`.
    pub base: String,
}

impl Api {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()?,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// POST that must succeed; `token` None for the public endpoints.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let (status, body) = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await?;
        if status >= 300 {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        let (status, body) = self
            .call(reqwest::Method::GET, path, Some(token), None)
            .await?;
        if status >= 300 {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Sends a CSV body (roster imports).
    pub async fn post_csv(&self, path: &str, token: &str, csv: String) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Signs in with a password and returns the access token.
    pub async fn token(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let body = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({ "login": login, "password": password }),
            )
            .await
            .with_context(|| format!("sign-in {login}"))?;
        Ok(body["access_token"].as_str().context("a token")?.to_owned())
    }
}

/// The `id` field of a created resource.
pub fn id_of(v: &Value) -> anyhow::Result<String> {
    Ok(v["id"]
        .as_str()
        .with_context(|| format!("an id in {v}"))?
        .to_owned())
}

/// The staff an exam needs at one school, signed in: a teacher, a Maths reviewer and a proctor.
pub struct Staff {
    pub teacher: String,
    pub reviewer: String,
    pub proctor: String,
    pub proctor_id: String,
}

/// Creates gv.`tag` (teacher), tt.`tag` (teacher and Maths reviewer) and gt.`tag` (proctor) at
/// `school` with `password`, and signs them in.
pub async fn exam_staff(
    api: &Api,
    admin: &str,
    school: &str,
    tag: &str,
    password: &str,
) -> anyhow::Result<Staff> {
    for (login, roles, subjects, name) in [
        (
            format!("gv.{tag}"),
            json!(["teacher"]),
            json!([]),
            "Nguyễn Giáo Viên",
        ),
        (
            format!("tt.{tag}"),
            json!(["teacher", "reviewer"]),
            json!(["toan"]),
            "Lê Tổ Trưởng",
        ),
        (
            format!("gt.{tag}"),
            json!(["proctor"]),
            json!([]),
            "Trần Giám Thị",
        ),
    ] {
        api.post(
            "/api/v1/users",
            Some(admin),
            json!({ "login": login, "password": password, "full_name": name,
                    "roles": roles, "school_id": school, "subjects": subjects }),
        )
        .await?;
    }
    let proctor = api.token(&format!("gt.{tag}"), password).await?;
    Ok(Staff {
        teacher: api.token(&format!("gv.{tag}"), password).await?,
        reviewer: api.token(&format!("tt.{tag}"), password).await?,
        proctor_id: id_of(&api.get("/api/v1/me", &proctor).await?)?,
        proctor,
    })
}

/// Creates and approves a Maths bank of 12 + 4 + 6 items (Parts I-III) and draws a paper with
/// `codes` codes from it; returns the paper's id.
pub async fn maths_paper(
    api: &Api,
    teacher: &str,
    reviewer: &str,
    codes: usize,
) -> anyhow::Result<String> {
    let mut n = 0;
    for (kind, count) in [
        ("multiple_choice", 12),
        ("true_false", 4),
        ("short_answer", 6),
    ] {
        for _ in 0..count {
            n += 1;
            let correct = ["A", "B", "C", "D"][n % 4];
            let body = match kind {
                "multiple_choice" => {
                    json!({ "kind": kind, "stem": format!("Câu {n}: tính $f'({n})$"), "options": ["1", "2", "3", "4"], "correct": correct })
                }
                "true_false" => {
                    json!({ "kind": kind, "stem": format!("Câu {n}"), "statements": (0..4).map(|i| json!({ "text": format!("Ý {i}"), "correct": i % 2 == 0 })).collect::<Vec<_>>() })
                }
                _ => json!({ "kind": kind, "stem": format!("Câu {n}"), "accepted": ["1,5"] }),
            };
            let item = api
                .post("/api/v1/items", Some(teacher), json!({ "body": body, "metadata": { "subject": "toan", "grade": 12, "topic": ["Chương 1"], "level": "hieu" } }))
                .await?;
            let id = id_of(&item)?;
            api.post(
                &format!("/api/v1/items/{id}/submit"),
                Some(teacher),
                json!({}),
            )
            .await?;
            api.post(
                &format!("/api/v1/items/{id}/review"),
                Some(reviewer),
                json!({ "decision": "approve" }),
            )
            .await?;
        }
    }
    let matrix = json!({ "subject": "toan", "name": "Đề đo tải", "rows": [{ "topic": "Chương 1", "cells": [
        { "kind": "multiple_choice", "level": "hieu", "count": 12 }, { "kind": "true_false", "level": "hieu", "count": 4 },
        { "kind": "short_answer", "level": "hieu", "count": 6 }] }] });
    let paper = api
        .post(
            "/api/v1/papers",
            Some(teacher),
            json!({ "matrix": matrix, "codes": codes }),
        )
        .await?;
    id_of(&paper)
}
