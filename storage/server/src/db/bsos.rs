//! Reading and writing BSOs.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::{Db, DbError, next_timestamp, now_ms, set_user_timestamp};

/// A stored BSO, as `GET` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bso {
    /// The id.
    pub id: String,
    /// When it was last written, in ms.
    pub modified: i64,
    /// Its sortindex, if it has one.
    pub sortindex: Option<i64>,
    /// The payload string.
    pub payload: String,
}

/// A BSO in a PUT or POST. `None` means "not given": an existing BSO keeps
/// that field, a new one gets the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BsoInput {
    /// The id.
    pub id: String,
    /// `Some(None)` clears the sortindex.
    pub sortindex: Option<Option<i64>>,
    /// The payload (an explicit `null` arrives here as `Some("")`).
    pub payload: Option<String>,
    /// Seconds to live; `Some(None)` means "never expires".
    pub ttl: Option<Option<u64>>,
}

impl BsoInput {
    /// Payload bytes this input adds (for POST and batch limits).
    pub fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(0, String::len)
    }
}

/// The `sort` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// No order asked for: oldest first, which pages stably.
    #[default]
    Unspecified,
    /// Oldest first.
    Oldest,
    /// Newest first.
    Newest,
    /// Highest sortindex first.
    Index,
}

/// A `GET storage/<collection>` query.
#[derive(Debug, Clone, Default)]
pub struct CollectionQuery {
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Only BSOs modified strictly after this (ms).
    pub newer: Option<i64>,
    /// Only BSOs modified strictly before this (ms).
    pub older: Option<i64>,
    /// The order.
    pub sort: SortOrder,
    /// At most this many.
    pub limit: Option<u64>,
    /// Skip this many (from a previous `X-Weave-Next-Offset`).
    pub offset: u64,
    /// Ids only: payloads are not read (`full` was not asked for).
    pub ids_only: bool,
}

/// Most bytes of ids and payloads one page holds. A page stops before the
/// record that would pass it (but always holds at least one record) and
/// says where the next begins, so a read of any collection — 2.5 GB under
/// the default quota — takes a bounded amount of memory.
pub const PAGE_BYTES: usize = 8 << 20;

