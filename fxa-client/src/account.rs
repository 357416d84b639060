//! [`FirefoxAccount`]: sign in, confirm, get the sync keys and tokens.

use std::time::Duration;

use serde_json::{Value, json};
use sync15::SyncRootKey;

use crate::crypto::{Stretch, StretchedPassword, TokenCredentials, unbundle_keys, xor32};
use crate::error::FxaError;
use crate::http::{Auth, AuthClient, Refusal, TokenScheme};
use crate::state::{AccountState, StoredAccessToken, StoredSyncKey, now_secs};

/// Mozilla's production accounts server.
pub const PRODUCTION_AUTH_URL: &str = "https://api.accounts.firefox.com";
/// Mozilla's production token server.
pub const PRODUCTION_TOKEN_SERVER_URL: &str = "https://token.services.mozilla.com/1.0/sync/1.5";
/// Firefox desktop's OAuth client id: Mozilla's accounts service grants the
/// oldsync scope through `fxa-credentials` only to Mozilla's own clients.
pub const FIREFOX_DESKTOP_CLIENT_ID: &str = "5882386c6d801776";
/// The OAuth scope of Sync.
pub const OLDSYNC_SCOPE: &str = "https://identity.mozilla.com/apps/oldsync";

/// An access token is refreshed this long before it expires.
const ACCESS_TOKEN_MARGIN_SECS: u64 = 60;

/// Where and as whom to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxaConfig {
    /// The auth server (`https://api.accounts.firefox.com`).
    pub auth_url: String,
    /// The OAuth client id tokens are issued to.
    pub client_id: String,
    /// How long one request may take.
    pub timeout: Duration,
    /// How session and key-fetch tokens are presented.
    pub token_scheme: TokenScheme,
}

impl FxaConfig {
    /// Mozilla's production accounts service, as Firefox desktop.
    pub fn production() -> Self {
        Self::new(PRODUCTION_AUTH_URL)
    }

    /// Another accounts server (self-hosted, staging, a test stand-in).
    pub fn new(auth_url: &str) -> Self {
        FxaConfig {
            auth_url: auth_url.to_owned(),
            client_id: FIREFOX_DESKTOP_CLIENT_ID.to_owned(),
            timeout: Duration::from_secs(30),
            token_scheme: TokenScheme::Hawk,
        }
    }
}

/// Where a sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInStatus {
    /// Done: the sync keys and tokens are there.
    SignedIn,
    /// Confirm with the code emailed to the account
    /// ([`FirefoxAccount::verify_email_code`]).
    NeedsEmailCode,
    /// Confirm with a code from the authenticator app ([`FirefoxAccount::verify_totp`]).
    NeedsTotp,
    /// The server blocked the sign-in until the unblock code it emails is
    /// given: [`FirefoxAccount::send_unblock_code`], then
    /// [`FirefoxAccount::sign_in_with_unblock_code`].
    NeedsUnblockCode,
}

/// What a sign-in keeps in memory until it is confirmed: never persisted.
pub(crate) struct Pending {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) key_fetch_token: Option<[u8; 32]>,
    pub(crate) unwrap_b_key: Option<[u8; 32]>,
    /// The server wants this V1 password upgraded to V2 stretching.
    pub(crate) upgrade_needed: bool,
}

/// One person's Firefox Account on this device.
///
/// ```no_run
/// # use fxa_client::{FirefoxAccount, FxaConfig, SignInStatus};
/// # fn ask(_: &str) -> String { String::new() }
/// let mut account = FirefoxAccount::new(FxaConfig::production())?;
/// let mut status = account.sign_in("me@example.com", &ask("password"))?;
/// while status != SignInStatus::SignedIn {
///     status = match status {
///         SignInStatus::NeedsEmailCode => account.verify_email_code(&ask("emailed code"))?,
///         SignInStatus::NeedsTotp => account.verify_totp(&ask("authenticator code"))?,
///         SignInStatus::NeedsUnblockCode => {
///             account.send_unblock_code()?;
///             account.sign_in_with_unblock_code(&ask("unblock code"))?
///         }
///         SignInStatus::SignedIn => SignInStatus::SignedIn,
///     };
/// }
/// let key = account.sync_root_key()?;           // for sync15 / sync-manager
/// let token = account.access_token()?;          // for the token server
/// # Ok::<(), fxa_client::FxaError>(())
/// ```
pub struct FirefoxAccount {
    pub(crate) config: FxaConfig,
    pub(crate) client: AuthClient,
    pub(crate) state: Option<AccountState>,
    pub(crate) pending: Option<Pending>,
}

