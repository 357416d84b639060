//! How the server is deployed: the `storage-only` and `token-only` roles
//! behind a shared secret (including tokens Mozilla's tokenlib made), the
//! Dockerflow endpoints, and `/metrics`.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::{Account, TestServer, json};
use sync_storage::config::Role;
use sync15::{HttpClient, Precondition, SyncRootKey, Token, TokenClient};

fn vector(name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(include_str!("fixtures/tokenlib_v1.json")).unwrap();
    v["made_by_tokenlib"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

/// An account holding credentials another token server issued.
fn foreign_account(node: &TestServer, case: &serde_json::Value) -> Account {
    let uid = case["payload"]["uid"].as_u64().unwrap();
    Account::new(Token::new(
        case["id"].as_str().unwrap(),
        case["key"].as_str().unwrap(),
        uid,
        &format!("{}/1.5/{uid}", node.server.url()),
        3600,
    ))
}

#[test]
fn a_storage_only_node_serves_any_token_signed_with_its_secret() {
    // A token Python's tokenlib made, as Mozilla's token server would hand it out.
    let case = vector("python token server payload");
    let node = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec![case["secret"].as_str().unwrap().to_owned()];
    });
    let a = foreign_account(&node, &case);
    assert_eq!(a.get("/info/collections").status(), 200);
    assert_eq!(
        a.put_json("/storage/tabs/t1", json!({"payload": "x"}), &[])
            .status(),
        200
    );
    assert_eq!(json(a.get("/storage/tabs/t1"))["payload"], "x");
    // The URL's uid must be the token's.
    let other = a.send_to(
        "GET",
        &format!("{}/1.5/2/info/collections", node.server.url()),
        &[],
        None,
    );
    assert_eq!(other.status(), 401);
    assert_eq!(other.text().unwrap(), "0");
    // It has no token server.
    let r = reqwest::blocking::get(node.url("/1.0/sync/1.5")).unwrap();
    assert_eq!(r.status(), 404);

    // Rotation: the node's old secret behind a new one still verifies.
    let rotated = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec!["a newer secret".into(), case["secret"].as_str().unwrap().into()];
    });
    assert_eq!(
        foreign_account(&rotated, &case).get("/info/collections").status(),
        200
    );
    // A node that does not share the secret refuses it.
    let stranger = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec!["not shared".into()];
    });
    assert_eq!(
        foreign_account(&stranger, &case)
            .get("/info/collections")
            .status(),
        401
    );
}

#[test]
fn an_expired_token_still_reads_info_collections_and_nothing_else() {
    let case = vector("expired");
    let node = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec![case["secret"].as_str().unwrap().to_owned()];
    });
    let a = foreign_account(&node, &case);
    assert_eq!(a.get("/info/collections").status(), 200);
    for path in [
        "/info/quota",
        "/info/configuration",
        "/storage/tabs",
        "/storage/info/collections",
    ] {
        assert_eq!(a.get(path).status(), 401, "{path}");
    }
    assert_eq!(
        a.put_json("/storage/tabs/t1", json!({"payload": "x"}), &[])
            .status(),
        401
    );
}

