//! Merger cases: deletions, dedupe, repair, non-syncable items and kinds.
#![allow(clippy::unwrap_used)]

use sync15::Guid;

use super::{EMPTY, builder, ops, run, shape, tree, value};
use crate::merge::{ValueState, merge};
use crate::tree::*;

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
