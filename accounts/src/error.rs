//! Errors: what the service's own code can fail with ([`AccountsError`]),
//! and the refusals clients see ([`ApiError`]) — the auth server's JSON
//! shape `{code, errno, error, message}` with its errno numbers
//! (`fxa-shared/lib/errors`, the auth server's `docs/api.md`; the OAuth
//! routes keep the OAuth server's own numbering).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What can go wrong opening or running the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountsError {
    /// The database failed.
    #[error("accounts database: {0}")]
    Sql(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("accounts database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("accounts database: {0}")]
    Postgres(#[from] postgres::Error),
    /// A stored value cannot be read (or the at-rest key is wrong).
    #[error("accounts data: {0}")]
    Corrupt(String),
    /// The configuration is unusable.
    #[error("accounts configuration: {0}")]
    Config(String),
    /// Randomness or key generation failed.
    #[error("accounts crypto: {0}")]
    Crypto(String),
    /// Mail could not be sent.
    #[error("accounts mail: {0}")]
    Mail(String),
    /// An operation was refused (an admin command on an unknown account…).
    #[error("{0}")]
    Refused(String),
}

/// A refusal, as the auth server answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The errno.
    pub errno: u32,
    /// Its message.
    pub message: String,
    /// Members added to the body (`retryAfter`, `email`, …).
    pub extra: Value,
}

impl ApiError {
    /// A refusal with no extra members.
    pub fn new(status: u16, errno: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errno,
            message: message.into(),
            extra: json!({}),
        }
    }

    /// Adds body members.
    pub fn with(mut self, extra: Value) -> Self {
        self.extra = extra;
        self
    }

    pub(crate) fn account_exists(email: &str) -> Self {
        Self::new(400, 101, "Account already exists").with(json!({ "email": email }))
    }
    pub(crate) fn unknown_account(email: &str) -> Self {
        Self::new(400, 102, "Unknown account").with(json!({ "email": email }))
    }
    /// A wrong password; the account's own spelling of the address rides
    /// along (and a different case is errno 120, so the client can
    /// re-stretch with it), as `AppError.incorrectPassword` does.
    pub(crate) fn incorrect_password(stored_email: &str, given_email: &str) -> Self {
        if stored_email != given_email {
            return Self::incorrect_email_case(stored_email);
        }
        Self::new(400, 103, "Incorrect password").with(json!({ "email": stored_email }))
    }
    pub(crate) fn invalid_verification_code() -> Self {
        Self::new(400, 105, "Invalid verification code")
    }
    pub(crate) fn unverified_account() -> Self {
        Self::new(400, 104, "Unverified account")
    }
    pub(crate) fn invalid_json() -> Self {
        Self::new(400, 106, "Invalid JSON in request body")
    }
    pub(crate) fn invalid_parameter(what: &str) -> Self {
        Self::new(400, 107, format!("Invalid parameter in request body: {what}"))
    }
    pub(crate) fn missing_parameter(what: &str) -> Self {
        Self::new(400, 108, format!("Missing parameter in request body: {what}"))
    }
    pub(crate) fn invalid_signature() -> Self {
        Self::new(401, 109, "Invalid request signature")
    }
    pub(crate) fn invalid_token() -> Self {
        Self::new(401, 110, "Invalid authentication token in request signature")
    }
    pub(crate) fn invalid_timestamp() -> Self {
        Self::new(401, 111, "Invalid timestamp in request signature").with(json!({
            "serverTime": crate::now_ms() / 1000,
        }))
    }
    pub(crate) fn request_too_large() -> Self {
        Self::new(413, 113, "Request body too large")
    }
    pub(crate) fn throttled(retry_after_secs: u64) -> Self {
        Self::new(429, 114, "Client has sent too many requests").with(json!({
            "retryAfter": retry_after_secs,
            "retryAfterLocalized": format!("in {retry_after_secs} seconds"),
        }))
    }
    pub(crate) fn incorrect_email_case(email: &str) -> Self {
        Self::new(400, 120, "Incorrect email case").with(json!({ "email": email }))
    }
    pub(crate) fn unknown_device() -> Self {
        Self::new(400, 123, "Unknown device")
    }
    pub(crate) fn request_blocked() -> Self {
        Self::new(400, 125, "The request was blocked for security reasons").with(json!({
            "verificationMethod": "email-captcha",
            "verificationReason": "login",
        }))
    }
    pub(crate) fn invalid_unblock_code() -> Self {
        Self::new(400, 127, "Invalid unblock code")
    }
    pub(crate) fn unverified_session() -> Self {
        Self::new(400, 138, "Unconfirmed session")
    }
    pub(crate) fn invalid_code() -> Self {
        Self::new(400, 183, "Invalid or expired confirmation code")
    }
    pub(crate) fn totp_exists() -> Self {
        Self::new(400, 154, "A TOTP token already exists for this account")
    }
    pub(crate) fn totp_not_found() -> Self {
        Self::new(400, 155, "TOTP token not found")
    }
    pub(crate) fn unavailable_device_command() -> Self {
        Self::new(400, 157, "Unavailable device command")
    }
    pub(crate) fn registration_closed() -> Self {
        Self::new(
            403,
            202,
            "Feature not enabled: this service takes no new accounts for this address",
        )
    }
    pub(crate) fn server_busy() -> Self {
        Self::new(503, 201, "Service unavailable").with(json!({ "retryAfter": 5 }))
    }
    pub(crate) fn cannot_sign_in() -> Self {
        Self::new(400, 149, "This email can not currently be used to login")
    }
    pub(crate) fn unexpected() -> Self {
        Self::new(500, 999, "Unspecified error")
    }

    // The OAuth routes' own numbering (fxa-auth-server `lib/oauth/error.js`).
    pub(crate) fn oauth_unknown_client(client_id: &str) -> Self {
        Self::new(400, 101, "Unknown client").with(json!({ "clientId": client_id }))
    }
    pub(crate) fn oauth_unknown_code() -> Self {
        Self::new(400, 105, "Unknown code")
    }
    pub(crate) fn oauth_invalid_token() -> Self {
        Self::new(400, 108, "Invalid token")
    }
    pub(crate) fn oauth_invalid_parameter(what: &str) -> Self {
        Self::new(400, 109, format!("Invalid request parameter: {what}"))
    }
    pub(crate) fn oauth_invalid_scopes(scope: &str) -> Self {
        Self::new(400, 114, format!("Requested scopes are not allowed: {scope}"))
    }
    pub(crate) fn oauth_incorrect_code_challenge() -> Self {
        Self::new(400, 117, "Incorrect code_challenge")
    }
    pub(crate) fn oauth_invalid_grant_type() -> Self {
        Self::new(400, 121, "Invalid grant_type")
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        tracing::error!("accounts: {e}");
        ApiError::unexpected()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        AccountsError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut body = json!({
            "code": status.as_u16(),
            "errno": self.errno,
            "error": status.canonical_reason().unwrap_or(""),
            "message": self.message,
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), self.extra) {
            body.extend(extra);
        }
        (status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_have_the_auth_servers_shape() {
        let e = ApiError::throttled(30);
        assert_eq!((e.status, e.errno), (429, 114));
        assert_eq!(e.extra["retryAfter"], 30);
        assert_eq!(ApiError::incorrect_email_case("A@b.c").extra["email"], "A@b.c");
        assert_eq!(ApiError::unverified_session().errno, 138);
    }
}
