//! The pages Firefox loads to sign in (`identity.fxaccounts.remote.root`,
//! which Firefox sets to the autoconfig URL, i.e. [`crate::Accounts::public_url`]):
//! plain HTML with a small script of our own and no third-party asset.
//! The script stretches the password, unwraps kB and encrypts the Sync key
//! to Firefox in the browser; the server only ever sees authPW and wrapped
//! keys.
//!
//! Firefox's paths (`FxAccountsConfig.sys.mjs`): `/` with `action=email`
//! and the OAuth parameters to sign in, `/settings` (and
//! `/settings/clients`, `/settings/avatar/change`) to manage the account,
//! `/connect_another_device`, and `/oauth/success/<client>` after an
//! authorization.
//!
//! The pages carry a strict Content-Security-Policy (scripts and requests
//! to this origin only, no framing): they handle passwords.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Service;

const INDEX: &str = include_str!("static/index.html");
const SETTINGS: &str = include_str!("static/settings.html");
const FXA_JS: &str = include_str!("static/fxa.js");
const SIGNIN_JS: &str = include_str!("static/signin.js");
const SETTINGS_JS: &str = include_str!("static/settings.js");
const STYLE: &str = include_str!("static/style.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

async fn settings() -> Response {
    page("text/html; charset=utf-8", SETTINGS)
}

/// The pages' routes.
pub(crate) fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/", get(index))
        .route("/signin", get(index))
        .route("/signup", get(index))
        .route("/reset_password", get(index))
        .route("/connect_another_device", get(index))
        .route("/oauth/success/{client}", get(index))
        .route("/settings", get(settings))
        .route("/settings/clients", get(settings))
        .route("/settings/avatar/change", get(settings))
        .route(
            "/static/fxa.js",
            get(|| async { page("text/javascript; charset=utf-8", FXA_JS) }),
        )
        .route(
            "/static/signin.js",
            get(|| async { page("text/javascript; charset=utf-8", SIGNIN_JS) }),
        )
        .route(
            "/static/settings.js",
            get(|| async { page("text/javascript; charset=utf-8", SETTINGS_JS) }),
        )
        .route(
            "/static/style.css",
            get(|| async { page("text/css; charset=utf-8", STYLE) }),
        )
}
