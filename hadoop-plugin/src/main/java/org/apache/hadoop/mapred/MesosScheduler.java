package org.apache.hadoop.mapred;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.hadoop.util.ReflectionUtils;
import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos.Credential;
import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.FrameworkID;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.MasterInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;

/**
 * A Hadoop 1.x TaskScheduler that runs TaskTrackers as Mesos tasks:
 * {@code mapred.jobtracker.taskScheduler = org.apache.hadoop.mapred.MesosScheduler}.
 *
 * <p>Which job's task goes to which free slot is decided by the wrapped scheduler
 * ({@code mapred.mesos.taskScheduler}, JobQueueTaskScheduler by default); this class decides
 * how many TaskTrackers exist: it registers the JobTracker as a Mesos framework, launches
 * TaskTrackers from offers while maps or reduces are pending ({@link TrackerManager}), kills
 * them when idle, and tears the framework down when the JobTracker stops.
 *
 * <p>It lives in org.apache.hadoop.mapred because TaskScheduler and the JobTracker members it
 * reads are package-private in Hadoop 1.2.1.
 */
public class MesosScheduler extends TaskScheduler implements Scheduler {
  private static final Log LOG = LogFactory.getLog(MesosScheduler.class);

  /** Creates the driver; tests replace it to run a JobTracker against an in-process Mesos. */
  interface DriverFactory {
    /** {@code credential}: null when none is configured ({@link MesosConfig#credential}). */
    SchedulerDriver create(
        Scheduler scheduler, FrameworkInfo framework, String master, Credential credential);
  }

  static volatile DriverFactory driverFactory =
      new DriverFactory() {
        @Override
        public SchedulerDriver create(
            Scheduler scheduler, FrameworkInfo framework, String master, Credential credential) {
          // As the old plugin: the 4-argument constructor only when there is a credential.
          return credential == null
              ? new MesosSchedulerDriver(scheduler, framework, master)
              : new MesosSchedulerDriver(scheduler, framework, master, credential);
        }
      };

  private TaskScheduler delegate;
  private JobTracker jobTracker;
  private MesosConfig config;
  private TrackerManager manager;
  private volatile SchedulerDriver driver;
  private Thread checker;
  private Thread shutdownHook;
  private volatile boolean stopped;
  private final AtomicBoolean stopping = new AtomicBoolean();

  private final JobInProgressListener listener =
      new JobInProgressListener() {
        @Override
        public void jobAdded(JobInProgress job) {
          if (manager != null) {
            manager.demandMayHaveGrown();
          }
        }

        @Override
        public void jobRemoved(JobInProgress job) {}

        @Override
        public void jobUpdated(JobChangeEvent event) {}
      };

  public MesosScheduler() {}

