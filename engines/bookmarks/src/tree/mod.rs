//! Bookmark trees as the merger sees them: items (kind, age, changed flag,
//! content for deduping) arranged under the Places root.
//!
//! A local tree is consistent by construction. A remote tree is assembled
//! from records other clients wrote, and may disagree with itself: a folder's
//! `children` and a child's `parentid` may name different parents, an item
//! may be listed by several folders, a parent may not exist, a listed child
//! may be missing. [`TreeBuilder::into_tree`] resolves every such divergence
//! deterministically, counts it in [`Problems`], and marks what it repaired
//! ([`Node::diverged`]) so the merger uploads the repaired records.
//!
//! The rules, in order:
//! 1. The Places root has no parent; the user content roots (menu, toolbar,
//!    unfiled, mobile) always sit directly under it, and are created if a
//!    tree lacks them.
//! 2. An item listed in exactly one folder's `children` belongs there; if
//!    its `parentid` says otherwise, that is a disagreement and the item is
//!    reuploaded with the right `parentid`.
//! 3. An item listed by several folders goes to the newest of them (lowest
//!    age; ties: the one its `parentid` names, then the lowest GUID); the
//!    others lose it and are reuploaded.
//! 4. An item listed nowhere goes to the folder its `parentid` names, after
//!    that folder's listed children; the folder is reuploaded.
//! 5. Otherwise (no `parentid`, or one naming a missing item or a
//!    non-folder) it is an orphan and goes to `unfiled`.
//! 6. A listed child that does not exist is dropped; the folder is
//!    reuploaded. Children claimed by a non-folder are ignored.
//! 7. A cycle (a folder inside itself) is broken by moving the item where
//!    the cycle was entered to `unfiled`.

use foldhash::HashSet;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use sync15::Guid;

mod builder;
mod index;

pub use builder::{ItemRef, TreeBuilder};
pub(crate) use index::GuidIndex;

/// A GUID as a map key, hashed and compared by its bytes so that lookups
/// by `&str` (as bytes) skip the UTF-8 check `Guid`'s `str`-based hash needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuidKey(pub(crate) Guid);

impl Hash for GuidKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state)
    }
}

impl Borrow<[u8]> for GuidKey {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The Places root (`places` on the wire).
pub const ROOT_GUID: &str = "root________";
/// Bookmarks menu (`menu`).
pub const MENU_GUID: &str = "menu________";
/// Bookmarks toolbar (`toolbar`).
pub const TOOLBAR_GUID: &str = "toolbar_____";
/// Other bookmarks (`unfiled`).
pub const UNFILED_GUID: &str = "unfiled_____";
/// Mobile bookmarks (`mobile`).
pub const MOBILE_GUID: &str = "mobile______";
/// The tags root (`tags`): local-only, never synced as a folder.
pub const TAGS_GUID: &str = "tags________";

/// The roots whose contents sync, in Firefox's order.
pub const USER_CONTENT_ROOTS: [&str; 4] = [MENU_GUID, TOOLBAR_GUID, UNFILED_GUID, MOBILE_GUID];

/// Whether `guid` is the Places root or a user content root.
pub fn is_root(guid: &str) -> bool {
    is_root_id(guid.as_bytes())
}

/// [`is_root`] on bytes. Every root id ends in `_`, which few others do, so
/// most ids are rejected by one comparison (this runs once per item per
/// pass).
pub(crate) fn is_root_id(guid: &[u8]) -> bool {
    guid.last() == Some(&b'_') && (guid == ROOT_GUID.as_bytes() || user_root_rank(guid).is_some())
}

/// The position of a user content root in [`USER_CONTENT_ROOTS`].
pub(crate) fn user_root_rank(guid: &[u8]) -> Option<usize> {
    if guid.last() != Some(&b'_') {
        return None;
    }
    USER_CONTENT_ROOTS.iter().position(|r| r.as_bytes() == guid)
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A bookmark (and the legacy `microsummary`).
    Bookmark,
    /// A `place:` query.
    Query,
    /// A folder.
    Folder,
    /// A legacy livemark: never kept, always deleted on both sides.
    Livemark,
    /// A separator.
    Separator,
}

impl Kind {
    /// Whether items of this kind hold children.
    pub fn is_folder(self) -> bool {
        self == Kind::Folder
    }
}

/// Whether an item can be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validity {
    /// Fine.
    #[default]
    Valid,
    /// Usable, but its record must be uploaded again (it was repaired on
    /// the way in, e.g. a missing `dateAdded`).
    Reupload,
    /// Unusable (e.g. a bookmark without a URL): replaced by the other
    /// side's copy, or deleted if there is none.
    Replace,
}

