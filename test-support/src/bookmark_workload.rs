//! The seeded bookmark-merge workload of `shared/bench/bookmark-merge-workload.md`:
//! a last-synced tree of N items, changed on both sides in every way the
//! merger must handle, as a local and a remote model, and the two
//! [`Tree`]s built from them.
//!
//! Where the workload description leaves a detail open, this generator
//! chooses (and the choice must not change, so results compare across
//! versions): percentages of N round half away from zero; "1% (rounded
//! up)" and "up to 0.5%" of folders are of the base folder count; moves,
//! new items and doomed-folder additions pick from the shuffled base folder
//! list; a deletion paired with a change on the other side (cases 9 and 10)
//! uses the ages of the plain cases (delete 4000 / 4500, change 5000 /
//! 6000); edited titles get a ` (local)` / ` (remote)` suffix; random new
//! remote bookmarks are titled `Remote i` at `https://remote.example.com/i`.

use std::collections::VecDeque;
use std::sync::Arc;

use sync_bookmarks::{
    Content, Item, Kind, MENU_GUID, MOBILE_GUID, ROOT_GUID, TOOLBAR_GUID, Tree, TreeBuilder, UNFILED_GUID,
};
use sync15::Guid;

mod model;

pub use model::{Model, ModelItem, NO_PARENT, ROOT_SLOT};

/// splitmix64, as the workload defines it.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `next() % n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher–Yates from the end.
    pub fn shuffle<T>(&mut self, list: &mut [T]) {
        for i in (1..list.len()).rev() {
            let j = self.below(i + 1);
            list.swap(i, j);
        }
    }
}

const BASE_AGE: i64 = 10_000_000;
const MAX_CHILDREN: usize = 20;

fn percent(n: usize, pct: f64) -> usize {
    (n as f64 * pct / 100.0).round() as usize
}

/// The generated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The local side.
    pub local: Model,
    /// The remote side.
    pub remote: Model,
    /// Items whose remote record names `missingFLDR0` as parent (still listed).
    pub remote_bad_parentid: Vec<String>,
}

fn roots() -> Model {
    let mut model = Model::default();
    let root = || ModelItem {
        kind: Kind::Folder,
        parent: NO_PARENT,
        children: Vec::new(),
        title: Arc::from(""),
        url: Arc::from(""),
        age: BASE_AGE,
        changed: false,
    };
    model.add(ROOT_GUID, None, root());
    for guid in [MENU_GUID, TOOLBAR_GUID, UNFILED_GUID, MOBILE_GUID] {
        model.add(guid, Some(ROOT_GUID), root());
    }
    model
}

