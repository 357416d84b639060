//! The batch upload API: BSOs accumulate in a pending batch over several
//! POSTs and become visible all at once, in one transaction, on commit.

use super::bsos::{PostOutcome, check_unmodified, within_quota};
use super::types::BsoInput;
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
        /// The BSOs of this request that did not fit in the batch.
        refused: Vec<(String, BatchLimit)>,
    },
    /// The batch was committed.
    Committed {
        /// What the commit wrote.
        outcome: PostOutcome,
        /// The BSOs of this request that did not fit in the batch.
        refused: Vec<(String, BatchLimit)>,
    },
}

/// Which of a batch's limits a BSO would have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchLimit {
    /// `max_total_records`.
    Records,
    /// `max_total_bytes`.
    Bytes,
}

/// How many of `inputs`, from the first, fit in a batch already holding
/// `count` BSOs and `bytes` payload bytes; and which limit stopped the rest.
fn fitting(inputs: &[BsoInput], count: u64, bytes: u64, op: &BatchAppend<'_>) -> (usize, Option<BatchLimit>) {
    let (mut count, mut bytes) = (count, bytes);
    for (i, input) in inputs.iter().enumerate() {
        if count + 1 > op.max_total_records {
            return (i, Some(BatchLimit::Records));
        }
        let added = input.payload_len() as u64;
        if bytes + added > op.max_total_bytes {
            return (i, Some(BatchLimit::Bytes));
        }
        count += 1;
        bytes += added;
    }
    (inputs.len(), None)
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
        self.write_as_user(uid, Some(collection), |tx, start| {
            let current = start.collection_modified;
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
            // What would take the batch past its limits is not added, and
            // the rest of the request is stored: as a POST past its own limits
            // (Mozilla's `BsoBodies` extractor: "retry bso", "retry bytes").
            let (fit, limit) = fitting(op.inputs, count as u64, bytes as u64, op);
            let (inputs, over) = op.inputs.split_at(fit);
            let refused: Vec<(String, BatchLimit)> = over
                .iter()
                .filter_map(|i| limit.map(|l| (i.id.clone(), l)))
                .collect();
            let new_count = count as u64 + inputs.len() as u64;
            let new_bytes = bytes as u64 + inputs.iter().map(|i| i.payload_len() as u64).sum::<u64>();
            if !op.commit {
                tx.stage_batch(id, inputs, new_count as i64, new_bytes as i64)?;
                return Ok(BatchResult::Pending {
                    id,
                    collection_modified: current.unwrap_or(0),
                    refused,
                });
            }
            if count == 0 && inputs.is_empty() {
                // An empty commit writes nothing; the collection keeps its time.
                if op.batch.is_some() {
                    tx.drop_batch(id)?;
                }
                return Ok(BatchResult::Committed {
                    outcome: PostOutcome {
                        modified: current.unwrap_or(0),
                        success: Vec::new(),
                        collection_bytes: 0,
                    },
                    refused,
                });
            }
            let ts = next_timestamp(start.user_modified);
            let written = match op.batch {
                Some(id) => tx.commit_batch(id, uid, collection, inputs, ts)?,
                None => tx.write_bsos(uid, collection, inputs, ts)?,
            };
            let collection_bytes = within_quota(written, quota_bytes)?;
            Ok(BatchResult::Committed {
                outcome: PostOutcome {
                    modified: ts,
                    success: inputs.iter().map(|i| i.id.clone()).collect(),
                    collection_bytes,
                },
                refused,
            })
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
