//! A throwaway PostgreSQL server for the storage server's tests and
//! benchmarks: a fresh cluster in a temporary directory, listening on
//! 127.0.0.1 only on a free port, stopped and deleted when dropped.
//!
//! On a machine without PostgreSQL, Debian's `postgresql` package is
//! installed first when that can be done here (root and `apt-get`); else
//! the error says what to install. PostgreSQL refuses to run as root, so as
//! root the cluster belongs to the `postgres` user the package creates.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::system::{apt_install, is_root, run};

/// A running cluster; stopped and deleted on drop.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    /// The server options it was started with, to start it again the same way.
    options: String,
    /// Left on disk when stopped (a benchmark's kept database).
    kept: bool,
}

impl Cluster {
    /// Starts a cluster for tests: durability off (`fsync`), which a
    /// throwaway cluster never needs, and room for many test servers'
    /// connection pools.
    pub fn start_for_tests() -> Result<Cluster> {
        Cluster::start(&["-c", "fsync=off", "-c", "full_page_writes=off"])
    }

    /// Starts a cluster with PostgreSQL's default durability, for benchmarks,
    /// counting every statement (`pg_stat_statements`: what a request costs).
    pub fn start_durable() -> Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("sync-xtask-pg-{}", std::process::id()));
        Cluster::start_in(dir, false, &["-c", "shared_preload_libraries=pg_stat_statements"])
    }

    /// A durable cluster as [`Cluster::start_durable`], in `dir`, kept there
    /// when stopped and started again from it next time (the scale
    /// benchmark's database of millions of records).
    pub fn start_kept(dir: PathBuf) -> Result<Cluster> {
        Cluster::start_in(dir, true, &["-c", "shared_preload_libraries=pg_stat_statements"])
    }

    fn start(settings: &[&str]) -> Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("sync-xtask-pg-{}", std::process::id()));
        Cluster::start_in(dir, false, settings)
    }

    fn start_in(dir: PathBuf, kept: bool, settings: &[&str]) -> Result<Cluster> {
        let bin = installed()?;
        let as_postgres = is_root()?;
        let reuse = kept && dir.join("data").join("PG_VERSION").exists();
        if dir.exists() && !reuse {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let mut cluster = Cluster {
            dir,
            bin,
            as_postgres,
            port,
            options: String::new(),
            kept,
        };
        if as_postgres {
            run(Command::new("chown").arg("-R").arg("postgres").arg(&cluster.dir))?;
        }
        let data = cluster.dir.join("data");
        if !reuse {
            run(cluster.tool("initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-instructions",
                "-E",
                "UTF8",
            ]))?;
        }
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=400",
            cluster.dir.display()
        );
        for setting in settings {
            options.push(' ');
            options.push_str(setting);
        }
        cluster.options = options;
        run(&mut cluster.pg_ctl("start")).inspect_err(|_| cluster.print_log())?;
        Ok(cluster)
    }

    /// Its `postgres` database, as the superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl <action>` for this cluster, waiting until it is done.
    fn pg_ctl(&self, action: &str) -> Command {
        let mut cmd = self.tool("pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "-m", "fast", "-o", &self.options, action]);
        cmd
    }

    /// A shell command that stops (`action` = "stop") or starts the cluster,
    /// for a test that takes PostgreSQL away under load.
    pub fn control(&self, action: &str) -> String {
        let cmd = self.pg_ctl(action);
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|part| format!("'{}'", part.to_string_lossy().replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn print_log(&self) {
        if let Ok(log) = std::fs::read_to_string(self.dir.join("log")) {
            eprintln!("PostgreSQL's log:\n{log}");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = self.pg_ctl("stop").output();
        if !stopped.is_ok_and(|o| o.status.success()) {
            eprintln!("warning: the test PostgreSQL server did not stop cleanly");
        }
        if !self.kept {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The directory of PostgreSQL's server programs, installing them if
/// missing and this machine allows it.
fn installed() -> Result<PathBuf> {
    if let Some(bin) = find_bin() {
        return Ok(bin);
    }
    if apt_install("postgresql", "for the server's tests")? {
        if let Some(bin) = find_bin() {
            return Ok(bin);
        }
    }
    bail!(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found: the storage server's tests \
         run on PostgreSQL too. Install them (Debian: apt-get install postgresql), or set PG_BIN \
         to their directory, or run `cargo xtask ci --no-postgres` to skip them knowingly"
    )
}

/// `PG_BIN`, the newest `/usr/lib/postgresql/<version>/bin`, or `initdb` on the PATH.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
