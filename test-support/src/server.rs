//! The real server, in process, and accounts on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sync_manager::SyncAuth;
use sync_storage::config::Config;
use sync_storage::db::Db;
use sync_storage::{RunningServer, Server};
use sync15::{
    CollectionKeys, Guid, HttpClient, IncomingBso, OutgoingBso, OutgoingEnvelope, OutgoingRecord,
    Precondition, ServerTimestamp, StorageClient, SyncRootKey, Token, TokenClient, Uploader,
};

/// `sync-storage` on 127.0.0.1:0 with a temporary SQLite file; stops and
/// deletes the file when dropped.
pub struct TestServer {
    pub(crate) server: RunningServer,
    pub(crate) outbox: Option<Arc<crate::mail::Outbox>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.server.url())
            .finish()
    }
}

impl TestServer {
    /// Starts a server with default limits.
    ///
    /// # Panics
    /// If the server cannot start; this is test support.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts a server with adjusted configuration.
    ///
    /// # Panics
    /// If the server cannot start; this is test support.
    #[allow(clippy::expect_used)]
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config {
            bind: "127.0.0.1:0".parse().expect("a loopback address"),
            database: dir.path().join("sync.db"),
            ..Config::default()
        };
        tweak(&mut config);
        TestServer {
            server: Server::start(config).expect("the test server starts"),
            outbox: None,
            _dir: dir,
        }
    }

    /// The server's base URL (the token server is under it).
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// Where `/metrics` is served, when `metrics_bind` was set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.metrics_addr()
    }

    /// The server's database, for operator actions (node reassignment, purges).
    pub fn db(&self) -> &Arc<Db> {
        self.server.db()
    }

    /// A new account with fresh random keys.
    ///
    /// # Panics
    /// If the server is not in dev mode.
    #[allow(clippy::expect_used)]
    pub fn new_account(&self, email: &str) -> TestAccount {
        static KEYS: AtomicU64 = AtomicU64::new(1);
        let seed = format!(
            "{email}-{}-{}",
            KEYS.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
        let root_key = SyncRootKey::new(digest.as_ref(), 1_000).expect("32-byte kB");
        TestAccount {
            email: email.to_owned(),
            fxa_uid: dev_fxa_uid(email),
            oauth_token: self.server.mint_token(email).expect("a dev-mode server"),
            root_key,
            token_server_url: self.url().to_owned(),
        }
    }
}

/// The fxa uid a dev-mode token for `email` names (see `mint_dev_token`).
pub(crate) fn dev_fxa_uid(email: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, email.trim().to_lowercase().as_bytes());
    hex::encode(&digest.as_ref()[..16])
}

/// An account: what a signed-in device knows.
#[derive(Clone)]
pub struct TestAccount {
    /// The account's email.
    pub email: String,
    /// The account id the token server knows it by (the OAuth token's `sub`).
    pub fxa_uid: String,
    /// An OAuth access token for the token server (dev-mode, or from a sign-in).
    pub oauth_token: String,
    /// The sync key (from kB, or the scoped key a sign-in got).
    pub root_key: SyncRootKey,
    /// Where the token server is.
    pub token_server_url: String,
}

