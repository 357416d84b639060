//! What commands print: aligned tables for people, JSON with `--json`.
//! Data goes to standard output; prompts and progress to standard error.
//!
//! Every write to standard output goes through [`line`], which returns its
//! error instead of panicking as `println!` does: when the reader goes away
//! (`firefox-sync --json bookmarks list | head`), the command stops and
//! `main` exits quietly with 0, as ripgrep and the Unix tools do.
#![allow(clippy::print_stderr)]

use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;

/// Where output goes, and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    json: bool,
}

impl Out {
    /// Tables, or JSON when `json`.
    pub fn new(json: bool) -> Self {
        Out { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether standard output is a terminal (a person may be watching).
    pub fn is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// Prints `value` as JSON.
    pub fn print_json(&self, value: &impl Serialize) -> anyhow::Result<()> {
        line(&serde_json::to_string_pretty(value)?)
    }

    /// A listing: `items` as JSON, or as a table of `headers` and `row(item)`.
    pub fn list<T: Serialize>(
        &self,
        items: &[T],
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> anyhow::Result<()> {
        if self.json {
            return self.print_json(&items);
        }
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        print_table(headers, &rows)
    }

    /// A one-line message for people; with `--json`, `value` instead.
    pub fn done(&self, message: &str, value: &impl Serialize) -> anyhow::Result<()> {
        if self.json {
            return self.print_json(value);
        }
        line(message)
    }
}

/// Writes `text` and a newline to standard output.
pub fn line(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.write_all(b"\n")?;
    Ok(())
}

/// Writes `bytes` to standard output as they are.
pub fn raw(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

/// Whether `error` is standard output's reader having gone away.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Prints rows under headers, columns padded to their widest cell (by
/// characters), cells cut at 60 characters.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    const MAX: usize = 60;
    let cut = |s: &str| -> String {
        if s.chars().count() > MAX {
            let mut t: String = s.chars().take(MAX - 1).collect();
            t.push('…');
            t
        } else {
            s.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let padded = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    line(&padded(headers.to_vec()))?;
    for row in &rows {
        line(&padded(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// A warning for people, on standard error.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// An empty line between two tables.
pub fn blank_line() -> anyhow::Result<()> {
    line("")
}

/// A heading line above a table.
pub fn heading(text: &str) -> anyhow::Result<()> {
    line(text)
}
