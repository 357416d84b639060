//! The bookmarks engine through the real manager and server.
#![allow(clippy::unwrap_used)]

use serde_json::json;
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
    assert_eq!(tree(&b, MENU_GUID), "menu(Work(A ))");
    assert_eq!(tree(&b, TOOLBAR_GUID), "toolbar(T)");

    // And back: B reorders and edits; A follows.
    let work = b.bookmarks.get(&folder).unwrap().unwrap();
    assert_eq!(work.title, "Work");
    b.bookmarks.move_item(&folder, TOOLBAR_GUID, Some(0)).unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(tree(&a, TOOLBAR_GUID), "toolbar(Work(A ) T)");
    assert_eq!(tree(&a, MENU_GUID), "menu()");
    // Nothing left to do on either side.
    synced(&mut a);
    synced(&mut b);
    assert_eq!(tree(&b, TOOLBAR_GUID), "toolbar(Work(A ) T)");
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
    assert_eq!(tree(&a, MENU_GUID), "menu(Micro)");
    assert_eq!(tree(&a, sync_bookmarks::UNFILED_GUID), "unfiled()");
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

#[test]
fn a_large_first_sync_arrives_whole_and_leaves_nothing_staged() {
    // More records than one mirror fold-in chunk, so the catch-up after the
    // merge runs in several transactions.
    const FOLDERS: usize = 3;
    const PER_FOLDER: usize = 1_500;
    let server = TestServer::start();
    let account = server.new_account("large-bookmarks@example.com");
    let mut first = Device::new("first", &account);
    synced(&mut first);
    let mut records = Vec::new();
    let mut folders = Vec::new();
    for f in 0..FOLDERS {
        let folder = format!("folder{f:06}");
        let children: Vec<String> = (0..PER_FOLDER).map(|b| format!("bmk{f}{b:08}")).collect();
        for (b, id) in children.iter().enumerate() {
            records.push(json!({
                "id": id, "type": "bookmark", "parentid": folder, "parentName": format!("F{f}"),
                "title": format!("B{f}.{b}"), "bmkUri": format!("https://large.example/{f}/{b}"),
                "dateAdded": 1_600_000_000_000_i64,
            }));
        }
        records.push(json!({
            "id": folder, "type": "folder", "parentid": "menu", "parentName": "menu",
            "title": format!("F{f}"), "children": children, "dateAdded": 1_600_000_000_000_i64,
        }));
        folders.push(folder);
    }
    records.push(json!({
        "id": "menu", "type": "folder", "parentid": "places", "title": "menu",
        "children": folders, "dateAdded": 1_600_000_000_000_i64,
    }));
    account.upload_cleartexts("bookmarks", &records);

    let mut device = Device::new("new", &account);
    synced(&mut device);
    let menu = device.bookmarks.get_tree(MENU_GUID).unwrap().unwrap();
    assert_eq!(menu.children.len(), FOLDERS);
    for (f, folder) in menu.children.iter().enumerate() {
        assert_eq!(folder.item.title, format!("F{f}"));
        let titles: Vec<&str> = folder.children.iter().map(|c| c.item.title.as_str()).collect();
        let expected: Vec<String> = (0..PER_FOLDER).map(|b| format!("B{f}.{b}")).collect();
        assert_eq!(titles, expected, "folder {f} in the server's order");
        let positions: Vec<u32> = folder.children.iter().map(|c| c.item.position).collect();
        assert_eq!(positions, (0..PER_FOLDER as u32).collect::<Vec<_>>());
    }

    let db = rusqlite::Connection::open(device.profile_dir().join("bookmarks.db")).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM incoming"),
        0,
        "every merged record left incoming"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM mirror WHERE guid LIKE 'bmk%'"),
        (FOLDERS * PER_FOLDER) as i64
    );
    let again = device.sync();
    assert_eq!(again.status, ServiceStatus::Ok);
    assert_eq!(
        again.engines["bookmarks"].uploaded, 0,
        "{:?}",
        again.engines["bookmarks"]
    );
}
