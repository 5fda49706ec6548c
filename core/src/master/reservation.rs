//! Dynamic reservations and persistent volumes: the resource conversions of RESERVE,
//! UNRESERVE, CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME, and the operator's way of
//! making them (v1 RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES,
//! GROW_VOLUME, SHRINK_VOLUME and the v0 `/master/reserve`, `/unreserve`,
//! `/create-volumes`, `/destroy-volumes`).
//!
//! Follows Mesos 1.11: src/master/http.cpp (`_reserve`, `_unreserve`, `_createVolumes`,
//! `_destroyVolumes`, `growVolume`, `shrinkVolume`, `_operation`), src/master/validation.cpp
//! (`validation::operation::validate`, `resource::validateDiskInfo`,
//! `validatePersistentVolume`, `validateUniquePersistenceID`), src/common/resources_utils.cpp
//! (`getResourceConversions`), src/master/authorization.cpp (`ActionObject::reserve`, ...)
//! and `Master::apply` (src/master/master.cpp).
//!
//! Data flow of an operator's operation ([`Master::operate_on_agent`]):
//! 1. the agent must be registered here (else 400 `No agent found with specified ID`);
//! 2. the resources are validated and upgraded to the post-refinement format, and the
//!    operation is checked as Mesos checks it (400 `Invalid <OP> operation ...`);
//! 3. the ACLs decide (403, nothing changed);
//! 4. outstanding offers of that agent are rescinded, one at a time, until what the
//!    operation consumes is covered (their frameworks get RESCIND and a 5 s filter, as
//!    Mesos passes `Filters()`);
//! 5. what the operation consumes must be unallocated on the agent, else 409 with Mesos's
//!    `<available> does not contain <consumed>`; nothing changes then;
//! 6. the agent's total changes (master view, `/master/state`, GET_AGENTS, the allocator's
//!    view at once) and the agent gets its new checkpointed resources
//!    (`CheckpointResources`: the dynamic reservations and persistent volumes of its
//!    total), which it writes to `meta/resources/resources.info` and turns into volume
//!    directories (agent/volumes.rs). The answer is 202 Accepted.
//!
//! Reservations and volumes are not in the registry (Mesos keeps them only on the agent):
//! a new leading master learns them from the agent's reregistration.

use std::collections::BTreeSet;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::offer::operation::Type as OpType;
use v1::resource::reservation_info::Type as ReservationType;

use super::operator::{OperatorError, OperatorReply};
use super::{Master, Time};
use crate::common::id::OfferId;
use crate::resources::{Resource, Resources, display_resource};
use crate::security::authorizer::{Action, Object, Principal};

/// An operator's operation on one agent's resources, as decoded from a v1 call or a v0
/// form; validated by [`Master::operate_on_agent`].
#[derive(Clone, Debug, PartialEq)]
pub struct AgentOperation {
    /// The agent, as the operator named it (only ever a map key; an unknown one is 400).
    pub agent_id: String,
    /// The offer operation it amounts to (RESERVE, UNRESERVE, CREATE, DESTROY,
    /// GROW_VOLUME or SHRINK_VOLUME).
    pub operation: v1::offer::Operation,
}

impl AgentOperation {
    fn new(agent_id: String, ty: OpType, fill: impl FnOnce(&mut v1::offer::Operation)) -> Self {
        let mut operation = v1::offer::Operation {
            r#type: Some(ty as i32),
            ..Default::default()
        };
        fill(&mut operation);
        AgentOperation {
            agent_id,
            operation,
        }
    }

    /// RESERVE_RESOURCES and `/master/reserve`.
    pub fn reserve(agent_id: String, source: Vec<Resource>, resources: Vec<Resource>) -> Self {
        Self::new(agent_id, OpType::Reserve, |o| {
            o.reserve = Some(v1::offer::operation::Reserve { source, resources })
        })
    }

