//! The password store without sync: real SQLite files in a temp dir.
#![allow(clippy::unwrap_used)]

use sync_logins::{InvalidLogin, LoginEntry, LoginStore, LoginsError, LoginsKey};

fn entry(origin: &str, username: &str, password: &str) -> LoginEntry {
    LoginEntry {
        origin: origin.into(),
        form_action_origin: Some(origin.into()),
        http_realm: None,
        username_field: "user".into(),
        password_field: "pass".into(),
        username: username.into(),
        password: password.into(),
    }
}

fn store() -> (tempfile::TempDir, LoginStore, LoginsKey) {
    let dir = tempfile::tempdir().unwrap();
    let key = LoginsKey::generate().unwrap();
    let store = LoginStore::open(dir.path().join("logins.db"), &key).unwrap();
    (dir, store, key)
}

#[test]
fn add_get_update_touch_delete() {
    let (_dir, store, _) = store();
    let added = store
        .add(entry("https://Example.com/login", "alice", "one"))
        .unwrap();
    assert_eq!(added.entry.origin, "https://example.com");
    assert_eq!(added.times_used, 1);
    assert_eq!(store.get(added.guid.as_str()).unwrap().unwrap(), added);

    let updated = store
        .update(added.guid.as_str(), entry("https://example.com", "alice", "two"))
        .unwrap();
    assert_eq!(updated.entry.password, "two");
    assert!(updated.time_password_changed >= added.time_password_changed);
    assert_eq!(updated.time_created, added.time_created);

    let touched = store.touch(added.guid.as_str()).unwrap();
    assert_eq!(touched.times_used, 2);

    assert!(store.delete(added.guid.as_str()).unwrap());
    assert!(!store.delete(added.guid.as_str()).unwrap());
    assert_eq!(store.get(added.guid.as_str()).unwrap(), None);
    assert!(matches!(store.touch("nope"), Err(LoginsError::NotFound(_))));
    assert!(matches!(
        store.update("nope", entry("https://a.example", "u", "p")),
        Err(LoginsError::NotFound(_))
    ));
}

#[test]
fn duplicates_are_refused_on_add_and_update() {
    let (_dir, store, _) = store();
    let first = store.add(entry("https://a.example", "alice", "one")).unwrap();
    match store.add(entry("https://a.example/other/page", "alice", "two")) {
        Err(LoginsError::Duplicate(guid)) => assert_eq!(guid, first.guid),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let bob = store.add(entry("https://a.example", "bob", "x")).unwrap();
    assert!(matches!(
        store.update(bob.guid.as_str(), entry("https://a.example", "alice", "x")),
        Err(LoginsError::Duplicate(_))
    ));
    // A realm login with the same username is a different login.
    let realm = LoginEntry {
        form_action_origin: None,
        http_realm: Some("Admin".into()),
        username_field: String::new(),
        password_field: String::new(),
        ..entry("https://a.example", "alice", "z")
    };
    store.add(realm).unwrap();
    assert_eq!(store.count().unwrap(), 3);
}

#[test]
fn invalid_logins_write_nothing() {
    let (_dir, store, _) = store();
    let err = store.add(entry("https://a.example", "u", "")).unwrap_err();
    assert!(matches!(err, LoginsError::Invalid(InvalidLogin::EmptyPassword)));
    let err = store.add(entry("nonsense", "u", "p")).unwrap_err();
    assert!(matches!(err, LoginsError::Invalid(InvalidLogin::BadOrigin(_))));
    assert_eq!(store.count().unwrap(), 0);
    assert!(matches!(store.find_by_origin("::"), Err(LoginsError::Invalid(_))));
}

#[test]
fn find_by_origin_matches_any_url_of_the_site() {
    let (_dir, store, _) = store();
    store.add(entry("https://a.example", "u1", "p")).unwrap();
    store.add(entry("https://a.example", "u2", "p")).unwrap();
    store.add(entry("https://b.example", "u1", "p")).unwrap();
    let found = store.find_by_origin("https://A.example:443/deep/path?x").unwrap();
    let names: Vec<&str> = found.iter().map(|l| l.entry.username.as_str()).collect();
    assert_eq!(names, ["u1", "u2"]);
}

#[test]
fn import_skips_bad_entries_and_dupes_and_adds_the_rest() {
    let (_dir, store, _) = store();
    store.add(entry("https://stored.example", "u", "p")).unwrap();
    let mut entries: Vec<LoginEntry> = (0..500)
        .map(|i| entry(&format!("https://site{i}.example"), "user", "pw"))
        .collect();
    entries.push(entry("https://site0.example", "user", "other")); // dupe of entry 0
    entries.push(entry("https://stored.example", "u", "p2")); // dupe of a stored login
    entries.push(entry("bad origin", "u", "p")); // invalid
    let report = store.import(entries).unwrap();
    assert_eq!(report.imported.len(), 500);
    let skipped: Vec<usize> = report.skipped.iter().map(|(i, _)| *i).collect();
    assert_eq!(skipped, [500, 501, 502]);
    assert_eq!(store.count().unwrap(), 501);
}

#[test]
fn secrets_are_encrypted_on_disk_and_the_key_is_checked() {
    let (dir, store, key) = store();
    store
        .add(entry("https://a.example", "secret-user-name", "secret-pass-word"))
        .unwrap();
    drop(store);
    let mut on_disk = Vec::new();
    for file in std::fs::read_dir(dir.path()).unwrap() {
        on_disk.extend(std::fs::read(file.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&on_disk);
    assert!(
        text.contains("https://a.example"),
        "non-secret fields are searchable"
    );
    assert!(!text.contains("secret-user-name") && !text.contains("secret-pass-word"));

    let wrong = LoginsKey::generate().unwrap();
    assert!(matches!(
        LoginStore::open(dir.path().join("logins.db"), &wrong),
        Err(LoginsError::KeyMismatch)
    ));
    let reopened = LoginStore::open(dir.path().join("logins.db"), &key).unwrap();
    assert_eq!(reopened.list().unwrap()[0].entry.password, "secret-pass-word");
}
