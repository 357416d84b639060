//! A batch's statements: staging as one upsert per POST, and committing
//! inside the database (the staged payloads never travel out and back).

use super::PgTx;
use super::rows::{Columns, written};
use crate::db::DbError;
use crate::db::types::BsoInput;
use crate::db::types::Written;

impl PgTx<'_> {
    /// Adds BSOs to a batch's staging, a repeated id keeping the latest of
    /// each field given, and records the batch's new `(count, bytes)` when
    /// given — one statement. (An upsert rather than `MERGE`, which
    /// PostgreSQL 15 cannot run beside the batch's update.)
    pub(super) fn stage(
        &mut self,
        id: i64,
        inputs: &[BsoInput],
        totals: Option<(i64, i64)>,
    ) -> Result<(), DbError> {
        let columns = Columns::of(inputs);
        let (count, bytes) = (totals.map(|t| t.0), totals.map(|t| t.1));
        self.execute(
            "WITH counted AS (
                 UPDATE batches SET bso_count = $8, total_bytes = $9 WHERE id = $1 AND $8::BIGINT IS NOT NULL
             )
             INSERT INTO batch_bsos AS s (batch, id, sortindex, sortindex_set, payload, ttl, ttl_set)
             SELECT $1, u.id, u.sortindex, u.sortindex_set, u.payload, u.ttl, u.ttl_set
             FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BOOLEAN[], $5::TEXT[], $6::BIGINT[], $7::BOOLEAN[])
                  AS u(id, sortindex, sortindex_set, payload, ttl, ttl_set)
             ON CONFLICT (batch, id) DO UPDATE SET
                sortindex     = CASE WHEN EXCLUDED.sortindex_set THEN EXCLUDED.sortindex ELSE s.sortindex END,
                sortindex_set = s.sortindex_set OR EXCLUDED.sortindex_set,
                payload       = COALESCE(EXCLUDED.payload, s.payload),
                ttl           = CASE WHEN EXCLUDED.ttl_set THEN EXCLUDED.ttl ELSE s.ttl END,
                ttl_set       = s.ttl_set OR EXCLUDED.ttl_set",
            &[
                &id,
                &columns.ids,
                &columns.sortindexes,
                &columns.sortindex_set,
                &columns.payloads,
                &columns.ttls,
                &columns.ttl_set,
                &count,
                &bytes,
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
            self.stage(id, last, None)?;
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
