package org.apache.hadoop.mapred;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.Filters;
import org.apache.mesos.Protos.FrameworkID;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.MasterInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.Request;
import org.apache.mesos.Protos.Resource;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.SlaveInfo;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.scheduler.Protos.OfferConstraints;

/**
 * A one-agent Mesos inside the test JVM: offers the agent's free resources every 200 ms,
 * checks every launch against its offer, and runs each launched task's executor — the real
 * {@link MesosExecutor}, so a real TaskTracker — in-process. Callbacks come from one thread,
 * as from a driver. It stands in for master + agent + libmesos.so, so MesosScheduler's glue
 * to a real JobTracker is tested without the JNI library; the end-to-end test in
 * core/tests/hadoop.rs covers the real thing.
 */
final class InProcessMesos implements SchedulerDriver {
  private final Scheduler scheduler;
  private final ExecutorService callbacks = Executors.newSingleThreadExecutor();
  private final ScheduledExecutorService offerTimer = Executors.newSingleThreadScheduledExecutor();
  private final SlaveID agent = SlaveID.newBuilder().setValue("agent-0").build();
  private final double cpus;
  private final double mem;
  private double usedCpus;
  private double usedMem;
  private OfferID outstanding;
  private long refusedUntilMs;
  private int offerCount;
  private final Map<String, Running> running = new HashMap<String, Running>();
  /** Every status the scheduler was sent, in order, and every kill it asked for. */
  final List<TaskStatus> statuses = Collections.synchronizedList(new ArrayList<TaskStatus>());
  final List<TaskID> kills = Collections.synchronizedList(new ArrayList<TaskID>());
  final List<String> errors = Collections.synchronizedList(new ArrayList<String>());
  volatile Boolean stoppedWithFailover;

  private final class Running {
    final TaskInfo task;
    final MesosExecutor executor = new MesosExecutor();
    final LocalExecutorDriver driver = new LocalExecutorDriver(this);
    final double cpus;
    final double mem;

    Running(TaskInfo task) {
      this.task = task;
      this.cpus = sum(task.getResourcesList(), "cpus") + sum(task.getExecutor().getResourcesList(), "cpus");
      this.mem = sum(task.getResourcesList(), "mem") + sum(task.getExecutor().getResourcesList(), "mem");
    }
  }

  InProcessMesos(Scheduler scheduler, double cpus, double mem) {
    this.scheduler = scheduler;
    this.cpus = cpus;
    this.mem = mem;
  }

  private static double sum(List<Resource> rs, String name) {
    double s = 0;
    for (Resource r : rs) {
      if (r.getName().equals(name)) {
        s += r.getScalar().getValue();
      }
    }
    return s;
  }

  private static long freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public Status start() {
    final SchedulerDriver self = this;
    callbacks.submit(new Runnable() {
      @Override
      public void run() {
        scheduler.registered(self, FrameworkID.newBuilder().setValue("fw-0").build(),
            MasterInfo.newBuilder().setId("m").setIp(0x7f000001).setPort(5050).setHostname("127.0.0.1").build());
      }
    });
    offerTimer.scheduleWithFixedDelay(new Runnable() {
      @Override
      public void run() {
        maybeOffer();
      }
    }, 100, 200, TimeUnit.MILLISECONDS);
    return Status.DRIVER_RUNNING;
  }

  private synchronized void maybeOffer() {
    if (outstanding != null || stoppedWithFailover != null
        || System.currentTimeMillis() < refusedUntilMs || cpus - usedCpus < 0.01) {
      return;
    }
    // Four currently free ports, one range each.
    Offer.Builder offer = Offers.offer("offer-" + offerCount++, agent.getValue(), "127.0.0.1",
        cpus - usedCpus, mem - usedMem, 0).toBuilder();
    offer.removeResources(3);
    for (int i = 0; i < 4; i++) {
      long p = freePort();
      offer.addResources(Offers.ports(p, p, "*"));
    }
    final Offer o = offer.build();
    outstanding = o.getId();
    final SchedulerDriver self = this;
    callbacks.submit(new Runnable() {
      @Override
      public void run() {
        scheduler.resourceOffers(self, Collections.singletonList(o));
      }
    });
  }

