//! A Marionette client: how a test drives a real Firefox.
//!
//! Marionette is Firefox's own remote protocol (what geckodriver speaks to
//! Firefox): length-prefixed JSON over TCP. The server greets with
//! `<len>:{"applicationType":"gecko","marionetteProtocol":3}`; a command is
//! `<len>:[0, id, "Name", {params}]` and its answer
//! `<len>:[1, id, error-or-null, result-or-null]`. Scripts run in the chrome
//! context reach Firefox's own modules (`Weave.Service`, `fxAccounts`,
//! `PlacesUtils`, `Services.logins`), which is how the Firefox scenarios set
//! Firefox up and read what it holds.
//!
//! Every call has a timeout: a Firefox that hangs fails the call with
//! [`MarionetteError::Timeout`], never hangs the test.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

/// What went wrong talking to Firefox.
#[derive(Debug, thiserror::Error)]
pub enum MarionetteError {
    /// Firefox did not answer within the timeout.
    #[error("Firefox did not answer {command} within {timeout:?}")]
    Timeout {
        /// The command that went unanswered.
        command: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The connection failed.
    #[error("talking to Firefox: {0}")]
    Io(#[from] std::io::Error),
    /// Firefox said something that is not Marionette.
    #[error("Firefox's answer is not Marionette: {0}")]
    Protocol(String),
    /// The command failed in Firefox: a script threw, or the command was refused.
    #[error("{command} failed in Firefox: {error}: {message}{}", stack.as_deref().map(|s| format!("\n{s}")).unwrap_or_default())]
    Command {
        /// The command.
        command: String,
        /// Marionette's error code (`javascript error`, `script timeout`, …).
        error: String,
        /// Its message.
        message: String,
        /// The script's stack, when Firefox sent one.
        stack: Option<String>,
    },
}

/// A connection to one Firefox's Marionette server, in one session.
pub struct Marionette {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u64,
    timeout: Duration,
}

impl std::fmt::Debug for Marionette {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marionette")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Marionette {
    /// Connects to the Marionette server at `addr`, reads its greeting and
    /// opens a session in the chrome context. Every call then waits at most
    /// `timeout` for its answer.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, MarionetteError> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        let mut marionette = Marionette {
            reader: BufReader::new(stream),
            writer,
            next_id: 0,
            timeout,
        };
        let greeting = marionette.read_packet("the greeting")?;
        if greeting["applicationType"] != "gecko" {
            return Err(MarionetteError::Protocol(format!("greeting {greeting}")));
        }
        marionette.command(
            "WebDriver:NewSession",
            json!({"capabilities": {"alwaysMatch": {"acceptInsecureCerts": true}}}),
        )?;
        marionette.command("Marionette:SetContext", json!({"value": "chrome"}))?;
        let script_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        marionette.command("WebDriver:SetTimeouts", json!({"script": script_ms}))?;
        Ok(marionette)
    }

    /// Sends `name` with `params`; returns its result.
    pub fn command(&mut self, name: &str, params: Value) -> Result<Value, MarionetteError> {
        self.next_id += 1;
        let id = self.next_id;
        let message = serde_json::to_vec(&json!([0, id, name, params]))
            .map_err(|e| MarionetteError::Protocol(e.to_string()))?;
        self.writer
            .write_all(format!("{}:", message.len()).as_bytes())
            .and_then(|()| self.writer.write_all(&message))
            .map_err(|e| self.io_error(name, e))?;
        loop {
            let answer = self.read_packet(name)?;
            let Some([kind, answer_id, error, result]) = answer.as_array().map(Vec::as_slice) else {
                return Err(MarionetteError::Protocol(format!("answer {answer}")));
            };
            // An answer to an earlier command that timed out: skip it.
            if kind != 1 || answer_id.as_u64() != Some(id) {
                continue;
            }
            if !error.is_null() {
                return Err(MarionetteError::Command {
                    command: name.to_owned(),
                    error: error["error"].as_str().unwrap_or("unknown").to_owned(),
                    message: error["message"].as_str().unwrap_or_default().to_owned(),
                    stack: error["stacktrace"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                });
            }
            return Ok(result.clone());
        }
    }

    /// Runs `script` in the chrome context as the body of an async
    /// function (so it may `await`), with `args` as `arguments`; returns
    /// what it returns, as JSON.
    pub fn execute(&mut self, script: &str, args: Value) -> Result<Value, MarionetteError> {
        let body = format!("return (async () => {{ {script} }})();");
        let result = self.command(
            "WebDriver:ExecuteScript",
            json!({"script": body, "args": args, "newSandbox": false}),
        )?;
        Ok(result.get("value").cloned().unwrap_or(Value::Null))
    }

    /// Switches between the `chrome` and `content` contexts: `content`
    /// commands act on the selected tab's page.
    pub fn set_context(&mut self, context: &str) -> Result<(), MarionetteError> {
        self.command("Marionette:SetContext", json!({"value": context}))
            .map(|_| ())
    }

    /// Loads `url` in the selected tab (content context), waiting for it.
    pub fn navigate(&mut self, url: &str) -> Result<(), MarionetteError> {
        self.command("WebDriver:Navigate", json!({"url": url}))
            .map(|_| ())
    }

    /// The element `css` selects on the page (content context).
    pub fn find(&mut self, css: &str) -> Result<String, MarionetteError> {
        let found = self.command(
            "WebDriver:FindElement",
            json!({"using": "css selector", "value": css}),
        )?;
        let element = found.get("value").unwrap_or(&found);
        element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| MarionetteError::Protocol(format!("an element reference {found}")))
    }

