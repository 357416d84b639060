//! The auth server's tokens: 32 random bytes given to the client once,
//! from which both sides derive (HKDF, the token kind as context) a
//! tokenId, the Hawk key the client signs requests with, and for a key
//! fetch token the key its bundle is encrypted to (Mozilla's `tokens/`).
//! The server keeps the hash of the tokenId and the sealed Hawk key —
//! never the token.

use super::sql::Row;
use super::{Db, args};
use fxa_client::crypto::TokenCredentials;

use crate::error::ApiError;
use crate::secrets::{Sealer, hash_hex, random};

/// The kinds of token, by their HKDF context name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Session,
    KeyFetch,
    PasswordChange,
    PasswordForgot,
    AccountReset,
}

impl TokenKind {
    /// The HKDF context, and the name in answers.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Session => "sessionToken",
            TokenKind::KeyFetch => "keyFetchToken",
            TokenKind::PasswordChange => "passwordChangeToken",
            TokenKind::PasswordForgot => "passwordForgotToken",
            TokenKind::AccountReset => "accountResetToken",
        }
    }

    /// The prefix of the auth server's Bearer scheme (fxa-auth-client
    /// `bearer.ts`: `Bearer <prefix>_<tokenId>`).
    pub fn bearer_prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "fxs",
            TokenKind::KeyFetch => "fxk",
            TokenKind::PasswordChange => "fxpc",
            TokenKind::PasswordForgot => "fxpf",
            TokenKind::AccountReset => "fxar",
        }
    }

    /// How long a token of this kind lives (ms), if not for ever. Mozilla's
    /// defaults: key fetch and password change tokens are for the next
    /// request, forgot-password tokens an hour, reset tokens 15 minutes.
    pub fn lifetime_ms(self) -> Option<u64> {
        match self {
            TokenKind::Session => None,
            TokenKind::KeyFetch | TokenKind::PasswordChange | TokenKind::AccountReset => Some(15 * 60 * 1000),
            TokenKind::PasswordForgot => Some(60 * 60 * 1000),
        }
    }
}

/// A token as stored, its Hawk key opened.
#[derive(Clone)]
pub(crate) struct Token {
    pub id_hash: String,
    pub uid: String,
    pub hmac_key: [u8; 32],
    pub last_used_at: u64,
    /// A session's pending verification (`email-otp`, `totp-2fa`), `None`
    /// once verified.
    pub must_verify: Option<String>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<u64>,
    pub code_tries: u32,
    pub key_bundle: Option<Vec<u8>>,
    pub session_hash: Option<String>,
    pub user_agent: String,
}

impl Token {
    pub fn verified(&self) -> bool {
        self.must_verify.is_none()
    }
}

/// What a new token is given on creation.
#[derive(Default)]
pub(crate) struct NewToken<'a> {
    pub must_verify: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub code_expires_at: Option<u64>,
    pub key_bundle: Option<&'a [u8]>,
    pub session_hash: Option<&'a str>,
    pub user_agent: &'a str,
}

/// The key a tokenId is stored and found under.
pub(crate) fn id_hash(token_id: &str) -> String {
    hash_hex(token_id.to_ascii_lowercase().as_bytes())
}

fn hmac_label(kind: TokenKind, id_hash: &str) -> String {
    format!("{} {id_hash}", kind.name())
}

/// Code attempts a session gets before it must ask for a new code.
pub(crate) const CODE_TRIES: u32 = 5;

/// Creates a token of `kind` for `uid`; returns the token (hex, for the
/// client), its credentials, and its id hash.
pub(crate) fn issue(
    db: &Db<'_>,
    sealer: &Sealer,
    kind: TokenKind,
    uid: &str,
    now: u64,
    new: &NewToken<'_>,
) -> Result<(String, TokenCredentials, String), ApiError> {
    let token = random::<32>()?;
    let credentials = TokenCredentials::derive(&token, kind.name());
    let hash = id_hash(&credentials.id);
    let sealed = sealer.seal(&hmac_label(kind, &hash), &credentials.hmac_key)?;
    db.exec(
        "INSERT INTO fxa_tokens (id_hash, kind, uid, sealed_hmac_key, created_at, last_used_at,
             expires_at, must_verify, code_hash, code_expires_at, code_tries, key_bundle,
             session_hash, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        args![
            hash,
            kind.name(),
            uid,
            sealed,
            now,
            kind.lifetime_ms().map(|l| now + l),
            new.must_verify,
            new.code_hash,
            new.code_expires_at,
            CODE_TRIES,
            new.key_bundle,
            new.session_hash,
            new.user_agent,
        ],
    )?;
    Ok((hex::encode(token), credentials, hash))
}

/// The unexpired token of `kind` whose id hashes to `hash`.
pub(crate) fn find(
    db: &Db<'_>,
    sealer: &Sealer,
    kind: TokenKind,
    hash: &str,
    now: u64,
) -> Result<Option<Token>, ApiError> {
    let row = db.row(
        "SELECT id_hash, uid, sealed_hmac_key, created_at, last_used_at, must_verify, code_hash,
                code_expires_at, code_tries, key_bundle, session_hash, user_agent
         FROM fxa_tokens
         WHERE id_hash = ?1 AND kind = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
        args![hash, kind.name(), now],
        |row| Ok((from_row(row)?, row.get::<Vec<u8>>(2)?)),
    )?;
    let Some((mut token, sealed)) = row else {
        return Ok(None);
    };
    token.hmac_key = sealer.open32(&hmac_label(kind, hash), &sealed)?;
    Ok(Some(token))
}

