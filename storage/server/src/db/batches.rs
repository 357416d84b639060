//! The batch upload API: BSOs accumulate in a pending batch over several
//! POSTs and become visible all at once, in one transaction, on commit.

use super::bsos::{BsoInput, PostOutcome, check_unmodified, finish_collection_write, write_bsos};
use super::{Db, DbError, next_timestamp, now_ms};

/// One POST of the batch API.
#[derive(Debug, Clone)]
pub struct BatchAppend<'a> {
    /// `None` starts a new batch (`batch=true`).
    pub batch: Option<i64>,
    /// The valid BSOs of this request.
    pub inputs: &'a [BsoInput],
    /// `commit=true`.
    pub commit: bool,
    /// The batch may hold at most this many BSOs…
    pub max_total_records: u64,
    /// …and this many payload bytes.
    pub max_total_bytes: u64,
    /// An uncommitted batch is dropped after this long.
    pub ttl_ms: i64,
}

/// What a batch POST did.
#[derive(Debug, Clone)]
pub enum BatchResult {
    /// The BSOs were added to the open batch `id`.
    Pending {
        /// The batch id.
        id: i64,
        /// The collection's (unchanged) time.
        collection_modified: i64,
    },
    /// The batch was committed.
    Committed(PostOutcome),
}

impl Db {
    /// Starts, extends and/or commits a batch, atomically.
    pub fn batch_post(
        &self,
        uid: u64,
        collection: &str,
        op: &BatchAppend<'_>,
        unmodified_since: Option<i64>,
        quota_bytes: u64,
    ) -> Result<BatchResult, DbError> {
        self.write_as_user(uid, |tx| {
            let current = tx.collection_modified(uid, collection)?;
            check_unmodified(current, unmodified_since)?;
            let now = now_ms();
            let (id, count, bytes) = match op.batch {
                // A one-shot batch (batch=true&commit=true) is never stored.
                None if op.commit => (0, 0, 0),
                None => (
                    tx.create_batch(uid, collection, now.saturating_add(op.ttl_ms))?,
                    0,
                    0,
                ),
                Some(id) => {
                    let (count, bytes) = tx
                        .open_batch(id, uid, collection, now)?
                        .ok_or(DbError::BatchNotFound)?;
                    (id, count, bytes)
                }
            };
            let added_bytes: usize = op.inputs.iter().map(BsoInput::payload_len).sum();
            let new_count = count as u64 + op.inputs.len() as u64;
            let new_bytes = bytes as u64 + added_bytes as u64;
            if new_count > op.max_total_records {
                return Err(DbError::LimitExceeded(format!(
                    "a batch may hold at most {} records",
                    op.max_total_records
                )));
            }
            if new_bytes > op.max_total_bytes {
                return Err(DbError::LimitExceeded(format!(
                    "a batch may hold at most {} payload bytes",
                    op.max_total_bytes
                )));
            }
            if !op.commit {
                tx.stage_batch(id, op.inputs, new_count as i64, new_bytes as i64)?;
                return Ok(BatchResult::Pending {
                    id,
                    collection_modified: current.unwrap_or(0),
                });
            }
            if count == 0 && op.inputs.is_empty() {
                // An empty commit writes nothing; the collection keeps its time.
                if op.batch.is_some() {
                    tx.drop_batch(id)?;
                }
                return Ok(BatchResult::Committed(PostOutcome {
                    modified: current.unwrap_or(0),
                    success: Vec::new(),
                    collection_bytes: 0,
                }));
            }
            let ts = next_timestamp(tx, uid)?;
            let delta = match op.batch {
                Some(id) => tx.commit_batch(id, uid, collection, op.inputs, ts)?,
                None => write_bsos(tx, uid, collection, op.inputs, ts)?,
            };
            let collection_bytes = finish_collection_write(tx, uid, collection, ts, quota_bytes, delta)?;
            Ok(BatchResult::Committed(PostOutcome {
                modified: ts,
                success: op.inputs.iter().map(|i| i.id.clone()).collect(),
                collection_bytes,
            }))
        })
    }
}

/// `later` over `earlier`: a BSO in both keeps each field `later` gives.
pub(crate) fn overlay(mut earlier: Vec<BsoInput>, later: &[BsoInput]) -> Vec<BsoInput> {
    let mut index: std::collections::HashMap<String, usize> = earlier
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.clone(), i))
        .collect();
    for input in later {
        match index.get(&input.id) {
            Some(&i) => {
                let target = &mut earlier[i];
                if input.sortindex.is_some() {
                    target.sortindex = input.sortindex;
                }
                if input.payload.is_some() {
                    target.payload.clone_from(&input.payload);
                }
                if input.ttl.is_some() {
                    target.ttl = input.ttl;
                }
            }
            None => {
                index.insert(input.id.clone(), earlier.len());
                earlier.push(input.clone());
            }
        }
    }
    earlier
}
