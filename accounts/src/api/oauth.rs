//! OAuth, as the auth server's `/v1/oauth/*` routes (the former OAuth
//! server, `fxa-auth-server/lib/routes/oauth/`) answer Firefox:
//!
//! - `POST /oauth/authorization` (Hawk session): an authorization code for
//!   one of Firefox's clients, PKCE (S256) required as for every public
//!   client, carrying the `keys_jwe` the sign-in page encrypted to the
//!   browser's ephemeral key (the service cannot read it).
//! - `POST /oauth/token` with `grant_type` `authorization_code` (+
//!   `code_verifier`; what Firefox desktop's `FxAccountsOAuth` sends, Hawk
//!   signed with its session), `refresh_token`, or `fxa-credentials`
//!   (a session token signs for itself; application-services and our
//!   `fxa-client`).
//! - `/oauth/destroy`, `/verify`, `/introspect`, `/jwks`.
//!
//! Access tokens are JWTs ([`crate::signing`]); refresh tokens are 32
//! random bytes, kept as hashes.

use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::issue::{self, MustVerify};
use super::{Answer, Call, S, auth, optional_text, run, text};
use crate::error::ApiError;
use crate::secrets::random;
use crate::store::accounts::{self, Account};
use crate::store::oauth::{self, AuthCode};
use crate::{Service, clients};

/// How long an authorization code waits for its token request (Mozilla's
/// `oauthServer.expiration.code`: 15 minutes).
const CODE_LIFETIME_MS: u64 = 15 * 60 * 1000;
/// The scope that asks for a session token with the code (what
/// application-services' pairing flow uses).
const SESSION_SCOPE: &str = "https://identity.mozilla.com/tokens/session";

/// A new access token for `account`, as the token endpoint answers it.
fn access_token(service: &Service, account: &Account, client_id: &str, scope: &str, ttl_secs: u64) -> Answer {
    // A rotation by the operator's command (another process) is picked up
    // here, and announced before the new key signs.
    service.keys.refresh(&service.store, |keys| {
        service.announce(crate::AccountEvent::KeysRotated { keys });
    })?;
    let now = auth::now_secs();
    let jti = hex::encode(random::<32>()?);
    let mut claims = json!({
        "sub": account.uid,
        "scope": scope,
        "client_id": client_id,
        "aud": client_id,
        "iss": service.public_url,
        "iat": now,
        "exp": now + ttl_secs,
        "jti": jti,
    });
    // Mozilla leaves the generation out until the password is first set
    // after launch; every account here has one (verifierSetAt, ms).
    if account.verifier_set_at > 0 {
        claims["fxa-generation"] = json!(account.verifier_set_at);
    }
    Ok(axum::Json(json!({
        "access_token": service.keys.sign(&claims)?,
        "token_type": "bearer",
        "scope": scope,
        "expires_in": ttl_secs,
        "auth_at": now,
    })))
}

fn live_account(service: &Service, uid: &str) -> Result<Account, ApiError> {
    service
        .store
        .read(|conn, _| accounts::by_uid(conn, uid))?
        .filter(|a| a.disabled_at.is_none())
        .ok_or_else(ApiError::oauth_invalid_token)
}

/// The `ttl` asked for, capped by the configuration.
fn ttl(service: &Service, body: &Value) -> Result<u64, ApiError> {
    let max = service.config.max_access_token_ttl_secs;
    match body.get("ttl") {
        None | Some(Value::Null) => Ok(max),
        Some(v) => v
            .as_u64()
            .filter(|t| *t > 0)
            .map(|t| t.min(max))
            .ok_or_else(|| ApiError::oauth_invalid_parameter("ttl")),
    }
}

fn new_refresh_token(service: &Service, uid: &str, client_id: &str, scope: &str) -> Result<String, ApiError> {
    let refresh = hex::encode(random::<32>()?);
    let now = crate::now_ms();
    service
        .store
        .write(|tx, _| oauth::insert_refresh(tx, &refresh, uid, client_id, scope, now))?;
    Ok(refresh)
}

/// `POST /v1/oauth/token`.
pub(super) async fn token(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let client_id =
            text(&body, "client_id").map_err(|_| ApiError::oauth_invalid_parameter("client_id"))?;
        if clients::name(client_id).is_none() {
            return Err(ApiError::oauth_unknown_client(client_id));
        }
        let answer = match optional_text(&body, "grant_type")?.unwrap_or("authorization_code") {
            "fxa-credentials" => credentials_grant(service, call, &body, client_id)?,
            "refresh_token" => refresh_grant(service, &body, client_id)?,
            "authorization_code" => code_grant(service, call, &body, client_id)?,
            _ => return Err(ApiError::oauth_invalid_grant_type()),
        };
        Ok(answer)
    })
    .await
}

