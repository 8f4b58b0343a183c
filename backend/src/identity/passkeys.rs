//! Passkeys (WebAuthn): registration under supervision, discoverable sign-in, and the step-up
//! assertion an exam's identity policy asks for before an attempt starts or resumes.
//!
//! Ceremony state lives only in the hot store under a random id, with an expiry, and is taken
//! (GETDEL) before anything is verified, so a challenge answers once. Verification failures are
//! 4xx with a stable code; a signature counter that goes backwards marks the passkey as possibly
//! cloned and refuses it until an admin looks.
//! Over 700 lines: the three WebAuthn ceremonies share the ceremony store, the counter check and
//! the clone flag; about 70 lines are its tests.
use std::time::Duration;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
    WebauthnError,
};

use super::enrollment;
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role, routes::TokenResponse},
    entities::passkey,
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

/// How long a ceremony (challenge) may take from start to finish.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_passkey_registration)
        .service(finish_passkey_registration)
        .service(start_passkey_sign_in)
        .service(finish_passkey_sign_in)
        .service(start_attempt_assertion)
        .service(list_my_passkeys)
        .service(rename_my_passkey)
        .service(revoke_my_passkey)
        .service(list_user_passkeys)
        .service(revoke_user_passkey);
    enrollment::configure(cfg);
}

/// Builds the one verifier from configuration, refusing an origin that is not the RP id (or a
/// subdomain of it), or plain http anywhere but localhost.
pub fn build_webauthn(
    rp_id: Option<&str>,
    origins: &[String],
    public_url: &str,
    port: u16,
) -> anyhow::Result<Webauthn> {
    let public = Url::parse(public_url)?;
    let public_domain = public
        .domain()
        .filter(|d| d.parse::<std::net::IpAddr>().is_err())
        .map(str::to_owned);
    let rp_id = rp_id
        .map(str::to_owned)
        .or(public_domain.clone())
        .unwrap_or_else(|| "localhost".to_owned());
    let origins: Vec<Url> = if origins.is_empty() {
        match public_domain {
            Some(_) => vec![public],
            None => vec![Url::parse(&format!("http://localhost:{port}"))?],
        }
    } else {
        origins
            .iter()
            .map(|o| Url::parse(o.trim()))
            .collect::<Result<_, _>>()?
    };
    for origin in &origins {
        let host = origin.host_str().unwrap_or_default();
        anyhow::ensure!(
            host == rp_id || host.ends_with(&format!(".{rp_id}")),
            "HOCTHI_WEBAUTHN_ORIGINS: {origin} is not on the relying party {rp_id}"
        );
        anyhow::ensure!(
            origin.scheme() == "https" || (origin.scheme() == "http" && host == "localhost"),
            "HOCTHI_WEBAUTHN_ORIGINS: {origin} must be https (plain http only on localhost)"
        );
    }
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|e| anyhow::anyhow!("WebAuthn configuration refused: {e}"))?
        .rp_name("HọcThi")
        .timeout(CEREMONY_TTL);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("WebAuthn configuration refused: {e}"))
}

/// What a ceremony is for, checked when it finishes.
#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
#[serde(rename_all = "snake_case")]
enum Purpose {
    Register,
    SignIn,
    Attempt,
}

#[derive(Serialize, Deserialize)]
struct Ceremony<S> {
    purpose: Purpose,
    user: Option<Uuid>,
    attempt: Option<Uuid>,
    device: Option<String>,
    /// The enrollment code's key, spent when registration finishes.
    code: Option<String>,
    expires_at: DateTime<Utc>,
    state: S,
}

fn ceremony_key(id: Uuid) -> String {
    format!("webauthn:{id}")
}

