//! Throttling and the short codes that lift or bypass it: attempt counts
//! per key in fixed windows (Mozilla's customs server does the same per
//! IP address, per email and per IP+email), unblock codes, and the codes
//! that start a password reset.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::ApiError;

/// Counts one attempt against `key`; `Err(errno 114)` with the seconds
/// until the window ends once more than `limit` were made in it.
pub(crate) fn count(
    conn: &Connection,
    key: &str,
    limit: u32,
    window_ms: u64,
    now: u64,
) -> Result<(), ApiError> {
    let (window_start, count): (u64, u32) = conn.query_row(
        "INSERT INTO fxa_rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
         ON CONFLICT (key) DO UPDATE SET
             window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END,
             count = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE count + 1 END
         RETURNING window_start, count",
        params![key, now, window_ms],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if count > limit {
        let retry_after = (window_start + window_ms).saturating_sub(now).div_ceil(1000);
        return Err(ApiError::throttled(retry_after.max(1)));
    }
    Ok(())
}

/// Forgets the attempts against `key` (a successful sign-in clears the
/// account's failures).
pub(crate) fn clear(conn: &Connection, key: &str) -> Result<(), ApiError> {
    conn.execute("DELETE FROM fxa_rate_limits WHERE key = ?1", [key])?;
    Ok(())
}

/// How many attempts `key` has made in its current window.
pub(crate) fn attempts(conn: &Connection, key: &str, window_ms: u64, now: u64) -> Result<u32, ApiError> {
    Ok(conn
        .query_row(
            "SELECT count FROM fxa_rate_limits WHERE key = ?1 AND window_start + ?2 > ?3",
            params![key, window_ms, now],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

pub(crate) fn purge_expired(conn: &Connection, window_ms: u64, now: u64) -> Result<(), ApiError> {
    conn.execute(
        "DELETE FROM fxa_rate_limits WHERE window_start + ?1 <= ?2",
        params![window_ms, now],
    )?;
    conn.execute("DELETE FROM fxa_unblock_codes WHERE expires_at <= ?1", [now])?;
    conn.execute("DELETE FROM fxa_reset_codes WHERE expires_at <= ?1", [now])?;
    Ok(())
}

/// Replaces the account's unblock code.
pub(crate) fn set_unblock_code(
    conn: &Connection,
    uid: &str,
    code_hash: &str,
    expires_at: u64,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT OR REPLACE INTO fxa_unblock_codes (uid, code_hash, expires_at) VALUES (?1, ?2, ?3)",
        params![uid, code_hash, expires_at],
    )?;
    Ok(())
}

/// Whether `code_hash` is the account's live unblock code; a match uses it up.
pub(crate) fn take_unblock_code(
    conn: &Connection,
    uid: &str,
    code_hash: &str,
    now: u64,
) -> Result<bool, ApiError> {
    Ok(conn.execute(
        "DELETE FROM fxa_unblock_codes WHERE uid = ?1 AND code_hash = ?2 AND expires_at > ?3",
        params![uid, code_hash, now],
    )? == 1)
}

/// Replaces the account's password-reset code.
pub(crate) fn set_reset_code(
    conn: &Connection,
    uid: &str,
    code_hash: &str,
    expires_at: u64,
    tries: u32,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT OR REPLACE INTO fxa_reset_codes (uid, code_hash, expires_at, tries) VALUES (?1, ?2, ?3, ?4)",
        params![uid, code_hash, expires_at, tries],
    )?;
    Ok(())
}

/// Checks a password-reset code: `Ok(true)` uses it up; a wrong code uses
/// up an attempt, and the last attempt the code itself.
pub(crate) fn check_reset_code(
    conn: &Connection,
    uid: &str,
    code_hash: &str,
    now: u64,
) -> Result<bool, ApiError> {
    let row: Option<(String, u32)> = conn
        .query_row(
            "SELECT code_hash, tries FROM fxa_reset_codes WHERE uid = ?1 AND expires_at > ?2",
            params![uid, now],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((stored, tries)) = row else {
        return Ok(false);
    };
    if crate::password::same(stored.as_bytes(), code_hash.as_bytes()) {
        conn.execute("DELETE FROM fxa_reset_codes WHERE uid = ?1", [uid])?;
        return Ok(true);
    }
    if tries <= 1 {
        conn.execute("DELETE FROM fxa_reset_codes WHERE uid = ?1", [uid])?;
    } else {
        conn.execute(
            "UPDATE fxa_reset_codes SET tries = tries - 1 WHERE uid = ?1",
            [uid],
        )?;
    }
    Ok(false)
}
