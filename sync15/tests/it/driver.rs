//! The single-engine driver with a toy engine, over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use support::TestServer;
use support::memory::MemoryCollection;
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Error, Guid, IncomingKind,
    IncomingRecord, InfoConfiguration, InterruptHandle, KeyBundle, NeverInterrupts, OutgoingEnvelope,
    OutgoingRecord, ServerTimestamp, SyncDriver, SyncEngine,
};

const COLLECTION: &str = "toys";

/// An in-memory engine: incoming records win unless the local copy changed
/// since the last sync, in which case the local copy wins and is re-uploaded.
#[derive(Default)]
struct ToyEngine {
    state: Mutex<ToyState>,
    /// Called from set_uploaded, to simulate an app stopping the sync mid-upload.
    on_set_uploaded: Mutex<Option<Box<dyn FnMut() + Send>>>,
    /// Called from stage_incoming, to simulate a stop mid-download.
    on_stage: Mutex<Option<Box<dyn FnMut() + Send>>>,
}

#[derive(Default)]
struct ToyState {
    /// id → (content, or None for a local deletion not yet uploaded; changed flag).
    local: BTreeMap<Guid, (Option<Value>, bool)>,
    staged: Vec<IncomingRecord>,
    last_sync: ServerTimestamp,
    calls: Vec<String>,
    uploaded_batches: Vec<(ServerTimestamp, Vec<Guid>)>,
}

impl ToyEngine {
    fn add_local(&self, id: &str, value: Value) {
        self.state.lock().local.insert(Guid::new(id), (Some(value), true));
    }

    fn delete_local(&self, id: &str) {
        self.state.lock().local.insert(Guid::new(id), (None, true));
    }

    fn get(&self, id: &str) -> Option<Value> {
        self.state
            .lock()
            .local
            .get(&Guid::new(id))
            .and_then(|(v, _)| v.clone())
    }

    fn live_ids(&self) -> Vec<String> {
        let state = self.state.lock();
        state
            .local
            .iter()
            .filter(|(_, (v, _))| v.is_some())
            .map(|(id, _)| id.to_string())
            .collect()
    }

    fn changed(&self) -> usize {
        self.state.lock().local.values().filter(|(_, c)| *c).count()
    }

    fn calls(&self) -> Vec<String> {
        self.state.lock().calls.clone()
    }

    fn last_sync(&self) -> ServerTimestamp {
        self.state.lock().last_sync
    }

    fn log(&self, call: &str) {
        self.state.lock().calls.push(call.to_owned());
    }
}

impl SyncEngine for ToyEngine {
    fn name(&self) -> &str {
        COLLECTION
    }

    fn version(&self) -> u64 {
        1
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        Ok(EngineSyncAssociation::Disconnected)
    }

    fn reset(&self, _assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        self.state.lock().last_sync = ServerTimestamp::ZERO;
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        self.state.lock().local.clear();
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.log("begin_sync");
        self.state.lock().staged.clear();
        Ok(())
    }

    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        self.log("incoming_request");
        let last = self.last_sync();
        Ok((server_modified > last).then(|| CollectionRequest::new(COLLECTION).newer_than(last)))
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        self.log(&format!("stage_incoming({})", records.len()));
        self.state.lock().staged.extend(records);
        if let Some(hook) = self.on_stage.lock().as_mut() {
            hook();
        }
        Ok(())
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        self.log("apply");
        let mut state = self.state.lock();
        for record in std::mem::take(&mut state.staged) {
            let id = record.envelope.id.clone();
            if state.local.get(&id).is_some_and(|(_, changed)| *changed) {
                stats.reconciled += 1;
                continue;
            }
            match record.into_content::<Value>().kind {
                IncomingKind::Content(value) => {
                    state.local.insert(id, (Some(value), false));
                    stats.applied += 1;
                }
                IncomingKind::Tombstone => {
                    state.local.remove(&id);
                    stats.applied += 1;
                }
                IncomingKind::Malformed(_) => stats.failed += 1,
            }
        }
        let mut outgoing = Vec::new();
        for (id, (value, changed)) in &state.local {
            if !changed {
                continue;
            }
            outgoing.push(match value {
                Some(value) => OutgoingRecord::from_content(OutgoingEnvelope::new(id.clone()), value)?,
                None => OutgoingRecord::tombstone(id.clone()),
            });
        }
        Ok(outgoing)
    }

    fn set_uploaded(&self, timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        self.log(&format!("set_uploaded({})", ids.len()));
        {
            let mut state = self.state.lock();
            for id in &ids {
                let deleted = match state.local.get_mut(id) {
                    Some((value, changed)) => {
                        *changed = false;
                        value.is_none()
                    }
                    None => false,
                };
                if deleted {
                    state.local.remove(id);
                }
            }
            state.uploaded_batches.push((timestamp, ids));
        }
        if let Some(hook) = self.on_set_uploaded.lock().as_mut() {
            hook();
        }
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        self.log("sync_finished");
        self.state.lock().last_sync = last_sync;
        Ok(())
    }
}

