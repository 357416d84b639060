//! A write of BSOs as one statement: what [`WriteTx::write_bsos`] and a
//! batch commit run.
//!
//! [`WriteTx::write_bsos`]: crate::db::backend::WriteTx::write_bsos

use super::PgTx;
use super::rows::{Columns, distinct, written};
use crate::db::DbError;
use crate::db::types::{BsoInput, Written};

/// The one statement of a write of BSOs (`WriteTx::write_bsos`), from a
/// source relation `s(id, sortindex, sortindex_set, payload, ttl, ttl_set)`
/// (a POST's unnested arrays, a batch's staged rows) whose rows `$filter`
/// keeps, with `$also` (more CTEs, each ending in a comma) run alongside:
/// `$1` uid, `$2` collection, `$3` the write's timestamp. It deletes the
/// collection's BSOs expired by `$3`, writes each BSO (a field not given
/// keeps its stored value, a new BSO gets the defaults, expiry as
/// `db::ttl_expiry`: from `$3`, saturating at "never"), stamps the user and
/// the collection with `$3` and the size change, and returns that change
/// `(count, bytes)` and the collection's bytes after it. One round trip
/// where it took seven.
///
/// All its parts see the statement's one snapshot: an expired BSO the
/// `expired` part deletes is looked up as absent (`expiry > $3`), and its
/// replacement inserted afresh once that part has run (the insert waits on
/// `expired` through its filter; a row this statement deleted is no
/// unique-key conflict).
///
/// Each BSO's stored row is found by a lateral lookup that cannot be
/// flattened into a join (`OFFSET 0`): one probe per BSO, and the primary
/// key is the only index such a probe can use (schema migration 3). A join
/// (or `MERGE`) is planned on the statistics, and on a fresh table's they
/// say a user's collection is one row: the plan cached for the statement
/// then hashed the user's whole collection on every write (a 50-record POST
/// took 61 ms at the median instead of 15). The probe's answer then decides
/// everything: a BSO not stored is a plain insert, a stored one an update
/// of the very row version probed (by `ctid`, no second index descent).
/// That is sound because the caller holds the user's lock (every writer of
/// a user's BSOs takes it) and this statement's snapshot was taken after
/// it: no one else can change or remove those rows meanwhile. An upsert
/// (`ON CONFLICT`) would descend the primary key again for its arbiter
/// check and lock each row it updates: 5% of PostgreSQL's CPU on the
/// write mix.
macro_rules! write_into_bsos {
    ($source:literal, $filter:literal, $also:literal) => {
        concat!(
            "WITH ",
            $also,
            "
             expired AS (
                 DELETE FROM bsos
                 WHERE uid = $1 AND collection = $2 AND expiry <= $3 AND expiry < 9223372036854775807
                 RETURNING octet_length(payload)::BIGINT AS len
             ), incoming AS (
                 SELECT s.id, s.sortindex, s.sortindex_set, s.payload, s.ttl, s.ttl_set,
                        o.ctid AS old_ctid, o.len IS NOT NULL AS stored, o.len AS old_len
                 FROM ",
            $source,
            "
                 LEFT JOIN LATERAL (SELECT b.ctid, octet_length(b.payload)::BIGINT AS len
                                    FROM bsos b
                                    WHERE b.uid = $1 AND b.collection = $2 AND b.id = s.id AND b.expiry > $3
                                    OFFSET 0) o ON true
                 WHERE ",
            $filter,
            "
             ), inserted AS (
                 INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload)
                 SELECT $1, $2, id, sortindex, $3,
                        CASE WHEN ttl IS NULL OR ttl > (9223372036854775807 - $3) / 1000
                             THEN 9223372036854775807 ELSE $3 + ttl * 1000 END,
                        COALESCE(payload, '')
                 FROM incoming
                 WHERE NOT stored AND (SELECT count(*) FROM expired) >= 0
             ), updated AS (
                 UPDATE bsos b SET
                    sortindex = CASE WHEN i.sortindex_set THEN i.sortindex ELSE b.sortindex END,
                    modified = CASE WHEN i.sortindex_set OR i.payload IS NOT NULL THEN $3 ELSE b.modified END,
                    expiry = CASE WHEN NOT i.ttl_set THEN b.expiry
                                  WHEN i.ttl IS NULL OR i.ttl > (9223372036854775807 - $3) / 1000
                                  THEN 9223372036854775807 ELSE $3 + i.ttl * 1000 END,
                    payload = COALESCE(i.payload, b.payload)
                 FROM incoming i
                 WHERE i.stored AND b.ctid = i.old_ctid
             ), delta AS (
                 SELECT (SELECT count(*) FROM incoming WHERE NOT stored)
                            - (SELECT count(*) FROM expired) AS count,
                        ((SELECT COALESCE(sum(CASE WHEN NOT stored THEN octet_length(COALESCE(payload, ''))
                                                   WHEN payload IS NOT NULL THEN octet_length(payload) - old_len
                                                   ELSE 0 END), 0)
                          FROM incoming)
                            - (SELECT COALESCE(sum(len), 0) FROM expired))::BIGINT AS bytes
             ), stamped AS (
                 INSERT INTO user_timestamps (uid, modified) VALUES ($1, $3)
                 ON CONFLICT (uid) DO UPDATE SET modified = EXCLUDED.modified
             ), touched AS (
                 INSERT INTO user_collections (uid, collection, modified, total_bytes, bso_count)
                 SELECT $1, $2, $3, GREATEST(bytes, 0), GREATEST(count, 0) FROM delta
                 ON CONFLICT (uid, collection) DO UPDATE SET
                    modified = EXCLUDED.modified,
                    total_bytes = GREATEST(user_collections.total_bytes + (SELECT bytes FROM delta), 0),
                    bso_count = GREATEST(user_collections.bso_count + (SELECT count FROM delta), 0)
                 RETURNING total_bytes
             )
             SELECT count, bytes, (SELECT total_bytes FROM touched) FROM delta"
        )
    };
}

impl PgTx<'_> {
    /// `inputs` written at `ts` by one statement (`write_into_bsos!`).
    pub(super) fn write_records(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        let inputs = distinct(inputs);
        let columns = Columns::of(&inputs);
        let row = self.query_one(
            write_into_bsos!(
                "UNNEST($4::TEXT[], $5::BIGINT[], $6::BOOLEAN[], $7::TEXT[], $8::BIGINT[], $9::BOOLEAN[])
                 AS s(id, sortindex, sortindex_set, payload, ttl, ttl_set)",
                "TRUE",
                ""
            ),
            &columns.after(&[&(uid as i64), &collection, &ts]),
        )?;
        written(&row)
    }
}
