//! What the server writes to its log when nobody watches a terminal: plain
//! text (no colour codes in a file or journald), or one JSON object a line.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The server's log up to and including its "serving" line.
fn first_lines(log_format: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-storage"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database"])
        .arg(support::database_in(dir.path()))
        .env("SYNC_STORAGE_LOG_FORMAT", log_format)
        .env("SYNC_STORAGE_DEV_SECRET", "logs-test")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.contains("serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let text = first_lines("text");
    assert!(text.iter().any(|l| l.contains("serving")), "{text:?}");
    assert!(
        text.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a piped log: {text:?}"
    );
    let json = first_lines("json");
    for line in &json {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
}
