//! Every engine's store, found corrupt when opened: moved aside, started
//! fresh, and refilled from the server by the next sync (the policy in
//! `docs/adr/0001-corrupt-databases.md`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use sync_bookmarks::{BookmarkStore, MENU_GUID, NewItem};
use sync_clients::{ClientsStore, LocalDevice};
use sync_history::{HistoryStore, VisitTransition};
use sync_logins::{LoginEntry, LoginStore, LoginsKey};
use sync_manager::{ServiceStatus, SyncManager, SyncParams, SyncReason};
use sync_tabs::{LocalTab, TabsStore};
use test_support::{Device, TestAccount, TestServer};

struct Stores {
    clients: Arc<ClientsStore>,
    bookmarks: Arc<BookmarkStore>,
    logins: Arc<LoginStore>,
    history: Arc<HistoryStore>,
    tabs: Arc<TabsStore>,
}

fn local() -> LocalDevice {
    LocalDevice {
        name: "fragile".into(),
        device_type: "desktop".into(),
        os: None,
        application: None,
        version: None,
        fxa_device_id: None,
    }
}

fn open(dir: &Path, key: &LoginsKey) -> Stores {
    Stores {
        clients: Arc::new(ClientsStore::open(dir.join("clients.db"), &local()).unwrap()),
        bookmarks: Arc::new(BookmarkStore::open(dir.join("bookmarks.db")).unwrap()),
        logins: Arc::new(LoginStore::open(dir.join("logins.db"), key).unwrap()),
        history: Arc::new(HistoryStore::open(dir.join("history.db")).unwrap()),
        tabs: Arc::new(TabsStore::open(dir.join("tabs.db")).unwrap()),
    }
}

fn sync(stores: &Stores, account: &TestAccount) {
    let manager = SyncManager::new().unwrap();
    manager.set_clients_engine(stores.clients.clone());
    manager.register_engine(stores.bookmarks.clone());
    manager.register_engine(stores.logins.clone());
    manager.register_engine(stores.history.clone());
    manager.register_engine(stores.tabs.clone());
    let result = manager.sync(SyncParams::new(SyncReason::User, account.auth(), None));
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
}

#[test]
fn every_store_found_corrupt_is_replaced_and_refilled_by_the_next_sync() {
    let server = TestServer::start();
    let account = server.new_account("fragile@example.com");
    let dir = tempfile::tempdir().unwrap();
    let key = LoginsKey::generate().unwrap();
    let now_us = sync15::ServerTimestamp::now().as_millis() * 1000;
    {
        let stores = open(dir.path(), &key);
        stores
            .bookmarks
            .insert(
                MENU_GUID,
                None,
                NewItem::Bookmark {
                    url: "https://kept.example/".into(),
                    title: "Kept".into(),
                },
            )
            .unwrap();
        stores
            .logins
            .add(LoginEntry {
                origin: "https://kept.example".into(),
                form_action_origin: Some("https://kept.example".into()),
                username: "me".into(),
                password: "secret".into(),
                ..LoginEntry::default()
            })
            .unwrap();
        stores
            .history
            .record_visit("https://kept.example/page", now_us, VisitTransition::Link)
            .unwrap();
        sync(&stores, &account);
    }
    // Another device has tabs open, so this one has some to lose.
    let mut phone = Device::new("phone", &account);
    phone
        .tabs
        .set_local_tabs(vec![LocalTab {
            title: "Open".into(),
            url_history: vec!["https://open.example/".into()],
            icon: None,
            last_used_ms: now_us / 1000,
            pinned: false,
            inactive: false,
        }])
        .unwrap();
    assert_eq!(phone.sync().status, ServiceStatus::Ok);

    // Disk trouble: every file is garbage now.
    for name in ["clients.db", "bookmarks.db", "logins.db", "history.db", "tabs.db"] {
        std::fs::write(dir.path().join(name), vec![0x5Au8; 8192]).unwrap();
    }
    let stores = open(dir.path(), &key);
    for (name, recreated) in [
        ("clients.db", stores.clients.recreated_from_corruption()),
        ("bookmarks.db", stores.bookmarks.recreated_from_corruption()),
        ("logins.db", stores.logins.recreated_from_corruption()),
        ("history.db", stores.history.recreated_from_corruption()),
        ("tabs.db", stores.tabs.recreated_from_corruption()),
    ] {
        let recreated = recreated.unwrap_or_else(|| panic!("{name} was not found corrupt"));
        assert_eq!(recreated.moved_to, dir.path().join(format!("{name}.corrupt-1")));
        assert_eq!(std::fs::read(&recreated.moved_to).unwrap(), vec![0x5Au8; 8192]);
    }
    assert!(stores.bookmarks.search("kept", 10).unwrap().is_empty());
    assert_eq!(stores.logins.count().unwrap(), 0);

    sync(&stores, &account);
    assert_eq!(stores.bookmarks.search("kept", 10).unwrap()[0].title, "Kept");
    assert_eq!(stores.logins.list().unwrap()[0].entry.password, "secret");
    assert_eq!(
        stores.history.visits("https://kept.example/page").unwrap().len(),
        1
    );
    let tabs = stores.tabs.remote_tabs().unwrap();
    assert!(tabs.iter().any(|d| d.device_name == "phone"), "{tabs:?}");
}
