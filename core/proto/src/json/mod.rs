//! Mesos's JSON dialect for every message in this crate.
//!
//! Mesos converts between protobuf and JSON with stout's reflection-based code
//! (`3rdparty/stout/include/stout/protobuf.hpp`: `JSON::Protobuf` for output,
//! `protobuf::parse<T>` for input), not protobuf's canonical JSON mapping. This module
//! implements the same rules once, driven by the descriptors in [`crate::FILE_DESCRIPTOR_SET`]
//! (reference/mesos-contract.md §3.1, DESIGN.md §2):
//!
//! Output ([`to_value`], [`to_vec`]):
//! - keys are the original snake_case field names, in declaration order;
//! - enums are their value names; `bytes` are standard base64 with padding;
//! - 64-bit integers are JSON numbers (not strings); doubles print as numbers (`5.0`);
//! - repeated and map fields are omitted when empty; maps are JSON objects whose keys are
//!   the map keys as text;
//! - a singular field is emitted when it is set, or when it is unset but declares an explicit
//!   `[default = ...]` and is not `deprecated` (so `Filters{}` is `{"refuse_seconds":5.0}`).
//!
//! Input ([`from_value`], [`from_slice`]):
//! - the top-level value must be an object; unknown keys are ignored, `null` means unset;
//! - numbers may also be given as strings holding a JSON number (`"5050"`), booleans as
//!   `"true"`/`"false"`, doubles as `"Infinity"`/`"-Infinity"`;
//! - enums only by name: a number is rejected; an unknown name is an error for a `required`
//!   field and is silently dropped otherwise (proto2's behaviour for unknown enum values);
//! - a repeated field takes an array, or a single element, and nested arrays are flattened;
//!   a map takes an object (or an array of objects);
//! - `bytes` are base64, decoded leniently like stout (whitespace skipped, padding optional);
//! - after parsing, every proto2 `required` field must be set, else [`Error::MissingRequired`]
//!   names the paths.
//!
//! Where stout has undefined behaviour or would abort, this module returns an error instead:
//! integers out of the field's range and non-finite numbers for integer fields are rejected
//! (stout `static_cast`s them). Non-finite doubles, which stout's writer cannot print, are
//! written as the strings `"Infinity"`, `"-Infinity"` and `"NaN"`, and read back.
//!
//! Parsing never panics. [`from_slice`] rejects bodies over [`Limits::max_bytes`] and nesting
//! deeper than [`Limits::max_depth`] before building anything; [`from_value`] checks depth as
//! it walks.

mod from_json;
mod to_json;
mod transcode;

pub use transcode::Error as TranscodeError;

use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

/// Errors from converting JSON into a message.
///
/// [`Error::Json`] is a syntax error in the body (Mesos answers `400` with
/// `Failed to parse body into JSON: <error>`); every other variant means the JSON is
/// well-formed but is not the message (`Failed to convert JSON into Call protobuf: <error>`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is larger than [`Limits::max_bytes`].
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the rejected body.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The body nests objects and arrays deeper than [`Limits::max_depth`].
    #[error("JSON nesting exceeds the maximum depth of {limit}")]
    TooDeep {
        /// The limit it exceeded.
        limit: usize,
    },
    /// The body is not valid JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The top-level JSON value is not an object.
    #[error("expecting a JSON object for {message}, found {found}")]
    NotAnObject {
        /// Full name of the message type.
        message: String,
        /// What was found instead (`"an array"`, `"a string"`, ...).
        found: &'static str,
    },
    /// A field holds a JSON value of a kind it cannot take.
    #[error("expected {expected} for field '{field}', found {found}")]
    WrongType {
        /// Path of the field, e.g. `subscribe.framework_info.user` or `resources[0].scalar`.
        field: String,
        /// What the field takes (`"a number"`, `"a JSON object"`, ...).
        expected: &'static str,
        /// What was found instead.
        found: &'static str,
    },
    /// A field holds a value of the right kind that does not fit (out of range, bad base64,
    /// a string that is not a number).
    #[error("invalid value for field '{field}': {reason}")]
    InvalidValue {
        /// Path of the field.
        field: String,
        /// Why the value was rejected.
        reason: String,
    },
    /// A `required` enum field names a value its enum does not have.
    #[error("unknown enum value '{value}' for field '{field}'")]
    UnknownEnum {
        /// Path of the field.
        field: String,
        /// The name that was given.
        value: String,
    },
    /// Proto2 `required` fields are unset after parsing.
    #[error("{}", missing_text(.fields))]
    MissingRequired {
        /// Paths of the unset fields, e.g. `subscribe.framework_info.user`.
        fields: Vec<String>,
    },
    /// The Rust type is not described by [`crate::FILE_DESCRIPTOR_SET`] (a programming error,
    /// e.g. a `prost_types` well-known type).
    #[error("message type {0} is not in the descriptor pool")]
    UnknownType(String),
    /// The message built from JSON did not decode as the Rust type (a schema mismatch between
    /// the descriptors and the generated code; not expected).
    #[error("internal error converting to {message}: {source}")]
    Decode {
        /// Full name of the message type.
        message: String,
        /// The decode error.
        source: prost::DecodeError,
    },
}

