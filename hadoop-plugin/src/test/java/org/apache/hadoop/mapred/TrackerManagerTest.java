package org.apache.hadoop.mapred;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.apache.mesos.Protos.ExecutorInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.Resource;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskState;
import org.apache.mesos.Protos.TaskStatus;
import org.junit.Before;
import org.junit.Test;

/**
 * The scheduling decisions of MesosScheduler against a fake JobTracker (FakeCluster) and a
 * recording driver: what is launched for which demand, what is declined, what is killed.
 */
public class TrackerManagerTest {
  private FakeCluster cluster;
  private RecordingDriver driver;
  private TrackerManager manager;
  private long now = 1_000_000;

  private TrackerManager manager(String... kv) {
    Configuration conf = new Configuration(false);
    conf.set("mapred.mesos.executor.directory", "/opt/hadoop");
    conf.set("mapred.mesos.slot.cpus", "1");
    conf.set("mapred.mesos.slot.mem", "256");
    conf.set("mapred.mesos.slot.disk", "0");
    conf.set("mapred.mesos.tasktracker.cpus", "0.5");
    conf.set("mapred.mesos.tasktracker.mem", "512");
    conf.set("mapred.mesos.tasktracker.disk", "0");
    conf.set("mapred.tasktracker.map.tasks.maximum", "4");
    conf.set("mapred.tasktracker.reduce.tasks.maximum", "2");
    conf.set("mapred.mesos.tracker.idle.checks", "3");
    conf.set("mapred.mesos.offer.refuse.seconds", "42");
    conf.set("mapred.job.tracker", "jt:54311");
    for (int i = 0; i < kv.length; i += 2) {
      conf.set(kv[i], kv[i + 1]);
    }
    Map<String, String> env = new HashMap<String, String>();
    env.put("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64");
    TrackerManager m = new TrackerManager(new MesosConfig(conf), cluster, conf, env, new Random(1));
    m.setDriver(driver);
    return m;
  }

  @Before
  public void setUp() {
    cluster = new FakeCluster();
    driver = new RecordingDriver();
    manager = manager();
  }

  private void offer(Offer... offers) {
    manager.resourceOffers(driver, Arrays.asList(offers), now);
  }

  private MesosTracker onlyTracker() {
    assertEquals(1, manager.trackers().size());
    return manager.trackers().iterator().next();
  }

  private static double sum(Iterable<Resource> rs, String name) {
    double s = 0;
    for (Resource r : rs) {
      if (r.getName().equals(name)) {
        s += r.getScalar().getValue();
      }
    }
    return s;
  }

  private void status(MesosTracker t, TaskState state) {
    manager.statusUpdate(driver,
        TaskStatus.newBuilder().setTaskId(t.taskId).setState(state).build(), now);
  }

