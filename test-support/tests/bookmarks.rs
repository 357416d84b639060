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
    synced(&mut b);
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