impl std::fmt::Debug for FirefoxAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirefoxAccount")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("signing_in", &self.pending.is_some())
            .finish()
    }
}

/// A refusal's error (sign-in looks at the body first where it matters).
pub(crate) fn plain(r: Refusal) -> FxaError {
    r.error
}

pub(crate) fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, FxaError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| FxaError::Protocol(format!("the answer has no {name}")))
}

pub(crate) fn hex32(hex_str: &str, what: &str) -> Result<[u8; 32], FxaError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out)
        .map_err(|_| FxaError::Protocol(format!("{what} is not 32 bytes of hex")))?;
    Ok(out)
}

impl FirefoxAccount {
    /// Not signed in yet.
    pub fn new(config: FxaConfig) -> Result<Self, FxaError> {
        Ok(FirefoxAccount {
            client: AuthClient::new(&config.auth_url, config.timeout, config.token_scheme)?,
            config,
            state: None,
            pending: None,
        })
    }

    /// Resumes from a persisted state.
    pub fn from_state(config: FxaConfig, state: AccountState) -> Result<Self, FxaError> {
        let mut account = Self::new(config)?;
        account.state = Some(state);
        Ok(account)
    }

    /// The state to persist (see [`AccountState::save`]); `None` before sign-in.
    pub fn state(&self) -> Option<&AccountState> {
        self.state.as_ref()
    }

    pub(crate) fn state_mut(&mut self) -> Result<&mut AccountState, FxaError> {
        self.state.as_mut().ok_or(FxaError::NotSignedIn)
    }

    pub(crate) fn session(&self) -> Result<TokenCredentials, FxaError> {
        let token = self
            .state
            .as_ref()
            .and_then(|s| s.session_token.as_deref())
            .ok_or(FxaError::NotSignedIn)?;
        Ok(TokenCredentials::derive(
            &hex32(token, "the session token")?,
            "sessionToken",
        ))
    }

    /// Which stretching the account's password uses. An account the server
    /// does not know is stretched with V1, so the sign-in itself reports it
    /// unknown (errno 102) as it would have without this step.
    fn stretch_for(&self, email: &str) -> Result<(Stretch, bool), FxaError> {
        match self.client.post(
            "account/credentials/status",
            &json!({ "email": email }),
            Auth::None,
        ) {
            Ok(status) => {
                let upgrade_needed = status.get("upgradeNeeded").and_then(Value::as_bool) == Some(true);
                match status.get("currentVersion").and_then(Value::as_str) {
                    Some("v2") => Ok((
                        Stretch::V2 {
                            client_salt: str_field(&status, "clientSalt")?.to_owned(),
                        },
                        false,
                    )),
                    _ => Ok((Stretch::V1, upgrade_needed)),
                }
            }
            Err(Refusal {
                error: FxaError::UnknownAccount | FxaError::Server { .. },
                ..
            }) => Ok((Stretch::V1, false)),
            Err(r) => Err(r.error),
        }
    }

    /// Signs in with email and password (`POST /account/login?keys=true`),
    /// stretching the password as the server says the account's is (V1 or
    /// V2). If the server has the email with other letter case (errno 120),
    /// the sign-in is retried once with its spelling.
    pub fn sign_in(&mut self, email: &str, password: &str) -> Result<SignInStatus, FxaError> {
        self.login(email, password, None)
    }

