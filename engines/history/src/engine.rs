//! The `history` engine: [`SyncEngine`] for [`HistoryStore`].
//!
//! Unlike the other engines, history merges each downloaded page as it
//! arrives, 100 records per transaction (the merge is idempotent: a visit
//! is a set member), so a first sync of millions of visits needs neither
//! staging nor one long transaction; `apply` only hands out the pages
//! changed here, and `set_uploaded` marks them synced unless they changed
//! again meanwhile.

use std::collections::HashSet;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};
use sync_sql::engine_meta;
use sync15::{
    ApplyOutcome, ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingKind,
    IncomingRecord, OutgoingEnvelope, OutgoingRecord, RequestOrder, ServerTimestamp, SyncEngine,
    UnknownFields,
};

use crate::HistoryError;
use crate::frecency::{SAMPLED_VISITS, frecency};
use crate::page_stats::{mark_page_changed, newest_visits, now_us, update_page_stats};
use crate::record::{HISTORY_TTL_SECS, HistoryRecord, HistoryRecordVisit, MAX_VISITS_PER_RECORD};
use crate::store::{HistoryStore, is_syncable_url, normalize_url};
use crate::types::{VisitTransition, visit_micros, visit_ms};

/// The collection and engine name.
pub const COLLECTION: &str = "history";

/// A page to upload.
struct ChangedPage {
    id: i64,
    guid: String,
    url: String,
    title: String,
    frecency: i64,
    counter: i64,
    unknown: Option<String>,
}

/// A local page found for an incoming record.
struct LocalPage {
    id: i64,
    status: i64,
    local_modified: i64,
}

/// Downloaded records merged per transaction.
const MERGE_CHUNK: usize = 100;

fn unknown_json(unknown: &UnknownFields) -> Result<Option<String>, HistoryError> {
    Ok((!unknown.is_empty())
        .then(|| serde_json::to_string(unknown))
        .transpose()?)
}

impl HistoryStore {
    /// Merges one downloaded page of records into the store, in one
    /// transaction. The merge is idempotent, so records applied before an
    /// interrupted sync are simply merged again next time.
    fn apply_incoming(
        &self,
        tx: &Connection,
        records: Vec<IncomingRecord>,
    ) -> Result<ApplyStats, HistoryError> {
        let now = now_us();
        let mut stats = ApplyStats::default();
        for record in records {
            let guid = record.envelope.id.to_string();
            let modified = record.envelope.modified.as_millis();
            let content = record.into_content::<HistoryRecord>();
            let outcome = match content.kind {
                IncomingKind::Tombstone => self.apply_tombstone(tx, &guid)?,
                IncomingKind::Content(record) => self.apply_record(tx, record, modified, now)?,
                IncomingKind::Malformed(e) => {
                    log::warn!("history: skipping malformed record {guid}: {e}");
                    ApplyOutcome::Failed
                }
            };
            stats.count(outcome);
        }
        Ok(stats)
    }

    fn apply_tombstone(&self, tx: &Connection, guid: &str) -> Result<ApplyOutcome, HistoryError> {
        tx.prepare_cached("DELETE FROM tombstones WHERE guid = ?")?
            .execute([guid])?;
        tx.prepare_cached("DELETE FROM pages WHERE guid = ?")?
            .execute([guid])?;
        Ok(ApplyOutcome::Applied)
    }

