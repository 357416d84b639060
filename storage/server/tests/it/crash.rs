//! Crash safety: the real `sync-storage` binary is killed (SIGKILL) while
//! clients write; after a restart on the same database, every write the
//! server acknowledged is there, and every batch is all-or-nothing. And a
//! server stopped the polite way (SIGTERM) exits cleanly.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::Account;
use support::process::{account, spawn};

#[test]
fn killing_the_server_mid_write_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let kb = [7u8; 32];
    let database = support::database_in(dir.path());
    let mut server = spawn(&database);

    let acknowledged_single: Arc<Mutex<Vec<String>>> = Arc::default();
    let acknowledged_batches: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let url = server.url.clone();
        let singles = acknowledged_single.clone();
        let batches = acknowledged_batches.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let a = account(&url, &kb);
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                if n % 2 == 0 {
                    // A plain POST of one record.
                    let id = format!("w{w}-single-{n}");
                    let sent = a.raw_post(&id);
                    if sent {
                        singles.lock().unwrap().push(id);
                    }
                } else {
                    // A three-POST batch of 30 records.
                    let ids: Vec<String> = (0..30).map(|i| format!("w{w}-batch-{n}-{i}")).collect();
                    if a.raw_batch(&ids) {
                        batches.lock().unwrap().push(ids);
                    }
                }
            }
        }));
    }
    // Let them write for a while, then pull the plug.
    while acknowledged_batches.lock().unwrap().len() < 25 || acknowledged_single.lock().unwrap().len() < 25 {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }

    let restarted = spawn(&database);
    let a = account(&restarted.url, &kb);
    let stored: std::collections::HashSet<String> = support::json(a.get("/storage/crash"))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let singles = acknowledged_single.lock().unwrap();
    let batches = acknowledged_batches.lock().unwrap();
    for id in singles.iter() {
        assert!(stored.contains(id), "acknowledged {id} was lost");
    }
    for batch in batches.iter() {
        for id in batch {
            assert!(stored.contains(id), "acknowledged batch record {id} was lost");
        }
    }
    // No batch is half there: for every batch id prefix seen, all 30 or none.
    let mut per_batch: std::collections::HashMap<String, usize> = Default::default();
    for id in stored.iter().filter(|id| id.contains("-batch-")) {
        let prefix = id.rsplit_once('-').unwrap().0.to_owned();
        *per_batch.entry(prefix).or_default() += 1;
    }
    for (prefix, count) in per_batch {
        assert_eq!(count, 30, "batch {prefix} is torn: {count} of 30 records");
    }
    drop(restarted);
}

/// SIGTERM is how a service manager stops the server: it finishes, closes
/// its database connections and exits 0. (On PostgreSQL, dropping the last
/// pooled connection on a runtime thread once aborted the process.)
#[test]
fn a_terminated_server_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(&support::database_in(dir.path()));
    let a = account(&server.url, &[3u8; 32]);
    assert!(a.raw_post("before-shutdown"));
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "the server exited with {exit}");
}

trait Writes {
    fn raw_post(&self, id: &str) -> bool;
    fn raw_batch(&self, ids: &[String]) -> bool;
}

impl Writes for Account {
    /// True only if the server acknowledged the write.
    fn raw_post(&self, id: &str) -> bool {
        let body = serde_json::to_vec(&json!([{"id": id, "payload": "x".repeat(200)}])).unwrap();
        self.try_send("POST", "/storage/crash", Some(body))
            .is_some_and(|status| status == 200)
    }

    fn raw_batch(&self, ids: &[String]) -> bool {
        let chunk = |ids: &[String]| {
            serde_json::to_vec(&json!(
                ids.iter()
                    .map(|id| json!({"id": id, "payload": "y".repeat(200)}))
                    .collect::<Vec<_>>()
            ))
            .unwrap()
        };
        let Some((status, body)) =
            self.try_send_body("POST", "/storage/crash?batch=true", Some(chunk(&ids[..10])))
        else {
            return false;
        };
        if status != 202 {
            return false;
        }
        let batch = serde_json::from_str::<serde_json::Value>(&body).unwrap()["batch"]
            .as_str()
            .unwrap()
            .to_owned();
        let append = format!("/storage/crash?batch={batch}");
        if self.try_send("POST", &append, Some(chunk(&ids[10..20]))) != Some(202) {
            return false;
        }
        let commit = format!("/storage/crash?batch={batch}&commit=true");
        self.try_send("POST", &commit, Some(chunk(&ids[20..]))) == Some(200)
    }
}

trait TrySend {
    fn try_send(&self, method: &str, rest: &str, body: Option<Vec<u8>>) -> Option<u16>;
    fn try_send_body(&self, method: &str, rest: &str, body: Option<Vec<u8>>) -> Option<(u16, String)>;
}

impl TrySend for Account {
    fn try_send(&self, method: &str, rest: &str, body: Option<Vec<u8>>) -> Option<u16> {
        self.try_send_body(method, rest, body).map(|(s, _)| s)
    }

    /// Like `send`, but a dead server is `None` rather than a panic.
    fn try_send_body(&self, method: &str, rest: &str, body: Option<Vec<u8>>) -> Option<(u16, String)> {
        let url = url::Url::parse(&self.url(rest)).unwrap();
        let auth = self
            .token
            .hawk_credentials()
            .unwrap()
            .authorization(method, &url, std::time::SystemTime::now())
            .unwrap();
        let mut request = self
            .raw
            .request(method.parse().unwrap(), url)
            .header("Authorization", auth)
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().ok()?;
        let status = response.status().as_u16();
        let text = response.text().ok()?;
        Some((status, text))
    }
}