    /// Types `text` into the element `css` selects, as a person would.
    pub fn type_into(&mut self, css: &str, text: &str) -> Result<(), MarionetteError> {
        let id = self.find(css)?;
        self.command("WebDriver:ElementSendKeys", json!({"id": id, "text": text}))
            .map(|_| ())
    }

    /// Clicks the element `css` selects.
    pub fn click(&mut self, css: &str) -> Result<(), MarionetteError> {
        let id = self.find(css)?;
        self.command("WebDriver:ElementClick", json!({"id": id}))
            .map(|_| ())
    }

    /// Asks Firefox to quit, waiting a few seconds at most (a Firefox that
    /// does not answer is then ended by its PID).
    pub fn quit(&mut self) -> Result<(), MarionetteError> {
        let quick = Duration::from_secs(5);
        self.timeout = quick;
        self.writer.set_read_timeout(Some(quick))?;
        self.writer.set_write_timeout(Some(quick))?;
        self.command("Marionette:Quit", json!({"flags": ["eForceQuit"]}))
            .map(|_| ())
    }

    fn io_error(&self, command: &str, e: std::io::Error) -> MarionetteError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => MarionetteError::Timeout {
                command: command.to_owned(),
                timeout: self.timeout,
            },
            _ => MarionetteError::Io(e),
        }
    }

    /// Reads one `<len>:<json>` packet.
    fn read_packet(&mut self, command: &str) -> Result<Value, MarionetteError> {
        let mut length = Vec::new();
        self.reader
            .read_until(b':', &mut length)
            .map_err(|e| self.io_error(command, e))?;
        if length.pop() != Some(b':') {
            return Err(MarionetteError::Protocol("the connection closed".into()));
        }
        let length: usize = std::str::from_utf8(&length)
            .ok()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| MarionetteError::Protocol(format!("a length of {length:?}")))?;
        let mut packet = vec![0; length];
        self.reader
            .read_exact(&mut packet)
            .map_err(|e| self.io_error(command, e))?;
        serde_json::from_slice(&packet).map_err(|e| MarionetteError::Protocol(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write as _;
    use std::net::TcpListener;

    use super::*;

    /// A Marionette server that greets and answers each command with
    /// `answer(id, name)`, or, when that is `None`, says nothing.
    fn fake(answer: fn(u64, &str) -> Option<String>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let greeting = r#"{"applicationType":"gecko","marionetteProtocol":3}"#;
            writer
                .write_all(format!("{}:{greeting}", greeting.len()).as_bytes())
                .unwrap();
            let mut reader = BufReader::new(stream);
            loop {
                let mut length = Vec::new();
                if reader.read_until(b':', &mut length).unwrap_or(0) == 0 {
                    return;
                }
                length.pop();
                let length: usize = String::from_utf8(length).unwrap().parse().unwrap();
                let mut packet = vec![0; length];
                reader.read_exact(&mut packet).unwrap();
                let command: Value = serde_json::from_slice(&packet).unwrap();
                let id = command[1].as_u64().unwrap();
                if let Some(reply) = answer(id, command[2].as_str().unwrap()) {
                    writer
                        .write_all(format!("{}:{reply}", reply.len()).as_bytes())
                        .unwrap();
                }
            }
        });
        addr
    }

    #[test]
    fn a_script_error_is_a_typed_error_with_its_message() {
        let addr = fake(|id, name| {
            Some(match name {
                "WebDriver:ExecuteScript" => format!(
                    r#"[1,{id},{{"error":"javascript error","message":"boom","stacktrace":"at line 1"}},null]"#
                ),
                _ => format!(r#"[1,{id},null,{{"value":null}}]"#),
            })
        });
        let mut marionette = Marionette::connect(addr, Duration::from_secs(5)).unwrap();
        match marionette.execute("throw new Error('boom')", json!([])) {
            Err(MarionetteError::Command {
                error,
                message,
                stack,
                ..
            }) => {
                assert_eq!((error.as_str(), message.as_str()), ("javascript error", "boom"));
                assert_eq!(stack.as_deref(), Some("at line 1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_firefox_that_stops_answering_times_out_instead_of_hanging() {
        let addr =
            fake(|id, name| (name != "WebDriver:ExecuteScript").then(|| format!(r#"[1,{id},null,{{}}]"#)));
        let mut marionette = Marionette::connect(addr, Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let result = marionette.execute("return 1;", json!([]));
        assert!(
            matches!(result, Err(MarionetteError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn something_that_is_not_marionette_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        });
        let result = Marionette::connect(addr, Duration::from_secs(2));
        assert!(matches!(result, Err(MarionetteError::Protocol(_))), "{result:?}");
    }
}
