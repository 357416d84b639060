//! Reading a whole collection in one answer, however large, in bounded
//! memory.
//!
//! A `GET storage/<collection>` without `limit` returns everything it
//! selects, as Mozilla's production (Spanner) and PostgreSQL backends do
//! (syncstorage-rs `syncstorage-spanner/src/db/db_impl.rs` and
//! `syncstorage-postgres/src/db/mod.rs`: `limit.unwrap_or(-1)`).
//! application-services reads a collection in one request and never follows
//! `X-Weave-Next-Offset`, so a server that cut the answer short would leave
//! Firefox Android and iOS with part of a bookmark tree. Mozilla's servers
//! hold such an answer in memory whole; this one hands the records to a
//! [`CollectionSink`] one by one from a single snapshot, so the API can
//! stream them into the response body.

use super::bsos::page_bytes;
use super::types::{Bso, CollectionQuery};
use super::{Db, DbError, now_ms};

/// Bytes of records read ahead before an unpaged read counts the rest and
/// turns into a stream. Answers up to this size are handed over whole, so
/// nearly every read costs one statement, as before.
pub const STREAM_AFTER_BYTES: usize = 1 << 20;

/// Records an unpaged read takes in its first statement, without a
/// transaction; a collection with more is read again in one (see
/// [`Db::read_collection`]). It bounds what that first statement sends
/// for nothing.
const READ_AHEAD_ROWS: u64 = 500;

/// Where [`Db::read_collection`] puts what it reads.
pub trait CollectionSink {
    /// Called first, once: the collection's last-modified time (None: it
    /// does not exist), how many records the read returns in all, and the
    /// first of them. When `first.len()` equals `total`, that is all.
    /// Returning false ends the read.
    fn begin(&mut self, collection_modified: Option<i64>, total: u64, first: Vec<Bso>) -> bool;

    /// Each further record, in order. Returning false ends the read.
    fn record(&mut self, bso: Bso) -> bool;
}

impl Db {
    /// Everything `query` selects from its offset on — its `limit` is
    /// ignored — read from one snapshot and handed to `sink`. The first
    /// [`STREAM_AFTER_BYTES`] are read ahead; past them, the rest is counted
    /// (in the same snapshot, so `total` is exact) and then handed over
    /// record by record, never held together.
    pub fn read_collection(
        &self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        sink: &mut dyn CollectionSink,
    ) -> Result<(), DbError> {
        let query = CollectionQuery {
            limit: None,
            ..query.clone()
        };
        if query.ids.as_ref().is_some_and(Vec::is_empty) {
            sink.begin(self.collection_modified(uid, collection)?, 0, Vec::new());
            return Ok(());
        }
        // Most answers are small: one statement reads the time and up to
        // READ_AHEAD_ROWS records; only past that (or past
        // STREAM_AFTER_BYTES) does the read start over in a transaction,
        // where it can count and stream.
        let head = CollectionQuery {
            limit: Some(READ_AHEAD_ROWS),
            ..query.clone()
        };
        let mut first = Vec::new();
        let mut whole = true;
        let collection_modified = self.read_single(|tx| {
            // Empty again if a dead connection made this run twice.
            first.clear();
            whole = true;
            let mut bytes = 0;
            tx.page(uid, collection, &head, now_ms(), &mut |bso| {
                bytes += page_bytes(&bso);
                if first.len() as u64 >= READ_AHEAD_ROWS || (!first.is_empty() && bytes > STREAM_AFTER_BYTES)
                {
                    whole = false;
                    return false;
                }
                first.push(bso);
                true
            })
        })?;
        if whole {
            let total = first.len() as u64;
            sink.begin(collection_modified, total, first);
            return Ok(());
        }
        drop(first);
        self.read(|tx| {
            let collection_modified = tx.collection_modified(uid, collection)?;
            let now = now_ms();
            let mut first = Vec::new();
            let mut bytes = 0;
            let mut overflow = None;
            tx.bsos(uid, collection, &query, now, &mut |bso| {
                if !first.is_empty() && bytes + page_bytes(&bso) > STREAM_AFTER_BYTES {
                    overflow = Some(bso);
                    return false;
                }
                bytes += page_bytes(&bso);
                first.push(bso);
                true
            })?;
            let Some(next) = overflow else {
                let total = first.len() as u64;
                sink.begin(collection_modified, total, first);
                return Ok(());
            };
            let total = tx.count_bsos(uid, collection, &query, now)?;
            let read = first.len() as u64 + 1;
            if !sink.begin(collection_modified, total, first) || !sink.record(next) {
                return Ok(());
            }
            let rest = CollectionQuery {
                offset: query.offset.saturating_add(read),
                ..query
            };
            tx.bsos(uid, collection, &rest, now, &mut |bso| sink.record(bso))
        })
    }
}
