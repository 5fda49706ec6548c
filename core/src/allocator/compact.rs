//! The allocator's compact form of an agent's resources.
//!
//! A `mesos.v1.Resource` is over a kilobyte, and an allocation round looks at every agent's
//! available resources many times (reservations, capabilities, `--min_allocatable_resources`,
//! offer filters, quota). So each agent keeps a table of the resource *shapes* it has seen
//! (everything but the value and `allocation_info`; Mesos's "addable" without the
//! allocation) and describes its available resources as `(shape id, value)` entries, with
//! scalars as fixed-point thousandths. The round works on entries only; proto `Resources`
//! are built once per offer ([`Shapes::materialize`]), and an entry whose value did not
//! change since the last offer to the same role reuses that offer's `Arc<Resource>`.
//!
//! Built resources are also shared between agents: a [`BuiltCache`] owned by the allocator
//! maps the *content* of a built resource (shape content, value, allocation role) to one
//! `Arc<Resource>`, so that a cluster of identical machines builds each offered resource
//! once, not once per agent. Keys are content hashes, checked for equality on a hit; Arc
//! pointers are never used as keys.
//!
//! Entry lists follow the normalization of [`Resources`]: insertion order, non-exact entries
//! of one shape merged, exact ones (volumes, MOUNT/BLOCK disks, shared) kept whole and
//! separate, empty values dropped. Keeping the order identical to what `Resources`
//! arithmetic would give keeps offers (and which entry a quota bound shrinks) unchanged.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use prost::Message;
use remesos_proto::mesos::v1::resource::AllocationInfo;

use rustc_hash::{FxHashMap, FxHasher};

use super::Names;
use crate::resources::{
    self, Ranges, Resource, Resources, Scalar, Set, ValueType, reservation_role, value,
};

/// A value of one entry.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    /// Thousandths (Mesos's fixed point).
    Scalar(i64),
    /// Coalesced.
    Ranges(Ranges),
    Set(Set),
}

impl Value {
    pub(super) fn of(r: &Resource) -> Value {
        match ValueType::try_from(r.r#type) {
            Ok(ValueType::Ranges) => Value::Ranges(r.ranges.clone().unwrap_or_default()),
            Ok(ValueType::Set) => Value::Set(r.set.clone().unwrap_or_default()),
            // Other types do not validate; treated as an empty scalar.
            _ => Value::Scalar(resources::scalar_millis(r)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::Scalar(v) => *v <= 0,
            Value::Ranges(r) => r.range.is_empty(),
            Value::Set(s) => s.item.is_empty(),
        }
    }

    fn add(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a += b,
            (Value::Ranges(a), Value::Ranges(b)) => value::ranges_add(a, b),
            (Value::Set(a), Value::Set(b)) => value::set_add(a, b),
            _ => debug_assert!(false, "adding values of different types"),
        }
    }

    /// `self -= other`; returns whether `self` is now empty.
    fn subtract(&mut self, other: &Value) -> bool {
        match (&mut *self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a -= b,
            (Value::Ranges(a), Value::Ranges(b)) => value::ranges_subtract(a, b),
            (Value::Set(a), Value::Set(b)) => value::set_subtract(a, b),
            _ => debug_assert!(false, "subtracting values of different types"),
        }
        self.is_empty()
    }

    /// Whether `self` holds all of `other` (Mesos's value containment).
    pub(super) fn contains(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => b <= a,
            // Equal first: a refused offer is usually re-offered unchanged.
            (Value::Ranges(a), Value::Ranges(b)) => a == b || value::ranges_contain(a, b),
            (Value::Set(a), Value::Set(b)) => a == b || value::set_contains(a, b),
            _ => false,
        }
    }

    fn hash_into(&self, h: &mut FxHasher) {
        match self {
            Value::Scalar(v) => h.write_u64(*v as u64),
            Value::Ranges(x) => {
                h.write_usize(x.range.len());
                for r in &x.range {
                    h.write_u64(r.begin);
                    h.write_u64(r.end);
                }
            }
            Value::Set(x) => {
                h.write_usize(x.item.len());
                for i in &x.item {
                    i.hash(h);
                }
            }
        }
    }

    fn write_into(&self, r: &mut Resource) {
        match self {
            Value::Scalar(v) => {
                r.scalar = Some(Scalar {
                    value: value::from_fixed(*v),
                })
            }
            Value::Ranges(x) => r.ranges = Some(x.clone()),
            Value::Set(x) => r.set = Some(x.clone()),
        }
    }
}

