package org.apache.mesos.v1.scheduler;

import org.apache.mesos.v1.scheduler.Protos.Call;

/** The v1 scheduler library: send calls to the master; events arrive at the Scheduler. */
public interface Mesos {
  void send(Call call);

  /** Drops the connection to the master and connects again (disconnected, then connected). */
  void reconnect();
}
