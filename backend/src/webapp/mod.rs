//! The minimal web page under `/app/`: passkey enrollment, passkey sign-in, starting an exam
//! with a passkey, and a proctor's check-in screen, so the flows work in a real browser.
//! One static page (no build step, no CDN: exam rooms may have no internet).
use actix_web::{HttpResponse, get, http::header, web};

const PAGE: &str = include_str!("index.html");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(page_redirect);
}

#[get("/app/")]
async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Everything the page runs is in the page; nothing from elsewhere.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(PAGE)
}

#[get("/app")]
async fn page_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}