fn from_row(row: &Row<'_>) -> Result<Token, ApiError> {
    Ok(Token {
        id_hash: row.get(0)?,
        uid: row.get(1)?,
        hmac_key: [0; 32],
        last_used_at: row.get(4)?,
        must_verify: row.get(5)?,
        code_hash: row.get(6)?,
        code_expires_at: row.get(7)?,
        code_tries: row.get(8)?,
        key_bundle: row.get(9)?,
        session_hash: row.get(10)?,
        user_agent: row.get(11)?,
    })
}

/// How stale a token's recorded last use may get before a use records it
/// again: the device list needs no finer time, and most requests then write
/// nothing.
const TOUCH_EVERY_MS: u64 = 60_000;

impl Token {
    /// Whether a use at `now` should be recorded ([`touch`]).
    pub fn needs_touch(&self, now: u64) -> bool {
        self.last_used_at + TOUCH_EVERY_MS < now
    }
}

/// Records a token's use (the device list's "last active").
pub(crate) fn touch(db: &Db<'_>, hash: &str, now: u64) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_tokens SET last_used_at = ?2 WHERE id_hash = ?1 AND last_used_at + ?3 < ?2",
        args![hash, now, TOUCH_EVERY_MS],
    )?;
    Ok(())
}

pub(crate) fn delete(db: &Db<'_>, hash: &str) -> Result<bool, ApiError> {
    Ok(db.exec("DELETE FROM fxa_tokens WHERE id_hash = ?1", args![hash])? == 1)
}

/// Ends a session and what hangs off it: its key fetches, its device
/// record (and so the device's queued commands).
pub(crate) fn end_session(db: &Db<'_>, hash: &str) -> Result<(), ApiError> {
    db.exec("DELETE FROM fxa_tokens WHERE session_hash = ?1", args![hash])?;
    db.exec("DELETE FROM fxa_devices WHERE session_hash = ?1", args![hash])?;
    delete(db, hash)?;
    Ok(())
}

/// Ends every token of the account, but for `keep` (the session that
/// changed the password). Devices of ended sessions go with them.
pub(crate) fn end_all(db: &Db<'_>, uid: &str, keep: Option<&str>) -> Result<(), ApiError> {
    let keep = keep.unwrap_or("");
    db.exec(
        "DELETE FROM fxa_devices WHERE uid = ?1 AND session_hash IS NOT NULL AND session_hash != ?2",
        args![uid, keep],
    )?;
    db.exec(
        "DELETE FROM fxa_tokens WHERE uid = ?1 AND id_hash != ?2",
        args![uid, keep],
    )?;
    Ok(())
}

/// Marks a session verified.
pub(crate) fn verify(db: &Db<'_>, hash: &str) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_tokens SET must_verify = NULL, code_hash = NULL, code_expires_at = NULL
         WHERE id_hash = ?1",
        args![hash],
    )?;
    Ok(())
}

/// Gives a session a new code to verify with (and its attempts back).
pub(crate) fn set_code(db: &Db<'_>, hash: &str, code_hash: &str, expires_at: u64) -> Result<(), ApiError> {
    db.exec(
        "UPDATE fxa_tokens SET code_hash = ?2, code_expires_at = ?3, code_tries = ?4 WHERE id_hash = ?1",
        args![hash, code_hash, expires_at, CODE_TRIES],
    )?;
    Ok(())
}

/// Uses up one code attempt; returns how many are left.
pub(crate) fn spend_code_try(db: &Db<'_>, hash: &str) -> Result<u32, ApiError> {
    Ok(db
        .row(
            "UPDATE fxa_tokens SET code_tries = CASE WHEN code_tries > 0 THEN code_tries - 1 ELSE 0 END
             WHERE id_hash = ?1 RETURNING code_tries",
            args![hash],
            |row| row.get::<u32>(0),
        )?
        .unwrap_or(0))
}

/// The account's unverified sessions waiting for an emailed code (for the
/// admin command that issues a code by hand).
pub(crate) fn pending_sessions(db: &Db<'_>, uid: &str) -> Result<Vec<String>, ApiError> {
    db.rows(
        "SELECT id_hash FROM fxa_tokens WHERE uid = ?1 AND kind = 'sessionToken' AND must_verify = 'email-otp'",
        args![uid],
        |row| row.get::<String>(0),
    )
}

/// A session, as the device list shows it.
pub(crate) struct SessionRow {
    pub id_hash: String,
    pub created_at: u64,
    pub last_used_at: u64,
    pub user_agent: String,
}

/// The account's sessions, most recently used first.
pub(crate) fn sessions(db: &Db<'_>, uid: &str) -> Result<Vec<SessionRow>, ApiError> {
    db.rows(
        "SELECT id_hash, created_at, last_used_at, user_agent FROM fxa_tokens
         WHERE uid = ?1 AND kind = 'sessionToken' ORDER BY last_used_at DESC",
        args![uid],
        |row| {
            Ok(SessionRow {
                id_hash: row.get(0)?,
                created_at: row.get(1)?,
                last_used_at: row.get(2)?,
                user_agent: row.get(3)?,
            })
        },
    )
}

/// Drops expired tokens (run now and then).
pub(crate) fn purge_expired(db: &Db<'_>, now: u64) -> Result<usize, ApiError> {
    db.exec(
        "DELETE FROM fxa_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        args![now],
    )
}
