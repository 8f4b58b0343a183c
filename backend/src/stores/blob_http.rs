//! The local blob folder answers its own signed URLs, as S3 would.
use actix_web::{HttpRequest, HttpResponse, get, put, web};
use futures_util::StreamExt;
use serde::Deserialize;

use super::blob::{BlobStore, LocalGrant};
use crate::{error::ApiError, state::AppState};

/// Largest body accepted through a local signed PUT.
const MAX_LOCAL_UPLOAD: usize = 512 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_blob).service(put_blob);
}

#[derive(Deserialize)]
struct Signed {
    expires: u64,
    sig: String,
    upload: Option<String>,
    part: Option<i32>,
    size: Option<u64>,
}

fn refused() -> ApiError {
    ApiError::Forbidden("signature_invalid")
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a length; `None` when unsatisfiable.
fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => (len.saturating_sub(n.parse().ok()?), len - 1),
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[get("/blobs/{key:.*}")]
async fn get_blob(
    state: web::Data<AppState>,
    key: web::Path<String>,
    q: web::Query<Signed>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let store = state
        .local_blobs
        .as_ref()
        .ok_or(ApiError::NotFound("route_not_found"))?;
    if !store.verify(&key, &LocalGrant::Get, q.expires, &q.sig) {
        return Err(refused());
    }
    let meta = store
        .head(&key)
        .await?
        .ok_or(ApiError::NotFound("not_found"))?;
    let body = store
        .get(&key)
        .await?
        .ok_or(ApiError::NotFound("not_found"))?;
    let len = body.len() as u64;
    // Blobs share the pages' origin: media and PDF show in place, anything else downloads, and
    // nothing but a PDF (whose viewer a sandbox would block) may run script as this origin.
    let inline = ["image/", "video/", "audio/", "application/pdf"]
        .iter()
        .any(|t| meta.content_type.starts_with(t));
    let disposition = if inline { "inline" } else { "attachment" };
    let sandboxed = meta.content_type != "application/pdf";
    let headers = move |mut reply: actix_web::HttpResponseBuilder| {
        reply
            .content_type(meta.content_type.clone())
            .insert_header(("ETag", meta.etag.clone()))
            .insert_header(("Accept-Ranges", "bytes"))
            .insert_header(("Content-Disposition", disposition));
        if sandboxed {
            reply.insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"));
        }
        reply
    };
    // Range requests let a video player seek without downloading the whole file.
    if let Some(range) = req.headers().get("range").and_then(|v| v.to_str().ok()) {
        let Some((start, end)) = byte_range(range, len) else {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header(("Content-Range", format!("bytes */{len}")))
                .finish());
        };
        return Ok(headers(HttpResponse::PartialContent())
            .insert_header(("Content-Range", format!("bytes {start}-{end}/{len}")))
            .body(body.slice(start as usize..=end as usize)));
    }
    Ok(headers(HttpResponse::Ok()).body(body))
}

#[put("/blobs/{key:.*}")]
async fn put_blob(
    state: web::Data<AppState>,
    key: web::Path<String>,
    q: web::Query<Signed>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = state
        .local_blobs
        .as_ref()
        .ok_or(ApiError::NotFound("route_not_found"))?;
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let size = q.size.ok_or_else(refused)?;
    let grant = match (&q.upload, q.part) {
        (Some(upload_id), Some(part_number)) => LocalGrant::Part {
            upload_id: upload_id.clone(),
            part_number,
            size,
        },
        (None, None) => LocalGrant::Put {
            content_type: content_type.clone(),
            size,
        },
        _ => return Err(refused()),
    };
    if !store.verify(&key, &grant, q.expires, &q.sig) {
        return Err(refused());
    }
    // Exactly the signed size, as S3 holds a signed Content-Length: reading stops at the first
    // byte too many.
    let limit = usize::try_from(size).map_or(MAX_LOCAL_UPLOAD, |s| s.min(MAX_LOCAL_UPLOAD));
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("malformed_body"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.len() as u64 != size {
        return Err(ApiError::BadRequest("size_mismatch"));
    }
    let etag = match grant {
        LocalGrant::Part {
            upload_id,
            part_number,
            ..
        } => store
            .put_part(&upload_id, part_number, body.freeze())
            .await
            .map_err(|_| ApiError::NotFound("not_found"))?,
        _ => {
            store.put(&key, body.freeze(), &content_type).await?;
            store.head(&key).await?.map(|m| m.etag).unwrap_or_default()
        }
    };
    Ok(HttpResponse::Ok().insert_header(("ETag", etag)).finish())
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_are_read_like_http_says() {
        let cases = [
            ("bytes=0-3", Some((0, 3))),
            ("bytes=5-", Some((5, 9))),
            ("bytes=-4", Some((6, 9))),
            ("bytes=8-100", Some((8, 9))),
            ("bytes=10-12", None),
            ("bytes=4-2", None),
            ("bytes=0-1,4-5", None),
            ("items=0-1", None),
        ];
        for (header, want) in cases {
            assert_eq!(byte_range(header, 10), want, "{header}");
        }
    }
}
