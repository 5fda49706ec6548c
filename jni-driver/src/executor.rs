//! The natives of `org.apache.mesos.MesosExecutorDriver` (reference §1.4) and the Java
//! `Executor` callbacks. `__driver` holds a `Box<ExecutorDriver>`, `__executor` an
//! `Arc<Context>`; both are freed once, in `finalize`.

use std::sync::Arc;

use jni::objects::{JByteArray, JObject};
use jni::refs::Weak;
use jni::signature::RuntimeMethodSignature;
use jni::strings::JNIString;
use jni::sys::jlong;
use jni::{Env, EnvUnowned, JValue, JavaVM, jni_sig, jni_str};

use remesos::client::driver::Status;
use remesos::client::driver::executor::{Event, Executor, ExecutorDriver};
use remesos_proto::v1;

use crate::convert::{self, Context};
use crate::{Result, handle, native, throw};

/// Attaches the callback thread as a daemon, so it never keeps the JVM alive (jni-rs's own
/// attachments are not daemons; it reuses an existing attachment).
pub(crate) fn attach_as_daemon(vm: &JavaVM) {
    let raw = vm.get_raw();
    let mut env: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `raw` is the process's valid JavaVM; AttachCurrentThreadAsDaemon (JNI 1.4)
    // attaches this native thread and writes its JNIEnv into `env`; args may be null.
    let rc = unsafe {
        ((*(*raw)).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, std::ptr::null_mut())
    };
    if rc != 0 {
        eprintln!("libmesos: cannot attach the callback thread to the JVM ({rc})");
    }
}

/// Detaches the callback thread before it ends.
pub(crate) fn detach(vm: &JavaVM) {
    let raw = vm.get_raw();
    // SAFETY: called on the callback thread, attached by `attach_as_daemon`, with no JNI
    // frames of ours left on its stack.
    unsafe {
        ((*(*raw)).v1_1.DetachCurrentThread)(raw);
    }
}

fn with_driver<'local>(
    env: &mut Env<'local>,
    this: &JObject,
    f: impl FnOnce(&mut Env<'local>, &ExecutorDriver) -> Result<Status>,
) -> Result<JObject<'local>> {
    let driver: &ExecutorDriver = handle(env, this, "__driver")?;
    let context: &Context = handle(env, this, "__executor")?;
    let status = f(env, driver)?;
    context.status(env, status)
}

fn initialize(env: &mut Env, this: &JObject) -> Result<()> {
    let context = Arc::new(Context::new(env, this)?);
    let executor = JavaExecutor {
        context: context.clone(),
        driver: env.new_weak_ref(this)?,
    };
    let driver = Box::new(ExecutorDriver::new(
        Box::new(executor),
        crate::environment(),
    ));
    let driver = Box::into_raw(driver) as usize as jlong;
    let context = Arc::into_raw(context) as usize as jlong;
    env.set_field(
        this,
        jni_str!("__driver"),
        jni_sig!("J"),
        JValue::Long(driver),
    )?;
    env.set_field(
        this,
        jni_str!("__executor"),
        jni_sig!("J"),
        JValue::Long(context),
    )?;
    Ok(())
}

fn finalize(env: &mut Env, this: &JObject) -> Result<()> {
    let driver = env
        .get_field(this, jni_str!("__driver"), jni_sig!("J"))?
        .j()?;
    let context = env
        .get_field(this, jni_str!("__executor"), jni_sig!("J"))?
        .j()?;
    env.set_field(this, jni_str!("__driver"), jni_sig!("J"), JValue::Long(0))?;
    env.set_field(this, jni_str!("__executor"), jni_sig!("J"), JValue::Long(0))?;
    if driver != 0 {
        // SAFETY: made by Box::into_raw in `initialize`; zeroed above so freed once.
        drop(unsafe { Box::from_raw(driver as usize as *mut ExecutorDriver) });
    }
    if context != 0 {
        // SAFETY: made by Arc::into_raw in `initialize`; zeroed above so released once.
        drop(unsafe { Arc::from_raw(context as usize as *const Context) });
    }
    Ok(())
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| initialize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| finalize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_start<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            d.start()
                .map_err(|e| throw(env, "java/lang/IllegalStateException", &e))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_stop<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.stop())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_abort<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.abort())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_join<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.join())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_sendStatusUpdate<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    status: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let Some(status) = convert::from_java::<v1::TaskStatus>(env, &status)? else {
                return Ok(d.status());
            };
            Ok(d.send_status_update(status))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_sendFrameworkMessage<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    data: JByteArray<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let data = convert::bytes(env, &data)?;
            Ok(d.send_framework_message(data))
        })
    })
}