struct Setup {
    collection: Arc<MemoryCollection>,
    server: TestServer,
    keys: KeyBundle,
}

fn setup() -> Setup {
    let collection = Arc::new(MemoryCollection::new(COLLECTION, true));
    let responder = collection.clone();
    Setup {
        collection,
        server: TestServer::start(move |req| responder.respond(req)),
        keys: KeyBundle::new_random().unwrap(),
    }
}

impl Setup {
    /// Another client uploads a record.
    fn remote(&self, id: &str, content: Value) {
        let mut content = content;
        content["id"] = json!(id);
        let record = OutgoingRecord::from_content(OutgoingEnvelope::new(Guid::new(id)), &content).unwrap();
        self.collection
            .insert(id, &self.keys.encrypt(&record).unwrap().payload);
    }

    fn remote_modified(&self) -> Option<ServerTimestamp> {
        let ts = self.collection.modified();
        (ts > ServerTimestamp::ZERO).then_some(ts)
    }

    fn sync(&self, engine: &ToyEngine) -> Result<sync15::EngineSyncOutcome, Error> {
        self.sync_with(engine, &InfoConfiguration::default(), &NeverInterrupts, 1000)
    }

    fn sync_with(
        &self,
        engine: &ToyEngine,
        config: &InfoConfiguration,
        interruptee: &dyn sync15::Interruptee,
        page_size: usize,
    ) -> Result<sync15::EngineSyncOutcome, Error> {
        let client = self.server.storage_client();
        SyncDriver::new(&client, config, interruptee)
            .with_page_size(page_size)
            .sync(engine, &self.keys, self.remote_modified())
    }

    /// What the server holds, decrypted.
    fn server_contents(&self) -> BTreeMap<String, Value> {
        self.collection
            .records()
            .into_iter()
            .map(|stored| {
                let bso = sync15::IncomingBso {
                    envelope: sync15::IncomingEnvelope::new(
                        Guid::new(&stored.id),
                        ServerTimestamp::from_millis(stored.modified_ms),
                    ),
                    payload: stored.payload,
                };
                let record = self.keys.decrypt(&bso).unwrap();
                (stored.id, Value::Object(record.cleartext.into_map()))
            })
            .collect()
    }
}

#[test]
fn a_first_sync_downloads_applies_and_uploads_in_order() {
    let s = setup();
    for i in 0..5 {
        s.remote(&format!("remote{i:06}"), json!({"n": i}));
    }
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001", "mine": true}));
    engine.add_local("local0000002", json!({"id": "local0000002", "mine": true}));

    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.engine, COLLECTION);
    assert_eq!(outcome.downloaded, 5);
    assert_eq!(outcome.staged, 5);
    assert_eq!(outcome.applied.applied, 5);
    assert_eq!(outcome.uploaded, 2);
    assert!(outcome.incoming_failed.is_empty() && outcome.upload_failed.is_empty());
    assert_eq!(outcome.requests, 2, "one GET, one POST");
    assert_eq!(outcome.last_sync, s.collection.modified());
    assert_eq!(engine.last_sync(), s.collection.modified());

    assert_eq!(
        engine.calls(),
        [
            "begin_sync",
            "incoming_request",
            "stage_incoming(5)",
            "apply",
            "set_uploaded(2)",
            "sync_finished"
        ]
    );
    assert_eq!(
        engine.get("remote000003"),
        Some(json!({"id": "remote000003", "n": 3}))
    );
    assert_eq!(engine.changed(), 0);
    let server = s.server_contents();
    assert_eq!(server.len(), 7);
    assert_eq!(server["local0000001"]["mine"], json!(true));
    // The server holds ciphertext only.
    for stored in s.collection.records() {
        assert!(!stored.payload.contains("mine") && stored.payload.contains("ciphertext"));
    }
}

