use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{CurrentUser, db, domain::normalise_login, limits, password, roles, tokens};
use crate::{
    audit::{self, Event},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(change_password)
        .service(step_up);
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The account's login (often an email address).
    pub login: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A short-lived EdDSA JWT for `Authorization: Bearer`.
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it once at `/auth/refresh` for a new pair.
    pub refresh_token: String,
    pub refresh_expires_in: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Issues a fresh token pair in `session` (a refresh-token family).
pub(crate) async fn issue_tokens(
    state: &AppState,
    txn: &impl sea_orm::ConnectionTrait,
    user: &crate::entities::user::Model,
    session: Uuid,
) -> Result<TokenResponse, ApiError> {
    let now = Utc::now();
    let settings = &state.settings;
    let (refresh_token, refresh_hash) = tokens::new_refresh_token();
    let refresh_ttl = chrono::Duration::from_std(settings.refresh_token_ttl)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    db::insert_refresh_token(txn, session, user.id, refresh_hash, now, now + refresh_ttl).await?;
    let claims = tokens::KeySet::claims_for(
        user.id,
        session,
        roles::from_db(&user.roles),
        user.school_id,
        now,
        settings.access_token_ttl,
    );
    Ok(TokenResponse {
        access_token: state.keys.issue(&claims)?,
        token_type: "Bearer",
        expires_in: settings.access_token_ttl.as_secs(),
        refresh_token,
        refresh_expires_in: settings.refresh_token_ttl.as_secs(),
    })
}

/// Signs in with a login and password.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "wrong login or password", body = Problem),
    (status = 403, description = "account disabled", body = Problem),
    (status = 429, description = "too many failures; see Retry-After", body = Problem)))]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let LoginRequest { login, password } = body.into_inner();
    Ok(web::Json(sign_in(&state, &meta, &login, password).await?))
}

/// Exchanges a refresh token for a new pair. Each refresh token works once: presenting a spent
/// one revokes its whole session family.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "invalid, expired or reused refresh token", body = Problem)))]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(renew(&state, &meta, &body.refresh_token).await?))
}

