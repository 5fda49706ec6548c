//! Resource arithmetic with Mesos's semantics (`src/common/resources.cpp`).
//!
//! [`Resources`] is a normalized bag of `mesos.v1.Resource`s: every entry is in the
//! post-reservation-refinement format (see [`format`]), non-empty, with scalars rounded to
//! three decimals and ranges coalesced, and no two entries could be merged (same name,
//! type, reservations, allocation, disk, revocability and provider). Shared resources are
//! the exception: each copy is its own entry, which models Mesos's shared counts.
//!
//! Text forms:
//! - [`Resources::parse`] reads the agent `--resources` form (`cpus:2;mem:1024;
//!   ports:[31000-32000];disk(role):100;zones:{a,b}`) or a JSON array of `Resource`.
//! - `Display` prints exactly what Mesos's `operator<<` prints (logs, error texts):
//!   `cpus:2; mem:1024; ports:[31000-32000]`, reserved `cpus(reservations: [(STATIC,r)]):2`,
//!   allocated `cpus(allocated: r):2`, empty `{}`.
//! - [`Resources::to_text`] prints the parseable `--resources` form (`cpus(r):2;mem:1024`),
//!   lossless for unreserved and statically reserved resources.
//! - [`Resources::to_json_map`] is Mesos's `model(Resources)` of `/master/state`.
//!
//! Files: `parse` reads the text and JSON forms (JSON through `remesos_proto::json`, the
//! one codec of Mesos's dialect), `validate` is Mesos's `Resources::validate`, `display`
//! writes every form above, `arithmetic` adds, subtracts and compares; `format` converts
//! between the reservation formats, `roles` checks role names, `value` works on ranges and
//! sets. This file holds the [`Resources`] type, its per-entry predicates and its views
//! (reserved, allocated, revocable, ...).

// `Resource.role` and `Resource.reservation` are deprecated in the proto, but converting
// from and to them is this module's job (pre-reservation-refinement frameworks).
#![allow(deprecated)]

mod arithmetic;
mod display;
pub mod format;
mod parse;
mod roles;
mod validate;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use display::display_resource;
pub use format::{ResourceFormat, convert_resource_format};
pub use parse::parse_resource;
use remesos_proto::mesos::v1::resource::{AllocationInfo, DiskInfo, disk_info};
pub use remesos_proto::mesos::v1::value::{Range, Ranges, Scalar, Set, Type as ValueType};
pub use remesos_proto::mesos::v1::{Label, Labels, Resource};
pub use roles::{ancestors, is_ancestor_or_self, is_strict_subrole, validate_role};
pub use validate::validate_resource;

/// Errors of resource parsing, validation and conversion.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// A `name:value` token of the text form is malformed.
    #[error("bad value for resources, missing or extra ':' in '{0}'")]
    BadToken(String),
    /// `name(role` without its closing parenthesis.
    #[error("bad value for resources, mismatched parentheses in '{0}'")]
    MismatchedParentheses(String),
    /// The value part of `name:value` does not parse.
    #[error("failed to parse resource {name} value '{value}': {reason}")]
    BadValue {
        name: String,
        value: String,
        reason: String,
    },
    /// A resource fails Mesos's `Resources::validate`.
    #[error("resource '{resource}' is invalid: {reason}")]
    Invalid { resource: String, reason: String },
    /// A role name fails `roles::validate`.
    #[error("invalid role '{role}': {reason}")]
    InvalidRole { role: String, reason: String },
    /// The JSON form is not an array of Mesos `Resource` objects.
    #[error("some json resources were not formatted properly: {0}")]
    Json(String),
    /// A refined reservation cannot be shown to a framework without RESERVATION_REFINEMENT.
    #[error("resource '{0}' has refined reservations and has no pre-reservation-refinement form")]
    RefinedReservation(String),
}

/// `Result` of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A normalized collection of resources (see the module doc for the invariants).
#[derive(Clone, Default)]
pub struct Resources {
    /// Normalized entries in insertion order. Shared and copied on write, as Mesos's
    /// `Resource_Unsafe` (a `Resource` is over a kilobyte; cloning a `Resources` only bumps
    /// reference counts).
    resources: Vec<Arc<Resource>>,
}

