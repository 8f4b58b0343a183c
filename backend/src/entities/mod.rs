//! Table models in sea-orm-cli's compact form: data only, no behaviour, so regenerating them
//! loses nothing. Behaviour lives in each capability's `db.rs` and `domain.rs`.
pub mod audit_event;
pub mod class;
pub mod item;
pub mod item_group;
pub mod item_review;
pub mod item_version;
pub mod paper;
pub mod paper_code;
pub mod refresh_token;
pub mod school;
pub mod user;