impl Workload {
    /// The workload for `n` base items.
    pub fn generate(n: usize) -> Workload {
        let mut rng = SplitMix64::new(42);
        let mut base = roots();
        let mut queue: VecDeque<String> = [MENU_GUID, TOOLBAR_GUID, UNFILED_GUID, MOBILE_GUID]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut current = queue.pop_front().unwrap_or_default();
        let (mut bookmarks, mut folders) = (Vec::new(), Vec::new());
        for i in 0..n {
            if base.get_mut(&current).children.len() == MAX_CHILDREN {
                current = queue.pop_front().unwrap_or_else(|| current.clone());
            }
            let guid = format!("b{i:011}");
            let (kind, title, url) = if i % 10 == 0 {
                (Kind::Folder, format!("Folder {i}"), String::new())
            } else if i % 50 == 49 {
                (Kind::Separator, String::new(), String::new())
            } else {
                (
                    Kind::Bookmark,
                    format!("Bookmark {i}"),
                    format!("https://example.com/{i}"),
                )
            };
            match kind {
                Kind::Folder => {
                    queue.push_back(guid.clone());
                    folders.push(guid.clone());
                }
                Kind::Bookmark => bookmarks.push(guid.clone()),
                _ => {}
            }
            base.add(
                &guid,
                Some(&current),
                ModelItem {
                    kind,
                    parent: NO_PARENT,
                    children: Vec::new(),
                    title: title.into(),
                    url: url.into(),
                    age: BASE_AGE,
                    changed: false,
                },
            );
        }
        rng.shuffle(&mut bookmarks);
        rng.shuffle(&mut folders);
        let (mut local, mut remote) = (base.clone(), base);
        let mut next = bookmarks.into_iter();
        let mut take = |pct: f64| -> Vec<String> { next.by_ref().take(percent(n, pct)).collect() };

        for g in take(5.0) {
            local.edit_title(&g, " (local)", 5000);
        }
        for g in take(5.0) {
            remote.edit_title(&g, " (remote)", 6000);
        }
        for (k, g) in take(2.0).into_iter().enumerate() {
            let (l, r) = if k % 2 == 0 { (1000, 2000) } else { (2000, 1000) };
            local.edit_title(&g, " (local)", l);
            remote.edit_title(&g, " (remote)", r);
        }
        for g in take(2.0) {
            let to = folders[rng.below(folders.len())].clone();
            local.move_to(&g, &to, 3000);
        }
        for g in take(2.0) {
            let to = folders[rng.below(folders.len())].clone();
            remote.move_to(&g, &to, 3500);
        }
        for (k, g) in take(0.5).into_iter().enumerate() {
            let (l, r) = if k % 2 == 0 { (1500, 2500) } else { (2500, 1500) };
            let to_local = folders[rng.below(folders.len())].clone();
            let to_remote = folders[rng.below(folders.len())].clone();
            local.move_to(&g, &to_local, l);
            remote.move_to(&g, &to_remote, r);
        }
        for g in take(1.0) {
            local.delete(&g, 4000);
        }
        for g in take(1.0) {
            remote.delete(&g, 4500);
        }
        for g in take(0.25) {
            local.delete(&g, 4000);
            remote.edit_title(&g, " (remote)", 6000);
        }
        for g in take(0.25) {
            remote.delete(&g, 4500);
            local.edit_title(&g, " (local)", 5000);
        }
        let divergent = take(0.1);
        let half = divergent.len() / 2;
        let mut remote_bad_parentid = Vec::new();
        for (k, g) in divergent.into_iter().enumerate() {
            if k < half {
                let (slot, parent) = (remote.slot(&g), remote.parent_of(&g));
                let parent = remote.guid(parent).clone();
                remote.get_mut(&parent).children.retain(|&c| Some(c) != slot);
            } else {
                remote_bad_parentid.push(g);
            }
        }

        // Folder operations.
        let reorders = (folders.len() as f64 * 0.01).ceil() as usize;
        let mut next_folder = folders.iter().cloned();
        for f in next_folder.by_ref().take(reorders) {
            local.get_mut(&f).children.reverse();
            local.flag(&f, 3000);
        }
        for f in next_folder.by_ref().take(reorders) {
            remote.get_mut(&f).children.reverse();
            remote.flag(&f, 3000);
        }
        let doomed_max = (folders.len() as f64 * 0.005).round() as usize;
        let only_leaves = |m: &Model, f: &str| {
            m.get(f).is_some_and(|item| {
                item.children
                    .iter()
                    .all(|&c| m.item(c).is_some_and(|c| !c.kind.is_folder()))
            })
        };
        let doomed: Vec<String> = next_folder
            .filter(|f| only_leaves(&local, f) && only_leaves(&remote, f))
            .take(doomed_max)
            .collect();
        for (k, f) in doomed.iter().enumerate() {
            remote.delete(f, 4500);
            if k % 2 == 0 {
                let guid = format!("x{k:011}");
                local.add(
                    &guid,
                    Some(f),
                    new_bookmark(
                        &format!("Doomed {k}"),
                        &format!("https://x.example.com/{k}"),
                        1000,
                    ),
                );
                local.flag(f, 1000);
            }
        }
        let surviving: Vec<String> = folders.iter().filter(|f| !doomed.contains(f)).cloned().collect();

        // New items.
        let new_count = percent(n, 1.0);
        let mut new_local = Vec::with_capacity(new_count);
        for i in 0..new_count {
            let folder = surviving[rng.below(surviving.len())].clone();
            let (title, url) = (format!("New {i}"), format!("https://new.example.com/{i}"));
            local.add(
                &format!("L{i:011}"),
                Some(&folder),
                new_bookmark(&title, &url, 500),
            );
            local.flag(&folder, 500);
            new_local.push((folder, title, url));
        }
        for i in 0..new_count {
            let copied = (i < new_count / 2).then(|| new_local.get(i).cloned()).flatten();
            let (folder, title, url) = if let Some(copy) = copied {
                copy
            } else {
                let folder = surviving[rng.below(surviving.len())].clone();
                (
                    folder,
                    format!("Remote {i}"),
                    format!("https://remote.example.com/{i}"),
                )
            };
            remote.add(
                &format!("R{i:011}"),
                Some(&folder),
                new_bookmark(&title, &url, 800),
            );
            remote.flag(&folder, 800);
        }
        local.seal();
        remote.seal();
        Workload {
            local,
            remote,
            remote_bad_parentid,
        }
    }