/// Some amount of one shape.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Entry {
    /// Index into the agent's [`Shapes`].
    pub shape: u32,
    pub value: Value,
}

/// How many recent allocation roles a shape keeps a built `Resource` for.
const CACHED_ROLES: usize = 4;

/// One resource shape of an agent and the facts the round asks about it.
#[derive(Debug)]
pub(super) struct Shape {
    /// A resource of this shape (usually the agent's total entry, shared); its value and
    /// `allocation_info` are ignored.
    proto: Arc<Resource>,
    /// Name id (see [`Names`]) of a scalar shape; `None` for ranges and sets.
    pub name: Option<usize>,
    /// Added and subtracted whole only (`resources::is_exact`).
    pub exact: bool,
    /// Has a reservation.
    pub reserved: bool,
    /// Reserved with refinement (more than one reservation).
    pub refined: bool,
    pub revocable: bool,
    pub shared: bool,
    /// The role the shape is reserved to (top of the stack).
    reservation_role: Option<String>,
    /// Hash of the shape's content (see [`content_hash`]); keys the [`BuiltCache`].
    content: u64,
    /// Recently built resources of this shape with `allocation_info.role` set, by role id,
    /// most recent last. Reused while the value is the same: an offer that is declined
    /// and re-offered costs reference-count bumps, not copies.
    /// The value is kept next to the resource so that the check reads this table, not the
    /// kilobyte-sized `Resource` (a cache miss per entry per offer otherwise).
    built: Vec<(u32, Value, Arc<Resource>)>,
}

impl Shape {
    /// Unreserved, non-revocable scalar: counts towards quota and headroom.
    pub fn is_quota_scalar(&self) -> bool {
        self.name.is_some() && !self.reserved && !self.revocable
    }

    /// Whether the shape may be offered to `role` (unreserved, or reserved to the role or an
    /// ancestor).
    pub fn is_allocatable_to(&self, role: &str) -> bool {
        self.reservation_role
            .as_deref()
            .is_none_or(|reserved| resources::is_ancestor_or_self(reserved, role))
    }

    pub fn is_reserved_to(&self, role: &str) -> bool {
        self.reservation_role.as_deref() == Some(role)
    }
}

/// The shapes an agent has seen. Append-only, so that ids held by the available entries
/// and the offer filters stay valid; a shape is added per distinct resource kind, not per
/// change of value, so the table stays as small as the agent's total in practice.
#[derive(Debug, Default)]
pub(super) struct Shapes {
    list: Vec<Shape>,
}

impl std::ops::Index<u32> for Shapes {
    type Output = Shape;
    fn index(&self, i: u32) -> &Shape {
        &self.list[i as usize]
    }
}

impl Shapes {
    /// The id of `r`'s shape, added if new (sharing `r`).
    fn intern(&mut self, r: &Arc<Resource>, names: &mut Names) -> u32 {
        if let Some(i) = self
            .list
            .iter()
            .position(|s| resources::same_shape_but_allocation(&s.proto, r))
        {
            return i as u32;
        }
        let scalar = r.r#type == ValueType::Scalar as i32;
        self.list.push(Shape {
            name: scalar.then(|| names.intern(&r.name)),
            exact: resources::is_exact(r),
            reserved: !r.reservations.is_empty(),
            refined: r.reservations.len() > 1,
            revocable: r.revocable.is_some(),
            shared: r.shared.is_some(),
            reservation_role: reservation_role(r).map(str::to_string),
            content: content_hash(r),
            proto: r.clone(),
            built: Vec::new(),
        });
        (self.list.len() - 1) as u32
    }

