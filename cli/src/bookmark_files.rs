//! Bookmark files to and from the store's trees. Reading checks every
//! entry (its URL above all) before anything is stored, so an import names
//! the first bad line and stores nothing; the store's `insert_trees` then
//! takes the whole file in one transaction.

use std::path::Path;

use anyhow::Result;
use sync_bookmarks::{
    BookmarkKind, BookmarkNode, MENU_GUID, MOBILE_GUID, NewItem, NewTree, ROOT_GUID, TOOLBAR_GUID,
    UNFILED_GUID, validate_url,
};

use crate::bad_file;
use crate::netscape::{self, Entry, Root};
use crate::places_json::{self, PlacesNode, TYPE_CONTAINER, TYPE_PLACE, TYPE_SEPARATOR};

/// The user roots: the name `--folder` takes, the GUID, the title people see.
pub const ROOTS: [(&str, &str, &str); 4] = [
    ("menu", MENU_GUID, "Bookmarks Menu"),
    ("toolbar", TOOLBAR_GUID, "Bookmarks Toolbar"),
    ("unfiled", UNFILED_GUID, "Other Bookmarks"),
    ("mobile", MOBILE_GUID, "Mobile Bookmarks"),
];

/// What to insert into each root.
pub type Batches = Vec<(&'static str, Vec<NewTree>)>;

fn empty_batches() -> Batches {
    vec![
        (MENU_GUID, Vec::new()),
        (TOOLBAR_GUID, Vec::new()),
        (UNFILED_GUID, Vec::new()),
        (MOBILE_GUID, Vec::new()),
    ]
}

fn batch<'a>(batches: &'a mut Batches, root: &str) -> &'a mut Vec<NewTree> {
    let at = batches.iter().position(|(guid, _)| *guid == root).unwrap_or(0);
    &mut batches[at].1
}

/// A bookmark or query for `url`, checked.
fn link(url: &str, title: String) -> Result<NewItem, sync_bookmarks::BookmarksError> {
    if url.trim_start().starts_with("place:") {
        let url = validate_url(BookmarkKind::Query, url)?;
        Ok(NewItem::Query { url, title })
    } else {
        let url = validate_url(BookmarkKind::Bookmark, url)?;
        Ok(NewItem::Bookmark { url, title })
    }
}

/// The entries of a Netscape bookmark file, by root: the top list's
/// entries go to the menu, a folder marked as the toolbar (Firefox's and
/// Chrome's "Bookmarks bar"), "Other Bookmarks" or "Mobile Bookmarks" to
/// that root.
pub fn from_html(path: &Path, text: &str) -> Result<Batches> {
    let entries = netscape::parse(text).map_err(|e| bad_file(path, format!("line {}", e.line), e.message))?;
    let mut batches = empty_batches();
    for entry in entries {
        match entry {
            Entry::Folder {
                root: Some(root),
                children,
                ..
            } => {
                let guid = match root {
                    Root::Toolbar => TOOLBAR_GUID,
                    Root::Unfiled => UNFILED_GUID,
                    Root::Mobile => MOBILE_GUID,
                };
                for child in children {
                    let tree = tree_from_entry(path, child)?;
                    batch(&mut batches, guid).push(tree);
                }
            }
            other => {
                let tree = tree_from_entry(path, other)?;
                batch(&mut batches, MENU_GUID).push(tree);
            }
        }
    }
    Ok(batches)
}

fn tree_from_entry(path: &Path, entry: Entry) -> Result<NewTree> {
    let ms = |seconds: Option<i64>| seconds.map(|s| s.saturating_mul(1000));
    Ok(match entry {
        Entry::Folder {
            title,
            add_date,
            children,
            ..
        } => {
            let mut tree = NewTree::new(NewItem::Folder { title });
            tree.date_added = ms(add_date);
            tree.children = children
                .into_iter()
                .map(|c| tree_from_entry(path, c))
                .collect::<Result<_>>()?;
            tree
        }
        Entry::Bookmark {
            url,
            title,
            keyword,
            tags,
            add_date,
            line,
            ..
        } => {
            let item = link(&url, title).map_err(|e| bad_file(path, format!("line {line}"), e))?;
            let is_bookmark = matches!(item, NewItem::Bookmark { .. });
            let mut tree = NewTree::new(item);
            tree.date_added = ms(add_date);
            if is_bookmark {
                tree.keyword = keyword;
                tree.tags = tags;
            }
            tree
        }
        Entry::Separator => NewTree::new(NewItem::Separator),
    })
}