  @Test
  public void withoutPendingWorkEveryOfferIsDeclinedWithTheRefuseInterval() {
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0), Offers.offer("o2", "a2", "h2", 8, 8192, 0));
    assertEquals(0, driver.launches.size());
    assertEquals(2, driver.declined.size());
    assertEquals(42.0, driver.declineFilters.get(0).getRefuseSeconds(), 1e-9);
  }

  @Test
  public void pendingWorkLaunchesOneTrackerSizedToTheNeed() throws Exception {
    cluster.pendingMaps = 3;
    cluster.pendingReduces = 1;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0), Offers.offer("o2", "a2", "h2", 8, 8192, 0));

    assertEquals(1, driver.launches.size());
    assertEquals("o1", driver.launches.get(0).offers.get(0).getValue());
    assertEquals("need met by the first tracker: o2 declined", "o2", driver.declined.get(0).getValue());

    TaskInfo task = driver.launches.get(0).tasks.get(0);
    assertEquals("Task_Tracker_0", task.getTaskId().getValue());
    assertEquals("a1", task.getSlaveId().getValue());
    // 3 map + 1 reduce slots of 1 cpu / 256 MB each; the tracker's own share on the executor.
    assertEquals(4.0, sum(task.getResourcesList(), "cpus"), 1e-9);
    assertEquals(1024.0, sum(task.getResourcesList(), "mem"), 1e-9);
    ExecutorInfo executor = task.getExecutor();
    assertEquals("executor_Task_Tracker_0", executor.getExecutorId().getValue());
    assertEquals(0.5, sum(executor.getResourcesList(), "cpus"), 1e-9);
    assertEquals(512.0, sum(executor.getResourcesList(), "mem"), 1e-9);
    assertTrue(executor.getCommand().getValue(),
        executor.getCommand().getValue().endsWith(
            "cd '/opt/hadoop' && ./bin/hadoop org.apache.hadoop.mapred.MesosExecutor"));
    Map<String, String> env = new HashMap<String, String>();
    for (org.apache.mesos.Protos.Environment.Variable v : executor.getCommand().getEnvironment().getVariablesList()) {
      env.put(v.getName(), v.getValue());
    }
    assertEquals("-XX:+UseParallelGC", env.get("HADOOP_OPTS"));
    assertEquals("409", env.get("HADOOP_HEAPSIZE"));
    assertEquals("/usr/lib/jvm/java-17-openjdk-amd64", env.get("JAVA_HOME"));

    // Two distinct ports from the offer; the tracker's configuration carries them.
    MesosTracker t = onlyTracker();
    int ports = 0;
    for (Resource r : task.getResourcesList()) {
      if (r.getName().equals("ports")) {
        long p = r.getRanges().getRange(0).getBegin();
        assertTrue(p == t.httpPort || p == t.reportPort);
        assertTrue(p >= 31000 && p <= 31099);
        ports++;
      }
    }
    assertEquals(2, ports);
    assertTrue(t.httpPort != t.reportPort);
    Configuration conf = new Configuration(false);
    conf.readFields(new DataInputStream(new ByteArrayInputStream(task.getData().toByteArray())));
    assertEquals("h1:" + t.httpPort, conf.get("mapred.task.tracker.http.address"));
    assertEquals("h1:" + t.reportPort, conf.get("mapred.task.tracker.report.address"));
    assertEquals("3", conf.get("mapred.tasktracker.map.tasks.maximum"));
    assertEquals("1", conf.get("mapred.tasktracker.reduce.tasks.maximum"));
    assertEquals("jt:54311", conf.get("mapred.job.tracker"));
  }

  @Test
  public void aTrackerStillStartingCountsAsCapacity() {
    cluster.pendingMaps = 4;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    assertEquals(1, driver.launches.size());
    // Same demand next round: the launched tracker will take it.
    offer(Offers.offer("o2", "a2", "h2", 8, 8192, 0));
    assertEquals(1, driver.launches.size());
    // More work arrives: 2 more maps than the 4 slots on their way.
    cluster.pendingMaps = 6;
    offer(Offers.offer("o3", "a2", "h2", 8, 8192, 0));
    assertEquals(2, driver.launches.size());
    assertEquals(2.0, sum(driver.launches.get(1).tasks.get(0).getResourcesList(), "cpus"), 1e-9);
  }

  @Test
  public void offersTooSmallForTheTrackerAreDeclined() {
    cluster.pendingMaps = 1;
    offer(Offers.offer("o1", "a1", "h1", 1, 700, 0)); // 0.5 cpu left: no slot of 1 cpu
    assertEquals(0, driver.launches.size());
    assertEquals(1, driver.declined.size());
    Offer noPorts = Offer.newBuilder(Offers.offer("o2", "a1", "h1", 8, 8192, 0))
        .removeResources(3).build();
    offer(noPorts);
    assertEquals(0, driver.launches.size());
    assertEquals(2, driver.declined.size());
  }

  @Test
  public void heartbeatsAreMatchedByHostAndPort() {
    cluster.pendingMaps = 1;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    assertFalse(t.active());
    assertTrue("unknown trackers are scheduled normally", manager.heartbeat("h1", t.httpPort + 1, now));
    assertFalse(t.active());
    assertTrue(manager.heartbeat("h1", t.httpPort, now + 3000));
    assertTrue(t.active());
    assertEquals(now + 3000, t.firstHeartbeatAtMs);
  }

  @Test
  public void idleTrackersAreKilledAfterTheConfiguredChecks() {
    cluster.pendingMaps = 2;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    manager.heartbeat("h1", t.httpPort, now);
    JobID job = new JobID("jt", 1);
    manager.assigned("h1", t.httpPort, Collections.singletonList(job));
    cluster.pendingMaps = 0;
    cluster.load(t, 2, 0);
    manager.periodicCheck(now, true);
    assertEquals(0, t.idleChecks);
    // Slots free but the job is still running: its reducers may fetch this tracker's map
    // output, so it stays.
    cluster.load(t, 0, 0);
    for (int i = 0; i < 5; i++) {
      manager.periodicCheck(now, true);
    }
    assertEquals(0, driver.killed.size());
    cluster.completeJobs.add(job);
    manager.periodicCheck(now, true);
    manager.periodicCheck(now, true);
    assertEquals(0, driver.killed.size());
    manager.periodicCheck(now, true);
    assertEquals(Collections.singletonList(t.taskId), driver.killed);
    assertFalse("a tracker being killed gets no new work", manager.heartbeat("h1", t.httpPort, now));
    // The kill completes: forgotten, and Hadoop told at once.
    status(t, TaskState.TASK_KILLED);
    assertEquals(0, manager.trackers().size());
    assertEquals(Collections.singletonList(t.key()), cluster.lost);
  }

  @Test
  public void freeSlotsAreNotIdleWhileTasksOfTheirKindWait() {
    // Regression: a job's setup task ran on one tracker; the other, with all slots free
    // and no job yet, was killed as idle 3 s into the job and relaunched right after.
    cluster.pendingMaps = 8;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    manager.heartbeat("h1", t.httpPort, now);
    cluster.load(t, 0, 0);
    for (int i = 0; i < 5; i++) {
      manager.periodicCheck(now, true);
    }
    assertEquals(0, driver.killed.size());
    // Only reduces wait: a map-only tracker is idle.
    cluster.pendingMaps = 0;
    cluster.pendingReduces = 2;
    assertEquals(0, t.reduceSlots);
    for (int i = 0; i < 3; i++) {
      manager.periodicCheck(now, true);
    }
    assertEquals(Collections.singletonList(t.taskId), driver.killed);
  }

  @Test
  public void theMinimumPoolIsKeptWarm() {
    manager = manager("mapred.mesos.total.map.slots.minimum", "2");
    // No job at all: the pool minimum alone launches a tracker.
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    assertEquals(2, t.mapSlots);
    assertEquals(0, t.reduceSlots);
    manager.heartbeat("h1", t.httpPort, now);
    cluster.load(t, 0, 0);
    for (int i = 0; i < 10; i++) {
      manager.periodicCheck(now, true);
    }
    assertEquals("idle but needed for the minimum", 0, driver.killed.size());
  }

  @Test
  public void aLostTrackerIsReplacedAndHadoopReschedulesItsTasks() {
    cluster.pendingMaps = 2;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    status(t, TaskState.TASK_RUNNING);
    manager.heartbeat("h1", t.httpPort, now);
    manager.assigned("h1", t.httpPort, Collections.singletonList(new JobID("jt", 1)));
    cluster.pendingMaps = 0;
    cluster.load(t, 2, 0);
    // The executor process is killed: the agent reports the task FAILED.
    status(t, TaskState.TASK_FAILED);
    assertEquals(0, manager.trackers().size());
    assertEquals(Collections.singletonList(t.key()), cluster.lost);
    // Hadoop puts the two maps back to pending; the next offer launches a replacement.
    cluster.pendingMaps = 2;
    offer(Offers.offer("o2", "a2", "h2", 8, 8192, 0));
    assertEquals(2, driver.launches.size());
    assertEquals("Task_Tracker_1", driver.launches.get(1).tasks.get(0).getTaskId().getValue());
  }

  @Test
  public void aLostAgentTakesItsTrackersWithIt() {
    cluster.pendingMaps = 8;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0), Offers.offer("o2", "a2", "h2", 8, 8192, 0));
    assertEquals(2, manager.trackers().size());
    for (MesosTracker t : manager.trackers()) {
      manager.heartbeat(t.host, t.httpPort, now);
    }
    manager.slaveLost(SlaveID.newBuilder().setValue("a1").build());
    assertEquals(1, manager.trackers().size());
    assertEquals("h2", onlyTracker().host);
    assertEquals(1, cluster.lost.size());
    assertTrue(cluster.lost.get(0).startsWith("h1:"));
  }

  @Test
  public void trackersThatNeverJoinAreKilledAfterTheLaunchTimeout() {
    manager = manager("mapred.mesos.tracker.launch.timeout", "60");
    cluster.pendingMaps = 1;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    manager.periodicCheck(now + 59_000, true);
    assertEquals(0, driver.killed.size());
    manager.periodicCheck(now + 61_000, true);
    assertEquals(Collections.singletonList(t.taskId), driver.killed);
    // A launch that timed out is a failed launch: it backs off like the others.
    status(t, TaskState.TASK_KILLED);
    assertEquals(1, manager.consecutiveFailures());
  }

  @Test
  public void declinedOffersAreRevivedWhenDemandReturns() {
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    assertEquals(1, driver.declined.size());
    manager.periodicCheck(now, true);
    assertEquals("no demand, no revive", 0, driver.revives);
    manager.demandMayHaveGrown();
    assertEquals(1, driver.revives);
    manager.demandMayHaveGrown();
    assertEquals("once per decline", 1, driver.revives);
    offer(Offers.offer("o2", "a1", "h1", 8, 8192, 0));
    cluster.pendingReduces = 1;
    manager.periodicCheck(now, true);
    assertEquals(2, driver.revives);
  }

  @Test
  public void afterShutdownNothingIsLaunched() {
    cluster.pendingMaps = 5;
    manager.shutdown();
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    assertEquals(0, driver.launches.size());
    assertEquals(1, driver.declined.size());
  }

  private void failed(MesosTracker t, String message) {
    manager.statusUpdate(driver,
        TaskStatus.newBuilder().setTaskId(t.taskId).setState(TaskState.TASK_FAILED)
            .setReason(TaskStatus.Reason.REASON_CONTAINER_LAUNCH_FAILED)
            .setMessage(message).build(),
        now);
  }

  /** The tracker launched from the last offer, by the launch's task id. */
  private MesosTracker lastLaunched() {
    String id = driver.launches.get(driver.launches.size() - 1).tasks.get(0).getTaskId().getValue();
    for (MesosTracker t : manager.trackers()) {
      if (t.taskId.getValue().equals(id)) {
        return t;
      }
    }
    throw new AssertionError("no tracker " + id);
  }

  @Test
  public void aFailedLaunchBacksOffExponentiallyDecliningOffersUntilItEnds() {
    // Issue 12: an unfetchable executor URI relaunched on every offer (55 launches in 15 s).
    manager = manager(
        "mapred.mesos.tracker.failure.backoff.seconds", "2",
        "mapred.mesos.tracker.failure.backoff.max.seconds", "5",
        "mapred.mesos.tracker.failure.max", "0");
    cluster.pendingMaps = 1;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    failed(lastLaunched(), "Failed to fetch hdfs://nn/hadoop.tar.gz");
    assertEquals(1, manager.consecutiveFailures());
    assertEquals(now + 2000, manager.backoffUntilMs());

    // During the backoff: declined, refused for the rest of it, and no revive.
    now += 500;
    offer(Offers.offer("o2", "a1", "h1", 8, 8192, 0));
    assertEquals(1, driver.launches.size());
    assertEquals(2.0, driver.declineFilters.get(driver.declineFilters.size() - 1).getRefuseSeconds(), 1e-9);
    manager.periodicCheck(now, true);
    assertEquals(0, driver.revives);

    // After it: the periodic check revives, the next offer launches.
    now += 1500;
    manager.periodicCheck(now, true);
    assertEquals(1, driver.revives);
    offer(Offers.offer("o3", "a1", "h1", 8, 8192, 0));
    assertEquals(2, driver.launches.size());
    // Second failure: 4 s; third: capped at 5 s.
    failed(lastLaunched(), "again");
    assertEquals(now + 4000, manager.backoffUntilMs());
    now += 4000;
    offer(Offers.offer("o4", "a1", "h1", 8, 8192, 0));
    failed(lastLaunched(), "again");
    assertEquals(now + 5000, manager.backoffUntilMs());
    assertEquals(3, manager.consecutiveFailures());
    assertTrue("failure.max 0 never fails jobs", cluster.failures.isEmpty());
  }

  @Test
  public void afterFailureMaxConsecutiveFailedLaunchesTheWaitingJobsFailWithTheReason() {
    manager = manager(
        "mapred.mesos.tracker.failure.backoff.seconds", "1",
        "mapred.mesos.tracker.failure.max", "3");
    cluster.pendingMaps = 1;
    JobID job = new JobID("jt", 7);
    cluster.waitingJobs.add(job);
    for (int i = 0; i < 3; i++) {
      offer(Offers.offer("o" + i, "a1", "h1", 8, 8192, 0));
      assertEquals(i + 1, driver.launches.size());
      failed(lastLaunched(), "Failed to fetch 'hdfs://nn/hadoop.tar.gz': unsupported scheme");
      now += 60_000;
    }
    assertEquals(1, cluster.failures.size());
    String diagnostic = cluster.failures.get(0);
    assertTrue(diagnostic, diagnostic.contains("3 consecutive TaskTracker launches failed"));
    assertTrue(diagnostic, diagnostic.contains(
        "TASK_FAILED (REASON_CONTAINER_LAUNCH_FAILED): Failed to fetch 'hdfs://nn/hadoop.tar.gz'"));
    assertTrue(cluster.completeJobs.contains(job));
    // The count starts over, and with no demand left nothing more is launched.
    assertEquals(0, manager.consecutiveFailures());
    offer(Offers.offer("o9", "a1", "h1", 8, 8192, 0));
    assertEquals(3, driver.launches.size());
  }

  @Test
  public void aTrackerThatJoinsResetsTheFailureCountAndTheBackoff() {
    manager = manager("mapred.mesos.tracker.failure.max", "2");
    cluster.pendingMaps = 1;
    cluster.waitingJobs.add(new JobID("jt", 1));
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    failed(lastLaunched(), "transient");
    assertEquals(1, manager.consecutiveFailures());
    now += 60_000;
    offer(Offers.offer("o2", "a1", "h1", 8, 8192, 0));
    MesosTracker t = lastLaunched();
    manager.heartbeat("h1", t.httpPort, now);
    assertEquals(0, manager.consecutiveFailures());
    assertEquals(0, manager.backoffUntilMs());
    assertTrue(cluster.failures.isEmpty());
  }

  @Test
  public void failuresWhileATrackerServesBackOffButFailNoJob() {
    // One agent's launches fail while another's tracker runs the job: it still progresses.
    manager = manager("mapred.mesos.tracker.failure.max", "1");
    cluster.pendingMaps = 4;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker good = lastLaunched();
    manager.heartbeat("h1", good.httpPort, now);
    cluster.load(good, 4, 0);
    cluster.waitingJobs.add(new JobID("jt", 1));
    offer(Offers.offer("o2", "a2", "h2", 8, 8192, 0));
    assertEquals(2, driver.launches.size());
    failed(lastLaunched(), "broken agent");
    assertTrue(cluster.failures.isEmpty());
    assertTrue(manager.backoffUntilMs() > now);
  }

  @Test
  public void killsAndEndsOfJoinedTrackersAreNotLaunchFailures() {
    cluster.pendingMaps = 2;
    offer(Offers.offer("o1", "a1", "h1", 8, 8192, 0));
    MesosTracker t = onlyTracker();
    manager.heartbeat("h1", t.httpPort, now);
    status(t, TaskState.TASK_FAILED);
    assertEquals(0, manager.consecutiveFailures());
    assertEquals(0, manager.backoffUntilMs());
  }
}
