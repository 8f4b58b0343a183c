//! The first province admin, created when no user exists yet.

use crate::{
    audit::{self, Event},
    auth::roles::Role,
    org::{self, UserFields, db, domain},
    request::RequestMeta,
    state::AppState,
};

pub struct FirstAdmin {
    pub login: String,
    /// Set only when generated: printed once at start-up, never logged.
    pub generated_password: Option<String>,
}

pub async fn ensure_first_admin(state: &AppState) -> anyhow::Result<Option<FirstAdmin>> {
    if db::count_users(&state.db).await? > 0 {
        return Ok(None);
    }
    let (login, password, generated) = match &state.settings.bootstrap_admin {
        Some((login, password)) => (login.clone(), password.expose().to_owned(), false),
        None => ("admin".to_owned(), domain::generate_password(), true),
    };
    let new = org::validate_user(UserFields {
        login: &login,
        email: login.contains('@').then_some(login.as_str()),
        full_name: "Quản trị Sở GD&ĐT",
        roles: vec![Role::ProvinceAdmin],
        ..Default::default()
    })
    .map_err(|p| anyhow::anyhow!("HOCTHI_BOOTSTRAP_ADMIN: the login is not valid ({p:?})"))?;
    let hash = state
        .passwords
        .hash(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let txn = audit::Change::begin(&state.db).await?;
    let user = db::insert_user(&txn, &new, hash).await?;
    txn.commit(
        &RequestMeta::system(&state.audit_key),
        Event {
            actor: None,
            action: "user.bootstrapped",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            details: serde_json::json!({ "login": user.login, "roles": ["province_admin"] }),
        },
    )
    .await?;
    Ok(Some(FirstAdmin {
        login: new.login,
        generated_password: generated.then_some(password),
    }))
}
