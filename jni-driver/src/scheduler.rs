//! The natives of `org.apache.mesos.MesosSchedulerDriver` (reference §1.2) and the Java
//! `Scheduler` callbacks (§1.3). `__driver` holds a `Box<SchedulerDriver>`, `__scheduler`
//! an `Arc<Context>`; both are freed once, in `finalize`.

use std::sync::Arc;

use jni::objects::{JByteArray, JObject};
use jni::refs::Weak;
use jni::signature::RuntimeMethodSignature;
use jni::strings::JNIString;
use jni::sys::{jboolean, jlong};
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use remesos::client::Credential;
use remesos::client::driver::Status;
use remesos::client::driver::scheduler::{Config, Event, Scheduler, SchedulerDriver};
use remesos_proto::v1;
use v1::scheduler as sched;

use crate::convert::{self, Context};
use crate::{Result, handle, native, throw};

const PROTOS: &str = "org.apache.mesos.Protos$";

/// Runs `f` with the driver and context of `this`, returning a `Protos.Status` object.
fn with_driver<'local>(
    env: &mut Env<'local>,
    this: &JObject,
    f: impl FnOnce(&mut Env<'local>, &SchedulerDriver) -> Result<Status>,
) -> Result<JObject<'local>> {
    let driver: &SchedulerDriver = handle(env, this, "__driver")?;
    let context: &Context = handle(env, this, "__scheduler")?;
    let status = f(env, driver)?;
    context.status(env, status)
}

fn initialize(env: &mut Env, this: &JObject) -> Result<()> {
    let context = Arc::new(Context::new(env, this)?);
    let framework = env
        .get_field(
            this,
            jni_str!("framework"),
            jni_sig!("Lorg/apache/mesos/Protos$FrameworkInfo;"),
        )?
        .l()?;
    let framework: v1::FrameworkInfo = convert::required(env, &framework, "framework")?;
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
    // Optional fields (absent in older jars): reference §1.2.
    let implicit = match convert::optional_field(env, this, "implicitAcknowledgements", "Z")? {
        Some(v) => v.z()?,
        None => true,
    };
    // Apache's MesosSchedulerDriver.java keeps the 4- and 5-argument constructors'
    // `Credential` in the field `credential` (null for the others).
    let credential = match convert::optional_field(
        env,
        this,
        "credential",
        "Lorg/apache/mesos/Protos$Credential;",
    )? {
        Some(v) => {
            let credential = v.l()?;
            convert::from_java::<v1::Credential>(env, &credential)?
        }
        None => None,
    };
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
    let suppressed_roles =
        match convert::optional_field(env, this, "suppressedRoles", "Ljava/util/Collection;")? {
            Some(v) => {
                let roles = v.l()?;
                convert::strings(env, &roles)?
            }
            None => Vec::new(),
        };
    let mut config = Config::new(framework, master);
    config.implicit_acknowledgements = implicit;
    config.credential = credential;
    config.suppressed_roles = suppressed_roles;
    let library = crate::library_path();
    config.local.native_library = library.clone();
    config.local.launcher_dir = launcher_dir(library.as_deref());
    let config = config.with_env(&crate::environment());
    let scheduler = JavaScheduler {
        context: context.clone(),
        driver: env.new_weak_ref(this)?,
    };
    let driver = Box::new(SchedulerDriver::new(config, Box::new(scheduler)));
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
        jni_str!("__scheduler"),
        jni_sig!("J"),
        JValue::Long(context),
    )?;
    Ok(())
}

/// Where `local` mode finds `remesos` (unless `MESOS_LAUNCHER_DIR` says): next to
/// libmesos.so (a cargo build), else the first `remesos` on `PATH` (the jar's bundled
/// library is extracted to a temporary directory).
fn launcher_dir(library: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    let beside = library.and_then(|p| p.parent());
    if let Some(dir) = beside
        && dir.join("remesos").is_file()
    {
        return Some(dir.to_path_buf());
    }
    remesos::client::driver::launcher_dir_on_path().or_else(|| beside.map(|d| d.to_path_buf()))
}

