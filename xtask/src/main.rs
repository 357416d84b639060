//! `cargo xtask`: the project's automation, in Rust so it runs wherever
//! cargo does.
//!
//! - `cargo xtask ci [--no-postgres] [--no-firefox]` — everything CI checks:
//!   formatting, clippy with warnings denied, the workspace tests (nextest
//!   when installed), the storage server's tests again on a throwaway
//!   PostgreSQL ([`postgres`]; installed if missing), the crate dependency
//!   rules (`cargo tree`), no import circles between a crate's files
//!   ([`imports`]), the scenarios — on the embedded server, then on a
//!   storage-only node behind a token-only server (`--split`) — and the
//!   scenarios with real Firefox ([`firefox`]; installed if missing).
//! - `cargo xtask firefox [--no-firefox] [filter]` — the real-Firefox scenarios.
//! - `cargo xtask circles` — the import-circle check alone.
//! - `cargo xtask demo` — the main job: two devices syncing through the embedded server.
//! - `cargo xtask scenarios [--split | --server URL --token-secret S |
//!   --storage-node URL --shared-secret S] [filter]` — multi-device scenarios.
//! - `cargo xtask bench [crypto|server|load|sustained|logins|history|bookmarks|contention]
//!   [--backend sqlite|postgres] [--scale]` — the benchmarks that print the numbers
//!   issues ask for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

mod binaries;
mod firefox;
mod imports;
mod postgres;
mod system;

#[derive(Parser)]
#[command(about = "Project automation for the Firefox Sync workspace")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every CI check: fmt, clippy (-D warnings), tests.
    Ci {
        /// Skip the server's tests on PostgreSQL (says so loudly).
        #[arg(long)]
        no_postgres: bool,
        /// Skip the scenarios with real Firefox (says so loudly).
        #[arg(long)]
        no_firefox: bool,
    },
    /// The main job: a real sync between two devices through the embedded server.
    Demo,
    /// Run the multi-device scenarios (also part of `ci`).
    Scenarios {
        /// Passed on: `--split`, `--server URL --token-secret SECRET`,
        /// `--storage-node URL --shared-secret SECRET`, a name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the scenarios with real Firefox (also part of `ci`); installs
    /// Debian's firefox-esr when missing.
    Firefox {
        /// Skip them (says so loudly).
        #[arg(long)]
        no_firefox: bool,
        /// Only the scenarios whose name contains this.
        filter: Option<String>,
    },
    /// Check that no source files of a crate import from each other in a
    /// circle (also part of `ci`).
    Circles,
    /// Run benchmarks and print their numbers.
    Bench {
        /// Which benchmark; all when omitted.
        which: Option<Bench>,
        /// `server` only: one backend (sqlite or postgres); both when omitted.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// `server` only: run the mixes against a kept database of
        /// 10,000 users' records (`BENCH_SCALE_USERS` to change), built on
        /// first use under target/bench-scale.
        #[arg(long)]
        scale: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, ValueEnum)]
enum Bench {
    /// sync15 record crypto: encrypt+HMAC and verify+decrypt of 1 KiB records.
    Crypto,
    /// The storage server on SQLite and on PostgreSQL side by side: read-
    /// and write-heavy mixes at 10 and 50 users, and a 100,000-record import.
    Server,
    /// The storage server (SQLite, in-process) under 50 concurrent users:
    /// a GET mix and 100-record batch POSTs.
    Load,
    /// The server binary under 50 users syncing back to back for 60 s:
    /// throughput, write latency, WAL size, disk writes, memory.
    Sustained,
    /// Passwords: first sync of 10,000 logins, incremental sync of 100.
    Logins,
    /// History: first sync of 100,000 pages, and their upload.
    History,
    /// Bookmarks: the merger on the seeded workload at 1k–100k items.
    Bookmarks,
    /// App calls (visits, bookmark searches and adds) during a first sync of
    /// 50,000 bookmarks and 20,000 history pages: the longest waits.
    Contention,
    /// The accounts service: a sign-in's server share (scrypt at Mozilla's
    /// cost) and an access token's verification at the token server.
    Accounts,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    std::env::set_current_dir(workspace_root()).context("changing to the workspace root")?;
    match cli.command {
        Cmd::Ci {
            no_postgres,
            no_firefox,
        } => ci(no_postgres, no_firefox),
        Cmd::Firefox { no_firefox, filter } => firefox_scenarios(no_firefox, filter.as_deref()),
        Cmd::Bench {
            which,
            backend,
            scale,
        } => bench(which, backend, scale),
        Cmd::Circles => import_circles(),
        Cmd::Demo => step(
            "demo",
            cargo(&[
                "run",
                "--release",
                "--quiet",
                "-p",
                "test-support",
                "--bin",
                "sync-demo",
            ]),
        ),
        Cmd::Scenarios { args } => scenarios(&args),
    }
}

