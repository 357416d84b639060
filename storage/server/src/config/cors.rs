//! `[cors]`: which web pages may call the storage API from a browser.

use serde::{Deserialize, Serialize};

/// Cross-origin requests. By default every origin may call, and a browser
/// may cache a preflight's answer for 20 days — Mozilla's syncstorage-rs
/// defaults (`cors_allowed_origin = "*"`, `cors_max_age = 1728000`). The
/// API authenticates every request with Hawk, so an origin gains nothing a
/// token does not already grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cors {
    /// Origins allowed (`https://app.example`), or `["*"]` for any; an
    /// empty list answers no preflight and sends no CORS headers.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allowed_origins: vec!["*".to_owned()],
            max_age_secs: 1_728_000,
        }
    }
}

impl Cors {
    /// Why these settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.allowed_origins.len() > 1 && self.allowed_origins.iter().any(|o| o == "*") {
            return Some("cors.allowed_origins: \"*\" cannot be listed with other origins".into());
        }
        for origin in self.allowed_origins.iter().filter(|o| *o != "*") {
            let parsed = url::Url::parse(origin).ok();
            let is_origin = parsed.as_ref().is_some_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && !origin.ends_with('/')
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && u.username().is_empty()
            });
            if !is_origin {
                return Some(format!(
                    "cors.allowed_origins: {origin:?} is not an origin (scheme://host[:port], no path)"
                ));
            }
        }
        None
    }
}
