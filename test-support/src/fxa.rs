//! A stand-in for Firefox Accounts' OAuth server, on 127.0.0.1:0, so the
//! token server's FxA mode is tested over real HTTP without Mozilla.
//!
//! It answers `POST /v1/verify` as FxA's auth server does: `200 {"user",
//! "client_id", "scope": [...], "generation"}` for a token it vouches for,
//! `400 {"code": 400, "errno": 108, "error": "Bad Request", "message":
//! "Invalid token"}` otherwise. It vouches for the opaque tokens it issued
//! (until they expire or are revoked) and for JWTs signed with its keys.
//! `GET /v1/jwks` lists its public keys. Tests can make it fail
//! ([`FxaBehaviour::Failing`]), slow ([`FxaBehaviour::Slow`]) or gone (drop it).
//!
//! The two RSA keys are test fixtures (`fixtures/fxa_test_keys.json`,
//! made by `fixtures/make_fxa_keys.py`): the first plays FxA's primary
//! signing key, the second the next one, for rotation tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sync_storage::config::{OLDSYNC_SCOPE, RsaJwk};

use crate::background::Background;

/// How the stand-in answers `/v1/verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FxaBehaviour {
    /// As FxA does.
    Normal,
    /// 503, as FxA under maintenance.
    Failing,
    /// Answers normally, but only after this long.
    Slow(Duration),
}

/// One of the stand-in's signing keys.
#[derive(Clone)]
pub struct FxaKey {
    /// The public half, as a token server is configured with it.
    pub jwk: RsaJwk,
    private_der: Vec<u8>,
}

impl std::fmt::Debug for FxaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FxaKey").field("kid", &self.jwk.kid).finish()
    }
}

/// The two test keys: FxA's primary and its next one.
///
/// # Panics
/// If the fixture is damaged; this is test support.
#[allow(clippy::expect_used)]
pub fn test_keys() -> [FxaKey; 2] {
    let keys: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/fxa_test_keys.json")).expect("the key fixture");
    let key = |v: &Value| FxaKey {
        jwk: RsaJwk {
            kid: v["kid"].as_str().expect("kid").to_owned(),
            n: v["n"].as_str().expect("n").to_owned(),
            e: v["e"].as_str().expect("e").to_owned(),
        },
        private_der: base64::engine::general_purpose::STANDARD
            .decode(v["private_pkcs1_der_b64"].as_str().expect("private key"))
            .expect("base64"),
    };
    [key(&keys[0]), key(&keys[1])]
}

impl FxaKey {
    /// A JWT access token as FxA issues them (`typ: at+jwt`, RS256) with
    /// these claims.
    ///
    /// # Panics
    /// If the key does not sign; this is test support.
    #[allow(clippy::expect_used)]
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.jwk.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&self.private_der)).expect("signs")
    }
}

/// Claims of a sync access token for `user`, expiring in `ttl` (negative: already expired).
pub fn access_claims(user: &str, scope: &str, generation: Option<i64>, ttl_secs: i64) -> Value {
    let now = now_secs() as i64;
    let mut claims = json!({
        "sub": user,
        "scope": scope,
        "iat": now,
        "exp": now + ttl_secs,
        "client_id": "5882386c6d801776",
        "aud": "https://token.services.mozilla.com",
    });
    if let Some(g) = generation {
        claims["fxa-generation"] = json!(g);
    }
    claims
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Clone)]
struct Grant {
    user: String,
    scope: Vec<String>,
    generation: Option<i64>,
    expires: u64,
}

struct FxaState {
    behaviour: Mutex<FxaBehaviour>,
    grants: Mutex<HashMap<String, Grant>>,
    keys: [FxaKey; 2],
    verify_calls: AtomicUsize,
    next: AtomicUsize,
}

/// The running stand-in; stops when dropped.
pub struct StandInFxa {
    server: Background,
    state: Arc<FxaState>,
}

