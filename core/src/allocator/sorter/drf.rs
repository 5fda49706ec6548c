//! Weighted dominant resource fairness sorter (Mesos `sorter/drf/sorter.cpp`), kept sorted
//! incrementally.
//!
//! Clients are named by paths. In a hierarchical sorter (roles) `a/b` lives below `a`; in a
//! flat one (frameworks inside a role) every client is a child of the root. Every node
//! keeps its children in a sorted deque ([`SortedKeys`]) ordered like Mesos's `compareDRF`: by share, then
//! by the number of allocations made so far, then by path. Paths are compared through a
//! numeric rank kept in path order (see [`Node::rank`]), so keys are small `Copy` values
//! and comparing them never touches strings. A node's own client (Mesos's
//! "virtual leaf") is an entry in its own children set, next to its child nodes; it is
//! sorted by the node's own allocation while the child entries use subtree allocations.
//! So `a` with frameworks and a child `a/b` sorts exactly as Mesos's `a/.` and `a/b`.
//! A node without active child nodes (every framework, most roles) keeps no set at all:
//! the walk yields its client when it reaches the node, and a re-key touches only the
//! parent's set.
//!
//! A change in one client's allocation re-keys that client and its ancestors:
//! O(depth · log n). A change of the cluster total or of a weight changes every share, so
//! it only marks the sorter dirty; [`DrfSorter::refresh`] re-keys everything once before
//! the next allocation round. Only active clients (and nodes with an active client below)
//! are in the sets, so iteration never walks over inactive or suppressed clients.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

/// Sort key of an entry in a parent's children set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// `f64::to_bits` of the non-negative share: orders like the float.
    share: u64,
    /// Allocations made to this entry so far (Mesos breaks share ties with it).
    count: u64,
    /// The node's [`Node::rank`]: orders like its path.
    rank: u64,
    /// Whether this is the node's own client entry (virtual leaf) rather than the node.
    leaf: bool,
    node: u32,
}

/// A node's active entries in key order: a sorted deque. A re-key removes the entry and
/// inserts it again; both shift the shorter side of the deque, so the usual DRF move (the
/// lowest-share client, at the front, is allocated and moves back past the clients below
/// its new share, to near the back when all are alike) shifts few entries, where a
/// `BTreeSet` would search and rebalance nodes for each remove and insert.
#[derive(Debug, Default)]
struct SortedKeys(VecDeque<Key>);

impl SortedKeys {
    fn insert(&mut self, k: Key) {
        match self.0.binary_search(&k) {
            Ok(_) => debug_assert!(false, "key inserted twice"),
            Err(i) => self.0.insert(i, k),
        }
    }

    fn remove(&mut self, k: &Key) {
        match self.0.binary_search(k) {
            Ok(i) => {
                self.0.remove(i);
            }
            Err(_) => debug_assert!(false, "removing a missing key"),
        }
    }

    /// Appends without keeping the order; [`Self::sort`] must follow before any other use.
    fn push_unsorted(&mut self, k: Key) {
        self.0.push_back(k);
    }

    fn sort(&mut self) {
        self.0.make_contiguous().sort_unstable();
    }

    /// Replaces every key by `f(key)`; `f` must keep the relative order.
    fn map_in_order(&mut self, f: impl Fn(&Key) -> Key) {
        for k in self.0.iter_mut() {
            *k = f(k);
        }
        debug_assert!(self.0.iter().is_sorted());
    }

