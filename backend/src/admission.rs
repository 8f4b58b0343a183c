//! Admission control: at most `HOCTHI_MAX_IN_FLIGHT` requests are being served by one instance
//! at a time. Past that, a request is refused at once with 503 and `Retry-After`, so an
//! overload costs the excess a retry (which clients with a journal make anyway) instead of
//! costing every request a growing queue and the instance its memory. A refusal reads a small
//! body first, so that the client's retry can reuse its connection.
//!
//! A request that from some point only waits for work bounded elsewhere gives its place back
//! (`leave`): at a start spike thousands of starts wait a few hundred milliseconds for their
//! batch (`exams::batched`, whose queue has its own bound), and holding places for them
//! refused the sign-ins and papers of everyone else in that second.
use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::CONTENT_LENGTH,
    middleware::Next,
    web,
};
use futures_util::StreamExt;

use crate::error::ApiError;

pub struct Admission {
    limit: usize,
    in_flight: AtomicUsize,
}

/// A place in the instance; given back when dropped.
pub struct Ticket(Arc<Admission>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// `limit` zero admits everything.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            in_flight: AtomicUsize::new(0),
        })
    }

    pub fn try_enter(self: &Arc<Self>) -> Option<Ticket> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let ticket = Ticket(self.clone());
        (self.limit == 0 || before < self.limit).then_some(ticket)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

tokio::task_local! {
    /// The place of the request this task serves, for `leave`.
    static PLACE: RefCell<Option<Ticket>>;
}

/// Serves `request` holding `ticket` where `leave` can find it; the place is given back when
/// it is done.
async fn holding<F: Future>(ticket: Option<Ticket>, request: F) -> F::Output {
    PLACE.scope(RefCell::new(ticket), request).await
}

/// Gives the request's place back for the rest of it: for a request that from now on only
/// waits for work whose queue is bounded on its own, then answers. Outside an admitted request
/// it does nothing.
pub fn leave() {
    let _ = PLACE.try_with(|place| place.borrow_mut().take());
}

/// Long-lived streams (a proctor's dashboard) and the probes an orchestrator uses to decide
/// whether the instance lives are not counted.
fn exempt(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics" || path.ends_with("/dashboard")
}

/// The largest body a refusal reads before answering. actix answers a request whose body was
/// left unread with `Connection: close`, so without this every refused save (a few hundred
/// bytes) would cost its retry a new TCP connection on both sides, at the moment the instance
/// can least afford it. A larger body, or one without a length, closes the connection.
const DRAINED_BODY_LIMIT: u64 = 16 * 1024;

async fn drain_small_body(req: &mut ServiceRequest) {
    let small = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > 0 && n <= DRAINED_BODY_LIMIT);
    if !small {
        return;
    }
    let mut payload = req.take_payload();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = payload.next().await {
        read += chunk.len() as u64;
        if read > DRAINED_BODY_LIMIT {
            break;
        }
    }
}

pub async fn admit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let admission = req
        .app_data::<web::Data<Admission>>()
        .map(|a| a.clone().into_inner());
    let ticket = match admission {
        Some(a) if !exempt(req.path()) => match a.try_enter() {
            Some(ticket) => Some(ticket),
            None => {
                metrics::counter!("http_requests_shed_total").increment(1);
                drain_small_body(&mut req).await;
                let refusal = ApiError::Unavailable {
                    retry_after_secs: 1,
                }
                .error_response();
                return Ok(req.into_response(refusal));
            }
        },
        _ => None,
    };
    Ok(holding(ticket, next.call(req)).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_held_and_places_come_back() {
        let a = Admission::new(2);
        let first = a.try_enter().expect("a place");
        let second = a.try_enter().expect("a place");
        assert!(a.try_enter().is_none(), "a third request is refused");
        assert_eq!(a.in_flight(), 2, "a refusal holds no place");
        drop(first);
        let third = a.try_enter().expect("a place freed");
        drop((second, third));
        assert_eq!(a.in_flight(), 0);
        let unlimited = Admission::new(0);
        let many: Vec<_> = (0..1000).map(|_| unlimited.try_enter()).collect();
        assert!(many.iter().all(Option::is_some));
    }

    #[tokio::test]
    async fn a_request_that_leaves_frees_its_place_for_others() {
        let a = Admission::new(1);
        let ticket = a.try_enter();
        assert!(ticket.is_some());
        holding(ticket, async {
            assert!(a.try_enter().is_none(), "the one place is held");
            leave();
            assert_eq!(a.in_flight(), 0, "a request that left holds no place");
            let other = a.try_enter().expect("another request is admitted");
            assert!(a.try_enter().is_none());
            drop(other);
            leave();
        })
        .await;
        assert_eq!(a.in_flight(), 0, "leaving twice gives back one place");
        leave(); // outside an admitted request: nothing to give back
        assert_eq!(a.in_flight(), 0);
    }

    #[test]
    fn streams_and_probes_are_not_counted() {
        assert!(exempt("/api/v1/rooms/0195/dashboard"));
        assert!(exempt("/health/ready"));
        assert!(!exempt("/api/v1/attempts/0195/answers"));
    }
}
