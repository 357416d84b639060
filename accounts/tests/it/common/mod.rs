//! A real accounts service on loopback HTTP, on a temporary SQLite file,
//! whose mail lands in an outbox the test reads.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use sync_accounts::mail::Outbox;
use sync_accounts::{Accounts, AccountsConfig};

pub struct Server {
    pub accounts: Accounts,
    pub url: String,
    pub outbox: Arc<Outbox>,
    pub dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

/// Where a test's accounts live: `sync.db` in `dir`, or — when
/// `SYNC_TEST_POSTGRES` names a PostgreSQL server (`cargo xtask ci` starts
/// one) — a schema of its own there, kept for the test's life (its name is
/// written into `dir`, so a restart of the service finds it again).
pub fn database_in(dir: &std::path::Path) -> std::path::PathBuf {
    let Some(url) = std::env::var("SYNC_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return dir.join("sync.db");
    };
    let marker = dir.join("postgres-schema");
    let name = match std::fs::read_to_string(&marker) {
        Ok(name) => name,
        Err(_) => {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let name = format!(
                "accounts_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut client =
                postgres::Client::connect(&url, postgres::NoTls).expect("the test PostgreSQL server");
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
                ))
                .expect("a schema");
            std::fs::write(&marker, &name).expect("the marker");
            name
        }
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{name}").into()
}

/// Settings for tests: scrypt at 2^10 (the cost does not change the
/// protocol), everything else as shipped.
pub fn test_config() -> AccountsConfig {
    AccountsConfig {
        enabled: true,
        scrypt_log_n: 10,
        ..AccountsConfig::default()
    }
}

impl Server {
    /// The code in the newest message to `to`.
    pub fn code(&self, to: &str) -> String {
        self.outbox
            .last_code(to)
            .unwrap_or_else(|| panic!("no code was mailed to {to}"))
    }

    /// The subjects of every message to `to`, oldest first.
    pub fn subjects(&self, to: &str) -> Vec<String> {
        self.outbox.to(to).into_iter().map(|m| m.subject).collect()
    }

    pub fn start() -> Server {
        Self::with_config(test_config())
    }

    pub fn with_config(config: AccountsConfig) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self::on(config, dir)
    }

    /// The service on the database in `dir` (restarts keep it).
    pub fn on(config: AccountsConfig, dir: tempfile::TempDir) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let url = format!("http://{addr}");
        let database = database_in(dir.path());
        let accounts = Accounts::open(config, &url, &database, b"a test secret of enough length")
            .expect("the service opens");
        let outbox = Arc::new(Outbox::default());
        accounts.set_mail_transport(outbox.clone());
        let router = accounts.router();
        runtime.spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Server {
            accounts,
            url,
            outbox,
            dir,
            _runtime: runtime,
        }
    }

    pub fn fxa(&self) -> fxa_client::FirefoxAccount {
        fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&self.url)).expect("a client")
    }

    /// An account signed up and confirmed through the client.
    pub fn signed_up(&self, email: &str, password: &str) -> fxa_client::FirefoxAccount {
        let mut fxa = self.fxa();
        assert_eq!(
            fxa.sign_up(email, password).expect("sign-up"),
            fxa_client::SignInStatus::NeedsEmailCode
        );
        let code = self.code(email);
        assert_eq!(
            fxa.verify_email_code(&code).expect("the code confirms"),
            fxa_client::SignInStatus::SignedIn
        );
        fxa
    }

    /// A plain JSON request; the status and the body.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>, auth: Option<&str>) -> (u16, Value) {
        let client = reqwest::blocking::Client::new();
        let mut request = client.request(method.parse().expect("a method"), format!("{}{path}", self.url));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().expect("an answer");
        let status = response.status().as_u16();
        let text = response.text().expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A request Hawk-signed with the token `token_hex` of kind `kind`
    /// (`sessionToken`, `keyFetchToken`…), as Firefox signs them.
    pub fn hawk(
        &self,
        method: &str,
        path: &str,
        kind: &str,
        token_hex: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let header = self.hawk_header(method, path, kind, token_hex, body, SystemTime::now());
        self.call(method, path, body, Some(&header))
    }

    pub fn hawk_header(
        &self,
        method: &str,
        path: &str,
        kind: &str,
        token_hex: &str,
        body: Option<&Value>,
        at: SystemTime,
    ) -> String {
        let mut token = [0u8; 32];
        hex::decode_to_slice(token_hex, &mut token).expect("a hex token");
        let credentials = fxa_client::crypto::TokenCredentials::derive(&token, kind);
        let key = hawk::Key::new(credentials.hmac_key, hawk::DigestAlgorithm::Sha256).expect("a key");
        let url = url::Url::parse(&self.url).expect("the URL");
        let payload = body.map(|b| serde_json::to_vec(b).expect("JSON"));
        let hash = payload.as_ref().map(|p| {
            hawk::PayloadHasher::hash(b"application/json", hawk::DigestAlgorithm::Sha256, p).expect("a hash")
        });
        let mut request = hawk::RequestBuilder::new(
            method,
            url.host_str().expect("a host"),
            url.port().expect("a port"),
            path,
        );
        if let Some(hash) = &hash {
            request = request.hash(&hash[..]);
        }
        let credentials = hawk::Credentials {
            id: credentials.id.clone(),
            key,
        };
        let header = request
            .request()
            .make_header_full(&credentials, at, hex::encode(rand_nonce()))
            .expect("a header");
        format!("Hawk {header}")
    }
}

fn rand_nonce() -> [u8; 6] {
    let mut nonce = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce).expect("randomness");
    nonce
}

/// The claims of an access token, checked against the service's published
/// keys as a token server would.
pub fn verified_claims(server: &Server, token: &str) -> Value {
    let keys = server.accounts.public_keys();
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("a kid");
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .expect("signed by a published key");
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&key.n, &key.e).expect("an RSA key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("a valid token")
        .claims
}

impl Server {
    /// A session of a confirmed account made as a web page would
    /// (`/account/login` without keys): `(uid, sessionToken)`.
    pub fn raw_session(&self, email: &str, password: &str) -> (String, String) {
        let (_, status) = self.call(
            "POST",
            "/v1/account/credentials/status",
            Some(&serde_json::json!({ "email": email })),
            None,
        );
        let stretch = match status["clientSalt"].as_str() {
            Some(salt) => fxa_client::crypto::Stretch::V2 {
                client_salt: salt.to_owned(),
            },
            None => fxa_client::crypto::Stretch::V1,
        };
        let stretched =
            fxa_client::crypto::StretchedPassword::new(email, password, &stretch).expect("stretched");
        let (code, answer) = self.call(
            "POST",
            "/v1/account/login",
            Some(&serde_json::json!({ "email": email, "authPW": hex::encode(stretched.auth_pw()) })),
            None,
        );
        assert_eq!(code, 200, "{answer}");
        (
            answer["uid"].as_str().expect("uid").to_owned(),
            answer["sessionToken"].as_str().expect("a session").to_owned(),
        )
    }
}
