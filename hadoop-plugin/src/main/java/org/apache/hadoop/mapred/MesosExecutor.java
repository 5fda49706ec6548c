package org.apache.hadoop.mapred;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.mesos.Executor;
import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.Protos.ExecutorInfo;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.SlaveInfo;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskState;
import org.apache.mesos.Protos.TaskStatus;

/**
 * The Mesos executor MesosScheduler launches: runs one TaskTracker inside this JVM, with the
 * configuration MesosScheduler sent as the task's data. Started by
 * {@code bin/hadoop org.apache.hadoop.mapred.MesosExecutor} in the agent's sandbox.
 *
 * <p>The task is RUNNING once the TaskTracker is constructed (its HTTP and RPC servers are
 * bound); it ends FINISHED when the TaskTracker stops by itself, FAILED when it cannot start
 * or dies, KILLED when MesosScheduler kills it.
 */
public class MesosExecutor implements Executor {
  private static final Log LOG = LogFactory.getLog(MesosExecutor.class);

  private SlaveInfo slaveInfo;
  private volatile TaskTracker taskTracker;
  private volatile TaskID taskId;
  private volatile boolean killed;
  private final AtomicBoolean finished = new AtomicBoolean();

  public static void main(String[] args) {
    MesosExecutorDriver driver = new MesosExecutorDriver(new MesosExecutor());
    Status status = driver.run();
    LOG.info("executor driver ended: " + status);
    // The TaskTracker leaves non-daemon threads (Jetty, RPC) behind.
    System.exit(status == Status.DRIVER_STOPPED ? 0 : 1);
  }

  @Override
  public void registered(
      ExecutorDriver driver, ExecutorInfo executorInfo, FrameworkInfo frameworkInfo,
      SlaveInfo slaveInfo) {
    this.slaveInfo = slaveInfo;
    LOG.info("registered on agent " + slaveInfo.getHostname() + " for framework "
        + frameworkInfo.getName());
  }

  @Override
  public void reregistered(ExecutorDriver driver, SlaveInfo slaveInfo) {
    this.slaveInfo = slaveInfo;
  }

  @Override
  public void disconnected(ExecutorDriver driver) {
    LOG.warn("disconnected from the agent");
  }

  @Override
  public void launchTask(final ExecutorDriver driver, final TaskInfo task) {
    // The driver's native callback thread may have no context class loader; Hadoop uses it.
    if (Thread.currentThread().getContextClassLoader() == null) {
      Thread.currentThread().setContextClassLoader(MesosExecutor.class.getClassLoader());
    }
    if (taskId != null) {
      send(driver, task.getTaskId(), TaskState.TASK_FAILED, "this executor already runs a TaskTracker");
      return;
    }
    taskId = task.getTaskId();
    final JobConf conf;
    try {
      conf = new JobConf(false);
      conf.readFields(new DataInputStream(new ByteArrayInputStream(task.getData().toByteArray())));
    } catch (IOException e) {
      finish(driver, task.getTaskId(), TaskState.TASK_FAILED, "bad TaskTracker configuration: " + e);
      return;
    }
    // The host the TaskTracker reports is how MesosScheduler recognises it: the agent's
    // hostname, which is the offer's.
    if (slaveInfo != null && slaveInfo.hasHostname()) {
      conf.set("slave.host.name", slaveInfo.getHostname());
    }
    String sandbox = System.getenv("MESOS_SANDBOX");
    if (sandbox == null) {
      sandbox = System.getenv("MESOS_DIRECTORY");
    }
    if (sandbox == null) {
      sandbox = System.getProperty("user.dir");
    }
    conf.set("mapred.local.dir", new File(sandbox, "mapred/local").getAbsolutePath());

    Thread runner = new Thread(new Runnable() {
      @Override
      public void run() {
        runTracker(driver, conf);
      }
    }, "TaskTracker");
    // UGI's JAAS login module is looked up through the context class loader.
    runner.setContextClassLoader(MesosExecutor.class.getClassLoader());
    runner.start();
  }

  private void runTracker(ExecutorDriver driver, JobConf conf) {
    TaskID id = taskId;
    try {
      taskTracker = new TaskTracker(conf);
    } catch (Throwable e) {
      LOG.error("TaskTracker failed to start", e);
      finish(driver, id, TaskState.TASK_FAILED, "TaskTracker failed to start: " + e);
      return;
    }
    LOG.info("TaskTracker started for " + id.getValue());
    send(driver, id, TaskState.TASK_RUNNING, null);
    Throwable failure = null;
    try {
      taskTracker.run();
    } catch (Throwable e) {
      failure = e;
      LOG.error("TaskTracker died", e);
    }
    if (killed) {
      finish(driver, id, TaskState.TASK_KILLED, "killed by MesosScheduler");
    } else if (failure != null) {
      finish(driver, id, TaskState.TASK_FAILED, "TaskTracker died: " + failure);
    } else {
      finish(driver, id, TaskState.TASK_FINISHED, "TaskTracker stopped");
    }
  }

  /** Sends the one terminal status of the task, then stops the driver (ending the JVM). */
  private void finish(ExecutorDriver driver, TaskID id, TaskState state, String message) {
    if (!finished.compareAndSet(false, true)) {
      return;
    }
    send(driver, id, state, message);
    // Give the update a moment to reach the agent before the driver goes.
    try {
      Thread.sleep(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    driver.stop();
  }

  @Override
  public void killTask(final ExecutorDriver driver, TaskID id) {
    LOG.info("killing TaskTracker " + id.getValue());
    killed = true;
    final TaskTracker tracker = taskTracker;
    if (tracker == null) {
      finish(driver, id, TaskState.TASK_KILLED, "killed before the TaskTracker started");
      return;
    }
    // Off the callback thread: shutdown waits for the TaskTracker's threads; run() then
    // returns and runTracker reports TASK_KILLED.
    Thread stopper = new Thread(new Runnable() {
      @Override
      public void run() {
        try {
          tracker.shutdown();
        } catch (Throwable e) {
          LOG.warn("TaskTracker shutdown failed", e);
        }
        // run() normally returns after shutdown and reports; if it hangs, report anyway.
        try {
          Thread.sleep(10000);
        } catch (InterruptedException e) {
          return;
        }
        finish(driver, taskId, TaskState.TASK_KILLED, "killed by MesosScheduler");
      }
    }, "TaskTracker shutdown");
    stopper.setDaemon(true);
    stopper.setContextClassLoader(MesosExecutor.class.getClassLoader());
    stopper.start();
  }

  @Override
  public void frameworkMessage(ExecutorDriver driver, byte[] data) {}

  @Override
  public void shutdown(ExecutorDriver driver) {
    LOG.info("shutdown requested by the agent");
    TaskID id = taskId;
    if (id != null) {
      killTask(driver, id);
    } else {
      driver.stop();
    }
  }

  @Override
  public void error(ExecutorDriver driver, String message) {
    LOG.error("executor driver error: " + message);
  }

  private static void send(ExecutorDriver driver, TaskID id, TaskState state, String message) {
    TaskStatus.Builder status = TaskStatus.newBuilder().setTaskId(id).setState(state);
    if (message != null) {
      status.setMessage(message);
    }
    driver.sendStatusUpdate(status.build());
  }
}
