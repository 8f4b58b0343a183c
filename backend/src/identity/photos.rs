//! Photos at check-in and during an attempt, sensitive personal data, as stored: sealed by the
//! service with a fresh data key (AES-256-GCM) that is stored wrapped by the configured key
//! (envelope encryption), and deleted after the exam's retention period or when no consent
//! covers them. The routes that take and show them are the exam's (`exams/photos.rs`).
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::{
    entities::{attempt, photo, sitting},
    error::ApiError,
    state::AppState,
};

/// The largest photo accepted, before and after upload.
pub const MAX_PHOTO_BYTES: i64 = 5 << 20;

pub fn staging_key(id: Uuid) -> String {
    format!("photos/staging/{id}")
}

pub fn sealed_key(id: Uuid) -> String {
    format!("photos/sealed/{id}")
}

pub fn seal_with(key: &[u8], plain: &[u8]) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key"));
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .expect("sealing in memory cannot fail");
    let mut out = nonce.to_vec();
    out.extend(data);
    out
}

pub fn open_with(key: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow::anyhow!("bad data key"))?,
    );
    if sealed.len() < NONCE_LEN {
        anyhow::bail!("sealed photo too short");
    }
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    let mut data = data.to_vec();
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
    Ok(key
        .open_in_place(nonce, Aad::empty(), &mut data)
        .map_err(|_| anyhow::anyhow!("the photo does not open with its key"))?
        .to_vec())
}

/// What a photo's sealed key is bound to: its row (`vault`).
pub fn photo_row(photo: Uuid) -> String {
    format!("photos:{photo}")
}

/// Deletes photos past their exam's retention (objects and rows). Returns how many.
pub async fn clean_expired(
    state: &AppState,
    now: chrono::DateTime<Utc>,
) -> Result<usize, ApiError> {
    let due = photo::Entity::find()
        .filter(photo::Column::DeleteAfter.lt(now))
        .limit(500)
        .all(&state.db)
        .await?;
    for p in &due {
        state.blobs.delete(&sealed_key(p.id)).await?;
        state.blobs.delete(&staging_key(p.id)).await?;
        photo::Entity::delete_many()
            .filter(photo::Column::Id.eq(p.id))
            .filter(photo::Column::DeleteAfter.eq(p.delete_after))
            .exec(&state.db)
            .await?;
    }
    Ok(due.len())
}

/// Deletes a user's photos that no standing consent covers (`covered`: the exams consented to,
/// `None` meaning every exam). Returns how many.
pub async fn delete_uncovered(
    state: &AppState,
    user: Uuid,
    covered: &[Option<Uuid>],
) -> Result<usize, ApiError> {
    if covered.contains(&None) {
        return Ok(0);
    }
    let photos = photo::Entity::find()
        .filter(photo::Column::UserId.eq(user))
        .all(&state.db)
        .await?;
    let mut deleted = 0;
    for p in photos {
        if covered.contains(&exam_of(state, p.attempt_id).await?) {
            continue;
        }
        state.blobs.delete(&sealed_key(p.id)).await?;
        state.blobs.delete(&staging_key(p.id)).await?;
        photo::Entity::delete_by_id(p.id).exec(&state.db).await?;
        deleted += 1;
    }
    Ok(deleted)
}

/// The exam a photo's attempt belongs to.
async fn exam_of(state: &AppState, attempt: Uuid) -> Result<Option<Uuid>, ApiError> {
    Ok(attempt::Entity::find_by_id(attempt)
        .find_also_related(sitting::Entity)
        .one(&state.db)
        .await?
        .and_then(|(_, sitting)| sitting)
        .map(|s| s.exam_id))
}