    fn iter(&self) -> std::collections::vec_deque::Iter<'_, Key> {
        self.0.iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Spacing of ranks given to paths added after all others (the usual case: new ids sort
/// last); a path added between two others takes the midpoint. All ranks are renumbered
/// only when two neighbours have no room left between them.
const RANK_GAP: u64 = 1 << 32;

#[derive(Debug)]
struct Node {
    /// Position of `path` among all paths of the sorter: `a.rank < b.rank` iff
    /// `a.path < b.path`. Ties of share and count are broken by it, as Mesos does by name.
    rank: u64,
    /// Weight of this path (1.0 unless set).
    weight: f64,
    /// `usize::MAX` for the root.
    parent: usize,
    /// Active entries below this node: child nodes with `active_leaves > 0` and, only when
    /// there is at least one of those, its own client if active (otherwise the node stands
    /// for its client). Invariant: `leaf_key.is_some()` iff the set holds the client entry.
    children: SortedKeys,
    /// This node's key in its parent's set, when present there.
    key: Option<Key>,
    /// The key of this node's own client entry in `children`, when present.
    leaf_key: Option<Key>,
    /// Allocation of this node's own client, by resource-name id (thousandths).
    own: Vec<i64>,
    /// Allocation of the whole subtree.
    subtree: Vec<i64>,
    own_count: u64,
    subtree_count: u64,
    /// The caller's id of the client at this path.
    client: Option<u32>,
    active: bool,
    /// Number of active clients in this subtree (self included).
    active_leaves: usize,
}

impl Node {
    fn new(parent: usize, rank: u64, weight: f64) -> Self {
        Node {
            rank,
            weight,
            parent,
            children: SortedKeys::default(),
            key: None,
            leaf_key: None,
            own: Vec::new(),
            subtree: Vec::new(),
            own_count: 0,
            subtree_count: 0,
            client: None,
            active: false,
            active_leaves: 0,
        }
    }
}

/// The cluster-wide inputs of share computation.
#[derive(Clone, Copy)]
pub(crate) struct ShareContext<'a> {
    /// Total of each scalar resource name over all agents (thousandths).
    pub totals: &'a [i64],
    /// Names left out of fair sharing (`--fair_sharing_excluded_resource_names`).
    pub excluded: &'a [bool],
}

/// See the module doc.
#[derive(Debug)]
pub(crate) struct DrfSorter {
    hierarchical: bool,
    nodes: Vec<Node>,
    index: HashMap<Arc<str>, usize>,
    /// Path -> node in path order: neighbours of a new path give its rank.
    ordered: BTreeMap<Arc<str>, usize>,
    /// Client id -> node (`usize::MAX`: none); the round updates clients by id.
    by_client: Vec<usize>,
    weights: HashMap<Arc<str>, f64>,
    dirty: bool,
}

const ROOT: usize = 0;

/// Adds (`sign` 1) or subtracts (-1) `q` into `v`, saturating like the allocator's totals
/// (`add_q`): absurd agent scalars must not overflow a client's allocation (fuzzing found it).
fn add_into(v: &mut Vec<i64>, q: &[(usize, i64)], sign: i64) {
    for &(i, amount) in q {
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] = v[i].saturating_add(sign.saturating_mul(amount));
    }
}

impl DrfSorter {
    pub fn new(hierarchical: bool) -> Self {
        DrfSorter {
            hierarchical,
            nodes: vec![Node::new(usize::MAX, 0, 1.0)],
            index: HashMap::new(),
            ordered: BTreeMap::new(),
            by_client: Vec::new(),
            weights: HashMap::new(),
            dirty: false,
        }
    }

    fn share(alloc: &[i64], weight: f64, ctx: ShareContext<'_>) -> f64 {
        let mut share = 0.0f64;
        for (i, &total) in ctx.totals.iter().enumerate() {
            if total <= 0 || ctx.excluded.get(i).copied().unwrap_or(false) {
                continue;
            }
            let a = alloc.get(i).copied().unwrap_or(0);
            share = share.max(a as f64 / total as f64);
        }
        share / weight
    }

    fn node_key(&self, n: usize, ctx: ShareContext<'_>) -> Key {
        let node = &self.nodes[n];
        Key {
            share: Self::share(&node.subtree, node.weight, ctx).to_bits(),
            count: node.subtree_count,
            rank: node.rank,
            leaf: false,
            node: n as u32,
        }
    }

    fn leaf_key_of(&self, n: usize, ctx: ShareContext<'_>) -> Key {
        let node = &self.nodes[n];
        Key {
            share: Self::share(&node.own, node.weight, ctx).to_bits(),
            count: node.own_count,
            rank: node.rank,
            leaf: true,
            node: n as u32,
        }
    }

