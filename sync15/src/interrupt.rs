//! Stopping long operations at safe points.
//!
//! A sync can take a while (100,000 history records); an app must be able to
//! stop it — on shutdown, or when the user signs out. Long loops call
//! [`Interruptee::err_if_interrupted`] between units of work that leave every
//! store consistent, and unwind with [`Interrupted`].

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
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

/// A shared stop flag: clone it, hand one copy to the operation, and call
/// [`InterruptHandle::interrupt`] on another from any thread.
#[derive(Debug, Default, Clone)]
pub struct InterruptHandle(Arc<AtomicBool>);

impl InterruptHandle {
    /// A handle that has not been interrupted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests a stop. Every clone sees it.
    pub fn interrupt(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Clears the request, so the handle can guard the next operation.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Interruptee for InterruptHandle {
    fn was_interrupted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
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
}
