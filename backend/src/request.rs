//! Facts about the request every capability records: who is calling from where.
use std::{future::Ready, net::IpAddr};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::{audit_key::AuditKey, error::ApiError, i18n};

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
