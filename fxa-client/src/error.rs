//! The one error type of this crate, and the mapping from the accounts
//! service's `errno`s to it.
//!
//! | errno | variant |
//! |---|---|
//! | 102 | [`FxaError::UnknownAccount`] |
//! | 103 | [`FxaError::IncorrectPassword`] |
//! | 104, 138 | [`FxaError::Unverified`] |
//! | 105, 152, 153, 183 | [`FxaError::InvalidVerificationCode`] |
//! | 110 | [`FxaError::InvalidToken`] (the session ended: password changed, signed out elsewhere) |
//! | 114 | [`FxaError::Throttled`], with `retryAfter` |
//! | 120 | retried with the server's canonical email; only surfaces if that fails too |
//! | 125 | [`FxaError::RequestBlocked`] (sign-in answers [`crate::SignInStatus::NeedsUnblockCode`] instead) |
//! | 123 | [`FxaError::UnknownDevice`] |
//! | 127 | [`FxaError::InvalidUnblockCode`] |
//! | 157 | [`FxaError::UnsupportedCommand`] |
//! | 201, HTTP 503 | [`FxaError::ServerUnavailable`] |
//! | OAuth 108, 122 / 182 on refresh | [`FxaError::InvalidToken`] |
//! | anything else | [`FxaError::Server`], carrying the errno |
//!
//! Errno numbers are the auth server's (`fxa-shared/lib/errors.ts` `ERRNO`).

use std::time::Duration;

/// Anything that can go wrong talking to Firefox Accounts.
#[derive(Debug, thiserror::Error)]
pub enum FxaError {
    /// No answer: the network or TLS failed, or the request timed out.
    #[error("cannot reach the accounts server: {0}")]
    Network(String),
    /// An account with this email exists already (errno 101).
    #[error("a Firefox Account with this email exists already")]
    AccountExists,
    /// The email belongs to no account (errno 102).
    #[error("there is no Firefox Account with this email")]
    UnknownAccount,
    /// The password is wrong (errno 103).
    #[error("the password is incorrect")]
    IncorrectPassword,
    /// The account or session is not verified yet (errno 104, 138).
    #[error("the sign-in is not confirmed yet")]
    Unverified,
    /// A verification code (emailed or TOTP) is wrong or expired (errno 105,
    /// 152, 153, 183, or a TOTP check that did not succeed). The session
    /// stays unconfirmed.
    #[error("the code is wrong or has expired")]
    InvalidVerificationCode,
    /// The session or refresh token is no longer valid (errno 110; OAuth 108,
    /// 122): the password was changed, or the device was signed out. Sign in
    /// again.
    #[error("the session has ended; sign in again")]
    InvalidToken,
    /// Too many attempts (errno 114).
    #[error("too many attempts; try again{}", retry_after.map(|d| format!(" in {} s", d.as_secs())).unwrap_or_default())]
    Throttled {
        /// How long the server asks to wait.
        retry_after: Option<Duration>,
    },
    /// The sign-in was blocked until an emailed unblock code is given (errno 125).
    #[error("the sign-in needs the unblock code emailed to the account")]
    RequestBlocked,
    /// The unblock code is wrong or expired (errno 127).
    #[error("the unblock code is wrong or has expired")]
    InvalidUnblockCode,
    /// The server is down or busy (errno 201, HTTP 503).
    #[error("the accounts server is unavailable; try again{}", retry_after.map(|d| format!(" in {} s", d.as_secs())).unwrap_or_default())]
    ServerUnavailable {
        /// How long the server asks to wait.
        retry_after: Option<Duration>,
    },
    /// `/account/keys` answered a bundle that is not 96 bytes or whose MAC
    /// does not match: nothing from it was used or kept.
    #[error("the key bundle is invalid: {0}")]
    BadKeyBundle(String),
    /// Any other refusal, with the server's errno and message.
    #[error("accounts server error {errno} (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The auth server's errno.
        errno: u32,
        /// Its message.
        message: String,
    },
    /// The server answered something that is not the protocol.
    #[error("unexpected answer from the accounts server: {0}")]
    Protocol(String),
    /// The call needs a signed-in account (or a finished sign-in).
    #[error("not signed in")]
    NotSignedIn,
    /// The state file could not be read or written.
    #[error("account state: {0}")]
    State(String),
    /// No such device in the account's device list (errno 123), or this
    /// device's record was removed there.
    #[error("no such device in the account's device list")]
    UnknownDevice,
    /// The device does not take this command (errno 157, or it does not
    /// advertise it): an older or other client.
    #[error("the device does not take the command {command}")]
    UnsupportedCommand {
        /// The command, e.g. `https://identity.mozilla.com/cmd/open-uri`.
        command: String,
    },
    /// The device advertised command keys sealed with other sync keys than
    /// ours (it signed in before a password reset); it must sign in again.
    #[error("the device's command keys belong to other sync keys; it must sign in again")]
    ForeignCommandKeys,
    /// A device command, or the keys it needs, could not be encrypted or
    /// read.
    #[error("device command: {0}")]
    CommandCrypto(String),
    /// This device is not in the account's device list yet
    /// ([`crate::FirefoxAccount::register_device`]).
    #[error("this device is not registered with the account")]
    DeviceNotRegistered,
}

