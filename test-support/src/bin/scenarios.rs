//! Runs the multi-device scenarios:
//! `cargo xtask scenarios [--split | --server URL --token-secret S | --storage-node URL --shared-secret S] [filter]`.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Instant;

use test_support::scenarios::{self, Outcome, ScenarioServer};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut server_url = None;
    let mut token_secret = None;
    let mut node_url = None;
    let mut shared_secret = None;
    let mut split = false;
    let mut filter = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => server_url = args.next(),
            "--token-secret" => token_secret = args.next(),
            "--storage-node" => node_url = args.next(),
            "--shared-secret" => shared_secret = args.next(),
            "--split" => split = true,
            "-h" | "--help" => {
                println!(
                    "usage: scenarios [--split | --server URL --token-secret SECRET | \
                     --storage-node URL --shared-secret SECRET] [NAME-FILTER]"
                );
                return ExitCode::SUCCESS;
            }
            other => filter = Some(other.to_owned()),
        }
    }
    let server = match (server_url, token_secret, node_url, shared_secret, split) {
        (Some(url), Some(token_secret), None, None, false) => ScenarioServer::External { url, token_secret },
        (None, None, Some(url), Some(shared_secret), false) => {
            ScenarioServer::storage_node(&url, &shared_secret)
        }
        (None, None, None, None, true) => ScenarioServer::Split,
        (None, None, None, None, false) => ScenarioServer::Embedded,
        _ => {
            println!(
                "choose one of --split, --server URL --token-secret S, --storage-node URL --shared-secret S"
            );
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for scenario in scenarios::all() {
        if filter.as_deref().is_some_and(|f| !scenario.name.contains(f)) {
            continue;
        }
        println!("scenario: {}", scenario.name);
        let began = Instant::now();
        match scenarios::run(&scenario, &server, &mut |line| println!("{line}")) {
            Outcome::Passed => {
                passed += 1;
                println!("  ok ({:.1} s)", began.elapsed().as_secs_f64());
            }
            Outcome::Failed(why) => {
                failed += 1;
                println!("  FAILED: {why}");
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                println!("  skipped: {why}");
            }
        }
    }
    println!(
        "scenarios: {passed} passed, {failed} failed, {skipped} skipped in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
