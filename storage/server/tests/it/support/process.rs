//! The real `sync-storage` binary in a process of its own, for tests that
//! kill it or measure it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use sync15::{HttpClient, SyncRootKey, TokenClient};

use super::Account;

pub const DEV_SECRET: &str = "crash-test-dev-secret";
pub const MASTER_SECRET: &str = "crash-test-master-secret";

pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

/// Starts the binary on a free loopback port and waits until it serves.
pub fn spawn(database: &std::path::Path) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-storage"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database"])
        .arg(database)
        .env("SYNC_STORAGE_DEV_SECRET", DEV_SECRET)
        .env("SYNC_STORAGE_MASTER_SECRET", MASTER_SECRET)
        .env("SYNC_STORAGE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The "serving" log line names the address it bound.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("the server exited before serving").unwrap();
        let entry: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if entry["fields"]["message"] == "serving" {
            break entry["fields"]["url"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, url }
}

pub fn account(url: &str, kb: &[u8; 32]) -> Account {
    let oauth = sync_storage::auth::mint_dev_token(DEV_SECRET, "crash@example.com", 1, 600).unwrap();
    let key_id = SyncRootKey::new(kb, 1).unwrap().key_id();
    let token = TokenClient::new(HttpClient::new().unwrap(), url)
        .unwrap()
        .fetch_token(&oauth, &key_id)
        .unwrap();
    Account::new(token)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// A line of `/proc/<pid>/status`, in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Starts counting the peak resident size (`VmHWM`) again from now.
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").unwrap();
    }
}
