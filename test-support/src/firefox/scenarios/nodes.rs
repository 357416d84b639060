//! The operator moves the account: Firefox and our device both start over
//! on the new node, and nothing is lost.

use serde_json::json;
use sync_bookmarks::{MENU_GUID, NewItem};

use super::bookmarks::same_trees;
use super::logins::same_logins;
use super::{Ctx, FirefoxScenario};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "node reassignment: the account moves; Firefox and our device recover with everything",
        run: reassigned,
    }]
}

fn reassigned(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.menuGuid,
                                            title: "From Firefox", url: "https://firefox.example/"});
        const info = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
        info.init("https://firefox.example", "https://firefox.example", null, "me", "secret", "u", "p");
        await Services.logins.addLoginAsync(info);
        return null;
        "#,
        json!([]),
    )?;
    ctx.sync_firefox("F")?;
    ctx.device("A")?
        .bookmarks
        .insert(
            MENU_GUID,
            None,
            NewItem::Bookmark {
                url: "https://ours.example/".into(),
                title: "From us".into(),
            },
        )
        .map_err(|e| e.to_string())?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    same_trees(ctx, "F", "A")?;

    let fxa_uid = ctx.world.account()?.fxa_uid;
    let node = ctx.world.server.url().to_owned();
    ctx.world
        .server
        .db()
        .reassign_node(&fxa_uid, &node)
        .map_err(|e| e.to_string())?
        .ok_or("the account has no user to move")?;
    ctx.step("server", "move the account: a new, empty uid");

    // Each side learns of the move from a 401 and starts over.
    ctx.sync_firefox_until_ok("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let tree = same_trees(ctx, "F", "A")?;
    super::check(
        tree.contains("From Firefox<") && tree.contains("From us<"),
        format!("a bookmark was lost in the move:\n{tree}"),
    )?;
    same_logins(ctx, "F", "A")?;
    Ok(())
}
