//! Credentials on requests, in the schemes the auth server accepts:
//!
//! - **Hawk** with a token's id and key (`Authorization: Hawk id=…`), the
//!   request's host and port being the service's public URL (behind a
//!   proxy the `Host` header may not be what the client signed). A payload
//!   hash, when the client sends one (Firefox and our client do), must
//!   match the body. A timestamp more than a minute off is errno 111 with
//!   `serverTime`, so the client can correct its clock and retry.
//! - **Bearer** `<prefix>_<tokenId>` (fxa-auth-client's `bearer.ts`,
//!   application-services' `derive_bearer_token_from_session_token`).
//! - **Bearer** `<refresh token>` on the device routes (what
//!   application-services sends there).
//!
//! The auth server keeps no Hawk nonces and neither does this service:
//! every token-authenticated request either is idempotent or uses up what
//! it acts on (a key fetch, a password change token, a code).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::header;

use super::Call;
use crate::Service;
use crate::error::ApiError;
use crate::store::accounts::{self, Account};
use crate::store::devices::Owner;
use crate::store::oauth::{self, RefreshToken};
use crate::store::tokens::{self, Token, TokenKind};

/// How far a Hawk timestamp may be from the server's clock.
const HAWK_SKEW: Duration = Duration::from_secs(60);

enum Presented<'a> {
    Hawk(hawk::Header),
    /// A tokenId from `Bearer <prefix>_<id>`.
    TokenId(&'a str),
    /// Any other bearer value (a refresh token, on the routes that take one).
    Other(&'a str),
}

fn presented(call: &Call) -> Result<Presented<'_>, ApiError> {
    let value = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::invalid_token)?;
    if let Some(hawk) = value.strip_prefix("Hawk ") {
        let header = hawk
            .parse::<hawk::Header>()
            .map_err(|_| ApiError::invalid_signature())?;
        return Ok(Presented::Hawk(header));
    }
    let bearer = value
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::invalid_token)?
        .trim();
    Ok(match bearer.split_once('_') {
        Some((prefix, id)) if prefix.starts_with("fx") && is_hex64(id) => Presented::TokenId(id),
        Some((prefix, _)) if prefix.starts_with("fx") => return Err(ApiError::invalid_token()),
        _ => Presented::Other(bearer),
    })
}

fn is_hex64(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn bearer_kind(call: &Call) -> Option<&str> {
    call.headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|v| v.split_once('_'))
        .map(|(prefix, _)| prefix)
}

/// The live token of `kind` the request is made with.
pub(crate) fn token(service: &Service, call: &Call, kind: TokenKind) -> Result<Token, ApiError> {
    let now = crate::now_ms();
    match presented(call)? {
        Presented::Hawk(header) => {
            let id = header.id.clone().ok_or_else(ApiError::invalid_token)?;
            if !is_hex64(&id) {
                return Err(ApiError::invalid_token());
            }
            let token = find(service, kind, &id, now)?;
            check_hawk(service, call, &header, &token.hmac_key)?;
            Ok(token)
        }
        Presented::TokenId(id) => {
            if bearer_kind(call) != Some(kind.bearer_prefix()) {
                return Err(ApiError::invalid_token());
            }
            find(service, kind, id, now)
        }
        Presented::Other(_) => Err(ApiError::invalid_token()),
    }
}

fn find(service: &Service, kind: TokenKind, id: &str, now: u64) -> Result<Token, ApiError> {
    let hash = tokens::id_hash(id);
    service
        .store
        .read(|conn, sealer| tokens::find(conn, sealer, kind, &hash, now))?
        .ok_or_else(ApiError::invalid_token)
}

fn check_hawk(
    service: &Service,
    call: &Call,
    header: &hawk::Header,
    hmac_key: &[u8; 32],
) -> Result<(), ApiError> {
    let ts = header.ts.ok_or_else(ApiError::invalid_signature)?;
    let now = SystemTime::now();
    let off = ts
        .duration_since(now)
        .or_else(|_| now.duration_since(ts))
        .unwrap_or(Duration::MAX);
    if off > HAWK_SKEW {
        return Err(ApiError::invalid_timestamp());
    }
    let key = hawk::Key::new(hmac_key, hawk::DigestAlgorithm::Sha256).map_err(|_| ApiError::unexpected())?;
    if let Some(claimed) = header.hash.as_deref() {
        let content_type = call
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let actual =
            hawk::PayloadHasher::hash(content_type.as_bytes(), hawk::DigestAlgorithm::Sha256, &call.body)
                .map_err(|_| ApiError::unexpected())?;
        if !crate::password::same(&actual, claimed) {
            return Err(ApiError::invalid_signature());
        }
    }
    let path = call.uri.path_and_query().map_or("/", |p| p.as_str());
    let valid = hawk::RequestBuilder::new(call.method.as_str(), &service.hawk_host, service.hawk_port, path)
        .hash(header.hash.as_deref())
        .request()
        .validate_header(header, &key, HAWK_SKEW);
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_signature())
    }
}

/// The session the request is made with, verified or not, and its account.
pub(crate) fn session(service: &Service, call: &Call) -> Result<(Token, Account), ApiError> {
    let token = token(service, call, TokenKind::Session)?;
    let account = service.store.read(|conn, _| accounts::live(conn, &token.uid))?;
    let now = crate::now_ms();
    // A write transaction only when there is something to record.
    if token.needs_touch(now) {
        service
            .store
            .write(|tx, _| tokens::touch(tx, &token.id_hash, now))?;
    }
    Ok((token, account))
}

/// A verified session of a verified account: errno 138 otherwise (as the
/// auth server's `sessionToken` strategy with `mustVerify`).
pub(crate) fn verified_session(service: &Service, call: &Call) -> Result<(Token, Account), ApiError> {
    let (token, account) = session(service, call)?;
    if !token.verified() || !account.email_verified {
        return Err(ApiError::unverified_session());
    }
    Ok((token, account))
}

/// The credential of a device route: a verified session, or a refresh
/// token (application-services); the device owner it names and the account.
pub(crate) fn device_owner(service: &Service, call: &Call) -> Result<(Owner, Account), ApiError> {
    if let Presented::Other(value) = presented(call)? {
        let refresh = refresh_token(service, value)?;
        let account = service.store.read(|conn, _| accounts::live(conn, &refresh.uid))?;
        return Ok((Owner::Refresh(refresh.hash), account));
    }
    let (token, account) = verified_session(service, call)?;
    Ok((Owner::Session(token.id_hash), account))
}

/// A live refresh token, by its value.
pub(crate) fn refresh_token(service: &Service, value: &str) -> Result<RefreshToken, ApiError> {
    let now = crate::now_ms();
    let refresh = service
        .store
        .read(|conn, _| oauth::find_refresh(conn, value))?
        .ok_or_else(ApiError::invalid_token)?;
    service
        .store
        .write(|tx, _| oauth::touch_refresh(tx, &refresh.hash, now))?;
    Ok(refresh)
}

/// Seconds since the epoch, for answers that carry them.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
