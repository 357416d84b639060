//! Bookmark scenarios: the TPS bookmark cases.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sync_bookmarks::{
    BookmarkKind, BookmarkNode, ItemUpdate, MENU_GUID, NewItem, TOOLBAR_GUID, UNFILED_GUID,
};
use sync15::SyncEngine;

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "bookmarks: identical bookmarks made on two devices before their first sync are deduped",
            deduped_on_first_sync,
        ),
        scenario(
            "bookmarks: the same URL in three folders survives",
            same_url_three_folders,
        ),
        scenario(
            "bookmarks: folders with the same name stay apart",
            same_named_folders,
        ),
        scenario("bookmarks: reordering the toolbar propagates", toolbar_reorder),
        scenario(
            "bookmarks: a folder deleted on A while B edits and adds inside it",
            folder_deleted_while_edited,
        ),
        scenario("bookmarks: wipe-client restore", wipe_client_restore),
        scenario(
            "bookmarks: tags, keyword, query and unknown fields round-trip",
            fields_round_trip,
        ),
        scenario(
            "bookmarks: a corrupt server tree is repaired and re-uploaded consistently",
            corrupt_server_tree,
        ),
    ]
}

fn bookmark(url: &str, title: &str) -> NewItem {
    NewItem::Bookmark {
        url: url.into(),
        title: title.into(),
    }
}

fn folder(title: &str) -> NewItem {
    NewItem::Folder { title: title.into() }
}

fn insert(ctx: &mut Ctx<'_>, device: &str, parent: &str, item: NewItem) -> Result<String, String> {
    let guid = ctx.bookmarks(device)?.insert(parent, None, item).map_err(fail)?;
    Ok(guid.to_string())
}

/// A subtree as `title(child child)`; bookmarks by title, separators `-`.
fn shape(node: &BookmarkNode) -> String {
    match node.item.kind {
        BookmarkKind::Folder => {
            let kids: Vec<String> = node.children.iter().map(shape).collect();
            format!("{}({})", node.item.title, kids.join(" "))
        }
        BookmarkKind::Separator => "-".into(),
        _ => node.item.title.clone(),
    }
}

/// The four user roots of a device as one line.
fn tree(ctx: &mut Ctx<'_>, device: &str) -> Result<String, String> {
    let store = ctx.bookmarks(device)?;
    let mut parts = Vec::new();
    for (name, root) in [
        ("menu", MENU_GUID),
        ("toolbar", TOOLBAR_GUID),
        ("unfiled", UNFILED_GUID),
    ] {
        let node = store
            .get_tree(root)
            .map_err(fail)?
            .ok_or_else(|| format!("{device} has no {name}"))?;
        let kids: Vec<String> = node.children.iter().map(shape).collect();
        parts.push(format!("{name}({})", kids.join(" ")));
    }
    Ok(parts.join(" "))
}

/// Every GUID of a device's user roots, in tree order.
fn guids(ctx: &mut Ctx<'_>, device: &str) -> Result<Vec<String>, String> {
    fn walk(node: &BookmarkNode, out: &mut Vec<String>) {
        out.push(node.item.guid.to_string());
        for c in &node.children {
            walk(c, out);
        }
    }
    let store = ctx.bookmarks(device)?;
    let mut out = Vec::new();
    for root in [MENU_GUID, TOOLBAR_GUID, UNFILED_GUID] {
        if let Some(node) = store.get_tree(root).map_err(fail)? {
            walk(&node, &mut out);
        }
    }
    Ok(out)
}

/// Checks that two devices hold the same tree (titles and ids).
fn same_everywhere(ctx: &mut Ctx<'_>, a: &str, b: &str) -> Result<String, String> {
    let (ta, tb) = (tree(ctx, a)?, tree(ctx, b)?);
    check(ta == tb, format!("{a}: {ta}\n{b}: {tb}"))?;
    let (ga, gb) = (guids(ctx, a)?, guids(ctx, b)?);
    check(ga == gb, format!("ids differ: {ga:?} vs {gb:?}"))?;
    Ok(ta)
}

