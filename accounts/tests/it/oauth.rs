//! OAuth as Firefox desktop uses it after its sign-in page: an
//! authorization code with PKCE and the page's keys_jwe, exchanged (Hawk
//! signed with the session) for tokens; refresh, revoke, verify, jwks,
//! profile; and two-step authentication.

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Server;
use serde_json::json;
use sync_accounts::totp;

const DESKTOP: &str = "5882386c6d801776";
const OLDSYNC: &str = "https://identity.mozilla.com/apps/oldsync";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

#[test]
fn an_authorization_code_with_pkce_carries_the_pages_keys_jwe() {
    let server = Server::start();
    server.signed_up("ann@example.com", "pw");
    let (uid, session) = server.raw_session("ann@example.com", "pw");
    let verifier = "a-code-verifier-of-forty-three-characters-x";
    let jwe = "eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVydGV4dA.dGFn";
    let (status, code) = server.hawk(
        "POST",
        "/v1/oauth/authorization",
        "sessionToken",
        &session,
        Some(&json!({
            "client_id": DESKTOP, "response_type": "code", "state": "s t/a+te",
            "scope": format!("profile {OLDSYNC}"), "access_type": "offline",
            "code_challenge": challenge(verifier), "code_challenge_method": "S256",
            "keys_jwe": jwe,
        })),
    );
    assert_eq!(status, 200, "{code}");
    assert_eq!(code["state"], json!("s t/a+te"));

    let exchange = |verifier: &str| {
        server.hawk(
            "POST",
            "/v1/oauth/token",
            "sessionToken",
            &session,
            Some(&json!({
                "grant_type": "authorization_code", "client_id": DESKTOP,
                "code": code["code"], "code_verifier": verifier,
            })),
        )
    };
    let (status, tokens) = exchange(verifier);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        tokens["keys_jwe"],
        json!(jwe),
        "the service hands back what it cannot read"
    );
    assert_eq!(tokens["scope"], json!(format!("profile {OLDSYNC}")));
    let claims = common::verified_claims(&server, tokens["access_token"].as_str().expect("a token"));
    assert_eq!(claims["sub"], json!(uid));
    let (status, again) = exchange(verifier);
    assert_eq!(
        (status, again["errno"].as_u64()),
        (400, Some(105)),
        "a code is used once"
    );

    // The refresh token: a narrower scope is fine, a wider one is not.
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let refresh_with = |scope: &str| {
        server.call(
            "POST",
            "/v1/oauth/token",
            Some(&json!({ "grant_type": "refresh_token", "client_id": DESKTOP, "refresh_token": refresh, "scope": scope })),
            None,
        )
    };
    let (status, profile_token) = refresh_with("profile");
    assert_eq!(status, 200, "{profile_token}");
    let (status, wider) = refresh_with("profile https://identity.mozilla.com/apps/notes");
    assert_eq!((status, wider["errno"].as_u64()), (400, Some(114)));

    // The profile server answers the profile-scoped token.
    let bearer = format!(
        "Bearer {}",
        profile_token["access_token"].as_str().expect("token")
    );
    let (status, profile) = server.call("GET", "/profile/v1/profile", None, Some(&bearer));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["email"], json!("ann@example.com"));

    // /v1/verify, then revocation.
    let access = tokens["access_token"].as_str().expect("token");
    let (status, verified) = server.call("POST", "/v1/verify", Some(&json!({ "token": access })), None);
    assert_eq!(status, 200);
    assert_eq!(verified["user"], json!(uid));
    assert_eq!(verified["scope"], json!(["profile", OLDSYNC]));
    server.call(
        "POST",
        "/v1/oauth/destroy",
        Some(&json!({ "client_id": DESKTOP, "token": access })),
        None,
    );
    let (status, _) = server.call("POST", "/v1/verify", Some(&json!({ "token": access })), None);
    assert_eq!(status, 400);
    server.call(
        "POST",
        "/v1/oauth/destroy",
        Some(&json!({ "client_id": DESKTOP, "token": refresh })),
        None,
    );
    let (status, gone) = refresh_with("profile");
    assert_eq!((status, gone["errno"].as_u64()), (400, Some(108)));
}

