//! The clients store's tables and their migrations.

use sync_sql::{Migration, Migrations};

pub(crate) const SCHEMA: Migrations = Migrations::new(&[
    Migration::sql(
        1,
        "clients store",
        r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
    ),
    // The order commands were sent in: when a record must be trimmed to
    // the server's limit, the oldest go first.
    Migration::sql(
        2,
        "outgoing commands in the order sent",
        "ALTER TABLE outgoing_commands ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;",
    ),
    // Downloads are staged in memory (`sync15::StagedRecords`), as the
    // tabs and passwords engines stage theirs.
    Migration::sql(3, "downloads staged in memory", "DROP TABLE staged;"),
]);
