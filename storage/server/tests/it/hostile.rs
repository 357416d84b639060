//! A hostile client wearing the server down: oversized Hawk nonces,
//! slow and idle connections, unpaged reads of huge collections, expired
//! records counted against the quota, and limits that must be enforced.
//! Each case failed before its fix.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::SystemTime;

use support::{Account, TestServer};

/// A Hawk header for `method url` with a nonce of the client's choosing.
fn hawk_with_nonce(account: &Account, method: &str, url: &str, nonce: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let credentials = hawk::Credentials {
        id: account.token.id.clone(),
        key: hawk::Key::new(account.token.key.as_bytes(), hawk::DigestAlgorithm::Sha256).unwrap(),
    };
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let header = hawk::RequestBuilder::new(method, parsed.host_str().unwrap(), parsed.port().unwrap(), &path)
        .request()
        .make_header_full(&credentials, SystemTime::now(), nonce)
        .unwrap();
    format!("Hawk {header}")
}

#[test]
fn oversized_hawk_nonces_are_refused_and_the_cache_stays_in_budget() {
    let budget = 200 * sync_storage::auth::nonces::ENTRY_BYTES;
    let server = TestServer::start_with(|c| c.hawk_nonce_cache_bytes = budget as u64);
    let account = server.account("nonces@example.com");
    let url = account.url("/info/collections");

    // A nonce as Hawk clients send them works, once.
    let auth = hawk_with_nonce(&account, "GET", &url, "c2hvcnQ");
    let ok = account
        .raw
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let replay = account
        .raw
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .unwrap();
    assert_eq!(replay.status(), 401);

    // A validly signed 1 KB nonce is a malformed header…
    let send = |nonce: &str| {
        let auth = hawk_with_nonce(&account, "GET", &url, nonce);
        account
            .raw
            .get(&url)
            .header("Authorization", &auth)
            .send()
            .unwrap()
    };
    let refused = send(&"n".repeat(1_000));
    assert_eq!(refused.status(), 401);
    assert_eq!(
        support::header(refused.headers(), "www-authenticate").as_deref(),
        Some("Hawk")
    );
    // …and a 200 KB one does not even fit in a request head.
    assert_eq!(send(&"n".repeat(200_000)).status(), 431);

    // Thousands of distinct nonces: the cache holds to its budget.
    for i in 0..2_000 {
        let nonce = format!("{i:0>128}");
        let auth = hawk_with_nonce(&account, "GET", &url, &nonce);
        let answer = account
            .raw
            .get(&url)
            .header("Authorization", &auth)
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200, "request {i}");
    }
    let (entries, bytes) = server.server.hawk_nonce_cache_size();
    assert_eq!(entries, 200);
    assert!(bytes <= budget, "{bytes} bytes over a budget of {budget}");
}