    /// UNRESERVE_RESOURCES and `/master/unreserve`.
    pub fn unreserve(agent_id: String, resources: Vec<Resource>) -> Self {
        Self::new(agent_id, OpType::Unreserve, |o| {
            o.unreserve = Some(v1::offer::operation::Unreserve { resources })
        })
    }

    /// CREATE_VOLUMES and `/master/create-volumes`.
    pub fn create(agent_id: String, volumes: Vec<Resource>) -> Self {
        Self::new(agent_id, OpType::Create, |o| {
            o.create = Some(v1::offer::operation::Create { volumes })
        })
    }

    /// DESTROY_VOLUMES and `/master/destroy-volumes`.
    pub fn destroy(agent_id: String, volumes: Vec<Resource>) -> Self {
        Self::new(agent_id, OpType::Destroy, |o| {
            o.destroy = Some(v1::offer::operation::Destroy { volumes })
        })
    }

    /// GROW_VOLUME.
    pub fn grow(agent_id: String, volume: Resource, addition: Resource) -> Self {
        Self::new(agent_id, OpType::GrowVolume, |o| {
            o.grow_volume = Some(v1::offer::operation::GrowVolume { volume, addition })
        })
    }

    /// SHRINK_VOLUME.
    pub fn shrink(agent_id: String, volume: Resource, subtract: v1::value::Scalar) -> Self {
        Self::new(agent_id, OpType::ShrinkVolume, |o| {
            o.shrink_volume = Some(v1::offer::operation::ShrinkVolume { volume, subtract })
        })
    }

    fn ty(&self) -> OpType {
        self.operation
            .r#type
            .and_then(|t| OpType::try_from(t).ok())
            .unwrap_or(OpType::Unknown)
    }
}

/// What an operation turns into what: Mesos's `ResourceConversion`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// Taken from the agent's unallocated resources.
    pub consumed: Resources,
    /// Put in their place.
    pub converted: Resources,
}

/// Validated resources of an operator's operation, ready to convert, with what the ACLs
/// must allow.
struct Checked {
    conversion: Conversion,
    /// `(action, object)` pairs, every one of which must be allowed.
    approvals: Vec<(Action, Option<String>)>,
}

fn bad(e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Invalid(e.to_string())
}

/// Validates protos and upgrades them to the post-refinement format (Mesos's
/// `validateAndUpgradeResources`).
fn upgrade(protos: Vec<Resource>) -> Result<Resources, OperatorError> {
    Resources::from_protos(protos).map_err(|e| bad(format!("Invalid resources: {e}")))
}

