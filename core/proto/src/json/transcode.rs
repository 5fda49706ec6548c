//! Protobuf wire bytes -> Mesos JSON in one pass, driven by a plan built once from the
//! descriptors.
//!
//! [`super::to_vec`] used to encode the message, decode it into a prost-reflect
//! `DynamicMessage`, build a `serde_json::Value` tree and serialise that: four copies of every
//! task of a `GET_STATE` (issue 19's profile: half of a 100k-task dump). This module reads the
//! encoding once and writes JSON straight into the output buffer; nothing per field is
//! allocated except for maps (sorted by key) and merged sub-messages.
//!
//! Why a transcoder and not code generated per message: the wire bytes are the one form every
//! caller already has (a prost message encodes itself without reflection, and the master can
//! write a dump's bytes from references to its state), the rules then live in one place, and
//! the old reflection path can be kept as an exact oracle on any bytes, including bytes
//! prost would never write (unknown fields, repeated singular fields, unpacked/packed mixes).
//!
//! The output is byte-for-byte that of the reflection path (`to_json.rs`), whose rules are
//! stout's (see the module doc of [`super`]). Its decoding rules are prost-reflect's, which
//! that path used: the last value of a singular scalar wins, occurrences of a singular message
//! merge, repeated scalars may be packed or not, a member of a `oneof` clears the others, a
//! map keeps the last entry for a key, unknown fields are skipped, enum numbers the enum does
//! not name are dropped from the output.
//!
//! Proto3 fields without presence (`google.protobuf.Duration`'s) are written when they differ
//! from their default, as prost-reflect's `has_field` says. Not handled (the plan marks the
//! message and [`Error::Unsupported`] sends the caller back to the reflection path): proto2
//! groups, which Mesos's schemas do not use.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use prost::encoding::WireType;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

/// Why bytes could not be transcoded. The caller falls back to (or, in tests, compares with)
/// the reflection path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message type is not in the descriptor pool.
    #[error("message type {0} is not in the descriptor pool")]
    UnknownType(String),
    /// The bytes are not a valid encoding of the message.
    #[error("invalid wire bytes for {message}: {reason}")]
    Wire {
        /// Full name of the message being read.
        message: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// Messages nest deeper than prost's recursion limit.
    #[error("messages nest deeper than {0}")]
    TooDeep(usize),
    /// The message uses a construct the transcoder leaves to the reflection path.
    #[error("{0} has a group field")]
    Unsupported(String),
}

/// prost's `DecodeContext` recursion limit: a deeper encoding does not decode at all.
const RECURSION_LIMIT: usize = 100;

/// A field's type, with the plan index of its message or enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Int32,
    Sint32,
    Sfixed32,
    Int64,
    Sint64,
    Sfixed64,
    Uint32,
    Fixed32,
    Uint64,
    Fixed64,
    Float,
    Double,
    String,
    Bytes,
    Enum(usize),
    Message(usize),
}

impl Ty {
    fn wire_type(self) -> WireType {
        match self {
            Ty::Bool
            | Ty::Int32
            | Ty::Sint32
            | Ty::Int64
            | Ty::Sint64
            | Ty::Uint32
            | Ty::Uint64
            | Ty::Enum(_) => WireType::Varint,
            Ty::Sfixed32 | Ty::Fixed32 | Ty::Float => WireType::ThirtyTwoBit,
            Ty::Sfixed64 | Ty::Fixed64 | Ty::Double => WireType::SixtyFourBit,
            Ty::String | Ty::Bytes | Ty::Message(_) => WireType::LengthDelimited,
        }
    }

    fn packable(self) -> bool {
        !matches!(self, Ty::String | Ty::Bytes | Ty::Message(_))
    }
}

#[derive(Debug)]
enum Shape {
    /// One value; `unset` is the JSON written when the field is absent (an explicit,
    /// non-deprecated default, or a `required` field's type default), `None` to omit it.
    /// An absent `required` message field is written as its empty message.
    Singular {
        unset: Option<Box<[u8]>>,
        required_message: bool,
        /// Plan indices (within the message) of the other members of its `oneof`.
        oneof_siblings: Box<[usize]>,
        /// For a proto3 field without presence, the JSON of its default: such a field is
        /// written only when its value differs from it (prost-reflect's `has_field`).
        implicit: Option<Box<[u8]>>,
    },
    List,
    /// A map: `value` is the entry's value type; `value_unset` the JSON of an entry without a
    /// value (`None` when that is an unnamed enum number, or a message, rendered empty).
    Map {
        key: Ty,
        value: Ty,
        value_unset: Option<Box<[u8]>>,
    },
}

