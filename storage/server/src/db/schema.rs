//! The server's SQLite schema.
//!
//! Times are integer milliseconds, always multiples of 10 (the protocol's
//! two-decimal seconds). `expiry` is `i64::MAX` for BSOs without a TTL.
//! Per-collection sizes and counts are kept by triggers, so quota checks and
//! `info/*` never scan the BSOs.

use sync_sql::{Migration, Migrations};

pub const SCHEMA: Migrations = Migrations::new(&[Migration::sql(
    1,
    "initial schema",
    r#"
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per (FxA account, key generation). A key change retires the row and
-- starts a new uid, so data encrypted with old keys is never served again.
CREATE TABLE users (
    uid             INTEGER PRIMARY KEY AUTOINCREMENT,
    fxa_uid         TEXT NOT NULL,
    email           TEXT NOT NULL DEFAULT '',
    generation      INTEGER NOT NULL DEFAULT 0,
    keys_changed_at INTEGER NOT NULL DEFAULT 0,
    client_state    TEXT NOT NULL DEFAULT '',
    node            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    replaced_at     INTEGER
);
CREATE INDEX users_by_fxa_uid ON users (fxa_uid, replaced_at);

-- The user's overall last-modified time: every write takes a later one.
CREATE TABLE user_timestamps (
    uid      INTEGER PRIMARY KEY,
    modified INTEGER NOT NULL
);

CREATE TABLE user_collections (
    uid         INTEGER NOT NULL,
    collection  TEXT NOT NULL,
    modified    INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL DEFAULT 0,
    bso_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (uid, collection)
) WITHOUT ROWID;

CREATE TABLE bsos (
    uid        INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    sortindex  INTEGER,
    modified   INTEGER NOT NULL,
    expiry     INTEGER NOT NULL,
    payload    TEXT NOT NULL,
    PRIMARY KEY (uid, collection, id)
) WITHOUT ROWID;
CREATE INDEX bsos_by_modified ON bsos (uid, collection, modified);
CREATE INDEX bsos_by_expiry ON bsos (expiry);

CREATE TRIGGER bsos_count_insert AFTER INSERT ON bsos BEGIN
    INSERT INTO user_collections (uid, collection, modified, total_bytes, bso_count)
    VALUES (NEW.uid, NEW.collection, NEW.modified, octet_length(NEW.payload), 1)
    ON CONFLICT (uid, collection) DO UPDATE SET
        total_bytes = total_bytes + octet_length(NEW.payload),
        bso_count = bso_count + 1;
END;
CREATE TRIGGER bsos_count_update AFTER UPDATE OF payload ON bsos BEGIN
    UPDATE user_collections
    SET total_bytes = total_bytes - octet_length(OLD.payload) + octet_length(NEW.payload)
    WHERE uid = NEW.uid AND collection = NEW.collection;
END;
CREATE TRIGGER bsos_count_delete AFTER DELETE ON bsos BEGIN
    UPDATE user_collections
    SET total_bytes = total_bytes - octet_length(OLD.payload), bso_count = bso_count - 1
    WHERE uid = OLD.uid AND collection = OLD.collection;
END;

CREATE TABLE batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uid         INTEGER NOT NULL,
    collection  TEXT NOT NULL,
    expiry      INTEGER NOT NULL,
    bso_count   INTEGER NOT NULL DEFAULT 0,
    total_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_by_expiry ON batches (expiry);

-- Pending BSOs: NULL fields were not given and keep the stored value on commit.
CREATE TABLE batch_bsos (
    batch         INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    sortindex     INTEGER,
    sortindex_set INTEGER NOT NULL,
    payload       TEXT,
    ttl           INTEGER,
    ttl_set       INTEGER NOT NULL,
    PRIMARY KEY (batch, id)
) WITHOUT ROWID;
"#,
)]);