impl std::fmt::Debug for TestAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAccount")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl TestAccount {
    /// What a device signed in with `fxa-client` syncs with: its access
    /// token and the oldsync scoped key, against the token server at
    /// `token_server_url`.
    pub fn signed_in(
        fxa: &mut fxa_client::FirefoxAccount,
        token_server_url: &str,
    ) -> Result<Self, fxa_client::FxaError> {
        Ok(TestAccount {
            email: fxa.state().map(|s| s.email.clone()).unwrap_or_default(),
            fxa_uid: fxa.state().map(|s| s.uid.clone()).unwrap_or_default(),
            oauth_token: fxa.access_token()?,
            root_key: fxa.sync_root_key()?,
            token_server_url: token_server_url.to_owned(),
        })
    }

    /// The auth a device syncs with.
    pub fn auth(&self) -> SyncAuth {
        SyncAuth::OAuth {
            token_server_url: self.token_server_url.clone(),
            access_token: self.oauth_token.clone(),
            root_key: self.root_key.clone(),
        }
    }

    /// The account's fxa uid, as the token server's users table has it.
    pub fn fxa_uid(&self) -> String {
        self.fxa_uid.clone()
    }

    /// A fresh storage token (a token-server request).
    ///
    /// # Panics
    /// If the token server refuses.
    #[allow(clippy::expect_used)]
    pub fn token(&self) -> Token {
        TokenClient::new(HttpClient::new().expect("an HTTP client"), &self.token_server_url)
            .expect("a token server URL")
            .fetch_token(&self.oauth_token, &self.root_key.key_id())
            .expect("a token")
    }

    /// Direct access to what the server stores for this account.
    pub fn raw(&self) -> RawServer {
        RawServer::new(&self.token())
    }

    /// The account's collection keys, from the server's `crypto/keys`.
    ///
    /// # Panics
    /// If there are none or they do not decrypt.
    #[allow(clippy::expect_used)]
    pub fn collection_keys(&self) -> CollectionKeys {
        let bso = self
            .raw()
            .bso("crypto", "keys")
            .expect("crypto/keys on the server");
        CollectionKeys::from_bso(&bso, &self.root_key.sync_key_bundle()).expect("crypto/keys decrypts")
    }

    /// A record of `collection` as another client would see it, decrypted.
    ///
    /// # Panics
    /// If it does not decrypt.
    #[allow(clippy::expect_used)]
    pub fn cleartext(&self, collection: &str, id: &str) -> Option<serde_json::Value> {
        let bso = self.raw().bso(collection, id)?;
        let record = self
            .collection_keys()
            .key_for_collection(collection)
            .decrypt(&bso)
            .expect("the record decrypts");
        Some(serde_json::Value::Object(record.cleartext.into_map()))
    }

    /// Writes `cleartext` (a JSON object with an `id`) to `collection`,
    /// encrypted as a real client would — to play a client this code does
    /// not know, e.g. one that writes extra fields.
    ///
    /// # Panics
    /// If it cannot be encrypted or written.
    #[allow(clippy::expect_used)]
    pub fn put_cleartext(&self, collection: &str, cleartext: &serde_json::Value) {
        let id = cleartext["id"].as_str().expect("the record has an id");
        let record =
            OutgoingRecord::from_content(OutgoingEnvelope::new(Guid::new(id)), cleartext).expect("a record");
        let bso = self
            .collection_keys()
            .key_for_collection(collection)
            .encrypt(&record)
            .expect("encrypts");
        self.raw()
            .client()
            .put_record(collection, &bso, Precondition::None)
            .expect("the write succeeds");
    }

    /// Writes `cleartext` (any JSON text) as the record `id` of
    /// `collection`, encrypted as a real client would but without adding an
    /// `id` to it — as application-services writes tombstones
    /// (`{"deleted": true}`, `OutgoingBso::new_tombstone`).
    ///
    /// # Panics
    /// If it cannot be encrypted or written.
    #[allow(clippy::expect_used)]
    pub fn put_cleartext_text(&self, collection: &str, id: &str, cleartext: &str) {
        let encrypted = self
            .collection_keys()
            .key_for_collection(collection)
            .encrypt_bytes(cleartext.as_bytes())
            .expect("encrypts");
        let bso = OutgoingBso {
            envelope: OutgoingEnvelope::new(Guid::new(id)),
            payload: serde_json::to_string(&encrypted).expect("a payload"),
        };
        self.raw()
            .client()
            .put_record(collection, &bso, Precondition::None)
            .expect("the write succeeds");
    }

    /// Writes many `records` (JSON objects with an `id`) to `collection` in
    /// batches after what is there, encrypted as a real client would;
    /// folders (`"type": "folder"`) get the folder sortindex Firefox gives
    /// them. For benchmarks that need another client's large upload.
    ///
    /// # Panics
    /// If anything fails or the server does not commit every record.
    #[allow(clippy::expect_used)]
    pub fn upload_cleartexts(&self, collection: &str, records: &[serde_json::Value]) {
        let keys = self.collection_keys();
        let bundle = keys.key_for_collection(collection);
        let raw = self.raw();
        let config = raw.client().info_configuration().expect("info/configuration");
        let since = raw
            .client()
            .info_collections(Precondition::None)
            .expect("info/collections")
            .value
            .get(collection)
            .unwrap_or(ServerTimestamp::ZERO);
        let mut uploader = Uploader::new(raw.client(), collection, &config, since, |_, _| Ok(()));
        for cleartext in records {
            let mut envelope = OutgoingEnvelope::new(Guid::new(cleartext["id"].as_str().expect("an id")));
            if cleartext["type"] == "folder" {
                envelope = envelope.with_sortindex(1_000_000);
            }
            let record = OutgoingRecord::from_content(envelope, cleartext).expect("a record");
            uploader
                .enqueue(&bundle.encrypt(&record).expect("encrypts"))
                .expect("queued");
        }
        let committed = uploader.finish().expect("the upload finishes").committed.len();
        assert_eq!(committed, records.len(), "every record committed");
    }
}