fn missing_text(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
    if quoted.len() == 1 {
        format!("missing required field {}", quoted[0])
    } else {
        format!("missing required fields {}", quoted.join(", "))
    }
}

/// Bounds on untrusted JSON input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body [`from_slice_with_limits`] accepts, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of JSON objects and arrays accepted; the top-level object is depth 1.
    /// serde_json itself stops at 128, so larger values act as 128.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 16 MiB and depth 64: Mesos's deepest real messages (operator `GET_STATE` responses)
    /// nest about 15 levels; the byte limit is far above any scheduler call or agent
    /// registration.
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// A message's fields in declaration order (stout's `descriptor->field(i)` loop), the order
/// both JSON writers use, each with whether stout writes it when unset for its default: it
/// declares an explicit `[default = ...]` and is not `deprecated`.
fn declared_fields(
    desc: &MessageDescriptor,
) -> impl Iterator<Item = (prost_reflect::FieldDescriptor, bool)> {
    desc.descriptor_proto().field.iter().filter_map(|proto| {
        let field = u32::try_from(proto.number())
            .ok()
            .and_then(|n| desc.get_field(n))?;
        let deprecated = proto.options.as_ref().is_some_and(|o| o.deprecated());
        Some((field, proto.default_value.is_some() && !deprecated))
    })
}

/// The descriptors of every message in this crate, decoded once.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The set is produced by prost-build from the same .proto files as the Rust types, at
        // build time; failing to decode it is a broken build, not a runtime condition.
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("FILE_DESCRIPTOR_SET embedded at build time is a valid descriptor set")
    })
}

fn descriptor<M: prost::Name>() -> Result<MessageDescriptor, Error> {
    let name = M::full_name();
    pool()
        .get_message_by_name(&name)
        .ok_or(Error::UnknownType(name))
}

/// Converts a message to Mesos's JSON.
///
/// # Panics
///
/// If `M` is not described by [`crate::FILE_DESCRIPTOR_SET`] (a programming error: every
/// message type of this crate is).
pub fn to_value<M: prost::Message + prost::Name>(msg: &M) -> serde_json::Value {
    let desc = match descriptor::<M>() {
        Ok(desc) => desc,
        Err(e) => panic!("{e}"),
    };
    // Re-decoding our own encoding with the descriptor of the same schema cannot fail except
    // on nesting beyond prost's recursion limit, which prost would have refused to decode
    // in the first place.
    let dynamic = DynamicMessage::decode(desc.clone(), msg.encode_to_vec().as_slice())
        .unwrap_or_else(|e| {
            debug_assert!(false, "{} does not re-decode: {e}", desc.full_name());
            DynamicMessage::new(desc)
        });
    to_json::message(&dynamic)
}

/// Converts a message to compact Mesos JSON bytes: one encode, then one pass over the wire
/// bytes ([`write_wire`]). The bytes are those of [`to_vec_reflect`].
pub fn to_vec<M: prost::Message + prost::Name>(msg: &M) -> Vec<u8> {
    let mut out = Vec::new();
    write(msg, &mut out);
    out
}

/// Appends the message's Mesos JSON to `out` (see [`to_vec`]).
pub fn write<M: prost::Message + prost::Name>(msg: &M, out: &mut Vec<u8>) {
    let wire = msg.encode_to_vec();
    let at = out.len();
    if let Err(e) = write_wire(&M::full_name(), &wire, out) {
        // Our own encoding only fails to transcode beyond prost's nesting limit or for a
        // schema construct the transcoder leaves to reflection; reflection then decides.
        debug_assert!(
            matches!(
                e,
                TranscodeError::TooDeep(_) | TranscodeError::Unsupported(_)
            ),
            "{e}"
        );
        out.truncate(at);
        out.extend_from_slice(&to_vec_reflect(msg));
    }
}