#[test]
fn an_unchanged_collection_costs_no_request() {
    let s = setup();
    s.remote("remote000001", json!({}));
    let engine = ToyEngine::default();
    s.sync(&engine).unwrap();
    let again = s.sync(&engine).unwrap();
    assert_eq!(again.requests, 0);
    assert_eq!(again.downloaded, 0);
    assert_eq!(again.last_sync, engine.last_sync());
}

#[test]
fn incremental_syncs_download_only_newer_records() {
    let s = setup();
    s.remote("remote000001", json!({"v": 1}));
    let engine = ToyEngine::default();
    s.sync(&engine).unwrap();
    s.remote("remote000002", json!({"v": 2}));
    s.remote("remote000001", json!({"v": 3}));
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.downloaded, 2);
    assert_eq!(engine.get("remote000001").unwrap()["v"], json!(3));
    let get = s
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "GET")
        .unwrap();
    assert!(get.param("newer").is_some());
}

#[test]
fn pages_are_staged_one_by_one() {
    let s = setup();
    for i in 0..5 {
        s.remote(&format!("remote{i:06}"), json!({}));
    }
    let engine = ToyEngine::default();
    let outcome = s
        .sync_with(&engine, &InfoConfiguration::default(), &NeverInterrupts, 2)
        .unwrap();
    assert_eq!(outcome.downloaded, 5);
    let stages: Vec<String> = engine
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("stage"))
        .collect();
    assert_eq!(
        stages,
        ["stage_incoming(2)", "stage_incoming(2)", "stage_incoming(1)"]
    );
}

#[test]
fn a_record_with_a_bad_hmac_is_skipped_and_reported() {
    let s = setup();
    s.remote("remote000001", json!({}));
    s.remote("remote000002", json!({}));
    let stranger = KeyBundle::new_random().unwrap();
    let alien = OutgoingRecord::from_content(
        OutgoingEnvelope::new(Guid::new("alien0000001")),
        &json!({"id": "alien0000001"}),
    )
    .unwrap();
    s.collection
        .insert("alien0000001", &stranger.encrypt(&alien).unwrap().payload);

    let engine = ToyEngine::default();
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.downloaded, 3);
    assert_eq!(outcome.staged, 2);
    assert!(outcome.incoming_failed[&Guid::new("alien0000001")].contains("HMAC"));
    assert_eq!(engine.live_ids(), ["remote000001", "remote000002"]);
}

#[test]
fn when_every_record_fails_its_hmac_the_keys_are_wrong_and_nothing_is_applied() {
    let s = setup();
    s.remote("remote000001", json!({}));
    s.remote("remote000002", json!({}));
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001"}));
    let client = s.server.storage_client();
    let wrong_keys = KeyBundle::new_random().unwrap();
    let result = SyncDriver::new(&client, &InfoConfiguration::default(), &NeverInterrupts).sync(
        &engine,
        &wrong_keys,
        s.remote_modified(),
    );
    assert!(matches!(&result, Err(e) if e.is_bad_hmac()), "{result:?}");
    assert!(!engine.calls().contains(&"apply".to_owned()));
    assert_eq!(engine.last_sync(), ServerTimestamp::ZERO);
    assert_eq!(
        s.collection.records().len(),
        2,
        "nothing uploaded under the wrong keys"
    );
}