    /// Asks the server to email the unblock code for a blocked sign-in.
    pub fn send_unblock_code(&self) -> Result<(), FxaError> {
        let pending = self.pending.as_ref().ok_or(FxaError::NotSignedIn)?;
        self.client
            .post(
                "account/login/send_unblock_code",
                &json!({ "email": pending.email }),
                Auth::None,
            )
            .map_err(plain)?;
        Ok(())
    }

    /// Retries a blocked sign-in with the emailed unblock code.
    pub fn sign_in_with_unblock_code(&mut self, code: &str) -> Result<SignInStatus, FxaError> {
        let pending = self.pending.take().ok_or(FxaError::NotSignedIn)?;
        let result = self.login(&pending.email, &pending.password, Some(code.trim()));
        if self.pending.is_none() && matches!(result, Err(FxaError::InvalidUnblockCode)) {
            // Keep what is needed to try another code.
            self.pending = Some(pending);
        }
        result
    }

    fn login(
        &mut self,
        email: &str,
        password: &str,
        unblock_code: Option<&str>,
    ) -> Result<SignInStatus, FxaError> {
        let mut email = email.trim().to_owned();
        let mut case_retried = false;
        loop {
            let (stretch, upgrade_needed) = self.stretch_for(&email)?;
            let stretched = StretchedPassword::new(&email, password, &stretch)?;
            let mut body = json!({
                "email": email,
                "authPW": hex::encode(stretched.auth_pw()),
                "reason": "signin",
                "service": "sync",
                "verificationMethod": "email-otp",
            });
            if let Some(code) = unblock_code {
                body["unblockCode"] = json!(code);
            }
            match self.client.post("account/login?keys=true", &body, Auth::None) {
                Ok(answer) => return self.logged_in(&email, password, &stretched, upgrade_needed, &answer),
                Err(Refusal { body: Some(b), .. }) if b.errno == 120 && !case_retried => {
                    let Some(canonical) = b.email else {
                        return Err(FxaError::Protocol("errno 120 without the account's email".into()));
                    };
                    log::info!("signing in with the account's own spelling of the email");
                    email = canonical;
                    case_retried = true;
                }
                Err(Refusal {
                    error: FxaError::RequestBlocked,
                    ..
                }) => {
                    self.pending = Some(Pending {
                        email,
                        password: password.to_owned(),
                        key_fetch_token: None,
                        unwrap_b_key: None,
                        upgrade_needed: false,
                    });
                    return Ok(SignInStatus::NeedsUnblockCode);
                }
                Err(r) => return Err(r.error),
            }
        }
    }

    fn logged_in(
        &mut self,
        email: &str,
        password: &str,
        stretched: &StretchedPassword,
        upgrade_needed: bool,
        answer: &Value,
    ) -> Result<SignInStatus, FxaError> {
        let uid = str_field(answer, "uid")?;
        let session_token = str_field(answer, "sessionToken")?;
        hex32(session_token, "the session token")?;
        // V2 accounts answer with keyFetchTokenVersion2 (fxa-auth-client signInWithAuthPW).
        let key_fetch_token = answer
            .get("keyFetchTokenVersion2")
            .or_else(|| answer.get("keyFetchToken"))
            .and_then(Value::as_str)
            .ok_or_else(|| FxaError::Protocol("the sign-in answer has no keyFetchToken".into()))?;
        let key_fetch_token = hex32(key_fetch_token, "the keyFetchToken")?;
        let mut state = AccountState::new(&self.config.auth_url, &self.config.client_id, email, uid);
        state.session_token = Some(session_token.to_owned());
        self.state = Some(state);
        self.pending = Some(Pending {
            email: email.to_owned(),
            password: password.to_owned(),
            key_fetch_token: Some(key_fetch_token),
            unwrap_b_key: Some(stretched.unwrap_b_key()),
            upgrade_needed,
        });
        let verified = answer.get("verified").and_then(Value::as_bool).unwrap_or(false);
        if verified {
            return self.finish_sign_in();
        }
        Ok(match answer.get("verificationMethod").and_then(Value::as_str) {
            Some("totp-2fa") => SignInStatus::NeedsTotp,
            _ => SignInStatus::NeedsEmailCode,
        })
    }

