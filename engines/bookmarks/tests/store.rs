//! The app API of the bookmark store, on a real SQLite file.
#![allow(clippy::unwrap_used)]

use sync_bookmarks::{
    BookmarkKind, BookmarkStore, BookmarksError, ItemUpdate, MENU_GUID, NewItem, NewTree, ROOT_GUID,
    TOOLBAR_GUID, UNFILED_GUID,
};
use sync15::SyncEngine;

fn store() -> (tempfile::TempDir, BookmarkStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BookmarkStore::open(dir.path().join("bookmarks.db")).unwrap();
    (dir, store)
}

fn bookmark(url: &str, title: &str) -> NewItem {
    NewItem::Bookmark {
        url: url.into(),
        title: title.into(),
    }
}

fn titles(store: &BookmarkStore, folder: &str) -> Vec<String> {
    store
        .get_tree(folder)
        .unwrap()
        .unwrap()
        .children
        .into_iter()
        .map(|c| c.item.title)
        .collect()
}

#[test]
fn items_go_where_they_are_put_and_positions_stay_dense() {
    let (_dir, s) = store();
    let a = s
        .insert(MENU_GUID, None, bookmark("https://a.example/", "A"))
        .unwrap();
    s.insert(MENU_GUID, None, bookmark("https://c.example/", "C"))
        .unwrap();
    s.insert(MENU_GUID, Some(1), bookmark("https://b.example/", "B"))
        .unwrap();
    assert_eq!(titles(&s, MENU_GUID), ["A", "B", "C"]);
    s.move_item(&a, MENU_GUID, Some(2)).unwrap();
    assert_eq!(titles(&s, MENU_GUID), ["B", "C", "A"]);
    s.move_item(&a, TOOLBAR_GUID, None).unwrap();
    assert_eq!(titles(&s, MENU_GUID), ["B", "C"]);
    let positions: Vec<u32> = s
        .get_tree(MENU_GUID)
        .unwrap()
        .unwrap()
        .children
        .iter()
        .map(|c| c.item.position)
        .collect();
    assert_eq!(positions, [0, 1]);
    let moved = s.get(&a).unwrap().unwrap();
    assert_eq!(moved.parent.unwrap().as_str(), TOOLBAR_GUID);
    assert_eq!(moved.url.as_deref(), Some("https://a.example/"));
}

#[test]
fn a_deleted_folder_takes_its_subtree() {
    let (_dir, s) = store();
    let f = s
        .insert(MENU_GUID, None, NewItem::Folder { title: "F".into() })
        .unwrap();
    let g = s.insert(&f, None, NewItem::Folder { title: "G".into() }).unwrap();
    let x = s.insert(&g, None, bookmark("https://x.example/", "X")).unwrap();
    s.insert(MENU_GUID, None, NewItem::Separator).unwrap();
    s.delete(&f).unwrap();
    assert!(s.get(&x).unwrap().is_none());
    assert!(s.get(&g).unwrap().is_none());
    let left = s.get_tree(MENU_GUID).unwrap().unwrap().children;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].item.kind, left[0].item.position),
        (BookmarkKind::Separator, 0)
    );
}

