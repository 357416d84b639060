//! Circles in a graph of files: its strongly connected components
//! (Tarjan), each shown as one concrete circle through all its files.

use std::collections::{BTreeMap, VecDeque};

/// For every group of files that reach each other, a circle through all of
/// them (a list of nodes, each depending on the next, the last on the first).
pub(super) fn circles<E>(nodes: usize, edges: &BTreeMap<(usize, usize), E>) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (from, to) in edges.keys() {
        successors[*from].push(*to);
    }
    for component in components(&successors) {
        if component.len() < 2 {
            continue;
        }
        out.push(walk_through(&component, &successors));
    }
    out
}

/// Tarjan's strongly connected components.
fn components(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        successors: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(state: &mut State<'_>, node: usize) {
        state.index[node] = Some(state.next);
        state.low[node] = state.next;
        state.next += 1;
        state.stack.push(node);
        state.on_stack[node] = true;
        for &next in &state.successors[node] {
            match state.index[next] {
                None => {
                    visit(state, next);
                    state.low[node] = state.low[node].min(state.low[next]);
                }
                Some(index) if state.on_stack[next] => state.low[node] = state.low[node].min(index),
                Some(_) => {}
            }
        }
        if Some(state.low[node]) == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack[top] = false;
                component.push(top);
                if top == node {
                    break;
                }
            }
            component.sort_unstable();
            state.out.push(component);
        }
    }
    let n = successors.len();
    let mut state = State {
        successors,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for node in 0..n {
        if state.index[node].is_none() {
            visit(&mut state, node);
        }
    }
    state.out
}

/// A circle from the component's first node that visits every node:
/// shortest paths from each node to the next unvisited one, then home.
fn walk_through(component: &[usize], successors: &[Vec<usize>]) -> Vec<usize> {
    let start = component[0];
    let mut circle = vec![start];
    let mut at = start;
    let mut unvisited: Vec<usize> = component[1..].to_vec();
    while !unvisited.is_empty() {
        let path = shortest_path(at, &unvisited, component, successors);
        for node in &path[1..] {
            unvisited.retain(|n| n != node);
            circle.push(*node);
        }
        at = *path.last().unwrap_or(&at);
        if path.len() < 2 {
            break;
        }
    }
    let home = shortest_path(at, &[start], component, successors);
    circle.extend(&home[1..home.len().saturating_sub(1)]);
    circle
}

/// The shortest path inside the component from `from` to any of `targets`.
fn shortest_path(
    from: usize,
    targets: &[usize],
    component: &[usize],
    successors: &[Vec<usize>],
) -> Vec<usize> {
    let mut previous: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for &next in &successors[node] {
            if !component.contains(&next) || previous.contains_key(&next) || next == from {
                continue;
            }
            previous.insert(next, node);
            if targets.contains(&next) {
                let mut path = vec![next];
                let mut at = next;
                while let Some(&before) = previous.get(&at) {
                    path.push(before);
                    at = before;
                }
                path.reverse();
                return path;
            }
            queue.push_back(next);
        }
    }
    vec![from]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(pairs: &[(usize, usize)]) -> BTreeMap<(usize, usize), ()> {
        pairs.iter().map(|p| (*p, ())).collect()
    }

    #[test]
    fn components_become_circles_and_chains_do_not() {
        // 0 → 1 → 2 → 0 is a circle; 3 → 4 is a chain; 4 → 5 → 4 another circle.
        let edges = graph(&[(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 4)]);
        let mut found = circles(6, &edges);
        found.sort();
        assert_eq!(found, vec![vec![0, 1, 2], vec![4, 5]]);
    }

    #[test]
    fn a_circle_visits_every_file_of_its_component() {
        // 0 ⇄ 1 and 0 ⇄ 2: one component, walked 0 → 1 → 0 → 2.
        let edges = graph(&[(0, 1), (1, 0), (0, 2), (2, 0)]);
        assert_eq!(circles(3, &edges), vec![vec![0, 1, 0, 2]]);
    }
}
