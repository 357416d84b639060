//! The HTTP API, route by route as Mozilla's auth server answers it
//! (`fxa-auth-server/lib/routes`, `docs/api.md`): paths under `/v1`,
//! JSON bodies, refusals as `{code, errno, error, message}`.
//!
//! Every handler reads the whole request through [`Call`] (the body capped
//! at [`MAX_BODY`]), checks its credential with [`auth`], and runs its
//! database work and any scrypt off the async threads
//! ([`Service::blocking`]).

mod account;
pub(crate) mod auth;
mod devices;
pub(crate) mod issue;
mod keys;
mod oauth;
mod password;
mod profile;
mod session;
mod totp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::routing::{get, post};
use serde_json::Value;

use crate::Service;
use crate::error::ApiError;

/// The largest request body taken (device commands and their keys are the
/// largest thing clients send: a few KiB).
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// The API's routes.
pub(crate) fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/account/create", post(account::create))
        .route("/v1/account/login", post(account::login))
        .route(
            "/v1/account/login/send_unblock_code",
            post(account::send_unblock_code),
        )
        .route(
            "/v1/account/login/reject_unblock_code",
            post(account::reject_unblock_code),
        )
        .route(
            "/v1/account/status",
            get(account::status_get).post(account::status_post),
        )
        .route(
            "/v1/account/credentials/status",
            post(account::credentials_status),
        )
        .route("/v1/account/keys", get(keys::keys))
        .route("/v1/account/scoped-key-data", post(keys::scoped_key_data))
        .route("/v1/account/destroy", post(keys::destroy))
        .route("/v1/account/profile", get(profile::account_profile))
        .route("/v1/recovery_email/status", get(session::recovery_email_status))
        .route("/v1/recovery_email/resend_code", post(session::resend_code))
        .route(
            "/v1/recovery_email/verify_code",
            post(session::recovery_email_verify_code),
        )
        .route("/v1/session/status", get(session::status))
        .route("/v1/session/destroy", post(session::destroy))
        .route("/v1/session/verify_code", post(session::verify_code))
        .route("/v1/session/resend_code", post(session::resend_code))
        .route("/v1/session/duplicate", post(session::duplicate))
        .route("/v1/session/verify/totp", post(totp::verify))
        .route("/v1/totp/create", post(totp::create))
        .route("/v1/totp/destroy", post(totp::destroy))
        .route("/v1/totp/exists", get(totp::exists))
        .route("/v1/password/change/start", post(password::change_start))
        .route("/v1/password/change/finish", post(password::change_finish))
        .route("/v1/password/forgot/send_otp", post(password::forgot_send_otp))
        .route(
            "/v1/password/forgot/verify_otp",
            post(password::forgot_verify_otp),
        )
        .route(
            "/v1/password/forgot/verify_code",
            post(password::forgot_verify_code),
        )
        .route("/v1/account/reset", post(password::reset))
        .route("/v1/account/device", post(devices::update))
        .route("/v1/account/device/destroy", post(devices::destroy))
        .route("/v1/account/devices", get(devices::list))
        .route(
            "/v1/account/devices/invoke_command",
            post(devices::invoke_command),
        )
        .route("/v1/account/devices/notify", post(devices::notify))
        .route("/v1/account/device/commands", get(devices::commands))
        .route("/v1/account/attached_clients", get(devices::attached_clients))
        .route(
            "/v1/account/attached_client/destroy",
            post(devices::destroy_attached_client),
        )
        .route("/v1/oauth/token", post(oauth::token))
        .route("/v1/token", post(oauth::token))
        .route("/v1/oauth/authorization", post(oauth::authorization))
        .route("/v1/authorization", post(oauth::authorization))
        .route("/v1/oauth/destroy", post(oauth::destroy))
        .route("/v1/destroy", post(oauth::destroy))
        .route("/v1/verify", post(oauth::verify))
        .route("/v1/introspect", post(oauth::introspect))
        .route("/v1/jwks", get(oauth::jwks))
        .route("/profile/v1/profile", get(profile::profile))
        .route("/profile/v1/display_name", post(profile::set_display_name))
        .route(
            "/.well-known/fxa-client-configuration",
            get(profile::client_configuration),
        )
        .route(
            "/.well-known/openid-configuration",
            get(profile::openid_configuration),
        )
        .merge(crate::pages::router())
        .with_state(service)
}

/// A whole request: what handlers need of it.
pub(crate) struct Call {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The peer's address, when the server passes it on.
    pub peer: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequest<S> for Call {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::request_too_large())?;
        Ok(Call {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            peer,
        })
    }
}

impl Call {
    /// The body as a JSON object (an empty body is `{}`).
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        match serde_json::from_slice(&self.body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(ApiError::invalid_json()),
        }
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// `?keys=true`.
    pub fn wants_keys(&self) -> bool {
        self.query("keys").as_deref() == Some("true")
    }

    /// The client's address for throttling: the configured proxy header's
    /// left-most address when the service sits behind a proxy, else the
    /// peer's.
    pub fn client_ip(&self, service: &Service) -> String {
        if service.config.trust_forwarded_for {
            if let Some(forwarded) = self
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                return forwarded.to_owned();
            }
        }
        self.peer.map_or_else(|| "unknown".into(), |ip| ip.to_string())
    }

    /// The `User-Agent`, for the device list.
    pub fn user_agent(&self) -> String {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(255)
            .collect()
    }
}

/// A string member, errno 108 if missing.
pub(crate) fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_parameter(name))
}

/// An optional string member (errno 107 if present but not a string).
pub(crate) fn optional_text<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_parameter(name)),
    }
}

/// 32 bytes of hex (authPW, wrapKb…): errno 108 if missing, 107 if malformed.
pub(crate) fn hex32(body: &Value, name: &str) -> Result<[u8; 32], ApiError> {
    parse_hex32(text(body, name)?).ok_or_else(|| ApiError::invalid_parameter(name))
}

/// An optional [`hex32`].
pub(crate) fn optional_hex32(body: &Value, name: &str) -> Result<Option<[u8; 32]>, ApiError> {
    optional_text(body, name)?
        .map(|value| parse_hex32(value).ok_or_else(|| ApiError::invalid_parameter(name)))
        .transpose()
}

pub(crate) fn parse_hex32(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).ok().map(|()| out)
}

/// An email address as the auth server validates it: one `@`, something
/// either side, no spaces, at most 255 characters.
pub(crate) fn email(body: &Value) -> Result<&str, ApiError> {
    let email = text(body, "email")?;
    let valid = email.len() <= 255
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid_parameter("email"))
    }
}

/// The state every handler gets.
pub(crate) type S = axum::extract::State<Arc<Service>>;

/// What every handler answers.
pub(crate) type Answer = Result<axum::Json<Value>, ApiError>;

/// Runs a handler's work off the async threads.
pub(crate) async fn run(
    service: Arc<Service>,
    call: Call,
    f: impl FnOnce(&Service, &Call) -> Result<Value, ApiError> + Send + 'static,
) -> Answer {
    service
        .blocking(move |service| f(service, &call))
        .await
        .map(axum::Json)
}
