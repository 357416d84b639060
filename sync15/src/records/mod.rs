//! The account-wide records and `info/*` documents every client reads
//! before syncing any engine.

mod info;
mod meta_global;

pub use info::{InfoCollectionCounts, InfoCollectionUsage, InfoCollections, InfoConfiguration, InfoQuota};
pub use meta_global::{META_COLLECTION, META_GLOBAL_ID, MetaGlobal, MetaGlobalEngine, STORAGE_VERSION};
