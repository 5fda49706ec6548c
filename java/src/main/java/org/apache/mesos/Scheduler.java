package org.apache.mesos;

import java.util.List;

import org.apache.mesos.Protos.*;

/**
 * A framework's scheduler. The driver calls these methods one at a time, in order, on one
 * thread of its own; a method that throws aborts the driver. Calling the driver from inside a
 * callback is allowed (the driver never waits for its callback thread).
 */
public interface Scheduler {
  /** The framework registered with a master for the first time (or after a failover). */
  void registered(SchedulerDriver driver, FrameworkID frameworkId, MasterInfo masterInfo);

  /** The driver registered again with a master after losing it. */
  void reregistered(SchedulerDriver driver, MasterInfo masterInfo);

  /** Resources offered to the framework; each offer is valid until used, declined or rescinded. */
  void resourceOffers(SchedulerDriver driver, List<Offer> offers);

  /** An offer is no longer valid (its resources went elsewhere or the agent left). */
  void offerRescinded(SchedulerDriver driver, OfferID offerId);

  /** A task changed state. With implicit acknowledgements the driver acknowledges on return. */
  void statusUpdate(SchedulerDriver driver, TaskStatus status);

  /** A message from an executor (at most once). */
  void frameworkMessage(SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, byte[] data);

  /** The connection to the master is lost; the driver reconnects by itself. */
  void disconnected(SchedulerDriver driver);

  /** An agent was lost; its tasks get their own updates. */
  void slaveLost(SchedulerDriver driver, SlaveID slaveId);

  /** An executor ended, with its exit status. */
  void executorLost(SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, int status);

  /** An unrecoverable error; the driver is aborted before this is called. */
  void error(SchedulerDriver driver, String message);
}
