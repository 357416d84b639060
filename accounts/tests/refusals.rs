//! What the service refuses, with the auth server's errno, and what an
//! operator does: throttling, clock skew, closed registration, disabling,
//! deleting, and codes issued by hand.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Server, test_config};
use fxa_client::{FxaError, SignInStatus};
use parking_lot::Mutex;
use serde_json::json;
use sync_accounts::config::Registration;

#[test]
fn too_many_attempts_are_throttled_with_retry_after() {
    let server = Server::with_config(sync_accounts::AccountsConfig {
        rate_limit: 3,
        ..test_config()
    });
    let body = json!({ "email": "nobody@example.com" });
    for _ in 0..3 {
        let (status, _) = server.call("POST", "/v1/password/forgot/send_otp", Some(&body), None);
        assert_eq!(status, 400, "unknown account, but counted");
    }
    let (status, throttled) = server.call("POST", "/v1/password/forgot/send_otp", Some(&body), None);
    assert_eq!((status, throttled["errno"].as_u64()), (429, Some(114)));
    assert!(throttled["retryAfter"].as_u64().is_some_and(|s| s > 0));
}

#[test]
fn a_hawk_clock_off_by_minutes_is_told_the_servers_time() {
    let server = Server::start();
    server.signed_up("ann@example.com", "pw");
    let (_, session) = server.raw_session("ann@example.com", "pw");
    let header = server.hawk_header(
        "GET",
        "/v1/session/status",
        "sessionToken",
        &session,
        None,
        SystemTime::now() - Duration::from_secs(600),
    );
    let (status, body) = server.call("GET", "/v1/session/status", None, Some(&header));
    assert_eq!((status, body["errno"].as_u64()), (401, Some(111)));
    assert!(body["serverTime"].as_u64().is_some());
    // A token that is not one: errno 110.
    let (status, body) = server.hawk(
        "GET",
        "/v1/session/status",
        "sessionToken",
        &"ab".repeat(32),
        None,
    );
    assert_eq!((status, body["errno"].as_u64()), (401, Some(110)));
}

#[test]
fn closed_and_invitation_only_registration() {
    let server = Server::with_config(sync_accounts::AccountsConfig {
        registration: Registration::Invitation,
        allowed_emails: vec!["*@family.example".into()],
        ..test_config()
    });
    let mut stranger = server.fxa();
    match stranger.sign_up("eve@example.com", "pw") {
        Err(FxaError::Server { status, errno, .. }) => assert_eq!((status, errno), (403, 202)),
        other => panic!("not refused: {other:?}"),
    }
    server.signed_up("kid@family.example", "pw");
}

#[test]
fn an_operator_disables_issues_codes_and_deletes() {
    let server = Server::start();
    let mut device = server.signed_up("bob@example.com", "pw");
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let seen = deleted.clone();
    server
        .accounts
        .on_account_deleted(move |uid| seen.lock().push(uid.to_owned()));

    // A code issued by hand confirms a waiting sign-in (no mail server).
    let mut other = server.fxa();
    assert_eq!(
        other.sign_in("bob@example.com", "pw").expect("sign-in"),
        SignInStatus::NeedsEmailCode
    );
    let code = server.accounts.issue_code("bob@example.com").expect("a code");
    assert_eq!(
        other.verify_email_code(&code).expect("confirmed"),
        SignInStatus::SignedIn
    );

    server
        .accounts
        .disable_account("bob@example.com")
        .expect("disabled");
    device.clear_access_token();
    assert!(matches!(device.access_token(), Err(FxaError::InvalidToken)));
    assert!(server.fxa().sign_in("bob@example.com", "pw").is_err());
    server
        .accounts
        .enable_account("bob@example.com")
        .expect("enabled");
    let mut back = server.fxa();
    back.sign_in("bob@example.com", "pw").expect("signs in again");

    let uid = server
        .accounts
        .find_account("bob@example.com")
        .expect("read")
        .expect("there")
        .uid;
    server
        .accounts
        .delete_account("bob@example.com")
        .expect("deleted");
    assert_eq!(*deleted.lock(), vec![uid]);
    assert!(
        server
            .accounts
            .find_account("bob@example.com")
            .expect("read")
            .is_none()
    );
    assert!(matches!(
        server.fxa().sign_in("bob@example.com", "pw"),
        Err(FxaError::UnknownAccount)
    ));
    assert!(server.accounts.issue_code("nobody@example.com").is_err());
}
