//! Keys and the end of an account: `/account/keys` (the kA/wrapKb bundle
//! a key fetch token was made for), `/account/scoped-key-data` (what a
//! client derives the Sync key with), `/account/destroy`.

use axum::extract::State;
use serde_json::{Value, json};

use super::{Answer, Call, S, auth, email, hex32, run};
use crate::Service;
use crate::clients;
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::tokens::{self, TokenKind};

/// `GET /v1/account/keys`, Hawk-signed with a key fetch token: the bundle,
/// once. The token waits (unused) while its session is unverified.
pub(super) async fn keys(State(service): S, call: Call) -> Answer {
    run(service, call, keys_now).await
}

fn keys_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let token = auth::token(service, call, TokenKind::KeyFetch)?;
    let now = crate::now_ms();
    let account = service.store.read(|conn, _| accounts::live(conn, &token.uid))?;
    let session_hash = token.session_hash.clone().ok_or_else(ApiError::invalid_token)?;
    let session = service
        .store
        .read(|conn, sealer| tokens::find(conn, sealer, TokenKind::Session, &session_hash, now))?
        .ok_or_else(ApiError::invalid_token)?;
    if !account.email_verified {
        return Err(ApiError::unverified_account());
    }
    if !session.verified() {
        return Err(ApiError::unverified_session());
    }
    let bundle = token.key_bundle.clone().ok_or_else(ApiError::invalid_token)?;
    // Single use: a second fetch with the same token finds nothing.
    let deleted = service.store.write(|tx, _| tokens::delete(tx, &token.id_hash))?;
    if !deleted {
        return Err(ApiError::invalid_token());
    }
    Ok(json!({ "bundle": hex::encode(bundle) }))
}

/// `POST /v1/account/scoped-key-data {client_id, scope}`: for each
/// requested scope that has a key, what the client derives it from. Sync's
/// key is derived from kB alone (the "legacy" derivation), so its rotation
/// secret is zeros, as Mozilla's; its rotation time is when kB last
/// changed, which the token server checks in `X-KeyID`.
pub(super) async fn scoped_key_data(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::verified_session(service, call)?;
        let body = call.json()?;
        let client_id = super::text(&body, "client_id")?;
        let scope = super::text(&body, "scope")?;
        clients::check(service, client_id, scope)?;
        let mut answer = json!({});
        if scope.split_whitespace().any(|s| s == crate::OLDSYNC_SCOPE) {
            answer[crate::OLDSYNC_SCOPE] = json!({
                "identifier": crate::OLDSYNC_SCOPE,
                "keyRotationSecret": "0".repeat(64),
                "keyRotationTimestamp": account.keys_changed_at,
            });
        }
        Ok(answer)
    })
    .await
}

/// `POST /v1/account/destroy {email, authPW}`: the password proves it; a
/// session, when the request carries one, must be a verified one of the
/// same account. Everything of the account goes in one transaction.
pub(super) async fn destroy(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        let auth_pw = hex32(&body, "authPW")?;
        super::issue::throttle(service, call, "destroy", Some(&email))?;
        let account = service
            .store
            .read(|conn, _| accounts::by_email(conn, &email))?
            .ok_or_else(|| ApiError::unknown_account(&email))?;
        if call.headers.contains_key(axum::http::header::AUTHORIZATION) {
            let (_, session_account) = auth::verified_session(service, call)?;
            if session_account.uid != account.uid {
                return Err(ApiError::invalid_token());
            }
        }
        if super::account::check_password(service, &account, &auth_pw)?.is_none() {
            return Err(ApiError::incorrect_password(&account.email, &email));
        }
        service.store.write(|tx, _| accounts::delete(tx, &account.uid))?;
        service.announce(crate::AccountEvent::Deleted {
            uid: account.uid.clone(),
        });
        tracing::info!(uid = %account.uid, "accounts: account deleted by its owner");
        Ok(json!({}))
    })
    .await
}