// ---------------------------------------------------------------------------------------
// Single-resource predicates (post-refinement format assumed).

fn value_type(r: &Resource) -> Option<ValueType> {
    ValueType::try_from(r.r#type).ok()
}

fn is_scalar(r: &Resource) -> bool {
    r.r#type == ValueType::Scalar as i32
}

fn scalar_fixed(r: &Resource) -> i64 {
    value::to_fixed(r.scalar.map_or(0.0, |s| s.value))
}

/// A scalar resource's value in thousandths (Mesos's fixed-point), 0 for other types.
pub fn scalar_millis(r: &Resource) -> i64 {
    if is_scalar(r) { scalar_fixed(r) } else { 0 }
}

/// Whether `r` is a scalar resource.
pub fn is_scalar_resource(r: &Resource) -> bool {
    is_scalar(r)
}

/// Shrinks a scalar resource to at most `max_millis` thousandths. Returns false when
/// nothing is left or the resource cannot be split (MOUNT/BLOCK disks, persistent
/// volumes, shared resources) and is larger than the target (Mesos `Resources::shrink`).
pub fn shrink_resource(r: &mut Resource, max_millis: i64) -> bool {
    let have = scalar_millis(r);
    if have <= max_millis {
        return have > 0;
    }
    if is_exact(r) || max_millis <= 0 {
        return false;
    }
    r.scalar = Some(Scalar {
        value: value::from_fixed(max_millis),
    });
    true
}

/// Whether a resource holds nothing (zero scalar, no ranges, no items).
fn is_empty_resource(r: &Resource) -> bool {
    match value_type(r) {
        Some(ValueType::Scalar) => scalar_fixed(r) == 0,
        Some(ValueType::Ranges) => r.ranges.as_ref().is_none_or(|x| x.range.is_empty()),
        Some(ValueType::Set) => r.set.as_ref().is_none_or(|x| x.item.is_empty()),
        _ => false,
    }
}

/// The role a resource is reserved to (top of the reservation stack), if any.
pub fn reservation_role(r: &Resource) -> Option<&str> {
    r.reservations
        .last()
        .map(|x| x.role.as_deref().unwrap_or(""))
}

/// Whether `r` may be offered to `role`: unreserved, or reserved to `role` or an ancestor.
pub fn is_allocatable_to(r: &Resource, role: &str) -> bool {
    match reservation_role(r) {
        None => true,
        Some(reserved) => is_ancestor_or_self(reserved, role),
    }
}

/// Disks that are only ever added or subtracted whole (MOUNT/BLOCK, RAW with an id,
/// persistent volumes) and shared resources: matched by equality, never merged.
pub fn is_exact(r: &Resource) -> bool {
    if r.shared.is_some() {
        return true;
    }
    let Some(disk) = &r.disk else { return false };
    if disk.persistence.is_some() {
        return true;
    }
    match &disk.source {
        Some(src) => match disk_info::source::Type::try_from(src.r#type) {
            Ok(disk_info::source::Type::Mount | disk_info::source::Type::Block) => true,
            Ok(disk_info::source::Type::Raw) => src.id.is_some(),
            _ => false,
        },
        None => false,
    }
}

/// Same "shape" (everything but the value). Mesos's `addable`/`subtractable` minus the
/// exact-disk and shared rules, which `is_exact` handles.
fn same_shape(a: &Resource, b: &Resource) -> bool {
    same_shape_but_allocation(a, b) && a.allocation_info == b.allocation_info
}

/// `same_shape` without comparing `allocation_info`. Cheap fields first: this is the inner
/// loop of offer-filter checks.
pub fn same_shape_but_allocation(a: &Resource, b: &Resource) -> bool {
    a.r#type == b.r#type
        && a.name == b.name
        && a.reservations == b.reservations
        && disk_eq(a.disk.as_ref(), b.disk.as_ref())
        && a.revocable.is_some() == b.revocable.is_some()
        && a.shared.is_some() == b.shared.is_some()
        && a.provider_id == b.provider_id
}

/// `DiskInfo` equality without its `volume`: Mesos's `operator==(DiskInfo)` ignores it
/// because it "describes how this resource will be used" (src/common/resources.cpp); a task
/// may use a persistent volume at its own `container_path` and read-only (`mode: RO`).
fn disk_eq(a: Option<&DiskInfo>, b: Option<&DiskInfo>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.persistence == b.persistence && a.source == b.source,
        (a, b) => a == b,
    }
}

