//! Send Tab and Close Tabs between two `firefox-sync` profiles of one
//! Firefox Account, through our server's own accounts service and its command relay;
//! the clients-collection fallback for an old desktop Firefox; and the
//! devices that can take neither.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::Profile;
use sync_clients::Command as ClientCommand;
use test_support::{Device, TestAccount, TestServer};

const EMAIL: &str = "tabs@example.test";
const PASSWORD: &str = "a long enough password";

/// Our server with its accounts service (sign-ins not confirmed by code:
/// the prompts are the account tests' subject) and the account.
fn world() -> TestServer {
    let server = TestServer::with_accounts(|c| c.accounts.confirm_sign_ins = false);
    server.sign_up(EMAIL, PASSWORD).unwrap();
    server
}

fn signed_in(server: &TestServer, device: &str) -> Profile {
    let profile = Profile::new();
    profile
        .password_login_as(server.url(), server.url(), EMAIL, PASSWORD, device)
        .ok();
    profile
}

#[test]
fn two_profiles_send_and_close_tabs_through_the_account() {
    let server = world();
    let laptop = signed_in(&server, "Laptop");
    let desk = signed_in(&server, "Desk");

    let devices = laptop.run(&["--json", "devices"]).ok().json();
    let listed = devices.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{devices}");
    for d in listed {
        assert_eq!(d["receivesTabs"], true, "{d}");
        assert_eq!(d["closesTabs"], true, "{d}");
    }
    laptop.run(&["devices"]).ok().stdout_has("Laptop (this device)");

    let sent = laptop
        .run(&[
            "--json",
            "send-tab",
            "https://www.mozilla.org/firefox/",
            "--to",
            "desk",
            "--title",
            "Firefox",
        ])
        .ok()
        .json();
    assert_eq!(sent["via"], "send-tab", "{sent}");
    assert_eq!(sent["device"], "Desk");

    let synced = desk.run(&["sync"]).ok();
    synced.stdout_has("Tab received from Laptop: Firefox https://www.mozilla.org/firefox/");
    let received = desk.run(&["--json", "tabs", "received"]).ok().json();
    assert_eq!(received[0]["kind"], "tab", "{received}");
    assert_eq!(received[0]["from"], "Laptop");
    assert_eq!(received[0]["url"], "https://www.mozilla.org/firefox/");
    // Read once: the next sync brings nothing new.
    let again = desk.run(&["--json", "sync"]).ok().json();
    assert_eq!(again["received"], serde_json::json!([]), "{again}");
    desk.run(&["tabs", "received", "--clear"]).ok();
    assert_eq!(
        desk.run(&["--json", "tabs", "received"]).ok().json(),
        serde_json::json!([])
    );

    desk.run(&[
        "tabs",
        "close",
        "https://a.example/",
        "https://b.example/",
        "--on",
        "Laptop",
    ])
    .ok()
    .stdout_has("Asked Laptop to close 2 tab(s).");
    let synced = laptop.run(&["--json", "sync"]).ok().json();
    assert_eq!(synced["received"][0]["command"], "closeTabs", "{synced}");
    assert_eq!(
        synced["received"][0]["urls"],
        serde_json::json!(["https://a.example/", "https://b.example/"])
    );
}

#[test]
fn an_old_desktop_firefox_gets_the_clients_collection_and_others_are_refused() {
    let server = world();
    let laptop = signed_in(&server, "Laptop");

    // An old desktop Firefox: in the device list without commands, and in
    // the clients collection naming its FxA device id.
    let old_id = server
        .register_bare_device(EMAIL, PASSWORD, "Old Firefox", "desktop")
        .unwrap();
    let mut fxa = server.sign_in(EMAIL, PASSWORD).unwrap();
    let test_account = TestAccount::signed_in(&mut fxa, server.url()).unwrap();
    let mut old = Device::with_fxa_device_id("Old Firefox", &test_account, &old_id);
    old.sync();
    laptop.run(&["sync"]).ok();
    // The profile's own clients record names its Firefox Accounts device,
    // which Firefox's synced-tabs view needs to show its tabs.
    old.sync();
    let laptop_fxa_id = laptop.run(&["--json", "devices"]).ok().json()[0]["id"].clone();
    let listed = old.clients.devices().unwrap();
    let record = listed.iter().find(|d| d.name == "Laptop").unwrap();
    assert_eq!(
        record.fxa_device_id.as_deref(),
        laptop_fxa_id.as_str(),
        "{listed:?}"
    );
    let sent = laptop
        .run(&[
            "--json",
            "send-tab",
            "https://old.example/",
            "--to",
            "Old Firefox",
        ])
        .ok()
        .json();
    assert_eq!(sent["via"], "clients-collection", "{sent}");
    old.sync();
    let commands = old.clients.take_app_commands().unwrap();
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, ClientCommand::DisplayUri { uri, .. } if uri == "https://old.example/")),
        "{commands:?}"
    );

    // A phone that takes no commands gets nothing, and the person is told.
    server
        .register_bare_device(EMAIL, PASSWORD, "Old Phone", "mobile")
        .unwrap();
    laptop
        .run(&["send-tab", "https://x.example/", "--to", "Old Phone"])
        .failed_with(1)
        .stderr_has("Old Phone cannot receive tabs");
    laptop
        .run(&["tabs", "close", "https://x.example/", "--on", "Old Phone"])
        .failed_with(1)
        .stderr_has("cannot close tabs");
    laptop
        .run(&["send-tab", "https://x.example/", "--to", "toaster"])
        .failed_with(1)
        .stderr_has("no device \"toaster\"");
    laptop
        .run(&["tabs", "close", "not a url", "--on", "Old Phone"])
        .failed_with(1)
        .stderr_has("is not a URL");
}
