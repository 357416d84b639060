//! Step 1 of the merge: new local items paired with new remote items of the
//! same content, top-down.

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt as _};

use super::{Merger, NONE};
use crate::tree::{Content, Kind, Tree, is_root_id};

/// What makes two new items the same.
#[derive(PartialEq, Eq, Hash)]
struct DedupeKey<'a> {
    kind: Kind,
    content: &'a Content,
    /// Separators match by position; everything else uses 0.
    position: usize,
}

impl Merger<'_> {
    fn is_new_local(&self, l: usize) -> bool {
        let item = &self.local.items[l];
        item.needs_merge
            && item.content.is_some()
            && self.local_in_remote[l] == NONE
            && !is_root_id(item.guid.as_bytes())
            && !self.remote.is_deleted(item.guid.as_str())
    }

    fn is_new_remote(&self, r: usize) -> bool {
        let item = &self.remote.items[r];
        item.needs_merge
            && item.content.is_some()
            && self.remote_in_local[r] == NONE
            && !is_root_id(item.guid.as_bytes())
            && !self.local.is_deleted(item.guid.as_str())
    }

    /// Step 1: pairs new local items with new remote items, top-down, so a
    /// deduped folder's children dedupe against its remote twin's.
    pub(super) fn dedupe(&mut self) {
        let (local, remote) = (self.local, self.remote);
        let mut twin: HashMap<usize, u32> = HashMap::new();
        let mut taken = vec![false; remote.len()];
        let mut queue = VecDeque::from([0usize]);
        while let Some(folder) = queue.pop_front() {
            let children = local.children_of(folder);
            let remote_folder = match twin.get(&folder) {
                Some(&r) => r,
                None => self.local_in_remote[folder],
            };
            if remote_folder != NONE && children.iter().any(|&c| self.is_new_local(c as usize)) {
                let mut candidates: HashMap<DedupeKey<'_>, VecDeque<usize>> = HashMap::new();
                for (position, &r) in remote.children_of(remote_folder as usize).iter().enumerate() {
                    let r = r as usize;
                    if !taken[r] && self.is_new_remote(r) {
                        if let Some(key) = dedupe_key(remote, r, position) {
                            candidates.entry(key).or_default().push_back(r);
                        }
                    }
                }
                for (position, &l) in children.iter().enumerate() {
                    let l = l as usize;
                    if !self.is_new_local(l) {
                        continue;
                    }
                    let found = dedupe_key(local, l, position)
                        .and_then(|key| candidates.get_mut(&key))
                        .and_then(VecDeque::pop_front);
                    if let Some(r) = found {
                        taken[r] = true;
                        twin.insert(l, r as u32);
                        self.dupes.push((l, r));
                    }
                }
            }
            queue.extend(
                children
                    .iter()
                    .map(|&c| c as usize)
                    .filter(|&c| local.items[c].kind.is_folder()),
            );
        }
        self.stats.deduped = self.dupes.len();
    }
}

fn dedupe_key(tree: &Tree, at: usize, position: usize) -> Option<DedupeKey<'_>> {
    let item = &tree.items[at];
    let content: &Content = item.content.as_deref()?;
    let fits = matches!(
        (item.kind, content),
        (Kind::Bookmark | Kind::Query, Content::Bookmark { .. })
            | (Kind::Folder, Content::Folder { .. })
            | (Kind::Separator, Content::Separator)
    );
    fits.then_some(DedupeKey {
        kind: item.kind,
        content,
        position: if item.kind == Kind::Separator { position } else { 0 },
    })
}
