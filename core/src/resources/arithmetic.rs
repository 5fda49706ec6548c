//! Resource arithmetic with Mesos's semantics (`Resources::operator+=`, `-=`, `contains` in
//! `src/common/resources.cpp`): adding merges an entry into an equal-shaped one, subtracting
//! removes what is contained and drops empty entries, containment compares entry by entry.

// `Resource.role` and `Resource.reservation` are deprecated in the proto, but older formats
// are upgraded on the way in.
#![allow(deprecated)]

use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::Arc;

use super::*;

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

impl Resources {
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
    pub(super) fn add_normalized(&mut self, r: Arc<Resource>) {
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
                let have = self.resources.iter().filter(|e| exact_eq(e, t)).count();
                let want = that.resources.iter().filter(|e| exact_eq(e, t)).count();
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
