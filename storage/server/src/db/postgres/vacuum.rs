//! Vacuuming the tables writes rewrite, as soon as they carry dead rows.
//!
//! A BSO written again leaves its old row version behind (PostgreSQL's
//! MVCC), and every write changes `modified`, which an index holds, so no
//! update is HOT and no page pruning gives the space back to new rows: only
//! `VACUUM` records it as free. Autovacuum, as PostgreSQL configures it,
//! looks once a minute (`autovacuum_naptime`) and waits for dead rows to
//! pass a fifth of the table (`autovacuum_vacuum_scale_factor`); a sync
//! server rewriting thousands of records a second grows its table by that
//! much first, and the file never shrinks again. So the server looks every
//! few seconds (`Db::tidy`) and vacuums `bsos` and `batch_posts` (staged POSTs
//! live for one batch) once their dead rows pass [`DEAD_SHARE`] of the live
//! ones: the space freed is reused by the next writes. Measured on the
//! overwrite mix (`cargo xtask bench server`): the database ends at about
//! 1.3× the SQLite file instead of 2.5×. Several servers on one database
//! skip a table another is vacuuming (`SKIP_LOCKED`). Operators who tune
//! autovacuum themselves lose nothing: a table autovacuum just vacuumed has
//! no dead rows to find.

use postgres::NoTls;

use super::{Postgres, Session};
use crate::db::DbError;

/// Dead rows, as a share of live ones, past which a table is vacuumed.
const DEAD_SHARE: f64 = 0.05;

/// Dead rows fewer than this are never worth a vacuum.
const MIN_DEAD: i64 = 1_000;

impl Postgres {
    /// Vacuums the tables whose dead rows passed the threshold; returns how
    /// many it vacuumed.
    pub(super) fn vacuum_dead_rows(&self) -> Result<usize, DbError> {
        let due: Vec<String> = self.on_connection(|conn, answered| {
            // A staged POST's payloads live in `batch_posts`' TOAST table,
            // whose dead chunks `VACUUM batch_posts` clears too.
            let rows = conn.client.query(
                "SELECT DISTINCT CASE WHEN relid = 'bsos'::regclass THEN 'bsos' ELSE 'batch_posts' END
                 FROM pg_stat_all_tables
                 WHERE relid IN ('bsos'::regclass, 'batch_posts'::regclass,
                                 (SELECT reltoastrelid FROM pg_class WHERE oid = 'batch_posts'::regclass))
                   AND n_dead_tup >= GREATEST($1::BIGINT, n_live_tup::FLOAT8 * $2::FLOAT8)",
                &[&MIN_DEAD, &DEAD_SHARE],
            )?;
            *answered += 1;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })?;
        if due.is_empty() {
            return Ok(0);
        }
        // A connection of its own: VACUUM runs outside a transaction, and
        // without the pool's statement timeout (a large table takes long).
        let client = self.config.connect(NoTls)?;
        let mut session = Session::of(client);
        let conn = session.get()?;
        for table in &due {
            // `table` is one of the two names above.
            conn.client
                .batch_execute(&format!("VACUUM (SKIP_LOCKED) {table}"))?;
        }
        Ok(due.len())
    }
}
