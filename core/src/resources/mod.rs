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

// `Resource.role` and `Resource.reservation` are deprecated in the proto, but converting
// from and to them is this module's job (pre-reservation-refinement frameworks).
#![allow(deprecated)]

pub mod format;
mod roles;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::Arc;

pub use format::{ResourceFormat, convert_resource_format};
use remesos_proto::mesos::v1::resource::{
    AllocationInfo, DiskInfo, ReservationInfo, RevocableInfo, SharedInfo, disk_info,
    reservation_info,
};
pub use remesos_proto::mesos::v1::value::{Range, Ranges, Scalar, Set, Type as ValueType};
pub use remesos_proto::mesos::v1::{Label, Labels, Resource};
pub use roles::{ancestors, is_ancestor_or_self, is_strict_subrole, validate_role};

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
        && a.disk == b.disk
        && a.revocable.is_some() == b.revocable.is_some()
        && a.shared.is_some() == b.shared.is_some()
        && a.provider_id == b.provider_id
}

fn addable(a: &Resource, b: &Resource) -> bool {
    !is_exact(a) && !is_exact(b) && same_shape(a, b)
}

fn subtractable(a: &Resource, b: &Resource) -> bool {
    if is_exact(a) || is_exact(b) {
        a == b
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

fn add_value(a: &mut Resource, b: &Resource) {
    match value_type(a) {
        Some(ValueType::Scalar) => {
            // Saturating: a scalar near f64::MAX converts to i64::MAX thousandths (Mesos
            // overflows an int64 here); the sum stays the largest value instead of wrapping
            // to a negative one.
            let v = value::from_fixed(scalar_fixed(a).saturating_add(scalar_fixed(b)));
            a.scalar = Some(Scalar { value: v });
        }
        Some(ValueType::Ranges) => {
            if let Some(br) = &b.ranges {
                value::ranges_add(a.ranges.get_or_insert_with(Ranges::default), br);
            }
        }
        Some(ValueType::Set) => {
            if let Some(bs) = &b.set {
                value::set_add(a.set.get_or_insert_with(Set::default), bs);
            }
        }
        _ => {}
    }
}

/// `a -= b`; returns whether `a` is now empty (or negative, which Mesos also drops).
fn subtract_value(a: &mut Resource, b: &Resource) -> bool {
    match value_type(a) {
        Some(ValueType::Scalar) => {
            let v = scalar_fixed(a).saturating_sub(scalar_fixed(b));
            a.scalar = Some(Scalar {
                value: value::from_fixed(v),
            });
            v <= 0
        }
        Some(ValueType::Ranges) => {
            if let (Some(ar), Some(br)) = (&mut a.ranges, &b.ranges) {
                value::ranges_subtract(ar, br);
            }
            is_empty_resource(a)
        }
        Some(ValueType::Set) => {
            if let (Some(aset), Some(bset)) = (&mut a.set, &b.set) {
                value::set_subtract(aset, bset);
            }
            is_empty_resource(a)
        }
        _ => true,
    }
}

/// Rounds scalars and coalesces ranges of a resource already in post format.
fn canonicalize(r: &mut Resource) {
    if let Some(s) = &mut r.scalar {
        s.value = value::round(s.value);
    }
    if let Some(ranges) = &mut r.ranges {
        value::coalesce(&mut ranges.range);
    }
}

// ---------------------------------------------------------------------------------------
// Validation (Mesos `Resources::validate(const Resource&)`).

/// Validates one resource in either reservation format.
pub fn validate_resource(r: &Resource) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::Invalid {
            resource: display_resource(r),
            reason: reason.to_string(),
        })
    };
    if r.name.is_empty() {
        return invalid("empty resource name");
    }
    match value_type(r) {
        Some(ValueType::Scalar) => {
            let Some(s) = r.scalar.filter(|_| r.ranges.is_none() && r.set.is_none()) else {
                return invalid("invalid scalar resource");
            };
            if !s.value.is_finite() {
                return invalid("invalid scalar resource: value is not finite");
            }
            if s.value != 0.0 && value::to_fixed(s.value) <= 0 {
                return invalid("invalid scalar resource: value <= 0");
            }
        }
        Some(ValueType::Ranges) => {
            let Some(ranges) = r
                .ranges
                .as_ref()
                .filter(|_| r.scalar.is_none() && r.set.is_none())
            else {
                return invalid("invalid ranges resource");
            };
            for (i, a) in ranges.range.iter().enumerate() {
                if a.begin > a.end {
                    return invalid("invalid ranges resource: begin > end");
                }
                for b in &ranges.range[i + 1..] {
                    if a.begin <= b.end && b.begin <= a.end {
                        return invalid("invalid ranges resource: overlapping ranges");
                    }
                }
            }
        }
        Some(ValueType::Set) => {
            let Some(set) = r
                .set
                .as_ref()
                .filter(|_| r.scalar.is_none() && r.ranges.is_none())
            else {
                return invalid("invalid set resource");
            };
            for (i, a) in set.item.iter().enumerate() {
                if set.item[i + 1..].contains(a) {
                    return invalid("invalid set resource: duplicated elements");
                }
            }
        }
        Some(ValueType::Text) | None => return invalid("unsupported resource type"),
    }
    if let Some(disk) = &r.disk {
        if r.name != "disk" {
            return invalid(&format!(
                "diskinfo should not be set for {} resource",
                r.name
            ));
        }
        if let Some(src) = &disk.source {
            use disk_info::source::Type as T;
            match T::try_from(src.r#type) {
                Ok(T::Path | T::Mount) => {}
                Ok(T::Block | T::Raw) if src.mount.is_some() || src.path.is_some() => {
                    return invalid("mount or path should not be set for a block or raw disk");
                }
                Ok(T::Block | T::Raw) => {}
                _ => return invalid("unsupported 'DiskInfo.Source.Type'"),
            }
        }
    }
    if r.reservations.is_empty() {
        validate_role(r.role.as_deref().unwrap_or("*"))?;
        if let Some(reservation) = &r.reservation {
            if reservation.r#type.is_some() {
                return invalid(
                    "'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field",
                );
            }
            if reservation.role.is_some() {
                return invalid(
                    "'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field",
                );
            }
            if r.role.as_deref().unwrap_or("*") == "*" {
                return invalid("invalid reservation: role \"*\" cannot be dynamically reserved");
            }
        }
    } else {
        for reservation in &r.reservations {
            if reservation.r#type.is_none() {
                return invalid(
                    "invalid reservation: 'Resource.ReservationInfo.type' field must be set",
                );
            }
            let Some(role) = &reservation.role else {
                return invalid(
                    "invalid reservation: 'Resource.ReservationInfo.role' field must be set",
                );
            };
            validate_role(role)?;
            if role == "*" {
                return invalid("invalid reservation: role \"*\" cannot be reserved");
            }
        }
        for pair in r.reservations.windows(2) {
            if pair[1].r#type == Some(reservation_info::Type::Static as i32) {
                return invalid(
                    "invalid refined reservation: a refined reservation cannot be STATIC",
                );
            }
            let (ancestor, descendant) = (
                pair[0].role.as_deref().unwrap_or(""),
                pair[1].role.as_deref().unwrap_or(""),
            );
            if !is_strict_subrole(descendant, ancestor) {
                return invalid(&format!(
                    "invalid refined reservation: role '{descendant}' is not a refinement of '{ancestor}'"
                ));
            }
        }
        if r.reservations.len() == 1 {
            let only = &r.reservations[0];
            if r.role.is_some() && r.role != only.role {
                return invalid(
                    "'Resource.role' does not match the role in 'Resource.reservations'",
                );
            }
            match reservation_info::Type::try_from(only.r#type.unwrap_or(0)) {
                Ok(reservation_info::Type::Static) if r.reservation.is_some() => {
                    return invalid(
                        "'Resource.reservation' must not be set if the single reservation is STATIC",
                    );
                }
                Ok(reservation_info::Type::Static) => {}
                Ok(reservation_info::Type::Dynamic) => {
                    if r.role.is_some() != r.reservation.is_some() {
                        return invalid(
                            "'Resource.role' and 'Resource.reservation' must either be both set or both not set",
                        );
                    }
                    if let Some(old) = &r.reservation
                        && (old.principal != only.principal || old.labels != only.labels)
                    {
                        return invalid(
                            "'Resource.reservation' does not match 'Resource.reservations'",
                        );
                    }
                }
                _ => return invalid("unsupported 'Resource.ReservationInfo.Type'"),
            }
        } else if r.role.is_some() || r.reservation.is_some() {
            return invalid(
                "'Resource.role' and 'Resource.reservation' must not be set with refined reservations",
            );
        }
    }
    if r.shared.is_some() {
        if r.name != "disk" {
            return invalid(&format!("resource {} cannot be shared", r.name));
        }
        if r.disk.as_ref().is_none_or(|d| d.persistence.is_none()) {
            return invalid("only persistent volumes can be shared");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Printing.

fn fmt_reservation(r: &ReservationInfo, out: &mut String) {
    let ty = reservation_info::Type::try_from(r.r#type.unwrap_or(0))
        .map(|t| t.as_str_name())
        .unwrap_or("UNKNOWN");
    out.push_str(ty);
    out.push(',');
    out.push_str(r.role.as_deref().unwrap_or(""));
    if let Some(p) = &r.principal {
        out.push(',');
        out.push_str(p);
    }
    if let Some(labels) = &r.labels {
        out.push_str(",{");
        let parts: Vec<String> = labels
            .labels
            .iter()
            .map(|l| match &l.value {
                Some(v) => format!("{}: {v}", l.key),
                None => l.key.clone(),
            })
            .collect();
        out.push_str(&parts.join(", "));
        out.push('}');
    }
}

fn fmt_value(r: &Resource) -> String {
    match value_type(r) {
        Some(ValueType::Scalar) => value::format_scalar(r.scalar.map_or(0.0, |s| s.value)),
        Some(ValueType::Ranges) => {
            value::format_ranges(r.ranges.as_ref().unwrap_or(&Ranges::default()))
        }
        Some(ValueType::Set) => value::format_set(r.set.as_ref().unwrap_or(&Set::default())),
        _ => String::new(),
    }
}

/// One resource as Mesos's `operator<<(ostream&, const Resource&)` prints it.
pub fn display_resource(r: &Resource) -> String {
    let mut out = r.name.clone();
    if let Some(a) = &r.allocation_info {
        out.push_str("(allocated: ");
        out.push_str(a.role.as_deref().unwrap_or(""));
        out.push(')');
    }
    if !r.reservations.is_empty() {
        out.push_str("(reservations: [");
        for (i, x) in r.reservations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('(');
            fmt_reservation(x, &mut out);
            out.push(')');
        }
        out.push_str("])");
    } else if let Some(role) = r.role.as_deref().filter(|role| *role != "*") {
        // Unconverted pre-refinement input (only seen in validation errors).
        out.push('(');
        out.push_str(role);
        out.push(')');
    }
    if let Some(disk) = &r.disk {
        out.push('[');
        if let Some(src) = &disk.source {
            let ty = disk_info::source::Type::try_from(src.r#type)
                .map(|t| t.as_str_name())
                .unwrap_or("UNKNOWN");
            out.push_str(ty);
            let root = src
                .mount
                .as_ref()
                .and_then(|m| m.root.as_ref())
                .or(src.path.as_ref().and_then(|p| p.root.as_ref()));
            if let Some(root) = root {
                out.push(':');
                out.push_str(root);
            }
        }
        if let Some(p) = &disk.persistence {
            if disk.source.is_some() {
                out.push(',');
            }
            out.push_str(&p.id);
        }
        if let Some(v) = &disk.volume {
            out.push(':');
            out.push_str(&v.container_path);
        }
        out.push(']');
    }
    if r.revocable.is_some() {
        out.push_str("{REV}");
    }
    if r.shared.is_some() {
        out.push_str("<SHARED>");
    }
    out.push(':');
    out.push_str(&fmt_value(r));
    out
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resources.is_empty() {
            return f.write_str("{}");
        }
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&display_resource(r))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resources({self})")
    }
}

// ---------------------------------------------------------------------------------------
// Parsing.

/// Parses the value part of `name:value` (Mesos `internal::values::parse`).
fn parse_value(text: &str) -> std::result::Result<(ValueType, Resource), String> {
    let temp: String = text.chars().filter(|c| *c != ' ').collect();
    if temp.is_empty() {
        return Err("expecting non-empty string".into());
    }
    let balanced = |open: char, close: char| {
        let mut depth = 0i32;
        for c in temp.chars() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
        }
        depth == 0
    };
    if !balanced('{', '}') || !balanced('[', ']') || !balanced('(', ')') {
        return Err("mismatched brackets".into());
    }
    let mut r = Resource::default();
    if temp.starts_with('[') {
        let tokens: Vec<&str> = temp
            .split(['[', ']', '-', ',', '\n'])
            .filter(|t| !t.is_empty())
            .collect();
        if !tokens.len().is_multiple_of(2) {
            return Err("expecting one or more \"ranges\"".into());
        }
        let mut range = Vec::with_capacity(tokens.len() / 2);
        for pair in tokens.chunks(2) {
            let parse = |t: &str| {
                t.parse::<u64>()
                    .map_err(|_| format!("expecting non-negative integers in '{t}'"))
            };
            range.push(Range {
                begin: parse(pair[0])?,
                end: parse(pair[1])?,
            });
        }
        value::coalesce(&mut range);
        r.ranges = Some(Ranges { range });
        Ok((ValueType::Ranges, r))
    } else if temp.contains('[') {
        Err("expecting a scalar, ranges or set value".into())
    } else if temp.starts_with('{') {
        let item: Vec<String> = temp
            .split(['{', '}', ',', '\n'])
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        r.set = Some(Set { item });
        Ok((ValueType::Set, r))
    } else {
        let v: f64 = temp
            .parse()
            .map_err(|_| "bad type for resource value: text".to_string())?;
        if !v.is_finite() {
            return Err("unsupported floating point value".into());
        }
        if v < 0.0 {
            return Err("negative values not supported".into());
        }
        if v != 0.0 && !v.is_normal() {
            return Err("subnormal values not supported".into());
        }
        r.scalar = Some(Scalar { value: v });
        Ok((ValueType::Scalar, r))
    }
}

