//! The token client over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::{Duration, SystemTime};

use serde_json::json;
use support::{Reply, TestServer};
use sync15::{Error, HttpClient, ServerKind, SyncRootKey, TokenClient};

fn token_json(endpoint: &str) -> serde_json::Value {
    json!({
        "id": "eyJhbGciOiJIUzI1NiJ9.token-id",
        "key": "hawk-secret-key",
        "uid": 12345,
        "api_endpoint": endpoint,
        "duration": 3600,
        "hashed_fxa_uid": "0f1e2d3c4b5a",
        "node_type": "spanner"
    })
}

fn client(server: &TestServer) -> TokenClient {
    TokenClient::new(HttpClient::new().unwrap(), &server.url("/")).unwrap()
}

#[test]
fn fetches_a_token_with_bearer_and_key_id() {
    let server = TestServer::scripted([Reply::json(200, token_json("http://127.0.0.1:1/1.5/12345"))]);
    let root = SyncRootKey::new(&[7u8; 32], 1_234_000).unwrap();
    let token = client(&server)
        .fetch_token("oauth-access-token", &root.key_id())
        .unwrap();

    assert_eq!(token.uid, 12345);
    assert_eq!(token.key, "hawk-secret-key");
    assert_eq!(token.api_endpoint, "http://127.0.0.1:1/1.5/12345");
    assert_eq!(token.hashed_fxa_uid, "0f1e2d3c4b5a");
    assert!(!token.is_expired());
    let expires_in = token.expires_at().duration_since(SystemTime::now()).unwrap();
    assert!(expires_in > Duration::from_secs(3500) && expires_in <= Duration::from_secs(3600));

    let request = server.last_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/1.0/sync/1.5");
    assert_eq!(request.header("authorization"), Some("Bearer oauth-access-token"));
    assert_eq!(request.header("x-keyid"), Some(root.key_id().as_str()));
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[test]
fn the_token_gives_working_hawk_credentials() {
    let storage = TestServer::start(|_| Reply::json(200, json!({"bookmarks": 1.5})));
    let tokens = TestServer::scripted([Reply::json(200, {
        let mut t = token_json(&storage.endpoint());
        t["id"] = json!(support::HAWK_ID);
        t["key"] = json!(support::HAWK_KEY);
        t
    })]);
    let token = client(&tokens).fetch_token("t", "k").unwrap();
    let storage_client = sync15::StorageClient::new(HttpClient::new().unwrap(), &token).unwrap();
    let info = storage_client
        .info_collections(sync15::Precondition::None)
        .unwrap();
    assert_eq!(info.value.get("bookmarks").unwrap().as_millis(), 1500);
    assert!(storage.hawk_is_valid(&storage.last_request()));
}

#[test]
fn refusals_carry_the_token_servers_reason() {
    for (status, reason, expected) in [
        (401, "invalid-credentials", "invalid-credentials (Unauthorized)"),
        (401, "invalid-generation", "invalid-generation (Unauthorized)"),
        (401, "invalid-keyID", "invalid-keyID (Unauthorized)"),
        (403, "invalid-client-state", "invalid-client-state (Unauthorized)"),
    ] {
        let server = TestServer::scripted([Reply::json(
            status,
            json!({"status": reason, "errors": [{"location": "header", "name": "", "description": "Unauthorized"}]}),
        )]);
        match client(&server).fetch_token("t", "k") {
            Err(Error::TokenRejected { status: s, reason }) => {
                assert_eq!(s, status);
                assert_eq!(reason, expected);
            }
            other => panic!("{status}: unexpected {other:?}"),
        }
    }
}

#[test]
fn unavailable_with_retry_after_sets_the_backoff() {
    let server = TestServer::scripted([Reply::text(503, "try later").header("Retry-After", "120")]);
    let http = HttpClient::new().unwrap();
    let tokens = TokenClient::new(http.clone(), &server.url("")).unwrap();
    match tokens.fetch_token("t", "k") {
        Err(Error::ServerUnavailable {
            server: ServerKind::Token,
            status: 503,
            retry_after,
            next_sync_allowed_at,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            let at = next_sync_allowed_at.unwrap();
            assert!(at > SystemTime::now() + Duration::from_secs(100));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(http.next_sync_allowed_at().is_some());
    http.clear_backoff();
    assert!(http.next_sync_allowed_at().is_none());
}

#[test]
fn malformed_answers_are_typed_errors() {
    for body in [
        b"not json".to_vec(),
        b"{\"id\": \"x\"}".to_vec(),
        b"[]".to_vec(),
        br#"{"id":"x","key":"k","uid":"not a number","api_endpoint":"http://h/","duration":1,"hashed_fxa_uid":""}"#
            .to_vec(),
        vec![0xff, 0x00, 0xfe],
    ] {
        let server = TestServer::scripted([Reply::status(200).body(body.clone())]);
        match client(&server).fetch_token("t", "k") {
            Err(Error::MalformedResponse { what, .. }) => assert!(what.contains("token")),
            other => panic!("{}: unexpected {other:?}", String::from_utf8_lossy(&body)),
        }
    }
}

#[test]
fn a_token_pointing_anywhere_but_http_is_refused() {
    let server = TestServer::scripted([
        Reply::json(200, token_json("file:///etc/passwd")),
        Reply::json(200, token_json("not a url")),
    ]);
    let tokens = client(&server);
    assert!(matches!(
        tokens.fetch_token("t", "k"),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        tokens.fetch_token("t", "k"),
        Err(Error::InvalidUrl { .. })
    ));
}

#[test]
fn the_token_servers_clock_is_learned() {
    let an_hour_ahead = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let server = TestServer::scripted([Reply::json(200, token_json("http://127.0.0.1:1/1.5/1"))
        .header("X-Timestamp", &an_hour_ahead.to_string())]);
    let http = HttpClient::new().unwrap();
    TokenClient::new(http.clone(), &server.url(""))
        .unwrap()
        .fetch_token("t", "k")
        .unwrap();
    let skew = http.clock_skew();
    assert!(
        skew > Duration::from_secs(3590) && skew < Duration::from_secs(3610),
        "{skew:?}"
    );
}

#[test]
fn other_statuses_are_unexpected_not_panics() {
    let server = TestServer::scripted([Reply::text(302, "").header("Location", "http://127.0.0.1:1/")]);
    // reqwest follows redirects; one to a closed port becomes a network error.
    let result = client(&server).fetch_token("t", "k");
    assert!(
        matches!(result, Err(Error::Network(_) | Error::UnexpectedStatus { .. })),
        "{result:?}"
    );

    let server = TestServer::scripted([Reply::text(418, "teapot")]);
    assert!(matches!(
        client(&server).fetch_token("t", "k"),
        Err(Error::UnexpectedStatus {
            server: ServerKind::Token,
            status: 418,
            ..
        })
    ));
}

#[test]
fn an_unreachable_server_is_a_network_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tokens = TokenClient::new(HttpClient::new().unwrap(), &format!("http://127.0.0.1:{port}")).unwrap();
    assert!(matches!(tokens.fetch_token("t", "k"), Err(Error::Network(_))));
}