#[test]
fn a_token_only_server_fronts_a_storage_only_node() {
    let node = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec!["shared between them".into()];
    });
    let node_url = node.server.url().to_owned();
    let tokens = TestServer::start_with(move |c| {
        c.role = Role::TokenOnly;
        c.master_secret.0 = vec!["shared between them".into()];
        c.nodes = vec![node_url];
    });
    let oauth = tokens.server.mint_token("split@example.com").unwrap();
    let key_id = SyncRootKey::new(&[3u8; 32], 1_000).unwrap().key_id();
    let token = TokenClient::new(HttpClient::new().unwrap(), tokens.server.url())
        .unwrap()
        .fetch_token(&oauth, &key_id)
        .unwrap();
    assert!(token.api_endpoint.starts_with(node.server.url()));
    let a = Account::new(token);
    a.put_json("/storage/passwords/p1", json!({"payload": "sealed"}), &[]);
    let fetched = a
        .client
        .get_record("passwords", &sync15::Guid::new("p1"), Precondition::None)
        .unwrap();
    assert_eq!(fetched.value.payload, "sealed");
    // The token server serves no storage.
    let r = reqwest::blocking::get(tokens.url("/1.5/1/info/collections")).unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn dockerflow_endpoints() {
    let s = TestServer::start();
    let r = reqwest::blocking::get(s.url("/__lbheartbeat__")).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r), json!({}));
    let r = reqwest::blocking::get(s.url("/__heartbeat__")).unwrap();
    assert_eq!(r.status(), 200);
    let body = json(r);
    assert_eq!(body["status"], "Ok");
    assert_eq!(body["database"], "Ok");
    let r = reqwest::blocking::get(s.url("/__version__")).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r)["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn heartbeat_fails_when_the_database_does() {
    let s = TestServer::start();
    // Another connection holds the lock the heartbeat needs (SQLite: the
    // write lock; PostgreSQL: the settings table), longer than it waits.
    let blocker = Blocker::lock(&s.database);
    let r = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
        .get(s.url("/__heartbeat__"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(json(r)["database"], "Err");
    drop(blocker);
    assert_eq!(
        reqwest::blocking::get(s.url("/__heartbeat__")).unwrap().status(),
        200
    );
}

#[test]
fn metrics_are_served_on_their_own_listener() {
    let s = TestServer::start_with(|c| c.metrics_bind = Some("127.0.0.1:0".parse().unwrap()));
    let a = s.account("metrics@example.com");
    assert_eq!(a.get("/info/collections").status(), 200);
    assert_eq!(a.get("/storage/nope/x").status(), 404);
    let r = a.post_json(
        "/storage/tabs?batch=true&commit=true",
        json!([{"id": "a", "payload": "x"}, {"id": "b", "payload": "y"}]),
        &[],
    );
    assert_eq!(r.status(), 200);
    // Not on the public listener.
    assert_eq!(reqwest::blocking::get(s.url("/metrics")).unwrap().status(), 404);
    let metrics_url = format!("http://{}/metrics", s.server.metrics_addr().unwrap());
    let r = reqwest::blocking::get(metrics_url).unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().unwrap();
    for expected in [
        "sync_storage_requests_total{route=\"/1.5/{uid}/info/collections\",method=\"GET\",status=\"200\"} 1",
        "sync_storage_requests_total{route=\"/1.5/{uid}/storage/{collection}/{id}\",method=\"GET\",status=\"404\"} 1",
        "sync_storage_requests_total{route=\"/1.0/{application}/{version}\",method=\"GET\",status=\"200\"} 1",
        "sync_storage_batches_committed_total 1",
        "sync_storage_batch_records_committed_total 2",
        "sync_storage_tokens_issued_total 1",
        "sync_storage_request_duration_seconds_bucket",
        "sync_storage_db_readers{kind=\"idle\"}",
        "sync_storage_pending_batches 0",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[test]
fn forged_truncated_unpadded_resalted_and_expired_tokens_are_401_never_500() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE;
    let case = vector("python token server payload");
    let secret = case["secret"].as_str().unwrap().to_owned();
    let node = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec![secret.clone()];
    });
    let id = case["id"].as_str().unwrap();
    let key = case["key"].as_str().unwrap();
    let bytes = URL_SAFE.decode(id).unwrap();
    let mut tampered = bytes.clone();
    tampered[10] ^= 1;
    // The same payload re-salted and properly signed: its key is not this id's key.
    let mut payload: sync_storage::auth::TokenPayload =
        serde_json::from_value(case["payload"].clone()).unwrap();
    payload.salt = "000000".into();
    let (_, resalted_key) = sync_storage::auth::TokenSecrets::new(&[secret.as_str()], None)
        .unwrap()
        .issue(&payload);
    let expired = vector("expired");
    let cases = [
        ("unpadded", id.trim_end_matches('=').to_owned(), key.to_owned()),
        (
            "truncated",
            URL_SAFE.encode(&bytes[..bytes.len() - 5]),
            key.to_owned(),
        ),
        ("tampered", URL_SAFE.encode(&tampered), key.to_owned()),
        ("garbage", "not a token at all".to_owned(), key.to_owned()),
        ("key from another salt", id.to_owned(), resalted_key),
    ];
    for (what, bad_id, bad_key) in cases {
        let a = Account::new(Token::new(
            &bad_id,
            &bad_key,
            1,
            &format!("{}/1.5/1", node.server.url()),
            3600,
        ));
        let r = a.get("/info/collections");
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(r.text().unwrap(), "0", "{what}");
    }
    // Expired (against its own secret): only info/collections lets it in.
    let node2 = TestServer::start_with(|c| {
        c.role = Role::StorageOnly;
        c.master_secret.0 = vec![expired["secret"].as_str().unwrap().to_owned()];
    });
    let r = foreign_account(&node2, &expired).get("/storage/c");
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (401, "0".to_owned()));
}