    /// Confirms the sign-in with the emailed code (`POST /session/verify_code`).
    /// A wrong code is [`FxaError::InvalidVerificationCode`]; the sign-in
    /// stays pending and another code may be tried.
    pub fn verify_email_code(&mut self, code: &str) -> Result<SignInStatus, FxaError> {
        let session = self.session()?;
        self.client
            .post(
                "session/verify_code",
                &json!({ "code": code.trim() }),
                Auth::Token(&session),
            )
            .map_err(plain)?;
        self.finish_sign_in()
    }

    /// Emails a new confirmation code (`POST /session/resend_code`).
    pub fn resend_email_code(&self) -> Result<(), FxaError> {
        let session = self.session()?;
        self.client
            .post("session/resend_code", &json!({}), Auth::Token(&session))
            .map_err(plain)?;
        Ok(())
    }

    /// Confirms the sign-in with a TOTP code (`POST /session/verify/totp`).
    /// A wrong code is [`FxaError::InvalidVerificationCode`] and the session
    /// stays unconfirmed.
    pub fn verify_totp(&mut self, code: &str) -> Result<SignInStatus, FxaError> {
        let session = self.session()?;
        let answer = self
            .client
            .post(
                "session/verify/totp",
                &json!({ "code": code.trim() }),
                Auth::Token(&session),
            )
            .map_err(plain)?;
        if answer.get("success").and_then(Value::as_bool) != Some(true) {
            return Err(FxaError::InvalidVerificationCode);
        }
        self.finish_sign_in()
    }

    /// With a confirmed session: kB from `/account/keys`, the oldsync scoped
    /// key from it and `/account/scoped-key-data`, then OAuth tokens. The
    /// password and kB are dropped; only the scoped key is kept.
    pub(crate) fn finish_sign_in(&mut self) -> Result<SignInStatus, FxaError> {
        let pending = self.pending.take().ok_or(FxaError::NotSignedIn)?;
        let (Some(key_fetch_token), Some(unwrap_b_key)) = (pending.key_fetch_token, pending.unwrap_b_key)
        else {
            return Err(FxaError::NotSignedIn);
        };
        let key_creds = TokenCredentials::derive(&key_fetch_token, "keyFetchToken");
        let answer = match self.client.get("account/keys", Auth::Token(&key_creds)) {
            Ok(a) => a,
            Err(r) => {
                // Still unconfirmed (or a transient failure): keep the pending
                // sign-in so the caller can confirm or retry.
                self.pending = Some(Pending {
                    key_fetch_token: Some(key_fetch_token),
                    unwrap_b_key: Some(unwrap_b_key),
                    ..pending
                });
                return Err(r.error);
            }
        };
        // The key fetch token is spent: whatever fails from here on cannot
        // be retried, so the session this sign-in made is ended rather than
        // left behind on the server.
        match self.complete_sign_in(&pending, &key_creds, &answer, &unwrap_b_key) {
            Ok(()) => Ok(SignInStatus::SignedIn),
            Err(e) => {
                log::warn!("the sign-in failed after its session was made ({e}); ending that session");
                self.abandon_sign_in();
                Err(e)
            }
        }
    }