#[test]
fn a_wrong_verifier_an_unknown_client_and_a_foreign_scope_are_refused() {
    let server = Server::start();
    server.signed_up("bob@example.com", "pw");
    let (_, session) = server.raw_session("bob@example.com", "pw");
    let authorize = |client: &str, scope: &str| {
        server.hawk(
            "POST",
            "/v1/oauth/authorization",
            "sessionToken",
            &session,
            Some(&json!({
                "client_id": client, "scope": scope, "state": "x", "access_type": "online",
                "code_challenge": challenge("right"), "code_challenge_method": "S256",
            })),
        )
    };
    let (status, body) = authorize("0123456789abcdef", OLDSYNC);
    assert_eq!((status, body["errno"].as_u64()), (400, Some(101)));
    let (status, body) = authorize(DESKTOP, "https://identity.mozilla.com/apps/notes");
    assert_eq!((status, body["errno"].as_u64()), (400, Some(114)));
    let (_, code) = authorize(DESKTOP, OLDSYNC);
    let (status, body) = server.call(
        "POST",
        "/v1/oauth/token",
        Some(&json!({ "client_id": DESKTOP, "grant_type": "authorization_code", "code": code["code"], "code_verifier": "wrong" })),
        None,
    );
    assert_eq!((status, body["errno"].as_u64()), (400, Some(117)));
}

#[test]
fn jwks_and_discovery_documents() {
    let server = Server::start();
    let (status, jwks) = server.call("GET", "/v1/jwks", None, None);
    assert_eq!(status, 200);
    assert_eq!(
        jwks["keys"][0]["kid"],
        json!(server.accounts.public_keys()[0].kid)
    );
    server.accounts.rotate_signing_key().expect("rotated");
    let (_, jwks) = server.call("GET", "/v1/jwks", None, None);
    assert_eq!(
        jwks["keys"].as_array().expect("keys").len(),
        2,
        "the old key still verifies"
    );
    let (status, config) = server.call("GET", "/.well-known/fxa-client-configuration", None, None);
    assert_eq!(status, 200);
    assert_eq!(config["auth_server_base_url"], json!(server.url));
    assert_eq!(
        config["profile_server_base_url"],
        json!(format!("{}/profile", server.url))
    );
    assert_eq!(config["sync_tokenserver_base_url"], json!(server.url));
}

/// An authenticator app's code now.
fn totp_now(secret: &[u8]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    totp::code(secret, totp::counter(now))
}

#[test]
fn with_two_step_authentication_a_sign_in_needs_the_apps_code() {
    let server = Server::start();
    server.signed_up("cy@example.com", "pw");
    let (_, session) = server.raw_session("cy@example.com", "pw");
    let (status, created) = server.hawk(
        "POST",
        "/v1/totp/create",
        "sessionToken",
        &session,
        Some(&json!({})),
    );
    assert_eq!(status, 200, "{created}");
    let secret = totp::base32_decode(created["secret"].as_str().expect("a secret")).expect("base32");
    let (status, enabled) = server.hawk(
        "POST",
        "/v1/session/verify/totp",
        "sessionToken",
        &session,
        Some(&json!({ "code": totp_now(&secret) })),
    );
    assert_eq!((status, enabled["success"].as_bool()), (200, Some(true)));

    let mut fxa = server.fxa();
    assert_eq!(
        fxa.sign_in("cy@example.com", "pw").expect("sign-in"),
        fxa_client::SignInStatus::NeedsTotp
    );
    assert!(fxa.verify_totp("000000").is_err());
    assert_eq!(
        fxa.verify_totp(&totp_now(&secret)).expect("confirmed"),
        fxa_client::SignInStatus::SignedIn
    );
    let summary = server
        .accounts
        .find_account("cy@example.com")
        .expect("read")
        .expect("an account");
    assert!(summary.totp_enabled);
}
