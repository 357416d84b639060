//! Conformance: the token server, Hawk, and isolation between users.
#![allow(clippy::unwrap_used)]

use crate::support;

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

    // Mozilla's bodies, with X-Timestamp and nosniff even on refusals.
    let raw = reqwest::blocking::Client::new();
    let url = s.url("/1.0/sync/1.5");
    let r = raw.get(&url).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("x-timestamp").is_some());
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        json(r),
        json!({"status": "error", "errors": [{"location": "body", "name": "", "description": "Unauthorized"}]})
    );
    let r = raw.get(&url).header("Authorization", "Basic abc").send().unwrap();
    assert_eq!(json(r)["errors"][0]["description"], "Unsupported");
    let r = raw.get(&url).bearer_auth(&good).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["status"], "invalid-key-id");
    let r = raw
        .get(&url)
        .bearer_auth("garbage")
        .header("X-KeyID", &key_id)
        .send()
        .unwrap();
    // A 401 names the scheme the token server takes, as its API text asks.
    assert_eq!(
        r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_eq!(
        json(r),
        json!({"status": "invalid-credentials", "errors": [{"location": "body", "name": "", "description": "Unauthorized"}]})
    );
    // Another application or version is a 404.
    for path in ["/1.0/push/1.5", "/1.0/sync/1.1"] {
        let r = raw
            .get(s.url(path))
            .bearer_auth(&good)
            .header("X-KeyID", &key_id)
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(json(r)["errors"][0]["location"], "url");
    }
}

#[test]
fn token_responses_have_mozillas_fields_and_honour_duration() {
    let s = TestServer::start();
    let oauth = s.server.mint_token("fields@example.com").unwrap();
    let key_id = SyncRootKey::new(&[8u8; 32], 1_700_000_000_000).unwrap().key_id();
    let raw = reqwest::blocking::Client::new();
    let get = |query: &str| {
        raw.get(s.url(&format!("/1.0/sync/1.5{query}")))
            .bearer_auth(&oauth)
            .header("X-KeyID", &key_id)
            .send()
            .unwrap()
    };
    let r = get("");
    assert_eq!(r.status(), 200);
    let timestamp: u64 = r.headers()["x-timestamp"].to_str().unwrap().parse().unwrap();
    assert!(timestamp > 1_700_000_000);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body = json(r);
    let mut fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "api_endpoint",
            "duration",
            "hashalg",
            "hashed_fxa_uid",
            "id",
            "key",
            "node_type",
            "uid"
        ]
    );
    assert_eq!(body["hashalg"], "sha256");
    let backend = if support::postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["node_type"], backend);
    assert_eq!(body["duration"], 3600);
    // The id is a tokenlib v1 token: padded base64url, payload then signature.
    let id = body["id"].as_str().unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE, id).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&bytes[..bytes.len() - 32]).unwrap();
    assert_eq!(payload["uid"], body["uid"]);
    assert!(payload["expires"].is_f64());
    assert_eq!(payload["salt"].as_str().unwrap().len(), 6);
    assert_eq!(payload["hashed_fxa_uid"], body["hashed_fxa_uid"]);
    assert_eq!(
        payload["fxa_kid"],
        key_id.as_str(),
        "13-digit keys_changed_at, as X-KeyID here"
    );
    assert_eq!(payload["hashed_device_id"].as_str().unwrap().len(), 32);

    assert_eq!(json(get("?duration=60"))["duration"], 60);
    assert_eq!(json(get("?duration=999999"))["duration"], 3600, "capped");
    assert_eq!(json(get("?duration=soon"))["duration"], 3600, "ignored");
}

#[test]
fn key_generations_only_move_forward() {
    let s = TestServer::start();
    let tokens = token_client(&s);
    let oauth = s.server.mint_token("keys@example.com").unwrap();
    let key_id = |kb: u8, at: u64| SyncRootKey::new(&[kb; 32], at).unwrap().key_id();

    let first = tokens.fetch_token(&oauth, &key_id(1, 100)).unwrap();
    // New keys need a newer keysChangedAt (Mozilla: invalid-client-state).
    match tokens.fetch_token(&oauth, &key_id(2, 100)) {
        Err(Error::TokenRejected { reason, .. }) => assert!(reason.starts_with("invalid-client-state")),
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
