//! Asking the person: secrets without echo on a terminal; from standard
//! input, one line each, when it is not a terminal (scripts, tests).
#![allow(clippy::print_stderr)]

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context, Result, bail};

/// A secret (a password): not echoed on a terminal.
pub fn secret(prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).context("reading the password");
    }
    line(prompt)
}

/// One line of input, without its line ending.
pub fn line(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading standard input")?;
    if read == 0 {
        bail!("no answer on standard input to {:?}", prompt.trim());
    }
    Ok(answer.trim_end_matches(['\r', '\n']).to_owned())
}
