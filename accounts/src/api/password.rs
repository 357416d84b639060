//! Changing and resetting the password (`routes/password.ts` of the auth
//! server).
//!
//! - **Change** keeps kB: `/password/change/start` checks the old authPW
//!   and hands out key fetch tokens (so the client can read wrapKb and so
//!   kB) and a passwordChangeToken; `/password/change/finish` stores the
//!   new verifier with the client's re-wrapped kB. Every other session,
//!   device and refresh token ends, and the caller gets a new session —
//!   unless the change only moves the same password to V2 stretching (an
//!   upgrade), which ends nothing.
//! - **Reset** (forgotten password) loses kB: a code emailed to the
//!   address (`/password/forgot/send_otp`, `verify_otp`) leads to a
//!   passwordForgotToken, then an accountResetToken
//!   (`/password/forgot/verify_code`), with which `/account/reset` sets
//!   the new password and a new kB. `keysChangedAt` moves, so the token
//!   server gives Sync clients a fresh storage, and they upload again what
//!   they hold.
//!
//! One deliberate difference: Mozilla's `change/start` takes the password
//! alone. When sign-ins must be confirmed, this service also wants a
//! verified session of the account there, or the password alone would
//! fetch keys past the confirmation a sign-in needs.

use axum::extract::State;
use serde_json::{Value, json};

use super::account::{check_password, credentials, v2_fields};
use super::issue::{self, MustVerify};
use super::{Answer, Call, S, auth, email, hex32, optional_hex32, run, text};
use crate::Service;
use crate::error::ApiError;
use crate::mail::messages;
use crate::password::same;
use crate::secrets::{decimal_code, hash_hex, random};
use crate::store::accounts::{self, Account};
use crate::store::tokens::{self, NewToken, TokenKind};
use crate::store::{limits, oauth};

/// Attempts a reset code gets.
const RESET_CODE_TRIES: u32 = 5;

/// `POST /v1/password/change/start {email, oldAuthPW}`.
pub(super) async fn change_start(State(service): S, call: Call) -> Answer {
    run(service, call, change_start_now).await
}

fn change_start_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let body = call.json()?;
    let email = email(&body)?.to_owned();
    let old_auth_pw = hex32(&body, "oldAuthPW")?;
    issue::throttle(service, call, "password", Some(&email))?;
    let account = service
        .store
        .read(|conn, _| accounts::by_email(conn, &email))?
        .ok_or_else(|| ApiError::unknown_account(&email))?;
    if account.disabled_at.is_some() {
        return Err(ApiError::cannot_sign_in());
    }
    let session = if call.headers.contains_key(axum::http::header::AUTHORIZATION) {
        let (token, session_account) = auth::verified_session(service, call)?;
        if session_account.uid != account.uid {
            return Err(ApiError::invalid_token());
        }
        Some(token)
    } else if service.config.confirm_sign_ins {
        return Err(ApiError::invalid_token());
    } else {
        None
    };
    let Some((is_v2, wrap_kb)) = check_password(service, &account, &old_auth_pw)? else {
        return Err(ApiError::incorrect_password(&account.email, &email));
    };
    let now = crate::now_ms();
    let (key_fetch, change) = service.store.write(|tx, sealer| {
        // Without a session, the key fetch hangs off a verified session
        // made for it and ended with the change.
        let session_hash = match &session {
            Some(token) => token.id_hash.clone(),
            None => issue::session(tx, sealer, &account, MustVerify::No, "", now)?.hash,
        };
        let key_fetch = issue::key_fetch(tx, sealer, &account, &wrap_kb, &session_hash, now)?;
        let (change, _, _) = tokens::issue(
            tx,
            sealer,
            TokenKind::PasswordChange,
            &account.uid,
            now,
            &NewToken {
                session_hash: Some(&session_hash),
                ..Default::default()
            },
        )?;
        Ok((key_fetch, change))
    })?;
    let mut answer = json!({ "passwordChangeToken": change, "verified": account.email_verified });
    answer[if is_v2 { "keyFetchToken2" } else { "keyFetchToken" }] = json!(key_fetch);
    Ok(answer)
}

/// `POST /v1/password/change/finish`, Hawk-signed with the
/// passwordChangeToken: `{authPW, wrapKb, [authPWVersion2, wrapKbVersion2,
/// clientSalt], [sessionToken]}`.
pub(super) async fn change_finish(State(service): S, call: Call) -> Answer {
    run(service, call, change_finish_now).await
}

