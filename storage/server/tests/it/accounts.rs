//! One server for accounts, tokens and storage: a person signs up with the
//! accounts service in the server's own process, gets a storage token for
//! the access token it signs, syncs, resets a forgotten password (new kB:
//! the token server gives a fresh storage user and refuses the old key),
//! and deleting the account deletes what it stored.

use crate::support;

use std::sync::Arc;

use serde_json::json;
use support::{Account, TestServer};
use sync_accounts::mail::Outbox;
use sync15::{Error, HttpClient, TokenClient};

/// The code of the newest message to `to`.
fn last_code(outbox: &Outbox, to: &str) -> String {
    outbox.last_code(to).expect("a code was mailed")
}

/// The server with its accounts service, in the server's own database
/// (SQLite, or PostgreSQL under `SYNC_TEST_POSTGRES`).
fn with_accounts() -> (TestServer, Arc<Outbox>) {
    let server = TestServer::start_with(|config| {
        config.accounts.enabled = true;
        config.accounts.scrypt_log_n = 10;
    });
    let outbox = Arc::new(Outbox::default());
    server
        .server
        .accounts()
        .expect("the accounts service runs")
        .set_mail_transport(outbox.clone());
    (server, outbox)
}

fn tokens(server: &TestServer) -> TokenClient {
    TokenClient::new(HttpClient::new().expect("http"), server.server.url()).expect("a token client")
}

#[test]
fn sign_up_sync_reset_and_delete_on_one_server() {
    let (server, outbox) = with_accounts();
    let url = server.server.url().to_owned();

    // Discovery points Firefox at this very server for everything.
    let config: serde_json::Value =
        reqwest::blocking::get(format!("{url}/.well-known/fxa-client-configuration"))
            .expect("an answer")
            .json()
            .expect("JSON");
    assert_eq!(config["auth_server_base_url"], json!(url));
    assert_eq!(config["sync_tokenserver_base_url"], json!(url));

    let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).expect("client");
    fxa.sign_up("ann@example.com", "first password").expect("sign-up");
    fxa.verify_email_code(&last_code(&outbox, "ann@example.com"))
        .expect("confirmed");
    let key = fxa.sync_root_key().expect("key");
    let fxa_uid = fxa.state().expect("state").uid.clone();
    let access = fxa.access_token().expect("an access token");
    let first = tokens(&server)
        .fetch_token(&access, &key.key_id())
        .expect("a storage token");
    let ann = Account::new(first.clone());
    assert_eq!(
        ann.put_json("/storage/bookmarks/a", json!({"payload": "ciphertext"}), &[])
            .status(),
        200
    );
    assert_eq!(ann.get("/storage/bookmarks/a").status(), 200);

    // A token for another key under the same keys_changed_at is refused,
    // as for Mozilla's accounts.
    let forged = sync15::SyncRootKey::new(&[7u8; 32], key.key_rotation_timestamp()).expect("key");
    assert!(matches!(
        tokens(&server).fetch_token(&access, &forged.key_id()),
        Err(Error::TokenRejected { .. })
    ));

    // A forgotten password: a new kB, a newer keys_changed_at.
    let mut other_device = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).expect("client");
    other_device
        .forgot_password("ann@example.com")
        .expect("code sent");
    other_device
        .reset_password(
            "ann@example.com",
            &last_code(&outbox, "ann@example.com"),
            "second password",
        )
        .expect("reset");
    // The token server heard of the reset at once: the first device's
    // access token, unexpired, is refused (Mozilla's `passwordChange`
    // and `reset` events do the same).
    match tokens(&server).fetch_token(&access, &key.key_id()) {
        Err(Error::TokenRejected { reason, .. }) => assert!(reason.contains("generation"), "{reason}"),
        other => panic!("a token from before the reset was accepted: {other:?}"),
    }
    let new_key = other_device.sync_root_key().expect("key");
    assert!(new_key.key_rotation_timestamp() > key.key_rotation_timestamp());
    let new_access = other_device.access_token().expect("an access token");
    let second = tokens(&server)
        .fetch_token(&new_access, &new_key.key_id())
        .expect("a storage token for the new key");
    assert_ne!(
        second.uid, first.uid,
        "a fresh storage user: clients start afresh"
    );
    assert_eq!(
        ann.get("/info/collections").status(),
        401,
        "the old user is retired"
    );
    // The old key, with a token of the new generation, is refused.
    assert!(matches!(
        tokens(&server).fetch_token(&new_access, &key.key_id()),
        Err(Error::TokenRejected { .. })
    ));
    // The first device's refresh token ended with the reset.
    fxa.clear_access_token();
    assert!(fxa.access_token().is_err());

    // Deleting the account deletes what it stored.
    let fresh = Account::new(second);
    assert_eq!(
        fresh
            .put_json("/storage/tabs/t", json!({"payload": "x"}), &[])
            .status(),
        200
    );
    server
        .server
        .accounts()
        .expect("accounts")
        .delete_account("ann@example.com")
        .expect("deleted");
    assert_eq!(fresh.get("/storage/tabs/t").status(), 401);
    let records = server.server.db().user_records(&fxa_uid).expect("records");
    assert_eq!(records.len(), 2, "one storage user per key");
    assert!(
        records.iter().all(|r| r.replaced_at.is_some()),
        "every storage user retired"
    );
}

