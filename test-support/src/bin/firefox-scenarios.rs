//! Runs the real-Firefox scenarios: `cargo xtask firefox [NAME-FILTER]`.
//!
//! Exit codes: 0 every scenario passed; 1 one failed (its step, Firefox's
//! Sync logs and the error are printed); 3 no Firefox to run.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Instant;

use test_support::firefox::Firefox;
use test_support::firefox::scenarios::{self, Outcome};

fn main() -> ExitCode {
    let filter = std::env::args().nth(1);
    if filter.as_deref().is_some_and(|f| f == "-h" || f == "--help") {
        println!("usage: firefox-scenarios [NAME-FILTER]");
        return ExitCode::SUCCESS;
    }
    match Firefox::version() {
        Ok(version) => println!("{version}"),
        Err(e) => {
            println!("{e}");
            return ExitCode::from(3);
        }
    }
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for scenario in scenarios::all() {
        if filter.as_deref().is_some_and(|f| !scenario.name.contains(f)) {
            continue;
        }
        println!("firefox scenario: {}", scenario.name);
        let began = Instant::now();
        match scenarios::run(&scenario, &mut |line| println!("{line}")) {
            Outcome::Passed => {
                passed += 1;
                println!("  ok ({:.1} s)", began.elapsed().as_secs_f64());
            }
            Outcome::Failed { error, firefox_logs } => {
                failed += 1;
                println!("  FAILED: {error}");
                println!("  Firefox's Sync logs:\n{firefox_logs}");
            }
        }
    }
    println!(
        "firefox scenarios: {passed} passed, {failed} failed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