/// What deduping compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Content {
    /// Bookmarks and queries: same title and URL.
    Bookmark {
        /// Title.
        title: String,
        /// URL.
        url: String,
    },
    /// Folders: same title.
    Folder {
        /// Title.
        title: String,
    },
    /// Separators: same position in their parent.
    Separator,
}

impl Content {
    /// What deduping compares for an item of `kind` with this title and
    /// URL: folders their title, separators only their position, the rest
    /// title and URL.
    pub fn of(kind: Kind, title: &str, url: &str) -> Content {
        match kind {
            Kind::Folder => Content::Folder {
                title: title.to_owned(),
            },
            Kind::Separator => Content::Separator,
            Kind::Bookmark | Kind::Query | Kind::Livemark => Content::Bookmark {
                title: title.to_owned(),
                url: url.to_owned(),
            },
        }
    }
}

/// One item of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its id.
    pub guid: Guid,
    /// What it is.
    pub kind: Kind,
    /// How long ago it last changed, in milliseconds before a "now" shared by
    /// both trees: lower is newer.
    pub age: i64,
    /// Whether it changed since the last sync (locally: edited here;
    /// remotely: arrived in this sync).
    pub needs_merge: bool,
    /// Whether it can be used as it is.
    pub validity: Validity,
    /// What deduping compares; only needed for items that may be new
    /// (boxed: most items have none, and trees hold many items).
    pub content: Option<Box<Content>>,
}

impl Item {
    /// A valid, unchanged item of age 0 with no content.
    pub fn new(guid: impl Into<Guid>, kind: Kind) -> Item {
        Item {
            guid: guid.into(),
            kind,
            age: 0,
            needs_merge: false,
            validity: Validity::Valid,
            content: None,
        }
    }
}

/// Divergences found while building a tree, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Problems {
    /// Items with no usable parent, moved to `unfiled`.
    pub orphans: usize,
    /// Roots that claimed a parent other than the Places root.
    pub misparented_roots: usize,
    /// Items listed in more than one folder.
    pub multiple_parents: usize,
    /// Items whose `parentid` disagrees with the folder listing them, or
    /// that are listed nowhere but name an existing folder.
    pub parent_child_disagreements: usize,
    /// Listed children that do not exist.
    pub missing_children: usize,
    /// `children` lists on items that are not folders.
    pub non_folder_parents: usize,
    /// Folders found inside themselves.
    pub cycles: usize,
    /// Items given more than once.
    pub duplicate_items: usize,
}

impl Problems {
    /// Whether the tree was consistent.
    pub fn is_empty(&self) -> bool {
        *self == Problems::default()
    }
}

/// The parent of the Places root, in [`Tree::parents`].
pub(crate) const NO_PARENT: u32 = u32::MAX;

/// A resolved tree: every item reachable from the Places root exactly once.
///
/// Items are addressed by their index (`u32`: a tree holds fewer than four
/// billion items); each item's children are one slice of a single array,
/// so a tree of 100,000 items makes a handful of allocations, not one per
/// folder.
#[derive(Debug, Clone)]
pub struct Tree {
    pub(crate) items: Vec<Item>,
    pub(crate) by_guid: GuidIndex,
    /// Per item, its parent's index; [`NO_PARENT`] for the root.
    pub(crate) parents: Vec<u32>,
    /// Item `i`'s children are `child_list[child_starts[i]..child_starts[i + 1]]`.
    pub(crate) child_starts: Vec<u32>,
    pub(crate) child_list: Vec<u32>,
    pub(crate) diverged: Vec<bool>,
    pub(crate) deleted: HashSet<GuidKey>,
    pub(crate) problems: Problems,
}

