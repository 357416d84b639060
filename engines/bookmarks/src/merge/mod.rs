//! The merger: two bookmark [`Tree`]s in, one merged tree and the work to
//! do out. Pure: no I/O, no clock, no randomness; the same trees always give
//! the same result.
//!
//! The local tree is what this device holds, with `needs_merge` on what
//! changed here since the last sync. The remote tree is the server as this
//! device last saw it (the mirror) overlaid with the records that arrived
//! in this sync, `needs_merge` on the arrivals; [`TreeBuilder`] has already
//! repaired it if it disagreed with itself.
//!
//! What the merge decides, in order:
//! 1. **Dedupe.** Walking the local tree top-down, an item new here (never
//!    synced, not on the server) is matched to an item new on the server in
//!    the same parent with the same content: bookmarks and queries by title
//!    and URL, folders by title, separators by position. The remote id wins;
//!    the local item takes it ([`Ops::change_guids`]) and the remote value.
//! 2. **Deletions.** An item deleted on one side and changed on the other is
//!    kept if it is not a folder (it revives); a folder stays deleted. An
//!    item deleted on one side and unchanged on the other is deleted.
//!    Livemarks, and anything that ends up outside the four user content
//!    roots, are deleted on both sides. An item that cannot be used
//!    ([`Validity::Replace`]) is replaced by the other side's copy, or
//!    deleted if there is none.
//! 3. **Values.** Changed on one side: that side wins. Changed on both:
//!    [`ValueState::Both`], merged field by field against the mirror's copy
//!    ([`fields::merge_fields`]), the newer side winning fields both changed.
//! 4. **Parents.** An item whose parent differs between the sides goes where
//!    the side that changed it put it (both changed: the newer); when
//!    neither changed it, the side whose new parent changed, then the
//!    server's, unless the server's was a repair. If that parent did not
//!    survive, the item moves to the parent's nearest surviving ancestor on
//!    that side, so a new or changed item inside a deleted folder is never
//!    lost. A cycle made of two sides' moves is broken by taking the other
//!    side's parent for the item where it was found, or `unfiled`.
//! 5. **Order.** A folder's children come in the order of the side that
//!    changed the folder (both: the newer; neither: the server's unless it
//!    was repaired), then the other side's children that belong there, then
//!    anything relocated into it.
//!
//! [`TreeBuilder`]: crate::tree::TreeBuilder
//! [`Validity::Replace`]: crate::tree::Validity::Replace

pub mod fields;
mod merger;

use foldhash::HashMap;
use std::fmt;
use std::sync::OnceLock;

use sync15::Guid;

use crate::tree::{Kind, Problems, Tree};

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// This device.
    Local,
    /// The server.
    Remote,
}

/// Where a merged item's value (title, URL, …) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueState {
    /// The same on both sides: nothing to apply or upload.
    Unchanged,
    /// The local value: upload it.
    Local,
    /// The remote value: apply it locally.
    Remote,
    /// Both sides changed it: merge field by field against the mirror's
    /// copy, `newer` winning the fields both changed; apply the result
    /// locally and upload it.
    Both {
        /// The side that changed it last.
        newer: Side,
    },
}

/// What merging counted besides the remote tree's own problems.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// What building the remote tree had to repair.
    pub remote_problems: Problems,
    /// Local items matched to remote items by content.
    pub deduped: usize,
    /// Items deleted on one side and kept because the other changed them.
    pub revived: usize,
    /// Items moved out of a deleted folder (or an item that stopped being a
    /// folder) to the nearest surviving ancestor.
    pub relocated: usize,
    /// Items deleted because they sit outside the user content roots or are
    /// livemarks.
    pub non_syncable: usize,
    /// Unusable items replaced by the other side's copy or deleted.
    pub invalid: usize,
    /// Cycles made by the two sides' moves together, and broken.
    pub cycles: usize,
    /// Items whose kind differs between the sides.
    pub kind_mismatches: usize,
}

/// The work a merge leaves, by GUID. Every list is in a deterministic order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ops {
    /// Local items that take a remote item's id after deduping:
    /// `(local GUID, remote GUID)`. Apply these first; every other list
    /// names the remote GUID.
    pub change_guids: Vec<(Guid, Guid)>,
    /// Items whose value must be written locally: [`ValueState::Remote`] and
    /// [`ValueState::Both`] (see [`MergedNode::value`]), new ones included.
    pub apply_values: Vec<Guid>,
    /// Folders whose local children must become their merged children, in
    /// merged order (each child moved there).
    pub apply_structure: Vec<Guid>,
    /// Items to delete locally.
    pub delete_locally: Vec<Guid>,
    /// Items whose record must be uploaded: local or merged values, new
    /// structure, or records the server holds in a repaired form.
    pub upload: Vec<Guid>,
    /// Items the server holds that must get a tombstone.
    pub delete_remotely: Vec<Guid>,
}

