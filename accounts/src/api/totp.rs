//! Two-step authentication (`routes/totp.js` of the auth server): an
//! authenticator app's 6-digit codes (RFC 6238) confirm each sign-in once
//! the account has it. `/totp/create` hands out a secret, the first code
//! verified with it (`/session/verify/totp`) turns it on.

use axum::extract::State;
use serde_json::json;

use super::{Answer, Call, S, auth, run, text};
use crate::error::ApiError;
use crate::secrets::random;
use crate::store::accounts::{self, totp_label};
use crate::store::tokens;
use crate::totp;

/// `POST /v1/totp/create`: `{secret, qrCodeUrl}` — the secret in base32
/// and as an `otpauth://` URI (what a QR code would hold; the service has
/// no image renderer, and an app takes the URI or the secret as text).
pub(super) async fn create(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::verified_session(service, call)?;
        if account.totp_enabled {
            return Err(ApiError::totp_exists());
        }
        let secret = random::<20>()?;
        service.store.write(|tx, sealer| {
            let sealed = sealer.seal(&totp_label(&account.uid), &secret)?;
            accounts::set_totp(tx, &account.uid, Some(&sealed), false)
        })?;
        let secret = totp::base32(&secret);
        let issuer = url::form_urlencoded::byte_serialize(service.hawk_host.as_bytes()).collect::<String>();
        let label = url::form_urlencoded::byte_serialize(account.email.as_bytes()).collect::<String>();
        Ok(json!({
            "secret": secret,
            "qrCodeUrl": format!("otpauth://totp/{issuer}:{label}?secret={secret}&issuer={issuer}"),
            "recoveryCodes": [],
        }))
    })
    .await
}

/// `POST /v1/session/verify/totp {code}`: `{success}`. A right code
/// verifies the session, and the first one turns two-step authentication
/// on. Attempts are throttled per account like sign-ins.
pub(super) async fn verify(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        let body = call.json()?;
        let code = text(&body, "code")?.trim().to_owned();
        super::issue::throttle(service, call, "totp", Some(&account.email))?;
        let Some(sealed) = &account.sealed_totp else {
            return Err(ApiError::totp_not_found());
        };
        let secret = service.store.sealer.open(&totp_label(&account.uid), sealed)?;
        let success = totp::check(&secret, &code, super::auth::now_secs());
        if success {
            service.store.write(|tx, _| {
                if !account.totp_enabled {
                    accounts::set_totp(tx, &account.uid, Some(sealed), true)?;
                }
                if token.must_verify.as_deref() == Some("totp-2fa") {
                    tokens::verify(tx, &token.id_hash)?;
                }
                Ok(())
            })?;
        }
        Ok(json!({ "success": success }))
    })
    .await
}

/// `POST /v1/totp/destroy`: turns two-step authentication off.
pub(super) async fn destroy(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::verified_session(service, call)?;
        service
            .store
            .write(|tx, _| accounts::set_totp(tx, &account.uid, None, false))?;
        Ok(json!({}))
    })
    .await
}

/// `GET /v1/totp/exists`: `{exists, verified}`.
pub(super) async fn exists(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::session(service, call)?;
        Ok(json!({ "exists": account.totp_enabled, "verified": account.totp_enabled }))
    })
    .await
}
