//! Throttling and the short codes that lift or bypass it: attempt counts
//! per key in fixed windows (Mozilla's customs server does the same per
//! IP address, per email and per IP+email), unblock codes, and the codes
//! that start a password reset.

use super::{Db, args};
use crate::error::ApiError;

/// Counts one attempt against `key`; `Err(errno 114)` with the seconds
/// until the window ends once more than `limit` were made in it.
pub(crate) fn count(db: &Db<'_>, key: &str, limit: u32, window_ms: u64, now: u64) -> Result<(), ApiError> {
    let counted = db.row(
        "INSERT INTO fxa_rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
         ON CONFLICT (key) DO UPDATE SET
             window_start = CASE WHEN fxa_rate_limits.window_start + ?3 <= ?2 THEN ?2
                                 ELSE fxa_rate_limits.window_start END,
             count = CASE WHEN fxa_rate_limits.window_start + ?3 <= ?2 THEN 1
                          ELSE fxa_rate_limits.count + 1 END
         RETURNING window_start, count",
        args![key, now, window_ms],
        |row| Ok((row.get::<u64>(0)?, row.get::<u64>(1)?)),
    )?;
    let (window_start, count) = counted.ok_or_else(ApiError::unexpected)?;
    if count > u64::from(limit) {
        let retry_after = (window_start + window_ms).saturating_sub(now).div_ceil(1000);
        return Err(ApiError::throttled(retry_after.max(1)));
    }
    Ok(())
}

/// Forgets the attempts against `key` (a successful sign-in clears the
/// account's failures).
pub(crate) fn clear(db: &Db<'_>, key: &str) -> Result<(), ApiError> {
    db.exec("DELETE FROM fxa_rate_limits WHERE key = ?1", args![key])?;
    Ok(())
}

/// How many attempts `key` has made in its current window.
pub(crate) fn attempts(db: &Db<'_>, key: &str, window_ms: u64, now: u64) -> Result<u32, ApiError> {
    Ok(db
        .row(
            "SELECT count FROM fxa_rate_limits WHERE key = ?1 AND window_start + ?2 > ?3",
            args![key, window_ms, now],
            |row| row.get::<u32>(0),
        )?
        .unwrap_or(0))
}

pub(crate) fn purge_expired(db: &Db<'_>, window_ms: u64, now: u64) -> Result<(), ApiError> {
    db.exec(
        "DELETE FROM fxa_rate_limits WHERE window_start + ?1 <= ?2",
        args![window_ms, now],
    )?;
    db.exec("DELETE FROM fxa_unblock_codes WHERE expires_at <= ?1", args![now])?;
    db.exec("DELETE FROM fxa_reset_codes WHERE expires_at <= ?1", args![now])?;
    Ok(())
}

/// Replaces the account's unblock code.
pub(crate) fn set_unblock_code(
    db: &Db<'_>,
    uid: &str,
    code_hash: &str,
    expires_at: u64,
) -> Result<(), ApiError> {
    db.exec(
        "INSERT INTO fxa_unblock_codes (uid, code_hash, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (uid) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at",
        args![uid, code_hash, expires_at],
    )?;
    Ok(())
}

/// Whether `code_hash` is the account's live unblock code; a match uses it up.
pub(crate) fn take_unblock_code(db: &Db<'_>, uid: &str, code_hash: &str, now: u64) -> Result<bool, ApiError> {
    Ok(db.exec(
        "DELETE FROM fxa_unblock_codes WHERE uid = ?1 AND code_hash = ?2 AND expires_at > ?3",
        args![uid, code_hash, now],
    )? == 1)
}

/// Replaces the account's password-reset code.
pub(crate) fn set_reset_code(
    db: &Db<'_>,
    uid: &str,
    code_hash: &str,
    expires_at: u64,
    tries: u32,
) -> Result<(), ApiError> {
    db.exec(
        "INSERT INTO fxa_reset_codes (uid, code_hash, expires_at, tries) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (uid) DO UPDATE SET code_hash = excluded.code_hash,
             expires_at = excluded.expires_at, tries = excluded.tries",
        args![uid, code_hash, expires_at, tries],
    )?;
    Ok(())
}

/// Checks a password-reset code: `Ok(true)` uses it up; a wrong code uses
/// up an attempt, and the last attempt the code itself.
pub(crate) fn check_reset_code(db: &Db<'_>, uid: &str, code_hash: &str, now: u64) -> Result<bool, ApiError> {
    let row = db.row(
        "SELECT code_hash, tries FROM fxa_reset_codes WHERE uid = ?1 AND expires_at > ?2",
        args![uid, now],
        |row| Ok((row.get::<String>(0)?, row.get::<u32>(1)?)),
    )?;
    let Some((stored, tries)) = row else {
        return Ok(false);
    };
    if crate::password::same(stored.as_bytes(), code_hash.as_bytes()) {
        db.exec("DELETE FROM fxa_reset_codes WHERE uid = ?1", args![uid])?;
        return Ok(true);
    }
    if tries <= 1 {
        db.exec("DELETE FROM fxa_reset_codes WHERE uid = ?1", args![uid])?;
    } else {
        db.exec(
            "UPDATE fxa_reset_codes SET tries = tries - 1 WHERE uid = ?1",
            args![uid],
        )?;
    }
    Ok(false)
}