/// Equality of exact resources (volumes, mount disks, shared), with the volume's use
/// (`DiskInfo.volume`) ignored as Mesos does.
pub(crate) fn exact_eq(a: &Resource, b: &Resource) -> bool {
    fn volume(r: &Resource) -> Option<&remesos_proto::v1::Volume> {
        r.disk.as_ref().and_then(|d| d.volume.as_ref())
    }
    if volume(a) == volume(b) {
        return a == b;
    }
    // Rare (a task using a volume in its own way): compare copies without the volumes.
    let strip = |r: &Resource| {
        let mut r = r.clone();
        if let Some(d) = &mut r.disk {
            d.volume = None;
        }
        r
    };
    strip(a) == strip(b)
}

fn addable(a: &Resource, b: &Resource) -> bool {
    !is_exact(a) && !is_exact(b) && same_shape(a, b)
}

fn subtractable(a: &Resource, b: &Resource) -> bool {
    if is_exact(a) || is_exact(b) {
        exact_eq(a, b)
    } else {
        same_shape(a, b)
    }
}

fn contains_one(a: &Resource, b: &Resource) -> bool {
    subtractable(a, b) && value_contains(a, b)
}

/// Like `contains_one` with `allocation_info` ignored on both sides; exact resources
/// (volumes, mount disks, shared) must then have equal values.
fn contains_one_but_allocation(a: &Resource, b: &Resource) -> bool {
    if !same_shape_but_allocation(a, b) {
        return false;
    }
    if is_exact(a) || is_exact(b) {
        value_contains(a, b) && value_contains(b, a)
    } else {
        value_contains(a, b)
    }
}

