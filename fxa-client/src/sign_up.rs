//! Creating an account, as Mozilla's sign-up page does it with V2
//! stretching (fxa-auth-client `signUp` with `keyStretchVersion: 2`): kB
//! is chosen here, and the server receives only authPW and kB wrapped
//! under each stretching's unwrapBKey — never the password or kB.

use serde_json::json;

use crate::account::{FirefoxAccount, Pending, plain, str_field};
use crate::crypto::{Stretch, StretchedPassword, new_client_salt, xor32};
use crate::http::Auth;
use crate::{AccountState, FxaError, SignInStatus};

impl FirefoxAccount {
    /// Creates the account `email` with `password`
    /// (`POST /account/create?keys=true`). The server emails a code to
    /// confirm the address: pass it to
    /// [`FirefoxAccount::verify_email_code`], which finishes as a sign-in
    /// does. An address that has an account already is
    /// [`FxaError::AccountExists`].
    pub fn sign_up(&mut self, email: &str, password: &str) -> Result<SignInStatus, FxaError> {
        let email = email.trim();
        let mut kb = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut kb)
            .map_err(|_| FxaError::Protocol("no randomness for kB".into()))?;
        let client_salt = new_client_salt()?;
        let v1 = StretchedPassword::new(email, password, &Stretch::V1)?;
        let v2 = StretchedPassword::new(
            email,
            password,
            &Stretch::V2 {
                client_salt: client_salt.clone(),
            },
        )?;
        let body = json!({
            "email": email,
            "authPW": hex::encode(v1.auth_pw()),
            "wrapKb": hex::encode(xor32(&kb, &v1.unwrap_b_key())),
            "authPWVersion2": hex::encode(v2.auth_pw()),
            "wrapKbVersion2": hex::encode(xor32(&kb, &v2.unwrap_b_key())),
            "clientSalt": client_salt,
            "service": "sync",
            "verificationMethod": "email-otp",
        });
        let answer = self
            .client
            .post("account/create?keys=true", &body, Auth::None)
            .map_err(plain)?;
        let uid = str_field(&answer, "uid")?;
        let session_token = str_field(&answer, "sessionToken")?;
        crate::account::hex32(session_token, "the session token")?;
        let key_fetch_token = answer
            .get("keyFetchTokenVersion2")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| FxaError::Protocol("the sign-up answer has no keyFetchTokenVersion2".into()))?;
        let key_fetch_token = crate::account::hex32(key_fetch_token, "the keyFetchToken")?;
        let mut state = AccountState::new(&self.config.auth_url, &self.config.client_id, email, uid);
        state.session_token = Some(session_token.to_owned());
        self.state = Some(state);
        self.pending = Some(Pending {
            email: email.to_owned(),
            password: password.to_owned(),
            key_fetch_token: Some(key_fetch_token),
            unwrap_b_key: Some(v2.unwrap_b_key()),
            upgrade_needed: false,
        });
        Ok(SignInStatus::NeedsEmailCode)
    }
}
