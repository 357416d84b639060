//! A person signs in with email and password, end to end over loopback:
//! `fxa-client` → the stand-in accounts service (real onepw cryptography)
//! → our token server in `fxa` mode, verifying the accounts service's JWTs
//! → storage. Every flow a real account hits: emailed codes, TOTP, unblock
//! codes, the server's spelling of the email, V2 passwords, throttling,
//! wrong passwords, a password changed elsewhere, sign-out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fxa_client::{AccountState, FirefoxAccount, FxaConfig, FxaError, SignInStatus, TokenScheme};
use sync_logins::LoginEntry;
use sync_manager::ServiceStatus;
use sync_storage::config::AuthMode;
use test_support::accounts::{AccountOptions, StandInAccounts};
use test_support::{Device, TestAccount, TestServer};

const PASSWORD: &str = "correct horse battery staple";

/// The accounts stand-in and a sync server trusting its tokens.
fn world() -> (StandInAccounts, TestServer) {
    let accounts = StandInAccounts::start();
    let jwk = accounts.jwk();
    let server = TestServer::start_with(move |c| {
        c.auth.mode = AuthMode::Fxa;
        c.auth.fxa_primary_jwk = Some(jwk);
        // Everything here is a JWT signed with that key: nothing may go to a real FxA.
        c.auth.fxa_oauth_server_url = "http://127.0.0.1:1".into();
    });
    (accounts, server)
}

fn account(accounts: &StandInAccounts) -> FirefoxAccount {
    FirefoxAccount::new(FxaConfig::new(&accounts.url())).unwrap()
}

/// What a device needs to sync, from a signed-in account.
fn test_account(fxa: &mut FirefoxAccount, server: &TestServer) -> TestAccount {
    TestAccount::signed_in(fxa, server.url()).unwrap()
}

fn login(origin: &str) -> LoginEntry {
    LoginEntry {
        origin: origin.into(),
        form_action_origin: Some(origin.into()),
        username_field: "u".into(),
        password_field: "p".into(),
        username: "me".into(),
        password: "hunter2".into(),
        ..Default::default()
    }
}

#[test]
fn sign_in_with_an_emailed_code_then_two_devices_sync() {
    let (accounts, server) = world();
    let email = "person@example.com";
    accounts.create_account(
        email,
        PASSWORD,
        AccountOptions {
            confirm_sign_ins: true,
            ..Default::default()
        },
    );

    // Device A signs in and confirms with the emailed code.
    let mut a = account(&accounts);
    assert_eq!(a.sign_in(email, PASSWORD).unwrap(), SignInStatus::NeedsEmailCode);
    assert!(matches!(a.sync_root_key(), Err(FxaError::NotSignedIn)));
    assert!(matches!(
        a.verify_email_code("000000x"),
        Err(FxaError::InvalidVerificationCode)
    ));
    let code = accounts.email_code(email).unwrap();
    assert_eq!(a.verify_email_code(&code).unwrap(), SignInStatus::SignedIn);

    // The scoped key is the one the account's kB derives.
    let kb = accounts.kb(email).unwrap();
    let expected = sync15::SyncRootKey::new(&kb, accounts.keys_changed_at(email).unwrap()).unwrap();
    assert_eq!(a.sync_root_key().unwrap(), expected);
    assert_eq!(a.sync_root_key().unwrap().to_hex(), None, "kB is not kept");

    // Device B signs in too (a resent code; the first one no longer works).
    let mut b = account(&accounts);
    assert_eq!(b.sign_in(email, PASSWORD).unwrap(), SignInStatus::NeedsEmailCode);
    let first = accounts.email_code(email).unwrap();
    b.resend_email_code().unwrap();
    let second = accounts.email_code(email).unwrap();
    if first != second {
        assert!(b.verify_email_code(&first).is_err());
    }
    assert_eq!(b.verify_email_code(&second).unwrap(), SignInStatus::SignedIn);

    // Both sync through our server with the tokens they got.
    let mut device_a = Device::new("A", &test_account(&mut a, &server));
    let mut device_b = Device::new("B", &test_account(&mut b, &server));
    device_a.logins.add(login("https://bank.example")).unwrap();
    assert_eq!(device_a.sync().status, ServiceStatus::Ok);
    let synced = device_b.sync();
    assert_eq!(synced.status, ServiceStatus::Ok, "{:?}", synced.error);
    let on_b = device_b.logins.list().unwrap();
    assert_eq!(on_b.len(), 1);
    assert_eq!(on_b[0].entry.origin, "https://bank.example");
}