async fn keep_ceremony<S: Serialize>(
    state: &AppState,
    ceremony: &Ceremony<S>,
) -> Result<Uuid, ApiError> {
    let id = Uuid::new_v4();
    let bytes = serde_json::to_vec(ceremony).map_err(|e| ApiError::Unexpected(e.into()))?;
    state
        .hot
        .set(&ceremony_key(id), &bytes, CEREMONY_TTL)
        .await
        .map_err(ApiError::from)?;
    Ok(id)
}

/// Takes the ceremony out of the hot store (once), then checks its purpose and expiry.
async fn take_ceremony<S: DeserializeOwned>(
    state: &AppState,
    id: Uuid,
    purpose: Purpose,
) -> Result<Ceremony<S>, ApiError> {
    let bytes = state
        .hot
        .take(&ceremony_key(id))
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::BadRequest("ceremony_unknown"))?;
    let ceremony: Ceremony<S> =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadRequest("ceremony_unknown"))?;
    if ceremony.purpose != purpose {
        return Err(ApiError::BadRequest("ceremony_mismatch"));
    }
    if state.clock.now() > ceremony.expires_at {
        return Err(ApiError::BadRequest("ceremony_expired"));
    }
    Ok(ceremony)
}

fn expiry(state: &AppState) -> DateTime<Utc> {
    state.clock.now() + chrono::Duration::seconds(CEREMONY_TTL.as_secs() as i64)
}

fn credential_key(raw_id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw_id)
}

fn stored(row: &passkey::Model) -> Result<Passkey, ApiError> {
    serde_json::from_str(&row.credential).map_err(|e| ApiError::Unexpected(e.into()))
}

/// Ceremony failures are the client's (400/401), never a 500.
fn rejected(e: WebauthnError) -> ApiError {
    tracing::info!(error = %e, "passkey ceremony refused");
    ApiError::Unauthorized("passkey_rejected")
}

#[derive(Serialize, ToSchema)]
pub struct CeremonyStart {
    /// Send it back with the authenticator's answer.
    pub ceremony_id: Uuid,
    /// Options for `navigator.credentials.create()` / `.get()` (`publicKey` inside).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Whose passkey is being registered (shown so the supervisor can confirm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct RegistrationStartRequest {
    /// An enrollment code from a teacher or proctor. Students need one; staff signed in may
    /// register their own passkey without.
    #[serde(default)]
    pub code: Option<String>,
}

/// Starts registering a passkey: with an enrollment code (students, under supervision), or for
/// the signed-in staff member.
#[utoipa::path(tag = "passkeys", request_body = RegistrationStartRequest, responses(
    (status = 200, body = CeremonyStart), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