#[test]
fn bad_changes_get_typed_errors_and_change_nothing() {
    let (_dir, s) = store();
    let f = s
        .insert(MENU_GUID, None, NewItem::Folder { title: "F".into() })
        .unwrap();
    let inner = s
        .insert(
            &f,
            None,
            NewItem::Folder {
                title: "Inner".into(),
            },
        )
        .unwrap();
    let b = s
        .insert(&inner, None, bookmark("https://b.example/", "B"))
        .unwrap();

    let err = s.move_item(&f, &inner, None).unwrap_err();
    assert!(matches!(err, BookmarksError::Cycle { .. }), "{err}");
    let err = s.move_item(&f, &f, None).unwrap_err();
    assert!(matches!(err, BookmarksError::Cycle { .. }), "{err}");
    assert!(matches!(
        s.move_item(MENU_GUID, TOOLBAR_GUID, None),
        Err(BookmarksError::Root(..))
    ));
    assert!(matches!(s.delete(TOOLBAR_GUID), Err(BookmarksError::Root(..))));
    assert!(matches!(
        s.insert(ROOT_GUID, None, NewItem::Separator),
        Err(BookmarksError::Root(..))
    ));
    assert!(matches!(
        s.insert(&b, None, NewItem::Separator),
        Err(BookmarksError::NotAFolder(_))
    ));
    assert!(matches!(
        s.insert(MENU_GUID, None, bookmark("not a url", "x")),
        Err(BookmarksError::InvalidUrl(_))
    ));
    assert!(matches!(
        s.insert(
            MENU_GUID,
            None,
            NewItem::Query {
                url: "https://not-a-query/".into(),
                title: "q".into()
            }
        ),
        Err(BookmarksError::InvalidUrl(_))
    ));
    assert!(matches!(
        s.insert(MENU_GUID, Some(9), NewItem::Separator),
        Err(BookmarksError::InvalidChange(_))
    ));
    assert!(matches!(
        s.delete("nosuchitem00"),
        Err(BookmarksError::NotFound(_))
    ));
    let url_on_folder = ItemUpdate {
        url: Some("https://x/".into()),
        ..ItemUpdate::default()
    };
    assert!(matches!(
        s.update(&f, url_on_folder),
        Err(BookmarksError::InvalidChange(_))
    ));
    let bad_url = ItemUpdate {
        title: Some("changed".into()),
        url: Some("::".into()),
        ..ItemUpdate::default()
    };
    assert!(matches!(
        s.update(&b, bad_url),
        Err(BookmarksError::InvalidUrl(_))
    ));
    // The failed update left the title alone (one transaction).
    assert_eq!(s.get(&b).unwrap().unwrap().title, "B");
    assert_eq!(titles(&s, MENU_GUID), ["F"]);
    assert_eq!(titles(&s, &f), ["Inner"]);
}

#[test]
fn tags_belong_to_urls_and_search_finds_titles_and_urls() {
    let (_dir, s) = store();
    let one = s
        .insert(MENU_GUID, None, bookmark("https://rust-lang.org/", "Rust"))
        .unwrap();
    let two = s
        .insert(
            UNFILED_GUID,
            None,
            bookmark("https://rust-lang.org/", "Rust again"),
        )
        .unwrap();
    s.insert(
        MENU_GUID,
        None,
        bookmark("https://example.com/100%_done", "Percent"),
    )
    .unwrap();
    s.update(
        &one,
        ItemUpdate {
            tags: Some(vec![" lang ".into(), "dev".into(), "dev".into()]),
            keyword: Some(Some("rs".into())),
            ..ItemUpdate::default()
        },
    )
    .unwrap();
    assert_eq!(s.get(&two).unwrap().unwrap().tags, ["dev", "lang"]);
    assert_eq!(s.get(&one).unwrap().unwrap().keyword.as_deref(), Some("rs"));
    assert_eq!(s.by_tag("lang").unwrap().len(), 2);
    assert!(s.by_tag("nothing").unwrap().is_empty());
    assert_eq!(s.search("RUST", 10).unwrap().len(), 2);
    assert_eq!(s.search("100%_", 10).unwrap().len(), 1);
    assert_eq!(s.search("%", 10).unwrap().len(), 1, "% is matched literally");
    assert_eq!(s.search("rust", 1).unwrap().len(), 1);
    let err = s
        .update(
            &one,
            ItemUpdate {
                tags: Some(vec!["  ".into()]),
                ..ItemUpdate::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, BookmarksError::InvalidChange(_)));
}

