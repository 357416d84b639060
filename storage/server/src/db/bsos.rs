//! Reading and writing BSOs.

use super::backend::WriteTx;
use super::types::{Bso, BsoInput, CollectionQuery, SizeDelta, Written};
use super::{Db, DbError, next_timestamp, now_ms};

/// Most bytes of ids and payloads one page of a paged read (one with a
/// `limit`) holds. A page stops before the record that would pass it (but
/// always holds at least one record) and says where the next begins, so a
/// paged read of any collection takes a bounded amount of memory. Reads
/// without a limit are streamed instead (`db::unpaged`).
pub const PAGE_BYTES: usize = 8 << 20;

/// Bytes a record counts for in [`PAGE_BYTES`]: its id, payload and the
/// JSON around them.
pub(crate) fn page_bytes(bso: &Bso) -> usize {
    bso.id.len() + bso.payload.len() + 64
}

/// One page of a collection.
#[derive(Debug, Clone)]
pub struct Page {
    /// The BSOs.
    pub bsos: Vec<Bso>,
    /// The offset of the next page, if there is more.
    pub next_offset: Option<u64>,
    /// The collection's last-modified time (None: it does not exist).
    pub collection_modified: Option<i64>,
}

/// The result of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The write's timestamp (ms).
    pub modified: i64,
    /// Bytes the collection now holds.
    pub collection_bytes: i64,
}

/// The result of a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOutcome {
    /// The write's timestamp, or the unchanged collection time if nothing was written.
    pub modified: i64,
    /// Ids stored.
    pub success: Vec<String>,
    /// Bytes the collection now holds.
    pub collection_bytes: i64,
}

/// The expiry of a BSO without a TTL.
pub(crate) const NEVER: i64 = i64::MAX;

impl Db {
    /// The user's overall last-modified time (0 if they never wrote).
    pub fn user_modified(&self, uid: u64) -> Result<i64, DbError> {
        self.read_single(|tx| tx.user_timestamp(uid))
    }

    /// The user's last write (0 if none) and `(collection, last-modified
    /// ms)` for every collection of theirs, from one snapshot.
    pub fn collection_timestamps(&self, uid: u64) -> Result<(i64, Vec<(String, i64)>), DbError> {
        self.read_single(|tx| {
            let (user_modified, collections) = tx.collections_and_user_timestamp(uid)?;
            Ok((
                user_modified,
                collections.into_iter().map(|(c, m, _)| (c, m)).collect(),
            ))
        })
    }

    /// `(collection, bytes)` for every collection of the user, not
    /// counting BSOs that have expired.
    pub fn collection_bytes(&self, uid: u64) -> Result<Vec<(String, i64)>, DbError> {
        self.live_sizes(uid, |size| size.bytes)
    }

    /// `(collection, BSO count)` for every collection of the user, not
    /// counting BSOs that have expired.
    pub fn collection_counts(&self, uid: u64) -> Result<Vec<(String, i64)>, DbError> {
        self.live_sizes(uid, |size| size.count)
    }

    /// The stored totals, less what expired since the last write or purge.
    fn live_sizes(&self, uid: u64, pick: fn(SizeDelta) -> i64) -> Result<Vec<(String, i64)>, DbError> {
        self.read(|tx| {
            let expired = tx.expired_sizes(uid, now_ms())?;
            let mut out = Vec::new();
            for (collection, _, stored) in tx.collections(uid)? {
                let gone = expired.get(&collection).copied().unwrap_or_default();
                let live = SizeDelta {
                    bytes: (stored.bytes - gone.bytes).max(0),
                    count: (stored.count - gone.count).max(0),
                };
                out.push((collection, pick(live)));
            }
            Ok(out)
        })
    }

    /// A collection's last-modified time, if it exists.
    pub fn collection_modified(&self, uid: u64, collection: &str) -> Result<Option<i64>, DbError> {
        self.read_single(|tx| tx.collection_modified(uid, collection))
    }

