//! The accounts service's share of a sign-in, and of a token verification
//! (issue 29), on loopback against the in-process server with its accounts
//! service and a temporary SQLite file.
//!
//! - **Sign-in** (`POST /v1/account/login`, Mozilla's scrypt cost: N = 2^16,
//!   r = 8, p = 1): the server's whole share — request parsing, one scrypt,
//!   the session written. The client's PBKDF2 is not the server's and is
//!   done once, before timing. Sequential (latency) and 8 at once
//!   (throughput: scrypt runs on at most 4 threads at a time).
//! - **Token verification** (`GET /1.0/sync/1.5` with an access token the
//!   service signed): the token server checks the RS256 JWT with the
//!   service's public keys in process — no scrypt, no HTTP round trip —
//!   then looks the user up. Sequential and 8 at once.
//!
//! Prints p50/p99 latency and requests/s for each. Only 127.0.0.1 is
//! contacted.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::percentile;
use sync_accounts::mail::Outbox;
use sync_storage::Server;
use sync_storage::config::Config;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "a benchmark password";
const SIGN_INS: usize = 24;
const VERIFICATIONS: usize = 2_000;
const CONCURRENT: usize = 8;

fn report(what: &str, mut micros: Vec<u64>, elapsed: Duration) {
    micros.sort_unstable();
    println!(
        "{what:<58} {:>6} requests  p50 {:>8.2} ms  p99 {:>8.2} ms  {:>9.1} req/s",
        micros.len(),
        percentile(&micros, 0.50),
        percentile(&micros, 0.99),
        micros.len() as f64 / elapsed.as_secs_f64()
    );
}

/// Runs `each` `n` times on each of `threads` threads; every call's time
/// (µs) and the wall time.
fn timed(threads: usize, n: usize, each: impl Fn() + Send + Sync + 'static) -> (Vec<u64>, Duration) {
    let each = Arc::new(each);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let each = each.clone();
            std::thread::spawn(move || {
                (0..n)
                    .map(|_| {
                        let t = Instant::now();
                        each();
                        t.elapsed().as_micros() as u64
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let micros = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    (micros, started.elapsed())
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: dir.path().join("sync.db"),
        ..Config::default()
    };
    config.accounts.enabled = true;
    config.accounts.scrypt_log_n = 16;
    config.accounts.confirm_sign_ins = false;
    config.accounts.rate_limit = u32::MAX;
    let server = Server::start(config).unwrap();
    let outbox = Arc::new(Outbox::default());
    server.accounts().unwrap().set_mail_transport(outbox.clone());
    let url = server.url().to_owned();

    let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&url)).unwrap();
    fxa.sign_up(EMAIL, PASSWORD).unwrap();
    let code = outbox.last_code(EMAIL).unwrap();
    fxa.verify_email_code(&code).unwrap();
    let key_id = fxa.sync_root_key().unwrap().key_id();
    let access = fxa.access_token().unwrap();

    // The client's side of a sign-in, done once: V2 stretching.
    let status: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/account/credentials/status"))
        .json(&json!({ "email": EMAIL }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let stretch = fxa_client::crypto::Stretch::V2 {
        client_salt: status["clientSalt"].as_str().unwrap().to_owned(),
    };
    let auth_pw = hex::encode(
        fxa_client::crypto::StretchedPassword::new(EMAIL, PASSWORD, &stretch)
            .unwrap()
            .auth_pw(),
    );
    let login_body = Arc::new(json!({ "email": EMAIL, "authPW": auth_pw }).to_string());
    let http = reqwest::blocking::Client::new();

    println!("accounts bench: scrypt N=2^16 r=8 p=1 (Mozilla's), {CONCURRENT} clients where concurrent");
    let sign_in = {
        let (http, url, body) = (http.clone(), url.clone(), login_body.clone());
        move || {
            let response = http
                .post(format!("{url}/v1/account/login"))
                .header("Content-Type", "application/json")
                .body(body.as_str().to_owned())
                .send()
                .unwrap();
            assert_eq!(response.status(), 200, "{:?}", response.text());
        }
    };
    sign_in();
    let (micros, elapsed) = timed(1, SIGN_INS, sign_in.clone());
    report("sign-in (/v1/account/login), one at a time", micros, elapsed);
    let (micros, elapsed) = timed(CONCURRENT, SIGN_INS / 2, sign_in);
    report("sign-in, 8 at once", micros, elapsed);

    let verify = {
        let (http, url, access, key_id) = (http.clone(), url.clone(), access.clone(), key_id.clone());
        move || {
            let response = http
                .get(format!("{url}/1.0/sync/1.5"))
                .header("Authorization", format!("Bearer {access}"))
                .header("X-KeyID", &key_id)
                .send()
                .unwrap();
            assert_eq!(response.status(), 200, "{:?}", response.text());
        }
    };
    for _ in 0..50 {
        verify();
    }
    let (micros, elapsed) = timed(1, VERIFICATIONS, verify.clone());
    report(
        "token server: access token verified (/1.0/sync/1.5)",
        micros,
        elapsed,
    );
    let (micros, elapsed) = timed(CONCURRENT, VERIFICATIONS / 2, verify);
    report("token server, 8 at once", micros, elapsed);
}
