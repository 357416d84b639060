//! Runs the multi-device scenarios: `cargo xtask scenarios [--server URL --token-secret S] [filter]`.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Instant;

use test_support::scenarios::{self, Outcome, ScenarioServer};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut server_url = None;
    let mut token_secret = None;
    let mut filter = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => server_url = args.next(),
            "--token-secret" => token_secret = args.next(),
            "-h" | "--help" => {
                println!("usage: scenarios [--server URL --token-secret SECRET] [NAME-FILTER]");
                return ExitCode::SUCCESS;
            }
            other => filter = Some(other.to_owned()),
        }
    }
    let server = match (server_url, token_secret) {
        (Some(url), Some(token_secret)) => ScenarioServer::External { url, token_secret },
        (None, None) => ScenarioServer::Embedded,
        _ => {
            println!("--server and --token-secret go together");
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