    /// The node for `path`, creating it and (in a hierarchical sorter) its ancestors.
    fn ensure_node(&mut self, path: &str) -> usize {
        if let Some(&n) = self.index.get(path) {
            return n;
        }
        let parent = match path.rfind('/') {
            Some(i) if self.hierarchical => self.ensure_node(&path[..i]),
            _ => ROOT,
        };
        let path: Arc<str> = Arc::from(path);
        let n = self.nodes.len();
        let rank_of = |x: Option<(&Arc<str>, &usize)>| x.map(|(_, &m)| self.nodes[m].rank);
        let before = rank_of(
            self.ordered
                .range::<str, _>((Unbounded, Excluded(&*path)))
                .next_back(),
        );
        let after = rank_of(
            self.ordered
                .range::<str, _>((Excluded(&*path), Unbounded))
                .next(),
        );
        let (rank, renumber) = match (before, after) {
            (b, None) => (b.map_or(RANK_GAP, |b| b + RANK_GAP), false),
            (b, Some(a)) => {
                let b = b.unwrap_or(0);
                (b + (a - b) / 2, a - b < 2)
            }
        };
        let weight = self.weights.get(&*path).copied().unwrap_or(1.0);
        self.nodes.push(Node::new(parent, rank, weight));
        self.index.insert(path.clone(), n);
        self.ordered.insert(path, n);
        if renumber {
            self.renumber();
        }
        n
    }

    /// Spreads the ranks out again (no room was left between two neighbours). Relative
    /// order does not change, so every set keeps its order and is rebuilt in place.
    fn renumber(&mut self) {
        for (i, &n) in self.ordered.values().enumerate() {
            self.nodes[n].rank = (i as u64 + 1) * RANK_GAP;
        }
        let ranks: Vec<u64> = self.nodes.iter().map(|x| x.rank).collect();
        let fix = |k: &Key| Key {
            rank: ranks[k.node as usize],
            ..*k
        };
        for node in &mut self.nodes {
            node.children.map_in_order(fix);
            node.key = node.key.as_ref().map(fix);
            node.leaf_key = node.leaf_key.as_ref().map(fix);
        }
    }

    /// Adds a client (inactive) at `path` with the caller's `id`.
    pub fn add_client(&mut self, path: &str, id: u32) {
        let n = self.ensure_node(path);
        debug_assert!(self.nodes[n].client.is_none(), "client {path} added twice");
        self.nodes[n].client = Some(id);
        let id = id as usize;
        if self.by_client.len() <= id {
            self.by_client.resize(id + 1, usize::MAX);
        }
        self.by_client[id] = n;
    }

    /// Removes the client at `path` (its allocation must already be zero).
    pub fn remove_client(&mut self, path: &str, ctx: ShareContext<'_>) {
        self.deactivate(path, ctx);
        if let Some(&n) = self.index.get(path) {
            if let Some(id) = self.nodes[n].client.take() {
                self.by_client[id as usize] = usize::MAX;
            }
            self.nodes[n].own_count = 0;
        }
    }

    /// Makes the client at `path` eligible for iteration.
    pub fn activate(&mut self, path: &str, ctx: ShareContext<'_>) {
        let Some(&n) = self.index.get(path) else {
            return;
        };
        if self.nodes[n].client.is_none() || self.nodes[n].active {
            return;
        }
        self.nodes[n].active = true;
        if !self.dirty && !self.nodes[n].children.is_empty() {
            self.insert_leaf(n, ctx);
        }
        self.bump_active(n, 1, ctx);
    }

    /// Takes the client at `path` out of iteration; its allocation is kept.
    pub fn deactivate(&mut self, path: &str, ctx: ShareContext<'_>) {
        let Some(&n) = self.index.get(path) else {
            return;
        };
        if !self.nodes[n].active {
            return;
        }
        self.nodes[n].active = false;
        if let Some(k) = self.nodes[n].leaf_key.take() {
            self.nodes[n].children.remove(&k);
        }
        self.bump_active(n, -1, ctx);
    }

    fn insert_leaf(&mut self, n: usize, ctx: ShareContext<'_>) {
        debug_assert!(self.nodes[n].leaf_key.is_none());
        let k = self.leaf_key_of(n, ctx);
        self.nodes[n].children.insert(k);
        self.nodes[n].leaf_key = Some(k);
    }

