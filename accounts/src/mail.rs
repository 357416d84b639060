//! The mail the service sends (confirmation codes, unblock codes, reset
//! codes, notices) and how it leaves: into the log, through SMTP, into an
//! in-memory [`Outbox`], or through a transport the embedding application
//! provides.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::AccountsError;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient.
    pub to: String,
    /// The sender (`email.from`).
    pub from: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The code the message carries, if any.
    pub code: Option<String>,
}

/// Delivers mail.
pub trait MailTransport: Send + Sync {
    /// Sends `mail`, or says why not.
    fn send(&self, mail: &Mail) -> Result<(), AccountsError>;
}

/// Mail kept in memory instead of sent, oldest first: for an application
/// that shows codes itself, and for tests that read the codes a person
/// would.
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

/// What each message says.
pub(crate) mod messages {
    use super::Mail;

    fn mail(from: &str, to: &str, subject: &str, text: String, code: Option<&str>) -> Mail {
        Mail {
            to: to.to_owned(),
            from: from.to_owned(),
            subject: subject.to_owned(),
            text,
            code: code.map(str::to_owned),
        }
    }

    /// The code that confirms a new account's address.
    pub fn confirm_account(from: &str, to: &str, code: &str) -> Mail {
        mail(
            from,
            to,
            &format!("Confirm your account: {code}"),
            format!(
                "Your confirmation code is {code}\n\n\
                 Enter it where you signed up to finish creating your account.\n\
                 It expires in 15 minutes. If you did not sign up, ignore this message.\n"
            ),
            Some(code),
        )
    }

    /// The code that confirms a sign-in.
    pub fn confirm_sign_in(from: &str, to: &str, code: &str, device: &str) -> Mail {
        mail(
            from,
            to,
            &format!("Sign-in code: {code}"),
            format!(
                "Someone is signing in to your account ({device}).\n\n\
                 If it is you, enter this code: {code}\n\
                 It expires in 15 minutes. If it is not you, change your password.\n"
            ),
            Some(code),
        )
    }

    /// An unblock code for a sign-in held back as suspicious.
    pub fn unblock(from: &str, to: &str, code: &str) -> Mail {
        mail(
            from,
            to,
            &format!("Your authorization code: {code}"),
            format!(
                "A sign-in to your account was held back after too many attempts.\n\n\
                 If it is you, enter this code to continue: {code}\n\
                 It expires in an hour.\n"
            ),
            Some(code),
        )
    }

    /// The code that starts a password reset.
    pub fn reset_password(from: &str, to: &str, code: &str) -> Mail {
        mail(
            from,
            to,
            &format!("Reset your password: {code}"),
            format!(
                "Someone asked to reset your account's password.\n\n\
                 If it is you, enter this code: {code}\n\
                 It expires in 15 minutes. Resetting the password starts your\n\
                 synced data over from what your devices still hold.\n"
            ),
            Some(code),
        )
    }

    /// A notice after the password changed or was reset.
    pub fn password_changed(from: &str, to: &str, reset: bool) -> Mail {
        let what = if reset { "reset" } else { "changed" };
        mail(
            from,
            to,
            &format!("Your password was {what}"),
            format!(
                "Your account's password was {what}, and every other device was signed out.\n\
                 If you did not do this, reset your password now.\n"
            ),
            None,
        )
    }

    /// A notice after a new device signed in.
    pub fn new_sign_in(from: &str, to: &str, device: &str) -> Mail {
        mail(
            from,
            to,
            "New sign-in to your account",
            format!(
                "A new device signed in to your account: {device}.\nIf it was not you, change your password.\n"
            ),
            None,
        )
    }
}
