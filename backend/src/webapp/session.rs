//! Browser sessions: the API's own tokens carried in cookies (HttpOnly, SameSite=Strict, Secure
//! off localhost), so no script ever holds a token. The access cookie is the short-lived JWT,
//! checked against revocations on every request like a bearer token; the refresh cookie renews
//! it once, rotating like `/auth/refresh` (a replayed one ends the session). A request that
//! changes something with these cookies must come from the service's own pages (`Origin`).
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, get, http::header, post, web};
use serde::Deserialize;

use super::texts::Texts;
use crate::{
    auth::{CurrentUser, roles::Role, routes as auth_routes, routes::TokenResponse, user_of_token},
    error::ApiError,
    request::{
        ACCESS_COOKIE as ACCESS, LANG_COOKIE as LANG, REFRESH_COOKIE as REFRESH, RequestMeta,
        cookie, same_origin,
    },
    state::AppState,
};

/// Cookies carry `Secure` except on the developer's own machine, where there is no TLS.
fn secure(req: &HttpRequest) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    !matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

fn keep_tokens(response: &mut HttpResponseBuilder, tokens: &TokenResponse, secure: bool) {
    response
        .append_header((
            header::SET_COOKIE,
            set_cookie(ACCESS, &tokens.access_token, tokens.expires_in, secure),
        ))
        .append_header((
            header::SET_COOKIE,
            set_cookie(
                REFRESH,
                &tokens.refresh_token,
                tokens.refresh_expires_in,
                secure,
            ),
        ));
}

fn forget_tokens(response: &mut HttpResponseBuilder, secure: bool) {
    response
        .append_header((header::SET_COOKIE, set_cookie(ACCESS, "", 0, secure)))
        .append_header((header::SET_COOKIE, set_cookie(REFRESH, "", 0, secure)));
}

/// Who is reading a page, in which language; a session whose access cookie ran out is renewed
/// here from its refresh cookie, and the page's response carries the new cookies.
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub t: Texts,
    renewed: Option<TokenResponse>,
    secure: bool,
}

impl Visitor {
    pub async fn of(state: &AppState, meta: &RequestMeta, req: &HttpRequest) -> Visitor {
        let mut visitor = Visitor {
            user: None,
            t: Texts(crate::i18n::current_lang()),
            renewed: None,
            secure: secure(req),
        };
        if let Some(token) = cookie(req, ACCESS)
            && let Ok(user) = user_of_token(state, &token).await
        {
            visitor.user = Some(user);
            return visitor;
        }
        if let Some(refresh) = cookie(req, REFRESH)
            && let Ok(tokens) = auth_routes::renew(state, meta, &refresh).await
            && let Ok(user) = user_of_token(state, &tokens.access_token).await
        {
            visitor.user = Some(user);
            visitor.renewed = Some(tokens);
        }
        visitor
    }

    /// A response to this visitor: any renewed cookies, never cached, never framed.
    pub fn respond(&self, status: actix_web::http::StatusCode) -> HttpResponseBuilder {
        let mut response = HttpResponse::build(status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, super::CSP));
        if let Some(tokens) = &self.renewed {
            keep_tokens(&mut response, tokens, self.secure);
        }
        response
    }

    /// The way to the sign-in page, coming back to `path` afterwards.
    pub fn sign_in_first(&self, path: &str) -> HttpResponse {
        self.respond(actix_web::http::StatusCode::SEE_OTHER)
            .insert_header((
                header::LOCATION,
                format!("/sign-in?next={}", url_encode(path)),
            ))
            .finish()
    }
}

