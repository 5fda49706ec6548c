package org.apache.hadoop.mapred;

import java.util.HashSet;
import java.util.Set;

import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.TaskID;

/**
 * One TaskTracker launched as a Mesos task. Mesos knows it by task id; Hadoop by the host and
 * HTTP port it reports in its heartbeats, which the plugin chose from the offer. That pair is
 * the join key between the two (the executor sets slave.host.name to the agent's hostname,
 * which equals the offer's).
 *
 * <p>Guarded by the owning {@link TrackerManager}'s monitor.
 */
final class MesosTracker {
  final TaskID taskId;
  final ExecutorID executorId;
  final SlaveID slaveId;
  final String host;
  final int httpPort;
  final int reportPort;
  final int mapSlots;
  final int reduceSlots;
  final long launchedAtMs;
  /** When Mesos said TASK_RUNNING; -1 before. */
  long runningAtMs = -1;
  /** When the TaskTracker first heartbeated to the JobTracker; -1 before (inactive). */
  long firstHeartbeatAtMs = -1;
  /** A kill was sent: give it no more work; it leaves the map on its terminal status. */
  boolean stopped;
  /** Consecutive idle checks that found it with every slot free and no live job. */
  int idleChecks;
  /** Jobs that ran tasks here: their map outputs may still be fetched by reducers. */
  final Set<JobID> jobs = new HashSet<JobID>();

  MesosTracker(
      TaskID taskId,
      ExecutorID executorId,
      SlaveID slaveId,
      String host,
      int httpPort,
      int reportPort,
      int mapSlots,
      int reduceSlots,
      long launchedAtMs) {
    this.taskId = taskId;
    this.executorId = executorId;
    this.slaveId = slaveId;
    this.host = host;
    this.httpPort = httpPort;
    this.reportPort = reportPort;
    this.mapSlots = mapSlots;
    this.reduceSlots = reduceSlots;
    this.launchedAtMs = launchedAtMs;
  }

  boolean active() {
    return firstHeartbeatAtMs >= 0;
  }

  String key() {
    return key(host, httpPort);
  }

  static String key(String host, int httpPort) {
    return host + ":" + httpPort;
  }

  @Override
  public String toString() {
    return taskId.getValue() + "@" + key() + " (" + mapSlots + "m/" + reduceSlots + "r)";
  }
}
