//! Three-way merge of a login changed on this device and on the server.
//!
//! The mirror holds the server's version as of the last sync: the common
//! ancestor. Field by field, a side that did not change the field from the
//! ancestor yields to the side that did; when both changed it, the side
//! changed last wins. So edits of different fields on two devices both
//! survive, and a field edited on both ends as the newer edit made it.
//! Without an ancestor (a first sync, or a dupe adopted from the server),
//! every differing field goes to the newer side.

use crate::login::{Login, LoginEntry};

/// Merges `local` (changed here at `local_time`) and `remote` (written to
/// the server at `remote_time`) against their common ancestor `base`.
/// The result has `remote`'s guid.
pub(crate) fn merge(
    base: Option<&Login>,
    local: &Login,
    local_time: i64,
    remote: &Login,
    remote_time: i64,
) -> Login {
    let local_newer = local_time > remote_time;
    let pick = |base: Option<&str>, l: &str, r: &str| -> bool {
        // true: take the local value.
        if l == r {
            return false;
        }
        match base {
            Some(b) if b == l => false,
            Some(b) if b == r => true,
            _ => local_newer,
        }
    };
    macro_rules! field {
        ($name:ident) => {{
            let take_local = pick(
                base.map(|b| b.entry.$name.as_str()),
                &local.entry.$name,
                &remote.entry.$name,
            );
            (if take_local {
                &local.entry.$name
            } else {
                &remote.entry.$name
            })
            .clone()
        }};
    }
    // The form action and realm travel together: exactly one is set.
    let target = |login: &Login| {
        format!(
            "{}\u{1}{}",
            login.entry.form_action_origin.as_deref().map_or("\u{0}", |s| s),
            login.entry.http_realm.as_deref().map_or("\u{0}", |s| s)
        )
    };
    let take_local_target = pick(base.map(target).as_deref(), &target(local), &target(remote));
    let target_from = if take_local_target { local } else { remote };

    let take_local_password = pick(
        base.map(|b| b.entry.password.as_str()),
        &local.entry.password,
        &remote.entry.password,
    );
    let (password, time_password_changed) = if take_local_password {
        (
            local.entry.password.clone(),
            local.time_password_changed.max(remote.time_password_changed),
        )
    } else if local.entry.password == remote.entry.password {
        (
            remote.entry.password.clone(),
            local
                .time_password_changed
                .min(remote.time_password_changed)
                .max(0),
        )
    } else {
        (remote.entry.password.clone(), remote.time_password_changed)
    };

    // Usage adds up: each side's uses since the ancestor count.
    let times_used = match base {
        Some(b) => {
            let sum = b.times_used
                + (local.times_used - b.times_used).max(0)
                + (remote.times_used - b.times_used).max(0);
            sum.max(local.times_used).max(remote.times_used)
        }
        None => local.times_used.max(remote.times_used),
    };
    let time_created = match (local.time_created, remote.time_created) {
        (0, r) => r,
        (l, 0) => l,
        (l, r) => l.min(r),
    };

    Login {
        guid: remote.guid.clone(),
        entry: LoginEntry {
            origin: field!(origin),
            form_action_origin: target_from.entry.form_action_origin.clone(),
            http_realm: target_from.entry.http_realm.clone(),
            username_field: field!(username_field),
            password_field: field!(password_field),
            username: field!(username),
            password,
        },
        time_created,
        time_password_changed,
        time_last_used: local.time_last_used.max(remote.time_last_used),
        times_used,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sync15::Guid;

    fn login(username: &str, password: &str, field: &str) -> Login {
        Login {
            guid: Guid::new("aaaaaaaaaaaa"),
            entry: LoginEntry {
                origin: "https://a.example".into(),
                form_action_origin: Some("https://a.example".into()),
                http_realm: None,
                username_field: field.into(),
                password_field: "pw".into(),
                username: username.into(),
                password: password.into(),
            },
            time_created: 100,
            time_password_changed: 100,
            time_last_used: 100,
            times_used: 1,
        }
    }

    #[test]
    fn edits_of_different_fields_both_survive() {
        let base = login("alice", "old", "user");
        let local = login("alice", "new-password", "user");
        let remote = login("alice", "old", "email");
        // Whichever side is newer, each keeps its own edit.
        for (lt, rt) in [(10, 20), (20, 10)] {
            let merged = merge(Some(&base), &local, lt, &remote, rt);
            assert_eq!(merged.entry.password, "new-password");
            assert_eq!(merged.entry.username_field, "email");
        }
    }

    #[test]
    fn the_same_field_goes_to_the_newer_edit() {
        let base = login("alice", "old", "user");
        let local = login("alice", "local-pw", "user");
        let remote = login("alice", "remote-pw", "user");
        assert_eq!(
            merge(Some(&base), &local, 30, &remote, 20).entry.password,
            "local-pw"
        );
        assert_eq!(
            merge(Some(&base), &local, 10, &remote, 20).entry.password,
            "remote-pw"
        );
        // No ancestor: the same rule for every differing field.
        let merged = merge(None, &login("bob", "l", "x"), 10, &login("alice", "r", "y"), 20);
        assert_eq!(
            (merged.entry.username.as_str(), merged.entry.password.as_str()),
            ("alice", "r")
        );
    }

    #[test]
    fn usage_adds_up_and_the_earliest_creation_stays() {
        let base = Login {
            times_used: 5,
            ..login("a", "p", "u")
        };
        let local = Login {
            times_used: 7,
            time_last_used: 300,
            time_created: 90,
            ..login("a", "p", "u")
        };
        let remote = Login {
            times_used: 6,
            time_last_used: 200,
            ..login("a", "p", "u")
        };
        let merged = merge(Some(&base), &local, 1, &remote, 2);
        assert_eq!(merged.times_used, 8);
        assert_eq!(merged.time_last_used, 300);
        assert_eq!(merged.time_created, 90);
    }

    #[test]
    fn form_and_realm_targets_move_together() {
        let base = login("a", "p", "u");
        let remote = Login {
            entry: LoginEntry {
                form_action_origin: None,
                http_realm: Some("realm".into()),
                username_field: String::new(),
                password_field: String::new(),
                ..base.entry.clone()
            },
            ..base.clone()
        };
        let merged = merge(Some(&base), &base, 50, &remote, 10);
        assert_eq!(merged.entry.form_action_origin, None);
        assert_eq!(merged.entry.http_realm.as_deref(), Some("realm"));
    }
}
