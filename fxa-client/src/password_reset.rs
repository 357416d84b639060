//! A forgotten password, as Mozilla's reset page does it (fxa-auth-client
//! `passwordForgotSendOtp`, `passwordForgotVerifyOtp`,
//! `verifyPasswordForgotCode`, `accountReset`): a code emailed to the
//! address proves ownership, and the account gets a new password and with
//! it **a new kB** — the old one cannot be recovered without the old
//! password. The token server then sees a new key (a newer
//! keys_changed_at), gives the account a fresh storage user, and every
//! device starts its sync afresh.

use serde_json::{Value, json};

use crate::account::{FirefoxAccount, Pending, hex32, plain, str_field};
use crate::crypto::{Stretch, StretchedPassword, TokenCredentials, new_client_salt, xor32};
use crate::http::Auth;
use crate::{AccountState, FxaError, SignInStatus};

impl FirefoxAccount {
    /// Emails a code to `email` that lets its owner set a new password
    /// (`POST /password/forgot/send_otp`).
    pub fn forgot_password(&self, email: &str) -> Result<(), FxaError> {
        self.client
            .post(
                "password/forgot/send_otp",
                &json!({ "email": email.trim() }),
                Auth::None,
            )
            .map_err(plain)?;
        Ok(())
    }

    /// Sets `new_password` with the emailed `code`, and signs this device
    /// in with it. The account's Sync key changes: what is stored on the
    /// server under the old one is left behind, and every other device
    /// must sign in again.
    pub fn reset_password(
        &mut self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Result<SignInStatus, FxaError> {
        let email = email.trim();
        let verified = self
            .client
            .post(
                "password/forgot/verify_otp",
                &json!({ "email": email, "code": code.trim() }),
                Auth::None,
            )
            .map_err(plain)?;
        let forgot = TokenCredentials::derive(
            &hex32(str_field(&verified, "token")?, "the passwordForgotToken")?,
            "passwordForgotToken",
        );
        let redeemed = self
            .client
            .post(
                "password/forgot/verify_code",
                &json!({ "code": str_field(&verified, "code")? }),
                Auth::Token(&forgot),
            )
            .map_err(plain)?;
        let reset = TokenCredentials::derive(
            &hex32(
                str_field(&redeemed, "accountResetToken")?,
                "the accountResetToken",
            )?,
            "accountResetToken",
        );
        // The address to stretch with is the account's own spelling.
        let email = verified
            .get("emailToHashWith")
            .and_then(Value::as_str)
            .unwrap_or(email)
            .to_owned();
        let mut kb = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut kb)
            .map_err(|_| FxaError::Protocol("no randomness for kB".into()))?;
        let client_salt = new_client_salt()?;
        let v1 = StretchedPassword::new(&email, new_password, &Stretch::V1)?;
        let v2 = StretchedPassword::new(
            &email,
            new_password,
            &Stretch::V2 {
                client_salt: client_salt.clone(),
            },
        )?;
        let answer = self
            .client
            .post(
                "account/reset?keys=true",
                &json!({
                    "authPW": hex::encode(v1.auth_pw()),
                    "wrapKb": hex::encode(xor32(&kb, &v1.unwrap_b_key())),
                    "authPWVersion2": hex::encode(v2.auth_pw()),
                    "wrapKbVersion2": hex::encode(xor32(&kb, &v2.unwrap_b_key())),
                    "clientSalt": client_salt,
                    "sessionToken": true,
                }),
                Auth::Token(&reset),
            )
            .map_err(plain)?;
        let session_token = str_field(&answer, "sessionToken")?;
        hex32(session_token, "the session token")?;
        let (key_fetch_token, unwrap_b_key) = match ["keyFetchToken2", "keyFetchTokenVersion2"]
            .iter()
            .find_map(|name| answer.get(*name).and_then(Value::as_str))
        {
            Some(token) => (token, v2.unwrap_b_key()),
            None => (str_field(&answer, "keyFetchToken")?, v1.unwrap_b_key()),
        };
        let uid = str_field(&answer, "uid")?;
        let mut state = AccountState::new(&self.config.auth_url, &self.config.client_id, &email, uid);
        state.session_token = Some(session_token.to_owned());
        self.state = Some(state);
        self.pending = Some(Pending {
            email: email.clone(),
            password: new_password.to_owned(),
            key_fetch_token: Some(hex32(key_fetch_token, "the keyFetchToken")?),
            unwrap_b_key: Some(unwrap_b_key),
            upgrade_needed: false,
        });
        self.finish_sign_in()
    }
}
