//! The server's SQLite schema.
//!
//! Times are integer milliseconds, always multiples of 10 (the protocol's
//! two-decimal seconds). `expiry` is `i64::MAX` for BSOs without a TTL.
//! Per-collection sizes and counts in `user_collections` are kept up to date
//! by every write (in Rust, one statement per request rather than a trigger
//! per row), so quota checks and `info/*` never scan the BSOs.

use sync_sql::{Migration, Migrations};

pub const SCHEMA: Migrations = Migrations::new(STEPS);

const STEPS: &[Migration] = &[
    Migration::sql(
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
    ),
    // Paged reads (`limit` + `offset`) in either order must not sort or
    // visit the rows they skip: both orders get an index that also holds
    // every column the filters read, so skipping is index-only.
    Migration::sql(
        2,
        "covering indexes for paged reads",
        r#"
DROP INDEX bsos_by_modified;
CREATE INDEX bsos_by_modified ON bsos (uid, collection, modified, id, expiry);
CREATE INDEX bsos_by_sortindex ON bsos (uid, collection, sortindex DESC, id, modified, expiry);
"#,
    ),
    // A WITHOUT ROWID table keeps at most ~1 KiB of a row in its b-tree page
    // and spills the rest to overflow pages; staged payloads are KiBs, so a
    // rowid table (whole row in one page) with a unique index writes less.
    // Pending batches are carried over: a client may be mid-upload.
    Migration::sql(
        3,
        "batch_bsos as a rowid table",
        r#"
CREATE TABLE batch_bsos_new (
    batch         INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    sortindex     INTEGER,
    sortindex_set INTEGER NOT NULL,
    payload       TEXT,
    ttl           INTEGER,
    ttl_set       INTEGER NOT NULL,
    UNIQUE (batch, id)
);
INSERT INTO batch_bsos_new (batch, id, sortindex, sortindex_set, payload, ttl, ttl_set)
    SELECT batch, id, sortindex, sortindex_set, payload, ttl, ttl_set FROM batch_bsos;
DROP TABLE batch_bsos;
ALTER TABLE batch_bsos_new RENAME TO batch_bsos;
"#,
    ),
    // Expired BSOs stop counting (quota, info/collection_counts and
    // _usage) the moment they expire: writes delete a collection's expired
    // BSOs first and reads subtract them, both through this index of the
    // few BSOs with a TTL.
    Migration::sql(
        4,
        "expiring BSOs by collection",
        r#"
CREATE INDEX bsos_expiring_by_collection ON bsos (uid, collection, expiry)
    WHERE expiry < 9223372036854775807;
"#,
    ),
    // The storage nodes the token server assigns users to, as Mozilla's
    // token server keeps them: a capacity, and flags that stop new
    // assignments (`backoff`: draining) or mark the node gone (`downed`).
    // Current load is counted from `users`, through the index.
    Migration::sql(
        5,
        "storage nodes",
        r#"
CREATE TABLE nodes (
    node        TEXT PRIMARY KEY,
    capacity    INTEGER NOT NULL,
    downed      INTEGER NOT NULL DEFAULT 0,
    backoff     INTEGER NOT NULL DEFAULT 0,
    -- Listed in the configuration's `nodes` (not added by `node add`): up
    -- while listed, down once the configuration stops listing it.
    from_config INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX current_users_by_node ON users (node) WHERE replaced_at IS NULL;
"#,
    ),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The plan of the query `get_collection` builds.
    fn plan(conn: &rusqlite::Connection, order: &str) -> String {
        let modified = if order.contains("sortindex") {
            "+modified"
        } else {
            "modified"
        };
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT id, modified, sortindex, payload FROM bsos
             WHERE uid = 1 AND collection = 'c' AND +expiry > 0 AND {modified} > 0 {order} LIMIT 10 OFFSET 1000"
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn paged_reads_use_an_index_in_every_order_and_never_sort() {
        let mut conn = sync_sql::open_in_memory().unwrap();
        SCHEMA.apply(&mut conn).unwrap();
        for (order, index) in [
            ("ORDER BY modified ASC, id ASC", "bsos_by_modified"),
            ("ORDER BY modified DESC, id ASC", "bsos_by_modified"),
            ("ORDER BY sortindex DESC, id ASC", "bsos_by_sortindex"),
        ] {
            let plan = plan(&conn, order);
            assert!(plan.contains(index), "{order}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE") || order.contains("modified DESC"),
                "{order}: {plan}"
            );
        }
    }

    #[test]
    fn expired_bsos_are_found_through_the_expiring_index() {
        let mut conn = sync_sql::open_in_memory().unwrap();
        SCHEMA.apply(&mut conn).unwrap();
        for sql in [
            "SELECT collection, COUNT(*), SUM(octet_length(payload)) FROM bsos
             WHERE uid = 1 AND expiry <= 5 AND expiry < 9223372036854775807 GROUP BY collection",
            "DELETE FROM bsos WHERE uid = 1 AND collection = 'c' AND expiry <= 5 AND expiry < 9223372036854775807
             RETURNING octet_length(payload)",
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let plan = plan.join("; ");
            assert!(plan.contains("bsos_expiring_by_collection"), "{sql}: {plan}");
        }
    }

    #[test]
    fn pending_batches_survive_the_move_to_a_rowid_table() {
        let mut conn = sync_sql::open_in_memory().unwrap();
        Migrations::new(&STEPS[..2]).apply(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO batches (id, uid, collection, expiry, bso_count) VALUES (7, 1, 'history', 99, 2);
             INSERT INTO batch_bsos (batch, id, sortindex, sortindex_set, payload, ttl, ttl_set)
                 VALUES (7, 'a', 5, 1, 'pa', NULL, 0), (7, 'b', NULL, 0, NULL, 60, 1);",
        )
        .unwrap();
        assert_eq!(Migrations::new(&STEPS[..3]).apply(&mut conn).unwrap(), 3);
        type Staged = (String, Option<i64>, Option<String>, Option<i64>);
        let rows: Vec<Staged> = conn
            .prepare("SELECT id, sortindex, payload, ttl FROM batch_bsos WHERE batch = 7 ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            rows,
            vec![
                ("a".into(), Some(5), Some("pa".into()), None),
                ("b".into(), None, None, Some(60))
            ]
        );
        // Still one row per (batch, id), and still gone with its batch.
        assert!(
            conn.execute(
                "INSERT INTO batch_bsos (batch, id, sortindex_set, ttl_set) VALUES (7, 'a', 0, 0)",
                []
            )
            .is_err()
        );
        conn.execute("DELETE FROM batches WHERE id = 7", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM batch_bsos", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