    /// kB from the key bundle, then (when the server asks) the password's
    /// upgrade to V2 stretching, the oldsync scoped key and OAuth tokens.
    fn complete_sign_in(
        &mut self,
        pending: &Pending,
        key_creds: &TokenCredentials,
        keys_answer: &Value,
        unwrap_b_key: &[u8; 32],
    ) -> Result<(), FxaError> {
        let bundle = hex::decode(str_field(keys_answer, "bundle")?)
            .map_err(|_| FxaError::BadKeyBundle("the key bundle is not hex".into()))?;
        let (_ka, wrap_kb) = unbundle_keys(&key_creds.extra, &bundle)?;
        let kb = xor32(&wrap_kb, unwrap_b_key);

        let session = self.session()?;
        if pending.upgrade_needed {
            // As fxa-auth-client's signIn: a failed upgrade leaves the V1
            // password working, so it does not fail the sign-in.
            match self.upgrade_to_v2(&pending.email, &pending.password, &kb, &session) {
                Ok(()) => log::info!("the account's password now uses V2 stretching"),
                Err(e) => log::warn!("upgrading the password to V2 stretching failed: {e}"),
            }
        }
        let scoped = self
            .client
            .post(
                "account/scoped-key-data",
                &json!({ "client_id": self.config.client_id, "scope": OLDSYNC_SCOPE }),
                Auth::Token(&session),
            )
            .map_err(plain)?;
        let keys_changed_at = scoped
            .get(OLDSYNC_SCOPE)
            .and_then(|s| s.get("keyRotationTimestamp"))
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                FxaError::Protocol("no oldsync keyRotationTimestamp in the scoped-key data".into())
            })?;
        let key = SyncRootKey::new(&kb, keys_changed_at).map_err(|e| FxaError::Protocol(e.to_string()))?;

        let tokens = self
            .client
            .post_oauth(
                "oauth/token",
                &json!({
                    "client_id": self.config.client_id,
                    "grant_type": "fxa-credentials",
                    "scope": OLDSYNC_SCOPE,
                    "access_type": "offline",
                }),
                Auth::Token(&session),
            )
            .map_err(plain)?;
        let state = self.state_mut()?;
        state.sync_key = Some(StoredSyncKey::from_key(&key));
        store_tokens(state, &tokens)?;
        if state.refresh_token.is_none() {
            return Err(FxaError::Protocol("the token answer has no refresh_token".into()));
        }
        Ok(())
    }

    /// The oldsync scoped key, as `sync15` takes it.
    pub fn sync_root_key(&self) -> Result<SyncRootKey, FxaError> {
        self.state
            .as_ref()
            .and_then(|s| s.sync_key.as_ref())
            .ok_or(FxaError::NotSignedIn)?
            .to_key()
    }

    /// An OAuth access token for the token server: the current one, or a
    /// new one from the refresh token when it expires within a minute (or
    /// after [`FirefoxAccount::clear_access_token`]).
    pub fn access_token(&mut self) -> Result<String, FxaError> {
        let now = now_secs();
        let state = self.state.as_ref().ok_or(FxaError::NotSignedIn)?;
        if let Some(t) = &state.access_token {
            if t.expires_at > now + ACCESS_TOKEN_MARGIN_SECS {
                return Ok(t.token.clone());
            }
        }
        let refresh_token = state.refresh_token.clone().ok_or(FxaError::NotSignedIn)?;
        let tokens = self
            .client
            .post_oauth(
                "oauth/token",
                &json!({
                    "client_id": self.config.client_id,
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "scope": OLDSYNC_SCOPE,
                }),
                Auth::None,
            )
            .map_err(plain)?;
        let state = self.state_mut()?;
        store_tokens(state, &tokens)?;
        state
            .access_token
            .as_ref()
            .map(|t| t.token.clone())
            .ok_or_else(|| FxaError::Protocol("the token answer has no access_token".into()))
    }

    /// Forgets the access token, e.g. after the token server refused it
    /// with a 401; the next [`FirefoxAccount::access_token`] refreshes.
    pub fn clear_access_token(&mut self) {
        if let Some(state) = self.state.as_mut() {
            state.access_token = None;
        }
    }
}

/// Keeps the tokens of an `/oauth/token` answer.
fn store_tokens(state: &mut AccountState, tokens: &Value) -> Result<(), FxaError> {
    let access = str_field(tokens, "access_token")?.to_owned();
    let expires_in = tokens.get("expires_in").and_then(Value::as_u64).unwrap_or(0);
    state.access_token = Some(StoredAccessToken {
        token: access,
        expires_at: now_secs() + expires_in,
    });
    if let Some(refresh) = tokens.get("refresh_token").and_then(Value::as_str) {
        state.refresh_token = Some(refresh.to_owned());
    }
    Ok(())
}
