//! Role configuration set by operators: weights (`UPDATE_WEIGHTS`, `/master/weights`,
//! `docs/weights.md`) and quota (`UPDATE_QUOTA`, `docs/quota.md`), persisted by the
//! registrar (`recovery.rs` `persist_roles`) and handed to the allocator; and what
//! `/master/roles` shows of each role (Mesos's `Master::RoleResourceBreakdown` in
//! src/master/master.cpp: allocated, offered, reserved, quota consumption).

use std::collections::BTreeMap;

use remesos_proto::v1;

use super::Master;
use crate::allocator::Quota;
use crate::resources::{Resources, validate_role};

/// Role configuration kept by the master, in the operator API's shapes.
#[derive(Clone, Debug, Default)]
pub struct RoleConfig {
    /// Weights other than the default 1.0.
    pub weights: BTreeMap<String, f64>,
    pub quotas: BTreeMap<String, v1::quota::QuotaConfig>,
}

fn scalars(
    map: &std::collections::HashMap<String, v1::value::Scalar>,
    what: &str,
) -> Result<Resources, String> {
    let mut out = Resources::default();
    for (name, scalar) in map {
        if !scalar.value.is_finite() || scalar.value < 0.0 {
            return Err(format!(
                "Invalid {what} '{name}:{}': must be a non-negative number",
                scalar.value
            ));
        }
        let parsed = Resources::parse(&format!("{name}:{}", scalar.value), "*")
            .map_err(|e| format!("Invalid {what} '{name}': {e}"))?;
        out += &parsed;
    }
    Ok(out)
}

/// The resources of a role's subtree (the role and its descendants), as Mesos's
/// `RoleResourceBreakdown` counts them: scalar quantities by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    /// Used by tasks and executors of frameworks allocated to the subtree.
    pub allocated: BTreeMap<String, f64>,
    /// In outstanding offers to the subtree.
    pub offered: BTreeMap<String, f64>,
    /// Reserved to the subtree on registered agents.
    pub reserved: BTreeMap<String, f64>,
    /// What counts against the role's quota: `allocated` plus the subtree's reservations
    /// that nothing uses.
    pub consumed: BTreeMap<String, f64>,
}

