//! Open tabs and the device list between real Firefox and our devices.

use serde_json::{Value, json};
use sync_tabs::LocalTab;

use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "tabs and devices: each side lists the other's tabs and name, renames both ways",
        run: tabs_and_devices,
    }]
}

/// Opens `urls` in tabs and waits until each has loaded.
pub(super) const FIREFOX_OPEN_TABS: &str = r#"
    const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
    const [urls] = arguments;
    const win = Services.wm.getMostRecentWindow("navigator:browser");
    const principal = Services.scriptSecurityManager.getSystemPrincipal();
    const tabs = urls.map(url => win.gBrowser.addTab(url, {triggeringPrincipal: principal}));
    const deadline = Date.now() + 30000;
    for (const [i, tab] of tabs.entries()) {
        while (tab.linkedBrowser.currentURI?.spec != urls[i]) {
            if (Date.now() > deadline) throw new Error(`${urls[i]} did not load`);
            await new Promise(resolve => setTimeout(resolve, 50));
        }
    }
    return null;
"#;

/// What Firefox's synced-tabs view lists: `[{name, urls: […]}]`.
pub(super) const FIREFOX_SYNCED_TABS: &str = r#"
    const { SyncedTabs } = ChromeUtils.importESModule("resource://services-sync/SyncedTabs.sys.mjs");
    const clients = await SyncedTabs.getTabClients();
    return clients.map(c => ({name: c.name, urls: c.tabs.map(t => t.url)}));
"#;

/// The other devices Firefox's clients engine knows: `[{name, type, fxaDeviceId}]`.
const FIREFOX_DEVICES: &str = r#"
    const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
    return Weave.Service.clientsEngine.remoteClients
        .map(c => ({name: c.name, type: c.type, fxaDeviceId: c.fxaDeviceId ?? null}));
"#;

fn tabs_and_devices(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let base = ctx.world.server.url().to_owned();
    let firefox_urls = [format!("{base}/__lbheartbeat__"), format!("{base}/__version__")];
    ctx.firefox("F")?.js(FIREFOX_OPEN_TABS, json!([firefox_urls]))?;
    ctx.step("F", "open two tabs");
    ctx.sync_firefox("F")?;
    let now_ms = crate::scenarios::now_us() / 1000;
    ctx.device("A")?
        .tabs
        .set_local_tabs(vec![LocalTab {
            title: "Ours ✓".into(),
            url_history: vec!["https://ours.example/one".into()],
            icon: None,
            last_used_ms: now_ms,
            pinned: false,
            inactive: false,
        }])
        .map_err(|e| e.to_string())?;
    ctx.step("A", "one tab open");
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;

    let theirs = ctx.device("A")?.tabs.remote_tabs().map_err(|e| e.to_string())?;
    let firefox = theirs
        .iter()
        .find(|c| c.device_name == "F")
        .ok_or_else(|| format!("A does not list F's tabs: {theirs:?}"))?;
    let urls: Vec<&str> = firefox
        .tabs
        .iter()
        .filter_map(|t| t.url_history.first().map(String::as_str))
        .collect();
    check(
        firefox_urls.iter().all(|u| urls.contains(&u.as_str())),
        format!("A lists F's tabs as {urls:?}"),
    )?;
    let synced = ctx.firefox("F")?.js(FIREFOX_SYNCED_TABS, json!([]))?;
    let ours = synced
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "A")
        .ok_or_else(|| format!("Firefox's synced tabs do not list A: {synced}"))?;
    check(
        ours["urls"] == json!(["https://ours.example/one"]),
        format!("Firefox lists A's tabs as {ours}"),
    )?;
    ctx.step("F, A", "verify: each lists the other's tabs");

    // The device list: names and types, then a rename on each side.
    check_devices(ctx, "F", "A")?;
    ctx.firefox("F")?.js(
        r#"
        const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
        Weave.Service.clientsEngine.localName = "F renamed ✓";
        return null;
        "#,
        json!([]),
    )?;
    let clients = ctx.device("A")?.clients.clone();
    let mut local = clients.local_device().map_err(|e| e.to_string())?;
    local.name = "A renamed ✓".into();
    clients.set_local_device(&local).map_err(|e| e.to_string())?;
    ctx.step("F, A", "both rename themselves");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    check_devices(ctx, "F renamed ✓", "A renamed ✓")
}

/// Firefox (named `firefox`) and our device (named `ours`) list each other.
fn check_devices(ctx: &mut Ctx<'_>, firefox: &str, ours: &str) -> Result<(), String> {
    let fxa_device_id = ctx
        .device("A")?
        .clients
        .local_device()
        .map_err(|e| e.to_string())?
        .fxa_device_id;
    let listed = ctx.firefox("F")?.js(FIREFOX_DEVICES, json!([]))?;
    let expected: Value = json!([{"name": ours, "type": "desktop", "fxaDeviceId": fxa_device_id}]);
    check(
        listed == expected,
        format!("Firefox lists the devices as {listed}, expected {expected}"),
    )?;
    let devices = ctx.device("A")?.clients.devices().map_err(|e| e.to_string())?;
    check(
        devices.len() == 1 && devices[0].name == firefox && devices[0].device_type == "desktop",
        format!("A lists the devices as {devices:?}"),
    )?;
    ctx.step(
        "F, A",
        &format!("verify: each lists the other, {firefox:?} and {ours:?}"),
    );
    Ok(())
}
