//! The exported symbols of `org.apache.mesos.state` (mangled as JNI requires; overloaded
//! natives carry their argument signature). Each is one line into `state.rs` through
//! [`native`].

use jni::EnvUnowned;
use jni::objects::{JByteArray, JObject};
use jni::sys::{jboolean, jint, jlong};

use crate::native;
use crate::state::{self, Expunge, Fetch, Names, Store};

/// The natives of one operation family: `AbstractState.__<op>*` (future id as argument) and
/// the named future class `AbstractState$<Op>Future` (future id in its field `future`).
macro_rules! operation_natives {
    (
        $op:ty,
        cancel: $cancel:ident, is_cancelled: $is_cancelled:ident, is_done: $is_done:ident,
        get: $get:ident, get_timeout: $get_timeout:ident, finalize: $finalize:ident,
        future: $f_cancel:ident, $f_is_cancelled:ident, $f_is_done:ident, $f_get:ident,
        $f_get_timeout:ident, $f_finalize:ident
    ) => {
        #[unsafe(no_mangle)]
        pub extern "system" fn $cancel<'l>(
            env: EnvUnowned<'l>,
            _this: JObject<'l>,
            id: jlong,
        ) -> jboolean {
            native(env, |env| state::cancel::<$op>(env, id))
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $is_cancelled<'l>(
            env: EnvUnowned<'l>,
            _this: JObject<'l>,
            id: jlong,
        ) -> jboolean {
            native(env, |env| state::is_cancelled::<$op>(env, id))
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $is_done<'l>(
            env: EnvUnowned<'l>,
            _this: JObject<'l>,
            id: jlong,
        ) -> jboolean {
            native(env, |env| state::is_done::<$op>(env, id))
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $get<'l>(
            env: EnvUnowned<'l>,
            _this: JObject<'l>,
            id: jlong,
        ) -> JObject<'l> {
            native(env, |env| state::get::<$op>(env, id))
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $get_timeout<'l>(
            env: EnvUnowned<'l>,
            _this: JObject<'l>,
            id: jlong,
            timeout: jlong,
            unit: JObject<'l>,
        ) -> JObject<'l> {
            native(env, |env| {
                state::get_timeout::<$op>(env, id, timeout, &unit)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $finalize<'l>(env: EnvUnowned<'l>, _this: JObject<'l>, id: jlong) {
            native(env, |_| state::finalize_future::<$op>(id))
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_cancel<'l>(
            env: EnvUnowned<'l>,
            this: JObject<'l>,
            _interrupt: jboolean,
        ) -> jboolean {
            native(env, |env| {
                let id = state::future_field(env, &this)?;
                state::cancel::<$op>(env, id)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_is_cancelled<'l>(
            env: EnvUnowned<'l>,
            this: JObject<'l>,
        ) -> jboolean {
            native(env, |env| {
                let id = state::future_field(env, &this)?;
                state::is_cancelled::<$op>(env, id)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_is_done<'l>(env: EnvUnowned<'l>, this: JObject<'l>) -> jboolean {
            native(env, |env| {
                let id = state::future_field(env, &this)?;
                state::is_done::<$op>(env, id)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_get<'l>(env: EnvUnowned<'l>, this: JObject<'l>) -> JObject<'l> {
            native(env, |env| {
                let id = state::future_field(env, &this)?;
                state::get::<$op>(env, id)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_get_timeout<'l>(
            env: EnvUnowned<'l>,
            this: JObject<'l>,
            timeout: jlong,
            unit: JObject<'l>,
        ) -> JObject<'l> {
            native(env, |env| {
                let id = state::future_field(env, &this)?;
                state::get_timeout::<$op>(env, id, timeout, &unit)
            })
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $f_finalize<'l>(env: EnvUnowned<'l>, this: JObject<'l>) {
            native(env, |env| state::finalize_named_future::<$op>(env, &this))
        }
    };
}

operation_natives!(
    Fetch,
    cancel: Java_org_apache_mesos_state_AbstractState__1_1fetch_1cancel,
    is_cancelled: Java_org_apache_mesos_state_AbstractState__1_1fetch_1is_1cancelled,
    is_done: Java_org_apache_mesos_state_AbstractState__1_1fetch_1is_1done,
    get: Java_org_apache_mesos_state_AbstractState__1_1fetch_1get,
    get_timeout: Java_org_apache_mesos_state_AbstractState__1_1fetch_1get_1timeout,
    finalize: Java_org_apache_mesos_state_AbstractState__1_1fetch_1finalize,
    future: Java_org_apache_mesos_state_AbstractState_00024FetchFuture_cancel,
    Java_org_apache_mesos_state_AbstractState_00024FetchFuture_isCancelled,
    Java_org_apache_mesos_state_AbstractState_00024FetchFuture_isDone,
    Java_org_apache_mesos_state_AbstractState_00024FetchFuture_get__,
    Java_org_apache_mesos_state_AbstractState_00024FetchFuture_get__JLjava_util_concurrent_TimeUnit_2,
    Java_org_apache_mesos_state_AbstractState_00024FetchFuture_finalize
);

operation_natives!(
    Store,
    cancel: Java_org_apache_mesos_state_AbstractState__1_1store_1cancel,
    is_cancelled: Java_org_apache_mesos_state_AbstractState__1_1store_1is_1cancelled,
    is_done: Java_org_apache_mesos_state_AbstractState__1_1store_1is_1done,
    get: Java_org_apache_mesos_state_AbstractState__1_1store_1get,
    get_timeout: Java_org_apache_mesos_state_AbstractState__1_1store_1get_1timeout,
    finalize: Java_org_apache_mesos_state_AbstractState__1_1store_1finalize,
    future: Java_org_apache_mesos_state_AbstractState_00024StoreFuture_cancel,
    Java_org_apache_mesos_state_AbstractState_00024StoreFuture_isCancelled,
    Java_org_apache_mesos_state_AbstractState_00024StoreFuture_isDone,
    Java_org_apache_mesos_state_AbstractState_00024StoreFuture_get__,
    Java_org_apache_mesos_state_AbstractState_00024StoreFuture_get__JLjava_util_concurrent_TimeUnit_2,
    Java_org_apache_mesos_state_AbstractState_00024StoreFuture_finalize
);

operation_natives!(
    Expunge,
    cancel: Java_org_apache_mesos_state_AbstractState__1_1expunge_1cancel,
    is_cancelled: Java_org_apache_mesos_state_AbstractState__1_1expunge_1is_1cancelled,
    is_done: Java_org_apache_mesos_state_AbstractState__1_1expunge_1is_1done,
    get: Java_org_apache_mesos_state_AbstractState__1_1expunge_1get,
    get_timeout: Java_org_apache_mesos_state_AbstractState__1_1expunge_1get_1timeout,
    finalize: Java_org_apache_mesos_state_AbstractState__1_1expunge_1finalize,
    future: Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_cancel,
    Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_isCancelled,
    Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_isDone,
    Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_get__,
    Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_get__JLjava_util_concurrent_TimeUnit_2,
    Java_org_apache_mesos_state_AbstractState_00024ExpungeFuture_finalize
);

operation_natives!(
    Names,
    cancel: Java_org_apache_mesos_state_AbstractState__1_1names_1cancel,
    is_cancelled: Java_org_apache_mesos_state_AbstractState__1_1names_1is_1cancelled,
    is_done: Java_org_apache_mesos_state_AbstractState__1_1names_1is_1done,
    get: Java_org_apache_mesos_state_AbstractState__1_1names_1get,
    get_timeout: Java_org_apache_mesos_state_AbstractState__1_1names_1get_1timeout,
    finalize: Java_org_apache_mesos_state_AbstractState__1_1names_1finalize,
    future: Java_org_apache_mesos_state_AbstractState_00024NamesFuture_cancel,
    Java_org_apache_mesos_state_AbstractState_00024NamesFuture_isCancelled,
    Java_org_apache_mesos_state_AbstractState_00024NamesFuture_isDone,
    Java_org_apache_mesos_state_AbstractState_00024NamesFuture_get__,
    Java_org_apache_mesos_state_AbstractState_00024NamesFuture_get__JLjava_util_concurrent_TimeUnit_2,
    Java_org_apache_mesos_state_AbstractState_00024NamesFuture_finalize
);

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_AbstractState_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| state::finalize_state(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_AbstractState__1_1fetch<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    name: JObject<'l>,
) -> jlong {
    native(env, |env| state::fetch(env, &this, &name))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_AbstractState__1_1store<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    variable: JObject<'l>,
) -> jlong {
    native(env, |env| state::store(env, &this, &variable))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_AbstractState__1_1expunge<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    variable: JObject<'l>,
) -> jlong {
    native(env, |env| state::expunge(env, &this, &variable))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_AbstractState__1_1names<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> jlong {
    native(env, |env| state::names(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_Variable_value<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JByteArray<'l> {
    native(env, |env| state::value(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_Variable_mutate<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    value: JByteArray<'l>,
) -> JObject<'l> {
    native(env, |env| state::mutate(env, &this, &value))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_Variable_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| state::finalize_variable(env, &this))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_ZooKeeperState_initialize__Ljava_lang_String_2JLjava_util_concurrent_TimeUnit_2Ljava_lang_String_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    servers: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    znode: JObject<'l>,
) {
    native(env, |env| {
        state::initialize_zookeeper(env, &this, &servers, timeout, &unit, &znode, None)
    })
}

#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "the Java method's arguments, as JNI passes them"
)]
pub extern "system" fn Java_org_apache_mesos_state_ZooKeeperState_initialize__Ljava_lang_String_2JLjava_util_concurrent_TimeUnit_2Ljava_lang_String_2Ljava_lang_String_2_3B<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    servers: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    znode: JObject<'l>,
    scheme: JObject<'l>,
    credentials: JByteArray<'l>,
) {
    native(env, |env| {
        let auth = Some((&scheme, &credentials));
        state::initialize_zookeeper(env, &this, &servers, timeout, &unit, &znode, auth)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_LevelDBState_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    path: JObject<'l>,
) {
    native(env, |env| state::initialize_local(env, &this, &path))
}

#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "the Java method's arguments, as JNI passes them"
)]
pub extern "system" fn Java_org_apache_mesos_state_LogState_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    servers: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    znode: JObject<'l>,
    quorum: jlong,
    path: JObject<'l>,
    diffs_between_snapshots: jint,
) {
    native(env, |env| {
        state::initialize_log_state(
            env,
            &this,
            &servers,
            timeout,
            &unit,
            &znode,
            quorum,
            &path,
            diffs_between_snapshots,
        )
    })
}

/// `LogState.finalize()` overrides `AbstractState.finalize()`: frees the state (and with it
/// the log's session once no operation holds it).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_state_LogState_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| state::finalize_state(env, &this))
}
