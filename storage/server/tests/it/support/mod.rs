//! Harness for the conformance suite: a real server on 127.0.0.1:0 with a
//! temporary SQLite file — or, when `SYNC_TEST_POSTGRES` names a
//! PostgreSQL server (`cargo xtask ci` starts one), a fresh schema there —
//! accounts minted in dev mode, and a Hawk-signing client for raw requests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod process;

use std::time::SystemTime;

use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use sync_storage::config::Config;
use sync_storage::{RunningServer, Server};
use sync15::{HawkCredentials, HttpClient, StorageClient, SyncRootKey, Token, TokenClient};

pub struct TestServer {
    pub server: RunningServer,
    pub _dir: tempfile::TempDir,
    /// The SQLite file or PostgreSQL URL it serves from.
    pub database: std::path::PathBuf,
}

pub fn config_in(dir: &std::path::Path) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: database_in(dir),
        ..Config::default()
    }
}

/// The PostgreSQL server the tests run against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("SYNC_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Where a test's database lives: `sync.db` in `dir`, or a schema of its
/// own on the test PostgreSQL server.
pub fn database_in(dir: &std::path::Path) -> std::path::PathBuf {
    match postgres_url() {
        Some(url) => fresh_schema(&url).into(),
        None => dir.join("sync.db"),
    }
}

/// A new, empty schema on `url`'s server; returns a URL whose connections
/// use it.
fn fresh_schema(url: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("the test PostgreSQL server");
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .unwrap();
    // The application name lets a test find (and cut) its server's connections.
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{name}&application_name={name}")
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        tweak(&mut config);
        TestServer {
            database: config.database.clone(),
            server: Server::start(config).unwrap(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// A new account with fresh keys.
    pub fn account(&self, email: &str) -> Account {
        let kb: [u8; 32] = rand_bytes();
        self.account_with_keys(email, &kb, 1_000)
    }

    pub fn account_with_keys(&self, email: &str, kb: &[u8; 32], keys_changed_at: u64) -> Account {
        let oauth = self.server.mint_token(email).unwrap();
        let key_id = SyncRootKey::new(kb, keys_changed_at).unwrap().key_id();
        let token = TokenClient::new(HttpClient::new().unwrap(), self.server.url())
            .unwrap()
            .fetch_token(&oauth, &key_id)
            .unwrap();
        Account::new(token)
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    let seed = format!("{:?}{:?}", SystemTime::now(), std::thread::current().id());
    let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    out.copy_from_slice(digest.as_ref());
    out
}

/// A signed-in user: the token, a protocol client, and a raw client.
pub struct Account {
    pub token: Token,
    pub client: StorageClient,
    pub raw: Client,
    credentials: HawkCredentials,
}

impl Account {
    pub fn new(token: Token) -> Self {
        let credentials = token.hawk_credentials().unwrap();
        Account {
            client: StorageClient::new(HttpClient::new().unwrap(), &token).unwrap(),
            raw: Client::new(),
            credentials,
            token,
        }
    }

    /// `<api_endpoint><rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.token.api_endpoint)
    }

    /// A Hawk-signed request to `<api_endpoint><rest>`.
    pub fn send(
        &self,
        method: &str,
        rest: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Response {
        self.send_to(method, &self.url(rest), headers, body)
    }

    pub fn send_to(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Response {
        let parsed = url::Url::parse(url).unwrap();
        let auth = self
            .credentials
            .authorization(method, &parsed, SystemTime::now())
            .unwrap();
        let mut request = self
            .raw
            .request(method.parse().unwrap(), parsed)
            .header("Authorization", auth);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request.header("Content-Type", content_type).body(body);
        }
        request.send().unwrap()
    }

    pub fn get(&self, rest: &str) -> Response {
        self.send("GET", rest, &[], None)
    }

    pub fn post_json(&self, rest: &str, body: serde_json::Value, headers: &[(&str, &str)]) -> Response {
        self.send(
            "POST",
            rest,
            headers,
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
    }

    pub fn put_json(&self, rest: &str, body: serde_json::Value, headers: &[(&str, &str)]) -> Response {
        self.send(
            "PUT",
            rest,
            headers,
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
    }
}

pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// A timestamp header in ms.
pub fn ts_header(headers: &HeaderMap, name: &str) -> i64 {
    sync15::ServerTimestamp::parse(&header(headers, name).unwrap_or_else(|| panic!("no {name}")))
        .unwrap()
        .as_millis()
}

pub fn json(response: Response) -> serde_json::Value {
    let text = response.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
