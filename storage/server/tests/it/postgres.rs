//! What only the PostgreSQL backend has: its migrations, and a database
//! that drops the server's connections under load. Every other server test
//! runs on PostgreSQL too when `SYNC_TEST_POSTGRES` names a server, as
//! `cargo xtask ci` arranges; without one these tests say so and pass.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use support::TestServer;
use sync_storage::db::{Db, DbError};

/// The test server's URL, or `None` (said loudly) when there is none.
fn server() -> Option<String> {
    let url = support::postgres_url();
    if url.is_none() {
        eprintln!("SKIPPED: no PostgreSQL (set SYNC_TEST_POSTGRES, as `cargo xtask ci` does)");
    }
    url
}

/// The body of POST number `n`: `count` records `r{n}-0`, `r{n}-1`, … with
/// `payload`.
fn records(n: usize, count: usize, payload: &str) -> serde_json::Value {
    (0..count)
        .map(|i| json!({"id": format!("r{n}-{i}"), "payload": payload}))
        .collect()
}

/// A client on the schema a test database URL names.
fn client(database: &std::path::Path) -> postgres::Client {
    postgres::Client::connect(database.to_str().unwrap(), postgres::NoTls).unwrap()
}

/// The application name a test database URL gives the server's
/// connections, by which a test finds them.
fn application_name(database: &std::path::Path) -> String {
    database
        .to_str()
        .unwrap()
        .rsplit("application_name=")
        .next()
        .unwrap()
        .to_owned()
}

/// Terminates every connection named `name`, as a restarting PostgreSQL
/// would; returns how many.
fn cut_connections(pg: &mut postgres::Client, name: &str) -> usize {
    pg.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
        &[&name],
    )
    .unwrap()
    .len()
}

/// Looking a BSO up by its key — what every write does for each record —
/// uses the primary key whatever the statistics say, and listings and a
/// collection's deletion still use theirs. A fresh table's missing statistics once made the planner
/// prefer `bsos_by_sortindex` and scan the user's collection per lookup.
#[test]
fn a_bso_is_looked_up_by_its_primary_key_even_without_statistics() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start();
    let a = s.account("plans@example.com");
    for n in 0..40 {
        assert_eq!(
            a.post_json("/storage/history", records(n, 100, "x"), &[])
                .status(),
            200
        );
    }
    let mut pg = client(&s.database);
    pg.batch_execute(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE lookup(BIGINT, TEXT, TEXT[]) AS
             SELECT u.id, o.len FROM UNNEST($3) AS u(id)
             JOIN LATERAL (SELECT octet_length(b.payload) AS len FROM bsos b
                           WHERE b.uid = $1 AND b.collection = $2 AND b.id = u.id OFFSET 0) o ON true;
         PREPARE one(BIGINT, TEXT, TEXT) AS
             SELECT payload FROM bsos WHERE uid = $1 AND collection = $2 AND id = $3;
         PREPARE listing(BIGINT, TEXT, BIGINT) AS
             SELECT id FROM bsos WHERE uid = $1 AND collection = $2 AND modified >= 0 AND modified > $3
             ORDER BY modified, id LIMIT 10;
         PREPARE drop_collection(BIGINT, TEXT) AS
             DELETE FROM bsos WHERE uid = $1 AND collection = $2 AND modified >= 0",
    )
    .unwrap();
    let plan = |pg: &mut postgres::Client, sql: &str| -> String {
        pg.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for lookup in [
        "EXPLAIN EXECUTE lookup(1, 'history', '{r1-1,r2-2}')",
        "EXPLAIN EXECUTE one(1, 'history', 'r1-1')",
    ] {
        let plan = plan(&mut pg, lookup);
        assert!(
            plan.contains("bsos_pkey") && !plan.contains("bsos_by_"),
            "{lookup}:\n{plan}"
        );
    }
    // A whole collection is found through a listing index: the primary
    // key, led by (uid, id), would read all of the user's BSOs.
    for whole in [
        "EXPLAIN EXECUTE listing(1, 'history', 0)",
        "EXPLAIN EXECUTE drop_collection(1, 'history')",
    ] {
        let plan = plan(&mut pg, whole);
        assert!(plan.contains("bsos_by_modified"), "{whole}:\n{plan}");
    }
}