impl std::fmt::Debug for StandInFxa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandInFxa")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl StandInFxa {
    /// Starts on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// If it cannot bind; this is test support.
    pub fn start() -> Self {
        let state = Arc::new(FxaState {
            behaviour: Mutex::new(FxaBehaviour::Normal),
            grants: Mutex::new(HashMap::new()),
            keys: test_keys(),
            verify_calls: AtomicUsize::new(0),
            next: AtomicUsize::new(1),
        });
        let router = Router::new()
            .route("/v1/verify", post(verify))
            .route("/v1/jwks", get(jwks))
            .with_state(state.clone());
        StandInFxa {
            server: Background::start("stand-in-fxa", router),
            state,
        }
    }

    /// Its base URL: what `auth.fxa_oauth_server_url` is set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Its keys.
    pub fn keys(&self) -> &[FxaKey; 2] {
        &self.state.keys
    }

    /// An opaque (non-JWT) access token for `user`, valid for `ttl`.
    pub fn issue_opaque(&self, user: &str, scope: &str, generation: Option<i64>, ttl: Duration) -> String {
        let n = self.state.next.fetch_add(1, Ordering::Relaxed);
        let token = format!("{n:08x}{}", "5e".repeat(28));
        self.state.grants.lock().insert(
            token.clone(),
            Grant {
                user: user.to_owned(),
                scope: scope.split_whitespace().map(str::to_owned).collect(),
                generation,
                expires: now_secs() + ttl.as_secs(),
            },
        );
        token
    }

    /// An opaque sync token for `user`, valid for an hour.
    pub fn issue_sync_token(&self, user: &str) -> String {
        self.issue_opaque(user, OLDSYNC_SCOPE, None, Duration::from_secs(3600))
    }

    /// Revokes an opaque token, as signing out does.
    pub fn revoke(&self, token: &str) {
        self.state.grants.lock().remove(token);
    }

    /// Changes how it answers.
    pub fn set_behaviour(&self, behaviour: FxaBehaviour) {
        *self.state.behaviour.lock() = behaviour;
    }

    /// How many `/v1/verify` calls it has answered or is answering.
    pub fn verify_calls(&self) -> usize {
        self.state.verify_calls.load(Ordering::SeqCst)
    }
}

fn invalid_token() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"code": 400, "errno": 108, "error": "Bad Request", "message": "Invalid token"})),
    )
        .into_response()
}

async fn verify(State(state): State<Arc<FxaState>>, Json(body): Json<Value>) -> Response {
    state.verify_calls.fetch_add(1, Ordering::SeqCst);
    let behaviour = *state.behaviour.lock();
    match behaviour {
        FxaBehaviour::Failing => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"code": 503, "errno": 201, "error": "Service Unavailable"})),
            )
                .into_response();
        }
        FxaBehaviour::Slow(delay) => tokio::time::sleep(delay).await,
        FxaBehaviour::Normal => {}
    }
    let Some(token) = body.get("token").and_then(Value::as_str) else {
        return invalid_token();
    };
    let grant = state.grants.lock().get(token).cloned();
    let grant = match grant {
        Some(g) if g.expires > now_secs() => g,
        Some(_) => return invalid_token(),
        None => match verify_jwt(&state.keys, token) {
            Some(g) => g,
            None => return invalid_token(),
        },
    };
    let mut answer = json!({
        "user": grant.user,
        "client_id": "5882386c6d801776",
        "scope": grant.scope,
    });
    if let Some(g) = grant.generation {
        answer["generation"] = json!(g);
    }
    Json(answer).into_response()
}

/// FxA's `/v1/verify` vouches for its own JWT access tokens too.
fn verify_jwt(keys: &[FxaKey; 2], token: &str) -> Option<Grant> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    keys.iter().find_map(|key| {
        let decoding = DecodingKey::from_rsa_components(&key.jwk.n, &key.jwk.e).ok()?;
        let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .ok()?
            .claims;
        Some(Grant {
            user: claims["sub"].as_str()?.to_owned(),
            scope: claims["scope"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            generation: claims["fxa-generation"].as_i64(),
            expires: claims["exp"].as_u64()?,
        })
    })
}

async fn jwks(State(state): State<Arc<FxaState>>) -> Response {
    let keys: Vec<Value> = state
        .keys
        .iter()
        .map(|k| json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.jwk.kid, "n": k.jwk.n, "e": k.jwk.e}))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}
