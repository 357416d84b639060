//! Signing up and signing in (`routes/account.ts` of the auth server):
//! `/account/create`, `/account/login` with its unblock codes,
//! `/account/status`, `/account/credentials/status`.

use axum::extract::State;
use fxa_client::crypto::is_v2_salt;
use serde_json::{Value, json};

use super::issue::{self, MustVerify};
use super::{Answer, Call, S, email, hex32, optional_hex32, optional_text, run};
use crate::Service;
use crate::error::ApiError;
use crate::password::{ServerStretched, same};
use crate::secrets::{hash_hex, random};
use crate::store::accounts::{self, Account, Credentials, NewAccount, V2Verifier, Verifier};
use crate::store::limits;

/// Wrong passwords on one account, within the rate window, after which a
/// sign-in needs an emailed unblock code (errno 125).
const BLOCK_AFTER_FAILURES: u32 = 5;
/// How long an unblock code is good for (Mozilla: an hour).
const UNBLOCK_LIFETIME_MS: u64 = 60 * 60 * 1000;

/// The V2 members of a create, change or reset body.
#[derive(Clone)]
pub(super) struct V2Fields {
    pub auth_pw: [u8; 32],
    pub wrap_kb: [u8; 32],
    pub client_salt: String,
}

/// The V2 members of a create or password-change body: all three or none
/// (`.and('authPWVersion2', 'wrapKbVersion2', 'clientSalt')`).
pub(super) fn v2_fields(body: &Value) -> Result<Option<V2Fields>, ApiError> {
    let auth = optional_hex32(body, "authPWVersion2")?;
    let wrap = optional_hex32(body, "wrapKbVersion2")?;
    let salt = optional_text(body, "clientSalt")?;
    match (auth, wrap, salt) {
        (None, None, None) => Ok(None),
        (Some(auth), Some(wrap), Some(salt)) if is_v2_salt(salt) => Ok(Some(V2Fields {
            auth_pw: auth,
            wrap_kb: wrap,
            client_salt: salt.to_owned(),
        })),
        (_, _, Some(salt)) if !is_v2_salt(salt) => Err(ApiError::invalid_parameter("clientSalt")),
        _ => Err(ApiError::missing_parameter(
            "authPWVersion2, wrapKbVersion2, clientSalt",
        )),
    }
}

/// Password material for `authPW` (and the V2 fields) under a new salt:
/// what create, change and reset store, with the V1 wrapKb the client's
/// key fetch unwraps to. Without a `wrapKb` kB is new and random (Mozilla's
/// sign-up picks a random wrapWrapKb: the same thing).
pub(super) fn credentials(
    service: &Service,
    auth_pw: &[u8; 32],
    wrap_kb: Option<[u8; 32]>,
    v2: Option<V2Fields>,
) -> Result<(Credentials, [u8; 32]), ApiError> {
    let auth_salt = random::<32>()?;
    let wrap_kb = match wrap_kb {
        Some(wrap_kb) => wrap_kb,
        None => random::<32>()?,
    };
    let log_n = service.config.scrypt_log_n;
    service.with_scrypt(|| {
        let stretched = ServerStretched::new(auth_pw, &auth_salt, log_n)?;
        let v1 = Verifier {
            verify_hash: stretched.verify_hash(),
            wrap_wrap_kb: stretched.wrap(&wrap_kb),
        };
        let v2 = match v2 {
            Some(V2Fields {
                auth_pw: auth_v2,
                wrap_kb: wrap_v2,
                client_salt,
            }) => {
                let stretched = ServerStretched::new(&auth_v2, &auth_salt, log_n)?;
                Some(V2Verifier {
                    client_salt,
                    verifier: Verifier {
                        verify_hash: stretched.verify_hash(),
                        wrap_wrap_kb: stretched.wrap(&wrap_v2),
                    },
                })
            }
            None => None,
        };
        Ok((Credentials { auth_salt, v1, v2 }, wrap_kb))
    })
}

/// Which of the account's verifiers `auth_pw` matches, with the client's
/// wrapKb it unwraps: `Some((true, wrapKb))` for V2. One scrypt either
/// way: both verifiers share the salt.
pub(super) fn check_password(
    service: &Service,
    account: &Account,
    auth_pw: &[u8; 32],
) -> Result<Option<(bool, [u8; 32])>, ApiError> {
    service.with_scrypt(|| {
        let stretched = ServerStretched::new(auth_pw, &account.auth_salt, service.config.scrypt_log_n)?;
        let hash = stretched.verify_hash();
        if let Some(v2) = account
            .v2
            .as_ref()
            .filter(|v2| same(&hash, &v2.verifier.verify_hash))
        {
            return Ok(Some((true, stretched.wrap(&v2.verifier.wrap_wrap_kb))));
        }
        if same(&hash, &account.v1.verify_hash) {
            return Ok(Some((false, stretched.wrap(&account.v1.wrap_wrap_kb))));
        }
        Ok(None)
    })
}

/// `POST /v1/account/create`.
pub(super) async fn create(State(service): S, call: Call) -> Answer {
    run(service, call, create_now).await
}

