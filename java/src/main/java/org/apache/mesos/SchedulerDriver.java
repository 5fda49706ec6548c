package org.apache.mesos;

import java.util.Collection;

import org.apache.mesos.Protos.*;

/**
 * What a scheduler uses to talk to Mesos. Every method returns the driver's status
 * ({@link Status#DRIVER_RUNNING} while it runs) and returns at once: requests are queued and
 * sent in order.
 */
public interface SchedulerDriver {
  /** Starts the driver (only once). */
  Status start();

  /** Stops the driver; with {@code failover} the framework stays registered for its failover timeout. */
  Status stop(boolean failover);

  /** {@code stop(false)}: the framework is torn down and its tasks killed. */
  Status stop();

  /** Stops delivering callbacks; {@link #join} returns. */
  Status abort();

  /** Waits until the driver is stopped or aborted. */
  Status join();

  /** {@link #start} then {@link #join}. */
  Status run();

  Status requestResources(Collection<Request> requests);

  Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters);

  Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks);

  /** @deprecated use the form taking a collection of offer ids. */
  @Deprecated
  Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks, Filters filters);

  /** @deprecated use the form taking a collection of offer ids. */
  @Deprecated
  Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks);

  Status killTask(TaskID taskId);

  Status acceptOffers(Collection<OfferID> offerIds, Collection<Offer.Operation> operations, Filters filters);

  Status declineOffer(OfferID offerId, Filters filters);

  Status declineOffer(OfferID offerId);

  Status reviveOffers();

  Status reviveOffers(Collection<String> roles);

  Status suppressOffers();

  Status suppressOffers(Collection<String> roles);

  /** Only for drivers created with implicit acknowledgements off. */
  Status acknowledgeStatusUpdate(TaskStatus status);

  Status sendFrameworkMessage(ExecutorID executorId, SlaveID slaveId, byte[] data);

  /** Asks for the latest state of the given tasks (all non-terminal ones when empty). */
  Status reconcileTasks(Collection<TaskStatus> statuses);

  Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles,
      org.apache.mesos.scheduler.Protos.OfferConstraints offerConstraints);

  /** @deprecated use the form with offer constraints. */
  @Deprecated
  Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles);
}
