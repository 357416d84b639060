//! The server's SQLite schema.
//!
//! Times are integer milliseconds, always multiples of 10 (the protocol's
//! two-decimal seconds). `expiry` is `i64::MAX` for BSOs without a TTL.
//! Per-collection sizes and counts in `user_collections` are kept up to date
//! by every write (in Rust, one statement per request rather than a trigger
//! per row), so quota checks and `info/*` never scan the BSOs.

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

-- A rowid table: payloads are hundreds of bytes, too large for WITHOUT ROWID
-- to pay off, and inserts into it were measurably slower.
CREATE TABLE bsos (
    uid        INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    sortindex  INTEGER,
    modified   INTEGER NOT NULL,
    expiry     INTEGER NOT NULL,
    payload    TEXT NOT NULL,
    UNIQUE (uid, collection, id)
);
-- Includes id so the default order (modified, id) needs no sort step.
CREATE INDEX bsos_by_modified ON bsos (uid, collection, modified, id);
-- Only BSOs with a TTL ever expire; most have none and stay out of this index.
CREATE INDEX bsos_expiring ON bsos (expiry) WHERE expiry < 9223372036854775807;

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
