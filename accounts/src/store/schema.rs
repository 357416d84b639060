//! The accounts service's tables. They live in the storage server's
//! database file, under their own migration track, every name prefixed
//! `fxa_` so neither schema can collide with the other.
//!
//! Times are integer milliseconds since the epoch. Secrets follow
//! [`crate::secrets`]: a token's Hawk key and the account's kA and TOTP
//! secret are sealed; tokens are found by the SHA-256 of their id (a
//! tokenId is also a bearer credential, `Bearer fxs_<tokenId>`); codes are
//! kept only as hashes.

use sync_sql::{Migration, MigrationStep, Migrations};

use crate::error::AccountsError;

/// The track's name in `schema_tracks`.
pub(crate) const TRACK: &str = "accounts";

/// The schema on SQLite, on its own track of the file's migrations.
pub(crate) const SQLITE: Migrations = Migrations::named(TRACK, STEPS);

/// The columns that are booleans (SQLite keeps them as integers).
const BOOLEANS: [&str; 3] = ["email_verified", "totp_enabled", "push_expired"];

/// A step in PostgreSQL's words: the same tables, `BYTEA` for `BLOB`,
/// `BIGINT` for every integer (milliseconds), `BOOLEAN` for the flags.
fn postgres_sql(sqlite: &str) -> String {
    sqlite
        .lines()
        .map(|line| {
            let line = line.replace(") WITHOUT ROWID;", ");").replace("BLOB", "BYTEA");
            if BOOLEANS.iter().any(|b| line.trim_start().starts_with(b)) {
                line.replace("INTEGER NOT NULL DEFAULT 0", "BOOLEAN NOT NULL DEFAULT FALSE")
            } else {
                line.replace("INTEGER", "BIGINT")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Brings the schema up to date on PostgreSQL, under an advisory lock so
/// that two processes starting together do not both migrate; the version
/// is kept in `fxa_schema`.
pub(crate) fn apply_postgres(client: &mut postgres::Client) -> Result<(), AccountsError> {
    let mut tx = client.transaction()?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('fxa_accounts_schema'));
         CREATE TABLE IF NOT EXISTS fxa_schema (version BIGINT NOT NULL);",
    )?;
    let version: i64 = tx
        .query_opt("SELECT version FROM fxa_schema", &[])?
        .map_or(0, |row| row.get(0));
    let newest = STEPS.iter().map(|m| i64::from(m.version)).max().unwrap_or(0);
    if version > newest {
        return Err(AccountsError::Config(format!(
            "the accounts tables are at version {version}, newer than this program's {newest}: \
             run the newer program"
        )));
    }
    for migration in STEPS.iter().filter(|m| i64::from(m.version) > version) {
        let MigrationStep::Sql(sql) = migration.step else {
            return Err(AccountsError::Config(format!(
                "accounts migration {} is not SQL",
                migration.version
            )));
        };
        tx.batch_execute(&postgres_sql(sql))?;
        tracing::info!(
            "migrated the accounts tables (PostgreSQL) to version {}: {}",
            migration.version,
            migration.description
        );
    }
    tx.execute("DELETE FROM fxa_schema", &[])?;
    tx.execute("INSERT INTO fxa_schema (version) VALUES ($1)", &[&newest])?;
    tx.commit()?;
    Ok(())
}

const STEPS: &[Migration] = &[Migration::sql(
    1,
    "accounts, tokens, devices, OAuth",
    r#"
-- One row per account. The password columns are Mozilla's (`accounts` in
-- fxa-auth-server's database): authPW → scrypt(authSalt) → verifyHash, and
-- the client's wrapKb wrapped again; the V2 columns hold the same for the
-- V2 stretching of the same password (same authSalt), with its clientSalt.
CREATE TABLE fxa_accounts (
    uid               TEXT PRIMARY KEY,
    email             TEXT NOT NULL,
    normalized_email  TEXT NOT NULL UNIQUE,
    email_verified    INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    auth_salt         BLOB NOT NULL,
    verify_hash       BLOB NOT NULL,
    wrap_wrap_kb      BLOB NOT NULL,
    client_salt       TEXT,
    verify_hash_v2    BLOB,
    wrap_wrap_kb_v2   BLOB,
    sealed_ka         BLOB NOT NULL,
    -- The OAuth `fxa-generation` claim and the session cut-off: moves with
    -- every password change or reset.
    verifier_set_at   INTEGER NOT NULL,
    -- Moves only when kB does (a reset): the scoped key's rotation time.
    keys_changed_at   INTEGER NOT NULL,
    -- The email verification code for a new account (hashed).
    email_code_hash   TEXT,
    sealed_totp       BLOB,
    totp_enabled      INTEGER NOT NULL DEFAULT 0,
    display_name      TEXT,
    locale            TEXT NOT NULL DEFAULT 'en-US',
    disabled_at       INTEGER
) WITHOUT ROWID;

-- Every token kind the auth server hands out: sessionToken,
-- keyFetchToken, passwordChangeToken, passwordForgotToken,
-- accountResetToken.
CREATE TABLE fxa_tokens (
    id_hash         TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    uid             TEXT NOT NULL REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    sealed_hmac_key BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER,
    -- Sessions: NULL once verified, else how it must be ('email-otp',
    -- 'totp-2fa'); the code waiting for it (hashed) and attempts left.
    must_verify     TEXT,
    code_hash       TEXT,
    code_expires_at INTEGER,
    code_tries      INTEGER NOT NULL DEFAULT 0,
    -- Key fetch tokens: the /account/keys bundle, already encrypted to the
    -- token's keyRequestKey (which the server does not keep).
    key_bundle      BLOB,
    -- The session a key fetch or password change belongs to.
    session_hash    TEXT,
    user_agent      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX fxa_tokens_by_uid ON fxa_tokens (uid, kind);

CREATE TABLE fxa_devices (
    id               TEXT PRIMARY KEY,
    uid              TEXT NOT NULL REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    session_hash     TEXT UNIQUE,
    refresh_hash     TEXT UNIQUE,
    name             TEXT NOT NULL DEFAULT '',
    type             TEXT NOT NULL DEFAULT 'desktop',
    created_at       INTEGER NOT NULL,
    last_access_at   INTEGER NOT NULL,
    push_callback    TEXT,
    push_public_key  TEXT,
    push_auth_key    TEXT,
    push_expired     INTEGER NOT NULL DEFAULT 0,
    -- {command name: the keys it advertises}, as JSON.
    commands         TEXT NOT NULL DEFAULT '{}',
    -- The last command index given to this device (indexes only grow).
    command_index    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX fxa_devices_by_uid ON fxa_devices (uid);

-- The device-command relay (Mozilla's pushbox): per device, an index that
-- only grows.
CREATE TABLE fxa_commands (
    device_id   TEXT NOT NULL REFERENCES fxa_devices(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, idx)
) WITHOUT ROWID;

CREATE TABLE fxa_refresh_tokens (
    token_hash     TEXT PRIMARY KEY,
    uid            TEXT NOT NULL REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX fxa_refresh_by_uid ON fxa_refresh_tokens (uid);

-- Authorization codes waiting for their token request (single use, short-lived).
CREATE TABLE fxa_auth_codes (
    code_hash      TEXT PRIMARY KEY,
    uid            TEXT NOT NULL REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT,
    keys_jwe       TEXT,
    session_hash   TEXT,
    access_type    TEXT NOT NULL,
    auth_at        INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- Access tokens revoked before their expiry (/v1/oauth/destroy), by jti.
CREATE TABLE fxa_revoked (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The RSA keys access tokens are signed with: the newest is the primary,
-- the one before it the secondary (still published, still verified).
CREATE TABLE fxa_signing_keys (
    kid         TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    sealed_der BLOB NOT NULL,
    n           TEXT NOT NULL,
    e           TEXT NOT NULL
) WITHOUT ROWID;

-- Unblock codes (hashed), one live per account.
CREATE TABLE fxa_unblock_codes (
    uid        TEXT PRIMARY KEY REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Password reset by emailed code (/password/forgot/send_otp): the code's
-- hash per account, its expiry and attempts left.
CREATE TABLE fxa_reset_codes (
    uid        TEXT PRIMARY KEY REFERENCES fxa_accounts(uid) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    tries      INTEGER NOT NULL
) WITHOUT ROWID;

-- Attempts per key (an IP address, an account) in the current window.
CREATE TABLE fxa_rate_limits (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) WITHOUT ROWID;
"#,
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_schema_is_the_same_tables_in_its_words() {
        let MigrationStep::Sql(sql) = STEPS[0].step else {
            panic!("SQL");
        };
        let pg = postgres_sql(sql);
        assert!(!pg.contains("WITHOUT ROWID") && !pg.contains("BLOB"));
        assert!(!pg.contains(" INTEGER"), "every integer is a BIGINT");
        for flag in BOOLEANS {
            assert!(pg.contains(flag), "{flag}");
        }
        assert_eq!(
            pg.matches("BOOLEAN NOT NULL DEFAULT FALSE").count(),
            BOOLEANS.len()
        );
        assert_eq!(
            pg.matches("CREATE TABLE").count(),
            sql.matches("CREATE TABLE").count()
        );
    }
}
