//! Load benchmark (issue 3's targets): 50 concurrent simulated users on
//! loopback against an in-process server with a temporary SQLite file.
//!
//! - **GET mix**: each user repeatedly syncs read-only, alternating
//!   `info/collections` and `GET storage/history?full=1&newer=…` of a
//!   100-record collection.
//!   Target: ≥ 3,000 requests/s, p99 < 50 ms.
//! - **Batch POST**: each user repeatedly uploads a 100-record batch
//!   (`batch=true&commit=true`, ~600-byte payloads). Target: ≥ 50,000
//!   records/s stored.
//!
//! Prints requests/s, p50/p99 latency and records/s for each, then stops.
//! Only 127.0.0.1 is ever contacted.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{User, payload_json, percentile};
use sync_storage::Server;
use sync_storage::config::Config;

const USERS: usize = 50;
const RECORDS_PER_POST: usize = 100;
const PHASE: Duration = Duration::from_secs(8);
const WARMUP: Duration = Duration::from_secs(1);

/// A 100-record POST body. Built by concatenation so the load generator,
/// which shares the machine with the server, stays cheap.
fn batch_body(payload_json: &str, user: usize, round: usize) -> Vec<u8> {
    let mut body = String::with_capacity(RECORDS_PER_POST * (payload_json.len() + 64) + 2);
    body.push('[');
    for i in 0..RECORDS_PER_POST {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"id":"u{user}r{round}i{i}","sortindex":{i},"payload":"#
        ));
        body.push_str(payload_json);
        body.push('}');
    }
    body.push(']');
    body.into_bytes()
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    records: usize,
    errors: usize,
}

fn report(name: &str, tallies: Vec<Tally>, elapsed: Duration) {
    let mut latencies: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let records: usize = tallies.iter().map(|t| t.records).sum();
    let errors: usize = tallies.iter().map(|t| t.errors).sum();
    let secs = elapsed.as_secs_f64();
    println!(
        "{name:<11} {USERS} users, {secs:.1} s: {:>8.0} requests/s, p50 {:>6.2} ms, p99 {:>6.2} ms, {:>8.0} records/s, {} errors",
        latencies.len() as f64 / secs,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        records as f64 / secs,
        errors
    );
}

/// Runs `work` for every user until the phase ends; returns the tallies.
async fn phase<F, Fut>(users: &Arc<Vec<User>>, client: &reqwest::Client, work: F) -> (Vec<Tally>, Duration)
where
    F: Fn(Arc<Vec<User>>, usize, reqwest::Client, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (bool, usize)> + Send,
{
    let started = Instant::now();
    let measure_from = started + WARMUP;
    let until = measure_from + PHASE;
    let mut tasks = Vec::new();
    for u in 0..USERS {
        let users = users.clone();
        let client = client.clone();
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut round = 0;
            loop {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                round += 1;
                let (ok, records) = work(users.clone(), u, client.clone(), round).await;
                if now >= measure_from {
                    tally.latencies_us.push(now.elapsed().as_micros() as u64);
                    if ok {
                        tally.records += records;
                    } else {
                        tally.errors += 1;
                    }
                }
            }
            tally
        }));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await.unwrap());
    }
    (tallies, PHASE)
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: dir.path().join("load.db"),
        ..Config::default()
    };
    let server = Server::start(config).unwrap();
    println!("server: {} (SQLite at {})", server.url(), dir.path().display());

    let users: Vec<User> = (0..USERS)
        .map(|i| {
            let oauth = server.mint_token(&format!("user{i}@example.com")).unwrap();
            User::sign_in(server.url(), &oauth, i)
        })
        .collect();
    let users = Arc::new(users);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(USERS)
            .build()
            .unwrap();
        let payload_json: Arc<str> = payload_json().into();

        // Seed each user's history with 100 records.
        for (u, user) in users.iter().enumerate() {
            let r = user
                .request(
                    &client,
                    reqwest::Method::POST,
                    "/storage/history?batch=true&commit=true",
                )
                .header("Content-Type", "application/json")
                .body(batch_body(&payload_json, u, 0))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }

        // LOAD_PHASE=get or =post runs one phase (for profiling).
        let only = std::env::var("LOAD_PHASE").unwrap_or_default();
        if only != "post" {
            // The read side of a sync: info/collections, then what is newer.
            let (tallies, elapsed) = phase(&users, &client, |users, u, client, round| async move {
                let user = &users[u];
                let path = if round % 2 == 0 {
                    "/info/collections"
                } else {
                    "/storage/history?full=1&newer=0&limit=100"
                };
                match user.request(&client, reqwest::Method::GET, path).send().await {
                    Ok(r) if r.status() == 200 => (r.bytes().await.is_ok(), 0),
                    _ => (false, 0),
                }
            })
            .await;
            report("GET mix", tallies, elapsed);
        }
        if only == "get" {
            return;
        }

        let payload_for_posts = payload_json.clone();
        let (tallies, elapsed) = phase(&users, &client, move |users, u, client, round| {
            let payload_json = payload_for_posts.clone();
            async move {
                let user = &users[u];
                let r = user
                    .request(
                        &client,
                        reqwest::Method::POST,
                        "/storage/history?batch=true&commit=true",
                    )
                    .header("Content-Type", "application/json")
                    .body(batch_body(&payload_json, u, round))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => (r.bytes().await.is_ok(), RECORDS_PER_POST),
                    _ => (false, 0),
                }
            }
        })
        .await;
        report("POST batch", tallies, elapsed);
    });
    server.stop().unwrap();
}
