//! Driving the real `firefox-sync` binary: a profile in a temporary
//! directory, arguments, standard input, and what it printed and returned.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// What a run of the binary left.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics (showing both streams) unless it exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Panics unless standard output contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "{text:?} is not in stdout:\n{}",
            self.stdout
        );
        self
    }

    /// Panics unless standard error contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "{text:?} is not in stderr:\n{}",
            self.stderr
        );
        self
    }

    /// Panics (showing both streams) unless it exited with `code`.
    #[track_caller]
    pub fn failed_with(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// A profile directory and the binary run against it.
pub struct Profile {
    dir: tempfile::TempDir,
}

impl Profile {
    /// A new, empty profile.
    pub fn new() -> Self {
        Profile {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The profile directory (a subdirectory the binary creates).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    /// A path for a file beside the profile.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_firefox-sync"));
        command
            .arg("--profile")
            .arg(self.path())
            .args(args)
            .env_remove("FIREFOX_SYNC_PROFILE")
            .env("NO_COLOR", "1");
        command
    }

    /// `login --token --kb` for an account of a dev-mode test server, as
    /// `sync-storage mint-token` gives one; the device is called `device`.
    pub fn token_login(&self, account: &test_support::TestAccount, device: &str) -> Run {
        let kb = account.root_key.to_hex().unwrap();
        let keys_changed_at = account.root_key.key_rotation_timestamp().to_string();
        self.run(&[
            "login",
            &account.email,
            "--token",
            &account.oauth_token,
            "--kb",
            &kb,
            "--keys-changed-at",
            &keys_changed_at,
            "--server",
            &account.token_server_url,
            "--device-name",
            device,
        ])
    }

    /// `login EMAIL` at the stand-in accounts service, answering the
    /// password prompt (for accounts that need no code).
    pub fn password_login(&self, accounts_url: &str, token_server: &str, email: &str, password: &str) -> Run {
        self.run_with_input(
            &[
                "login",
                email,
                "--server",
                token_server,
                "--accounts-server",
                accounts_url,
            ],
            &format!("{password}\n"),
        )
    }

    /// [`Profile::password_login`], naming the device.
    pub fn password_login_as(
        &self,
        accounts_url: &str,
        token_server: &str,
        email: &str,
        password: &str,
        device: &str,
    ) -> Run {
        self.run_with_input(
            &[
                "login",
                email,
                "--server",
                token_server,
                "--accounts-server",
                accounts_url,
                "--device-name",
                device,
            ],
            &format!("{password}\n"),
        )
    }

    /// Runs with `args` and no input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, "")
    }

    /// Runs with `args`, writing `input` to its standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut child = self.spawn(args);
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// Starts a run whose standard input stays open for answers.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Waits for a spawned run and collects what it left.
pub fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