fn workspace_root() -> std::path::PathBuf {
    // xtask lives one level below the workspace root.
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

fn ci(no_postgres: bool, no_firefox: bool) -> Result<()> {
    let started = Instant::now();
    step("format", cargo(&["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    if has_nextest() {
        step(
            "tests",
            cargo(&["nextest", "run", "--workspace", "--locked", "--no-fail-fast"]),
        )?;
        step("doc tests", cargo(&["test", "--workspace", "--locked", "--doc"]))?;
    } else {
        step(
            "tests",
            cargo(&["test", "--workspace", "--locked", "--no-fail-fast"]),
        )?;
    }
    if no_postgres {
        println!("\n==> WARNING: the storage server's tests were NOT run on PostgreSQL (--no-postgres)");
    } else {
        server_tests_on_postgres()?;
    }
    dependency_rules()?;
    import_circles()?;
    scenarios(&[])?;
    scenarios(&["--split".to_owned()])?;
    firefox_scenarios(no_firefox, None)?;
    println!("ci: all checks passed in {:.0?}", started.elapsed());
    if no_postgres {
        println!("ci: WARNING: PostgreSQL was skipped");
    }
    if no_firefox {
        println!("ci: WARNING: the real-Firefox scenarios were skipped");
    }
    Ok(())
}

/// The scenarios with real Firefox, after making sure there is one.
fn firefox_scenarios(no_firefox: bool, filter: Option<&str>) -> Result<()> {
    if no_firefox {
        println!("\n==> WARNING: the scenarios with real Firefox were NOT run (--no-firefox)");
        return Ok(());
    }
    let binary = firefox::installed()?;
    let programs = binaries::from_test_build()?;
    let mut cmd = Command::new(binaries::find(&programs, "firefox-scenarios")?);
    // The Send Tab scenario drives the firefox-sync binary too.
    cmd.env("FIREFOX_SYNC_BIN", binaries::find(&programs, "firefox-sync")?);
    cmd.env("FIREFOX", binary);
    if let Some(filter) = filter {
        cmd.arg(filter);
    }
    step("firefox scenarios", cmd)
}

/// The storage server's and the accounts service's test suites again, each
/// test on a schema of its own in a throwaway PostgreSQL cluster.
fn server_tests_on_postgres() -> Result<()> {
    let cluster =
        postgres::Cluster::start_for_tests().context("starting PostgreSQL for the server's tests")?;
    let mut cmd = if has_nextest() {
        // The workspace's build, filtered: with `-p` alone cargo resolves
        // features for one package and rebuilds what the first run built.
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
            "-E",
            "package(sync-storage) | package(sync-accounts)",
        ])
    } else {
        cargo(&[
            "test",
            "-p",
            "sync-storage",
            "-p",
            "sync-accounts",
            "--locked",
            "--no-fail-fast",
        ])
    };
    cmd.env("SYNC_TEST_POSTGRES", cluster.url());
    step("server and accounts tests on PostgreSQL", cmd)?;
    // Alone, as it stops the cluster every other test uses.
    let mut cmd = cargo(&[
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "-E",
        "package(sync-storage) & test(postgres_stopped_and_restarted)",
    ]);
    if !has_nextest() {
        cmd = cargo(&[
            "test",
            "-p",
            "sync-storage",
            "--locked",
            "--test",
            "it",
            "postgres_stopped_and_restarted",
        ]);
    }
    cmd.env("SYNC_TEST_POSTGRES", cluster.url())
        .env("SYNC_TEST_POSTGRES_STOP", cluster.control("stop"))
        .env("SYNC_TEST_POSTGRES_START", cluster.control("start"));
    step("PostgreSQL stopped and restarted under load", cmd)
}

const ENGINES: [&str; 5] = [
    "sync-clients",
    "sync-tabs",
    "sync-logins",
    "sync-history",
    "sync-bookmarks",
];

/// The crate boundaries of ARCHITECTURE.md, checked on the real dependency
/// graph: no engine pulls in another; the protocol layer and the server know
/// no engine and no manager; the passwords-only app links no other engine
/// (the clients engine comes with the manager, which owns it).
fn dependency_rules() -> Result<()> {
    println!("\n==> dependency rules");
    let started = Instant::now();
    let mut rules: Vec<(&str, Vec<&str>)> = ENGINES
        .iter()
        .map(|engine| (*engine, ENGINES.iter().copied().filter(|e| e != engine).collect()))
        .collect();
    let engines_and_manager: Vec<&str> = ENGINES.iter().copied().chain(["sync-manager"]).collect();
    rules.push(("sync15", engines_and_manager.clone()));
    rules.push(("sync-storage", engines_and_manager.clone()));
    rules.push(("sync-sql", vec!["sync15", "sync-manager"]));
    // Accounts sign-in is the app's to join with sync: neither side links the other.
    rules.push(("fxa-client", engines_and_manager.clone()));
    rules.push(("sync-manager", vec!["fxa-client"]));
    // The accounts service knows neither sync nor the storage server.
    let mut not_for_accounts = engines_and_manager.clone();
    not_for_accounts.push("sync-storage");
    rules.push(("sync-accounts", not_for_accounts));
    rules.push((
        "lockbox",
        vec!["sync-tabs", "sync-history", "sync-bookmarks", "test-support"],
    ));
    for (package, forbidden) in rules {
        let output = cargo(&[
            "tree", "--locked", "-p", package, "-e", "normal", "--prefix", "none",
        ])
        .output()
        .with_context(|| format!("running cargo tree for {package}"))?;
        if !output.status.success() {
            bail!(
                "cargo tree -p {package} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let tree = String::from_utf8_lossy(&output.stdout);
        let deps: std::collections::BTreeSet<&str> = tree
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        let broken: Vec<&&str> = forbidden.iter().filter(|f| deps.contains(**f)).collect();
        if !broken.is_empty() {
            bail!("{package} must not depend on {broken:?}");
        }
        println!("    {package}: none of {forbidden:?}");
    }
    println!("==> dependency rules: ok in {:.1?}", started.elapsed());
    Ok(())
}

/// No import circles between the files of a crate ([`imports`]).
fn import_circles() -> Result<()> {
    println!("\n==> import circles");
    let started = Instant::now();
    let circles = imports::circles(&workspace_root())?;
    if !circles.is_empty() {
        for circle in &circles {
            println!("    {circle}");
        }
        bail!(
            "{} import circle(s): move what two files share to the lower one, or to a `types.rs`",
            circles.len()
        );
    }
    println!("==> import circles: none, in {:.1?}", started.elapsed());
    Ok(())
}

fn scenarios(args: &[String]) -> Result<()> {
    let programs = binaries::from_test_build()?;
    let mut cmd = Command::new(binaries::find(&programs, "scenarios")?);
    cmd.args(args);
    step("scenarios", cmd)
}

fn bench(which: Option<Bench>, backend: Option<Backend>, scale: bool) -> Result<()> {
    let all = which.is_none();
    if all || matches!(which, Some(Bench::Crypto)) {
        step(
            "bench crypto",
            cargo(&["bench", "-p", "sync15", "--bench", "crypto"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Server)) {
        bench_server(backend, scale)?;
    }
    if all || matches!(which, Some(Bench::Load)) {
        step(
            "bench load",
            cargo(&["bench", "-p", "sync-storage", "--bench", "load"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Sustained)) {
        step(
            "bench sustained",
            cargo(&["bench", "-p", "sync-storage", "--bench", "sustained"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Logins)) {
        step(
            "bench logins",
            cargo(&["bench", "-p", "test-support", "--bench", "logins"]),
        )?;
    }
    if all || matches!(which, Some(Bench::History)) {
        step(
            "bench history",
            cargo(&["bench", "-p", "test-support", "--bench", "history"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Bookmarks)) {
        step(
            "bench bookmarks",
            cargo(&["bench", "-p", "test-support", "--bench", "bookmarks"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Contention)) {
        step(
            "bench contention",
            cargo(&["bench", "-p", "test-support", "--bench", "contention"]),
        )?;
    }
    if all || matches!(which, Some(Bench::Accounts)) {
        step(
            "bench accounts",
            cargo(&["bench", "-p", "sync-storage", "--bench", "accounts"]),
        )?;
    }
    Ok(())
}

/// The backends benchmark, with a throwaway PostgreSQL (PostgreSQL's
/// default durability) when PostgreSQL is asked for.
fn bench_server(backend: Option<Backend>, scale: bool) -> Result<()> {
    let mut cmd = cargo(&["bench", "-p", "sync-storage", "--bench", "backends"]);
    let kept = workspace_root().join("target").join("bench-scale");
    if scale {
        let users = std::env::var("BENCH_SCALE_USERS").unwrap_or_else(|_| "10000".into());
        cmd.env("BENCH_SCALE_USERS", users);
        cmd.env("BENCH_SCALE_DIR", kept.join("sqlite"));
    }
    let _cluster = match backend {
        Some(Backend::Sqlite) => {
            cmd.env("BENCH_BACKENDS", "sqlite");
            None
        }
        _ => {
            let cluster = if scale {
                postgres::Cluster::start_kept(kept.join("postgres"))
            } else {
                postgres::Cluster::start_durable()
            }
            .context("starting PostgreSQL for the benchmark")?;
            cmd.env("BENCH_POSTGRES_URL", cluster.url());
            cmd.env(
                "BENCH_BACKENDS",
                if backend == Some(Backend::Postgres) {
                    "postgres"
                } else {
                    "sqlite,postgres"
                },
            );
            Some(cluster)
        }
    };
    step("bench server", cmd)
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args);
    cmd
}

fn has_nextest() -> bool {
    cargo(&["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs one step, streaming its output; fails the whole command if it fails.
fn step(name: &str, mut cmd: Command) -> Result<()> {
    println!("\n==> {name}: {cmd:?}");
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    println!("==> {name}: ok in {:.1?}", started.elapsed());
    Ok(())
}
