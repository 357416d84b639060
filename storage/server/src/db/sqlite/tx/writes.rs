//! A write of BSOs, step by step: in-process statements cost little, so
//! SQLite keeps the rules of `WriteTx::write_bsos` in Rust.

use std::collections::HashMap;

use rusqlite::types::Value;

use super::{SqliteTx, removed};
use crate::db::DbError;
use crate::db::ttl_expiry;
use crate::db::types::{BsoInput, SizeDelta};

/// The steps of a write of BSOs.
impl SqliteTx<'_> {
    /// Writes BSOs at `ts` statement by statement and returns how the
    /// collection's size changed (the rules of [`WriteTx::write_bsos`]). The
    /// collection's expired BSOs are deleted first, so a stored BSO is live
    /// and the quota sees only live ones.
    pub(super) fn write_bsos_stepwise(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<SizeDelta, DbError> {
        let mut delta = self.drop_expired(uid, collection, ts)?;
        let ids: Vec<&str> = inputs.iter().map(|i| i.id.as_str()).collect();
        let mut old = self.stored_lengths(uid, collection, &ids)?;
        for input in inputs {
            let new_len = input.payload.as_ref().map(|p| p.len() as i64);
            match old.get(&input.id).copied() {
                None => {
                    delta.count += 1;
                    delta.bytes += new_len.unwrap_or(0);
                }
                Some(old_len) => {
                    // The payload is replaced only when given.
                    if let Some(new_len) = new_len {
                        delta.bytes += new_len - old_len;
                    }
                }
            }
            // A repeated id in one request must not be counted as new twice.
            let len = new_len.unwrap_or_else(|| old.get(&input.id).copied().unwrap_or(0));
            old.insert(input.id.clone(), len);
        }
        self.upsert_bsos(uid, collection, inputs, ts)?;
        Ok(delta)
    }

    pub(super) fn drop_expired(
        &mut self,
        uid: u64,
        collection: &str,
        now: i64,
    ) -> Result<SizeDelta, DbError> {
        let mut stmt = self.0.prepare_cached(
            "DELETE FROM bsos WHERE uid = ? AND collection = ? AND expiry <= ? AND expiry < 9223372036854775807
             RETURNING octet_length(payload)",
        )?;
        removed(&mut stmt.query((uid, collection, now))?)
    }

    fn stored_lengths(
        &mut self,
        uid: u64,
        collection: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, i64>, DbError> {
        let mut lengths = HashMap::new();
        for chunk in ids.chunks(100) {
            let sql = format!(
                "SELECT id, octet_length(payload) FROM bsos
                 WHERE uid = ? AND collection = ? AND id IN ({})",
                vec!["?"; chunk.len()].join(",")
            );
            let mut params: Vec<Value> = Vec::with_capacity(chunk.len() + 2);
            params.push(Value::Integer(uid as i64));
            params.push(Value::Text(collection.to_owned()));
            params.extend(chunk.iter().map(|id| Value::Text((*id).to_owned())));
            let mut stmt = self.0.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(row) = rows.next()? {
                lengths.insert(row.get(0)?, row.get(1)?);
            }
        }
        Ok(lengths)
    }

    fn upsert_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<(), DbError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (uid, collection, id) DO UPDATE SET
                sortindex = CASE WHEN ?8 THEN excluded.sortindex ELSE bsos.sortindex END,
                payload   = CASE WHEN ?9 THEN excluded.payload ELSE bsos.payload END,
                modified  = CASE WHEN ?8 OR ?9 THEN ?5 ELSE bsos.modified END,
                expiry    = CASE WHEN ?10 THEN excluded.expiry ELSE bsos.expiry END",
        )?;
        for input in inputs {
            stmt.execute(rusqlite::params![
                uid,
                collection,
                input.id,
                input.sortindex.flatten(),
                ts,
                ttl_expiry(ts, input.ttl),
                input.payload.as_deref().unwrap_or(""),
                input.sortindex.is_some(),
                input.payload.is_some(),
                input.ttl.is_some(),
            ])?;
        }
        Ok(())
    }
}
