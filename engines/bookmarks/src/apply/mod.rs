//! One merge against the store: the local tree from `items`, the remote tree
//! from `mirror` overlaid with `incoming` ([`trees`]), [`merge`], and the
//! merge's operations applied in the caller's transaction ([`place`] puts
//! new items straight into their merged place). The incoming records join
//! the mirror afterwards, a chunk per transaction ([`fold_incoming`]).
//!
//! App writes wait for that one apply transaction, so it does only what
//! must be atomic with the merge: the remote side is read before it, and
//! the mirror is filled after it.

mod place;
mod trees;

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use sync15::{ApplyStats, Guid};

use crate::BookmarksError;
use crate::merge::fields::merge_fields;
use crate::merge::{MergeStats, Merged, MergedTree, ValueState, merge};
use crate::record::{RemoteRecord, Values};
use crate::store::drop_unused_tags;
use crate::tree::{Kind, ROOT_GUID, USER_CONTENT_ROOTS};
use crate::types::BookmarkKind;
pub(crate) use place::fold_incoming;
use place::{NewRow, TaggedUrls, place_items};
use trees::local_tree;
pub(crate) use trees::{RemoteSide, remote_side};

/// What one merge did.
pub(crate) struct Outcome {
    pub(crate) merge: MergeStats,
    pub(crate) apply: ApplyStats,
    /// The merged tree and what is left of the downloaded records, for the
    /// caller to drop after the transaction: freeing 50,000 items takes tens
    /// of milliseconds, not worth holding the writer for.
    pub(crate) spent: (MergedTree, HashMap<String, RemoteRecord>),
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

/// Merges the local tree with `remote` and applies the result; leaves every
/// item to upload with a change counter above 0 and every other item at 0,
/// and the tombstones to upload in `tombstones`. `incoming` stays for
/// [`fold_incoming`] to move into the mirror after this transaction.
pub(crate) fn merge_and_apply(
    tx: &Connection,
    remote: RemoteSide,
    now: i64,
) -> Result<Outcome, BookmarksError> {
    let local = local_tree(tx, now)?;
    let RemoteSide {
        tree: remote,
        mut incoming,
        unusable,
    } = remote;
    let Merged { tree, ops, stats } = merge(&local, &remote);
    drop((local, remote));
    let mut apply = ApplyStats {
        failed: unusable,
        ..ApplyStats::default()
    };
    log::info!("bookmarks: merged {} items; {stats:?}", tree.len());

    for (local_guid, remote_guid) in &ops.change_guids {
        tx.prepare_cached("UPDATE items SET guid = ? WHERE guid = ?")?
            .execute(params![remote_guid.as_str(), local_guid.as_str()])?;
    }
    let mut tagged = TaggedUrls::load(tx)?;
    let mut upload: HashSet<Guid> = ops.upload.iter().cloned().collect();
    // Items new here are written by `place_items`, straight into their place.
    let mut new_items: HashMap<&str, NewRow> = HashMap::new();
    for guid in &ops.apply_values {
        let (Some(node), Some(record)) = (tree.node_for(guid), incoming.remove(guid.as_str())) else {
            continue;
        };
        let kind = bookmark_kind(node.kind());
        let local = match node.local_guid() {
            Some(_) => local_values(tx, guid)?,
            None => None,
        };
        let remote_date = record.values.date_added;
        let mut values = match (node.value(), &local) {
            (ValueState::Both { newer }, Some((_, local_values))) => {
                apply.reconciled += 1;
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
                apply.applied += 1;
                record.values
            }
        };
        let local_date = local.as_ref().and_then(|(_, v)| v.date_added);
        let date = earliest_date(remote_date, local_date, now);
        if remote_date != Some(date) {
            upload.insert(guid.clone());
        }
        values.date_added = Some(date);
        // Applied from the server: modified when the server stored it, as
        // Firefox and application-services set it (never before it was added).
        let last_modified = record.server_modified.max(date);
        let Some((id, _)) = local else {
            new_items.insert(
                guid.as_str(),
                NewRow {
                    kind,
                    values,
                    last_modified,
                },
            );
            continue;
        };
        let unknown = (!values.unknown.is_empty())
            .then(|| serde_json::to_string(&values.unknown))
            .transpose()?;
        tx.prepare_cached(
            "UPDATE items SET kind = ?, title = ?, url = ?, keyword = ?, date_added = ?,
                              last_modified = ?, unknown_fields = ? WHERE id = ?",
        )?
        .execute(params![
            kind.as_i64(),
            values.title,
            values.url,
            values.keyword,
            date,
            last_modified,
            unknown,
            id
        ])?;
        if kind == BookmarkKind::Bookmark {
            if let Some(url) = &values.url {
                tagged.set(tx, url, &values.tags, now)?;
            }
        }
    }
    for root in USER_CONTENT_ROOTS {
        if let Some(record) = incoming.remove(root) {
            if take_root_values(tx, root, record, now)? {
                upload.insert(Guid::new(root));
            }
        }
    }
    place_items(tx, &tree, &ops.apply_structure, new_items, &mut tagged, now)?;
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
    Ok(Outcome {
        merge: stats,
        apply,
        spent: (tree, incoming),
    })
}

/// dateAdded only ever moves back; a later one on the server is fixed there.
fn earliest_date(remote: Option<i64>, local: Option<i64>, now: i64) -> i64 {
    match (remote, local) {
        (Some(r), Some(l)) => r.min(l),
        (Some(r), None) => r,
        (None, Some(l)) => l,
        (None, None) => now,
    }
}

/// A user content root whose record came down keeps what the server has —
/// the earlier dateAdded, fields this code does not know — so that it goes
/// back up as Firefox gave it. Its title stays its name (`mobile`), which
/// is what Firefox and application-services title their roots and never
/// take from the server. Roots' values are never merged (nothing here
/// changes them; the merger leaves them out). Returns whether the server's
/// record needs this device's earlier dateAdded.
fn take_root_values(
    tx: &Connection,
    root: &str,
    record: RemoteRecord,
    now: i64,
) -> Result<bool, BookmarksError> {
    let Some((id, local)) = local_values(tx, root)? else {
        return Ok(false);
    };
    let remote_date = record.values.date_added;
    let date = earliest_date(remote_date, local.date_added, now);
    let unknown = (!record.values.unknown.is_empty())
        .then(|| serde_json::to_string(&record.values.unknown))
        .transpose()?;
    tx.prepare_cached(
        "UPDATE items SET date_added = ?, last_modified = MAX(last_modified, ?), unknown_fields = ?
         WHERE id = ?",
    )?
    .execute(params![date, record.server_modified, unknown, id])?;
    Ok(remote_date != Some(date))
}