/// Percent-encodes a path for a query string.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A place inside this service to go back to; anything else (another site, `//host`) is home.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Where a person goes after signing in when no page asked for them.
fn home_of(user: &CurrentUser) -> &'static str {
    if user.has(Role::Student) {
        "/my/exams"
    } else if user.has(Role::Proctor) {
        "/rooms"
    } else {
        "/"
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[get("/sign-in")]
async fn sign_in_page(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, super::PageError> {
    let visitor = Visitor::of(&state, &meta, &req).await;
    // No page asked: after sign-in each person goes to their own start page.
    let next = query
        .next
        .as_deref()
        .map(|n| local_path(Some(n)))
        .unwrap_or_default();
    super::render(
        &visitor,
        &req,
        actix_web::http::StatusCode::OK,
        &super::SignIn {
            frame: super::Frame::new(&visitor, &req, visitor.t.get("sign_in_title"), None),
            next,
            login: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    login: String,
    password: String,
    next: Option<String>,
}

#[post("/sign-in")]
async fn sign_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, super::PageError> {
    same_origin(&req)?;
    let SignInForm {
        login,
        password,
        next,
    } = form.into_inner();
    let visitor = Visitor::of(&state, &meta, &req).await;
    match auth_routes::sign_in(&state, &meta, &login, password).await {
        Ok(tokens) => {
            let user = user_of_token(&state, &tokens.access_token).await?;
            let to = match next.as_deref() {
                Some(n) if !n.is_empty() && n != "/" => local_path(Some(n)),
                _ => home_of(&user).to_owned(),
            };
            let mut response = visitor.respond(actix_web::http::StatusCode::SEE_OTHER);
            keep_tokens(&mut response, &tokens, visitor.secure);
            Ok(response.insert_header((header::LOCATION, to)).finish())
        }
        Err(
            e @ (ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::TooManyRequests { .. }),
        ) => {
            let status = actix_web::ResponseError::status_code(&e);
            let error = match &e {
                ApiError::Unauthorized(_) => visitor.t.get("wrong_credentials").to_owned(),
                other => visitor.t.message(other.code()).to_owned(),
            };
            super::render(
                &visitor,
                &req,
                status,
                &super::SignIn {
                    frame: super::Frame::new(&visitor, &req, visitor.t.get("sign_in_title"), None),
                    next: next
                        .as_deref()
                        .map(|n| local_path(Some(n)))
                        .unwrap_or_default(),
                    login,
                    error: Some(error),
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/sign-out")]
async fn sign_out(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, super::PageError> {
    same_origin(&req)?;
    let visitor = Visitor::of(&state, &meta, &req).await;
    if let Some(user) = &visitor.user {
        auth_routes::sign_out(&state, &meta, user).await?;
    }
    let mut response = HttpResponse::SeeOther();
    forget_tokens(&mut response, visitor.secure);
    Ok(response.insert_header((header::LOCATION, "/")).finish())
}

/// Renews the session's cookies while a page is in use (its script calls this before the
/// access cookie runs out).
#[post("/session/renew")]
async fn renew(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    same_origin(&req)?;
    let secure = secure(&req);
    let refresh = cookie(&req, REFRESH).ok_or(ApiError::Unauthorized("unauthenticated"))?;
    match auth_routes::renew(&state, &meta, &refresh).await {
        Ok(tokens) => {
            let mut response = HttpResponse::Ok();
            keep_tokens(&mut response, &tokens, secure);
            Ok(response
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({ "expires_in": tokens.expires_in })))
        }
        Err(e) => {
            let mut response = HttpResponse::Unauthorized();
            forget_tokens(&mut response, secure);
            Ok(response.json(serde_json::json!({ "code": e.code() })))
        }
    }
}

/// Switches the pages' language and goes back where the reader was.
#[get("/language/{code}")]
async fn language(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let code = if code.as_str() == "en" { "en" } else { "vi" };
    HttpResponse::SeeOther()
        .append_header((
            header::SET_COOKIE,
            format!(
                "{LANG}={code}; Path=/; Max-Age=31536000; SameSite=Lax{}",
                if secure(&req) { "; Secure" } else { "" }
            ),
        ))
        .insert_header((header::LOCATION, local_path(query.next.as_deref())))
        .finish()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(sign_in_page)
        .service(sign_in)
        .service(sign_out)
        .service(renew)
        .service(language);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_service_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/exam/1")), "/exam/1");
        assert_eq!(local_path(Some("//evil.example/x")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
        assert_eq!(url_encode("/exam/1?x=a b"), "/exam/1%3Fx%3Da%20b");
    }
}