fn is_dynamic(r: &Resource) -> bool {
    r.reservations
        .last()
        .is_some_and(|x| x.r#type == Some(ReservationType::Dynamic as i32))
}

fn is_volume(r: &Resource) -> bool {
    r.disk.as_ref().is_some_and(|d| d.persistence.is_some())
}

fn reservation_role(r: &Resource) -> String {
    crate::resources::reservation_role(r)
        .unwrap_or("*")
        .to_string()
}

/// Mesos's `resource::validateDiskInfo` and `validateDynamicReservationInfo` (the part of
/// master validation `Resources::validate` does not do): a persistent volume is reserved,
/// not revocable, has a `volume` without `host_path` and a valid persistence id.
pub(super) fn validate_disk_info(resources: &Resources) -> Result<(), String> {
    for r in resources.iter() {
        if is_dynamic(r) && r.revocable.is_some() {
            return Err(format!(
                "Dynamically reserved resource {} cannot be created from revocable resources",
                display_resource(r)
            ));
        }
        let Some(disk) = &r.disk else { continue };
        if let Some(persistence) = &disk.persistence {
            if r.revocable.is_some() {
                return Err("Persistent volumes cannot be created from revocable resources".into());
            }
            if r.reservations.is_empty() {
                return Err(
                    "Persistent volumes cannot be created from unreserved resources".into(),
                );
            }
            let Some(volume) = &disk.volume else {
                return Err("Expecting 'volume' to be set for persistent volume".into());
            };
            if volume.host_path.is_some() {
                return Err("Expecting 'host_path' to be unset for persistent volume".into());
            }
            // The id names the volume's directory on the agent.
            crate::common::id::validate_id(&persistence.id)
                .map_err(|e| format!("Invalid persistence ID for persistent volume: {e}"))?;
        } else if disk.volume.is_some() {
            return Err("Non-persistent volume not supported".into());
        } else if disk.source.is_none() {
            return Err("DiskInfo is set but empty".into());
        }
    }
    Ok(())
}

/// Mesos's `validatePersistentVolume`.
fn validate_persistent_volumes(volumes: &Resources) -> Result<(), String> {
    for r in volumes.iter() {
        let Some(disk) = &r.disk else {
            return Err(format!(
                "Resource {} does not have DiskInfo",
                display_resource(r)
            ));
        };
        if disk.persistence.is_none() {
            return Err("'persistence' is not set in DiskInfo".into());
        }
        let Some(volume) = &disk.volume else {
            return Err("Expecting 'volume' to be set for persistent volume".into());
        };
        if volume.mode == v1::volume::Mode::Ro as i32 {
            return Err("Read-only persistent volume not supported".into());
        }
    }
    Ok(())
}

/// What a new volume must be beyond Mesos's `validatePersistentVolume`: its
/// `container_path` stays inside the sandbox of the tasks that will use it (Mesos's master
/// does not look, and its agent then fails each launch; remesos refuses at CREATE, from the
/// operator and from a framework alike, with the agent's own check).
pub(super) fn validate_new_volumes(volumes: &Resources) -> Result<(), String> {
    validate_persistent_volumes(volumes)?;
    for r in volumes.iter() {
        let disk = r.disk.as_ref();
        let id = disk
            .and_then(|d| d.persistence.as_ref())
            .map_or("", |p| p.id.as_str());
        let path = disk
            .and_then(|d| d.volume.as_ref())
            .map_or("", |v| v.container_path.as_str());
        crate::common::validation::validate_volume_container_path(id, path)
            .map_err(|e| format!("Invalid persistent volume '{id}': {e}"))?;
    }
    Ok(())
}

/// Mesos's `validateUniquePersistenceID`: unique per role on an agent.
pub(super) fn validate_unique_persistence_ids(resources: &Resources) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for r in resources.persistent_volumes().iter() {
        let id = r
            .disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .map(|p| p.id.as_str())
            .unwrap_or_default();
        if !seen.insert((reservation_role(r), id.to_string())) {
            return Err(format!("Persistence ID '{id}' is not unique"));
        }
    }
    Ok(())
}

/// A disk resource without its persistent volume (and not shared): what CREATE consumes
/// and DESTROY gives back.
pub(super) fn strip_volume(r: &Resource) -> Resource {
    let mut r = r.clone();
    if let Some(disk) = &mut r.disk {
        if disk.source.is_some() {
            disk.persistence = None;
            disk.volume = None;
        } else {
            r.disk = None;
        }
    }
    r.shared = None;
    r
}

/// The resources with their innermost reservation removed (Mesos's `popReservation`).
pub(super) fn pop_reservation(resources: &Resources) -> Resources {
    resources
        .iter()
        .cloned()
        .map(|mut r| {
            r.reservations.pop();
            r
        })
        .collect()
}

fn scalar(r: &Resource) -> i64 {
    crate::resources::scalar_millis(r)
}

fn with_scalar(r: &Resource, millis: i64) -> Resource {
    let mut r = r.clone();
    r.scalar = Some(v1::value::Scalar {
        value: crate::resources::value::from_fixed(millis),
    });
    r
}

