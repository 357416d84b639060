//! # sync-clients
//!
//! **Not built yet** (issue 4). The `clients` collection: this device's own
//! record, the list of the account's other devices, and the commands sent between
//! them (`wipeEngine`, `resetEngine`, `resetAll`, `logout`, `displayURI`).
//!
//! It must never depend on another engine crate.
