//! The province's shared digital-content repository (kho học liệu số dùng chung): files
//! uploaded straight to the blob store and checked on completion, content items with versions,
//! scopes and review, search and browsing.
pub mod items;
pub mod learning;
pub mod sniff;
pub mod uploads;
pub mod usage;

use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    uploads::configure(cfg);
    items::configure(cfg);
    learning::configure(cfg);
    usage::configure(cfg);
}

/// Every few minutes each instance cleans up uploads that were never completed and photos
/// past their retention.
pub fn start_janitor(state: AppState) {
    if state.settings.sweep_interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            ticker.tick().await;
            if let Err(e) = uploads::clean_abandoned(&state, chrono::Utc::now()).await {
                tracing::warn!(error = ?e, "cleaning abandoned uploads failed; next round retries");
            }
            if let Err(e) = crate::identity::photos::clean_expired(&state, chrono::Utc::now()).await
            {
                tracing::warn!(error = ?e, "deleting expired photos failed; next round retries");
            }
        }
    });
}
