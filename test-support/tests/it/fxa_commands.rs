//! Device commands end to end over loopback: two devices of one account,
//! each a `fxa-client` signed in to the stand-in accounts service, send
//! tabs and close tabs to each other through its relay — and what a
//! client must refuse or skip: devices that take no commands, keys sealed
//! under other sync keys, malformed, undecryptable, unknown, expired and
//! replayed commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fxa_client::{
    AccountState, CLOSE_TABS, CommandSender, Device, FirefoxAccount, FxaConfig, FxaError, IncomingCommand,
    SEND_TAB, SignInStatus,
};
use serde_json::json;
use test_support::accounts::{AccountOptions, StandInAccounts};

const EMAIL: &str = "commands@example.com";
const PASSWORD: &str = "correct horse battery staple";

fn signed_in(accounts: &StandInAccounts, name: &str, device_type: &str) -> FirefoxAccount {
    let mut fxa = FirefoxAccount::new(FxaConfig::new(&accounts.url())).unwrap();
    assert_eq!(fxa.sign_in(EMAIL, PASSWORD).unwrap(), SignInStatus::SignedIn);
    fxa.register_device(name, device_type).unwrap();
    fxa
}

fn world() -> (StandInAccounts, FirefoxAccount, FirefoxAccount) {
    let accounts = StandInAccounts::start();
    accounts.create_account(EMAIL, PASSWORD, AccountOptions::default());
    let laptop = signed_in(&accounts, "Laptop", "desktop");
    let phone = signed_in(&accounts, "Phone", "mobile");
    (accounts, laptop, phone)
}

/// `of`'s view of the device called `name`.
fn device(of: &FirefoxAccount, name: &str) -> Device {
    of.devices()
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no device {name}"))
}

fn own_id(fxa: &FirefoxAccount) -> String {
    fxa.state().unwrap().device.as_ref().unwrap().id.clone()
}

#[test]
fn two_devices_send_and_close_tabs_both_ways() {
    let (_accounts, mut laptop, mut phone) = world();
    let listed = laptop.devices().unwrap();
    assert_eq!(listed.len(), 2);
    for d in &listed {
        assert!(d.can_receive_tabs() && d.can_close_tabs(), "{d:?}");
        assert_eq!(d.is_current, d.name == "Laptop");
    }
    assert!(
        !laptop.ensure_device_commands().unwrap(),
        "just registered: nothing to do"
    );

    laptop
        .send_tab(&device(&laptop, "Phone"), "https://example.com/a", "Page A")
        .unwrap();
    phone
        .send_tab(&device(&phone, "Laptop"), "https://example.com/b", "Page B")
        .unwrap();
    let at_phone = phone.poll_commands().unwrap();
    assert_eq!(
        at_phone,
        [IncomingCommand::TabReceived {
            sender: Some(CommandSender {
                id: own_id(&laptop),
                name: Some("Laptop".into())
            }),
            title: "Page A".into(),
            url: "https://example.com/a".into(),
        }]
    );
    assert!(phone.poll_commands().unwrap().is_empty(), "read once");
    assert!(matches!(
        &laptop.poll_commands().unwrap()[..],
        [IncomingCommand::TabReceived { url, .. }] if url == "https://example.com/b"
    ));

    // Closing tabs: two URLs one way; the other way, 600 long URLs, which
    // Firefox's 16 KiB per command splits into several commands.
    laptop
        .close_tabs(
            &device(&laptop, "Phone"),
            &["https://example.com/a".into(), "https://example.com/c".into()],
        )
        .unwrap();
    assert!(matches!(
        &phone.poll_commands().unwrap()[..],
        [IncomingCommand::TabsClosed { urls, sender: Some(s) }] if urls.len() == 2 && s.name.as_deref() == Some("Laptop")
    ));
    let many: Vec<String> = (0..600)
        .map(|i| format!("https://example.com/{i}/{}", "p".repeat(40)))
        .collect();
    let sent = phone.close_tabs(&device(&phone, "Laptop"), &many).unwrap();
    assert!(sent >= 2, "{sent} commands");
    let mut closed: Vec<String> = laptop
        .poll_commands()
        .unwrap()
        .into_iter()
        .flat_map(|c| match c {
            IncomingCommand::TabsClosed { urls, .. } => urls,
            other => panic!("{other:?}"),
        })
        .collect();
    closed.sort();
    let mut expected = many.clone();
    expected.sort();
    assert_eq!(closed, expected, "every URL, once");
}

