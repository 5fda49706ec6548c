package org.apache.hadoop.mapred;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.mesos.Protos.CommandInfo;
import org.apache.mesos.Protos.Environment;
import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.ExecutorInfo;
import org.apache.mesos.Protos.Filters;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.Resource;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskState;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.SchedulerDriver;

/**
 * The Mesos half of MesosScheduler: turns Hadoop's demand into TaskTracker launches, keeps
 * the Mesos task ↔ TaskTracker pairing, kills idle and stuck trackers, and tells Hadoop
 * about trackers Mesos lost.
 *
 * <p>Failed launches: a TaskTracker whose Mesos task ends before the tracker's first heartbeat
 * (a tarball without Hadoop in it, a URI the agent cannot fetch, a JVM that cannot start) is a
 * failed launch. Relaunching at once on the next offer only repeats it (hadoop-mesos users saw
 * dozens of sandboxes per second), so after each one offers are declined for a backoff that
 * doubles per consecutive failure ({@code mapred.mesos.tracker.failure.backoff.seconds}, capped
 * by {@code ...backoff.max.seconds}), each failure is logged at WARN with the task's state,
 * reason and message, and after {@code mapred.mesos.tracker.failure.max} consecutive failures
 * the jobs waiting for slots fail with that reason as their diagnostic
 * ({@link ClusterView#failWaitingJobs}). A tracker that joins resets the count. The backoff
 * has the shape of Mesos's own retries (src/sched/sched.cpp doReliableRegistration: the
 * interval doubles per attempt, bounded by REGISTRATION_RETRY_INTERVAL_MAX), without the
 * jitter: one JobTracker is not a herd.
 *
 * <p>Locking: callers that need Hadoop state hold {@code view.lock()} (the JobTracker) and
 * then this object's monitor, never the reverse — the order of the JobTracker's own
 * heartbeat path, which calls {@link #heartbeat} with the JobTracker locked. Driver calls
 * made under these locks must not wait for the driver's callback thread (the project's
 * libmesos.so only enqueues them, as does Apache's).
 */
final class TrackerManager {
  private static final Log LOG = LogFactory.getLog(TrackerManager.class);

  private final MesosConfig config;
  private final SlotPolicy policy;
  private final ClusterView view;
  /** The JobTracker's configuration: sent to each TaskTracker with per-tracker overrides. */
  private final Configuration baseConf;
  /** Variables copied into the executor's environment (JAVA_HOME ...). */
  private final Map<String, String> executorEnv;
  private final Random random;

  private SchedulerDriver driver;
  /** By task id; insertion order = launch order. */
  private final Map<String, MesosTracker> trackers = new LinkedHashMap<String, MesosTracker>();
  private int nextTrackerId;
  /** Offers were declined with a refuse filter since the last revive. */
  private boolean declinedSinceRevive;
  private boolean shuttingDown;
  /** Failed launches since the last tracker joined (or the last time jobs were failed). */
  private int consecutiveFailures;
  /** No launch before this time (ms): the backoff after the last failed launch. */
  private long backoffUntilMs;

  TrackerManager(
      MesosConfig config,
      ClusterView view,
      Configuration baseConf,
      Map<String, String> executorEnv,
      Random random) {
    this.config = config;
    this.policy = new SlotPolicy(config);
    this.view = view;
    this.baseConf = baseConf;
    this.executorEnv = executorEnv;
    this.random = random;
  }

  synchronized void setDriver(SchedulerDriver driver) {
    this.driver = driver;
  }

  synchronized Collection<MesosTracker> trackers() {
    return new ArrayList<MesosTracker>(trackers.values());
  }

  // ---- Hadoop side ---------------------------------------------------------------------

  /**
   * A heartbeat from host:httpPort (JobTracker locked). Returns false when the tracker is
   * one we are killing: it must not be given new tasks.
   */
  synchronized boolean heartbeat(String host, int httpPort, long nowMs) {
    MesosTracker t = byHostPort(host, httpPort);
    if (t == null) {
      return true; // not ours (e.g. a statically started TaskTracker): schedule normally
    }
    if (t.firstHeartbeatAtMs < 0) {
      t.firstHeartbeatAtMs = nowMs;
      // The launch path works: earlier failures were transient.
      consecutiveFailures = 0;
      backoffUntilMs = 0;
      LOG.info(
          "TaskTracker " + t + " joined: first heartbeat " + (nowMs - t.launchedAtMs)
              + " ms after launch");
    }
    return !t.stopped;
  }