fn credentials_grant(
    service: &Service,
    call: &Call,
    body: &Value,
    client_id: &str,
) -> Result<Value, ApiError> {
    let (_, account) = auth::verified_session(service, call)?;
    let scope = text(body, "scope").map_err(|_| ApiError::oauth_invalid_parameter("scope"))?;
    clients::check(service, client_id, scope)?;
    let axum::Json(mut answer) = access_token(service, &account, client_id, scope, ttl(service, body)?)?;
    if optional_text(body, "access_type")? == Some("offline") {
        answer["refresh_token"] = json!(new_refresh_token(service, &account.uid, client_id, scope)?);
    }
    Ok(answer)
}

fn refresh_grant(service: &Service, body: &Value, client_id: &str) -> Result<Value, ApiError> {
    let value =
        text(body, "refresh_token").map_err(|_| ApiError::oauth_invalid_parameter("refresh_token"))?;
    let refresh = auth::refresh_token(service, value).map_err(|_| ApiError::oauth_invalid_token())?;
    if refresh.client_id != client_id {
        return Err(ApiError::oauth_invalid_token());
    }
    // A narrower scope may be asked for, never a wider one.
    let scope = match optional_text(body, "scope")? {
        None => refresh.scope.clone(),
        Some(wanted) => {
            let granted: Vec<&str> = refresh.scope.split_whitespace().collect();
            if let Some(extra) = wanted.split_whitespace().find(|s| !granted.contains(s)) {
                return Err(ApiError::oauth_invalid_scopes(extra));
            }
            wanted.to_owned()
        }
    };
    let account = live_account(service, &refresh.uid)?;
    let axum::Json(answer) = access_token(service, &account, client_id, &scope, ttl(service, body)?)?;
    Ok(answer)
}

fn code_grant(service: &Service, call: &Call, body: &Value, client_id: &str) -> Result<Value, ApiError> {
    let code = text(body, "code").map_err(|_| ApiError::oauth_invalid_parameter("code"))?;
    let now = crate::now_ms();
    let grant = service
        .store
        .write(|tx, _| oauth::take_code(tx, code, now))?
        .ok_or_else(ApiError::oauth_unknown_code)?;
    if grant.client_id != client_id {
        return Err(ApiError::oauth_unknown_code());
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier =
            optional_text(body, "code_verifier")?.ok_or_else(ApiError::oauth_incorrect_code_challenge)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        if !crate::password::same(URL_SAFE_NO_PAD.encode(digest).as_bytes(), challenge.as_bytes()) {
            return Err(ApiError::oauth_incorrect_code_challenge());
        }
    }
    let account = live_account(service, &grant.uid)?;
    let axum::Json(mut answer) =
        access_token(service, &account, client_id, &grant.scope, ttl(service, body)?)?;
    if grant.access_type == "offline" {
        let refresh = new_refresh_token(service, &account.uid, client_id, &grant.scope)?;
        answer["refresh_token"] = json!(refresh);
    }
    if let Some(keys_jwe) = grant.keys_jwe {
        answer["keys_jwe"] = json!(keys_jwe);
    }
    if grant.scope.split_whitespace().any(|s| s == SESSION_SCOPE) {
        let user_agent = call.user_agent();
        let session = service
            .store
            .write(|tx, sealer| issue::session(tx, sealer, &account, MustVerify::No, &user_agent, now))?;
        answer["session_token"] = json!(session.token);
    }
    Ok(answer)
}

/// `POST /v1/oauth/authorization` (Hawk session):
/// `{client_id, scope, state, access_type, code_challenge,
/// code_challenge_method, keys_jwe?}` → `{code, state, redirect}`.
pub(super) async fn authorization(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (session, account) = auth::verified_session(service, call)?;
        let body = call.json()?;
        let client_id =
            text(&body, "client_id").map_err(|_| ApiError::oauth_invalid_parameter("client_id"))?;
        let scope = text(&body, "scope").map_err(|_| ApiError::oauth_invalid_parameter("scope"))?;
        clients::check(service, client_id, scope)?;
        let state = optional_text(&body, "state")?.unwrap_or("");
        if optional_text(&body, "response_type")?.is_some_and(|r| r != "code") {
            return Err(ApiError::oauth_invalid_parameter("response_type"));
        }
        let access_type = match optional_text(&body, "access_type")? {
            None | Some("online") => "online",
            Some("offline") => "offline",
            Some(_) => return Err(ApiError::oauth_invalid_parameter("access_type")),
        };
        // Firefox's clients are public: PKCE is required.
        if optional_text(&body, "code_challenge_method")? != Some("S256") {
            return Err(ApiError::oauth_invalid_parameter("code_challenge_method"));
        }
        let challenge = text(&body, "code_challenge")
            .ok()
            .filter(|c| c.len() == 43 && URL_SAFE_NO_PAD.decode(c).is_ok())
            .ok_or_else(|| ApiError::oauth_invalid_parameter("code_challenge"))?;
        let keys_jwe = optional_text(&body, "keys_jwe")?
            .map(|jwe| {
                if jwe.len() <= 4096 && jwe.split('.').count() == 5 {
                    Ok(jwe.to_owned())
                } else {
                    Err(ApiError::oauth_invalid_parameter("keys_jwe"))
                }
            })
            .transpose()?;
        let code = hex::encode(random::<32>()?);
        let now = crate::now_ms();
        let grant = AuthCode {
            uid: account.uid.clone(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            code_challenge: Some(challenge.to_owned()),
            keys_jwe,
            session_hash: Some(session.id_hash),
            access_type: access_type.to_owned(),
            auth_at: now / 1000,
        };
        service
            .store
            .write(|tx, _| oauth::insert_code(tx, &code, &grant, now + CODE_LIFETIME_MS))?;
        let redirect = format!(
            "{}/oauth/success/{client_id}?code={code}&state={}",
            service.public_url,
            url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
        );
        Ok(json!({ "code": code, "state": state, "redirect": redirect }))
    })
    .await
}

