//! Binding, serving, background work and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::api::{self, AppState};
use crate::auth::{HawkVerifier, OAuthVerifier, TokenSecrets, mint_dev_token};
use crate::config::{AuthMode, Config, ConfigError, MasterSecrets, Role};
use crate::db::Db;
use crate::error::ServerError;
use crate::metrics::Metrics;
use sync_accounts::Accounts;

/// How often expired BSOs and batches are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How often the database's upkeep runs (`Db::tidy`).
const TIDY_EVERY: Duration = Duration::from_secs(2);

/// A bound server, ready to serve.
pub struct Server {
    state: Arc<AppState>,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    metrics_listener: Option<std::net::TcpListener>,
    accounts: Option<Accounts>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Binds the configured address (port 0 picks a free one), opens the
    /// database, and resolves the secrets (generating and storing them in the
    /// database on first start when the configuration has none).
    pub fn bind(mut config: Config) -> Result<Server, ServerError> {
        config.validate()?;
        let listener = std::net::TcpListener::bind(config.bind).map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let metrics_listener = match config.metrics_bind {
            Some(metrics_addr) => {
                let l = std::net::TcpListener::bind(metrics_addr).map_err(|source| ServerError::Bind {
                    addr: metrics_addr,
                    source,
                })?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        let database = config.database.clone();
        let db_err = |source| ServerError::Db {
            path: crate::db::redacted(&database),
            source,
        };
        let options = crate::db::OpenOptions {
            postgres_pool_size: config.postgres_pool_size,
        };
        let mut db = Db::open_with(&config.database, &options).map_err(db_err)?;
        if config.role == Role::All {
            // The accounts live here too: writes check their uid is live.
            db = db.refusing_retired_users();
        }
        let db = Arc::new(db);
        if config.role.serves_tokens() {
            // The configured nodes join the nodes table; `sync-storage node`
            // manages it from there.
            db.register_nodes(&config.nodes()).map_err(db_err)?;
        }
        if config.master_secret.is_empty() {
            // Role `all` only (validate() requires the others to configure
            // one): a secret nobody else needs to know, kept across restarts.
            let fresh = crate::auth::random_secret()?;
            config.master_secret = MasterSecrets(vec![
                db.setting_or_init("master_secret", || fresh).map_err(db_err)?,
            ]);
        }
        let accounts = if config.accounts.enabled {
            Some(crate::accounts::open(&mut config, &db)?)
        } else {
            None
        };
        if config.auth.mode == AuthMode::Dev && config.auth.dev_secret.is_none() {
            let fresh = crate::auth::random_secret()?;
            config.auth.dev_secret = Some(db.setting_or_init("dev_secret", || fresh).map_err(db_err)?);
        }
        let public_url = config.public_url();
        let default_port = if public_url.starts_with("https://") {
            443
        } else {
            80
        };
        let default_port = public_url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
            .map_or(default_port, |authority| {
                api::split_host(authority, default_port).1
            });
        let secrets = TokenSecrets::new(&config.master_secret.0, config.metrics_hash_secret.as_deref())
            .map_err(|e| ServerError::Config(ConfigError::Invalid(e.to_string())))?;
        let state = AppState {
            secrets,
            metrics: Arc::new(Metrics::new()),
            hawk: HawkVerifier::new(
                Duration::from_secs(config.hawk_skew_secs),
                usize::try_from(config.hawk_nonce_cache_bytes).unwrap_or(usize::MAX),
            ),
            oauth: OAuthVerifier::new(&config.auth)?,
            default_port,
            db_gate: crate::api::DbGate::for_limit(db.connection_limit()),
            db,
            config,
        };
        let state = Arc::new(state);
        if let Some(accounts) = &accounts {
            crate::accounts::follow_key_rotations(accounts, Arc::downgrade(&state));
        }
        Ok(Server {
            state,
            listener,
            addr,
            metrics_listener,
            accounts,
        })
    }

    /// The accounts service, when `[accounts]` enables it.
    pub fn accounts(&self) -> Option<&Accounts> {
        self.accounts.as_ref()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The base URL clients use (the token server is at `<url>/1.0/sync/1.5`).
    pub fn public_url(&self) -> String {
        self.state.config.public_url()
    }

    /// The dev-mode token secret (configured or generated), if in dev mode.
    pub fn dev_secret(&self) -> Option<String> {
        match self.state.config.auth.mode {
            AuthMode::Dev => self.state.config.auth.dev_secret.clone(),
            AuthMode::Fxa => None,
        }
    }

    /// The database.
    pub fn db(&self) -> Arc<Db> {
        self.state.db.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let db = self.state.db.clone();
        let metrics = self.state.metrics.clone();
        let purger = tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                every.tick().await;
                let db = db.clone();
                let started = std::time::Instant::now();
                match tokio::task::spawn_blocking(move || db.purge_expired()).await {
                    Ok(Ok(n)) => {
                        metrics.purged(n, started.elapsed());
                        if n > 0 {
                            tracing::info!(rows = n, "purged expired data");
                        }
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "purge failed"),
                    Err(e) => tracing::warn!(error = %e, "purge task failed"),
                }
            }
        });
        let db = self.state.db.clone();
        let metrics = self.state.metrics.clone();
        let tidier = tokio::spawn(async move {
            let mut every = tokio::time::interval(TIDY_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let db = db.clone();
                // Pending batches are counted here, not at scrape time: see
                // `Metrics::set_pending_batches`.
                let upkeep = move || {
                    let started = std::time::Instant::now();
                    let tidied = db.tidy();
                    (tidied, started.elapsed(), db.pending_batches())
                };
                match tokio::task::spawn_blocking(upkeep).await {
                    Ok((tidied, took, pending)) => {
                        match tidied {
                            Ok(0) => {}
                            Ok(n) => tracing::debug!(tables = n, ?took, "vacuumed"),
                            Err(e) => tracing::warn!(error = %e, "database upkeep failed"),
                        }
                        match pending {
                            Ok(n) => metrics.set_pending_batches(n),
                            Err(e) => tracing::warn!(error = %e, "counting pending batches failed"),
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "database upkeep task failed"),
                }
            }
        });
        let metrics_server = match self.metrics_listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l)?;
                tracing::info!(addr = ?l.local_addr().ok(), "serving /metrics");
                let router = api::metrics_router(self.state.clone());
                Some(tokio::spawn(async move {
                    if let Err(e) = axum::serve(l, router).await {
                        tracing::warn!(error = %e, "metrics listener stopped");
                    }
                }))
            }
            None => None,
        };
        tracing::info!(addr = %self.addr, url = %self.state.config.public_url(), "serving");
        let connections = self.state.config.connections.clone();
        let metrics = self.state.metrics.clone();
        let accounts = self.accounts.as_ref().map(|accounts| {
            tracing::info!(url = %accounts.public_url(), "serving Firefox Accounts");
            accounts.router()
        });
        let router = api::router(self.state, accounts);
        let result = crate::listen::serve(listener, router, &connections, metrics, shutdown).await;
        purger.abort();
        tidier.abort();
        if let Some(m) = metrics_server {
            m.abort();
        }
        tracing::info!("stopped");
        Ok(result?)
    }

    /// Serves on a runtime of its own, in a background thread, until the
    /// returned handle is stopped or dropped. For tests and embedding.
    pub fn start(config: Config) -> Result<RunningServer, ServerError> {
        let server = Server::bind(config)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let addr = server.local_addr();
        let metrics_addr = server.metrics_addr();
        let public_url = server.public_url();
        let dev_secret = server.dev_secret();
        let db = server.db();
        let state = server.state.clone();
        let accounts = server.accounts.clone();
        let thread = std::thread::Builder::new()
            .name("sync-storage".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                runtime.block_on(server.serve(async {
                    let _ = rx.await;
                }))
            })?;
        Ok(RunningServer {
            addr,
            metrics_addr,
            public_url,
            dev_secret,
            db,
            state,
            accounts,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

/// A server running in the background; stops when dropped.
pub struct RunningServer {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    public_url: String,
    dev_secret: Option<String>,
    db: Arc<Db>,
    state: Arc<AppState>,
    accounts: Option<Accounts>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish()
    }
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if `metrics_bind` was set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.public_url
    }

    /// The database, for tests that inspect or tamper with stored data.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The accounts service, when `[accounts]` enables it.
    pub fn accounts(&self) -> Option<&Accounts> {
        self.accounts.as_ref()
    }

    /// How many Hawk nonces the server remembers, and an upper bound of
    /// the bytes they take.
    pub fn hawk_nonce_cache_size(&self) -> (usize, usize) {
        self.state.hawk.nonce_cache_size()
    }

    /// A dev-mode OAuth token for `email` (dev mode only).
    pub fn mint_token(&self, email: &str) -> Option<String> {
        let secret = self.dev_secret.as_deref()?;
        mint_dev_token(secret, email, 0, 3600).ok()
    }

    /// The dev-mode token secret, if in dev mode.
    pub fn dev_secret(&self) -> Option<&str> {
        self.dev_secret.as_deref()
    }

    /// Stops accepting, finishes in-flight requests, and waits.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown_and_join()
    }

    fn shutdown_and_join(&mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServerError::Io(std::io::Error::other(
                "the server thread panicked",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_and_join() {
            tracing::warn!(error = %e, "server stopped with an error");
        }
    }
}
