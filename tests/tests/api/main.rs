//! One test binary (one link) for every API test.
mod audit;
mod auth;
mod authorization;
mod blobs;
mod content;
mod envelope;
mod exams;
mod groups;
mod health;
mod hot_store;
mod item_import;
mod items;
mod moodle;
mod papers;
mod qti;
mod roster;
mod samples;