#[post("/passkeys/registration/start")]
async fn start_passkey_registration(
    state: web::Data<AppState>,
    meta: RequestMeta,
    signed_in: Option<CurrentUser>,
    body: web::Json<RegistrationStartRequest>,
) -> Result<web::Json<CeremonyStart>, ApiError> {
    let (account, code) = match body.into_inner().code {
        Some(code) => {
            let (account, key) =
                enrollment::redeemable(&state, &meta, &code, signed_in.as_ref()).await?;
            (account, Some(key))
        }
        None => {
            let user = signed_in.ok_or(ApiError::Unauthorized("unauthenticated"))?;
            if user.roles.iter().all(|r| *r == Role::Student) {
                return Err(ApiError::Forbidden("enrollment_code_required"));
            }
            (user.account(&state.db).await?, None)
        }
    };
    if account.disabled {
        return Err(ApiError::Forbidden("account_disabled"));
    }
    let existing = passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(account.id))
        .all(&state.db)
        .await?;
    let exclude = existing
        .iter()
        .map(|row| stored(row).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (challenge, registration) = state
        .webauthn
        .start_passkey_registration(
            account.id,
            &account.login,
            &account.full_name,
            Some(exclude),
        )
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let mut options =
        serde_json::to_value(&challenge).map_err(|e| ApiError::Unexpected(e.into()))?;
    // A discoverable credential, so the student can later sign in without typing a login.
    options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("required");
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(true);
    let expires_at = expiry(&state);
    let ceremony_id = keep_ceremony(
        &state,
        &Ceremony::<PasskeyRegistration> {
            purpose: Purpose::Register,
            user: Some(account.id),
            attempt: None,
            device: None,
            code,
            expires_at,
            state: registration,
        },
    )
    .await?;
    Ok(web::Json(CeremonyStart {
        ceremony_id,
        options,
        full_name: Some(account.full_name),
        expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct RegistrationFinishRequest {
    pub ceremony_id: Uuid,
    /// The browser's `PublicKeyCredential` from `create()`, as JSON (base64url binary fields).
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
    /// A name the owner recognises ("Điện thoại của em"); defaults to "Passkey".
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Synced passkeys (backed up to a cloud account) say so.
    pub backup_eligible: bool,
    pub backed_up: bool,
    /// Set when its signature counter went backwards: it is refused until revoked and replaced.
    pub clone_suspected_at: Option<DateTime<Utc>>,
}

impl From<passkey::Model> for PasskeyView {
    fn from(row: passkey::Model) -> Self {
        PasskeyView {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            backup_eligible: row.backup_eligible,
            backed_up: row.backup_state,
            clone_suspected_at: row.clone_suspected_at,
        }
    }
}

fn clean_passkey_name(name: Option<&str>) -> Result<String, ApiError> {
    let name = crate::text::clean_name(name.unwrap_or("Passkey"));
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ApiError::field("name", "too_long"));
    }
    Ok(name)
}

/// Finishes registration: verifies the authenticator's answer, spends the enrollment code, and
/// stores the passkey.
#[utoipa::path(tag = "passkeys", request_body = RegistrationFinishRequest, responses(
    (status = 201, body = PasskeyView), (status = 401, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/passkeys/registration/finish")]
async fn finish_passkey_registration(
    state: web::Data<AppState>,
    meta: RequestMeta,
    signed_in: CurrentUser,
    body: web::Json<RegistrationFinishRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = clean_passkey_name(body.name.as_deref())?;
    let ceremony: Ceremony<PasskeyRegistration> =
        take_ceremony(&state, body.ceremony_id, Purpose::Register).await?;
    let owner = ceremony
        .user
        .ok_or(ApiError::BadRequest("ceremony_mismatch"))?;
    // Only the account's own session finishes what it started.
    if owner != signed_in.id {
        return Err(ApiError::BadRequest("ceremony_mismatch"));
    }
    let created = state
        .webauthn
        .finish_passkey_registration(&body.credential, &ceremony.state)
        .map_err(rejected)?;
    let issued_by = match &ceremony.code {
        Some(key) => Some(enrollment::spend(&state, key, owner).await?),
        None => None,
    };
    let credential = serde_json::to_value(&created).map_err(|e| ApiError::Unexpected(e.into()))?;
    let flag = |name: &str| credential["cred"][name].as_bool().unwrap_or(false);
    let now = Utc::now();
    let row = passkey::Model {
        id: Uuid::now_v7(),
        user_id: owner,
        credential_id: credential_key(created.cred_id()),
        name,
        credential: credential.to_string(),
        sign_count: credential["cred"]["counter"].as_i64().unwrap_or(0),
        backup_eligible: flag("backup_eligible"),
        backup_state: flag("backup_state"),
        enrolled_by: issued_by,
        created_at: now,
        last_used_at: None,
        clone_suspected_at: None,
    };
    let txn = audit::Change::begin(&state.db).await?;
    if passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(row.credential_id.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict("passkey_already_registered"));
    }
    passkey::Entity::insert(passkey::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    let account = signed_in.account(&txn).await?;
    crate::notices::tell_owner_and_school_admins(
        &txn,
        crate::notices::PASSKEY_REGISTERED,
        &account,
        json!({ "passkey": row.id, "name": row.name, "full_name": account.full_name,
                "supervised_by": issued_by }),
        now,
    )
    .await?;
    txn.commit(
        &meta,
        Event::by(
            owner,
            "passkey.registered",
            "user",
            owner,
            json!({ "passkey": row.id, "supervised_by": issued_by }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(PasskeyView::from(row)))
}

/// Anonymous sign-in ceremonies are kept in the hot store for five minutes each; without a
/// bound, anyone could fill it. Counted in five-minute windows per address (a school's shared
/// address fits a whole school's morning) and in all.
async fn admit_anonymous_ceremony(state: &AppState, meta: &RequestMeta) -> Result<(), ApiError> {
    let window = CEREMONY_TTL.as_secs() as i64;
    let now = state.clock.now().timestamp();
    let slot = now / window;
    let refused = ApiError::TooManyRequests {
        code: "too_many_passkey_starts",
        retry_after_secs: (window - now % window) as u64,
    };
    let address = meta.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let count = |key: String| async move {
        state
            .hot
            .incr(&key, 1, CEREMONY_TTL * 2)
            .await
            .map_err(ApiError::from)
    };
    if count(format!("passkey-starts:{slot}:{address}")).await?
        > state.settings.passkey_starts_per_address
    {
        return Err(refused);
    }
    if count(format!("passkey-starts:{slot}")).await? > state.settings.passkey_starts_total {
        return Err(refused);
    }
    Ok(())
}

/// Starts a passkey sign-in: no login needed, the authenticator offers its passkeys for this site.
#[utoipa::path(tag = "auth", responses((status = 200, body = CeremonyStart),
    (status = 429, description = "too many sign-ins started from this address, or in all", body = Problem)))]
#[post("/auth/passkey/start")]
async fn start_passkey_sign_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
) -> Result<web::Json<CeremonyStart>, ApiError> {
    admit_anonymous_ceremony(&state, &meta).await?;
    let (challenge, authentication) = state
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let mut options =
        serde_json::to_value(&challenge).map_err(|e| ApiError::Unexpected(e.into()))?;
    // A sign-in button asks at once (the library defaults to autofill-only "conditional" UI).
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let expires_at = expiry(&state);
    let ceremony_id = keep_ceremony(
        &state,
        &Ceremony::<DiscoverableAuthentication> {
            purpose: Purpose::SignIn,
            user: None,
            attempt: None,
            device: None,
            code: None,
            expires_at,
            state: authentication,
        },
    )
    .await?;
    Ok(web::Json(CeremonyStart {
        ceremony_id,
        options,
        full_name: None,
        expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct AssertionRequest {
    pub ceremony_id: Uuid,
    /// The browser's `PublicKeyCredential` from `get()`, as JSON (base64url binary fields).
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}

/// The passkey row an assertion names, refused when unknown or suspected cloned.
async fn usable_passkey(state: &AppState, raw_id: &[u8]) -> Result<passkey::Model, ApiError> {
    let row = passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_key(raw_id)))
        .one(&state.db)
        .await?
        .ok_or(ApiError::Unauthorized("passkey_unknown"))?;
    if row.clone_suspected_at.is_some() {
        return Err(ApiError::Unauthorized("passkey_clone_suspected"));
    }
    Ok(row)
}

/// Records a verified use (counter, backup flags, time), or on a counter that went backwards
/// marks the passkey as possibly cloned and refuses.
async fn record_use(
    state: &AppState,
    meta: &RequestMeta,
    row: passkey::Model,
    outcome: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
) -> Result<(), ApiError> {
    let result = match outcome {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let txn = audit::Change::begin(&state.db).await?;
            let (user_id, id) = (row.user_id, row.id);
            let mut active: passkey::ActiveModel = row.into();
            active.clone_suspected_at = Set(Some(Utc::now()));
            active.update(&txn).await?;
            txn.commit(
                meta,
                Event::by(
                    user_id,
                    "passkey.clone_suspected",
                    "user",
                    user_id,
                    json!({ "passkey": id }),
                ),
            )
            .await?;
            tracing::warn!(passkey = %id, "passkey counter went backwards: possibly cloned");
            return Err(ApiError::Unauthorized("passkey_clone_suspected"));
        }
        Err(e) => return Err(rejected(e)),
    };
    let mut credential = stored(&row)?;
    let changed = credential.update_credential(&result).unwrap_or(false);
    let mut active: passkey::ActiveModel = row.into();
    if changed {
        active.credential =
            Set(serde_json::to_string(&credential).map_err(|e| ApiError::Unexpected(e.into()))?);
        active.sign_count = Set(i64::from(result.counter()));
        active.backup_eligible = Set(result.backup_eligible());
        active.backup_state = Set(result.backup_state());
    }
    active.last_used_at = Set(Some(Utc::now()));
    active.update(&state.db).await?;
    Ok(())
}

/// Finishes a passkey sign-in and issues the same tokens as a password sign-in.
#[utoipa::path(tag = "auth", request_body = AssertionRequest, responses(
    (status = 200, body = TokenResponse), (status = 401, body = Problem),
    (status = 403, description = "account disabled", body = Problem)))]
