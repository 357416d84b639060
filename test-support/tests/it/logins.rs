//! The passwords engine through the real manager and server: the merge
//! rules that the scenarios do not spell out.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use sync_clients::Command;
use sync_logins::{LoginEntry, LoginStore, LoginsKey};
use sync_manager::ServiceStatus;
use test_support::{Device, TestServer};

fn entry(origin: &str, username: &str, password: &str) -> LoginEntry {
    LoginEntry {
        origin: origin.into(),
        form_action_origin: Some(origin.into()),
        username_field: "u".into(),
        password_field: "p".into(),
        username: username.into(),
        password: password.into(),
        ..Default::default()
    }
}

fn synced(device: &mut Device) {
    let result = device.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
}

#[test]
fn an_edit_wins_over_a_deletion_whichever_syncs_first() {
    let server = TestServer::start();
    let account = server.new_account("edit-delete@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    let one = a.logins.add(entry("https://one.example", "u", "p1")).unwrap();
    let two = a.logins.add(entry("https://two.example", "u", "p2")).unwrap();
    synced(&mut a);
    synced(&mut b);

    // `one`: deleted on A, edited on B; A syncs first.
    // `two`: edited on A, deleted on B; A syncs first.
    a.logins.delete(one.guid.as_str()).unwrap();
    b.logins
        .update(
            one.guid.as_str(),
            entry("https://one.example", "u", "edited-on-B"),
        )
        .unwrap();
    a.logins
        .update(
            two.guid.as_str(),
            entry("https://two.example", "u", "edited-on-A"),
        )
        .unwrap();
    b.logins.delete(two.guid.as_str()).unwrap();
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);

    for device in [&a, &b] {
        let one_now = device
            .logins
            .get(one.guid.as_str())
            .unwrap()
            .expect("the edit of one survives");
        assert_eq!(one_now.entry.password, "edited-on-B");
        let two_now = device
            .logins
            .get(two.guid.as_str())
            .unwrap()
            .expect("the edit of two survives");
        assert_eq!(two_now.entry.password, "edited-on-A");
    }
    let on_server = account.cleartext("passwords", one.guid.as_str()).unwrap();
    assert_eq!(on_server["password"], json!("edited-on-B"));
}

#[test]
fn wipe_engine_clears_the_target_device_only() {
    let server = TestServer::start();
    let account = server.new_account("wipe-logins@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    a.logins.add(entry("https://keep.example", "u", "p")).unwrap();
    synced(&mut a);
    synced(&mut b);
    assert_eq!(b.logins.count().unwrap(), 1);
    synced(&mut a); // A learns of B

    let b_id = b.clients.client_id().unwrap();
    a.clients
        .send_command(b_id.as_str(), &Command::WipeEngine("passwords".into()))
        .unwrap();
    synced(&mut a);
    // Not yet uploaded when the command runs (clients sync first): wiped.
    b.logins
        .add(entry("https://local-only.example", "u", "p"))
        .unwrap();
    synced(&mut b);
    // B wiped, then (reset) downloaded the server's copy again; nothing was
    // deleted anywhere else.
    let on_b: Vec<String> = b
        .logins
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.entry.origin)
        .collect();
    assert_eq!(on_b, ["https://keep.example"]);
    assert_eq!(a.logins.count().unwrap(), 1);
    let records = account.raw().bsos("passwords");
    assert_eq!(records.len(), 1);
    let guid = records[0].envelope.id.to_string();
    assert!(
        account
            .cleartext("passwords", &guid)
            .unwrap()
            .get("deleted")
            .is_none()
    );
}