impl FxaError {
    /// The auth server's errno behind this error, where there is one.
    pub fn errno(&self) -> Option<u32> {
        Some(match self {
            FxaError::UnknownAccount => 102,
            FxaError::IncorrectPassword => 103,
            FxaError::Unverified => 104,
            FxaError::InvalidToken => 110,
            FxaError::Throttled { .. } => 114,
            FxaError::UnknownDevice => 123,
            FxaError::RequestBlocked => 125,
            FxaError::InvalidUnblockCode => 127,
            FxaError::UnsupportedCommand { .. } => 157,
            FxaError::ServerUnavailable { .. } => 201,
            FxaError::Server { errno, .. } => *errno,
            _ => return None,
        })
    }
}

/// An error body as the auth server sends it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct ErrorBody {
    pub errno: u32,
    #[serde(default)]
    pub message: String,
    /// errno 114: seconds to wait.
    #[serde(default, rename = "retryAfter")]
    pub retry_after: Option<u64>,
    /// errno 120: the account's email as the server has it.
    #[serde(default)]
    pub email: Option<String>,
    /// errno 111: the server's clock, in seconds.
    #[serde(default, rename = "serverTime")]
    pub server_time: Option<u64>,
}

/// Maps an auth-server error (`oauth` for the OAuth routes, whose errnos
/// are their own) to the crate's error.
pub(crate) fn from_body(status: u16, body: ErrorBody, oauth: bool) -> FxaError {
    let retry_after = body.retry_after.map(Duration::from_secs);
    if oauth {
        return match body.errno {
            108 | 115 | 122 => FxaError::InvalidToken,
            201 => FxaError::ServerUnavailable { retry_after },
            110 if status == 401 => FxaError::InvalidToken,
            errno => FxaError::Server {
                status,
                errno,
                message: body.message,
            },
        };
    }
    match body.errno {
        101 => FxaError::AccountExists,
        102 => FxaError::UnknownAccount,
        103 => FxaError::IncorrectPassword,
        104 | 138 => FxaError::Unverified,
        105 | 152 | 153 | 183 => FxaError::InvalidVerificationCode,
        110 | 182 => FxaError::InvalidToken,
        114 => FxaError::Throttled { retry_after },
        123 => FxaError::UnknownDevice,
        125 => FxaError::RequestBlocked,
        127 => FxaError::InvalidUnblockCode,
        // The sender fills in which command (the server does not say).
        157 => FxaError::UnsupportedCommand {
            command: String::new(),
        },
        201 => FxaError::ServerUnavailable { retry_after },
        errno => FxaError::Server {
            status,
            errno,
            message: body.message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(errno: u32) -> ErrorBody {
        ErrorBody {
            errno,
            message: "m".into(),
            retry_after: Some(30),
            email: None,
            server_time: None,
        }
    }

    #[test]
    fn errnos_map_to_variants_and_back() {
        for errno in [102, 103, 104, 110, 114, 123, 125, 127, 157, 201, 999] {
            assert_eq!(from_body(400, body(errno), false).errno(), Some(errno), "{errno}");
        }
        assert!(matches!(
            from_body(429, body(114), false),
            FxaError::Throttled { retry_after: Some(d) } if d.as_secs() == 30
        ));
        assert!(matches!(
            from_body(400, body(183), false),
            FxaError::InvalidVerificationCode
        ));
        assert!(matches!(from_body(400, body(108), true), FxaError::InvalidToken));
        assert!(matches!(
            from_body(400, body(109), true),
            FxaError::Server { errno: 109, .. }
        ));
        assert!(from_body(400, body(114), false).to_string().contains("30 s"));
    }
}
