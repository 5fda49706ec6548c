package org.apache.mesos;

import org.apache.mesos.Protos.*;

/** What an executor uses to talk to its agent. */
public interface ExecutorDriver {
  Status start();

  Status stop();

  Status abort();

  Status join();

  Status run();

  /** Status updates are delivered at least once (kept until the agent acknowledges them). */
  Status sendStatusUpdate(TaskStatus status);

  Status sendFrameworkMessage(byte[] data);
}
