//! Building trees, consistent and not.
#![allow(clippy::unwrap_used)]

use sync15::Guid;

use crate::tree::*;

fn bookmark(guid: &str, age: i64) -> Item {
    Item {
        age,
        ..Item::new(guid, Kind::Bookmark)
    }
}

fn folder(guid: &str, age: i64) -> Item {
    Item {
        age,
        ..Item::new(guid, Kind::Folder)
    }
}

fn ids(list: &[&str]) -> Vec<Guid> {
    list.iter().map(|s| Guid::new(s)).collect()
}

/// The tree as `parent: child child …` lines, folders in depth-first order.
fn shape(tree: &Tree) -> String {
    let mut out = Vec::new();
    fn walk(node: Node<'_>, out: &mut Vec<String>) {
        if node.item().kind.is_folder() && node.children().len() > 0 {
            let kids: Vec<&str> = node.children().map(|c| c.guid().as_str()).collect();
            out.push(format!("{}: {}", node.guid(), kids.join(" ")));
        }
        for child in node.children() {
            walk(child, out);
        }
    }
    walk(tree.root(), &mut out);
    out.join("\n")
}

fn diverged(tree: &Tree) -> Vec<String> {
    let mut d: Vec<String> = tree
        .nodes()
        .filter(|n| n.diverged())
        .map(|n| n.guid().to_string())
        .collect();
    d.sort();
    d
}

#[test]
fn a_consistent_tree_is_taken_as_it_is() {
    let mut b = TreeBuilder::new();
    b.item(folder(MENU_GUID, 0))
        .item(folder("folderAAAAAA", 0))
        .item(bookmark("bookmarkBBBB", 0))
        .item(bookmark("bookmarkCCCC", 0));
    b.children(ROOT_GUID, ids(&[MENU_GUID]))
        .children(MENU_GUID, ids(&["folderAAAAAA", "bookmarkCCCC"]))
        .children("folderAAAAAA", ids(&["bookmarkBBBB"]));
    b.parent_id(MENU_GUID, ROOT_GUID.into())
        .parent_id("folderAAAAAA", MENU_GUID.into())
        .parent_id("bookmarkCCCC", MENU_GUID.into())
        .parent_id("bookmarkBBBB", "folderAAAAAA".into());
    let tree = b.into_tree();
    assert!(tree.problems().is_empty(), "{:?}", tree.problems());
    assert_eq!(
        shape(&tree),
        "root________: menu________ toolbar_____ unfiled_____ mobile______\n\
         menu________: folderAAAAAA bookmarkCCCC\n\
         folderAAAAAA: bookmarkBBBB"
    );
    assert!(diverged(&tree).is_empty());
    let b = tree.node_for("bookmarkBBBB").unwrap();
    assert_eq!(b.parent().unwrap().guid(), "folderAAAAAA");
    assert!(b.is_syncable());
    assert_eq!(tree.node_for("bookmarkCCCC").unwrap().position(), 1);
}

#[test]
fn disagreements_are_resolved_by_the_documented_rules() {
    let mut b = TreeBuilder::new();
    b.item(folder(MENU_GUID, 6))
        .item(folder(TOOLBAR_GUID, 0))
        .item(folder(UNFILED_GUID, 6))
        .item(bookmark("bookmarkAAAA", 6))
        .item(bookmark("bookmarkDDDD", 6))
        .item(bookmark("bookmarkEEEE", 0));
    // A is listed by the menu and the (newer) toolbar, and names a folder C
    // that does not exist; B is listed but missing; D names the menu, which
    // does not list it; E is consistent.
    b.children(MENU_GUID, ids(&["bookmarkAAAA"]))
        .children(TOOLBAR_GUID, ids(&["bookmarkBBBB", "bookmarkAAAA"]))
        .children(UNFILED_GUID, ids(&["bookmarkEEEE"]))
        .parent_id("bookmarkAAAA", "folderCCCCCC".into())
        .parent_id("bookmarkDDDD", MENU_GUID.into())
        .parent_id("bookmarkEEEE", UNFILED_GUID.into());
    let tree = b.into_tree();
    assert_eq!(
        shape(&tree),
        "root________: menu________ toolbar_____ unfiled_____ mobile______\n\
         menu________: bookmarkDDDD\n\
         toolbar_____: bookmarkAAAA\n\
         unfiled_____: bookmarkEEEE"
    );
    assert_eq!(
        tree.problems(),
        Problems {
            multiple_parents: 1,
            missing_children: 1,
            parent_child_disagreements: 2,
            ..Problems::default()
        }
    );
    assert_eq!(diverged(&tree), ["bookmarkAAAA", "menu________", "toolbar_____"]);
}