/// Waits (at most 30 s) until the table `relid` (an SQL expression) has
/// been vacuumed and holds fewer than 1,000 dead rows; `what` names them
/// in the failure.
fn wait_until_vacuumed(pg: &mut postgres::Client, relid: &str, what: &str) {
    let sql = format!("SELECT vacuum_count, n_dead_tup FROM pg_stat_all_tables WHERE relid = {relid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = pg.query_one(&sql, &[]).unwrap();
        let (vacuums, dead): (i64, i64) = (row.get(0), row.get(1));
        if vacuums > 0 && dead < 1_000 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} not vacuumed: {vacuums} vacuums, {dead} dead"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A BSO written again leaves its old row version dead, and no update is
/// HOT (`modified` is indexed). The server vacuums such rows within
/// seconds, where autovacuum would wait a minute and for a fifth of the
/// table, so their space goes to the next writes instead of growing the file.
#[test]
fn rows_rewritten_by_syncs_are_vacuumed_within_seconds() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start();
    let a = s.account("vacuum@example.com");
    for _round in 0..3 {
        for n in 0..20 {
            let body = records(n, 100, &"x".repeat(500));
            assert_eq!(a.post_json("/storage/history", body, &[]).status(), 200);
        }
    }
    let mut pg = client(&s.database);
    wait_until_vacuumed(&mut pg, "'bsos'::regclass", "4,000 rewritten rows");
    // Every record is still there, once, as last written.
    let listed: Vec<serde_json::Value> = a.get("/storage/history?full=1").json().unwrap();
    assert_eq!(listed.len(), 2_000);
}

/// A batch POST is staged as one row whose payloads live in its TOAST
/// table; a commit leaves those chunks dead, and the server vacuums them
/// too (`VACUUM batch_posts` reaches its TOAST table).
#[test]
fn staged_batches_are_vacuumed_within_seconds_once_committed() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start();
    let a = s.account("staged@example.com");
    for n in 0..40 {
        let r = a.post_json(
            "/storage/history?batch=true",
            records(2 * n, 100, &"x".repeat(500)),
            &[],
        );
        assert_eq!(r.status(), 202);
        let batch: serde_json::Value = r.json().unwrap();
        let batch = batch["batch"].as_str().unwrap().to_owned();
        let commit = format!("/storage/history?batch={batch}&commit=true");
        let r = a.post_json(&commit, records(2 * n + 1, 100, &"y".repeat(500)), &[]);
        assert_eq!(r.status(), 200);
    }
    let mut pg = client(&s.database);
    wait_until_vacuumed(
        &mut pg,
        "(SELECT reltoastrelid FROM pg_class WHERE oid = 'batch_posts'::regclass)",
        "staged payloads' dead chunks",
    );
    let staged: i64 = pg
        .query_one("SELECT count(*) FROM batch_posts", &[])
        .unwrap()
        .get(0);
    assert_eq!(staged, 0, "every staged POST went with its commit");
    let listed: Vec<serde_json::Value> = a.get("/storage/history?full=1").json().unwrap();
    assert_eq!(listed.len(), 8_000);
}

/// The pool keeps at most `postgres_pool_size` connections, however many
/// requests want one at once: the others wait their turn. Eight writes are
/// held on their users' locks (taken here first), each on a connection.
#[test]
fn the_pool_never_opens_more_connections_than_configured() {
    if server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_in(dir.path());
    let options = sync_storage::db::OpenOptions {
        postgres_pool_size: 3,
    };
    let db = Arc::new(Db::open_with(&database, &options).unwrap());
    let name = application_name(&database);
    let mut pg = client(&database);
    let open = |pg: &mut postgres::Client| -> i64 {
        pg.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .unwrap()
        .get(0)
    };
    for uid in 1..=8_i64 {
        pg.execute("SELECT pg_advisory_lock($1)", &[&uid]).unwrap();
    }
    let writers: Vec<_> = (1..=8_u64)
        .map(|uid| {
            let db = db.clone();
            std::thread::spawn(move || db.delete_collection(uid, "history", None))
        })
        .collect();
    // Until the pool has opened what it may (at most 4 s: the waiting
    // writes give up after 5), then once more to see it opened no more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while open(&mut pg) < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let held = open(&mut pg);
    pg.execute("SELECT pg_advisory_unlock_all()", &[]).unwrap();
    let finished = writers.into_iter().filter_map(|w| w.join().unwrap().ok()).count();
    assert_eq!(held, 3, "connections open while eight writes wanted one");
    assert_eq!(finished, 8, "the waiting writes ran once the pool had room");
}

