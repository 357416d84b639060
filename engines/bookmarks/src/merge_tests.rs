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
            item.content = content_word.map(|w| {
                Box::new(match item.kind {
                    Kind::Folder => Content::Folder { title: w },
                    Kind::Separator => Content::Separator,
                    _ => Content::Bookmark {
                        url: format!("https://{w}/"),
                        title: w,
                    },
                })
            });
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

// ---------------------------------------------------------------- deletions

#[test]
fn a_remote_deletion_of_an_unchanged_item_is_applied() {
    let m = run("menu(A B)", "menu*(A) - B");
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "structure: menu; delete_locally: B");
}

#[test]
fn a_local_deletion_of_an_unchanged_item_is_uploaded() {
    let m = run("menu*(A) - B", "menu(A B)");
    assert_eq!(ops(&m), "upload: menu; delete_remotely: B");
}

#[test]
fn a_bookmark_edited_locally_and_deleted_remotely_revives() {
    let m = run("menu(A B*)", "menu*(A) - B");
    assert_eq!(shape(&m), "menu(A B) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: B menu");
    assert_eq!(m.stats.revived, 1);
}

#[test]
fn a_bookmark_edited_remotely_and_deleted_locally_revives() {
    let m = run("menu*(A) - B", "menu(A B*)");
    assert_eq!(shape(&m), "menu(A B) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "apply: B; structure: menu");
}

#[test]
fn a_folder_deleted_remotely_stays_deleted_and_a_new_child_moves_up() {
    let m = run("menu(F*(A N*) B)", "menu*(B) - F A");
    assert_eq!(shape(&m), "menu(B N) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "structure: menu; delete_locally: A F; upload: N menu");
    assert_eq!(m.stats.relocated, 1);
}

#[test]
fn a_folder_deleted_locally_stays_deleted_and_a_new_remote_child_moves_up() {
    let m = run("menu*(B) - F A", "menu(F*(A N*) B)");
    assert_eq!(shape(&m), "menu(B N) toolbar() unfiled() mobile()");
    // N is reuploaded: the server's record names the deleted folder.
    assert_eq!(
        ops(&m),
        "apply: N; structure: menu; upload: N menu; delete_remotely: A F"
    );
}

#[test]
fn a_folder_renamed_on_one_side_and_deleted_on_the_other_stays_deleted() {
    let m = run("menu(F*(A))", "menu*() - F A");
    assert_eq!(shape(&m), EMPTY);
    assert_eq!(ops(&m), "structure: menu; delete_locally: A F");
}

#[test]
fn a_new_child_of_a_deleted_nested_folder_goes_to_the_nearest_survivor() {
    let m = run("menu(F(G(N*)))", "menu*() - F G");
    assert_eq!(shape(&m), "menu(N) toolbar() unfiled() mobile()");
}

#[test]
fn a_bookmark_moved_into_a_folder_the_other_side_deleted_moves_up() {
    let m = run("menu*(X F*(A B*@5))", "menu*(X B) - F A");
    assert_eq!(shape(&m), "menu(X B) toolbar() unfiled() mobile()");
    assert!(m.stats.relocated >= 1);
}

#[test]
fn a_child_moved_out_before_its_folder_was_deleted_survives() {
    let m = run("menu(F(A B))", "menu*(B*) - F A");
    assert_eq!(shape(&m), "menu(B) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "apply: B; structure: menu; delete_locally: A F");
}

#[test]
fn an_item_deleted_on_both_sides_leaves_nothing_to_do() {
    let m = run("menu*(A) - B", "menu*(A) - B");
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "");
}

#[test]
fn a_deleted_subtree_with_an_edited_bookmark_keeps_only_the_bookmark() {
    let m = run("toolbar(F(A B*@5 C))", "toolbar*() - F A B C");
    assert_eq!(shape(&m), "menu() toolbar(B) unfiled() mobile()");
    assert_eq!(m.stats.revived, 1);
}

// ---------------------------------------------------------------- dedupe

#[test]
fn identical_new_bookmarks_in_the_same_folder_are_deduped_to_the_remote_id() {
    let m = run("menu*(L*=site)", "menu*(R*=site)");
    assert_eq!(shape(&m), "menu(R) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "guids: L>R; apply: R");
    let node = m.tree.node_for("R").unwrap();
    assert_eq!(node.local_guid().unwrap().as_str(), "L");
    assert_eq!(m.stats.deduped, 1);
}

#[test]
fn the_same_bookmark_in_different_folders_is_not_deduped() {
    let m = run("menu*(L*=site)", "toolbar*(R*=site)");
    assert_eq!(shape(&m), "menu(L) toolbar(R) unfiled() mobile()");
    assert_eq!(m.stats.deduped, 0);
}

#[test]
fn a_different_title_is_a_different_bookmark() {
    // Both changed the menu equally recently: the local order leads.
    let m = run("menu*(L*=one)", "menu*(R*=two)");
    assert_eq!(shape(&m), "menu(L R) toolbar() unfiled() mobile()");
}

#[test]
fn new_folders_with_the_same_title_dedupe_and_so_do_their_children() {
    let m = run("menu*(FL*=work(A*=a B*=b))", "menu*(FR*=work(C*=a))");
    assert_eq!(shape(&m), "menu(FR(C B)) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m).split(';').next().unwrap(), "guids: FL>FR A>C");
}

#[test]
fn separators_dedupe_by_position() {
    let m = run("menu*(A S1*:s= B)", "menu*(A S2*:s= B)");
    assert_eq!(shape(&m), "menu(A S2 B) toolbar() unfiled() mobile()");
    let m = run("menu*(S1*:s= A B)", "menu*(A S2*:s= B)");
    assert_eq!(m.stats.deduped, 0);
}

#[test]
fn two_identical_local_bookmarks_dedupe_against_one_remote() {
    let m = run("menu*(L1*=x L2*=x)", "menu*(R*=x)");
    assert_eq!(shape(&m), "menu(R L2) toolbar() unfiled() mobile()");
    assert_eq!(m.stats.deduped, 1);
}

#[test]
fn an_item_synced_before_never_dedupes() {
    // A exists on the server already: it is not new, so R stays apart.
    let m = run("menu*(A*=x)", "menu*(A R*=x)");
    assert_eq!(shape(&m), "menu(A R) toolbar() unfiled() mobile()");
    assert_eq!(m.stats.deduped, 0);
}

#[test]
fn folders_with_the_same_name_in_different_parents_stay_apart() {
    let m = run(
        "menu*(F1*=docs(A*=a)) toolbar()",
        "menu() toolbar*(F2*=docs(B*=a))",
    );
    assert_eq!(shape(&m), "menu(F1(A)) toolbar(F2(B)) unfiled() mobile()");
}

#[test]
fn a_query_does_not_dedupe_with_a_bookmark() {
    let m = run("menu*(Q*:q=x)", "menu*(R*=x)");
    assert_eq!(m.stats.deduped, 0);
    let m = run("menu*(Q*:q=x)", "menu*(R*:q=x)");
    assert_eq!(m.stats.deduped, 1);
}

#[test]
fn an_item_the_other_side_deleted_is_not_a_dedupe_candidate() {
    let m = run("menu*(L*=x) - R", "menu*(R*=x)");
    assert_eq!(m.stats.deduped, 0);
}

// ---------------------------------------------------------------- repair

#[test]
fn a_remote_child_whose_parentid_disagrees_is_reuploaded() {
    let mut b = builder("menu(F(A)) toolbar()");
    b.parent_id("A", Guid::new(TOOLBAR_GUID));
    let m = merge(&tree("menu(F(A)) toolbar()"), &b.into_tree());
    assert_eq!(shape(&m), "menu(F(A)) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: A");
    assert_eq!(m.stats.remote_problems.parent_child_disagreements, 1);
}

#[test]
fn a_remote_orphan_is_filed_under_unfiled_and_reuploaded() {
    let mut b = builder("menu()");
    b.item(Item {
        needs_merge: true,
        ..Item::new("O", Kind::Bookmark)
    });
    b.parent_id("O", Guid::new("missing"));
    let m = merge(&tree("menu()"), &b.into_tree());
    assert_eq!(shape(&m), "menu() toolbar() unfiled(O) mobile()");
    assert_eq!(ops(&m), "apply: O; structure: unfiled; upload: O unfiled");
    assert_eq!(m.stats.remote_problems.orphans, 1);
}

#[test]
fn a_remote_item_listed_twice_goes_to_the_newer_folder() {
    let mut b = builder("menu(F@50(A) G*@10(A))");
    b.parent_id("A", Guid::new("F"));
    let m = merge(&tree("menu(F(A) G())"), &b.into_tree());
    assert_eq!(shape(&m), "menu(F() G(A)) toolbar() unfiled() mobile()");
    assert!(ops(&m).contains("upload: A F G"), "{}", ops(&m));
}

#[test]
fn a_listed_child_that_does_not_exist_is_dropped_and_the_folder_reuploaded() {
    let mut b = builder("menu(A)");
    b.children(MENU_GUID, vec![Guid::new("A"), Guid::new("ghost")]);
    let m = merge(&tree("menu(A)"), &b.into_tree());
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: menu");
}

#[test]
fn a_misplaced_remote_root_is_put_back() {
    let mut b = builder("menu(A) toolbar()");
    b.parent_id(MENU_GUID, Guid::new(TOOLBAR_GUID));
    let m = merge(&tree("menu(A) toolbar()"), &b.into_tree());
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: menu");
}

// ---------------------------------------------------------------- non-syncable and kinds

#[test]
fn remote_items_outside_the_user_roots_are_deleted() {
    let m = run("menu(A)", "menu(A) X*(Y*)");
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "delete_remotely: X Y");
    assert_eq!(m.stats.non_syncable, 2);
}

#[test]
fn livemarks_are_deleted_on_both_sides() {
    let m = run("menu(A LM:l)", "menu*(A LM:l R*:l)");
    assert_eq!(shape(&m), "menu(A) toolbar() unfiled() mobile()");
    assert_eq!(
        ops(&m),
        "structure: menu; delete_locally: LM; upload: menu; delete_remotely: LM R"
    );
}

#[test]
fn a_bookmark_moved_out_of_a_non_syncable_folder_survives() {
    let m = run("menu*(B*)", "menu() X(B)");
    assert_eq!(shape(&m), "menu(B) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "upload: B menu; delete_remotely: X");
}

#[test]
fn a_kind_change_goes_to_the_newer_side_and_children_move_up() {
    // Remote turned F into a bookmark after this device added N inside it.
    let m = run("menu(F*@20(N*))", "menu(F*@5)");
    assert_eq!(shape(&m), "menu(F N) toolbar() unfiled() mobile()");
    assert_eq!(value(&m, "F"), ValueState::Remote);
    assert_eq!(m.stats.kind_mismatches, 1);
}

#[test]
fn new_remote_folders_arrive_with_their_contents() {
    let m = run("menu()", "menu*(F*(A* G*(B*)))");
    assert_eq!(shape(&m), "menu(F(A G(B))) toolbar() unfiled() mobile()");
    assert_eq!(ops(&m), "apply: A B F G; structure: F G menu");
}

#[test]
fn every_item_of_either_side_is_in_the_result_or_accounted_for() {
    let local = "menu*(A* F*(B C* N*) G(D)) toolbar*(E H*) - X";
    let remote = "menu*(A F(B C) G*(D* M*)) toolbar(E X) unfiled*(R*)";
    let m = run(local, remote);
    assert_eq!(
        shape(&m),
        "menu(A F(B C N) G(D M)) toolbar(E H) unfiled(R) mobile()"
    );
    assert_eq!(
        ops(&m),
        "apply: D G M R; structure: G unfiled; upload: A C F H N toolbar; delete_remotely: X"
    );
}
