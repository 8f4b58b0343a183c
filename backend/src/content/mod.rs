//! The province's shared digital-content repository (kho học liệu số dùng chung): files
//! uploaded straight to the blob store and checked on completion, content items with versions,
//! scopes and review, search and browsing.
pub(crate) mod item_routes;
pub mod items;
pub(crate) mod learning;
pub(crate) mod review;
pub(crate) mod search;
pub mod uploads;
pub(crate) mod usage;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    uploads::configure(cfg);
    item_routes::configure(cfg);
    search::configure(cfg);
    review::configure(cfg);
    learning::configure(cfg);
    usage::configure(cfg);
}
