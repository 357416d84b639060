//! Bookmarks between real Firefox and our devices.

use serde_json::json;
use sync_bookmarks::{
    BookmarkKind, BookmarkNode, ItemUpdate, MENU_GUID, MOBILE_GUID, NewItem, TOOLBAR_GUID, UNFILED_GUID,
};

use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "bookmarks: trees, tags, keywords, queries, moves and deletes both ways",
        run: both_ways,
    }]
}

const ROOTS: [(&str, &str); 4] = [
    ("menu", MENU_GUID),
    ("toolbar", TOOLBAR_GUID),
    ("unfiled", UNFILED_GUID),
    ("mobile", MOBILE_GUID),
];

/// A Firefox root's content in the same form as [`our_shape`], read with
/// `PlacesUtils.promiseBookmarksTree`.
const FIREFOX_SHAPE: &str = r#"
    const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
    const [guid] = arguments;
    const tree = await PlacesUtils.promiseBookmarksTree(guid);
    const shape = node => {
        if (node.type == "text/x-moz-place-separator") return "-";
        if (node.type == "text/x-moz-place-container") {
            return `${node.title}(${(node.children || []).map(shape).join(" ")})`;
        }
        const tags = node.tags ? " #" + node.tags.split(",").sort().join(",") : "";
        const keyword = node.keyword ? " kw:" + node.keyword : "";
        return `${node.title}<${node.uri}${tags}${keyword}>`;
    };
    return (tree.children || []).map(shape).join(" ");
"#;

/// An item and its descendants as `title(children)`, `title<url #tags kw:k>`
/// or `-`.
fn our_shape(node: &BookmarkNode) -> String {
    let item = &node.item;
    match item.kind {
        BookmarkKind::Separator => "-".into(),
        BookmarkKind::Folder => {
            let kids: Vec<String> = node.children.iter().map(our_shape).collect();
            format!("{}({})", item.title, kids.join(" "))
        }
        BookmarkKind::Bookmark | BookmarkKind::Query => {
            let mut tags = item.tags.clone();
            tags.sort();
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!(" #{}", tags.join(","))
            };
            let keyword = item
                .keyword
                .as_deref()
                .map(|k| format!(" kw:{k}"))
                .unwrap_or_default();
            format!(
                "{}<{}{tags}{keyword}>",
                item.title,
                item.url.as_deref().unwrap_or_default()
            )
        }
    }
}

/// Firefox's four roots, one line each.
pub(super) fn firefox_tree(ctx: &mut Ctx<'_>, name: &str) -> Result<String, String> {
    let browser = ctx.firefox(name)?;
    let mut lines = Vec::new();
    for (root, guid) in ROOTS {
        let shape = browser.js(FIREFOX_SHAPE, json!([guid]))?;
        lines.push(format!("{root}({})", shape.as_str().unwrap_or_default()));
    }
    Ok(lines.join("\n"))
}

/// Our device's four roots, one line each.
pub(super) fn our_tree(ctx: &mut Ctx<'_>, name: &str) -> Result<String, String> {
    let store = ctx.device(name)?.bookmarks.clone();
    let mut lines = Vec::new();
    for (root, guid) in ROOTS {
        let node = store
            .get_tree(guid)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{name} has no {root}"))?;
        let kids: Vec<String> = node.children.iter().map(our_shape).collect();
        lines.push(format!("{root}({})", kids.join(" ")));
    }
    Ok(lines.join("\n"))
}