/// Mesos's `getResourceConversions` for the operations that change an agent's resources.
/// `resources` are already upgraded and valid.
pub(super) fn conversion(ty: OpType, resources: &OperationResources) -> Conversion {
    match (ty, resources) {
        (OpType::Reserve, OperationResources::Reserve { source, resources }) => Conversion {
            consumed: if source.is_empty() {
                pop_reservation(resources)
            } else {
                source.clone()
            },
            converted: resources.clone(),
        },
        (OpType::Unreserve, OperationResources::Plain(resources)) => Conversion {
            consumed: resources.clone(),
            converted: pop_reservation(resources),
        },
        (OpType::Create, OperationResources::Plain(volumes)) => Conversion {
            consumed: volumes.iter().map(strip_volume).collect(),
            converted: volumes.clone(),
        },
        (OpType::Destroy, OperationResources::Plain(volumes)) => Conversion {
            consumed: volumes.clone(),
            converted: volumes.iter().map(strip_volume).collect(),
        },
        (OpType::GrowVolume, OperationResources::Grow { volume, addition }) => {
            let mut consumed = Resources::from(volume.clone());
            consumed += &Resources::from(addition.clone());
            Conversion {
                consumed,
                converted: with_scalar(volume, scalar(volume) + scalar(addition)).into(),
            }
        }
        (OpType::ShrinkVolume, OperationResources::Shrink { volume, subtract }) => {
            let freed = strip_volume(&with_scalar(volume, *subtract));
            let mut converted = Resources::from(with_scalar(volume, scalar(volume) - subtract));
            converted += &Resources::from(freed);
            Conversion {
                consumed: volume.clone().into(),
                converted,
            }
        }
        _ => Conversion {
            consumed: Resources::new(),
            converted: Resources::new(),
        },
    }
}

/// The upgraded resources of an operation, by shape.
#[allow(
    clippy::large_enum_variant,
    reason = "built once per operation and consumed at once, never stored"
)]
pub(super) enum OperationResources {
    Reserve {
        source: Resources,
        resources: Resources,
    },
    Plain(Resources),
    Grow {
        volume: Resource,
        addition: Resource,
    },
    Shrink {
        volume: Resource,
        subtract: i64,
    },
}

/// One resource of GROW/SHRINK (validated and upgraded alone).
fn single(r: Resource, field: &str) -> Result<Resource, OperatorError> {
    let resources = Resources::from_protos([r])
        .map_err(|e| bad(format!("Invalid resource in the '{field}' field: {e}")))?;
    match resources.into_protos().as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(bad(format!(
            "Invalid resource in the '{field}' field: empty"
        ))),
    }
}

/// Whether the agent advertised `capability`.
fn capable(agent: &super::Agent, capability: v1::agent_info::capability::Type) -> bool {
    crate::common::protocol::agent_has_capability(&agent.capabilities, capability)
}

impl Master {
    /// Performs an operator's RESERVE/UNRESERVE/CREATE/DESTROY/GROW/SHRINK on an agent's
    /// unallocated resources (module doc); answers [`OperatorReply::Accepted`].
    pub(super) fn operate_on_agent(
        &mut self,
        now: Time,
        request: AgentOperation,
        principal: Option<&Principal>,
    ) -> Result<OperatorReply, OperatorError> {
        let ty = request.ty();
        let Some(agent) = self.agents.get(request.agent_id.as_str()) else {
            return Err(bad("No agent found with specified ID"));
        };
        let agent_id = agent.id.clone();
        let checked = self.check_operation(agent, ty, request.operation, principal)?;
        let authorizer = &self.config.authorizer;
        let allowed = checked.approvals.iter().all(|(action, object)| {
            let object = object.as_deref().map_or(Object::Any, Object::Value);
            authorizer.is_allowed(*action, principal, object)
        });
        if !allowed {
            return Err(OperatorError::Forbidden);
        }
        let Conversion {
            consumed,
            converted,
        } = checked.conversion;
        self.rescind_for(now, agent_id.as_str(), &consumed);
        let available = self
            .allocator
            .available(agent_id.as_str())
            .unwrap_or_default();
        if !available.contains(&consumed) {
            return Err(OperatorError::Conflict(format!(
                "{available} does not contain {consumed}"
            )));
        }
        self.convert_agent_total(agent_id.as_str(), &consumed, &converted);
        tracing::info!(agent_id = %agent_id, operation = ty.as_str_name(), %consumed, %converted, "applied an operator's operation");
        self.request_allocation();
        Ok(OperatorReply::Accepted)
    }