/// Requests over `postgres_pool_size` queue in the server for their turn
/// (`api::gate`), not on the pool's lock: with a pool of 2 and five writes
/// held on their users' locks, two hold connections, three are counted in
/// `sync_storage_db_waiting`, and all five finish once the locks go.
#[test]
fn requests_over_the_pool_wait_their_turn_and_are_counted() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start_with(|c| {
        c.postgres_pool_size = 2;
        c.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    });
    let accounts: Vec<_> = (0..5)
        .map(|i| s.account(&format!("turn{i}@example.com")))
        .collect();
    let mut pg = client(&s.database);
    for a in &accounts {
        pg.execute("SELECT pg_advisory_lock($1)", &[&(a.token.uid as i64)])
            .unwrap();
    }
    let metrics = format!("http://{}/metrics", s.server.metrics_addr().unwrap());
    let waiting = || -> i64 {
        let text = reqwest::blocking::get(&metrics).unwrap().text().unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("sync_storage_db_waiting "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    assert_eq!(waiting(), 0);
    let writes: Vec<_> = accounts
        .into_iter()
        .map(|a| std::thread::spawn(move || a.send("DELETE", "/storage/history", &[], None).status()))
        .collect();
    // Within 4 s: a write waits at most 5 s for its user's lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while waiting() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let queued = waiting();
    let open: i64 = pg
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&application_name(&s.database)],
        )
        .unwrap()
        .get(0);
    pg.execute("SELECT pg_advisory_unlock_all()", &[]).unwrap();
    let statuses: Vec<u16> = writes.into_iter().map(|w| w.join().unwrap().as_u16()).collect();
    assert_eq!(
        queued, 3,
        "writes waiting for a connection while two held the pool's two"
    );
    assert!(open <= 2, "{open} connections open on a pool of 2");
    assert_eq!(statuses, [200; 5], "every write ran once the locks went");
    assert_eq!(waiting(), 0);
}

#[test]
fn migrations_run_once_even_when_servers_start_together_and_a_newer_schema_is_refused() {
    if server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_in(dir.path());
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let database = database.clone();
            std::thread::spawn(move || Db::open(&database).map(|_| ()))
        })
        .collect();
    for start in starts {
        start.join().unwrap().unwrap();
    }
    let mut pg = client(&database);
    let versions: Vec<i64> = pg
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6], "each step recorded once");
    // Reopening an up-to-date database changes nothing.
    Db::open(&database).unwrap();
    pg.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')",
        &[],
    )
    .unwrap();
    match Db::open(&database) {
        Err(DbError::SchemaTooNew { found: 999, known: 6 }) => {}
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

/// Connections PostgreSQL closed while they sat in the pool (an
/// administrator's `pg_terminate_backend`, a restart) are found by their
/// first use and replaced, and the request that found them is served: the
/// pool does not ping each checkout, so this is what stands in for it.
#[test]
fn connections_closed_while_idle_are_replaced_without_failing_a_request() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start();
    let account = Arc::new(s.account("idle@example.com"));
    let record = |n: usize| json!([{"id": format!("r{n}"), "payload": "x"}]);
    // Several connections in the pool: requests at once.
    let warm: Vec<_> = (0..6)
        .map(|n| {
            let account = account.clone();
            let body = record(n);
            std::thread::spawn(move || account.post_json("/storage/history", body, &[]).status())
        })
        .collect();
    for request in warm {
        assert_eq!(request.join().unwrap(), 200);
    }
    let name = application_name(&s.database);
    let mut pg = client(&s.database);
    let cut = cut_connections(&mut pg, &name);
    assert!(cut >= 2, "the pool's connections were cut ({cut})");
    // Every kind of request is served, each on a connection found live.
    for round in 0..3 {
        assert_eq!(account.get("/info/collections").status(), 200, "round {round}");
        assert_eq!(
            account.get("/storage/history?full=1").status(),
            200,
            "round {round}"
        );
        assert_eq!(
            account.get("/storage/history?limit=2").status(),
            200,
            "round {round}"
        );
        assert_eq!(
            account
                .post_json("/storage/history", record(100 + round), &[])
                .status(),
            200,
            "round {round}"
        );
    }
    let listed: Vec<serde_json::Value> = account.get("/storage/history").json().unwrap();
    assert_eq!(listed.len(), 9, "every record written, once");
}