/// What a presented token is: an unexpired access token of ours (its
/// claims) or a live refresh token.
enum Known {
    Access(Value),
    Refresh(oauth::RefreshToken),
}

fn identify(service: &Service, token: &str) -> Result<Option<Known>, ApiError> {
    if token.contains('.') {
        let Some(claims) = service.keys.verify(token) else {
            return Ok(None);
        };
        let jti = claims["jti"].as_str().unwrap_or("").to_owned();
        if service.store.read(|conn, _| oauth::is_revoked(conn, &jti))? {
            return Ok(None);
        }
        return Ok(Some(Known::Access(claims)));
    }
    Ok(service
        .store
        .read(|conn, _| oauth::find_refresh(conn, token))?
        .map(Known::Refresh))
}

/// `POST /v1/oauth/destroy` `{token | access_token | refresh_token}`:
/// revokes it. Unknown tokens are not an error (RFC 7009).
pub(super) async fn destroy(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let token = ["token", "refresh_token", "access_token"]
            .iter()
            .find_map(|name| body.get(*name).and_then(Value::as_str))
            .ok_or_else(|| ApiError::oauth_invalid_parameter("token"))?;
        match identify(service, token)? {
            Some(Known::Refresh(refresh)) => {
                service
                    .store
                    .write(|tx, _| oauth::delete_refresh(tx, &refresh.hash))?;
            }
            Some(Known::Access(claims)) => {
                let jti = claims["jti"].as_str().unwrap_or("").to_owned();
                let expires_at = claims["exp"].as_u64().unwrap_or(0).saturating_mul(1000);
                service
                    .store
                    .write(|tx, _| oauth::revoke_jti(tx, &jti, expires_at))?;
            }
            None => {}
        }
        Ok(json!({}))
    })
    .await
}

/// `POST /v1/verify` `{token}`: what the OAuth server tells a relier about
/// an access token (what a token server that cannot verify JWTs itself
/// asks): `{user, client_id, scope, generation}`.
pub(super) async fn verify(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let token = text(&body, "token").map_err(|_| ApiError::oauth_invalid_parameter("token"))?;
        let Some(Known::Access(claims)) = identify(service, token)? else {
            return Err(ApiError::oauth_invalid_token());
        };
        let scope: Vec<&str> = claims["scope"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let mut answer = json!({
            "user": claims["sub"],
            "client_id": claims["client_id"],
            "scope": scope,
        });
        if let Some(generation) = claims.get("fxa-generation") {
            answer["generation"] = generation.clone();
        }
        Ok(answer)
    })
    .await
}

/// `POST /v1/introspect` `{token, token_type_hint?}` (RFC 7662).
pub(super) async fn introspect(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let token = text(&body, "token").map_err(|_| ApiError::oauth_invalid_parameter("token"))?;
        Ok(match identify(service, token)? {
            None => json!({ "active": false }),
            Some(Known::Access(claims)) => json!({
                "active": true,
                "token_type": "access_token",
                "scope": claims["scope"],
                "client_id": claims["client_id"],
                "sub": claims["sub"],
                "exp": claims["exp"],
                "iat": claims["iat"],
                "jti": claims["jti"],
            }),
            Some(Known::Refresh(refresh)) => json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": refresh.scope,
                "client_id": refresh.client_id,
                "sub": refresh.uid,
                "iat": refresh.created_at / 1000,
                "fxa-lastUsedAt": refresh.last_used_at,
            }),
        })
    })
    .await
}

/// `GET /v1/jwks`: the public signing keys, primary first.
pub(super) async fn jwks(State(service): S) -> axum::Json<Value> {
    let keys: Vec<Value> = service
        .keys
        .public()
        .into_iter()
        .map(|k| json!({ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid, "n": k.n, "e": k.e }))
        .collect();
    axum::Json(json!({ "keys": keys }))
}
