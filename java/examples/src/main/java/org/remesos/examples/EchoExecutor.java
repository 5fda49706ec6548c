package org.remesos.examples;

import org.apache.mesos.Executor;
import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.Protos.*;

/**
 * A custom executor on MesosExecutorDriver: each task it is given runs until the framework
 * sends the message "finish" (answered "finished"); any other message is echoed back as
 * "echo:<message>". A killed task ends TASK_KILLED.
 */
public class EchoExecutor implements Executor {
  private TaskID current;

  public static void main(String[] args) {
    MesosExecutorDriver driver = new MesosExecutorDriver(new EchoExecutor());
    Status status = driver.run();
    System.out.println("executor driver ended: " + status);
    System.exit(status == Status.DRIVER_STOPPED ? 0 : 1);
  }

  private static void update(ExecutorDriver driver, TaskID task, TaskState state) {
    driver.sendStatusUpdate(TaskStatus.newBuilder().setTaskId(task).setState(state).build());
  }

  @Override
  public void registered(ExecutorDriver driver, ExecutorInfo executor, FrameworkInfo framework, SlaveInfo slave) {
    System.out.println("registered on " + slave.getHostname() + " for " + framework.getName());
  }

  @Override
  public void reregistered(ExecutorDriver driver, SlaveInfo slave) {}

  @Override
  public void disconnected(ExecutorDriver driver) {}

  @Override
  public synchronized void launchTask(ExecutorDriver driver, TaskInfo task) {
    current = task.getTaskId();
    update(driver, current, TaskState.TASK_RUNNING);
  }

  @Override
  public synchronized void killTask(ExecutorDriver driver, TaskID taskId) {
    update(driver, taskId, TaskState.TASK_KILLED);
  }

  @Override
  public synchronized void frameworkMessage(ExecutorDriver driver, byte[] data) {
    String message = new String(data);
    if (message.equals("finish") && current != null) {
      driver.sendFrameworkMessage("finished".getBytes());
      update(driver, current, TaskState.TASK_FINISHED);
      current = null;
    } else {
      driver.sendFrameworkMessage(("echo:" + message).getBytes());
    }
  }

  @Override
  public void shutdown(ExecutorDriver driver) {
    driver.stop();
  }

  @Override
  public void error(ExecutorDriver driver, String message) {
    System.out.println("error: " + message);
  }
}
