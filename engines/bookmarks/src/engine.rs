//! The `bookmarks` engine: [`SyncEngine`] for [`BookmarkStore`].
//!
//! Downloads are staged in `incoming`; `apply` merges the whole tree at
//! once ([`crate::apply`]) and uploads every item the merge left changed;
//! `set_uploaded` records what the server now holds in the mirror.

use rusqlite::{Connection, Transaction, params};
use sync_sql::engine_meta;
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingRecord,
    OutgoingEnvelope, OutgoingRecord, ServerTimestamp, SyncEngine,
};

use crate::BookmarksError;
use crate::apply::{RemoteSide, fold_incoming, local_values, merge_and_apply, remote_side};
use crate::merge::MergeStats;
use crate::record::{FOLDER_SORTINDEX, OutgoingItem, local_id, record_json};
use crate::store::{BookmarkStore, now_ms};
use crate::types::BookmarkKind;

/// The collection and engine name.
pub const COLLECTION: &str = "bookmarks";

/// How many merged records join the mirror per transaction: a few
/// milliseconds of writing, so an app write waits at most that long.
const FOLD_CHUNK: usize = 2_000;

impl BookmarkStore {
    /// What the last sync's merge counted (validation problems of the
    /// server's tree included), if this store has merged since it opened.
    pub fn last_merge_stats(&self) -> Option<MergeStats> {
        self.sync.lock().last_merge
    }

    /// Runs `f` in a write transaction that may write `mirror` or
    /// `incoming`, and counts it: `apply` then knows that a remote side it
    /// read before is stale.
    fn write_remote<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, BookmarksError>,
    ) -> Result<T, BookmarksError> {
        let mut conn = self.conn.lock();
        let result = sync_sql::in_transaction(&mut conn, f);
        self.sync.lock().remote_generation += 1;
        result
    }

    /// A read-only connection of the merge's own: the app's reader stays
    /// free while the remote side is read.
    fn snapshot_reader(&self) -> Result<Connection, BookmarksError> {
        let options = sync_sql::OpenOptions {
            read_only: true,
            ..sync_sql::OpenOptions::default()
        };
        Ok(sync_sql::open(&self.path, &options)?)
    }

    /// The remote side on a connection of its own, before the merge takes
    /// the writer: app writes never touch `mirror` or `incoming`, and the
    /// generation read first tells whether a sync step wrote them since.
    fn read_remote_side(&self, now: i64) -> Result<(u64, RemoteSide), BookmarksError> {
        let generation = self.sync.lock().remote_generation;
        Ok((generation, remote_side(&self.snapshot_reader()?, now)?))
    }

    /// Merges the local tree with `early` (read again if stale) and applies
    /// the result in one transaction; then moves the merged records into the
    /// mirror a chunk at a time.
    fn merge_with(
        &self,
        (generation, early): (u64, RemoteSide),
        now: i64,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, BookmarksError> {
        let mut conn = self.conn.lock();
        let (outcome, outgoing) = sync_sql::in_transaction(&mut conn, |tx| {
            let remote = if self.sync.lock().remote_generation == generation {
                early
            } else {
                log::debug!("bookmarks: the server's records changed while read; reading them again");
                remote_side(tx, now)?
            };
            let outcome = merge_and_apply(tx, remote, now)?;
            let outgoing = self.outgoing(tx)?;
            Ok::<_, BookmarksError>((outcome, outgoing))
        })?;
        drop(conn);
        drop(outcome.spent);
        // An error here fails this engine's sync before anything is
        // uploaded; the next sync merges what is left over again.
        while self.write_remote(|tx| fold_incoming(tx, FOLD_CHUNK))? > 0 {}
        let mut state = self.sync.lock();
        *stats = outcome.apply;
        stats.failed += state.malformed;
        state.last_merge = Some(outcome.merge);
        Ok(outgoing)
    }

    fn stage(&self, tx: &Connection, records: Vec<IncomingRecord>) -> Result<usize, BookmarksError> {
        let mut malformed = 0;
        for record in records {
            let guid = local_id(record.envelope.id.as_str()).to_owned();
            let modified = record.envelope.modified.as_millis();
            let (deleted, payload) = if record.is_tombstone() {
                (true, None)
            } else if record.cleartext.as_map().is_empty() {
                malformed += 1;
                continue;
            } else {
                (false, Some(record.cleartext.to_json_string()))
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO incoming (guid, server_modified, is_deleted, payload) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![guid, modified, deleted, payload])?;
        }
        Ok(malformed)
    }

    fn outgoing(&self, tx: &Connection) -> Result<Vec<OutgoingRecord>, BookmarksError> {
        let mut state = self.sync.lock();
        state.uploading.clear();
        let changed: Vec<(String, i64, i64, String, String, i64, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT i.guid, i.id, i.kind, p.guid, p.title, i.position, i.change_counter
                 FROM items i JOIN items p ON p.id = i.parent_id
                 WHERE i.change_counter > 0 ORDER BY i.id",
            )?;
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut outgoing = Vec::with_capacity(changed.len());
        for (guid, id, kind, parent_guid, parent_title, position, counter) in changed {
            let kind = BookmarkKind::from_i64(kind).unwrap_or(BookmarkKind::Bookmark);
            let Some((_, values)) = local_values(tx, &guid)? else {
                continue;
            };
            let children: Vec<String> = if kind == BookmarkKind::Folder {
                let mut stmt =
                    tx.prepare_cached("SELECT guid FROM items WHERE parent_id = ? ORDER BY position")?;
                stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?
            } else {
                Vec::new()
            };
            let map = record_json(&OutgoingItem {
                guid: &guid,
                kind,
                parent_guid: &parent_guid,
                parent_title: &parent_title,
                position,
                children: &children,
                values: &values,
            });
            let wire = crate::record::wire_id(&guid).to_owned();
            let mut envelope = OutgoingEnvelope::new(Guid::new(&wire));
            if kind == BookmarkKind::Folder {
                envelope = envelope.with_sortindex(FOLDER_SORTINDEX);
            }
            let record = OutgoingRecord::from_content(envelope, &map)?;
            state
                .uploading
                .insert(guid, (counter, Some(serde_json::to_string(&map)?)));
            outgoing.push(record);
        }
        let mut stmt = tx.prepare("SELECT guid FROM tombstones")?;
        for guid in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let guid = guid?;
            outgoing.push(OutgoingRecord::tombstone(Guid::new(crate::record::wire_id(
                &guid,
            ))));
            state.uploading.insert(guid, (0, None));
        }
        Ok(outgoing)
    }
}

