//! The Firefox `passwords` record (DESIGN §5): what goes on the wire.

use serde::{Deserialize, Serialize};
use sync15::{Guid, UnknownFields};

use crate::login::{Login, LoginEntry};

/// A `passwords` record's cleartext. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRecord {
    /// The login's id.
    pub id: Guid,
    /// The origin (Firefox's historical name).
    pub hostname: String,
    /// The form action origin, for form logins.
    #[serde(rename = "formSubmitURL", default)]
    pub form_submit_url: Option<String>,
    /// The realm, for HTTP authentication logins.
    #[serde(default)]
    pub http_realm: Option<String>,
    /// The username.
    #[serde(default)]
    pub username: String,
    /// The password.
    pub password: String,
    /// The form's username field.
    #[serde(default)]
    pub username_field: String,
    /// The form's password field.
    #[serde(default)]
    pub password_field: String,
    /// When it was created.
    #[serde(default)]
    pub time_created: i64,
    /// When its password last changed.
    #[serde(default)]
    pub time_password_changed: i64,
    /// When it was last used.
    #[serde(default)]
    pub time_last_used: i64,
    /// How often it was used.
    #[serde(default)]
    pub times_used: i64,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl PasswordRecord {
    /// The record for a stored login, carrying `unknown` fields back.
    pub fn from_login(login: &Login, unknown: UnknownFields) -> Self {
        PasswordRecord {
            id: login.guid.clone(),
            hostname: login.entry.origin.clone(),
            form_submit_url: login.entry.form_action_origin.clone(),
            http_realm: login.entry.http_realm.clone(),
            username: login.entry.username.clone(),
            password: login.entry.password.clone(),
            username_field: login.entry.username_field.clone(),
            password_field: login.entry.password_field.clone(),
            time_created: login.time_created,
            time_password_changed: login.time_password_changed,
            time_last_used: login.time_last_used,
            times_used: login.times_used,
            unknown,
        }
    }

    /// The login the record describes (not yet validated).
    pub fn to_login(&self) -> Login {
        Login {
            guid: self.id.clone(),
            entry: LoginEntry {
                origin: self.hostname.clone(),
                form_action_origin: self.form_submit_url.clone(),
                http_realm: self.http_realm.clone(),
                username_field: self.username_field.clone(),
                password_field: self.password_field.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
            },
            time_created: self.time_created,
            time_password_changed: self.time_password_changed,
            time_last_used: self.time_last_used,
            times_used: self.times_used,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// Records as Firefox desktop writes them: a form login and an HTTP
    /// authentication login, one with fields from a future version.
    fn goldens() -> Vec<serde_json::Value> {
        vec![
            json!({
                "id": "{5f8a2e3c-1b7d-4c1e-9a3f-2d6b8e0c4a11}",
                "hostname": "https://accounts.example.com",
                "formSubmitURL": "https://accounts.example.com",
                "httpRealm": null,
                "username": "alice@example.com",
                "password": "correct horse battery staple",
                "usernameField": "email",
                "passwordField": "pw",
                "timeCreated": 1700000000123i64,
                "timePasswordChanged": 1700000500456i64,
                "timeLastUsed": 1700001000789i64,
                "timesUsed": 7,
                "everSynced": true,
                "syncCounter": 3,
                "futureThing": {"a": [1, "b"]}
            }),
            json!({
                "id": "jHc9rdlRzvLq",
                "hostname": "http://router.local:8080",
                "formSubmitURL": null,
                "httpRealm": "Router admin",
                "username": "admin",
                "password": "admin123",
                "usernameField": "",
                "passwordField": "",
                "timeCreated": 1600000000000i64,
                "timePasswordChanged": 1600000000000i64,
                "timeLastUsed": 1600000000000i64,
                "timesUsed": 1
            }),
        ]
    }

    #[test]
    fn golden_records_round_trip_without_losing_a_field() {
        for golden in goldens() {
            let record: PasswordRecord = serde_json::from_value(golden.clone()).unwrap();
            let back = PasswordRecord::from_login(&record.to_login(), record.unknown.clone());
            assert_eq!(serde_json::to_value(&back).unwrap(), golden);
        }
    }

    #[test]
    fn optional_usage_fields_default_to_zero() {
        let record: PasswordRecord = serde_json::from_value(json!({
            "id": "aaaaaaaaaaaa", "hostname": "https://a.example", "formSubmitURL": "",
            "username": "", "password": "p", "usernameField": "", "passwordField": "",
            "timeCreated": 1, "timePasswordChanged": 2
        }))
        .unwrap();
        assert_eq!((record.time_last_used, record.times_used), (0, 0));
        assert_eq!(record.http_realm, None);
    }
}
