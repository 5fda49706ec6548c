package org.apache.hadoop.mapred;

/**
 * What {@link TrackerManager} needs to know about the JobTracker, behind an interface so the
 * scheduling logic is tested without one. {@link JobTrackerView} is the real implementation.
 *
 * <p>Every method except {@link #lock()} is called with {@link #lock()} held.
 */
interface ClusterView {
  /** The JobTracker's monitor: its heartbeat path holds it when it calls the scheduler. */
  Object lock();

  /** {maps, reduces} ready to run but not running, over all incomplete jobs. */
  int[] pendingTasks();

  /** The latest heartbeat of the tracker serving HTTP on host:httpPort, or null. */
  TrackerLoad tracker(String host, int httpPort);

  /** True when the job has finished (succeeded, failed or killed) or is unknown. */
  boolean jobComplete(JobID job);

  /**
   * Tells Hadoop a tracker is gone now rather than after mapred.tasktracker.expiry.interval
   * (10 minutes by default): its running and map-output-bearing tasks are rescheduled.
   */
  void trackerLost(String host, int httpPort);

  /**
   * Fails every incomplete job that still has tasks waiting for a slot, with
   * {@code diagnostic} as its failure info (what `hadoop job` and the job client print);
   * returns their ids.
   */
  java.util.List<JobID> failWaitingJobs(String diagnostic);

  /** One tracker as the JobTracker saw it at its last heartbeat. */
  final class TrackerLoad {
    final String name;
    final boolean healthy;
    final int availableMaps;
    final int availableReduces;
    final int maxMaps;
    final int maxReduces;

    TrackerLoad(
        String name,
        boolean healthy,
        int availableMaps,
        int availableReduces,
        int maxMaps,
        int maxReduces) {
      this.name = name;
      this.healthy = healthy;
      this.availableMaps = availableMaps;
      this.availableReduces = availableReduces;
      this.maxMaps = maxMaps;
      this.maxReduces = maxReduces;
    }

    /** No task in any slot. */
    boolean allSlotsFree() {
      return availableMaps >= maxMaps && availableReduces >= maxReduces;
    }
  }
}
