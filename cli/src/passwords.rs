//! `passwords`: list, get, add, delete, export and import, in Firefox's
//! CSV format (the columns Firefox's "Export Passwords" writes and its
//! importer reads) or JSON.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use sync_logins::{Login, LoginEntry, LoginStore};

use crate::dates::when;
use crate::output::{Out, warn};
use crate::profile::Profile;
use crate::{bad_file, exit, fail, prompt};

/// Firefox's CSV columns, in its order.
pub const CSV_HEADER: [&str; 9] = [
    "url",
    "username",
    "password",
    "httpRealm",
    "formActionOrigin",
    "guid",
    "timeCreated",
    "timeLastUsed",
    "timePasswordChanged",
];

/// Export formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Firefox's CSV.
    Csv,
    /// This tool's JSON (every field).
    Json,
}

/// `passwords …`.
#[derive(Subcommand)]
pub enum PasswordsCmd {
    /// Every login (without the passwords).
    List {
        /// Only logins whose site or username contains this.
        #[arg(long)]
        search: Option<String>,
    },
    /// The logins of a site (or one login by id), passwords included.
    Get {
        /// A site (substring of its origin) or a login id.
        query: String,
    },
    /// Store a login (a form login, or HTTP authentication with --realm).
    Add {
        /// The site, e.g. https://example.com.
        #[arg(long)]
        origin: String,
        /// The username.
        #[arg(long, default_value = "")]
        username: String,
        /// The password (asked for, without echo, when not given).
        #[arg(long)]
        password: Option<String>,
        /// The HTTP authentication realm, for an HTTP-auth login.
        #[arg(long)]
        realm: Option<String>,
    },
    /// Delete a login by id.
    Delete {
        /// The login's id.
        guid: String,
    },
    /// Write every login, passwords included.
    Export {
        /// csv (Firefox's) or json.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Where to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add the logins of a CSV file (Firefox's, Chrome's) or of a JSON
    /// export, skipping those already stored. A file with an invalid row is
    /// refused whole, naming the line.
    Import {
        /// The file (.csv or .json).
        file: PathBuf,
    },
}

/// Runs a `passwords` command.
pub fn run(profile: &Profile, out: &Out, cmd: PasswordsCmd) -> Result<()> {
    let store = profile.logins()?;
    match cmd {
        PasswordsCmd::List { search } => {
            let needle = search.map(|s| s.to_lowercase());
            let logins: Vec<Login> = store
                .list()?
                .into_iter()
                .filter(|l| {
                    needle.as_ref().is_none_or(|n| {
                        l.entry.origin.to_lowercase().contains(n)
                            || l.entry.username.to_lowercase().contains(n)
                    })
                })
                .collect();
            let shown: Vec<serde_json::Value> = logins
                .iter()
                .map(|l| {
                    json!({"guid": l.guid, "origin": l.entry.origin, "username": l.entry.username,
                           "httpRealm": l.entry.http_realm, "formActionOrigin": l.entry.form_action_origin,
                           "timeLastUsed": l.time_last_used})
                })
                .collect();
            out.list(&shown, &["site", "username", "last used", "id"], |v| {
                vec![
                    v["origin"].as_str().unwrap_or("").to_owned(),
                    v["username"].as_str().unwrap_or("").to_owned(),
                    when(v["timeLastUsed"].as_i64().unwrap_or(0)),
                    v["guid"].as_str().unwrap_or("").to_owned(),
                ]
            })
        }
        PasswordsCmd::Get { query } => {
            let logins = match store.get(&query)? {
                Some(l) => vec![l],
                None => {
                    let q = query.to_lowercase();
                    store
                        .list()?
                        .into_iter()
                        .filter(|l| l.entry.origin.to_lowercase().contains(&q))
                        .collect()
                }
            };
            if logins.is_empty() {
                return Err(fail(
                    exit::ERROR,
                    format!("no login matches {query:?}"),
                    Some("see `firefox-sync passwords list`"),
                ));
            }
            warn_if_terminal(out, "printing passwords to the terminal");
            out.list(&logins, &["site", "username", "password", "id"], |l| {
                vec![
                    l.entry.origin.clone(),
                    l.entry.username.clone(),
                    l.entry.password.clone(),
                    l.guid.to_string(),
                ]
            })
        }
        PasswordsCmd::Add {
            origin,
            username,
            password,
            realm,
        } => {
            let password = match password {
                Some(p) => p,
                None => prompt::secret("Password to store: ")?,
            };
            let is_form = realm.is_none();
            let login = store
                .add(LoginEntry {
                    form_action_origin: is_form.then(|| origin.clone()),
                    http_realm: realm,
                    username_field: String::new(),
                    password_field: String::new(),
                    origin,
                    username,
                    password,
                })
                .map_err(|e| fail(exit::ERROR, e.to_string(), None))?;
            out.done(
                &format!("Stored {} ({})", login.entry.origin, login.guid),
                &json!({"guid": login.guid}),
            )
        }
        PasswordsCmd::Delete { guid } => {
            if !store.delete(&guid)? {
                return Err(fail(
                    exit::ERROR,
                    format!("no login {guid}"),
                    Some("see `firefox-sync passwords list`"),
                ));
            }
            out.done(&format!("Deleted {guid}."), &json!({"deleted": guid}))
        }
        PasswordsCmd::Export { format, output } => export(out, &store, format, output.as_deref()),
        PasswordsCmd::Import { file } => import(out, &store, &file),
    }
}

fn warn_if_terminal(out: &Out, what: &str) {
    if out.is_terminal() {
        warn(&format!("{what}: anyone who can see your screen can read them"));
    }
}

fn export(out: &Out, store: &LoginStore, format: Format, output: Option<&Path>) -> Result<()> {
    let logins = store.list()?;
    let bytes = match format {
        Format::Json => serde_json::to_vec_pretty(&logins)?,
        Format::Csv => to_csv(&logins)?,
    };
    match output {
        Some(path) => {
            crate::profile::write_private(path, &bytes)?;
            out.done(
                &format!(
                    "Exported {} logins to {} (readable by you only).",
                    logins.len(),
                    path.display()
                ),
                &json!({"exported": logins.len(), "file": path}),
            )
        }
        None => {
            if std::io::stdout().is_terminal() {
                warn_if_terminal(out, "printing passwords to the terminal");
            }
            crate::output::raw(&bytes)
        }
    }
}

/// Logins as Firefox's CSV: every field quoted, CRLF line ends.
pub fn to_csv(logins: &[Login]) -> Result<Vec<u8>> {
    // Firefox's LoginExport quotes every field and ends rows with CRLF.
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for l in logins {
        w.write_record([
            l.entry.origin.as_str(),
            &l.entry.username,
            &l.entry.password,
            l.entry.http_realm.as_deref().unwrap_or(""),
            l.entry.form_action_origin.as_deref().unwrap_or(""),
            l.guid.as_str(),
            &l.time_created.to_string(),
            &l.time_last_used.to_string(),
            &l.time_password_changed.to_string(),
        ])?;
    }
    w.into_inner().context("finishing the CSV")
}

/// The entries of a CSV file, each checked; the first invalid row is an
/// error naming its line, and then nothing is imported. Columns are found
/// by name (Firefox's; Chrome's `name,url,username,password` works too).
pub fn from_csv(path: &Path, bytes: &[u8]) -> Result<Vec<LoginEntry>> {
    let bad = |line: u64, why: String| bad_file(path, format!("line {line}"), why);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(url), Some(password)) = (column("url"), column("password")) else {
        return Err(bad(
            1,
            "the header needs at least the columns url and password".into(),
        ));
    };
    let (username, realm, action) = (
        column("username"),
        column("httpRealm"),
        column("formActionOrigin"),
    );
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_owned();
        let realm = field(realm);
        let entry = LoginEntry {
            origin: field(Some(url)),
            form_action_origin: realm.is_empty().then(|| field(action)),
            http_realm: (!realm.is_empty()).then_some(realm),
            username_field: String::new(),
            password_field: String::new(),
            username: field(username),
            password: field(Some(password)),
        };
        entry.normalized().map_err(|e| bad(line, e.to_string()))?;
        entries.push(entry);
    }
    Ok(entries)
}

fn import(out: &Out, store: &LoginStore, file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let entries = if is_json {
        let logins: Vec<Login> =
            serde_json::from_slice(&bytes).map_err(|e| bad_file(file, format!("line {}", e.line()), e))?;
        for (i, l) in logins.iter().enumerate() {
            l.entry
                .normalized()
                .map_err(|e| bad_file(file, format!("login {}", i + 1), e))?;
        }
        logins.into_iter().map(|l| l.entry).collect()
    } else {
        from_csv(file, &bytes)?
    };
    let total = entries.len();
    let report = store.import(entries)?;
    out.done(
        &format!(
            "Imported {} of {total} logins ({} already stored or repeated).",
            report.imported.len(),
            report.skipped.len()
        ),
        &json!({"imported": report.imported.len(), "skipped": report.skipped.len(), "total": total}),
    )
}