#[test]
fn two_step_authentication_with_totp() {
    let (accounts, _server) = world();
    let email = "totp@example.com";
    accounts.create_account(
        email,
        PASSWORD,
        AccountOptions {
            totp: true,
            ..Default::default()
        },
    );
    let mut fxa = account(&accounts);
    assert_eq!(fxa.sign_in(email, PASSWORD).unwrap(), SignInStatus::NeedsTotp);
    let right = accounts.totp_code(email).unwrap();
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    assert!(matches!(
        fxa.verify_totp(&wrong),
        Err(FxaError::InvalidVerificationCode)
    ));
    // The session is still unconfirmed: no keys.
    assert!(fxa.sync_root_key().is_err());
    assert!(!fxa.state().unwrap().is_signed_in());
    assert_eq!(fxa.verify_totp(&right).unwrap(), SignInStatus::SignedIn);
    assert!(fxa.state().unwrap().is_signed_in());
}

#[test]
fn v2_passwords_the_servers_email_spelling_and_refusals() {
    let (accounts, server) = world();
    accounts.create_account(
        "mixed.Case@example.com",
        PASSWORD,
        AccountOptions {
            v2: true,
            ..Default::default()
        },
    );
    let mut fxa = account(&accounts);
    // Typed in other case: errno 120, retried with the account's spelling.
    assert_eq!(
        fxa.sign_in("mixed.case@EXAMPLE.com", PASSWORD).unwrap(),
        SignInStatus::SignedIn
    );
    assert_eq!(fxa.state().unwrap().email, "mixed.Case@example.com");
    let kb = accounts.kb("mixed.Case@example.com").unwrap();
    assert_eq!(
        fxa.sync_root_key().unwrap(),
        sync15::SyncRootKey::new(&kb, accounts.keys_changed_at("mixed.Case@example.com").unwrap()).unwrap(),
        "the V2 unwrapBKey unwrapped kB"
    );
    // The token works at the token server.
    let mut device = Device::new("v2", &test_account(&mut fxa, &server));
    assert_eq!(device.sync().status, ServiceStatus::Ok);

    let mut other = account(&accounts);
    assert!(matches!(
        other.sign_in("mixed.Case@example.com", "wrong password"),
        Err(FxaError::IncorrectPassword)
    ));
    assert!(matches!(
        other.sign_in("nobody@example.com", PASSWORD),
        Err(FxaError::UnknownAccount)
    ));
    accounts.throttle("mixed.Case@example.com", 120);
    match other.sign_in("mixed.Case@example.com", PASSWORD) {
        Err(e @ FxaError::Throttled { retry_after: Some(d) }) => {
            assert!(d.as_secs() > 60, "{d:?}");
            assert_eq!(e.errno(), Some(114));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_blocked_sign_in_goes_through_with_the_unblock_code() {
    let (accounts, _server) = world();
    let email = "blocked@example.com";
    accounts.create_account(email, PASSWORD, AccountOptions::default());
    accounts.block_next_sign_in(email);
    let mut fxa = account(&accounts);
    assert_eq!(
        fxa.sign_in(email, PASSWORD).unwrap(),
        SignInStatus::NeedsUnblockCode
    );
    fxa.send_unblock_code().unwrap();
    assert!(matches!(
        fxa.sign_in_with_unblock_code("NOTIT"),
        Err(FxaError::InvalidUnblockCode)
    ));
    let code = accounts.unblock_code(email).unwrap();
    assert_eq!(
        fxa.sign_in_with_unblock_code(&code).unwrap(),
        SignInStatus::SignedIn
    );
}

#[test]
fn tokens_refresh_persist_and_end_with_a_password_change_or_sign_out() {
    let (accounts, server) = world();
    let email = "tokens@example.com";
    accounts.create_account(email, PASSWORD, AccountOptions::default());
    let mut fxa = account(&accounts);
    assert_eq!(fxa.sign_in(email, PASSWORD).unwrap(), SignInStatus::SignedIn);
    let first = fxa.access_token().unwrap();
    assert_eq!(fxa.access_token().unwrap(), first, "unexpired: reused");

    // Persisted (0600) and resumed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.json");
    fxa.state().unwrap().save(&path).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(!saved.contains(PASSWORD));
    assert!(
        !saved.contains(&hex::encode(accounts.kb(email).unwrap())),
        "kB is never written"
    );
    let mut resumed = FirefoxAccount::from_state(
        FxaConfig::new(&accounts.url()),
        AccountState::load(&path).unwrap(),
    )
    .unwrap();
    assert_eq!(resumed.sync_root_key().unwrap(), fxa.sync_root_key().unwrap());

    // A 401 from the token server: drop the access token, get a new one.
    resumed.clear_access_token();
    let refreshed = resumed.access_token().unwrap();
    let mut device = Device::new("resumed", &test_account(&mut resumed, &server));
    assert_eq!(device.sync().status, ServiceStatus::Ok);
    assert!(!refreshed.is_empty());

    // Devices: registered, renamed, listed as this device.
    resumed.register_device("Laptop", "desktop").unwrap();
    resumed.register_device("Work laptop", "desktop").unwrap();
    let devices = resumed.devices().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "Work laptop");
    assert!(devices[0].is_current);
    assert_eq!(
        resumed.state().unwrap().device.as_ref().unwrap().name,
        "Work laptop"
    );

    // Signing out revokes the access and refresh tokens and ends the session.
    let sessions_before = accounts.session_count(email);
    let held_access = resumed.access_token().unwrap();
    resumed.sign_out().unwrap();
    let revoked = accounts.destroyed_tokens();
    assert!(
        revoked.contains(&held_access),
        "the access token is revoked: {revoked:?}"
    );
    assert_eq!(revoked.len(), 2, "and the refresh token: {revoked:?}");
    assert!(resumed.state().is_none());
    assert_eq!(accounts.session_count(email), sessions_before - 1);
    let mut stale = FirefoxAccount::from_state(
        FxaConfig::new(&accounts.url()),
        AccountState::load(&path).unwrap(),
    )
    .unwrap();
    stale.clear_access_token();
    assert!(matches!(stale.access_token(), Err(FxaError::InvalidToken)));

    // A password changed elsewhere ends the other device's session and tokens.
    accounts.change_password(email, "a new password");
    assert!(matches!(fxa.check_session(), Err(FxaError::InvalidToken)));
    fxa.clear_access_token();
    assert!(matches!(fxa.access_token(), Err(FxaError::InvalidToken)));
    // And the old password no longer signs in; the new one does, same kB.
    let mut again = account(&accounts);
    assert!(matches!(
        again.sign_in(email, PASSWORD),
        Err(FxaError::IncorrectPassword)
    ));
    assert_eq!(
        again.sign_in(email, "a new password").unwrap(),
        SignInStatus::SignedIn
    );
    assert_eq!(again.sync_root_key().unwrap(), fxa.sync_root_key().unwrap());
}

#[test]
fn a_tampered_key_bundle_is_refused_and_nothing_is_kept() {
    let (accounts, _server) = world();
    let email = "tampered@example.com";
    accounts.create_account(email, PASSWORD, AccountOptions::default());
    accounts.tamper_next_key_bundle(email);
    let mut fxa = account(&accounts);
    assert!(matches!(
        fxa.sign_in(email, PASSWORD),
        Err(FxaError::BadKeyBundle(_))
    ));
    assert_eq!(
        accounts.session_count(email),
        0,
        "the session the failed sign-in made is ended on the server"
    );
    assert!(fxa.sync_root_key().is_err());
    assert!(!fxa.state().is_some_and(AccountState::is_signed_in));
    assert!(matches!(fxa.access_token(), Err(FxaError::NotSignedIn)));
    // A fresh sign-in with an untampered bundle works.
    let mut again = account(&accounts);
    assert_eq!(again.sign_in(email, PASSWORD).unwrap(), SignInStatus::SignedIn);
}

#[test]
fn the_prefixed_bearer_scheme_works_as_hawk_does() {
    let (accounts, server) = world();
    let email = "bearer@example.com";
    accounts.create_account(
        email,
        PASSWORD,
        AccountOptions {
            confirm_sign_ins: true,
            ..Default::default()
        },
    );
    let mut config = FxaConfig::new(&accounts.url());
    config.token_scheme = TokenScheme::Bearer;
    let mut fxa = FirefoxAccount::new(config).unwrap();
    assert_eq!(
        fxa.sign_in(email, PASSWORD).unwrap(),
        SignInStatus::NeedsEmailCode
    );
    let code = accounts.email_code(email).unwrap();
    assert_eq!(fxa.verify_email_code(&code).unwrap(), SignInStatus::SignedIn);
    let kb = accounts.kb(email).unwrap();
    assert_eq!(
        fxa.sync_root_key().unwrap(),
        sync15::SyncRootKey::new(&kb, accounts.keys_changed_at(email).unwrap()).unwrap()
    );
    let mut device = Device::new("bearer", &test_account(&mut fxa, &server));
    assert_eq!(device.sync().status, ServiceStatus::Ok);
}

#[test]
fn a_v1_password_the_server_wants_upgraded_moves_to_v2_on_sign_in() {
    let (accounts, _server) = world();
    let email = "upgrade@example.com";
    accounts.create_account(
        email,
        PASSWORD,
        AccountOptions {
            upgrade_needed: true,
            ..Default::default()
        },
    );
    assert_eq!(accounts.stretch_version(email), Some("v1"));
    let mut first = account(&accounts);
    assert_eq!(first.sign_in(email, PASSWORD).unwrap(), SignInStatus::SignedIn);
    assert_eq!(accounts.stretch_version(email), Some("v2"), "upgraded");
    first.check_session().unwrap();
    // The same password signs in (now V2), with the same kB, and the
    // device that upgraded keeps its session and tokens.
    let mut second = account(&accounts);
    assert_eq!(second.sign_in(email, PASSWORD).unwrap(), SignInStatus::SignedIn);
    assert_eq!(second.sync_root_key().unwrap(), first.sync_root_key().unwrap());
    let kb = accounts.kb(email).unwrap();
    let expected = sync15::SyncRootKey::new(&kb, accounts.keys_changed_at(email).unwrap()).unwrap();
    assert_eq!(first.sync_root_key().unwrap(), expected);
    first.clear_access_token();
    assert!(!first.access_token().unwrap().is_empty());
}

#[test]
fn a_sign_in_given_up_at_the_code_prompt_ends_its_session() {
    let (accounts, _server) = world();
    let email = "gave-up@example.com";
    accounts.create_account(
        email,
        PASSWORD,
        AccountOptions {
            confirm_sign_ins: true,
            ..Default::default()
        },
    );
    let mut fxa = account(&accounts);
    assert_eq!(
        fxa.sign_in(email, PASSWORD).unwrap(),
        SignInStatus::NeedsEmailCode
    );
    assert_eq!(accounts.session_count(email), 1);
    fxa.abandon_sign_in();
    assert_eq!(accounts.session_count(email), 0);
    assert!(fxa.state().is_none());
    // A finished sign-in is not touched by it.
    let mut done = account(&accounts);
    done.sign_in(email, PASSWORD).unwrap();
    let code = accounts.email_code(email).unwrap();
    done.verify_email_code(&code).unwrap();
    done.abandon_sign_in();
    assert!(done.check_session().is_ok());
}
