//! Question banks in the national exam format: items and their review, the scoring engine,
//! offline grading files, exam matrices and paper codes.
pub mod db;
pub mod domain;
pub mod key_file;
pub mod routes;
pub mod scoring;

pub use routes::configure;