#[test]
fn the_read_index_survives_a_restart() {
    let (accounts, laptop, mut phone) = world();
    laptop
        .send_tab(&device(&laptop, "Phone"), "https://example.com/1", "")
        .unwrap();
    assert_eq!(phone.poll_commands().unwrap().len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.json");
    phone.state().unwrap().save(&path).unwrap();

    let mut restarted = FirefoxAccount::from_state(
        FxaConfig::new(&accounts.url()),
        AccountState::load(&path).unwrap(),
    )
    .unwrap();
    assert!(
        restarted.poll_commands().unwrap().is_empty(),
        "nothing read twice"
    );
    laptop
        .send_tab(&device(&laptop, "Phone"), "https://example.com/2", "")
        .unwrap();
    assert!(matches!(
        &restarted.poll_commands().unwrap()[..],
        [IncomingCommand::TabReceived { url, .. }] if url == "https://example.com/2"
    ));
}

#[test]
fn devices_that_cannot_take_a_command_are_refused_by_name() {
    let (accounts, laptop, phone) = world();
    let legacy = accounts.add_device(EMAIL, "Old Firefox", "desktop", &[]);
    let foreign = bundle_of_another_account();
    accounts.add_device(
        EMAIL,
        "Before the reset",
        "desktop",
        &[(SEND_TAB, foreign.as_str())],
    );
    accounts.add_device(
        EMAIL,
        "Broken",
        "mobile",
        &[(SEND_TAB, "{not json"), (CLOSE_TABS, "{}")],
    );

    let old = device(&laptop, "Old Firefox");
    assert!(!old.can_receive_tabs());
    assert!(matches!(
        laptop.send_tab(&old, "https://example.com/", ""),
        Err(FxaError::UnsupportedCommand { command }) if command == SEND_TAB
    ));
    assert!(matches!(
        laptop.send_tab(&device(&laptop, "Before the reset"), "https://example.com/", ""),
        Err(FxaError::ForeignCommandKeys)
    ));
    let broken = device(&laptop, "Broken");
    assert!(matches!(
        laptop.send_tab(&broken, "https://example.com/", ""),
        Err(FxaError::CommandCrypto(_))
    ));
    assert!(matches!(
        laptop.close_tabs(&broken, &["https://example.com/".into()]),
        Err(FxaError::CommandCrypto(_))
    ));

    // The server's own checks, for a list that went stale: a device gone
    // (errno 123), a device that does not take the command (errno 157).
    let mut gone = device(&laptop, "Phone");
    gone.id = "0".repeat(32);
    assert!(matches!(
        laptop.send_tab(&gone, "https://example.com/", ""),
        Err(FxaError::UnknownDevice)
    ));
    let mut stale = device(&laptop, "Phone");
    stale.id = legacy;
    assert!(matches!(
        laptop.send_tab(&stale, "https://example.com/", ""),
        Err(FxaError::UnsupportedCommand { command }) if command == SEND_TAB
    ));
    drop(phone);
}

/// A Send Tab bundle sealed under other sync keys (as a device that
/// signed in before a password reset advertises it).
fn bundle_of_another_account() -> String {
    let accounts = StandInAccounts::start();
    accounts.create_account("other@example.com", PASSWORD, AccountOptions::default());
    let mut fxa = FirefoxAccount::new(FxaConfig::new(&accounts.url())).unwrap();
    fxa.sign_in("other@example.com", PASSWORD).unwrap();
    fxa.register_device("Other", "desktop").unwrap();
    fxa.devices().unwrap()[0].available_commands[SEND_TAB].clone()
}

#[test]
fn commands_that_cannot_be_read_are_skipped_and_later_ones_still_arrive() {
    let (accounts, laptop, mut phone) = world();
    let phone_id = own_id(&phone);
    accounts.queue_command(EMAIL, &phone_id, SEND_TAB, json!({}), None);
    accounts.queue_command(
        EMAIL,
        &phone_id,
        SEND_TAB,
        json!({"encrypted": "bm90IGEgbWVzc2FnZQ"}),
        None,
    );
    accounts.queue_command(
        EMAIL,
        &phone_id,
        SEND_TAB,
        json!({"encrypted": "A".repeat(400_000)}),
        None,
    );
    accounts.queue_command(
        EMAIL,
        &phone_id,
        "https://identity.mozilla.com/cmd/unknown",
        json!({"encrypted": ""}),
        None,
    );
    accounts.queue_command(EMAIL, &phone_id, SEND_TAB, json!({"encrypted": "x"}), Some(0));
    laptop
        .send_tab(&device(&laptop, "Phone"), "https://example.com/ok", "OK")
        .unwrap();
    assert!(matches!(
        &phone.poll_commands().unwrap()[..],
        [IncomingCommand::TabReceived { url, .. }] if url == "https://example.com/ok"
    ));
    // A server that answers from the start again: nothing is taken twice.
    accounts.replay_commands_once(EMAIL);
    assert!(phone.poll_commands().unwrap().is_empty());
    laptop
        .send_tab(&device(&laptop, "Phone"), "https://example.com/next", "")
        .unwrap();
    assert_eq!(phone.poll_commands().unwrap().len(), 1);
}

#[test]
fn a_device_whose_record_lost_its_commands_advertises_them_again() {
    let (accounts, mut laptop, phone) = world();
    let laptop_id = own_id(&laptop);
    accounts.clear_available_commands(EMAIL, &laptop_id);
    assert!(!device(&phone, "Laptop").can_receive_tabs());
    assert!(laptop.ensure_device_commands().unwrap(), "re-registered");
    assert!(device(&phone, "Laptop").can_receive_tabs());
    assert_eq!(own_id(&laptop), laptop_id, "the same device");
    assert!(!laptop.ensure_device_commands().unwrap());
    assert_eq!(accounts.device_list(EMAIL).len(), 2);

    // A push subscription, for an app that has one, is in the record.
    assert_eq!(device(&phone, "Laptop").push_endpoint, None);
    laptop
        .set_push_subscription(&fxa_client::PushSubscription {
            endpoint: "https://push.example/wpush/v2/abc".into(),
            public_key:
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
                    .into(),
            auth_key: "BTBZMqHH6r4Tts7J_aSIgg".into(),
        })
        .unwrap();
    assert_eq!(
        device(&phone, "Laptop").push_endpoint.as_deref(),
        Some("https://push.example/wpush/v2/abc")
    );
    assert!(device(&phone, "Laptop").can_receive_tabs(), "the commands stay");
}

fn tab(url: &str) -> sync_tabs::LocalTab {
    sync_tabs::LocalTab {
        title: url.into(),
        url_history: vec![url.into()],
        icon: None,
        last_used_ms: 1_700_000_000_000,
        pinned: false,
        inactive: false,
    }
}

#[test]
fn a_sync_reads_the_commands_and_the_tabs_engine_closes_what_it_is_asked_to() {
    let (accounts, mut laptop_fxa, phone_fxa) = world();
    let jwk = accounts.jwk();
    let server = test_support::TestServer::start_with(move |c| {
        c.auth.mode = sync_storage::config::AuthMode::Fxa;
        c.auth.fxa_primary_jwk = Some(jwk);
    });
    let laptop_account = test_support::TestAccount::signed_in(&mut laptop_fxa, server.url()).unwrap();
    let laptop_id = own_id(&laptop_fxa);
    let mut laptop = test_support::Device::with_fxa_device_id("Laptop", &laptop_account, &laptop_id);
    laptop
        .tabs
        .set_local_tabs(vec![
            tab("https://a.example/"),
            tab("https://b.example/"),
            tab("https://c.example/"),
        ])
        .unwrap();
    let target = device(&phone_fxa, "Laptop");
    phone_fxa
        .close_tabs(
            &target,
            &["https://a.example/".into(), "https://c.example/".into()],
        )
        .unwrap();
    phone_fxa
        .send_tab(&target, "https://sent.example/", "Sent")
        .unwrap();

    laptop.read_device_commands_from(std::sync::Arc::new(test_support::CommandInbox::new(laptop_fxa)));
    let result = laptop.sync();
    assert_eq!(
        result.status,
        sync_manager::ServiceStatus::Ok,
        "{:?}",
        result.error
    );
    assert_eq!(result.device_commands.len(), 2, "{:?}", result.device_commands);
    assert!(matches!(
        &result.device_commands[1],
        sync15::DeviceCommand::OpenTab { url, sender: Some(s), .. } if url == "https://sent.example/" && s.name.as_deref() == Some("Phone")
    ));
    let left: Vec<String> = laptop
        .tabs
        .local_tabs()
        .unwrap()
        .into_iter()
        .map(|t| t.url_history[0].clone())
        .collect();
    assert_eq!(left, ["https://b.example/"]);

    // The tabs record that went up in that same sync has only what is left.
    let mut other = test_support::Device::new("Other", &laptop_account);
    other.sync();
    let remote = other.tabs.remote_tabs().unwrap();
    let laptop_tabs: Vec<&str> = remote
        .iter()
        .find(|d| d.device_name == "Laptop")
        .map(|d| d.tabs.iter().map(|t| t.url_history[0].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(laptop_tabs, ["https://b.example/"]);
    assert!(laptop.sync().device_commands.is_empty(), "each command once");
}