fn change_finish_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let change = auth::token(service, call, TokenKind::PasswordChange)?;
    let account = service.store.read(|conn, _| accounts::live(conn, &change.uid))?;
    let body = call.json()?;
    let auth_pw = hex32(&body, "authPW")?;
    let wrap_kb = hex32(&body, "wrapKb")?;
    let v2 = v2_fields(&body)?;
    let caller = super::optional_text(&body, "sessionToken")?.map(tokens::id_hash);
    // The same password moving to V2 stretching: nothing ends.
    let upgrade =
        v2.is_some() && account.v2.is_none() && check_password(service, &account, &auth_pw)?.is_some();
    let (new_credentials, _) = credentials(service, &auth_pw, Some(wrap_kb), v2.clone())?;
    let now = crate::now_ms();
    let user_agent = call.user_agent();
    let wants_keys = call.wants_keys();
    let caller_verified = match &caller {
        Some(hash) => service
            .store
            .read(|conn, sealer| tokens::find(conn, sealer, TokenKind::Session, hash, now))?
            .filter(|s| s.uid == account.uid)
            .map(|s| s.verified()),
        None => None,
    };
    let answer = service.store.write(|tx, sealer| {
        if !tokens::delete(tx, &change.id_hash)? {
            return Err(ApiError::invalid_token());
        }
        accounts::set_credentials(tx, &account.uid, &new_credentials, false, now)?;
        if !upgrade {
            tokens::end_all(tx, &account.uid, None)?;
            oauth::delete_all_refresh(tx, &account.uid)?;
        }
        let Some(verified) = caller_verified else {
            return Ok(json!({}));
        };
        let account = accounts::live(tx, &account.uid)?;
        let must_verify = if verified {
            MustVerify::No
        } else {
            MustVerify::EmailCode { signup: false }
        };
        let session = issue::session(tx, sealer, &account, must_verify, &user_agent, now)?;
        let mut answer = json!({
            "uid": account.uid,
            "sessionToken": session.token,
            "verified": verified && account.email_verified,
            "authAt": now / 1000,
        });
        if wants_keys {
            let v2_wrap = v2.as_ref().map(|v2| &v2.wrap_kb);
            let (v1, v2) = issue::key_fetches(tx, sealer, &account, &wrap_kb, v2_wrap, &session.hash, now)?;
            answer["keyFetchToken"] = json!(v1);
            if let Some(v2) = v2 {
                answer["keyFetchToken2"] = json!(v2);
            }
        }
        Ok(answer)
    })?;
    if !upgrade {
        service.announce(crate::AccountEvent::PasswordChanged {
            uid: account.uid.clone(),
            generation: now,
        });
        service.send_mail(&messages::password_changed(
            &service.config.email.from,
            &account.email,
            false,
        ));
        tracing::info!(uid = %account.uid, "accounts: password changed");
    }
    Ok(answer)
}

/// `POST /v1/password/forgot/send_otp {email}`: emails an 8-digit code
/// (Mozilla's `passwordForgotOtp`). An unknown address is errno 102, as
/// the auth server answers.
pub(super) async fn forgot_send_otp(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        issue::throttle(service, call, "forgot", Some(&email))?;
        let account = known(service, &email)?;
        let code = decimal_code(8)?;
        let now = crate::now_ms();
        let code_hash = hash_hex(code.as_bytes());
        service.store.write(|tx, _| {
            limits::set_reset_code(
                tx,
                &account.uid,
                &code_hash,
                now + issue::CODE_LIFETIME_MS,
                RESET_CODE_TRIES,
            )
        })?;
        service.send_mail(&messages::reset_password(
            &service.config.email.from,
            &account.email,
            &code,
        ));
        Ok(json!({}))
    })
    .await
}

fn known(service: &Service, email: &str) -> Result<Account, ApiError> {
    let account = service
        .store
        .read(|conn, _| accounts::by_email(conn, email))?
        .ok_or_else(|| ApiError::unknown_account(email))?;
    if account.disabled_at.is_some() {
        return Err(ApiError::cannot_sign_in());
    }
    Ok(account)
}

/// `POST /v1/password/forgot/verify_otp {email, code}`: the emailed code
/// for a passwordForgotToken and the code that redeems it: `{code,
/// emailToHashWith, token, uid}`.
pub(super) async fn forgot_verify_otp(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        let code = text(&body, "code")?.trim().to_owned();
        issue::throttle(service, call, "forgot", Some(&email))?;
        let account = known(service, &email)?;
        let now = crate::now_ms();
        let code_hash = hash_hex(code.as_bytes());
        // Checked in a transaction of its own: a wrong code's attempt counts.
        let right = service
            .store
            .write(|tx, _| limits::check_reset_code(tx, &account.uid, &code_hash, now))?;
        if !right {
            return Err(ApiError::invalid_code());
        }
        let redeem = hex::encode(random::<16>()?);
        let redeem_hash = hash_hex(redeem.as_bytes());
        let (token, _, _) = service.store.write(|tx, sealer| {
            tokens::issue(
                tx,
                sealer,
                TokenKind::PasswordForgot,
                &account.uid,
                now,
                &NewToken {
                    code_hash: Some(&redeem_hash),
                    ..Default::default()
                },
            )
        })?;
        Ok(json!({
            "code": redeem,
            "emailToHashWith": account.email,
            "token": token,
            "uid": account.uid,
        }))
    })
    .await
}