fn static_reservation(role: &str) -> ReservationInfo {
    ReservationInfo {
        r#type: Some(reservation_info::Type::Static as i32),
        role: Some(role.to_string()),
        principal: None,
        labels: None,
    }
}

/// Builds one resource from `name`, a value text and a role (Mesos `Resources::parse(name,
/// value, role)`); a role other than `*` becomes a STATIC reservation.
pub fn parse_resource(name: &str, text: &str, role: &str) -> Result<Resource> {
    let (ty, mut r) = parse_value(text).map_err(|reason| Error::BadValue {
        name: name.to_string(),
        value: text.to_string(),
        reason,
    })?;
    r.name = name.to_string();
    r.r#type = ty as i32;
    if role != "*" {
        r.reservations.push(static_reservation(role));
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Resources.

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the `--resources` text form or a JSON array of Mesos `Resource` objects
    /// (Mesos `Resources::parse(text, defaultRole)`). Resources without a role get
    /// `default_role` (a STATIC reservation unless it is `*`). Zero scalars vanish.
    pub fn parse(text: &str, default_role: &str) -> Result<Resources> {
        validate_role(default_role)?;
        if let Ok(json @ serde_json::Value::Array(_)) =
            serde_json::from_str::<serde_json::Value>(text)
        {
            return Self::from_json(&json, default_role);
        }
        let mut out = Resources::new();
        for token in text.split(';').filter(|t| !t.is_empty()) {
            let pair: Vec<&str> = token.split(':').filter(|t| !t.is_empty()).collect();
            if pair.len() != 2 {
                return Err(Error::BadToken(token.to_string()));
            }
            let (name, role) = match pair[0].find('(') {
                None => (pair[0].trim(), default_role),
                Some(open) => match pair[0].find(')') {
                    Some(close) if close > open => {
                        (pair[0][..open].trim(), pair[0][open + 1..close].trim())
                    }
                    _ => return Err(Error::MismatchedParentheses(token.to_string())),
                },
            };
            let r = parse_resource(name, pair[1], role)?;
            validate_resource(&r)?;
            out.add_resource(r);
        }
        Ok(out)
    }

    /// The JSON-array form (a `serde_json::Value::Array` of Mesos `Resource` objects);
    /// resources with neither `role` nor `reservations` get `default_role`.
    pub fn from_json(json: &serde_json::Value, default_role: &str) -> Result<Resources> {
        let items = json
            .as_array()
            .ok_or_else(|| Error::Json(format!("expected an array, got {json}")))?;
        let mut protos = Vec::with_capacity(items.len());
        for item in items {
            // Mesos's dialect through the one descriptor-driven codec: every field of
            // `Resource` (provider_id, disk.source, ...), required fields checked.
            let mut r: Resource = remesos_proto::json::from_value(item)
                .map_err(|e| Error::Json(e.to_string()))?;
            if r.role.is_none() && r.reservations.is_empty() {
                r.role = Some(default_role.to_string());
            }
            protos.push(r);
        }
        Self::from_protos(protos)
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

    /// Adds one resource in any reservation format (assumed valid).
    pub fn add_resource(&mut self, mut r: Resource) {
        if r.role.is_some() || r.reservation.is_some() {
            format::upgrade(&mut r);
        }
        canonicalize(&mut r);
        if is_empty_resource(&r) {
            return;
        }
        self.add_normalized(Arc::new(r));
    }

    /// Adds an entry that is already canonical, in post format and non-empty.
    fn add_normalized(&mut self, r: Arc<Resource>) {
        if !is_exact(&r)
            && let Some(e) = self.resources.iter_mut().find(|e| addable(e, &r))
        {
            add_value(Arc::make_mut(e), &r);
            return;
        }
        self.resources.push(r);
    }

    /// Subtracts one resource (post format); subtracting what is not there is a no-op and
    /// a scalar that would go negative disappears, as in Mesos.
    pub fn subtract_resource(&mut self, r: &Resource) {
        if is_empty_resource(r) {
            return;
        }
        // An entry that `r` covers entirely is dropped without copying it first (it is
        // often shared: `Resources` are copied on write).
        if let Some(i) = self.resources.iter().position(|e| subtractable(e, r))
            && (is_exact(r)
                || value_contains(r, &self.resources[i])
                || subtract_value(Arc::make_mut(&mut self.resources[i]), r))
        {
            self.resources.remove(i);
        }
    }

    /// Whether every resource of `that` is in `self` (Mesos `Resources::contains`).
    pub fn contains(&self, that: &Resources) -> bool {
        that.resources.iter().all(|t| {
            if is_exact(t) {
                let have = self.resources.iter().filter(|e| **e == *t).count();
                let want = that.resources.iter().filter(|e| **e == *t).count();
                have >= want
            } else {
                // `that` is normalized: no two of its plain entries match the same entry.
                self.resources.iter().any(|e| contains_one(e, t))
            }
        })
    }

    /// Whether `self` would contain `that` if `allocation_info` were cleared on both (an
    /// offer filter keeps the refused resources of one role as they were offered). Entries
    /// at the same position are tried first: both sides usually come from one agent.
    pub fn contains_ignoring_allocation(&self, that: &Resources) -> bool {
        that.resources.iter().enumerate().all(|(i, t)| {
            if is_exact(t) {
                let have = self
                    .resources
                    .iter()
                    .filter(|e| contains_one_but_allocation(e, t))
                    .count();
                let want = that
                    .resources
                    .iter()
                    .filter(|e| contains_one_but_allocation(e, t))
                    .count();
                have >= want
            } else {
                self.resources
                    .get(i)
                    .is_some_and(|e| contains_one_but_allocation(e, t))
                    || self
                        .resources
                        .iter()
                        .any(|e| contains_one_but_allocation(e, t))
            }
        })
    }

    /// Whether `self` contains the single resource `r`.
    pub fn contains_resource(&self, r: &Resource) -> bool {
        self.resources.iter().any(|e| contains_one(e, r))
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

    /// The parseable `--resources` text form: `cpus:2;mem:1024;disk(role):100`. Lossless
    /// for unreserved and statically reserved resources without disk, revocable or
    /// allocation info; otherwise the reservation role is kept and the rest is dropped.
    pub fn to_text(&self) -> String {
        let parts: Vec<String> = self
            .resources
            .iter()
            .map(|r| match reservation_role(r) {
                Some(role) => format!("{}({role}):{}", r.name, fmt_value(r)),
                None => format!("{}:{}", r.name, fmt_value(r)),
            })
            .collect();
        parts.join(";")
    }

    /// The JSON array of Mesos `Resource` objects (post-refinement format).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.iter()
                .map(|r| remesos_proto::json::to_value(r.as_ref()))
                .collect(),
        )
    }

    /// Mesos's `model(Resources)` for `/master/state`: `cpus`, `gpus`, `mem`, `disk` always
    /// present (0.0 when absent), each scalar name as a number, ranges and sets as text,
    /// revocable resources under `<name>_revocable`.
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut o = serde_json::Map::new();
        for name in ["cpus", "gpus", "mem", "disk"] {
            o.insert(name.into(), serde_json::json!(0.0));
        }
        for (part, suffix) in [(self.non_revocable(), ""), (self.revocable(), "_revocable")] {
            let mut names: Vec<(String, i32)> = Vec::new();
            for r in &part.resources {
                if !names.iter().any(|(n, t)| *n == r.name && *t == r.r#type) {
                    names.push((r.name.clone(), r.r#type));
                }
            }
            names.sort();
            for (name, ty) in names {
                let v = match ValueType::try_from(ty) {
                    Ok(ValueType::Scalar) => serde_json::json!(part.scalar(&name)),
                    Ok(ValueType::Ranges) => {
                        value::format_ranges(&part.ranges(&name).unwrap_or_default()).into()
                    }
                    Ok(ValueType::Set) => {
                        value::format_set(&part.set(&name).unwrap_or_default()).into()
                    }
                    _ => continue,
                };
                o.insert(format!("{name}{suffix}"), v);
            }
        }
        o
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

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        for r in &rhs.resources {
            self.add_normalized(r.clone());
        }
    }
}

impl AddAssign<Resources> for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        if self.resources.is_empty() {
            *self = rhs;
            return;
        }
        for r in rhs.resources {
            self.add_normalized(r);
        }
    }
}

