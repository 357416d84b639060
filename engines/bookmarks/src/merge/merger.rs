//! The merge itself, in the steps the module docs list. Trees are walked by
//! index; an entry exists for every item of either tree (deduped pairs
//! share one), deleted ones included, so every side index maps to an entry.
//!
//! Side and entry indices are stored as `u32` (a tree holds fewer than four
//! billion items, so both together fewer than eight, and the merge is only
//! ever given trees far smaller) and widened to `usize` where they index.

use foldhash::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::tree::{Kind, Tree, UNFILED_GUID, Validity, is_root_id, user_root_rank};

use super::{Entry, MergeStats, Merged, MergedTree, Ops, Side, ValueState};

mod dedupe;

/// No index, in the `u32` maps below.
const NONE: u32 = u32::MAX;

pub(crate) struct Merger<'t> {
    local: &'t Tree,
    remote: &'t Tree,
    /// Local index → remote index of the same GUID.
    local_in_remote: Vec<u32>,
    /// Remote index → local index of the same GUID.
    remote_in_local: Vec<u32>,
    entries: Vec<Entry>,
    /// Local index → its entry.
    local_entry: Vec<u32>,
    /// Remote index → its entry.
    remote_entry: Vec<u32>,
    /// Deduped pairs, local index → remote index.
    dupes: Vec<(usize, usize)>,
    stats: MergeStats,
}

impl<'t> Merger<'t> {
    pub(crate) fn new(local: &'t Tree, remote: &'t Tree) -> Self {
        let local_in_remote: Vec<u32> = local
            .items
            .iter()
            .map(|item| remote.index_of(item.guid.as_str()).map_or(NONE, |r| r as u32))
            .collect();
        let mut remote_in_local = vec![NONE; remote.len()];
        for (l, &r) in local_in_remote.iter().enumerate() {
            if r != NONE {
                remote_in_local[r as usize] = l as u32;
            }
        }
        Merger {
            local,
            remote,
            local_in_remote,
            remote_in_local,
            entries: Vec::new(),
            local_entry: vec![NONE; local.len()],
            remote_entry: vec![NONE; remote.len()],
            dupes: Vec::new(),
            stats: MergeStats {
                remote_problems: remote.problems(),
                ..MergeStats::default()
            },
        }
    }

    pub(crate) fn run(mut self) -> Merged {
        self.dedupe();
        self.make_entries();
        self.decide_values();
        self.decide_parents();
        self.break_cycles();
        self.drop_non_syncable();
        self.order_children();
        let ops = self.ops();
        let local_guids = self
            .dupes
            .iter()
            .map(|&(l, r)| (self.remote_entry[r] as usize, self.local.items[l].guid.clone()))
            .collect();
        Merged {
            tree: MergedTree {
                entries: self.entries,
                local_guids,
                by_guid: OnceLock::new(),
            },
            ops,
            stats: self.stats,
        }
    }

