//! # sync-tabs
//!
//! **Not built yet** (issue 5). Local open tabs set by the app, uploaded as one
//! record per device, and the remote tabs of the account's other devices.
//!
//! It must never depend on another engine crate.