fn finalize(env: &mut Env, this: &JObject) -> Result<()> {
    let driver = env
        .get_field(this, jni_str!("__driver"), jni_sig!("J"))?
        .j()?;
    let context = env
        .get_field(this, jni_str!("__scheduler"), jni_sig!("J"))?
        .j()?;
    env.set_field(this, jni_str!("__driver"), jni_sig!("J"), JValue::Long(0))?;
    env.set_field(
        this,
        jni_str!("__scheduler"),
        jni_sig!("J"),
        JValue::Long(0),
    )?;
    if driver != 0 {
        // SAFETY: made by Box::into_raw in `initialize`; the field is zeroed above so this
        // runs once.
        drop(unsafe { Box::from_raw(driver as usize as *mut SchedulerDriver) });
    }
    if context != 0 {
        // SAFETY: made by Arc::into_raw in `initialize`; zeroed above, released once.
        drop(unsafe { Arc::from_raw(context as usize as *const Context) });
    }
    Ok(())
}

fn offer_ids(env: &mut Env, collection: &JObject) -> Result<Vec<v1::OfferId>> {
    convert::collection(env, collection)
}

fn simple(kind: sched::call::Type) -> sched::Call {
    sched::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| initialize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| finalize(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_start<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.start())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_stop<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    failover: jboolean,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |_, d| Ok(d.stop(failover)))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_abort<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.abort())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_join<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| with_driver(env, &this, |_, d| Ok(d.join())))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_requestResources<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    requests: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let requests: Vec<v1::Request> = convert::collection(env, &requests)?;
            let mut call = simple(sched::call::Type::Request);
            call.request = Some(sched::call::Request { requests });
            Ok(d.call(call))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_launchTasks__Lorg_apache_mesos_Protos_00024OfferID_2Ljava_util_Collection_2Lorg_apache_mesos_Protos_00024Filters_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    offer_id: JObject<'l>,
    tasks: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let offer: Option<v1::OfferId> = convert::from_java(env, &offer_id)?;
            let tasks: Vec<v1::TaskInfo> = convert::collection(env, &tasks)?;
            let filters: Option<v1::Filters> = convert::from_java(env, &filters)?;
            Ok(d.launch_tasks(offer.into_iter().collect(), tasks, filters))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_launchTasks__Ljava_util_Collection_2Ljava_util_Collection_2Lorg_apache_mesos_Protos_00024Filters_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    offer_ids: JObject<'l>,
    tasks: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let offers = self::offer_ids(env, &offer_ids)?;
            let tasks: Vec<v1::TaskInfo> = convert::collection(env, &tasks)?;
            let filters: Option<v1::Filters> = convert::from_java(env, &filters)?;
            Ok(d.launch_tasks(offers, tasks, filters))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_acceptOffers__Ljava_util_Collection_2Ljava_util_Collection_2Lorg_apache_mesos_Protos_00024Filters_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    offer_ids: JObject<'l>,
    operations: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let offers = self::offer_ids(env, &offer_ids)?;
            let operations: Vec<v1::offer::Operation> = convert::collection(env, &operations)?;
            let filters: Option<v1::Filters> = convert::from_java(env, &filters)?;
            Ok(d.accept(offers, operations, filters))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_killTask<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    task_id: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let Some(task_id) = convert::from_java::<v1::TaskId>(env, &task_id)? else {
                return Ok(d.status());
            };
            let mut call = simple(sched::call::Type::Kill);
            call.kill = Some(sched::call::Kill {
                task_id,
                agent_id: None,
                kill_policy: None,
            });
            Ok(d.call(call))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_declineOffer<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    offer_id: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let Some(offer_id) = convert::from_java::<v1::OfferId>(env, &offer_id)? else {
                return Ok(d.status());
            };
            let filters: Option<v1::Filters> = convert::from_java(env, &filters)?;
            let mut call = simple(sched::call::Type::Decline);
            call.decline = Some(sched::call::Decline {
                offer_ids: vec![offer_id],
                filters,
            });
            Ok(d.call(call))
        })
    })
}

fn revive(d: &SchedulerDriver, roles: Vec<String>) -> Status {
    let mut call = simple(sched::call::Type::Revive);
    call.revive = Some(sched::call::Revive { roles });
    d.call(call)
}

