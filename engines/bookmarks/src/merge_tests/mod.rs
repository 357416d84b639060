//! The merger suite: each case is a local tree, a remote tree and the
//! expected merged tree, written in a small notation, plus the work the
//! merge must leave.
//!
//! Notation: `menu(A B F(C))` is the menu holding bookmarks A and B and
//! folder F holding C. After a name: `*` changed on that side, `@N` its age
//! (default 100), `:q` / `:s` / `:l` / `:f` a query, separator, livemark or
//! (empty) folder, `!` unusable, `=word` content for deduping (a bookmark's
//! title `word` and URL `https://word/`, a folder's title). `- X Y` after
//! the tree lists tombstones. Roots are written `menu`, `toolbar`,
//! `unfiled`, `mobile`; other top-level names sit under the Places root.
#![allow(clippy::unwrap_used)]

use sync15::Guid;

use crate::merge::{Merged, MergedNode, Side, ValueState, merge};
use crate::tree::*;

mod deletions_dedupe_repair;

const ROOT_ALIASES: [(&str, &str); 4] = [
    ("menu", MENU_GUID),
    ("toolbar", TOOLBAR_GUID),
    ("unfiled", UNFILED_GUID),
    ("mobile", MOBILE_GUID),
];

fn guid_of(name: &str) -> &str {
    ROOT_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, guid)| guid)
}

fn name_of(guid: &str) -> &str {
    ROOT_ALIASES
        .iter()
        .find(|(_, g)| *g == guid)
        .map_or(guid, |(alias, _)| alias)
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.chars.next();
        }
    }

    fn word(&mut self) -> String {
        let mut w = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                w.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        w
    }

    /// Items up to `)` or the end, added under `parent`.
    fn items(&mut self, parent: &str, b: &mut TreeBuilder) {
        let mut children = Vec::new();
        loop {
            self.skip_space();
            match self.chars.peek() {
                None | Some(')') | Some('-') => break,
                _ => {}
            }
            let name = self.word();
            assert!(!name.is_empty(), "bad notation near {:?}", self.chars.peek());
            let guid = guid_of(&name).to_owned();
            let mut item = Item {
                age: 100,
                ..Item::new(guid.as_str(), Kind::Bookmark)
            };
            let mut content_word = None;
            loop {
                match self.chars.peek() {
                    Some('*') => item.needs_merge = true,
                    Some('!') => item.validity = Validity::Replace,
                    Some('?') => item.validity = Validity::Reupload,
                    Some('@') => {
                        self.chars.next();
                        item.age = self.word().parse().unwrap();
                        continue;
                    }
                    Some(':') => {
                        self.chars.next();
                        item.kind = match self.chars.next() {
                            Some('q') => Kind::Query,
                            Some('s') => Kind::Separator,
                            Some('l') => Kind::Livemark,
                            Some('f') => Kind::Folder,
                            other => panic!("unknown kind {other:?}"),
                        };
                        continue;
                    }
                    Some('=') => {
                        self.chars.next();
                        content_word = Some(self.word());
                        continue;
                    }
                    _ => break,
                }
                self.chars.next();
            }
            let has_children = self.chars.peek() == Some(&'(');
            if has_children || is_root(&guid) {
                item.kind = Kind::Folder;
            }
            item.content =
                content_word.map(|w| Box::new(Content::of(item.kind, &w, &format!("https://{w}/"))));
            b.item(item);
            b.parent_id(&guid, Guid::new(parent));
            if has_children {
                self.chars.next();
                self.items(&guid, b);
                assert_eq!(self.chars.next(), Some(')'));
            }
            children.push(Guid::new(&guid));
        }
        b.children(parent, children);
    }
}

/// A builder holding the tree `spec` describes.
fn builder(spec: &str) -> TreeBuilder {
    let mut b = TreeBuilder::new();
    let mut p = Parser {
        chars: spec.chars().peekable(),
    };
    p.items(ROOT_GUID, &mut b);
    p.skip_space();
    if p.chars.next() == Some('-') {
        loop {
            p.skip_space();
            let w = p.word();
            if w.is_empty() {
                break;
            }
            b.deletion(Guid::new(guid_of(&w)));
        }
    }
    b
}

fn tree(spec: &str) -> Tree {
    builder(spec).into_tree()
}

