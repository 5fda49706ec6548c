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
//! Entry lists follow the normalization of [`Resources`]: insertion order, non-exact entries
//! of one shape merged, exact ones (volumes, MOUNT/BLOCK disks, shared) kept whole and
//! separate, empty values dropped. Keeping the order identical to what `Resources`
//! arithmetic would give keeps offers (and which entry a quota bound shrinks) unchanged.

use std::sync::Arc;

use remesos_proto::mesos::v1::resource::AllocationInfo;

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
    /// id is `role`). Entries must be normalized (see the module doc).
    pub fn materialize(&mut self, entries: &[Entry], role: u32, role_name: &str) -> Resources {
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
                    let mut r = Resource::clone(&shape.proto);
                    e.value.write_into(&mut r);
                    r.allocation_info = Some(AllocationInfo {
                        role: Some(role_name.to_string()),
                    });
                    let r = Arc::new(r);
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
        let offered = shapes.materialize(&avail, 0, "r");
        assert_eq!(offered, expected.allocated_to("r"));
        // Same value, same role: the built entries are shared.
        let again = shapes.materialize(&avail, 0, "r");
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
