//! OAuth state: refresh tokens and authorization codes (kept as hashes),
//! revoked access tokens, and the keys access tokens are signed with.

use super::{Db, args};

use crate::error::ApiError;
use crate::secrets::hash_hex;

/// A refresh token, found by its hash.
#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub hash: String,
    pub uid: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: u64,
    pub last_used_at: u64,
}

pub(crate) fn insert_refresh(
    db: &Db<'_>,
    token: &str,
    uid: &str,
    client_id: &str,
    scope: &str,
    now: u64,
) -> Result<String, ApiError> {
    let hash = hash_hex(token.as_bytes());
    db.exec(
        "INSERT INTO fxa_refresh_tokens (token_hash, uid, client_id, scope, created_at, last_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        args![hash, uid, client_id, scope, now],
    )?;
    Ok(hash)
}

/// The refresh token `token` (as the client holds it), if live.
pub(crate) fn find_refresh(db: &Db<'_>, token: &str) -> Result<Option<RefreshToken>, ApiError> {
    let hash = hash_hex(token.as_bytes());
    db.row(
        "SELECT uid, client_id, scope, created_at, last_used_at FROM fxa_refresh_tokens
         WHERE token_hash = ?1",
        args![&hash],
        |row| {
            Ok(RefreshToken {
                hash: hash.clone(),
                uid: row.get(0)?,
                client_id: row.get(1)?,
                scope: row.get(2)?,
                created_at: row.get(3)?,
                last_used_at: row.get(4)?,
            })
        },
    )
}

pub(crate) fn touch_refresh(db: &Db<'_>, hash: &str, now: u64) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_refresh_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
        args![hash, now],
    )?;
    Ok(())
}

/// Deletes a refresh token and the device registered with it.
pub(crate) fn delete_refresh(db: &Db<'_>, hash: &str) -> Result<bool, ApiError> {
    db.exec("DELETE FROM fxa_devices WHERE refresh_hash = ?1", args![hash])?;
    Ok(db.exec(
        "DELETE FROM fxa_refresh_tokens WHERE token_hash = ?1",
        args![hash],
    )? == 1)
}

/// The account's refresh tokens (attached clients).
pub(crate) fn refresh_tokens(db: &Db<'_>, uid: &str) -> Result<Vec<RefreshToken>, ApiError> {
    db.rows(
        "SELECT token_hash, uid, client_id, scope, created_at, last_used_at FROM fxa_refresh_tokens
         WHERE uid = ?1 ORDER BY created_at",
        args![uid],
        |row| {
            Ok(RefreshToken {
                hash: row.get(0)?,
                uid: row.get(1)?,
                client_id: row.get(2)?,
                scope: row.get(3)?,
                created_at: row.get(4)?,
                last_used_at: row.get(5)?,
            })
        },
    )
}

/// Ends every refresh token of the account (a password reset, an account
/// disabled), with the devices registered by them.
pub(crate) fn delete_all_refresh(db: &Db<'_>, uid: &str) -> Result<(), ApiError> {
    db.exec(
        "DELETE FROM fxa_devices WHERE uid = ?1 AND refresh_hash IS NOT NULL",
        args![uid],
    )?;
    db.exec("DELETE FROM fxa_refresh_tokens WHERE uid = ?1", args![uid])?;
    Ok(())
}

/// An authorization code waiting for its token request.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub uid: String,
    pub client_id: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub keys_jwe: Option<String>,
    pub session_hash: Option<String>,
    pub access_type: String,
    pub auth_at: u64,
}

pub(crate) fn insert_code(
    db: &Db<'_>,
    code: &str,
    grant: &AuthCode,
    expires_at: u64,
) -> Result<(), ApiError> {
    db.exec(
        "INSERT INTO fxa_auth_codes (code_hash, uid, client_id, scope, code_challenge, keys_jwe,
             session_hash, access_type, auth_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        args![
            hash_hex(code.as_bytes()),
            grant.uid,
            grant.client_id,
            grant.scope,
            grant.code_challenge,
            grant.keys_jwe,
            grant.session_hash,
            grant.access_type,
            grant.auth_at,
            expires_at,
        ],
    )?;
    Ok(())
}

