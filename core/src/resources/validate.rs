//! Checking one resource against Mesos's `Resources::validate(const Resource&)`
//! (`src/common/resources.cpp`): values, disk info, reservations in either format,
//! allocation info and sharing.

// `Resource.role` and `Resource.reservation` are deprecated in the proto, but the
// pre-refinement format is still validated.
#![allow(deprecated)]

use remesos_proto::mesos::v1::resource::{disk_info, reservation_info};

use super::*;

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