#[derive(Debug)]
struct FieldPlan {
    number: u32,
    /// `"name":`, escaped once.
    key: Box<[u8]>,
    ty: Ty,
    shape: Shape,
}

#[derive(Debug)]
struct MessagePlan {
    full_name: String,
    /// In declaration order (stout's `descriptor->field(i)` loop).
    fields: Vec<FieldPlan>,
    /// Field number -> index in `fields`, sorted by number.
    by_number: Vec<(u32, usize)>,
    has_oneofs: bool,
    unsupported: bool,
}

impl MessagePlan {
    fn slot(&self, number: u32) -> Option<usize> {
        self.by_number
            .binary_search_by_key(&number, |&(n, _)| n)
            .ok()
            .map(|i| self.by_number[i].1)
    }
}

/// Every message and enum of a descriptor pool, indexed for transcoding.
#[derive(Debug)]
pub(super) struct Plan {
    messages: Vec<MessagePlan>,
    /// Per enum: number -> its name as a JSON string (the first value with that number, as
    /// prost-reflect's `get_value`).
    enums: Vec<HashMap<i32, Box<[u8]>>>,
    message_index: HashMap<String, usize>,
}

impl Plan {
    pub(super) fn new(pool: &DescriptorPool) -> Plan {
        let message_index: HashMap<String, usize> = pool
            .all_messages()
            .enumerate()
            .map(|(i, m)| (m.full_name().to_owned(), i))
            .collect();
        let enum_index: HashMap<String, usize> = pool
            .all_enums()
            .enumerate()
            .map(|(i, e)| (e.full_name().to_owned(), i))
            .collect();
        let enums = pool
            .all_enums()
            .map(|e| {
                e.values()
                    .filter_map(|v| {
                        let name = e.get_value(v.number())?.name().to_owned();
                        Some((v.number(), json_string(&name).into_boxed_slice()))
                    })
                    .collect()
            })
            .collect();
        let ty_of = |kind: &Kind| -> Ty {
            match kind {
                Kind::Bool => Ty::Bool,
                Kind::Int32 => Ty::Int32,
                Kind::Sint32 => Ty::Sint32,
                Kind::Sfixed32 => Ty::Sfixed32,
                Kind::Int64 => Ty::Int64,
                Kind::Sint64 => Ty::Sint64,
                Kind::Sfixed64 => Ty::Sfixed64,
                Kind::Uint32 => Ty::Uint32,
                Kind::Fixed32 => Ty::Fixed32,
                Kind::Uint64 => Ty::Uint64,
                Kind::Fixed64 => Ty::Fixed64,
                Kind::Float => Ty::Float,
                Kind::Double => Ty::Double,
                Kind::String => Ty::String,
                Kind::Bytes => Ty::Bytes,
                Kind::Enum(e) => Ty::Enum(enum_index[e.full_name()]),
                Kind::Message(m) => Ty::Message(message_index[m.full_name()]),
            }
        };
        let messages = pool
            .all_messages()
            .map(|desc| message_plan(&desc, &ty_of))
            .collect();
        Plan {
            messages,
            enums,
            message_index,
        }
    }

    /// Appends the JSON of the message `full_name` encoded in `wire` to `out`. On error `out`
    /// holds a partial document: the caller truncates it.
    pub(super) fn transcode(
        &self,
        full_name: &str,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let index = *self
            .message_index
            .get(full_name)
            .ok_or_else(|| Error::UnknownType(full_name.to_owned()))?;
        Writer {
            plan: self,
            out,
            scratch: Vec::new(),
        }
        .message(index, &[wire], 0)
    }
}