impl SubAssign<&Resources> for Resources {
    fn sub_assign(&mut self, rhs: &Resources) {
        for r in &rhs.resources {
            self.subtract_resource(r);
        }
    }
}

impl SubAssign<Resources> for Resources {
    fn sub_assign(&mut self, rhs: Resources) {
        *self -= &rhs;
    }
}

impl Add<&Resources> for &Resources {
    type Output = Resources;
    fn add(self, rhs: &Resources) -> Resources {
        let mut out = self.clone();
        out += rhs;
        out
    }
}

impl Add<&Resources> for Resources {
    type Output = Resources;
    fn add(mut self, rhs: &Resources) -> Resources {
        self += rhs;
        self
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(mut self, rhs: Resources) -> Resources {
        self += rhs;
        self
    }
}

impl Sub<&Resources> for &Resources {
    type Output = Resources;
    fn sub(self, rhs: &Resources) -> Resources {
        let mut out = self.clone();
        out -= rhs;
        out
    }
}

impl Sub<&Resources> for Resources {
    type Output = Resources;
    fn sub(mut self, rhs: &Resources) -> Resources {
        self -= rhs;
        self
    }
}

impl Sub for Resources {
    type Output = Resources;
    fn sub(mut self, rhs: Resources) -> Resources {
        self -= &rhs;
        self
    }
}

impl std::str::FromStr for Resources {
    type Err = Error;
    /// `Resources::parse(text, "*")`.
    fn from_str(s: &str) -> Result<Self> {
        Resources::parse(s, "*")
    }
}

#[cfg(test)]
mod tests;