#[test]
fn malformed_payloads_and_mismatched_ids_are_skipped() {
    let s = setup();
    s.remote("remote000001", json!({}));
    s.collection.insert("notjson00001", "this is not JSON");
    // A buggy client: the payload's id is not the BSO's (from_content refuses
    // to build this, so assemble it by hand).
    let lying = OutgoingRecord {
        envelope: OutgoingEnvelope::new(Guid::new("liar00000001")),
        cleartext: sync15::Cleartext::from_content(&json!({"id": "somebodyelse"})).unwrap(),
    };
    s.collection
        .insert("liar00000001", &s.keys.encrypt(&lying).unwrap().payload);

    let engine = ToyEngine::default();
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.staged, 1);
    assert_eq!(outcome.incoming_failed.len(), 2);
    assert!(outcome.incoming_failed.contains_key(&Guid::new("notjson00001")));
    assert!(
        outcome.incoming_failed[&Guid::new("liar00000001")].contains("somebodyelse"),
        "{:?}",
        outcome.incoming_failed
    );
}

#[test]
fn tombstones_travel_both_ways() {
    let s = setup();
    s.remote("remote000001", json!({"v": 1}));
    s.remote("remote000002", json!({"v": 2}));
    let engine = ToyEngine::default();
    s.sync(&engine).unwrap();

    engine.delete_local("remote000001");
    let tombstone = OutgoingRecord::tombstone(Guid::new("remote000002"));
    s.collection
        .insert("remote000002", &s.keys.encrypt(&tombstone).unwrap().payload);
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.uploaded, 1);
    assert!(engine.live_ids().is_empty());
    let server = s.server_contents();
    assert_eq!(
        server["remote000001"],
        json!({"id": "remote000001", "deleted": true})
    );
}

#[test]
fn a_missing_collection_downloads_nothing_and_uploads() {
    let s = setup();
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001"}));
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.downloaded, 0);
    assert_eq!(outcome.uploaded, 1);
    assert_eq!(outcome.requests, 1, "just the POST");
    assert_eq!(engine.last_sync(), s.collection.modified());
}

#[test]
fn interrupted_mid_download_nothing_is_applied_and_the_next_sync_completes() {
    let s = setup();
    for i in 0..6 {
        s.remote(&format!("remote{i:06}"), json!({"n": i}));
    }
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001"}));
    let stop = InterruptHandle::new();
    let trigger = stop.clone();
    *engine.on_stage.lock() = Some(Box::new(move || trigger.interrupt()));

    let result = s.sync_with(&engine, &InfoConfiguration::default(), &stop, 2);
    assert!(matches!(result, Err(Error::Interrupted(_))), "{result:?}");
    assert!(!engine.calls().contains(&"apply".to_owned()));
    assert_eq!(engine.last_sync(), ServerTimestamp::ZERO);
    assert_eq!(engine.changed(), 1, "the local change is still pending");
    assert_eq!(s.collection.records().len(), 6);

    *engine.on_stage.lock() = None;
    stop.reset();
    let outcome = s
        .sync_with(&engine, &InfoConfiguration::default(), &stop, 2)
        .unwrap();
    assert_eq!(outcome.staged, 6);
    assert_eq!(
        outcome.applied.applied, 6,
        "the half-staged download was dropped, not doubled"
    );
    assert_eq!(engine.live_ids().len(), 7);
    assert_eq!(s.collection.records().len(), 7);
}

#[test]
fn interrupted_mid_upload_keeps_committed_batches_and_finishes_later() {
    let s = setup();
    let engine = ToyEngine::default();
    for i in 0..10 {
        let id = format!("local{i:07}");
        engine.add_local(&id, json!({"id": id}));
    }
    let config = InfoConfiguration {
        max_post_records: 3,
        max_total_records: 3,
        ..InfoConfiguration::default()
    };
    let stop = InterruptHandle::new();
    let trigger = stop.clone();
    *engine.on_set_uploaded.lock() = Some(Box::new(move || trigger.interrupt()));

    let result = s.sync_with(&engine, &config, &stop, 1000);
    assert!(matches!(result, Err(Error::Interrupted(_))), "{result:?}");
    assert_eq!(s.collection.records().len(), 3, "the first batch was committed");
    assert_eq!(engine.changed(), 7, "and only it is marked uploaded");
    assert!(!engine.calls().contains(&"sync_finished".to_owned()));

    *engine.on_set_uploaded.lock() = None;
    stop.reset();
    let outcome = s.sync_with(&engine, &config, &stop, 1000).unwrap();
    // The first batch comes back down (it is newer than our last sync) and
    // is reconciled with nothing; only the 7 pending records go up.
    assert_eq!(outcome.uploaded, 7);
    assert_eq!(engine.changed(), 0);
    assert_eq!(s.collection.records().len(), 10);
    assert_eq!(s.server_contents().len(), 10);
}

