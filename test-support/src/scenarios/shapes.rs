//! Records exactly as Firefox desktop and application-services (Firefox
//! Android and iOS) write them: the details our own client never produces,
//! so that only records shaped by Mozilla's code can show whether we keep
//! what came in and write what Firefox writes.

use serde_json::{Value, json};
use sync_bookmarks::MOBILE_GUID;
use sync_history::VisitTransition;
use sync_logins::LoginEntry;

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "shapes: Firefox's bookmark roots and dates survive our uploads",
            firefox_bookmark_roots_and_dates,
        ),
        scenario(
            "shapes: a login as application-services writes it keeps the fields we do not know",
            mobile_login_round_trips,
        ),
        scenario(
            "shapes: application-services' tombstones, which carry no id, delete here",
            tombstones_without_ids,
        ),
    ]
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

/// A login as application-services uploads it (`LoginPayload`): no
/// `httpRealm` for a form login (skipped when `None`), times in ms,
/// `timeLastBreachAlertDismissed` (which this code does not know), and a
/// field from some newer client.
fn mobile_login_round_trips(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.sync("A")?;
    let login = json!({"id": "{5f2b1a2c-0000-4000-8000-0000000000aa}", "hostname": "https://bank.example",
                       "formSubmitURL": "https://bank.example", "usernameField": "user", "passwordField": "pass",
                       "username": "me", "password": "old secret", "timeCreated": 1_700_000_000_000_i64,
                       "timePasswordChanged": 1_700_000_000_000_i64, "timeLastUsed": 1_700_000_500_000_i64,
                       "timesUsed": 3, "timeLastBreachAlertDismissed": 1_700_000_900_000_i64,
                       "someFutureField": {"kept": true}});
    let id = login["id"].as_str().unwrap_or_default().to_owned();
    ctx.account.put_cleartext("passwords", &login);
    ctx.step("mobile", "upload a login as application-services writes it");
    ctx.sync("A")?;
    let logins = ctx.logins("A")?;
    let stored = logins.get(&id).map_err(fail)?.ok_or("A lacks the login")?;
    check(
        stored.entry.password == "old secret" && stored.times_used == 3,
        format!("{stored:?}"),
    )?;
    logins
        .update(
            &id,
            LoginEntry {
                password: "new secret".into(),
                ..stored.entry
            },
        )
        .map_err(fail)?;
    ctx.step("A", "change the password");
    ctx.sync("A")?;
    let record = ctx
        .account
        .cleartext("passwords", &id)
        .ok_or("the login left the server")?;
    check(
        record["password"] == json!("new secret")
            && record["timeLastBreachAlertDismissed"] == json!(1_700_000_900_000_i64)
            && record["someFutureField"] == json!({"kept": true})
            && record.get("httpRealm").is_none_or(Value::is_null),
        format!("the login as we uploaded it: {record}"),
    )?;
    ctx.step(
        "server",
        "verify: the new password, with the fields we do not know",
    );
    Ok(())
}

/// application-services writes a tombstone as `{"deleted": true}`, with no
/// `id` (`OutgoingBso::new_tombstone`): the BSO's id says which record.
fn tombstones_without_ids(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    let login = ctx
        .logins("A")?
        .add(LoginEntry {
            origin: "https://gone.example".into(),
            form_action_origin: Some("https://gone.example".into()),
            http_realm: None,
            username_field: "u".into(),
            password_field: "p".into(),
            username: "me".into(),
            password: "secret".into(),
        })
        .map_err(fail)?;
    let url = "https://gone.example/page";
    let visited = super::now_us() - 3_600_000_000;
    ctx.history("A")?
        .record_visit(url, visited, VisitTransition::Link)
        .map_err(fail)?;
    let bookmark = ctx
        .bookmarks("A")?
        .insert(
            MOBILE_GUID,
            None,
            sync_bookmarks::NewItem::Bookmark {
                url: url.into(),
                title: "Gone".into(),
            },
        )
        .map_err(fail)?;
    ctx.step("A", "a login, a visited page and a bookmark");
    ctx.sync("A")?;
    let page = ctx
        .history("A")?
        .get_page(url)
        .map_err(fail)?
        .ok_or("A lacks the page")?
        .guid
        .to_string();

    for (collection, id) in [
        ("passwords", login.guid.to_string()),
        ("history", page),
        ("bookmarks", bookmark.to_string()),
    ] {
        ctx.account
            .put_cleartext_text(collection, &id, r#"{"deleted":true}"#);
    }
    // The mobile root, as the phone uploads it after the deletion.
    ctx.account
        .put_cleartext("bookmarks", &firefox_root("mobile", &[]));
    ctx.step("mobile", "delete all three: tombstones without ids");
    let result = ctx.sync("A")?;
    for engine in ["passwords", "history", "bookmarks"] {
        let failed = result.engines[engine].incoming_failed;
        check(failed == 0, format!("{engine}: {failed} records failed"))?;
    }
    check(
        ctx.logins("A")?.get(login.guid.as_str()).map_err(fail)?.is_none(),
        "the login is still here",
    )?;
    check(
        ctx.history("A")?.get_page(url).map_err(fail)?.is_none(),
        "the page is still here",
    )?;
    check(
        ctx.bookmarks("A")?
            .get(bookmark.as_str())
            .map_err(fail)?
            .is_none(),
        "the bookmark is still here",
    )?;
    ctx.step("A", "verify: all three gone, nothing failed");
    Ok(())
}