/// The server's bookmark records, decrypted, by id.
fn server_records(ctx: &mut Ctx<'_>) -> BTreeMap<String, Value> {
    ctx.account
        .raw()
        .bsos("bookmarks")
        .into_iter()
        .filter_map(|bso| {
            let id = bso.envelope.id.to_string();
            ctx.account.cleartext("bookmarks", &id).map(|c| (id, c))
        })
        .collect()
}

/// The server's tree agrees with itself: every listed child names its
/// folder as `parentid`, and every live non-root record is listed by it.
fn server_tree_consistent(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let records = server_records(ctx);
    for (id, record) in &records {
        if record["deleted"] == json!(true) || id == "places" {
            continue;
        }
        let parent = record["parentid"].as_str().unwrap_or_default();
        if ["menu", "toolbar", "unfiled", "mobile"].contains(&id.as_str()) {
            continue;
        }
        let listed = records
            .get(parent)
            .and_then(|p| p["children"].as_array())
            .is_some_and(|c| c.contains(&json!(id)));
        check(listed, format!("{id} names {parent} but is not in its children"))?;
        if let Some(children) = record["children"].as_array() {
            for child in children {
                let child = child.as_str().unwrap_or_default();
                let child_parent = records.get(child).map(|c| c["parentid"].clone());
                check(
                    child_parent == Some(json!(id)),
                    format!("{id} lists {child}, whose parentid is {child_parent:?}"),
                )?;
            }
        }
    }
    Ok(())
}

fn deduped_on_first_sync(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    for device in ["A", "B"] {
        let work = insert(ctx, device, MENU_GUID, folder("Work"))?;
        insert(ctx, device, &work, bookmark("https://wiki.example/", "Wiki"))?;
        insert(ctx, device, &work, NewItem::Separator)?;
        insert(
            ctx,
            device,
            TOOLBAR_GUID,
            bookmark("https://news.example/", "News"),
        )?;
        ctx.step(device, "add menu/Work/{Wiki, separator} and toolbar/News");
    }
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.step("A, B", "verify: one copy of each, with the same ids");
    let tree = same_everywhere(ctx, "A", "B")?;
    check(
        tree == "menu(Work(Wiki -)) toolbar(News) unfiled()",
        format!("deduped tree: {tree}"),
    )?;
    let merged = ctx.bookmarks("B")?.last_merge_stats().ok_or("B never merged")?;
    check(merged.deduped == 4, format!("B deduped {merged:?}"))?;
    let live = server_records(ctx)
        .values()
        .filter(|r| r["deleted"] != json!(true))
        .count();
    // Four roots and four items.
    check(
        live == 8,
        format!(
            "the server holds {live} live records: {:?}",
            server_records(ctx).keys()
        ),
    )
}

fn same_url_three_folders(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    for name in ["One", "Two", "Three"] {
        let f = insert(ctx, "A", MENU_GUID, folder(name))?;
        insert(ctx, "A", &f, bookmark("https://same.example/", "Same"))?;
    }
    ctx.step("A", "add the same URL in three folders");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.step("B", "verify: three bookmarks of the URL");
    let tree = same_everywhere(ctx, "A", "B")?;
    check(
        tree == "menu(One(Same) Two(Same) Three(Same)) toolbar() unfiled()",
        tree,
    )?;
    let found = ctx.bookmarks("B")?.search("same.example", 10).map_err(fail)?;
    check(found.len() == 3, format!("B found {}", found.len()))
}

fn same_named_folders(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let m = insert(ctx, "A", MENU_GUID, folder("Docs"))?;
    insert(ctx, "A", &m, bookmark("https://m.example/", "InMenu"))?;
    let t = insert(ctx, "A", TOOLBAR_GUID, folder("Docs"))?;
    insert(ctx, "A", &t, bookmark("https://t.example/", "InToolbar"))?;
    let m2 = insert(ctx, "A", MENU_GUID, folder("Docs"))?;
    insert(ctx, "A", &m2, bookmark("https://m2.example/", "Second"))?;
    ctx.step("A", "add folders named Docs: two in the menu, one in the toolbar");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.step("B", "verify: three separate folders");
    let tree = same_everywhere(ctx, "A", "B")?;
    check(
        tree == "menu(Docs(InMenu) Docs(Second)) toolbar(Docs(InToolbar)) unfiled()",
        tree,
    )
}

