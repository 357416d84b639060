//! The WAL checkpointer.

use std::sync::Arc;

use rusqlite::Connection;

use super::writer;

/// Keeps the WAL small under constant load, on a thread of its own.
///
/// Every 50 ms a PASSIVE checkpoint copies what it can into the database
/// without blocking anyone. That alone never bounds the WAL under constant
/// reads and writes: SQLite only starts the WAL over when a writer finds
/// it fully copied and no reader still on its frames, a moment constant
/// load never leaves. So once the WAL holds more than [`RESTART_AFTER`],
/// the checkpointer takes the writer's lock (no write runs), copies the
/// few frames written since its last pass, and waits — at most
/// [`RESTART_WAIT`] — for the readers still on older snapshots (requests
/// take milliseconds); the next write then starts the WAL from the
/// beginning. Writes wait for that pass only, never for a truncation: the
/// WAL stays under `journal_size_limit`, so there is nothing to truncate.
///
/// The bound is [`RESTART_AFTER`] plus what writes add in one interval,
/// plus an interval more when a pass finds a reader still on old frames:
/// measured with 50 writers on the write-heavy bench (~70,000 records/s),
/// the WAL peaked at 34–35 MiB (27 MiB with 10); building a database of
/// 10 million records (`cargo xtask bench server --scale`: eight uploaders,
/// ~50,000 records/s into a 9 GB file, where each pass copies pages spread
/// far apart) took it to 60 MiB, still under the 64 MiB
/// `journal_size_limit`. A short interval and a
/// small WAL also made writes faster (POST p99 at 50 writers 66–72 ms,
/// from 92 ms with a 200 ms interval and a 32 MiB threshold, whose WAL
/// peaked at 79 MiB): each pass holding the writer copies little.
pub(super) struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// WAL frames (pages, 4 KiB each) after which the WAL is started over: 16 MiB.
const RESTART_AFTER: i64 = 4096;

/// The longest the checkpointer waits, holding the writer, for readers on
/// older snapshots before it gives up until its next pass.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

impl Checkpointer {
    pub(super) fn start(conn: Connection, writer: Arc<writer::Writer>) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        if let Err(e) = conn.busy_timeout(RESTART_WAIT) {
            tracing::warn!(error = %e, "setting the checkpointer's busy timeout");
        }
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let checkpoint = |mode: &str| -> Option<(i64, i64, i64)> {
                    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(|e| tracing::warn!(error = %e, mode, "WAL checkpoint failed"))
                    .ok()
                };
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    // PASSIVE never blocks writers or readers; it copies what it can.
                    let Some((_, frames, _)) = checkpoint("PASSIVE") else {
                        continue;
                    };
                    if frames > RESTART_AFTER {
                        // No write runs while this does.
                        writer.exclusive(|_| {
                            let started = std::time::Instant::now();
                            if let Some((busy, frames, copied)) = checkpoint("RESTART") {
                                tracing::debug!(
                                    busy,
                                    frames,
                                    copied,
                                    micros = started.elapsed().as_micros() as u64,
                                    "WAL restart"
                                );
                            }
                        });
                    }
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
                {
                    tracing::debug!(error = %e, "final WAL checkpoint incomplete");
                }
            })
            .ok();
        Checkpointer {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
