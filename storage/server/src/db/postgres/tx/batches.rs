//! A batch's statements: staging as one `MERGE` per POST, and committing
//! inside the database (the staged payloads never travel out and back).

use super::PgTx;
use super::rows::{Columns, written};
use crate::db::DbError;
use crate::db::types::BsoInput;
use crate::db::types::Written;

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

    /// What staged, then `last` over it, written at `ts` as
    /// `WriteTx::write_bsos` writes, in one statement that also removes the
    /// batch.
    pub(super) fn commit(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        if !last.is_empty() {
            self.stage(id, last)?;
        }
        let row = self.query_one(
            write_into_bsos!(
                "batch_bsos s",
                "s.batch = $4",
                "batch_gone AS (DELETE FROM batches WHERE id = $4),
                 staged_gone AS (DELETE FROM batch_bsos WHERE batch = $4),"
            ),
            &[&(uid as i64), &collection, &ts, &id],
        )?;
        written(&row)
    }
}