    fn apply_record(
        &self,
        tx: &Connection,
        record: HistoryRecord,
        modified: i64,
        now: i64,
    ) -> Result<ApplyOutcome, HistoryError> {
        let guid = record.id.to_string();
        let url = match normalize_url(&record.hist_uri) {
            Ok(url) if is_syncable_url(&url) => url,
            Ok(url) => {
                log::debug!("history: {guid} is a local-only URL ({url}); skipped");
                return Ok(ApplyOutcome::Failed);
            }
            Err(e) => {
                log::debug!("history: skipping {guid}: {e}");
                return Ok(ApplyOutcome::Failed);
            }
        };
        // A page we deleted and the server did not hear of yet: the
        // deletion stands (the tombstone goes up this sync).
        if tx
            .prepare_cached("SELECT 1 FROM tombstones WHERE guid = ?")?
            .query_row([&guid], |_| Ok(()))
            .optional()?
            .is_some()
        {
            return Ok(ApplyOutcome::Reconciled);
        }
        // Visits deleted here, and visits already seen in this record, are
        // matched to the millisecond, as Firefox and application-services
        // match them (see `visit_ms`).
        let tombstoned: HashSet<i64> = {
            let mut stmt = tx.prepare_cached("SELECT date FROM visit_tombstones WHERE url = ?")?;
            stmt.query_map([&url], |r| r.get(0).map(visit_ms))?
                .collect::<Result<_, _>>()?
        };
        let mut seen: HashSet<(i64, VisitTransition)> = HashSet::with_capacity(record.visits.len());
        let mut visits: Vec<(i64, VisitTransition, &HistoryRecordVisit)> = record
            .visits
            .iter()
            .filter(|v| v.date > 0)
            .filter_map(|v| {
                let transition = u8::try_from(v.transition)
                    .ok()
                    .and_then(VisitTransition::from_u8)?;
                Some((v.date.min(now), transition, v))
            })
            .filter(|(date, _, _)| !tombstoned.contains(&visit_ms(*date)))
            .filter(|(date, transition, _)| seen.insert((visit_ms(*date), *transition)))
            .collect();
        visits.sort_by_key(|(date, _, _)| std::cmp::Reverse(*date));
        let unknown = unknown_json(&record.unknown)?;

        let existing = self.find_page(tx, &guid, &url)?;
        let Some(local) = existing else {
            // New to this device: compute its stats from the record.
            let recent: Vec<(i64, VisitTransition)> =
                visits.iter().take(SAMPLED_VISITS).map(|v| (v.0, v.1)).collect();
            let count = visits.len() as i64;
            let hidden = count > 0
                && visits
                    .iter()
                    .all(|v| matches!(v.1, VisitTransition::Embed | VisitTransition::FramedLink));
            tx.prepare_cached(
                "INSERT INTO pages (guid, url, title, frecency, frecency_at, hidden, visit_count, last_visit,
                                    local_modified, sync_status, unknown_fields)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
            )?
            .execute(params![
                guid,
                url,
                record.title,
                frecency(count, &recent, now),
                now,
                hidden,
                count,
                visits.first().map_or(0, |v| v.0),
                unknown
            ])?;
            let page_id = tx.last_insert_rowid();
            insert_visits(tx, page_id, &visits)?;
            return Ok(ApplyOutcome::Applied);
        };