    /// The entries of `res`, `allocation_info` ignored (in the order of `res`; a
    /// normalized `Resources` of one allocation role maps to a normalized entry list).
    pub fn entries(&mut self, res: &Resources, names: &mut Names) -> Vec<Entry> {
        let mut out = Vec::with_capacity(res.len());
        for r in res.as_slice() {
            let e = Entry {
                shape: self.intern(r, names),
                value: Value::of(r),
            };
            add(&mut out, self, e);
        }
        out
    }

    /// Proto resources of `entries`, unallocated (introspection; nothing is cached).
    pub fn unallocated(&self, entries: &[Entry]) -> Resources {
        let built = entries
            .iter()
            .map(|e| {
                let mut r = Resource::clone(&self[e.shape].proto);
                e.value.write_into(&mut r);
                r.allocation_info = None;
                Arc::new(r)
            })
            .collect();
        Resources::from_normalized(built)
    }

    /// Proto resources of `entries` with `allocation_info.role` set to `role_name` (whose
    /// id is `role`). Entries must be normalized (see the module doc). A resource not built
    /// for this shape, role and value before is looked up in `cache` (built by another agent
    /// with equal content) before it is built.
    pub fn materialize(
        &mut self,
        entries: &[Entry],
        role: u32,
        role_name: &str,
        cache: &mut BuiltCache,
    ) -> Resources {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let shape = &mut self.list[e.shape as usize];
            let cached = shape
                .built
                .iter()
                .find(|(k, v, _)| *k == role && *v == e.value);
            let built = match cached {
                Some((_, _, r)) => r.clone(),
                None => {
                    let r = cache.get_or_build(shape, role, &e.value, || {
                        let mut r = Resource::clone(&shape.proto);
                        e.value.write_into(&mut r);
                        r.allocation_info = Some(AllocationInfo {
                            role: Some(role_name.to_string()),
                        });
                        Arc::new(r)
                    });
                    shape.built.retain(|(k, _, _)| *k != role);
                    if shape.built.len() == CACHED_ROLES {
                        shape.built.remove(0);
                    }
                    shape.built.push((role, e.value.clone(), r.clone()));
                    r
                }
            };
            out.push(built);
        }
        Resources::from_normalized(out)
    }
}

/// Hash of everything [`same_content_but_value`] compares. Computed once per shape (when an
/// agent first sees it); only the rare `DiskInfo` is encoded to be hashed.
#[allow(deprecated)] // `role`: still part of the content.
fn content_hash(r: &Resource) -> u64 {
    let mut h = FxHasher::default();
    r.name.hash(&mut h);
    r.r#type.hash(&mut h);
    r.role.hash(&mut h);
    h.write_usize(r.reservations.len());
    for x in &r.reservations {
        x.role.hash(&mut h);
        x.r#type.hash(&mut h);
    }
    r.reservation.as_ref().map(|x| &x.role).hash(&mut h);
    match &r.disk {
        Some(d) => h.write(&d.encode_to_vec()),
        None => h.write_u8(0),
    }
    r.revocable.is_some().hash(&mut h);
    r.shared.is_some().hash(&mut h);
    r.provider_id.as_ref().map(|p| &p.value).hash(&mut h);
    h.finish()
}

/// Whether `a` and `b` are equal but for their value and `allocation_info`: a resource built
/// from one shape proto is then equal to one built from the other. Destructures `a` so that
/// a field added to `Resource` must be considered here.
#[allow(deprecated)] // `role`: still part of the content.
fn same_content_but_value(a: &Resource, b: &Resource) -> bool {
    let Resource {
        provider_id,
        name,
        r#type,
        scalar: _,
        ranges: _,
        set: _,
        role,
        allocation_info: _,
        reservation,
        reservations,
        disk,
        revocable,
        shared,
    } = a;
    *name == b.name
        && *r#type == b.r#type
        && *reservations == b.reservations
        && *disk == b.disk
        && *role == b.role
        && *reservation == b.reservation
        && *revocable == b.revocable
        && *shared == b.shared
        && *provider_id == b.provider_id
}

