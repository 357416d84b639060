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

/// The processes of the cluster a run's database lives in: its postmaster
/// and the postmaster's children. Only these are counted — another cluster
/// on the machine (a test's, a developer's) that starts or stops during a
/// window would otherwise add its CPU to the run's, or take its own away
/// (one run printed -1.10 CPU-s per 1,000 requests for PostgreSQL).
pub struct Cluster {
    postmaster: u32,
}

impl Cluster {
    /// The cluster serving `url`: the parent of a connection's backend.
    pub fn of(url: &str) -> Option<Cluster> {
        let mut client = postgres::Client::connect(url, postgres::NoTls).ok()?;
        let backend: i32 = client.query_one("SELECT pg_backend_pid()", &[]).ok()?.get(0);
        // Field 4 of /proc/<pid>/stat, index 1 after the command name: the parent.
        let postmaster = stat_ticks(u32::try_from(backend).ok()?)(1) as u32;
        (postmaster > 1).then_some(Cluster { postmaster })
    }

    /// CPU seconds of the postmaster and its children, with those of the
    /// connections that have closed (the postmaster's exited children): a
    /// window's difference is what PostgreSQL spent in it, connections
    /// opened and closed during it (the server's vacuum) included.
    ///
    /// A connection that ends while `/proc` is being read could be counted
    /// twice or not at all (alive when read, or reaped into the
    /// postmaster's totals after the postmaster was read). So a reading
    /// counts only if the postmaster reaped no child while it was taken;
    /// otherwise it is taken again.
    pub fn cpu_seconds(&self) -> f64 {
        let mut total = 0.0;
        for _ in 0..50 {
            let reaped_before = self.reaped_ticks();
            total = self.processes().into_iter().map(own_and_reaped_seconds).sum();
            if self.reaped_ticks() == reaped_before {
                break;
            }
        }
        total
    }

    /// The proportional set size of the cluster's processes, so shared
    /// buffers count once.
    pub fn pss_mib(&self) -> f64 {
        let kib: u64 = self
            .processes()
            .into_iter()
            .map(|pid| proc_field(pid, "smaps_rollup", "Pss:"))
            .sum();
        kib as f64 / 1024.0
    }

    fn processes(&self) -> Vec<u32> {
        let children = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter(|&pid| stat_ticks(pid)(1) as u32 == self.postmaster);
        std::iter::once(self.postmaster).chain(children).collect()
    }

    /// What the postmaster's exited children used (in ticks): it moves
    /// exactly when the postmaster reaps a connection.
    fn reaped_ticks(&self) -> f64 {
        let ticks = stat_ticks(self.postmaster);
        ticks(13) + ticks(14)
    }
}

/// CPU seconds of `pid` and of its children that have exited (fields 14–17
/// of `/proc/<pid>/stat`: utime, stime, cutime, cstime; 100 ticks a second).
fn own_and_reaped_seconds(pid: u32) -> f64 {
    let ticks = stat_ticks(pid);
    (ticks(11) + ticks(12) + ticks(13) + ticks(14)) / 100.0
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