    /// Adjusts `active_leaves` from `n` up, inserting or removing nodes in their parents'
    /// sets when they gain their first or lose their last active client.
    fn bump_active(&mut self, n: usize, delta: isize, ctx: ShareContext<'_>) {
        let mut x = n;
        while x != ROOT {
            let before = self.nodes[x].active_leaves;
            let after = before
                .checked_add_signed(delta)
                .expect("active leaf count underflow");
            self.nodes[x].active_leaves = after;
            let parent = self.nodes[x].parent;
            if before == 0 && after > 0 {
                if !self.dirty {
                    let k = self.node_key(x, ctx);
                    self.nodes[parent].children.insert(k);
                    self.nodes[x].key = Some(k);
                    // The parent's first child node: its own client now needs an entry.
                    if parent != ROOT
                        && self.nodes[parent].active
                        && self.nodes[parent].leaf_key.is_none()
                    {
                        self.insert_leaf(parent, ctx);
                    }
                }
            } else if before > 0
                && after == 0
                && let Some(k) = self.nodes[x].key.take()
            {
                let p = &mut self.nodes[parent];
                p.children.remove(&k);
                // Only the parent's own client is left: the parent stands for it again.
                if p.children.len() == 1
                    && let Some(leaf) = p.leaf_key.take()
                {
                    p.children.remove(&leaf);
                }
            }
            x = parent;
        }
    }

    /// Adds (`sign = 1`) or removes (`sign = -1`) scalar quantities to the client at `path`.
    #[cfg(test)]
    pub fn update_allocation(
        &mut self,
        path: &str,
        q: &[(usize, i64)],
        sign: i64,
        ctx: ShareContext<'_>,
    ) {
        let Some(&n) = self.index.get(path) else {
            debug_assert!(false, "allocation update for unknown client {path}");
            return;
        };
        self.update_node_allocation(n, q, sign, ctx);
    }

    /// [`Self::update_allocation`] of the client with the caller's `id` (no path lookup).
    pub fn update_client_allocation(
        &mut self,
        id: u32,
        q: &[(usize, i64)],
        sign: i64,
        ctx: ShareContext<'_>,
    ) {
        let n = self
            .by_client
            .get(id as usize)
            .copied()
            .unwrap_or(usize::MAX);
        if n == usize::MAX {
            debug_assert!(false, "allocation update for unknown client {id}");
            return;
        }
        self.update_node_allocation(n, q, sign, ctx);
    }

    fn update_node_allocation(
        &mut self,
        n: usize,
        q: &[(usize, i64)],
        sign: i64,
        ctx: ShareContext<'_>,
    ) {
        add_into(&mut self.nodes[n].own, q, sign);
        if sign > 0 {
            self.nodes[n].own_count += 1;
        }
        let mut x = n;
        while x != ROOT {
            add_into(&mut self.nodes[x].subtree, q, sign);
            if sign > 0 {
                self.nodes[x].subtree_count += 1;
            }
            x = self.nodes[x].parent;
        }
        if !self.dirty {
            self.rekey_chain(n, ctx);
        }
    }

    fn rekey_chain(&mut self, n: usize, ctx: ShareContext<'_>) {
        if let Some(old) = self.nodes[n].leaf_key.take() {
            self.nodes[n].children.remove(&old);
            let k = self.leaf_key_of(n, ctx);
            self.nodes[n].children.insert(k);
            self.nodes[n].leaf_key = Some(k);
        }
        let mut x = n;
        while x != ROOT {
            let parent = self.nodes[x].parent;
            if let Some(old) = self.nodes[x].key.take() {
                self.nodes[parent].children.remove(&old);
                let k = self.node_key(x, ctx);
                self.nodes[parent].children.insert(k);
                self.nodes[x].key = Some(k);
            }
            x = parent;
        }
    }

    /// Sets the weight of `path` (a role; may have no client yet). Marks the sorter dirty.
    pub fn set_weight(&mut self, path: &str, weight: f64) {
        if weight == 1.0 {
            self.weights.remove(path);
        } else {
            self.weights.insert(Arc::from(path), weight);
        }
        if let Some(&n) = self.index.get(path) {
            self.nodes[n].weight = weight;
        }
        self.dirty = true;
    }

