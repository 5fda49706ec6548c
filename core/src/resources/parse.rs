//! Reading resources: the agent's `--resources` text (`cpus:2;mem:1024;ports:[31000-32000];
//! disk(role):100;zones:{a,b}`, Mesos's `Resources::parse` and `internal::values::parse` in
//! `src/common/resources.cpp` and `src/common/values.cpp`) and its JSON form, a JSON array of
//! `Resource` in Mesos's dialect (`Resources::fromJSON`), decoded by the one descriptor-driven
//! codec of `remesos_proto::json` so that no field is dropped.

// `Resource.role` is deprecated in the proto, but a static reservation is read into it.
#![allow(deprecated)]

use remesos_proto::mesos::v1::resource::{ReservationInfo, reservation_info};

use super::*;

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

impl Resources {
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
            let mut r: Resource =
                remesos_proto::json::from_value(item).map_err(|e| Error::Json(e.to_string()))?;
            if r.role.is_none() && r.reservations.is_empty() {
                r.role = Some(default_role.to_string());
            }
            protos.push(r);
        }
        Self::from_protos(protos)
    }
}

impl std::str::FromStr for Resources {
    type Err = Error;
    /// `Resources::parse(text, "*")`.
    fn from_str(s: &str) -> Result<Self> {
        Resources::parse(s, "*")
    }
}