/// Bytes a record counts for in [`PAGE_BYTES`]: its id, payload and the
/// JSON around them.
fn page_bytes(bso: &Bso) -> usize {
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

const NEVER: i64 = i64::MAX;

impl Db {
    /// The user's overall last-modified time (0 if they never wrote).
    pub fn user_modified(&self, uid: u64) -> Result<i64, DbError> {
        self.read(|c| user_timestamp(c, uid))
    }

    /// `(collection, last-modified ms)` for every collection of the user.
    pub fn collection_timestamps(&self, uid: u64) -> Result<Vec<(String, i64)>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT collection, modified FROM user_collections WHERE uid = ? ORDER BY collection",
            )?;
            let rows = stmt.query_map([uid], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
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
        self.read_tx(|tx| {
            let expired = expired_sizes(tx, uid, now_ms())?;
            let mut stmt = tx.prepare_cached(
                "SELECT collection, total_bytes, bso_count FROM user_collections WHERE uid = ? ORDER BY collection",
            )?;
            let rows = stmt.query_map([uid], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    SizeDelta {
                        bytes: r.get(1)?,
                        count: r.get(2)?,
                    },
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (collection, stored) = row?;
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
        self.read(|c| collection_modified(c, uid, collection))
    }

    /// One page of a collection, and its last-modified time, from one snapshot.
    pub fn get_collection(
        &self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
    ) -> Result<Page, DbError> {
        self.read_tx(|tx| {
            let collection_modified = collection_modified(tx, uid, collection)?;
            // `+expiry`: the expiry index is partial, and letting the planner
            // consider it for a bound value would re-prepare the statement
            // on every execution.
            let mut sql = String::from(if query.ids_only {
                "SELECT id, modified, sortindex, '' FROM bsos
                 WHERE uid = ? AND collection = ? AND +expiry > ?"
            } else {
                "SELECT id, modified, sortindex, payload FROM bsos
                 WHERE uid = ? AND collection = ? AND +expiry > ?"
            });
            let mut params: Vec<Value> = vec![
                Value::Integer(uid as i64),
                Value::Text(collection.to_owned()),
                Value::Integer(now_ms()),
            ];
            // In sortindex order the time bounds are filters, not the way
            // in (`+`): walking the sortindex index needs no sort step.
            let by_index = matches!(query.sort, SortOrder::Index);
            let modified = if by_index { "+modified" } else { "modified" };
            if let Some(newer) = query.newer {
                sql.push_str(&format!(" AND {modified} > ?"));
                params.push(Value::Integer(newer));
            }
            if let Some(older) = query.older {
                sql.push_str(&format!(" AND {modified} < ?"));
                params.push(Value::Integer(older));
            }
            if let Some(ids) = &query.ids {
                if ids.is_empty() {
                    return Ok(Page {
                        bsos: Vec::new(),
                        next_offset: None,
                        collection_modified,
                    });
                }
                sql.push_str(" AND id IN (");
                sql.push_str(&vec!["?"; ids.len()].join(","));
                sql.push(')');
                params.extend(ids.iter().map(|id| Value::Text(id.clone())));
            }
            sql.push_str(match query.sort {
                SortOrder::Unspecified | SortOrder::Oldest => " ORDER BY modified ASC, id ASC",
                SortOrder::Newest => " ORDER BY modified DESC, id ASC",
                // NULLs sort last in DESC order, as the protocol wants.
                SortOrder::Index => " ORDER BY sortindex DESC, id ASC",
            });
            // One more than asked tells whether there is a next page.
            let fetch = query
                .limit
                .map_or(-1, |l| l.saturating_add(1).min(i64::MAX as u64) as i64);
            // CAST keeps the cached statement from being re-prepared per request (see sync_sql).
            sql.push_str(" LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)");
            params.push(Value::Integer(fetch));
            params.push(Value::Integer(query.offset.min(i64::MAX as u64) as i64));

            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok(Bso {
                    id: r.get(0)?,
                    modified: r.get(1)?,
                    sortindex: r.get(2)?,
                    payload: r.get(3)?,
                })
            })?;
            // Rows are stepped one by one: a page that fills up stops
            // SQLite from reading further.
            let mut bsos = Vec::new();
            let mut bytes = 0;
            let mut more = false;
            for row in rows {
                let bso = row?;
                let full = query.limit.is_some_and(|l| bsos.len() as u64 >= l)
                    || (!bsos.is_empty() && bytes + page_bytes(&bso) > PAGE_BYTES);
                if full {
                    more = true;
                    break;
                }
                bytes += page_bytes(&bso);
                bsos.push(bso);
            }
            let next_offset = more.then(|| query.offset + bsos.len() as u64);
            Ok(Page {
                bsos,
                next_offset,
                collection_modified,
            })
        })
    }

    /// One BSO, unless missing or expired.
    pub fn get_bso(&self, uid: u64, collection: &str, id: &str) -> Result<Option<Bso>, DbError> {
        self.read(|c| get_bso(c, uid, collection, id))
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
        self.write(|tx| {
            if let Some(since) = unmodified_since {
                let current = get_bso(tx, uid, collection, &input.id)?.map_or(0, |b| b.modified);
                if current > since {
                    return Err(DbError::PreconditionFailed(current));
                }
            }
            let ts = next_timestamp(tx, uid)?;
            let delta = write_bsos(tx, uid, collection, std::slice::from_ref(input), ts)?;
            let collection_bytes = finish_collection_write(tx, uid, collection, ts, quota_bytes, delta)?;
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
        self.write(|tx| {
            let current = collection_modified(tx, uid, collection)?;
            check_unmodified(current, unmodified_since)?;
            if inputs.is_empty() {
                return Ok(PostOutcome {
                    modified: current.unwrap_or(0),
                    success: Vec::new(),
                    collection_bytes: collection_total_bytes(tx, uid, collection)?,
                });
            }
            let ts = next_timestamp(tx, uid)?;
            let delta = write_bsos(tx, uid, collection, inputs, ts)?;
            let collection_bytes = finish_collection_write(tx, uid, collection, ts, quota_bytes, delta)?;
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
        self.write(|tx| {
            let existing = get_bso(tx, uid, collection, id)?.ok_or(DbError::NotFound)?;
            check_unmodified(Some(existing.modified), unmodified_since)?;
            let ts = next_timestamp(tx, uid)?;
            let delta = delete_ids(tx, uid, collection, std::slice::from_ref(&existing.id))?;
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
        self.write(|tx| {
            let current = collection_modified(tx, uid, collection)?;
            check_unmodified(current, unmodified_since)?;
            if current.is_none() {
                return user_timestamp(tx, uid);
            }
            let ts = next_timestamp(tx, uid)?;
            let delta = delete_ids(tx, uid, collection, ids)?;
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
        self.write(|tx| {
            let current = collection_modified(tx, uid, collection)?;
            check_unmodified(current, unmodified_since)?;
            if current.is_none() {
                return user_timestamp(tx, uid);
            }
            let ts = next_timestamp(tx, uid)?;
            tx.execute(
                "DELETE FROM bsos WHERE uid = ? AND collection = ?",
                (uid, collection),
            )?;
            tx.execute(
                "DELETE FROM user_collections WHERE uid = ? AND collection = ?",
                (uid, collection),
            )?;
            tx.execute(
                "DELETE FROM batches WHERE uid = ? AND collection = ?",
                (uid, collection),
            )?;
            set_user_timestamp(tx, uid, ts)?;
            Ok(ts)
        })
    }

    /// DELETE of everything the user stored. The user's timestamp survives,
    /// so later writes still get later times.
    pub fn delete_storage(&self, uid: u64, unmodified_since: Option<i64>) -> Result<i64, DbError> {
        self.write(|tx| {
            check_unmodified(Some(user_timestamp(tx, uid)?), unmodified_since)?;
            let ts = next_timestamp(tx, uid)?;
            tx.execute("DELETE FROM bsos WHERE uid = ?", [uid])?;
            tx.execute("DELETE FROM user_collections WHERE uid = ?", [uid])?;
            tx.execute("DELETE FROM batches WHERE uid = ?", [uid])?;
            set_user_timestamp(tx, uid, ts)?;
            Ok(ts)
        })
    }
}

/// The user's last-modified time: their latest write, 0 if none.
fn user_timestamp(c: &rusqlite::Connection, uid: u64) -> Result<i64, DbError> {
    Ok(
        c.prepare_cached("SELECT modified FROM user_timestamps WHERE uid = ?")?
            .query_row([uid], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

pub(super) fn collection_modified(
    c: &rusqlite::Connection,
    uid: u64,
    collection: &str,
) -> Result<Option<i64>, DbError> {
    Ok(
        c.prepare_cached("SELECT modified FROM user_collections WHERE uid = ? AND collection = ?")?
            .query_row((uid, collection), |r| r.get(0))
            .optional()?,
    )
}

fn collection_total_bytes(c: &rusqlite::Connection, uid: u64, collection: &str) -> Result<i64, DbError> {
    Ok(
        c.prepare_cached("SELECT total_bytes FROM user_collections WHERE uid = ? AND collection = ?")?
            .query_row((uid, collection), |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

fn get_bso(c: &rusqlite::Connection, uid: u64, collection: &str, id: &str) -> Result<Option<Bso>, DbError> {
    Ok(c.prepare_cached(
        "SELECT id, modified, sortindex, payload FROM bsos
         WHERE uid = ? AND collection = ? AND id = ? AND +expiry > ?",
    )?
    .query_row((uid, collection, id, now_ms()), |r| {
        Ok(Bso {
            id: r.get(0)?,
            modified: r.get(1)?,
            sortindex: r.get(2)?,
            payload: r.get(3)?,
        })
    })
    .optional()?)
}

pub(super) fn check_unmodified(current: Option<i64>, unmodified_since: Option<i64>) -> Result<(), DbError> {
    match unmodified_since {
        Some(since) if current.unwrap_or(0) > since => Err(DbError::PreconditionFailed(current.unwrap_or(0))),
        _ => Ok(()),
    }
}

/// Writes one BSO at `ts`. Fields not given keep their stored value
/// ([`write_bsos`] has deleted the collection's expired BSOs first, so a
/// stored one is live).
pub(super) fn upsert(
    tx: &Connection,
    uid: u64,
    collection: &str,
    input: &BsoInput,
    ts: i64,
) -> Result<(), DbError> {
    let expiry = match input.ttl {
        Some(Some(ttl)) => ts.saturating_add((ttl as i64).saturating_mul(1000)),
        _ => NEVER,
    };
    let mut stmt = tx.prepare_cached(
        "INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (uid, collection, id) DO UPDATE SET
            sortindex = CASE WHEN ?8 THEN excluded.sortindex ELSE bsos.sortindex END,
            payload   = CASE WHEN ?9 THEN excluded.payload ELSE bsos.payload END,
            modified  = CASE WHEN ?8 OR ?9 THEN ?5 ELSE bsos.modified END,
            expiry    = CASE WHEN ?10 THEN excluded.expiry ELSE bsos.expiry END",
    )?;
    stmt.execute(rusqlite::params![
        uid,
        collection,
        input.id,
        input.sortindex.flatten(),
        ts,
        expiry,
        input.payload.as_deref().unwrap_or(""),
        input.sortindex.is_some(),
        input.payload.is_some(),
        input.ttl.is_some(),
    ])?;
    Ok(())
}

/// How a write changed a collection's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SizeDelta {
    pub bytes: i64,
    pub count: i64,
}

/// Writes BSOs at `ts` and returns how the collection's size changed. The
/// collection's expired BSOs are deleted first; then the stored sizes of
/// the BSOs being replaced are read, 100 ids per query.
pub(super) fn write_bsos(
    tx: &Connection,
    uid: u64,
    collection: &str,
    inputs: &[BsoInput],
    ts: i64,
) -> Result<SizeDelta, DbError> {
    let mut delta = drop_expired(tx, uid, collection, ts)?;
    let mut old: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for chunk in inputs.chunks(100) {
        let sql = format!(
            "SELECT id, octet_length(payload) FROM bsos
             WHERE uid = ? AND collection = ? AND id IN ({})",
            vec!["?"; chunk.len()].join(",")
        );
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() + 2);
        params.push(Value::Integer(uid as i64));
        params.push(Value::Text(collection.to_owned()));
        params.extend(chunk.iter().map(|i| Value::Text(i.id.clone())));
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            old.insert(row.get(0)?, row.get(1)?);
        }
    }
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
        upsert(tx, uid, collection, input, ts)?;
        // A repeated id in one request must not be counted as new twice.
        let len = new_len.unwrap_or_else(|| old.get(&input.id).copied().unwrap_or(0));
        old.insert(input.id.clone(), len);
    }
    Ok(delta)
}

/// The sizes of a user's BSOs that have expired by `now` but are still
/// stored, by collection.
fn expired_sizes(
    c: &rusqlite::Connection,
    uid: u64,
    now: i64,
) -> Result<std::collections::HashMap<String, SizeDelta>, DbError> {
    let mut stmt = c.prepare_cached(
        "SELECT collection, COUNT(*), SUM(octet_length(payload)) FROM bsos
         WHERE uid = ? AND expiry <= ? AND expiry < 9223372036854775807 GROUP BY collection",
    )?;
    let rows = stmt.query_map((uid, now), |r| {
        Ok((
            r.get::<_, String>(0)?,
            SizeDelta {
                count: r.get(1)?,
                bytes: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a collection's BSOs that expired by `now`; returns the size
/// change. Every write that adds to a collection starts with this, so its
/// quota check sees only live BSOs.
fn drop_expired(tx: &Connection, uid: u64, collection: &str, now: i64) -> Result<SizeDelta, DbError> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM bsos WHERE uid = ? AND collection = ? AND expiry <= ? AND expiry < 9223372036854775807
         RETURNING octet_length(payload)",
    )?;
    let mut delta = SizeDelta::default();
    let mut rows = stmt.query((uid, collection, now))?;
    while let Some(row) = rows.next()? {
        delta.bytes -= row.get::<_, i64>(0)?;
        delta.count -= 1;
    }
    Ok(delta)
}

/// Deletes the listed BSOs; returns the size change.
fn delete_ids(tx: &Connection, uid: u64, collection: &str, ids: &[String]) -> Result<SizeDelta, DbError> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ? RETURNING octet_length(payload)",
    )?;
    let mut delta = SizeDelta::default();
    for id in ids {
        let mut rows = stmt.query((uid, collection, id))?;
        while let Some(row) = rows.next()? {
            delta.bytes -= row.get::<_, i64>(0)?;
            delta.count -= 1;
        }
    }
    Ok(delta)
}

/// Stamps the collection and the user with `ts`, applies the size change,
/// and enforces the quota. Returns the collection's size in bytes.
pub(super) fn finish_collection_write(
    tx: &Connection,
    uid: u64,
    collection: &str,
    ts: i64,
    quota_bytes: u64,
    delta: SizeDelta,
) -> Result<i64, DbError> {
    let bytes: i64 = tx
        .prepare_cached(
            "INSERT INTO user_collections (uid, collection, modified, total_bytes, bso_count)
             VALUES (?1, ?2, ?3, max(?4, 0), max(?5, 0))
             ON CONFLICT (uid, collection) DO UPDATE SET
                modified = ?3,
                total_bytes = max(total_bytes + ?4, 0),
                bso_count = max(bso_count + ?5, 0)
             RETURNING total_bytes",
        )?
        .query_row((uid, collection, ts, delta.bytes, delta.count), |r| r.get(0))?;
    set_user_timestamp(tx, uid, ts)?;
    if quota_bytes > 0 && delta.bytes > 0 && bytes > quota_bytes as i64 {
        return Err(DbError::OverQuota);
    }
    Ok(bytes)
}
