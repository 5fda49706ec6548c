package org.apache.hadoop.mapred;

import org.apache.hadoop.mapreduce.TaskType;

/** {@link ClusterView} over a live JobTracker (package-private members of Hadoop 1.2.1). */
final class JobTrackerView implements ClusterView {
  private final JobTracker jobTracker;

  JobTrackerView(JobTracker jobTracker) {
    this.jobTracker = jobTracker;
  }

  @Override
  public Object lock() {
    return jobTracker;
  }

  @Override
  public int[] pendingTasks() {
    int maps = 0;
    int reduces = 0;
    for (JobStatus status : jobTracker.jobsToComplete()) {
      JobInProgress job = jobTracker.getJob(status.getJobID());
      if (job == null || job.isComplete()) {
        continue;
      }
      int jobMaps = pending(job.getTasks(TaskType.MAP));
      int jobReduces = pending(job.getTasks(TaskType.REDUCE));
      maps += jobMaps;
      reduces += jobReduces;
      // Setup and cleanup tasks take a slot too (the JobTracker hands them out itself).
      TaskInProgress[] setup = job.getTasks(TaskType.JOB_SETUP);
      TaskInProgress[] cleanup = job.getTasks(TaskType.JOB_CLEANUP);
      if (setup.length > 0 && !job.isSetupLaunched()) {
        maps++;
      }
      boolean setupDone = setup.length == 0 || job.isSetupFinished();
      if (cleanup.length > 0
          && setupDone
          && !job.isCleanupLaunched()
          && jobMaps == 0
          && jobReduces == 0
          && job.runningMaps() == 0
          && job.runningReduces() == 0) {
        maps++;
      }
    }
    return new int[] {maps, reduces};
  }

  /**
   * Counted from the task list rather than JobInProgress.pendingMaps(), which has been seen
   * going negative (MAPREDUCE-1238).
   */
  private static int pending(TaskInProgress[] tips) {
    int n = 0;
    for (TaskInProgress tip : tips) {
      if (!tip.isComplete() && !tip.isRunning() && !tip.wasKilled()) {
        n++;
      }
    }
    return n;
  }

  @Override
  public TrackerLoad tracker(String host, int httpPort) {
    TaskTrackerStatus status = find(host, httpPort);
    if (status == null) {
      return null;
    }
    return new TrackerLoad(
        status.getTrackerName(),
        status.getHealthStatus() == null || status.getHealthStatus().isNodeHealthy(),
        status.getAvailableMapSlots(),
        status.getAvailableReduceSlots(),
        status.getMaxMapSlots(),
        status.getMaxReduceSlots());
  }

  @Override
  public boolean jobComplete(JobID id) {
    JobInProgress job = jobTracker.getJob(id);
    return job == null || job.isComplete();
  }

  @Override
  public void trackerLost(String host, int httpPort) {
    TaskTrackerStatus status = find(host, httpPort);
    if (status == null) {
      return;
    }
    org.apache.hadoop.mapreduce.server.jobtracker.TaskTracker tracker =
        jobTracker.getTaskTracker(status.getTrackerName());
    if (tracker != null) {
      // What the expiry thread would do 10 minutes later; safe to repeat then (the
      // tracker's task list is emptied here).
      jobTracker.lostTaskTracker(tracker);
    }
  }

  private TaskTrackerStatus find(String host, int httpPort) {
    for (TaskTrackerStatus status : jobTracker.taskTrackers()) {
      if (status.getHttpPort() == httpPort && host.equals(status.getHost())) {
        return status;
      }
    }
    return null;
  }
}
