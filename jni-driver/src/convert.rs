//! Protobufs across the boundary (reference §1.5): Java → Rust with `toByteArray()`, Rust →
//! Java with the static `parseFrom(byte[])` of the generated class, found through the class
//! loader that loaded the driver. v0 and v1 messages share field numbers, so the v0 bytes
//! Java sends decode as the v1 types the Rust driver uses, and back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jni::objects::{JByteArray, JClass, JObject, JString};
use jni::refs::Global;
use jni::signature::RuntimeMethodSignature;
use jni::strings::JNIString;
use jni::sys::jlong;
use jni::{Env, JValue, JavaVM, jni_sig, jni_str};
use prost::Message;

use crate::{Error, Result, throw};
use remesos::client::driver::Status;

/// What a driver's natives and its callback thread share: the VM, the class loader of the
/// driver's classes and the classes resolved through it.
pub(crate) struct Context {
    pub vm: JavaVM,
    /// The loader of the Java driver class (else the one `JNI_OnLoad` captured); `None`
    /// means `FindClass`.
    loader: Option<Arc<Global<JObject<'static>>>>,
    /// Classes by binary name (`org.apache.mesos.Protos$TaskStatus`). A short lock: lookups
    /// are quick and never call back into Java while held.
    classes: Mutex<HashMap<String, Arc<Global<JClass<'static>>>>>,
    /// The `Protos.Status` constants by number, resolved once: every native returns one.
    statuses: Mutex<HashMap<i32, Arc<Global<JObject<'static>>>>>,
}

impl Context {
    /// A context for the driver object `this`.
    pub fn new(env: &mut Env, this: &JObject) -> Result<Context> {
        let vm = env.get_java_vm()?;
        let class = env
            .call_method(
                this,
                jni_str!("getClass"),
                jni_sig!("()Ljava/lang/Class;"),
                &[],
            )?
            .l()?;
        let loader = env
            .call_method(
                &class,
                jni_str!("getClassLoader"),
                jni_sig!("()Ljava/lang/ClassLoader;"),
                &[],
            )?
            .l()?;
        let loader = if loader.is_null() {
            crate::load_time_loader()
        } else {
            Some(Arc::new(env.new_global_ref(&loader)?))
        };
        Ok(Context {
            vm,
            loader,
            classes: Mutex::new(HashMap::new()),
            statuses: Mutex::new(HashMap::new()),
        })
    }

    /// First thing on a callback thread: attach it to the JVM as a daemon and give it the
    /// driver's class loader.
    pub fn callback_thread_started(&self) {
        crate::executor::attach_as_daemon(&self.vm);
        self.adopt_context_class_loader();
    }

    /// Last thing on a callback thread.
    pub fn callback_thread_stopping(&self) {
        crate::executor::detach(&self.vm);
    }

    /// Gives the calling (callback) thread the driver's class loader as its context class
    /// loader. A thread attached from native code starts with none, and framework code
    /// running in callbacks looks resources up through it (Hadoop's `Counters` resource
    /// bundles in `JobTracker.lostTaskTracker`, for one).
    pub fn adopt_context_class_loader(&self) {
        let Some(loader) = self.loader.clone() else {
            return;
        };
        let outcome = self.vm.attach_current_thread(|env| -> Result<()> {
            let thread = env
                .call_static_method(
                    jni_str!("java/lang/Thread"),
                    jni_str!("currentThread"),
                    jni_sig!("()Ljava/lang/Thread;"),
                    &[],
                )?
                .l()?;
            env.call_method(
                &thread,
                jni_str!("setContextClassLoader"),
                jni_sig!("(Ljava/lang/ClassLoader;)V"),
                &[JValue::Object(&loader)],
            )?;
            Ok(())
        });
        if outcome.is_err() {
            let _ = self.vm.attach_current_thread(|env| -> Result<()> {
                env.exception_clear();
                Ok(())
            });
        }
    }