fn message_plan(desc: &MessageDescriptor, ty_of: &dyn Fn(&Kind) -> Ty) -> MessagePlan {
    let mut fields = Vec::new();
    let mut unsupported = false;
    let mut oneof_of: Vec<Option<String>> = Vec::new();
    for (field, emit_default) in super::declared_fields(desc) {
        if field.is_group() {
            unsupported = true;
        }
        let ty = ty_of(&field.kind());
        let shape = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            let value_field = entry.map_entry_value_field();
            let value_unset = match value_field.kind() {
                Kind::Message(_) => None,
                _ => unset_json(&value_field),
            };
            Shape::Map {
                key: ty_of(&entry.map_entry_key_field().kind()),
                value: ty_of(&value_field.kind()),
                value_unset,
            }
        } else if field.is_list() {
            Shape::List
        } else {
            let is_message = matches!(ty, Ty::Message(_));
            let unset = if (emit_default || field.is_required()) && !is_message {
                unset_json(&field)
            } else {
                None
            };
            Shape::Singular {
                unset,
                required_message: is_message && field.is_required(),
                oneof_siblings: Box::new([]),
                implicit: if field.supports_presence() || is_message {
                    None
                } else {
                    // Always Some for a scalar; None would only mean an enum without values.
                    Some(unset_json(&field).unwrap_or_default())
                },
            }
        };
        oneof_of.push(
            field
                .containing_oneof()
                .map(|o| o.full_name().to_owned())
                .filter(|_| !field.is_list() && !field.is_map()),
        );
        let mut key = json_string(field.name());
        key.push(b':');
        fields.push(FieldPlan {
            number: field.number(),
            key: key.into_boxed_slice(),
            ty,
            shape,
        });
    }
    let mut has_oneofs = false;
    for (i, oneof) in oneof_of.iter().enumerate() {
        let Some(oneof) = oneof else { continue };
        has_oneofs = true;
        let siblings: Vec<usize> = oneof_of
            .iter()
            .enumerate()
            .filter(|&(j, o)| j != i && o.as_deref() == Some(oneof.as_str()))
            .map(|(j, _)| j)
            .collect();
        if let Shape::Singular { oneof_siblings, .. } = &mut fields[i].shape {
            *oneof_siblings = siblings.into_boxed_slice();
        }
    }
    let mut by_number: Vec<(u32, usize)> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.number, i))
        .collect();
    by_number.sort_unstable();
    MessagePlan {
        full_name: desc.full_name().to_owned(),
        fields,
        by_number,
        has_oneofs,
        unsupported,
    }
}

/// The JSON the reflection path writes for `field` when it holds its default: computed by that
/// path itself, so the two agree by construction.
fn unset_json(field: &FieldDescriptor) -> Option<Box<[u8]>> {
    let value =
        super::to_json::field_value(field, &prost_reflect::Value::default_value_for_field(field))?;
    serde_json::to_vec(&value).ok().map(Vec::into_boxed_slice)
}

fn json_string(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// A JSON string with serde_json's escaping (the reflection path's writer).
fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A double as serde_json writes one (`5.0`, `1e+300`: whichever shortest-digits formatter
/// the serde_json in use has, so it is serde_json that writes it), non-finite ones as the
/// strings the dialect reads back.
fn write_double(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &f);
    } else if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// One field occurrence on the wire: which field (plan index), its wire type, and the bytes
/// of its value (a length-delimited value without its length).
#[derive(Debug, Clone, Copy)]
struct Occurrence<'a> {
    slot: usize,
    wire_type: WireType,
    data: &'a [u8],
}

/// A map key, ordered as prost-reflect's `MapKey` (by value; all keys of a map share a type).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum MapKey<'a> {
    Bool(bool),
    I64(i64),
    U64(u64),
    String(&'a str),
}

/// Writes one document. Every slice it handles borrows the document's wire bytes (`'w`).
struct Writer<'p, 'o, 'w> {
    plan: &'p Plan,
    out: &'o mut Vec<u8>,
    /// Occurrences of the messages being written, a stack: each message uses the tail it
    /// pushed and truncates it when done (one allocation for the whole document).
    scratch: Vec<Occurrence<'w>>,
}

