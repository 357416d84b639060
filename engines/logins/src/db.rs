//! The logins store's row access. Secret fields are sealed on
//! the way in and opened on the way out; nothing else here sees them.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sync15::{Guid, UnknownFields};

use crate::LoginsError;
use crate::key::{Sealer, SecureFields};
use crate::login::{Login, LoginEntry};
use crate::record::PasswordRecord;

/// Where a login stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncStatus {
    Synced = 0,
    Changed = 1,
    New = 2,
}

impl SyncStatus {
    fn from_i64(n: i64) -> SyncStatus {
        match n {
            0 => SyncStatus::Synced,
            1 => SyncStatus::Changed,
            _ => SyncStatus::New,
        }
    }
}

/// A row of `logins`, opened.
#[derive(Debug, Clone)]
pub(crate) struct LocalLogin {
    pub login: Login,
    pub local_modified: i64,
    pub status: SyncStatus,
    pub unknown: UnknownFields,
}

const COLUMNS: &str = "guid, origin, form_action_origin, http_realm, username_field, password_field, \
     sec_fields, time_created, time_password_changed, time_last_used, times_used, local_modified, \
     sync_status, unknown_fields";

struct RawRow {
    login: Login,
    sec_fields: String,
    local_modified: i64,
    status: SyncStatus,
    unknown: Option<String>,
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        login: Login {
            guid: Guid::new(&r.get::<_, String>(0)?),
            entry: LoginEntry {
                origin: r.get(1)?,
                form_action_origin: r.get(2)?,
                http_realm: r.get(3)?,
                username_field: r.get(4)?,
                password_field: r.get(5)?,
                username: String::new(),
                password: String::new(),
            },
            time_created: r.get(7)?,
            time_password_changed: r.get(8)?,
            time_last_used: r.get(9)?,
            times_used: r.get(10)?,
        },
        sec_fields: r.get(6)?,
        local_modified: r.get(11)?,
        status: SyncStatus::from_i64(r.get(12)?),
        unknown: r.get(13)?,
    })
}

fn open_row(sealer: &Sealer, raw: RawRow) -> Result<LocalLogin, LoginsError> {
    let mut login = raw.login;
    let secret = sealer.open_fields(&raw.sec_fields)?;
    login.entry.username = secret.username;
    login.entry.password = secret.password;
    let unknown = match raw.unknown {
        Some(json) => serde_json::from_str(&json)?,
        None => UnknownFields::new(),
    };
    Ok(LocalLogin {
        login,
        local_modified: raw.local_modified,
        status: raw.status,
        unknown,
    })
}

/// Logins matching a `WHERE` clause (with `params`).
pub(crate) fn query_logins(
    conn: &Connection,
    sealer: &Sealer,
    where_clause: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LocalLogin>, LoginsError> {
    let sql = format!("SELECT {COLUMNS} FROM logins {where_clause}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let raws = stmt.query_map(params, raw_row)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(|raw| open_row(sealer, raw)).collect()
}

pub(crate) fn get_login(
    conn: &Connection,
    sealer: &Sealer,
    guid: &str,
) -> Result<Option<LocalLogin>, LoginsError> {
    Ok(query_logins(conn, sealer, "WHERE guid = ?", [guid])?
        .into_iter()
        .next())
}

/// Inserts or replaces a login row.
pub(crate) fn put_login(conn: &Connection, sealer: &Sealer, row: &LocalLogin) -> Result<(), LoginsError> {
    let sealed = sealer.seal_fields(&SecureFields {
        username: row.login.entry.username.clone(),
        password: row.login.entry.password.clone(),
    })?;
    let unknown = (!row.unknown.is_empty())
        .then(|| serde_json::to_string(&row.unknown))
        .transpose()?;
    let login = &row.login;
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO logins ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))?;
    stmt.execute(params![
        login.guid.as_str(),
        login.entry.origin,
        login.entry.form_action_origin,
        login.entry.http_realm,
        login.entry.username_field,
        login.entry.password_field,
        sealed,
        login.time_created,
        login.time_password_changed,
        login.time_last_used,
        login.times_used,
        row.local_modified,
        row.status as i64,
        unknown,
    ])?;
    Ok(())
}

pub(crate) fn delete_login(conn: &Connection, guid: &str) -> Result<(), LoginsError> {
    conn.prepare_cached("DELETE FROM logins WHERE guid = ?")?
        .execute([guid])?;
    Ok(())
}

pub(crate) fn add_tombstone(conn: &Connection, guid: &str, at: i64) -> Result<(), LoginsError> {
    conn.prepare_cached("INSERT OR REPLACE INTO tombstones (guid, deleted_at) VALUES (?, ?)")?
        .execute((guid, at))?;
    Ok(())
}

/// Removes a tombstone; whether there was one.
pub(crate) fn take_tombstone(conn: &Connection, guid: &str) -> Result<bool, LoginsError> {
    Ok(conn
        .prepare_cached("DELETE FROM tombstones WHERE guid = ?")?
        .execute([guid])?
        > 0)
}

/// The mirror's record for `guid`, opened.
pub(crate) fn get_mirror(
    conn: &Connection,
    sealer: &Sealer,
    guid: &str,
) -> Result<Option<PasswordRecord>, LoginsError> {
    let row = conn
        .prepare_cached("SELECT record, sec_fields FROM mirror WHERE guid = ?")?
        .query_row([guid], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    let Some((json, sealed)) = row else {
        return Ok(None);
    };
    let mut record: PasswordRecord = serde_json::from_str(&json)?;
    let secret = sealer.open_fields(&sealed)?;
    record.username = secret.username;
    record.password = secret.password;
    Ok(Some(record))
}

pub(crate) fn put_mirror(
    conn: &Connection,
    sealer: &Sealer,
    record: &PasswordRecord,
    server_modified: i64,
) -> Result<(), LoginsError> {
    let sealed = sealer.seal_fields(&SecureFields {
        username: record.username.clone(),
        password: record.password.clone(),
    })?;
    let mut public = record.clone();
    public.username.clear();
    public.password.clear();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO mirror (guid, record, sec_fields, server_modified) VALUES (?, ?, ?, ?)",
    )?
    .execute((
        record.id.as_str(),
        serde_json::to_string(&public)?,
        sealed,
        server_modified,
    ))?;
    Ok(())
}

pub(crate) fn delete_mirror(conn: &Connection, guid: &str) -> Result<(), LoginsError> {
    conn.prepare_cached("DELETE FROM mirror WHERE guid = ?")?
        .execute([guid])?;
    Ok(())
}
