//! Records exactly as Firefox desktop and application-services (Firefox
//! Android and iOS) write them: the details our own client never produces,
//! so that only records shaped by Mozilla's code can show whether we keep
//! what came in and write what Firefox writes.

use serde_json::{Value, json};
use sync_bookmarks::MOBILE_GUID;

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "shapes: Firefox's bookmark roots and dates survive our uploads",
        firefox_bookmark_roots_and_dates,
    )]
}

/// Firefox's `dateAdded` for its roots: the profile's creation, long before
/// this device's store existed.
const PROFILE_CREATED: i64 = 1_500_000_000_000;

/// A root folder as Firefox desktop uploads it (`SyncedBookmarksMirror`):
/// titled with its name, in `places`, whose title is empty.
fn firefox_root(name: &str, children: &[&str]) -> Value {
    json!({"id": name, "type": "folder", "parentid": "places", "hasDupe": true,
           "parentName": "", "dateAdded": PROFILE_CREATED, "title": name, "children": children})
}

fn server_modified(ctx: &mut Ctx<'_>, id: &str) -> Result<i64, String> {
    Ok(ctx
        .account
        .raw()
        .bso("bookmarks", id)
        .ok_or_else(|| format!("no {id} on the server"))?
        .envelope
        .modified
        .as_millis())
}

fn firefox_bookmark_roots_and_dates(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.sync("A")?;
    // Firefox desktop's account: its roots, and a bookmark on mobile.
    for root in ["menu", "toolbar", "unfiled"] {
        ctx.account.put_cleartext("bookmarks", &firefox_root(root, &[]));
    }
    let mut mobile = firefox_root("mobile", &["bmkFirefox01"]);
    // A field some newer client adds, which must come back.
    mobile["futureRootField"] = json!({"kept": true});
    ctx.account.put_cleartext("bookmarks", &mobile);
    let bookmark = json!({"id": "bmkFirefox01", "type": "bookmark", "parentid": "mobile", "hasDupe": true,
                          "parentName": "mobile", "dateAdded": PROFILE_CREATED + 1_000,
                          "bmkUri": "https://firefox.example/", "title": "From Firefox", "tags": []});
    ctx.account.put_cleartext("bookmarks", &bookmark);
    ctx.step("Firefox", "upload its four roots and mobile/From Firefox");
    ctx.sync("A")?;
    let stored = server_modified(ctx, "bmkFirefox01")?;
    let item = ctx
        .bookmarks("A")?
        .get("bmkFirefox01")
        .map_err(fail)?
        .ok_or("A lacks the bookmark")?;
    check(
        item.last_modified == stored && item.date_added == PROFILE_CREATED + 1_000,
        format!(
            "A's bookmark: added {}, modified {} (server stored it at {stored})",
            item.date_added, item.last_modified
        ),
    )?;

    let mut renamed = bookmark.clone();
    renamed["title"] = json!("Renamed in Firefox");
    ctx.account.put_cleartext("bookmarks", &renamed);
    ctx.step("Firefox", "rename the bookmark");
    ctx.sync("A")?;
    let stored = server_modified(ctx, "bmkFirefox01")?;
    let item = ctx
        .bookmarks("A")?
        .get("bmkFirefox01")
        .map_err(fail)?
        .ok_or("A lost the bookmark")?;
    check(
        item.title == "Renamed in Firefox" && item.last_modified == stored,
        format!(
            "A's bookmark after the rename: {:?}, modified {} (server stored it at {stored})",
            item.title, item.last_modified
        ),
    )?;

    ctx.bookmarks("A")?
        .insert(
            MOBILE_GUID,
            None,
            sync_bookmarks::NewItem::Bookmark {
                url: "https://ours.example/".into(),
                title: "Ours".into(),
            },
        )
        .map_err(fail)?;
    ctx.step("A", "add mobile/Ours: the mobile root goes up again");
    ctx.sync("A")?;
    let mobile = ctx
        .account
        .cleartext("bookmarks", "mobile")
        .ok_or("no mobile root")?;
    check(
        mobile["title"] == json!("mobile")
            && mobile["dateAdded"] == json!(PROFILE_CREATED)
            && mobile["parentid"] == json!("places")
            && mobile["parentName"] == json!("")
            && mobile["futureRootField"] == json!({"kept": true})
            && mobile["children"].as_array().map_or(0, Vec::len) == 2,
        format!("the mobile root as we uploaded it: {mobile}"),
    )?;
    let ours = mobile["children"][1].as_str().unwrap_or_default().to_owned();
    let record = ctx
        .account
        .cleartext("bookmarks", &ours)
        .ok_or("our bookmark is not on the server")?;
    check(
        record["parentName"] == json!("mobile"),
        format!("our bookmark's parentName: {record}"),
    )?;
    ctx.step(
        "server",
        "verify: mobile kept Firefox's title and date; its child names it",
    );
    Ok(())
}
