//! The natives of `org.apache.mesos.state`: `AbstractState` (its private `__fetch`/`__store`/
//! `__expunge`/`__names` families and `finalize`), the four named future classes
//! (`AbstractState$FetchFuture`, ...: the same operations with the future's id in the field
//! `future`), `Variable`, `ZooKeeperState` and `LevelDBState`. The logic is
//! `remesos::client::driver::state`.
//!
//! Java holds ids, not pointers: `__state`, `__variable` and the futures' `long`s are keys
//! of the tables below, and `finalize` removes them. An id used after its `finalize` (or
//! twice finalized, or forged) finds nothing and becomes an `IllegalStateException`, never
//! a dangling pointer, even when Java calls `finalize()` itself while another thread still
//! uses the object.

use std::sync::{Arc, LazyLock};

use jni::objects::{JByteArray, JObject};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, JValue, jni_sig, jni_str};

use remesos::client::driver::state::local::LocalStorage;
use remesos::client::driver::state::log::LogStorage;
use remesos::client::driver::state::zookeeper::ZkStorage;
use remesos::client::driver::state::{Outcome, Pending, State, Storage, Variable};

use crate::handles::{Handles, long_field, set_long_field};
use crate::{Result, convert, throw};

static STATES: LazyLock<Handles<State>> = LazyLock::new(Handles::new);
static VARIABLES: LazyLock<Handles<Variable>> = LazyLock::new(Handles::new);

/// One family of operations (fetch, store, expunge, names): its table of pending futures
/// and how its value crosses to Java.
pub(crate) trait Operation: 'static {
    type Value: Clone + Send + 'static;
    const WHAT: &'static str;
    fn table() -> &'static Handles<Pending<Self::Value>>;
    fn to_java<'l>(env: &mut Env<'l>, value: Self::Value) -> Result<JObject<'l>>;
}

pub(crate) struct Fetch;
pub(crate) struct Store;
pub(crate) struct Expunge;
pub(crate) struct Names;

static FETCHES: LazyLock<Handles<Pending<Variable>>> = LazyLock::new(Handles::new);
static STORES: LazyLock<Handles<Pending<Option<Variable>>>> = LazyLock::new(Handles::new);
static EXPUNGES: LazyLock<Handles<Pending<bool>>> = LazyLock::new(Handles::new);
static NAMES: LazyLock<Handles<Pending<Vec<String>>>> = LazyLock::new(Handles::new);

impl Operation for Fetch {
    type Value = Variable;
    const WHAT: &'static str = "fetch future";
    fn table() -> &'static Handles<Pending<Variable>> {
        &FETCHES
    }
    fn to_java<'l>(env: &mut Env<'l>, value: Variable) -> Result<JObject<'l>> {
        new_variable(env, value)
    }
}

impl Operation for Store {
    type Value = Option<Variable>;
    const WHAT: &'static str = "store future";
    fn table() -> &'static Handles<Pending<Option<Variable>>> {
        &STORES
    }
    /// `null` when the variable was stale (Mesos's compare-and-swap lost).
    fn to_java<'l>(env: &mut Env<'l>, value: Option<Variable>) -> Result<JObject<'l>> {
        match value {
            Some(variable) => new_variable(env, variable),
            None => Ok(JObject::null()),
        }
    }
}

impl Operation for Expunge {
    type Value = bool;
    const WHAT: &'static str = "expunge future";
    fn table() -> &'static Handles<Pending<bool>> {
        &EXPUNGES
    }
    fn to_java<'l>(env: &mut Env<'l>, value: bool) -> Result<JObject<'l>> {
        Ok(env
            .call_static_method(
                jni_str!("java/lang/Boolean"),
                jni_str!("valueOf"),
                jni_sig!("(Z)Ljava/lang/Boolean;"),
                &[JValue::Bool(value)],
            )?
            .l()?)
    }
}

impl Operation for Names {
    type Value = Vec<String>;
    const WHAT: &'static str = "names future";
    fn table() -> &'static Handles<Pending<Vec<String>>> {
        &NAMES
    }
    /// A `java.util.Iterator<String>` over a fresh `ArrayList`.
    fn to_java<'l>(env: &mut Env<'l>, names: Vec<String>) -> Result<JObject<'l>> {
        let list = env.new_object(jni_str!("java/util/ArrayList"), jni_sig!("()V"), &[])?;
        for name in names {
            let name = env.new_string(name.as_str())?;
            env.call_method(
                &list,
                jni_str!("add"),
                jni_sig!("(Ljava/lang/Object;)Z"),
                &[JValue::Object(&name)],
            )?;
            // One local reference per name would outgrow the frame (-Xcheck:jni warns).
            env.delete_local_ref(name);
        }
        Ok(env
            .call_method(
                &list,
                jni_str!("iterator"),
                jni_sig!("()Ljava/util/Iterator;"),
                &[],
            )?
            .l()?)
    }
}

