//! Field-by-field merge of an item both sides changed
//! ([`ValueState::Both`](super::ValueState::Both)).
//!
//! Firefox's merger lets the newer side win the whole item, so a title
//! edited on one device and a URL edited on another lose one edit. Here the
//! mirror's copy (the record as both sides last agreed on it) is the base of
//! a three-way merge: a field only one side changed takes that side's
//! value; a field both changed takes the newer side's. Fields are compared
//! as whole JSON values (a `tags` list is one value), and fields unknown to
//! this crate merge the same way, so nothing another client wrote is lost.

use serde_json::{Map, Value};

use super::Side;

/// Fields the merged tree decides, not the values: taken from the newer
/// side here and overwritten by the caller from the merged structure.
pub const STRUCTURAL_FIELDS: [&str; 4] = ["id", "parentid", "parentName", "children"];

/// Merges `local` and `remote` against `base`. Without a base (the mirror
/// never held the item) nothing can tell who changed what, and the newer
/// side wins whole.
pub fn merge_fields(
    base: Option<&Map<String, Value>>,
    local: &Map<String, Value>,
    remote: &Map<String, Value>,
    newer: Side,
) -> Map<String, Value> {
    let (newer_map, older_map) = match newer {
        Side::Local => (local, remote),
        Side::Remote => (remote, local),
    };
    let Some(base) = base else {
        return newer_map.clone();
    };
    let mut merged = Map::new();
    let keys = newer_map
        .keys()
        .chain(older_map.keys().filter(|k| !newer_map.contains_key(*k)));
    for key in keys {
        let (n, o, b) = (newer_map.get(key), older_map.get(key), base.get(key));
        let chosen = if STRUCTURAL_FIELDS.contains(&key.as_str()) || n == o {
            n
        } else if n == b {
            // Only the older side changed (or removed) it.
            o
        } else {
            n
        };
        if let Some(value) = chosen {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn different_fields_changed_on_each_side_both_survive() {
        let base = map(json!({"id": "a", "title": "Old", "bmkUri": "https://old/", "parentid": "menu"}));
        let local =
            map(json!({"id": "a", "title": "New title", "bmkUri": "https://old/", "parentid": "menu"}));
        let remote = map(json!({"id": "a", "title": "Old", "bmkUri": "https://new/", "parentid": "toolbar"}));
        for newer in [Side::Local, Side::Remote] {
            let merged = merge_fields(Some(&base), &local, &remote, newer);
            assert_eq!(merged["title"], "New title");
            assert_eq!(merged["bmkUri"], "https://new/");
        }
    }

    #[test]
    fn a_field_both_changed_goes_to_the_newer_side() {
        let base = map(json!({"title": "Old"}));
        let local = map(json!({"title": "Local"}));
        let remote = map(json!({"title": "Remote"}));
        assert_eq!(
            merge_fields(Some(&base), &local, &remote, Side::Local)["title"],
            "Local"
        );
        assert_eq!(
            merge_fields(Some(&base), &local, &remote, Side::Remote)["title"],
            "Remote"
        );
    }

    #[test]
    fn removals_and_unknown_fields_merge_like_any_field() {
        let base = map(json!({"title": "T", "keyword": "k", "x-future": 1}));
        // Local removed the keyword; remote changed an unknown field and added another.
        let local = map(json!({"title": "T", "x-future": 1}));
        let remote = map(json!({"title": "T", "keyword": "k", "x-future": 2, "x-new": true}));
        let merged = merge_fields(Some(&base), &local, &remote, Side::Local);
        assert!(!merged.contains_key("keyword"));
        assert_eq!(merged["x-future"], 2);
        assert_eq!(merged["x-new"], true);
    }

    #[test]
    fn without_a_base_the_newer_side_wins_whole() {
        let local = map(json!({"title": "L", "bmkUri": "https://l/"}));
        let remote = map(json!({"title": "R", "tags": ["t"]}));
        assert_eq!(merge_fields(None, &local, &remote, Side::Remote), remote);
    }
}