fn create_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let body = call.json()?;
    let email = email(&body)?.to_owned();
    let auth_pw = hex32(&body, "authPW")?;
    let v2 = v2_fields(&body)?;
    let wrap_kb = optional_hex32(&body, "wrapKb")?;
    if v2.is_some() && wrap_kb.is_none() {
        return Err(ApiError::missing_parameter("wrapKb"));
    }
    issue::throttle(service, call, "create", Some(&email))?;
    if !service.config.may_register(&email) {
        return Err(ApiError::registration_closed());
    }
    if let Some(existing) = service.store.read(|conn, _| accounts::by_email(conn, &email))? {
        // An address nobody confirmed can be signed up again (Mozilla's
        // `deleteAccountIfUnverified`); a confirmed one cannot.
        if existing.email_verified {
            return Err(ApiError::account_exists(&existing.email));
        }
    }
    let (credentials, v1_wrap) = credentials(service, &auth_pw, wrap_kb, v2.clone())?;
    let uid = hex::encode(random::<16>()?);
    let ka = random::<32>()?;
    let now = crate::now_ms();
    let user_agent = call.user_agent();
    let wants_keys = call.wants_keys();
    let (account, session, key_fetch, key_fetch_v2) = service.store.write(|tx, sealer| {
        if let Some(existing) = accounts::by_email(tx, &email)? {
            if existing.email_verified {
                return Err(ApiError::account_exists(&existing.email));
            }
            accounts::delete(tx, &existing.uid)?;
        }
        accounts::insert(
            tx,
            sealer,
            &NewAccount {
                uid: &uid,
                email: &email,
                credentials: &credentials,
                ka: &ka,
                email_code_hash: Some(""),
                now,
            },
        )?;
        let account = accounts::live(tx, &uid)?;
        let session = issue::session(
            tx,
            sealer,
            &account,
            MustVerify::EmailCode { signup: true },
            &user_agent,
            now,
        )?;
        let (key_fetch, key_fetch_v2) = if wants_keys {
            let v2_wrap = v2.as_ref().map(|v2| &v2.wrap_kb);
            let (v1, v2) = issue::key_fetches(tx, sealer, &account, &v1_wrap, v2_wrap, &session.hash, now)?;
            (Some(v1), v2)
        } else {
            (None, None)
        };
        Ok((account, session, key_fetch, key_fetch_v2))
    })?;
    if let Some(code) = &session.code {
        issue::send_code(service, &account, code, true, &user_agent);
    }
    let mut answer = json!({
        "uid": account.uid,
        "sessionToken": session.token,
        "authAt": now / 1000,
        "verificationMethod": "email-otp",
    });
    if let Some(token) = key_fetch {
        answer["keyFetchToken"] = json!(token);
    }
    if let Some(token) = key_fetch_v2 {
        answer["keyFetchTokenVersion2"] = json!(token);
    }
    Ok(answer)
}

/// `POST /v1/account/login`.
pub(super) async fn login(State(service): S, call: Call) -> Answer {
    run(service, call, login_now).await
}

fn login_now(service: &Service, call: &Call) -> Result<Value, ApiError> {
    let body = call.json()?;
    let email = email(&body)?.to_owned();
    let auth_pw = hex32(&body, "authPW")?;
    let unblock_code = optional_text(&body, "unblockCode")?.map(str::to_uppercase);
    let original_email = optional_text(&body, "originalLoginEmail")?;
    service.purge_now_and_then();
    issue::throttle(service, call, "login", Some(&email))?;
    let account = service
        .store
        .read(|conn, _| accounts::by_email(conn, &email))?
        .ok_or_else(|| ApiError::unknown_account(&email))?;
    if account.disabled_at.is_some() {
        return Err(ApiError::cannot_sign_in());
    }
    // V1 stretching salts with the address: a different case is a
    // different authPW, so the client is told the stored spelling first.
    if account.email != email && original_email != Some(account.email.as_str()) {
        return Err(ApiError::incorrect_email_case(&account.email));
    }
    let now = crate::now_ms();
    let window = service.config.rate_window_secs * 1000;
    let failures_key = format!("failures {}", account.uid);
    let unblocked = match &unblock_code {
        Some(code) => {
            let code_hash = hash_hex(code.as_bytes());
            let taken = service
                .store
                .write(|tx, _| limits::take_unblock_code(tx, &account.uid, &code_hash, now))?;
            if !taken {
                return Err(ApiError::invalid_unblock_code());
            }
            true
        }
        None => false,
    };
    if !unblocked {
        let failures = service
            .store
            .read(|conn, _| limits::attempts(conn, &failures_key, window, now))?;
        if failures >= BLOCK_AFTER_FAILURES {
            return Err(ApiError::request_blocked());
        }
    }
    let Some((is_v2, wrap_kb)) = check_password(service, &account, &auth_pw)? else {
        service
            .store
            .write(|tx, _| limits::count(tx, &failures_key, u32::MAX, window, now))?;
        return Err(ApiError::incorrect_password(&account.email, &email));
    };
    let must_verify = if !account.email_verified {
        MustVerify::EmailCode { signup: true }
    } else if account.totp_enabled {
        MustVerify::Totp
    } else if service.config.confirm_sign_ins
        && !unblocked
        && (call.wants_keys() || body.get("verificationMethod").is_some())
    {
        MustVerify::EmailCode { signup: false }
    } else {
        MustVerify::No
    };
    let user_agent = call.user_agent();
    let wants_keys = call.wants_keys();
    let (session, key_fetch) = service.store.write(|tx, sealer| {
        limits::clear(tx, &failures_key)?;
        let session = issue::session(tx, sealer, &account, must_verify, &user_agent, now)?;
        let key_fetch = if wants_keys {
            Some(issue::key_fetch(
                tx,
                sealer,
                &account,
                &wrap_kb,
                &session.hash,
                now,
            )?)
        } else {
            None
        };
        Ok((session, key_fetch))
    })?;
    if let Some(code) = &session.code {
        issue::send_code(service, &account, code, !account.email_verified, &user_agent);
    } else if must_verify == MustVerify::No {
        // Nothing confirmed this sign-in: the owner hears of it, as
        // Mozilla's "new sign-in" notice does.
        service.send_mail(&crate::mail::messages::new_sign_in(
            &service.config.email.from,
            &account.email,
            issue::device_name(&user_agent),
        ));
    }
    let verified = must_verify == MustVerify::No;
    let mut answer = json!({
        "uid": account.uid,
        "sessionToken": session.token,
        "verified": verified,
        "sessionVerified": verified,
        "emailVerified": account.email_verified,
        "authAt": now / 1000,
        "metricsEnabled": false,
    });
    if let Some(method) = must_verify.method() {
        answer["verificationMethod"] = json!(method);
        answer["verificationReason"] = json!(if account.email_verified { "login" } else { "signup" });
    }
    if let Some(token) = key_fetch {
        let name = if is_v2 {
            "keyFetchTokenVersion2"
        } else {
            "keyFetchToken"
        };
        answer[name] = json!(token);
    }
    Ok(answer)
}