#[test]
fn dropped_connections_are_503s_with_retry_after_and_the_server_recovers_with_nothing_half_written() {
    if server().is_none() {
        return;
    }
    let s = TestServer::start();
    let account = Arc::new(s.account("dropped@example.com"));
    let name = application_name(&s.database);
    let stop = Arc::new(AtomicBool::new(false));
    // Cuts every connection the server holds, every 20 ms, as a restarting
    // PostgreSQL would.
    let cutter = {
        let stop = stop.clone();
        let mut pg = client(&s.database);
        std::thread::spawn(move || {
            let mut cuts = 0;
            while !stop.load(Ordering::Relaxed) {
                cuts += cut_connections(&mut pg, &name);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            cuts
        })
    };
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for n in 0..300 {
        let r = account.post_json("/storage/history", records(n, 5, "x"), &[]);
        match r.status().as_u16() {
            200 => acknowledged.push(n),
            503 => {
                assert!(
                    r.headers().contains_key("retry-after"),
                    "a 503 says when to come back"
                );
                refused += 1;
            }
            other => panic!("POST {n}: {other} {}", r.text().unwrap_or_default()),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cuts = cutter.join().unwrap();
    assert!(cuts > 0, "the connections were cut");
    eprintln!(
        "{} acknowledged, {refused} refused, {cuts} connections cut",
        acknowledged.len()
    );

    // Recovered: a request goes through, and every acknowledged POST is
    // whole while no refused one left a part behind.
    assert_all_or_nothing(&account, (0..300).map(|n| (n, acknowledged.contains(&n))));
}

#[test]
fn postgres_stopped_and_restarted_under_load_is_503s_then_service_with_nothing_half_written() {
    let (Some(_), Ok(stop_pg), Ok(start_pg)) = (
        server(),
        std::env::var("SYNC_TEST_POSTGRES_STOP"),
        std::env::var("SYNC_TEST_POSTGRES_START"),
    ) else {
        eprintln!("SKIPPED: needs SYNC_TEST_POSTGRES_STOP/_START (cargo xtask ci runs this alone)");
        return;
    };
    let s = TestServer::start();
    let kb = [4u8; 32];
    let account = Arc::new(s.account_with_keys("restart@example.com", &kb, 1_000));
    let stop = Arc::new(AtomicBool::new(false));
    // Token requests through the outage too: 503 with Retry-After, as storage.
    let tokens = {
        let stop = stop.clone();
        let url = s.url("/1.0/sync/1.5");
        let oauth = s.server.mint_token("restart@example.com").unwrap();
        let key_id = sync15::SyncRootKey::new(&kb, 1_000).unwrap().key_id();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap();
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .get(&url)
                    .bearer_auth(&oauth)
                    .header("X-KeyID", &key_id)
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                if status == 503 {
                    assert!(
                        r.headers().contains_key("retry-after"),
                        "a token 503 says when to come back"
                    );
                }
                statuses.push(status);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            statuses
        })
    };
    let load = {
        let (account, stop) = (account.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                let r = account.post_json("/storage/history", records(n, 5, "x"), &[]);
                let status = r.status().as_u16();
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(15),
                    "POST {n} hung for {:?}",
                    started.elapsed()
                );
                if status == 503 {
                    assert!(
                        r.headers().contains_key("retry-after"),
                        "a 503 says when to come back"
                    );
                }
                answers.push((n, status));
                n += 1;
            }
            answers
        })
    };
    let shell = |command: &str| {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{command}");
    };
    std::thread::sleep(std::time::Duration::from_millis(800));
    shell(&stop_pg);
    // Longer than a request waits for a connection (5 s), so some are refused;
    // a shorter outage is ridden out, which is as it should be.
    std::thread::sleep(std::time::Duration::from_millis(6_500));
    shell(&start_pg);
    std::thread::sleep(std::time::Duration::from_millis(2_000));
    stop.store(true, Ordering::Relaxed);
    let answers = load.join().unwrap();
    let token_statuses = tokens.join().unwrap();
    assert!(
        token_statuses.iter().all(|s| *s == 200 || *s == 503),
        "token answers: {token_statuses:?}"
    );
    assert!(token_statuses.contains(&503), "the token server saw the outage");
    assert_eq!(token_statuses.last(), Some(&200), "and served again after it");

    assert!(
        answers.iter().all(|(_, s)| *s == 200 || *s == 503),
        "only 200s and 503s: {:?}",
        answers
            .iter()
            .filter(|(_, s)| *s != 200 && *s != 503)
            .collect::<Vec<_>>()
    );
    assert!(answers.iter().any(|(_, s)| *s == 503), "the outage was seen");
    let last = answers.last().unwrap();
    assert_eq!(
        last.1, 200,
        "served again after the restart (last POST {})",
        last.0
    );
    eprintln!(
        "{} POSTs: {} acknowledged, {} refused",
        answers.len(),
        answers.iter().filter(|(_, s)| *s == 200).count(),
        answers.iter().filter(|(_, s)| *s == 503).count()
    );
    assert_all_or_nothing(&account, answers.iter().map(|(n, status)| (*n, *status == 200)));
}

/// After PostgreSQL failed under a run of five-record POSTs (`r<n>-0..4`):
/// the server answers again, every acknowledged POST is whole, no other
/// one left a part behind, and the collection's count matches its rows.
fn assert_all_or_nothing(account: &support::Account, posts: impl Iterator<Item = (usize, bool)>) {
    let r = account.get("/storage/history?full=1&limit=10000");
    assert_eq!(r.status(), 200);
    let stored: std::collections::HashSet<String> = support::json(r)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    for (n, acknowledged) in posts {
        let present = (0..5).filter(|i| stored.contains(&format!("r{n}-{i}"))).count();
        assert!(
            present == 0 || present == 5,
            "POST {n} half written: {present} of 5"
        );
        if acknowledged {
            assert_eq!(present, 5, "acknowledged POST {n} lost");
        }
    }
    let counts = support::json(account.get("/info/collection_counts"));
    assert_eq!(
        counts["history"],
        json!(stored.len()),
        "the count matches what is stored"
    );
}