fn suppress(d: &SchedulerDriver, roles: Vec<String>) -> Status {
    let mut call = simple(sched::call::Type::Suppress);
    call.suppress = Some(sched::call::Suppress { roles });
    d.call(call)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_reviveOffers__<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |_, d| Ok(revive(d, Vec::new())))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_reviveOffers__Ljava_util_Collection_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    roles: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let roles = convert::strings(env, &roles)?;
            // An empty collection names no role: nothing to do (sched.cpp).
            if roles.is_empty() {
                return Ok(d.status());
            }
            Ok(revive(d, roles))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_suppressOffers__<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |_, d| Ok(suppress(d, Vec::new())))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_suppressOffers__Ljava_util_Collection_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    roles: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let roles = convert::strings(env, &roles)?;
            // An empty collection names no role: nothing to do (sched.cpp).
            if roles.is_empty() {
                return Ok(d.status());
            }
            Ok(suppress(d, roles))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_acknowledgeStatusUpdate<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    status: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let Some(status) = convert::from_java::<v1::TaskStatus>(env, &status)? else {
                return Ok(d.status());
            };
            d.acknowledge(&status)
                .map_err(|e| throw(env, "java/lang/IllegalStateException", &e))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_sendFrameworkMessage<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    executor_id: JObject<'l>,
    agent_id: JObject<'l>,
    data: JByteArray<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let executor_id: Option<v1::ExecutorId> = convert::from_java(env, &executor_id)?;
            let agent_id: Option<v1::AgentId> = convert::from_java(env, &agent_id)?;
            let data = convert::bytes(env, &data)?;
            let (Some(executor_id), Some(agent_id)) = (executor_id, agent_id) else {
                return Ok(d.status());
            };
            let mut call = simple(sched::call::Type::Message);
            call.message = Some(sched::call::Message {
                agent_id,
                executor_id,
                data,
            });
            Ok(d.call(call))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_reconcileTasks<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    statuses: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            let statuses: Vec<v1::TaskStatus> = convert::collection(env, &statuses)?;
            let mut call = simple(sched::call::Type::Reconcile);
            call.reconcile = Some(sched::call::Reconcile {
                tasks: statuses
                    .into_iter()
                    .map(|s| sched::call::reconcile::Task {
                        task_id: s.task_id,
                        agent_id: s.agent_id,
                    })
                    .collect(),
            });
            Ok(d.call(call))
        })
    })
}

fn update_framework(
    env: &mut Env,
    d: &SchedulerDriver,
    framework: &JObject,
    roles: &JObject,
    constraints: Option<&JObject>,
) -> Result<Status> {
    let framework: v1::FrameworkInfo = convert::required(env, framework, "framework")?;
    let suppressed_roles = convert::strings(env, roles)?;
    let offer_constraints = match constraints {
        Some(c) => convert::from_java::<sched::OfferConstraints>(env, c)?,
        None => None,
    };
    let mut call = simple(sched::call::Type::UpdateFramework);
    call.update_framework = Some(sched::call::UpdateFramework {
        framework_info: framework,
        suppressed_roles,
        offer_constraints,
    });
    Ok(d.call(call))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_updateFramework<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    framework: JObject<'l>,
    roles: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            update_framework(env, d, &framework, &roles, None)
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_updateFrameworkWithConstraints<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    framework: JObject<'l>,
    roles: JObject<'l>,
    constraints: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        with_driver(env, &this, |env, d| {
            update_framework(env, d, &framework, &roles, Some(&constraints))
        })
    })
}

/// Calls into the Java `Scheduler` from the callback thread.
struct JavaScheduler {
    context: Arc<Context>,
    /// The Java driver, weakly (as Apache's library holds it) so it can be collected.
    driver: Weak<JObject<'static>>,
}

const DRIVER_SIG: &str = "Lorg/apache/mesos/SchedulerDriver;";

fn sig(args: &str) -> String {
    format!("({DRIVER_SIG}{args})V")
}

