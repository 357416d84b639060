//! Password change keeps kB (and so the Sync key); a reset makes a new
//! kB, moves keys_changed_at and ends every session and refresh token.

use crate::common;

use common::Server;
use fxa_client::FxaError;
use fxa_client::crypto::{Stretch, StretchedPassword, TokenCredentials, unbundle_keys, xor32};
use serde_json::json;

fn hex32(value: &serde_json::Value) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value.as_str().expect("hex"), &mut out).expect("32 bytes");
    out
}

#[test]
fn a_password_change_keeps_the_sync_key_and_replaces_the_calling_session() {
    let server = Server::start();
    let email = "ann@example.com";
    let before = server
        .signed_up(email, "old password")
        .sync_root_key()
        .expect("key");
    let (_, session) = server.raw_session(email, "old password");
    let old = StretchedPassword::new(email, "old password", &Stretch::V1).expect("stretch");
    let (status, started) = server.hawk(
        "POST",
        "/v1/password/change/start",
        "sessionToken",
        &session,
        Some(&json!({ "email": email, "oldAuthPW": hex::encode(old.auth_pw()) })),
    );
    assert_eq!(status, 200, "{started}");
    let key_fetch = started["keyFetchToken"]
        .as_str()
        .expect("a key fetch token")
        .to_owned();
    let (status, keys) = server.hawk("GET", "/v1/account/keys", "keyFetchToken", &key_fetch, None);
    assert_eq!(status, 200, "{keys}");
    let bundle = hex::decode(keys["bundle"].as_str().expect("bundle")).expect("hex");
    let key_fetch_creds = TokenCredentials::derive(&hex32(&started["keyFetchToken"]), "keyFetchToken");
    let (_, wrap_kb) = unbundle_keys(&key_fetch_creds.extra, &bundle).expect("unbundled");
    let kb = xor32(&wrap_kb, &old.unwrap_b_key());

    let new = StretchedPassword::new(email, "new password", &Stretch::V1).expect("stretch");
    let session_id = TokenCredentials::derive(&hex32(&json!(session)), "sessionToken").id;
    let (status, finished) = server.hawk(
        "POST",
        "/v1/password/change/finish",
        "passwordChangeToken",
        started["passwordChangeToken"].as_str().expect("a change token"),
        Some(&json!({
            "authPW": hex::encode(new.auth_pw()),
            "wrapKb": hex::encode(xor32(&kb, &new.unwrap_b_key())),
            "sessionToken": session_id,
        })),
    );
    assert_eq!(status, 200, "{finished}");
    assert!(server.subjects(email).iter().any(|s| s.contains("password")));

    // The old password no longer works; the new one derives the same key.
    assert!(matches!(
        server.fxa().sign_in(email, "old password"),
        Err(FxaError::IncorrectPassword)
    ));
    let mut again = server.fxa();
    again.sign_in(email, "new password").expect("sign-in");
    again.verify_email_code(&server.code(email)).expect("confirmed");
    assert_eq!(again.sync_root_key().expect("key").key_id(), before.key_id());
    // Every session ended; the one that changed it got a successor (as
    // Mozilla's change/finish answers), verified as it was.
    let (status, _) = server.hawk("GET", "/v1/session/status", "sessionToken", &session, None);
    assert_eq!(status, 401);
    assert_eq!(finished["verified"], json!(true));
    let successor = finished["sessionToken"].as_str().expect("a new session");
    let (status, _) = server.hawk("GET", "/v1/session/status", "sessionToken", successor, None);
    assert_eq!(status, 200);
}

#[test]
fn a_reset_makes_a_new_key_and_ends_every_session() {
    let server = Server::start();
    let email = "bob@example.com";
    let mut device = server.signed_up(email, "forgotten");
    let before = device.sync_root_key().expect("key");

    let (status, _) = server.call(
        "POST",
        "/v1/password/forgot/send_otp",
        Some(&json!({ "email": email })),
        None,
    );
    assert_eq!(status, 200);
    let otp = server.code(email);
    assert_eq!(otp.len(), 8);
    let (status, wrong) = server.call(
        "POST",
        "/v1/password/forgot/verify_otp",
        Some(&json!({ "email": email, "code": "00000000" })),
        None,
    );
    assert_eq!((status, wrong["errno"].as_u64()), (400, Some(183)));
    let (status, verified) = server.call(
        "POST",
        "/v1/password/forgot/verify_otp",
        Some(&json!({ "email": email, "code": otp })),
        None,
    );
    assert_eq!(status, 200, "{verified}");
    let (status, reset_token) = server.hawk(
        "POST",
        "/v1/password/forgot/verify_code",
        "passwordForgotToken",
        verified["token"].as_str().expect("a forgot token"),
        Some(&json!({ "code": verified["code"] })),
    );
    assert_eq!(status, 200, "{reset_token}");
    let new = StretchedPassword::new(email, "remembered", &Stretch::V1).expect("stretch");
    let (status, done) = server.hawk(
        "POST",
        "/v1/account/reset",
        "accountResetToken",
        reset_token["accountResetToken"].as_str().expect("a reset token"),
        Some(&json!({ "authPW": hex::encode(new.auth_pw()) })),
    );
    assert_eq!(status, 200, "{done}");

    // The old device's refresh token is gone: it must sign in again.
    device.clear_access_token();
    assert!(matches!(device.access_token(), Err(FxaError::InvalidToken)));
    let mut again = server.fxa();
    again.sign_in(email, "remembered").expect("sign-in");
    again.verify_email_code(&server.code(email)).expect("confirmed");
    let after = again.sync_root_key().expect("key");
    assert_ne!(
        after.key_id(),
        before.key_id(),
        "a new kB under a new keys_changed_at"
    );
    assert!(after.key_rotation_timestamp() > before.key_rotation_timestamp());
    assert_ne!(after.ksync(), before.ksync());
    // The access token's generation moved too: a token server refuses
    // the old generation's tokens from now on.
    let claims = common::verified_claims(&server, &again.access_token().expect("token"));
    assert!(claims["fxa-generation"].as_u64().expect("generation") >= after.key_rotation_timestamp());
}
