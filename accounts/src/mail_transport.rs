//! How mail leaves: into the log, or through an SMTP server (lettre,
//! rustls): `smtps://` for TLS from the first byte (port 465),
//! `smtp://…?tls=required` for STARTTLS (587), plain `smtp://` only for a
//! relay on the same machine.

use std::sync::Arc;

use lettre::Transport as _;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::SmtpTransport as Lettre;

use crate::config::{EmailConfig, EmailMode};
use crate::error::AccountsError;
use crate::mail::{Mail, MailTransport};

pub(crate) struct SmtpTransport {
    transport: Lettre,
}

impl SmtpTransport {
    pub fn new(url: &str) -> Result<Self, AccountsError> {
        let transport = Lettre::from_url(url)
            .map_err(|e| AccountsError::Config(format!("email.smtp_url: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(SmtpTransport { transport })
    }
}

impl MailTransport for SmtpTransport {
    fn send(&self, mail: &Mail) -> Result<(), AccountsError> {
        let from: Mailbox = mail
            .from
            .parse()
            .map_err(|e| AccountsError::Config(format!("email.from {:?}: {e}", mail.from)))?;
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| AccountsError::Mail(format!("recipient {:?}: {e}", mail.to)))?;
        // A Message-ID in the sender's domain: receiving servers score mail
        // without one (or with a foreign one) as likely spam.
        let message_id = format!(
            "<{}@{}>",
            hex::encode(crate::secrets::random::<16>()?),
            from.email.domain()
        );
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(from)
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| AccountsError::Mail(e.to_string()))?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|e| AccountsError::Mail(e.to_string()))
    }
}

/// Writes each message to the log (for a household without a mail
/// server: the operator reads the code there, or issues one with the
/// admin command).
struct LogTransport;

impl MailTransport for LogTransport {
    fn send(&self, mail: &Mail) -> Result<(), AccountsError> {
        tracing::info!(to = %mail.to, subject = %mail.subject, "accounts mail:\n{}", mail.text);
        Ok(())
    }
}

/// The transport `email` configures.
pub(crate) fn from_config(email: &EmailConfig) -> Result<Arc<dyn MailTransport>, AccountsError> {
    match email.mode {
        EmailMode::Log => Ok(Arc::new(LogTransport)),
        EmailMode::Smtp => {
            let url = email
                .smtp_url
                .as_deref()
                .ok_or_else(|| AccountsError::Config("email.mode = \"smtp\" needs email.smtp_url".into()))?;
            Ok(Arc::new(SmtpTransport::new(url)?))
        }
    }
}
