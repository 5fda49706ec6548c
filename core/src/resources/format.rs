//! The two shapes of reservations in a `Resource` (Mesos `src/common/resources_utils.cpp`,
//! `convertResourceFormat`).
//!
//! - post-reservation-refinement (what this module stores): unreserved resources have no
//!   `reservations`, reserved ones carry the whole stack in `reservations`; `role` and
//!   `reservation` are unset.
//! - pre-reservation-refinement (what frameworks without `RESERVATION_REFINEMENT` see, e.g.
//!   Spark and Hadoop drivers built on Mesos 1.4 jars): `role` (`"*"` when unreserved) plus,
//!   for a dynamic reservation, `reservation {principal, labels}`; no `reservations`.
//! - endpoint (`/master/state` and friends): both at once.

use super::{Error, Resource, Result};
use remesos_proto::mesos::v1::resource::{ReservationInfo, reservation_info};

/// Which reservation fields a `Resource` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceFormat {
    /// `role` + `reservation` only.
    PreReservationRefinement,
    /// `reservations` only.
    PostReservationRefinement,
    /// Both (`/state` endpoints).
    Endpoint,
}

/// Converts `resource` in place. Converting a resource in post format with more than one
/// reservation to the pre format is an error: old frameworks cannot see refinements.
pub fn convert_resource_format(resource: &mut Resource, format: ResourceFormat) -> Result<()> {
    match format {
        ResourceFormat::PreReservationRefinement | ResourceFormat::Endpoint => {
            if resource.role.is_some() || resource.reservation.is_some() {
                upgrade(resource);
            }
            match resource.reservations.len() {
                0 => resource.role = Some("*".to_string()),
                1 => {
                    let source = &resource.reservations[0];
                    if source.r#type == Some(reservation_info::Type::Dynamic as i32) {
                        resource.reservation = Some(ReservationInfo {
                            r#type: None,
                            role: None,
                            principal: source.principal.clone(),
                            labels: source.labels.clone(),
                        });
                    }
                    resource.role = source.role.clone();
                    if format == ResourceFormat::PreReservationRefinement {
                        resource.reservations.clear();
                    }
                }
                _ if format == ResourceFormat::PreReservationRefinement => {
                    return Err(Error::RefinedReservation(super::display_resource(resource)));
                }
                _ => {}
            }
        }
        ResourceFormat::PostReservationRefinement => upgrade(resource),
    }
    Ok(())
}

/// Brings a resource in any format to the post-reservation-refinement format.
pub(crate) fn upgrade(resource: &mut Resource) {
    if !resource.reservations.is_empty() {
        resource.role = None;
        resource.reservation = None;
        return;
    }
    let role = resource.role.take().unwrap_or_else(|| "*".to_string());
    if role == "*" {
        resource.reservation = None;
        return;
    }
    let reservation = match resource.reservation.take() {
        None => ReservationInfo {
            r#type: Some(reservation_info::Type::Static as i32),
            role: Some(role),
            principal: None,
            labels: None,
        },
        Some(old) => ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some(role),
            principal: old.principal,
            labels: old.labels,
        },
    };
    resource.reservations.push(reservation);
}
