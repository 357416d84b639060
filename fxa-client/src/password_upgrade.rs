//! The upgrade of a V1 password to V2 stretching, on sign-in, when the
//! accounts server asks for it (`upgradeNeeded`).

use serde_json::json;

use crate::account::{FirefoxAccount, hex32, plain, str_field};
use crate::crypto::{Stretch, StretchedPassword, TokenCredentials, xor32};
use crate::error::FxaError;
use crate::http::Auth;

impl FirefoxAccount {
    /// Moves a V1 password to V2 stretching, as fxa-auth-client's
    /// `passwordChange` does on sign-in when the server says
    /// `upgradeNeeded`: `/password/change/start` with the V1 authPW, then
    /// `/password/change/finish` with the same password under both
    /// stretchings (a new random `clientSalt`) and kB unchanged, keeping
    /// this session.
    pub(crate) fn upgrade_to_v2(
        &self,
        email: &str,
        password: &str,
        kb: &[u8; 32],
        session: &TokenCredentials,
    ) -> Result<(), FxaError> {
        let v1 = StretchedPassword::new(email, password, &Stretch::V1)?;
        let started = self
            .client
            .post(
                "password/change/start",
                &json!({ "email": email, "oldAuthPW": hex::encode(v1.auth_pw()) }),
                Auth::Token(session),
            )
            .map_err(plain)?;
        let change_token = hex32(
            str_field(&started, "passwordChangeToken")?,
            "the passwordChangeToken",
        )?;
        let change = TokenCredentials::derive(&change_token, "passwordChangeToken");
        let client_salt = crate::crypto::new_client_salt()?;
        let v2 = StretchedPassword::new(
            email,
            password,
            &Stretch::V2 {
                client_salt: client_salt.clone(),
            },
        )?;
        let body = json!({
            "authPW": hex::encode(v1.auth_pw()),
            "wrapKb": hex::encode(xor32(kb, &v1.unwrap_b_key())),
            "sessionToken": session.id,
            "authPWVersion2": hex::encode(v2.auth_pw()),
            "wrapKbVersion2": hex::encode(xor32(kb, &v2.unwrap_b_key())),
            "clientSalt": client_salt,
        });
        self.client
            .post("password/change/finish", &body, Auth::Token(&change))
            .map_err(plain)?;
        Ok(())
    }
}
