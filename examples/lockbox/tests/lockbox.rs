//! The lockbox binary, run as a user would, syncing with the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use test_support::{Device, TestServer};

fn lockbox(profile: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .arg("--profile")
        .arg(profile)
        .args(args)
        .output()
        .expect("lockbox runs");
    assert!(
        out.status.success(),
        "lockbox {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lockbox_stores_syncs_and_receives_passwords() {
    let server = TestServer::start();
    let account = server.new_account("lockbox@example.com");
    let profile = tempfile::tempdir().unwrap();
    let guid = lockbox(
        profile.path(),
        &[
            "add",
            "--origin",
            "https://lockbox.example/login",
            "--username",
            "me",
            "--password",
            "s3cret",
        ],
    );
    let kb = account.root_key.to_hex().expect("made from kB");
    let changed_at = account.root_key.key_rotation_timestamp().to_string();
    let sync_args = [
        "sync",
        "--token-server",
        account.token_server_url.as_str(),
        "--access-token",
        account.oauth_token.as_str(),
        "--kb",
        kb.as_str(),
        "--kb-changed-at",
        changed_at.as_str(),
    ];
    lockbox(profile.path(), &sync_args);

    // A full device on the same account gets the login…
    let mut other = Device::new("browser", &account);
    assert_eq!(other.sync().status, sync_manager::ServiceStatus::Ok);
    let logins = other.logins.list().unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].guid.as_str(), guid.trim());
    assert_eq!(logins[0].entry.origin, "https://lockbox.example");
    assert_eq!(logins[0].entry.password, "s3cret");

    // …and what it adds reaches lockbox.
    other
        .logins
        .add(sync_logins::LoginEntry {
            origin: "https://other.example".into(),
            form_action_origin: Some("https://other.example".into()),
            username_field: "u".into(),
            password_field: "p".into(),
            username: "them".into(),
            password: "pw2".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(other.sync().status, sync_manager::ServiceStatus::Ok);
    lockbox(profile.path(), &sync_args);
    let listed = lockbox(profile.path(), &["list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("https://other.example") && listed.contains("pw2"));
    // The key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(profile.path().join("key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
