package org.apache.hadoop.mapred;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A ClusterView whose demand, tracker loads and job states a test sets directly. */
final class FakeCluster implements ClusterView {
  int pendingMaps;
  int pendingReduces;
  final Map<String, TrackerLoad> trackers = new HashMap<String, TrackerLoad>();
  final Set<JobID> completeJobs = new HashSet<JobID>();
  final List<String> lost = new ArrayList<String>();
  /** The jobs failWaitingJobs fails, and the diagnostics it was given. */
  final List<JobID> waitingJobs = new ArrayList<JobID>();
  final List<String> failures = new ArrayList<String>();

  @Override
  public Object lock() {
    return this;
  }

  @Override
  public int[] pendingTasks() {
    return new int[] {pendingMaps, pendingReduces};
  }

  @Override
  public TrackerLoad tracker(String host, int httpPort) {
    return trackers.get(host + ":" + httpPort);
  }

  @Override
  public boolean jobComplete(JobID job) {
    return completeJobs.contains(job);
  }

  @Override
  public void trackerLost(String host, int httpPort) {
    lost.add(host + ":" + httpPort);
  }

  @Override
  public List<JobID> failWaitingJobs(String diagnostic) {
    failures.add(diagnostic);
    List<JobID> failed = new ArrayList<JobID>(waitingJobs);
    completeJobs.addAll(waitingJobs);
    waitingJobs.clear();
    pendingMaps = 0;
    pendingReduces = 0;
    return failed;
  }

  /** The tracker reports with {@code busyMaps}/{@code busyReduces} slots in use. */
  void load(MesosTracker t, int busyMaps, int busyReduces) {
    trackers.put(t.key(), new TrackerLoad("tracker_" + t.key(), true,
        t.mapSlots - busyMaps, t.reduceSlots - busyReduces, t.mapSlots, t.reduceSlots));
  }
}