    fn tree(&self, side: Side) -> &'t Tree {
        match side {
            Side::Local => self.local,
            Side::Remote => self.remote,
        }
    }

    fn side_entry(&self, side: Side) -> &[u32] {
        match side {
            Side::Local => &self.local_entry,
            Side::Remote => &self.remote_entry,
        }
    }

    /// Step 2: one entry per item of either tree.
    fn make_entries(&mut self) {
        let dupe_of: HashMap<usize, u32> = self.dupes.iter().map(|&(l, r)| (l, r as u32)).collect();
        // Exactly one entry per local item and per remote item not paired
        // with one: reserved up front, since growing would copy them all.
        let paired = self.remote_in_local.iter().filter(|&&l| l != NONE).count() + self.dupes.len();
        self.entries
            .reserve_exact(self.local.len() + self.remote.len().saturating_sub(paired));
        for l in 0..self.local.len() {
            let r = dupe_of.get(&l).copied().unwrap_or(self.local_in_remote[l]);
            let item = &self.local.items[l];
            let guid = if r == NONE {
                item.guid.clone()
            } else {
                self.remote.items[r as usize].guid.clone()
            };
            let index = self.entries.len() as u32;
            self.entries.push(Entry {
                guid,
                kind: item.kind,
                local: Some(l as u32),
                remote: (r != NONE).then_some(r),
                value: ValueState::Unchanged,
                kept: true,
                parent: 0,
                children: Vec::new(),
            });
            self.local_entry[l] = index;
            if r != NONE {
                self.remote_entry[r as usize] = index;
            }
        }
        for r in 0..self.remote.len() {
            if self.remote_entry[r] != NONE {
                continue;
            }
            let item = &self.remote.items[r];
            self.remote_entry[r] = self.entries.len() as u32;
            self.entries.push(Entry {
                guid: item.guid.clone(),
                kind: item.kind,
                local: None,
                remote: Some(r as u32),
                value: ValueState::Unchanged,
                kept: true,
                parent: 0,
                children: Vec::new(),
            });
        }
    }

    /// Which side's change wins for an item both sides hold: the side that
    /// changed it, the newer if both did (ties: local); `None` if neither.
    fn newer_side(&self, l: usize, r: usize) -> Option<Side> {
        let (li, ri) = (&self.local.items[l], &self.remote.items[r]);
        match (li.needs_merge, ri.needs_merge) {
            (false, false) => None,
            (true, false) => Some(Side::Local),
            (false, true) => Some(Side::Remote),
            (true, true) if ri.age < li.age => Some(Side::Remote),
            (true, true) => Some(Side::Local),
        }
    }

    /// Step 2b: who wins each value, and what deletions stand.
    fn decide_values(&mut self) {
        let dupe_remotes: HashSet<usize> = self.dupes.iter().map(|&(_, r)| r).collect();
        for e in 0..self.entries.len() {
            let entry = &self.entries[e];
            if is_root_id(entry.guid.as_bytes()) {
                continue;
            }
            let (kind, value, kept) = match (entry.local_at(), entry.remote_at()) {
                (Some(l), Some(r)) => {
                    let (li, ri) = (&self.local.items[l], &self.remote.items[r]);
                    let side = match (li.validity, ri.validity) {
                        (Validity::Replace, Validity::Replace) => None,
                        (Validity::Replace, _) => Some(ValueState::Remote),
                        (_, Validity::Replace) => Some(ValueState::Local),
                        _ if dupe_remotes.contains(&r) => Some(ValueState::Remote),
                        _ => Some(match self.newer_side(l, r) {
                            None => ValueState::Unchanged,
                            Some(Side::Local) if !ri.needs_merge => ValueState::Local,
                            Some(Side::Remote) if !li.needs_merge => ValueState::Remote,
                            Some(newer) => ValueState::Both { newer },
                        }),
                    };
                    if li.validity == Validity::Replace || ri.validity == Validity::Replace {
                        self.stats.invalid += 1;
                    }
                    let kind = if li.kind == ri.kind {
                        li.kind
                    } else {
                        self.stats.kind_mismatches += 1;
                        match side {
                            Some(ValueState::Local) => li.kind,
                            Some(ValueState::Both { newer: Side::Local }) => li.kind,
                            _ => ri.kind,
                        }
                    };
                    // Kinds that cannot merge field by field: the newer wins whole.
                    let value = match side {
                        Some(ValueState::Both { newer }) if li.kind != ri.kind => match newer {
                            Side::Local => ValueState::Local,
                            Side::Remote => ValueState::Remote,
                        },
                        Some(value) => value,
                        None => ValueState::Unchanged,
                    };
                    (kind, value, side.is_some())
                }
                (Some(l), None) => {
                    let item = &self.local.items[l];
                    let kept = self.one_sided(item, self.remote, Side::Local);
                    (item.kind, ValueState::Local, kept)
                }
                (None, Some(r)) => {
                    let item = &self.remote.items[r];
                    let kept = self.one_sided(item, self.local, Side::Remote);
                    (item.kind, ValueState::Remote, kept)
                }
                (None, None) => continue,
            };
            let kept = if kind == Kind::Livemark {
                self.stats.non_syncable += 1;
                false
            } else {
                kept
            };
            let entry = &mut self.entries[e];
            entry.kind = kind;
            entry.value = value;
            entry.kept = kept;
        }
    }

    /// Whether an item only `side` holds survives: not if `other` deleted it
    /// (unless it changed and is not a folder), not if it is unusable.
    fn one_sided(&mut self, item: &crate::tree::Item, other: &Tree, side: Side) -> bool {
        if item.validity == Validity::Replace {
            self.stats.invalid += 1;
            return false;
        }
        if !other.is_deleted(item.guid.as_str()) {
            return true;
        }
        let revives = item.needs_merge && !item.kind.is_folder();
        if revives {
            self.stats.revived += 1;
            log::debug!("{:?} keeps {} deleted on the other side", side, item.guid);
        }
        revives
    }

    /// The entry `side`'s parent of side item `at` lands in: that parent if
    /// it survives as a folder, else its nearest such ancestor on that side.
    fn surviving_parent(&mut self, side: Side, at: usize) -> u32 {
        let tree = self.tree(side);
        let mut parent = tree.parent_of(at).unwrap_or(0);
        let mut moved = false;
        loop {
            let e = self.side_entry(side)[parent];
            let entry = &self.entries[e as usize];
            if e == 0 || (entry.kept && entry.kind.is_folder()) {
                if moved {
                    self.stats.relocated += 1;
                }
                return e;
            }
            moved = true;
            parent = tree.parent_of(parent).unwrap_or(0);
        }
    }

    /// Which side's placement wins for an item (or folder order) both hold.
    fn structure_side(&self, l: usize, r: usize) -> Side {
        match self.newer_side(l, r) {
            Some(side) => side,
            None if self.remote.diverged[r] => Side::Local,
            None => Side::Remote,
        }
    }

    /// Step 3: every kept item's parent.
    fn decide_parents(&mut self) {
        for e in 1..self.entries.len() {
            let entry = &self.entries[e];
            if !entry.kept {
                continue;
            }
            if user_root_rank(entry.guid.as_bytes()).is_some() {
                self.entries[e].parent = 0;
                continue;
            }
            let parent = match (entry.local_at(), entry.remote_at()) {
                (Some(l), Some(r)) => {
                    let lp = self.local_entry[self.local.parent_of(l).unwrap_or(0)];
                    let rp = self.remote_entry[self.remote.parent_of(r).unwrap_or(0)];
                    let side = if lp == rp {
                        Side::Local
                    } else {
                        match self.newer_side(l, r) {
                            Some(side) => side,
                            None => {
                                // Nobody changed the item: whichever side
                                // changed its new parent moved it.
                                let lp_changed = self
                                    .local
                                    .parent_of(l)
                                    .is_some_and(|p| self.local.items[p].needs_merge);
                                let rp_changed = self
                                    .remote
                                    .parent_of(r)
                                    .is_some_and(|p| self.remote.items[p].needs_merge);
                                match (lp_changed, rp_changed) {
                                    (true, false) => Side::Local,
                                    (false, true) => Side::Remote,
                                    _ => self.structure_side(l, r),
                                }
                            }
                        }
                    };
                    match side {
                        Side::Local => self.surviving_parent(Side::Local, l),
                        Side::Remote => self.surviving_parent(Side::Remote, r),
                    }
                }
                (Some(l), None) => self.surviving_parent(Side::Local, l),
                (None, Some(r)) => self.surviving_parent(Side::Remote, r),
                (None, None) => 0,
            };
            self.entries[e].parent = parent;
        }
    }

    /// Step 3b: the two sides' moves together may put a folder inside
    /// itself. The item where the loop is found takes the other side's
    /// parent; if that loops too, `unfiled`.
    fn break_cycles(&mut self) {
        let n = self.entries.len();
        let unfiled = self.remote_entry[self.remote.index_of(UNFILED_GUID).unwrap_or(0)];
        let mut stamp = vec![usize::MAX; n];
        let mut reaches_root = vec![false; n];
        reaches_root[0] = true;
        let mut retried = vec![false; n];
        let mut path = Vec::new();
        for start in 1..n {
            if !self.entries[start].kept {
                continue;
            }
            let mut at = start;
            path.clear();
            while !reaches_root[at] {
                if stamp[at] == start {
                    self.stats.cycles += 1;
                    let alternative = (!retried[at]).then(|| self.other_parent(at)).flatten();
                    retried[at] = true;
                    self.entries[at].parent = alternative.unwrap_or(unfiled);
                    // Walk again from here with a fresh stamp.
                    for &p in &path {
                        stamp[p] = usize::MAX;
                    }
                    path.clear();
                    at = start;
                    continue;
                }
                stamp[at] = start;
                path.push(at);
                at = self.entries[at].parent as usize;
            }
            for &p in &path {
                reaches_root[p] = true;
            }
        }
    }

    /// The parent the losing side gives `e`, if it differs from the current.
    fn other_parent(&mut self, e: usize) -> Option<u32> {
        let entry = &self.entries[e];
        let current = entry.parent;
        let candidates = [
            entry.local_at().map(|l| (Side::Local, l)),
            entry.remote_at().map(|r| (Side::Remote, r)),
        ];
        for (side, at) in candidates.into_iter().flatten() {
            let p = self.surviving_parent(side, at);
            if p != current && p as usize != e {
                return Some(p);
            }
        }
        None
    }

    /// Step 4: deletes what ends up outside the user content roots.
    fn drop_non_syncable(&mut self) {
        let n = self.entries.len();
        // 0 unknown, 1 syncable, 2 not.
        let mut state = vec![0u8; n];
        state[0] = 2;
        let mut path = Vec::new();
        for e in 1..n {
            if !self.entries[e].kept || state[e] != 0 {
                continue;
            }
            path.clear();
            let mut at = e;
            let verdict = loop {
                if state[at] != 0 {
                    break state[at];
                }
                if user_root_rank(self.entries[at].guid.as_bytes()).is_some() {
                    state[at] = 1;
                    break 1;
                }
                path.push(at);
                at = self.entries[at].parent as usize;
            };
            for &p in &path {
                state[p] = verdict;
            }
        }
        for (e, &verdict) in state.iter().enumerate().skip(1) {
            if verdict == 2 && self.entries[e].kept {
                self.entries[e].kept = false;
                self.stats.non_syncable += 1;
            }
        }
    }

    /// Step 5: every kept folder's children, in order.
    fn order_children(&mut self) {
        let n = self.entries.len();
        let mut placed = vec![false; n];
        placed[0] = true;
        for f in 0..n {
            let entry = &self.entries[f];
            if !entry.kept || !entry.kind.is_folder() {
                continue;
            }
            let sides = match (entry.local_at(), entry.remote_at()) {
                (Some(l), Some(r)) => match self.structure_side(l, r) {
                    Side::Local => [Some((Side::Local, l)), Some((Side::Remote, r))],
                    Side::Remote => [Some((Side::Remote, r)), Some((Side::Local, l))],
                },
                (Some(l), None) => [Some((Side::Local, l)), None],
                (None, Some(r)) => [Some((Side::Remote, r)), None],
                (None, None) => [None, None],
            };
            let mut children = Vec::new();
            for (side, at) in sides.into_iter().flatten() {
                let map = self.side_entry(side);
                for &c in self.tree(side).children_of(at) {
                    let ce = map[c as usize];
                    let child = &self.entries[ce as usize];
                    if !placed[ce as usize] && child.kept && child.parent as usize == f {
                        placed[ce as usize] = true;
                        children.push(ce);
                    }
                }
            }
            self.entries[f].children = children;
        }
        for (e, &done) in placed.iter().enumerate().skip(1) {
            if self.entries[e].kept && !done {
                let parent = self.entries[e].parent as usize;
                self.entries[parent].children.push(e as u32);
            }
        }
        // The Places root holds the user content roots in Firefox's order.
        let mut top = std::mem::take(&mut self.entries[0].children);
        let entries = &self.entries;
        top.sort_by_key(|&e| user_root_rank(entries[e as usize].guid.as_bytes()).unwrap_or(usize::MAX));
        self.entries[0].children = top;
    }

    /// Step 6: the work, by GUID.
    fn ops(&self) -> Ops {
        let mut ops = Ops {
            change_guids: self
                .dupes
                .iter()
                .map(|&(l, r)| {
                    (
                        self.local.items[l].guid.clone(),
                        self.remote.items[r].guid.clone(),
                    )
                })
                .collect(),
            ..Ops::default()
        };
        for entry in self.entries.iter().skip(1) {
            if !entry.kept {
                if entry.local.is_some() {
                    ops.delete_locally.push(entry.guid.clone());
                }
                if entry.remote.is_some() {
                    ops.delete_remotely.push(entry.guid.clone());
                }
                continue;
            }
            let root = is_root_id(entry.guid.as_bytes());
            if !root && matches!(entry.value, ValueState::Remote | ValueState::Both { .. }) {
                ops.apply_values.push(entry.guid.clone());
            }
            let is_folder = entry.kind.is_folder();
            let local_children_differ = is_folder && {
                match entry.local_at() {
                    Some(l) => !same_children(self.local.children_of(l), &self.local_entry, &entry.children),
                    None => !entry.children.is_empty(),
                }
            };
            if local_children_differ {
                ops.apply_structure.push(entry.guid.clone());
            }
            let upload = match entry.remote_at() {
                None => true,
                Some(r) => {
                    let remote_item = &self.remote.items[r];
                    matches!(entry.value, ValueState::Local | ValueState::Both { .. }) && !root
                        || self.remote.diverged[r]
                        || remote_item.validity == Validity::Reupload
                        || entry
                            .local_at()
                            .is_some_and(|l| self.local.items[l].validity == Validity::Reupload)
                        || self.remote_entry[self.remote.parent_of(r).unwrap_or(0)] != entry.parent
                        || (is_folder
                            && !same_children(
                                self.remote.children_of(r),
                                &self.remote_entry,
                                &entry.children,
                            ))
                }
            };
            if upload {
                ops.upload.push(entry.guid.clone());
            }
        }
        ops
    }
}

fn same_children(side_children: &[u32], map: &[u32], merged: &[u32]) -> bool {
    side_children.len() == merged.len()
        && side_children
            .iter()
            .zip(merged)
            .all(|(&c, &m)| map[c as usize] == m)
}
