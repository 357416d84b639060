//! A batch's statements: staging as one `MERGE` per POST, and committing
//! inside the database (the staged payloads never travel out and back).

use super::PgTx;
use super::rows::Columns;
use crate::db::DbError;
use crate::db::backend::WriteTx;
use crate::db::types::BsoInput;
use crate::db::types::SizeDelta;

impl PgTx<'_> {
    /// Adds BSOs to a batch's staging, a repeated id keeping the latest of
    /// each field given.
    pub(super) fn stage(&mut self, id: i64, inputs: &[BsoInput]) -> Result<(), DbError> {
        let columns = Columns::of(inputs);
        self.execute(
            "MERGE INTO batch_bsos AS s
             USING UNNEST($2::TEXT[], $3::BIGINT[], $4::BOOLEAN[], $5::TEXT[], $6::BIGINT[], $7::BOOLEAN[])
                   AS u(id, sortindex, sortindex_set, payload, ttl, ttl_set)
             ON s.batch = $1 AND s.id = u.id
             WHEN MATCHED THEN UPDATE SET
                sortindex     = CASE WHEN u.sortindex_set THEN u.sortindex ELSE s.sortindex END,
                sortindex_set = s.sortindex_set OR u.sortindex_set,
                payload       = COALESCE(u.payload, s.payload),
                ttl           = CASE WHEN u.ttl_set THEN u.ttl ELSE s.ttl END,
                ttl_set       = s.ttl_set OR u.ttl_set
             WHEN NOT MATCHED THEN
                INSERT (batch, id, sortindex, sortindex_set, payload, ttl, ttl_set)
                VALUES ($1, u.id, u.sortindex, u.sortindex_set, u.payload, u.ttl, u.ttl_set)",
            &[
                &id,
                &columns.ids,
                &columns.sortindexes,
                &columns.sortindex_set,
                &columns.payloads,
                &columns.ttls,
                &columns.ttl_set,
            ],
        )?;
        Ok(())
    }

    /// What staged, then `last` over it, written at `ts` with exactly the
    /// rules of `bsos::write_bsos`; removes the batch and returns the
    /// collection's size change.
    pub(super) fn commit(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<SizeDelta, DbError> {
        let uid = uid as i64;
        if !last.is_empty() {
            self.stage(id, last)?;
        }
        let mut delta = self.drop_expired(uid as u64, collection, ts)?;
        // One primary-key probe per staged BSO (see `merge_into_bsos`).
        let row = self.query_one(
            "SELECT count(*) FILTER (WHERE o.len IS NULL),
                    COALESCE(sum(CASE WHEN o.len IS NULL THEN octet_length(COALESCE(s.payload, ''))
                                      WHEN s.payload IS NOT NULL THEN octet_length(s.payload) - o.len
                                      ELSE 0 END), 0)::BIGINT
             FROM batch_bsos s
             LEFT JOIN LATERAL (SELECT octet_length(b.payload) AS len FROM bsos b
                                WHERE b.uid = $1 AND b.collection = $2 AND b.id = s.id OFFSET 0) o ON true
             WHERE s.batch = $3",
            &[&uid, &collection, &id],
        )?;
        delta.count += row.try_get::<_, i64>(0)?;
        delta.bytes += row.try_get::<_, i64>(1)?;
        self.execute(
            merge_into_bsos!("batch_bsos s", "s.batch = $4"),
            &[&uid, &collection, &ts, &id],
        )?;
        self.drop_batch(id)?;
        Ok(delta)
    }
}