/// Calls into the Java `Executor` from the callback thread.
struct JavaExecutor {
    context: Arc<Context>,
    driver: Weak<JObject<'static>>,
}

const DRIVER_SIG: &str = "Lorg/apache/mesos/ExecutorDriver;";

impl JavaExecutor {
    fn call(&self, env: &mut Env, event: Event) -> Result<()> {
        let Some(driver) = self.driver.upgrade_local(env)? else {
            return Ok(());
        };
        let executor = env
            .get_field(
                &driver,
                jni_str!("executor"),
                jni_sig!("Lorg/apache/mesos/Executor;"),
            )?
            .l()?;
        if executor.is_null() {
            return Ok(());
        }
        let ctx = &*self.context;
        let p = |name: &str| format!("org.apache.mesos.Protos${name}");
        let (name, args, objects): (&str, &str, Vec<JObject>) = match event {
            Event::Registered {
                executor_info,
                framework_info,
                agent_info,
            } => (
                "registered",
                "Lorg/apache/mesos/Protos$ExecutorInfo;Lorg/apache/mesos/Protos$FrameworkInfo;Lorg/apache/mesos/Protos$SlaveInfo;",
                vec![
                    ctx.to_java(env, &p("ExecutorInfo"), &*executor_info)?,
                    ctx.to_java(env, &p("FrameworkInfo"), &*framework_info)?,
                    ctx.to_java(env, &p("SlaveInfo"), &*agent_info)?,
                ],
            ),
            Event::Reregistered(agent_info) => (
                "reregistered",
                "Lorg/apache/mesos/Protos$SlaveInfo;",
                vec![ctx.to_java(env, &p("SlaveInfo"), &agent_info)?],
            ),
            Event::Disconnected => ("disconnected", "", vec![]),
            Event::LaunchTask(task) => (
                "launchTask",
                "Lorg/apache/mesos/Protos$TaskInfo;",
                vec![ctx.to_java(env, &p("TaskInfo"), &*task)?],
            ),
            Event::KillTask(task_id) => (
                "killTask",
                "Lorg/apache/mesos/Protos$TaskID;",
                vec![ctx.to_java(env, &p("TaskID"), &task_id)?],
            ),
            Event::FrameworkMessage(data) => {
                let data = env.byte_array_from_slice(&data)?;
                ("frameworkMessage", "[B", vec![data.into()])
            }
            Event::Shutdown => ("shutdown", "", vec![]),
            Event::Error(message) => {
                let message = env.new_string(message)?;
                ("error", "Ljava/lang/String;", vec![message.into()])
            }
        };
        let signature = RuntimeMethodSignature::from_str(format!("({DRIVER_SIG}{args})V"))?;
        let mut values = vec![JValue::Object(&driver)];
        values.extend(objects.iter().map(JValue::Object));
        env.call_method(
            &executor,
            JNIString::new(name),
            signature.method_signature(),
            &values,
        )?;
        Ok(())
    }
}

impl Executor for JavaExecutor {
    fn thread_started(&mut self) {
        attach_as_daemon(&self.context.vm);
        self.context.adopt_context_class_loader();
    }

    fn thread_stopping(&mut self) {
        detach(&self.context.vm);
    }

    fn deliver(&mut self, event: Event) -> std::result::Result<(), String> {
        let context = self.context.clone();
        let outcome =
            context
                .vm
                .attach_current_thread(|env| -> Result<std::result::Result<(), String>> {
                    let result = env.with_local_frame(16, |env| self.call(env, event));
                    if env.exception_check() {
                        env.exception_describe();
                        env.exception_clear();
                        return Ok(Err("the executor callback threw an exception".into()));
                    }
                    Ok(result.map_err(|e| e.to_string()))
                });
        outcome.unwrap_or_else(|e| Err(e.to_string()))
    }
}
