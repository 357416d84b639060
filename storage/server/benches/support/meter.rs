//! What a benchmark run cost, measured over exactly the window whose
//! requests it counts.

use std::time::Instant;

use super::cpu_seconds;
use super::postgres::{Cluster, Statements, read_statements, reset_statements};

/// What a run cost the server and PostgreSQL, measured over exactly the
/// window whose requests are counted: not the warm-up before it, nor the
/// seeding and the read-back of acknowledged writes around it.
pub struct Cost {
    pub cpu_server: f64,
    /// PostgreSQL's CPU seconds, or why they could not be measured.
    pub cpu_postgres: Option<Result<f64, &'static str>>,
    /// PostgreSQL: what the window's statements did (pg_stat_statements).
    pub statements: Option<Statements>,
}

/// Where a run's [`Cost`] is read from: the server's process and, on
/// PostgreSQL, its processes and pg_stat_statements at `url`.
pub struct Meter {
    pub server_pid: u32,
    pub postgres_url: Option<String>,
}

impl Meter {
    /// Measures from `from` to `until` on a thread of its own.
    pub fn window(self, from: Instant, until: Instant) -> std::thread::JoinHandle<Cost> {
        std::thread::spawn(move || {
            std::thread::sleep(from.saturating_duration_since(Instant::now()));
            let counting = self.postgres_url.as_deref().is_some_and(reset_statements);
            let server_before = cpu_seconds(self.server_pid);
            // Off PostgreSQL `None`; on it, the cluster and its CPU so far.
            let postgres_before = self
                .postgres_url
                .as_deref()
                .map(|url| -> Result<_, &'static str> {
                    let cluster = Cluster::of(url).ok_or("its processes could not be found")?;
                    let before = cluster.cpu_seconds();
                    Ok((cluster, before))
                });
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            let cpu_server = cpu_seconds(self.server_pid) - server_before;
            let cpu_postgres = postgres_before.map(|found| {
                let (cluster, before) = found?;
                let spent = cluster.cpu_seconds() - before;
                // A total of ticks only grows; less at the end means a
                // process was missed, and no number is better than a wrong one.
                if spent < 0.0 {
                    Err("the reading went backwards")
                } else {
                    Ok(spent)
                }
            });
            let statements = match &self.postgres_url {
                Some(url) if counting => read_statements(url),
                _ => None,
            };
            Cost {
                cpu_server,
                cpu_postgres,
                statements,
            }
        })
    }
}
