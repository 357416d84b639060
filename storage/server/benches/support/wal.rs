//! SQLite's WAL file during a run: its size sampled until the run ends,
//! for the peak the checkpointer allowed (`checkpoint.rs` states the bound).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Samples the size of a SQLite database's WAL file every 20 ms until
/// [`WalSampler::peak_mib`] stops it.
pub struct WalSampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl WalSampler {
    /// Starts sampling the WAL of the database file `database`.
    pub fn start(database: &Path) -> WalSampler {
        let wal = format!("{}-wal", database.display());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopped.load(Ordering::Relaxed) {
                peak = peak.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        WalSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; the largest size seen, in MiB.
    pub fn peak_mib(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap_or(0)) as f64 / (1024.0 * 1024.0)
    }
}
