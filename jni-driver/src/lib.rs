//! `libmesos.so`: the JNI natives of Apache's `org.apache.mesos.MesosSchedulerDriver`,
//! `MesosExecutorDriver` and `MesosNativeLibrary`. Thin: the driver logic lives in
//! `remesos::client`.
