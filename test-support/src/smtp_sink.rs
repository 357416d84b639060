//! An SMTP server on 127.0.0.1 that accepts every message and keeps it:
//! the accounts service's real mail path (lettre, over TCP) ends here in
//! tests, and the test reads the message a person would.
//!
//! It speaks the few commands a submitting client uses (RFC 5321: EHLO or
//! HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), without TLS or
//! authentication; the service's `smtp_url` is `smtp://127.0.0.1:<port>`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// One message as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpMessage {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO`, each.
    pub to: Vec<String>,
    /// The message (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl SmtpMessage {
    /// A header's value (the first with that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(current) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    current.push(' ');
                    current.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
        value
    }

    /// The first run of `digits` ASCII digits in the subject: the code a
    /// confirmation mail carries.
    pub fn code(&self, digits: usize) -> Option<String> {
        let subject = self.header("Subject")?;
        subject
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == digits)
            .map(str::to_owned)
    }
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<SmtpMessage>>,
    arrived: Condvar,
}

/// The running sink; stops accepting when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink").field("addr", &self.addr).finish()
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1:0.
    pub fn start() -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let inbox = shared.clone();
                    std::thread::spawn(move || {
                        // A client that hangs up mid-session loses only
                        // its own message, which its test then misses.
                        let _ = session(stream, &inbox);
                    });
                }
            })?;
        Ok(SmtpSink { addr, inbox })
    }

    /// What the accounts service's `email.smtp_url` is set to.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message so far.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.inbox.messages.lock().clone()
    }

    /// Waits (up to `timeout`) for a message to `to` beyond the first
    /// `seen`.
    pub fn wait_for(&self, to: &str, seen: usize, timeout: Duration) -> Option<SmtpMessage> {
        let deadline = Instant::now() + timeout;
        let mut messages = self.inbox.messages.lock();
        loop {
            if let Some(found) = messages
                .iter()
                .skip(seen)
                .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            {
                return Some(found.clone());
            }
            if self.inbox.arrived.wait_until(&mut messages, deadline).timed_out() {
                return None;
            }
        }
    }
}

/// The address in `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn address(argument: &str) -> String {
    let inner = argument.split_once('<').map_or(argument, |(_, rest)| rest);
    inner.split('>').next().unwrap_or("").trim().to_owned()
}

fn session(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 smtp-sink ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let argument = command.split_once(':').map_or("", |(_, a)| a);
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-smtp-sink\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "MAIL" => {
                from = address(argument);
                to.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                to.push(address(argument));
                b"250 ok\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 ok\r\n"
            }
            "DATA" => {
                writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed.trim_end_matches(['\r', '\n']));
                    data.push_str("\r\n");
                }
                inbox.messages.lock().push(SmtpMessage {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                inbox.arrived.notify_all();
                b"250 queued\r\n"
            }
            "QUIT" => {
                writer.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        writer.write_all(reply)?;
    }
}
