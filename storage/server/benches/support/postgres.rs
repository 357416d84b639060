//! PostgreSQL's side of a benchmark run: the CPU and memory of its
//! processes, and what pg_stat_statements counted.

use super::{proc_field, stat_ticks};

/// What pg_stat_statements counted during a run.
#[derive(Default)]
pub struct Statements {
    pub calls: i64,
    pub rows: i64,
    pub dirtied: i64,
    /// The most called: (calls, rows, blocks dirtied, the query's start).
    pub top: Vec<(i64, i64, i64, String)>,
}

/// Every `postgres` process's CPU seconds, summed, with those of the
/// connections that have closed (the postmaster's exited children): a
/// run's difference is what PostgreSQL spent in it, connections opened and
/// closed during it (the server's vacuum) included.
///
/// A connection that ends while `/proc` is being read could be counted
/// twice or not at all (alive when read, or reaped into its postmaster's
/// totals after the postmaster was read): one run printed -1.00 CPU-s per
/// 1,000 requests for PostgreSQL. So a reading counts only if no
/// postmaster reaped a child while it was taken; otherwise it is taken
/// again.
pub fn postgres_cpu_seconds() -> f64 {
    let mut total = 0.0;
    for _ in 0..50 {
        let processes = postgres_processes();
        let reaped_before = reaped_ticks(&processes);
        total = processes.iter().map(|&pid| own_and_reaped_seconds(pid)).sum();
        if reaped_ticks(&processes) == reaped_before {
            break;
        }
    }
    total
}

fn postgres_processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .collect()
}

/// CPU seconds of `pid` and of its children that have exited (fields 14–17
/// of `/proc/<pid>/stat`: utime, stime, cutime, cstime; 100 ticks a second).
fn own_and_reaped_seconds(pid: u32) -> f64 {
    let ticks = stat_ticks(pid);
    (ticks(11) + ticks(12) + ticks(13) + ticks(14)) / 100.0
}

/// What the processes' exited children used, summed (in ticks): it moves
/// exactly when a postmaster reaps a connection.
fn reaped_ticks(processes: &[u32]) -> f64 {
    processes
        .iter()
        .map(|&pid| {
            let ticks = stat_ticks(pid);
            ticks(13) + ticks(14)
        })
        .sum()
}

/// Resets pg_stat_statements (creating the extension); false when it is not
/// loaded (`shared_preload_libraries`), which `cargo xtask bench server` does.
pub fn reset_statements(url: &str) -> bool {
    let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) else {
        return false;
    };
    client
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();",
        )
        .is_ok()
}

pub fn read_statements(url: &str) -> Option<Statements> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).ok()?;
    let rows = client
        .query(
            "SELECT calls, rows, shared_blks_dirtied, query FROM pg_stat_statements
             WHERE query NOT ILIKE '%pg_stat_statements%' AND dbid = (SELECT oid FROM pg_database
                 WHERE datname = current_database())
             ORDER BY calls DESC",
            &[],
        )
        .ok()?;
    let mut stats = Statements::default();
    for row in &rows {
        let (calls, count, dirtied): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        stats.calls += calls;
        stats.rows += count;
        stats.dirtied += dirtied;
        if stats.top.len() < 12 {
            let query: String = row.get(3);
            let short: String = query
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(90)
                .collect();
            stats.top.push((calls, count, dirtied, short));
        }
    }
    Some(stats)
}

/// PostgreSQL's memory: the proportional set size of every `postgres`
/// process, so shared buffers count once.
pub fn postgres_pss_mib() -> f64 {
    let mut kib = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            kib += proc_field(pid, "smaps_rollup", "Pss:");
        }
    }
    kib as f64 / 1024.0
}
