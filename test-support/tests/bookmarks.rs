//! The bookmarks engine through the real manager and server.
#![allow(clippy::unwrap_used)]

use sync_bookmarks::{BookmarkNode, MENU_GUID, NewItem, TOOLBAR_GUID};
use sync_manager::ServiceStatus;
use test_support::{Device, TestServer};

fn synced(device: &mut Device) {
    let result = device.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
}

fn bookmark(url: &str, title: &str) -> NewItem {
    NewItem::Bookmark {
        url: url.into(),
        title: title.into(),
    }
}

/// A subtree as `title(child child)` with bookmarks by title.
fn shape(node: &BookmarkNode) -> String {
    let kids: Vec<String> = node.children.iter().map(shape).collect();
    if node.children.is_empty() && node.item.kind != sync_bookmarks::BookmarkKind::Folder {
        node.item.title.clone()
    } else {
        format!("{}({})", node.item.title, kids.join(" "))
    }
}

fn tree(device: &Device, root: &str) -> String {
    shape(&device.bookmarks.get_tree(root).unwrap().unwrap())
}

#[test]
fn bookmarks_made_on_one_device_arrive_on_another() {
    let server = TestServer::start();
    let account = server.new_account("bookmarks@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    let folder = a
        .bookmarks
        .insert(MENU_GUID, None, NewItem::Folder { title: "Work".into() })
        .unwrap();
    a.bookmarks
        .insert(&folder, None, bookmark("https://a.example/", "A"))
        .unwrap();
    a.bookmarks.insert(&folder, None, NewItem::Separator).unwrap();
    a.bookmarks
        .insert(TOOLBAR_GUID, None, bookmark("https://t.example/", "T"))
        .unwrap();
    synced(&mut a);
    let result = b.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
    // Taking the server's tree as it is sends nothing back.
    assert_eq!(result.engines["bookmarks"].uploaded, 0);
    assert_eq!(tree(&b, MENU_GUID), "(Work(A ))");
    assert_eq!(tree(&b, TOOLBAR_GUID), "(T)");

    // And back: B reorders and edits; A follows.
    let work = b.bookmarks.get(&folder).unwrap().unwrap();
    assert_eq!(work.title, "Work");
    b.bookmarks.move_item(&folder, TOOLBAR_GUID, Some(0)).unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(tree(&a, TOOLBAR_GUID), "(Work(A ) T)");
    assert_eq!(tree(&a, MENU_GUID), "()");
    // Nothing left to do on either side.
    synced(&mut a);
    synced(&mut b);
    assert_eq!(tree(&b, TOOLBAR_GUID), "(Work(A ) T)");
}

#[test]
fn a_title_edited_on_one_device_and_a_url_on_another_both_survive() {
    let server = TestServer::start();
    let account = server.new_account("three-way@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    let id = a
        .bookmarks
        .insert(MENU_GUID, None, bookmark("https://old.example/", "Old"))
        .unwrap();
    synced(&mut a);
    synced(&mut b);
    let title = sync_bookmarks::ItemUpdate {
        title: Some("New title".into()),
        ..Default::default()
    };
    a.bookmarks.update(&id, title).unwrap();
    let url = sync_bookmarks::ItemUpdate {
        url: Some("https://new.example/".into()),
        ..Default::default()
    };
    b.bookmarks.update(&id, url).unwrap();
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    for device in [&a, &b] {
        let item = device.bookmarks.get(&id).unwrap().unwrap();
        assert_eq!(item.title, "New title", "{}", device.name);
        assert_eq!(
            item.url.as_deref(),
            Some("https://new.example/"),
            "{}",
            device.name
        );
    }
    let record = account.cleartext("bookmarks", &id).unwrap();
    assert_eq!(record["title"], "New title");
    assert_eq!(record["bmkUri"], "https://new.example/");
}

#[test]
fn livemarks_unusable_and_non_syncable_records_are_removed_from_the_server() {
    let server = TestServer::start();
    let account = server.new_account("legacy@example.com");
    let mut a = Device::new("A", &account);
    synced(&mut a);
    let put = |v: serde_json::Value| account.put_cleartext("bookmarks", &v);
    put(
        serde_json::json!({"id": "livemark0001", "type": "livemark", "parentid": "menu", "title": "Feed",
                           "feedUri": "https://feed.example/rss"}),
    );
    put(serde_json::json!({"id": "nourl0000001", "type": "bookmark", "parentid": "menu", "title": "No URL"}));
    put(
        serde_json::json!({"id": "outside00001", "type": "bookmark", "parentid": "places", "title": "Outside",
                           "bmkUri": "https://outside.example/"}),
    );
    put(
        serde_json::json!({"id": "micro0000001", "type": "microsummary", "parentid": "menu", "title": "Micro",
                           "bmkUri": "https://micro.example/", "dateAdded": 1_500_000_000_000_i64}),
    );
    let mut menu = account.cleartext("bookmarks", "menu").unwrap();
    menu["children"] = serde_json::json!(["livemark0001", "nourl0000001", "micro0000001"]);
    account.put_cleartext("bookmarks", &menu);
    synced(&mut a);
    assert_eq!(tree(&a, MENU_GUID), "(Micro)");
    assert_eq!(tree(&a, sync_bookmarks::UNFILED_GUID), "()");
    for gone in ["livemark0001", "nourl0000001", "outside00001"] {
        let record = account.cleartext("bookmarks", gone).unwrap();
        assert_eq!(record["deleted"], true, "{gone}: {record}");
    }
    // The microsummary is now an ordinary bookmark, and the menu lists only it.
    assert_eq!(
        account.cleartext("bookmarks", "micro0000001").unwrap()["type"],
        "bookmark"
    );
    assert_eq!(
        account.cleartext("bookmarks", "menu").unwrap()["children"],
        serde_json::json!(["micro0000001"])
    );
}

#[test]
fn date_added_only_moves_back() {
    let server = TestServer::start();
    let account = server.new_account("date-added@example.com");
    let mut a = Device::new("A", &account);
    let id = a
        .bookmarks
        .insert(MENU_GUID, None, bookmark("https://d.example/", "D"))
        .unwrap();
    synced(&mut a);
    let local_date = a.bookmarks.get(&id).unwrap().unwrap().date_added;
    // Another client sends a later dateAdded with a new title.
    let mut record = account.cleartext("bookmarks", &id).unwrap();
    record["dateAdded"] = serde_json::json!(local_date + 86_400_000);
    record["title"] = serde_json::json!("D2");
    account.put_cleartext("bookmarks", &record);
    synced(&mut a);
    let item = a.bookmarks.get(&id).unwrap().unwrap();
    assert_eq!((item.title.as_str(), item.date_added), ("D2", local_date));
    assert_eq!(
        account.cleartext("bookmarks", &id).unwrap()["dateAdded"],
        local_date
    );
    // An earlier one is taken.
    let mut record = account.cleartext("bookmarks", &id).unwrap();
    record["dateAdded"] = serde_json::json!(local_date - 1000);
    account.put_cleartext("bookmarks", &record);
    synced(&mut a);
    assert_eq!(
        a.bookmarks.get(&id).unwrap().unwrap().date_added,
        local_date - 1000
    );
}

#[test]
fn a_second_sync_with_nothing_changed_sends_nothing() {
    let server = TestServer::start();
    let account = server.new_account("quiet-bookmarks@example.com");
    let mut a = Device::new("A", &account);
    a.bookmarks
        .insert(MENU_GUID, None, bookmark("https://q.example/", "Q"))
        .unwrap();
    synced(&mut a);
    let quiet = a.sync();
    assert_eq!(quiet.status, ServiceStatus::Ok);
    assert_eq!(
        quiet.engines["bookmarks"].uploaded, 0,
        "{:?}",
        quiet.engines["bookmarks"]
    );
    assert_eq!(quiet.requests, 1, "{:?}", quiet.engines);
}
