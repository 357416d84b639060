//! Prometheus metrics, served as OpenMetrics text at `/metrics` on the
//! optional `metrics_bind` listener (never on the public one).
//!
//! - `sync_storage_requests_total{route, method, status}` and
//!   `sync_storage_request_duration_seconds{route, method}`: the route is
//!   the matched template (`/1.5/{uid}/storage/{collection}`), never the
//!   raw path, so the label set stays small and carries no user ids.
//! - `sync_storage_db_readers{state}` and `sync_storage_db_waiting`
//!   (requests queued for a PostgreSQL connection): read at scrape time,
//!   which never waits for the database; `sync_storage_pending_batches`:
//!   counted by the server's upkeep every 2 s.
//! - batch commits and committed records, expired-data purges (runs, rows,
//!   last duration), storage tokens issued, FxA verification failures by kind.
//! - `sync_storage_connections_open`, and `sync_storage_connections_refused_total`:
//!   clients answered 503 (or closed) because `connections.max` were open.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::auth::OAuthError;
use crate::db::Db;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Every figure the server keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    db_readers: Family<KindLabels, Gauge>,
    pending_batches: Gauge,
    batches_committed: Counter,
    batch_records_committed: Counter,
    purge_runs: Counter,
    purged_rows: Counter,
    purge_last_ms: Gauge,
    tokens_issued: Counter,
    fxa_failures: Family<KindLabels, Counter>,
    connections_open: Gauge,
    db_waiting: Gauge,
    connections_refused: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

/// Request latency buckets, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set of figures, registered under `sync_storage_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sync_storage");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "request_duration_seconds",
            "Time to answer HTTP requests",
            latency.clone(),
        );
        let db_readers = Family::<KindLabels, Gauge>::default();
        registry.register(
            "db_readers",
            "Reader connections in the database pool, by state",
            db_readers.clone(),
        );
        let pending_batches = Gauge::default();
        registry.register(
            "pending_batches",
            "Batch uploads started and not yet committed or expired",
            pending_batches.clone(),
        );
        let batches_committed = Counter::default();
        registry.register(
            "batches_committed",
            "Batch uploads committed",
            batches_committed.clone(),
        );
        let batch_records_committed = Counter::default();
        registry.register(
            "batch_records_committed",
            "Records stored by batch commits",
            batch_records_committed.clone(),
        );
        let purge_runs = Counter::default();
        registry.register(
            "purge_runs",
            "Purges of expired records and batches",
            purge_runs.clone(),
        );
        let purged_rows = Counter::default();
        registry.register(
            "purged_rows",
            "Expired records and batches purged",
            purged_rows.clone(),
        );
        let purge_last_ms = Gauge::default();
        registry.register(
            "purge_last_duration_milliseconds",
            "How long the last purge took",
            purge_last_ms.clone(),
        );
        let tokens_issued = Counter::default();
        registry.register("tokens_issued", "Storage tokens issued", tokens_issued.clone());
        let fxa_failures = Family::<KindLabels, Counter>::default();
        registry.register(
            "fxa_verification_failures",
            "Bearer tokens not accepted, by kind",
            fxa_failures.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections being served",
            connections_open.clone(),
        );
        let db_waiting = Gauge::default();
        registry.register(
            "db_waiting",
            "Requests queued for a database connection (PostgreSQL: more than postgres_pool_size at once)",
            db_waiting.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Client connections refused because connections.max were open",
            connections_refused.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            db_readers,
            pending_batches,
            batches_committed,
            batch_records_committed,
            purge_runs,
            purged_rows,
            purge_last_ms,
            tokens_issued,
            fxa_failures,
            connections_open,
            db_waiting,
            connections_refused,
        }
    }

    /// One answered request. The labels are static: a route template and
    /// a method name, so counting costs no allocation.
    pub fn request(&self, route: &'static str, method: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// A batch commit of `records` records.
    pub fn batch_committed(&self, records: usize) {
        self.batches_committed.inc();
        self.batch_records_committed.inc_by(records as u64);
    }

    /// One purge that removed `rows` rows in `took`.
    pub fn purged(&self, rows: usize, took: Duration) {
        self.purge_runs.inc();
        self.purged_rows.inc_by(rows as u64);
        self.purge_last_ms
            .set(i64::try_from(took.as_millis()).unwrap_or(i64::MAX));
    }

    /// How many client connections are being served.
    pub fn set_connections_open(&self, open: usize) {
        self.connections_open.set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Batch uploads started and neither committed nor purged, as the
    /// server's upkeep last counted them (every few seconds): a scrape
    /// never waits for a database connection, which is when it is needed.
    pub fn set_pending_batches(&self, pending: i64) {
        self.pending_batches.set(pending);
    }

    /// How many requests are queued for a database connection.
    pub fn set_db_waiting(&self, waiting: usize) {
        self.db_waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// One client refused at the connection cap.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// One storage token issued.
    pub fn token_issued(&self) {
        self.tokens_issued.inc();
    }

    /// One bearer token not accepted.
    pub fn fxa_verification(&self, error: &OAuthError) {
        let kind = match error {
            OAuthError::Invalid(_) => "invalid",
            OAuthError::MissingScope => "scope",
            OAuthError::Unavailable(_) => "unavailable",
            OAuthError::Config(_) => "config",
        };
        self.fxa_failures.get_or_create(&KindLabels { kind }).inc();
    }

    /// The OpenMetrics text, with the database figures read now.
    pub fn render(&self, db: &Arc<Db>) -> String {
        let (connections, idle) = db.reader_pool_state();
        self.db_readers
            .get_or_create(&KindLabels { kind: "idle" })
            .set(i64::from(idle));
        self.db_readers
            .get_or_create(&KindLabels { kind: "busy" })
            .set(i64::from(connections.saturating_sub(idle)));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_render_as_openmetrics() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("m.db")).unwrap());
        let m = Metrics::new();
        m.request(
            "/1.5/{uid}/info/collections",
            "GET",
            200,
            Duration::from_millis(3),
        );
        m.batch_committed(7);
        m.purged(3, Duration::from_millis(12));
        m.token_issued();
        m.fxa_verification(&OAuthError::Unavailable("down".into()));
        let text = m.render(&db);
        for expected in [
            "sync_storage_requests_total{route=\"/1.5/{uid}/info/collections\",method=\"GET\",status=\"200\"} 1",
            "sync_storage_request_duration_seconds_count{route=\"/1.5/{uid}/info/collections\",method=\"GET\"} 1",
            "sync_storage_batch_records_committed_total 7",
            "sync_storage_purged_rows_total 3",
            "sync_storage_purge_last_duration_milliseconds 12",
            "sync_storage_tokens_issued_total 1",
            "sync_storage_fxa_verification_failures_total{kind=\"unavailable\"} 1",
            "sync_storage_pending_batches 0",
            "sync_storage_db_readers{kind=\"idle\"}",
            "# EOF",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }
}
