//! The service's own web pages: the shared frame (layout, language, session, assets, the
//! security policy) and the pages that belong to no capability (home, sign-in). Each
//! capability keeps its pages in `pages.rs` and `templates/` (the exam's are in `exams/`),
//! registered beside this frame in `startup.rs`.
//! Server-rendered HTML from askama templates; small scripts only where a page acts alone.
pub(crate) mod assets;
pub(crate) mod session;
pub(crate) mod texts;

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, http::header, web};
use askama::Template;

use crate::{error::ApiError, request::RequestMeta, state::AppState};
pub use session::Visitor;
use texts::Texts;

/// Everything comes from the service itself; no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The passkey page of the first release, still served while its flows move to these pages;
/// its style and script are assets like the others.
static PASSKEY_PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("index.html")
        .replace("{{passkeys.css}}", assets::url("passkeys.css"))
        .replace("{{passkeys.js}}", assets::url("passkeys.js"))
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(passkey_page)
        .service(passkey_page_redirect)
        .configure(assets::configure)
        .configure(session::configure);
}

/// What every page shows around its content: the language, who is signed in, the way back.
pub struct Frame {
    pub t: Texts,
    pub title: String,
    /// The signed-in person's name, for the header.
    pub user_name: Option<String>,
    /// This page's path, to come back to after switching language.
    pub path: String,
    pub css: &'static str,
    pub site_js: &'static str,
    /// Seconds the access cookie lives, for the script that renews it.
    pub session_seconds: u64,
}

impl Frame {
    pub fn new(
        visitor: &Visitor,
        req: &HttpRequest,
        title: &str,
        user_name: Option<String>,
    ) -> Frame {
        let session_seconds = req
            .app_data::<web::Data<AppState>>()
            .map_or(900, |s| s.settings.access_token_ttl.as_secs());
        Frame {
            t: visitor.t,
            title: title.to_owned(),
            user_name,
            path: session::url_encode(req.uri().path_and_query().map_or("/", |p| p.as_str())),
            css: assets::url("site.css"),
            site_js: assets::url("site.js"),
            session_seconds,
        }
    }

    /// The other language's code, for the switch.
    pub fn other_lang(&self) -> &'static str {
        match self.t.0 {
            crate::i18n::Lang::Vi => "en",
            crate::i18n::Lang::En => "vi",
        }
    }
}

/// A page's failure, shown as a page in the reader's language (the API answers JSON instead).
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<sea_orm::DbErr> for PageError {
    fn from(e: sea_orm::DbErr) -> Self {
        PageError(e.into())
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unexpected(e) = &self.0 {
            tracing::error!(error = %e, "a page failed");
        }
        let t = Texts(crate::i18n::current_lang());
        let page = ErrorPage {
            frame: Frame {
                t,
                title: t.get("error_title").to_owned(),
                user_name: None,
                path: "/".to_owned(),
                css: assets::url("site.css"),
                site_js: assets::url("site.js"),
                session_seconds: 900,
            },
            message: t.message(self.0.code()).to_owned(),
            code: self.0.code(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        }
        | ApiError::Unavailable { retry_after_secs } = &self.0
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .content_type("text/html; charset=utf-8")
            .body(page.render().unwrap_or_default())
    }
}

/// Pages shorter than this go as they are: compressing them saves less than it costs.
const COMPRESS_FROM: usize = 4096;

/// Renders a page for a visitor, gzip-compressed (fast level) when it is long and the browser
/// takes it: a test page with its paper shrinks about five times.
pub fn render(
    visitor: &Visitor,
    req: &HttpRequest,
    status: StatusCode,
    page: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError(ApiError::Unexpected(e.into())))?;
    let mut response = visitor.respond(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, "Accept-Encoding"));
    if html.len() >= COMPRESS_FROM && assets::accepts_gzip(req) {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(html.len() / 4),
            flate2::Compression::fast(),
        );
        gz.write_all(html.as_bytes())
            .and_then(|_| gz.finish())
            .map(|body| {
                response
                    .insert_header((header::CONTENT_ENCODING, "gzip"))
                    .body(body)
            })
            .map_err(|e| PageError(ApiError::Unexpected(e.into())))
    } else {
        Ok(response.body(html))
    }
}

/// The signed-in person's name for the header.
pub async fn name_of(state: &AppState, visitor: &Visitor) -> Option<String> {
    let user = visitor.user.as_ref()?;
    user.account(&state.db).await.ok().map(|a| a.full_name)
}

#[derive(Template)]
#[template(path = "webapp/templates/home.html")]
struct Home {
    frame: Frame,
    signed_in: bool,
}

#[derive(Template)]
#[template(path = "webapp/templates/sign_in.html")]
pub struct SignIn {
    pub frame: Frame,
    pub next: String,
    pub login: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "webapp/templates/error.html")]
struct ErrorPage {
    frame: Frame,
    message: String,
    code: &'static str,
}

/// The landing page: what the service is and where each role goes.
#[get("/")]
async fn home(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let visitor = Visitor::of(&state, &meta, &req).await;
    let name = name_of(&state, &visitor).await;
    let frame = Frame::new(&visitor, &req, visitor.t.get("app_name"), name);
    render(
        &visitor,
        &req,
        StatusCode::OK,
        &Home {
            frame,
            signed_in: visitor.user.is_some(),
        },
    )
}

#[get("/app/")]
async fn passkey_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(PASSKEY_PAGE.as_str())
}

#[get("/app")]
async fn passkey_page_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}
