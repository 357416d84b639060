//! Ending things: a sign-in given up, the session's check, and signing out.

use serde_json::json;

use crate::account::{FirefoxAccount, plain};
use crate::error::FxaError;
use crate::http::Auth;
use crate::state::{AccountState, now_secs};

impl FirefoxAccount {
    /// Gives up a sign-in that will not be finished (the person left at a
    /// prompt, or it failed): the session it made is destroyed on the
    /// server, best effort, and forgotten here. A finished sign-in is left
    /// alone ([`FirefoxAccount::sign_out`] ends that).
    pub fn abandon_sign_in(&mut self) {
        self.pending = None;
        if self.state.as_ref().is_none_or(AccountState::is_signed_in) {
            return;
        }
        if let Ok(session) = self.session() {
            if let Err(r) = self
                .client
                .post("session/destroy", &json!({}), Auth::Token(&session))
            {
                log::warn!("the abandoned sign-in's session could not be ended: {}", r.error);
            }
        }
        self.state = None;
    }

    /// Whether the session still stands (`GET /session/status`); an ended
    /// one (password changed, signed out elsewhere) is [`FxaError::InvalidToken`].
    pub fn check_session(&self) -> Result<(), FxaError> {
        let session = self.session()?;
        self.client
            .get("session/status", Auth::Token(&session))
            .map_err(plain)?;
        Ok(())
    }

    /// Signs out: revokes the access and refresh tokens (`POST /oauth/destroy`), ends the
    /// session (`POST /session/destroy`), and forgets the state. The local
    /// state is forgotten even if the server cannot be reached; the first
    /// error is returned.
    pub fn sign_out(&mut self) -> Result<(), FxaError> {
        let mut first_error = None;
        if let Some(state) = self.state.as_ref() {
            // As Firefox's signOut: every OAuth token this device holds is
            // revoked, then the session ends.
            if let Some(access) = state.access_token.as_ref().filter(|t| t.expires_at > now_secs()) {
                if let Err(r) = self.client.post_oauth(
                    "oauth/destroy",
                    &json!({ "client_id": self.config.client_id, "token": access.token }),
                    Auth::None,
                ) {
                    first_error.get_or_insert(r.error);
                }
            }
            if let Some(refresh_token) = &state.refresh_token {
                if let Err(r) = self.client.post_oauth(
                    "oauth/destroy",
                    &json!({ "client_id": self.config.client_id, "token": refresh_token }),
                    Auth::None,
                ) {
                    first_error.get_or_insert(r.error);
                }
            }
            if let Ok(session) = self.session() {
                if let Err(r) = self
                    .client
                    .post("session/destroy", &json!({}), Auth::Token(&session))
                {
                    first_error.get_or_insert(r.error);
                }
            }
        }
        self.state = None;
        self.pending = None;
        first_error.map_or(Ok(()), Err)
    }
}