  /** The delegate scheduler gave host:httpPort tasks of these jobs (JobTracker locked). */
  synchronized void assigned(String host, int httpPort, Collection<JobID> jobs) {
    MesosTracker t = byHostPort(host, httpPort);
    if (t != null && !jobs.isEmpty()) {
      t.jobs.addAll(jobs);
      t.idleChecks = 0;
    }
  }

  /** A job was submitted: offers declined while there was no demand are wanted again. */
  synchronized void demandMayHaveGrown() {
    reviveIfDeclined();
  }

  // ---- Mesos side ----------------------------------------------------------------------

  /** Launches TaskTrackers for the unmet demand; declines every offer it doesn't use. */
  void resourceOffers(SchedulerDriver driver, List<Offer> offers, long nowMs) {
    synchronized (view.lock()) {
      synchronized (this) {
        int[] needed = neededSlots();
        boolean backingOff = nowMs < backoffUntilMs;
        for (Offer offer : offers) {
          if (shuttingDown || (needed[0] <= 0 && needed[1] <= 0)) {
            decline(driver, offer.getId());
            continue;
          }
          if (backingOff) {
            // Refused until the backoff ends: the master offers again about then.
            double remaining = Math.max(1.0, Math.ceil((backoffUntilMs - nowMs) / 1000.0));
            driver.declineOffer(offer.getId(),
                Filters.newBuilder().setRefuseSeconds(Math.min(remaining, config.refuseSeconds))
                    .build());
            declinedSinceRevive = true;
            continue;
          }
          MesosTracker launched = tryLaunch(driver, offer, needed[0], needed[1], nowMs);
          if (launched == null) {
            decline(driver, offer.getId());
          } else {
            needed[0] -= launched.mapSlots;
            needed[1] -= launched.reduceSlots;
          }
        }
      }
    }
  }

  void statusUpdate(SchedulerDriver driver, TaskStatus status, long nowMs) {
    synchronized (view.lock()) {
      synchronized (this) {
        MesosTracker t = trackers.get(status.getTaskId().getValue());
        if (t == null) {
          return;
        }
        if (status.getState() == TaskState.TASK_RUNNING && t.runningAtMs < 0) {
          t.runningAtMs = nowMs;
          LOG.info("TaskTracker " + t + " RUNNING " + (nowMs - t.launchedAtMs) + " ms after launch");
        }
        if (isTerminal(status.getState())) {
          LOG.info(
              "TaskTracker " + t + " ended " + status.getState()
                  + (status.hasMessage() ? ": " + status.getMessage() : ""));
          forget(t);
          if (!t.active()) {
            launchFailed(t, t.stopped
                ? "it did not join within " + config.launchTimeoutSecs + " s ("
                    + MesosConfig.LAUNCH_TIMEOUT + ") and was killed"
                : describe(status), nowMs);
          }
        }
      }
    }
  }

  /** An agent is gone: so are the trackers on it. */
  void slaveLost(SlaveID slaveId) {
    synchronized (view.lock()) {
      synchronized (this) {
        for (MesosTracker t : new ArrayList<MesosTracker>(trackers.values())) {
          if (t.slaveId.equals(slaveId)) {
            LOG.warn("TaskTracker " + t + " lost with agent " + slaveId.getValue());
            forget(t);
          }
        }
      }
    }
  }

  /** An executor process ended: its TaskTracker ran inside it. */
  void executorLost(ExecutorID executorId, SlaveID slaveId, int status, long nowMs) {
    synchronized (view.lock()) {
      synchronized (this) {
        for (MesosTracker t : new ArrayList<MesosTracker>(trackers.values())) {
          if (t.executorId.equals(executorId) && t.slaveId.equals(slaveId)) {
            LOG.warn("TaskTracker " + t + " lost: its executor exited with status " + status);
            forget(t);
            if (!t.active()) {
              launchFailed(t, "its executor exited with status " + status
                  + " before the TaskTracker joined", nowMs);
            }
          }
        }
      }
    }
  }