    /// The local tree, built top-down; content only on new local items.
    pub fn local_tree(&self) -> Tree {
        let model = &self.local;
        let mut builder = TreeBuilder::with_capacity(model.len());
        let mut stack = vec![ROOT_SLOT];
        while let Some(slot) = stack.pop() {
            let Some(item) = model.item(slot) else {
                continue;
            };
            let guid = model.guid(slot);
            if slot != ROOT_SLOT {
                let is_new = guid.starts_with(['L', 'x']);
                let at = builder.add(tree_item(guid, item, is_new));
                builder.parent_id_of(at, model.guid(item.parent).clone());
                if item.kind.is_folder() {
                    builder.children_of(at, model.guids(&item.children));
                }
            } else {
                builder.children(guid, model.guids(&item.children));
            }
            if item.kind.is_folder() {
                stack.extend(item.children.iter().rev());
            }
        }
        for t in &model.tombstones {
            builder.deletion(t.clone());
        }
        builder.into_tree()
    }

    /// The remote tree, built as records arrive: items in GUID order, then
    /// every `parentid`, then every folder's `children`.
    pub fn remote_tree(&self) -> Tree {
        let model = &self.remote;
        let bad_parentid: std::collections::HashSet<&str> =
            self.remote_bad_parentid.iter().map(String::as_str).collect();
        let missing = Guid::new("missingFLDR0");
        let mut builder = TreeBuilder::with_capacity(model.len());
        let records: Vec<_> = model
            .sorted_slots()
            .iter()
            .filter_map(|&s| Some((model.guid(s), model.item(s)?)))
            .collect();
        let added: Vec<_> = records
            .iter()
            .map(|(guid, item)| {
                let is_root = sync_bookmarks::tree::is_root(guid);
                builder.add(tree_item(guid, item, item.changed && !is_root))
            })
            .collect();
        for ((guid, item), &at) in records.iter().zip(&added) {
            let parent = if bad_parentid.contains(guid.as_str()) {
                &missing
            } else {
                model.guid(item.parent)
            };
            builder.parent_id_of(at, parent.clone());
        }
        for ((_, item), &at) in records.iter().zip(&added) {
            if item.kind.is_folder() {
                builder.children_of(at, model.guids(&item.children));
            }
        }
        for t in &model.tombstones {
            builder.deletion(t.clone());
        }
        builder.into_tree()
    }
}

fn new_bookmark(title: &str, url: &str, age: i64) -> ModelItem {
    ModelItem {
        kind: Kind::Bookmark,
        parent: NO_PARENT,
        children: Vec::new(),
        title: title.into(),
        url: url.into(),
        age,
        changed: true,
    }
}

