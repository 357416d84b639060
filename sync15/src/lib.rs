//! # sync15: the Firefox Sync 1.5 protocol layer
//!
//! Everything between an engine's records and the storage server's HTTP API:
//! record envelopes, encryption, the account-wide records, authentication,
//! the storage client with paging and batched uploads, and the driver that
//! runs one engine's sync. It is what every engine and the manager build on.
//!
//! **It never knows an engine or the manager.** Engines plug in through the
//! [`SyncEngine`] trait; which engines exist, and the account's global state
//! machine, belong to `sync-manager`.
//!
//! ## Follow a record
//!
//! An engine's local record becomes an encrypted BSO on the wire, and back,
//! through these types:
//!
//! ```text
//!  upload:   your struct ──OutgoingRecord::from_content──▶ OutgoingRecord (cleartext JSON)
//!            ──KeyBundle::encrypt──▶ OutgoingBso {id, sortindex, ttl, payload: "{ciphertext, IV, hmac}"}
//!            ──Uploader / StorageClient::post_records──▶ POST storage/<collection>
//!
//!  download: GET storage/<collection> ──DownloadPager──▶ IncomingBso {id, modified, payload}
//!            ──KeyBundle::decrypt (HMAC first)──▶ IncomingRecord (cleartext JSON, id checked)
//!            ──IncomingRecord::into_content::<T>──▶ IncomingContent { Content(T) | Tombstone | Malformed }
//! ```
//!
//! The [`KeyBundle`] for a collection comes from [`CollectionKeys`] (the
//! `crypto/keys` record), which is itself decrypted with the sync key bundle
//! that [`SyncRootKey`] derives from the account's kB.
//!
//! Here is the whole round trip, with the server replaced by
//! [`OutgoingBso::into_incoming`]:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use sync15::{
//!     CollectionKeys, Guid, IncomingKind, OutgoingEnvelope, OutgoingRecord, ServerTimestamp,
//!     SyncRootKey, UnknownFields,
//! };
//!
//! // An engine's record type. Unknown fields ride along in `unknown`.
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Password {
//!     id: Guid,
//!     hostname: String,
//!     password: String,
//!     #[serde(flatten)]
//!     unknown: UnknownFields,
//! }
//!
//! # fn main() -> Result<(), sync15::Error> {
//! // kB (from Firefox Accounts) → sync key bundle → crypto/keys → the collection's bundle.
//! let root = SyncRootKey::new(&[0x42; 32], 1_700_000_000_000)?;
//! let keys = CollectionKeys::new_random()?;
//! let keys_bso = keys.to_bso(&root.sync_key_bundle())?; // what gets uploaded as crypto/keys
//! let bundle = keys.key_for_collection("passwords");
//!
//! // Upload path.
//! let local = Password {
//!     id: Guid::random(),
//!     hostname: "https://example.com".into(),
//!     password: "hunter2".into(),
//!     unknown: UnknownFields::new(),
//! };
//! let record = OutgoingRecord::from_content(OutgoingEnvelope::new(local.id.clone()), &local)?;
//! let bso = bundle.encrypt(&record)?;
//! let wire = serde_json::to_string(&bso).unwrap();
//! assert!(wire.contains("ciphertext") && !wire.contains("hunter2"));
//!
//! // The server stores it and hands it back with a `modified` time.
//! let incoming = bso.into_incoming(ServerTimestamp::from_millis(1_700_000_000_120));
//!
//! // Download path.
//! let decrypted = bundle.decrypt(&incoming)?;
//! match decrypted.into_content::<Password>().kind {
//!     IncomingKind::Content(back) => assert_eq!(back, local),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # let _ = keys_bso;
//! # Ok(())
//! # }
//! ```
//!
//! ## Talking to servers
//!
//! - [`TokenClient`] trades an OAuth token and [`SyncRootKey::key_id`] for a
//!   [`Token`]: Hawk credentials and the user's storage endpoint.
//! - [`StorageClient`] signs every request with Hawk ([`HawkCredentials`])
//!   and offers every SyncStorage 1.5 endpoint. [`DownloadPager`] and
//!   [`Uploader`] handle large collections within the limits of
//!   [`InfoConfiguration`].
//! - Each server answer a caller must react to has its own [`Error`]
//!   variant (401 → [`Error::StorageUnauthorized`], 412 →
//!   [`Error::PreconditionFailed`], 503 → [`Error::ServerUnavailable`] with
//!   when to retry, …). Backoff requests arriving on successful responses
//!   are collected by [`HttpClient::next_sync_allowed_at`].
//!
//! The clients are blocking: call them from ordinary threads, not from
//! inside an async runtime.
//!
//! ## Syncing one engine
//!
//! [`SyncDriver::sync`] runs download → decrypt → [`SyncEngine::stage_incoming`]
//! → [`SyncEngine::apply`] → encrypt → upload → [`SyncEngine::set_uploaded`]
//! → [`SyncEngine::sync_finished`], stopping at safe points when an
//! [`Interruptee`] asks.

mod auth;
mod bso;
mod client;
mod context;
mod crypto;
mod device_commands;
mod driver;
mod engine;
mod error;
mod guid;
mod interrupt;
mod payload;
mod records;
mod staging;
mod timestamp;

pub use auth::{HawkCredentials, PayloadToHash, TOKEN_PATH, Token, TokenClient};
pub use bso::{
    IncomingBso, IncomingContent, IncomingEnvelope, IncomingKind, IncomingRecord, OutgoingBso,
    OutgoingEnvelope, OutgoingRecord,
};
pub use client::{
    BatchParam, ClientOptions, CollectionPage, CollectionRequest, DownloadPager, Fetched, HttpClient,
    IdsPage, MAX_IDS_PER_REQUEST, PostResponse, Precondition, RequestOrder, StorageClient, UploadOutcome,
    Uploader, WriteResult,
};
pub use context::{ClientData, DeviceInfo, SyncContext};
pub use crypto::{
    CRYPTO_COLLECTION, CollectionKeys, CryptoError, EncryptedPayload, KEYS_RECORD_ID, KeyBundle,
    PARALLEL_MIN_RECORDS, SyncRootKey, encrypted_payload_len,
};
pub use device_commands::{DeviceCommand, DeviceCommandSender, DeviceCommandSource};
pub use driver::{
    DEFAULT_DOWNLOAD_PAGE_SIZE, EngineSyncOutcome, SyncDriver, SyncPhase, SyncProgress, SyncProgressEvent,
};
pub use engine::{ApplyOutcome, ApplyStats, CollSyncIds, EngineSyncAssociation, SyncEngine};
pub use error::{EngineError, Error, ServerKind};
pub use guid::{GENERATED_GUID_LEN, Guid, MAX_SERVER_GUID_LEN};
pub use interrupt::{InterruptHandle, InterruptScope, Interrupted, Interruptee, NeverInterrupts};
pub use payload::{Cleartext, UnknownFields};
pub use records::{
    InfoCollectionCounts, InfoCollectionUsage, InfoCollections, InfoConfiguration, InfoQuota,
    META_COLLECTION, META_GLOBAL_ID, MetaGlobal, MetaGlobalEngine, STORAGE_VERSION,
};
pub use staging::StagedRecords;
pub use timestamp::{ServerTimestamp, TimestampParseError};