  /**
   * The periodic check: kill trackers that never joined within the launch timeout, and
   * trackers idle for {@code idle.checks} consecutive checks (unless that would shrink the
   * pool below the configured minimum); revive offers when demand came back after declines.
   */
  void periodicCheck(long nowMs, boolean idleCheck) {
    synchronized (view.lock()) {
      synchronized (this) {
        if (shuttingDown) {
          return;
        }
        int[] pool = poolSlots();
        // Free slots while tasks of their kind wait are not idle: the JobTracker is about to
        // fill them (a job's setup task runs alone first; killing the other trackers then
        // only to relaunch them is hadoop-mesos #59).
        int[] pending = view.pendingTasks();
        for (MesosTracker t : new ArrayList<MesosTracker>(trackers.values())) {
          if (t.stopped) {
            continue;
          }
          if (!t.active()) {
            if (nowMs - t.launchedAtMs > config.launchTimeoutSecs * 1000L) {
              LOG.warn("TaskTracker " + t + " did not join within "
                  + config.launchTimeoutSecs + " s: killing it");
              kill(t);
            }
            continue;
          }
          if (!idleCheck) {
            continue;
          }
          ClusterView.TrackerLoad load = view.tracker(t.host, t.httpPort);
          for (Iterator<JobID> it = t.jobs.iterator(); it.hasNext(); ) {
            if (view.jobComplete(it.next())) {
              it.remove();
            }
          }
          boolean wanted =
              (pending[0] > 0 && t.mapSlots > 0) || (pending[1] > 0 && t.reduceSlots > 0);
          boolean idle = load != null && load.allSlotsFree() && t.jobs.isEmpty() && !wanted;
          t.idleChecks = idle ? t.idleChecks + 1 : 0;
          boolean keep =
              pool[0] - t.mapSlots < config.minMapSlots
                  || pool[1] - t.reduceSlots < config.minReduceSlots;
          if (t.idleChecks >= config.idleChecks && !keep) {
            LOG.info("TaskTracker " + t + " idle for " + t.idleChecks + " checks: killing it");
            kill(t);
            pool[0] -= t.mapSlots;
            pool[1] -= t.reduceSlots;
          }
        }
        int[] needed = neededSlots();
        if ((needed[0] > 0 || needed[1] > 0) && nowMs >= backoffUntilMs) {
          reviveIfDeclined();
        }
      }
    }
  }

  /** Consecutive failed launches so far (tests). */
  synchronized int consecutiveFailures() {
    return consecutiveFailures;
  }

  /** When launches resume, or 0 (tests). */
  synchronized long backoffUntilMs() {
    return backoffUntilMs;
  }

  /** The JobTracker is stopping: no more launches. */
  synchronized void shutdown() {
    shuttingDown = true;
  }

  // ---- internals (monitor held) --------------------------------------------------------

  /**
   * A tracker ended before it joined: back off, tell the JobTracker log, and past the cap
   * fail the jobs that wait for the slots no tracker could bring (JobTracker locked).
   */
  private void launchFailed(MesosTracker t, String reason, long nowMs) {
    if (shuttingDown) {
      return;
    }
    consecutiveFailures++;
    // base * 2^(n-1), capped; the shift is bounded so it cannot overflow.
    double backoffSecs = Math.min(config.failureBackoffMaxSecs,
        config.failureBackoffSecs * (double) (1L << Math.min(consecutiveFailures - 1, 30)));
    backoffUntilMs = nowMs + (long) (backoffSecs * 1000);
    String what = "TaskTracker " + t.taskId.getValue() + " on " + t.host + " failed to start: "
        + reason;
    int joined = 0;
    for (MesosTracker other : trackers.values()) {
      if (other.active() && !other.stopped) {
        joined++;
      }
    }
    // With trackers serving, jobs progress on them: keep backing off, fail nothing.
    if (config.failureMax > 0 && consecutiveFailures >= config.failureMax && joined == 0) {
      String diagnostic = "MesosScheduler: " + consecutiveFailures
          + " consecutive TaskTracker launches failed; the last: " + what
          + " (see the stderr of executor " + t.executorId.getValue()
          + " in its Mesos sandbox; check " + MesosConfig.EXECUTOR_URI + " / "
          + MesosConfig.EXECUTOR_DIRECTORY + ")";
      List<JobID> failed = view.failWaitingJobs(diagnostic);
      LOG.warn(what + "; " + consecutiveFailures + " consecutive launch failures ("
          + MesosConfig.FAILURE_MAX + " = " + config.failureMax + "): failing the waiting jobs "
          + failed);
      // The next job gets a fresh run of attempts.
      consecutiveFailures = 0;
      backoffUntilMs = 0;
      return;
    }
    LOG.warn(what + "; " + consecutiveFailures + " consecutive launch failure"
        + (consecutiveFailures == 1 ? "" : "s")
        + (config.failureMax > 0 ? " of at most " + config.failureMax : "")
        + "; no launch for " + backoffSecs + " s");
  }