#[post("/auth/passkey/finish")]
async fn finish_passkey_sign_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<AssertionRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let AssertionRequest {
        ceremony_id,
        credential,
    } = body.into_inner();
    let ceremony: Ceremony<DiscoverableAuthentication> =
        take_ceremony(&state, ceremony_id, Purpose::SignIn).await?;
    let (user_handle, raw_id) = state
        .webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(rejected)?;
    let row = usable_passkey(&state, raw_id).await?;
    if row.user_id != user_handle {
        return Err(ApiError::Unauthorized("passkey_unknown"));
    }
    let key = stored(&row)?;
    let outcome =
        state
            .webauthn
            .finish_discoverable_authentication_v2(&credential, ceremony.state, &key);
    record_use(&state, &meta, row, outcome).await?;
    let account = crate::auth::db::find_user(&state.db, user_handle)
        .await?
        .ok_or(ApiError::Unauthorized("passkey_unknown"))?;
    if account.disabled {
        return Err(ApiError::Forbidden("account_disabled"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let session = Uuid::now_v7();
    let tokens = crate::auth::routes::issue_tokens(&state, &txn, &account, session).await?;
    txn.commit(
        &meta,
        Event::by(
            account.id,
            "auth.login",
            "user",
            account.id,
            json!({ "session": session, "method": "passkey" }),
        ),
    )
    .await?;
    Ok(web::Json(tokens))
}

#[derive(Deserialize, ToSchema)]
pub struct AttemptAssertionRequest {
    /// The device that will start or resume the attempt; the assertion is good only there.
    pub device_id: String,
}

/// A challenge for the candidate's passkey, bound to this attempt and device: the answer goes
/// with `/start` or `/resume` as `passkey`.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = AttemptAssertionRequest, responses(
    (status = 200, body = CeremonyStart), (status = 409, description = "no_passkey", body = Problem)))]