/// `POST /v1/account/login/send_unblock_code`: emails a code that lets the
/// next sign-in past the block (8 characters of base 36, as Mozilla's).
pub(super) async fn send_unblock_code(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        issue::throttle(service, call, "unblock", Some(&email))?;
        let account = service
            .store
            .read(|conn, _| accounts::by_email(conn, &email))?
            .ok_or_else(|| ApiError::unknown_account(&email))?;
        let code = base36_code(8)?;
        let now = crate::now_ms();
        let code_hash = hash_hex(code.as_bytes());
        service.store.write(|tx, _| {
            limits::set_unblock_code(tx, &account.uid, &code_hash, now + UNBLOCK_LIFETIME_MS)
        })?;
        service.send_mail(&crate::mail::messages::unblock(
            &service.config.email.from,
            &account.email,
            &code,
        ));
        Ok(json!({}))
    })
    .await
}

/// `POST /v1/account/login/reject_unblock_code {uid, unblockCode}`: the
/// person says the sign-in was not theirs; the code dies.
pub(super) async fn reject_unblock_code(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let uid = super::text(&body, "uid")?.to_owned();
        let code = super::text(&body, "unblockCode")?.to_uppercase();
        let now = crate::now_ms();
        let code_hash = hash_hex(code.as_bytes());
        service
            .store
            .write(|tx, _| limits::take_unblock_code(tx, &uid, &code_hash, now))?;
        Ok(json!({}))
    })
    .await
}

fn base36_code(len: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let bytes = random::<16>()?;
    let mut n = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(ALPHABET[(n % 36) as usize]));
        n /= 36;
    }
    Ok(out)
}

/// `GET /v1/account/status?uid=…`: `{exists}`.
pub(super) async fn status_get(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let uid = call
            .query("uid")
            .ok_or_else(|| ApiError::missing_parameter("uid"))?;
        let exists = service
            .store
            .read(|conn, _| accounts::by_uid(conn, &uid))?
            .is_some();
        Ok(json!({ "exists": exists }))
    })
    .await
}

/// `POST /v1/account/status {email}`: `{exists}` (throttled: it tells who
/// has an account).
pub(super) async fn status_post(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        issue::throttle(service, call, "status", None)?;
        let exists = service
            .store
            .read(|conn, _| accounts::by_email(conn, &email))?
            .is_some();
        Ok(json!({ "exists": exists }))
    })
    .await
}

/// `POST /v1/account/credentials/status {email}`: which stretching the
/// client must use (V2 with the account's clientSalt, or V1).
pub(super) async fn credentials_status(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let body = call.json()?;
        let email = email(&body)?.to_owned();
        issue::throttle(service, call, "status", None)?;
        let account = service
            .store
            .read(|conn, _| accounts::by_email(conn, &email))?
            .ok_or_else(|| ApiError::unknown_account(&email))?;
        Ok(match &account.v2 {
            Some(v2) => json!({"currentVersion": "v2", "clientSalt": v2.client_salt, "upgradeNeeded": false}),
            None => json!({"currentVersion": "v1", "upgradeNeeded": false}),
        })
    })
    .await
}