/// The merged tree in the notation (folders with parentheses).
fn shape(merged: &Merged) -> String {
    fn walk(node: MergedNode<'_>, out: &mut Vec<String>) {
        let mut s = name_of(node.guid()).to_owned();
        if node.kind().is_folder() {
            let mut kids = Vec::new();
            for c in node.children() {
                walk(c, &mut kids);
            }
            s = format!("{s}({})", kids.join(" "));
        }
        out.push(s);
    }
    let mut out = Vec::new();
    for c in merged.tree.root().children() {
        walk(c, &mut out);
    }
    out.join(" ")
}

fn names(list: &[Guid]) -> String {
    let mut v: Vec<&str> = list.iter().map(|g| name_of(g)).collect();
    v.sort();
    v.join(" ")
}

/// The work, one line per non-empty list, names sorted.
fn ops(merged: &Merged) -> String {
    let o = &merged.ops;
    let mut lines = Vec::new();
    if !o.change_guids.is_empty() {
        let pairs: Vec<String> = o.change_guids.iter().map(|(l, r)| format!("{l}>{r}")).collect();
        lines.push(format!("guids: {}", pairs.join(" ")));
    }
    for (label, list) in [
        ("apply", &o.apply_values),
        ("structure", &o.apply_structure),
        ("delete_locally", &o.delete_locally),
        ("upload", &o.upload),
        ("delete_remotely", &o.delete_remotely),
    ] {
        if !list.is_empty() {
            lines.push(format!("{label}: {}", names(list)));
        }
    }
    lines.join("; ")
}

fn run(local: &str, remote: &str) -> Merged {
    merge(&tree(local), &tree(remote))
}

fn value(merged: &Merged, name: &str) -> ValueState {
    merged.tree.node_for(guid_of(name)).unwrap().value()
}

const EMPTY: &str = "menu() toolbar() unfiled() mobile()";

// ---------------------------------------------------------------- values

#[test]
fn identical_unchanged_trees_leave_nothing_to_do() {
    let m = run("menu(A F(B C)) toolbar(D)", "menu(A F(B C)) toolbar(D)");
    assert_eq!(shape(&m), "menu(A F(B C)) toolbar(D) unfiled() mobile()");
    assert_eq!(ops(&m), "");
}

#[test]
fn a_new_local_bookmark_is_uploaded_with_its_parent() {
    let m = run("menu*(A N*)", "menu(A)");
    assert_eq!(shape(&m), "menu(A N) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: N menu");
    assert_eq!(value(&m, "N"), ValueState::Local);
}