#[test]
fn a_concurrent_write_during_upload_is_a_412_and_the_changes_stay_pending() {
    let s = setup();
    s.remote("remote000001", json!({}));
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001"}));
    let collection = s.collection.clone();
    let keys = s.keys.clone();
    let wrote = Arc::new(Mutex::new(false));
    let wrote_flag = wrote.clone();
    *engine.on_stage.lock() = Some(Box::new(move || {
        // Another device uploads after our download, before our upload.
        let record = OutgoingRecord::from_content(
            OutgoingEnvelope::new(Guid::new("other0000001")),
            &json!({"id": "other0000001"}),
        )
        .unwrap();
        collection.insert("other0000001", &keys.encrypt(&record).unwrap().payload);
        *wrote_flag.lock() = true;
    }));
    let result = s.sync(&engine);
    assert!(*wrote.lock());
    assert!(matches!(result, Err(Error::PreconditionFailed)), "{result:?}");
    assert_eq!(engine.changed(), 1);
    assert_eq!(engine.last_sync(), ServerTimestamp::ZERO);

    *engine.on_stage.lock() = None;
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.uploaded, 1);
    assert_eq!(engine.live_ids().len(), 3);
}

#[test]
fn an_interrupt_before_starting_touches_nothing() {
    let s = setup();
    s.remote("remote000001", json!({}));
    let engine = ToyEngine::default();
    let stop = InterruptHandle::new();
    stop.interrupt();
    let result = s.sync_with(&engine, &InfoConfiguration::default(), &stop, 10);
    assert!(matches!(result, Err(Error::Interrupted(_))));
    assert!(engine.calls().is_empty());
    assert_eq!(s.server.request_count(), 0);
}

#[test]
fn engine_errors_name_the_engine() {
    struct Broken;
    impl SyncEngine for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn version(&self) -> u64 {
            1
        }
        fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
            Ok(EngineSyncAssociation::Disconnected)
        }
        fn reset(&self, _: &EngineSyncAssociation) -> Result<(), EngineError> {
            Ok(())
        }
        fn wipe(&self) -> Result<(), EngineError> {
            Ok(())
        }
        fn incoming_request(&self, _: ServerTimestamp) -> Result<Option<CollectionRequest>, EngineError> {
            Err("database is locked".into())
        }
        fn stage_incoming(&self, _: Vec<IncomingRecord>) -> Result<(), EngineError> {
            Ok(())
        }
        fn apply(&self, _: ServerTimestamp, _: &mut ApplyStats) -> Result<Vec<OutgoingRecord>, EngineError> {
            Ok(Vec::new())
        }
        fn set_uploaded(&self, _: ServerTimestamp, _: Vec<Guid>) -> Result<(), EngineError> {
            Ok(())
        }
        fn sync_finished(&self, _: ServerTimestamp) -> Result<(), EngineError> {
            Ok(())
        }
    }
    let s = setup();
    let client = s.server.storage_client();
    let result = SyncDriver::new(&client, &InfoConfiguration::default(), &NeverInterrupts)
        .sync(&Broken, &s.keys, None);
    match result {
        Err(Error::Engine { engine, source }) => {
            assert_eq!(engine, "broken");
            assert_eq!(source.to_string(), "database is locked");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn records_the_server_refuses_are_reported_and_stay_pending() {
    let s = setup();
    s.collection.refuse("local0000002");
    let engine = ToyEngine::default();
    engine.add_local("local0000001", json!({"id": "local0000001"}));
    engine.add_local("local0000002", json!({"id": "local0000002"}));
    let outcome = s.sync(&engine).unwrap();
    assert_eq!(outcome.uploaded, 1);
    assert!(outcome.upload_failed.contains_key(&Guid::new("local0000002")));
    assert_eq!(engine.changed(), 1, "the refused record is retried next time");
}
