//! Sessions and their verification (`routes/session.js`,
//! `routes/emails.js` of the auth server): status, destroy, duplicate, and
//! confirming a session (and with a new account's first session, its
//! address) with the emailed 6-digit code.

use axum::extract::State;
use serde_json::{Value, json};

use super::issue::{self, CODE_LIFETIME_MS, MustVerify};
use super::{Answer, Call, S, auth, run, text};
use crate::Service;
use crate::error::ApiError;
use crate::password::same;
use crate::secrets::{decimal_code, hash_hex};
use crate::store::accounts;
use crate::store::tokens::{self, TokenKind};

/// `GET /v1/session/status`.
pub(super) async fn status(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        let verified = token.verified() && account.email_verified;
        Ok(json!({
            "state": if verified { "verified" } else { "unverified" },
            "uid": account.uid,
            "details": {
                "accountEmailVerified": account.email_verified,
                "sessionVerificationMethod": token.must_verify,
                "sessionVerified": token.verified(),
                "sessionVerificationMeetsMinimumAAL": true,
            },
        }))
    })
    .await
}

/// `GET /v1/recovery_email/status`.
pub(super) async fn recovery_email_status(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        Ok(json!({
            "email": account.email,
            "verified": account.email_verified && token.verified(),
            "sessionVerified": token.verified(),
            "emailVerified": account.email_verified,
        }))
    })
    .await
}

/// `POST /v1/session/destroy`: ends this session (with its device), or,
/// given `customSessionToken` (a tokenId), another session of the account.
pub(super) async fn destroy(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        let body = call.json()?;
        let target = match super::optional_text(&body, "customSessionToken")? {
            None => token.id_hash,
            Some(id) => {
                if !token.verified() {
                    return Err(ApiError::unverified_session());
                }
                let hash = tokens::id_hash(id);
                let other = service.store.read(|conn, sealer| {
                    tokens::find(conn, sealer, TokenKind::Session, &hash, crate::now_ms())
                })?;
                if other.is_none_or(|other| other.uid != account.uid) {
                    return Err(ApiError::invalid_token());
                }
                hash
            }
        };
        service.store.write(|tx, _| tokens::end_session(tx, &target))?;
        Ok(json!({}))
    })
    .await
}

/// `POST /v1/session/duplicate`: a second session as verified as this one
/// (application-services migrates with it).
pub(super) async fn duplicate(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        let now = crate::now_ms();
        let user_agent = call.user_agent();
        let session = service.store.write(|tx, sealer| {
            let session = issue::session(tx, sealer, &account, MustVerify::No, &user_agent, now)?;
            if let Some(method) = &token.must_verify {
                tx.exec(
                    "UPDATE fxa_tokens SET must_verify = ?2 WHERE id_hash = ?1",
                    crate::store::args![session.hash, method],
                )?;
            }
            Ok(session)
        })?;
        Ok(json!({
            "uid": account.uid,
            "sessionToken": session.token,
            "authAt": now / 1000,
            "verified": token.verified() && account.email_verified,
        }))
    })
    .await
}

/// `POST /v1/session/verify_code {code}`: confirms the session (and a new
/// account's address) with the emailed code. Five wrong codes use the code
/// up; an expired or used-up code is errno 183 until a new one is sent.
pub(super) async fn verify_code(State(service): S, call: Call) -> Answer {
    run(service, call, verify_code_now).await
}

fn verify_code_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let (token, account) = auth::session(service, call)?;
    let body = call.json()?;
    let code = text(&body, "code")?.trim().to_owned();
    if token.verified() && account.email_verified {
        return Ok(json!({}));
    }
    if token.must_verify.as_deref() != Some("email-otp") {
        // A session waiting for TOTP is confirmed with TOTP only.
        return Err(ApiError::invalid_code());
    }
    let now = crate::now_ms();
    let live = token.code_tries > 0 && token.code_expires_at.is_some_and(|at| at > now);
    let matches = live
        && token
            .code_hash
            .as_deref()
            .is_some_and(|stored| same(stored.as_bytes(), hash_hex(code.as_bytes()).as_bytes()));
    if !matches {
        // The attempt counts even though the request fails.
        service
            .store
            .write(|tx, _| tokens::spend_code_try(tx, &token.id_hash))?;
        return Err(ApiError::invalid_code());
    }
    service.store.write(|tx, _| {
        tokens::verify(tx, &token.id_hash)?;
        if !account.email_verified {
            accounts::mark_email_verified(tx, &account.uid)?;
        }
        Ok(())
    })?;
    tracing::info!(uid = %account.uid, "accounts: session confirmed by emailed code");
    Ok(json!({}))
}

/// `POST /v1/session/resend_code` (and `/recovery_email/resend_code`): a
/// new code for an unverified session, emailed.
pub(super) async fn resend_code(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (token, account) = auth::session(service, call)?;
        if token.must_verify.as_deref() != Some("email-otp") {
            return Ok(json!({}));
        }
        super::issue::throttle(service, call, "resend", Some(&account.email))?;
        let code = decimal_code(6)?;
        let code_hash = hash_hex(code.as_bytes());
        let now = crate::now_ms();
        service.store.write(|tx, _| {
            tokens::set_code(tx, &token.id_hash, &code_hash, now + CODE_LIFETIME_MS)?;
            if !account.email_verified {
                accounts::set_email_code(tx, &account.uid, &code_hash)?;
            }
            Ok(())
        })?;
        issue::send_code(
            service,
            &account,
            &code,
            !account.email_verified,
            &token.user_agent,
        );
        Ok(json!({}))
    })
    .await
}

/// `POST /v1/recovery_email/verify_code {uid, code}` (no token: the link
/// form of confirming): the account's sign-up code confirms its address,
/// and a sign-in's code that sign-in (with the sessions waiting for it).
pub(super) async fn recovery_email_verify_code(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let uid = text(&body, "uid")?.to_owned();
        let code = text(&body, "code")?.trim().to_owned();
        let account = service
            .store
            .read(|conn, _| accounts::by_uid(conn, &uid))?
            .ok_or_else(|| ApiError::unknown_account(""))?;
        // Attempts count per address and per account: the code is short.
        super::issue::throttle(service, call, "verify", Some(&account.email))?;
        let code_hash = hash_hex(code.as_bytes());
        let now = crate::now_ms();
        // The code of a sign-in waiting for it confirms that sign-in, as
        // Mozilla's verify_code does with the code it mailed (PyFxA's
        // `Session.verify_email_code` confirms sign-ins this way).
        service.store.write(|tx, _| {
            tx.exec(
                "UPDATE fxa_tokens SET must_verify = NULL, code_hash = NULL, code_expires_at = NULL
                 WHERE uid = ?1 AND kind = 'sessionToken' AND must_verify = 'email-otp'
                   AND code_hash = ?2 AND code_expires_at > ?3",
                crate::store::args![uid, code_hash, now],
            )?;
            Ok(())
        })?;
        if account.email_verified {
            return Ok(json!({}));
        }
        let matches = account
            .email_code_hash
            .as_deref()
            .is_some_and(|stored| same(stored.as_bytes(), code_hash.as_bytes()));
        if !matches {
            return Err(ApiError::invalid_verification_code());
        }
        service.store.write(|tx, _| {
            accounts::mark_email_verified(tx, &uid)?;
            tx.exec(
                "UPDATE fxa_tokens SET must_verify = NULL, code_hash = NULL
                 WHERE uid = ?1 AND kind = 'sessionToken' AND code_hash = ?2",
                crate::store::args![uid, code_hash],
            )?;
            Ok(())
        })?;
        Ok(json!({}))
    })
    .await
}