/// `new Variable()` (its protected constructor) holding `variable`.
fn new_variable<'l>(env: &mut Env<'l>, variable: Variable) -> Result<JObject<'l>> {
    let object = env.new_object(
        jni_str!("org/apache/mesos/state/Variable"),
        jni_sig!("()V"),
        &[],
    )?;
    VARIABLES.attach(env, &object, "__variable", Arc::new(variable))?;
    Ok(object)
}

fn state_of(env: &mut Env, this: &JObject) -> Result<Arc<State>> {
    STATES.of(env, this, "__state", "state")
}

fn variable_of(env: &mut Env, variable: &JObject) -> Result<Arc<Variable>> {
    if variable.is_null() {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "the variable is null",
        ));
    }
    VARIABLES.of(env, variable, "__variable", "variable")
}

/// Gives the Java `AbstractState` `this` a state over `storage` (`ZooKeeperState`,
/// `LevelDBState`, and `LogState` with the log's storage).
pub(crate) fn install(env: &mut Env, this: &JObject, storage: Arc<dyn Storage>) -> Result<()> {
    STATES.attach(env, this, "__state", Arc::new(State::new(storage)))?;
    Ok(())
}

/// `AbstractState.finalize()` (and `LogState.finalize()`): frees the state; pending
/// operations run to their end.
pub(crate) fn finalize_state(env: &mut Env, this: &JObject) -> Result<()> {
    STATES.detach(env, this, "__state")
}

/// `__fetch(name)`: starts the operation; the id of its future.
pub(crate) fn fetch(env: &mut Env, this: &JObject, name: &JObject) -> Result<jlong> {
    let state = state_of(env, this)?;
    let Some(name) = crate::convert::string(env, name)? else {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "the name is null",
        ));
    };
    let pending = Pending::spawn(async move { state.fetch(&name).await });
    Ok(Fetch::table().insert(pending))
}

pub(crate) fn store(env: &mut Env, this: &JObject, variable: &JObject) -> Result<jlong> {
    let state = state_of(env, this)?;
    let variable = variable_of(env, variable)?;
    let pending = Pending::spawn(async move { state.store(&variable).await });
    Ok(Store::table().insert(pending))
}

pub(crate) fn expunge(env: &mut Env, this: &JObject, variable: &JObject) -> Result<jlong> {
    let state = state_of(env, this)?;
    let variable = variable_of(env, variable)?;
    let pending = Pending::spawn(async move { state.expunge(&variable).await });
    Ok(Expunge::table().insert(pending))
}

pub(crate) fn names(env: &mut Env, this: &JObject) -> Result<jlong> {
    let state = state_of(env, this)?;
    let pending = Pending::spawn(async move { state.names().await });
    Ok(Names::table().insert(pending))
}

/// The future id of a named future object (`AbstractState$FetchFuture.future`).
pub(crate) fn future_field(env: &mut Env, this: &JObject) -> Result<jlong> {
    long_field(env, this, "future")
}

/// `cancel`: starts a discard and, as Mesos, answers `false` (whether it took is unknown).
pub(crate) fn cancel<O: Operation>(env: &mut Env, id: jlong) -> Result<jboolean> {
    O::table().get(env, id, O::WHAT)?.cancel();
    Ok(false)
}

/// `isCancelled`: always `false`, as Mesos (deterministic, never blocks).
pub(crate) fn is_cancelled<O: Operation>(env: &mut Env, id: jlong) -> Result<jboolean> {
    O::table().get(env, id, O::WHAT)?;
    Ok(false)
}

pub(crate) fn is_done<O: Operation>(env: &mut Env, id: jlong) -> Result<jboolean> {
    Ok(O::table().get(env, id, O::WHAT)?.is_done())
}

/// `get()`: waits; a failure is an `ExecutionException`, a discard a `CancellationException`.
pub(crate) fn get<'l, O: Operation>(env: &mut Env<'l>, id: jlong) -> Result<JObject<'l>> {
    let pending = O::table().get(env, id, O::WHAT)?;
    let outcome = pending.wait();
    answer::<O>(env, outcome)
}

/// `get(timeout, unit)`: a `TimeoutException` when the operation is still running then.
/// The whole timeout in nanoseconds (Apache's library truncates it to seconds).
pub(crate) fn get_timeout<'l, O: Operation>(
    env: &mut Env<'l>,
    id: jlong,
    timeout: jlong,
    unit: &JObject,
) -> Result<JObject<'l>> {
    let pending = O::table().get(env, id, O::WHAT)?;
    let timeout = convert::duration(env, timeout, unit)?;
    match pending.wait_timeout(timeout) {
        Some(outcome) => answer::<O>(env, outcome),
        None => Err(throw(
            env,
            "java/util/concurrent/TimeoutException",
            "Failed to wait for future within timeout",
        )),
    }
}

