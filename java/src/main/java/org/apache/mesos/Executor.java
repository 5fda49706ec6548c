package org.apache.mesos;

import org.apache.mesos.Protos.*;

/**
 * A custom executor. The driver calls these methods one at a time, in order, on one thread of
 * its own; a method that throws aborts the driver.
 */
public interface Executor {
  void registered(ExecutorDriver driver, ExecutorInfo executorInfo, FrameworkInfo frameworkInfo, SlaveInfo slaveInfo);

  void reregistered(ExecutorDriver driver, SlaveInfo slaveInfo);

  void disconnected(ExecutorDriver driver);

  /** Start the task; report its states with {@link ExecutorDriver#sendStatusUpdate}. */
  void launchTask(ExecutorDriver driver, TaskInfo task);

  void killTask(ExecutorDriver driver, TaskID taskId);

  void frameworkMessage(ExecutorDriver driver, byte[] data);

  /** The agent asks the executor to end its tasks and exit. */
  void shutdown(ExecutorDriver driver);

  void error(ExecutorDriver driver, String message);
}
