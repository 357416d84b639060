//! Large collections as Mozilla's mobile client reads them: in one request,
//! never following `X-Weave-Next-Offset` (application-services'
//! `sync15` client asks for a collection without `limit` and applies what
//! one answer holds). A server that cut that answer short left Firefox
//! Android with part of a bookmark tree, which it then "repaired" and
//! uploaded.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sync_bookmarks::{MOBILE_GUID, NewItem, NewTree};
use sync15::{CollectionRequest, Precondition};

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "large: 12,000 bookmarks reach a client that never pages, intact",
        bookmarks_in_one_read,
    )]
}

const FOLDERS: usize = 60;
const PER_FOLDER: usize = 200;

fn bookmarks_in_one_read(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    let folders: Vec<NewTree> = (0..FOLDERS)
        .map(|f| {
            let mut folder = NewTree::new(NewItem::Folder {
                title: format!("Folder {f}"),
            });
            folder.children = (0..PER_FOLDER)
                .map(|b| {
                    NewTree::new(NewItem::Bookmark {
                        url: format!("https://example.com/{f}/{b}"),
                        title: format!("Bookmark {f}.{b}"),
                    })
                })
                .collect();
            folder
        })
        .collect();
    ctx.bookmarks("A")?
        .insert_tree(MOBILE_GUID, None, folders)
        .map_err(fail)?;
    ctx.step("A", "add 60 folders of 200 bookmarks to mobile");
    ctx.sync("A")?;

    ctx.step(
        "one GET",
        "read bookmarks without limit, as application-services does",
    );
    let raw = ctx.account.raw();
    let page = raw
        .client()
        .get_collection(&CollectionRequest::new("bookmarks"), Precondition::None)
        .map_err(fail)?;
    check(
        page.next_offset.is_none(),
        format!("the answer was cut off at {:?}", page.next_offset),
    )?;
    check(
        page.total_records == Some(page.records.len()),
        format!(
            "X-Weave-Records {:?} for {} records",
            page.total_records,
            page.records.len()
        ),
    )?;
    let keys = ctx.account.collection_keys();
    let bundle = keys.key_for_collection("bookmarks");
    let mut records = BTreeMap::new();
    for bso in &page.records {
        let record = bundle.decrypt(bso).map_err(fail)?;
        records.insert(
            bso.envelope.id.to_string(),
            Value::Object(record.cleartext.into_map()),
        );
    }

    // Everything the mobile root holds, walked from it as a client builds
    // its tree: every folder's children are there and name it as parent.
    let mut reached = BTreeSet::new();
    let mut stack = vec!["mobile".to_owned()];
    while let Some(id) = stack.pop() {
        let record = records
            .get(&id)
            .ok_or_else(|| format!("{id} is listed but not in the answer"))?;
        for child in record["children"].as_array().into_iter().flatten() {
            let child = child.as_str().unwrap_or_default().to_owned();
            let parent = records.get(&child).map(|c| c["parentid"].clone());
            check(
                parent == Some(Value::from(id.clone())),
                format!("{id} lists {child}, whose parentid is {parent:?}"),
            )?;
            stack.push(child);
        }
        reached.insert(id);
    }
    let expected = 1 + FOLDERS + FOLDERS * PER_FOLDER;
    check(
        reached.len() == expected,
        format!("{} records under mobile, expected {expected}", reached.len()),
    )?;

    ctx.add_device("B");
    ctx.sync("B")?;
    ctx.step("B", "verify: the whole tree");
    let tree = ctx
        .bookmarks("B")?
        .get_tree(MOBILE_GUID)
        .map_err(fail)?
        .ok_or("B has no mobile root")?;
    let bookmarks: usize = tree.children.iter().map(|f| f.children.len()).sum();
    check(
        tree.children.len() == FOLDERS && bookmarks == FOLDERS * PER_FOLDER,
        format!("B has {} folders, {bookmarks} bookmarks", tree.children.len()),
    )
}
