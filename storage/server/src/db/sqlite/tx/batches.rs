//! A batch's statements: staging, and committing inside the database.
//!
//! A commit never carries the staged payloads out of SQLite and back: the
//! size change is counted and the rows are upserted from `batch_bsos` by
//! two statements, each finding a staged BSO's stored row by its primary
//! key. (Reading a 5,000-record batch out to merge it in memory held every
//! payload a third time, as Rust strings, at the end of each upload.)

use super::SqliteTx;
use crate::db::DbError;
use crate::db::backend::WriteTx;
use crate::db::types::BsoInput;
use crate::db::types::SizeDelta;

impl SqliteTx<'_> {
    /// Adds BSOs to a batch's staging, a repeated id keeping the latest of
    /// each field given.
    pub(super) fn stage(&mut self, id: i64, inputs: &[BsoInput]) -> Result<(), DbError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO batch_bsos (batch, id, sortindex, sortindex_set, payload, ttl, ttl_set)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (batch, id) DO UPDATE SET
                sortindex     = CASE WHEN ?4 THEN ?3 ELSE sortindex END,
                sortindex_set = sortindex_set OR ?4,
                payload       = COALESCE(?5, payload),
                ttl           = CASE WHEN ?7 THEN ?6 ELSE ttl END,
                ttl_set       = ttl_set OR ?7",
        )?;
        for input in inputs {
            stmt.execute(rusqlite::params![
                id,
                input.id,
                input.sortindex.flatten(),
                input.sortindex.is_some(),
                input.payload,
                input.ttl.flatten().map(|t| t.min(i64::MAX as u64) as i64),
                input.ttl.is_some(),
            ])?;
        }
        Ok(())
    }

    /// What staged, then `last` over it, written at `ts` with exactly the
    /// rules of `bsos::write_bsos` (expired BSOs dropped first; a field not
    /// given keeps its stored value; expiry as `ttl_expiry`, saturating at
    /// "never"); removes the batch and returns the collection's size change.
    pub(super) fn commit(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<SizeDelta, DbError> {
        if !last.is_empty() {
            self.stage(id, last)?;
        }
        let mut delta = self.drop_expired(uid, collection, ts)?;
        let (count, bytes): (i64, i64) = self.0.query_row(
            "SELECT count(*) FILTER (WHERE b.id IS NULL),
                    COALESCE(sum(CASE WHEN b.id IS NULL THEN octet_length(COALESCE(s.payload, ''))
                                      WHEN s.payload IS NOT NULL THEN octet_length(s.payload) - octet_length(b.payload)
                                      ELSE 0 END), 0)
             FROM batch_bsos s
             LEFT JOIN bsos b ON b.uid = ?1 AND b.collection = ?2 AND b.id = s.id
             WHERE s.batch = ?3",
            (uid, collection, id),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        delta.count += count;
        delta.bytes += bytes;
        self.0.execute(
            "INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload)
             SELECT ?1, ?2, s.id,
                    CASE WHEN s.sortindex_set OR b.id IS NULL THEN s.sortindex ELSE b.sortindex END,
                    CASE WHEN s.sortindex_set OR s.payload IS NOT NULL OR b.id IS NULL THEN ?4
                         ELSE b.modified END,
                    CASE WHEN s.ttl_set OR b.id IS NULL THEN
                             CASE WHEN s.ttl IS NULL OR s.ttl > (9223372036854775807 - ?4) / 1000
                                  THEN 9223372036854775807 ELSE ?4 + max(s.ttl, 0) * 1000 END
                         ELSE b.expiry END,
                    COALESCE(s.payload, b.payload, '')
             FROM batch_bsos s
             LEFT JOIN bsos b ON b.uid = ?1 AND b.collection = ?2 AND b.id = s.id
             WHERE s.batch = ?3
             ON CONFLICT (uid, collection, id) DO UPDATE SET
                sortindex = excluded.sortindex, modified = excluded.modified,
                expiry = excluded.expiry, payload = excluded.payload",
            (uid, collection, id, ts),
        )?;
        self.drop_batch(id)?;
        Ok(delta)
    }
}