fn connect(server: &TestServer) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(server.server.addr()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent, or
/// `None` if it was still open after the read timeout.
fn read_until_closed(stream: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read as _;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(String::from_utf8_lossy(&received).into_owned()),
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed() {
    use std::io::Write as _;
    let server = TestServer::start_with(|c| {
        c.connections.header_read_timeout_secs = 1;
        c.connections.body_read_timeout_secs = 1;
        c.connections.idle_timeout_secs = 5;
    });

    // Half-sent headers.
    let mut slow_head = connect(&server);
    slow_head
        .write_all(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    assert!(
        read_until_closed(&mut slow_head).is_some(),
        "a half-sent head stayed open"
    );

    // An idle keep-alive connection, after one answered request.
    let mut idle = connect(&server);
    idle.write_all(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let answered = read_until_closed(&mut idle).expect("an idle keep-alive connection stayed open");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // A signed request whose body stalls: 408, then the connection closes.
    let account = server.account("stalling@example.com");
    let mut stalled = connect(&server);
    stalled
        .write_all(signed_head(&account, "POST", "/storage/tabs", 1000).as_bytes())
        .unwrap();
    stalled.write_all(b"[{\"id\":").unwrap();
    let answered = read_until_closed(&mut stalled).expect("a stalled body stayed open");
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");

    // A body that trickles (a byte a second: never idle) still has to
    // arrive within the body timeout.
    let mut trickle = connect(&server);
    trickle
        .write_all(signed_head(&account, "PUT", "/storage/tabs/x", 1000).as_bytes())
        .unwrap();
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if trickle.write_all(b" ").is_err() {
            break;
        }
    }
    let answered = read_until_closed(&mut trickle).expect("a trickling body stayed open");
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");

    // Nothing moving for the idle time closes the connection even with
    // generous header and body timeouts.
    let idle_server = TestServer::start_with(|c| {
        c.connections.header_read_timeout_secs = 60;
        c.connections.body_read_timeout_secs = 60;
        c.connections.idle_timeout_secs = 1;
    });
    let idle_account = idle_server.account("idle@example.com");
    let mut stalled = connect(&idle_server);
    stalled
        .write_all(signed_head(&idle_account, "POST", "/storage/tabs", 1000).as_bytes())
        .unwrap();
    stalled.write_all(b"[").unwrap();
    let answered = read_until_closed(&mut stalled).expect("an idle upload stayed open");
    assert!(
        answered.is_empty() || answered.starts_with("HTTP/1.1 408"),
        "{answered}"
    );

    // Real clients are served throughout.
    let account = server.account("patient@example.com");
    assert_eq!(account.get("/info/collections").status(), 200);
}

/// A request nobody signed is refused from its head, its body never read:
/// a body read first is memory anyone could make the server hold. A body
/// announced over `max_request_bytes` is refused at once, signed or not.
#[test]
fn unsigned_and_oversized_bodies_are_refused_before_they_are_read() {
    use std::io::{Read as _, Write as _};
    let server = TestServer::start_with(|c| {
        // Far longer than this test waits: an answer means the body was not awaited.
        c.connections.body_read_timeout_secs = 120;
        c.connections.idle_timeout_secs = 120;
    });
    let account = server.account("heads@example.com");
    let first_line = |stream: &mut std::net::TcpStream| {
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).expect("an answer before the body");
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let uid = account.token.uid;
    for head in [
        // No Authorization at all.
        format!(
            "POST /1.5/{uid}/storage/tabs HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        ),
        // A Hawk header for another path.
        signed_head(&account, "POST", "/storage/other", 1_000_000).replacen(
            "/storage/other",
            "/storage/tabs",
            1,
        ),
    ] {
        let mut stream = connect(&server);
        stream.write_all(head.as_bytes()).unwrap();
        assert_eq!(first_line(&mut stream), "HTTP/1.1 401 Unauthorized", "{head}");
    }
    let mut stream = connect(&server);
    stream
        .write_all(signed_head(&account, "POST", "/storage/tabs", 3_000_000).as_bytes())
        .unwrap();
    assert_eq!(first_line(&mut stream), "HTTP/1.1 413 Payload Too Large");
    // A signed request with its body is served as ever.
    let mut stream = connect(&server);
    let body = br#"[{"id": "ok", "payload": "x"}]"#;
    stream
        .write_all(signed_head(&account, "POST", "/storage/tabs", body.len()).as_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
    assert_eq!(first_line(&mut stream), "HTTP/1.1 200 OK");
}

/// The head of a request `account` signed (no payload hash), announcing a
/// JSON body of `length` bytes that the caller sends, or does not.
fn signed_head(account: &Account, method: &str, rest: &str, length: usize) -> String {
    let url = url::Url::parse(&account.url(rest)).unwrap();
    let authorization = account
        .token
        .hawk_credentials()
        .unwrap()
        .authorization(method, &url, std::time::SystemTime::now())
        .unwrap();
    format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        url.path(),
        url.host_str().unwrap(),
        url.port().unwrap()
    )
}

/// Past `connections.max`, a client is told at once to come back (503 with
/// `Retry-After`), not left in the listen backlog until it times out; each
/// refusal is counted in `/metrics`.
#[test]
fn a_connection_cap_keeps_the_server_from_running_out_of_descriptors() {
    let server = TestServer::start_with(|c| {
        c.connections.max = 2;
        c.connections.header_read_timeout_secs = 60;
        c.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    });
    let url = server.url("/__lbheartbeat__");
    let quick = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(quick.get(&url).send().unwrap().status(), 200);
    // The first client's keep-alive connection is still open; hold the other slot.
    let holder = connect(&server);
    // Let the server take the holder before the next client comes.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let fresh = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let refused = fresh.get(&url).send().unwrap();
    assert_eq!(refused.status(), 503, "served beyond the cap");
    assert_eq!(
        support::header(refused.headers(), "retry-after").as_deref(),
        Some("5")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered at once"
    );
    let metrics = reqwest::blocking::get(format!(
        "http://{}/metrics",
        server.server.metrics_addr().unwrap()
    ))
    .unwrap()
    .text()
    .unwrap();
    assert!(
        metrics.contains("sync_storage_connections_refused_total 1"),
        "{metrics}"
    );
    drop(holder);
    drop(quick);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let later = reqwest::blocking::Client::new();
    assert_eq!(later.get(&url).send().unwrap().status(), 200);
}

/// Stores `count` records `r00000…` in `collection` of `payload_bytes` each,
/// in batches, with increasing sortindexes.
fn fill(account: &Account, collection: &str, count: usize, payload_bytes: usize) {
    let payload = "p".repeat(payload_bytes);
    let ids: Vec<usize> = (0..count).collect();
    for chunk in ids.chunks(100) {
        let bsos: Vec<serde_json::Value> = chunk
            .iter()
            .map(|i| serde_json::json!({"id": format!("r{i:05}"), "payload": payload, "sortindex": i}))
            .collect();
        let response = account.post_json(&format!("/storage/{collection}"), serde_json::json!(bsos), &[]);
        assert_eq!(response.status(), 200);
    }
}

/// A read without `limit` returns the whole collection in one answer, as
/// Mozilla's Spanner and PostgreSQL backends do (application-services never
/// follows `X-Weave-Next-Offset`): 25,000 records, 10 MiB of payloads, more
/// than a paged read's 8 MiB and than `max_total_records`.
#[test]
fn unpaged_reads_return_the_whole_collection() {
    let server = TestServer::start();
    let account = server.account("hoarder@example.com");
    fill(&account, "bookmarks", 25_000, 420);
    let expected: Vec<String> = (0..25_000).map(|i| format!("r{i:05}")).collect();

    let whole = account.get("/storage/bookmarks?full=1");
    assert_eq!(whole.status(), 200);
    assert_eq!(support::header(whole.headers(), "x-weave-next-offset"), None);
    assert_eq!(
        support::header(whole.headers(), "x-weave-records").as_deref(),
        Some("25000")
    );
    let last_modified = support::header(whole.headers(), "x-last-modified").unwrap();
    let body = whole.bytes().unwrap();
    assert!(body.len() > sync_storage::db::PAGE_BYTES, "{} bytes", body.len());
    let records: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "every record exactly once, oldest first");
    assert!(
        records
            .iter()
            .all(|r| r["payload"].as_str().unwrap().len() == 420)
    );

    // Ids only, newest first, from an offset.
    let newest = support::json(account.get("/storage/bookmarks?sort=index&offset=5"));
    let newest: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    let mut by_index: Vec<&str> = expected.iter().map(String::as_str).rev().collect();
    by_index.drain(..5);
    assert_eq!(newest, by_index);

    // One record per line.
    let lines = account.send(
        "GET",
        "/storage/bookmarks?full=1&sort=oldest",
        &[("Accept", "application/newlines")],
        None,
    );
    assert_eq!(
        support::header(lines.headers(), "content-type").as_deref(),
        Some("application/newlines")
    );
    let text = lines.text().unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, expected);

    // A streamed answer honours the read preconditions too.
    let unchanged = account.send(
        "GET",
        "/storage/bookmarks?full=1",
        &[("X-If-Modified-Since", &last_modified)],
        None,
    );
    assert_eq!(unchanged.status(), 304);

    // Clients that walk away mid-answer end their reads: more of them than
    // the server has reader connections, and it still answers.
    for _ in 0..20 {
        let mut abandoned = account.get("/storage/bookmarks?full=1");
        let mut start = [0u8; 4096];
        std::io::Read::read_exact(&mut abandoned, &mut start).unwrap();
    }
    assert_eq!(
        account.get("/storage/bookmarks?full=1").bytes().unwrap().len(),
        body.len()
    );

    // A client that asks for a limit still pages, 8 MiB at most a page.
    let limited = account.get("/storage/bookmarks?limit=7");
    assert_eq!(
        support::header(limited.headers(), "x-weave-next-offset").as_deref(),
        Some("7")
    );
    let big = account.get("/storage/bookmarks?full=1&limit=100000");
    assert_eq!(
        support::header(big.headers(), "x-weave-next-offset").as_deref(),
        Some(&*support::header(big.headers(), "x-weave-records").unwrap())
    );
    // PAGE_BYTES counts 64 bytes of JSON around each payload; these need ~75.
    let page = big.bytes().unwrap().len();
    assert!(
        page <= sync_storage::db::PAGE_BYTES * 11 / 10,
        "a page of {page} bytes"
    );
}

#[test]
fn expired_records_stop_counting_the_moment_they_expire() {
    let server = TestServer::start_with(|c| c.limits.quota_bytes = 50_000);
    let account = server.account("ttl@example.com");
    let chunk = "t".repeat(20_000);
    for id in ["a", "b"] {
        let put = account.put_json(
            &format!("/storage/tabs/{id}"),
            serde_json::json!({"payload": chunk, "ttl": 1}),
            &[],
        );
        assert_eq!(put.status(), 200);
    }
    let kept = account.put_json("/storage/tabs/kept", serde_json::json!({"payload": "k"}), &[]);
    assert_eq!(kept.status(), 200);
    let counts = support::json(account.get("/info/collection_counts"));
    assert_eq!(counts["tabs"], 3);
    std::thread::sleep(std::time::Duration::from_millis(1_100));

    // No purge has run: the hourly one is far off.
    let counts = support::json(account.get("/info/collection_counts"));
    assert_eq!(counts["tabs"], 1, "{counts}");
    let usage = support::json(account.get("/info/collection_usage"));
    assert!(usage["tabs"].as_f64().unwrap() < 0.01, "{usage}");
    let quota = support::json(account.get("/info/quota"));
    assert!(quota[0].as_f64().unwrap() < 0.01, "{quota}");

    // 40 KB of expired records do not block a 30 KB write under a 50 KB quota.
    let write = account.put_json(
        "/storage/tabs/c",
        serde_json::json!({"payload": "n".repeat(30_000)}),
        &[],
    );
    assert_eq!(write.status(), 200);
    let counts = support::json(account.get("/info/collection_counts"));
    assert_eq!(counts["tabs"], 2, "{counts}");
    // The quota still holds for live records.
    let over = account.put_json(
        "/storage/tabs/d",
        serde_json::json!({"payload": "o".repeat(30_000)}),
        &[],
    );
    assert_eq!(over.status(), 403);
}

#[test]
fn every_limit_set_through_the_environment_is_served_and_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SYNC_STORAGE_BIND", "127.0.0.1:0".to_owned()),
        (
            "SYNC_STORAGE_DATABASE",
            support::database_in(dir.path()).display().to_string(),
        ),
        ("SYNC_STORAGE_MAX_REQUEST_BYTES", "30000".to_owned()),
        ("SYNC_STORAGE_MAX_POST_RECORDS", "4".to_owned()),
        ("SYNC_STORAGE_MAX_POST_BYTES", "3000".to_owned()),
        ("SYNC_STORAGE_MAX_TOTAL_RECORDS", "6".to_owned()),
        ("SYNC_STORAGE_MAX_TOTAL_BYTES", "5000".to_owned()),
        ("SYNC_STORAGE_MAX_RECORD_PAYLOAD_BYTES", "1000".to_owned()),
        ("SYNC_STORAGE_QUOTA_BYTES", "20000".to_owned()),
    ];
    let config =
        sync_storage::config::Config::load(None, env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
            .unwrap();
    let server = TestServer {
        database: config.database.clone(),
        server: sync_storage::Server::start(config).unwrap(),
        _dir: dir,
    };
    let account = server.account("limits@example.com");
    let served = support::json(account.get("/info/configuration"));
    assert_eq!(
        served,
        serde_json::json!({
            "max_request_bytes": 30000, "max_post_records": 4, "max_post_bytes": 3000,
            "max_total_records": 6, "max_total_bytes": 5000, "max_record_payload_bytes": 1000,
            "max_quota_limit": 20000
        })
    );
    let records = |n: usize, size: usize| -> serde_json::Value {
        (0..n)
            .map(|i| serde_json::json!({"id": format!("r{i}"), "payload": "x".repeat(size)}))
            .collect()
    };
    // One payload over max_record_payload_bytes: that record fails.
    let one = support::json(account.post_json("/storage/forms", records(1, 1001), &[]));
    assert_eq!(one["failed"]["r0"], "retry bytes", "{one}");
    // A POST over max_post_bytes (4 × 800 = 3200 > 3000): the last waits.
    let post = support::json(account.post_json("/storage/forms", records(4, 800), &[]));
    assert_eq!(post["success"], serde_json::json!(["r0", "r1", "r2"]), "{post}");
    assert_eq!(post["failed"], serde_json::json!({"r3": "retry bytes"}), "{post}");
    // A batch over max_total_bytes (3 × 2 × 900 = 5400 > 5000).
    let first = support::json(account.post_json("/storage/forms?batch=true", records(2, 900), &[]));
    let batch = first["batch"].as_str().unwrap().to_owned();
    let more = account.post_json(&format!("/storage/forms?batch={batch}"), records(2, 900), &[]);
    assert_eq!(more.status(), 202);
    let over = account.post_json(
        &format!("/storage/forms?batch={batch}&commit=true"),
        records(2, 900),
        &[],
    );
    assert_eq!(over.status(), 200);
    let over = support::json(over);
    assert_eq!(over["success"], serde_json::json!(["r0"]), "{over}");
    assert_eq!(over["failed"], serde_json::json!({"r1": "retry bytes"}), "{over}");
    // The request body cap.
    let body = serde_json::json!({"id": "big", "payload": "y".repeat(40_000)});
    assert_eq!(account.put_json("/storage/forms/big", body, &[]).status(), 413);

    // A misspelt variable stops the server from starting.
    let err =
        sync_storage::config::Config::load(None, [("SYNC_STORAGE_MAX_POST_BYTE".to_owned(), "1".to_owned())])
            .unwrap_err();
    assert!(err.to_string().contains("SYNC_STORAGE_MAX_POST_BYTE"), "{err}");
}

#[test]
fn deletes_and_ids_do_only_what_they_say() {
    let server = TestServer::start();
    let account = server.account("careful@example.com");
    for id in ["a", "b", "c"] {
        account.put_json(
            &format!("/storage/forms/{id}"),
            serde_json::json!({"payload": id}),
            &[],
        );
    }
    // A delete that looks like a read's selection is refused, and deletes nothing.
    for query in ["newer=0", "older=99999999999", "limit=1", "sort=newest", "full=1"] {
        let response = account.send("DELETE", &format!("/storage/forms?{query}"), &[], None);
        assert_eq!(response.status(), 400, "{query}");
    }
    assert_eq!(support::json(account.get("/info/collection_counts"))["forms"], 3);
    let response = account.send("DELETE", "/storage/forms?ids=a,b", &[], None);
    assert_eq!(response.status(), 200);
    assert_eq!(
        support::json(account.get("/storage/forms")),
        serde_json::json!(["c"])
    );

    // An id with a comma could never be named in ids=: refused.
    let put = account.put_json("/storage/forms/x%2Cy", serde_json::json!({"payload": "p"}), &[]);
    assert_eq!(put.status(), 400);
    let post = support::json(account.post_json(
        "/storage/forms",
        serde_json::json!([{"id": "x,y", "payload": "p"}, {"id": "ok", "payload": "p"}]),
        &[],
    ));
    assert_eq!(post["success"], serde_json::json!(["ok"]), "{post}");
    assert!(post["failed"]["x,y"].is_string(), "{post}");
}

#[test]
fn oauth_tokens_get_seconds_of_grace_not_a_minute() {
    let server = TestServer::start();
    let secret = server.server.dev_secret().unwrap().to_owned();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = |exp: u64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &serde_json::json!({"sub": "0123456789abcdef0123456789abcdef", "exp": exp,
                                "scope": "https://identity.mozilla.com/apps/oldsync"}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let key_id = sync15::SyncRootKey::new(&[7u8; 32], 1_000).unwrap().key_id();
    let ask = |bearer: &str| {
        reqwest::blocking::Client::new()
            .get(server.url("/1.0/sync/1.5"))
            .bearer_auth(bearer)
            .header("X-KeyID", &key_id)
            .send()
            .unwrap()
    };
    assert_eq!(ask(&token(now + 60)).status(), 200);
    // Expired 30 s ago: within the old 60 s grace, outside the new one.
    let expired = ask(&token(now - 30));
    assert_eq!(expired.status(), 401);
    let body = support::json(expired);
    assert_eq!(body["status"], "invalid-credentials", "{body}");
}