/// How many built resources a [`BuiltCache`] holds before it is cleared.
const BUILT_CACHE_CAPACITY: usize = 4096;

/// Built resources (with `allocation_info.role` set) shared between agents, keyed by a hash
/// of their content: the shape's content hash, the allocation role id and the value. A hit
/// is checked for equality (shape content, role, exact value), so a hash collision is a
/// miss, and the colliding slot is overwritten.
///
/// Bounded: when `capacity` entries are held, the whole cache is cleared before the next
/// insertion (at most `capacity` × ~1.2 KiB kept alive; a cleared cache only costs
/// rebuilds). Agents keep the resources they were offered in their own shapes, so clearing
/// does not affect the reuse of an unchanged re-offer.
#[derive(Debug)]
pub(super) struct BuiltCache {
    map: FxHashMap<u64, Built>,
    capacity: usize,
}

#[derive(Debug)]
struct Built {
    /// The shape proto the resource was built from (content compared on a hit).
    proto: Arc<Resource>,
    role: u32,
    value: Value,
    built: Arc<Resource>,
}

impl Default for BuiltCache {
    fn default() -> Self {
        BuiltCache::with_capacity(BUILT_CACHE_CAPACITY)
    }
}

impl BuiltCache {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        BuiltCache {
            map: FxHashMap::default(),
            capacity: capacity.max(1),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }

    /// The resource of `shape` with `value` allocated to `role`: shared if one of equal
    /// content is cached, otherwise `build()` (and cached).
    fn get_or_build(
        &mut self,
        shape: &Shape,
        role: u32,
        value: &Value,
        build: impl FnOnce() -> Arc<Resource>,
    ) -> Arc<Resource> {
        let mut h = FxHasher::default();
        h.write_u64(shape.content);
        h.write_u32(role);
        value.hash_into(&mut h);
        let key = h.finish();
        if let Some(b) = self.map.get(&key)
            && b.role == role
            && b.value == *value
            && (Arc::ptr_eq(&b.proto, &shape.proto)
                || same_content_but_value(&b.proto, &shape.proto))
        {
            return b.built.clone();
        }
        let built = build();
        if self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            self.map.clear();
        }
        self.map.insert(
            key,
            Built {
                proto: shape.proto.clone(),
                role,
                value: value.clone(),
                built: built.clone(),
            },
        );
        built
    }
}

/// Adds `e` to a normalized list: merged into the entry of its shape unless exact.
pub(super) fn add(list: &mut Vec<Entry>, shapes: &Shapes, e: Entry) {
    if e.value.is_empty() {
        return;
    }
    if !shapes[e.shape].exact
        && let Some(x) = list.iter_mut().find(|x| x.shape == e.shape)
    {
        x.value.add(&e.value);
        return;
    }
    list.push(e);
}

pub(super) fn add_all(list: &mut Vec<Entry>, shapes: &Shapes, other: Vec<Entry>) {
    for e in other {
        add(list, shapes, e);
    }
}

/// Subtracts `e` from a normalized list. Subtracting what is not there is a no-op, and an
/// entry that becomes empty (or a negative scalar) disappears, as `Resources` does.
pub(super) fn subtract(list: &mut Vec<Entry>, shapes: &Shapes, e: &Entry) {
    if e.value.is_empty() {
        return;
    }
    let exact = shapes[e.shape].exact;
    let Some(i) = list
        .iter()
        .position(|x| x.shape == e.shape && (!exact || x.value == e.value))
    else {
        return;
    };
    if exact || list[i].value.subtract(&e.value) {
        list.remove(i);
    }
}

pub(super) fn subtract_all(list: &mut Vec<Entry>, shapes: &Shapes, other: &[Entry]) {
    for e in other {
        subtract(list, shapes, e);
    }
}

/// The entries for which `pred` holds of their shape.
pub(super) fn filter(list: &[Entry], shapes: &Shapes, pred: impl Fn(&Shape) -> bool) -> Vec<Entry> {
    list.iter()
        .filter(|e| pred(&shapes[e.shape]))
        .cloned()
        .collect()
}