  /** "TASK_FAILED (REASON_...): message", as Mesos reported it. */
  static String describe(TaskStatus status) {
    StringBuilder b = new StringBuilder(status.getState().name());
    if (status.hasReason()) {
      b.append(" (").append(status.getReason().name()).append(')');
    }
    if (status.hasMessage() && !status.getMessage().isEmpty()) {
      b.append(": ").append(status.getMessage());
    }
    return b.toString();
  }

  /** {maps, reduces} still to launch: pending work beyond free and starting slots, or the pool minimum. */
  int[] neededSlots() {
    int[] pending = view.pendingTasks();
    int idleMaps = 0;
    int idleReduces = 0;
    for (MesosTracker t : trackers.values()) {
      if (t.stopped) {
        continue;
      }
      if (!t.active()) {
        idleMaps += t.mapSlots; // launched, not yet heartbeating: capacity on its way
        idleReduces += t.reduceSlots;
        continue;
      }
      ClusterView.TrackerLoad load = view.tracker(t.host, t.httpPort);
      if (load != null && load.healthy) {
        idleMaps += load.availableMaps;
        idleReduces += load.availableReduces;
      }
    }
    int[] pool = poolSlots();
    return new int[] {
      Math.max(pending[0] - idleMaps, config.minMapSlots - pool[0]),
      Math.max(pending[1] - idleReduces, config.minReduceSlots - pool[1])
    };
  }

  /** Slots of trackers that are not being killed. */
  private int[] poolSlots() {
    int maps = 0;
    int reduces = 0;
    for (MesosTracker t : trackers.values()) {
      if (!t.stopped) {
        maps += t.mapSlots;
        reduces += t.reduceSlots;
      }
    }
    return new int[] {maps, reduces};
  }

  private MesosTracker tryLaunch(
      SchedulerDriver driver, Offer offer, int neededMaps, int neededReduces, long nowMs) {
    List<Resource> resources = policy.usable(offer);
    int fit = policy.slotsThatFit(resources);
    SlotPolicy.Slots slots = policy.plan(fit, neededMaps, neededReduces);
    if (slots == null) {
      LOG.debug("offer " + offer.getId().getValue() + " from " + offer.getHostname()
          + " fits " + fit + " slots; need " + neededMaps + " map, " + neededReduces + " reduce");
      return null;
    }
    Set<Long> inUse = new HashSet<Long>();
    for (MesosTracker t : trackers.values()) {
      if (t.host.equals(offer.getHostname())) {
        inUse.add((long) t.httpPort);
        inUse.add((long) t.reportPort);
      }
    }
    List<Long> ports = new ArrayList<Long>();
    List<Resource> portResources = SlotPolicy.pickPorts(resources, 2, inUse, random, ports);
    if (portResources == null) {
      LOG.info("offer " + offer.getId().getValue() + " from " + offer.getHostname()
          + " has fewer than 2 free ports: declined");
      return null;
    }
    List<Resource> executorResources = new ArrayList<Resource>();
    executorResources.addAll(policy.take(resources, "cpus", config.ttCpus));
    executorResources.addAll(policy.take(resources, "mem", config.ttMem));
    if (config.ttDisk > 0) {
      executorResources.addAll(policy.take(resources, "disk", config.ttDisk));
    }
    List<Resource> taskResources = new ArrayList<Resource>();
    taskResources.addAll(policy.take(resources, "cpus", slots.total() * config.slotCpus));
    taskResources.addAll(policy.take(resources, "mem", slots.total() * config.slotMem));
    if (config.slotDisk > 0) {
      taskResources.addAll(policy.take(resources, "disk", slots.total() * config.slotDisk));
    }
    taskResources.addAll(portResources);

    int id = nextTrackerId++;
    TaskID taskId = TaskID.newBuilder().setValue("Task_Tracker_" + id).build();
    ExecutorID executorId = ExecutorID.newBuilder().setValue("executor_Task_Tracker_" + id).build();
    String host = offer.getHostname();
    int httpPort = ports.get(0).intValue();
    int reportPort = ports.get(1).intValue();
    MesosTracker tracker = new MesosTracker(taskId, executorId, offer.getSlaveId(), host,
        httpPort, reportPort, slots.maps, slots.reduces, nowMs);

    TaskInfo task = TaskInfo.newBuilder()
        .setName("Hadoop TaskTracker " + host + ":" + httpPort)
        .setTaskId(taskId)
        .setSlaveId(offer.getSlaveId())
        .addAllResources(taskResources)
        .setExecutor(executorInfo(executorId, taskId, executorResources))
        .setData(com.google.protobuf.ByteString.copyFrom(trackerConf(tracker)))
        .build();
    // Recorded before launching, so a heartbeat or status racing the launch finds it.
    trackers.put(taskId.getValue(), tracker);
    LOG.info("launching TaskTracker " + tracker + " on " + host + " (agent "
        + offer.getSlaveId().getValue() + ")");
    driver.launchTasks(
        Collections.singletonList(offer.getId()),
        Collections.singletonList(task),
        Filters.newBuilder().setRefuseSeconds(1).build());
    return tracker;
  }