fn tree_item(guid: &str, item: &ModelItem, with_content: bool) -> Item {
    let content = with_content.then(|| Box::new(Content::of(item.kind, &item.title, &item.url)));
    Item {
        age: item.age,
        needs_merge: item.changed,
        content,
        ..Item::new(guid, item.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference values of splitmix64 seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn the_workload_is_reproducible_and_its_trees_diverge_only_where_planned() {
        let w = Workload::generate(10_000);
        let again = Workload::generate(10_000);
        assert_eq!(w.local, again.local);
        assert_eq!(w.remote, again.remote);

        let local = w.local_tree();
        assert!(local.problems().is_empty(), "{:?}", local.problems());
        assert_eq!(local.len(), w.local.len());
        let remote = w.remote_tree();
        // 0.1% of 10,000: five items left out of their parent's children,
        // five naming a parent that does not exist.
        assert_eq!(
            remote.problems().parent_child_disagreements,
            10,
            "{:?}",
            remote.problems()
        );
        assert_eq!(remote.problems().missing_children, 0);
        assert_eq!(remote.len(), w.remote.len());

        let count = |m: &Model, prefix: char| m.iter().filter(|(g, _)| g.starts_with(prefix)).count();
        assert_eq!((count(&w.local, 'L'), count(&w.remote, 'R')), (100, 100));
        assert!(count(&w.local, 'x') >= 1);
        assert!(w.local.tombstones.len() >= 125 && w.remote.tombstones.len() >= 125);
        assert!(local.nodes().filter(|n| n.item().content.is_some()).count() >= 100);
        assert_eq!(local.node_for("L00000000000").unwrap().item().age, 500);
    }

    /// A digest of everything a tree holds, in a stable order.
    fn fingerprint_tree(tree: &Tree, digest: &mut ring::digest::Context) {
        for node in tree.nodes() {
            let parent = node.parent().map(|p| p.guid().to_string()).unwrap_or_default();
            let children: Vec<String> = node.children().map(|c| c.guid().to_string()).collect();
            let item = node.item();
            let line = format!(
                "{} {:?} {} {} {:?} {:?} {parent} {children:?} {}\n",
                item.guid,
                item.kind,
                item.age,
                item.needs_merge,
                item.validity,
                item.content,
                node.diverged()
            );
            digest.update(line.as_bytes());
        }
        let mut deletions: Vec<&Guid> = tree.deletions().collect();
        deletions.sort();
        digest.update(format!("{deletions:?} {:?}\n", tree.problems()).as_bytes());
    }

    /// The workload must not change (results compare across versions), so
    /// both trees it builds and their merge are pinned as a digest.
    #[test]
    fn the_workload_is_the_one_its_description_defines() {
        let w = Workload::generate(10_000);
        let (local, remote) = (w.local_tree(), w.remote_tree());
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        fingerprint_tree(&local, &mut digest);
        fingerprint_tree(&remote, &mut digest);
        let merged = sync_bookmarks::merge(&local, &remote);
        digest.update(format!("{:?} {:?}", merged.ops, merged.stats).as_bytes());
        assert_eq!(
            hex::encode(digest.finish()),
            "7d63970990e93d0088ddbb433d5affebca6b391bcb28487d085b40fa50af31d5"
        );
    }

    #[test]
    fn merging_the_workload_keeps_every_new_bookmark_and_relocates_the_doomed() {
        let w = Workload::generate(10_000);
        let merged = sync_bookmarks::merge(&w.local_tree(), &w.remote_tree());
        let stats = merged.stats;
        // Half the new remote bookmarks copy new local ones: 50 deduped.
        assert_eq!(stats.deduped, 50, "{stats:?}");
        assert_eq!(merged.ops.change_guids.len(), 50);
        // 0.25% deleted locally and changed remotely, and the reverse.
        assert_eq!(stats.revived, 50, "{stats:?}");
        assert_eq!(stats.cycles, 0);
        let doomed_additions = w.local.iter().filter(|(g, _)| g.starts_with('x')).count();
        assert!(stats.relocated >= doomed_additions, "{stats:?}");
        for (guid, item) in w.local.iter().chain(w.remote.iter()) {
            let new = guid.starts_with(['L', 'R', 'x']);
            let deduped = merged.ops.change_guids.iter().any(|(l, _)| l == guid.as_str());
            if new && !deduped {
                let node = merged
                    .tree
                    .node_for(guid)
                    .unwrap_or_else(|| panic!("{guid} was lost"));
                assert_eq!(node.kind(), item.kind);
                assert!(node.parent().is_some());
            }
        }
        // Every kept item once, reachable from the root.
        let mut seen = 0;
        let mut stack = vec![merged.tree.root()];
        while let Some(node) = stack.pop() {
            seen += 1;
            stack.extend(node.children());
        }
        assert_eq!(seen, merged.tree.len());
        // Local deletions reach the server, remote ones this device.
        assert!(merged.ops.delete_remotely.len() >= 100);
        assert!(merged.ops.delete_locally.len() >= 100);
    }
}
