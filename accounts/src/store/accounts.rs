//! Account rows: who someone is, and what proves their password.

use super::sql::Row;
use super::{Db, args};

use super::bytes32;
use crate::error::ApiError;
use crate::secrets::Sealer;

/// What the account keeps of its password, for one stretching version.
#[derive(Clone)]
pub(crate) struct Verifier {
    pub verify_hash: [u8; 32],
    pub wrap_wrap_kb: [u8; 32],
}

/// The V2 stretching's verifier, with the salt the client stretches with.
#[derive(Clone)]
pub(crate) struct V2Verifier {
    pub client_salt: String,
    pub verifier: Verifier,
}

/// An account, as read from its row.
#[derive(Clone)]
pub(crate) struct Account {
    pub uid: String,
    pub email: String,
    pub email_verified: bool,
    pub created_at: u64,
    pub auth_salt: [u8; 32],
    pub v1: Verifier,
    pub v2: Option<V2Verifier>,
    pub sealed_ka: Vec<u8>,
    pub verifier_set_at: u64,
    pub keys_changed_at: u64,
    pub email_code_hash: Option<String>,
    pub sealed_totp: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub display_name: Option<String>,
    pub locale: String,
    pub disabled_at: Option<u64>,
}

/// A new account's password material, as `/account/create` or a reset
/// computes it.
pub(crate) struct Credentials {
    pub auth_salt: [u8; 32],
    pub v1: Verifier,
    pub v2: Option<V2Verifier>,
}

const COLUMNS: &str = "uid, email, email_verified, created_at, auth_salt, verify_hash, wrap_wrap_kb,
    client_salt, verify_hash_v2, wrap_wrap_kb_v2, sealed_ka, verifier_set_at, keys_changed_at,
    email_code_hash, sealed_totp, totp_enabled, display_name, locale, disabled_at";

fn from_row(row: &Row<'_>) -> Result<Account, ApiError> {
    let v2 = match (
        row.get::<Option<String>>(7)?,
        row.get::<Option<Vec<u8>>>(8)?,
        row.get::<Option<Vec<u8>>>(9)?,
    ) {
        (Some(client_salt), Some(verify_hash), Some(wrap)) => Some(V2Verifier {
            client_salt,
            verifier: Verifier {
                verify_hash: bytes32(verify_hash, "verify_hash_v2")?,
                wrap_wrap_kb: bytes32(wrap, "wrap_wrap_kb_v2")?,
            },
        }),
        _ => None,
    };
    Ok(Account {
        uid: row.get(0)?,
        email: row.get(1)?,
        email_verified: row.get(2)?,
        created_at: row.get(3)?,
        auth_salt: bytes32(row.get(4)?, "auth_salt")?,
        v1: Verifier {
            verify_hash: bytes32(row.get(5)?, "verify_hash")?,
            wrap_wrap_kb: bytes32(row.get(6)?, "wrap_wrap_kb")?,
        },
        v2,
        sealed_ka: row.get(10)?,
        verifier_set_at: row.get(11)?,
        keys_changed_at: row.get(12)?,
        email_code_hash: row.get(13)?,
        sealed_totp: row.get(14)?,
        totp_enabled: row.get(15)?,
        display_name: row.get(16)?,
        locale: row.get(17)?,
        disabled_at: row.get(18)?,
    })
}

/// The form an address is looked up by (Mozilla's `normalizedEmail`).
pub(crate) fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

pub(crate) fn by_email(db: &Db<'_>, email: &str) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_accounts WHERE normalized_email = ?1");
    db.row(&sql, args![&normalize(email)], from_row)
}

pub(crate) fn by_uid(db: &Db<'_>, uid: &str) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_accounts WHERE uid = ?1");
    db.row(&sql, args![uid], from_row)
}

/// The account a token speaks for; a token of a deleted or disabled
/// account is no token at all.
pub(crate) fn live(db: &Db<'_>, uid: &str) -> Result<Account, ApiError> {
    match by_uid(db, uid)? {
        Some(account) if account.disabled_at.is_none() => Ok(account),
        _ => Err(ApiError::invalid_token()),
    }
}

/// Every account, oldest first (for the admin command).
pub(crate) fn all(db: &Db<'_>) -> Result<Vec<Account>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_accounts ORDER BY created_at, uid");
    db.rows(&sql, args![], from_row)
}

/// A row to insert.
pub(crate) struct NewAccount<'a> {
    pub uid: &'a str,
    pub email: &'a str,
    pub credentials: &'a Credentials,
    pub ka: &'a [u8; 32],
    /// The code that verifies the address (hashed); `None`: verified.
    pub email_code_hash: Option<&'a str>,
    pub now: u64,
}

