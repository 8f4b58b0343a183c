//! Facts about the request every capability records: who is calling from where, and what a
//! browser carries (its session cookie, its chosen language, its origin).
use std::{future::Ready, net::IpAddr};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use crate::{
    audit_key::AuditKey,
    error::ApiError,
    i18n::{self, Lang},
};

/// The browser session's access token (webapp/session.rs sets it).
pub const ACCESS_COOKIE: &str = "hocthi_access";
/// The browser session's refresh token.
pub const REFRESH_COOKIE: &str = "hocthi_refresh";
/// The language chosen with the pages' switch.
pub const LANG_COOKIE: &str = "hocthi_lang";

/// A cookie's value by name.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// The access token a browser sends in its cookie, once a request that changes something has
/// shown it comes from one of the service's pages.
pub fn session_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(token) = cookie(req, ACCESS_COOKIE) else {
        return Ok(None);
    };
    if !req.method().is_safe() {
        same_origin(req)?;
    }
    Ok(Some(token))
}

/// Anti-forgery: the browser's `Origin` must be this service, as the request reached it (its
/// `Host`) or as it is published (`HOCTHI_PUBLIC_URL`). Browsers send `Origin` on every POST,
/// PUT and DELETE, and another site cannot forge it.
pub fn same_origin(req: &HttpRequest) -> Result<(), ApiError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let public = req
        .app_data::<web::Data<RequestSettings>>()
        .and_then(|s| s.public_url.clone());
    let from_here = origin.is_some_and(|o| {
        public.as_deref() == Some(o)
            || o.split_once("://")
                .is_some_and(|(_, rest)| host == Some(rest))
    });
    if from_here {
        Ok(())
    } else {
        Err(ApiError::Forbidden("cross_site_request"))
    }
}

/// The language chosen with the pages' switch, if any.
pub fn chosen_lang(req: &HttpRequest) -> Option<Lang> {
    if !req.headers().contains_key(header::COOKIE) {
        return None;
    }
    match cookie(req, LANG_COOKIE).as_deref() {
        Some("en") => Some(Lang::En),
        Some("vi") => Some(Lang::Vi),
        _ => None,
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// rightmost address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
    /// The key the audit events of this request are chained with.
    pub chain: AuditKey,
}

impl RequestMeta {
    /// For what the service does on its own (first start, samples, background jobs).
    pub fn system(chain: &AuditKey) -> Self {
        Self {
            ip: None,
            request_id: None,
            chain: chain.clone(),
        }
    }
}

/// What `RequestMeta` needs from the configuration, registered as app data of its own so that
/// the HTTP edge reads no more of the application than it uses.
#[derive(Clone)]
pub struct RequestSettings {
    pub trusted_proxies: Vec<IpAddr>,
    pub chain: AuditKey,
    /// `HOCTHI_PUBLIC_URL`: an origin browsers may send besides the `Host` reached.
    pub public_url: Option<String>,
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(settings) = req.app_data::<web::Data<RequestSettings>>() else {
            return std::future::ready(Err(ApiError::Unexpected(anyhow::anyhow!(
                "no request settings"
            ))));
        };
        std::future::ready(Ok(RequestMeta {
            ip: client_ip(req, &settings.trusted_proxies),
            request_id: i18n::current_request_id(),
            chain: settings.chain.clone(),
        }))
    }
}
