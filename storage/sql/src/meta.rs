//! A key–value `meta` table: where a store keeps small facts about itself
//! (its last-sync time, sync IDs, a client id) next to its data, so they
//! commit in the same transactions as the data they describe.
//!
//! The table is the one convention this crate imposes; a store creates it
//! in its first migration with [`META_TABLE_SQL`].

use rusqlite::{Connection, OptionalExtension};

/// The statement that creates the `meta` table.
pub const META_TABLE_SQL: &str =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;";

/// The value stored under `key`, if any.
pub fn get_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?", [key], |r| r.get(0))
        .optional()
}

/// Stores `value` under `key`, replacing what was there.
pub fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        (key, value),
    )?;
    Ok(())
}

/// Stores `value` under `key`, or removes `key` when `value` is `None`.
pub fn set_or_delete_meta(conn: &Connection, key: &str, value: Option<&str>) -> rusqlite::Result<()> {
    match value {
        Some(value) => set_meta(conn, key, value),
        None => delete_meta(conn, key),
    }
}

/// The integer stored under `key`; 0 when absent or not a number.
pub fn get_meta_i64(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    Ok(get_meta(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Removes `key`.
pub fn delete_meta(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?", [key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stored_replaced_and_removed() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(META_TABLE_SQL)?;
        assert_eq!(get_meta(&conn, "a")?, None);
        assert_eq!(get_meta_i64(&conn, "a")?, 0);
        set_meta(&conn, "a", "41")?;
        set_meta(&conn, "a", "42")?;
        assert_eq!(get_meta_i64(&conn, "a")?, 42);
        set_meta(&conn, "b", "not a number")?;
        assert_eq!(get_meta_i64(&conn, "b")?, 0);
        delete_meta(&conn, "a")?;
        assert_eq!(get_meta(&conn, "a")?, None);
        set_or_delete_meta(&conn, "c", Some("x"))?;
        assert_eq!(get_meta(&conn, "c")?.as_deref(), Some("x"));
        set_or_delete_meta(&conn, "c", None)?;
        assert_eq!(get_meta(&conn, "c")?, None);
        Ok(())
    }
}