#[post("/attempts/{attempt_id}/passkey-challenge")]
async fn start_attempt_assertion(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<AttemptAssertionRequest>,
) -> Result<web::Json<CeremonyStart>, ApiError> {
    let attempt_id = path.into_inner();
    check_device(&body.device_id)?;
    let attempt = crate::entities::attempt::Entity::find_by_id(attempt_id)
        .one(&state.db)
        .await?
        .filter(|a| a.user_id == user.id)
        .ok_or(ApiError::NotFound("attempt_not_found"))?;
    let keys = passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user.id))
        .filter(passkey::Column::CloneSuspectedAt.is_null())
        .all(&state.db)
        .await?
        .iter()
        .map(stored)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(ApiError::Conflict("no_passkey"));
    }
    let (challenge, authentication) = state
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let options = serde_json::to_value(&challenge).map_err(|e| ApiError::Unexpected(e.into()))?;
    let expires_at = expiry(&state);
    let ceremony_id = keep_ceremony(
        &state,
        &Ceremony::<PasskeyAuthentication> {
            purpose: Purpose::Attempt,
            user: Some(user.id),
            attempt: Some(attempt.id),
            device: Some(body.device_id.clone()),
            code: None,
            expires_at,
            state: authentication,
        },
    )
    .await?;
    Ok(web::Json(CeremonyStart {
        ceremony_id,
        options,
        full_name: None,
        expires_at,
    }))
}