impl JavaScheduler {
    fn call(&self, env: &mut Env, event: Event) -> Result<()> {
        let Some(driver) = self.driver.upgrade_local(env)? else {
            return Ok(());
        };
        let scheduler = env
            .get_field(
                &driver,
                jni_str!("scheduler"),
                jni_sig!("Lorg/apache/mesos/Scheduler;"),
            )?
            .l()?;
        if scheduler.is_null() {
            return Ok(());
        }
        let ctx = &*self.context;
        let p = |name: &str| format!("{PROTOS}{name}");
        let (name, signature, args): (&str, String, Vec<JObject>) = match event {
            Event::Registered {
                framework_id,
                master_info,
            } => (
                "registered",
                sig("Lorg/apache/mesos/Protos$FrameworkID;Lorg/apache/mesos/Protos$MasterInfo;"),
                vec![
                    ctx.to_java(env, &p("FrameworkID"), &framework_id)?,
                    ctx.to_java(env, &p("MasterInfo"), &master_info)?,
                ],
            ),
            Event::Reregistered(master_info) => (
                "reregistered",
                sig("Lorg/apache/mesos/Protos$MasterInfo;"),
                vec![ctx.to_java(env, &p("MasterInfo"), &master_info)?],
            ),
            Event::ResourceOffers(offers) => {
                let list = env.new_object(jni_str!("java/util/ArrayList"), jni_sig!("()V"), &[])?;
                for offer in &offers {
                    env.with_local_frame(4, |env| -> Result<()> {
                        let offer = ctx.to_java(env, &p("Offer"), offer)?;
                        env.call_method(
                            &list,
                            jni_str!("add"),
                            jni_sig!("(Ljava/lang/Object;)Z"),
                            &[JValue::Object(&offer)],
                        )?;
                        Ok(())
                    })?;
                }
                ("resourceOffers", sig("Ljava/util/List;"), vec![list])
            }
            Event::OfferRescinded(offer_id) => (
                "offerRescinded",
                sig("Lorg/apache/mesos/Protos$OfferID;"),
                vec![ctx.to_java(env, &p("OfferID"), &offer_id)?],
            ),
            Event::StatusUpdate(status) => (
                "statusUpdate",
                sig("Lorg/apache/mesos/Protos$TaskStatus;"),
                vec![ctx.to_java(env, &p("TaskStatus"), &status)?],
            ),
            Event::FrameworkMessage {
                executor_id,
                agent_id,
                data,
            } => {
                let data = env.byte_array_from_slice(&data)?;
                (
                    "frameworkMessage",
                    sig("Lorg/apache/mesos/Protos$ExecutorID;Lorg/apache/mesos/Protos$SlaveID;[B"),
                    vec![
                        ctx.to_java(env, &p("ExecutorID"), &executor_id)?,
                        ctx.to_java(env, &p("SlaveID"), &agent_id)?,
                        data.into(),
                    ],
                )
            }
            Event::Disconnected => ("disconnected", sig(""), vec![]),
            Event::SlaveLost(agent_id) => (
                "slaveLost",
                sig("Lorg/apache/mesos/Protos$SlaveID;"),
                vec![ctx.to_java(env, &p("SlaveID"), &agent_id)?],
            ),
            Event::ExecutorLost {
                executor_id,
                agent_id,
                status,
            } => {
                let executor = ctx.to_java(env, &p("ExecutorID"), &executor_id)?;
                let agent = ctx.to_java(env, &p("SlaveID"), &agent_id)?;
                let signature = RuntimeMethodSignature::from_str(sig(
                    "Lorg/apache/mesos/Protos$ExecutorID;Lorg/apache/mesos/Protos$SlaveID;I",
                ))?;
                env.call_method(
                    &scheduler,
                    jni_str!("executorLost"),
                    signature.method_signature(),
                    &[
                        JValue::Object(&driver),
                        JValue::Object(&executor),
                        JValue::Object(&agent),
                        JValue::Int(status),
                    ],
                )?;
                return Ok(());
            }
            Event::Error(message) => {
                let message = env.new_string(message)?;
                ("error", sig("Ljava/lang/String;"), vec![message.into()])
            }
        };
        let signature = RuntimeMethodSignature::from_str(&signature)?;
        let mut values = vec![JValue::Object(&driver)];
        values.extend(args.iter().map(JValue::Object));
        env.call_method(
            &scheduler,
            JNIString::new(name),
            signature.method_signature(),
            &values,
        )?;
        Ok(())
    }
}

impl Scheduler for JavaScheduler {
    fn thread_started(&mut self) {
        self.context.callback_thread_started();
    }

    fn thread_stopping(&mut self) {
        self.context.callback_thread_stopping();
    }

    fn deliver(&mut self, event: Event) -> std::result::Result<(), String> {
        let context = self.context.clone();
        let outcome =
            context
                .vm
                .attach_current_thread(|env| -> Result<std::result::Result<(), String>> {
                    let result = env.with_local_frame(16, |env| self.call(env, event));
                    if env.exception_check() {
                        // Apache's library: describe, clear, then abort the driver.
                        env.exception_describe();
                        env.exception_clear();
                        return Ok(Err("the scheduler callback threw an exception".into()));
                    }
                    Ok(result.map_err(|e| e.to_string()))
                });
        outcome.unwrap_or_else(|e| Err(e.to_string()))
    }
}
