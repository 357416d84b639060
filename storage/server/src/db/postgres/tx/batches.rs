//! A batch's statements: staging a POST as one row, and committing inside
//! the database (the staged payloads never travel out and back).

use super::PgTx;
use super::rows::{Columns, distinct, written};
use crate::db::DbError;
use crate::db::types::BsoInput;
use crate::db::types::Written;

impl PgTx<'_> {
    /// Stages a POST's BSOs as one row (schema migration 5) and records the
    /// batch's new `(count, bytes)` — one statement. A repeated id within
    /// the POST is folded here (`distinct`), across POSTs at commit.
    pub(super) fn stage(
        &mut self,
        id: i64,
        inputs: &[BsoInput],
        count: i64,
        bytes: i64,
    ) -> Result<(), DbError> {
        let inputs = distinct(inputs);
        let columns = Columns::of(&inputs);
        self.execute(
            "WITH counted AS (UPDATE batches SET bso_count = $2, total_bytes = $3 WHERE id = $1)
             INSERT INTO batch_posts (batch, ids, sortindexes, sortindex_set, payloads, ttls, ttl_set)
             SELECT $1, $4, $5, $6, $7, $8, $9 WHERE cardinality($4::TEXT[]) > 0",
            &columns.after(&[&id, &count, &bytes]),
        )?;
        Ok(())
    }

    /// The staged POSTs, then `last`, folded into one set of BSOs and
    /// written at `ts` as `WriteTx::write_bsos` writes, in one statement
    /// that also removes the batch.
    ///
    /// The fold is `batches::overlay`'s rule (a later POST wins each field
    /// it gives) over the POSTs in the order they were staged (`seq`;
    /// `last` after them all). Within a POST ids are unique, and across a
    /// batch's POSTs an id rarely repeats: only repeated ids are grouped,
    /// so the common batch is unnested and written with no sort.
    pub(super) fn commit(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        let last = distinct(last);
        let columns = Columns::of(&last);
        let row = self.query_one(
            write_into_bsos!(
                "folded s",
                "TRUE",
                "staged AS MATERIALIZED (
                     SELECT u.id, u.sortindex, u.sortindex_set, u.payload, u.ttl, u.ttl_set, p.seq
                     FROM batch_posts p
                     CROSS JOIN LATERAL UNNEST(p.ids, p.sortindexes, p.sortindex_set, p.payloads, p.ttls, p.ttl_set)
                          AS u(id, sortindex, sortindex_set, payload, ttl, ttl_set)
                     WHERE p.batch = $4
                     UNION ALL
                     SELECT u.id, u.sortindex, u.sortindex_set, u.payload, u.ttl, u.ttl_set, 9223372036854775807
                     FROM UNNEST($5::TEXT[], $6::BIGINT[], $7::BOOLEAN[], $8::TEXT[], $9::BIGINT[], $10::BOOLEAN[])
                          AS u(id, sortindex, sortindex_set, payload, ttl, ttl_set)
                 ), repeated AS (
                     SELECT id FROM staged GROUP BY id HAVING count(*) > 1
                 ), folded AS (
                     SELECT id, sortindex, sortindex_set, payload, ttl, ttl_set FROM staged
                     WHERE id NOT IN (SELECT id FROM repeated)
                     UNION ALL
                     SELECT id,
                            (array_agg(sortindex ORDER BY seq DESC) FILTER (WHERE sortindex_set))[1],
                            bool_or(sortindex_set),
                            (array_agg(payload ORDER BY seq DESC) FILTER (WHERE payload IS NOT NULL))[1],
                            (array_agg(ttl ORDER BY seq DESC) FILTER (WHERE ttl_set))[1],
                            bool_or(ttl_set)
                     FROM staged WHERE id IN (SELECT id FROM repeated) GROUP BY id
                 ),
                 batch_gone AS (DELETE FROM batches WHERE id = $4),
                 staged_gone AS (DELETE FROM batch_posts WHERE batch = $4),"
            ),
            &columns.after(&[&(uid as i64), &collection, &ts, &id]),
        )?;
        written(&row)
    }
}
