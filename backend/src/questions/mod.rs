//! Question banks in the national exam format. So far: the scoring engine and the offline
//! grading files; items, review, import/export and papers build on these.
pub mod key_file;
pub mod scoring;
