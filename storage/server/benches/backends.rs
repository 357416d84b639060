//! SQLite and PostgreSQL side by side (issue 18): the real `sync-storage`
//! binary in its own process on loopback, once per backend, sharing this
//! 2-core machine with the load generator.
//!
//! Two mixes, each at 10 and 50 concurrent users, each user looping with
//! no pause:
//! - **read-heavy**: `info/collections`, then `GET storage/history?full=1`
//!   of a 100-record collection;
//! - **write-heavy** (a sync): `info/collections`; `POST storage/history`
//!   with 50 records of ~600 bytes and `X-If-Unmodified-Since`; `GET
//!   ?newer=…&full=1&limit=1000`; every fifth loop a three-POST batch
//!   ending in `commit=true`.
//! - **write-heavy over a fixed set of records**: the same, its ids reused
//!   every 40 rounds, so writes replace stored rows as repeated syncs do
//!   (and a database's dead row versions show in its size).
//!
//! Then a bulk import: one user uploads 100,000 records, 100 per POST, in
//! batches of 1,000 (ten POSTs, the last committing).
//!
//! Prints requests/s, p50/p99/max per request kind, records/s stored, CPU
//! per 1,000 requests (server and PostgreSQL), PostgreSQL's statements per
//! request, SQLite's WAL peak, the server's resident memory and
//! PostgreSQL's (the proportional set size of its cluster's processes,
//! shared buffers counted once), after each write run every acknowledged
//! write read back, and the load average before and after.
//! `BENCH_BACKENDS` (`sqlite,postgres`) picks the backends, `BENCH_PARTS`
//! (`read,write,overwrite,import`) what to run; PostgreSQL needs
//! `BENCH_POSTGRES_URL`, which `cargo xtask bench server` provides.
//!
//! `BENCH_SCALE_USERS=N` (`cargo xtask bench server --scale`) runs the read
//! and write mixes against a kept database of N users' records instead of
//! an empty one (`support::scale`), in `BENCH_SCALE_DIR` for SQLite and a
//! database of its own on PostgreSQL; each run's write mix adds to it
//! (~700,000 records), which a database of millions shrugs off.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::acked::{Acked, Checked};
use support::meter::{Cost, Meter};
use support::postgres::Cluster;
use support::scale;
use support::wal::WalSampler;
use support::{User, acked, dev_users, payload_json, percentile, proc_field, records_body, start_server};

const PHASE: Duration = Duration::from_secs(8);
const WARMUP: Duration = Duration::from_secs(1);
const POST_RECORDS: usize = 50;
const IMPORT_RECORDS: usize = 100_000;
const IMPORT_PER_POST: usize = 100;
const IMPORT_POSTS_PER_BATCH: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    Read,
    Write,
    /// The write mix over a fixed set of records (2,000 per user, 2,600
    /// with batches): what repeated syncs of the same history do, where
    /// every write replaces stored rows.
    Overwrite,
}

/// Rounds after which the overwrite mix reuses its ids.
const OVERWRITE_ROUNDS: usize = 40;

/// Measurements: latencies by request kind, records stored. Requests that
/// start before `from` (the warm-up) are not counted.
#[derive(Default)]
struct Tally {
    from: Option<Instant>,
    by_kind: BTreeMap<&'static str, Vec<u64>>,
    records: usize,
    errors: usize,
}

impl Tally {
    fn counts(&self, started: Instant) -> bool {
        self.from.is_none_or(|from| started >= from)
    }

    fn time(&mut self, kind: &'static str, started: Instant, ok: bool) {
        if !self.counts(started) {
            return;
        }
        self.by_kind
            .entry(kind)
            .or_default()
            .push(started.elapsed().as_micros() as u64);
        self.errors += usize::from(!ok);
    }

    fn stored(&mut self, started: Instant, records: usize) {
        if self.counts(started) {
            self.records += records;
        }
    }
}

/// One line of the report.
struct Row {
    backend: &'static str,
    mix: Mix,
    users: usize,
    tally: Tally,
    server_rss_mib: f64,
    postgres_mib: Option<f64>,
    /// SQLite: the largest the WAL file grew during the run.
    wal_peak_mib: Option<f64>,
    /// What the measured window cost.
    cost: Cost,
    /// Every acknowledged write, read back after the run.
    checked: Checked,
}