/// Takes (single use) the unexpired code.
pub(crate) fn take_code(db: &Db<'_>, code: &str, now: u64) -> Result<Option<AuthCode>, ApiError> {
    let hash = hash_hex(code.as_bytes());
    let grant = db.row(
        "DELETE FROM fxa_auth_codes WHERE code_hash = ?1
             RETURNING uid, client_id, scope, code_challenge, keys_jwe, session_hash, access_type,
                       auth_at, expires_at",
        args![&hash],
        |row| {
            Ok((
                AuthCode {
                    uid: row.get(0)?,
                    client_id: row.get(1)?,
                    scope: row.get(2)?,
                    code_challenge: row.get(3)?,
                    keys_jwe: row.get(4)?,
                    session_hash: row.get(5)?,
                    access_type: row.get(6)?,
                    auth_at: row.get(7)?,
                },
                row.get::<u64>(8)?,
            ))
        },
    )?;
    Ok(grant
        .filter(|(_, expires_at)| *expires_at > now)
        .map(|(grant, _)| grant))
}

/// Records an access token revoked before it expires.
pub(crate) fn revoke_jti(db: &Db<'_>, jti: &str, expires_at: u64) -> Result<(), ApiError> {
    db.exec(
        "INSERT INTO fxa_revoked (jti, expires_at) VALUES (?1, ?2) ON CONFLICT (jti) DO NOTHING",
        args![jti, expires_at],
    )?;
    Ok(())
}

pub(crate) fn is_revoked(db: &Db<'_>, jti: &str) -> Result<bool, ApiError> {
    Ok(db
        .row("SELECT 1 FROM fxa_revoked WHERE jti = ?1", args![jti], |_| Ok(()))?
        .is_some())
}

/// Drops what has expired on its own.
pub(crate) fn purge_expired(db: &Db<'_>, now: u64) -> Result<(), ApiError> {
    db.exec("DELETE FROM fxa_revoked WHERE expires_at <= ?1", args![now])?;
    db.exec("DELETE FROM fxa_auth_codes WHERE expires_at <= ?1", args![now])?;
    Ok(())
}

/// A signing key as stored.
pub(crate) struct StoredKey {
    pub kid: String,
    pub created_at: u64,
    pub sealed_der: Vec<u8>,
    pub n: String,
    pub e: String,
}

/// The signing keys, newest first.
pub(crate) fn signing_keys(db: &Db<'_>) -> Result<Vec<StoredKey>, ApiError> {
    db.rows(
        "SELECT kid, created_at, sealed_der, n, e FROM fxa_signing_keys ORDER BY created_at DESC, kid",
        args![],
        |row| {
            Ok(StoredKey {
                kid: row.get(0)?,
                created_at: row.get(1)?,
                sealed_der: row.get(2)?,
                n: row.get(3)?,
                e: row.get(4)?,
            })
        },
    )
}

pub(crate) fn insert_signing_key(db: &Db<'_>, key: &StoredKey) -> Result<(), ApiError> {
    db.exec(
        "INSERT INTO fxa_signing_keys (kid, created_at, sealed_der, n, e) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![key.kid, key.created_at, key.sealed_der, key.n, key.e],
    )?;
    Ok(())
}

/// Keeps only the two newest keys (primary and secondary).
pub(crate) fn retire_old_keys(db: &Db<'_>) -> Result<(), ApiError> {
    db.exec(
        "DELETE FROM fxa_signing_keys WHERE kid NOT IN
             (SELECT kid FROM fxa_signing_keys ORDER BY created_at DESC, kid LIMIT 2)",
        args![],
    )?;
    Ok(())
}
