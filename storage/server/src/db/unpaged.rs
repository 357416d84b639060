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
        self.read(|tx| {
            let collection_modified = tx.collection_modified(uid, collection)?;
            let query = CollectionQuery {
                limit: None,
                ..query.clone()
            };
            if query.ids.as_ref().is_some_and(Vec::is_empty) {
                sink.begin(collection_modified, 0, Vec::new());
                return Ok(());
            }
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