async fn post(
    user: &User,
    client: &reqwest::Client,
    path: &str,
    body: Vec<u8>,
    unmodified_since: Option<&str>,
) -> Option<(serde_json::Value, Option<String>)> {
    let mut request = user
        .request(client, reqwest::Method::POST, path)
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(since) = unmodified_since {
        request = request.header("X-If-Unmodified-Since", since);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let last_modified = response
        .headers()
        .get("X-Last-Modified")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Some((response.json().await.ok()?, last_modified))
}

async fn get(user: &User, client: &reqwest::Client, path: &str) -> bool {
    match user.request(client, reqwest::Method::GET, path).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}

/// One user's loop of `mix` until `until`; measured from `from`.
async fn user_loop(
    user: &User,
    client: reqwest::Client,
    mix: Mix,
    payload: Arc<str>,
    from: Instant,
    until: Instant,
) -> (Tally, Acked) {
    let mut tally = Tally {
        from: Some(from),
        ..Tally::default()
    };
    let mut acked = Acked::default();
    let mut last_modified: Option<String> = None;
    let mut round = 0usize;
    while Instant::now() < until {
        round += 1;
        let t = Instant::now();
        let ok = get(user, &client, "/info/collections").await;
        tally.time("info/collections", t, ok);
        if mix == Mix::Read {
            let t = Instant::now();
            let ok = get(user, &client, "/storage/history?full=1&limit=100").await;
            tally.time("GET history", t, ok);
            continue;
        }
        // The overwrite mix writes the same ids again every 40 rounds.
        let slot = if mix == Mix::Overwrite {
            round % OVERWRITE_ROUNDS
        } else {
            round
        };
        let t = Instant::now();
        let body = records_body(&payload, &format!("p{slot}x"), POST_RECORDS);
        let answer = post(user, &client, "/storage/history", body, last_modified.as_deref()).await;
        tally.time("POST 50", t, answer.is_some());
        let since = last_modified.clone().unwrap_or_else(|| "0".into());
        if let Some((answer, Some(modified))) = answer {
            tally.stored(t, POST_RECORDS);
            acked.note(
                Acked::success(&answer),
                answer["modified"].as_f64().unwrap_or(0.0),
            );
            last_modified = Some(modified);
        }
        let t = Instant::now();
        let ok = get(
            user,
            &client,
            &format!("/storage/history?newer={since}&full=1&limit=1000"),
        )
        .await;
        tally.time("GET newer", t, ok);
        if round % 5 != 0 {
            continue;
        }
        let t = Instant::now();
        let body = records_body(&payload, &format!("b{slot}a"), POST_RECORDS);
        let started = post(user, &client, "/storage/history?batch=true", body, None).await;
        tally.time("batch POST", t, started.is_some());
        let Some((batch, mut staged)) =
            started.and_then(|(v, _)| Some((v["batch"].as_str()?.to_owned(), Acked::success(&v))))
        else {
            continue;
        };
        let t = Instant::now();
        let body = records_body(&payload, &format!("b{slot}b"), POST_RECORDS);
        let path = format!("/storage/history?batch={batch}");
        let appended = post(user, &client, &path, body, None).await;
        tally.time("batch POST", t, appended.is_some());
        if let Some((answer, _)) = appended {
            staged.extend(Acked::success(&answer));
        }
        let t = Instant::now();
        let body = records_body(&payload, &format!("b{slot}c"), POST_RECORDS);
        let path = format!("/storage/history?batch={batch}&commit=true");
        let committed = post(user, &client, &path, body, None).await;
        tally.time("batch commit", t, committed.is_some());
        if let Some((answer, Some(modified))) = committed {
            tally.stored(t, 3 * POST_RECORDS);
            staged.extend(Acked::success(&answer));
            acked.note(staged, answer["modified"].as_f64().unwrap_or(0.0));
            last_modified = Some(modified);
        }
    }
    (tally, acked)
}

fn run_phase(
    runtime: &tokio::runtime::Runtime,
    users: &Arc<Vec<User>>,
    mix: Mix,
    payload: &Arc<str>,
    meter: Meter,
) -> (Tally, Checked, Cost) {
    let (total, checked, cost) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(users.len())
            .build()
            .unwrap();
        if mix == Mix::Read {
            for (u, user) in users.iter().enumerate() {
                let body = records_body(payload, &format!("seed{u}-"), 100);
                post(
                    user,
                    &client,
                    "/storage/history?batch=true&commit=true",
                    body,
                    None,
                )
                .await
                .expect("seeding");
            }
        }
        let from = Instant::now() + WARMUP;
        let until = from + PHASE;
        let cost = meter.window(from, until);
        let tasks: Vec<_> = (0..users.len())
            .map(|u| {
                let (users, client, payload) = (users.clone(), client.clone(), payload.clone());
                tokio::spawn(async move { user_loop(&users[u], client, mix, payload, from, until).await })
            })
            .collect();
        let mut total = Tally::default();
        let mut checked = Checked::default();
        for (task, user) in tasks.into_iter().zip(users.iter()) {
            let (tally, acked) = task.await.unwrap();
            for (kind, latencies) in tally.by_kind {
                total.by_kind.entry(kind).or_default().extend(latencies);
            }
            total.records += tally.records;
            total.errors += tally.errors;
            checked.add(acked::check(user, &client, "history", &acked).await);
        }
        (total, checked, cost)
    });
    (total, checked, cost.join().unwrap())
}

