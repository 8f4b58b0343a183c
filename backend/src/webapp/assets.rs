//! The pages' styles and scripts, built into the binary and served under names that carry a
//! hash of their content, so a browser keeps them for a year and a new build is fetched anew.
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use sha2::{Digest, Sha256};

struct Asset {
    /// As templates name it: "site.css".
    name: &'static str,
    /// As browsers fetch it: "/static/site.1a2b3c4d5e6f.css".
    url: String,
    mime: &'static str,
    body: &'static [u8],
    /// The same, gzip-compressed once at first use.
    gzipped: Vec<u8>,
}

const FILES: [(&str, &str, &[u8]); 6] = [
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("static/site.css"),
    ),
    (
        "site.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/site.js"),
    ),
    (
        "exam.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/exam.js"),
    ),
    (
        "room.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/room.js"),
    ),
    (
        "passkeys.css",
        "text/css; charset=utf-8",
        include_bytes!("static/passkeys.css"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/passkeys.js"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, mime, body)| {
            let hash = hex::encode(&Sha256::digest(body)[..6]);
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                url: format!("/static/{stem}.{hash}.{ext}"),
                mime,
                body,
                gzipped: gzip(body),
            }
        })
        .collect()
});

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The address of an asset by its name ("site.css").
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.url.as_str())
        .unwrap_or_else(|| panic!("no asset named {name}"))
}

/// Whether the client takes gzip.
pub fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

#[get("/static/{file}")]
async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let wanted = format!("/static/{file}");
    let Some(asset) = ASSETS.iter().find(|a| a.url == wanted) else {
        return HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, asset.mime))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if accepts_gzip(&req) {
        response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(asset.gzipped.clone())
    } else {
        response.body(asset.body)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(asset);
}