    /// Every share changed (cluster total or weights): re-key everything before use.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Re-keys every entry if the sorter is dirty. O(n log n); runs at most once per
    /// change of the cluster total or the weights, not per allocation.
    pub fn refresh(&mut self, ctx: ShareContext<'_>) {
        if !self.dirty {
            return;
        }
        for n in 0..self.nodes.len() {
            self.nodes[n].children.clear();
            self.nodes[n].key = None;
            self.nodes[n].leaf_key = None;
        }
        // Appended unsorted and sorted once per set: inserting one by one into a sorted
        // deque would be quadratic.
        for n in 1..self.nodes.len() {
            if self.nodes[n].active_leaves > 0 {
                let k = self.node_key(n, ctx);
                let parent = self.nodes[n].parent;
                self.nodes[parent].children.push_unsorted(k);
                self.nodes[n].key = Some(k);
            }
        }
        for n in 1..self.nodes.len() {
            if self.nodes[n].active && !self.nodes[n].children.is_empty() {
                let k = self.leaf_key_of(n, ctx);
                self.nodes[n].children.push_unsorted(k);
                self.nodes[n].leaf_key = Some(k);
            }
        }
        for node in &mut self.nodes {
            node.children.sort();
        }
        self.dirty = false;
    }

    /// Active clients in DRF order (lowest share first), lazily. The sorter must be fresh.
    pub fn iter(&self) -> SortedIter<'_> {
        debug_assert!(!self.dirty, "iterating a dirty sorter");
        SortedIter {
            sorter: self,
            top: Some(self.nodes[ROOT].children.iter()),
            deeper: Vec::new(),
        }
    }

    /// Active clients in order, collected (tests and introspection).
    #[cfg(test)]
    pub fn sorted(&self) -> Vec<u32> {
        self.iter().collect()
    }
}

/// Depth-first walk over the sorted children sets.
pub(crate) struct SortedIter<'a> {
    sorter: &'a DrfSorter,
    /// The innermost level being walked. Flat sorters (frameworks in a role) and roles
    /// without nested roles never go deeper, so iterating allocates nothing.
    top: Option<std::collections::vec_deque::Iter<'a, Key>>,
    /// The levels above `top`, outermost first.
    deeper: Vec<std::collections::vec_deque::Iter<'a, Key>>,
}

