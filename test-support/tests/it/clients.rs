//! The clients engine through the real manager and server.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;
use sync_clients::{Command, LocalDevice};
use sync_manager::ServiceStatus;
use test_support::{Device, TestServer, ToyEngine};

#[test]
fn devices_see_each_other() {
    let server = TestServer::start();
    let account = server.new_account("devices@example.com");
    let mut laptop = Device::new("Laptop", &account);
    let mut phone = Device::new("Phone", &account);
    assert_eq!(laptop.sync().status, ServiceStatus::Ok);
    assert_eq!(phone.sync().status, ServiceStatus::Ok);
    laptop.sync();

    let seen_by_laptop = laptop.clients.devices().unwrap();
    assert_eq!(seen_by_laptop.len(), 1);
    assert_eq!(seen_by_laptop[0].name, "Phone");
    assert_eq!(
        seen_by_laptop[0].id,
        phone.clients.client_id().unwrap().to_string()
    );
    assert_eq!(phone.clients.devices().unwrap()[0].name, "Laptop");

    // The records on the server are Firefox's format, encrypted.
    let raw = account.raw();
    assert_eq!(raw.bsos("clients").len(), 2);
    assert!(raw.bsos("clients").iter().all(|b| !b.payload.contains("Laptop")));

    // A rename travels; an unchanged device uploads nothing.
    let quiet = phone.sync();
    assert_eq!(quiet.requests, 1);
    phone
        .clients
        .set_local_device(&LocalDevice {
            name: "Phone (work)".into(),
            device_type: "mobile".into(),
            os: None,
            application: None,
            version: None,
            fxa_device_id: None,
        })
        .unwrap();
    assert_eq!(phone.sync().engines["clients"].uploaded, 1);
    laptop.sync();
    let renamed = &laptop.clients.devices().unwrap()[0];
    assert_eq!(
        (renamed.name.as_str(), renamed.device_type.as_str()),
        ("Phone (work)", "mobile")
    );
}

#[test]
fn wipe_engine_command_wipes_and_redownloads_on_the_target() {
    let server = TestServer::start();
    let account = server.new_account("wipe@example.com");
    let a_toys = Arc::new(ToyEngine::new("toys"));
    let b_toys = Arc::new(ToyEngine::new("toys"));
    a_toys.set("aaaaaaaaaaaa", json!({"v": 1}));
    let mut a = Device::new("A", &account).with_engine(a_toys.clone());
    let mut b = Device::new("B", &account).with_engine(b_toys.clone());
    a.sync();
    b.sync();
    a.sync();
    // B has something local that never went up… and then is told to wipe.
    b_toys.set("bbbbbbbbbbbb", json!({"local only": true}));
    let b_id = b.clients.client_id().unwrap().to_string();
    a.clients
        .send_command(&b_id, &Command::WipeEngine("toys".into()))
        .unwrap();
    // Sending twice is one command.
    a.clients
        .send_command(&b_id, &Command::WipeEngine("toys".into()))
        .unwrap();
    assert_eq!(a.sync().status, ServiceStatus::Ok);

    let on_b = b.sync();
    assert_eq!(on_b.status, ServiceStatus::Ok, "{:?}", on_b.error);
    assert_eq!(b_toys.wipes(), 1, "one wipe for a command sent twice");
    assert_eq!(b_toys.ids(), ["aaaaaaaaaaaa"], "wiped, then downloaded again");
    // B removed the command from its record after running it.
    let b_record = account
        .raw()
        .bso("clients", &b_id)
        .map(|bso| bso.payload)
        .unwrap();
    assert!(!b_record.is_empty());
    assert!(
        b.sync().engines["clients"].uploaded == 0,
        "the command does not come back"
    );
    assert_eq!(b_toys.wipes(), 1);
}

#[test]
fn display_uri_reaches_the_app_once() {
    let server = TestServer::start();
    let account = server.new_account("uri@example.com");
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account);
    a.sync();
    b.sync();
    a.sync();
    let b_id = b.clients.client_id().unwrap().to_string();
    let command = Command::DisplayUri {
        uri: "https://example.com/".into(),
        sender: a.clients.client_id().unwrap().to_string(),
        title: "Example".into(),
    };
    a.clients.send_command(&b_id, &command).unwrap();
    a.sync();
    b.sync();
    assert_eq!(b.clients.take_app_commands().unwrap(), [command]);
    assert!(b.clients.take_app_commands().unwrap().is_empty(), "taken once");
    assert!(
        a.clients
            .send_command("no-such-device", &Command::Logout)
            .is_err()
    );
}

#[test]
fn reset_all_resets_every_engine_but_keeps_data() {
    let server = TestServer::start();
    let account = server.new_account("resetall@example.com");
    let b_toys = Arc::new(ToyEngine::new("toys"));
    let mut a = Device::new("A", &account);
    let mut b = Device::new("B", &account).with_engine(b_toys.clone());
    b_toys.set("bbbbbbbbbbbb", json!({}));
    a.sync();
    b.sync();
    a.sync();
    let resets_before = b_toys.resets();
    a.clients
        .send_command(b.clients.client_id().unwrap().as_str(), &Command::ResetAll)
        .unwrap();
    a.sync();
    assert_eq!(b.sync().status, ServiceStatus::Ok);
    assert_eq!(b_toys.resets(), resets_before + 1);
    assert_eq!(b_toys.ids(), ["bbbbbbbbbbbb"]);
}

#[test]
fn records_are_trimmed_to_the_servers_payload_limit() {
    let server = TestServer::start_with(|c| c.limits.max_record_payload_bytes = 4096);
    let account = server.new_account("small-records@example.com");
    let mut laptop = Device::new("Laptop", &account);
    let mut phone = Device::new("Phone", &account);
    assert_eq!(laptop.sync().status, ServiceStatus::Ok);
    assert_eq!(phone.sync().status, ServiceStatus::Ok);
    laptop.sync();
    let phone_id = phone.clients.client_id().unwrap().to_string();
    let sender = laptop.clients.client_id().unwrap().to_string();
    for i in 0..200 {
        let command = Command::DisplayUri {
            uri: format!("https://example.com/tab/{i}"),
            sender: sender.clone(),
            title: format!("Tab number {i}"),
        };
        laptop.clients.send_command(&phone_id, &command).unwrap();
    }
    // A name far over the limit.
    let mut long = laptop.clients.local_device().unwrap();
    long.name = "Laptop with a very long name ".repeat(400);
    laptop.clients.set_local_device(&long).unwrap();
    let result = laptop.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
    assert_eq!(result.engines["clients"].outgoing_failed, 0, "every record fit");

    phone.sync();
    let received = phone.clients.take_app_commands().unwrap();
    assert!(!received.is_empty() && received.len() < 200, "{}", received.len());
    assert!(
        received
            .iter()
            .any(|c| matches!(c, Command::DisplayUri { uri, .. } if uri == "https://example.com/tab/199")),
        "the newest tab arrives: {:?}",
        received.last()
    );
    let laptop_seen = phone.clients.devices().unwrap();
    assert!(
        laptop_seen[0].name.starts_with("Laptop with a very long name"),
        "{:?}",
        laptop_seen[0].name
    );
    assert!(laptop_seen[0].name.len() < long.name.len());
}