  @Override
  public synchronized Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters) {
    if (offerIds.size() != 1 || !offerIds.iterator().next().equals(outstanding)) {
      errors.add("launch on unknown offer " + offerIds);
      return Status.DRIVER_RUNNING;
    }
    outstanding = null;
    for (TaskInfo task : tasks) {
      Running r = new Running(task);
      if (usedCpus + r.cpus > cpus + 1e-9 || usedMem + r.mem > mem + 1e-9) {
        errors.add("task " + task.getTaskId().getValue() + " exceeds the offer");
        continue;
      }
      usedCpus += r.cpus;
      usedMem += r.mem;
      running.put(task.getTaskId().getValue(), r);
      r.executor.registered(r.driver, task.getExecutor(), FrameworkInfo.newBuilder().setUser("").setName("t").build(),
          SlaveInfo.newBuilder().setHostname("127.0.0.1").setId(agent).build());
      r.executor.launchTask(r.driver, task);
    }
    return Status.DRIVER_RUNNING;
  }

  @Override
  public synchronized Status declineOffer(OfferID offerId, Filters filters) {
    if (offerId.equals(outstanding)) {
      outstanding = null;
      refusedUntilMs = System.currentTimeMillis() + (long) (filters.getRefuseSeconds() * 1000);
    }
    return Status.DRIVER_RUNNING;
  }

  @Override
  public synchronized Status reviveOffers() {
    refusedUntilMs = 0;
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status killTask(TaskID taskId) {
    kills.add(taskId);
    Running r;
    synchronized (this) {
      r = running.get(taskId.getValue());
    }
    if (r != null) {
      r.executor.killTask(r.driver, taskId);
    }
    return Status.DRIVER_RUNNING;
  }

  @Override
  public Status stop(boolean failover) {
    List<Running> all;
    synchronized (this) {
      stoppedWithFailover = failover;
      all = new ArrayList<Running>(running.values());
    }
    if (!failover) {
      for (Running r : all) {
        r.executor.shutdown(r.driver);
      }
    }
    offerTimer.shutdownNow();
    return Status.DRIVER_STOPPED;
  }

  synchronized int runningTasks() {
    return running.size();
  }

  /** The ExecutorDriver MesosExecutor talks to: updates go to the scheduler's callback thread. */
  private final class LocalExecutorDriver implements ExecutorDriver {
    private final Running owner;

    LocalExecutorDriver(Running owner) {
      this.owner = owner;
    }

    @Override
    public Status sendStatusUpdate(final TaskStatus status) {
      statuses.add(status);
      if (TrackerManager.isTerminal(status.getState())) {
        synchronized (InProcessMesos.this) {
          if (running.remove(status.getTaskId().getValue()) != null) {
            usedCpus -= owner.cpus;
            usedMem -= owner.mem;
          }
        }
      }
      final SchedulerDriver self = InProcessMesos.this;
      callbacks.submit(new Runnable() {
        @Override
        public void run() {
          scheduler.statusUpdate(self, status.toBuilder().setSlaveId(agent).build());
        }
      });
      return Status.DRIVER_RUNNING;
    }

    @Override public Status start() { return Status.DRIVER_RUNNING; }
    @Override public Status stop() { return Status.DRIVER_STOPPED; }
    @Override public Status abort() { return Status.DRIVER_ABORTED; }
    @Override public Status join() { return Status.DRIVER_STOPPED; }
    @Override public Status run() { return Status.DRIVER_STOPPED; }
    @Override public Status sendFrameworkMessage(byte[] data) { return Status.DRIVER_RUNNING; }
  }

  @Override public Status stop() { return stop(false); }
  @Override public Status abort() { return stop(true); }
  @Override public Status join() { return Status.DRIVER_STOPPED; }
  @Override public Status run() { return start(); }
  @Override public Status requestResources(Collection<Request> requests) { return Status.DRIVER_RUNNING; }
  @Override public Status launchTasks(Collection<OfferID> o, Collection<TaskInfo> t) { return launchTasks(o, t, Filters.getDefaultInstance()); }
  @Override public Status launchTasks(OfferID o, Collection<TaskInfo> t, Filters f) { return launchTasks(Collections.singletonList(o), t, f); }
  @Override public Status launchTasks(OfferID o, Collection<TaskInfo> t) { return launchTasks(Collections.singletonList(o), t, Filters.getDefaultInstance()); }
  @Override public Status acceptOffers(Collection<OfferID> o, Collection<Offer.Operation> ops, Filters f) { throw new UnsupportedOperationException(); }
  @Override public Status declineOffer(OfferID offerId) { return declineOffer(offerId, Filters.getDefaultInstance()); }
  @Override public Status reviveOffers(Collection<String> roles) { return reviveOffers(); }
  @Override public Status suppressOffers() { return Status.DRIVER_RUNNING; }
  @Override public Status suppressOffers(Collection<String> roles) { return Status.DRIVER_RUNNING; }
  @Override public Status acknowledgeStatusUpdate(TaskStatus status) { return Status.DRIVER_RUNNING; }
  @Override public Status sendFrameworkMessage(ExecutorID e, SlaveID s, byte[] data) { return Status.DRIVER_RUNNING; }
  @Override public Status reconcileTasks(Collection<TaskStatus> statuses) { return Status.DRIVER_RUNNING; }
  @Override public Status updateFramework(FrameworkInfo f, Collection<String> r, OfferConstraints c) { return Status.DRIVER_RUNNING; }
  @Override public Status updateFramework(FrameworkInfo f, Collection<String> r) { return Status.DRIVER_RUNNING; }
}
