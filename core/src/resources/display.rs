//! Writing resources: `Display` prints what Mesos's `operator<<` prints
//! (`src/common/resources.cpp`), [`Resources::to_text`] the parseable `--resources` form,
//! [`Resources::to_json`] the JSON array (Mesos's dialect, `remesos_proto::json`) and
//! [`Resources::to_json_map`] Mesos's `model(Resources)` (`src/common/http.cpp`).

use std::fmt;

use remesos_proto::mesos::v1::resource::{ReservationInfo, disk_info, reservation_info};

use super::*;

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

impl Resources {
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
        serde_json::Value::Array(self.iter().map(remesos_proto::json::to_value).collect())
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
