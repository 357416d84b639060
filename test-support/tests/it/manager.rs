//! The sync manager's state machine against the real server.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;
use sync_manager::{EngineSelection, EngineStatus, ServiceStatus, SkipReason, SyncReason};
use test_support::{Device, TestServer, ToyEngine};

fn device(name: &str, account: &test_support::TestAccount, engines: &[&Arc<ToyEngine>]) -> Device {
    let mut d = Device::new(name, account);
    for e in engines {
        d = d.with_engine((*e).clone());
    }
    d
}

#[test]
fn two_devices_first_sync() {
    let server = TestServer::start();
    let account = server.new_account("two@example.com");
    let a_toys = Arc::new(ToyEngine::new("toys"));
    let b_toys = Arc::new(ToyEngine::new("toys"));
    a_toys.set("aaaaaaaaaaaa", json!({"color": "red"}));
    let mut a = device("A", &account, &[&a_toys]);
    let mut b = device("B", &account, &[&b_toys]);

    let first = a.sync();
    assert_eq!(first.status, ServiceStatus::Ok, "{:?}", first.error);
    assert_eq!(first.engines["toys"].status, EngineStatus::Ok);
    assert_eq!(first.engines["toys"].uploaded, 1);
    assert_eq!(first.declined, Some(vec![]));

    let raw = account.raw();
    let meta: serde_json::Value = serde_json::from_str(&raw.bso("meta", "global").unwrap().payload).unwrap();
    assert_eq!(meta["storageVersion"], 5);
    assert_eq!(meta["engines"]["toys"]["version"], 1);
    assert!(raw.bso("crypto", "keys").is_some());
    let stored = raw.bsos("toys");
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].payload.contains("red"),
        "the server only sees ciphertext"
    );

    let second = b.sync();
    assert_eq!(second.status, ServiceStatus::Ok, "{:?}", second.error);
    assert_eq!(second.engines["toys"].downloaded, 1);
    assert_eq!(b_toys.get("aaaaaaaaaaaa").unwrap()["color"], "red");
}

#[test]
fn an_unchanged_account_costs_one_request() {
    let server = TestServer::start();
    let account = server.new_account("quiet@example.com");
    let engines: Vec<Arc<ToyEngine>> = ["e1", "e2", "e3", "e4", "e5"]
        .iter()
        .map(|n| Arc::new(ToyEngine::new(n)))
        .collect();
    engines[0].set("aaaaaaaaaaaa", json!({}));
    let mut a = device("A", &account, &engines.iter().collect::<Vec<_>>());
    assert_eq!(a.sync().status, ServiceStatus::Ok);
    let quiet = a.sync();
    assert_eq!(quiet.status, ServiceStatus::Ok, "{:?}", quiet.error);
    assert_eq!(quiet.requests, 1, "just info/collections for 5 unchanged engines");
    assert!(quiet.engines.values().all(|e| e.requests == 0));
}

#[test]
fn declining_on_one_device_disables_on_the_other() {
    let server = TestServer::start();
    let account = server.new_account("decline@example.com");
    let a_toys = Arc::new(ToyEngine::new("toys"));
    let b_toys = Arc::new(ToyEngine::new("toys"));
    let mut a = device("A", &account, &[&a_toys]);
    let mut b = device("B", &account, &[&b_toys]);
    a.sync();
    b.sync();
    assert_eq!(b.manager().get_declined(), Some(vec![]));

    a.set_enabled("toys", false);
    let declined = a.sync();
    assert_eq!(declined.declined, Some(vec!["toys".to_string()]));
    assert_eq!(
        declined.engines["toys"].status,
        EngineStatus::Skipped(SkipReason::Declined)
    );

    b_toys.set("bbbbbbbbbbbb", json!({}));
    let on_b = b.sync();
    assert_eq!(on_b.declined, Some(vec!["toys".to_string()]));
    assert_eq!(
        on_b.engines["toys"].status,
        EngineStatus::Skipped(SkipReason::Declined)
    );
    assert!(
        account.raw().bsos("toys").is_empty(),
        "B uploads nothing for a declined engine"
    );

    // Enabling again on B brings it back everywhere.
    b.set_enabled("toys", true);
    let back = b.sync();
    assert_eq!(back.declined, Some(vec![]));
    assert_eq!(back.engines["toys"].uploaded, 1);
}

