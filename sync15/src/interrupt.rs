//! Stopping long operations at safe points.
//!
//! A sync can take a while (100,000 history records); an app must be able to
//! stop it — on shutdown, or when the user signs out. Long loops call
//! [`Interruptee::err_if_interrupted`] between units of work that leave every
//! store consistent, and unwind with [`Interrupted`].

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

/// The error returned when an operation stopped because it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation was interrupted")]
pub struct Interrupted;

/// Something a long operation can ask "should I stop?".
pub trait Interruptee: Send + Sync {
    /// Whether a stop has been requested.
    fn was_interrupted(&self) -> bool;

    /// `Err(Interrupted)` if a stop has been requested.
    fn err_if_interrupted(&self) -> Result<(), Interrupted> {
        if self.was_interrupted() {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }
}

/// For operations that must run to the end.
#[derive(Debug, Default, Clone, Copy)]
pub struct NeverInterrupts;

impl Interruptee for NeverInterrupts {
    fn was_interrupted(&self) -> bool {
        false
    }
}

/// A shared stop signal: clone it, hand one copy to the operation, and call
/// [`InterruptHandle::interrupt`] on another from any thread.
///
/// As an [`Interruptee`] itself it is a flag that stays set until
/// [`InterruptHandle::reset`]. Operations that may start while another is
/// being stopped take a [`InterruptScope`] instead ([`InterruptHandle::scope`]
/// when they begin): it sees exactly the interrupts sent after it began, so
/// a stop meant for an earlier operation never stops a later one, and no
/// reset can swallow a stop meant for this one.
#[derive(Debug, Default, Clone)]
pub struct InterruptHandle(Arc<Signals>);

#[derive(Debug, Default)]
struct Signals {
    flag: AtomicBool,
    /// Interrupts sent so far.
    count: AtomicU64,
}

impl InterruptHandle {
    /// A handle that has not been interrupted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests a stop. Every clone, and every scope begun before, sees it.
    pub fn interrupt(&self) {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        self.0.flag.store(true, Ordering::SeqCst);
    }

    /// Clears the flag, so the handle can guard the next operation. Scopes
    /// are not affected.
    pub fn reset(&self) {
        self.0.flag.store(false, Ordering::SeqCst);
    }

    /// A scope for an operation beginning now: interrupted by every
    /// [`InterruptHandle::interrupt`] from now on, and by none before.
    pub fn scope(&self) -> InterruptScope {
        InterruptScope {
            signals: self.0.clone(),
            began_at: self.0.count.load(Ordering::SeqCst),
        }
    }
}

impl Interruptee for InterruptHandle {
    fn was_interrupted(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }
}

/// One operation's view of an [`InterruptHandle`]; see there.
#[derive(Debug, Clone)]
pub struct InterruptScope {
    signals: Arc<Signals>,
    began_at: u64,
}

impl Interruptee for InterruptScope {
    fn was_interrupted(&self) -> bool {
        self.signals.count.load(Ordering::SeqCst) != self.began_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_across_threads() {
        let handle = InterruptHandle::new();
        let worker = handle.clone();
        assert!(worker.err_if_interrupted().is_ok());
        std::thread::spawn(move || handle.interrupt()).join().unwrap();
        assert_eq!(worker.err_if_interrupted(), Err(Interrupted));
        worker.reset();
        assert!(!worker.was_interrupted());
        assert!(!NeverInterrupts.was_interrupted());
    }

    #[test]
    fn a_scope_sees_the_interrupts_after_it_began_and_no_reset_hides_them() {
        let handle = InterruptHandle::new();
        handle.interrupt();
        let later = handle.scope();
        assert!(!later.was_interrupted(), "a stop for an earlier operation");
        handle.interrupt();
        handle.reset();
        assert!(later.was_interrupted(), "reset does not swallow it");
        assert!(!handle.scope().was_interrupted());
    }
}
