//! Mail through an SMTP server (lettre, rustls): `smtps://` for TLS from
//! the first byte (port 465), `smtp://…?tls=required` for STARTTLS (587),
//! plain `smtp://` only for a relay on the same machine.

use lettre::Transport as _;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::SmtpTransport as Lettre;

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
        let message = Message::builder()
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