#[test]
fn engines_this_device_lacks_keep_their_entries() {
    let server = TestServer::start();
    let account = server.new_account("others@example.com");
    let mut a = device(
        "A",
        &account,
        &[
            &Arc::new(ToyEngine::new("toys")),
            &Arc::new(ToyEngine::new("forms")),
        ],
    );
    a.sync();
    let mut b = device("B", &account, &[&Arc::new(ToyEngine::new("toys"))]);
    b.sync();
    let meta: serde_json::Value =
        serde_json::from_str(&account.raw().bso("meta", "global").unwrap().payload).unwrap();
    assert!(meta["engines"].get("forms").is_some());
}

#[test]
fn node_reassignment_restarts_once_and_reuploads() {
    let server = TestServer::start();
    let account = server.new_account("moved@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    toys.set("aaaaaaaaaaaa", json!({"v": 1}));
    let mut a = device("A", &account, &[&toys]);
    assert_eq!(a.sync().status, ServiceStatus::Ok);

    // The operator moves the account: its data now lives under a new uid (empty).
    let node = server.url().to_owned();
    server.db().reassign_node(&account.fxa_uid(), &node).unwrap();

    let after = a.sync();
    assert_eq!(after.status, ServiceStatus::Ok, "{:?}", after.error);
    assert_eq!(
        after.engines["toys"].uploaded, 1,
        "a fresh server: everything goes up again"
    );
    assert!(toys.resets() >= 2);
    assert_eq!(account.raw().bsos("toys").len(), 1);
}

#[test]
fn corrupted_crypto_keys_are_replaced_and_data_reuploaded() {
    let server = TestServer::start();
    let account = server.new_account("corrupt@example.com");
    let a_toys = Arc::new(ToyEngine::new("toys"));
    a_toys.set("aaaaaaaaaaaa", json!({"v": 1}));
    let mut a = device("A", &account, &[&a_toys]);
    a.sync();
    let raw = account.raw();
    let before = raw.bso("crypto", "keys").unwrap().payload;
    raw.put_raw(
        "crypto",
        "keys",
        // Garbage that still passes the server's one payload check (an
        // all-zero IV on crypto is refused, as Mozilla's server does).
        r#"{"ciphertext":"AAAA","IV":"AAAAAAAAAAAAAAAAAAAAAQ==","hmac":"00"}"#,
    );

    let b_toys = Arc::new(ToyEngine::new("toys"));
    b_toys.set("bbbbbbbbbbbb", json!({"v": 2}));
    let mut b = device("B", &account, &[&b_toys]);
    let recovered = b.sync();
    assert_eq!(recovered.status, ServiceStatus::Ok, "{:?}", recovered.error);
    assert_ne!(raw.bso("crypto", "keys").unwrap().payload, before);
    // A notices new keys (its cache is for the old ones), resets and uploads again.
    let a_again = a.sync();
    assert_eq!(a_again.status, ServiceStatus::Ok, "{:?}", a_again.error);
    assert!(a_toys.resets() >= 2);
    b.sync();
    let mut ids = b_toys.ids();
    ids.sort();
    assert_eq!(ids, ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
}

#[test]
fn a_newer_storage_version_is_refused_and_nothing_written() {
    let server = TestServer::start();
    let account = server.new_account("future@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    let mut a = device("A", &account, &[&toys]);
    a.sync();
    let raw = account.raw();
    let mut meta: serde_json::Value =
        serde_json::from_str(&raw.bso("meta", "global").unwrap().payload).unwrap();
    meta["storageVersion"] = json!(6);
    raw.put_raw("meta", "global", &meta.to_string());

    toys.set("aaaaaaaaaaaa", json!({}));
    let refused = a.sync();
    assert_eq!(refused.status, ServiceStatus::StorageVersionTooNew);
    assert!(refused.error.unwrap().contains('6'));
    assert!(raw.bsos("toys").is_empty());
    let still: serde_json::Value = serde_json::from_str(&raw.bso("meta", "global").unwrap().payload).unwrap();
    assert_eq!(
        still["storageVersion"], 6,
        "we never overwrite a newer client's data"
    );
}

#[test]
fn a_newer_engine_version_is_skipped() {
    let server = TestServer::start();
    let account = server.new_account("engver@example.com");
    let mut newer = device("new", &account, &[&Arc::new(ToyEngine::with_version("toys", 3))]);
    newer.sync();
    let mut older = device("old", &account, &[&Arc::new(ToyEngine::with_version("toys", 1))]);
    let result = older.sync();
    assert_eq!(
        result.engines["toys"].status,
        EngineStatus::Skipped(SkipReason::VersionTooNew { server: 3, ours: 1 })
    );
}

#[test]
fn selecting_engines_and_stopping() {
    let server = TestServer::start();
    let account = server.new_account("select@example.com");
    let one = Arc::new(ToyEngine::new("one"));
    let two = Arc::new(ToyEngine::new("two"));
    one.set("aaaaaaaaaaaa", json!({}));
    two.set("bbbbbbbbbbbb", json!({}));
    let mut a = device("A", &account, &[&one, &two]);
    let some = a.sync_with(SyncReason::User, EngineSelection::Some(vec!["one".into()]));
    assert_eq!(some.engines["one"].uploaded, 1);
    assert_eq!(
        some.engines["two"].status,
        EngineStatus::Skipped(SkipReason::NotSelected)
    );
    assert_eq!(two.pending(), 1);

    // A stop request left over from before a sync does not block it.
    a.manager().stop();
    let result = a.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
    assert_eq!(two.pending(), 0);
}

/// Delegates to a toy engine, and asks the manager to stop while merging.
struct StopsWhileApplying {
    inner: Arc<ToyEngine>,
    stop: sync15::InterruptHandle,
}

impl sync15::SyncEngine for StopsWhileApplying {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn version(&self) -> u64 {
        self.inner.version()
    }
    fn sync_association(&self) -> Result<sync15::EngineSyncAssociation, sync15::EngineError> {
        self.inner.sync_association()
    }
    fn reset(&self, assoc: &sync15::EngineSyncAssociation) -> Result<(), sync15::EngineError> {
        self.inner.reset(assoc)
    }
    fn wipe(&self) -> Result<(), sync15::EngineError> {
        self.inner.wipe()
    }
    fn incoming_request(
        &self,
        ts: sync15::ServerTimestamp,
    ) -> Result<Option<sync15::CollectionRequest>, sync15::EngineError> {
        self.inner.incoming_request(ts)
    }
    fn stage_incoming(&self, records: Vec<sync15::IncomingRecord>) -> Result<(), sync15::EngineError> {
        self.inner.stage_incoming(records)
    }
    fn apply(
        &self,
        ts: sync15::ServerTimestamp,
        stats: &mut sync15::ApplyStats,
    ) -> Result<Vec<sync15::OutgoingRecord>, sync15::EngineError> {
        self.stop.interrupt();
        self.inner.apply(ts, stats)
    }
    fn set_uploaded(
        &self,
        ts: sync15::ServerTimestamp,
        ids: Vec<sync15::Guid>,
    ) -> Result<(), sync15::EngineError> {
        self.inner.set_uploaded(ts, ids)
    }
    fn sync_finished(&self, ts: sync15::ServerTimestamp) -> Result<(), sync15::EngineError> {
        self.inner.sync_finished(ts)
    }
}

#[test]
fn a_stop_mid_sync_leaves_changes_pending_and_the_next_sync_finishes() {
    let server = TestServer::start();
    let account = server.new_account("stop@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    toys.set("aaaaaaaaaaaa", json!({}));
    let mut a = Device::new("A", &account);
    let stopping = Arc::new(StopsWhileApplying {
        inner: toys.clone(),
        stop: a.manager().interrupt_handle(),
    });
    a = a.with_engine(stopping);
    let stopped = a.sync();
    assert_eq!(stopped.status, ServiceStatus::Interrupted, "{:?}", stopped.error);
    assert_eq!(toys.pending(), 1, "nothing was marked uploaded");
    assert!(account.raw().bsos("toys").is_empty());

    // Without the stop, the next sync uploads exactly once.
    a = a.with_engine(toys.clone());
    let done = a.sync();
    assert_eq!(done.status, ServiceStatus::Ok, "{:?}", done.error);
    assert_eq!(toys.pending(), 0);
    assert_eq!(account.raw().bsos("toys").len(), 1);
}

#[test]
fn the_telemetry_summary_is_json() {
    let server = TestServer::start();
    let account = server.new_account("telemetry@example.com");
    let mut a = device("A", &account, &[&Arc::new(ToyEngine::new("toys"))]);
    let result = a.sync();
    let ping: serde_json::Value = serde_json::from_str(&result.telemetry_json()).unwrap();
    assert_eq!(ping["status"], "ok");
    assert_eq!(ping["engines"]["toys"]["status"], "ok");
    assert!(ping["requests"].as_u64().unwrap() >= 4);
    assert_eq!(ping["reason"], "user");
}

#[test]
fn a_concurrent_write_fails_only_that_engine_and_the_next_sync_retries() {
    let server = TestServer::start();
    let account = server.new_account("conflict@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    let other = Arc::new(ToyEngine::new("other"));
    let hooked = Arc::new(test_support::HookedEngine::new(toys.clone()));
    let mut a = Device::new("A", &account)
        .with_engine(hooked.clone())
        .with_engine(other.clone());
    let mut b = device("B", &account, &[&Arc::new(ToyEngine::new("toys"))]);
    a.sync();
    b.sync();
    toys.set("aaaaaaaaaaaa", json!({}));
    other.set("oooooooooooo", json!({}));
    let b_toys = Arc::new(ToyEngine::new("toys"));
    b_toys.set("bbbbbbbbbbbb", json!({}));
    let mut b = device("B", &account, &[&b_toys]);
    // B uploads to toys after A downloaded and before A uploads.
    let mut b_slot = Some(b);
    let (tx, rx) = std::sync::mpsc::channel();
    hooked.once(test_support::HookPoint::BeforeApply, move || {
        let mut b = b_slot.take().unwrap();
        b.sync();
        tx.send(b).unwrap();
    });
    let result = a.sync();
    b = rx.recv().unwrap();
    assert_eq!(result.status, ServiceStatus::Ok, "the sync as a whole went on");
    assert!(
        matches!(&result.engines["toys"].status, EngineStatus::Failed { error } if error.contains("412")),
        "{:?}",
        result.engines["toys"]
    );
    assert_eq!(
        result.engines["other"].uploaded, 1,
        "other engines are unaffected"
    );
    assert_eq!(toys.pending(), 1);

    let retry = a.sync();
    assert_eq!(retry.engines["toys"].status, EngineStatus::Ok);
    assert_eq!(toys.pending(), 0);
    b.sync();
    let mut ids = b_toys.ids();
    ids.sort();
    assert_eq!(ids, ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
}

#[test]
fn backoff_is_respected_except_when_the_user_asks() {
    let server = TestServer::start();
    let account = server.new_account("backoff@example.com");
    let manager = sync_manager::SyncManager::new().unwrap();
    manager.register_engine(Arc::new(ToyEngine::new("toys")));
    let first = manager.sync(sync_manager::SyncParams::new(
        SyncReason::Scheduled,
        account.auth(),
        None,
    ));
    assert_eq!(first.status, ServiceStatus::Ok);
    // The server asked for an hour's rest last time (as X-Weave-Backoff or a 503 would).
    let mut state: serde_json::Value = serde_json::from_str(&first.persisted_state).unwrap();
    let in_an_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_600_000;
    state["next_sync_allowed_at_ms"] = json!(in_an_hour);
    let state = state.to_string();

    let scheduled = manager.sync(sync_manager::SyncParams::new(
        SyncReason::Scheduled,
        account.auth(),
        Some(state.clone()),
    ));
    assert_eq!(scheduled.status, ServiceStatus::BackedOff);
    assert_eq!(scheduled.requests, 0);
    assert!(scheduled.next_sync_allowed_at.is_some());

    let user = manager.sync(sync_manager::SyncParams::new(
        SyncReason::User,
        account.auth(),
        Some(state),
    ));
    assert_eq!(
        user.status,
        ServiceStatus::Ok,
        "the user's own request goes through"
    );
    assert_eq!(manager.get_declined(), Some(vec![]));
}

#[test]
fn declined_is_unknown_before_the_first_sync() {
    let manager = sync_manager::SyncManager::new().unwrap();
    assert_eq!(manager.get_declined(), None);
}

/// Every progress event, as (engine, phase, downloaded, uploaded).
#[derive(Default)]
struct Recorder(parking_lot::Mutex<Vec<(String, sync15::SyncPhase, usize, usize)>>);

impl sync15::SyncProgress for Recorder {
    fn progress(&self, event: sync15::SyncProgressEvent<'_>) {
        self.0.lock().push((
            event.engine.to_owned(),
            event.phase,
            event.downloaded,
            event.uploaded,
        ));
    }
}

#[test]
fn progress_is_reported_per_page_and_per_committed_batch() {
    use sync15::SyncPhase::{Applying, Downloading, Finished, Uploading};
    let server = TestServer::start();
    let account = server.new_account("progress@example.com");
    let up_toys = Arc::new(ToyEngine::new("toys"));
    for i in 0..25 {
        up_toys.set(&format!("toy{i:09}"), json!({"n": i}));
    }
    let mut uploader = device("up", &account, &[&up_toys]);
    let up_events = Arc::new(Recorder::default());
    uploader.report_progress_to(up_events.clone());
    assert_eq!(uploader.sync().status, ServiceStatus::Ok);
    let toys: Vec<_> = up_events
        .0
        .lock()
        .iter()
        .filter(|e| e.0 == "toys")
        .cloned()
        .collect();
    assert_eq!(toys.first().map(|e| e.1), Some(Applying), "{toys:?}");
    assert_eq!(
        toys.last(),
        Some(&("toys".to_owned(), Finished, 0, 25)),
        "{toys:?}"
    );
    let committed: Vec<usize> = toys.iter().filter(|e| e.1 == Uploading).map(|e| e.3).collect();
    assert_eq!(
        committed.first(),
        Some(&0),
        "uploading starts at 0: {committed:?}"
    );
    assert_eq!(committed.last(), Some(&25), "{committed:?}");

    // Downloading in pages of 10: a step after each page.
    let down_toys = Arc::new(ToyEngine::new("toys"));
    let mut downloader = Device::with_page_size("down", &account, 10).with_engine(down_toys.clone());
    let down_events = Arc::new(Recorder::default());
    downloader.report_progress_to(down_events.clone());
    assert_eq!(downloader.sync().status, ServiceStatus::Ok);
    let pages: Vec<usize> = down_events
        .0
        .lock()
        .iter()
        .filter(|e| e.0 == "toys" && e.1 == Downloading)
        .map(|e| e.2)
        .collect();
    assert_eq!(pages, [0, 10, 20, 25]);
    assert_eq!(down_toys.ids().len(), 25);
}

#[test]
fn the_persisted_state_holds_no_credential_and_a_new_process_fetches_its_own() {
    let server = TestServer::start();
    let account = server.new_account("secretless@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    toys.set("aaaaaaaaaaaa", json!({"n": 1}));
    let mut first = device("A", &account, &[&toys]);
    let result = first.sync();
    assert_eq!(result.status, ServiceStatus::Ok);
    let blob: serde_json::Value = serde_json::from_str(&result.persisted_state).unwrap();
    let keys: Vec<&str> = blob.as_object().unwrap().keys().map(String::as_str).collect();
    // Only caches and choices; no storage token (its Hawk key is a credential).
    for key in &keys {
        assert!(
            [
                "version",
                "key_id",
                "declined",
                "meta_global",
                "crypto_keys",
                "node",
                "config",
                "next_sync_allowed_at_ms"
            ]
            .contains(key),
            "unexpected field {key} in {blob}"
        );
    }
    assert!(!result.persisted_state.contains("\"token\""));

    // Another process (a new manager, here a new device) with the stored
    // blob: it fetches a token of its own, then needs only info/collections
    // and its own device record (down and up) — meta/global and
    // crypto/keys come from the blob.
    let again = Device::new("A again", &account).with_engine(Arc::new(ToyEngine::new("toys")));
    let manager = again.manager();
    let mut params =
        sync_manager::SyncParams::new(SyncReason::User, account.auth(), Some(result.persisted_state));
    params.engines = EngineSelection::Some(vec![]);
    let quiet = manager.sync(params);
    assert_eq!(quiet.status, ServiceStatus::Ok, "{:?}", quiet.error);
    assert_eq!(
        quiet.requests, 4,
        "a token, info/collections, clients down and up"
    );
}

#[test]
fn one_sync_at_a_time_and_a_stop_belongs_to_the_sync_it_was_sent_to() {
    let server = TestServer::start();
    let account = server.new_account("one-at-a-time@example.com");
    let toys = Arc::new(ToyEngine::new("toys"));
    toys.set("aaaaaaaaaaaa", json!({"n": 1}));
    let hooked = Arc::new(test_support::HookedEngine::new(toys.clone()));
    let (inside_tx, inside_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    hooked.once(test_support::HookPoint::BeforeApply, move || {
        inside_tx.send(()).unwrap();
        go_rx.recv().unwrap();
    });
    let device = Device::new("A", &account).with_engine(hooked.clone());
    let manager = device.manager();
    let params = |blob: Option<&str>| {
        sync_manager::SyncParams::new(SyncReason::User, account.auth(), blob.map(str::to_owned))
    };
    std::thread::scope(|s| {
        let first = s.spawn(|| manager.sync(params(None)));
        inside_rx.recv().unwrap();
        // A second sync while the first is inside the engine: refused at once,
        // its state handed back untouched.
        let second = manager.sync(params(Some("{\"kept\":true}")));
        assert_eq!(second.status, ServiceStatus::AlreadySyncing);
        assert_eq!(second.persisted_state, "{\"kept\":true}");
        assert_eq!(second.requests, 0);
        // A stop now is for the running sync.
        manager.stop();
        go_tx.send(()).unwrap();
        let first = first.join().unwrap();
        assert_eq!(first.status, ServiceStatus::Interrupted, "{:?}", first.error);
    });
    // It is not left over for the next sync.
    let next = manager.sync(params(None));
    assert_eq!(next.status, ServiceStatus::Ok, "{:?}", next.error);
    assert_eq!(next.engines["toys"].status, EngineStatus::Ok);
}
