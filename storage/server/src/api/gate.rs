//! Requests take their turn at the database in the order they came.
//!
//! On PostgreSQL a request's database work needs one of the pool's
//! connections. Without a gate, every request over the pool's size takes a
//! blocking thread and waits on the pool's lock, where the next connection
//! goes to whichever thread wakes first: measured at 50 users on 16
//! connections (`cargo xtask bench server`'s read mix, three interleaved
//! rounds), GET p99 was 34–42 ms and the slowest read 320–400 ms, against
//! 19–22 ms and 44–74 ms (once 548) when the requests queue here first,
//! first come first served (tokio's semaphore is fair), and only as many
//! as there are connections go on to a blocking thread. A request whose
//! client goes away while it waits leaves the queue without having used a
//! thread or a connection.
//!
//! SQLite has no gate: its writes wait inside the database to good effect
//! (a group commits together), and its readers are not the bottleneck.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `limit` requests at the database, the rest queued in order.
#[derive(Debug)]
pub(crate) struct DbGate {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// Counts a request as waiting for as long as it lives (it is dropped
/// once the request has its turn, or when the request is given up).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl DbGate {
    /// A gate for `limit` connections; `None` (no gate) without a limit.
    pub(crate) fn for_limit(limit: Option<u32>) -> Option<DbGate> {
        limit.map(|limit| DbGate {
            permits: Arc::new(Semaphore::new(limit.max(1) as usize)),
            waiting: AtomicUsize::new(0),
        })
    }

    /// Waits for this request's turn; the turn lasts as long as the permit.
    /// (`None` only were the semaphore closed, which it never is: the
    /// request would then go on ungated rather than fail.)
    pub(crate) async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Requests waiting for their turn now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}
