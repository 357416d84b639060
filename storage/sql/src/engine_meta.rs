//! The sync bookkeeping every engine store keeps in its [`meta`](crate::meta)
//! table: the time of its last sync and the sync IDs it synced under.
//!
//! They live in the store's own database so they commit with the data
//! they describe: a reset that forgets the mirror also forgets the
//! last-sync time, in one transaction. Each function is one step of an
//! engine's [`SyncEngine`](sync15::SyncEngine) impl; the engine still
//! writes that impl itself and adds what is its own (what a reset
//! forgets besides these two rows, how records merge).
//!
//! Only with the `engine` feature: the server, which shares this crate,
//! knows no engine and does not link `sync15` through it.

use rusqlite::Connection;
use sync15::{CollectionRequest, EngineSyncAssociation, ServerTimestamp};

use crate::SqlError;
use crate::meta::{get_meta, get_meta_i64, set_meta, set_or_delete_meta};

/// The key of the last-sync time (ms).
pub const LAST_SYNC: &str = "last_sync";
/// The key of the sync IDs, as [`EngineSyncAssociation::to_stored`] writes them.
pub const SYNC_ASSOCIATION: &str = "association";

/// When the store last finished a sync ([`ServerTimestamp::ZERO`] if never
/// or since a reset).
pub fn last_sync(conn: &Connection) -> Result<ServerTimestamp, SqlError> {
    Ok(ServerTimestamp::from_millis(get_meta_i64(conn, LAST_SYNC)?))
}

/// Records a finished sync, for [`SyncEngine::sync_finished`](sync15::SyncEngine::sync_finished).
pub fn set_last_sync(conn: &Connection, last_sync: ServerTimestamp) -> Result<(), SqlError> {
    Ok(set_meta(conn, LAST_SYNC, &last_sync.as_millis().to_string())?)
}

/// What to download from `collection`: what changed since the last sync,
/// or nothing when the server's copy (modified at `server_modified`) has
/// not changed since. For [`SyncEngine::incoming_request`](sync15::SyncEngine::incoming_request).
pub fn changes_since_last_sync(
    conn: &Connection,
    collection: &str,
    server_modified: ServerTimestamp,
) -> Result<Option<CollectionRequest>, SqlError> {
    Ok(CollectionRequest::changes_since(
        collection,
        last_sync(conn)?,
        server_modified,
    ))
}

/// The sync IDs the store last synced under, for
/// [`SyncEngine::sync_association`](sync15::SyncEngine::sync_association).
pub fn sync_association(conn: &Connection) -> Result<EngineSyncAssociation, SqlError> {
    let stored = get_meta(conn, SYNC_ASSOCIATION)?;
    EngineSyncAssociation::from_stored(stored.as_deref()).map_err(|e| SqlError::InvalidMeta {
        key: SYNC_ASSOCIATION,
        reason: e.to_string(),
    })
}

/// What every engine's [`SyncEngine::reset`](sync15::SyncEngine::reset)
/// writes: the next sync is a first sync (no last-sync time), under
/// `assoc`. Call it in the transaction that forgets the engine's own
/// sync state.
pub fn reset_sync_meta(conn: &Connection, assoc: &EngineSyncAssociation) -> Result<(), SqlError> {
    let stored = assoc.to_stored().map_err(|e| SqlError::InvalidMeta {
        key: SYNC_ASSOCIATION,
        reason: e.to_string(),
    })?;
    set_meta(conn, LAST_SYNC, "0")?;
    set_or_delete_meta(conn, SYNC_ASSOCIATION, stored.as_deref())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sync15::{CollSyncIds, Guid};

    use super::*;
    use crate::meta::META_TABLE_SQL;

    #[test]
    fn a_reset_forgets_the_last_sync_and_keeps_the_new_ids() -> Result<(), SqlError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(META_TABLE_SQL)?;
        assert_eq!(last_sync(&conn)?, ServerTimestamp::ZERO);
        assert_eq!(sync_association(&conn)?, EngineSyncAssociation::Disconnected);

        set_last_sync(&conn, ServerTimestamp::from_millis(1_700_000_000_120))?;
        let since = changes_since_last_sync(&conn, "tabs", ServerTimestamp::from_millis(1_700_000_000_120))?;
        assert!(since.is_none(), "nothing newer on the server: no request");
        let since = changes_since_last_sync(&conn, "tabs", ServerTimestamp::from_millis(1_700_000_000_130))?;
        assert_eq!(
            since.map(|r| r.newer),
            Some(Some(ServerTimestamp::from_millis(1_700_000_000_120)))
        );

        let ids = EngineSyncAssociation::Connected(CollSyncIds {
            global: Guid::new("globalglobal"),
            coll: Guid::new("collcollcoll"),
        });
        reset_sync_meta(&conn, &ids)?;
        assert_eq!(last_sync(&conn)?, ServerTimestamp::ZERO);
        assert_eq!(sync_association(&conn)?, ids);
        reset_sync_meta(&conn, &EngineSyncAssociation::Disconnected)?;
        assert_eq!(sync_association(&conn)?, EngineSyncAssociation::Disconnected);
        Ok(())
    }

    #[test]
    fn unreadable_sync_ids_are_a_typed_error() -> Result<(), SqlError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(META_TABLE_SQL)?;
        set_meta(&conn, SYNC_ASSOCIATION, "{not json")?;
        assert!(matches!(
            sync_association(&conn),
            Err(SqlError::InvalidMeta {
                key: SYNC_ASSOCIATION,
                ..
            })
        ));
        Ok(())
    }
}
