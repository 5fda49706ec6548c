//! JSON -> message, following stout's `protobuf::parse<T>` (`internal::Parser`).

use base64::Engine as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

use super::{Error, kind_of};

/// Builds a message of type `desc` from `v`, then checks its `required` fields.
pub(super) fn message(
    desc: &MessageDescriptor,
    v: &Json,
    max_depth: usize,
) -> Result<DynamicMessage, Error> {
    let Json::Object(object) = v else {
        return Err(Error::NotAnObject {
            message: desc.full_name().to_owned(),
            found: kind_of(v),
        });
    };
    let mut parser = Parser {
        max_depth,
        path: String::new(),
    };
    let mut msg = DynamicMessage::new(desc.clone());
    parser.object(&mut msg, object, 1)?;

    let mut missing = Vec::new();
    let mut path = String::new();
    missing_required(&msg, &mut path, &mut missing);
    if missing.is_empty() {
        Ok(msg)
    } else {
        Err(Error::MissingRequired { fields: missing })
    }
}

struct Parser {
    max_depth: usize,
    /// Dotted path of the field being parsed, for error messages.
    path: String,
}

impl Parser {
    /// Parses `object` into `msg`; `depth` is the object's own nesting level.
    fn object(
        &mut self,
        msg: &mut DynamicMessage,
        object: &Map<String, Json>,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                limit: self.max_depth,
            });
        }
        let desc = msg.descriptor();
        for (name, value) in object {
            // stout looks fields up by their proto name and skips the rest.
            let Some(field) = desc.get_field_by_name(name) else {
                continue;
            };
            let mark = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(name);
            self.field(msg, &field, value, depth)?;
            self.path.truncate(mark);
        }
        Ok(())
    }

    /// Applies one JSON value to `field` of `msg`: `depth` is the level of the object that
    /// holds the field.
    fn field(
        &mut self,
        msg: &mut DynamicMessage,
        field: &FieldDescriptor,
        value: &Json,
        depth: usize,
    ) -> Result<(), Error> {
        match value {
            // stout: `null` leaves the field unset.
            Json::Null => Ok(()),
            Json::Array(items) => {
                if !field.is_list() && !field.is_map() {
                    return Err(self.wrong_type(expected(field), value));
                }
                if depth + 1 > self.max_depth {
                    return Err(Error::TooDeep {
                        limit: self.max_depth,
                    });
                }
                // stout applies each element to the same field, so nested arrays flatten.
                for (i, item) in items.iter().enumerate() {
                    let mark = self.path.len();
                    self.path.push_str(&format!("[{i}]"));
                    self.field(msg, field, item, depth + 1)?;
                    self.path.truncate(mark);
                }
                Ok(())
            }
            Json::Object(object) if field.is_map() => self.map(msg, field, object, depth + 1),
            _ => {
                let Some(v) = self.value(field, &field.kind(), value, depth)? else {
                    return Ok(()); // an unknown enum name, dropped
                };
                if field.is_list() {
                    if let Value::List(list) = msg.get_field_mut(field) {
                        list.push(v);
                    }
                    Ok(())
                } else {
                    // A singular message merges into what is there (stout's `MutableMessage`).
                    let v = match (v, msg.take_field(field)) {
                        (Value::Message(new), Some(Value::Message(mut old))) => {
                            merge(&mut old, new);
                            Value::Message(old)
                        }
                        (v, _) => v,
                    };
                    self.set(msg, field, v)
                }
            }
        }
    }

    fn set(
        &self,
        msg: &mut DynamicMessage,
        field: &FieldDescriptor,
        v: Value,
    ) -> Result<(), Error> {
        msg.try_set_field(field, v)
            .map_err(|e| Error::InvalidValue {
                field: self.path.clone(),
                reason: e.to_string(),
            })
    }

    /// A map field given as an object: each key is parsed as the key type (as stout parses a
    /// JSON string), each value as the value field.
    fn map(
        &mut self,
        msg: &mut DynamicMessage,
        field: &FieldDescriptor,
        object: &Map<String, Json>,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                limit: self.max_depth,
            });
        }
        let Kind::Message(entry) = field.kind() else {
            return Err(self.wrong_type("a map", &Json::Object(Map::new())));
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        for (key, value) in object {
            let mark = self.path.len();
            self.path.push_str(&format!("[{key}]"));
            let key_json = Json::String(key.clone());
            let key = self
                .value(&key_field, &key_field.kind(), &key_json, depth)?
                .and_then(Value::into_map_key);
            let Some(key) = key else {
                return Err(Error::InvalidValue {
                    field: self.path.clone(),
                    reason: "not a valid map key".to_owned(),
                });
            };
            let value = match value {
                Json::Null => value_field.default_value(),
                Json::Array(_) => return Err(self.wrong_type(expected(&value_field), value)),
                _ => self
                    .value(&value_field, &value_field.kind(), value, depth)?
                    .unwrap_or_else(|| value_field.default_value()),
            };
            if let Value::Map(map) = msg.get_field_mut(field) {
                map.insert(key, value);
            }
            self.path.truncate(mark);
        }
        Ok(())
    }

    /// Converts one non-array JSON value to a value of `kind`. `Ok(None)` is an unknown enum
    /// name on a field that is not `required`, which proto2 (and so stout) drops.
    fn value(
        &mut self,
        field: &FieldDescriptor,
        kind: &Kind,
        json: &Json,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        let v = match (kind, json) {
            (Kind::Message(desc), Json::Object(object)) => {
                let mut child = DynamicMessage::new(desc.clone());
                self.object(&mut child, object, depth + 1)?;
                Value::Message(child)
            }
            (Kind::String, Json::String(s)) => Value::String(s.clone()),
            (Kind::Bytes, Json::String(s)) => Value::Bytes(self.base64(s)?.into()),
            (Kind::Enum(e), Json::String(name)) => match e.get_value_by_name(name) {
                Some(v) => Value::EnumNumber(v.number()),
                None if field.is_required() => {
                    return Err(Error::UnknownEnum {
                        field: self.path.clone(),
                        value: name.clone(),
                    });
                }
                None => return Ok(None),
            },
            (Kind::Bool, Json::Bool(b)) => Value::Bool(*b),
            (Kind::Bool, Json::String(s)) => match s.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(self.invalid(format!("failed to parse '{s}' as a JSON boolean")));
                }
            },
            (Kind::Double | Kind::Float, Json::String(s)) => {
                let f = match s.as_str() {
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    "NaN" => f64::NAN,
                    _ => self.number_in_string(s)?.as_f64().unwrap_or(f64::NAN),
                };
                float(kind, f)
            }
            (Kind::Double | Kind::Float, Json::Number(n)) => {
                float(kind, n.as_f64().unwrap_or(f64::NAN))
            }
            (k, Json::String(s)) if is_integer(k) => {
                let n = self.number_in_string(s)?;
                self.integer(k, &n)?
            }
            (k, Json::Number(n)) if is_integer(k) => self.integer(k, n)?,
            _ => return Err(self.wrong_type(expected(field), json)),
        };
        Ok(Some(v))
    }

    /// stout parses a string given for a number field as a JSON number.
    fn number_in_string(&self, s: &str) -> Result<Number, Error> {
        serde_json::from_str::<Number>(s)
            .map_err(|e| self.invalid(format!("failed to parse '{s}' as a JSON number: {e}")))
    }

    /// An integer of `kind`'s width. A fractional number is truncated, as stout's
    /// `static_cast` does; out-of-range and non-finite values (undefined behaviour in stout)
    /// are rejected.
    fn integer(&self, kind: &Kind, n: &Number) -> Result<Value, Error> {
        let wide: Option<i128> = if let Some(i) = n.as_i64() {
            Some(i.into())
        } else if let Some(u) = n.as_u64() {
            Some(u.into())
        } else {
            n.as_f64()
                .filter(|f| f.is_finite())
                // Saturating; anything beyond i128 fails the range check below anyway.
                .map(|f| f.trunc() as i128)
        };
        let out_of_range = || self.invalid(format!("{n} is out of range for {}", kind_name(kind)));
        let wide = wide.ok_or_else(out_of_range)?;
        let v = match kind {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => i32::try_from(wide)
                .map(Value::I32)
                .map_err(|_| out_of_range())?,
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => i64::try_from(wide)
                .map(Value::I64)
                .map_err(|_| out_of_range())?,
            Kind::Uint32 | Kind::Fixed32 => u32::try_from(wide)
                .map(Value::U32)
                .map_err(|_| out_of_range())?,
            _ => u64::try_from(wide)
                .map(Value::U64)
                .map_err(|_| out_of_range())?,
        };
        Ok(v)
    }

    /// stout's base64 decoder: skips whitespace, stops at the first `=`, and takes what is
    /// left without requiring padding.
    fn base64(&self, s: &str) -> Result<Vec<u8>, Error> {
        let mut text: Vec<u8> = Vec::with_capacity(s.len());
        for &b in s.as_bytes() {
            match b {
                b'=' => break,
                b if b.is_ascii_whitespace() => {}
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => text.push(b),
                other => {
                    return Err(self.invalid(format!(
                        "failed to base64 decode bytes: invalid character '{}'",
                        char::from(other).escape_default()
                    )));
                }
            }
        }
        // A lone trailing sextet carries no whole byte; stout drops it.
        if text.len() % 4 == 1 {
            text.pop();
        }
        BASE64_LENIENT
            .decode(&text)
            .map_err(|e| self.invalid(format!("failed to base64 decode bytes: {e}")))
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidValue {
            field: self.path.clone(),
            reason,
        }
    }

    fn wrong_type(&self, expected: &'static str, found: &Json) -> Error {
        Error::WrongType {
            field: self.path.clone(),
            expected,
            found: kind_of(found),
        }
    }
}

