//! A database of many users' records, for `cargo xtask bench server
//! --scale`: every user holds what a desktop profile syncs — mostly history
//! and bookmarks, some form history and passwords, a few preferences, tabs
//! and clients records — about 1,000 records, with each collection's
//! typical payload size. It is built through the storage API's batch
//! uploads (100 records a POST, one batch per collection, several users
//! at once), not record by record, and kept between runs: a database
//! built by the same [`GENERATOR`] for as many users is used again.

use std::path::Path;
use std::time::Instant;

use super::{User, dev_users};

/// The generator's version: a change to what it builds changes this, and
/// a database built by another version is built again.
pub const GENERATOR: &str = "scale-v1";

/// Each user's collections: `(name, records, payload bytes)`; 1,001 records.
pub const COLLECTIONS: &[(&str, usize, usize)] = &[
    ("history", 700, 560),
    ("bookmarks", 200, 460),
    ("forms", 60, 300),
    ("passwords", 30, 880),
    ("addons", 5, 520),
    ("prefs", 1, 3_000),
    ("clients", 2, 820),
    ("tabs", 1, 2_800),
    ("meta", 1, 300),
    ("crypto", 1, 420),
];

/// Records per POST while building.
const PER_POST: usize = 100;

/// Users uploading at once while building.
const LANES: usize = 8;

/// How a build went.
pub struct Built {
    pub users: usize,
    pub records: usize,
    pub seconds: f64,
}

/// The marker a finished build leaves in the database: `<generator> <users>`.
fn marker(users: usize) -> String {
    format!("{GENERATOR} {users}")
}

/// An encrypted record's payload of about `bytes` bytes, as a JSON string
/// literal. Its IV is not all zeros: the server refuses such `crypto`
/// records (Mozilla's known-bad payload).
fn payload_of(bytes: usize) -> String {
    let ciphertext = "Q".repeat(bytes.saturating_sub(120).max(16));
    let payload = format!(
        r#"{{"ciphertext":"{ciphertext}","IV":"AAECAwQFBgcICQoLDA0ODw==","hmac":"{}"}}"#,
        "0".repeat(64)
    );
    serde_json::to_string(&payload).unwrap()
}

/// Uploads every collection of users `0..users` to the server at `url`.
pub fn build(runtime: &tokio::runtime::Runtime, url: &str, users: usize) -> Built {
    let started = Instant::now();
    // Signing in blocks (the token client is blocking): lanes of threads.
    let signed_in: Vec<User> = std::thread::scope(|s| {
        let lanes: Vec<_> = (0..LANES)
            .map(|lane| {
                s.spawn(move || {
                    (lane..users)
                        .step_by(LANES)
                        .map(|n| (n, dev_users(url, n, 1).remove(0)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, User)> = lanes.into_iter().flat_map(|l| l.join().unwrap()).collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, user)| user).collect()
    });
    let signed_in = std::sync::Arc::new(signed_in);
    let payloads: std::sync::Arc<Vec<String>> = std::sync::Arc::new(
        COLLECTIONS
            .iter()
            .map(|(_, _, bytes)| payload_of(*bytes))
            .collect(),
    );
    let records = runtime.block_on(async {
        let client = reqwest::Client::new();
        let lanes: Vec<_> = (0..LANES)
            .map(|lane| {
                let (users, payloads, client) = (signed_in.clone(), payloads.clone(), client.clone());
                tokio::spawn(async move {
                    let mut stored = 0;
                    for user in users.iter().skip(lane).step_by(LANES) {
                        for ((name, count, _), payload) in COLLECTIONS.iter().zip(payloads.iter()) {
                            stored += upload(user, &client, name, *count, payload).await;
                        }
                    }
                    stored
                })
            })
            .collect();
        let mut stored = 0;
        for lane in lanes {
            stored += lane.await.unwrap();
        }
        stored
    });
    Built {
        users,
        records,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// One collection of one user in one batch; returns the records stored.
async fn upload(
    user: &User,
    client: &reqwest::Client,
    collection: &str,
    count: usize,
    payload: &str,
) -> usize {
    let chunks: Vec<usize> = (0..count).step_by(PER_POST).collect();
    let mut batch: Option<String> = None;
    for (i, &first) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let mut body = String::from("[");
        for n in first..(first + PER_POST).min(count) {
            if n > first {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"id":"{collection}{n:04}","sortindex":{n},"payload":{payload}}}"#
            ));
        }
        body.push(']');
        let query = match (&batch, last) {
            (None, true) => "batch=true&commit=true".to_owned(),
            (None, false) => "batch=true".to_owned(),
            (Some(id), true) => format!("batch={id}&commit=true"),
            (Some(id), false) => format!("batch={id}"),
        };
        let answer: serde_json::Value = user
            .request(
                client,
                reqwest::Method::POST,
                &format!("/storage/{collection}?{query}"),
            )
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("a build POST")
            .error_for_status()
            .expect("a build POST accepted")
            .json()
            .await
            .expect("a build POST's answer");
        batch = answer["batch"].as_str().map(str::to_owned);
    }
    count
}

/// The kept database for a backend, and whether this generator already
/// built it for `users` users. One built by another generator (or for
/// another number of users) is emptied first.
pub fn kept_database(backend: &str, location: &Path, users: usize) -> (std::path::PathBuf, bool) {
    if backend == "PostgreSQL" {
        // `location` is the cluster's URL; the database is one of its own.
        let admin = location.to_str().unwrap();
        let url = format!("{}/sync_scale", admin.rsplit_once('/').unwrap().0);
        let built = postgres::Client::connect(&url, postgres::NoTls)
            .ok()
            .and_then(|mut c| c.query_one("SELECT marker FROM bench_scale", &[]).ok())
            .is_some_and(|row| row.get::<_, String>(0) == marker(users));
        if !built {
            let mut client = postgres::Client::connect(admin, postgres::NoTls).unwrap();
            // Each on its own: neither runs inside a transaction block.
            client
                .batch_execute("DROP DATABASE IF EXISTS sync_scale")
                .unwrap();
            client.batch_execute("CREATE DATABASE sync_scale").unwrap();
        }
        return (std::path::PathBuf::from(url), built);
    }
    // `location` is a directory.
    let dir = location.join(GENERATOR);
    let file = dir.join("sync.db");
    let built = rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| {
            c.query_row("SELECT marker FROM bench_scale", [], |r| r.get::<_, String>(0))
                .ok()
        })
        .is_some_and(|m| m == marker(users));
    if !built {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    (file, built)
}

/// Records in the database that this generator built it for `users` users.
pub fn mark_built(database: &Path, users: usize) {
    let location = database.to_str().unwrap();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS bench_scale (marker TEXT NOT NULL); DELETE FROM bench_scale;
         INSERT INTO bench_scale (marker) VALUES ('{}')",
        marker(users)
    );
    if sync_storage::db::is_postgres_url(location) {
        postgres::Client::connect(location, postgres::NoTls)
            .unwrap()
            .batch_execute(&sql)
            .unwrap();
    } else {
        rusqlite::Connection::open(database)
            .unwrap()
            .execute_batch(&sql)
            .unwrap();
    }
}
