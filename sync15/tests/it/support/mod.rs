//! A minimal HTTP server on 127.0.0.1 for sync15's integration tests: it
//! records every request and answers with scripted replies (or a closure).
//!
//! This is deliberately not a storage server. The real one lives in
//! `storage/server`; here we only need to see what the client sends and to
//! play back any answer — including ones no correct server would give.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod memory;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use parking_lot::Mutex;
use sync15::{HawkCredentials, HttpClient, StorageClient};

/// The Hawk credentials every test client signs with.
pub const HAWK_ID: &str = "test-hawk-id";
pub const HAWK_KEY: &str = "test-hawk-key-of-some-length";
/// The storage endpoint's path on the test server.
pub const ENDPOINT_PATH: &str = "/1.5/42";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query parameters, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Reply::status(status)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&value).unwrap())
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply::status(status).body(body.as_bytes().to_vec())
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// The running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Answers every request with `responder`.
    pub fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let responder: Arc<Responder> = Arc::new(responder);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let seen = requests.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |request: Request<Body>| {
                    let responder = responder.clone();
                    let seen = seen.clone();
                    async move { handle(request, &*responder, &seen).await }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        TestServer {
            addr,
            requests,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Plays `replies` in order; a request beyond the script gets a 599 that
    /// makes the test fail loudly.
    pub fn scripted(replies: impl IntoIterator<Item = Reply>) -> Self {
        let script = Mutex::new(replies.into_iter().collect::<VecDeque<_>>());
        Self::start(move |_| {
            script
                .lock()
                .pop_front()
                .unwrap_or_else(|| Reply::text(599, "the test script has no reply for this request"))
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The storage endpoint URL, as a token would name it.
    pub fn endpoint(&self) -> String {
        self.url(ENDPOINT_PATH)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().len()
    }

    pub fn last_request(&self) -> Recorded {
        self.requests
            .lock()
            .last()
            .cloned()
            .expect("the server saw a request")
    }

    /// A storage client signing with [`HAWK_ID`]/[`HAWK_KEY`].
    pub fn storage_client(&self) -> StorageClient {
        StorageClient::with_credentials(
            HttpClient::new().unwrap(),
            &self.endpoint(),
            HawkCredentials::new(HAWK_ID, HAWK_KEY).unwrap(),
        )
        .unwrap()
    }

    /// Whether `request` carries a valid Hawk header for this server's
    /// address and the test credentials (checked with the `hawk` crate, as a
    /// server would).
    pub fn hawk_is_valid(&self, request: &Recorded) -> bool {
        let Some(header) = request.header("authorization") else {
            return false;
        };
        let Some(header) = header.strip_prefix("Hawk ") else {
            return false;
        };
        let Ok(header) = header.parse::<hawk::Header>() else {
            return false;
        };
        if header.id.as_deref() != Some(HAWK_ID) {
            return false;
        }
        let key = hawk::Key::new(HAWK_KEY.as_bytes(), hawk::DigestAlgorithm::Sha256).unwrap();
        let path = request.path_and_query();
        hawk::RequestBuilder::new(&request.method, "127.0.0.1", self.port(), &path)
            .request()
            .validate_header(&header, &key, std::time::Duration::from_secs(60))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    request: Request<Body>,
    responder: &Responder,
    seen: &Mutex<Vec<Recorded>>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let reply = responder(&recorded);
    seen.lock().push(recorded);
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}