/// `POST /v1/password/forgot/verify_code {code}`, signed with the
/// passwordForgotToken: `{accountResetToken}`.
pub(super) async fn forgot_verify_code(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let forgot = auth::token(service, call, TokenKind::PasswordForgot)?;
        let body = call.json()?;
        let code = text(&body, "code")?.trim().to_owned();
        let matches = forgot
            .code_hash
            .as_deref()
            .is_some_and(|stored| same(stored.as_bytes(), hash_hex(code.as_bytes()).as_bytes()));
        if !matches {
            let left = service
                .store
                .write(|tx, _| tokens::spend_code_try(tx, &forgot.id_hash))?;
            if left == 0 {
                service.store.write(|tx, _| tokens::delete(tx, &forgot.id_hash))?;
            }
            return Err(ApiError::invalid_verification_code());
        }
        let now = crate::now_ms();
        let reset = service.store.write(|tx, sealer| {
            if !tokens::delete(tx, &forgot.id_hash)? {
                return Err(ApiError::invalid_token());
            }
            let (reset, _, _) = tokens::issue(
                tx,
                sealer,
                TokenKind::AccountReset,
                &forgot.uid,
                now,
                &NewToken::default(),
            )?;
            Ok(reset)
        })?;
        Ok(json!({ "accountResetToken": reset }))
    })
    .await
}

/// `POST /v1/account/reset[?keys=true]`, signed with the
/// accountResetToken: `{authPW, [wrapKb], [authPWVersion2, wrapKbVersion2,
/// clientSalt], [sessionToken: true]}`. A new kB (the client's, through
/// `wrapKb`, or a random one); every session, device and OAuth token of
/// the account ends.
pub(super) async fn reset(State(service): S, call: Call) -> Answer {
    run(service, call, reset_now).await
}

fn reset_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let reset = auth::token(service, call, TokenKind::AccountReset)?;
    let body = call.json()?;
    let auth_pw = hex32(&body, "authPW")?;
    let wrap_kb = optional_hex32(&body, "wrapKb")?;
    let v2 = v2_fields(&body)?;
    if v2.is_some() && wrap_kb.is_none() {
        return Err(ApiError::missing_parameter("wrapKb"));
    }
    let wants_session = body.get("sessionToken").and_then(Value::as_bool).unwrap_or(false);
    let (new_credentials, v1_wrap) = credentials(service, &auth_pw, wrap_kb, v2.clone())?;
    let now = crate::now_ms();
    let user_agent = call.user_agent();
    let wants_keys = call.wants_keys();
    let (account, answer) = service.store.write(|tx, sealer| {
        if !tokens::delete(tx, &reset.id_hash)? {
            return Err(ApiError::invalid_token());
        }
        accounts::set_credentials(tx, &reset.uid, &new_credentials, true, now)?;
        // They proved they read mail sent to the address.
        accounts::mark_email_verified(tx, &reset.uid)?;
        tokens::end_all(tx, &reset.uid, None)?;
        oauth::delete_all_refresh(tx, &reset.uid)?;
        tx.exec(
            "DELETE FROM fxa_devices WHERE uid = ?1",
            crate::store::args![&reset.uid],
        )?;
        let account = accounts::live(tx, &reset.uid)?;
        let mut answer = json!({ "uid": account.uid, "verified": true, "authAt": now / 1000 });
        if wants_session {
            let session = issue::session(tx, sealer, &account, MustVerify::No, &user_agent, now)?;
            answer["sessionToken"] = json!(session.token);
            if wants_keys {
                let v2_wrap = v2.as_ref().map(|v2| &v2.wrap_kb);
                let (v1, v2) =
                    issue::key_fetches(tx, sealer, &account, &v1_wrap, v2_wrap, &session.hash, now)?;
                answer["keyFetchToken"] = json!(v1);
                if let Some(v2) = v2 {
                    answer["keyFetchToken2"] = json!(v2);
                }
            }
        }
        Ok((account, answer))
    })?;
    service.announce(crate::AccountEvent::PasswordChanged {
        uid: account.uid.clone(),
        generation: now,
    });
    service.send_mail(&messages::password_changed(
        &service.config.email.from,
        &account.email,
        true,
    ));
    tracing::info!(uid = %account.uid, "accounts: password reset; keys changed");
    Ok(answer)
}