    /// Mesos's validation of an operator's operation on `agent`, with its texts.
    fn check_operation(
        &self,
        agent: &super::Agent,
        ty: OpType,
        operation: v1::offer::Operation,
        principal: Option<&Principal>,
    ) -> Result<Checked, OperatorError> {
        use v1::agent_info::capability::Type as Cap;
        let described = format!("{} at {} ({})", agent.id, agent.pid(), agent.hostname());
        let hierarchical = capable(agent, Cap::HierarchicalRole);
        let refinement = capable(agent, Cap::ReservationRefinement);
        let checkpointed = agent.total.filter(needs_checkpoint);
        let principal_name = principal.map(|p| p.as_str().to_string());
        let roles_capable = |r: &Resource, what: &str| -> Result<(), String> {
            let role = reservation_role(r);
            if !hierarchical && role.contains('/') {
                return Err(format!(
                    "Resource {} with reservation for hierarchical role '{role}' cannot be {what} on an agent without HIERARCHICAL_ROLE capability",
                    display_resource(r)
                ));
            }
            if !refinement && r.reservations.len() > 1 {
                return Err(format!(
                    "Resource {} with reservation refinement cannot be {what} on an agent without RESERVATION_REFINEMENT capability",
                    display_resource(r)
                ));
            }
            Ok(())
        };
        match ty {
            OpType::Reserve => {
                let reserve = operation.reserve.unwrap_or_default();
                let resources = upgrade(reserve.resources)?;
                let source = upgrade(reserve.source)?;
                let invalid = |e: String| {
                    bad(format!(
                        "Invalid RESERVE operation on agent {described}: {e}"
                    ))
                };
                validate_disk_info(&resources)
                    .map_err(|e| invalid(format!("Invalid resources: {e}")))?;
                if !source.is_empty() {
                    let uniform = |rs: &Resources| {
                        let first = rs.iter().next().map(|r| r.reservations.clone());
                        rs.iter().all(|r| Some(&r.reservations) == first.as_ref())
                    };
                    if resources.is_empty() || !uniform(&resources) {
                        return Err(invalid(format!(
                            "Invalid resources: Mixed reservations are not supported{resources}"
                        )));
                    }
                    if !uniform(&source) {
                        return Err(invalid(format!(
                            "Invalid source: Mixed reservations are not supported{source}"
                        )));
                    }
                    let unreserved = |rs: &Resources| -> Resources {
                        rs.iter()
                            .cloned()
                            .map(|mut r| {
                                r.reservations.clear();
                                r
                            })
                            .collect()
                    };
                    if unreserved(&source) != unreserved(&resources) {
                        return Err(invalid(format!(
                            "Source and target resources should refer to identical resource quantities: {} vs. {}",
                            unreserved(&source),
                            unreserved(&resources)
                        )));
                    }
                }
                for r in resources.iter() {
                    if !is_dynamic(r) {
                        return Err(invalid(format!(
                            "Resource {} is not dynamically reserved",
                            display_resource(r)
                        )));
                    }
                    roles_capable(r, "reserved").map_err(invalid)?;
                    if let Some(p) = &principal_name {
                        match r.reservations.last().and_then(|x| x.principal.as_ref()) {
                            None => {
                                return Err(invalid(format!(
                                    "A reserve operation was attempted by principal '{p}', but there is a reserved resource in the request with no principal set"
                                )));
                            }
                            Some(rp) if rp != p => {
                                return Err(invalid(format!(
                                    "A reserve operation was attempted by authenticated principal '{p}', which does not match a reserved resource in the request with principal '{rp}'"
                                )));
                            }
                            Some(_) => {}
                        }
                    }
                    if r.allocation_info.is_some() {
                        return Err(invalid("A reserve operation was attempted with an allocated resource, but the operator API only allows reservations to be made to unallocated resources".into()));
                    }
                }
                let approvals = reserve_approvals(&source, &resources);
                let shaped = OperationResources::Reserve { source, resources };
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals,
                })
            }
            OpType::Unreserve => {
                let resources = upgrade(operation.unreserve.unwrap_or_default().resources)?;
                let invalid = |e: String| bad(format!("Invalid UNRESERVE operation: {e}"));
                validate_disk_info(&resources)
                    .map_err(|e| invalid(format!("Invalid resources: {e}")))?;
                for r in resources.iter() {
                    if !is_dynamic(r) {
                        return Err(invalid(format!(
                            "Resource {} is not dynamically reserved",
                            display_resource(r)
                        )));
                    }
                    if is_volume(r) {
                        return Err(invalid(format!(
                            "A dynamically reserved persistent volume {} cannot be unreserved directly. Please destroy the persistent volume first then unreserve the resource",
                            display_resource(r)
                        )));
                    }
                }
                let approvals = unreserve_approvals(&resources);
                let shaped = OperationResources::Plain(resources);
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals,
                })
            }
            OpType::Create => {
                let volumes = upgrade(operation.create.unwrap_or_default().volumes)?;
                let invalid = |e: String| {
                    bad(format!(
                        "Invalid CREATE operation on agent {described}: {e}"
                    ))
                };
                validate_disk_info(&volumes)
                    .map_err(|e| invalid(format!("Invalid resources: {e}")))?;
                validate_persistent_volumes(&volumes)
                    .map_err(|e| invalid(format!("Not a persistent volume: {e}")))?;
                validate_new_volumes(&volumes).map_err(invalid)?;
                let mut all = checkpointed.clone();
                all += &volumes;
                validate_unique_persistence_ids(&all).map_err(invalid)?;
                for v in volumes.iter() {
                    roles_capable(v, "created").map_err(invalid)?;
                    if let Some(p) = &principal_name {
                        match v
                            .disk
                            .as_ref()
                            .and_then(|d| d.persistence.as_ref())
                            .and_then(|x| x.principal.as_ref())
                        {
                            None => {
                                return Err(invalid(format!(
                                    "Create volume operation attempted by principal '{p}', but there is a volume in the operation with no principal set in 'disk.persistence'"
                                )));
                            }
                            Some(vp) if vp != p => {
                                return Err(invalid(format!(
                                    "Create volume operation attempted by authenticated principal '{p}', which does not match a volume in the operation with principal '{vp}' set in 'disk.persistence'"
                                )));
                            }
                            Some(_) => {}
                        }
                    }
                }
                let roles: BTreeSet<String> = volumes.iter().map(reservation_role).collect();
                let approvals = roles
                    .into_iter()
                    .map(|role| (Action::CreateVolume, Some(role)))
                    .collect();
                let shaped = OperationResources::Plain(volumes);
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals,
                })
            }
            OpType::Destroy => {
                let volumes = upgrade(operation.destroy.unwrap_or_default().volumes)?.unallocated();
                let invalid = |e: String| bad(format!("Invalid DESTROY operation: {e}"));
                validate_disk_info(&volumes)
                    .map_err(|e| invalid(format!("Invalid resources: {e}")))?;
                validate_persistent_volumes(&volumes)
                    .map_err(|e| invalid(format!("Not a persistent volume: {e}")))?;
                for v in volumes.iter() {
                    if !checkpointed.contains(&Resources::from(v.clone())) {
                        return Err(invalid("Persistent volumes not found".into()));
                    }
                }
                for used in agent.used.values() {
                    let used = used.unallocated();
                    if volumes
                        .iter()
                        .any(|v| used.contains(&Resources::from(v.clone())))
                    {
                        return Err(invalid("Persistent volumes in use".into()));
                    }
                }
                let approvals = volumes
                    .iter()
                    .map(|v| {
                        let creator = v
                            .disk
                            .as_ref()
                            .and_then(|d| d.persistence.as_ref())
                            .and_then(|p| p.principal.clone())
                            .unwrap_or_default();
                        (Action::DestroyVolume, Some(creator))
                    })
                    .collect();
                let shaped = OperationResources::Plain(volumes);
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals,
                })
            }
            OpType::GrowVolume => {
                let grow = operation.grow_volume.unwrap_or_default();
                let volume = single(grow.volume, "GrowVolume.volume")?;
                let addition = single(grow.addition, "GrowVolume.addition")?;
                let invalid = |e: String| {
                    bad(format!(
                        "Invalid GROW_VOLUME operation on agent {described}: {e}"
                    ))
                };
                if scalar(&addition) <= 0 {
                    return Err(invalid(
                        "The size of 'GrowVolume.addition' field must be greater than zero".into(),
                    ));
                }
                validate_persistent_volumes(&volume.clone().into()).map_err(|e| {
                    invalid(format!(
                        "Invalid persistent volume in the 'GrowVolume.volume' field: {e}"
                    ))
                })?;
                if volume.shared.is_some() {
                    return Err(invalid(
                        "Growing a shared persistent volume is not supported".into(),
                    ));
                }
                let mut both = Resources::from(strip_volume(&volume));
                both += &Resources::from(addition.clone());
                if both.len() != 1 {
                    return Err(invalid("Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields".into()));
                }
                if !capable(agent, Cap::ResizeVolume) {
                    return Err(invalid(format!(
                        "Volume {} cannot be grown on an agent without RESIZE_VOLUME capability",
                        display_resource(&volume)
                    )));
                }
                let role = reservation_role(&volume);
                let shaped = OperationResources::Grow { volume, addition };
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals: vec![(Action::ResizeVolume, Some(role))],
                })
            }
            OpType::ShrinkVolume => {
                let shrink = operation.shrink_volume.unwrap_or_default();
                let volume = single(shrink.volume, "ShrinkVolume.volume")?;
                let invalid = |e: String| {
                    bad(format!(
                        "Invalid SHRINK_VOLUME operation on agent {described}: {e}"
                    ))
                };
                let subtract = crate::resources::value::to_fixed(shrink.subtract.value);
                if !shrink.subtract.value.is_finite() || subtract <= 0 {
                    return Err(invalid(
                        "Value of 'ShrinkVolume.subtract' must be greater than zero".into(),
                    ));
                }
                if scalar(&volume) <= subtract {
                    return Err(invalid("Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'".into()));
                }
                let mount = v1::resource::disk_info::source::Type::Mount as i32;
                if volume
                    .disk
                    .as_ref()
                    .and_then(|d| d.source.as_ref())
                    .is_some_and(|s| s.r#type == mount)
                {
                    return Err(invalid(
                        "Shrinking a volume on a MOUNT disk is not supported".into(),
                    ));
                }
                validate_persistent_volumes(&volume.clone().into()).map_err(|e| {
                    invalid(format!(
                        "Invalid persistent volume in the 'ShrinkVolume.volume' field: {e}"
                    ))
                })?;
                if volume.shared.is_some() {
                    return Err(invalid(
                        "Shrinking a shared persistent volume is not supported".into(),
                    ));
                }
                if !capable(agent, Cap::ResizeVolume) {
                    return Err(invalid(format!(
                        "Volume {} cannot be shrunk on an agent without RESIZE_VOLUME capability",
                        display_resource(&volume)
                    )));
                }
                let role = reservation_role(&volume);
                let shaped = OperationResources::Shrink { volume, subtract };
                Ok(Checked {
                    conversion: conversion(ty, &shaped),
                    approvals: vec![(Action::ResizeVolume, Some(role))],
                })
            }
            other => Err(bad(format!(
                "Unsupported operation {}",
                other.as_str_name()
            ))),
        }
    }

    /// Mesos's `_operation`: rescinds outstanding offers of the agent, one at a time, until
    /// what they hold covers `required` (an offer that holds none of it stays).
    fn rescind_for(&mut self, now: Time, agent_id: &str, required: &Resources) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let mut offers: Vec<OfferId> = agent.offers.iter().cloned().collect();
        offers.sort();
        let mut required = required.clone();
        for offer_id in offers {
            let Some(offered) = self
                .offers
                .get(offer_id.as_str())
                .map(|o| o.resources.unallocated())
            else {
                continue;
            };
            if required == &required - &offered {
                continue;
            }
            required -= &offered;
            // The framework is not offered them again for Mesos's default `Filters()`.
            self.withdraw_offer(now, offer_id.as_str(), Some(super::DEFAULT_REFUSE));
            if required.is_empty() {
                break;
            }
        }
    }

    /// The agent's total becomes `total - consumed + converted` (master view and
    /// allocator), and the agent is sent its new checkpointed resources.
    pub(super) fn convert_agent_total(
        &mut self,
        agent_id: &str,
        consumed: &Resources,
        converted: &Resources,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let mut total = agent.total.clone();
        total -= &consumed.unallocated();
        total += &converted.unallocated();
        agent.total = total.clone();
        agent.info.resources = total.clone().into_protos();
        self.allocator.update_agent_total(agent_id, total.clone());
        self.send_to_agent(
            agent_id,
            wire::master_message::Message::CheckpointResources(wire::CheckpointResources {
                resources: total.filter(needs_checkpoint).into_protos(),
            }),
        );
    }
}

