//! The one writer connection, with group commit.
//!
//! SQLite has one writer at a time, so every write request queues for it.
//! What each commit costs is mostly writing its dirty pages to the WAL —
//! and concurrent writes dirty many of the same pages (the index and
//! `user_collections` pages, the b-tree interiors). So while requests are
//! waiting, the writer keeps its transaction open and lets them join: each
//! runs its work in a savepoint of the open transaction (a failure rolls
//! back only its own savepoint), and the last in line commits for all.
//! Every request answers only after the commit that holds its write, so an
//! acknowledged write is as durable as before; a failed commit fails every
//! request in the group.
//!
//! A group stays open at most [`MAX_MEMBERS`] writes or [`MAX_OPEN`], so no
//! write waits long for others'.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use rusqlite::Connection;

use crate::db::DbError;

/// Most writes one commit carries. Larger groups commit less often and
/// spend less CPU per write, which is what a write waits on under load:
/// on the write-heavy mix at 50 users (`cargo xtask bench server`,
/// interleaved runs) 64 members and 20 ms gave POST p99 70–86 ms against
/// 84–99 ms with 32 and 10 ms, and 16 and 4 ms was worse than both
/// (100–119 ms). A group only forms while writes are waiting, so a write
/// that comes alone still commits at once.
const MAX_MEMBERS: usize = 64;

/// Longest a group stays open for more writes to join (see `MAX_MEMBERS`).
const MAX_OPEN: Duration = Duration::from_millis(20);

/// The writer connection and its groups.
pub(crate) struct Writer {
    state: Mutex<State>,
    /// Requests waiting for the lock: while there are some, a group stays open.
    waiting: AtomicUsize,
}

struct State {
    conn: Connection,
    open: Option<Group>,
    /// Groups begun so far.
    groups: u64,
}

/// How a group's commit went, for its members to wait on — apart from the
/// writer's lock, so waking them does not hold up the next writes.
#[derive(Default)]
struct Done {
    outcome: Mutex<Option<Result<(), String>>>,
    finished: Condvar,
}

impl Done {
    fn set(&self, outcome: Result<(), String>) {
        *self.outcome.lock() = Some(outcome);
        self.finished.notify_all();
    }

    fn wait(&self) -> Result<(), DbError> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(result) = outcome.as_ref() {
                return result.clone().map_err(DbError::CommitFailed);
            }
            self.finished.wait(&mut outcome);
        }
    }
}

/// How a write's work went.
enum Ran<T> {
    Done(Result<T, DbError>),
    Panicked(Box<dyn std::any::Any + Send>),
}

struct Group {
    members: usize,
    began: Instant,
    done: Arc<Done>,
}

impl State {
    /// Commits the open group (if any) and tells its members how it went.
    fn finish_group(&mut self) {
        let Some(group) = self.open.take() else {
            return;
        };
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => group.done.set(Ok(())),
            Err(e) => {
                tracing::error!(error = %e, members = group.members, "a group commit failed");
                let _ = self.conn.execute_batch("ROLLBACK");
                group.done.set(Err(e.to_string()));
            }
        }
    }
}

impl Writer {
    /// Wraps the writer connection.
    pub(crate) fn new(conn: Connection) -> Self {
        Writer {
            state: Mutex::new(State {
                conn,
                open: None,
                groups: 0,
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        state
    }

    /// Runs `f` as one atomic write; returns once it is committed. On
    /// `Err`, nothing `f` did is kept.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut state = self.lock();
        let done = match &state.open {
            Some(group) => group.done.clone(),
            None => {
                state.conn.execute_batch("BEGIN IMMEDIATE")?;
                state.groups += 1;
                let done = Arc::new(Done::default());
                state.open = Some(Group {
                    members: 0,
                    began: Instant::now(),
                    done: done.clone(),
                });
                done
            }
        };
        let ran = {
            let savepoint = state.conn.savepoint()?;
            match catch_unwind(AssertUnwindSafe(|| f(&savepoint))) {
                Ok(Ok(value)) => match savepoint.commit() {
                    Ok(()) => Ran::Done(Ok(value)),
                    Err(e) => Ran::Done(Err(e.into())),
                },
                // Dropping the savepoint rolls it back.
                Ok(Err(e)) => Ran::Done(Err(e)),
                Err(panic) => {
                    drop(savepoint);
                    Ran::Panicked(panic)
                }
            }
        };
        if state.conn.is_autocommit() {
            // SQLite rolled the whole transaction back (a disk or memory
            // error): the group's earlier writes are gone too.
            state.open = None;
            done.set(Err("the transaction was rolled back".into()));
            return match ran {
                Ran::Done(Err(e)) => Err(e),
                Ran::Done(Ok(_)) => Err(DbError::CommitFailed("the transaction was rolled back".into())),
                Ran::Panicked(panic) => {
                    drop(state);
                    resume_unwind(panic)
                }
            };
        }
        let result = match ran {
            Ran::Done(result) => result,
            Ran::Panicked(panic) => {
                self.close_or_leave_open(&mut state);
                drop(state);
                resume_unwind(panic);
            }
        };
        if result.is_ok() {
            if let Some(open) = state.open.as_mut() {
                open.members += 1;
            }
        }
        self.close_or_leave_open(&mut state);
        let value = result?;
        drop(state);
        done.wait().map(|()| value)
    }

    /// Commits the open group unless writes are waiting to join it (and it
    /// has room and time left).
    fn close_or_leave_open(&self, state: &mut State) {
        let Some(open) = &state.open else {
            return;
        };
        let join = self.waiting.load(Ordering::SeqCst) > 0
            && open.members < MAX_MEMBERS
            && open.began.elapsed() < MAX_OPEN;
        if !join {
            state.finish_group();
        }
    }

    /// Runs `f` on the connection with no transaction open and no write
    /// running (committing any open group first): checkpoints, heartbeats.
    pub(crate) fn exclusive<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let mut state = self.lock();
        state.finish_group();
        f(&state.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = sync_sql::open(dir.path().join("w.db"), &sync_sql::OpenOptions::default()).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        (dir, Arc::new(Writer::new(conn)))
    }

    fn count(w: &Writer) -> i64 {
        w.exclusive(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap())
    }

    #[test]
    fn concurrent_writes_share_commits_and_each_failure_stays_its_own() {
        let (_dir, w) = writer();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let n = t * 1000 + i;
                        let r = w.write(|c| {
                            c.execute("INSERT INTO t (n) VALUES (?)", [n])?;
                            if n % 10 == 0 {
                                // Fails after writing: the insert must not stay.
                                return Err(DbError::NotFound);
                            }
                            Ok(n)
                        });
                        assert_eq!(r.is_ok(), n % 10 != 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(count(&w), 16 * 180);
        let groups = w.state.lock().groups;
        assert!(groups < 16 * 200, "{groups} commits for {} writes", 16 * 200);
    }

    #[test]
    fn a_write_that_panics_leaves_the_others_alone() {
        let (_dir, w) = writer();
        w.write(|c| Ok(c.execute("INSERT INTO t (n) VALUES (1)", [])?))
            .unwrap();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            w.write(|c| -> Result<(), DbError> {
                c.execute("INSERT INTO t (n) VALUES (2)", [])?;
                panic!("a bug");
            })
        }));
        assert!(panicked.is_err());
        w.write(|c| Ok(c.execute("INSERT INTO t (n) VALUES (3)", [])?))
            .unwrap();
        assert_eq!(count(&w), 2);
    }
}
