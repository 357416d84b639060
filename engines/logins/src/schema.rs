//! The logins store's tables and their migrations.

use sync_sql::{Migration, Migrations};

pub(crate) const SCHEMA: Migrations = Migrations::new(&[Migration::sql(
    1,
    "logins store",
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- The logins as this device sees them.
CREATE TABLE logins (
    guid                  TEXT PRIMARY KEY,
    origin                TEXT NOT NULL,
    form_action_origin    TEXT,
    http_realm            TEXT,
    username_field        TEXT NOT NULL,
    password_field        TEXT NOT NULL,
    sec_fields            TEXT NOT NULL,   -- username and password, AES-256-GCM
    time_created          INTEGER NOT NULL,
    time_password_changed INTEGER NOT NULL,
    time_last_used        INTEGER NOT NULL,
    times_used            INTEGER NOT NULL,
    local_modified        INTEGER NOT NULL, -- when this device last changed it, ms
    sync_status           INTEGER NOT NULL, -- 0 synced, 1 changed since, 2 never uploaded
    unknown_fields        TEXT              -- fields of the server record we do not know
) WITHOUT ROWID;
CREATE INDEX logins_by_origin ON logins (origin);
CREATE INDEX logins_to_upload ON logins (sync_status) WHERE sync_status != 0;
-- Logins deleted here whose deletion the server has not heard of yet.
CREATE TABLE tombstones (
    guid       TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The server's version of each login as of the last sync: the common
-- ancestor for three-way merges.
CREATE TABLE mirror (
    guid            TEXT PRIMARY KEY,
    record          TEXT NOT NULL,  -- the record's JSON without username and password
    sec_fields      TEXT NOT NULL,  -- its username and password, sealed
    server_modified INTEGER NOT NULL
) WITHOUT ROWID;
"#,
)]);