/// The trees of Firefox `firefox` and our device `ours` are the same.
pub(super) fn same_trees(ctx: &mut Ctx<'_>, firefox: &str, ours: &str) -> Result<String, String> {
    let theirs = firefox_tree(ctx, firefox)?;
    let mine = our_tree(ctx, ours)?;
    check(
        theirs == mine,
        format!("the trees differ:\n{firefox}:\n{theirs}\n{ours}:\n{mine}"),
    )?;
    ctx.step(&format!("{firefox}, {ours}"), "verify: the same tree");
    Ok(mine)
}

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn both_ways(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        const B = PlacesUtils.bookmarks;
        await B.insertTree({guid: B.menuGuid, children: [
            {title: "Reise ✈ Pläne", type: B.TYPE_FOLDER, guid: "folderReise1", children: [
                {title: "Café ☕", url: "https://cafe.example/menu", guid: "bmkCafe00001"},
                {type: B.TYPE_SEPARATOR, guid: "sepReise0001"},
                {title: "Inner", type: B.TYPE_FOLDER, guid: "folderInner1", children: [
                    {title: "Deep", url: "https://deep.example/", guid: "bmkDeep00001"},
                ]},
                {title: "Recent", url: "place:sort=8&maxResults=10", guid: "queryRecent1"},
            ]},
        ]});
        await B.insert({parentGuid: B.toolbarGuid, title: "Toolbar One", url: "https://toolbar.example/",
                        guid: "bmkToolbar01"});
        PlacesUtils.tagging.tagURI(Services.io.newURI("https://cafe.example/menu"), ["coffee", "paris"]);
        await PlacesUtils.keywords.insert({keyword: "cafe", url: "https://cafe.example/menu"});
        return null;
        "#,
        json!([]),
    )?;
    ctx.step(
        "F",
        "a folder with a tagged bookmark with a keyword, a separator, a subfolder and a query; a toolbar bookmark",
    );
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    same_trees(ctx, "F", "A")?;

    let a = ctx.device("A")?.bookmarks.clone();
    let from_us = a
        .insert(
            "folderInner1",
            None,
            NewItem::Bookmark {
                url: "https://ours.example/ü".into(),
                title: "From us ü".into(),
            },
        )
        .map_err(fail)?;
    a.move_item("bmkDeep00001", TOOLBAR_GUID, Some(0)).map_err(fail)?;
    a.update(
        "bmkToolbar01",
        ItemUpdate {
            title: Some("Toolbar Renamed".into()),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    a.delete("sepReise0001").map_err(fail)?;
    a.update(
        "bmkCafe00001",
        ItemUpdate {
            tags: Some(vec!["coffee".into(), "paris".into(), "read".into()]),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    ctx.step(
        "A",
        "add to Inner, move Deep to the toolbar, rename, delete the separator, tag",
    );
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    same_trees(ctx, "F", "A")?;

    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        const B = PlacesUtils.bookmarks;
        await B.update({guid: "folderInner1", title: "Inner ✓"});
        await B.update({guid: "queryRecent1", parentGuid: B.unfiledGuid, index: B.DEFAULT_INDEX});
        await B.remove("bmkToolbar01");
        await PlacesUtils.keywords.insert({keyword: "deep", url: "https://deep.example/"});
        return null;
        "#,
        json!([]),
    )?;
    ctx.step(
        "F",
        "rename Inner, move the query to unfiled, delete a bookmark, add a keyword",
    );
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    same_trees(ctx, "F", "A")?;

    // Both sides change different things before either syncs.
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        await PlacesUtils.bookmarks.update({guid: "bmkCafe00001", title: "Café (Firefox)"});
        return null;
        "#,
        json!([]),
    )?;
    a.update(
        "folderReise1",
        ItemUpdate {
            title: Some("Reise (ours)".into()),
            ..ItemUpdate::default()
        },
    )
    .map_err(fail)?;
    a.insert(
        MENU_GUID,
        None,
        NewItem::Bookmark {
            url: "https://concurrent.example/".into(),
            title: "Concurrent".into(),
        },
    )
    .map_err(fail)?;
    ctx.step(
        "F, A",
        "F renames a bookmark while A renames its folder and adds to the menu",
    );
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    let tree = same_trees(ctx, "F", "A")?;
    check(
        tree.contains("Café (Firefox)<") && tree.contains("Reise (ours)(") && tree.contains("Concurrent<"),
        format!("an edit was lost:\n{tree}"),
    )?;

    // A folder deleted on one side while the other adds to it.
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        await PlacesUtils.bookmarks.remove("folderInner1");
        return null;
        "#,
        json!([]),
    )?;
    a.insert(
        "folderInner1",
        None,
        NewItem::Bookmark {
            url: "https://late.example/".into(),
            title: "Late child".into(),
        },
    )
    .map_err(fail)?;
    ctx.step("F, A", "F deletes Inner while A adds a bookmark to it");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let tree = same_trees(ctx, "F", "A")?;
    check(
        !tree.contains("Inner ✓(") && tree.contains("Late child<"),
        format!("the folder should be gone and its new child kept:\n{tree}"),
    )?;
    check(
        a.get(from_us.as_str()).map_err(fail)?.is_none(),
        "the folder's old child should be deleted with it",
    )?;

    // Nothing left to do: both stay as they are.
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    same_trees(ctx, "F", "A")?;
    Ok(())
}
