//! What every handler can reach: built once in `startup`, cloned (cheaply) into each worker.
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::{password::Passwords, revocations::Revocations, tokens::KeySet},
    clock::ServerClock,
    config::Settings,
    exams::Engine,
    stores::{
        blob::{LocalBlobStore, SharedBlobStore},
        hot::SharedHotStore,
    },
};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub hot: SharedHotStore,
    pub blobs: SharedBlobStore,
    /// Set when blobs live in the local folder: this service then answers their signed URLs.
    pub local_blobs: Option<Arc<LocalBlobStore>>,
    pub keys: Arc<KeySet>,
    /// Sessions signed out early, known in memory and kept in step through the hot store.
    pub revocations: Arc<Revocations>,
    pub passwords: Passwords,
    pub clock: ServerClock,
    /// The exam hot path: the group-commit writer and the caches in front of papers.
    pub exams: Arc<Engine>,
    /// The key of the audit chain and its checkpoints; never in the database.
    pub audit_key: crate::audit_key::AuditKey,
    /// Hashes and seals personal data (ID numbers).
    pub vault: Arc<crate::identity::vault::Vault>,
    /// The passkey verifier, built once from the configured RP id and origins.
    pub webauthn: Arc<webauthn_rs::prelude::Webauthn>,
    /// Requests in flight on this instance, bounded (`HOCTHI_MAX_IN_FLIGHT`).
    pub admission: Arc<crate::admission::Admission>,
    /// Imports parsing now, off the HTTP workers, and those waiting their turn.
    pub imports: Arc<crate::imports::ImportQueue>,
}