/// The result of [`merge`].
#[derive(Debug)]
pub struct Merged {
    /// The merged tree.
    pub tree: MergedTree,
    /// What to do locally and on the server.
    pub ops: Ops,
    /// What was counted.
    pub stats: MergeStats,
}

/// Merges `local` and `remote` (see the module docs).
pub fn merge(local: &Tree, remote: &Tree) -> Merged {
    merger::Merger::new(local, remote).run()
}

/// One item of the merged tree, or one deleted by the merge.
///
/// Indices are `u32`, as in [`Tree`]: a merge makes an entry for every item
/// of both trees, and at 100,000 items `usize` indices cost 3 MiB more.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) guid: Guid,
    /// Its index in the local tree.
    pub(crate) local: Option<u32>,
    /// Its index in the remote tree.
    pub(crate) remote: Option<u32>,
    /// Its parent's entry.
    pub(crate) parent: u32,
    pub(crate) kind: Kind,
    pub(crate) value: ValueState,
    pub(crate) kept: bool,
    /// Its children's entries, in order.
    pub(crate) children: Vec<u32>,
}

impl Entry {
    /// Its index in the local tree, to index with.
    pub(crate) fn local_at(&self) -> Option<usize> {
        self.local.map(|l| l as usize)
    }

    /// Its index in the remote tree, to index with.
    pub(crate) fn remote_at(&self) -> Option<usize> {
        self.remote.map(|r| r as usize)
    }
}

/// The merged tree: every kept item once, under the Places root.
pub struct MergedTree {
    pub(crate) entries: Vec<Entry>,
    pub(crate) local_guids: HashMap<usize, Guid>,
    pub(crate) by_guid: OnceLock<HashMap<Guid, usize>>,
}

impl MergedTree {
    /// The Places root.
    pub fn root(&self) -> MergedNode<'_> {
        MergedNode { tree: self, index: 0 }
    }

    /// The kept item with `guid` (the remote GUID for deduped items).
    pub fn node_for(&self, guid: &str) -> Option<MergedNode<'_>> {
        let by_guid = self.by_guid.get_or_init(|| {
            self.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.kept)
                .map(|(i, e)| (e.guid.clone(), i))
                .collect()
        });
        by_guid.get(guid).map(|&index| MergedNode { tree: self, index })
    }

    /// Every kept item, the root first.
    pub fn nodes(&self) -> impl Iterator<Item = MergedNode<'_>> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kept)
            .map(|(index, _)| MergedNode { tree: self, index })
    }

    /// How many items were kept (the root included).
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.kept).count()
    }

    /// Whether only the root is here (never true: roots are always kept).
    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }
}

impl fmt::Debug for MergedTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MergedTree({} items)", self.len())
    }
}

/// An item in its merged place.
#[derive(Clone, Copy)]
pub struct MergedNode<'t> {
    tree: &'t MergedTree,
    index: usize,
}

impl<'t> MergedNode<'t> {
    fn entry(&self) -> &'t Entry {
        &self.tree.entries[self.index]
    }

    /// Its GUID.
    pub fn guid(&self) -> &'t Guid {
        &self.entry().guid
    }

    /// Its GUID in the local tree, if it has one there (different from
    /// [`MergedNode::guid`] only for a deduped item).
    pub fn local_guid(&self) -> Option<&'t Guid> {
        let entry = self.entry();
        entry.local?;
        Some(self.tree.local_guids.get(&self.index).unwrap_or(&entry.guid))
    }

    /// Whether the server has it (under this GUID).
    pub fn in_remote(&self) -> bool {
        self.entry().remote.is_some()
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.entry().kind
    }

    /// Where its value comes from.
    pub fn value(&self) -> ValueState {
        self.entry().value
    }

    /// Its parent; `None` for the Places root.
    pub fn parent(&self) -> Option<MergedNode<'t>> {
        (self.index != 0).then(|| MergedNode {
            tree: self.tree,
            index: self.entry().parent as usize,
        })
    }

    /// Its children, in order.
    pub fn children(&self) -> impl ExactSizeIterator<Item = MergedNode<'t>> + 't {
        let tree = self.tree;
        self.entry().children.iter().map(move |&index| MergedNode {
            tree,
            index: index as usize,
        })
    }

    /// Its position among its parent's children.
    pub fn position(&self) -> usize {
        self.parent()
            .and_then(|p| p.entry().children.iter().position(|&c| c as usize == self.index))
            .unwrap_or(0)
    }
}

impl fmt::Debug for MergedNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MergedNode({})", self.guid())
    }
}