/// Checks a login and password (throttled) and opens a session: the API's sign-in and the
/// sign-in page's.
pub(crate) async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    typed_login: &str,
    password: String,
) -> Result<TokenResponse, ApiError> {
    let name = normalise_login(typed_login);
    if name.is_empty() || name.len() > 254 || password.is_empty() || password.len() > 1024 {
        return Err(ApiError::Unauthorized("invalid_credentials"));
    }
    let checked = limits::guarded(state.hot.as_ref(), &name, meta.ip, async {
        let user = db::find_user_by_login(&state.db, &name).await?;
        let ok = state
            .passwords
            .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        Ok(user.filter(|_| ok))
    })
    .await?;
    let Some(user) = checked else {
        tracing::info!(ip = ?meta.ip, "failed sign-in");
        return Err(ApiError::Unauthorized("invalid_credentials"));
    };
    if user.disabled {
        return Err(ApiError::Forbidden("account_disabled"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let session = Uuid::now_v7();
    let tokens = issue_tokens(state, &txn, &user, session).await?;
    txn.commit(
        meta,
        Event::by(
            user.id,
            "auth.login",
            "user",
            user.id,
            serde_json::json!({ "session": session, "method": "password" }),
        ),
    )
    .await?;
    Ok(tokens)
}

/// Spends a refresh token for a new pair in the same session; a spent one presented again
/// revokes the session. The API's refresh and the browser session's renewal.
pub(crate) async fn renew(
    state: &AppState,
    meta: &RequestMeta,
    refresh_token: &str,
) -> Result<TokenResponse, ApiError> {
    let now = Utc::now();
    let hash = tokens::hash_refresh_token(refresh_token.trim());
    let txn = state.db.begin().await?;
    let token = db::find_refresh_token(&txn, &hash)
        .await?
        .ok_or(ApiError::Unauthorized("refresh_token_invalid"))?;
    let fresh = token.used_at.is_none() && token.revoked_at.is_none();
    if !fresh || !db::spend_refresh_token(&txn, token.id, now).await? {
        if token.revoked_at.is_none() || token.used_at.is_some() {
            // Someone replayed a spent token: the thief or the owner, we cannot tell, so the
            // whole family goes.
            db::revoke_family(&txn, token.family_id, now).await?;
            audit::Change::from(txn)
                .commit(
                    meta,
                    Event::by(
                        token.user_id,
                        "auth.refresh_reuse_detected",
                        "user",
                        token.user_id,
                        serde_json::json!({ "session": token.family_id }),
                    ),
                )
                .await?;
            state.revocations.revoke(&[token.family_id]).await?;
            return Err(ApiError::Unauthorized("refresh_token_reused"));
        }
        return Err(ApiError::Unauthorized("refresh_token_invalid"));
    }
    if token.expires_at <= now {
        return Err(ApiError::Unauthorized("refresh_token_invalid"));
    }
    let user = db::find_user(&txn, token.user_id)
        .await?
        .ok_or(ApiError::Unauthorized("refresh_token_invalid"))?;
    if user.disabled {
        return Err(ApiError::Unauthorized("account_disabled"));
    }
    let tokens = issue_tokens(state, &txn, &user, token.family_id).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// Ends the caller's session: its refresh tokens and its access tokens stop working.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "signed out")))]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    sign_out(&state, &meta, &user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends a session: its refresh tokens and its access tokens stop working.
pub(crate) async fn sign_out(
    state: &AppState,
    meta: &RequestMeta,
    user: &CurrentUser,
) -> Result<(), ApiError> {
    let txn = audit::Change::begin(&state.db).await?;
    db::revoke_family(&txn, user.session, Utc::now()).await?;
    txn.commit(
        meta,
        Event::by(
            user.id,
            "auth.logout",
            "user",
            user.id,
            serde_json::json!({ "session": user.session }),
        ),
    )
    .await?;
    state.revocations.revoke(&[user.session]).await?;
    Ok(())
}

/// Changes the caller's own password; other sessions are signed out.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest, responses(
    (status = 204, description = "changed"), (status = 422, body = Problem)))]
#[post("/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.into_inner();
    password::check_strength(&new_password)
        .map_err(|code| ApiError::field("new_password", code))?;
    let model = db::find_user(&state.db, user.id)
        .await?
        .ok_or(ApiError::Unauthorized("token_invalid"))?;
    if !state
        .passwords
        .verify(current_password, Some(model.password_hash))
        .await?
    {
        return Err(ApiError::field(
            "current_password",
            "wrong_current_password",
        ));
    }
    let hash = state.passwords.hash(new_password).await?;
    let now = Utc::now();
    let txn = audit::Change::begin(&state.db).await?;
    db::set_password(&txn, user.id, hash, now).await?;
    let sessions = db::revoke_all_for_user(&txn, user.id, now, Some(user.session)).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "auth.password_changed",
            "user",
            user.id,
            serde_json::json!({ "sessions_revoked": sessions.len() }),
        ),
    )
    .await?;
    state.revocations.revoke(&sessions).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Public keys that verify access tokens, including the previous key after a rotation.
#[utoipa::path(tag = "auth", responses((status = 200, body = tokens::Jwks)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> web::Json<tokens::Jwks> {
    web::Json(state.keys.jwks())
}

#[derive(Deserialize, ToSchema)]
pub struct StepUpRequest {
    /// The caller's own password, typed again.
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct StepUpResponse {
    /// Until when this session counts as freshly signed in.
    pub valid_until: chrono::DateTime<Utc>,
}

/// Proves the caller is present now (their password typed again): for five minutes the session
/// may see what needs a fresh sign-in, such as the plain ID number in `/me/personal-data`.
/// Throttled like a sign-in.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = StepUpRequest, responses(
    (status = 200, body = StepUpResponse),
    (status = 429, description = "too many failures; see Retry-After", body = Problem)))]
#[post("/me/step-up")]
async fn step_up(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<StepUpRequest>,
) -> Result<web::Json<StepUpResponse>, ApiError> {
    let account = user.account(&state.db).await?;
    let hot = state.hot.as_ref();
    let password = body.into_inner().password;
    let right = limits::guarded(hot, &account.login, meta.ip, async {
        let ok = state
            .passwords
            .verify(password, Some(account.password_hash.clone()))
            .await?;
        Ok(ok.then_some(()))
    })
    .await?;
    if right.is_none() {
        return Err(ApiError::Unauthorized("invalid_credentials"));
    }
    super::step_up::remember(hot, user.session).await?;
    Ok(web::Json(StepUpResponse {
        valid_until: Utc::now() + super::step_up::FRESH,
    }))
}
