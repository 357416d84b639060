//! What other devices did, through the account: their history, their open
//! tabs, the device list, and a tab sent to one of them. The other device
//! is the test-support simulator, syncing through the same server.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::Profile;
use sync_clients::Command as ClientCommand;
use sync_history::VisitTransition;
use sync_tabs::LocalTab;
use test_support::{Device, TestServer};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn history_tabs_devices_and_a_tab_sent_to_a_phone() {
    let server = TestServer::start();
    let account = server.new_account("devices@example.test");
    let mut phone = Device::new("Pixel", &account);
    let now = now_ms();
    let day_us = 86_400_000_000_i64;
    for (url, days_ago) in [
        ("https://old.example/", 20),
        ("https://recent.example/page", 1),
        ("https://today.example/", 0),
    ] {
        phone
            .history
            .record_visit(url, now * 1000 - days_ago * day_us, VisitTransition::Link)
            .unwrap();
    }
    phone
        .history
        .set_title("https://today.example/", "Today's news")
        .unwrap();
    phone
        .tabs
        .set_local_tabs(vec![
            LocalTab {
                title: "Maps".into(),
                url_history: vec!["https://maps.example/here".into()],
                icon: None,
                last_used_ms: now - 1000,
                pinned: false,
                inactive: false,
            },
            LocalTab {
                title: "Recipe".into(),
                url_history: vec!["https://food.example/soup".into(), "https://food.example/".into()],
                icon: None,
                last_used_ms: now - 5000,
                pinned: true,
                inactive: false,
            },
        ])
        .unwrap();
    assert_eq!(phone.sync().status, sync_manager::ServiceStatus::Ok);

    let profile = Profile::new();
    profile.token_login(&account, "cli").ok();
    profile.run(&["sync"]).ok();

    let recent = profile
        .run(&["--json", "history", "list", "--since", "7d"])
        .ok()
        .json();
    let urls: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://today.example/", "https://recent.example/page"]);
    let searched = profile
        .run(&["--json", "history", "list", "--search", "news"])
        .ok()
        .json();
    assert_eq!(searched[0]["title"], "Today's news", "{searched}");
    let all = profile.run(&["history", "list"]).ok();
    all.stdout_has("https://old.example/");
    profile
        .run(&["history", "list", "--since", "last tuesday"])
        .failed_with(1)
        .stderr_has("neither a date nor a time ago");

    let tabs = profile.run(&["--json", "tabs", "list"]).ok().json();
    assert_eq!(tabs[0]["device"], "Pixel", "{tabs}");
    assert_eq!(tabs[0]["tabs"][0]["url"], "https://maps.example/here", "{tabs}");
    assert_eq!(
        tabs[0]["tabs"][1]["urlHistory"][1], "https://food.example/",
        "{tabs}"
    );
    let table = profile.run(&["tabs", "list"]).ok();
    assert!(
        table.stdout.starts_with("Pixel (desktop, as of "),
        "{}",
        table.stdout
    );
    table.stdout_has("https://food.example/soup");

    let devices = profile.run(&["devices"]).ok();
    assert!(
        devices.stdout.contains("cli (this device)") && devices.stdout.contains("Pixel"),
        "{}",
        devices.stdout
    );

    let sent = profile
        .run(&[
            "--json",
            "send-tab",
            "https://www.mozilla.org/firefox/",
            "--to",
            "pixel",
            "--title",
            "Firefox",
        ])
        .ok()
        .json();
    assert_eq!(sent["device"], "Pixel", "{sent}");
    assert_eq!(sent["via"], "clients-collection", "{sent}");
    phone.sync();
    let commands = phone.clients.take_app_commands().unwrap();
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, ClientCommand::DisplayUri { uri, title, .. }
            if uri == "https://www.mozilla.org/firefox/" && title == "Firefox")),
        "{commands:?}"
    );

    let missing = profile
        .run(&["send-tab", "https://x.example/", "--to", "toaster"])
        .failed_with(1);
    missing.stderr_has("no device \"toaster\"");
}