#[test]
fn a_new_remote_bookmark_is_applied_locally() {
    let m = run("menu(A)", "menu*(A N*)");
    assert_eq!(shape(&m), "menu(A N) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "apply: N; structure: menu");
}

#[test]
fn a_local_edit_is_uploaded() {
    let m = run("menu(A* B)", "menu(A B)");
    assert_eq!(ops(&m), "upload: A");
    assert_eq!(value(&m, "A"), ValueState::Local);
}

#[test]
fn a_remote_edit_is_applied() {
    let m = run("menu(A B)", "menu(A B*)");
    assert_eq!(ops(&m), "apply: B");
    assert_eq!(value(&m, "B"), ValueState::Remote);
}

#[test]
fn an_item_edited_on_both_sides_merges_with_the_local_side_newer() {
    let m = run("menu(A*@10)", "menu(A*@20)");
    assert_eq!(value(&m, "A"), ValueState::Both { newer: Side::Local });
    assert_eq!(ops(&m), "apply: A; upload: A");
}

#[test]
fn an_item_edited_on_both_sides_merges_with_the_remote_side_newer() {
    let m = run("menu(A*@20)", "menu(A*@10)");
    assert_eq!(value(&m, "A"), ValueState::Both { newer: Side::Remote });
}

#[test]
fn an_unusable_remote_record_is_replaced_by_the_local_copy() {
    let m = run("menu(A)", "menu(A*!)");
    assert_eq!(value(&m, "A"), ValueState::Local);
    assert_eq!(ops(&m), "upload: A");
    assert_eq!(m.stats.invalid, 1);
}

#[test]
fn an_unusable_local_item_is_replaced_by_the_remote_copy() {
    let m = run("menu(A!)", "menu(A)");
    assert_eq!(value(&m, "A"), ValueState::Remote);
    assert_eq!(ops(&m), "apply: A");
}

#[test]
fn an_unusable_remote_record_with_no_local_copy_is_deleted() {
    let m = run("menu()", "menu*(A*!)");
    assert_eq!(shape(&m), EMPTY);
    assert_eq!(ops(&m), "upload: menu; delete_remotely: A");
}

#[test]
fn a_record_the_server_must_take_again_is_reuploaded() {
    let m = run("menu(A)", "menu(A*?)");
    assert!(ops(&m).contains("upload: A"), "{}", ops(&m));
}

// ---------------------------------------------------------------- structure

#[test]
fn a_local_move_is_uploaded_with_both_folders() {
    let m = run("menu*(F*(A B*)) toolbar*(C)", "menu(F(A) B) toolbar(C)");
    assert_eq!(shape(&m), "menu(F(A B)) toolbar(C) unfiled() mobile()");
    assert_eq!(ops(&m), "upload: B F menu");
}

#[test]
fn a_remote_move_is_applied_to_both_folders() {
    let m = run("menu(F(A) B)", "menu*(F*(A B*))");
    assert_eq!(shape(&m), "menu(F(A B)) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "apply: B F; structure: F menu");
}

#[test]
fn conflicting_moves_go_where_the_newer_move_put_the_item() {
    let local = "menu*(F*(A*@10) G()) toolbar()";
    let remote = "menu*(F() G*(A*@20)) toolbar()";
    let m = run(local, remote);
    assert_eq!(shape(&m), "menu(F(A) G()) toolbar() unfiled() mobile()");
    let m = run("menu*(F*(A*@30) G())", remote);
    assert_eq!(shape(&m), "menu(F() G(A)) toolbar() unfiled() mobile()");
}

#[test]
fn a_local_reorder_is_uploaded() {
    let m = run("toolbar*(C B A)", "toolbar(A B C)");
    assert_eq!(shape(&m), "menu() toolbar(C B A) unfiled() mobile()");
    assert_eq!(ops(&m), "upload: toolbar");
}

#[test]
fn a_remote_reorder_is_applied() {
    let m = run("toolbar(A B C)", "toolbar*(B C A)");
    assert_eq!(shape(&m), "menu() toolbar(B C A) unfiled() mobile()");
    assert_eq!(ops(&m), "structure: toolbar");
}

#[test]
fn the_newer_order_wins_and_the_other_sides_additions_follow_it() {
    let m = run("toolbar*@50(C B A L*)", "toolbar*@10(B A C R*)");
    assert_eq!(shape(&m), "menu() toolbar(B A C R L) unfiled() mobile()");
    let m = run("toolbar*@5(C B A L*)", "toolbar*@10(B A C R*)");
    assert_eq!(shape(&m), "menu() toolbar(C B A L R) unfiled() mobile()");
}

#[test]
fn a_move_on_one_side_and_an_edit_on_the_other_both_stand() {
    let m = run("menu*(F*(A*@10)) toolbar(B)", "menu(F() A) toolbar(B*@5)");
    assert_eq!(shape(&m), "menu(F(A)) toolbar(B) unfiled() mobile()");
    assert_eq!(value(&m, "B"), ValueState::Remote);
    assert_eq!(ops(&m), "apply: B; upload: A F menu");
}

#[test]
fn moves_that_together_make_a_cycle_are_broken() {
    // Locally F went into G; remotely G went into F.
    let m = run("menu*(G*(F*@10()))", "menu*(F*(G*@20()))");
    assert_eq!(m.stats.cycles, 1, "{}", shape(&m));
    let s = shape(&m);
    assert!(
        s == "menu(G(F())) toolbar() unfiled() mobile()" || s == "menu(F(G())) toolbar() unfiled() mobile()",
        "{s}"
    );
}

#[test]
fn moving_a_folder_carries_its_children() {
    let m = run("menu(F(A B)) toolbar()", "menu*() toolbar*(F*(A B))");
    assert_eq!(shape(&m), "menu() toolbar(F(A B)) unfiled() mobile()");
    assert_eq!(ops(&m), "apply: F; structure: menu toolbar");
}
