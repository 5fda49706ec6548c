//! The natives of `org.apache.mesos.Log`, `Log$Reader` and `Log$Writer` (Apache's
//! `src/java/jni/org_apache_mesos_Log.cpp`): thin calls into
//! `remesos::client::driver::log`, whose module doc says how the log lives in ZooKeeper.
//!
//! `Log.__log`, `Reader.__reader` and `Writer.__writer` hold ids of the tables below
//! (`crate::handles`), not pointers; readers and writers hold their own reference to the
//! log's session, so that the JVM may finalize a `Log` before its readers and writers.
//! `Reader.__log`/`Writer.__log` copy the log's id as Apache's natives copy its pointer;
//! nothing here reads them. `finalize` forgets the id and zeroes the field: a finalized
//! object used again (or finalized twice) throws `IllegalStateException`, never a crash.
//!
//! Positions cross as `Log$Position(long)` (the value of Mesos's 8-byte big-endian
//! identity, as Apache's `convert<Log::Position>` makes it), entries as `Log$Entry(Position,
//! byte[])`; `read` returns a `java.util.ArrayList`. Timeouts are `unit.toNanos(timeout)`
//! (`convert::duration`; Apache's truncate to whole seconds).

use std::sync::{Arc, LazyLock};

use jni::objects::{JByteArray, JObject};
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use remesos::client::driver::log::{CallError, Log, LogConfig, LogError, Reader, Writer};

use crate::handles::{Handles, long_field, set_long_field};
use crate::{Error, Result, convert, native, throw};

static LOGS: LazyLock<Handles<Log>> = LazyLock::new(Handles::new);
static READERS: LazyLock<Handles<Reader>> = LazyLock::new(Handles::new);
static WRITERS: LazyLock<Handles<Writer>> = LazyLock::new(Handles::new);

fn reader_of(env: &mut Env, this: &JObject) -> Result<Arc<Reader>> {
    READERS.of(env, this, "__reader", "log reader")
}

fn writer_of(env: &mut Env, this: &JObject) -> Result<Arc<Writer>> {
    WRITERS.of(env, this, "__writer", "log writer")
}

const WRITER_FAILED: &str = "org/apache/mesos/Log$WriterFailedException";
const OPERATION_FAILED: &str = "org/apache/mesos/Log$OperationFailedException";

fn required_string(env: &mut Env, obj: &JObject, what: &str) -> Result<String> {
    match convert::string(env, obj)? {
        Some(s) => Ok(s),
        None => Err(throw(
            env,
            "java/lang/NullPointerException",
            &format!("Not expecting a null {what}"),
        )),
    }
}

/// Turns a failed call into the exception Apache's natives throw: `TimeoutException`, or
/// `failure` (WriterFailedException for writers, OperationFailedException for readers).
fn fail(env: &mut Env, error: CallError, failure: &str) -> Error {
    match error {
        CallError::Timeout(_) => throw(
            env,
            "java/util/concurrent/TimeoutException",
            &error.to_string(),
        ),
        CallError::Log(LogError::TooLarge { .. }) => throw(
            env,
            "java/lang/IllegalArgumentException",
            &error.to_string(),
        ),
        CallError::Log(e) => throw(env, failure, &e.to_string()),
    }
}

fn position<'l>(env: &mut Env<'l>, value: u64) -> Result<JObject<'l>> {
    let class = env.find_class(jni_str!("org/apache/mesos/Log$Position"))?;
    Ok(env.new_object(&class, jni_sig!("(J)V"), &[JValue::Long(value as i64)])?)
}

fn position_value(env: &mut Env, position: &JObject) -> Result<u64> {
    if position.is_null() {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "Not expecting a null Position",
        ));
    }
    let value = env
        .get_field(position, jni_str!("value"), jni_sig!("J"))?
        .j()?;
    Ok(value as u64)
}

fn initialize_log(
    env: &mut Env,
    this: &JObject,
    servers: &JObject,
    timeout: jlong,
    unit: &JObject,
    znode: &JObject,
    auth: Option<(&JObject, &JByteArray)>,
) -> Result<()> {
    let config = log_config(env, servers, timeout, unit, znode, auth)?;
    LOGS.attach(env, this, "__log", Arc::new(Log::new(config)))?;
    Ok(())
}

