//! Question banks in the national exam format: items and their review, the scoring engine,
//! offline grading files, exam matrices and paper codes.
pub mod convention;
pub mod db;
pub mod docx;
pub mod domain;
pub mod export;
pub mod gift;
pub mod groups;
pub mod import;
pub mod key_file;
pub mod moodle;
pub mod paper_code;
pub mod paper_routes;
pub mod papers;
pub mod print;
pub mod qti;
pub mod routes;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import::import_items)
        .service(export::export_items)
        .service(groups::create_group)
        .service(groups::get_group);
    routes::configure(cfg);
    paper_routes::configure(cfg);
}
