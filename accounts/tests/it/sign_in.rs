//! Signing up and in over real HTTP with our `fxa-client`, as Firefox
//! does: V2 stretching, emailed codes, kB kept across sign-ins, access
//! tokens a token server can verify with the published keys alone.

use crate::common;

use common::{Server, verified_claims};
use fxa_client::{FxaError, SignInStatus};
use serde_json::json;

#[test]
fn sign_up_confirm_and_sign_in_again_with_the_same_keys() {
    let server = Server::start();
    let mut first = server.signed_up("ann@example.com", "correct horse");
    let key = first.sync_root_key().expect("a sync key");
    let uid = first.state().expect("state").uid.clone();

    let token = first.access_token().expect("an access token");
    let claims = verified_claims(&server, &token);
    assert_eq!(claims["sub"], json!(uid));
    assert_eq!(
        claims["scope"],
        json!("https://identity.mozilla.com/apps/oldsync")
    );
    assert!(claims["fxa-generation"].as_u64().is_some_and(|g| g > 0));

    // A second device: the sign-in is confirmed by a new emailed code, and
    // it derives the same Sync key (kB never changed).
    let mut second = server.fxa();
    assert_eq!(
        second
            .sign_in("ann@example.com", "correct horse")
            .expect("sign-in"),
        SignInStatus::NeedsEmailCode
    );
    assert!(matches!(
        second.verify_email_code("000000"),
        Err(FxaError::InvalidVerificationCode)
    ));
    let code = server.code("ann@example.com");
    assert_eq!(
        second.verify_email_code(&code).expect("confirmed"),
        SignInStatus::SignedIn
    );
    let again = second.sync_root_key().expect("a sync key");
    assert_eq!(again.key_id(), key.key_id());
    assert_eq!(server.accounts.list_accounts().expect("a list").len(), 1);
}

#[test]
fn an_address_with_an_account_cannot_sign_up_again() {
    let server = Server::start();
    server.signed_up("bob@example.com", "password one");
    let mut again = server.fxa();
    assert!(matches!(
        again.sign_up("bob@example.com", "password two"),
        Err(FxaError::AccountExists)
    ));
}

#[test]
fn wrong_passwords_block_until_the_emailed_unblock_code() {
    let server = Server::start();
    server.signed_up("cy@example.com", "the real one");
    let mut fxa = server.fxa();
    for _ in 0..5 {
        assert!(matches!(
            fxa.sign_in("cy@example.com", "wrong"),
            Err(FxaError::IncorrectPassword)
        ));
    }
    // Even the right password is now blocked, until the emailed code.
    assert_eq!(
        fxa.sign_in("cy@example.com", "the real one").expect("an answer"),
        SignInStatus::NeedsUnblockCode
    );
    fxa.send_unblock_code().expect("a code is sent");
    assert!(matches!(
        fxa.sign_in_with_unblock_code("NOTACODE"),
        Err(FxaError::InvalidUnblockCode)
    ));
    let code = server.code("cy@example.com");
    // A sign-in unblocked by the emailed code needs no second code.
    assert_eq!(
        fxa.sign_in_with_unblock_code(&code).expect("unblocked"),
        SignInStatus::SignedIn
    );
}

#[test]
fn a_differently_cased_address_signs_in_with_the_accounts_spelling() {
    let server = Server::start();
    let first = server.signed_up("Dee@Example.com", "mixed case");
    let mut fxa = server.fxa();
    assert_eq!(
        fxa.sign_in("dee@example.com", "mixed case").expect("sign-in"),
        SignInStatus::NeedsEmailCode
    );
    let code = server.code("Dee@Example.com");
    fxa.verify_email_code(&code).expect("confirmed");
    assert_eq!(
        fxa.sync_root_key().expect("key").key_id(),
        first.sync_root_key().expect("key").key_id()
    );
}

#[test]
fn the_account_survives_a_restart() {
    let server = Server::start();
    let fxa = server.signed_up("eve@example.com", "persistent");
    let kid = fxa.sync_root_key().expect("key").key_id();
    let keys_before = server.accounts.public_keys();
    let dir = {
        let Server { dir, .. } = server;
        dir
    };
    let server = Server::on(common::test_config(), dir);
    assert_eq!(
        server.accounts.public_keys(),
        keys_before,
        "the signing key is kept"
    );
    let mut again = server.fxa();
    again.sign_in("eve@example.com", "persistent").expect("sign-in");
    let code = server.code("eve@example.com");
    again.verify_email_code(&code).expect("confirmed");
    assert_eq!(again.sync_root_key().expect("key").key_id(), kid);
}

#[test]
fn the_mailed_code_also_confirms_a_sign_in_through_recovery_email_verify_code() {
    // PyFxA's `Session.verify_email_code` confirms a sign-in this way.
    let server = Server::start();
    server.signed_up("fay@example.com", "pw");
    let status = server
        .call(
            "POST",
            "/v1/account/credentials/status",
            Some(&json!({ "email": "fay@example.com" })),
            None,
        )
        .1;
    let stretched = fxa_client::crypto::StretchedPassword::new(
        "fay@example.com",
        "pw",
        &fxa_client::crypto::Stretch::V2 {
            client_salt: status["clientSalt"].as_str().expect("V2").to_owned(),
        },
    )
    .expect("stretched");
    let (_, login) = server.call(
        "POST",
        "/v1/account/login?keys=true",
        Some(&json!({ "email": "fay@example.com", "authPW": hex::encode(stretched.auth_pw()) })),
        None,
    );
    assert_eq!(login["verified"], json!(false));
    let session = login["sessionToken"].as_str().expect("a session").to_owned();
    let uid = login["uid"].as_str().expect("uid").to_owned();
    let (status, body) = server.call(
        "POST",
        "/v1/recovery_email/verify_code",
        Some(&json!({ "uid": uid, "code": server.code("fay@example.com") })),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let (_, state) = server.hawk("GET", "/v1/session/status", "sessionToken", &session, None);
    assert_eq!(state["state"], json!("verified"), "{state}");
}
