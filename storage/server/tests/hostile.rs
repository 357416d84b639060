//! A hostile client wearing the server down: oversized Hawk nonces,
//! slow and idle connections, unpaged reads of huge collections, expired
//! records counted against the quota, and limits that must be enforced.
//! Each case failed before its fix.
#![allow(clippy::unwrap_used)]

mod support;

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

    // A 200 KB nonce with a valid signature is a malformed header.
    let huge = "n".repeat(200_000);
    let auth = hawk_with_nonce(&account, "GET", &url, &huge);
    let refused = account
        .raw
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        support::header(refused.headers(), "www-authenticate").as_deref(),
        Some("Hawk")
    );

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
