//! The clients engine's SQLite store.

use rusqlite::{Connection, OptionalExtension};
use sync_sql::{Migration, Migrations};

use crate::ClientsError;

pub(crate) const SCHEMA: Migrations = Migrations::new(&[Migration::sql(
    1,
    "clients store",
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
-- Other devices' records as last downloaded (the whole cleartext JSON, so
-- fields we do not know survive when we re-upload them with a command).
CREATE TABLE remote_clients (
    id       TEXT PRIMARY KEY,
    record   TEXT NOT NULL,
    modified INTEGER NOT NULL
) WITHOUT ROWID;
-- Downloaded this sync, not yet applied.
CREATE TABLE staged (
    id       TEXT PRIMARY KEY,
    record   TEXT NOT NULL,
    modified INTEGER NOT NULL
) WITHOUT ROWID;
-- Commands this device sends, until the target's record is uploaded.
CREATE TABLE outgoing_commands (
    target  TEXT NOT NULL,
    command TEXT NOT NULL,
    args    TEXT NOT NULL,
    PRIMARY KEY (target, command, args)
) WITHOUT ROWID;
-- Commands this device received, until the app or the manager takes them.
CREATE TABLE received_commands (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    for_app INTEGER NOT NULL,
    command TEXT NOT NULL,
    args    TEXT NOT NULL
);
"#,
)]);

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, ClientsError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), ClientsError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        (key, value),
    )?;
    Ok(())
}

pub(crate) fn get_i64(conn: &Connection, key: &str) -> Result<i64, ClientsError> {
    Ok(get_meta(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}