/// Holds a database's lock until dropped.
enum Blocker {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl Blocker {
    fn lock(database: &std::path::Path) -> Blocker {
        let location = database.to_str().unwrap();
        if sync_storage::db::is_postgres_url(location) {
            let mut client = postgres::Client::connect(location, postgres::NoTls).unwrap();
            client
                .batch_execute("BEGIN; LOCK TABLE settings IN ACCESS EXCLUSIVE MODE")
                .unwrap();
            Blocker::Postgres(client)
        } else {
            let conn = rusqlite::Connection::open(database).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            Blocker::Sqlite(conn)
        }
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = match self {
            Blocker::Sqlite(conn) => conn.execute_batch("ROLLBACK").map_err(|e| e.to_string()),
            Blocker::Postgres(client) => client.batch_execute("ROLLBACK").map_err(|e| e.to_string()),
        };
    }
}

/// A browser's preflight on any path is answered for any origin with a
/// long max-age, as Mozilla's server answers (syncstorage-rs `build_cors`);
/// `cors.allowed_origins` narrows or turns it off.
#[test]
fn cors_preflights_are_answered_as_mozilla_answers_them() {
    let preflight = |server: &TestServer, path: &str, origin: &str| {
        reqwest::blocking::Client::new()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, x-if-unmodified-since",
            )
            .send()
            .unwrap()
    };
    let header = |r: &reqwest::blocking::Response, name: &str| support::header(r.headers(), name);

    let server = TestServer::start();
    for path in [
        "/1.5/42/__heartbeat__",
        "/1.5/42/storage/bookmarks",
        "/1.0/sync/1.5",
    ] {
        let r = preflight(&server, path, "https://app.example");
        assert_eq!(r.status(), 200, "{path}");
        // Any origin is named back to it, as Mozilla's server answers.
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some("https://app.example"),
            "{path}"
        );
        assert_eq!(
            header(&r, "access-control-max-age").as_deref(),
            Some("1728000"),
            "{path}"
        );
        let methods = header(&r, "access-control-allow-methods").unwrap();
        assert!(
            methods.contains("POST") && methods.contains("DELETE"),
            "{methods}"
        );
        let allowed = header(&r, "access-control-allow-headers").unwrap();
        assert!(allowed.contains("x-if-unmodified-since"), "{allowed}");
    }
    // An answer itself names the origin and shows the protocol's headers.
    let account = server.account("cors@example.com");
    let url = account.url("/info/collections");
    let parsed = url::Url::parse(&url).unwrap();
    let auth = account
        .token
        .hawk_credentials()
        .unwrap()
        .authorization("GET", &parsed, std::time::SystemTime::now())
        .unwrap();
    let r = reqwest::blocking::Client::new()
        .get(&url)
        .header("Authorization", auth)
        .header("Origin", "https://app.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let exposed = header(&r, "access-control-expose-headers").unwrap();
    assert!(
        exposed.contains("x-weave-timestamp") && exposed.contains("x-last-modified"),
        "{exposed}"
    );

    let narrow = TestServer::start_with(|c| c.cors.allowed_origins = vec!["https://app.example".into()]);
    let r = preflight(&narrow, "/1.5/42/storage/bookmarks", "https://app.example");
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let r = preflight(&narrow, "/1.5/42/storage/bookmarks", "https://elsewhere.example");
    assert_eq!(header(&r, "access-control-allow-origin"), None);

    let off = TestServer::start_with(|c| c.cors.allowed_origins = Vec::new());
    let r = preflight(&off, "/1.5/42/__heartbeat__", "https://app.example");
    assert_ne!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

#[test]
fn cors_origins_that_cannot_work_are_refused_at_start() {
    for bad in [
        vec!["*".to_owned(), "https://a.example".to_owned()],
        vec!["https://a.example/path".to_owned()],
        vec!["a.example".to_owned()],
        vec!["https://a.example/".to_owned()],
    ] {
        let config = sync_storage::config::Config {
            cors: sync_storage::config::Cors {
                allowed_origins: bad.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(config.validate().is_err(), "{bad:?}");
    }
}