#[test]
fn dev_tokens_are_not_accepted_once_accounts_sign_them() {
    let (server, _) = with_accounts();
    assert!(server.server.dev_secret().is_none());
    let forged = sync_storage::auth::mint_dev_token("guess", "eve@example.com", 0, 600).expect("a token");
    let key = sync15::SyncRootKey::new(&[1u8; 32], 1_000).expect("key");
    assert!(matches!(
        tokens(&server).fetch_token(&forged, &key.key_id()),
        Err(Error::TokenRejected { .. })
    ));
}

#[test]
fn the_operator_commands_work_on_the_servers_database() {
    let (server, outbox) = with_accounts();
    let url = server.server.url().to_owned();
    let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).expect("client");
    fxa.sign_up("Bob@Example.com", "pw").expect("sign-up");
    fxa.verify_email_code(&last_code(&outbox, "Bob@Example.com"))
        .expect("confirmed");

    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sync-storage"));
        command
            .arg("--database")
            .arg(&server.database)
            .args(args)
            .env("SYNC_STORAGE_ACCOUNTS_ENABLED", "true")
            .env("SYNC_STORAGE_ACCOUNTS_SCRYPT_LOG_N", "10");
        let output = command.output().expect("the binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, listed, err) = run(&["account", "list"]);
    assert!(ok, "{err}");
    assert!(
        listed.contains("Bob@Example.com") && listed.contains("active"),
        "{listed}"
    );

    // A second device waits for a code; the operator issues one.
    let mut phone = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).expect("client");
    phone.sign_in("bob@example.com", "pw").expect("sign-in");
    let (ok, code, err) = run(&["account", "code", "bob@example.com"]);
    assert!(ok, "{err}");
    phone
        .verify_email_code(code.trim())
        .expect("the issued code confirms");

    let (ok, _, err) = run(&["account", "disable", "bob@example.com"]);
    assert!(ok, "{err}");
    let (_, shown, _) = run(&["account", "show", "bob@example.com"]);
    assert!(shown.contains("disabled since"), "{shown}");
    assert!(
        fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url))
            .expect("client")
            .sign_in("bob@example.com", "pw")
            .is_err()
    );
    let (ok, _, err) = run(&["account", "show", "nobody@example.com"]);
    assert!(!ok && err.contains("no account"), "{err}");
}

#[test]
fn a_rotated_signing_key_is_trusted_at_once_and_the_old_one_still_is() {
    let (server, outbox) = with_accounts();
    let url = server.server.url().to_owned();
    let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).expect("client");
    fxa.sign_up("rot@example.com", "rotating keys").expect("sign-up");
    fxa.verify_email_code(&last_code(&outbox, "rot@example.com"))
        .expect("confirmed");
    let key_id = fxa.sync_root_key().expect("key").key_id();
    let old_token = fxa.access_token().expect("a token");

    let accounts = server.server.accounts().expect("accounts");
    let before = accounts.public_keys();
    accounts.rotate_signing_key().expect("rotated");
    assert_ne!(accounts.public_keys()[0], before[0]);
    fxa.clear_access_token();
    let new_token = fxa.access_token().expect("a token under the new key");
    assert_ne!(new_token, old_token);
    // No restart: the token server verifies the new key's tokens, and the
    // old key's, now the secondary, until they expire.
    tokens(&server)
        .fetch_token(&new_token, &key_id)
        .expect("the new key is trusted");
    tokens(&server)
        .fetch_token(&old_token, &key_id)
        .expect("the old key still is");
}