/// The entries of a Firefox JSON backup, by root. Tag folders of old
/// backups are skipped (the tags are on the bookmarks too); a top-level
/// folder that is not a root goes into "Other Bookmarks".
pub fn from_places_json(path: &Path, text: &str) -> Result<Batches> {
    let top: PlacesNode =
        serde_json::from_str(text).map_err(|e| bad_file(path, format!("line {}", e.line()), e))?;
    let is_places_root = top.root.as_deref() == Some("placesRoot") || top.guid.as_deref() == Some(ROOT_GUID);
    if !is_places_root {
        return Err(bad_file(
            path,
            "line 1",
            "not a Firefox bookmark backup: the top is not the Places root",
        ));
    }
    let mut batches = empty_batches();
    for child in top.children.unwrap_or_default() {
        let root = child
            .root
            .as_deref()
            .and_then(places_json::root_guid)
            .or_else(|| {
                ROOTS
                    .iter()
                    .map(|(_, g, _)| *g)
                    .find(|g| child.guid.as_deref() == Some(g))
            });
        match root {
            Some(guid) => {
                let title = child.title.clone().unwrap_or_default();
                for grandchild in child.children.unwrap_or_default() {
                    let tree = tree_from_places(path, grandchild, &title)?;
                    batch(&mut batches, guid).push(tree);
                }
            }
            None if child.root.as_deref() == Some("tagsFolder") => {}
            None => {
                let tree = tree_from_places(path, child, "")?;
                batch(&mut batches, UNFILED_GUID).push(tree);
            }
        }
    }
    Ok(batches)
}

fn tree_from_places(path: &Path, node: PlacesNode, parent: &str) -> Result<NewTree> {
    let title = node.title.clone().unwrap_or_default();
    let place = format!("{parent}/{title}");
    let bad = |why: String| bad_file(path, format!("the item {place:?}"), why);
    let ms = |us: Option<i64>| us.map(|u| u / 1000);
    Ok(match node.type_code() {
        Some(1) => {
            let Some(uri) = node.uri.as_deref() else {
                return Err(bad("a bookmark without a uri".into()));
            };
            let item = link(uri, title).map_err(|e| bad(e.to_string()))?;
            let is_bookmark = matches!(item, NewItem::Bookmark { .. });
            let mut tree = NewTree::new(item);
            tree.date_added = ms(node.date_added);
            if is_bookmark {
                tree.keyword = node.keyword.clone();
                tree.tags = node.tag_list();
            }
            tree
        }
        Some(2) => {
            let mut tree = NewTree::new(NewItem::Folder { title });
            tree.date_added = ms(node.date_added);
            tree.children = node
                .children
                .unwrap_or_default()
                .into_iter()
                .map(|c| tree_from_places(path, c, &place))
                .collect::<Result<_>>()?;
            tree
        }
        Some(3) => NewTree::new(NewItem::Separator),
        _ => return Err(bad(format!("unknown type {:?}", node.kind))),
    })
}

/// The four roots as a Firefox JSON backup.
pub fn to_places_json(roots: &[BookmarkNode]) -> PlacesNode {
    let children: Vec<PlacesNode> = roots
        .iter()
        .zip(ROOTS)
        .enumerate()
        .map(|(index, (root, (name, _, _)))| {
            let mut node = node_of(root, index);
            node.title = Some(name.to_owned());
            node
        })
        .collect();
    let date_added = children.iter().filter_map(|c| c.date_added).min();
    let last_modified = children.iter().filter_map(|c| c.last_modified).max();
    PlacesNode {
        guid: Some(ROOT_GUID.into()),
        title: Some(String::new()),
        index: 0,
        date_added,
        last_modified,
        type_code: Some(2),
        kind: TYPE_CONTAINER.into(),
        root: Some("placesRoot".into()),
        children: Some(children),
        ..PlacesNode::default()
    }
}

fn node_of(node: &BookmarkNode, index: usize) -> PlacesNode {
    let item = &node.item;
    let (type_code, kind) = match item.kind {
        BookmarkKind::Bookmark | BookmarkKind::Query => (1, TYPE_PLACE),
        BookmarkKind::Folder => (2, TYPE_CONTAINER),
        BookmarkKind::Separator => (3, TYPE_SEPARATOR),
    };
    let is_folder = item.kind == BookmarkKind::Folder;
    PlacesNode {
        guid: Some(item.guid.to_string()),
        title: Some(item.title.clone()),
        index: u32::try_from(index).unwrap_or(u32::MAX),
        date_added: Some(item.date_added.saturating_mul(1000)),
        last_modified: Some(item.last_modified.saturating_mul(1000)),
        type_code: Some(type_code),
        kind: kind.into(),
        root: places_json::root_name(item.guid.as_str()).map(str::to_owned),
        uri: item.url.clone(),
        keyword: item.keyword.clone(),
        tags: (!item.tags.is_empty()).then(|| item.tags.join(",")),
        children: is_folder.then(|| {
            node.children
                .iter()
                .enumerate()
                .map(|(i, c)| node_of(c, i))
                .collect()
        }),
    }
}
