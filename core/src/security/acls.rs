//! The `--acls` flag: Mesos's ACL JSON, read and checked before the daemon starts.
//!
//! The JSON is `mesos.ACLs` (include/mesos/authorizer/acls.proto, here
//! `core/proto/proto/mesos/authorizer/acls.proto`) in Mesos's JSON dialect, decoded with the
//! descriptor-driven codec of `remesos_proto::json`:
//!
//! ```json
//! {"permissive": false,
//!  "register_frameworks": [{"principals": {"values": ["spark"]}, "roles": {"values": ["analytics"]}}],
//!  "view_flags": [{"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}]}
//! ```
//!
//! Where the value comes from follows Mesos's `flags::parse<ACLs>` (src/common/parse.hpp
//! over stout's `flags/parse.hpp`): the flag's text is the JSON itself; `file://<path>` is
//! replaced by the file's contents (stout fetches it before parsing); a value starting with
//! `/` is read as a file too (deprecated in Mesos, still honoured, with its warning). Files
//! are read up to [`MAX_ACLS_BYTES`].
//!
//! Checks, all fatal at start (DESIGN.md §8: a security setting that cannot be honoured
//! stops the daemon):
//! - Mesos's own validation (src/authorizer/local/authorizer.cpp `LocalAuthorizer::validate`):
//!   objects that only take `ANY` or `NONE` (`view_flags`' `flags`, `access_mesos_logs`'
//!   `logs`, `set_log_level`'s `level`, `register_agents`' `agents`, the maintenance
//!   actions' `machines`, ...; `mark_agents_gone`' `agents` too, whose object is always ANY
//!   so that a SOME there could never match), and `get_endpoints` paths that Mesos can authorize
//!   (`AUTHORIZABLE_ENDPOINTS` in src/common/authorization.cpp), with Mesos's messages;
//! - required entities present (proto2 `required`: an ACL without its `principals` or its
//!   object is malformed), values of the right JSON kind;
//! - **unknown fields and unknown `type` names are errors.** Here we differ from Mesos:
//!   stout's `protobuf::parse` skips unknown keys and drops an unknown enum name, so a
//!   misspelt action (`"register_framework"`) or entity type silently vanishes and the
//!   request falls through to `permissive` — Mesos's own `validate` carries a TODO naming
//!   exactly this as a security issue. An operator's ACL file that Mesos accepts with such a
//!   typo stops remesos with the field's path instead;
//! - an entity that names values together with `ANY` or `NONE` is an error: Mesos ignores
//!   the values, which is never what the operator meant.

use std::path::Path;

use serde_json::Value;

pub use remesos_proto::mesos::AcLs as Acls;
pub use remesos_proto::mesos::acl;
pub use remesos_proto::mesos::acl::entity::Type as EntityType;

/// The largest ACL document read from a file or given inline (Mesos has no bound; a
/// thousand ACLs are a few hundred KiB).
pub const MAX_ACLS_BYTES: usize = 4 * 1024 * 1024;

/// Why `--acls` cannot be used. Each stops the daemon.
#[derive(Debug, thiserror::Error)]
pub enum AclsError {
    #[error("failed to read ACLs file '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("ACLs of {size} bytes exceed the limit of {limit} bytes")]
    TooLarge { size: u64, limit: usize },
    #[error("failed to parse ACLs: {0}")]
    Json(#[from] serde_json::Error),
    #[error("failed to parse ACLs: expecting a JSON object")]
    NotAnObject,
    #[error("failed to parse ACLs: {0}")]
    Message(#[from] remesos_proto::json::Error),
    /// A key that `mesos.ACLs` does not have (Mesos would ignore it; see the module doc).
    #[error(
        "failed to parse ACLs: unknown field '{0}' (Mesos would ignore it and fall back to \
         'permissive'; remesos refuses a misspelt ACL)"
    )]
    UnknownField(String),
    #[error(
        "failed to parse ACLs: unknown entity type '{value}' at '{field}' (expected SOME, ANY or NONE)"
    )]
    UnknownType { field: String, value: String },
    /// Mesos's `LocalAuthorizer::validate` messages, and ours for ambiguous entities.
    #[error("invalid ACLs: {0}")]
    Invalid(String),
}