fn value_contains(a: &Resource, b: &Resource) -> bool {
    match value_type(a) {
        Some(ValueType::Scalar) => scalar_fixed(b) <= scalar_fixed(a),
        Some(ValueType::Ranges) => value::ranges_contain(
            a.ranges.as_ref().unwrap_or(&Ranges::default()),
            b.ranges.as_ref().unwrap_or(&Ranges::default()),
        ),
        Some(ValueType::Set) => value::set_contains(
            a.set.as_ref().unwrap_or(&Set::default()),
            b.set.as_ref().unwrap_or(&Set::default()),
        ),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Resources.

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates protos in either reservation format and normalizes them.
    pub fn from_protos(protos: impl IntoIterator<Item = Resource>) -> Result<Resources> {
        let mut out = Resources::new();
        for r in protos {
            validate_resource(&r)?;
            out.add_resource(r);
        }
        Ok(out)
    }

    /// Normalizes protos that are already known to be valid (e.g. taken from another
    /// `Resources`); debug builds still validate.
    pub fn from_valid_protos(protos: impl IntoIterator<Item = Resource>) -> Resources {
        let mut out = Resources::new();
        for r in protos {
            debug_assert!(validate_resource(&r).is_ok(), "{}", display_resource(&r));
            out.add_resource(r);
        }
        out
    }

    /// Wraps entries that are already normalized — canonical, post format, non-empty and
    /// pairwise not mergeable (e.g. taken from other `Resources`, or all of one allocation
    /// role with distinct shapes) — sharing the `Arc`s instead of copying the kilobyte-sized
    /// `Resource`s. Debug builds check the invariants.
    pub fn from_normalized(entries: Vec<Arc<Resource>>) -> Resources {
        debug_assert!(
            entries
                .iter()
                .all(|r| r.role.is_none() && r.reservation.is_none() && !is_empty_resource(r)),
            "entries not canonical"
        );
        debug_assert!(
            entries
                .iter()
                .enumerate()
                .all(|(i, a)| entries[i + 1..].iter().all(|b| !addable(a, b))),
            "mergeable entries"
        );
        Resources { resources: entries }
    }

    /// The entries, post-reservation-refinement format (each derefs to a `Resource`).
    pub fn as_slice(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// Iterates the entries.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.resources.iter())
    }

    /// The entries, post-reservation-refinement format.
    pub fn into_protos(self) -> Vec<Resource> {
        self.resources
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect()
    }

    /// The entries in another reservation format (see [`format`]). Converting refined
    /// reservations to the pre-refinement format fails.
    pub fn to_protos_in(&self, format: ResourceFormat) -> Result<Vec<Resource>> {
        self.resources
            .iter()
            .map(|r| {
                let mut r = Resource::clone(r);
                convert_resource_format(&mut r, format)?;
                Ok(r)
            })
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether there are no resources.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The resources for which `pred` holds.
    pub fn filter(&self, mut pred: impl FnMut(&Resource) -> bool) -> Resources {
        Resources {
            resources: self.resources.iter().filter(|r| pred(r)).cloned().collect(),
        }
    }

    /// Resources reserved to exactly `role` (top of the stack).
    pub fn reserved_to(&self, role: &str) -> Resources {
        self.filter(|r| reservation_role(r) == Some(role))
    }

    /// Resources with any reservation.
    pub fn reserved(&self) -> Resources {
        self.filter(|r| !r.reservations.is_empty())
    }

    /// Reserved resources grouped by reservation role (Mesos `reservations()`).
    pub fn reservations(&self) -> BTreeMap<String, Resources> {
        let mut out: BTreeMap<String, Resources> = BTreeMap::new();
        for r in &self.resources {
            if let Some(role) = reservation_role(r) {
                out.entry(role.to_string())
                    .or_default()
                    .resources
                    .push(r.clone());
            }
        }
        out
    }

    /// Unreserved resources.
    pub fn unreserved(&self) -> Resources {
        self.filter(|r| r.reservations.is_empty())
    }

    /// Unreserved resources plus those reserved to `role` or one of its ancestors.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|r| is_allocatable_to(r, role))
    }

    /// Revocable resources.
    pub fn revocable(&self) -> Resources {
        self.filter(|r| r.revocable.is_some())
    }

    /// Non-revocable resources.
    pub fn non_revocable(&self) -> Resources {
        self.filter(|r| r.revocable.is_none())
    }

    /// Shared resources.
    pub fn shared(&self) -> Resources {
        self.filter(|r| r.shared.is_some())
    }

    /// Non-shared resources.
    pub fn non_shared(&self) -> Resources {
        self.filter(|r| r.shared.is_none())
    }

    /// Persistent volumes.
    pub fn persistent_volumes(&self) -> Resources {
        self.filter(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
    }

    /// Scalar resources only.
    pub fn scalars(&self) -> Resources {
        self.filter(is_scalar)
    }

    /// Resources named `name`.
    pub fn named(&self, name: &str) -> Resources {
        self.filter(|r| r.name == name)
    }

    /// The sum of each scalar resource by name (all reservations and allocations).
    pub fn scalar_quantities(&self) -> BTreeMap<String, f64> {
        let mut fixed: BTreeMap<String, i64> = BTreeMap::new();
        for r in self.resources.iter().filter(|r| is_scalar(r)) {
            let sum = fixed.entry(r.name.clone()).or_default();
            *sum = sum.saturating_add(scalar_fixed(r));
        }
        fixed
            .into_iter()
            .map(|(k, v)| (k, value::from_fixed(v)))
            .collect()
    }

    /// The total of scalar resource `name` (0 when absent).
    pub fn scalar(&self, name: &str) -> f64 {
        let fixed: i64 = self
            .iter()
            .filter(|r| r.name == name && is_scalar(r))
            .map(scalar_fixed)
            .sum();
        value::from_fixed(fixed)
    }

    /// The total of scalar resource `name` in thousandths.
    pub fn scalar_millis(&self, name: &str) -> i64 {
        self.iter()
            .filter(|r| r.name == name && is_scalar(r))
            .map(scalar_fixed)
            .sum()
    }

    /// `cpus` total.
    pub fn cpus(&self) -> f64 {
        self.scalar("cpus")
    }

    /// `mem` total (MB).
    pub fn mem(&self) -> f64 {
        self.scalar("mem")
    }

    /// `disk` total (MB).
    pub fn disk(&self) -> f64 {
        self.scalar("disk")
    }

    /// `gpus` total.
    pub fn gpus(&self) -> f64 {
        self.scalar("gpus")
    }

    /// The union of all range resources named `name`.
    pub fn ranges(&self, name: &str) -> Option<Ranges> {
        let mut found: Option<Ranges> = None;
        for r in self.resources.iter().filter(|r| r.name == name) {
            if let Some(rs) = &r.ranges {
                value::ranges_add(found.get_or_insert_with(Ranges::default), rs);
            }
        }
        found
    }

    /// The union of all set resources named `name`.
    pub fn set(&self, name: &str) -> Option<Set> {
        let mut found: Option<Set> = None;
        for r in self.resources.iter().filter(|r| r.name == name) {
            if let Some(s) = &r.set {
                value::set_add(found.get_or_insert_with(Set::default), s);
            }
        }
        found
    }

    /// `ports` ranges.
    pub fn ports(&self) -> Option<Ranges> {
        self.ranges("ports")
    }

    /// Resource names.
    pub fn names(&self) -> BTreeSet<String> {
        self.resources.iter().map(|r| r.name.clone()).collect()
    }

    /// Rebuilds the entries through `add_resource` (after a change that may have made two
    /// entries mergeable).
    fn renormalize(&mut self) {
        let old = std::mem::take(&mut self.resources);
        for r in old {
            self.add_normalized(r);
        }
    }

    /// Marks every resource as allocated to `role` (sets `allocation_info.role`).
    pub fn allocate(&mut self, role: &str) {
        let uniform = self
            .resources
            .windows(2)
            .all(|w| w[0].allocation_info == w[1].allocation_info);
        for r in &mut self.resources {
            if r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some(role) {
                continue;
            }
            match &mut Arc::make_mut(r).allocation_info {
                Some(AllocationInfo {
                    role: Some(existing),
                }) if existing == role => {}
                info => {
                    *info = Some(AllocationInfo {
                        role: Some(role.to_string()),
                    })
                }
            }
        }
        if !uniform {
            self.renormalize();
        }
    }

    /// Clears `allocation_info` on every resource.
    pub fn unallocate(&mut self) {
        let uniform = self
            .resources
            .windows(2)
            .all(|w| w[0].allocation_info == w[1].allocation_info);
        for r in &mut self.resources {
            if r.allocation_info.is_some() {
                Arc::make_mut(r).allocation_info = None;
            }
        }
        if !uniform {
            self.renormalize();
        }
    }

    /// A copy allocated to `role`.
    pub fn allocated_to(&self, role: &str) -> Resources {
        let mut out = self.clone();
        out.allocate(role);
        out
    }

    /// A copy without allocation info.
    pub fn unallocated(&self) -> Resources {
        let mut out = self.clone();
        out.unallocate();
        out
    }

    /// The roles in `allocation_info` of the entries.
    pub fn allocation_roles(&self) -> BTreeSet<String> {
        self.resources
            .iter()
            .filter_map(|r| r.allocation_info.as_ref()?.role.clone())
            .collect()
    }

    /// Resources grouped by allocation role (entries without one are left out).
    pub fn allocations(&self) -> BTreeMap<String, Resources> {
        let mut out: BTreeMap<String, Resources> = BTreeMap::new();
        for r in &self.resources {
            if let Some(role) = r.allocation_info.as_ref().and_then(|a| a.role.as_ref()) {
                out.entry(role.clone())
                    .or_default()
                    .resources
                    .push(r.clone());
            }
        }
        out
    }
}

impl PartialEq for Resources {
    fn eq(&self, other: &Self) -> bool {
        (self.resources.len() == other.resources.len() && self.resources == other.resources)
            || (self.contains(other) && other.contains(self))
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the entries of a [`Resources`].
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, Arc<Resource>>);

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Resource;
    fn next(&mut self) -> Option<&'a Resource> {
        self.0.next().map(|r| &**r)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FromIterator<Resource> for Resources {
    /// Collects resources assumed valid (see [`Resources::from_protos`] to validate).
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        let mut out = Resources::new();
        for r in iter {
            out.add_resource(r);
        }
        out
    }
}

impl From<Resource> for Resources {
    fn from(r: Resource) -> Self {
        std::iter::once(r).collect()
    }
}

#[cfg(test)]
mod tests;