/// Appends the Mesos JSON of the message `full_name` (e.g. `mesos.v1.master.Response`)
/// encoded as `wire` to `out`, in one pass without decoding it into a message. Lets a
/// caller that writes the protobuf encoding itself (from references to its state) get the
/// JSON of the same message.
///
/// # Errors
///
/// Bytes that are not an encoding of the message, nesting beyond prost's recursion limit,
/// an unknown type; `out` is then left as it was.
pub fn write_wire(full_name: &str, wire: &[u8], out: &mut Vec<u8>) -> Result<(), TranscodeError> {
    let at = out.len();
    transcode::plan()
        .transcode(full_name, wire, out)
        .inspect_err(|_| out.truncate(at))
}

/// [`to_vec`] through prost-reflect: encode, decode into a `DynamicMessage`, build a
/// `serde_json::Value`, serialise it. Kept as the oracle the transcoder is tested against.
pub fn to_vec_reflect<M: prost::Message + prost::Name>(msg: &M) -> Vec<u8> {
    // Serializing a `serde_json::Value` cannot fail: its keys are strings.
    serde_json::to_vec(&to_value(msg)).unwrap_or_default()
}

/// [`write_wire`] through prost-reflect (the oracle): `None` where prost-reflect cannot
/// decode the bytes.
pub fn wire_to_vec_reflect(full_name: &str, wire: &[u8]) -> Option<Vec<u8>> {
    let desc = pool().get_message_by_name(full_name)?;
    let dynamic = DynamicMessage::decode(desc, wire).ok()?;
    serde_json::to_vec(&to_json::message(&dynamic)).ok()
}

/// Converts Mesos JSON into a message, checking `required` fields, with [`Limits::default`]'s
/// depth bound.
pub fn from_value<M>(v: &serde_json::Value) -> Result<M, Error>
where
    M: prost::Message + prost::Name + Default,
{
    from_value_with_limits(v, &Limits::default())
}

/// [`from_value`] with an explicit depth bound (`max_bytes` does not apply to a parsed value).
pub fn from_value_with_limits<M>(v: &serde_json::Value, limits: &Limits) -> Result<M, Error>
where
    M: prost::Message + prost::Name + Default,
{
    let desc = descriptor::<M>()?;
    let dynamic = from_json::message(&desc, v, limits.max_depth)?;
    M::decode(dynamic.encode_to_vec().as_slice()).map_err(|source| Error::Decode {
        message: desc.full_name().to_owned(),
        source,
    })
}

/// Parses a JSON body into a message with [`Limits::default`].
pub fn from_slice<M>(bytes: &[u8]) -> Result<M, Error>
where
    M: prost::Message + prost::Name + Default,
{
    from_slice_with_limits(bytes, &Limits::default())
}

/// Parses a JSON body into a message: size and depth are checked on the raw bytes before
/// anything is built.
pub fn from_slice_with_limits<M>(bytes: &[u8], limits: &Limits) -> Result<M, Error>
where
    M: prost::Message + prost::Name + Default,
{
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    check_depth(bytes, limits.max_depth)?;
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    from_value_with_limits(&value, limits)
}

/// Rejects text whose objects and arrays nest deeper than `max_depth`, without parsing it:
/// brackets inside strings do not count. Malformed text passes through to serde_json, which
/// reports the syntax error.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), Error> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Error::TooDeep { limit: max_depth });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A JSON value's kind as an error message names it.
fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "a JSON object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert!(check_depth(br#"{"a":"[[[[[[[[[["}"#, 2).is_ok());
        assert!(check_depth(br#"{"a":"\"[[[[[[","b":{}}"#, 2).is_ok());
        assert!(matches!(
            check_depth(br#"{"a":{"b":[1]}}"#, 2),
            Err(Error::TooDeep { limit: 2 })
        ));
    }

    #[test]
    fn missing_required_text() {
        let one = Error::MissingRequired {
            fields: vec!["framework_info.user".into()],
        };
        assert_eq!(
            one.to_string(),
            "missing required field 'framework_info.user'"
        );
        let two = Error::MissingRequired {
            fields: vec!["a".into(), "b.c".into()],
        };
        assert_eq!(two.to_string(), "missing required fields 'a', 'b.c'");
    }
}
