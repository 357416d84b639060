//! Versioned schema migrations keyed by `PRAGMA user_version`, or, for a
//! second schema living in the same database file (the accounts service's
//! tables beside the storage server's), by a named row of a
//! `schema_tracks` table.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::SqlError;

/// How a migration changes the schema.
#[derive(Clone, Copy)]
pub enum MigrationStep {
    /// A batch of SQL statements.
    Sql(&'static str),
    /// Code, for changes SQL alone cannot express (rewriting data).
    Code(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

impl std::fmt::Debug for MigrationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrationStep::Sql(sql) => f.debug_tuple("Sql").field(&sql.len()).finish(),
            MigrationStep::Code(_) => f.write_str("Code(..)"),
        }
    }
}

/// One step from schema version `version - 1` to `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step produces (1 for the initial schema).
    pub version: u32,
    /// What it does, for logs and errors.
    pub description: &'static str,
    /// The change.
    pub step: MigrationStep,
}

impl Migration {
    /// A migration written in SQL.
    pub const fn sql(version: u32, description: &'static str, sql: &'static str) -> Self {
        Migration {
            version,
            description,
            step: MigrationStep::Sql(sql),
        }
    }

    /// A migration written in Rust.
    pub const fn code(
        version: u32,
        description: &'static str,
        f: fn(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Self {
        Migration {
            version,
            description,
            step: MigrationStep::Code(f),
        }
    }
}

/// A schema's full history: migrations with versions 1, 2, 3, … in order.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    steps: &'static [Migration],
    /// `None`: the database's own schema (`PRAGMA user_version`); a name:
    /// a schema that shares the file with it, versioned in `schema_tracks`.
    track: Option<&'static str>,
}

impl Migrations {
    /// The history; versions must be 1, 2, 3, … (checked when applied).
    pub const fn new(steps: &'static [Migration]) -> Self {
        Migrations { steps, track: None }
    }

    /// The history of a schema that shares its database file with another,
    /// its version kept under `track` in the `schema_tracks` table (so the
    /// two histories never read each other's version).
    pub const fn named(track: &'static str, steps: &'static [Migration]) -> Self {
        Migrations {
            steps,
            track: Some(track),
        }
    }

    /// The version the last migration produces.
    pub fn latest(&self) -> u32 {
        self.steps.last().map_or(0, |m| m.version)
    }

    /// Brings the database up to [`Migrations::latest`], one transaction per
    /// step, and returns the version it is now at. A database newer than
    /// this program is refused untouched.
    pub fn apply(&self, conn: &mut Connection) -> Result<u32, SqlError> {
        for (i, m) in self.steps.iter().enumerate() {
            // A gap or reordering is a programming error; treat it as a failed migration.
            if m.version as usize != i + 1 {
                return Err(SqlError::Migration {
                    version: m.version,
                    description: m.description,
                    source: rusqlite::Error::InvalidQuery,
                });
            }
        }
        if self.track.is_some() {
            conn.execute_batch(TRACKS_TABLE)?;
        }
        let current = self.version(conn)?;
        let latest = self.latest();
        if current > latest {
            return Err(SqlError::SchemaTooNew {
                found: current,
                supported: latest,
            });
        }
        for m in self.steps.iter().filter(|m| m.version > current) {
            let fail = |source| SqlError::Migration {
                version: m.version,
                description: m.description,
                source,
            };
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(fail)?;
            // Another process may have migrated while we waited for the lock.
            let now = self.version(&tx).map_err(fail)?;
            if now >= m.version {
                continue;
            }
            match m.step {
                MigrationStep::Sql(sql) => tx.execute_batch(sql),
                MigrationStep::Code(f) => f(&tx),
            }
            .map_err(fail)?;
            match self.track {
                None => tx.execute_batch(&format!("PRAGMA user_version = {}", m.version)),
                Some(track) => tx
                    .execute(
                        "INSERT INTO schema_tracks (name, version) VALUES (?1, ?2)
                         ON CONFLICT (name) DO UPDATE SET version = ?2",
                        (track, m.version),
                    )
                    .map(|_| ()),
            }
            .map_err(fail)?;
            tx.commit().map_err(fail)?;
            log::info!(
                "migrated {} to schema version {}: {}",
                self.track.unwrap_or("database"),
                m.version,
                m.description
            );
        }
        Ok(self.version(conn)?)
    }