/// What the server holds for one account, read and written over real HTTP
/// with no manager or engine in between.
pub struct RawServer {
    client: StorageClient,
}

impl RawServer {
    /// For the account `token` belongs to.
    ///
    /// # Panics
    /// If the token's endpoint is not a URL.
    #[allow(clippy::expect_used)]
    pub fn new(token: &Token) -> Self {
        RawServer {
            client: StorageClient::new(HttpClient::new().expect("an HTTP client"), token)
                .expect("a storage client"),
        }
    }

    /// The protocol client, for anything not covered here.
    pub fn client(&self) -> &StorageClient {
        &self.client
    }

    /// Every BSO of a collection (empty if it does not exist).
    ///
    /// # Panics
    /// On a server error.
    #[allow(clippy::expect_used)]
    pub fn bsos(&self, collection: &str) -> Vec<IncomingBso> {
        let request = sync15::CollectionRequest::new(collection);
        sync15::DownloadPager::new(&self.client, request, 1000)
            .flat_map(|page| page.expect("a page").records)
            .collect()
    }

    /// One BSO, if present.
    ///
    /// # Panics
    /// On a server error other than 404.
    #[allow(clippy::expect_used)]
    pub fn bso(&self, collection: &str, id: &str) -> Option<IncomingBso> {
        match self
            .client
            .get_record(collection, &Guid::new(id), Precondition::None)
        {
            Ok(fetched) => Some(fetched.value),
            Err(sync15::Error::NotFound) => None,
            Err(e) => panic!("reading {collection}/{id}: {e}"),
        }
    }

    /// Overwrites a BSO's payload with anything (corruption tests).
    ///
    /// # Panics
    /// On a server error.
    #[allow(clippy::expect_used)]
    pub fn put_raw(&self, collection: &str, id: &str, payload: &str) {
        let bso = OutgoingBso {
            envelope: OutgoingEnvelope::new(Guid::new(id)),
            payload: payload.to_owned(),
        };
        self.client
            .put_record(collection, &bso, Precondition::None)
            .expect("the write succeeds");
    }

    /// Deletes a collection (no error if it does not exist).
    ///
    /// # Panics
    /// On a server error other than 404.
    pub fn delete_collection(&self, collection: &str) {
        match self.client.delete_collection(collection, Precondition::None) {
            Ok(_) | Err(sync15::Error::NotFound) => {}
            Err(e) => panic!("deleting {collection}: {e}"),
        }
    }

    /// Collections and their times.
    ///
    /// # Panics
    /// On a server error.
    #[allow(clippy::expect_used)]
    pub fn collections(&self) -> Vec<String> {
        let info = self
            .client
            .info_collections(Precondition::None)
            .expect("info/collections")
            .value;
        let mut names: Vec<String> = info.iter().map(|(c, _)| c.to_owned()).collect();
        names.sort();
        names
    }
}