fn answer<'l, O: Operation>(env: &mut Env<'l>, outcome: Outcome<O::Value>) -> Result<JObject<'l>> {
    match outcome {
        Outcome::Ready(value) => O::to_java(env, value),
        Outcome::Failed(message) => Err(throw(
            env,
            "java/util/concurrent/ExecutionException",
            &message,
        )),
        Outcome::Discarded => Err(throw(
            env,
            "java/util/concurrent/CancellationException",
            "Future was discarded",
        )),
    }
}

/// A future's `finalize`: forgets it (a running operation still finishes).
pub(crate) fn finalize_future<O: Operation>(id: jlong) -> Result<()> {
    O::table().remove(id);
    Ok(())
}

/// `FetchFuture.finalize()` and its siblings: also zero the field, so a second call or a
/// later use finds nothing.
pub(crate) fn finalize_named_future<O: Operation>(env: &mut Env, this: &JObject) -> Result<()> {
    let id = future_field(env, this)?;
    O::table().remove(id);
    set_long_field(env, this, "future", 0)
}

/// `Variable.value()`.
pub(crate) fn value<'l>(env: &mut Env<'l>, this: &JObject) -> Result<JByteArray<'l>> {
    let variable = variable_of(env, this)?;
    Ok(env.byte_array_from_slice(variable.value())?)
}

/// `Variable.mutate(byte[])`: a new Variable with the value and this one's version.
pub(crate) fn mutate<'l>(
    env: &mut Env<'l>,
    this: &JObject,
    value: &JByteArray,
) -> Result<JObject<'l>> {
    let variable = variable_of(env, this)?;
    if value.is_null() {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "the value is null",
        ));
    }
    let value = env.convert_byte_array(value)?;
    new_variable(env, variable.mutate(value))
}

pub(crate) fn finalize_variable(env: &mut Env, this: &JObject) -> Result<()> {
    VARIABLES.detach(env, this, "__variable")
}

/// `ZooKeeperState.initialize(servers, timeout, unit, znode[, scheme, credentials])`.
pub(crate) fn initialize_zookeeper(
    env: &mut Env,
    this: &JObject,
    servers: &JObject,
    timeout: jlong,
    unit: &JObject,
    znode: &JObject,
    auth: Option<(&JObject, &JByteArray)>,
) -> Result<()> {
    let servers = crate::convert::string(env, servers)?;
    let znode = crate::convert::string(env, znode)?;
    let (Some(servers), Some(znode)) = (servers, znode) else {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "servers and znode must not be null",
        ));
    };
    let timeout = convert::duration(env, timeout, unit)?;
    let auth = match auth {
        Some((scheme, credentials)) => {
            let Some(scheme) = crate::convert::string(env, scheme)? else {
                return Err(throw(
                    env,
                    "java/lang/NullPointerException",
                    "the scheme is null",
                ));
            };
            Some((scheme, crate::convert::bytes(env, credentials)?))
        }
        None => None,
    };
    let storage = ZkStorage::new(&servers, timeout, &znode, auth);
    install(env, this, Arc::new(storage))
}

/// `LevelDBState.initialize(path)`.
pub(crate) fn initialize_local(env: &mut Env, this: &JObject, path: &JObject) -> Result<()> {
    let Some(path) = crate::convert::string(env, path)? else {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "the path is null",
        ));
    };
    let storage = LocalStorage::open(std::path::Path::new(&path));
    install(env, this, Arc::new(storage))
}

/// `LogState.initialize(servers, timeout, unit, znode, quorum, path, diffsBetweenSnapshots)`:
/// the state in the replicated log at `znode` (`quorum` and `path`, Mesos's local replica,
/// are not used: the log lives in ZooKeeper).
#[allow(
    clippy::too_many_arguments,
    reason = "the Java method's arguments, as JNI passes them"
)]
pub(crate) fn initialize_log_state(
    env: &mut Env,
    this: &JObject,
    servers: &JObject,
    timeout: jlong,
    unit: &JObject,
    znode: &JObject,
    _quorum: jlong,
    _path: &JObject,
    diffs_between_snapshots: jint,
) -> Result<()> {
    let config = crate::log::log_config(env, servers, timeout, unit, znode, None)?;
    let Ok(diffs) = usize::try_from(diffs_between_snapshots) else {
        return Err(throw(
            env,
            "java/lang/IllegalArgumentException",
            "diffsBetweenSnapshots must not be negative",
        ));
    };
    install(env, this, Arc::new(LogStorage::new(config, diffs)))
}
