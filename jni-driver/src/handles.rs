//! Id tables: how Java objects with natives (`AbstractState`, `Variable`, the state's
//! futures, `LogState`, `Log`, `Log$Reader`, `Log$Writer`, `V1Mesos`, `V0Mesos`) find their
//! Rust object. The Java `long` field holds an id, not a pointer; the table holds an
//! `Arc`. `finalize` removes the id and zeroes the field, and a call in flight keeps its own
//! `Arc`, so an object finalized twice, finalized while another thread uses it (Java may call
//! `finalize()` itself), or used after its `finalize`, finds nothing and throws
//! `IllegalStateException` — never a dangling pointer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use jni::objects::JObject;
use jni::strings::JNIString;
use jni::sys::jlong;
use jni::{Env, JValue, jni_sig};

use crate::{Result, throw};

/// Live native objects by id. A short `std::sync::Mutex`: one map access per native call.
pub(crate) struct Handles<T> {
    live: Mutex<HashMap<jlong, Arc<T>>>,
}

/// Ids are never reused, and unique across the tables, so a stale or mixed-up id finds
/// nothing.
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

impl<T> Handles<T> {
    pub(crate) fn new() -> Handles<T> {
        Handles {
            live: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn insert(&self, value: Arc<T>) -> jlong {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, value);
        id
    }

    pub(crate) fn get(&self, env: &mut Env, id: jlong, what: &str) -> Result<Arc<T>> {
        let found = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        found.ok_or_else(|| {
            throw(
                env,
                "java/lang/IllegalStateException",
                &format!("the {what} was finalized (or never initialized)"),
            )
        })
    }

    pub(crate) fn remove(&self, id: jlong) -> Option<Arc<T>> {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    }

    /// Puts `value` in the table and its id in `this.<field>`.
    pub(crate) fn attach(
        &self,
        env: &mut Env,
        this: &JObject,
        field: &'static str,
        value: Arc<T>,
    ) -> Result<jlong> {
        let id = self.insert(value);
        if let Err(e) = set_long_field(env, this, field, id) {
            self.remove(id);
            return Err(e);
        }
        Ok(id)
    }

    /// The object behind `this.<field>`.
    pub(crate) fn of(
        &self,
        env: &mut Env,
        this: &JObject,
        field: &'static str,
        what: &str,
    ) -> Result<Arc<T>> {
        let id = long_field(env, this, field)?;
        self.get(env, id, what)
    }

    /// `finalize`: zeroes `this.<field>` and forgets its object (dropped once the calls in
    /// flight that hold it end). A second call finds 0 and does nothing.
    pub(crate) fn detach(&self, env: &mut Env, this: &JObject, field: &'static str) -> Result<()> {
        let id = long_field(env, this, field)?;
        set_long_field(env, this, field, 0)?;
        drop(self.remove(id));
        Ok(())
    }
}

pub(crate) fn long_field(env: &mut Env, this: &JObject, name: &'static str) -> Result<jlong> {
    Ok(env
        .get_field(this, JNIString::new(name), jni_sig!("J"))?
        .j()?)
}

pub(crate) fn set_long_field(
    env: &mut Env,
    this: &JObject,
    name: &'static str,
    value: jlong,
) -> Result<()> {
    env.set_field(
        this,
        JNIString::new(name),
        jni_sig!("J"),
        JValue::Long(value),
    )?;
    Ok(())
}
