//! [`TreeBuilder`]: collects items and parent claims and resolves them, by
//! the rules in the [module docs](super), into a [`Tree`].

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};
use sync15::Guid;

use super::{
    GuidIndex, GuidKey, Item, Kind, NO_PARENT, Problems, ROOT_GUID, Tree, UNFILED_GUID, USER_CONTENT_ROOTS,
    is_root_id, user_root_rank,
};

/// No item, in the builder's `u32` index arrays.
const NONE: u32 = u32::MAX;

/// An item added to a [`TreeBuilder`] (valid for that builder only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef(usize);

/// Collects items and their parent claims, then resolves them into a
/// [`Tree`]. The Places root is added for you.
#[derive(Debug)]
pub struct TreeBuilder {
    items: Vec<Item>,
    by_guid: GuidIndex,
    /// Per item: the children list its record gives, if any.
    children: Vec<Option<Vec<Guid>>>,
    /// Per item: the `parentid` its record gives, if any.
    parent_ids: Vec<Option<Guid>>,
    deleted: HashSet<GuidKey>,
    duplicates: usize,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeBuilder {
    /// A builder holding only the Places root.
    pub fn new() -> TreeBuilder {
        let mut builder = TreeBuilder {
            items: Vec::new(),
            by_guid: GuidIndex::default(),
            children: Vec::new(),
            parent_ids: Vec::new(),
            deleted: HashSet::new(),
            duplicates: 0,
        };
        builder.item(Item::new(ROOT_GUID, Kind::Folder));
        builder
    }

    /// With room for `n` items.
    pub fn with_capacity(n: usize) -> TreeBuilder {
        let mut builder = TreeBuilder::new();
        builder.items.reserve(n);
        builder.by_guid.reserve(&builder.items, n);
        builder.children.reserve(n);
        builder.parent_ids.reserve(n);
        builder
    }

    /// Adds an item. A second item with the same GUID replaces the first's
    /// kind, age and content only if it is newer, and is counted as a
    /// problem. The Places root cannot be replaced.
    pub fn item(&mut self, item: Item) -> &mut Self {
        self.add(item);
        self
    }

    /// Adds an item like [`TreeBuilder::item`], returning a handle that
    /// records its parent and children without looking it up again.
    pub fn add(&mut self, item: Item) -> ItemRef {
        // One probe of the index: the hash it computed places a new item.
        match self.by_guid.get_or_hash(&self.items, &item.guid) {
            Ok(i) => {
                let i = i as usize;
                self.duplicates += 1;
                if i != 0 && item.age < self.items[i].age {
                    self.items[i] = item;
                }
                ItemRef(i)
            }
            Err(hash) => {
                let i = self.items.len();
                self.items.push(item);
                self.by_guid.insert_new(&self.items, i as u32, hash);
                self.children.push(None);
                self.parent_ids.push(None);
                ItemRef(i)
            }
        }
    }

    /// Records a folder's `children`, in order. Ignored for GUIDs not added
    /// with [`TreeBuilder::item`].
    pub fn children(&mut self, folder: &str, children: Vec<Guid>) -> &mut Self {
        if let Some(i) = self.by_guid.get(&self.items, folder.as_bytes()) {
            self.children[i as usize] = Some(children);
        }
        self
    }

    /// Records the `children` of the folder `at`.
    pub fn children_of(&mut self, at: ItemRef, children: Vec<Guid>) -> &mut Self {
        if let Some(slot) = self.children.get_mut(at.0) {
            *slot = Some(children);
        }
        self
    }

    /// Records an item's `parentid`. Ignored for GUIDs not added with
    /// [`TreeBuilder::item`].
    pub fn parent_id(&mut self, item: &str, parent: Guid) -> &mut Self {
        if let Some(i) = self.by_guid.get(&self.items, item.as_bytes()) {
            self.parent_ids[i as usize] = Some(parent);
        }
        self
    }

    /// Records the `parentid` of the item `at`.
    pub fn parent_id_of(&mut self, at: ItemRef, parent: Guid) -> &mut Self {
        if let Some(slot) = self.parent_ids.get_mut(at.0) {
            *slot = Some(parent);
        }
        self
    }

    /// Records a tombstone.
    pub fn deletion(&mut self, guid: Guid) -> &mut Self {
        self.deleted.insert(GuidKey(guid));
        self
    }

    /// Whether `guid` has been added.
    pub fn contains(&self, guid: &str) -> bool {
        self.by_guid.get(&self.items, guid.as_bytes()).is_some()
    }

    /// Resolves every parent claim (see the module docs) into a tree.
    ///
    /// Works on `u32` indices in flat arrays, and frees each record's
    /// `children` as soon as it is resolved: the transient memory of a
    /// 100,000-item build stays a few megabytes.
    pub fn into_tree(mut self) -> Tree {
        for root in USER_CONTENT_ROOTS {
            if !self.contains(root) {
                self.item(Item::new(root, Kind::Folder));
            }
        }
        let mut problems = Problems {
            duplicate_items: self.duplicates,
            ..Problems::default()
        };
        let n = self.items.len();
        let (by_guid, items) = (&self.by_guid, &self.items);
        // Looked up by `Guid`, so hits compare GUIDs as fixed arrays rather
        // than as byte slices.
        let index = |guid: &Guid| by_guid.get_guid(items, guid);
        let unfiled = index(&Guid::new(UNFILED_GUID)).unwrap_or(0) as usize;
        let mut diverged = vec![false; n];

        // Each listing resolved to indices once (NONE: a missing child), in
        // one array: folder `f`'s are `listed[listing_starts[f]..listing_starts[f + 1]]`.
        let mut listing_starts: Vec<u32> = Vec::with_capacity(n + 1);
        let mut listed: Vec<u32> = Vec::new();
        let mut has_listing = vec![false; n];
        listing_starts.push(0);
        for (folder, list) in std::mem::take(&mut self.children).into_iter().enumerate() {
            if let Some(list) = list {
                has_listing[folder] = true;
                listed.extend(list.iter().map(|guid| index(guid).unwrap_or(NONE)));
            }
            listing_starts.push(listed.len() as u32);
        }
        let listing = |f: usize| &listed[listing_starts[f] as usize..listing_starts[f + 1] as usize];

        // Who lists whom: the first folder to list a child, and any others.
        let mut listed_by: Vec<u32> = vec![NONE; n];
        let mut also_listed_by: Vec<(u32, u32)> = Vec::new();
        for folder in 0..n {
            if !has_listing[folder] {
                continue;
            }
            if !self.items[folder].kind.is_folder() {
                problems.non_folder_parents += 1;
                continue;
            }
            for &child in listing(folder) {
                let c = child as usize;
                if child == NONE || c == folder || c == 0 {
                    // A missing child, or a folder listing itself or the
                    // root: nonsense.
                    problems.missing_children += 1;
                    diverged[folder] = true;
                } else if listed_by[c] == NONE {
                    listed_by[c] = folder as u32;
                } else if listed_by[c] as usize != folder {
                    also_listed_by.push((child, folder as u32));
                }
            }
        }
        let mut multiply_listed: HashMap<u32, Vec<u32>> = HashMap::new();
        for (child, folder) in also_listed_by {
            multiply_listed.entry(child).or_default().push(folder);
        }

        let mut parent: Vec<u32> = vec![0; n];
        for c in 1..n {
            let first = listed_by[c];
            // Most claims name the folder that lists the item: compare
            // before paying for a lookup.
            let claimed: Option<u32> = match &self.parent_ids[c] {
                Some(p) if first != NONE && self.items[first as usize].guid == *p => Some(first),
                Some(p) => index(p),
                None => None,
            };
            if is_root_id(self.items[c].guid.as_bytes()) {
                parent[c] = 0;
                let listed_elsewhere = first != NONE && first != 0;
                if claimed.is_some_and(|p| p != 0) || listed_elsewhere {
                    problems.misparented_roots += 1;
                    diverged[c] = true;
                }
                continue;
            }
            parent[c] = if first != NONE {
                let chosen = match multiply_listed.get(&(c as u32)) {
                    None => first,
                    Some(others) => {
                        problems.multiple_parents += 1;
                        let mut candidates = others.clone();
                        candidates.push(first);
                        let items = &self.items;
                        let chosen = candidates
                            .iter()
                            .copied()
                            .min_by(|&a, &b| {
                                let (ia, ib) = (&items[a as usize], &items[b as usize]);
                                ia.age
                                    .cmp(&ib.age)
                                    .then_with(|| (Some(b) == claimed).cmp(&(Some(a) == claimed)))
                                    .then_with(|| ia.guid.cmp(&ib.guid))
                            })
                            .unwrap_or(first);
                        for folder in candidates {
                            diverged[folder as usize] = true;
                        }
                        chosen
                    }
                };
                if claimed != Some(chosen) {
                    problems.parent_child_disagreements += 1;
                    diverged[c] = true;
                }
                chosen
            } else {
                match claimed {
                    Some(p) if p as usize != c && self.items[p as usize].kind.is_folder() => {
                        problems.parent_child_disagreements += 1;
                        diverged[p as usize] = true;
                        p
                    }
                    _ => {
                        problems.orphans += 1;
                        diverged[c] = true;
                        diverged[unfiled] = true;
                        unfiled as u32
                    }
                }
            };
        }
        drop(listed_by);
        self.parent_ids = Vec::new();

        // Break cycles: walk up from every item, stamping the walk; meeting
        // this walk's own stamp again means a loop.
        let mut stamp: Vec<u32> = vec![0; n];
        let mut reaches_root = vec![false; n];
        reaches_root[0] = true;
        let mut path = Vec::new();
        for start in 1..n {
            let mut at = start;
            path.clear();
            while !reaches_root[at] {
                if stamp[at] == start as u32 {
                    // `at` is on a loop: move it out to unfiled.
                    problems.cycles += 1;
                    parent[at] = unfiled as u32;
                    diverged[at] = true;
                    diverged[unfiled] = true;
                    break;
                }
                stamp[at] = start as u32;
                path.push(at);
                at = parent[at] as usize;
            }
            for &p in &path {
                reaches_root[p] = true;
            }
        }
        drop((stamp, reaches_root, path));

        // Children in their listed order, then those adopted by parentid or
        // as orphans, by GUID: the placements in that order, then grouped by
        // parent (a stable counting sort) into one array.
        let mut placements: Vec<u32> = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        placed[0] = true;
        for folder in 0..n {
            for &child in listing(folder) {
                let c = child as usize;
                if child != NONE && !placed[c] && parent[c] as usize == folder && c != folder {
                    placed[c] = true;
                    placements.push(child);
                }
            }
        }
        drop((listed, listing_starts, has_listing));
        let mut adopted: Vec<u32> = (1..n as u32).filter(|&c| !placed[c as usize]).collect();
        drop(placed);
        // The user content roots first, in Firefox's order; the rest by GUID.
        let root_rank = |guid: &Guid| user_root_rank(guid.as_bytes()).unwrap_or(USER_CONTENT_ROOTS.len());
        adopted.sort_by(|&a, &b| {
            let (a, b) = (&self.items[a as usize].guid, &self.items[b as usize].guid);
            root_rank(a).cmp(&root_rank(b)).then_with(|| a.cmp(b))
        });
        placements.extend(adopted);
        let mut child_starts: Vec<u32> = vec![0; n + 1];
        for &c in &placements {
            child_starts[parent[c as usize] as usize + 1] += 1;
        }
        for i in 0..n {
            child_starts[i + 1] += child_starts[i];
        }
        let mut next: Vec<u32> = child_starts[..n].to_vec();
        let mut child_list: Vec<u32> = vec![0; placements.len()];
        for c in placements {
            let slot = &mut next[parent[c as usize] as usize];
            child_list[*slot as usize] = c;
            *slot += 1;
        }

        parent[0] = NO_PARENT;
        Tree {
            items: self.items,
            by_guid: self.by_guid,
            parents: parent,
            child_starts,
            child_list,
            diverged,
            deleted: self.deleted,
            problems,
        }
    }
}
