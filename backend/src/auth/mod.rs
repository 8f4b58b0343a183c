//! Accounts and sign-in: passwords, tokens, roles, and the extractor every handler uses to
//! know who is calling and to demand a role within a school or the province.
pub(crate) mod db;
pub(crate) mod domain;
pub(crate) mod limits;
pub(crate) mod password;
pub(crate) mod revocations;
pub mod roles;
pub(crate) mod routes;
pub(crate) mod step_up;
pub mod tokens;

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use uuid::Uuid;

pub use routes::configure;

use crate::{error::ApiError, state::AppState};
use roles::Role;
use tokens::TokenError;

/// Where an action happens: anywhere in the province, or inside one school.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Province,
    School(Uuid),
}

/// The signed-in caller, from a verified access token.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: Uuid,
    pub session: Uuid,
    pub roles: Vec<Role>,
    /// `None` for province-level accounts.
    pub school: Option<Uuid>,
}

impl CurrentUser {
    /// The scope the caller acts in by default: their school, or the province.
    pub fn home(&self) -> Scope {
        self.school.map(Scope::School).unwrap_or(Scope::Province)
    }

    /// The caller's account row.
    pub async fn account(
        &self,
        db: &impl sea_orm::ConnectionTrait,
    ) -> Result<crate::entities::user::Model, ApiError> {
        db::find_user(db, self.id)
            .await?
            .ok_or(ApiError::Unauthorized("token_invalid"))
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Passes when the caller may take over the running of another person's account (reset its
    /// password, off-board it): never their own, and another admin's only as the province.
    pub fn require_account_manager_of(
        &self,
        target: &crate::entities::user::Model,
        own_code: &'static str,
    ) -> Result<(), ApiError> {
        if target.id == self.id {
            return Err(ApiError::Forbidden(own_code));
        }
        let admin = roles::from_db(&target.roles)
            .iter()
            .any(|r| matches!(r, Role::SchoolAdmin | Role::ProvinceAdmin));
        if admin && !self.has(Role::ProvinceAdmin) {
            return Err(ApiError::Forbidden("reset_needs_province_admin"));
        }
        Ok(())
    }

    /// Passes when the caller holds one of `roles` and may act in `scope`. A province admin may
    /// do anything; province-level holders of a role act in every school.
    pub fn require(&self, roles: &[Role], scope: Scope) -> Result<(), ApiError> {
        if self.has(Role::ProvinceAdmin) {
            return Ok(());
        }
        let holds_role = roles.iter().any(|r| self.has(*r));
        let in_scope = match scope {
            Scope::Province => self.school.is_none(),
            Scope::School(id) => self.school.is_none() || self.school == Some(id),
        };
        if holds_role && in_scope {
            Ok(())
        } else {
            Err(ApiError::Forbidden("forbidden"))
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    /// A bearer token (the API's clients), else the browser's session cookie, which a request
    /// that changes something may only send from the service's own pages.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cookie = match header {
            Some(_) => Ok(None),
            None => crate::request::session_token(req),
        };
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("app state missing")))?;
            let token = match (&header, cookie?) {
                (Some(h), _) => h
                    .strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
                    .ok_or(ApiError::Unauthorized("unauthenticated"))?
                    .to_owned(),
                (None, Some(cookie)) => cookie,
                (None, None) => return Err(ApiError::Unauthorized("unauthenticated")),
            };
            user_of_token(&state, token.trim()).await
        })
    }
}

/// The caller a valid, unrevoked access token names.
pub(crate) async fn user_of_token(state: &AppState, token: &str) -> Result<CurrentUser, ApiError> {
    let claims = state.keys.verify(token).map_err(|e| match e {
        TokenError::Expired => ApiError::Unauthorized("token_expired"),
        TokenError::Invalid => ApiError::Unauthorized("token_invalid"),
    })?;
    if state
        .revocations
        .is_revoked(claims.sid)
        .await
        .map_err(ApiError::from)?
    {
        return Err(ApiError::Unauthorized("token_revoked"));
    }
    Ok(CurrentUser {
        id: claims.sub,
        session: claims.sid,
        roles: claims.roles,
        school: claims.school,
    })
}
