//! The token server in FxA mode against a stand-in FxA, over real HTTP:
//! JWTs checked locally against a primary and a secondary key, other
//! tokens asked of FxA's `/v1/verify`, and no unverified token ever let
//! through — expired, wrong scope, revoked, FxA failing, gone or slow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sync_storage::config::{AuthMode, OLDSYNC_SCOPE};
use sync15::{Error, HttpClient, SyncRootKey, TokenClient};
use test_support::TestServer;
use test_support::fxa::{FxaBehaviour, StandInFxa, access_claims};

fn fxa_server(fxa: &StandInFxa, tweak: impl FnOnce(&mut sync_storage::config::Config)) -> TestServer {
    let url = fxa.url();
    TestServer::start_with(move |c| {
        c.auth.mode = AuthMode::Fxa;
        c.auth.fxa_oauth_server_url = url;
        c.auth.fxa_verify_timeout_secs = 1;
        tweak(c);
    })
}

fn key_id() -> String {
    SyncRootKey::new(&[5u8; 32], 1_700_000_000_000).unwrap().key_id()
}

/// The token server's answer: Ok, or (HTTP status, token-server status string).
fn token(s: &TestServer, bearer: &str) -> Result<sync15::Token, (u16, String)> {
    let client = TokenClient::new(HttpClient::new().unwrap(), s.url()).unwrap();
    match client.fetch_token(bearer, &key_id()) {
        Ok(t) => Ok(t),
        Err(Error::TokenRejected { status, reason }) => Err((status, reason)),
        Err(Error::ServerUnavailable { .. }) => Err((503, String::new())),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn refused(result: Result<sync15::Token, (u16, String)>, what: &str) {
    match result {
        Err((401, reason)) => assert!(reason.starts_with("invalid-credentials"), "{what}: {reason}"),
        other => panic!("{what}: {other:?}"),
    }
}

const USER: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn jwts_verify_locally_against_the_primary_and_the_secondary_key() {
    let fxa = StandInFxa::start();
    let [primary, next] = fxa.keys().clone();
    let (p, n) = (primary.jwk.clone(), next.jwk.clone());
    let s = fxa_server(&fxa, move |c| {
        c.auth.fxa_primary_jwk = Some(p);
        c.auth.fxa_secondary_jwk = Some(n);
    });
    let scope = format!("profile {OLDSYNC_SCOPE}");
    for key in [&primary, &next] {
        let jwt = key.sign(&access_claims(USER, &scope, Some(1_700_000_000_000), 600));
        let t = token(&s, &jwt).unwrap();
        assert!(t.api_endpoint.starts_with(s.url()));
    }
    assert_eq!(fxa.verify_calls(), 0, "JWTs never go to FxA");
    refused(
        token(
            &s,
            &primary.sign(&access_claims(USER, OLDSYNC_SCOPE, None, -3600)),
        ),
        "expired",
    );
    refused(
        token(&s, &primary.sign(&access_claims(USER, "profile", None, 600))),
        "no sync scope",
    );
    // Not an access token: the same key, but `typ` JWT (as an ID token).
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("JWT".into());
    let id_token = {
        let keys: serde_json::Value =
            serde_json::from_str(include_str!("../../fixtures/fxa_test_keys.json")).unwrap();
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            keys[0]["private_pkcs1_der_b64"].as_str().unwrap(),
        )
        .unwrap();
        jsonwebtoken::encode(
            &header,
            &access_claims(USER, OLDSYNC_SCOPE, None, 600),
            &jsonwebtoken::EncodingKey::from_rsa_der(&der),
        )
        .unwrap()
    };
    refused(token(&s, &id_token), "typ JWT");
    assert_eq!(fxa.verify_calls(), 0);

    // Only the primary configured: the next key's tokens are refused, not
    // sent to FxA (a bad signature is a refusal, as at Mozilla).
    let p = primary.jwk.clone();
    let only_primary = fxa_server(&fxa, move |c| c.auth.fxa_primary_jwk = Some(p));
    refused(
        token(
            &only_primary,
            &next.sign(&access_claims(USER, OLDSYNC_SCOPE, None, 600)),
        ),
        "unknown key",
    );
    assert_eq!(fxa.verify_calls(), 0);
}

#[test]
fn other_tokens_are_verified_by_fxa() {
    let fxa = StandInFxa::start();
    let s = fxa_server(&fxa, |c| c.auth.fxa_verify_cache_secs = 0);
    let good = fxa.issue_sync_token(USER);
    let t = token(&s, &good).unwrap();
    assert_eq!(fxa.verify_calls(), 1);
    // The token works for storage.
    let storage = sync15::StorageClient::new(HttpClient::new().unwrap(), &t).unwrap();
    storage.info_collections(sync15::Precondition::None).unwrap();

    let expired = fxa.issue_opaque(USER, OLDSYNC_SCOPE, None, Duration::ZERO);
    refused(token(&s, &expired), "expired");
    let wrong_scope = fxa.issue_opaque(USER, "profile", None, Duration::from_secs(600));
    refused(token(&s, &wrong_scope), "wrong scope");
    refused(token(&s, "not a token FxA knows"), "unknown");
    fxa.revoke(&good);
    refused(token(&s, &good), "revoked");
    // Without local keys, a JWT is FxA's to judge too.
    let jwt = fxa.keys()[0].sign(&access_claims(USER, OLDSYNC_SCOPE, None, 600));
    token(&s, &jwt).unwrap();
    // A generation FxA reports is enforced like a JWT's.
    let newer = fxa.issue_opaque(
        USER,
        OLDSYNC_SCOPE,
        Some(1_800_000_000_000),
        Duration::from_secs(600),
    );
    token(&s, &newer).unwrap();
    let older = fxa.issue_opaque(
        USER,
        OLDSYNC_SCOPE,
        Some(1_750_000_000_000),
        Duration::from_secs(600),
    );
    match token(&s, &older) {
        Err((401, reason)) => assert!(reason.starts_with("invalid-generation"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn verified_tokens_are_remembered_briefly() {
    let fxa = StandInFxa::start();
    let s = fxa_server(&fxa, |c| c.auth.fxa_verify_cache_secs = 60);
    let good = fxa.issue_sync_token(USER);
    let first = token(&s, &good).unwrap();
    let second = token(&s, &good).unwrap();
    assert_eq!(first.uid, second.uid);
    assert_eq!(
        fxa.verify_calls(),
        1,
        "the second request was answered from the cache"
    );
    // Refusals are not remembered.
    refused(token(&s, "unknown"), "unknown");
    refused(token(&s, "unknown"), "unknown again");
    assert_eq!(fxa.verify_calls(), 3);
}

/// A raw token request, to see the 503 itself.
fn raw_token_request(s: &TestServer, bearer: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{}/1.0/sync/1.5", s.url()))
        .bearer_auth(bearer)
        .header("X-KeyID", key_id())
        .send()
        .unwrap()
}

fn assert_unavailable(r: reqwest::blocking::Response, what: &str) {
    assert_eq!(r.status(), 503, "{what}");
    assert!(r.headers().get("retry-after").is_some(), "{what}: Retry-After");
    assert!(r.headers().get("x-timestamp").is_some(), "{what}: X-Timestamp");
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(
        body["errors"][0]["description"], "Resource is not available",
        "{what}"
    );
}

#[test]
fn when_fxa_cannot_answer_nothing_gets_through() {
    let fxa = StandInFxa::start();
    let s = fxa_server(&fxa, |c| c.auth.fxa_verify_cache_secs = 0);
    let good = fxa.issue_sync_token(USER);

    fxa.set_behaviour(FxaBehaviour::Failing);
    assert_unavailable(raw_token_request(&s, &good), "FxA answers 503");
    assert!(matches!(
        TokenClient::new(HttpClient::new().unwrap(), s.url())
            .unwrap()
            .fetch_token(&good, &key_id()),
        Err(Error::ServerUnavailable { .. })
    ));

    fxa.set_behaviour(FxaBehaviour::Slow(Duration::from_secs(4)));
    let started = Instant::now();
    assert_unavailable(raw_token_request(&s, &good), "FxA too slow");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the 1 s timeout"
    );

    fxa.set_behaviour(FxaBehaviour::Normal);
    token(&s, &good).unwrap();

    drop(fxa);
    assert_unavailable(raw_token_request(&s, &good), "FxA gone");
}

#[test]
fn dev_tokens_are_not_fxa_tokens() {
    let fxa = StandInFxa::start();
    let s = fxa_server(&fxa, |_| {});
    let dev = sync_storage::auth::mint_dev_token("secret", "x@example.com", 0, 600).unwrap();
    refused(token(&s, &dev), "dev token");
}