  @Override
  public synchronized void start() throws IOException {
    config = new MesosConfig(conf);
    try {
      config.validate();
    } catch (IllegalArgumentException e) {
      throw new IOException("MesosScheduler: " + e.getMessage(), e);
    }
    // The wrapped scheduler: setConf (by newInstance) before setTaskTrackerManager and start,
    // as JobQueueTaskScheduler needs (it builds its listeners in setConf).
    try {
      Class<?> cls = conf.getClassByName(config.taskScheduler);
      delegate = (TaskScheduler) ReflectionUtils.newInstance(cls, conf);
    } catch (ClassNotFoundException e) {
      throw new IOException(MesosConfig.TASK_SCHEDULER + ": no class " + config.taskScheduler, e);
    }
    delegate.setTaskTrackerManager(taskTrackerManager);
    jobTracker = (JobTracker) taskTrackerManager;
    taskTrackerManager.addJobInProgressListener(listener);

    Map<String, String> env = new HashMap<String, String>();
    for (String name : new String[] {"JAVA_HOME", "JAVA_LIBRARY_PATH"}) {
      String value = System.getenv(name);
      if (value != null) {
        env.put(name, value);
      }
    }
    manager = new TrackerManager(
        config, new JobTrackerView(jobTracker), new JobConf(conf), env, new Random());

    for (String warning : MesosConfig.warnings(conf)) {
      LOG.warn(warning);
    }
    FrameworkInfo framework = config.frameworkInfo(
        "Hadoop: (RPC port: " + jobTracker.port + ", WebUI port: " + jobTracker.infoPort + ")");
    String name = framework.getName();
    Credential credential = config.credential();
    if (credential != null) {
      LOG.info("MesosScheduler: authenticating as principal '" + credential.getPrincipal() + "'");
    }
    SchedulerDriver d;
    try {
      d = driverFactory.create(this, framework, config.master, credential);
    } catch (UnsatisfiedLinkError e) {
      throw new IOException("MesosScheduler: cannot load the native Mesos library (set "
          + "MESOS_NATIVE_JAVA_LIBRARY to remesos's libmesos.so): " + e.getMessage(), e);
    }
    driver = d;
    manager.setDriver(d);
    Status status = d.start();
    if (status != Status.DRIVER_RUNNING) {
      throw new IOException("MesosScheduler: driver for " + config.master + " is " + status);
    }
    LOG.info("MesosScheduler started: framework '" + name + "' on master " + config.master);

    checker = new Thread(new Runnable() {
      @Override
      public void run() {
        checkLoop();
      }
    }, "MesosScheduler tracker check");
    checker.setDaemon(true);
    checker.start();
    // JobTracker.main has no shutdown path that calls terminate(): on SIGTERM tear the
    // framework down from a hook, so Mesos kills the TaskTrackers with it.
    shutdownHook = new Thread(new Runnable() {
      @Override
      public void run() {
        // Bounded: a driver that cannot reach its master must not hold the JVM's exit.
        Thread stop = new Thread(new Runnable() {
          @Override
          public void run() {
            stopDriver();
          }
        }, "MesosScheduler teardown");
        stop.setDaemon(true);
        stop.start();
        try {
          stop.join(10000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }, "MesosScheduler shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);

    delegate.start();
  }

  @Override
  public synchronized void terminate() throws IOException {
    stopDriver();
    if (checker != null) {
      checker.interrupt();
    }
    if (taskTrackerManager != null) {
      taskTrackerManager.removeJobInProgressListener(listener);
    }
    if (delegate != null) {
      delegate.terminate();
    }
  }

  private void stopDriver() {
    if (!stopping.compareAndSet(false, true)) {
      return;
    }
    stopped = true;
    if (manager != null) {
      manager.shutdown();
    }
    SchedulerDriver d = driver;
    if (d != null) {
      LOG.info("MesosScheduler: stopping the driver (framework teardown)");
      d.stop(false);
    }
  }

  private void checkLoop() {
    long intervalMs = (config.idleIntervalSecs > 0 ? config.idleIntervalSecs : 5) * 1000L;
    while (!stopped) {
      try {
        Thread.sleep(intervalMs);
        manager.periodicCheck(System.currentTimeMillis(), config.idleIntervalSecs > 0);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.error("MesosScheduler: periodic tracker check failed", e);
      }
    }
  }

  // ---- TaskScheduler -------------------------------------------------------------------

  @Override
  public List<Task> assignTasks(org.apache.hadoop.mapreduce.server.jobtracker.TaskTracker tracker)
      throws IOException {
    TaskTrackerStatus status = tracker.getStatus();
    if (manager != null
        && !manager.heartbeat(status.getHost(), status.getHttpPort(), System.currentTimeMillis())) {
      return Collections.emptyList(); // being killed: no new work
    }
    List<Task> tasks = delegate.assignTasks(tracker);
    if (tasks != null && !tasks.isEmpty() && manager != null) {
      List<JobID> jobs = new ArrayList<JobID>(tasks.size());
      for (Task task : tasks) {
        jobs.add(task.getJobID());
      }
      manager.assigned(status.getHost(), status.getHttpPort(), jobs);
    }
    return tasks;
  }

  @Override
  public Collection<JobInProgress> getJobs(String queueName) {
    return delegate.getJobs(queueName);
  }

  @Override
  public void refresh() throws IOException {
    delegate.refresh();
  }

  @Override
  public void checkJobSubmission(JobInProgress job) throws IOException {
    delegate.checkJobSubmission(job);
  }

  // ---- org.apache.mesos.Scheduler ------------------------------------------------------
  //
  // Callbacks arrive on the driver's native thread. Its context class loader may be null,
  // and Hadoop looks up resources through it (Counters' ResourceBundle in
  // JobTracker.lostTaskTracker threw a NullPointerException there), so each callback sets
  // it. A RuntimeException thrown out of a callback would abort the driver (Apache's JNI
  // semantics) and with it every TaskTracker: they are logged instead.

  private static void onCallbackThread() {
    Thread current = Thread.currentThread();
    if (current.getContextClassLoader() == null) {
      current.setContextClassLoader(MesosScheduler.class.getClassLoader());
    }
  }

  @Override
  public void registered(SchedulerDriver driver, FrameworkID frameworkId, MasterInfo masterInfo) {
    LOG.info("registered as framework " + frameworkId.getValue() + " with master "
        + masterInfo.getHostname() + ":" + masterInfo.getPort());
  }

  @Override
  public void reregistered(SchedulerDriver driver, MasterInfo masterInfo) {
    LOG.info("reregistered with master " + masterInfo.getHostname() + ":" + masterInfo.getPort());
  }

  @Override
  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    onCallbackThread();
    try {
      manager.resourceOffers(driver, offers, System.currentTimeMillis());
    } catch (RuntimeException e) {
      LOG.error("MesosScheduler: handling " + offers.size() + " offers failed", e);
    }
  }

  @Override
  public void offerRescinded(SchedulerDriver driver, OfferID offerId) {
    LOG.info("offer " + offerId.getValue() + " rescinded");
  }

  @Override
  public void statusUpdate(SchedulerDriver driver, TaskStatus status) {
    LOG.info("status update: " + status.getTaskId().getValue() + " " + status.getState()
        + (status.hasMessage() ? " (" + status.getMessage() + ")" : ""));
    onCallbackThread();
    try {
      manager.statusUpdate(driver, status, System.currentTimeMillis());
    } catch (RuntimeException e) {
      LOG.error("MesosScheduler: handling the status of " + status.getTaskId().getValue() + " failed", e);
    }
  }

  @Override
  public void frameworkMessage(
      SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, byte[] data) {
    LOG.info("framework message from " + executorId.getValue() + " (" + data.length + " bytes)");
  }

  @Override
  public void disconnected(SchedulerDriver driver) {
    LOG.warn("disconnected from the Mesos master; the driver reconnects");
  }

  @Override
  public void slaveLost(SchedulerDriver driver, SlaveID slaveId) {
    onCallbackThread();
    try {
      manager.slaveLost(slaveId);
    } catch (RuntimeException e) {
      LOG.error("MesosScheduler: handling the loss of agent " + slaveId.getValue() + " failed", e);
    }
  }

  @Override
  public void executorLost(
      SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, int status) {
    onCallbackThread();
    try {
      manager.executorLost(executorId, slaveId, status, System.currentTimeMillis());
    } catch (RuntimeException e) {
      LOG.error("MesosScheduler: handling the loss of " + executorId.getValue() + " failed", e);
    }
  }

  @Override
  public void error(SchedulerDriver driver, String message) {
    LOG.error("Mesos error: " + message + "; the framework is gone, TaskTrackers with it");
  }
}