/// Where a log lives, from a Java constructor's arguments (`Log`'s and `LogState`'s): a
/// null is a `NullPointerException`, a bad znode or timeout an `IllegalArgumentException`.
pub(crate) fn log_config(
    env: &mut Env,
    servers: &JObject,
    timeout: jlong,
    unit: &JObject,
    znode: &JObject,
    auth: Option<(&JObject, &JByteArray)>,
) -> Result<LogConfig> {
    let servers = required_string(env, servers, "servers")?;
    let znode = required_string(env, znode, "znode")?;
    let session_timeout = convert::duration(env, timeout, unit)?;
    let auth = match auth {
        Some((scheme, credentials)) => {
            let scheme = required_string(env, scheme, "scheme")?;
            let credentials = convert::bytes(env, credentials)?;
            Some((scheme, credentials))
        }
        None => None,
    };
    LogConfig::new(&servers, &znode, session_timeout, auth)
        .map_err(|e| throw(env, "java/lang/IllegalArgumentException", &e.to_string()))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_initialize__ILjava_lang_String_2Ljava_util_Set_2<
    'l,
>(
    env: EnvUnowned<'l>,
    _this: JObject<'l>,
    _quorum: jint,
    _path: JObject<'l>,
    _pids: JObject<'l>,
) {
    native(env, |env| -> Result<()> {
        Err(throw(
            env,
            "java/lang/UnsupportedOperationException",
            "remesos keeps the replicated log in ZooKeeper: use the Log constructor that takes \
             ZooKeeper servers and a znode",
        ))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_initialize__ILjava_lang_String_2Ljava_lang_String_2JLjava_util_concurrent_TimeUnit_2Ljava_lang_String_2<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    _quorum: jint,
    _path: JObject<'l>,
    servers: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    znode: JObject<'l>,
) {
    native(env, |env| {
        initialize_log(env, &this, &servers, timeout, &unit, &znode, None)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_initialize__ILjava_lang_String_2Ljava_lang_String_2JLjava_util_concurrent_TimeUnit_2Ljava_lang_String_2Ljava_lang_String_2_3B<
    'l,
>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    _quorum: jint,
    _path: JObject<'l>,
    servers: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    znode: JObject<'l>,
    scheme: JObject<'l>,
    credentials: JByteArray<'l>,
) {
    native(env, |env| {
        initialize_log(
            env,
            &this,
            &servers,
            timeout,
            &unit,
            &znode,
            Some((&scheme, &credentials)),
        )
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| LOGS.detach(env, &this, "__log"))
}

/// `log.__log`, copied into `this.__log` as Apache's natives do.
fn adopt_log(env: &mut Env, this: &JObject, log: &JObject) -> Result<Arc<Log>> {
    if log.is_null() {
        return Err(throw(
            env,
            "java/lang/NullPointerException",
            "Not expecting a null Log",
        ));
    }
    let id = long_field(env, log, "__log")?;
    let log = LOGS.get(env, id, "log")?;
    set_long_field(env, this, "__log", id)?;
    Ok(log)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    log: JObject<'l>,
) {
    native(env, |env| {
        let log = adopt_log(env, &this, &log)?;
        READERS.attach(env, &this, "__reader", Arc::new(Reader::new(&log)))?;
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| READERS.detach(env, &this, "__reader"))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_read<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    from: JObject<'l>,
    to: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        let reader = reader_of(env, &this)?;
        let from = position_value(env, &from)?;
        let to = position_value(env, &to)?;
        let timeout = convert::duration(env, timeout, &unit)?;
        let entries = reader
            .read(from, to, timeout)
            .map_err(|e| fail(env, e, OPERATION_FAILED))?;
        let list_class = env.find_class(jni_str!("java/util/ArrayList"))?;
        let list = env.new_object(&list_class, jni_sig!("()V"), &[])?;
        for entry in entries {
            // One local frame per entry: a long read must not pile up local references.
            env.with_local_frame(4, |env| -> Result<()> {
                let position = position(env, entry.position)?;
                let data = env.byte_array_from_slice(&entry.data)?;
                let class = env.find_class(jni_str!("org/apache/mesos/Log$Entry"))?;
                let entry = env.new_object(
                    &class,
                    jni_sig!("(Lorg/apache/mesos/Log$Position;[B)V"),
                    &[JValue::Object(&position), JValue::Object(&data)],
                )?;
                env.call_method(
                    &list,
                    jni_str!("add"),
                    jni_sig!("(Ljava/lang/Object;)Z"),
                    &[JValue::Object(&entry)],
                )?;
                Ok(())
            })?;
        }
        Ok(list)
    })
}

/// `beginning`/`ending` declare no exception in Java; a failure is a `RuntimeException`.
fn reader_position<'l>(
    env: &mut Env<'l>,
    this: &JObject,
    f: impl FnOnce(&Reader) -> std::result::Result<u64, CallError>,
) -> Result<JObject<'l>> {
    let reader = reader_of(env, this)?;
    match f(&reader) {
        Ok(value) => position(env, value),
        Err(e) => Err(throw(env, "java/lang/RuntimeException", &e.to_string())),
    }
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_beginning<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| reader_position(env, &this, Reader::beginning))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_ending<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| reader_position(env, &this, Reader::ending))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Reader_catchup<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        let reader = reader_of(env, &this)?;
        let timeout = convert::duration(env, timeout, &unit)?;
        let ending = reader
            .catchup(timeout)
            .map_err(|e| fail(env, e, OPERATION_FAILED))?;
        position(env, ending)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Writer_initialize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    log: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
    retries: jint,
) {
    native(env, |env| {
        let log = adopt_log(env, &this, &log)?;
        let timeout = convert::duration(env, timeout, &unit)?;
        let writer = Writer::start(&log, timeout, retries);
        WRITERS.attach(env, &this, "__writer", Arc::new(writer))?;
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Writer_finalize<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
) {
    native(env, |env| WRITERS.detach(env, &this, "__writer"))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Writer_append<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    data: JByteArray<'l>,
    timeout: jlong,
    unit: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        let writer = writer_of(env, &this)?;
        if data.is_null() {
            return Err(throw(
                env,
                "java/lang/NullPointerException",
                "Not expecting null data",
            ));
        }
        let data = convert::bytes(env, &data)?;
        let timeout = convert::duration(env, timeout, &unit)?;
        let at = writer
            .append(&data, timeout)
            .map_err(|e| fail(env, e, WRITER_FAILED))?;
        position(env, at)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_mesos_Log_00024Writer_truncate<'l>(
    env: EnvUnowned<'l>,
    this: JObject<'l>,
    to: JObject<'l>,
    timeout: jlong,
    unit: JObject<'l>,
) -> JObject<'l> {
    native(env, |env| {
        let writer = writer_of(env, &this)?;
        let to = position_value(env, &to)?;
        let timeout = convert::duration(env, timeout, &unit)?;
        let at = writer
            .truncate(to, timeout)
            .map_err(|e| fail(env, e, WRITER_FAILED))?;
        position(env, at)
    })
}
