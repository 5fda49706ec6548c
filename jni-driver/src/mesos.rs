//! The natives of `org.apache.mesos.v1.scheduler.V1Mesos` and `V0Mesos` (Apache's
//! `src/java/jni/org_apache_mesos_v1_scheduler_V1Mesos.cpp`, `..._V0Mesos.cpp`): thin calls
//! into `remesos::client::driver::mesos`. `__mesos` holds the id of the `Mesos` (with the
//! Java callbacks' context) in [`MESOS`] (`crate::handles`), forgotten once in `finalize`; a
//! finalized object used again, or finalized twice, throws `IllegalStateException`. Calls and events cross as protobuf bytes
//! (`org.apache.mesos.v1.scheduler.Protos$Call.toByteArray()`, `Protos$Event.parseFrom`).

use std::sync::{Arc, LazyLock};

use jni::objects::JObject;
use jni::refs::Weak;
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use remesos::client::Credential;
use remesos::client::driver::mesos::{Callback, Callbacks, Config, Mesos};
use remesos_proto::v1;

use crate::convert::{self, Context};
use crate::handles::Handles;
use crate::{Result, native, throw};

/// The live `V1Mesos`/`V0Mesos` objects.
static MESOS: LazyLock<Handles<Mesos>> = LazyLock::new(Handles::new);

fn mesos_of(env: &mut Env, this: &JObject) -> Result<Arc<Mesos>> {
    MESOS.of(env, this, "__mesos", "V1Mesos")
}

const EVENT: &str = "org.apache.mesos.v1.scheduler.Protos$Event";

/// `finalize` forgets the `Mesos`; everything the callback thread needs it owns itself.
fn initialize(env: &mut Env, this: &JObject, v0: bool) -> Result<()> {
    let context = Arc::new(Context::new(env, this)?);
    let master = env
        .get_field(this, jni_str!("master"), jni_sig!("Ljava/lang/String;"))?
        .l()?;
    let Some(master) = convert::string(env, &master)? else {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "Not expecting a null master",
        ));
    };
    let credential = env
        .get_field(
            this,
            jni_str!("credential"),
            jni_sig!("Lorg/apache/mesos/v1/Protos$Credential;"),
        )?
        .l()?;
    let credential = convert::from_java::<v1::Credential>(env, &credential)?;
    let credential = match credential.map(Credential::from_proto).transpose() {
        Ok(c) => c,
        Err(e) => {
            return Err(throw(
                env,
                "java/lang/IllegalArgumentException",
                &e.to_string(),
            ));
        }
    };
    let framework = if v0 {
        let framework = env
            .get_field(
                this,
                jni_str!("framework"),
                jni_sig!("Lorg/apache/mesos/v1/Protos$FrameworkInfo;"),
            )?
            .l()?;
        let mut framework: v1::FrameworkInfo = convert::required(env, &framework, "framework")?;
        if framework.user.is_empty() {
            framework.user = remesos::client::driver::current_user();
        }
        Some(framework)
    } else {
        None
    };
    let callbacks = JavaCallbacks {
        context,
        mesos: env.new_weak_ref(this)?,
    };
    let config = Config {
        master,
        credential,
        framework,
    };
    let mesos = match Mesos::start(config, Box::new(callbacks)) {
        Ok(mesos) => mesos,
        Err(e) => return Err(throw(env, "java/lang/IllegalArgumentException", &e)),
    };
    MESOS.attach(env, this, "__mesos", Arc::new(mesos))?;
    Ok(())
}

fn finalize(env: &mut Env, this: &JObject) -> Result<()> {
    MESOS.detach(env, this, "__mesos")
}

fn send(env: &mut Env, this: &JObject, call: &JObject) -> Result<()> {
    let mesos = mesos_of(env, this)?;
    let call: v1::scheduler::Call = convert::required(env, call, "call")?;
    mesos.send(call);
    Ok(())
}

struct JavaCallbacks {
    context: Arc<Context>,
    /// The Java `V1Mesos`/`V0Mesos`, weakly, so that it can be collected (and finalized).
    mesos: Weak<JObject<'static>>,
}

impl JavaCallbacks {
    fn call(&self, env: &mut Env, callback: Callback) -> Result<()> {
        let Some(mesos) = self.mesos.upgrade_local(env)? else {
            return Ok(());
        };
        let scheduler = env
            .get_field(
                &mesos,
                jni_str!("scheduler"),
                jni_sig!("Lorg/apache/mesos/v1/scheduler/Scheduler;"),
            )?
            .l()?;
        if scheduler.is_null() {
            return Ok(());
        }
        match callback {
            Callback::Connected => {
                env.call_method(
                    &scheduler,
                    jni_str!("connected"),
                    jni_sig!("(Lorg/apache/mesos/v1/scheduler/Mesos;)V"),
                    &[JValue::Object(&mesos)],
                )?;
            }
            Callback::Disconnected => {
                env.call_method(
                    &scheduler,
                    jni_str!("disconnected"),
                    jni_sig!("(Lorg/apache/mesos/v1/scheduler/Mesos;)V"),
                    &[JValue::Object(&mesos)],
                )?;
            }
            Callback::Received(event) => {
                let event = self.context.to_java(env, EVENT, &*event)?;
                env.call_method(
                    &scheduler,
                    jni_str!("received"),
                    jni_sig!(
                        "(Lorg/apache/mesos/v1/scheduler/Mesos;Lorg/apache/mesos/v1/scheduler/Protos$Event;)V"
                    ),
                    &[JValue::Object(&mesos), JValue::Object(&event)],
                )?;
            }
        }
        Ok(())
    }
}

impl Callbacks for JavaCallbacks {
    fn thread_started(&mut self) {
        self.context.callback_thread_started();
    }

    fn thread_stopping(&mut self) {
        self.context.callback_thread_stopping();
    }

    fn deliver(&mut self, callback: Callback) {
        let context = self.context.clone();
        let _ = context.vm.attach_current_thread(|env| -> Result<()> {
            let _ = env.with_local_frame(16, |env| self.call(env, callback));
            if env.exception_check() {
                // As Apache's library: describe and clear; the callbacks go on.
                env.exception_describe();
                env.exception_clear();
            }
            Ok(())
        });
    }
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| initialize(env, &this, false))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| finalize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_send<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    call: JObject<'l>,
) {
    native(env, |env| send(env, &this, &call))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_reconnect<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| {
        mesos_of(env, &this)?.reconnect();
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V0Mesos_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| initialize(env, &this, true))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V0Mesos_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| finalize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V0Mesos_send<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    call: JObject<'l>,
) {
    native(env, |env| send(env, &this, &call))
}
