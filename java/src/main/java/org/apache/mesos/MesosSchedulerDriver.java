package org.apache.mesos;

import java.util.Collection;
import java.util.Collections;

import org.apache.mesos.Protos.*;

/**
 * The scheduler driver backed by libmesos.so (remesos's, speaking the v1 scheduler API). The
 * master string is {@code host:port}, {@code master@host:port}, {@code file:///path} or
 * {@code local} (a master and agents inside this process).
 */
public class MesosSchedulerDriver implements SchedulerDriver {
  static {
    MesosNativeLibrary.load();
  }

  // Read by the native side by name: keep names and types.
  private final Scheduler scheduler;
  private final FrameworkInfo framework;
  private final Collection<String> suppressedRoles;
  private final String master;
  private final boolean implicitAcknowledgements;
  private final Credential credential;

  private long __scheduler;
  private long __driver;

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework, String master) {
    this(scheduler, framework, null, master, true, null, false);
  }

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework, String master,
      Credential credential) {
    this(scheduler, framework, null, master, true, credential, true);
  }

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework, String master,
      boolean implicitAcknowledgements) {
    this(scheduler, framework, null, master, implicitAcknowledgements, null, false);
  }

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework, String master,
      boolean implicitAcknowledgements, Credential credential) {
    this(scheduler, framework, null, master, implicitAcknowledgements, credential, true);
  }

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework,
      Collection<String> suppressedRoles, String master, boolean implicitAcknowledgements) {
    this(scheduler, framework, checkRoles(suppressedRoles), master, implicitAcknowledgements, null, false);
  }

  public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework,
      Collection<String> suppressedRoles, String master, boolean implicitAcknowledgements,
      Credential credential) {
    this(scheduler, framework, checkRoles(suppressedRoles), master, implicitAcknowledgements,
        credential, true);
  }

  private MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework,
      Collection<String> suppressedRoles, String master, boolean implicitAcknowledgements,
      Credential credential, boolean credentialRequired) {
    this.scheduler = notNull(scheduler, "scheduler");
    this.framework = notNull(framework, "framework");
    this.master = notNull(master, "master");
    this.suppressedRoles = suppressedRoles;
    this.implicitAcknowledgements = implicitAcknowledgements;
    this.credential = credentialRequired ? notNull(credential, "credential") : credential;
    initialize();
  }

  private static <T> T notNull(T value, String what) {
    if (value == null) {
      throw new NullPointerException("Not expecting a null " + what);
    }
    return value;
  }

  private static Collection<String> checkRoles(Collection<String> roles) {
    return notNull(roles, "suppressedRoles");
  }

  public native Status start();

  public native Status stop(boolean failover);

  public Status stop() {
    return stop(false);
  }

  public native Status abort();

  public native Status join();

  public Status run() {
    Status status = start();
    return status != Status.DRIVER_RUNNING ? status : join();
  }

  public native Status requestResources(Collection<Request> requests);

  public Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks) {
    return launchTasks(offerId, tasks, Filters.newBuilder().build());
  }

  public native Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks, Filters filters);

  public Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks) {
    return launchTasks(offerIds, tasks, Filters.newBuilder().build());
  }

  public native Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters);

  public native Status killTask(TaskID taskId);

  public native Status acceptOffers(Collection<OfferID> offerIds, Collection<Offer.Operation> operations,
      Filters filters);

  public Status declineOffer(OfferID offerId) {
    return declineOffer(offerId, Filters.newBuilder().build());
  }

  public native Status declineOffer(OfferID offerId, Filters filters);

  public native Status reviveOffers();

  public native Status reviveOffers(Collection<String> roles);

  public native Status suppressOffers();

  public native Status suppressOffers(Collection<String> roles);

  public native Status acknowledgeStatusUpdate(TaskStatus status);

  public native Status sendFrameworkMessage(ExecutorID executorId, SlaveID slaveId, byte[] data);

  public native Status reconcileTasks(Collection<TaskStatus> statuses);

  @Deprecated
  public native Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles);

  public Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles,
      org.apache.mesos.scheduler.Protos.OfferConstraints offerConstraints) {
    return updateFrameworkWithConstraints(frameworkInfo, suppressedRoles, offerConstraints);
  }

  private native Status updateFrameworkWithConstraints(FrameworkInfo frameworkInfo,
      Collection<String> suppressedRoles, org.apache.mesos.scheduler.Protos.OfferConstraints offerConstraints);

  protected native void initialize();

  protected native void finalize();
}
