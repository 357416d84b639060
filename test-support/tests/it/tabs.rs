//! The tabs engine through the real manager and server, with records
//! written by other (older, newer) clients.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use sync_manager::ServiceStatus;
use sync_tabs::LocalTab;
use test_support::{Device, TestServer};

fn synced(device: &mut Device) {
    let result = device.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
}

#[test]
fn records_from_other_clients_are_read_leniently_and_our_own_keeps_unknown_fields() {
    let server = TestServer::start();
    let account = server.new_account("tabs@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);

    // B's record as an older Firefox (string lastUsed) and a newer one
    // (float lastUsed, extra fields) would write it.
    let b_id = b.clients.client_id().unwrap().to_string();
    account.put_cleartext(
        "tabs",
        &json!({"id": b_id, "clientName": "B", "tabs": [
            {"title": "old", "urlHistory": ["https://old.example/"], "icon": null, "lastUsed": "1700000000"},
            {"title": "new", "urlHistory": ["https://new.example/"], "icon": null, "lastUsed": 1700000100.5,
             "inactive": true, "tabGroup": "work"}
        ], "nextGen": 2}),
    );
    // A's own record, rewritten by a newer version of A with a new field.
    let a_id = a.clients.client_id().unwrap().to_string();
    account.put_cleartext(
        "tabs",
        &json!({"id": a_id, "clientName": "A", "tabs": [], "fromTheFuture": true}),
    );
    synced(&mut a);

    let remote = a.tabs.remote_tabs().unwrap();
    assert_eq!(remote.len(), 1);
    let times: Vec<i64> = remote[0].tabs.iter().map(|t| t.last_used_ms).collect();
    assert_eq!(times, [1_700_000_100_000, 1_700_000_000_000]);
    assert!(remote[0].tabs[0].inactive);

    a.tabs
        .set_local_tabs(vec![LocalTab {
            title: "t".into(),
            url_history: vec!["https://a.example/".into()],
            icon: Some("https://a.example/favicon.ico".into()),
            last_used_ms: 1_700_000_200_000,
            pinned: false,
            inactive: false,
        }])
        .unwrap();
    synced(&mut a);
    let own = account.cleartext("tabs", &a_id).unwrap();
    assert_eq!(own["fromTheFuture"], json!(true), "{own}");
    assert_eq!(own["tabs"][0]["lastUsed"], json!(1_700_000_200));
    assert_eq!(own["tabs"][0]["icon"], json!("https://a.example/favicon.ico"));
}

#[test]
fn a_device_that_leaves_the_device_list_leaves_the_tabs_list() {
    let server = TestServer::start();
    let account = server.new_account("tabs-gone@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    b.tabs
        .set_local_tabs(vec![LocalTab {
            title: "b".into(),
            url_history: vec!["https://b.example/".into()],
            icon: None,
            last_used_ms: 1_700_000_000_000,
            pinned: false,
            inactive: false,
        }])
        .unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(a.tabs.remote_tabs().unwrap().len(), 1);

    // B disconnects: its clients record is deleted from the server.
    let b_id = b.clients.client_id().unwrap().to_string();
    account.put_cleartext("clients", &json!({"id": b_id, "deleted": true}));
    synced(&mut a);
    assert!(a.tabs.remote_tabs().unwrap().is_empty());
}
