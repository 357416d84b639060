//! Conformance: the token server, Hawk, and isolation between users.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime};

use serde_json::json;
use support::{Account, TestServer, json};
use sync15::{Error, HttpClient, SyncRootKey, TokenClient};

fn token_client(s: &TestServer) -> TokenClient {
    TokenClient::new(HttpClient::new().unwrap(), s.server.url()).unwrap()
}

#[test]
fn the_token_names_the_user_their_node_and_a_working_key() {
    let s = TestServer::start();
    let a = s.account("token@example.com");
    assert_eq!(
        a.token.api_endpoint,
        format!("{}/1.5/{}", s.server.url(), a.token.uid)
    );
    assert_eq!(a.token.duration, 3600);
    assert_eq!(a.token.hashed_fxa_uid.len(), 32);
    assert!(!a.token.is_expired());
    assert_eq!(a.get("/info/collections").status(), 200);

    // The same account and keys get the same uid again.
    let again = s.account_with_keys("same@example.com", &[9u8; 32], 5);
    let again2 = s.account_with_keys("same@example.com", &[9u8; 32], 5);
    assert_eq!(again.token.uid, again2.token.uid);
}

#[test]
fn bad_bearer_tokens_and_key_ids_are_refused() {
    let s = TestServer::start();
    let tokens = token_client(&s);
    let key_id = SyncRootKey::new(&[1u8; 32], 10).unwrap().key_id();
    let refused = |result: Result<sync15::Token, Error>, expected: &str| match result {
        Err(Error::TokenRejected { status: 401, reason }) => {
            assert!(reason.starts_with(expected), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    };
    refused(tokens.fetch_token("not-a-jwt", &key_id), "invalid-credentials");
    let foreign = sync_storage::auth::mint_dev_token("some other secret", "x@example.com", 1, 600).unwrap();
    refused(tokens.fetch_token(&foreign, &key_id), "invalid-credentials");
    let good = s.server.mint_token("x@example.com").unwrap();
    refused(tokens.fetch_token(&good, "garbage"), "invalid-credentials");
    refused(tokens.fetch_token(&good, "12-tooshort"), "invalid-credentials");
    // Without any Authorization header at all.
    let r = reqwest::blocking::get(s.url("/1.0/sync/1.5")).unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["status"], "invalid-credentials");
}

#[test]
fn key_generations_only_move_forward() {
    let s = TestServer::start();
    let tokens = token_client(&s);
    let oauth = s.server.mint_token("keys@example.com").unwrap();
    let key_id = |kb: u8, at: u64| SyncRootKey::new(&[kb; 32], at).unwrap().key_id();

    let first = tokens.fetch_token(&oauth, &key_id(1, 100)).unwrap();
    // New keys need a newer keysChangedAt.
    match tokens.fetch_token(&oauth, &key_id(2, 100)) {
        Err(Error::TokenRejected { reason, .. }) => assert!(reason.starts_with("invalid-keysChangedAt")),
        other => panic!("{other:?}"),
    }
    // An older keysChangedAt is refused.
    match tokens.fetch_token(&oauth, &key_id(1, 50)) {
        Err(Error::TokenRejected { reason, .. }) => assert!(reason.starts_with("invalid-keysChangedAt")),
        other => panic!("{other:?}"),
    }
    // A real key change: a new uid, and the old token stops working.
    let second = tokens.fetch_token(&oauth, &key_id(2, 200)).unwrap();
    assert_ne!(second.uid, first.uid);
    let old = Account::new(first);
    assert_eq!(old.get("/info/collections").status(), 401);
    assert_eq!(Account::new(second).get("/info/collections").status(), 200);
    // Going back to keys used before is refused.
    match tokens.fetch_token(&oauth, &key_id(1, 300)) {
        Err(Error::TokenRejected { reason, .. }) => assert!(reason.starts_with("invalid-client-state")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_older_account_generation_is_refused() {
    let s = TestServer::start();
    let secret = s.server.dev_secret().unwrap().to_owned();
    let tokens = token_client(&s);
    let key_id = SyncRootKey::new(&[3u8; 32], 10).unwrap().key_id();
    let newer = sync_storage::auth::mint_dev_token(&secret, "gen@example.com", 5, 600).unwrap();
    tokens.fetch_token(&newer, &key_id).unwrap();
    let older = sync_storage::auth::mint_dev_token(&secret, "gen@example.com", 4, 600).unwrap();
    match tokens.fetch_token(&older, &key_id) {
        Err(Error::TokenRejected { reason, .. }) => {
            assert!(reason.starts_with("invalid-generation"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_user_can_never_reach_another() {
    let s = TestServer::start();
    let alice = s.account("alice@example.com");
    let bob = s.account("bob@example.com");
    alice.put_json("/storage/passwords/secret", json!({"payload": "alice's"}), &[]);

    // Bob's valid token, pointed at Alice's URLs.
    let alice_base = alice.token.api_endpoint.clone();
    for (method, path) in [
        ("GET", "/info/collections"),
        ("GET", "/storage/passwords"),
        ("GET", "/storage/passwords/secret"),
        ("PUT", "/storage/passwords/secret"),
        ("POST", "/storage/passwords"),
        ("DELETE", "/storage/passwords/secret"),
        ("DELETE", "/storage/passwords"),
        ("DELETE", "/storage"),
    ] {
        let body = match method {
            "PUT" => Some(("application/json", br#"{"payload":"bob's"}"#.to_vec())),
            "POST" => Some((
                "application/json",
                br#"[{"id":"secret","payload":"bob's"}]"#.to_vec(),
            )),
            _ => None,
        };
        let r = bob.send_to(method, &format!("{alice_base}{path}"), &[], body);
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    assert_eq!(json(alice.get("/storage/passwords/secret"))["payload"], "alice's");
    assert_eq!(json(bob.get("/info/collections")), json!({}));
}

#[test]
fn hawk_failures_are_401() {
    let s = TestServer::start();
    let a = s.account("hawk@example.com");
    let url = a.url("/info/collections");
    let raw = reqwest::blocking::Client::new();
    // No header, a bearer token, garbage.
    for auth in [None, Some("Bearer abc"), Some("Hawk id=\"x\"")] {
        let mut req = raw.get(&url);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        assert_eq!(req.send().unwrap().status(), 401, "{auth:?}");
    }
    // A replayed request.
    let creds = a.token.hawk_credentials().unwrap();
    let header = creds
        .authorization("GET", &url::Url::parse(&url).unwrap(), SystemTime::now())
        .unwrap();
    assert_eq!(
        raw.get(&url)
            .header("Authorization", &header)
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        raw.get(&url)
            .header("Authorization", &header)
            .send()
            .unwrap()
            .status(),
        401
    );
    // Signed too long ago.
    let stale = creds
        .authorization(
            "GET",
            &url::Url::parse(&url).unwrap(),
            SystemTime::now() - Duration::from_secs(600),
        )
        .unwrap();
    assert_eq!(
        raw.get(&url)
            .header("Authorization", stale)
            .send()
            .unwrap()
            .status(),
        401
    );
    // Signed for another path.
    let other = creds
        .authorization(
            "GET",
            &url::Url::parse(&a.url("/info/quota")).unwrap(),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(
        raw.get(&url)
            .header("Authorization", other)
            .send()
            .unwrap()
            .status(),
        401
    );
    // The sync15 client maps 401 to StorageUnauthorized.
    let forged = sync15::StorageClient::with_credentials(
        HttpClient::new().unwrap(),
        &a.token.api_endpoint,
        sync15::HawkCredentials::new(&a.token.id, "wrong key").unwrap(),
    )
    .unwrap();
    assert!(matches!(
        forged.info_collections(sync15::Precondition::None),
        Err(Error::StorageUnauthorized)
    ));
}

#[test]
fn a_payload_hash_when_sent_must_match_the_body() {
    let s = TestServer::start();
    let a = s.account("hash@example.com");
    let url = url::Url::parse(&a.url("/storage/c/x")).unwrap();
    let creds = a.token.hawk_credentials().unwrap();
    let body = br#"{"payload":"signed"}"#;
    let sign = |nonce: &str| {
        creds
            .authorization_full(
                "PUT",
                &url,
                SystemTime::now(),
                nonce,
                Some(sync15::PayloadToHash {
                    content_type: "application/json",
                    body,
                }),
                None,
            )
            .unwrap()
    };
    let raw = reqwest::blocking::Client::new();
    let put = |auth: String, body: &[u8]| {
        raw.put(url.clone())
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(put(sign("n1"), body), 200);
    assert_eq!(put(sign("n2"), br#"{"payload":"tampered"}"#), 401);
    assert_eq!(json(a.get("/storage/c/x"))["payload"], "signed");
}

#[test]
fn node_reassignment_makes_old_tokens_fail_with_401() {
    // Two configured nodes; both are served by this process and database.
    let s = TestServer::start_with(|c| {
        c.nodes = vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()];
    });
    let served_here = |mut token: sync15::Token| {
        token.api_endpoint = format!("{}/1.5/{}", s.server.url(), token.uid);
        Account::new(token)
    };
    let oauth = s.server.mint_token("move@example.com").unwrap();
    let key_id = SyncRootKey::new(&[4u8; 32], 10).unwrap().key_id();
    let first = token_client(&s).fetch_token(&oauth, &key_id).unwrap();
    assert!(first.api_endpoint.starts_with("http://127.0.0.1:1/"));
    let fxa_uid = {
        // The dev token's subject is derived from the email; reassign by it.
        let claims = oauth.split('.').nth(1).unwrap();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["sub"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(served_here(first.clone()).get("/info/collections").status(), 200);

    let new_uid = s
        .server
        .db()
        .reassign_node(&fxa_uid, "http://127.0.0.1:2")
        .unwrap()
        .unwrap();
    assert_ne!(new_uid, first.uid);
    // The old token is no longer current: 401, which sends the client back
    // to the token server, which names the new node.
    assert_eq!(served_here(first).get("/info/collections").status(), 401);
    let second = token_client(&s).fetch_token(&oauth, &key_id).unwrap();
    assert_eq!(second.uid, new_uid);
    assert!(second.api_endpoint.starts_with("http://127.0.0.1:2/"));
    assert_eq!(served_here(second).get("/info/collections").status(), 200);
}

mod fxa_mode {
    use super::*;
    use base64::Engine as _;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use sync_storage::config::{AuthMode, RsaJwk};

    struct FxaKey {
        kid: String,
        n: String,
        e: String,
        private: Vec<u8>,
    }

    fn fxa_key() -> FxaKey {
        let v: serde_json::Value = serde_json::from_str(include_str!("fixtures/fxa_test_key.json")).unwrap();
        FxaKey {
            kid: v["kid"].as_str().unwrap().into(),
            n: v["n"].as_str().unwrap().into(),
            e: v["e"].as_str().unwrap().into(),
            private: base64::engine::general_purpose::STANDARD
                .decode(v["private_pkcs1_der_b64"].as_str().unwrap())
                .unwrap(),
        }
    }

    fn fxa_token(key: &FxaKey, kid: &str, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&key.private)).unwrap()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn fxa_access_tokens_are_verified_against_the_configured_key() {
        let key = fxa_key();
        let s = TestServer::start_with(|c| {
            c.auth.mode = AuthMode::Fxa;
            c.auth.fxa_jwks = vec![RsaJwk {
                kid: key.kid.clone(),
                n: key.n.clone(),
                e: key.e.clone(),
            }];
        });
        assert!(
            s.server.mint_token("x@example.com").is_none(),
            "no dev tokens in fxa mode"
        );
        let tokens = token_client(&s);
        let key_id = SyncRootKey::new(&[5u8; 32], 10).unwrap().key_id();
        let claims = |scope: &str, exp: u64| {
            json!({"sub": "0123456789abcdef0123456789abcdef", "scope": scope, "exp": exp,
                   "iat": now(), "client_id": "5882386c6d801776", "fxa-generation": 1})
        };
        let good = fxa_token(
            &key,
            &key.kid,
            claims("profile https://identity.mozilla.com/apps/oldsync", now() + 600),
        );
        let token = tokens.fetch_token(&good, &key_id).unwrap();
        assert_eq!(Account::new(token).get("/info/collections").status(), 200);

        for (what, bad) in [
            (
                "no sync scope",
                fxa_token(&key, &key.kid, claims("profile", now() + 600)),
            ),
            (
                "expired",
                fxa_token(
                    &key,
                    &key.kid,
                    claims("https://identity.mozilla.com/apps/oldsync", now() - 3600),
                ),
            ),
            (
                "unknown key id",
                fxa_token(
                    &key,
                    "other-kid",
                    claims("https://identity.mozilla.com/apps/oldsync", now() + 600),
                ),
            ),
        ] {
            match tokens.fetch_token(&bad, &key_id) {
                Err(Error::TokenRejected { status: 401, .. }) => {}
                other => panic!("{what}: {other:?}"),
            }
        }
        // A dev-mode token is not an FxA token.
        let dev = sync_storage::auth::mint_dev_token("secret", "x@example.com", 1, 600).unwrap();
        assert!(tokens.fetch_token(&dev, &key_id).is_err());
    }
}