/// Reads `--acls`'s value (inline JSON, `file://<path>` or `/<path>`) and checks it.
pub fn load(value: &str) -> Result<Acls, AclsError> {
    let value = value.trim();
    let text = if let Some(path) = value.strip_prefix("file://") {
        read_bounded(Path::new(path))?
    } else if value.starts_with('/') {
        tracing::warn!(
            "Specifying an absolute filename to read a command line option out of without \
             using 'file:// is deprecated and will be removed in a future release. Simply \
             adding 'file://' to the beginning of the path should eliminate this warning."
        );
        read_bounded(Path::new(value))?
    } else {
        if value.len() > MAX_ACLS_BYTES {
            return Err(AclsError::TooLarge {
                size: value.len() as u64,
                limit: MAX_ACLS_BYTES,
            });
        }
        value.as_bytes().to_vec()
    };
    parse(&text)
}

/// Reads at most [`MAX_ACLS_BYTES`] of `path` (one byte more tells a larger file).
fn read_bounded(path: &Path) -> Result<Vec<u8>, AclsError> {
    use std::io::Read;
    let read_err = |source| AclsError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_ACLS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > MAX_ACLS_BYTES {
        return Err(AclsError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_ACLS_BYTES,
        });
    }
    Ok(bytes)
}

/// Parses the ACL JSON and checks it (see the module doc).
pub fn parse(json: &[u8]) -> Result<Acls, AclsError> {
    if json.len() > MAX_ACLS_BYTES {
        return Err(AclsError::TooLarge {
            size: json.len() as u64,
            limit: MAX_ACLS_BYTES,
        });
    }
    let value: Value = serde_json::from_slice(json)?;
    if !value.is_object() {
        return Err(AclsError::NotAnObject);
    }
    let name = <Acls as prost::Name>::full_name();
    match remesos_proto::json::pool().get_message_by_name(&name) {
        Some(descriptor) => known_fields(&value, &descriptor, "")?,
        None => return Err(remesos_proto::json::Error::UnknownType(name).into()),
    }
    let acls = remesos_proto::json::from_value::<Acls>(&value)?;
    validate(&acls)?;
    Ok(acls)
}

