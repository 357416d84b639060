//! The device list and device commands between two of our clients through
//! the service: Send Tab and Close Tabs end to end (encrypted on one
//! device, decrypted on the other; the service relays ciphertext), the
//! attached clients, and signing a device out.

use crate::common;

use common::Server;
use fxa_client::IncomingCommand;
use serde_json::json;

#[test]
fn a_tab_sent_from_one_device_arrives_on_the_other() {
    let server = Server::start();
    let mut laptop = server.signed_up("ann@example.com", "pw");
    laptop
        .register_device("Ann's laptop", "desktop")
        .expect("registered");
    let mut phone = server.fxa();
    phone.sign_in("ann@example.com", "pw").expect("sign-in");
    phone
        .verify_email_code(&server.code("ann@example.com"))
        .expect("confirmed");
    phone
        .register_device("Ann's phone", "mobile")
        .expect("registered");

    let devices = laptop.devices().expect("the list");
    assert_eq!(devices.len(), 2);
    let target = devices
        .iter()
        .find(|d| d.name == "Ann's phone")
        .expect("the phone");
    assert!(target.can_receive_tabs() && target.can_close_tabs());
    laptop
        .send_tab(target, "https://example.com/a", "A page")
        .expect("sent");
    laptop
        .close_tabs(target, &["https://example.com/old".to_owned()])
        .expect("sent");

    let received = phone.poll_commands().expect("polled");
    assert_eq!(received.len(), 2, "{received:?}");
    match &received[0] {
        IncomingCommand::TabReceived { sender, url, title } => {
            assert_eq!(url, "https://example.com/a");
            assert_eq!(title, "A page");
            assert_eq!(
                sender.as_ref().and_then(|s| s.name.as_deref()),
                Some("Ann's laptop")
            );
        }
        other => panic!("not a tab: {other:?}"),
    }
    assert!(
        matches!(&received[1], IncomingCommand::TabsClosed { urls, .. } if urls == &["https://example.com/old"])
    );
    assert!(
        phone.poll_commands().expect("polled").is_empty(),
        "each command once"
    );
}

#[test]
fn commands_refused_for_unknown_devices_and_unadvertised_commands() {
    let server = Server::start();
    let mut fxa = server.signed_up("bob@example.com", "pw");
    fxa.register_device("Bob's laptop", "desktop")
        .expect("registered");
    let (_, session) = server.raw_session("bob@example.com", "pw");
    let send = |target: &str, command: &str| {
        server.hawk(
            "POST",
            "/v1/account/devices/invoke_command",
            "sessionToken",
            &session,
            Some(&json!({ "target": target, "command": command, "payload": { "encrypted": "x" } })),
        )
    };
    let (status, body) = send(
        "00000000000000000000000000000000",
        "https://identity.mozilla.com/cmd/open-uri",
    );
    assert_eq!((status, body["errno"].as_u64()), (400, Some(123)));
    let own = fxa.devices().expect("list")[0].id.clone();
    let (status, body) = send(&own, "https://identity.mozilla.com/cmd/not-a-command");
    assert_eq!((status, body["errno"].as_u64()), (400, Some(157)));
    let (status, body) = server.hawk(
        "GET",
        "/v1/account/device/commands?index=0&limit=1000",
        "sessionToken",
        &session,
        None,
    );
    assert_eq!((status, body["errno"].as_u64()), (400, Some(107)));
}

#[test]
fn attached_clients_and_signing_a_device_out() {
    let server = Server::start();
    let mut laptop = server.signed_up("cy@example.com", "pw");
    laptop.register_device("Laptop", "desktop").expect("registered");
    let mut phone = server.fxa();
    phone.sign_in("cy@example.com", "pw").expect("sign-in");
    phone
        .verify_email_code(&server.code("cy@example.com"))
        .expect("confirmed");
    phone.register_device("Phone", "mobile").expect("registered");
    let (_, session) = server.raw_session("cy@example.com", "pw");

    let (status, clients) = server.hawk(
        "GET",
        "/v1/account/attached_clients",
        "sessionToken",
        &session,
        None,
    );
    assert_eq!(status, 200);
    let clients = clients.as_array().expect("a list").clone();
    let names: Vec<&str> = clients.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(names.contains(&"Laptop") && names.contains(&"Phone"), "{names:?}");
    assert_eq!(
        clients
            .iter()
            .filter(|c| c["isCurrentSession"] == json!(true))
            .count(),
        1
    );
    // Refresh tokens (one per signed-in client) are listed with their client.
    assert!(clients.iter().any(|c| c["clientId"] == json!("5882386c6d801776")));

    // Signing the phone out ends its session: it can no longer list devices.
    let phone_id = phone.state().expect("state").device.clone().expect("device").id;
    let (status, _) = server.hawk(
        "POST",
        "/v1/account/device/destroy",
        "sessionToken",
        &session,
        Some(&json!({ "id": phone_id })),
    );
    assert_eq!(status, 200);
    assert!(matches!(phone.devices(), Err(fxa_client::FxaError::InvalidToken)));
    assert_eq!(laptop.devices().expect("list").len(), 1);
}