impl<'p, 'w> Writer<'p, '_, 'w> {
    fn wire_error(&self, index: usize, reason: &'static str) -> Error {
        Error::Wire {
            message: self.plan.messages[index].full_name.clone(),
            reason,
        }
    }

    /// Writes message `index` whose encoding is the concatenation of `chunks` (several chunks
    /// are occurrences of a singular message field, which merge).
    fn message(&mut self, index: usize, chunks: &[&'w [u8]], depth: usize) -> Result<(), Error> {
        if depth > RECURSION_LIMIT {
            return Err(Error::TooDeep(RECURSION_LIMIT));
        }
        let plan = &self.plan.messages[index];
        if plan.unsupported {
            return Err(Error::Unsupported(plan.full_name.clone()));
        }
        let base = self.scratch.len();
        let result = self.message_inner(index, chunks, depth, base);
        self.scratch.truncate(base);
        result
    }

    fn message_inner(
        &mut self,
        index: usize,
        chunks: &[&'w [u8]],
        depth: usize,
        base: usize,
    ) -> Result<(), Error> {
        let plan: &'p MessagePlan = &self.plan.messages[index];
        for chunk in chunks {
            let mut buf: &'w [u8] = chunk;
            while !buf.is_empty() {
                let (number, wire_type) = prost::encoding::decode_key(&mut buf)
                    .map_err(|_| self.wire_error(index, "invalid key"))?;
                let slot = plan.slot(number);
                // prost-reflect reads a map entry as length-delimited whatever its wire type
                // says (it never checks it); the oracle's reading is the contract.
                let read_as = match slot.map(|s| &plan.fields[s].shape) {
                    Some(Shape::Map { .. }) => WireType::LengthDelimited,
                    _ => wire_type,
                };
                let data = take_value(&mut buf, number, read_as, 0)
                    .ok_or_else(|| self.wire_error(index, "truncated or invalid value"))?;
                let Some(slot) = slot else {
                    continue; // unknown field
                };
                self.scratch.push(Occurrence {
                    slot,
                    wire_type,
                    data,
                });
            }
        }
        if plan.has_oneofs {
            self.clear_oneofs(index, base);
        }
        // Declaration order; within a field, wire order (the sort is stable).
        self.scratch[base..].sort_by_key(|o| o.slot);

        self.out.push(b'{');
        let mut first = true;
        let mut at = base;
        for (slot, field) in plan.fields.iter().enumerate() {
            let start = at;
            while at < self.scratch.len() && self.scratch[at].slot == slot {
                at += 1;
            }
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            self.out.extend_from_slice(&field.key);
            let written = self.field(index, field, start, at, depth)?;
            if written {
                first = false;
            } else {
                self.out.truncate(mark);
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Drops the occurrences a later member of the same `oneof` cleared.
    fn clear_oneofs(&mut self, index: usize, base: usize) {
        let plan: &'p MessagePlan = &self.plan.messages[index];
        let mut cleared = vec![false; self.scratch.len() - base];
        // Walking backwards: the last member seen wins; once another member of its oneof is
        // seen, it and everything of that oneof before it were cleared.
        let mut closed: Vec<usize> = Vec::new(); // slots whose oneof is closed
        let mut winner: Vec<usize> = Vec::new();
        for i in (base..self.scratch.len()).rev() {
            let slot = self.scratch[i].slot;
            let Shape::Singular { oneof_siblings, .. } = &plan.fields[slot].shape else {
                continue;
            };
            if oneof_siblings.is_empty() {
                continue;
            }
            let in_group = |s: &usize| *s == slot || oneof_siblings.contains(s);
            if closed.iter().any(in_group) {
                cleared[i - base] = true;
            } else if let Some(&w) = winner.iter().find(|w| in_group(w)) {
                if w != slot {
                    cleared[i - base] = true;
                    closed.push(slot);
                }
            } else {
                winner.push(slot);
            }
        }
        let mut i = 0;
        self.scratch.retain(|_| {
            let keep = i < base || !cleared[i - base];
            i += 1;
            keep
        });
    }

    /// Writes one field's value (its key is already written); `false` when the field is not
    /// written at all.
    fn field(
        &mut self,
        index: usize,
        field: &FieldPlan,
        start: usize,
        end: usize,
        depth: usize,
    ) -> Result<bool, Error> {
        match &field.shape {
            Shape::Singular {
                unset,
                required_message,
                implicit,
                ..
            } => {
                if start == end {
                    if let Some(json) = unset {
                        self.out.extend_from_slice(json);
                        return Ok(true);
                    }
                    if *required_message {
                        if let Ty::Message(m) = field.ty {
                            self.message(m, &[], depth + 1)?;
                            return Ok(true);
                        }
                    }
                    return Ok(false);
                }
                for i in start..end {
                    let o = self.scratch[i];
                    if o.wire_type != field.ty.wire_type() {
                        return Err(self.wire_error(index, "wrong wire type"));
                    }
                    if field.ty == Ty::String && std::str::from_utf8(o.data).is_err() {
                        return Err(self.wire_error(index, "string is not UTF-8"));
                    }
                }
                if let Ty::Message(m) = field.ty {
                    if end - start == 1 {
                        let data = self.scratch[start].data;
                        self.message(m, &[data], depth + 1)?;
                    } else {
                        let chunks: Vec<&'w [u8]> =
                            self.scratch[start..end].iter().map(|o| o.data).collect();
                        self.message(m, &chunks, depth + 1)?;
                    }
                    return Ok(true);
                }
                let last = self.scratch[end - 1].data;
                let at = self.out.len();
                let written = self.scalar(index, field.ty, last)?;
                if let Some(default) = implicit {
                    let zero = match field.ty {
                        Ty::Float => f32::from_le_bytes(fixed(last)) == 0.0,
                        Ty::Double => f64::from_le_bytes(fixed(last)) == 0.0,
                        _ => self.out[at..] == **default,
                    };
                    if zero {
                        return Ok(false);
                    }
                }
                Ok(written)
            }
            Shape::List => {
                self.out.push(b'[');
                let mut count = 0usize;
                let mut written = 0usize;
                for i in start..end {
                    let o = self.scratch[i];
                    if o.wire_type == WireType::LengthDelimited && field.ty.packable() {
                        let mut buf = o.data;
                        while !buf.is_empty() {
                            let value = take_value(&mut buf, 0, field.ty.wire_type(), 0)
                                .ok_or_else(|| self.wire_error(index, "bad packed value"))?;
                            count += 1;
                            self.element(index, field.ty, value, &mut written, depth)?;
                        }
                    } else {
                        if o.wire_type != field.ty.wire_type() {
                            return Err(self.wire_error(index, "wrong wire type"));
                        }
                        count += 1;
                        self.element(index, field.ty, o.data, &mut written, depth)?;
                    }
                }
                self.out.push(b']');
                Ok(count > 0)
            }
            Shape::Map {
                key,
                value,
                value_unset,
            } => {
                if start == end {
                    return Ok(false);
                }
                let mut entries: Vec<(MapKey<'w>, Vec<&'w [u8]>)> = Vec::with_capacity(end - start);
                for i in start..end {
                    let o = self.scratch[i];
                    entries.push(self.map_entry(index, *key, *value, o.data)?);
                }
                // Last entry for a key wins; output sorted by key.
                entries.reverse();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.dedup_by(|later, earlier| later.0 == earlier.0);
                self.out.push(b'{');
                let mut first = true;
                for (k, values) in entries {
                    let mark = self.out.len();
                    if !first {
                        self.out.push(b',');
                    }
                    match k {
                        MapKey::Bool(b) => write_str(self.out, if b { "true" } else { "false" }),
                        MapKey::I64(n) => {
                            self.out.push(b'"');
                            write_int(self.out, n);
                            self.out.push(b'"');
                        }
                        MapKey::U64(n) => {
                            self.out.push(b'"');
                            write_int(self.out, n);
                            self.out.push(b'"');
                        }
                        MapKey::String(s) => write_str(self.out, s),
                    }
                    self.out.push(b':');
                    let written = match (values.last(), value) {
                        (_, Ty::Message(m)) => {
                            self.message(*m, &values, depth + 1)?;
                            true
                        }
                        (Some(data), ty) => self.scalar(index, *ty, data)?,
                        (None, _) => match value_unset {
                            Some(json) => {
                                self.out.extend_from_slice(json);
                                true
                            }
                            None => false,
                        },
                    };
                    if written {
                        first = false;
                    } else {
                        self.out.truncate(mark);
                    }
                }
                self.out.push(b'}');
                Ok(true)
            }
        }
    }

    /// Reads one map entry: its key (the type's default when absent) and the value
    /// occurrences (all of them for a message, which merge; the last for a scalar).
    fn map_entry(
        &self,
        index: usize,
        key_ty: Ty,
        value_ty: Ty,
        entry: &'w [u8],
    ) -> Result<(MapKey<'w>, Vec<&'w [u8]>), Error> {
        let mut key = match key_ty {
            Ty::Bool => MapKey::Bool(false),
            Ty::String => MapKey::String(""),
            Ty::Uint32 | Ty::Fixed32 | Ty::Uint64 | Ty::Fixed64 => MapKey::U64(0),
            _ => MapKey::I64(0),
        };
        let mut values: Vec<&'w [u8]> = Vec::new();
        let mut buf = entry;
        while !buf.is_empty() {
            let (number, wire_type) = prost::encoding::decode_key(&mut buf)
                .map_err(|_| self.wire_error(index, "invalid map entry key"))?;
            let data = take_value(&mut buf, number, wire_type, 0)
                .ok_or_else(|| self.wire_error(index, "truncated map entry"))?;
            match number {
                1 => {
                    if wire_type != key_ty.wire_type() {
                        return Err(self.wire_error(index, "wrong wire type"));
                    }
                    key = map_key(key_ty, data)
                        .ok_or_else(|| self.wire_error(index, "bad map key"))?;
                }
                2 => {
                    if wire_type != value_ty.wire_type() {
                        return Err(self.wire_error(index, "wrong wire type"));
                    }
                    if value_ty == Ty::String && std::str::from_utf8(data).is_err() {
                        return Err(self.wire_error(index, "string is not UTF-8"));
                    }
                    if !matches!(value_ty, Ty::Message(_)) {
                        values.clear();
                    }
                    values.push(data);
                }
                _ => {}
            }
        }
        Ok((key, values))
    }

    fn element(
        &mut self,
        index: usize,
        ty: Ty,
        data: &'w [u8],
        written: &mut usize,
        depth: usize,
    ) -> Result<(), Error> {
        let mark = self.out.len();
        if *written > 0 {
            self.out.push(b',');
        }
        let ok = if let Ty::Message(m) = ty {
            self.message(m, &[data], depth + 1)?;
            true
        } else {
            if ty == Ty::String && std::str::from_utf8(data).is_err() {
                return Err(self.wire_error(index, "string is not UTF-8"));
            }
            self.scalar(index, ty, data)?
        };
        if ok {
            *written += 1;
        } else {
            self.out.truncate(mark);
        }
        Ok(())
    }

    /// Writes one non-message value read from `data` (its wire type already checked);
    /// `false` for an enum number its enum does not name (nothing written).
    fn scalar(&mut self, index: usize, ty: Ty, data: &[u8]) -> Result<bool, Error> {
        let plan: &'p Plan = self.plan;
        let bad = || Error::Wire {
            message: plan.messages[index].full_name.clone(),
            reason: "invalid value",
        };
        let out = &mut *self.out;
        match ty {
            Ty::Bool => {
                let v = varint(data).ok_or_else(bad)?;
                out.extend_from_slice(if v != 0 { b"true" } else { b"false" });
            }
            Ty::Int32 => write_int(out, varint(data).ok_or_else(bad)? as i32),
            Ty::Int64 => write_int(out, varint(data).ok_or_else(bad)? as i64),
            Ty::Uint32 => write_int(out, varint(data).ok_or_else(bad)? as u32),
            Ty::Uint64 => write_int(out, varint(data).ok_or_else(bad)?),
            Ty::Sint32 => {
                let v = varint(data).ok_or_else(bad)? as u32;
                write_int(out, ((v >> 1) as i32) ^ (-((v & 1) as i32)));
            }
            Ty::Sint64 => {
                let v = varint(data).ok_or_else(bad)?;
                write_int(out, ((v >> 1) as i64) ^ (-((v & 1) as i64)));
            }
            Ty::Fixed32 => write_int(out, u32::from_le_bytes(fixed(data))),
            Ty::Sfixed32 => write_int(out, i32::from_le_bytes(fixed(data))),
            Ty::Fixed64 => write_int(out, u64::from_le_bytes(fixed(data))),
            Ty::Sfixed64 => write_int(out, i64::from_le_bytes(fixed(data))),
            Ty::Float => write_double(out, f64::from(f32::from_le_bytes(fixed(data)))),
            Ty::Double => write_double(out, f64::from_le_bytes(fixed(data))),
            Ty::String => {
                let s = std::str::from_utf8(data).map_err(|_| bad())?;
                write_str(out, s);
            }
            Ty::Bytes => {
                let engine = &base64::engine::general_purpose::STANDARD;
                let at = out.len();
                out.push(b'"');
                out.resize(
                    at + 1 + base64::encoded_len(data.len(), true).unwrap_or(0),
                    0,
                );
                let n = engine.encode_slice(data, &mut out[at + 1..]).unwrap_or(0);
                out.truncate(at + 1 + n);
                out.push(b'"');
            }
            Ty::Enum(e) => {
                let n = varint(data).ok_or_else(bad)? as i32;
                match plan.enums[e].get(&n) {
                    Some(name) => out.extend_from_slice(name),
                    None => return Ok(false),
                }
            }
            Ty::Message(_) => return Err(bad()),
        }
        Ok(true)
    }
}

fn varint(mut data: &[u8]) -> Option<u64> {
    prost::encoding::decode_varint(&mut data).ok()
}

fn fixed<const N: usize>(data: &[u8]) -> [u8; N] {
    let mut bytes = [0u8; N];
    if data.len() == N {
        bytes.copy_from_slice(data);
    }
    bytes
}

fn map_key(ty: Ty, data: &[u8]) -> Option<MapKey<'_>> {
    Some(match ty {
        Ty::Bool => MapKey::Bool(varint(data)? != 0),
        Ty::Int32 => MapKey::I64(i64::from(varint(data)? as i32)),
        Ty::Int64 => MapKey::I64(varint(data)? as i64),
        Ty::Uint32 => MapKey::U64(u64::from(varint(data)? as u32)),
        Ty::Uint64 => MapKey::U64(varint(data)?),
        Ty::Sint32 => {
            let v = varint(data)? as u32;
            MapKey::I64(i64::from(((v >> 1) as i32) ^ (-((v & 1) as i32))))
        }
        Ty::Sint64 => {
            let v = varint(data)?;
            MapKey::I64(((v >> 1) as i64) ^ (-((v & 1) as i64)))
        }
        Ty::Fixed32 => MapKey::U64(u64::from(u32::from_le_bytes(fixed(data)))),
        Ty::Sfixed32 => MapKey::I64(i64::from(i32::from_le_bytes(fixed(data)))),
        Ty::Fixed64 => MapKey::U64(u64::from_le_bytes(fixed(data))),
        Ty::Sfixed64 => MapKey::I64(i64::from_le_bytes(fixed(data))),
        Ty::String => MapKey::String(std::str::from_utf8(data).ok()?),
        _ => return None,
    })
}

/// Takes one value of `wire_type` off the front of `buf`: the varint's bytes, the fixed
/// bytes, a length-delimited value's payload, or a whole group (`number` is its field number).
/// `None` if it is truncated or malformed.
fn take_value<'a>(
    buf: &mut &'a [u8],
    number: u32,
    wire_type: WireType,
    depth: usize,
) -> Option<&'a [u8]> {
    let whole: &'a [u8] = buf;
    match wire_type {
        WireType::Varint => {
            prost::encoding::decode_varint(buf).ok()?;
            Some(&whole[..whole.len() - buf.len()])
        }
        WireType::ThirtyTwoBit => split(buf, 4),
        WireType::SixtyFourBit => split(buf, 8),
        WireType::LengthDelimited => {
            let len = usize::try_from(prost::encoding::decode_varint(buf).ok()?).ok()?;
            split(buf, len)
        }
        WireType::StartGroup => {
            if depth >= RECURSION_LIMIT {
                return None;
            }
            loop {
                let (n, w) = prost::encoding::decode_key(buf).ok()?;
                if w == WireType::EndGroup {
                    return (n == number).then_some(&whole[..0]);
                }
                take_value(buf, n, w, depth + 1)?;
            }
        }
        WireType::EndGroup => None,
    }
}

fn split<'a>(buf: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if buf.len() < len {
        return None;
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Some(head)
}

/// The plan of [`super::pool`], built once.
pub(super) fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| Plan::new(super::pool()))
}
