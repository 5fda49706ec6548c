//! Protobufs across the boundary: Python → Rust through `SerializeToString()`, Rust →
//! Python through `mesos.interface.mesos_pb2.<Type>().ParseFromString(bytes)`. Whichever
//! `mesos.interface` the user has (ours, or PyPI's 1.7.2) provides `mesos_pb2`: only bytes
//! cross, so both work.

use prost::Message;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use remesos::client::driver::Status;

/// The module the callbacks' messages come from (Apache's extension imports the same).
const MESOS_PB2: &str = "mesos.interface.mesos_pb2";

/// Reads the `mesos_pb2` message `obj` (of v0 type `mesos.<name>`) as the v1 type `T`.
///
/// Anything but a message of that type raises `TypeError`; a message that does not
/// serialize (a required field unset) or decode raises `Exception`, with the original's
/// words "Could not deserialize Python <name>". Nothing reaches the driver then.
pub fn from_python<T: Message + Default>(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<T> {
    let expected = format!("mesos.{name}");
    let full_name = obj
        .getattr("DESCRIPTOR")
        .and_then(|d| d.getattr("full_name"))
        .and_then(|n| n.extract::<String>());
    match full_name {
        Ok(full_name) if full_name == expected => {}
        Ok(full_name) => {
            return Err(PyTypeError::new_err(format!(
                "Could not deserialize Python {name}: expected a mesos_pb2.{name}, got a {full_name}"
            )));
        }
        Err(_) => {
            let type_name = obj
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "object".into());
            return Err(PyTypeError::new_err(format!(
                "Could not deserialize Python {name}: expected a mesos_pb2.{name}, got {type_name}"
            )));
        }
    }
    let serialized = obj
        .call_method0("SerializeToString")
        .map_err(|e| PyException::new_err(format!("Could not deserialize Python {name}: {e}")))?;
    let bytes = serialized.cast::<PyBytes>().map_err(|_| {
        PyException::new_err(format!(
            "Could not deserialize Python {name}: SerializeToString did not return bytes"
        ))
    })?;
    T::decode(bytes.as_bytes())
        .map_err(|e| PyException::new_err(format!("Could not deserialize Python {name}: {e}")))
}

/// `from_python` of an optional argument (`None` or absent: `None`).
pub fn optional<T: Message + Default>(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Option<T>> {
    match obj {
        Some(obj) if !obj.is_none() => from_python(obj, name).map(Some),
        _ => Ok(None),
    }
}

/// Reads a list (any iterable but a string or a message) of `mesos_pb2` messages.
pub fn list<T: Message + Default>(
    obj: &Bound<'_, PyAny>,
    name: &str,
    what: &str,
) -> PyResult<Vec<T>> {
    if obj.is_instance_of::<PyString>() || obj.hasattr("DESCRIPTOR")? {
        return Err(PyTypeError::new_err(format!("{what} is not a list")));
    }
    let items = obj
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} is not a list")))?;
    items
        .map(|item| from_python(&item?, name))
        .collect::<PyResult<Vec<T>>>()
}

/// Offer ids: one `OfferID` or a list of them (the original accepts both).
pub fn offer_ids<T: Message + Default>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<T>> {
    if obj.hasattr("DESCRIPTOR")? {
        return Ok(vec![from_python(obj, "OfferID")?]);
    }
    list(obj, "OfferID", what)
}

/// A list of strings (roles); `None` is empty.
pub fn strings(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} is a string, not a list of strings"
        )));
    }
    obj.try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} is not a list of strings")))?
        .map(|item| item?.extract::<String>())
        .collect()
}

/// Framework message data: bytes, or a string (sent as UTF-8) as Python 2's `str` was.
pub fn data(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(text.to_str()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err("data must be bytes or str"))
}

/// A new `mesos_pb2.<name>` holding `message`.
pub fn to_python<'py, T: Message>(
    py: Python<'py>,
    name: &str,
    message: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let object = py.import(MESOS_PB2)?.getattr(name)?.call0()?;
    object.call_method1(
        "ParseFromString",
        (PyBytes::new(py, &message.encode_to_vec()),),
    )?;
    Ok(object)
}

/// The number of a driver status (`mesos_pb2.DRIVER_RUNNING` and the others), as the
/// original returns it.
pub fn status(status: Status) -> i32 {
    status as i32
}