/// Standard alphabet, padding optional, stray low bits in the last sextet ignored (stout
/// does not check them).
const BASE64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn float(kind: &Kind, f: f64) -> Value {
    if matches!(kind, Kind::Float) {
        Value::F32(f as f32)
    } else {
        Value::F64(f)
    }
}

fn is_integer(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64
    )
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "int32",
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "int64",
        Kind::Uint32 | Kind::Fixed32 => "uint32",
        _ => "uint64",
    }
}

/// What a field accepts, for [`Error::WrongType`].
fn expected(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        return "a JSON object (map)";
    }
    match field.kind() {
        Kind::Message(_) => "a JSON object",
        Kind::Enum(_) => "an enum value name",
        Kind::String => "a string",
        Kind::Bytes => "a base64 string",
        Kind::Bool => "a boolean",
        _ => "a number",
    }
}

/// Merges `from` into `into` field by field, like protobuf's `MergeFrom`: singular fields are
/// replaced (messages merged), repeated fields appended, maps extended.
fn merge(into: &mut DynamicMessage, mut from: DynamicMessage) {
    let fields: Vec<(FieldDescriptor, Value)> = from.take_fields().collect();
    for (field, value) in fields {
        let merged = match (value, into.take_field(&field)) {
            (Value::Message(new), Some(Value::Message(mut old))) => {
                merge(&mut old, new);
                Value::Message(old)
            }
            (Value::List(new), Some(Value::List(mut old))) => {
                old.extend(new);
                Value::List(old)
            }
            (Value::Map(new), Some(Value::Map(mut old))) => {
                old.extend(new);
                Value::Map(old)
            }
            (v, _) => v,
        };
        // Same descriptor on both sides, so the value always fits.
        let _ = into.try_set_field(&field, merged);
    }
}

