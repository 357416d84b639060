//! One merge against the store: the local tree from `items`, the remote tree
//! from `mirror` overlaid with `incoming`, [`merge`], and the merge's
//! operations applied in the caller's transaction.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use sync15::{ApplyStats, Guid};

use crate::error::BookmarksError;
use crate::merge::fields::merge_fields;
use crate::merge::{MergeStats, Merged, ValueState, merge};
use crate::record::{RecordKind, RemoteRecord, Values};
use crate::store::{drop_unused_tags, placement, set_url_tags};
use crate::tree::{
    Content, Item, Kind, ROOT_GUID, Tree, TreeBuilder, UNFILED_GUID, USER_CONTENT_ROOTS, Validity,
};
use crate::types::BookmarkKind;

/// What one merge did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outcome {
    pub(crate) merge: MergeStats,
    pub(crate) apply: ApplyStats,
}

/// Builds the local tree; content (for deduping) on never-synced items.
fn local_tree(conn: &Connection, now: i64) -> Result<Tree, BookmarksError> {
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

/// Builds the remote tree; returns it with the incoming records by id.
fn remote_tree(
    conn: &Connection,
    now: i64,
) -> Result<(Tree, HashMap<String, RemoteRecord>, usize), BookmarksError> {
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
        let record = RemoteRecord::from_map(&map);
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
            age: (now - r.get::<_, i64>(1)?).max(0),
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
    Ok((builder.into_tree(), incoming, unusable))
}

/// The local values of an item.
pub(crate) fn local_values(conn: &Connection, guid: &str) -> Result<Option<(i64, Values)>, BookmarksError> {
    let row = conn
        .prepare_cached(
            "SELECT id, title, url, keyword, date_added, unknown_fields FROM items WHERE guid = ?",
        )?
        .query_row([guid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?;
    let Some((id, title, url, keyword, date_added, unknown)) = row else {
        return Ok(None);
    };
    let tags = match &url {
        Some(url) => crate::store::url_tags(conn, url)?,
        None => Vec::new(),
    };
    let unknown = match unknown {
        Some(json) => serde_json::from_str(&json)?,
        None => Map::new(),
    };
    Ok(Some((
        id,
        Values {
            title,
            url,
            keyword,
            tags,
            date_added: Some(date_added),
            unknown,
        },
    )))
}

fn mirror_values(conn: &Connection, guid: &str) -> Result<Option<Map<String, Value>>, BookmarksError> {
    let payload: Option<Option<String>> = conn
        .prepare_cached("SELECT payload FROM mirror WHERE guid = ? AND NOT is_deleted")?
        .query_row([guid], |r| r.get(0))
        .optional()?;
    Ok(match payload.flatten() {
        Some(json) => Some(Values::from_map(&serde_json::from_str(&json)?).to_map()),
        None => None,
    })
}

fn bookmark_kind(kind: Kind) -> BookmarkKind {
    match kind {
        Kind::Folder => BookmarkKind::Folder,
        Kind::Separator => BookmarkKind::Separator,
        Kind::Query => BookmarkKind::Query,
        Kind::Bookmark | Kind::Livemark => BookmarkKind::Bookmark,
    }
}

/// Merges and applies; leaves every item to upload with a change counter
/// above 0 and every other item at 0, and the tombstones to upload in
/// `tombstones`.
pub(crate) fn merge_and_apply(tx: &Connection, now: i64) -> Result<Outcome, BookmarksError> {
    let local = local_tree(tx, now)?;
    let (remote, incoming, unusable) = remote_tree(tx, now)?;
    let Merged { tree, ops, stats } = merge(&local, &remote);
    drop((local, remote));
    let mut outcome = Outcome {
        merge: stats,
        apply: ApplyStats {
            failed: unusable,
            ..ApplyStats::default()
        },
    };
    log::info!("bookmarks: merged {} items; {stats:?}", tree.len());

    for (local_guid, remote_guid) in &ops.change_guids {
        tx.prepare_cached("UPDATE items SET guid = ? WHERE guid = ?")?
            .execute(params![remote_guid.as_str(), local_guid.as_str()])?;
    }
    let unfiled = placement(tx, UNFILED_GUID)?.map_or(4, |p| p.id);
    let mut upload: HashSet<Guid> = ops.upload.iter().cloned().collect();
    for guid in &ops.apply_values {
        let (Some(node), Some(record)) = (tree.node_for(guid), incoming.get(guid.as_str())) else {
            continue;
        };
        let kind = bookmark_kind(node.kind());
        let local = local_values(tx, guid)?;
        let mut values = match (node.value(), &local) {
            (ValueState::Both { newer }, Some((_, local_values))) => {
                outcome.apply.reconciled += 1;
                let base = mirror_values(tx, guid)?;
                let merged = merge_fields(
                    base.as_ref(),
                    &local_values.to_map(),
                    &record.values.to_map(),
                    newer,
                );
                Values::from_map(&merged)
            }
            _ => {
                outcome.apply.applied += 1;
                record.values.clone()
            }
        };
        // dateAdded only ever moves back; a later one on the server is fixed there.
        let remote_date = record.values.date_added;
        let local_date = local.as_ref().and_then(|(_, v)| v.date_added);
        let date = match (remote_date, local_date) {
            (Some(r), Some(l)) => r.min(l),
            (Some(r), None) => r,
            (None, Some(l)) => l,
            (None, None) => now,
        };
        if remote_date != Some(date) {
            upload.insert(guid.clone());
        }
        values.date_added = Some(date);
        let unknown = (!values.unknown.is_empty())
            .then(|| serde_json::to_string(&values.unknown))
            .transpose()?;
        match local {
            Some((id, _)) => {
                tx.prepare_cached(
                    "UPDATE items SET kind = ?, title = ?, url = ?, keyword = ?, date_added = ?,
                                      unknown_fields = ? WHERE id = ?",
                )?
                .execute(params![
                    kind.as_i64(),
                    values.title,
                    values.url,
                    values.keyword,
                    date,
                    unknown,
                    id
                ])?;
            }
            None => {
                // Placed by the structure pass below.
                tx.prepare_cached(
                    "INSERT INTO items (guid, kind, parent_id, position, title, url, keyword, date_added,
                                        last_modified, sync_status, change_counter, unknown_fields)
                     VALUES (?, ?, ?, -1, ?, ?, ?, ?, ?, 1, 0, ?)",
                )?
                .execute(params![
                    guid.as_str(),
                    kind.as_i64(),
                    unfiled,
                    values.title,
                    values.url,
                    values.keyword,
                    date,
                    now,
                    unknown
                ])?;
            }
        }
        if kind == BookmarkKind::Bookmark {
            if let Some(url) = &values.url {
                set_url_tags(tx, url, &values.tags, now)?;
            }
        }
    }
    for folder in &ops.apply_structure {
        let (Some(node), Some(place)) = (tree.node_for(folder), placement(tx, folder)?) else {
            continue;
        };
        for (position, child) in node.children().enumerate() {
            tx.prepare_cached("UPDATE items SET parent_id = ?, position = ? WHERE guid = ?")?
                .execute(params![place.id, position as i64, child.guid().as_str()])?;
        }
    }
    if !ops.delete_locally.is_empty() {
        // One statement: a folder and its children go together.
        let doomed: Vec<&str> = ops.delete_locally.iter().map(Guid::as_str).collect();
        tx.prepare_cached("DELETE FROM items WHERE guid IN (SELECT value FROM json_each(?))")?
            .execute([serde_json::to_string(&doomed)?])?;
        drop_unused_tags(tx)?;
    }

    // Tombstones: revived items lose theirs; server items the merge deleted get one.
    let revived: Vec<String> = {
        let mut stmt = tx.prepare("SELECT guid FROM tombstones")?;
        let all = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        all.into_iter().filter(|g| tree.node_for(g).is_some()).collect()
    };
    for guid in revived {
        tx.prepare_cached("DELETE FROM tombstones WHERE guid = ?")?
            .execute([guid])?;
    }
    for guid in &ops.delete_remotely {
        tx.prepare_cached("INSERT OR REPLACE INTO tombstones (guid, deleted_at) VALUES (?, ?)")?
            .execute(params![guid.as_str(), now])?;
    }

    tx.execute(
        "UPDATE items SET change_counter = 0, sync_status = 1 WHERE change_counter != 0 OR sync_status != 1",
        [],
    )?;
    upload.remove(ROOT_GUID);
    // The remote tree stands in for roots the server lacks; upload them.
    for root in USER_CONTENT_ROOTS {
        let on_server = tx
            .prepare_cached(
                "SELECT 1 FROM mirror WHERE guid = ?1 AND NOT is_deleted
                 UNION ALL SELECT 1 FROM incoming WHERE guid = ?1 AND NOT is_deleted",
            )?
            .query_row([root], |_| Ok(()))
            .optional()?
            .is_some();
        if !on_server {
            upload.insert(Guid::new(root));
        }
    }
    for guid in &upload {
        tx.prepare_cached("UPDATE items SET change_counter = 1 WHERE guid = ?")?
            .execute([guid.as_str()])?;
    }
    tx.execute_batch(
        "INSERT OR REPLACE INTO mirror (guid, server_modified, is_deleted, payload)
             SELECT guid, server_modified, is_deleted, payload FROM incoming;
         DELETE FROM incoming;",
    )?;
    Ok(outcome)
}
