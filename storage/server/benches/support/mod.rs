//! What the server benchmarks share: a user signed in through the token
//! server, Hawk-signed requests, record payloads shaped like real ones, and
//! the server binary in a process of its own, with its /proc counters.
// Each bench uses part of this.
#![allow(dead_code)]

pub mod acked;
pub mod meter;
pub mod postgres;
pub mod scale;
pub mod wal;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use sync15::{HawkCredentials, HttpClient, SyncRootKey, Token, TokenClient};

/// Signs the dev-mode OAuth tokens of the benchmarks' users.
pub const DEV_SECRET: &str = "sustained-load-bench";

/// A user with a storage token.
pub struct User {
    pub token: Token,
    credentials: HawkCredentials,
}

impl User {
    /// Fetches a storage token for `oauth` from the token server at
    /// `token_server` (the `n`th user: its kB is `[n; 32]`).
    pub fn sign_in(token_server: &str, oauth: &str, n: usize) -> User {
        let key_id = SyncRootKey::new(&[n as u8; 32], 1).unwrap().key_id();
        let token = TokenClient::new(HttpClient::new().unwrap(), token_server)
            .unwrap()
            .fetch_token(oauth, &key_id)
            .unwrap();
        User {
            credentials: token.hawk_credentials().unwrap(),
            token,
        }
    }

    /// A Hawk-signed request to `<api_endpoint><rest>`.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        rest: &str,
    ) -> reqwest::RequestBuilder {
        let url = url::Url::parse(&format!("{}{rest}", self.token.api_endpoint)).unwrap();
        let auth = self
            .credentials
            .authorization(method.as_str(), &url, SystemTime::now())
            .unwrap();
        client.request(method, url).header("Authorization", auth)
    }
}

/// Users `user<first>@example.com` … `user<first + n - 1>@…`, signed in
/// with dev-mode OAuth tokens at the token server `url` (user `i`'s kB is
/// `[i % 250; 32]`).
pub fn dev_users(url: &str, first: usize, n: usize) -> Vec<User> {
    (first..first + n)
        .map(|i| {
            let oauth =
                sync_storage::auth::mint_dev_token(DEV_SECRET, &format!("user{i}@example.com"), 0, 3600)
                    .unwrap();
            User::sign_in(url, &oauth, i % 250)
        })
        .collect()
}

/// An encrypted record's payload as a JSON string literal: base64
/// ciphertext, IV, hex HMAC — about 600 bytes, as a typical history or
/// bookmark record.
pub fn payload_json() -> String {
    let ciphertext = "Q".repeat(512);
    let payload = format!(
        r#"{{"ciphertext":"{ciphertext}","IV":"AAAAAAAAAAAAAAAAAAAAAA==","hmac":"{}"}}"#,
        "0".repeat(64)
    );
    serde_json::to_string(&payload).unwrap()
}

/// The server process: its pid and where its files are.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub url: String,
}

impl ServerProcess {
    /// Stops the server as an operator would (SIGTERM): it finishes and
    /// checkpoints before it exits.
    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `sync-storage` binary on a free loopback port, serving from
/// `database` (a SQLite file or a PostgreSQL URL), and waits until it answers.
pub fn start_server(database: &Path) -> ServerProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sync-storage"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(database)
        .env("SYNC_STORAGE_DEV_SECRET", DEV_SECRET)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(format!("{url}/__lbheartbeat__")).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ServerProcess { child, url }
}

/// A field of `/proc/<pid>/<file>` ("VmRSS:  123 kB" or "write_bytes: 456").
pub fn proc_field(pid: u32, file: &str, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The machine's load average over 1, 5 and 15 minutes (`/proc/loadavg`),
/// printed with a run's figures: on a shared box they move with it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU seconds the process has used (user + system), from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let ticks = stat_ticks(pid);
    // utime and stime are fields 14 and 15 of the line, 11 and 12 here; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// The numeric fields of `/proc/<pid>/stat` after the command name, by
/// index (0 = the state); 0 for one that cannot be read.
pub fn stat_ticks(pid: u32) -> impl Fn(usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<f64> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    move |i| fields.get(i).copied().unwrap_or(0.0)
}

pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

/// A JSON array of `n` records `<prefix>0…` with `payload_json` as payload.
pub fn records_body(payload_json: &str, prefix: &str, n: usize) -> Vec<u8> {
    let mut body = String::with_capacity(n * (payload_json.len() + 48) + 2);
    body.push('[');
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#"{{"id":"{prefix}{i}","payload":"#));
        body.push_str(payload_json);
        body.push('}');
    }
    body.push(']');
    body.into_bytes()
}
