//! Property tests of the tree builder and the merger: a random tree, random
//! edits on each side (adds, deletions with their subtrees, moves, value
//! changes — remote moves may even form cycles or orphans, as a broken
//! server tree can), and the merge must always give one valid tree: one
//! root holding the four user roots, no cycle, every item reachable once,
//! every item neither side deleted present exactly once, nothing that is
//! not in either tree, and nothing under (or being) an item the merge
//! deletes.
#![allow(clippy::unwrap_used)]
// Failures are reported with their minimal input; no regression file is kept.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use sync_bookmarks::{
    Content, Item, Kind, MENU_GUID, MOBILE_GUID, ROOT_GUID, TOOLBAR_GUID, Tree, TreeBuilder, UNFILED_GUID,
    merge,
};
use sync15::Guid;

const USER_ROOTS: [&str; 4] = [MENU_GUID, TOOLBAR_GUID, UNFILED_GUID, MOBILE_GUID];

/// One side's view: items with kind, parent and children, and deletions.
#[derive(Debug, Clone, Default)]
struct Model {
    kinds: BTreeMap<String, Kind>,
    children: BTreeMap<String, Vec<String>>,
    parents: BTreeMap<String, String>,
    changed: HashSet<String>,
    deleted: HashSet<String>,
}

impl Model {
    fn base() -> Model {
        let mut m = Model::default();
        m.kinds.insert(ROOT_GUID.into(), Kind::Folder);
        m.children.insert(ROOT_GUID.into(), Vec::new());
        for root in USER_ROOTS {
            m.add(root, Kind::Folder, ROOT_GUID, None);
        }
        m
    }