  private ExecutorInfo executorInfo(
      ExecutorID executorId, TaskID taskId, List<Resource> resources) {
    Environment.Builder env = Environment.newBuilder();
    for (Map.Entry<String, String> e : executorEnv.entrySet()) {
      env.addVariables(Environment.Variable.newBuilder().setName(e.getKey()).setValue(e.getValue()));
    }
    env.addVariables(Environment.Variable.newBuilder()
        .setName("HADOOP_OPTS").setValue(config.executorJvmOpts));
    env.addVariables(Environment.Variable.newBuilder()
        .setName("HADOOP_HEAPSIZE").setValue(Integer.toString(config.trackerHeapMb())));
    CommandInfo.Builder command = CommandInfo.newBuilder()
        .setEnvironment(env)
        // Logs (and task userlogs) go to the sandbox, where Mesos users look for them.
        .setValue("export HADOOP_LOG_DIR=\"$PWD/logs\"; " + config.enterDirectoryCommand()
            + " && " + config.executorCommand);
    if (config.executorUri != null) {
      command.addUris(CommandInfo.URI.newBuilder().setValue(config.executorUri).setExtract(true));
    }
    return ExecutorInfo.newBuilder()
        .setExecutorId(executorId)
        .setName("Hadoop TaskTracker")
        .setSource(taskId.getValue())
        .setCommand(command)
        .addAllResources(resources)
        .build();
  }

  /** The JobTracker's configuration with this tracker's addresses and slot counts. */
  private byte[] trackerConf(MesosTracker t) {
    Configuration conf = new Configuration(baseConf);
    conf.set("mapred.task.tracker.http.address", t.host + ":" + t.httpPort);
    conf.set("mapred.task.tracker.report.address", t.host + ":" + t.reportPort);
    conf.setInt(MesosConfig.MAP_SLOTS_MAX, t.mapSlots);
    conf.setInt(MesosConfig.REDUCE_SLOTS_MAX, t.reduceSlots);
    conf.set("slave.host.name", t.host);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try {
      DataOutputStream out = new DataOutputStream(bytes);
      conf.write(out);
      out.flush();
    } catch (IOException e) {
      throw new IllegalStateException("serializing the TaskTracker configuration", e);
    }
    return bytes.toByteArray();
  }

  private void decline(SchedulerDriver driver, OfferID offerId) {
    driver.declineOffer(offerId, Filters.newBuilder().setRefuseSeconds(config.refuseSeconds).build());
    declinedSinceRevive = true;
  }

  private void reviveIfDeclined() {
    if (declinedSinceRevive && driver != null && !shuttingDown) {
      declinedSinceRevive = false;
      driver.reviveOffers();
    }
  }

  private void kill(MesosTracker t) {
    t.stopped = true;
    if (driver != null) {
      driver.killTask(t.taskId);
    }
  }

  /** Drops the tracker and has Hadoop reschedule whatever it held. */
  private void forget(MesosTracker t) {
    trackers.remove(t.taskId.getValue());
    if (t.active()) {
      view.trackerLost(t.host, t.httpPort);
    }
  }

  private MesosTracker byHostPort(String host, int httpPort) {
    for (MesosTracker t : trackers.values()) {
      if (t.httpPort == httpPort && t.host.equals(host)) {
        return t;
      }
    }
    return null;
  }

  static boolean isTerminal(TaskState state) {
    switch (state) {
      case TASK_FINISHED:
      case TASK_FAILED:
      case TASK_KILLED:
      case TASK_LOST:
      case TASK_ERROR:
      case TASK_DROPPED:
      case TASK_GONE:
      case TASK_GONE_BY_OPERATOR:
      case TASK_UNREACHABLE:
        return true;
      default:
        return false;
    }
  }
}
