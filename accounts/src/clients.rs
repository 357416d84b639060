//! The OAuth clients the service knows: Firefox's own public clients (the
//! ids Mozilla registered for desktop, Android and iOS, which the browsers
//! send unchanged whatever accounts server they use), and the scopes they
//! may ask for.

use crate::Service;
use crate::config::{FIREFOX_ANDROID, FIREFOX_DESKTOP, FIREFOX_IOS};
use crate::error::ApiError;

/// Known clients: id and the name the device list shows.
const CLIENTS: [(&str, &str); 3] = [
    (FIREFOX_DESKTOP, "Firefox"),
    (FIREFOX_ANDROID, "Firefox for Android"),
    (FIREFOX_IOS, "Firefox for iOS"),
];

/// Scopes a Firefox may be granted (Mozilla's client registry gives its
/// browsers these): Sync's key, the profile (and its sub-scopes), the
/// session-token scope application-services asks for, and OpenID's.
const ALLOWED: [&str; 5] = [
    crate::OLDSYNC_SCOPE,
    "profile",
    "https://identity.mozilla.com/tokens/session",
    "openid",
    "email",
];

/// The client's display name, if it is one of ours.
pub(crate) fn name(client_id: &str) -> Option<&'static str> {
    CLIENTS
        .iter()
        .find(|(id, _)| *id == client_id)
        .map(|(_, name)| *name)
}

/// Refuses an unknown client (OAuth errno 101) or a scope it may not have
/// (114). `scope` is space-separated.
pub(crate) fn check(_service: &Service, client_id: &str, scope: &str) -> Result<(), ApiError> {
    if name(client_id).is_none() {
        return Err(ApiError::oauth_unknown_client(client_id));
    }
    for wanted in scope.split_whitespace() {
        if !allowed(wanted) {
            return Err(ApiError::oauth_invalid_scopes(wanted));
        }
    }
    if scope.split_whitespace().next().is_none() {
        return Err(ApiError::oauth_invalid_scopes(scope));
    }
    Ok(())
}

fn allowed(scope: &str) -> bool {
    ALLOWED.contains(&scope)
        || scope
            .strip_prefix("profile:")
            .is_some_and(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_scopes_only() {
        assert!(allowed("profile:email"));
        assert!(allowed(crate::OLDSYNC_SCOPE));
        assert!(!allowed("profile:"));
        assert!(!allowed("https://identity.mozilla.com/apps/notes"));
        assert_eq!(name(FIREFOX_ANDROID), Some("Firefox for Android"));
        assert_eq!(name("0123456789abcdef"), None);
    }
}
