//! Mail the accounts service sends, caught for tests: the codes people
//! would read in their inbox.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use sync_accounts::{AccountsError, Mail, MailTransport};

/// Every message sent, oldest first.
#[derive(Default)]
pub struct Outbox {
    messages: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("messages", &self.messages.lock().len())
            .finish()
    }
}

impl MailTransport for Outbox {
    fn send(&self, mail: &Mail) -> Result<(), AccountsError> {
        self.messages.lock().push(mail.clone());
        self.arrived.notify_all();
        Ok(())
    }
}

impl Outbox {
    /// How many messages went out so far.
    pub fn count(&self) -> usize {
        self.messages.lock().len()
    }

    /// Every message to `to` (case-insensitive), oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.messages
            .lock()
            .iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .cloned()
            .collect()
    }

    /// The code of the newest message to `to`, if one carried a code.
    pub fn last_code(&self, to: &str) -> Option<String> {
        self.to(to).into_iter().rev().find_map(|m| m.code)
    }

    /// Waits (up to `timeout`) for a message with a code to `to` beyond the
    /// first `seen` messages; its code.
    pub fn wait_for_code(&self, to: &str, seen: usize, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut messages = self.messages.lock();
        loop {
            if let Some(code) = messages
                .iter()
                .skip(seen)
                .rev()
                .find(|m| m.to.eq_ignore_ascii_case(to))
                .and_then(|m| m.code.clone())
            {
                return Some(code);
            }
            if self.arrived.wait_until(&mut messages, deadline).timed_out() {
                return None;
            }
        }
    }
}
