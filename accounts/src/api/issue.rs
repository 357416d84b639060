//! What several routes hand out: sessions (with the code that verifies
//! them, emailed), key fetch tokens, and the throttling every
//! unauthenticated route goes through.

use fxa_client::crypto::bundle_keys;

use super::Call;
use crate::Service;
use crate::error::ApiError;
use crate::mail::messages;
use crate::secrets::{Sealer, decimal_code, hash_hex};
use crate::store::accounts::{self, Account};
use crate::store::tokens::{self, NewToken, TokenKind};
use crate::store::{Db, args, limits};

/// How long an emailed code is good for (Mozilla's sign-in and sign-up
/// codes: 15 minutes by default).
pub(crate) const CODE_LIFETIME_MS: u64 = 15 * 60 * 1000;

/// How a new session must be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MustVerify {
    /// Verified from the start.
    No,
    /// By a 6-digit code emailed now; `signup`: the account's address is
    /// confirmed by it too.
    EmailCode { signup: bool },
    /// By the account's TOTP code.
    Totp,
}

impl MustVerify {
    /// The `verificationMethod` clients are told.
    pub fn method(self) -> Option<&'static str> {
        match self {
            MustVerify::No => None,
            MustVerify::EmailCode { .. } => Some("email-otp"),
            MustVerify::Totp => Some("totp-2fa"),
        }
    }
}

/// A new session and what came with it.
pub(crate) struct NewSession {
    /// The token, hex, for the client.
    pub token: String,
    pub hash: String,
    /// The code emailed, to send once the transaction commits.
    pub code: Option<String>,
}

/// Creates a session of `account`.
pub(crate) fn session(
    tx: &Db<'_>,
    sealer: &Sealer,
    account: &Account,
    must_verify: MustVerify,
    user_agent: &str,
    now: u64,
) -> Result<NewSession, ApiError> {
    let code = match must_verify {
        MustVerify::EmailCode { .. } => Some(decimal_code(6)?),
        _ => None,
    };
    let code_hash = code.as_deref().map(|c| hash_hex(c.as_bytes()));
    let (token, _, hash) = tokens::issue(
        tx,
        sealer,
        TokenKind::Session,
        &account.uid,
        now,
        &NewToken {
            must_verify: must_verify.method(),
            code_hash: code_hash.as_deref(),
            code_expires_at: code.as_ref().map(|_| now + CODE_LIFETIME_MS),
            user_agent,
            ..Default::default()
        },
    )?;
    if let (MustVerify::EmailCode { signup: true }, Some(code_hash)) = (must_verify, &code_hash) {
        accounts::set_email_code(tx, &account.uid, code_hash)?;
    }
    Ok(NewSession { token, hash, code })
}

/// Emails a session's code (after the transaction that made it commits).
pub(crate) fn send_code(service: &Service, account: &Account, code: &str, signup: bool, user_agent: &str) {
    let from = &service.config.email.from;
    let mail = if signup {
        messages::confirm_account(from, &account.email, code)
    } else {
        messages::confirm_sign_in(from, &account.email, code, device_name(user_agent))
    };
    service.send_mail(&mail);
}

/// A short description of the signing-in device, from its user agent.
pub(crate) fn device_name(user_agent: &str) -> &str {
    if user_agent.is_empty() {
        "an unknown device"
    } else {
        user_agent
    }
}

/// A key fetch token for `/account/keys`: the bundle of kA and the
/// client's wrapKb, encrypted to the token's keyRequestKey now, so only
/// the token's holder can read it.
pub(crate) fn key_fetch(
    tx: &Db<'_>,
    sealer: &Sealer,
    account: &Account,
    wrap_kb: &[u8; 32],
    session_hash: &str,
    now: u64,
) -> Result<String, ApiError> {
    let ka = sealer.open32(&accounts::ka_label(&account.uid), &account.sealed_ka)?;
    // The bundle is made under the token's own keyRequestKey, which only
    // exists once the token does: issue first, then store the bundle.
    let (token, credentials, hash) = tokens::issue(
        tx,
        sealer,
        TokenKind::KeyFetch,
        &account.uid,
        now,
        &NewToken {
            session_hash: Some(session_hash),
            ..Default::default()
        },
    )?;
    let bundle = bundle_keys(&credentials.extra, &ka, wrap_kb);
    tx.exec(
        "UPDATE fxa_tokens SET key_bundle = ?2 WHERE id_hash = ?1",
        args![&hash, &bundle[..]],
    )?;
    Ok(token)
}

/// One key fetch token per stretching the client proved (create, password
/// change, reset), each bundling the wrapKb that stretching unwraps — both
/// give the same kB: V1's, and V2's when there is a V2 wrapKb.
pub(crate) fn key_fetches(
    tx: &Db<'_>,
    sealer: &Sealer,
    account: &Account,
    v1_wrap: &[u8; 32],
    v2_wrap: Option<&[u8; 32]>,
    session_hash: &str,
    now: u64,
) -> Result<(String, Option<String>), ApiError> {
    let v1 = key_fetch(tx, sealer, account, v1_wrap, session_hash, now)?;
    let v2 = v2_wrap
        .map(|wrap| key_fetch(tx, sealer, account, wrap, session_hash, now))
        .transpose()?;
    Ok((v1, v2))
}

/// Counts a request against the client's address and, when given, the
/// account's address: errno 114 past `rate_limit` in the window.
pub(crate) fn throttle(
    service: &Service,
    call: &Call,
    action: &str,
    email: Option<&str>,
) -> Result<(), ApiError> {
    let now = crate::now_ms();
    let window = service.config.rate_window_secs * 1000;
    let limit = service.config.rate_limit;
    let ip_key = format!("{action} ip {}", call.client_ip(service));
    let email_key = email.map(|e| format!("{action} email {}", accounts::normalize(e)));
    // Counted in a transaction of their own: a refused request still counts.
    service.store.write(|tx, _| {
        let by_ip = limits::count(tx, &ip_key, limit, window, now);
        let by_email = match &email_key {
            Some(key) => limits::count(tx, key, limit, window, now),
            None => Ok(()),
        };
        Ok(by_ip.and(by_email))
    })?
}
