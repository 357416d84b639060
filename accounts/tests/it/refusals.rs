//! What the service refuses, with the auth server's errno, and what an
//! operator does: throttling, clock skew, closed registration, disabling,
//! deleting, and codes issued by hand.

use crate::common;

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
    server.accounts.on_account_event(move |event| {
        if let sync_accounts::AccountEvent::Deleted { uid } = event {
            seen.lock().push(uid.clone());
        }
    });

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

#[test]
fn forged_tampered_oversized_and_premature_requests_get_their_errno() {
    let server = Server::start();
    server.signed_up("eve@example.com", "pw");
    let (_, session) = server.raw_session("eve@example.com", "pw");

    // A Hawk header signed with another token's key: errno 109.
    let forged = server
        .hawk_header(
            "GET",
            "/v1/session/status",
            "sessionToken",
            &"cd".repeat(32),
            None,
            SystemTime::now(),
        )
        .replace(
            &format!(
                "id=\"{}\"",
                fxa_client::crypto::TokenCredentials::derive(&[0xcd; 32], "sessionToken").id
            ),
            &format!("id=\"{}\"", {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(&session, &mut bytes).expect("hex");
                fxa_client::crypto::TokenCredentials::derive(&bytes, "sessionToken").id
            }),
        );
    let (status, body) = server.call("GET", "/v1/session/status", None, Some(&forged));
    assert_eq!((status, body["errno"].as_u64()), (401, Some(109)), "{body}");

    // A body that is not what the header hashed: errno 109 too.
    let header = server.hawk_header(
        "POST",
        "/v1/session/destroy",
        "sessionToken",
        &session,
        Some(&json!({})),
        SystemTime::now(),
    );
    let (status, body) = server.call(
        "POST",
        "/v1/session/destroy",
        Some(&json!({ "customSessionToken": "x" })),
        Some(&header),
    );
    assert_eq!((status, body["errno"].as_u64()), (401, Some(109)), "{body}");

    // An oversized body: 413, errno 113, before anything is parsed.
    let huge = json!({ "email": "x".repeat(300 * 1024) });
    let (status, body) = server.call("POST", "/v1/account/status", Some(&huge), None);
    assert_eq!((status, body["errno"].as_u64()), (413, Some(113)), "{body}");

    // A body that is not JSON: errno 106; a missing member: 108.
    let (status, body) = server.call("POST", "/v1/account/status", Some(&json!([1, 2])), None);
    assert_eq!((status, body["errno"].as_u64()), (400, Some(106)), "{body}");
    let (status, body) = server.call(
        "POST",
        "/v1/account/login",
        Some(&json!({ "email": "eve@example.com" })),
        None,
    );
    assert_eq!((status, body["errno"].as_u64()), (400, Some(108)), "{body}");

    // An access token whose payload was edited: not a token at all.
    let mut fxa = server.fxa();
    fxa.sign_in("eve@example.com", "pw").expect("sign-in");
    fxa.verify_email_code(&server.code("eve@example.com"))
        .expect("confirmed");
    let token = fxa.access_token().expect("a token");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1]).expect("b64"),
    )
    .expect("claims");
    claims["sub"] = json!("0".repeat(32));
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        claims.to_string(),
    );
    let tampered = parts.join(".");
    let (status, body) = server.call("POST", "/v1/verify", Some(&json!({ "token": tampered })), None);
    assert_eq!((status, body["errno"].as_u64()), (400, Some(108)), "{body}");
    let (status, _) = server.call(
        "GET",
        "/profile/v1/profile",
        None,
        Some(&format!("Bearer {tampered}")),
    );
    assert_eq!(status, 401);

    // An unconfirmed session asking for keys: errno 138 (unverified
    // session), and the key fetch token is not used up by the refusal.
    let stretched = fxa_client::crypto::StretchedPassword::new(
        "eve@example.com",
        "pw",
        &fxa_client::crypto::Stretch::V2 {
            client_salt: server
                .call(
                    "POST",
                    "/v1/account/credentials/status",
                    Some(&json!({ "email": "eve@example.com" })),
                    None,
                )
                .1["clientSalt"]
                .as_str()
                .expect("a V2 account")
                .to_owned(),
        },
    )
    .expect("stretched");
    let (status, login) = server.call(
        "POST",
        "/v1/account/login?keys=true",
        Some(&json!({ "email": "eve@example.com", "authPW": hex::encode(stretched.auth_pw()), "verificationMethod": "email-otp" })),
        None,
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["verified"], json!(false));
    let key_fetch = login["keyFetchTokenVersion2"]
        .as_str()
        .expect("a key fetch token")
        .to_owned();
    let (status, body) = server.hawk("GET", "/v1/account/keys", "keyFetchToken", &key_fetch, None);
    assert_eq!((status, body["errno"].as_u64()), (400, Some(138)), "{body}");
    // The emailed code confirms it; the key fetch token waited for that.
    let code = server.code("eve@example.com");
    let session = login["sessionToken"].as_str().expect("a session").to_owned();
    let verify = |code: &str| {
        server.hawk(
            "POST",
            "/v1/session/verify_code",
            "sessionToken",
            &session,
            Some(&json!({ "code": code })),
        )
    };
    assert_eq!(verify(&code).0, 200);
    let (status, _) = server.hawk("GET", "/v1/account/keys", "keyFetchToken", &key_fetch, None);
    assert_eq!(status, 200, "the key fetch waited for the confirmation");
    let (status, _) = server.hawk("GET", "/v1/account/keys", "keyFetchToken", &key_fetch, None);
    assert_eq!(status, 401, "a key fetch token is used once");
}
