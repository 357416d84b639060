//! `firefox-sync`: a command-line client for a Firefox Sync account.
//!
//! Sign in with your Firefox Account (or a token from your own
//! `sync-storage`), sync, then list, search, add, export and import your
//! bookmarks, passwords and history, read the tabs open on your other
//! devices, and send them tabs. Everything lives in one profile directory
//! (`--profile`), with the account's secrets in files only you can read.
//! It must never leave a secret readable by others, print a password
//! unless asked for it, or store part of a file it refuses.
//!
//! Exit codes: 0 success; 1 any other error; 2 bad usage; 3 not signed in,
//! or the session ended (run `firefox-sync login`); 4 the accounts or sync
//! server could not be reached, or is unavailable; 5 an input file is not
//! valid (nothing from it was imported); 6 the sync ran but an engine
//! failed (see the summary).

mod account;
mod bookmark_files;
mod bookmarks;
mod browse;
mod dates;
mod inbox;
mod netscape;
mod output;
mod passwords;
mod places_json;
mod profile;
mod progress;
mod prompt;
mod send;
mod sync_cmd;
mod sync_status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Out;
use crate::profile::Profile;

/// A command-line client for a Firefox Sync account.
///
/// Back up your Firefox data:
///
///   firefox-sync login you@example.com
///   firefox-sync sync
///   firefox-sync bookmarks export --format html --output bookmarks.html
#[derive(Parser)]
#[command(
    name = "firefox-sync",
    version,
    verbatim_doc_comment,
    after_help = "Exit codes: 0 ok · 1 error · 2 bad usage · 3 not signed in or the session ended · \
                  4 server unreachable or unavailable · 5 invalid input file (nothing imported) · \
                  6 an engine failed to sync"
)]
struct Cli {
    /// The profile directory: the local stores, the sync state and the
    /// account (default: the platform's data directory, e.g.
    /// ~/.local/share/firefox-sync).
    #[arg(long, global = true, env = "FIREFOX_SYNC_PROFILE")]
    profile: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in (email and password, then the emailed or authenticator code
    /// when asked), or use a token from your own server (--token, --kb).
    Login(account::LoginArgs),
    /// Sign out: revoke this device's tokens and forget the account and the
    /// local data.
    Logout,
    /// The account, this device, the server, and the last sync of each engine.
    Status,
    /// Sync with the account.
    Sync(sync_cmd::SyncArgs),
    /// Bookmarks: list, tree, search, add, delete, export, import.
    #[command(subcommand)]
    Bookmarks(bookmarks::BookmarksCmd),
    /// Passwords: list, get, add, delete, export, import.
    #[command(subcommand)]
    Passwords(passwords::PasswordsCmd),
    /// History: list pages visited, newest first.
    #[command(subcommand)]
    History(browse::HistoryCmd),
    /// Tabs open on the account's other devices.
    #[command(subcommand)]
    Tabs(browse::TabsCmd),
    /// Send a tab to another device (Send Tab through Firefox Accounts;
    /// an older desktop Firefox gets it through the clients collection).
    SendTab(send::SendTabArgs),
    /// The account's devices.
    Devices,
}

/// An error with its exit code and a hint for the person.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (see the crate docs).
    pub code: u8,
    /// What went wrong, one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Exit codes.
pub mod exit {
    /// Any other error.
    pub const ERROR: u8 = 1;
    /// Not signed in, or the session ended.
    pub const AUTH: u8 = 3;
    /// A server could not be reached or is unavailable.
    pub const NETWORK: u8 = 4;
    /// An input file is not valid.
    pub const BAD_INPUT: u8 = 5;
    /// The sync ran but an engine failed.
    pub const PARTIAL: u8 = 6;
}

/// A [`Failure`] as an `anyhow::Error`.
pub fn fail(code: u8, message: impl Into<String>, hint: Option<&'static str>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: message.into(),
        hint,
    })
}

/// An input file that is not valid: exit code 5, naming the file and the
/// place in it (`line 12`, `the item "Menu/Dev"`), and saying that nothing
/// was imported.
pub fn bad_file(path: &Path, place: impl std::fmt::Display, why: impl std::fmt::Display) -> anyhow::Error {
    fail(
        exit::BAD_INPUT,
        format!("{}, {place}: {why}", path.display()),
        Some("nothing was imported"),
    )
}

/// The hint for "sign in again".
pub const LOGIN_HINT: &str = "run `firefox-sync login`";

fn run(cli: Cli) -> anyhow::Result<()> {
    let profile = Profile::open(cli.profile)?;
    let out = Out::new(cli.json);
    match cli.command {
        Command::Login(args) => account::login(&profile, &out, args),
        Command::Logout => account::logout(&profile, &out),
        Command::Status => account::status(&profile, &out),
        Command::Sync(args) => sync_cmd::sync(&profile, &out, &args),
        Command::Bookmarks(cmd) => bookmarks::run(&profile, &out, cmd),
        Command::Passwords(cmd) => passwords::run(&profile, &out, cmd),
        Command::History(cmd) => browse::history(&profile, &out, cmd),
        Command::Tabs(cmd) => browse::tabs(&profile, &out, cmd),
        Command::SendTab(args) => send::send_tab(&profile, &out, &args),
        Command::Devices => send::devices(&profile, &out),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): nothing to say.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, hint) = match e.downcast_ref::<Failure>() {
                Some(f) => (f.code, f.hint),
                None => (exit::ERROR, None),
            };
            // The one line a person reads, and what to do next.
            #[allow(clippy::print_stderr)]
            match hint {
                Some(hint) => eprintln!("error: {e:#} ({hint})"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(code)
        }
    }
}