    /// One page of a collection, and its last-modified time, from one
    /// snapshot (a read with a `limit`; see [`Db::read_collection`] for one without).
    pub fn get_collection(
        &self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
    ) -> Result<Page, DbError> {
        if query.ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Page {
                bsos: Vec::new(),
                next_offset: None,
                collection_modified: self.collection_modified(uid, collection)?,
            });
        }
        let mut bsos = Vec::new();
        let mut more = false;
        let collection_modified = self.read_single(|tx| {
            // Empty again if a dead connection made this run twice.
            bsos.clear();
            more = false;
            let mut bytes = 0;
            tx.page(uid, collection, query, now_ms(), &mut |bso| {
                let full = query.limit.is_some_and(|l| bsos.len() as u64 >= l)
                    || (!bsos.is_empty() && bytes + page_bytes(&bso) > PAGE_BYTES);
                if full {
                    more = true;
                    return false;
                }
                bytes += page_bytes(&bso);
                bsos.push(bso);
                true
            })
        })?;
        let next_offset = more.then(|| query.offset + bsos.len() as u64);
        Ok(Page {
            bsos,
            next_offset,
            collection_modified,
        })
    }

    /// One BSO, unless missing or expired.
    pub fn get_bso(&self, uid: u64, collection: &str, id: &str) -> Result<Option<Bso>, DbError> {
        self.read_single(|tx| tx.bso(uid, collection, id, now_ms()))
    }

    /// PUT of one BSO. `unmodified_since` is checked against the BSO's own time.
    pub fn put_bso(
        &self,
        uid: u64,
        collection: &str,
        input: &BsoInput,
        unmodified_since: Option<i64>,
        quota_bytes: u64,
    ) -> Result<WriteOutcome, DbError> {
        self.write_as_user(uid, None, |tx, start| {
            if let Some(since) = unmodified_since {
                let current = tx
                    .bso(uid, collection, &input.id, now_ms())?
                    .map_or(0, |b| b.modified);
                if current > since {
                    return Err(DbError::PreconditionFailed(current));
                }
            }
            let ts = next_timestamp(start.user_modified);
            let written = tx.write_bsos(uid, collection, std::slice::from_ref(input), ts)?;
            let collection_bytes = within_quota(written, quota_bytes)?;
            Ok(WriteOutcome {
                modified: ts,
                collection_bytes,
            })
        })
    }

    /// POST of valid BSOs, all with one timestamp. `unmodified_since` is
    /// checked against the collection's time.
    pub fn post_bsos(
        &self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        unmodified_since: Option<i64>,
        quota_bytes: u64,
    ) -> Result<PostOutcome, DbError> {
        self.write_as_user(uid, Some(collection), |tx, start| {
            let current = start.collection_modified;
            check_unmodified(current, unmodified_since)?;
            if inputs.is_empty() {
                let collection_bytes = tx
                    .collections(uid)?
                    .into_iter()
                    .find(|(c, _, _)| c == collection)
                    .map_or(0, |(_, _, size)| size.bytes);
                return Ok(PostOutcome {
                    modified: current.unwrap_or(0),
                    success: Vec::new(),
                    collection_bytes,
                });
            }
            let ts = next_timestamp(start.user_modified);
            let written = tx.write_bsos(uid, collection, inputs, ts)?;
            let collection_bytes = within_quota(written, quota_bytes)?;
            Ok(PostOutcome {
                modified: ts,
                success: inputs.iter().map(|i| i.id.clone()).collect(),
                collection_bytes,
            })
        })
    }

    /// DELETE of one BSO; [`DbError::NotFound`] if it does not exist.
    pub fn delete_bso(
        &self,
        uid: u64,
        collection: &str,
        id: &str,
        unmodified_since: Option<i64>,
    ) -> Result<i64, DbError> {
        self.write_as_user(uid, None, |tx, start| {
            let existing = tx.bso(uid, collection, id, now_ms())?.ok_or(DbError::NotFound)?;
            check_unmodified(Some(existing.modified), unmodified_since)?;
            let ts = next_timestamp(start.user_modified);
            let delta = tx.delete_bsos(uid, collection, std::slice::from_ref(&existing.id))?;
            finish_collection_write(tx, uid, collection, ts, 0, delta)?;
            Ok(ts)
        })
    }

    /// DELETE of the listed BSOs; the collection stays and gets a new time.
    /// On a collection that does not exist nothing changes and the answer
    /// is the user's last-modified time, as Mozilla's server answers (the
    /// 1.5 API: "non-existent collections do not trigger 404").
    pub fn delete_bsos(
        &self,
        uid: u64,
        collection: &str,
        ids: &[String],
        unmodified_since: Option<i64>,
    ) -> Result<i64, DbError> {
        self.write_as_user(uid, Some(collection), |tx, start| {
            let current = start.collection_modified;
            check_unmodified(current, unmodified_since)?;
            if current.is_none() {
                return Ok(start.user_modified);
            }
            let ts = next_timestamp(start.user_modified);
            let delta = tx.delete_bsos(uid, collection, ids)?;
            finish_collection_write(tx, uid, collection, ts, 0, delta)?;
            Ok(ts)
        })
    }

    /// DELETE of a whole collection. One that does not exist is not an
    /// error: nothing changes and the answer is the user's last-modified
    /// time (as [`Db::delete_bsos`]).
    pub fn delete_collection(
        &self,
        uid: u64,
        collection: &str,
        unmodified_since: Option<i64>,
    ) -> Result<i64, DbError> {
        self.write_as_user(uid, Some(collection), |tx, start| {
            let current = start.collection_modified;
            check_unmodified(current, unmodified_since)?;
            if current.is_none() {
                return Ok(start.user_modified);
            }
            let ts = next_timestamp(start.user_modified);
            tx.delete_collection(uid, collection)?;
            tx.set_user_timestamp(uid, ts)?;
            Ok(ts)
        })
    }

    /// DELETE of everything the user stored. The user's timestamp survives,
    /// so later writes still get later times.
    pub fn delete_storage(&self, uid: u64, unmodified_since: Option<i64>) -> Result<i64, DbError> {
        self.write_as_user(uid, None, |tx, start| {
            check_unmodified(Some(start.user_modified), unmodified_since)?;
            let ts = next_timestamp(start.user_modified);
            tx.delete_user_data(uid)?;
            tx.set_user_timestamp(uid, ts)?;
            Ok(ts)
        })
    }
}

