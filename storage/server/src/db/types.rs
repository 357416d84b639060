//! The shapes the store's rules and its backends share: what is stored
//! (BSOs, users, nodes) and what is asked of it. Below both the rules
//! (`bsos`, `users`, `batches`) and the backends, so neither imports the
//! other's file for them.

/// A stored BSO, as `GET` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bso {
    /// The id.
    pub id: String,
    /// When it was last written, in ms.
    pub modified: i64,
    /// Its sortindex, if it has one.
    pub sortindex: Option<i64>,
    /// The payload string.
    pub payload: String,
}

/// A BSO in a PUT or POST. `None` means "not given": an existing BSO keeps
/// that field, a new one gets the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BsoInput {
    /// The id.
    pub id: String,
    /// `Some(None)` clears the sortindex.
    pub sortindex: Option<Option<i64>>,
    /// The payload (an explicit `null` arrives here as `Some("")`).
    pub payload: Option<String>,
    /// Seconds to live; `Some(None)` means "never expires".
    pub ttl: Option<Option<u64>>,
}

impl BsoInput {
    /// Payload bytes this input adds (for POST and batch limits).
    pub fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(0, String::len)
    }
}

/// The `sort` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// No order asked for: oldest first, which pages stably.
    #[default]
    Unspecified,
    /// Oldest first.
    Oldest,
    /// Newest first.
    Newest,
    /// Highest sortindex first.
    Index,
}

/// A `GET storage/<collection>` query.
#[derive(Debug, Clone, Default)]
pub struct CollectionQuery {
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Only BSOs modified strictly after this (ms).
    pub newer: Option<i64>,
    /// Only BSOs modified strictly before this (ms).
    pub older: Option<i64>,
    /// The order.
    pub sort: SortOrder,
    /// At most this many.
    pub limit: Option<u64>,
    /// Skip this many (from a previous `X-Weave-Next-Offset`).
    pub offset: u64,
    /// Ids only: payloads are not read (`full` was not asked for).
    pub ids_only: bool,
}

/// A user record: one FxA account under one set of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The storage uid.
    pub uid: u64,
    /// The FxA account id.
    pub fxa_uid: String,
    /// The account's generation as last seen.
    pub generation: i64,
    /// When the account's keys last changed, as the client said.
    pub keys_changed_at: i64,
    /// Hex of the first 16 bytes of SHA-256(kB): which keys encrypt the data.
    pub client_state: String,
    /// The storage node base URL.
    pub node: String,
}

/// A user record as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The record.
    pub user: User,
    /// The email the account last reported.
    pub email: String,
    /// When it was made (ms).
    pub created_at: i64,
    /// When it stopped being the account's current record (ms), if it has.
    pub replaced_at: Option<i64>,
}

/// A storage node the token server assigns users to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its base URL (what token responses name).
    pub url: String,
    /// How many current users it should hold at most.
    pub capacity: i64,
    /// Current users on it now.
    pub current_load: i64,
    /// Gone: no new users, and its users move on their next token.
    pub downed: bool,
    /// Draining: no new users; its users stay.
    pub backoff: bool,
}

impl Node {
    /// Whether new users may be assigned here.
    pub fn takes_users(&self) -> bool {
        !self.downed && !self.backoff && self.current_load < self.capacity
    }
}

/// How a write changed a collection's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SizeDelta {
    pub(crate) bytes: i64,
    pub(crate) count: i64,
}

/// What a user's write reads before it writes (see `ReadTx::write_start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteStart {
    /// The uid is not retired (always true when not asked).
    pub(crate) live: bool,
    /// The user's last write (0 if none).
    pub(crate) user_modified: i64,
    /// The collection's last write, if asked for and it exists.
    pub(crate) collection_modified: Option<i64>,
}

/// What a write of BSOs did to their collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// The size change.
    pub(crate) delta: SizeDelta,
    /// The collection's bytes after it.
    pub(crate) collection_bytes: i64,
}
