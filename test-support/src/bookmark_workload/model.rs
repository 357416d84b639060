//! One side of the workload: its items and tombstones, and the edits the
//! generator makes to them.
//!
//! Compact on purpose. The benchmark reports the peak memory of a process
//! that generates the workload and merges it, so this model is part of the
//! figure: as a `BTreeMap<Guid, _>` holding GUID copies for every parent and
//! child and its own copy of every title and URL, it took 85 MiB of a 100,000-item
//! run, three times what the trees and the merge take, and hid them. Items
//! live in slots; parents and children are slot numbers; GUIDs are stored
//! once per side, found through an index of slot numbers; titles and URLs
//! are shared between the sides until one side edits them.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use std::collections::hash_map::RandomState;
use sync_bookmarks::Kind;
use sync15::Guid;

/// The slot of the Places root, the first item of every model.
pub const ROOT_SLOT: u32 = 0;

/// The parent of the Places root.
pub const NO_PARENT: u32 = u32::MAX;

/// One item of a side's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelItem {
    /// What it is.
    pub kind: Kind,
    /// Its parent's slot ([`NO_PARENT`] for the Places root).
    pub parent: u32,
    /// A folder's children's slots, in order.
    pub children: Vec<u32>,
    /// Title (empty for separators).
    pub title: Arc<str>,
    /// URL (bookmarks only).
    pub url: Arc<str>,
    /// Milliseconds since it changed.
    pub age: i64,
    /// Changed since the last sync on this side.
    pub changed: bool,
}

/// One side: its items by slot, and its tombstones.
#[derive(Debug, Clone, Default)]
pub struct Model {
    guids: Vec<Guid>,
    /// `None` once deleted (slots are never reused).
    items: Vec<Option<ModelItem>>,
    /// GUID → slot, keyed through `guids`.
    index: HashTable<u32>,
    hasher: RandomState,
    live: usize,
    /// Live slots other than the root's, in GUID order (set by
    /// [`Model::seal`]: the remote tree is built from records in this order).
    sorted: Vec<u32>,
    /// Deleted GUIDs.
    pub tombstones: Vec<Guid>,
}

impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.guids == other.guids && self.items == other.items && self.tombstones == other.tombstones
    }
}

impl Eq for Model {}

impl Model {
    /// How many live items (the root included).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds nothing, not even the root.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The slot of the live item `guid`.
    pub fn slot(&self, guid: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(guid.as_bytes());
        let slot = *self
            .index
            .find(hash, |&s| self.guids[s as usize].as_bytes() == guid.as_bytes())?;
        self.items[slot as usize].is_some().then_some(slot)
    }

    /// The live item `guid`.
    pub fn get(&self, guid: &str) -> Option<&ModelItem> {
        self.slot(guid).and_then(|s| self.item(s))
    }

    /// The item in `slot`, unless it was deleted.
    pub fn item(&self, slot: u32) -> Option<&ModelItem> {
        self.items.get(slot as usize)?.as_ref()
    }

    /// The GUID of `slot`.
    pub fn guid(&self, slot: u32) -> &Guid {
        &self.guids[slot as usize]
    }

    /// The GUIDs of `slots`.
    pub fn guids(&self, slots: &[u32]) -> Vec<Guid> {
        slots.iter().map(|&s| self.guid(s).clone()).collect()
    }

    /// Every live item with its GUID, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&Guid, &ModelItem)> {
        self.guids
            .iter()
            .zip(&self.items)
            .filter_map(|(g, item)| Some((g, item.as_ref()?)))
    }

    /// Live slots other than the root's, in GUID order.
    pub fn sorted_slots(&self) -> &[u32] {
        &self.sorted
    }

    /// Orders the live slots by GUID, once generation is done.
    pub(super) fn seal(&mut self) {
        let mut sorted: Vec<u32> = (0..self.items.len() as u32)
            .filter(|&s| s != ROOT_SLOT && self.items[s as usize].is_some())
            .collect();
        sorted.sort_unstable_by(|&a, &b| self.guid(a).cmp(self.guid(b)));
        self.sorted = sorted;
    }

    /// The live item `guid`: the generator only names items it made.
    fn expect(&self, guid: &str) -> u32 {
        self.slot(guid)
            .unwrap_or_else(|| panic!("workload item {guid} is missing"))
    }

    fn at(&mut self, slot: u32) -> &mut ModelItem {
        self.items[slot as usize]
            .as_mut()
            .unwrap_or_else(|| panic!("workload slot {slot} was deleted"))
    }

    pub(super) fn get_mut(&mut self, guid: &str) -> &mut ModelItem {
        let slot = self.expect(guid);
        self.at(slot)
    }

    fn flag_slot(&mut self, slot: u32, age: i64) {
        let item = self.at(slot);
        item.changed = true;
        item.age = age;
    }

    pub(super) fn flag(&mut self, guid: &str, age: i64) {
        let slot = self.expect(guid);
        self.flag_slot(slot, age);
    }

    pub(super) fn edit_title(&mut self, guid: &str, suffix: &str, age: i64) {
        let item = self.get_mut(guid);
        item.title = format!("{}{suffix}", item.title).into();
        item.changed = true;
        item.age = age;
    }

    /// Adds an item under `parent` (the root when `None`).
    pub(super) fn add(&mut self, guid: &str, parent: Option<&str>, mut item: ModelItem) {
        let parent = parent.map_or(NO_PARENT, |p| self.expect(p));
        item.parent = parent;
        let slot = self.items.len() as u32;
        self.guids.push(Guid::new(guid));
        self.items.push(Some(item));
        self.live += 1;
        let (guids, hasher) = (&self.guids, &self.hasher);
        let hash = hasher.hash_one(guid.as_bytes());
        self.index
            .insert_unique(hash, slot, |&s| hasher.hash_one(guids[s as usize].as_bytes()));
        if parent != NO_PARENT {
            self.at(parent).children.push(slot);
        }
    }

    /// The slot of `guid`'s parent.
    pub(super) fn parent_of(&self, guid: &str) -> u32 {
        self.item(self.expect(guid)).map_or(NO_PARENT, |item| item.parent)
    }

    /// Moves `guid` to the end of `to`, flagging it and both parents.
    /// Returns false (and does nothing) if `to` is already its parent.
    pub(super) fn move_to(&mut self, guid: &str, to: &str, age: i64) -> bool {
        let (slot, to) = (self.expect(guid), self.expect(to));
        let from = self.at(slot).parent;
        if from == to {
            return false;
        }
        self.at(from).children.retain(|&c| c != slot);
        self.at(to).children.push(slot);
        self.at(slot).parent = to;
        for s in [slot, from, to] {
            self.flag_slot(s, age);
        }
        true
    }

    /// Deletes `guid` and its subtree, flagging its parent.
    pub(super) fn delete(&mut self, guid: &str, age: i64) {
        let slot = self.expect(guid);
        let parent = self.at(slot).parent;
        self.at(parent).children.retain(|&c| c != slot);
        self.flag_slot(parent, age);
        let mut doomed = vec![slot];
        while let Some(s) = doomed.pop() {
            if let Some(item) = self.items[s as usize].take() {
                self.live -= 1;
                doomed.extend(item.children);
                self.tombstones.push(self.guids[s as usize].clone());
            }
        }
    }
}
