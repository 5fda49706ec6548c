package org.apache.mesos.v1.scheduler;

import org.apache.mesos.MesosNativeLibrary;
import org.apache.mesos.v1.Protos.Credential;
import org.apache.mesos.v1.scheduler.Protos.Call;

/**
 * The v1 scheduler library over libmesos.so (binary-compatible with Apache's). The master
 * string is {@code host:port}, {@code master@host:port}, {@code zk://...} or
 * {@code file:///path}.
 */
public class V1Mesos implements Mesos {
  static {
    MesosNativeLibrary.load();
  }

  // Read by the native side by name: keep names and types.
  private final Scheduler scheduler;
  private final String master;
  private final Credential credential;

  private long __mesos;

  public V1Mesos(Scheduler scheduler, String master) {
    this(scheduler, master, null);
  }

  public V1Mesos(Scheduler scheduler, String master, Credential credential) {
    if (scheduler == null) {
      throw new NullPointerException("Not expecting a null scheduler");
    }
    if (master == null) {
      throw new NullPointerException("Not expecting a null master");
    }
    this.scheduler = scheduler;
    this.master = master;
    this.credential = credential;
    initialize();
  }

  public native void send(Call call);

  public native void reconnect();

  protected native void initialize();

  protected native void finalize();
}