impl Tree {
    /// The Places root.
    pub fn root(&self) -> Node<'_> {
        Node { tree: self, index: 0 }
    }

    /// The node for `guid`, if the tree has it.
    pub fn node_for(&self, guid: &str) -> Option<Node<'_>> {
        self.index_of(guid).map(|index| Node { tree: self, index })
    }

    /// Every node, the root first, then in the order they were added.
    pub fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        (0..self.items.len()).map(|index| Node { tree: self, index })
    }

    /// How many items (the root included).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether only the root is here (never true: roots are always added).
    pub fn is_empty(&self) -> bool {
        self.items.len() <= 1
    }

    /// The index of `guid`'s item (the root is 0).
    pub(crate) fn index_of(&self, guid: &str) -> Option<usize> {
        self.by_guid.get(&self.items, guid.as_bytes()).map(|i| i as usize)
    }

    /// The indices of item `at`'s children, in order.
    pub(crate) fn children_of(&self, at: usize) -> &[u32] {
        &self.child_list[self.child_starts[at] as usize..self.child_starts[at + 1] as usize]
    }

    /// The index of item `at`'s parent; `None` for the root.
    pub(crate) fn parent_of(&self, at: usize) -> Option<usize> {
        let parent = self.parents[at];
        (parent != NO_PARENT).then_some(parent as usize)
    }

    /// Whether `guid` has a tombstone in this tree.
    pub fn is_deleted(&self, guid: &str) -> bool {
        self.deleted.contains(guid.as_bytes())
    }

    /// The tombstones.
    pub fn deletions(&self) -> impl Iterator<Item = &Guid> {
        self.deleted.iter().map(|key| &key.0)
    }

    /// What building the tree had to repair.
    pub fn problems(&self) -> Problems {
        self.problems
    }
}

/// An item in its place in a [`Tree`].
#[derive(Clone, Copy)]
pub struct Node<'t> {
    tree: &'t Tree,
    index: usize,
}

impl<'t> Node<'t> {
    /// The item.
    pub fn item(&self) -> &'t Item {
        &self.tree.items[self.index]
    }

    /// Its GUID.
    pub fn guid(&self) -> &'t Guid {
        &self.tree.items[self.index].guid
    }

    /// Its parent; `None` for the Places root.
    pub fn parent(&self) -> Option<Node<'t>> {
        self.tree.parent_of(self.index).map(|index| Node {
            tree: self.tree,
            index,
        })
    }

    /// Its children, in order.
    pub fn children(&self) -> impl ExactSizeIterator<Item = Node<'t>> + 't {
        let tree = self.tree;
        tree.children_of(self.index).iter().map(move |&index| Node {
            tree,
            index: index as usize,
        })
    }

    /// Its position among its parent's children.
    pub fn position(&self) -> usize {
        self.parent()
            .and_then(|p| {
                self.tree
                    .children_of(p.index)
                    .iter()
                    .position(|&c| c as usize == self.index)
            })
            .unwrap_or(0)
    }

    /// Whether building the tree changed this item's parent or children,
    /// so that its record must be uploaded again.
    pub fn diverged(&self) -> bool {
        self.tree.diverged[self.index]
    }

    /// Whether this is the Places root or a user content root.
    pub fn is_root(&self) -> bool {
        is_root(self.guid().as_str())
    }

    /// Whether this item is inside one of the four user content roots (the
    /// only items that sync).
    pub fn is_syncable(&self) -> bool {
        let mut at = *self;
        loop {
            let guid = at.guid().as_str();
            if USER_CONTENT_ROOTS.contains(&guid) {
                return true;
            }
            match at.parent() {
                Some(p) => at = p,
                None => return false,
            }
        }
    }
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({})", self.guid())
    }
}

/// One line per item, indented by depth: `guid (kind)`, with `*` for a
/// changed item and `!` for a repaired one.
impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn walk(node: Node<'_>, depth: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let item = node.item();
            writeln!(
                f,
                "{:indent$}{}{}{} ({:?})",
                "",
                if node.diverged() { "!" } else { "" },
                item.guid,
                if item.needs_merge { "*" } else { "" },
                item.kind,
                indent = depth * 2
            )?;
            for child in node.children() {
                walk(child, depth + 1, f)?;
            }
            Ok(())
        }
        walk(self.root(), 0, f)
    }
}
