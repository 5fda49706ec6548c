package org.apache.hadoop.mapred;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.Filters;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.Request;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.scheduler.Protos.OfferConstraints;

/** A SchedulerDriver that records what the scheduler asked of it (no Mesos involved). */
final class RecordingDriver implements SchedulerDriver {
  static final class Launch {
    final List<OfferID> offers;
    final List<TaskInfo> tasks;

    Launch(Collection<OfferID> offers, Collection<TaskInfo> tasks) {
      this.offers = new ArrayList<OfferID>(offers);
      this.tasks = new ArrayList<TaskInfo>(tasks);
    }
  }

  final List<Launch> launches = new ArrayList<Launch>();
  final List<OfferID> declined = new ArrayList<OfferID>();
  final List<Filters> declineFilters = new ArrayList<Filters>();
  final List<TaskID> killed = new ArrayList<TaskID>();
  int revives;
  Boolean stoppedWithFailover;

  @Override
  public Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters) {
    launches.add(new Launch(offerIds, tasks));
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks) {
    return launchTasks(offerIds, tasks, Filters.getDefaultInstance());
  }

  @Override
  public Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks, Filters filters) {
    return launchTasks(java.util.Collections.singletonList(offerId), tasks, filters);
  }

  @Override
  public Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks) {
    return launchTasks(offerId, tasks, Filters.getDefaultInstance());
  }

  @Override
  public Status declineOffer(OfferID offerId, Filters filters) {
    declined.add(offerId);
    declineFilters.add(filters);
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status declineOffer(OfferID offerId) {
    return declineOffer(offerId, Filters.getDefaultInstance());
  }

  @Override
  public Status killTask(TaskID taskId) {
    killed.add(taskId);
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status reviveOffers() {
    revives++;
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status stop(boolean failover) {
    stoppedWithFailover = failover;
    return Status.DRIVER_STOPPED;
  }

  @Override public Status start() { return Status.DRIVER_RUNNING; }
  @Override public Status stop() { return stop(false); }
  @Override public Status abort() { return Status.DRIVER_ABORTED; }
  @Override public Status join() { return Status.DRIVER_STOPPED; }
  @Override public Status run() { return Status.DRIVER_STOPPED; }
  @Override public Status requestResources(Collection<Request> requests) { return Status.DRIVER_RUNNING; }
  @Override public Status acceptOffers(Collection<OfferID> o, Collection<Offer.Operation> ops, Filters f) {
    throw new UnsupportedOperationException("MesosScheduler launches with launchTasks");
  }
  @Override public Status reviveOffers(Collection<String> roles) { return reviveOffers(); }
  @Override public Status suppressOffers() { return Status.DRIVER_RUNNING; }
  @Override public Status suppressOffers(Collection<String> roles) { return Status.DRIVER_RUNNING; }
  @Override public Status acknowledgeStatusUpdate(TaskStatus status) { return Status.DRIVER_RUNNING; }
  @Override public Status sendFrameworkMessage(ExecutorID e, SlaveID s, byte[] data) { return Status.DRIVER_RUNNING; }
  @Override public Status reconcileTasks(Collection<TaskStatus> statuses) { return Status.DRIVER_RUNNING; }
  @Override public Status updateFramework(FrameworkInfo f, Collection<String> r, OfferConstraints c) { return Status.DRIVER_RUNNING; }
  @Override public Status updateFramework(FrameworkInfo f, Collection<String> r) { return Status.DRIVER_RUNNING; }
}
