//! [`TreeBuilder`]: collects items and parent claims and resolves them, by
//! the rules in the [module docs](super), into a [`Tree`].

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};
use sync15::Guid;

use super::{
    GuidKey, Item, Kind, Problems, ROOT_GUID, Tree, UNFILED_GUID, USER_CONTENT_ROOTS, is_root_id,
    user_root_rank,
};

/// An item added to a [`TreeBuilder`] (valid for that builder only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef(usize);

/// Collects items and their parent claims, then resolves them into a
/// [`Tree`]. The Places root is added for you.
#[derive(Debug)]
pub struct TreeBuilder {
    items: Vec<Item>,
    by_guid: HashMap<GuidKey, usize>,
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
            by_guid: HashMap::new(),
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
        builder.by_guid.reserve(n);
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
        match self.by_guid.get(item.guid.as_bytes()) {
            Some(&i) => {
                self.duplicates += 1;
                if i != 0 && item.age < self.items[i].age {
                    self.items[i] = item;
                }
                ItemRef(i)
            }
            None => {
                let i = self.items.len();
                self.by_guid.insert(GuidKey(item.guid.clone()), i);
                self.items.push(item);
                self.children.push(None);
                self.parent_ids.push(None);
                ItemRef(i)
            }
        }
    }

    /// Records a folder's `children`, in order. Ignored for GUIDs not added
    /// with [`TreeBuilder::item`].
    pub fn children(&mut self, folder: &str, children: Vec<Guid>) -> &mut Self {
        if let Some(&i) = self.by_guid.get(folder.as_bytes()) {
            self.children[i] = Some(children);
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
        if let Some(&i) = self.by_guid.get(item.as_bytes()) {
            self.parent_ids[i] = Some(parent);
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
        self.by_guid.contains_key(guid.as_bytes())
    }

    /// Resolves every parent claim (see the module docs) into a tree.
    pub fn into_tree(mut self) -> Tree {
        for root in USER_CONTENT_ROOTS {
            if !self.by_guid.contains_key(root.as_bytes()) {
                self.item(Item::new(root, Kind::Folder));
            }
        }
        let mut problems = Problems {
            duplicate_items: self.duplicates,
            ..Problems::default()
        };
        let n = self.items.len();
        let index = |guid: &Guid| self.by_guid.get(guid.as_bytes()).copied();
        let unfiled = self.by_guid.get(UNFILED_GUID.as_bytes()).copied().unwrap_or(0);
        let mut diverged = vec![false; n];

        // Each listing resolved to indices once.
        let listings: Vec<Option<Vec<Option<usize>>>> = self
            .children
            .iter()
            .map(|list| list.as_ref().map(|list| list.iter().map(index).collect()))
            .collect();

        // Who lists whom: the first folder to list a child, and any others.
        let mut listed_by: Vec<Option<usize>> = vec![None; n];
        let mut also_listed_by: Vec<(usize, usize)> = Vec::new();
        for (folder, children) in listings.iter().enumerate() {
            let Some(children) = children else { continue };
            if !self.items[folder].kind.is_folder() {
                problems.non_folder_parents += 1;
                continue;
            }
            for &child in children {
                match child {
                    Some(c) if c == folder || c == 0 => {
                        // A folder listing itself or the root: nonsense.
                        problems.missing_children += 1;
                        diverged[folder] = true;
                    }
                    Some(c) => match listed_by[c] {
                        None => listed_by[c] = Some(folder),
                        Some(first) if first == folder => {}
                        Some(_) => also_listed_by.push((c, folder)),
                    },
                    None => {
                        problems.missing_children += 1;
                        diverged[folder] = true;
                    }
                }
            }
        }
        let mut multiply_listed: HashMap<usize, Vec<usize>> = HashMap::new();
        for (child, folder) in also_listed_by {
            multiply_listed.entry(child).or_default().push(folder);
        }

        let mut parent: Vec<usize> = vec![0; n];
        for c in 1..n {
            // Most claims name the folder that lists the item: compare
            // before paying for a lookup.
            let claimed = match (listed_by[c], &self.parent_ids[c]) {
                (Some(f), Some(p)) if self.items[f].guid == *p => Some(f),
                (_, p) => p.as_ref().and_then(index),
            };
            if is_root_id(self.items[c].guid.as_bytes()) {
                parent[c] = 0;
                let listed_elsewhere = listed_by[c].is_some_and(|p| p != 0);
                if claimed.is_some_and(|p| p != 0) || listed_elsewhere {
                    problems.misparented_roots += 1;
                    diverged[c] = true;
                }
                continue;
            }
            parent[c] = match (listed_by[c], multiply_listed.get(&c)) {
                (Some(first), others) => {
                    let chosen = match others {
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
                                    items[a]
                                        .age
                                        .cmp(&items[b].age)
                                        .then_with(|| (Some(b) == claimed).cmp(&(Some(a) == claimed)))
                                        .then_with(|| items[a].guid.cmp(&items[b].guid))
                                })
                                .unwrap_or(first);
                            for folder in candidates {
                                diverged[folder] = true;
                            }
                            chosen
                        }
                    };
                    if claimed != Some(chosen) {
                        problems.parent_child_disagreements += 1;
                        diverged[c] = true;
                    }
                    chosen
                }
                (None, _) => match claimed {
                    Some(p) if p != c && self.items[p].kind.is_folder() => {
                        problems.parent_child_disagreements += 1;
                        diverged[p] = true;
                        p
                    }
                    _ => {
                        problems.orphans += 1;
                        diverged[c] = true;
                        diverged[unfiled] = true;
                        unfiled
                    }
                },
            };
        }

        // Break cycles: walk up from every item, stamping the walk; meeting
        // this walk's own stamp again means a loop.
        let mut stamp: Vec<usize> = vec![0; n];
        let mut reaches_root = vec![false; n];
        reaches_root[0] = true;
        let mut path = Vec::new();
        for start in 1..n {
            let mut at = start;
            path.clear();
            while !reaches_root[at] {
                if stamp[at] == start {
                    // `at` is on a loop: move it out to unfiled.
                    problems.cycles += 1;
                    parent[at] = unfiled;
                    diverged[at] = true;
                    diverged[unfiled] = true;
                    break;
                }
                stamp[at] = start;
                path.push(at);
                at = parent[at];
            }
            for &p in &path {
                reaches_root[p] = true;
            }
        }

        // Children in their listed order, then those adopted by parentid or
        // as orphans, by GUID.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut placed = vec![false; n];
        placed[0] = true;
        for (folder, listed) in listings.iter().enumerate() {
            let Some(listed) = listed else { continue };
            for &child in listed {
                if let Some(c) = child {
                    if !placed[c] && parent[c] == folder && c != folder {
                        placed[c] = true;
                        children[folder].push(c);
                    }
                }
            }
        }
        let mut adopted: Vec<usize> = (1..n).filter(|&c| !placed[c]).collect();
        // The user content roots first, in Firefox's order; the rest by GUID.
        let root_rank = |guid: &Guid| user_root_rank(guid.as_bytes()).unwrap_or(USER_CONTENT_ROOTS.len());
        adopted.sort_by(|&a, &b| {
            let (a, b) = (&self.items[a].guid, &self.items[b].guid);
            root_rank(a).cmp(&root_rank(b)).then_with(|| a.cmp(b))
        });
        for c in adopted {
            children[parent[c]].push(c);
        }

        let mut parents: Vec<Option<usize>> = parent.into_iter().map(Some).collect();
        parents[0] = None;
        Tree {
            items: self.items,
            by_guid: self.by_guid,
            parents,
            children,
            diverged,
            deleted: self.deleted,
            problems,
        }
    }
}
