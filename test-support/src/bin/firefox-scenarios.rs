//! Runs the real-Firefox scenarios: `cargo xtask firefox [NAME-FILTER]`.
//!
//! Exit codes: 0 every scenario passed; 1 one failed (its step, Firefox's
//! Sync logs and the error are printed); 3 no Firefox to run.
#![allow(clippy::print_stdout)]

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use test_support::firefox::Firefox;
use test_support::firefox::scenarios::{self, Outcome};

/// The server's log lines (its requests), the last few hundred, for a
/// failure report.
#[derive(Clone, Default)]
struct RequestLog(Arc<Mutex<VecDeque<String>>>);

const KEPT_LINES: usize = 300;

impl RequestLog {
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut l| l.drain(..).collect())
            .unwrap_or_default()
    }
}

impl std::io::Write for RequestLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            for line in String::from_utf8_lossy(buf).lines() {
                if lines.len() == KEPT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line.to_owned());
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> ExitCode {
    let requests = RequestLog::default();
    let writer = requests.clone();
    tracing_subscriber::fmt()
        .with_env_filter("sync_storage=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
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
        requests.take();
        match scenarios::run(&scenario, &mut |line| println!("{line}")) {
            Outcome::Passed => {
                passed += 1;
                println!("  ok ({:.1} s)", began.elapsed().as_secs_f64());
            }
            Outcome::Failed { error, firefox_logs } => {
                failed += 1;
                println!("  FAILED: {error}");
                println!("  Firefox's Sync logs:\n{firefox_logs}");
                println!("  The server's last requests:");
                for line in requests.take() {
                    println!("    {line}");
                }
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