impl SyncEngine for BookmarkStore {
    fn name(&self) -> &str {
        COLLECTION
    }

    fn version(&self) -> u64 {
        2
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        Ok(engine_meta::sync_association(&self.conn.lock())?)
    }

    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        self.write_remote(|tx| {
            // Everything goes up again; the server's side comes again.
            tx.execute_batch(
                "UPDATE items SET sync_status = 0, change_counter = MAX(change_counter, 1);
                 DELETE FROM mirror; DELETE FROM incoming; DELETE FROM tombstones;",
            )?;
            engine_meta::reset_sync_meta(tx, assoc)?;
            Ok::<_, BookmarksError>(())
        })?;
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        self.write_remote(|tx| {
            tx.execute_batch(
                "DELETE FROM items WHERE id > 5; DELETE FROM tags; DELETE FROM tombstones;
                 DELETE FROM mirror; DELETE FROM incoming;
                 UPDATE items SET change_counter = 1, sync_status = 0;",
            )?;
            Ok::<_, BookmarksError>(())
        })?;
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.sync.lock().malformed = 0;
        Ok(())
    }

    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        Ok(engine_meta::changes_since_last_sync(
            &self.conn.lock(),
            COLLECTION,
            server_modified,
        )?)
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        let malformed = self.write_remote(|tx| self.stage(tx, records))?;
        self.sync.lock().malformed += malformed;
        Ok(())
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        let now = now_ms();
        let early = self.read_remote_side(now)?;
        Ok(self.merge_with(early, now, stats)?)
    }

    fn set_uploaded(&self, timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let uploaded: Vec<(String, (i64, Option<String>))> = {
            let mut state = self.sync.lock();
            ids.iter()
                .filter_map(|id| {
                    let guid = local_id(id.as_str());
                    state.uploading.remove(guid).map(|entry| (guid.to_owned(), entry))
                })
                .collect()
        };
        self.write_remote(|tx| {
            for (guid, (counter, payload)) in &uploaded {
                match &payload {
                    None => {
                        tx.prepare_cached("DELETE FROM tombstones WHERE guid = ?")?
                            .execute([guid])?;
                    }
                    Some(_) => {
                        tx.prepare_cached(
                            "UPDATE items SET change_counter = MAX(change_counter - ?, 0), sync_status = 1
                             WHERE guid = ?",
                        )?
                        .execute(params![counter, guid])?;
                    }
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO mirror (guid, server_modified, is_deleted, payload) VALUES (?, ?, ?, ?)",
                )?
                .execute(params![guid, timestamp.as_millis(), payload.is_none(), payload])?;
            }
            Ok::<_, BookmarksError>(())
        })?;
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        Ok(engine_meta::set_last_sync(&self.conn.lock(), last_sync)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use sync15::{Cleartext, IncomingEnvelope};

    use super::*;

    fn record(content: serde_json::Value) -> IncomingRecord {
        let id = content["id"].as_str().unwrap().to_owned();
        IncomingRecord::new(
            IncomingEnvelope::new(Guid::new(&id), ServerTimestamp::from_millis(1_700_000_000_000)),
            Cleartext::from_content(&content).unwrap(),
        )
        .unwrap()
    }

    fn bookmark(id: &str) -> IncomingRecord {
        record(
            json!({"id": id, "type": "bookmark", "parentid": "menu", "title": id,
                      "bmkUri": format!("https://{id}.example/"), "dateAdded": 1_600_000_000_000_i64}),
        )
    }

    fn menu(children: &[&str]) -> IncomingRecord {
        record(
            json!({"id": "menu", "type": "folder", "parentid": "places", "title": "menu",
                      "children": children, "dateAdded": 1_600_000_000_000_i64}),
        )
    }

    fn menu_titles(store: &BookmarkStore) -> Vec<String> {
        let tree = store.get_tree(crate::MENU_GUID).unwrap().unwrap();
        tree.children.into_iter().map(|c| c.item.title).collect()
    }

    #[test]
    fn a_remote_side_read_before_a_sync_step_wrote_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = BookmarkStore::open(dir.path().join("bookmarks.db")).unwrap();
        store
            .stage_incoming(vec![menu(&["bmkAAAAAAAAA"]), bookmark("bmkAAAAAAAAA")])
            .unwrap();
        let early = store.read_remote_side(now_ms()).unwrap();
        // A later page of the same download lands after the early read.
        store
            .stage_incoming(vec![
                menu(&["bmkAAAAAAAAA", "bmkBBBBBBBBB"]),
                bookmark("bmkBBBBBBBBB"),
            ])
            .unwrap();
        let mut stats = ApplyStats::default();
        store.merge_with(early, now_ms(), &mut stats).unwrap();
        assert_eq!(menu_titles(&store), ["bmkAAAAAAAAA", "bmkBBBBBBBBB"]);
        assert_eq!(stats.failed, 0);
    }

    #[test]
    fn a_remote_side_still_current_is_merged_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = BookmarkStore::open(dir.path().join("bookmarks.db")).unwrap();
        store
            .stage_incoming(vec![menu(&["bmkAAAAAAAAA"]), bookmark("bmkAAAAAAAAA")])
            .unwrap();
        let early = store.read_remote_side(now_ms()).unwrap();
        // An app write in between changes the local tree only.
        store
            .insert(
                crate::MENU_GUID,
                None,
                crate::NewItem::Bookmark {
                    url: "https://local.example/".into(),
                    title: "local".into(),
                },
            )
            .unwrap();
        let mut stats = ApplyStats::default();
        let outgoing = store.merge_with(early, now_ms(), &mut stats).unwrap();
        // Both sides changed the menu; the newer (local) order comes first.
        assert_eq!(menu_titles(&store), ["local", "bmkAAAAAAAAA"]);
        assert!(
            outgoing.iter().any(|r| r.envelope.id.as_str() == "menu"),
            "the menu's new child goes up"
        );
    }
}