#[test]
fn orphans_go_to_unfiled_after_its_listed_children() {
    let mut b = TreeBuilder::new();
    b.item(folder(UNFILED_GUID, 0))
        .item(bookmark("bookmarkAAAA", 0))
        .item(bookmark("orphanZZZZZZ", 0))
        .item(bookmark("orphanYYYYYY", 0))
        .item(bookmark("underBkmkXXX", 0));
    b.children(UNFILED_GUID, ids(&["bookmarkAAAA"]))
        .parent_id("orphanZZZZZZ", "nowhereFLDR".into())
        .parent_id("underBkmkXXX", "bookmarkAAAA".into());
    // orphanYYYYYY has no parentid at all.
    let tree = b.into_tree();
    assert_eq!(
        shape(&tree).lines().nth(1).unwrap(),
        "unfiled_____: bookmarkAAAA orphanYYYYYY orphanZZZZZZ underBkmkXXX"
    );
    assert_eq!(tree.problems().orphans, 3);
    assert!(tree.node_for("orphanZZZZZZ").unwrap().diverged());
    assert!(tree.node_for(UNFILED_GUID).unwrap().diverged());
}

#[test]
fn cycles_are_broken_and_roots_stay_put() {
    let mut b = TreeBuilder::new();
    b.item(folder("folderAAAAAA", 0))
        .item(folder("folderBBBBBB", 0))
        .item(bookmark("bookmarkCCCC", 0))
        .item(folder(TOOLBAR_GUID, 0));
    // A and B list each other; the toolbar claims to live in A.
    b.children("folderAAAAAA", ids(&["folderBBBBBB", TOOLBAR_GUID]))
        .children("folderBBBBBB", ids(&["folderAAAAAA", "bookmarkCCCC"]))
        .parent_id("folderAAAAAA", "folderBBBBBB".into())
        .parent_id("folderBBBBBB", "folderAAAAAA".into())
        .parent_id(TOOLBAR_GUID, "folderAAAAAA".into());
    let tree = b.into_tree();
    assert_eq!(tree.problems().cycles, 1);
    assert_eq!(tree.problems().misparented_roots, 1);
    assert_eq!(
        tree.node_for(TOOLBAR_GUID).unwrap().parent().unwrap().guid(),
        ROOT_GUID
    );
    // Every item reachable from the root exactly once.
    let mut seen = std::collections::HashSet::new();
    fn walk(node: Node<'_>, seen: &mut std::collections::HashSet<String>) {
        assert!(seen.insert(node.guid().to_string()), "{} twice", node.guid());
        for child in node.children() {
            walk(child, seen);
        }
    }
    walk(tree.root(), &mut seen);
    assert_eq!(seen.len(), tree.len());
    let a = tree.node_for("folderAAAAAA").unwrap();
    let b_node = tree.node_for("folderBBBBBB").unwrap();
    assert!(a.is_syncable() && b_node.is_syncable());
    assert!(
        a.parent().unwrap().guid() == UNFILED_GUID || b_node.parent().unwrap().guid() == UNFILED_GUID,
        "{tree}"
    );
}

#[test]
fn non_folders_hold_no_children_and_duplicates_keep_the_newer_item() {
    let mut b = TreeBuilder::new();
    b.item(bookmark("bookmarkAAAA", 50))
        .item(bookmark("bookmarkBBBB", 0))
        .item(Item {
            age: 10,
            ..Item::new("bookmarkAAAA", Kind::Query)
        })
        .item(bookmark("bookmarkAAAA", 90));
    b.children("bookmarkAAAA", ids(&["bookmarkBBBB"]))
        .parent_id("bookmarkAAAA", MENU_GUID.into())
        .parent_id("bookmarkBBBB", "bookmarkAAAA".into());
    let tree = b.into_tree();
    let a = tree.node_for("bookmarkAAAA").unwrap();
    assert_eq!(a.item().kind, Kind::Query);
    assert_eq!(a.item().age, 10);
    assert_eq!(a.children().len(), 0);
    assert_eq!(
        tree.node_for("bookmarkBBBB").unwrap().parent().unwrap().guid(),
        UNFILED_GUID
    );
    let p = tree.problems();
    assert_eq!((p.duplicate_items, p.non_folder_parents, p.orphans), (2, 1, 1));
}

#[test]
fn items_outside_the_user_roots_are_not_syncable() {
    let mut b = TreeBuilder::new();
    b.item(folder(TAGS_GUID, 0)).item(bookmark("taggedAAAAAA", 0));
    b.children(ROOT_GUID, ids(&[TAGS_GUID]))
        .children(TAGS_GUID, ids(&["taggedAAAAAA"]))
        .parent_id(TAGS_GUID, ROOT_GUID.into())
        .parent_id("taggedAAAAAA", TAGS_GUID.into());
    let tree = b.into_tree();
    assert!(tree.problems().is_empty());
    assert!(!tree.node_for("taggedAAAAAA").unwrap().is_syncable());
    assert!(!tree.node_for(TAGS_GUID).unwrap().is_syncable());
    assert!(tree.node_for(MOBILE_GUID).unwrap().is_syncable());
}