impl Iterator for SortedIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        loop {
            let top = self.top.as_mut()?;
            match top.next() {
                None => {
                    self.top = self.deeper.pop();
                }
                Some(k) => {
                    let node = &self.sorter.nodes[k.node as usize];
                    if k.leaf || node.children.is_empty() {
                        // A client entry, or a node that stands for its client.
                        debug_assert!(node.active);
                        if let Some(id) = node.client {
                            return Some(id);
                        }
                    } else {
                        let outer = std::mem::replace(top, node.children.iter());
                        self.deeper.push(outer);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTALS: [i64; 2] = [100_000, 1_000_000]; // cpus:100, mem:1000
    fn ctx() -> ShareContext<'static> {
        ShareContext {
            totals: &TOTALS,
            excluded: &[],
        }
    }

    #[test]
    fn drf_order_follows_dominant_share() {
        let mut s = DrfSorter::new(false);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            s.add_client(name, i as u32);
            s.activate(name, ctx());
        }
        // a: cpus 10% / mem 1% -> 0.10; b: mem 20% -> 0.20; c: nothing -> 0.
        s.update_allocation("a", &[(0, 10_000), (1, 10_000)], 1, ctx());
        s.update_allocation("b", &[(1, 200_000)], 1, ctx());
        assert_eq!(s.sorted(), vec![2, 0, 1]);
        s.deactivate("c", ctx());
        assert_eq!(s.sorted(), vec![0, 1]);
        s.set_weight("b", 4.0); // b: 0.2 / 4 = 0.05 < a's 0.10
        s.refresh(ctx());
        assert_eq!(s.sorted(), vec![1, 0]);
    }

    /// Agents may offer absurd scalars (the master fuzzer registered two agents of
    /// `cpus: 9.2e15`); a client holding both must saturate, not overflow (a panic in the
    /// master actor) — the same rule as the allocator's totals.
    #[test]
    fn client_allocations_saturate_instead_of_overflowing() {
        let mut s = DrfSorter::new(true);
        for (i, name) in ["big/a", "b"].iter().enumerate() {
            s.add_client(name, i as u32);
            s.activate(name, ctx());
        }
        s.update_allocation("big/a", &[(0, i64::MAX - 1)], 1, ctx());
        s.update_allocation("big/a", &[(0, i64::MAX - 1)], 1, ctx());
        s.update_allocation("b", &[(0, 1)], 1, ctx());
        assert_eq!(s.sorted(), vec![1, 0]);
        s.update_allocation("big/a", &[(0, i64::MIN + 1)], 1, ctx());
        s.update_allocation("big/a", &[(0, i64::MAX)], -1, ctx());
        s.refresh(ctx());
        assert_eq!(s.sorted().len(), 2);
    }

    #[test]
    fn ties_break_on_allocation_count_then_path() {
        let mut s = DrfSorter::new(false);
        for (i, name) in ["x", "y"].iter().enumerate() {
            s.add_client(name, i as u32);
            s.activate(name, ctx());
        }
        assert_eq!(s.sorted(), vec![0, 1]);
        s.update_allocation("x", &[(0, 1)], 1, ctx());
        s.update_allocation("x", &[(0, 1)], -1, ctx());
        // Same share (0), but x has been allocated once.
        assert_eq!(s.sorted(), vec![1, 0]);
    }

    #[test]
    fn ties_follow_path_order_whatever_the_insertion_order() {
        // Paths added in reverse order keep taking the midpoint below the first rank
        // until there is no room left, which renumbers every rank.
        let mut s = DrfSorter::new(false);
        let names: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
        for (i, name) in names.iter().enumerate().rev() {
            s.add_client(name, i as u32);
            s.activate(name, ctx());
        }
        s.add_client("f050a", 100);
        s.activate("f050a", ctx());
        let mut expected: Vec<u32> = (0..=50).collect();
        expected.push(100);
        expected.extend(51..100);
        assert_eq!(s.sorted(), expected);
        s.update_client_allocation(0, &[(0, 1)], 1, ctx());
        assert_eq!(s.sorted().last(), Some(&0));
    }

    #[test]
    fn a_node_stands_for_its_client_until_it_has_active_children() {
        let mut s = DrfSorter::new(true);
        s.add_client("a", 0);
        s.activate("a", ctx());
        s.update_allocation("a", &[(0, 10_000)], 1, ctx());
        assert_eq!(s.sorted(), vec![0]);
        s.add_client("a/b", 1);
        s.activate("a/b", ctx()); // a's client gets its own entry next to a/b.
        assert_eq!(s.sorted(), vec![1, 0]);
        s.deactivate("a/b", ctx()); // And gives it up again.
        assert_eq!(s.sorted(), vec![0]);
        s.deactivate("a", ctx());
        assert_eq!(s.sorted(), Vec::<u32>::new());
        s.activate("a/b", ctx());
        s.activate("a", ctx());
        assert_eq!(s.sorted(), vec![1, 0]);
    }

    #[test]
    fn hierarchy_sorts_subtrees_then_inside_them() {
        let mut s = DrfSorter::new(true);
        for (i, name) in ["a", "a/b", "c"].iter().enumerate() {
            s.add_client(name, i as u32);
            s.activate(name, ctx());
        }
        // Subtree a = a + a/b = 30% cpus; c = 20%: c first, then inside a: a/b (0) before a (30%).
        s.update_allocation("a", &[(0, 30_000)], 1, ctx());
        s.update_allocation("c", &[(0, 20_000)], 1, ctx());
        assert_eq!(s.sorted(), vec![2, 1, 0]);
        s.deactivate("a/b", ctx());
        s.deactivate("a", ctx());
        assert_eq!(s.sorted(), vec![2]);
    }
}
