//! The profile server's two routes Firefox uses (`fxa-profile-server`
//! `/v1/profile`, `/v1/display_name`, under the `profile_server_base_url`
//! it is configured with), the auth server's `/account/profile`, and the
//! discovery documents: `/.well-known/fxa-client-configuration` (what
//! Firefox's `identity.fxaccounts.autoconfig.uri` reads to point every
//! other URL at this service; `FxAccountsConfig.sys.mjs`) and
//! `/.well-known/openid-configuration`.

use axum::extract::State;
use axum::http::header;
use serde_json::{Value, json};

use super::{Answer, Call, S, auth, run, text};
use crate::Service;
use crate::error::ApiError;
use crate::store::accounts::{self, Account};

/// The profile server's base URL (Firefox appends `/v1`).
pub(crate) fn profile_base(service: &Service) -> String {
    format!("{}/profile", service.public_url)
}

/// The account an access token with `needed` (or a wider profile scope)
/// speaks for; 401 errno 110 otherwise (the profile server's answer to a
/// bad token, which makes Firefox fetch a new one).
fn bearer_account(service: &Service, call: &Call, needed: &str) -> Result<Account, ApiError> {
    let token = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::invalid_token)?;
    let claims = service
        .keys
        .verify(token.trim())
        .ok_or_else(ApiError::invalid_token)?;
    let jti = claims["jti"].as_str().unwrap_or("").to_owned();
    if service
        .store
        .read(|conn, _| crate::store::oauth::is_revoked(conn, &jti))?
    {
        return Err(ApiError::invalid_token());
    }
    let granted = claims["scope"].as_str().unwrap_or("");
    let allowed = granted
        .split_whitespace()
        .any(|s| s == needed || s == "profile" || (s == "profile:write" && needed.starts_with("profile")));
    if !allowed {
        return Err(ApiError::new(403, 125, "Unauthorized for route"));
    }
    let uid = claims["sub"].as_str().unwrap_or("").to_owned();
    service
        .store
        .read(|conn, _| accounts::by_uid(conn, &uid))?
        .filter(|a| a.disabled_at.is_none())
        .ok_or_else(ApiError::invalid_token)
}

/// `GET /profile/v1/profile` (Bearer, scope `profile`).
pub(super) async fn profile(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let account = bearer_account(service, call, "profile")?;
        let amr: Vec<&str> = if account.totp_enabled {
            vec!["pwd", "otp"]
        } else {
            vec!["pwd", "email"]
        };
        Ok(json!({
            "uid": account.uid,
            "email": account.email,
            "locale": account.locale,
            "displayName": account.display_name,
            "avatar": Value::Null,
            "avatarDefault": true,
            "amrValues": amr,
            "twoFactorAuthentication": account.totp_enabled,
            "subscriptions": [],
        }))
    })
    .await
}

/// `POST /profile/v1/display_name` `{displayName}` (Bearer, scope
/// `profile:write` or `profile:display_name:write`).
pub(super) async fn set_display_name(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let account = bearer_account(service, call, "profile:display_name:write")?;
        let body = call.json()?;
        let name = text(&body, "displayName")?;
        if name.chars().count() > 256 || name.chars().any(char::is_control) {
            return Err(ApiError::invalid_parameter("displayName"));
        }
        let name = (!name.is_empty()).then_some(name);
        service
            .store
            .write(|tx, _| accounts::set_display_name(tx, &account.uid, name))?;
        Ok(json!({}))
    })
    .await
}

/// `GET /v1/account/profile` (session): what the auth server knows of the
/// profile.
pub(super) async fn account_profile(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        let mut methods = vec!["pwd", "email"];
        if account.totp_enabled {
            methods.push("otp");
        }
        Ok(json!({
            "email": account.email,
            "locale": account.locale,
            "authenticationMethods": methods,
            "authenticatorAssuranceLevel": if account.totp_enabled && token.verified() { 2 } else { 1 },
            "profileChangedAt": account.verifier_set_at,
            "metricsEnabled": false,
        }))
    })
    .await
}

/// `GET /.well-known/fxa-client-configuration`.
pub(super) async fn client_configuration(State(service): S) -> axum::Json<Value> {
    let tokenserver = service
        .config
        .tokenserver_url
        .clone()
        .unwrap_or_else(|| service.public_url.clone());
    axum::Json(json!({
        "auth_server_base_url": service.public_url,
        "oauth_server_base_url": service.public_url,
        "profile_server_base_url": profile_base(&service),
        "sync_tokenserver_base_url": tokenserver.trim_end_matches('/'),
    }))
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn openid_configuration(State(service): S) -> axum::Json<Value> {
    let base = &service.public_url;
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorization"),
        "token_endpoint": format!("{base}/v1/oauth/token"),
        "introspection_endpoint": format!("{base}/v1/introspect"),
        "revocation_endpoint": format!("{base}/v1/oauth/destroy"),
        "userinfo_endpoint": format!("{}/v1/profile", profile_base(&service)),
        "jwks_uri": format!("{base}/v1/jwks"),
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["aud", "exp", "iat", "iss", "sub"],
    }))
}