/// Every key of `value` names a field of `descriptor` and every enum value is a name the
/// enum has, recursively; the codec does the rest (kinds, ranges, required fields).
fn known_fields(
    value: &Value,
    descriptor: &prost_reflect::MessageDescriptor,
    path: &str,
) -> Result<(), AclsError> {
    let Value::Object(map) = value else {
        return Ok(()); // the codec reports the wrong kind
    };
    for (key, v) in map {
        let field_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let Some(field) = descriptor.get_field_by_name(key) else {
            return Err(AclsError::UnknownField(field_path));
        };
        let kind = field.kind();
        let mut items = vec![v];
        while let Some(item) = items.pop() {
            match item {
                Value::Array(inner) => items.extend(inner),
                Value::Null => {}
                item => {
                    if let Some(message) = kind.as_message() {
                        known_fields(item, message, &field_path)?;
                    } else if let (Some(e), Value::String(name)) = (kind.as_enum(), item)
                        && e.get_value_by_name(name).is_none()
                    {
                        return Err(AclsError::UnknownType {
                            field: field_path,
                            value: name.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// The type of an ACL's object entity, by action, for the checks of
/// `LocalAuthorizer::validate`.
fn any_or_none(acls: &Acls) -> Vec<(&'static str, &acl::Entity)> {
    let mut out = Vec::new();
    out.extend(
        acls.access_mesos_logs
            .iter()
            .map(|a| ("AccessMesosLog", &a.logs)),
    );
    out.extend(acls.view_flags.iter().map(|a| ("ViewFlags", &a.flags)));
    out.extend(acls.set_log_level.iter().map(|a| ("SetLogLevel", &a.level)));
    out.extend(
        acls.register_agents
            .iter()
            .map(|a| ("RegisterAgent", &a.agents)),
    );
    out.extend(
        acls.update_maintenance_schedules
            .iter()
            .map(|a| ("UpdateMaintenanceSchedule", &a.machines)),
    );
    out.extend(
        acls.get_maintenance_schedules
            .iter()
            .map(|a| ("GetMaintenanceSchedule", &a.machines)),
    );
    out.extend(
        acls.start_maintenances
            .iter()
            .map(|a| ("StartMaintenance", &a.machines)),
    );
    out.extend(
        acls.stop_maintenances
            .iter()
            .map(|a| ("StopMaintenance", &a.machines)),
    );
    out.extend(
        acls.get_maintenance_statuses
            .iter()
            .map(|a| ("GetMaintenanceStatus", &a.machines)),
    );
    // Not in Mesos's `validate`, but its object is always ANY as well (authorizer.cpp), so
    // a SOME there could never match: the ACL would be dead.
    out.extend(
        acls.mark_agents_gone
            .iter()
            .map(|a| ("MarkAgentGone", &a.agents)),
    );
    out.extend(acls.drain_agents.iter().map(|a| ("DrainAgent", &a.agents)));
    out.extend(
        acls.deactivate_agents
            .iter()
            .map(|a| ("DeactivateAgent", &a.agents)),
    );
    out.extend(
        acls.reactivate_agents
            .iter()
            .map(|a| ("ReactivateAgent", &a.agents)),
    );
    out.extend(
        acls.launch_standalone_containers
            .iter()
            .map(|a| ("LaunchStandaloneContainer", &a.users)),
    );
    out.extend(
        acls.kill_standalone_containers
            .iter()
            .map(|a| ("KillStandaloneContainer", &a.users)),
    );
    out.extend(
        acls.wait_standalone_containers
            .iter()
            .map(|a| ("WaitStandaloneContainer", &a.users)),
    );
    out.extend(
        acls.remove_standalone_containers
            .iter()
            .map(|a| ("RemoveStandaloneContainer", &a.users)),
    );
    out.extend(
        acls.view_standalone_containers
            .iter()
            .map(|a| ("ViewStandaloneContainer", &a.users)),
    );
    out.extend(
        acls.mark_resource_providers_gone
            .iter()
            .map(|a| ("MarkResourceProvidersGone", &a.resource_providers)),
    );
    out.extend(
        acls.view_resource_providers
            .iter()
            .map(|a| ("ViewResourceProvider", &a.resource_providers)),
    );
    out.extend(
        acls.modify_resource_provider_configs
            .iter()
            .map(|a| ("ModifyResourceProviderConfig", &a.resource_providers)),
    );
    out.extend(acls.prune_images.iter().map(|a| ("PruneImages", &a.images)));
    out
}

/// The paths `get_endpoints` may name (Mesos's `AUTHORIZABLE_ENDPOINTS`).
pub const AUTHORIZABLE_ENDPOINTS: [&str; 6] = [
    "/containers",
    "/containerizer/debug",
    "/files/debug",
    "/logging/toggle",
    "/metrics/snapshot",
    "/monitor/statistics",
];

/// An entity's type (`SOME` when unset, the proto's default).
pub fn entity_type(entity: &acl::Entity) -> EntityType {
    entity
        .r#type
        .and_then(|t| EntityType::try_from(t).ok())
        .unwrap_or(EntityType::Some)
}

/// `LocalAuthorizer::validate`, plus the ambiguous-entity check of the module doc.
pub fn validate(acls: &Acls) -> Result<(), AclsError> {
    for (name, object) in any_or_none(acls) {
        if entity_type(object) == EntityType::Some {
            return Err(AclsError::Invalid(format!(
                "ACL.{name} type must be either NONE or ANY"
            )));
        }
    }
    for acl in &acls.get_endpoints {
        if entity_type(&acl.paths) == EntityType::Some {
            for path in &acl.paths.values {
                if !AUTHORIZABLE_ENDPOINTS.contains(&path.as_str()) {
                    return Err(AclsError::Invalid(format!(
                        "Path: '{path}' is not an authorizable path"
                    )));
                }
            }
        }
    }
    let value = remesos_proto::json::to_value(acls);
    ambiguous_entities(&value, "")
}

/// An entity (an object with `type`) that is `ANY` or `NONE` and lists values.
fn ambiguous_entities(value: &Value, path: &str) -> Result<(), AclsError> {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(ty)), Some(Value::Array(values))) =
                (map.get("type"), map.get("values"))
                && ty != "SOME"
                && !values.is_empty()
            {
                return Err(AclsError::Invalid(format!(
                    "'{path}' is {ty} and also lists values; {ty} takes no values"
                )));
            }
            for (key, v) in map {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                ambiguous_entities(v, &sub)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                ambiguous_entities(v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_value(v: Value) -> Result<Acls, AclsError> {
        parse(v.to_string().as_bytes())
    }

    /// Every ACL list of acls.proto parses from Mesos's JSON (`ANY` principals, `NONE`
    /// objects — accepted by every action, `validate` included), one entry each.
    #[test]
    fn every_action_of_mesos_acls_parses() {
        let descriptor = remesos_proto::json::pool()
            .get_message_by_name("mesos.ACLs")
            .unwrap();
        let mut doc = serde_json::Map::new();
        doc.insert("permissive".into(), json!(false));
        let mut lists = 0;
        for field in descriptor.fields() {
            let Some(message) = field.kind().as_message().cloned() else {
                continue;
            };
            let object = message.fields().find(|f| f.name() != "principals").unwrap();
            doc.insert(
                field.name().to_string(),
                json!([{"principals": {"type": "ANY"}, object.name(): {"type": "NONE"}}]),
            );
            lists += 1;
        }
        assert_eq!(lists, 54, "acls.proto of Mesos 1.11 has 54 ACL lists");
        let acls = parse_value(Value::Object(doc)).unwrap();
        assert_eq!(acls.permissive, Some(false));
        let back = remesos_proto::json::to_value(&acls);
        for field in descriptor.fields().filter(|f| f.name() != "permissive") {
            assert_eq!(
                back[field.name()].as_array().map(Vec::len),
                Some(1),
                "{}",
                field.name()
            );
        }
    }

    #[test]
    fn the_documented_example_parses_and_permissive_defaults_to_true() {
        let acls = parse_value(json!({
            "register_frameworks": [
                {"principals": {"values": ["spark", "hadoop"]}, "roles": {"values": ["analytics"]}}
            ],
            "run_tasks": [{"principals": {"values": ["spark"]}, "users": {"values": ["nobody"]}}]
        }))
        .unwrap();
        assert!(acls.permissive.unwrap_or(true));
        assert_eq!(
            acls.register_frameworks[0].principals.values,
            ["spark", "hadoop"]
        );
        assert_eq!(entity_type(&acls.run_tasks[0].users), EntityType::Some);
    }

    /// Mesos ignores unknown keys (stout `protobuf::parse`); a misspelt action would fall
    /// through to `permissive`, so remesos refuses it (module doc).
    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let err = parse_value(json!({"register_framework": []})).unwrap_err();
        assert!(
            matches!(&err, AclsError::UnknownField(f) if f == "register_framework"),
            "{err}"
        );
        let err = parse_value(json!({"run_tasks": [
            {"principals": {"value": ["a"]}, "users": {"type": "ANY"}}
        ]}))
        .unwrap_err();
        assert!(
            matches!(&err, AclsError::UnknownField(f) if f == "run_tasks.principals.value"),
            "{err}"
        );
    }

    #[test]
    fn malformed_entities_are_refused() {
        // An unknown type name (the codec would drop it and leave SOME).
        let err = parse_value(json!({"run_tasks": [
            {"principals": {"type": "ALL"}, "users": {"type": "ANY"}}
        ]}))
        .unwrap_err();
        assert!(matches!(err, AclsError::UnknownType { .. }), "{err}");
        // A required entity missing.
        let err = parse_value(json!({"run_tasks": [{"principals": {"type": "ANY"}}]})).unwrap_err();
        assert!(err.to_string().contains("run_tasks[0].users"), "{err}");
        // The wrong JSON kinds.
        for bad in [
            json!({"run_tasks": [{"principals": "ANY", "users": {"type": "ANY"}}]}),
            json!({"permissive": "maybe"}),
            json!({"run_tasks": [{"principals": {"values": [1]}, "users": {"type": "ANY"}}]}),
        ] {
            assert!(parse_value(bad.clone()).is_err(), "{bad}");
        }
        // ANY or NONE with values: Mesos ignores the values; never what was meant.
        let err = parse_value(json!({"run_tasks": [
            {"principals": {"type": "NONE", "values": ["bob"]}, "users": {"type": "ANY"}}
        ]}))
        .unwrap_err();
        assert!(err.to_string().contains("NONE takes no values"), "{err}");
        assert!(matches!(parse(b"[]"), Err(AclsError::NotAnObject)));
        assert!(matches!(parse(b"{"), Err(AclsError::Json(_))));
    }

    /// src/authorizer/local/authorizer.cpp `LocalAuthorizer::validate`, Mesos's messages.
    #[test]
    fn objects_that_take_only_any_or_none_are_validated_as_mesos_does() {
        let err = parse_value(json!({"view_flags": [
            {"principals": {"type": "ANY"}, "flags": {"values": ["x"]}}
        ]}))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ACLs: ACL.ViewFlags type must be either NONE or ANY"
        );
        let err = parse_value(json!({"mark_agents_gone": [
            {"principals": {"type": "ANY"}, "agents": {}}
        ]}))
        .unwrap_err();
        assert!(err.to_string().contains("ACL.MarkAgentGone"), "{err}");
        let err = parse_value(json!({"get_endpoints": [
            {"principals": {"type": "ANY"}, "paths": {"values": ["/master/state"]}}
        ]}))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ACLs: Path: '/master/state' is not an authorizable path"
        );
        parse_value(json!({"get_endpoints": [
            {"principals": {"type": "ANY"}, "paths": {"values": ["/metrics/snapshot", "/files/debug"]}}
        ]}))
        .unwrap();
    }

    /// stout's flag parsing: inline JSON, `file://` and (deprecated) an absolute path.
    #[test]
    fn acls_come_inline_from_file_urls_and_absolute_paths() {
        let dir = std::env::temp_dir().join(format!("remesos-acls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("acls.json");
        std::fs::write(&path, r#"{"permissive": false}"#).unwrap();
        let from_url = load(&format!("file://{}", path.display())).unwrap();
        assert_eq!(from_url.permissive, Some(false));
        let from_path = load(&path.display().to_string()).unwrap();
        assert_eq!(from_path.permissive, Some(false));
        assert_eq!(
            load(" {\"permissive\": false} ").unwrap().permissive,
            Some(false)
        );
        let missing = load(&format!("file://{}", dir.join("none").display())).unwrap_err();
        assert!(matches!(missing, AclsError::Read { .. }), "{missing}");
        // Oversized: refused before parsing.
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; MAX_ACLS_BYTES + 1]).unwrap();
        let err = load(&format!("file://{}", big.display())).unwrap_err();
        assert!(matches!(err, AclsError::TooLarge { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