/// Collects the paths of unset `required` fields, recursing into set messages (the paths
/// protobuf's `InitializationErrorString` reports, with `[i]` for list elements).
fn missing_required(msg: &DynamicMessage, path: &mut String, out: &mut Vec<String>) {
    let desc = msg.descriptor();
    for field in desc.fields() {
        let mark = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(field.name());
        if field.is_required() && !msg.has_field(&field) {
            out.push(path.clone());
        } else if msg.has_field(&field) {
            match &*msg.get_field(&field) {
                Value::Message(m) => missing_required(m, path, out),
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Value::Message(m) = item {
                            let mark = path.len();
                            path.push_str(&format!("[{i}]"));
                            missing_required(m, path, out);
                            path.truncate(mark);
                        }
                    }
                }
                Value::Map(entries) => {
                    let mut keyed: Vec<(&MapKey, &Value)> = entries.iter().collect();
                    keyed.sort_by(|a, b| a.0.cmp(b.0));
                    for (key, item) in keyed {
                        if let Value::Message(m) = item {
                            let mark = path.len();
                            path.push_str(&format!("[{}]", super::to_json::map_key(key)));
                            missing_required(m, path, out);
                            path.truncate(mark);
                        }
                    }
                }
                _ => {}
            }
        }
        path.truncate(mark);
    }
}