    fn folders(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|(g, k)| k.is_folder() && g.as_str() != ROOT_GUID)
            .map(|(g, _)| g.clone())
            .collect()
    }

    fn movable(&self) -> Vec<String> {
        self.kinds
            .keys()
            .filter(|g| g.as_str() != ROOT_GUID && !USER_ROOTS.contains(&g.as_str()))
            .cloned()
            .collect()
    }

    fn add(&mut self, guid: &str, kind: Kind, parent: &str, position: Option<usize>) {
        self.kinds.insert(guid.into(), kind);
        if kind.is_folder() {
            self.children.entry(guid.into()).or_default();
        }
        let siblings = self.children.entry(parent.into()).or_default();
        let at = position.map_or(siblings.len(), |p| p % (siblings.len() + 1));
        siblings.insert(at, guid.into());
        self.parents.insert(guid.into(), parent.into());
    }

    fn detach(&mut self, guid: &str) {
        if let Some(parent) = self.parents.remove(guid) {
            if let Some(siblings) = self.children.get_mut(&parent) {
                siblings.retain(|c| c != guid);
            }
            self.changed.insert(parent);
        }
    }

    fn subtree(&self, guid: &str) -> Vec<String> {
        // Remote edits may have formed a cycle: visit each item once.
        let mut out = vec![guid.to_owned()];
        let mut seen: HashSet<String> = out.iter().cloned().collect();
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.children.get(&out[i]) {
                for kid in kids {
                    if seen.insert(kid.clone()) {
                        out.push(kid.clone());
                    }
                }
            }
            i += 1;
        }
        out
    }

    fn delete(&mut self, guid: &str) {
        for g in self.subtree(guid) {
            self.detach(&g);
            self.kinds.remove(&g);
            self.children.remove(&g);
            self.changed.remove(&g);
            self.deleted.insert(g);
        }
    }

    fn apply(&mut self, edit: &Edit, side: &str, n: usize, allow_cycles: bool) {
        let folders = self.folders();
        let movable = self.movable();
        let pick = |list: &[String], i: usize| list.get(i % list.len().max(1)).cloned();
        match *edit {
            Edit::Add {
                kind,
                parent,
                position,
            } => {
                let guid = format!("{side}{n:09}");
                let parent = pick(&folders, parent).unwrap();
                self.add(&guid, kind, &parent, Some(position));
                self.changed.insert(guid);
                self.changed.insert(parent);
            }
            Edit::Delete { item } => {
                if let Some(guid) = pick(&movable, item) {
                    self.delete(&guid);
                }
            }
            Edit::Move {
                item,
                parent,
                position,
            } => {
                let (Some(guid), Some(parent)) = (pick(&movable, item), pick(&folders, parent)) else {
                    return;
                };
                if !allow_cycles && self.subtree(&guid).contains(&parent) {
                    return;
                }
                if guid == parent {
                    return;
                }
                self.detach(&guid);
                let siblings = self.children.entry(parent.clone()).or_default();
                let at = position % (siblings.len() + 1);
                siblings.insert(at, guid.clone());
                self.parents.insert(guid.clone(), parent.clone());
                self.changed.insert(guid);
                self.changed.insert(parent);
            }
            Edit::Change { item } => {
                if let Some(guid) = pick(&movable, item) {
                    self.changed.insert(guid);
                }
            }
        }
    }

    fn tree(&self, age: i64) -> Tree {
        let mut b = TreeBuilder::new();
        for (guid, kind) in &self.kinds {
            let mut item = Item::new(guid.as_str(), *kind);
            item.age = age;
            item.needs_merge = self.changed.contains(guid);
            // Unique content: nothing dedupes by accident.
            item.content = Some(Box::new(Content::of(
                *kind,
                guid,
                &format!("https://{guid}.example/"),
            )));
            b.item(item);
        }
        for (folder, kids) in &self.children {
            b.children(folder, kids.iter().map(|k| Guid::new(k)).collect());
        }
        for (child, parent) in &self.parents {
            b.parent_id(child, Guid::new(parent));
        }
        for guid in &self.deleted {
            b.deletion(Guid::new(guid));
        }
        b.into_tree()
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Add {
        kind: Kind,
        parent: usize,
        position: usize,
    },
    Delete {
        item: usize,
    },
    Move {
        item: usize,
        parent: usize,
        position: usize,
    },
    Change {
        item: usize,
    },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => Just(Kind::Bookmark),
        3 => Just(Kind::Folder),
        1 => Just(Kind::Separator),
        1 => Just(Kind::Query),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (kind(), any::<usize>(), any::<usize>()).prop_map(|(kind, parent, position)| Edit::Add { kind, parent, position }),
        1 => any::<usize>().prop_map(|item| Edit::Delete { item }),
        2 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(item, parent, position)| Edit::Move { item, parent, position }),
        1 => any::<usize>().prop_map(|item| Edit::Change { item }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_merge_is_one_valid_tree(
        base_items in prop::collection::vec((kind(), any::<usize>(), any::<usize>()), 0..40),
        local_edits in prop::collection::vec(edit(), 0..15),
        remote_edits in prop::collection::vec(edit(), 0..15),
        local_age in 0i64..1000,
        remote_age in 0i64..1000,
    ) {
        let mut base = Model::base();
        for (n, (kind, parent, position)) in base_items.iter().enumerate() {
            base.apply(&Edit::Add { kind: *kind, parent: *parent, position: *position }, "base", n, false);
        }
        base.changed.clear();
        let mut local = base.clone();
        for (n, e) in local_edits.iter().enumerate() {
            local.apply(e, "locl", n, false);
        }
        let mut remote = base.clone();
        for (n, e) in remote_edits.iter().enumerate() {
            remote.apply(e, "remt", n, true);
        }
        let merged = merge(&local.tree(local_age), &remote.tree(remote_age));

        // One root, holding the four user roots.
        let root = merged.tree.root();
        prop_assert_eq!(root.guid().as_str(), ROOT_GUID);
        let top: Vec<&str> = root.children().map(|c| c.guid().as_str()).collect();
        for r in USER_ROOTS {
            prop_assert!(top.contains(&r), "{} missing from the root: {:?}", r, top);
        }
        // Every node reachable from the root exactly once: no cycle, no duplicate.
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            prop_assert!(seen.insert(node.guid().to_string()), "{} reached twice", node.guid());
            stack.extend(node.children());
        }
        prop_assert_eq!(seen.len(), merged.tree.len());
        // Nothing invented.
        for guid in &seen {
            prop_assert!(
                local.kinds.contains_key(guid) || remote.kinds.contains_key(guid),
                "{} is in neither tree", guid
            );
        }
        // Every item that neither side deleted is there (a new local item
        // deduped into a new remote one — separators at the same place — is
        // there under the remote id).
        let deduped: BTreeMap<String, String> = merged
            .ops
            .change_guids
            .iter()
            .map(|(l, r)| (l.to_string(), r.to_string()))
            .collect();
        for guid in local.kinds.keys().chain(remote.kinds.keys()) {
            if !local.deleted.contains(guid) && !remote.deleted.contains(guid) {
                let present = seen.contains(guid) || deduped.get(guid).is_some_and(|r| seen.contains(r));
                prop_assert!(present, "{} was lost", guid);
            }
        }
        // Nothing the merge deletes is kept (so nothing sits under a deleted folder).
        for guid in merged.ops.delete_locally.iter().chain(&merged.ops.delete_remotely) {
            prop_assert!(!seen.contains(guid.as_str()), "{} is deleted and kept", guid);
        }
    }
}
