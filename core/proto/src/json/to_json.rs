//! Message -> JSON, following stout's `json(ObjectWriter*, const Protobuf&)`.

use base64::Engine as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};
use serde_json::{Map, Number, Value as Json};

/// Writes every field stout writes: set fields, non-empty repeated and map fields, and unset
/// singular fields with an explicit, non-deprecated default (plus `required` fields, see
/// below). Declaration order, like stout's
/// `descriptor->field(i)` loop.
pub(super) fn message(msg: &DynamicMessage) -> Json {
    let desc = msg.descriptor();
    let mut out = Map::new();
    for (field, emit_default) in super::declared_fields(&desc) {
        if field.is_list() || field.is_map() {
            if !msg.has_field(&field) {
                continue; // empty
            }
        } else {
            // Required fields are always written: the source is a prost message, whose
            // required fields are plain values that are always present, but prost leaves a
            // map value that equals its type's default off the wire, so it re-decodes here
            // with its required fields unset.
            if !msg.has_field(&field) && !emit_default && !field.is_required() {
                continue;
            }
        }
        // `get_field` yields the declared default for an unset field.
        if let Some(v) = field_value(&field, &msg.get_field(&field)) {
            out.insert(field.name().to_owned(), v);
        }
    }
    Json::Object(out)
}

pub(super) fn field_value(field: &FieldDescriptor, value: &Value) -> Option<Json> {
    let kind = field.kind();
    match value {
        Value::List(items) => Some(Json::Array(
            items.iter().filter_map(|v| scalar(&kind, v)).collect(),
        )),
        Value::Map(entries) => {
            let value_kind = match &kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                _ => return None,
            };
            // Sorted by key so the output is deterministic (Mesos's own order is its hash
            // map's).
            let mut keyed: Vec<(&MapKey, &Value)> = entries.iter().collect();
            keyed.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Map::new();
            for (key, v) in keyed {
                if let Some(v) = scalar(&value_kind, v) {
                    out.insert(map_key(key), v);
                }
            }
            Some(Json::Object(out))
        }
        v => scalar(&kind, v),
    }
}

/// One value of a field; `None` for an enum number its enum does not name: proto2 keeps such a
/// value among the unknown fields, where stout's reflection never sees it.
fn scalar(kind: &Kind, value: &Value) -> Option<Json> {
    Some(match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(f) => double(f64::from(*f)),
        Value::F64(f) => double(*f),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => Json::String(e.get_value(*n)?.name().to_owned()),
            _ => return None,
        },
        Value::Message(m) => message(m),
        Value::List(_) | Value::Map(_) => return None, // not an element type
    })
}

/// Doubles as JSON numbers (`5.0` prints as `5.0`, like rapidjson). JSON has no infinities or
/// NaN; stout's writer would abort on them, we write the strings its parser reads back.
fn double(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".to_owned()),
        None if f > 0.0 => Json::String("Infinity".to_owned()),
        None => Json::String("-Infinity".to_owned()),
    }
}

/// Map keys as stout writes them: strings verbatim, numbers and booleans via `jsonify`.
pub(super) fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}
