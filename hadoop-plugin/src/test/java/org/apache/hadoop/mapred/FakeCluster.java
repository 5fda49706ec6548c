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

  /** The tracker reports with {@code busyMaps}/{@code busyReduces} slots in use. */
  void load(MesosTracker t, int busyMaps, int busyReduces) {
    trackers.put(t.key(), new TrackerLoad("tracker_" + t.key(), true,
        t.mapSlots - busyMaps, t.reduceSlots - busyReduces, t.mapSlots, t.reduceSlots));
  }
}
