//! [`SqlInterruptHandle`]: stop a running query from another thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::Connection;

use crate::SqlError;

/// Interrupts the statements of one connection. Cheap to clone; send a clone
/// to whichever thread may need to stop the work (an app shutting down, a
/// sync being cancelled).
///
/// [`SqlInterruptHandle::interrupt`] both aborts the statement SQLite is
/// running now and raises a flag that long Rust loops check with
/// [`SqlInterruptHandle::err_if_interrupted`] between statements.
#[derive(Clone)]
pub struct SqlInterruptHandle {
    sqlite: Arc<rusqlite::InterruptHandle>,
    flag: Arc<AtomicBool>,
}

impl std::fmt::Debug for SqlInterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlInterruptHandle")
            .field("interrupted", &self.was_interrupted())
            .finish()
    }
}

impl SqlInterruptHandle {
    /// A handle for `conn`'s statements.
    pub fn new(conn: &Connection) -> Self {
        SqlInterruptHandle {
            sqlite: Arc::new(conn.get_interrupt_handle()),
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stops the running statement (it fails with "interrupted") and marks
    /// the handle interrupted until [`SqlInterruptHandle::reset`].
    pub fn interrupt(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.sqlite.interrupt();
    }

    /// Clears the flag so the connection can be used for new work.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Whether [`SqlInterruptHandle::interrupt`] was called since the last reset.
    pub fn was_interrupted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// `Err(SqlError::Interrupted)` if interrupted.
    pub fn err_if_interrupted(&self) -> Result<(), SqlError> {
        if self.was_interrupted() {
            Err(SqlError::Interrupted)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn interrupts_a_long_query_from_another_thread() {
        let conn = crate::open_in_memory().unwrap();
        let handle = SqlInterruptHandle::new(&conn);
        let remote = handle.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            remote.interrupt();
        });
        // An endless recursive query: only an interrupt ends it.
        let result: rusqlite::Result<i64> = conn.query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c",
            [],
            |r| r.get(0),
        );
        stopper.join().unwrap();
        let err = result.unwrap_err();
        assert!(crate::is_interrupted(&err), "{err:?}");
        assert!(matches!(handle.err_if_interrupted(), Err(SqlError::Interrupted)));
        handle.reset();
        assert!(handle.err_if_interrupted().is_ok());
        // The connection is usable again.
        let one: i64 = conn.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1);
    }
}