        insert_visits(tx, local.id, &visits)?;
        let remote_newer = modified >= local.local_modified;
        if local.status == 0 || remote_newer {
            tx.prepare_cached("UPDATE pages SET title = ? WHERE id = ?")?
                .execute(params![record.title, local.id])?;
        }
        tx.prepare_cached("UPDATE pages SET unknown_fields = ? WHERE id = ?")?
            .execute(params![unknown, local.id])?;
        update_page_stats(tx, local.id, now)?;
        if local.status == 0 {
            // Visits only we have among the newest must go up.
            let remote_set: HashSet<(i64, u8)> =
                visits.iter().map(|v| (visit_ms(v.0), v.1.as_u8())).collect();
            let ours = newest_visits(tx, local.id, MAX_VISITS_PER_RECORD)?;
            if ours
                .iter()
                .any(|(date, t)| !remote_set.contains(&(visit_ms(*date), *t)))
            {
                mark_page_changed(tx, local.id)?;
                return Ok(ApplyOutcome::Reconciled);
            }
            return Ok(ApplyOutcome::Applied);
        }
        Ok(ApplyOutcome::Reconciled)
    }

    /// The local page for an incoming record: by id, else by URL (which
    /// then takes the server's id, so one page has one record).
    fn find_page(&self, tx: &Connection, guid: &str, url: &str) -> Result<Option<LocalPage>, HistoryError> {
        let by_guid = tx
            .prepare_cached("SELECT id, sync_status, local_modified, url FROM pages WHERE guid = ?")?
            .query_row([guid], |r| {
                Ok((
                    LocalPage {
                        id: r.get(0)?,
                        status: r.get(1)?,
                        local_modified: r.get(2)?,
                    },
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        if let Some((page, local_url)) = by_guid {
            if local_url != url {
                let taken = tx
                    .prepare_cached("SELECT 1 FROM pages WHERE url = ?")?
                    .query_row([url], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !taken {
                    tx.prepare_cached("UPDATE pages SET url = ? WHERE id = ?")?
                        .execute(params![url, page.id])?;
                }
            }
            return Ok(Some(page));
        }
        let by_url = tx
            .prepare_cached("SELECT id, sync_status, local_modified FROM pages WHERE url = ?")?
            .query_row([url], |r| {
                Ok(LocalPage {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    local_modified: r.get(2)?,
                })
            })
            .optional()?;
        if let Some(page) = &by_url {
            tx.prepare_cached("UPDATE pages SET guid = ? WHERE id = ?")?
                .execute(params![guid, page.id])?;
        }
        Ok(by_url)
    }

    fn outgoing(&self, tx: &Connection) -> Result<Vec<OutgoingRecord>, HistoryError> {
        let mut uploading = self.uploading.lock();
        uploading.clear();
        let min_visit = now_us() - self.config.max_outgoing_age.as_micros() as i64;
        let pages: Vec<ChangedPage> = {
            let mut stmt = tx.prepare(
                "SELECT id, guid, url, title, frecency, change_counter, unknown_fields FROM pages
                 WHERE sync_status != 0 AND last_visit >= ? ORDER BY frecency DESC, id LIMIT CAST(? AS INTEGER)",
            )?;
            stmt.query_map(params![min_visit, self.config.max_outgoing as i64], |r| {
                Ok(ChangedPage {
                    id: r.get(0)?,
                    guid: r.get(1)?,
                    url: r.get(2)?,
                    title: r.get(3)?,
                    frecency: r.get(4)?,
                    counter: r.get(5)?,
                    unknown: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        let mut outgoing = Vec::with_capacity(pages.len());
        let mut visits_stmt = tx.prepare_cached(
            "SELECT date, transition, unknown_fields FROM visits WHERE page_id = ?
             ORDER BY date_ms DESC, transition DESC LIMIT CAST(? AS INTEGER)",
        )?;
        for ChangedPage {
            id,
            guid,
            url,
            title,
            frecency,
            counter,
            unknown,
        } in pages
        {
            if !is_syncable_url(&url) {
                continue;
            }
            let visits = visits_stmt
                .query_map(params![id, MAX_VISITS_PER_RECORD as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })?
                .map(|row| {
                    let (date, transition, unknown) = row?;
                    Ok(HistoryRecordVisit {
                        date,
                        transition,
                        unknown: match unknown {
                            Some(json) => serde_json::from_str(&json)?,
                            None => UnknownFields::new(),
                        },
                    })
                })
                .collect::<Result<Vec<_>, HistoryError>>()?;
            let record = HistoryRecord {
                id: Guid::new(&guid),
                hist_uri: url,
                title,
                visits,
                unknown: match unknown {
                    Some(json) => serde_json::from_str(&json)?,
                    None => UnknownFields::new(),
                },
            };
            let envelope = OutgoingEnvelope::new(record.id.clone())
                .with_ttl(HISTORY_TTL_SECS)
                .with_sortindex(i32::try_from(frecency).unwrap_or(i32::MAX));
            outgoing.push(OutgoingRecord::from_content(envelope, &record)?);
            uploading.insert(guid, Some(counter));
        }
        let mut stmt = tx.prepare("SELECT guid FROM tombstones")?;
        for guid in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let guid = guid?;
            let mut tombstone = OutgoingRecord::tombstone(Guid::new(&guid));
            tombstone.envelope.ttl = Some(HISTORY_TTL_SECS);
            outgoing.push(tombstone);
            uploading.insert(guid, None);
        }
        Ok(outgoing)
    }
}

/// Visits inserted per statement: one statement per record's visits, rather
/// than one per visit, halves the cost of a first sync's two million
/// inserts. A visit the same to the millisecond as a stored one (same
/// transition) is that visit: the primary key ignores it.
const VISITS_PER_INSERT: usize = MAX_VISITS_PER_RECORD;

/// `INSERT … VALUES (…), (…)` for 1 to [`VISITS_PER_INSERT`] visits.
static INSERT_VISITS_SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=VISITS_PER_INSERT)
        .map(|rows| {
            format!(
                "INSERT OR IGNORE INTO visits (page_id, date_ms, transition, micros, is_local, unknown_fields) VALUES {}",
                vec!["(?, ?, ?, ?, 0, ?)"; rows].join(", ")
            )
        })
        .collect()
});

fn insert_visits(
    tx: &Connection,
    page_id: i64,
    visits: &[(i64, VisitTransition, &HistoryRecordVisit)],
) -> Result<(), HistoryError> {
    for chunk in visits.chunks(VISITS_PER_INSERT) {
        let mut stmt = tx.prepare_cached(&INSERT_VISITS_SQL[chunk.len() - 1])?;
        let mut params: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 5);
        for (date, transition, visit) in chunk {
            params.push(page_id.into());
            params.push(visit_ms(*date).into());
            params.push(i64::from(transition.as_u8()).into());
            params.push(visit_micros(*date).into());
            params.push(unknown_json(&visit.unknown)?.into());
        }
        stmt.execute(rusqlite::params_from_iter(params))?;
    }
    Ok(())
}

impl SyncEngine for HistoryStore {
    fn name(&self) -> &str {
        COLLECTION
    }

    fn version(&self) -> u64 {
        1
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        Ok(engine_meta::sync_association(&self.conn.lock())?)
    }

    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            // Every page goes up again.
            tx.execute("UPDATE pages SET sync_status = 2", [])?;
            engine_meta::reset_sync_meta(tx, assoc)?;
            Ok::<_, HistoryError>(())
        })?;
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            tx.execute_batch(
                "DELETE FROM visits; DELETE FROM pages; DELETE FROM tombstones; DELETE FROM visit_tombstones;",
            )?;
            Ok::<_, HistoryError>(())
        })?;
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        *self.incoming_stats.lock() = ApplyStats::default();
        Ok(())
    }

    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        let request = engine_meta::changes_since_last_sync(&self.conn.lock(), COLLECTION, server_modified)?;
        // Most frecent first, as Firefox asks.
        Ok(request.map(|request| request.sort_by(RequestOrder::Index)))
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        // A downloaded page is merged in short transactions, the store free
        // in between, so the app's visits never wait for a whole page.
        let mut records = records.into_iter();
        loop {
            let chunk: Vec<IncomingRecord> = records.by_ref().take(MERGE_CHUNK).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            let mut conn = self.conn.lock();
            let stats = sync_sql::in_transaction(&mut conn, |tx| self.apply_incoming(tx, chunk))?;
            drop(conn);
            *self.incoming_stats.lock() += stats;
        }
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        *stats = std::mem::take(&mut *self.incoming_stats.lock());
        let mut conn = self.conn.lock();
        Ok(sync_sql::in_transaction(&mut conn, |tx| self.outgoing(tx))?)
    }

    fn set_uploaded(&self, _timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        let mut uploading = self.uploading.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            for id in ids {
                match uploading.remove(id.as_str()) {
                    Some(None) => {
                        tx.prepare_cached("DELETE FROM tombstones WHERE guid = ?")?
                            .execute([id.as_str()])?;
                    }
                    Some(Some(counter)) => {
                        tx.prepare_cached(
                            "UPDATE pages SET sync_status = 0 WHERE guid = ? AND change_counter = ?",
                        )?
                        .execute(params![id.as_str(), counter])?;
                    }
                    None => {}
                }
            }
            Ok::<_, HistoryError>(())
        })?;
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        engine_meta::set_last_sync(&conn, last_sync)?;
        // The store's page cache is large for a first sync's millions of
        // writes (64 MiB); between syncs the app need not keep it filled.
        conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }
}
