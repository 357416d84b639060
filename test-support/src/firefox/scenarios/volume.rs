//! Many records, and syncs with nothing to do.

use serde_json::json;

use super::bookmarks::{firefox_tree, same_trees};
use super::logins::{firefox_logins, same_logins};
use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![
        FirefoxScenario {
            name: "volume: 2,000 bookmarks and 500 logins from Firefox reach a new Firefox and our device",
            run: volume,
        },
        FirefoxScenario {
            name: "idle: a sync with nothing to do writes only Firefox's own tabs record",
            run: idle,
        },
    ]
}

const FOLDERS: usize = 20;
const PER_FOLDER: usize = 100;
const LOGINS: usize = 500;

fn volume(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        const [folders, perFolder, logins] = arguments;
        const B = PlacesUtils.bookmarks;
        const children = [];
        for (let f = 0; f < folders; f++) {
            const kids = [];
            for (let b = 0; b < perFolder; b++) {
                kids.push({title: `Bookmark ${f}.${b} ✓`, url: `https://volume.example/${f}/${b}`});
            }
            children.push({title: `Folder ${f}`, type: B.TYPE_FOLDER, children: kids});
        }
        await B.insertTree({guid: B.menuGuid, children});
        const infos = [];
        for (let i = 0; i < logins; i++) {
            const info = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
            info.init(`https://site${i}.example`, `https://site${i}.example`, null, `user${i}`,
                      `password ${i}`, "u", "p");
            infos.push(info);
        }
        await Services.logins.addLogins(infos);
        return null;
        "#,
        json!([FOLDERS, PER_FOLDER, LOGINS]),
    )?;
    ctx.step("F", "20 folders of 100 bookmarks, 500 logins");
    ctx.sync_firefox("F")?;
    ctx.sync_firefox("G")?;
    let (f, g) = (firefox_tree(ctx, "F")?, firefox_tree(ctx, "G")?);
    check(f == g, format!("G's tree differs from F's:\nF:\n{f}\nG:\n{g}"))?;
    let (f_logins, g_logins) = (firefox_logins(ctx, "F")?, firefox_logins(ctx, "G")?);
    check(
        f_logins.len() == LOGINS && f_logins == g_logins,
        format!("F has {} logins, G {}", f_logins.len(), g_logins.len()),
    )?;
    ctx.step("F, G", "verify: a new Firefox has every bookmark and login");
    ctx.sync_device("A")?;
    let tree = same_trees(ctx, "F", "A")?;
    check(
        tree.matches("Bookmark ").count() == FOLDERS * PER_FOLDER,
        "A is missing bookmarks",
    )?;
    same_logins(ctx, "F", "A")?;
    Ok(())
}

fn idle(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.toolbarGuid,
                                            title: "Idle", url: "https://idle.example/"});
        return null;
        "#,
        json!([]),
    )?;
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.step("F, A", "both in step");

    let before = ctx.world.writes_served()?;
    ctx.sync_firefox("F")?;
    let firefox_writes = ctx.world.writes_served()? - before;
    // Firefox re-uploads its tabs record on every sync, changed or not.
    check(
        firefox_writes <= 1,
        format!("Firefox's idle sync wrote {firefox_writes} times"),
    )?;
    let before = ctx.world.writes_served()?;
    let ours = ctx.sync_device("A")?;
    let our_writes = ctx.world.writes_served()? - before;
    let uploaded: usize = ours.engines.values().map(|r| r.uploaded).sum();
    check(
        our_writes == 0 && uploaded == 0,
        format!("our idle sync wrote {our_writes} times, {uploaded} records"),
    )?;
    check(
        ours.requests <= 3,
        format!("our idle sync took {} requests", ours.requests),
    )?;
    ctx.step(
        "F, A",
        &format!(
            "verify: idle syncs wrote {firefox_writes} (Firefox) and {our_writes} (ours) times, \
             ours in {} requests",
            ours.requests
        ),
    );
    Ok(())
}