#[test]
fn a_store_opened_with_the_wrong_key_is_refused_and_the_right_key_still_syncs() {
    let server = TestServer::start();
    let account = server.new_account("keys@example.com");
    let dir = tempfile::tempdir().unwrap();
    let key = LoginsKey::generate().unwrap();
    {
        let store = LoginStore::open(dir.path().join("logins.db"), &key).unwrap();
        store.add(entry("https://k.example", "u", "p")).unwrap();
    }
    let wrong = LoginsKey::generate().unwrap();
    assert!(matches!(
        LoginStore::open(dir.path().join("logins.db"), &wrong),
        Err(sync_logins::LoginsError::KeyMismatch)
    ));
    let store = std::sync::Arc::new(LoginStore::open(dir.path().join("logins.db"), &key).unwrap());
    let device = Device::new("K", &account);
    device.manager().unregister_engine("passwords");
    let mut device = device.with_engine(store.clone());
    synced(&mut device);
    assert_eq!(account.raw().bsos("passwords").len(), 1);
}

#[test]
fn invalid_incoming_records_are_counted_and_skipped() {
    let server = TestServer::start();
    let account = server.new_account("invalid@example.com");
    let mut a = Device::new("A", &account);
    synced(&mut a);
    account.put_cleartext(
        "passwords",
        &json!({"id": "badbadbadbad", "hostname": "not a url", "formSubmitURL": "", "password": "p",
                "username": "", "usernameField": "", "passwordField": "", "timeCreated": 1, "timePasswordChanged": 1}),
    );
    account.put_cleartext("passwords", &json!({"id": "malformed123", "hostname": 42}));
    account.put_cleartext(
        "passwords",
        &json!({"id": "goodgoodgood", "hostname": "https://ok.example", "formSubmitURL": "https://ok.example",
                "httpRealm": null, "password": "p", "username": "u", "usernameField": "a", "passwordField": "b",
                "timeCreated": 1, "timePasswordChanged": 1}),
    );
    let result = a.sync();
    assert_eq!(result.status, ServiceStatus::Ok);
    assert_eq!(result.engines["passwords"].incoming_failed, 2);
    let logins = a.logins.list().unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].guid.as_str(), "goodgoodgood");
}

#[test]
fn a_lost_key_brings_back_what_the_server_has_and_names_what_is_lost() {
    let server = TestServer::start();
    let account = server.new_account("lost-key@example.com");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logins.db");
    let source = sync_logins::FileKeySource::new(dir.path().join("logins.key"));
    let (store, _) = LoginStore::open_with_key_source(&db, &source).unwrap();
    let store = std::sync::Arc::new(store);
    let kept = store.add(entry("https://kept.example", "u", "p1")).unwrap();
    let edited = store.add(entry("https://edited.example", "u", "old")).unwrap();
    let device = Device::new("K", &account);
    device.manager().unregister_engine("passwords");
    let mut device = device.with_engine(store.clone());
    synced(&mut device);
    // Changed here after the upload, and one never uploaded.
    let mut newer = edited.entry.clone();
    newer.password = "new".into();
    store.update(edited.guid.as_str(), newer).unwrap();
    let only_here = store.add(entry("https://only-here.example", "u", "p3")).unwrap();
    drop(device);
    drop(store);

    // The keychain forgot the key.
    std::fs::remove_file(source.path()).unwrap();
    let (store, recovery) = LoginStore::open_with_key_source(&db, &source).unwrap();
    let recovery = recovery.expect("a recovery");
    let mut lost: Vec<(String, sync_logins::Loss)> = recovery
        .lost
        .iter()
        .map(|l| (l.guid.to_string(), l.loss))
        .collect();
    lost.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (edited.guid.to_string(), sync_logins::Loss::ChangedSinceUpload),
        (only_here.guid.to_string(), sync_logins::Loss::NeverUploaded),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(lost, expected);
    assert_eq!(recovery.to_download, 2);

    // The next sync brings back the server's versions.
    let store = std::sync::Arc::new(store);
    let device = Device::new("K again", &account);
    device.manager().unregister_engine("passwords");
    let mut device = device.with_engine(store.clone());
    synced(&mut device);
    assert_eq!(
        store.get(kept.guid.as_str()).unwrap().unwrap().entry.password,
        "p1"
    );
    assert_eq!(
        store.get(edited.guid.as_str()).unwrap().unwrap().entry.password,
        "old"
    );
    assert!(store.get(only_here.guid.as_str()).unwrap().is_none());
    assert_eq!(store.count().unwrap(), 2);
}
