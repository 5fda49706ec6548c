//! Role configuration set by operators: weights (`UPDATE_WEIGHTS`, `/master/weights`,
//! `docs/weights.md`) and quota (`UPDATE_QUOTA`, `docs/quota.md`). Both are durable state in
//! Mesos's registry; here they live in memory until the registrar lands (issue 7).

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

impl Master {
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

    pub fn quota_status(&self) -> v1::quota::QuotaStatus {
        v1::quota::QuotaStatus {
            infos: vec![],
            configs: self.role_config.quotas.values().cloned().collect(),
        }
    }
}
