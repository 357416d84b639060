//! Opening a store whose file is corrupt: the policy in
//! `docs/adr/0001-corrupt-databases.md`.
//!
//! An engine's store is a cache of what the account's server holds (plus
//! changes not yet synced). When its file cannot be read — "file is not a
//! database", "database disk image is malformed" — refusing to open would
//! leave the app without that engine until a person deletes a file by
//! hand. Instead [`open_store`] moves the file (and its `-wal` and `-shm`)
//! aside, keeping it for a person or a bug report, creates a fresh store,
//! and says so; the next sync finds no sync state and downloads everything
//! the server has. Only what was never synced is lost.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use crate::{Migrations, OpenOptions, SqlError, open};

/// What [`open_store`] did about a corrupt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recreated {
    /// Where the corrupt file now is.
    pub moved_to: PathBuf,
    /// What SQLite said about it.
    pub cause: String,
}

/// Whether `err` says the database file itself is damaged (as opposed to
/// busy, full, read-only or written by a newer program).
pub fn is_corruption(err: &SqlError) -> bool {
    let sqlite = match err {
        SqlError::Sqlite(e) | SqlError::Migration { source: e, .. } => e,
        _ => return false,
    };
    matches!(
        sqlite,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Opens the store at `path` and brings its schema up to date; if the file
/// is corrupt, moves it aside and starts a fresh store (see the module
/// docs). Any other failure is returned as it is.
pub fn open_store(
    path: impl AsRef<Path>,
    options: &OpenOptions,
    schema: &Migrations,
) -> Result<(Connection, Option<Recreated>), SqlError> {
    let path = path.as_ref();
    let err = match open_and_migrate(path, options, schema) {
        Ok(conn) => return Ok((conn, None)),
        Err(e) if is_corruption(&e) && !options.read_only => e,
        Err(e) => return Err(e),
    };
    let moved_to = move_aside(path)?;
    log::error!(
        "{} is corrupt ({err}); moved it to {} and starting an empty store, which the next sync refills",
        path.display(),
        moved_to.display()
    );
    let conn = open_and_migrate(path, options, schema)?;
    Ok((
        conn,
        Some(Recreated {
            moved_to,
            cause: err.to_string(),
        }),
    ))
}

fn open_and_migrate(path: &Path, options: &OpenOptions, schema: &Migrations) -> Result<Connection, SqlError> {
    let mut conn = open(path, options)?;
    // Reading the schema touches the header and the schema pages: the
    // places a damaged file shows first.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))?;
    schema.apply(&mut conn)?;
    Ok(conn)
}

/// Renames the database and its journal files to `<name>.corrupt-<n>`
/// (the first `n` not taken). Returns the database's new name.
fn move_aside(path: &Path) -> Result<PathBuf, SqlError> {
    let with_suffix = |p: &Path, suffix: &str| {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let target = (1..)
        .map(|n| with_suffix(path, &format!(".corrupt-{n}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| with_suffix(path, ".corrupt"));
    let failed = |source: std::io::Error| SqlError::MoveAside {
        path: path.display().to_string(),
        source,
    };
    std::fs::rename(path, &target).map_err(failed)?;
    for journal in ["-wal", "-shm"] {
        let from = with_suffix(path, journal);
        if from.exists() {
            std::fs::rename(&from, with_suffix(&target, journal)).map_err(failed)?;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Migration;

    const SCHEMA: Migrations = Migrations::new(&[Migration::sql(
        1,
        "items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )]);

    fn store_with_rows(path: &Path) {
        let (conn, recreated) = open_store(path, &OpenOptions::default(), &SCHEMA).unwrap();
        assert!(recreated.is_none());
        for i in 0..500 {
            conn.execute(
                "INSERT INTO items (body) VALUES (?)",
                [format!("row {i} {}", "x".repeat(100))],
            )
            .unwrap();
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_database_is_moved_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        std::fs::write(
            &path,
            b"this is not a SQLite database, just text that is long enough to fill a header......",
        )
        .unwrap();
        let (conn, recreated) = open_store(&path, &OpenOptions::default(), &SCHEMA).unwrap();
        let recreated = recreated.unwrap();
        assert!(recreated.cause.contains("not a database"), "{}", recreated.cause);
        assert_eq!(recreated.moved_to, dir.path().join("store.db.corrupt-1"));
        assert!(
            std::fs::read(&recreated.moved_to)
                .unwrap()
                .starts_with(b"this is not")
        );
        let n: i64 = conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_damaged_schema_is_moved_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        store_with_rows(&path);
        // Page 1 holds the header and the schema table: garble the schema.
        let mut bytes = std::fs::read(&path).unwrap();
        for b in &mut bytes[100..4096] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let (conn, recreated) = open_store(&path, &OpenOptions::default(), &SCHEMA).unwrap();
        let recreated = recreated.unwrap();
        assert!(
            recreated.cause.contains("malformed") || recreated.cause.contains("not a database"),
            "{}",
            recreated.cause
        );
        let n: i64 = conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        drop(conn);
        // A second corruption gets the next name.
        std::fs::write(
            &path,
            b"garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage..",
        )
        .unwrap();
        let (_conn, again) = open_store(&path, &OpenOptions::default(), &SCHEMA).unwrap();
        assert_eq!(again.unwrap().moved_to, dir.path().join("store.db.corrupt-2"));
    }

    #[test]
    fn other_failures_are_not_taken_for_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        store_with_rows(&path);
        let newer = Migrations::new(&[]);
        // A schema newer than the program: refused, file untouched.
        let err = open_store(&path, &OpenOptions::default(), &newer).unwrap_err();
        assert!(matches!(err, SqlError::SchemaTooNew { .. }), "{err}");
        assert!(!dir.path().join("store.db.corrupt-1").exists());
    }
}