pub(super) fn check_unmodified(current: Option<i64>, unmodified_since: Option<i64>) -> Result<(), DbError> {
    match unmodified_since {
        Some(since) if current.unwrap_or(0) > since => Err(DbError::PreconditionFailed(current.unwrap_or(0))),
        _ => Ok(()),
    }
}

/// Stamps the collection and the user with `ts`, applies the size change,
/// and enforces the quota. Returns the collection's size in bytes.
pub(super) fn finish_collection_write(
    tx: &mut dyn WriteTx,
    uid: u64,
    collection: &str,
    ts: i64,
    quota_bytes: u64,
    delta: SizeDelta,
) -> Result<i64, DbError> {
    let collection_bytes = tx.touch_collection(uid, collection, ts, delta)?;
    within_quota(
        Written {
            delta,
            collection_bytes,
        },
        quota_bytes,
    )
}

/// The collection's bytes after `written`, or [`DbError::OverQuota`] if it
/// grew past `quota_bytes` (0: no quota); the write is then rolled back.
pub(super) fn within_quota(written: Written, quota_bytes: u64) -> Result<i64, DbError> {
    if quota_bytes > 0 && written.delta.bytes > 0 && written.collection_bytes > quota_bytes as i64 {
        return Err(DbError::OverQuota);
    }
    Ok(written.collection_bytes)
}