    /// The class with binary name `name`, through the driver's class loader.
    pub fn class(&self, env: &mut Env, name: &str) -> Result<Arc<Global<JClass<'static>>>> {
        if let Some(class) = self.classes.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(class);
        }
        let class: JClass = match &self.loader {
            Some(loader) => {
                let jname = env.new_string(name)?;
                let class = env
                    .call_method(
                        &**loader,
                        jni_str!("loadClass"),
                        jni_sig!("(Ljava/lang/String;)Ljava/lang/Class;"),
                        &[JValue::Object(&jname)],
                    )?
                    .l()?;
                // SAFETY: ClassLoader.loadClass returns a java.lang.Class (a local reference
                // of this frame, wrapped once).
                unsafe { JClass::from_raw(env, class.into_raw()) }
            }
            None => env.find_class(JNIString::new(name.replace('.', "/")))?,
        };
        let global = Arc::new(env.new_global_ref(&class)?);
        if let Ok(mut classes) = self.classes.lock() {
            classes.insert(name.to_string(), global.clone());
        }
        Ok(global)
    }

    /// `Protos$Status.valueOf(int)`.
    pub fn status<'local>(&self, env: &mut Env<'local>, status: Status) -> Result<JObject<'local>> {
        let cached = self
            .statuses
            .lock()
            .ok()
            .and_then(|s| s.get(&(status as i32)).cloned());
        if let Some(global) = cached {
            return Ok(env.new_local_ref(&**global)?);
        }
        let class = self.class(env, "org.apache.mesos.Protos$Status")?;
        let value = env
            .call_static_method(
                &*class,
                jni_str!("valueOf"),
                jni_sig!("(I)Lorg/apache/mesos/Protos$Status;"),
                &[JValue::Int(status as i32)],
            )?
            .l()?;
        let global = Arc::new(env.new_global_ref(&value)?);
        if let Ok(mut statuses) = self.statuses.lock() {
            statuses.insert(status as i32, global);
        }
        Ok(value)
    }

    /// A Java protobuf of class `name` (binary name) from a Rust message.
    pub fn to_java<'local, M: Message>(
        &self,
        env: &mut Env<'local>,
        name: &str,
        message: &M,
    ) -> Result<JObject<'local>> {
        let class = self.class(env, name)?;
        let bytes = env.byte_array_from_slice(&message.encode_to_vec())?;
        let signature = format!("([B)L{};", name.replace('.', "/"));
        let signature = RuntimeMethodSignature::from_str(&signature)?;
        Ok(env
            .call_static_method(
                &*class,
                jni_str!("parseFrom"),
                signature.method_signature(),
                &[JValue::Object(&bytes)],
            )?
            .l()?)
    }
}

/// A Rust message from a Java protobuf (`None` for `null`).
pub(crate) fn from_java<M: Message + Default>(env: &mut Env, obj: &JObject) -> Result<Option<M>> {
    if obj.is_null() {
        return Ok(None);
    }
    let bytes = env
        .call_method(obj, jni_str!("toByteArray"), jni_sig!("()[B"), &[])?
        .l()?;
    // SAFETY: MessageLite.toByteArray returns a byte[] (a local reference wrapped once).
    let bytes = unsafe { JByteArray::from_raw(env, bytes.into_raw()) };
    let bytes = env.convert_byte_array(&bytes)?;
    M::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| Error::Message(format!("malformed protobuf from Java: {e}")))
}

/// A required Rust message: `null` throws `NullPointerException`, as Apache's Java
/// constructors do for their arguments.
pub(crate) fn required<M: Message + Default>(
    env: &mut Env,
    obj: &JObject,
    what: &str,
) -> Result<M> {
    match from_java(env, obj)? {
        Some(m) => Ok(m),
        None => Err(throw(
            env,
            "java/lang/NullPointerException",
            &format!("Not expecting a null {what}"),
        )),
    }
}

/// The messages of a `java.util.Collection` (`null` is an empty collection; `null`
/// elements are skipped).
pub(crate) fn collection<M: Message + Default>(env: &mut Env, obj: &JObject) -> Result<Vec<M>> {
    elements(env, obj, |env, item| from_java(env, item))
}