fn in_subtree(role: &str, of: &str) -> bool {
    role == of
        || role
            .strip_prefix(of)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn allocated_to_subtree(r: &v1::Resource, of: &str) -> bool {
    r.allocation_info
        .as_ref()
        .and_then(|a| a.role.as_deref())
        .is_some_and(|role| in_subtree(role, of))
}

fn reserved_to_subtree(r: &v1::Resource, of: &str) -> bool {
    r.reservations
        .last()
        .and_then(|res| res.role.as_deref())
        .is_some_and(|role| in_subtree(role, of))
}

fn add(into: &mut BTreeMap<String, f64>, from: BTreeMap<String, f64>) {
    for (name, v) in from {
        *into.entry(name).or_default() += v;
    }
}

/// Mesos's ResourceQuantities as JSON: each scalar by name.
pub fn quantities_json(q: &BTreeMap<String, f64>) -> serde_json::Value {
    serde_json::Value::Object(
        q.iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect(),
    )
}

impl Master {
    /// The resources of `role`'s subtree (Mesos's `RoleResourceBreakdown`).
    pub fn role_breakdown(&self, role: &str) -> Breakdown {
        let mut b = Breakdown::default();
        let mut unused_reservations = BTreeMap::new();
        for agent in self.agents.values() {
            let mut used_reserved = Resources::default();
            for used in agent.used.values() {
                add(
                    &mut b.allocated,
                    used.filter(|r| allocated_to_subtree(r, role))
                        .scalar_quantities(),
                );
                used_reserved += &used.filter(|r| reserved_to_subtree(r, role));
            }
            let reserved = agent.total.filter(|r| reserved_to_subtree(r, role));
            add(&mut b.reserved, reserved.scalar_quantities());
            let used = used_reserved.scalar_quantities();
            for (name, total) in reserved.scalar_quantities() {
                let free = total - used.get(&name).copied().unwrap_or(0.0);
                if free > 0.0 {
                    *unused_reservations.entry(name).or_default() += free;
                }
            }
        }
        for offer in self.offers.values() {
            add(
                &mut b.offered,
                offer
                    .resources
                    .filter(|r| allocated_to_subtree(r, role))
                    .scalar_quantities(),
            );
        }
        b.consumed = b.allocated.clone();
        add(&mut b.consumed, unused_reservations);
        b
    }

    /// UPDATE_WEIGHTS: all or nothing; a weight must be positive and the role valid.
    pub fn update_weights(&mut self, infos: &[v1::WeightInfo]) -> Result<(), String> {
        let mut updates = Vec::new();
        for info in infos {
            let role = info.role.clone().unwrap_or_default();
            validate_role(&role).map_err(|e| format!("Invalid role '{role}': {e}"))?;
            if !info.weight.is_finite() || info.weight <= 0.0 {
                return Err(format!(
                    "Invalid weight '{}' for role '{role}': weights must be positive",
                    info.weight
                ));
            }
            updates.push((role, info.weight));
        }
        for (role, weight) in &updates {
            if *weight == 1.0 {
                self.role_config.weights.remove(role);
            } else {
                self.role_config.weights.insert(role.clone(), *weight);
            }
        }
        self.allocator.update_weights(&updates);
        self.request_allocation();
        Ok(())
    }

    pub fn weight_infos(&self) -> Vec<v1::WeightInfo> {
        self.weight_infos_for(crate::security::authorizer::Viewer::everything())
    }

    /// The weights of the roles `v` may view (Mesos's `authorizeGetWeight`: `view_roles`).
    pub fn weight_infos_for(
        &self,
        v: crate::security::authorizer::Viewer<'_>,
    ) -> Vec<v1::WeightInfo> {
        self.role_config
            .weights
            .iter()
            .filter(|(role, _)| v.role(role))
            .map(|(role, weight)| v1::WeightInfo {
                weight: *weight,
                role: Some(role.clone()),
            })
            .collect()
    }

    /// UPDATE_QUOTA: every config is validated before any is applied (reference §8.8);
    /// guarantees may not exceed limits; a config with neither removes the role's quota.
    pub fn update_quota(&mut self, configs: &[v1::quota::QuotaConfig]) -> Result<(), String> {
        let mut parsed = Vec::new();
        for config in configs {
            let role = &config.role;
            validate_role(role).map_err(|e| format!("Invalid role '{role}': {e}"))?;
            if role == "*" {
                return Err(
                    "Invalid QuotaConfig: setting quota for the default '*' role is not supported"
                        .into(),
                );
            }
            if role.contains('/') {
                return Err(format!(
                    "Invalid QuotaConfig: quota for nested role '{role}' is not supported"
                ));
            }
            let guarantees = scalars(&config.guarantees, "guarantee")?;
            let limits = scalars(&config.limits, "limit")?;
            for (name, value) in &config.guarantees {
                if let Some(limit) = config.limits.get(name)
                    && value.value > limit.value
                {
                    return Err(format!(
                        "Invalid QuotaConfig: guarantee '{name}:{}' is greater than limit '{name}:{}'",
                        value.value, limit.value
                    ));
                }
            }
            parsed.push((config.clone(), Quota { guarantees, limits }));
        }
        for (config, quota) in parsed {
            if config.guarantees.is_empty() && config.limits.is_empty() {
                self.role_config.quotas.remove(&config.role);
            } else {
                self.role_config
                    .quotas
                    .insert(config.role.clone(), config.clone());
            }
            self.allocator.update_quota(&config.role, quota);
        }
        self.request_allocation();
        Ok(())
    }

    /// The deprecated SET_QUOTA (Mesos 1.11's `QuotaHandler::_set`): the guarantee becomes
    /// both guarantee and limit, for a role that has no quota yet. Mesos's capacity check
    /// (409 without `force`) is not made.
    pub fn set_quota(&mut self, request: &v1::quota::QuotaRequest) -> Result<(), String> {
        let role = request.role.clone().unwrap_or_default();
        if self.role_config.quotas.contains_key(&role) {
            return Err(format!(
                "Failed to validate set quota request: Cannot set quota for role '{role}' \
                 which already has quota"
            ));
        }
        let mut guarantees = std::collections::HashMap::new();
        for r in &request.guarantee {
            let scalar = r.scalar.as_ref();
            let Some(scalar) = scalar.filter(|_| r.r#type == v1::value::Type::Scalar as i32) else {
                return Err(format!(
                    "Failed to validate set quota request: QuotaInfo with invalid resource: \
                     '{}' is not a scalar",
                    r.name
                ));
            };
            guarantees
                .entry(r.name.clone())
                .or_insert(v1::value::Scalar { value: 0.0 })
                .value += scalar.value;
        }
        if guarantees.is_empty() {
            return Err(
                "Failed to validate set quota request: QuotaInfo with empty 'guarantee'".into(),
            );
        }
        let config = v1::quota::QuotaConfig {
            role,
            limits: guarantees.clone(),
            guarantees,
        };
        self.update_quota(&[config])
            .map_err(|e| format!("Failed to validate set quota request: {e}"))
    }

    /// The deprecated REMOVE_QUOTA: the role's quota goes (a role without quota is refused,
    /// as Mesos's `QuotaHandler::remove`).
    pub fn remove_quota(&mut self, role: &str) -> Result<(), String> {
        if !self.role_config.quotas.contains_key(role) {
            return Err(format!(
                "Failed to remove quota: Role '{role}' has no quota set"
            ));
        }
        self.update_quota(&[v1::quota::QuotaConfig {
            role: role.to_string(),
            ..Default::default()
        }])
    }

    pub fn quota_status(&self) -> v1::quota::QuotaStatus {
        v1::quota::QuotaStatus {
            infos: vec![],
            configs: self.role_config.quotas.values().cloned().collect(),
        }
    }
}