/// Seconds to import 100,000 records for one user.
fn bulk_import(runtime: &tokio::runtime::Runtime, url: &str, payload: &Arc<str>) -> (f64, usize) {
    let user = &dev_users(url, 9_000, 1)[0];
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let mut stored = 0;
        let mut n = 0;
        while n < IMPORT_RECORDS {
            let mut batch: Option<String> = None;
            for post_in_batch in 0..IMPORT_POSTS_PER_BATCH {
                let body = records_body(payload, &format!("i{n}-"), IMPORT_PER_POST);
                n += IMPORT_PER_POST;
                let last = post_in_batch + 1 == IMPORT_POSTS_PER_BATCH || n >= IMPORT_RECORDS;
                let path = match (&batch, last) {
                    (None, true) => "/storage/bookmarks?batch=true&commit=true".to_owned(),
                    (None, false) => "/storage/bookmarks?batch=true".to_owned(),
                    (Some(id), true) => format!("/storage/bookmarks?batch={id}&commit=true"),
                    (Some(id), false) => format!("/storage/bookmarks?batch={id}"),
                };
                let (answer, _) = post(user, &client, &path, body, None)
                    .await
                    .expect("an import POST");
                if last {
                    stored += post_in_batch + 1;
                    break;
                }
                batch = answer["batch"].as_str().map(str::to_owned);
            }
        }
        (started.elapsed().as_secs_f64(), stored * IMPORT_PER_POST)
    })
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let wanted = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let postgres_url = std::env::var("BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    // `--scale`: a kept database of this many users' records instead of an empty one.
    let scale: Option<usize> = std::env::var("BENCH_SCALE_USERS")
        .ok()
        .map(|n| n.parse().expect("BENCH_SCALE_USERS: a number of users"));
    let default_parts = if scale.is_some() {
        "read,write"
    } else {
        "read,write,overwrite,import"
    };
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| default_parts.into());
    let mixes: Vec<Mix> = [
        (Mix::Read, "read"),
        (Mix::Write, "write"),
        (Mix::Overwrite, "overwrite"),
    ]
    .into_iter()
    .filter(|(_, name)| parts.split(',').any(|p| p.trim() == *name))
    .map(|(mix, _)| mix)
    .collect();
    println!("load average (1, 5, 15 min) before: {}", support::load_average());
    let dir = tempfile::tempdir().unwrap();
    let mut backends: Vec<(&'static str, PathBuf)> = Vec::new();
    if wanted.contains("sqlite") {
        backends.push((
            "SQLite",
            match (scale, std::env::var_os("BENCH_SCALE_DIR")) {
                (Some(_), Some(kept)) => PathBuf::from(kept),
                _ => dir.path().join("sync.db"),
            },
        ));
    }
    if wanted.contains("postgres") {
        match &postgres_url {
            Some(url) => backends.push(("PostgreSQL", PathBuf::from(url))),
            None => println!(
                "PostgreSQL skipped: BENCH_POSTGRES_URL is not set (cargo xtask bench server sets it)"
            ),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let payload: Arc<str> = payload_json().into();
    let mut rows = Vec::new();
    let mut imports = Vec::new();
    let mut sizes = Vec::new();
    let mut builds = Vec::new();
    for (backend, location) in &backends {
        let (database, built) = match scale {
            Some(users) => scale::kept_database(backend, location, users),
            None => (location.clone(), true),
        };
        let database = &database;
        let server = start_server(database);
        let pid = server.child.id();
        if let (Some(users), false) = (scale, built) {
            println!("building a database of {users} users' records on {backend} (kept for later runs)");
            let build = scale::build(&runtime, &server.url, users);
            scale::mark_built(database, users);
            builds.push((
                backend,
                build,
                proc_field(pid, "status", "VmRSS:") as f64 / 1024.0,
            ));
        }
        let mut first_user = 0;
        for &mix in &mixes {
            for users in [10, 50] {
                let signed_in = Arc::new(dev_users(&server.url, first_user, users));
                first_user += users;
                let sampler = (*backend == "SQLite").then(|| WalSampler::start(database));
                let meter = Meter {
                    server_pid: pid,
                    postgres_url: (*backend == "PostgreSQL").then(|| database.to_string_lossy().into_owned()),
                };
                let (tally, checked, cost) = run_phase(&runtime, &signed_in, mix, &payload, meter);
                let wal_peak_mib = sampler.map(WalSampler::peak_mib);
                rows.push(Row {
                    backend,
                    mix,
                    users,
                    tally,
                    server_rss_mib: proc_field(pid, "status", "VmRSS:") as f64 / 1024.0,
                    postgres_mib: (*backend == "PostgreSQL")
                        .then(|| Cluster::of(&database.to_string_lossy()).map(|c| c.pss_mib()))
                        .flatten(),
                    wal_peak_mib,
                    cost,
                    checked,
                });
            }
        }
        if parts.contains("import") {
            imports.push((backend, bulk_import(&runtime, &server.url, &payload)));
        }
        server.stop();
        sizes.push((backend, stored_size(database)));
    }
    for (backend, build, rss) in builds {
        println!(
            "\n{backend}: built {} users' {} records in {:.0} s ({:.0} records/s), server RSS {rss:.0} MiB",
            build.users,
            build.records,
            build.seconds,
            build.records as f64 / build.seconds
        );
    }
    if let Some(users) = scale {
        println!("\nthe mixes ran against a database of {users} users' records (see the sizes below)");
    }

    let secs = PHASE.as_secs_f64();
    for &mix in &mixes {
        println!(
            "\n{} mix ({:.0} s per run, after {:.0} s warm-up)",
            match mix {
                Mix::Read => "read-heavy",
                Mix::Write => "write-heavy",
                Mix::Overwrite => "write-heavy over a fixed set of records",
            },
            secs,
            WARMUP.as_secs_f64()
        );
        for row in rows.iter().filter(|r| r.mix == mix) {
            let requests: usize = row.tally.by_kind.values().map(Vec::len).sum();
            let memory = match (row.postgres_mib, row.wal_peak_mib) {
                (Some(pg), _) => format!("server RSS {:.0} MiB, PostgreSQL {pg:.0} MiB", row.server_rss_mib),
                (None, Some(wal)) => {
                    format!("server RSS {:.0} MiB, WAL peak {wal:.0} MiB", row.server_rss_mib)
                }
                (None, None) => format!("server RSS {:.0} MiB", row.server_rss_mib),
            };
            println!(
                "  {:<10} {:>2} users: {:>6.0} requests/s, {:>7.0} records/s, {} errors; {memory}",
                row.backend,
                row.users,
                requests as f64 / secs,
                row.tally.records as f64 / secs,
                row.tally.errors
            );
            // The costs were measured over the same window as the requests.
            let per_thousand = 1000.0 / (requests as f64).max(1.0);
            match row.cost.cpu_postgres {
                Some(Ok(pg)) => println!(
                    "      CPU-s per 1,000 requests: {:.2} (server {:.2}, PostgreSQL {:.2})",
                    (row.cost.cpu_server + pg) * per_thousand,
                    row.cost.cpu_server * per_thousand,
                    pg * per_thousand
                ),
                Some(Err(why)) => println!(
                    "      CPU-s per 1,000 requests: server {:.2}, PostgreSQL not measured ({why})",
                    row.cost.cpu_server * per_thousand
                ),
                None => println!(
                    "      CPU-s per 1,000 requests: {:.2}",
                    row.cost.cpu_server * per_thousand
                ),
            }
            if let Some(st) = &row.cost.statements {
                println!(
                    "      per request: {:.1} statements, {:.1} rows, {:.1} blocks dirtied; most called:",
                    st.calls as f64 * per_thousand / 1000.0,
                    st.rows as f64 * per_thousand / 1000.0,
                    st.dirtied as f64 * per_thousand / 1000.0
                );
                for (calls, count, dirtied, query) in &st.top {
                    println!("        {calls:>7} calls {count:>8} rows {dirtied:>6} dirtied  {query}");
                }
            }
            for (kind, latencies) in &row.tally.by_kind {
                let mut sorted = latencies.clone();
                sorted.sort_unstable();
                println!(
                    "      {kind:<17} {:>7} requests, p50 {:>7.2} ms, p99 {:>7.2} ms, max {:>7.2} ms",
                    sorted.len(),
                    percentile(&sorted, 0.5),
                    percentile(&sorted, 0.99),
                    percentile(&sorted, 1.0)
                );
            }
            if mix != Mix::Read {
                let c = row.checked;
                println!(
                    "      acknowledged writes read back: {} records, {} missing, {} older than acknowledged",
                    c.records, c.missing, c.stale
                );
            }
        }
    }
    if !imports.is_empty() {
        println!(
            "\nbulk import of {IMPORT_RECORDS} records ({IMPORT_PER_POST} per POST, batches of {})",
            IMPORT_PER_POST * IMPORT_POSTS_PER_BATCH
        );
    }
    for (backend, (seconds, stored)) in imports {
        println!(
            "  {backend:<10} {seconds:>5.2} s, {:>7.0} records/s ({stored} stored)",
            stored as f64 / seconds
        );
    }
    println!("\non disk after all of the above (records of ~600-byte payloads)");
    for (backend, (records, bytes)) in sizes {
        println!(
            "  {backend:<10} {records:>7} records in {:>6.1} MiB: {:>5.0} bytes per record",
            bytes as f64 / (1024.0 * 1024.0),
            bytes as f64 / records.max(1) as f64
        );
    }
    println!("\nload average (1, 5, 15 min) after: {}", support::load_average());
}

/// `(records stored, bytes the database takes)`, for the sizing notes: the
/// SQLite file (after its final checkpoint), or PostgreSQL's database.
fn stored_size(database: &std::path::Path) -> (i64, u64) {
    let location = database.to_str().unwrap();
    if sync_storage::db::is_postgres_url(location) {
        let mut client = postgres::Client::connect(location, postgres::NoTls).unwrap();
        client.batch_execute("VACUUM ANALYZE").unwrap();
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM bsos), pg_database_size(current_database())",
                &[],
            )
            .unwrap();
        (row.get(0), row.get::<_, i64>(1) as u64)
    } else {
        let conn = rusqlite::Connection::open(database).unwrap();
        let records: i64 = conn
            .query_row("SELECT count(*) FROM bsos", [], |r| r.get(0))
            .unwrap();
        let bytes = ["", "-wal"]
            .iter()
            .map(|suffix| {
                std::fs::metadata(format!("{location}{suffix}"))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum();
        (records, bytes)
    }
}