/// A step-up assertion for starting or resuming an attempt, checked as far as the passkey
/// itself: the ceremony was opened for exactly this user, attempt and device, and the passkey
/// is the user's own. The exam decides whether it may be used (`enrolled_by`), then `finish`es.
pub struct AttemptProof {
    row: passkey::Model,
    credential: PublicKeyCredential,
    ceremony: PasskeyAuthentication,
}

impl AttemptProof {
    pub async fn open(
        state: &AppState,
        user: &CurrentUser,
        attempt: Uuid,
        device: &str,
        proof: AssertionRequest,
    ) -> Result<Self, ApiError> {
        let ceremony: Ceremony<PasskeyAuthentication> =
            take_ceremony(state, proof.ceremony_id, Purpose::Attempt).await?;
        if ceremony.user != Some(user.id)
            || ceremony.attempt != Some(attempt)
            || ceremony.device.as_deref() != Some(device)
        {
            return Err(ApiError::BadRequest("ceremony_mismatch"));
        }
        let row = usable_passkey(state, proof.credential.get_credential_id()).await?;
        if row.user_id != user.id {
            return Err(ApiError::Unauthorized("passkey_not_yours"));
        }
        Ok(Self {
            row,
            credential: proof.credential,
            ceremony: ceremony.state,
        })
    }

    /// Who supervised the passkey's enrolment, if anyone did.
    pub fn enrolled_by(&self) -> Option<Uuid> {
        self.row.enrolled_by
    }

    /// Verifies the signature and records the use.
    pub async fn finish(self, state: &AppState, meta: &RequestMeta) -> Result<(), ApiError> {
        let outcome = state
            .webauthn
            .finish_passkey_authentication(&self.credential, &self.ceremony);
        record_use(state, meta, self.row, outcome).await
    }
}

/// A device id as clients keep it: 8 to 100 printable ASCII characters.
pub fn check_device(device: &str) -> Result<(), ApiError> {
    if (8..=100).contains(&device.len()) && device.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ApiError::field("device_id", "invalid"))
    }
}

/// The signed-in user's passkeys.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), responses(
    (status = 200, body = [PasskeyView])))]
#[get("/me/passkeys")]
async fn list_my_passkeys(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<PasskeyView>>, ApiError> {
    Ok(web::Json(passkeys_of(&state, user.id).await?))
}

async fn passkeys_of(state: &AppState, owner: Uuid) -> Result<Vec<PasskeyView>, ApiError> {
    Ok(passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(owner))
        .order_by_asc(passkey::Column::CreatedAt)
        .all(&state.db)
        .await?
        .into_iter()
        .map(PasskeyView::from)
        .collect())
}

async fn own_passkey(state: &AppState, owner: Uuid, id: Uuid) -> Result<passkey::Model, ApiError> {
    passkey::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| p.user_id == owner)
        .ok_or(ApiError::NotFound("passkey_not_found"))
}

#[derive(Deserialize, ToSchema)]
pub struct RenamePasskeyRequest {
    pub name: String,
}

/// Renames one of the signed-in user's passkeys.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("passkey_id" = Uuid, Path)), request_body = RenamePasskeyRequest, responses(
    (status = 200, body = PasskeyView), (status = 422, body = Problem)))]