/// Scalar quantities `[(name id, thousandths)]` of the entries whose shape passes `pred`.
pub(super) fn quantities(
    list: &[Entry],
    shapes: &Shapes,
    pred: impl Fn(&Shape) -> bool,
) -> Vec<(usize, i64)> {
    let mut q: Vec<(usize, i64)> = Vec::with_capacity(list.len());
    quantities_into(&mut q, list, shapes, pred);
    q
}

/// [`quantities`] appended to `out` (its earlier contents are left alone).
pub(super) fn quantities_into(
    out: &mut Vec<(usize, i64)>,
    list: &[Entry],
    shapes: &Shapes,
    pred: impl Fn(&Shape) -> bool,
) {
    let start = out.len();
    for e in list {
        let shape = &shapes[e.shape];
        let (Some(id), Value::Scalar(v)) = (shape.name, &e.value) else {
            continue;
        };
        if !pred(shape) {
            continue;
        }
        match out[start..].iter_mut().find(|(i, _)| *i == id) {
            Some((_, x)) => *x += v,
            None => out.push((id, *v)),
        }
    }
}

/// The total of scalar name `id` in thousandths.
pub(super) fn scalar(list: &[Entry], shapes: &Shapes, id: usize) -> i64 {
    list.iter()
        .filter(|e| shapes[e.shape].name == Some(id))
        .map(|e| match e.value {
            Value::Scalar(v) => v,
            _ => 0,
        })
        .sum()
}