    /// The schema version the database is at (0: none yet).
    fn version(&self, conn: &Connection) -> rusqlite::Result<u32> {
        match self.track {
            None => conn.query_row("PRAGMA user_version", [], |r| r.get(0)),
            Some(track) => Ok(conn
                .query_row("SELECT version FROM schema_tracks WHERE name = ?", [track], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0)),
        }
    }
}

/// Where named schemas keep their versions.
const TRACKS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_tracks (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open;

    fn user_version(conn: &Connection) -> Result<u32, SqlError> {
        Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    const V1: Migration = Migration::sql(1, "items", "CREATE TABLE items (id TEXT PRIMARY KEY);");
    const V2: Migration = Migration::code(2, "seed", |tx| {
        tx.execute("INSERT INTO items (id) VALUES ('seeded')", [])?;
        Ok(())
    });
    const BROKEN_V3: Migration = Migration::sql(
        3,
        "broken",
        "ALTER TABLE items ADD COLUMN x INTEGER; THIS IS NOT SQL;",
    );

    #[test]
    fn applies_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open(&path, &Default::default()).unwrap();
        assert_eq!(Migrations::new(&[V1]).apply(&mut conn).unwrap(), 1);
        assert_eq!(Migrations::new(&[V1, V2]).apply(&mut conn).unwrap(), 2);
        // Running again changes nothing.
        assert_eq!(Migrations::new(&[V1, V2]).apply(&mut conn).unwrap(), 2);
        let count: i64 = conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn a_failed_step_leaves_the_previous_version_intact() {
        let mut conn = crate::open_in_memory().unwrap();
        let err = Migrations::new(&[V1, V2, BROKEN_V3])
            .apply(&mut conn)
            .unwrap_err();
        assert!(matches!(err, SqlError::Migration { version: 3, .. }), "{err:?}");
        assert_eq!(user_version(&conn).unwrap(), 2);
        // The half of step 3 that did run was rolled back.
        let has_x = conn.prepare("SELECT x FROM items").is_ok();
        assert!(!has_x);
    }

    #[test]
    fn a_named_schema_shares_the_file_without_touching_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path().join("two.db"), &Default::default()).unwrap();
        assert_eq!(Migrations::new(&[V1, V2]).apply(&mut conn).unwrap(), 2);
        const OTHER: Migration = Migration::sql(1, "other", "CREATE TABLE other_items (id TEXT);");
        let named = Migrations::named("other", &[OTHER]);
        assert_eq!(named.apply(&mut conn).unwrap(), 1);
        assert_eq!(named.apply(&mut conn).unwrap(), 1, "applied once");
        assert_eq!(
            user_version(&conn).unwrap(),
            2,
            "the file's own version is untouched"
        );
        assert_eq!(Migrations::new(&[V1, V2]).apply(&mut conn).unwrap(), 2);
        conn.execute(
            "INSERT INTO schema_tracks (name, version) VALUES ('newer', 5)",
            [],
        )
        .unwrap();
        assert!(matches!(
            Migrations::named("newer", &[OTHER]).apply(&mut conn),
            Err(SqlError::SchemaTooNew {
                found: 5,
                supported: 1
            })
        ));
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = crate::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 9").unwrap();
        assert!(matches!(
            Migrations::new(&[V1]).apply(&mut conn),
            Err(SqlError::SchemaTooNew {
                found: 9,
                supported: 1
            })
        ));
    }

    #[test]
    fn gaps_in_the_history_are_refused() {
        let mut conn = crate::open_in_memory().unwrap();
        const SKIP: Migration = Migration::sql(3, "skip", "SELECT 1;");
        assert!(matches!(
            Migrations::new(&[V1, SKIP]).apply(&mut conn),
            Err(SqlError::Migration { version: 3, .. })
        ));
        assert_eq!(user_version(&conn).unwrap(), 0);
    }
}