#[test]
fn wiping_leaves_only_the_roots() {
    let (_dir, s) = store();
    let f = s
        .insert(MENU_GUID, None, NewItem::Folder { title: "F".into() })
        .unwrap();
    s.insert(&f, None, bookmark("https://x.example/", "X")).unwrap();
    s.wipe().unwrap();
    assert!(titles(&s, MENU_GUID).is_empty());
    assert!(s.get(MENU_GUID).unwrap().is_some());
}

#[test]
fn a_tree_goes_in_whole_with_its_values_or_not_at_all() {
    let (_dir, s) = store();
    s.insert(MENU_GUID, None, bookmark("https://first.example/", "First"))
        .unwrap();
    let mut tagged = NewTree::new(bookmark("https://b.example/", "B"));
    tagged.keyword = Some("bk".into());
    tagged.tags = vec!["work".into(), " news ".into()];
    tagged.date_added = Some(1_600_000_000_000);
    let mut folder = NewTree::new(NewItem::Folder { title: "F".into() });
    folder.children = vec![tagged, NewTree::new(NewItem::Separator)];
    let guids = s
        .insert_tree(
            MENU_GUID,
            Some(0),
            vec![folder, NewTree::new(bookmark("https://c.example/", "C"))],
        )
        .unwrap();
    assert_eq!(guids.len(), 2);
    assert_eq!(titles(&s, MENU_GUID), ["F", "C", "First"]);
    let tree = s.get_tree(&guids[0]).unwrap().unwrap();
    let b = &tree.children[0].item;
    assert_eq!(b.keyword.as_deref(), Some("bk"));
    assert_eq!(b.tags, ["news", "work"]);
    assert_eq!(b.date_added, 1_600_000_000_000);
    assert_eq!(tree.children[1].item.kind, BookmarkKind::Separator);

    // One bad URL deep inside refuses everything, and nothing moves.
    let mut bad_folder = NewTree::new(NewItem::Folder { title: "G".into() });
    bad_folder.children = vec![
        NewTree::new(bookmark("https://ok.example/", "ok")),
        NewTree::new(bookmark("not a url", "bad")),
    ];
    let err = s.insert_tree(MENU_GUID, None, vec![bad_folder]).unwrap_err();
    assert!(matches!(err, BookmarksError::InvalidUrl(_)), "{err}");
    let mut keyword_on_folder = NewTree::new(NewItem::Folder { title: "H".into() });
    keyword_on_folder.keyword = Some("k".into());
    let err = s
        .insert_tree(MENU_GUID, None, vec![keyword_on_folder])
        .unwrap_err();
    assert!(matches!(err, BookmarksError::InvalidChange(_)), "{err}");
    assert_eq!(titles(&s, MENU_GUID), ["F", "C", "First"]);
    assert!(s.search("ok.example", 10).unwrap().is_empty());
}

#[test]
fn trees_for_several_folders_go_in_together_or_not_at_all() {
    let (_dir, s) = store();
    let err = s
        .insert_trees(vec![
            (
                MENU_GUID.into(),
                None,
                vec![NewTree::new(bookmark("https://m.example/", "M"))],
            ),
            (
                TOOLBAR_GUID.into(),
                None,
                vec![NewTree::new(bookmark("::", "bad"))],
            ),
        ])
        .unwrap_err();
    assert!(matches!(err, BookmarksError::InvalidUrl(_)), "{err}");
    assert!(titles(&s, MENU_GUID).is_empty());
    let ids = s
        .insert_trees(vec![
            (
                MENU_GUID.into(),
                None,
                vec![NewTree::new(bookmark("https://m.example/", "M"))],
            ),
            (
                TOOLBAR_GUID.into(),
                None,
                vec![NewTree::new(bookmark("https://t.example/", "T"))],
            ),
        ])
        .unwrap();
    assert_eq!(ids.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(titles(&s, MENU_GUID), ["M"]);
    assert_eq!(titles(&s, TOOLBAR_GUID), ["T"]);
}
