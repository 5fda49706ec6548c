package org.apache.mesos;

import org.apache.mesos.Protos.*;

/**
 * The executor driver backed by libmesos.so (the v1 executor API). It reads the Mesos
 * executor environment (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_AGENT_ENDPOINT or
 * MESOS_SLAVE_PID, ...) that the agent sets.
 */
public class MesosExecutorDriver implements ExecutorDriver {
  static {
    MesosNativeLibrary.load();
  }

  // Read by the native side by name: keep names and types.
  private final Executor executor;
  private long __executor;
  private long __driver;

  public MesosExecutorDriver(Executor executor) {
    if (executor == null) {
      throw new NullPointerException("Not expecting a null executor");
    }
    this.executor = executor;
    initialize();
  }

  public native Status start();

  public native Status stop();

  public native Status abort();

  public native Status join();

  public Status run() {
    Status status = start();
    return status != Status.DRIVER_RUNNING ? status : join();
  }

  public native Status sendStatusUpdate(TaskStatus status);

  public native Status sendFrameworkMessage(byte[] data);

  protected native void initialize();

  protected native void finalize();
}
