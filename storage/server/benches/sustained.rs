//! Sustained load (issue 17, items 7 and 8): the real `sync-storage` binary
//! in its own process, on loopback, with a temporary SQLite file, and 50
//! users syncing back to back with no pauses for 60 seconds
//! (`SUSTAINED_SECS` to change). Each user's sync is:
//!
//! 1. `GET info/collections`
//! 2. `GET storage/history?full=1&newer=<last sync>&limit=100`
//! 3. `POST storage/tabs` with 50 records
//! 4. a batched upload of 100 history records: `POST ?batch=true` (50), then
//!    `POST ?batch=<id>&commit=true` (50)
//!
//! Records are ~600-byte payloads shaped like encrypted ones. It prints
//! requests/s, p50/p99/worst latency for reads and writes, the largest the
//! WAL grew, the bytes the server wrote to disk, and its resident memory
//! (now and peak). Targets: WAL < 256 MiB, no write > 500 ms, ≥ 1,000
//! requests/s with write p99 < 100 ms.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::wal::WalSampler;
use support::{User, cpu_seconds, payload_json, percentile, proc_field, records_body, start_server};

const USERS: usize = 50;
const RECORDS_PER_POST: usize = 50;

#[derive(Default)]
struct Tally {
    reads_us: Vec<u64>,
    writes_us: Vec<u64>,
    errors: usize,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: u64 = std::env::var("SUSTAINED_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("sync.db"));
    let pid = server.child.id();
    println!(
        "server: {} (pid {pid}, SQLite at {})",
        server.url,
        dir.path().display()
    );

    let users: Arc<Vec<User>> = Arc::new(support::dev_users(&server.url, 0, USERS));

    let wal = WalSampler::start(&dir.path().join("sync.db"));

    let written_before = proc_field(pid, "io", "write_bytes");
    let cpu_before = cpu_seconds(pid);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let payload: Arc<str> = payload_json().into();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let tallies: Vec<Tally> = runtime.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(USERS).build().unwrap();
        let mut tasks = Vec::new();
        for u in 0..USERS {
            let (users, client, payload) = (users.clone(), client.clone(), payload.clone());
            tasks.push(tokio::spawn(async move {
                let user = &users[u];
                let mut tally = Tally::default();
                let mut last_sync = 0.0f64;
                let mut round = 0usize;
                while Instant::now() < until {
                    round += 1;
                    let timed = |kind: &'static str, response: Result<reqwest::Response, reqwest::Error>| async move {
                        match response {
                            Ok(r) if r.status().is_success() => r.text().await.ok().map(|t| (kind, t)),
                            _ => None,
                        }
                    };
                    // Reads.
                    let t = Instant::now();
                    let ok = timed(
                        "read",
                        user.request(&client, reqwest::Method::GET, "/info/collections").send().await,
                    )
                    .await
                    .is_some();
                    tally.reads_us.push(t.elapsed().as_micros() as u64);
                    tally.errors += usize::from(!ok);
                    let t = Instant::now();
                    let path = format!("/storage/history?full=1&newer={last_sync:.2}&limit=100");
                    let ok = timed("read", user.request(&client, reqwest::Method::GET, &path).send().await)
                        .await
                        .is_some();
                    tally.reads_us.push(t.elapsed().as_micros() as u64);
                    tally.errors += usize::from(!ok);
                    // A 50-record POST.
                    let t = Instant::now();
                    let body = records_body(&payload, &format!("t{round}x"), RECORDS_PER_POST);
                    let sent = user
                        .request(&client, reqwest::Method::POST, "/storage/tabs")
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let ok = timed("write", sent).await.is_some();
                    tally.writes_us.push(t.elapsed().as_micros() as u64);
                    tally.errors += usize::from(!ok);
                    // A batched upload of 100 records in two POSTs.
                    let t = Instant::now();
                    let body = records_body(&payload, &format!("h{round}a"), RECORDS_PER_POST);
                    let sent = user
                        .request(&client, reqwest::Method::POST, "/storage/history?batch=true")
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let answer = timed("write", sent).await;
                    tally.writes_us.push(t.elapsed().as_micros() as u64);
                    let batch = answer
                        .and_then(|(_, text)| serde_json::from_str::<serde_json::Value>(&text).ok())
                        .and_then(|v| v["batch"].as_str().map(str::to_owned));
                    let Some(batch) = batch else {
                        tally.errors += 1;
                        continue;
                    };
                    let t = Instant::now();
                    let body = records_body(&payload, &format!("h{round}b"), RECORDS_PER_POST);
                    let sent = user
                        .request(
                            &client,
                            reqwest::Method::POST,
                            &format!("/storage/history?batch={batch}&commit=true"),
                        )
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match timed("write", sent).await {
                        Some((_, text)) => {
                            if let Some(m) = serde_json::from_str::<serde_json::Value>(&text)
                                .ok()
                                .and_then(|v| v["modified"].as_f64())
                            {
                                last_sync = m;
                            }
                        }
                        None => tally.errors += 1,
                    }
                    tally.writes_us.push(t.elapsed().as_micros() as u64);
                }
                tally
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = started.elapsed().as_secs_f64();
    let wal_peak_mib = wal.peak_mib();
    let written = proc_field(pid, "io", "write_bytes").saturating_sub(written_before);
    let cores = (cpu_seconds(pid) - cpu_before) / elapsed;
    let rss_kib = proc_field(pid, "status", "VmRSS:");
    let peak_kib = proc_field(pid, "status", "VmHWM:");

    let mut reads: Vec<u64> = tallies.iter().flat_map(|t| t.reads_us.iter().copied()).collect();
    let mut writes: Vec<u64> = tallies.iter().flat_map(|t| t.writes_us.iter().copied()).collect();
    reads.sort_unstable();
    writes.sort_unstable();
    let errors: usize = tallies.iter().map(|t| t.errors).sum();
    let requests = reads.len() + writes.len();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "sustained   {USERS} users, {elapsed:.0} s: {:>6.0} requests/s ({:.0} writes/s), {errors} errors; server used {cores:.2} cores",
        requests as f64 / elapsed,
        writes.len() as f64 / elapsed
    );
    println!(
        "  reads:  p50 {:>7.2} ms, p99 {:>7.2} ms, worst {:>8.2} ms",
        percentile(&reads, 0.5),
        percentile(&reads, 0.99),
        percentile(&reads, 1.0)
    );
    println!(
        "  writes: p50 {:>7.2} ms, p99 {:>7.2} ms, worst {:>8.2} ms",
        percentile(&writes, 0.5),
        percentile(&writes, 0.99),
        percentile(&writes, 1.0)
    );
    println!(
        "  WAL at most {:.1} MiB; {:.1} MiB written to disk ({:.1} MiB/s); server RSS {:.1} MiB (peak {:.1} MiB)",
        wal_peak_mib,
        mib(written),
        mib(written) / elapsed,
        rss_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
}
