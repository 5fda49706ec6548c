package org.apache.mesos.v1.scheduler;

import org.apache.mesos.MesosNativeLibrary;
import org.apache.mesos.v1.Protos.Credential;
import org.apache.mesos.v1.Protos.FrameworkInfo;
import org.apache.mesos.v1.scheduler.Protos.Call;

/**
 * The v1 scheduler interface with the framework subscribed by the library itself, with the
 * FrameworkInfo given here (binary-compatible with Apache's adapter over the v0 driver);
 * the framework's SUBSCRIBE calls are ignored.
 */
public class V0Mesos implements Mesos {
  static {
    MesosNativeLibrary.load();
  }

  // Read by the native side by name: keep names and types.
  private final Scheduler scheduler;
  private final FrameworkInfo framework;
  private final String master;
  private final Credential credential;

  private long __mesos;

  public V0Mesos(Scheduler scheduler, FrameworkInfo framework, String master) {
    this(scheduler, framework, master, null);
  }

  public V0Mesos(Scheduler scheduler, FrameworkInfo framework, String master,
      Credential credential) {
    if (scheduler == null) {
      throw new NullPointerException("Not expecting a null scheduler");
    }
    if (framework == null) {
      throw new NullPointerException("Not expecting a null framework");
    }
    if (master == null) {
      throw new NullPointerException("Not expecting a null master");
    }
    this.scheduler = scheduler;
    this.framework = framework;
    this.master = master;
    this.credential = credential;
    initialize();
  }

  public native void send(Call call);

  /** As Apache's V0Mesos: the v0 driver reconnects by itself. */
  public void reconnect() {}

  protected native void initialize();

  protected native void finalize();
}
