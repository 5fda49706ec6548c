//! `libmesos.so`: the JNI natives of Apache's `org.apache.mesos.MesosSchedulerDriver`,
//! `MesosExecutorDriver`, `MesosNativeLibrary` and `org.apache.mesos.state` (reference/mesos-contract.md §1). Thin: the
//! driver logic lives in `remesos::client::driver`; this crate converts Java objects to and
//! from protobuf bytes (`toByteArray()` / static `Protos$X.parseFrom(byte[])`) and calls the
//! Java `Scheduler`/`Executor` from the driver's callback thread.
//!
//! Every native is one call into [`native`], which catches panics and turns errors into Java
//! exceptions; nothing here may abort the JVM.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod convert;
mod executor;
mod handles;
mod log;
mod mesos;
mod scheduler;
mod state;
mod state_natives;

use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use jni::errors::ThrowRuntimeExAndDefault;
use jni::objects::{JClass, JObject};
use jni::refs::Global;
use jni::sys::{JNI_VERSION_1_2, jint};
use jni::{Env, EnvUnowned, JavaVM, jni_sig, jni_str};

/// The class loader captured by `JNI_OnLoad` (the thread's context class loader, which
/// `MesosNativeLibrary.load` sets to its own loader): Hadoop and Spark load Mesos classes
/// from non-system loaders, and `FindClass` on a native thread would only see the system one.
static LOADER: OnceLock<Mutex<Option<Arc<Global<JObject<'static>>>>>> = OnceLock::new();

pub(crate) fn load_time_loader() -> Option<Arc<Global<JObject<'static>>>> {
    LOADER
        .get()
        .and_then(|l| l.lock().ok().and_then(|g| g.clone()))
}

/// Errors of the natives; each becomes a Java exception.
#[derive(Debug)]
pub(crate) enum Error {
    Jni(jni::errors::Error),
    /// A Java exception is already pending (thrown on purpose or by Java code).
    Thrown,
    /// Becomes a `RuntimeException` with this message.
    Message(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Jni(e) => write!(f, "{e}"),
            Error::Thrown => write!(f, "java exception"),
            Error::Message(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<jni::errors::Error> for Error {
    fn from(e: jni::errors::Error) -> Self {
        Error::Jni(e)
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Throws `class` (a JNI class name like `java/lang/NullPointerException`) with `message`
/// and returns the error that says so.
pub(crate) fn throw(env: &mut Env, class: &str, message: &str) -> Error {
    let class = jni::strings::JNIString::new(class);
    match env.throw_new(class, jni::strings::JNIString::new(message)) {
        Ok(()) => Error::Thrown,
        Err(e) => Error::Jni(e),
    }
}

/// Runs a native's body: panics and errors become Java exceptions (`RuntimeException`
/// unless the body threw something more specific), and the JVM gets `T::default()`.
pub(crate) fn native<'local, T: Default>(
    mut env: EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> Result<T>,
) -> T {
    env.with_env(body).resolve::<ThrowRuntimeExAndDefault>()
}

/// `JNI_OnLoad`: sets `MesosNativeLibrary.loaded` (the Java side checks it) and captures the
/// context class loader (reference §1.1).
///
/// # Safety
/// Called by the JVM with a valid `JavaVM` pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(
    vm: *mut jni::sys::JavaVM,
    _reserved: *mut c_void,
) -> jint {
    // SAFETY: the JVM passes a valid, non-null JavaVM pointer to JNI_OnLoad.
    let vm = unsafe { JavaVM::from_raw(vm) };
    let outcome = std::panic::catch_unwind(|| {
        vm.attach_current_thread(|env| -> jni::errors::Result<()> {
            // The thread's context class loader, as Apache's library captures it.
            let thread = env.call_static_method(
                jni_str!("java/lang/Thread"),
                jni_str!("currentThread"),
                jni_sig!("()Ljava/lang/Thread;"),
                &[],
            )?;
            let thread = thread.l()?;
            let loader = env
                .call_method(
                    &thread,
                    jni_str!("getContextClassLoader"),
                    jni_sig!("()Ljava/lang/ClassLoader;"),
                    &[],
                )?
                .l()?;
            if !loader.is_null() {
                let global = env.new_global_ref(&loader)?;
                let slot = LOADER.get_or_init(|| Mutex::new(None));
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(Arc::new(global));
                }
            }
            // MesosNativeLibrary.loaded = true, when the class is there (it is in every
            // Apache jar and ours; a test loading the library by itself may lack it).
            match env.find_class(jni_str!("org/apache/mesos/MesosNativeLibrary")) {
                Ok(class) => {
                    let class: JClass = class;
                    if env
                        .set_static_field(
                            &class,
                            jni_str!("loaded"),
                            jni_sig!("Z"),
                            jni::JValue::Bool(true),
                        )
                        .is_err()
                    {
                        env.exception_clear();
                    }
                }
                Err(_) => env.exception_clear(),
            }
            Ok(())
        })
    });
    if !matches!(outcome, Ok(Ok(()))) {
        eprintln!("libmesos: JNI_OnLoad could not capture the class loader");
    }
    JNI_VERSION_1_2
}

/// `MesosNativeLibrary._version()`: a `MesosNativeLibrary$Version(long, long, long)` with
/// the Mesos API version this library implements.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosNativeLibrary__1version<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JObject<'local> {
    native(env, |env| {
        let (major, minor, patch) = mesos_version();
        let class = env.find_class(jni_str!("org/apache/mesos/MesosNativeLibrary$Version"))?;
        Ok(env.new_object(
            &class,
            jni_sig!("(JJJ)V"),
            &[
                jni::JValue::Long(major),
                jni::JValue::Long(minor),
                jni::JValue::Long(patch),
            ],
        )?)
    })
}

/// The Mesos version the master reports (`remesos::common::version::MESOS_VERSION`, e.g. "1.11.0").
fn mesos_version() -> (i64, i64, i64) {
    let mut parts = remesos::common::version::MESOS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    (
        parts.next().unwrap_or(1),
        parts.next().unwrap_or(11),
        parts.next().unwrap_or(0),
    )
}

/// The directory holding this library (`target/release` in a build, next to `remesos`):
/// where the master string `local` finds `remesos executor` unless `MESOS_LAUNCHER_DIR`
/// says otherwise.
pub(crate) fn library_path() -> Option<std::path::PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr reads the address of a function of this library and fills `info`;
    // dli_fname points into the loader's static data, copied out at once.
    let found = unsafe { libc::dladdr(library_path as *const c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the dynamic loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = std::path::PathBuf::from(name.to_string_lossy().into_owned());
    std::fs::canonicalize(&path).ok().or(Some(path))
}

/// The process environment as the drivers read it.
pub(crate) fn environment() -> Vec<(String, String)> {
    remesos::client::driver::environment()
}

/// Shared by both drivers: how a native finds its Rust object behind a `long` field.
pub(crate) fn handle<T>(env: &mut Env, this: &JObject, field: &'static str) -> Result<&'static T> {
    let value = env
        .get_field(this, jni::strings::JNIString::new(field), jni_sig!("J"))?
        .j()?;
    if value == 0 {
        return Err(throw(
            env,
            "java/lang/IllegalStateException",
            "the driver is not initialized (or was finalized)",
        ));
    }
    // SAFETY: the field holds a pointer made by Box::into_raw in `initialize` of the same
    // class, freed only by `finalize`, which the JVM runs once no thread can call the object.
    Ok(unsafe { &*(value as usize as *const T) })
}