/// Inserts a new account; errno 101 if the address is taken.
pub(crate) fn insert(db: &Db<'_>, sealer: &Sealer, new: &NewAccount<'_>) -> Result<(), ApiError> {
    let NewAccount {
        uid,
        email,
        credentials,
        ka,
        email_code_hash,
        now,
    } = *new;
    if by_email(db, email)?.is_some() {
        return Err(ApiError::account_exists(email));
    }
    let sealed_ka = sealer.seal(&ka_label(uid), ka)?;
    let (client_salt, hash2, wrap2) = v2_columns(&credentials.v2);
    db.exec(
        "INSERT INTO fxa_accounts (uid, email, normalized_email, email_verified, created_at,
             auth_salt, verify_hash, wrap_wrap_kb, client_salt, verify_hash_v2, wrap_wrap_kb_v2,
             sealed_ka, verifier_set_at, keys_changed_at, email_code_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?5, ?5, ?13)",
        args![
            uid,
            email,
            &normalize(email),
            email_code_hash.is_none(),
            now,
            &credentials.auth_salt,
            &credentials.v1.verify_hash,
            &credentials.v1.wrap_wrap_kb,
            client_salt,
            hash2,
            wrap2,
            &sealed_ka,
            email_code_hash,
        ],
    )?;
    Ok(())
}

fn v2_columns(v2: &Option<V2Verifier>) -> (Option<&str>, Option<&[u8]>, Option<&[u8]>) {
    match v2 {
        Some(v2) => (
            Some(v2.client_salt.as_str()),
            Some(&v2.verifier.verify_hash[..]),
            Some(&v2.verifier.wrap_wrap_kb[..]),
        ),
        None => (None, None, None),
    }
}

/// The sealing label of an account's kA (bound to the account, so a
/// sealed kA cannot be moved to another row).
pub(crate) fn ka_label(uid: &str) -> String {
    format!("kA {uid}")
}

/// Replaces the password material. `keys_changed`: kB changed too (a
/// reset), so the scoped keys' rotation time moves.
pub(crate) fn set_credentials(
    db: &Db<'_>,
    uid: &str,
    credentials: &Credentials,
    keys_changed: bool,
    now: u64,
) -> Result<(), ApiError> {
    let (client_salt, hash2, wrap2) = v2_columns(&credentials.v2);
    db.exec(
        "UPDATE fxa_accounts SET auth_salt = ?2, verify_hash = ?3, wrap_wrap_kb = ?4,
             client_salt = ?5, verify_hash_v2 = ?6, wrap_wrap_kb_v2 = ?7,
             verifier_set_at = ?8,
             keys_changed_at = CASE WHEN ?9 THEN ?8 ELSE keys_changed_at END
         WHERE uid = ?1",
        args![
            uid,
            &credentials.auth_salt,
            &credentials.v1.verify_hash,
            &credentials.v1.wrap_wrap_kb,
            client_salt,
            hash2,
            wrap2,
            now,
            keys_changed,
        ],
    )?;
    Ok(())
}

pub(crate) fn mark_email_verified(db: &Db<'_>, uid: &str) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_accounts SET email_verified = TRUE, email_code_hash = NULL WHERE uid = ?1",
        args![uid],
    )?;
    Ok(())
}

pub(crate) fn set_email_code(db: &Db<'_>, uid: &str, code_hash: &str) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_accounts SET email_code_hash = ?2 WHERE uid = ?1",
        args![uid, code_hash],
    )?;
    Ok(())
}

/// Stores a TOTP secret (sealed), not yet enabled.
pub(crate) fn set_totp(db: &Db<'_>, uid: &str, sealed: Option<&[u8]>, enabled: bool) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_accounts SET sealed_totp = ?2, totp_enabled = ?3 WHERE uid = ?1",
        args![uid, sealed, enabled],
    )?;
    Ok(())
}

pub(crate) fn totp_label(uid: &str) -> String {
    format!("TOTP {uid}")
}

pub(crate) fn set_display_name(db: &Db<'_>, uid: &str, name: Option<&str>) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_accounts SET display_name = ?2 WHERE uid = ?1",
        args![uid, name],
    )?;
    Ok(())
}

/// Disables (`Some(now)`) or re-enables (`None`) an account.
pub(crate) fn set_disabled(db: &Db<'_>, uid: &str, at: Option<u64>) -> Result<bool, ApiError> {
    Ok(db.exec(
        "UPDATE fxa_accounts SET disabled_at = ?2 WHERE uid = ?1",
        args![uid, at],
    )? == 1)
}

/// Deletes the account and, by cascade, everything of it.
pub(crate) fn delete(db: &Db<'_>, uid: &str) -> Result<bool, ApiError> {
    Ok(db.exec("DELETE FROM fxa_accounts WHERE uid = ?1", args![uid])? == 1)
}
