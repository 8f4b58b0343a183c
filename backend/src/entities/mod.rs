//! Table models in sea-orm-cli's compact form: data only, no behaviour, so regenerating them
//! loses nothing. Behaviour lives in each capability's `db.rs` and `domain.rs`.
pub mod answer_save;
pub mod attempt;
pub mod attempt_event;
pub mod audit_event;
pub mod candidate;
pub mod class;
pub mod essay_mark;
pub mod exam;
pub mod exam_room;
pub mod incident_report;
pub mod item;
pub mod item_group;
pub mod item_review;
pub mod item_statistic;
pub mod item_version;
pub mod paper;
pub mod paper_code;
pub mod refresh_token;
pub mod school;
pub mod service_clock;
pub mod sitting;
pub mod user;