fn toolbar_reorder(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    for n in 1..=4 {
        insert(
            ctx,
            "A",
            TOOLBAR_GUID,
            bookmark(&format!("https://{n}.example/"), &format!("T{n}")),
        )?;
    }
    ctx.step("A", "add T1..T4 to the toolbar");
    ctx.sync("A")?;
    ctx.sync("B")?;
    let store = ctx.bookmarks("B")?;
    let last = store
        .get_tree(TOOLBAR_GUID)
        .map_err(fail)?
        .ok_or("no toolbar")?
        .children[3]
        .item
        .guid
        .clone();
    store.move_item(&last, TOOLBAR_GUID, Some(0)).map_err(fail)?;
    let second = store
        .get_tree(TOOLBAR_GUID)
        .map_err(fail)?
        .ok_or("no toolbar")?
        .children[2]
        .item
        .guid
        .clone();
    store.move_item(&second, TOOLBAR_GUID, Some(1)).map_err(fail)?;
    ctx.step("B", "move T4 to the front, then T2 after it");
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.step("A", "verify: B's order");
    let tree = same_everywhere(ctx, "A", "B")?;
    check(tree == "menu() toolbar(T4 T2 T1 T3) unfiled()", tree)
}

fn folder_deleted_while_edited(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let outer = insert(ctx, "A", MENU_GUID, folder("Outer"))?;
    let f = insert(ctx, "A", &outer, folder("Doomed"))?;
    let x = insert(ctx, "A", &f, bookmark("https://x.example/", "X"))?;
    insert(ctx, "A", &f, bookmark("https://y.example/", "Y"))?;
    ctx.step("A", "add menu/Outer/Doomed/{X, Y}");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.bookmarks("A")?.delete(&f).map_err(fail)?;
    ctx.step("A", "delete Doomed");
    let b = ctx.bookmarks("B")?;
    b.update(
        &x,
        ItemUpdate {
            title: Some("X edited".into()),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    b.insert(&f, None, bookmark("https://z.example/", "Z"))
        .map_err(fail)?;
    ctx.step("B", "edit X's title, add Z inside Doomed");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.step("A, B", "verify: Doomed and Y gone; X and Z moved up into Outer");
    let tree = same_everywhere(ctx, "A", "B")?;
    check(tree == "menu(Outer(X edited Z)) toolbar() unfiled()", tree)?;
    server_tree_consistent(ctx)
}

fn wipe_client_restore(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let f = insert(ctx, "A", TOOLBAR_GUID, folder("Kept"))?;
    insert(ctx, "A", &f, bookmark("https://k.example/", "K"))?;
    insert(ctx, "A", MENU_GUID, bookmark("https://m.example/", "M"))?;
    ctx.step("A", "add toolbar/Kept/K and menu/M");
    ctx.sync("A")?;
    ctx.sync("B")?;
    let before = same_everywhere(ctx, "A", "B")?;
    let store = ctx.bookmarks("B")?;
    let assoc = store.sync_association().map_err(fail)?;
    store.wipe().map_err(fail)?;
    store.reset(&assoc).map_err(fail)?;
    ctx.step("B", "wipe the local bookmarks and reset");
    check(tree(ctx, "B")? == "menu() toolbar() unfiled()", "B was not wiped")?;
    ctx.sync("B")?;
    ctx.step("B", "verify: restored from the server");
    let after = same_everywhere(ctx, "A", "B")?;
    check(after == before, format!("before {before}, after {after}"))
}

fn fields_round_trip(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let a = ctx.bookmarks("A")?;
    let b1 = a
        .insert(MENU_GUID, None, bookmark("https://tagged.example/", "Tagged"))
        .map_err(fail)?;
    a.update(
        &b1,
        ItemUpdate {
            keyword: Some(Some("tg".into())),
            tags: Some(vec!["work".into(), "read".into()]),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    let query = a
        .insert(
            MENU_GUID,
            None,
            NewItem::Query {
                url: "place:tag=work".into(),
                title: "Work tag".into(),
            },
        )
        .map_err(fail)?;
    ctx.step("A", "add a bookmark with tags and a keyword, and a query");
    ctx.sync("A")?;
    // Another client adds a field this code does not know.
    let mut record = ctx
        .account
        .cleartext("bookmarks", b1.as_str())
        .ok_or("no record")?;
    record["futureField"] = json!({"kept": true});
    ctx.account.put_cleartext("bookmarks", &record);
    ctx.step("server", "another client adds futureField to the bookmark");
    ctx.sync("B")?;
    ctx.step("B", "verify: tags, keyword, query; then edit the title");
    let b = ctx.bookmarks("B")?;
    let got = b.get(&b1).map_err(fail)?.ok_or("B lacks the bookmark")?;
    check(got.tags == ["read", "work"], format!("tags {:?}", got.tags))?;
    check(
        got.keyword.as_deref() == Some("tg"),
        format!("keyword {:?}", got.keyword),
    )?;
    let q = b.get(&query).map_err(fail)?.ok_or("B lacks the query")?;
    check(
        q.kind == BookmarkKind::Query && q.url.as_deref() == Some("place:tag=work"),
        format!("{q:?}"),
    )?;
    check(b.by_tag("work").map_err(fail)?.len() == 1, "by tag")?;
    b.update(
        &b1,
        ItemUpdate {
            title: Some("Retitled".into()),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    ctx.sync("B")?;
    ctx.step("server", "verify: the record kept futureField, tags and keyword");
    let record = ctx
        .account
        .cleartext("bookmarks", b1.as_str())
        .ok_or("no record")?;
    check(
        record["futureField"] == json!({"kept": true}),
        format!("{record}"),
    )?;
    check(record["title"] == json!("Retitled"), format!("{record}"))?;
    check(record["tags"] == json!(["read", "work"]), format!("{record}"))?;
    check(record["keyword"] == json!("tg"), format!("{record}"))?;
    check(record["hasDupe"] == json!(true), format!("{record}"))?;
    check(record["parentid"] == json!("menu"), format!("{record}"))
}

fn corrupt_server_tree(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    let f = insert(ctx, "A", MENU_GUID, folder("F"))?;
    let x = insert(ctx, "A", &f, bookmark("https://x.example/", "X"))?;
    let y = insert(ctx, "A", &f, bookmark("https://y.example/", "Y"))?;
    ctx.step("A", "add menu/F/{X, Y}");
    ctx.sync("A")?;
    // Tamper: F forgets Y and lists a record that does not exist; an
    // orphan names a missing parent; X claims the toolbar as parent.
    let mut folder_record = ctx.account.cleartext("bookmarks", &f).ok_or("no F")?;
    folder_record["children"] = json!([x, "ghostGhost01"]);
    ctx.account.put_cleartext("bookmarks", &folder_record);
    let mut x_record = ctx.account.cleartext("bookmarks", &x).ok_or("no X")?;
    x_record["parentid"] = json!("toolbar");
    ctx.account.put_cleartext("bookmarks", &x_record);
    ctx.account.put_cleartext(
        "bookmarks",
        &json!({"id": "orphanOrph01", "type": "bookmark", "parentid": "nowhere00001",
                "title": "Orphan", "bmkUri": "https://orphan.example/", "dateAdded": 1_600_000_000_000_i64}),
    );
    ctx.step(
        "server",
        "corrupt: F drops Y and lists a ghost, X names the toolbar, an orphan",
    );
    ctx.add_device("B");
    ctx.sync("B")?;
    ctx.step(
        "B",
        "verify: X and Y in F, the orphan in unfiled; the server repaired",
    );
    let tree = tree(ctx, "B")?;
    check(tree == "menu(F(X Y)) toolbar() unfiled(Orphan)", tree)?;
    let stats = ctx.bookmarks("B")?.last_merge_stats().ok_or("no merge")?;
    let problems = stats.remote_problems;
    check(
        problems.orphans == 1 && problems.missing_children == 1 && problems.parent_child_disagreements >= 2,
        format!("{problems:?}"),
    )?;
    server_tree_consistent(ctx)?;
    ctx.sync("A")?;
    ctx.step("A", "verify: the repaired tree");
    let _ = y;
    same_everywhere(ctx, "A", "B").map(|_| ())
}
