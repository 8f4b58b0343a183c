//! The three stores behind the service, each with an embedded and a production form.
pub mod blob;
pub(crate) mod blob_http;
pub mod db;
pub mod hot;
