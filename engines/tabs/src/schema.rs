//! The tabs store's tables and their migrations.

use sync_sql::{Migration, Migrations};

pub(crate) const SCHEMA: Migrations = Migrations::new(&[Migration::sql(
    1,
    "tabs store",
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- This device's tabs as the app last set them (a JSON array of LocalTab).
CREATE TABLE local_tabs (
    position INTEGER PRIMARY KEY,
    tab      TEXT NOT NULL
);
-- Other devices' records as last downloaded, whole, so nothing is lost.
CREATE TABLE remote_tabs (
    client_id TEXT PRIMARY KEY,
    record    TEXT NOT NULL,
    modified  INTEGER NOT NULL
) WITHOUT ROWID;
-- The account's current devices, as the manager last told us.
CREATE TABLE devices (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    device_type TEXT NOT NULL
) WITHOUT ROWID;
"#,
)]);
