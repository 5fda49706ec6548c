package org.apache.hadoop.mapred;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.hadoop.mapreduce.TaskType;

/** {@link ClusterView} over a live JobTracker (package-private members of Hadoop 1.2.1). */
final class JobTrackerView implements ClusterView {
  private static final Log LOG = LogFactory.getLog(JobTrackerView.class);

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
      if (!job.inited()) {
        // initTasks fills the map list before it creates the reduce list: until it is done,
        // count the tasks the job declared, so that a tracker sized now gets its reduce slot
        // too (a map-only tracker holding the map outputs is never idle, so on a cluster with
        // room for one tracker the reduce would wait forever).
        jobMaps = Math.max(jobMaps, job.desiredMaps());
        jobReduces = Math.max(jobReduces, job.desiredReduces());
      }
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
   * going negative (MAPREDUCE-1238). While the JobTracker initializes a job
   * (JobInProgress.initTasks) the list already has its length but some entries are still
   * null: those tasks are about to exist and count as pending (an offer that arrived then
   * failed with a NullPointerException and was never answered).
   */
  private static int pending(TaskInProgress[] tips) {
    int n = 0;
    for (TaskInProgress tip : tips) {
      if (tip == null || (!tip.isComplete() && !tip.isRunning() && !tip.wasKilled())) {
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

  @Override
  public List<JobID> failWaitingJobs(String diagnostic) {
    List<JobID> failed = new ArrayList<JobID>();
    for (JobStatus status : jobTracker.jobsToComplete()) {
      JobInProgress job = jobTracker.getJob(status.getJobID());
      if (job == null || job.isComplete() || !waiting(job)) {
        continue;
      }
      fail(job, diagnostic);
      failed.add(job.getJobID());
    }
    return failed;
  }

  /** Tasks of the job (its setup, maps, reduces, cleanup) still wait for a slot. */
  private static boolean waiting(JobInProgress job) {
    return pending(job.getTasks(TaskType.MAP)) > 0
        || pending(job.getTasks(TaskType.REDUCE)) > 0
        || (job.getTasks(TaskType.JOB_SETUP).length > 0 && !job.isSetupLaunched())
        || (job.getTasks(TaskType.JOB_CLEANUP).length > 0 && !job.isCleanupLaunched());
  }

  /**
   * Fails a job that cannot get a TaskTracker. {@code JobTracker.failJob} (public, what
   * Hadoop's own components call) marks it failed and kills its tasks, but in Hadoop 1.2.1 an
   * initialized job only reaches FAILED once its job-cleanup task has run on a TaskTracker
   * (JobInProgress.terminate), and there is none. So the plugin then takes the step Hadoop
   * takes when that cleanup task itself fails (JobInProgress.failedTask calls
   * terminateJob(FAILED)): the job becomes FAILED, its history and summary are written, the
   * JobTracker finalizes it, and its listeners (the wrapped scheduler's queue) hear of the
   * state change as JobTracker.failJob tells them. Both steps are private in 1.2.1: reflection.
   */
  private void fail(JobInProgress job, String diagnostic) {
    job.getStatus().setFailureInfo(diagnostic);
    jobTracker.failJob(job);
    if (job.isComplete()) {
      return;
    }
    JobStatus before = (JobStatus) job.getStatus().clone();
    try {
      Method terminate = JobInProgress.class.getDeclaredMethod("terminateJob", int.class);
      terminate.setAccessible(true);
      terminate.invoke(job, JobStatus.FAILED);
      JobStatus after = (JobStatus) job.getStatus().clone();
      Method notify = JobTracker.class.getDeclaredMethod(
          "updateJobInProgressListeners", JobChangeEvent.class);
      notify.setAccessible(true);
      notify.invoke(jobTracker, new JobStatusChangeEvent(
          job, JobStatusChangeEvent.EventType.RUN_STATE_CHANGED, before, after));
    } catch (NoSuchMethodException | IllegalAccessException | InvocationTargetException
        | RuntimeException e) {
      // Another Hadoop 1.x: the job stays failed-pending-cleanup, as failJob left it.
      LOG.warn("MesosScheduler: could not complete the failure of " + job.getJobID()
          + " (it ends when a TaskTracker runs its cleanup task): " + e, e);
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