#[patch("/me/passkeys/{passkey_id}")]
async fn rename_my_passkey(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<RenamePasskeyRequest>,
) -> Result<web::Json<PasskeyView>, ApiError> {
    let name = clean_passkey_name(Some(&body.name))?;
    let row = own_passkey(&state, user.id, path.into_inner()).await?;
    let mut active: passkey::ActiveModel = row.into();
    active.name = Set(name);
    Ok(web::Json(active.update(&state.db).await?.into()))
}

async fn revoke(
    state: &AppState,
    meta: &RequestMeta,
    actor: Uuid,
    row: passkey::Model,
) -> Result<HttpResponse, ApiError> {
    let txn = audit::Change::begin(&state.db).await?;
    passkey::Entity::delete_by_id(row.id).exec(&txn).await?;
    txn.commit(
        meta,
        Event::by(
            actor,
            "passkey.revoked",
            "user",
            row.user_id,
            json!({ "passkey": row.id, "name": row.name }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes one of the signed-in user's passkeys.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("passkey_id" = Uuid, Path)), responses(
    (status = 204)))]
#[delete("/me/passkeys/{passkey_id}")]
async fn revoke_my_passkey(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let row = own_passkey(&state, user.id, path.into_inner()).await?;
    revoke(&state, &meta, user.id, row).await
}

/// A user's passkeys, for their school's admins.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 200, body = [PasskeyView])))]
#[get("/users/{user_id}/passkeys")]
async fn list_user_passkeys(
    state: web::Data<AppState>,
    admin: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<PasskeyView>>, ApiError> {
    let target = super::user_in_reach(&state, &admin, path.into_inner()).await?;
    Ok(web::Json(passkeys_of(&state, target.id).await?))
}

/// Revokes a user's passkey (a lost phone, a suspected clone), by their school's admins.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("user_id" = Uuid, Path), ("passkey_id" = Uuid, Path)), responses(
    (status = 204)))]
#[delete("/users/{user_id}/passkeys/{passkey_id}")]
async fn revoke_user_passkey(
    state: web::Data<AppState>,
    meta: RequestMeta,
    admin: CurrentUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, passkey_id) = path.into_inner();
    let target = super::user_in_reach(&state, &admin, user_id).await?;
    let row = own_passkey(&state, target.id, passkey_id).await?;
    revoke(&state, &meta, admin.id, row).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked_at_start_up() {
        // (RP id, origins, public URL, accepted, why)
        type Case<'a> = (Option<&'a str>, &'a [&'a str], &'a str, bool, &'a str);
        let cases: [Case; 7] = [
            (
                None,
                &[],
                "http://127.0.0.1:8080",
                true,
                "local default: localhost",
            ),
            (
                None,
                &[],
                "https://thi.sgd.edu.vn",
                true,
                "public domain is the RP",
            ),
            (
                Some("sgd.edu.vn"),
                &["https://thi.sgd.edu.vn"],
                "https://thi.sgd.edu.vn",
                true,
                "a subdomain of the RP",
            ),
            (
                Some("sgd.edu.vn"),
                &["https://evil.example"],
                "https://thi.sgd.edu.vn",
                false,
                "origin on another site",
            ),
            (
                Some("sgd.edu.vn"),
                &["http://thi.sgd.edu.vn"],
                "https://thi.sgd.edu.vn",
                false,
                "plain http off localhost",
            ),
            (
                Some("thi.sgd.edu.vn"),
                &["https://sgd.edu.vn"],
                "https://thi.sgd.edu.vn",
                false,
                "origin is a parent of the RP",
            ),
            (
                Some("localhost"),
                &["not a url"],
                "http://127.0.0.1:1",
                false,
                "unparsable origin",
            ),
        ];
        for (rp, origins, public, ok, why) in cases {
            let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                build_webauthn(rp, &origins, public, 8080).is_ok(),
                ok,
                "{why}"
            );
        }
    }
}