/// The strings of a `java.util.Collection<String>` (`null` is empty; `null` elements are
/// skipped).
pub(crate) fn strings(env: &mut Env, obj: &JObject) -> Result<Vec<String>> {
    elements(env, obj, |env, item| {
        if item.is_null() {
            return Ok(None);
        }
        let string = env
            .call_method(
                item,
                jni_str!("toString"),
                jni_sig!("()Ljava/lang/String;"),
                &[],
            )?
            .l()?;
        // SAFETY: Object.toString returns a java.lang.String (wrapped once).
        let string = unsafe { JString::from_raw(env, string.into_raw()) };
        Ok(Some(string.try_to_string(env)?))
    })
}

/// Walks a `java.util.Collection` with its iterator, converting each element in a local
/// frame of its own so large collections do not pile up local references (`-Xcheck:jni`
/// watches for that); `convert` returning `None` skips the element.
fn elements<T>(
    env: &mut Env,
    obj: &JObject,
    mut convert: impl FnMut(&mut Env, &JObject) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    if obj.is_null() {
        return Ok(out);
    }
    let iterator = env
        .call_method(
            obj,
            jni_str!("iterator"),
            jni_sig!("()Ljava/util/Iterator;"),
            &[],
        )?
        .l()?;
    loop {
        let next = env.with_local_frame(4, |env| -> Result<Option<Option<T>>> {
            let more = env
                .call_method(&iterator, jni_str!("hasNext"), jni_sig!("()Z"), &[])?
                .z()?;
            if !more {
                return Ok(None);
            }
            let item = env
                .call_method(
                    &iterator,
                    jni_str!("next"),
                    jni_sig!("()Ljava/lang/Object;"),
                    &[],
                )?
                .l()?;
            Ok(Some(convert(env, &item)?))
        })?;
        match next {
            None => return Ok(out),
            Some(None) => {}
            Some(Some(element)) => out.push(element),
        }
    }
}

/// A `String` field or argument (`null` → `None`).
pub(crate) fn string(env: &mut Env, obj: &JObject) -> Result<Option<String>> {
    if obj.is_null() {
        return Ok(None);
    }
    let string = env
        .call_method(
            obj,
            jni_str!("toString"),
            jni_sig!("()Ljava/lang/String;"),
            &[],
        )?
        .l()?;
    // SAFETY: Object.toString returns a java.lang.String (wrapped once).
    let string = unsafe { JString::from_raw(env, string.into_raw()) };
    Ok(Some(string.try_to_string(env)?))
}

/// The bytes of a `byte[]` (`null` → empty).
pub(crate) fn bytes(env: &mut Env, array: &JByteArray) -> Result<Vec<u8>> {
    if array.is_null() {
        return Ok(Vec::new());
    }
    Ok(env.convert_byte_array(array)?)
}

/// Reads an optional field: `None` when the class has no such field (older jars) or when it
/// is null. Any lookup failure clears the pending `NoSuchFieldError`.
pub(crate) fn optional_field<'local>(
    env: &mut Env<'local>,
    this: &JObject,
    name: &str,
    signature: &str,
) -> Result<Option<jni::objects::JValueOwned<'local>>> {
    let signature = jni::signature::RuntimeFieldSignature::from_str(signature)?;
    match env.get_field(this, JNIString::new(name), signature.field_signature()) {
        Ok(value) => Ok(Some(value)),
        Err(_) => {
            env.exception_clear();
            Ok(None)
        }
    }
}

/// `unit.toNanos(amount)` as a Duration (negative: zero); the whole amount, where Apache's
/// library truncates it to seconds (the state futures' `get`, the log's calls, session timeouts).
pub(crate) fn duration(env: &mut Env, amount: jlong, unit: &JObject) -> Result<Duration> {
    if unit.is_null() {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "the unit is null",
        ));
    }
    let nanos = env
        .call_method(
            unit,
            jni_str!("toNanos"),
            jni_sig!("(J)J"),
            &[JValue::Long(amount)],
        )?
        .j()?;
    Ok(Duration::from_nanos(nanos.max(0) as u64))
}