/// Shrinks the scalars of `list` so that, per name, their sum stays within `target[name]`
/// (`None`: no bound). Exact resources are kept whole or dropped (Mesos `shrink`).
pub(super) fn shrink(list: &[Entry], shapes: &Shapes, target: &mut [Option<i64>]) -> Vec<Entry> {
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let shape = &shapes[e.shape];
        let bound = shape
            .name
            .and_then(|i| target.get_mut(i))
            .and_then(|t| t.as_mut());
        match (bound, &e.value) {
            (Some(remaining), Value::Scalar(have)) => {
                let kept = if *have <= *remaining {
                    *have
                } else if shape.exact || *remaining <= 0 {
                    0
                } else {
                    *remaining
                };
                if kept > 0 {
                    *remaining -= kept;
                    add(
                        &mut out,
                        shapes,
                        Entry {
                            shape: e.shape,
                            value: Value::Scalar(kept),
                        },
                    );
                }
            }
            _ => add(&mut out, shapes, e.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(text: &str) -> Resources {
        Resources::parse(text, "*").unwrap()
    }

    #[test]
    fn entries_round_trip_and_share_built_resources() {
        let mut names = Names::default();
        let mut shapes = Shapes::default();
        let total = res("cpus:4;mem:1024;ports:[1-10];disk(r):5;zones:{a,b}");
        let mut avail = shapes.entries(&total, &mut names);
        assert_eq!(shapes.unallocated(&avail), total);

        let used = shapes.entries(&res("cpus:1;ports:[3-4]"), &mut names);
        subtract_all(&mut avail, &shapes, &used);
        let expected = res("cpus:3;mem:1024;ports:[1-2,5-10];disk(r):5;zones:{a,b}");
        let mut cache = BuiltCache::default();
        let offered = shapes.materialize(&avail, 0, "r", &mut cache);
        assert_eq!(offered, expected.allocated_to("r"));
        // Same value, same role: the built entries are shared.
        let again = shapes.materialize(&avail, 0, "r", &mut cache);
        assert!(
            offered
                .as_slice()
                .iter()
                .zip(again.as_slice())
                .all(|(a, b)| Arc::ptr_eq(a, b))
        );
        add_all(&mut avail, &shapes, used);
        assert_eq!(shapes.unallocated(&avail), total);
    }

    fn shared(a: &Resources, b: &Resources) -> Vec<bool> {
        assert_eq!(a.len(), b.len());
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| Arc::ptr_eq(x, y))
            .collect()
    }

    #[test]
    fn built_cache_shares_equal_content_between_agents() {
        let mut names = Names::default();
        let mut cache = BuiltCache::default();
        // Three agents with their own (equal) protos; ports differ on the third.
        let text = "cpus:4;mem:1024;ports:[1-10];disk(r):5";
        let mut agents: Vec<(Shapes, Vec<Entry>)> = Vec::new();
        for t in [text, text, "cpus:4;mem:1024;ports:[1-9];disk(r):5"] {
            let mut shapes = Shapes::default();
            let e = shapes.entries(&res(t), &mut names);
            agents.push((shapes, e));
        }
        let mut offer = |i: usize, role: u32, name: &str, cache: &mut BuiltCache| {
            let (shapes, e) = &mut agents[i];
            shapes.materialize(e, role, name, cache)
        };
        let a = offer(0, 0, "r", &mut cache);
        let b = offer(1, 0, "r", &mut cache);
        assert_eq!(a, res(text).allocated_to("r"));
        assert_eq!(b, a);
        assert_eq!(shared(&a, &b), [true; 4]);
        // Ports differ by value: not shared; the rest is.
        let c = offer(2, 0, "r", &mut cache);
        assert_eq!(
            c,
            res("cpus:4;mem:1024;ports:[1-9];disk(r):5").allocated_to("r")
        );
        assert_eq!(shared(&a, &c), [true, true, false, true]);
        // Another role: nothing shared, each allocated to its role.
        let d = offer(1, 1, "s", &mut cache);
        assert_eq!(d, res(text).allocated_to("s"));
        assert_eq!(shared(&a, &d), [false; 4]);
        // A different value of the same shape (cpus:3): not shared.
        let (shapes, e) = &mut agents[0];
        let used = shapes.entries(&res("cpus:1"), &mut names);
        subtract_all(e, shapes, &used);
        let x = shapes.materialize(e, 0, "r", &mut cache);
        assert_eq!(
            x,
            res("cpus:3;mem:1024;ports:[1-10];disk(r):5").allocated_to("r")
        );
        assert_eq!(shared(&a, &x), [false, true, true, true]);
        // A different reservation role is different content even with equal values.
        let mut shapes = Shapes::default();
        let e = shapes.entries(&res("disk(q):5"), &mut names);
        let y = shapes.materialize(&e, 0, "r", &mut cache);
        assert_eq!(y, res("disk(q):5").allocated_to("r"));
        assert!(!Arc::ptr_eq(&y.as_slice()[0], &a.as_slice()[3]));
    }

    #[test]
    fn built_cache_eviction_keeps_offers_correct() {
        let mut names = Names::default();
        let mut cache = BuiltCache::with_capacity(3);
        let mut built = Vec::new();
        for i in 1..=10 {
            let text = format!("cpus:{i};mem:{}", 100 * i);
            let mut shapes = Shapes::default();
            let e = shapes.entries(&res(&text), &mut names);
            let offered = shapes.materialize(&e, 0, "r", &mut cache);
            assert_eq!(offered, res(&text).allocated_to("r"));
            assert!(cache.len() <= 3);
            built.push((text, offered));
        }
        // After evictions, equal content is still equal (shared again once re-cached).
        for (text, before) in &built {
            let mut shapes = Shapes::default();
            let e = shapes.entries(&res(text), &mut names);
            let again = shapes.materialize(&e, 0, "r", &mut cache);
            assert_eq!(&again, before);
            let third = shapes.materialize(&e, 0, "r", &mut cache);
            assert_eq!(shared(&again, &third), [true, true]);
            assert!(cache.len() <= 3);
        }
    }

    #[test]
    fn shrink_splits_scalars_but_not_exact_ones() {
        let mut names = Names::default();
        let mut shapes = Shapes::default();
        let list = shapes.entries(&res("cpus:4;mem:100"), &mut names);
        let cpus = names.get("cpus").unwrap();
        let mut target = vec![None; names.list.len()];
        target[cpus] = Some(1_500);
        let shrunk = shrink(&list, &shapes, &mut target);
        assert_eq!(shapes.unallocated(&shrunk), res("cpus:1.5;mem:100"));
        assert_eq!(target[cpus], Some(0));
    }
}
