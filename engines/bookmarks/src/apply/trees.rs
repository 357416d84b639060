//! The two trees a merge starts from.
//!
//! The remote side reads only `mirror` and `incoming`, which nothing but
//! the sync writes, so it can be read on a connection of its own before the
//! merge takes the writer: its JSON parsing (most of the cost of a large
//! first sync's trees) never holds up the app.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{Map, Value};
use sync15::Guid;

use crate::BookmarksError;
use crate::record::{RecordKind, RemoteRecord};
use crate::tree::{Content, Item, Kind, ROOT_GUID, Tree, TreeBuilder, Validity};
use crate::types::BookmarkKind;

/// The server's side of a merge: the mirror overlaid with this sync's
/// downloads.
pub(crate) struct RemoteSide {
    pub(crate) tree: Tree,
    /// The downloaded records, by local id.
    pub(crate) incoming: HashMap<String, RemoteRecord>,
    /// Downloaded records that could not be used.
    pub(crate) unusable: usize,
}

/// Builds the local tree; content (for deduping) on never-synced items.
pub(crate) fn local_tree(conn: &Connection, now: i64) -> Result<Tree, BookmarksError> {
    let mut stmt = conn.prepare(
        "SELECT i.guid, i.kind, p.guid, i.title, i.url, i.change_counter, i.last_modified, i.sync_status
         FROM items i LEFT JOIN items p ON p.id = i.parent_id
         ORDER BY i.parent_id, i.position",
    )?;
    let mut rows = stmt.query([])?;
    let mut builder = TreeBuilder::new();
    let mut children: Vec<(String, Vec<Guid>)> = Vec::new();
    while let Some(r) = rows.next()? {
        let guid: String = r.get(0)?;
        let Some(parent) = r.get::<_, Option<String>>(2)? else {
            continue;
        };
        let kind = BookmarkKind::from_i64(r.get(1)?).unwrap_or(BookmarkKind::Bookmark);
        let is_new = r.get::<_, i64>(7)? == 0;
        let content = if is_new {
            let title: String = r.get(3)?;
            let url: Option<String> = r.get(4)?;
            Some(Box::new(Content::of(
                kind.tree_kind(),
                &title,
                url.as_deref().unwrap_or_default(),
            )))
        } else {
            None
        };
        let at = builder.add(Item {
            age: (now - r.get::<_, i64>(6)?).max(0),
            needs_merge: r.get::<_, i64>(5)? > 0,
            content,
            ..Item::new(guid.as_str(), kind.tree_kind())
        });
        builder.parent_id_of(at, Guid::new(&parent));
        match children.last_mut() {
            Some((p, list)) if *p == parent => list.push(Guid::new(&guid)),
            _ => children.push((parent, vec![Guid::new(&guid)])),
        }
    }
    for (folder, list) in children {
        builder.children(&folder, list);
    }
    let mut stmt = conn.prepare("SELECT guid FROM tombstones")?;
    for guid in stmt.query_map([], |r| r.get::<_, String>(0))? {
        builder.deletion(Guid::new(&guid?));
    }
    Ok(builder.into_tree())
}

/// Reads the remote side in one statement (one snapshot).
pub(crate) fn remote_side(conn: &Connection, now: i64) -> Result<RemoteSide, BookmarksError> {
    let mut stmt = conn.prepare(
        "SELECT guid, server_modified, is_deleted, payload, 1 FROM incoming
         UNION ALL
         SELECT guid, server_modified, is_deleted, payload, 0 FROM mirror
         WHERE guid NOT IN (SELECT guid FROM incoming)",
    )?;
    let mut rows = stmt.query([])?;
    let mut builder = TreeBuilder::new();
    let mut incoming = HashMap::new();
    let mut unusable = 0;
    while let Some(r) = rows.next()? {
        let guid: String = r.get(0)?;
        let needs_merge = r.get::<_, i64>(4)? != 0;
        if r.get::<_, i64>(2)? != 0 {
            builder.deletion(Guid::new(&guid));
            continue;
        }
        let payload: String = r.get::<_, Option<String>>(3)?.unwrap_or_default();
        let map: Map<String, Value> = match serde_json::from_str(&payload) {
            Ok(map) => map,
            Err(e) => {
                log::warn!("bookmarks: unreadable record {guid}: {e}");
                unusable += 1;
                continue;
            }
        };
        if guid == ROOT_GUID {
            continue;
        }
        let server_modified: i64 = r.get(1)?;
        let record = RemoteRecord {
            server_modified,
            ..RemoteRecord::from_map(&map)
        };
        let kind = match record.kind {
            RecordKind::Known(kind) => kind.tree_kind(),
            RecordKind::Livemark => Kind::Livemark,
            RecordKind::Unusable => Kind::Bookmark,
        };
        let usable = record.is_usable();
        if !usable {
            unusable += usize::from(needs_merge);
        }
        let content = (needs_merge && usable).then(|| {
            let v = &record.values;
            Box::new(Content::of(kind, &v.title, v.url.as_deref().unwrap_or_default()))
        });
        let at = builder.add(Item {
            age: (now - server_modified).max(0),
            needs_merge,
            validity: if !usable {
                Validity::Replace
            } else if record.values.date_added.is_none() || record.legacy {
                Validity::Reupload
            } else {
                Validity::Valid
            },
            content,
            ..Item::new(guid.as_str(), kind)
        });
        if let Some(parent) = &record.parent_id {
            builder.parent_id_of(at, Guid::new(parent));
        }
        if let Some(children) = &record.children {
            builder.children_of(at, children.iter().map(|c| Guid::new(c)).collect());
        }
        if needs_merge {
            incoming.insert(guid, record);
        }
    }
    Ok(RemoteSide {
        tree: builder.into_tree(),
        incoming,
        unusable,
    })
}