/// Mesos's `ActionObject::reserve`: each role reserved for (`reserve_resources`); with a
/// `source`, the levels it loses are unreserved first (`unreserve_resources`).
fn reserve_approvals(source: &Resources, target: &Resources) -> Vec<(Action, Option<String>)> {
    let mut out = Vec::new();
    let mut roles = BTreeSet::new();
    if source.is_empty() {
        for r in target.iter() {
            let role = reservation_role(r);
            if roles.insert(role.clone()) {
                out.push((Action::ReserveResources, Some(role)));
            }
        }
        return out;
    }
    let from = source
        .iter()
        .next()
        .map(|r| r.reservations.clone())
        .unwrap_or_default();
    let to = target
        .iter()
        .next()
        .map(|r| r.reservations.clone())
        .unwrap_or_default();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut level = source.clone();
    for _ in common..from.len() {
        out.extend(unreserve_approvals(&level));
        level = pop_reservation(&level);
    }
    for reservation in &to[common..] {
        let role = reservation.role.clone().unwrap_or_default();
        if roles.insert(role.clone()) {
            out.push((Action::ReserveResources, Some(role)));
        }
    }
    out
}

/// Mesos's `pushUnreserveActionObjects`: the principal of each resource's innermost
/// reservation; `ANY` once for those without.
fn unreserve_approvals(resources: &Resources) -> Vec<(Action, Option<String>)> {
    let mut out = Vec::new();
    let mut anonymous = false;
    for r in resources.iter() {
        match r.reservations.last().and_then(|x| x.principal.clone()) {
            Some(p) => out.push((Action::UnreserveResources, Some(p))),
            None => anonymous = true,
        }
    }
    if anonymous {
        out.push((Action::UnreserveResources, None));
    }
    out
}

/// Dynamic reservations and persistent volumes live on the agent's disk
/// (`meta/resources/resources.info`): what `CheckpointResources` carries.
pub(super) fn needs_checkpoint(r: &Resource) -> bool {
    let dynamic = r
        .reservations
        .iter()
        .any(|res| res.r#type == Some(ReservationType::Dynamic as i32));
    dynamic || is_volume(r)
}
