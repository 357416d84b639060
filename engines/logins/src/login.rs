//! What the app stores ([`LoginEntry`]), what it reads back ([`Login`]),
//! and the rules a login must follow before it is written.

use serde::{Deserialize, Serialize};
use sync15::Guid;

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLogin {
    /// The origin is empty.
    #[error("the origin is empty")]
    EmptyOrigin,
    /// The origin is not a URL with a host.
    #[error("the origin {0:?} is not a URL with a host")]
    BadOrigin(String),
    /// The form action origin is not a URL with a host, `""` or `javascript:`.
    #[error("the form action origin {0:?} is not a URL with a host")]
    BadFormActionOrigin(String),
    /// The password is empty.
    #[error("the password is empty")]
    EmptyPassword,
    /// Both a form action origin and an HTTP realm were given.
    #[error("a login is for a form or for HTTP authentication, not both")]
    BothTargets,
    /// Neither a form action origin nor an HTTP realm was given.
    #[error("a login needs a form action origin or an HTTP realm")]
    NoTarget,
    /// A field holds a value it may not hold.
    #[error("{field}: {reason}")]
    IllegalFieldValue {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A login as the app gives it: where it is used and the credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoginEntry {
    /// The site's origin, e.g. `https://example.com` (a full URL is reduced
    /// to its origin).
    pub origin: String,
    /// For form logins: the origin the form submits to (`""` matches any).
    pub form_action_origin: Option<String>,
    /// For HTTP authentication logins: the realm.
    pub http_realm: Option<String>,
    /// The form's username field name (empty for HTTP authentication).
    pub username_field: String,
    /// The form's password field name (empty for HTTP authentication).
    pub password_field: String,
    /// The username (may be empty).
    pub username: String,
    /// The password (never empty).
    pub password: String,
}

/// A stored login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// Its id (shared with other devices once synced).
    pub guid: Guid,
    /// The login itself.
    pub entry: LoginEntry,
    /// When it was created, ms since the epoch.
    pub time_created: i64,
    /// When its password last changed, ms.
    pub time_password_changed: i64,
    /// When it was last used, ms.
    pub time_last_used: i64,
    /// How often it was used.
    pub times_used: i64,
}

impl LoginEntry {
    /// The entry checked and in canonical form: origins reduced to
    /// `scheme://host[:port]`, lower-cased host, default ports dropped.
    pub fn normalized(&self) -> Result<LoginEntry, InvalidLogin> {
        for (field, value) in [
            ("origin", self.origin.as_str()),
            (
                "form_action_origin",
                self.form_action_origin.as_deref().unwrap_or(""),
            ),
            ("http_realm", self.http_realm.as_deref().unwrap_or("")),
            ("username_field", self.username_field.as_str()),
            ("password_field", self.password_field.as_str()),
            ("username", self.username.as_str()),
            ("password", self.password.as_str()),
        ] {
            if value.contains('\0') {
                return Err(InvalidLogin::IllegalFieldValue {
                    field,
                    reason: "contains a NUL character",
                });
            }
        }
        if self.origin.trim().is_empty() {
            return Err(InvalidLogin::EmptyOrigin);
        }
        let origin =
            normalize_origin(&self.origin).ok_or_else(|| InvalidLogin::BadOrigin(self.origin.clone()))?;
        if self.password.is_empty() {
            return Err(InvalidLogin::EmptyPassword);
        }
        let (form_action_origin, http_realm) = match (&self.form_action_origin, &self.http_realm) {
            (Some(_), Some(_)) => return Err(InvalidLogin::BothTargets),
            (None, None) => return Err(InvalidLogin::NoTarget),
            (Some(action), None) => {
                let action = match action.as_str() {
                    "" | "javascript:" => action.clone(),
                    other => normalize_origin(other)
                        .ok_or_else(|| InvalidLogin::BadFormActionOrigin(action.clone()))?,
                };
                (Some(action), None)
            }
            (None, Some(realm)) => {
                if realm.trim().is_empty() {
                    return Err(InvalidLogin::IllegalFieldValue {
                        field: "http_realm",
                        reason: "is empty",
                    });
                }
                if !self.username_field.is_empty() || !self.password_field.is_empty() {
                    return Err(InvalidLogin::IllegalFieldValue {
                        field: "username_field/password_field",
                        reason: "must be empty for HTTP authentication logins",
                    });
                }
                (None, Some(realm.clone()))
            }
        };
        for (field, value) in [
            ("origin", self.origin.as_str()),
            ("username_field", self.username_field.as_str()),
            ("password_field", self.password_field.as_str()),
        ] {
            if value.contains(['\n', '\r']) {
                return Err(InvalidLogin::IllegalFieldValue {
                    field,
                    reason: "contains a line break",
                });
            }
        }
        Ok(LoginEntry {
            origin,
            form_action_origin,
            http_realm,
            username_field: self.username_field.clone(),
            password_field: self.password_field.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        })
    }

    /// Whether `other` is the same login (origin, form action, realm and
    /// username), whatever its password.
    pub fn is_dupe_of(&self, other: &LoginEntry) -> bool {
        self.origin == other.origin
            && self.form_action_origin == other.form_action_origin
            && self.http_realm == other.http_realm
            && self.username == other.username
    }
}

/// `scheme://host[:port]` of a URL, or `None` if it has no host.
pub fn normalize_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    let host = url.host_str().filter(|h| !h.is_empty())?;
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        // Non-special schemes (chrome://, moz-extension://…) have opaque
        // origins; keep scheme, host and port as written.
        url::Origin::Opaque(_) => Some(match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn form_login(origin: &str, username: &str, password: &str) -> LoginEntry {
        LoginEntry {
            origin: origin.into(),
            form_action_origin: Some(origin.into()),
            http_realm: None,
            username_field: "user".into(),
            password_field: "pass".into(),
            username: username.into(),
            password: password.into(),
        }
    }

    #[test]
    fn origins_are_normalized() {
        let entry = LoginEntry {
            form_action_origin: Some("https://LOGIN.example.com:443/submit?x=1".into()),
            ..form_login("HTTPS://Example.COM:443/some/path?q#frag", "u", "p")
        };
        let normal = entry.normalized().unwrap();
        assert_eq!(normal.origin, "https://example.com");
        assert_eq!(
            normal.form_action_origin.as_deref(),
            Some("https://login.example.com")
        );
        assert_eq!(
            normalize_origin("http://example.com:8080/x").unwrap(),
            "http://example.com:8080"
        );
        assert_eq!(
            normalize_origin("chrome://FirefoxAccounts").unwrap(),
            "chrome://FirefoxAccounts"
        );
        assert_eq!(
            normalize_origin("https://[::1]:8443/").unwrap(),
            "https://[::1]:8443"
        );
        for empty_ok in ["", "javascript:"] {
            let entry = LoginEntry {
                form_action_origin: Some(empty_ok.into()),
                ..form_login("https://a.example", "u", "p")
            };
            assert_eq!(
                entry.normalized().unwrap().form_action_origin.as_deref(),
                Some(empty_ok)
            );
        }
    }

    #[test]
    fn bad_logins_get_typed_errors() {
        let ok = form_login("https://a.example", "u", "p");
        let cases: Vec<(LoginEntry, InvalidLogin)> = vec![
            (
                LoginEntry {
                    origin: " ".into(),
                    ..ok.clone()
                },
                InvalidLogin::EmptyOrigin,
            ),
            (
                LoginEntry {
                    origin: "not a url".into(),
                    ..ok.clone()
                },
                InvalidLogin::BadOrigin("not a url".into()),
            ),
            (
                LoginEntry {
                    origin: "data:text/plain,hi".into(),
                    ..ok.clone()
                },
                InvalidLogin::BadOrigin("data:text/plain,hi".into()),
            ),
            (
                LoginEntry {
                    password: String::new(),
                    ..ok.clone()
                },
                InvalidLogin::EmptyPassword,
            ),
            (
                LoginEntry {
                    http_realm: Some("r".into()),
                    ..ok.clone()
                },
                InvalidLogin::BothTargets,
            ),
            (
                LoginEntry {
                    form_action_origin: None,
                    ..ok.clone()
                },
                InvalidLogin::NoTarget,
            ),
            (
                LoginEntry {
                    form_action_origin: Some("nope".into()),
                    ..ok.clone()
                },
                InvalidLogin::BadFormActionOrigin("nope".into()),
            ),
        ];
        for (entry, expected) in cases {
            assert_eq!(entry.normalized().unwrap_err(), expected, "{entry:?}");
        }
        let nul = LoginEntry {
            username: "a\0b".into(),
            ..ok.clone()
        };
        assert!(matches!(
            nul.normalized(),
            Err(InvalidLogin::IllegalFieldValue {
                field: "username",
                ..
            })
        ));
        let realm_with_fields = LoginEntry {
            form_action_origin: None,
            http_realm: Some("My Realm".into()),
            ..ok.clone()
        };
        assert!(matches!(
            realm_with_fields.normalized(),
            Err(InvalidLogin::IllegalFieldValue { .. })
        ));
        let realm = LoginEntry {
            username_field: String::new(),
            password_field: String::new(),
            ..realm_with_fields
        };
        assert!(realm.normalized().is_ok());
    }

    #[test]
    fn dupes_ignore_the_password() {
        let a = form_login("https://a.example", "u", "one");
        assert!(a.is_dupe_of(&form_login("https://a.example", "u", "two")));
        assert!(!a.is_dupe_of(&form_login("https://a.example", "v", "one")));
        let realm = LoginEntry {
            form_action_origin: None,
            http_realm: Some("https://a.example".into()),
            ..a.clone()
        };
        assert!(!a.is_dupe_of(&realm));
    }
}
