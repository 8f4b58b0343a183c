//! Question banks in the national exam format: items and their review, the scoring engine,
//! offline grading files, exam matrices and paper codes.
pub(crate) mod convention;
pub(crate) mod db;
pub(crate) mod docx;
pub(crate) mod domain;
pub(crate) mod export;
pub(crate) mod gift;
pub(crate) mod groups;
pub mod import;
pub mod key_file;
pub(crate) mod media;
pub(crate) mod moodle;
pub(crate) mod paper_code;
pub(crate) mod paper_routes;
pub(crate) mod papers;
pub(crate) mod print;
pub(crate) mod qti;
pub(crate) mod routes;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import::import_items)
        .service(export::export_items)
        .service(groups::create_group)
        .service(groups::get_group)
        .service(media::item_media);
    routes::configure(cfg);
    paper_routes::configure(cfg);
}
