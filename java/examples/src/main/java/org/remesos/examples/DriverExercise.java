package org.remesos.examples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.Protos.*;

/**
 * Exercises the scheduler driver end to end (the JNI tests run it against Apache's jars and
 * ours). Prints one line per observation; the test reads them.
 *
 * <pre>
 * DriverExercise MASTER full EXECUTOR_CLASSPATH   command tasks, a killed task, a custom executor
 *                                                 with messages both ways, reconcileTasks, stop(false)
 * DriverExercise MASTER failover-1                registers (failover_timeout 300s), launches a
 *                                                 task, stop(true) once it runs; prints FRAMEWORK_ID
 * DriverExercise MASTER failover-2 FRAMEWORK_ID   reregisters as that framework and waits for the
 *                                                 task's TASK_FINISHED; stop(false)
 * DriverExercise MASTER explicit                  implicitAcknowledgements=false: acknowledges each
 *                                                 update itself (the agent sends a task's next update
 *                                                 only after the previous one is acknowledged)
 * DriverExercise MASTER executor EXECUTOR_CP      only the custom executor's task; runs until killed
 * DriverExercise MASTER reconnect                 registers, then (after the test restarts the
 *                                                 master) prints DISCONNECTED and REREGISTERED; stop(false)
 * DriverExercise MASTER offline                   (no master there) launchTasks gives a local
 *                                                 TASK_LOST; acknowledgeStatusUpdate with implicit
 *                                                 acknowledgements throws; the statusUpdate callback
 *                                                 throws, which aborts the driver
 * DriverExercise MASTER abort-stop                registers (failover_timeout 300s); resourceOffers
 *                                                 throws, which aborts the driver; after join,
 *                                                 stop(false) (the framework is torn down)
 * DriverExercise MASTER abort-failover            the same, ending with stop(true) (the framework
 *                                                 stays registered for its failover timeout)
 * </pre>
 */
public class DriverExercise implements Scheduler {
  private final String mode;
  private final String executorClasspath;
  private boolean launched = false;
  private final Map<String, TaskState> terminal = new HashMap<String, TaskState>();
  private int expectedTerminal = 0;
  private boolean reconciled = false;
  private boolean finishSent = false;
  private ExecutorID echoExecutor;
  private SlaveID echoSlave;

  DriverExercise(String mode, String executorClasspath) {
    this.mode = mode;
    this.executorClasspath = executorClasspath;
  }

  /**
   * Counted down once a callback has reported its own stop(). run() returns as soon as the
   * driver stops, possibly before the callback that called stop() has printed what stop()
   * returned, so main waits for that line before it exits the JVM.
   */
  private static final CountDownLatch STOP_REPORTED = new CountDownLatch(1);

  private static void reportStop(String label, Status status) {
    say(label + " " + status);
    STOP_REPORTED.countDown();
  }

  static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String master = args[0];
    String mode = args[1];
    FrameworkInfo.Builder framework = FrameworkInfo.newBuilder()
        .setUser("")
        .setName("remesos DriverExercise " + mode)
        .setFailoverTimeout(mode.startsWith("failover") || mode.startsWith("abort") ? 300 : 0);
    if (mode.equals("failover-2")) {
      framework.setId(FrameworkID.newBuilder().setValue(args[2]));
    }
    DriverExercise scheduler = new DriverExercise(mode,
        mode.equals("full") || mode.equals("executor") ? args[2] : null);
    if (mode.equals("failover-2")) {
      scheduler.expectedTerminal = 1; // the task launched by failover-1
    }
    MesosSchedulerDriver driver = mode.equals("explicit")
        ? new MesosSchedulerDriver(scheduler, framework.build(), master, false)
        : new MesosSchedulerDriver(scheduler, framework.build(), master);
    org.apache.mesos.MesosNativeLibrary.Version v = org.apache.mesos.MesosNativeLibrary.version();
    say("VERSION " + v.major + "." + v.minor + "." + v.patch);
    if (mode.equals("offline")) {
      say("START " + driver.start());
      TaskInfo task = TaskInfo.newBuilder()
          .setName("offline")
          .setTaskId(TaskID.newBuilder().setValue("offline"))
          .setSlaveId(SlaveID.newBuilder().setValue("some-agent"))
          .setCommand(CommandInfo.newBuilder().setValue("true"))
          .build();
      say("OFFLINE_LAUNCH " + driver.launchTasks(
          Collections.singletonList(OfferID.newBuilder().setValue("some-offer").build()),
          Collections.singletonList(task)));
      try {
        driver.acknowledgeStatusUpdate(TaskStatus.newBuilder()
            .setTaskId(task.getTaskId()).setState(TaskState.TASK_RUNNING).build());
        say("ACK_ACCEPTED");
      } catch (RuntimeException e) {
        say("ACK_REFUSED " + e.getClass().getSimpleName());
      }
      Status joined = driver.join();
      say("JOINED " + joined);
      say("STOP_AFTER_ABORT " + driver.stop());
      System.exit(joined == Status.DRIVER_ABORTED ? 0 : 2);
    }
    if (mode.startsWith("abort")) {
      say("START " + driver.start());
      Status joined = driver.join();
      say("JOINED " + joined);
      say("STOP_AFTER_ABORT " + driver.stop(mode.equals("abort-failover")));
      System.exit(joined == Status.DRIVER_ABORTED ? 0 : 2);
    }
    Status status = driver.run();
    say("DRIVER_ENDED " + status);
    STOP_REPORTED.await(10, TimeUnit.SECONDS);
    System.exit(status == Status.DRIVER_STOPPED ? 0 : 2);
  }

  private TaskInfo command(String id, Offer offer, String command) {
    return TaskInfo.newBuilder()
        .setName(id)
        .setTaskId(TaskID.newBuilder().setValue(id))
        .setSlaveId(offer.getSlaveId())
        .addResources(CommandScheduler.scalarResource("cpus", 0.1, CommandScheduler.role(offer)))
        .addResources(CommandScheduler.scalarResource("mem", 32, CommandScheduler.role(offer)))
        .setCommand(CommandInfo.newBuilder().setValue(command))
        .build();
  }

  @Override
  public void registered(SchedulerDriver driver, FrameworkID id, MasterInfo master) {
    say("REGISTERED " + id.getValue());
    say("FRAMEWORK_ID " + id.getValue());
    if (mode.equals("failover-2")) {
      // Whatever happened while no scheduler was connected.
      driver.reconcileTasks(Collections.<TaskStatus>emptyList());
    }
  }

  @Override
  public void reregistered(SchedulerDriver driver, MasterInfo master) {
    say("REREGISTERED");
    if (mode.equals("reconnect")) {
      reportStop("STOP", driver.stop(false));
    }
  }

  @Override
  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    if (mode.startsWith("abort")) {
      say("OFFERS " + offers.size());
      throw new IllegalStateException("thrown by the resourceOffers callback on purpose");
    }
    for (Offer offer : offers) {
      if (launched || mode.equals("failover-2") || mode.equals("reconnect")) {
        driver.declineOffer(offer.getId(), Filters.newBuilder().setRefuseSeconds(1).build());
        continue;
      }
      launched = true;
      List<TaskInfo> tasks = new ArrayList<TaskInfo>();
      if (mode.equals("full") || mode.equals("executor")) {
        if (mode.equals("full")) {
          tasks.add(command("true-1", offer, "true"));
          tasks.add(command("true-2", offer, "exit 0"));
          tasks.add(command("sleeper", offer, "sleep 600"));
        }
        ExecutorInfo executor = ExecutorInfo.newBuilder()
            .setExecutorId(ExecutorID.newBuilder().setValue("echo-executor"))
            .setName("echo executor")
            .setCommand(CommandInfo.newBuilder().setValue(
                "exec java -Xcheck:jni -cp '" + executorClasspath + "' org.remesos.examples.EchoExecutor"))
            .addResources(CommandScheduler.scalarResource("cpus", 0.1, CommandScheduler.role(offer)))
            .addResources(CommandScheduler.scalarResource("mem", 128, CommandScheduler.role(offer)))
            .build();
        tasks.add(TaskInfo.newBuilder()
            .setName("echo")
            .setTaskId(TaskID.newBuilder().setValue("echo"))
            .setSlaveId(offer.getSlaveId())
            .addResources(CommandScheduler.scalarResource("cpus", 0.1, CommandScheduler.role(offer)))
            .addResources(CommandScheduler.scalarResource("mem", 32, CommandScheduler.role(offer)))
            .setExecutor(executor)
            .build());
        if (mode.equals("full")) {
          // Bad input gets Mesos's answers, not a crash: a duplicate task id and a task far
          // bigger than the offer (TASK_ERROR from the master's validation).
          tasks.add(command("true-1", offer, "true"));
          tasks.add(TaskInfo.newBuilder(command("huge", offer, "true"))
              .clearResources()
              .addResources(CommandScheduler.scalarResource("cpus", 100000, CommandScheduler.role(offer)))
              .build());
          expectedTerminal = 6;
        }
      } else {
        tasks.add(command("survivor", offer, "sleep 3"));
        expectedTerminal = 1;
      }
      Status status = driver.launchTasks(Collections.singletonList(offer.getId()), tasks);
      say("LAUNCHED " + tasks.size() + " " + status);
      // Null and unknown input: statuses, no crash.
      say("NULL_DECLINE " + driver.declineOffer(OfferID.newBuilder().setValue("no-such-offer").build()));
      say("NULL_RECONCILE " + driver.reconcileTasks(null));
    }
  }

  @Override
  public void statusUpdate(SchedulerDriver driver, TaskStatus status) {
    String id = status.getTaskId().getValue();
    if (mode.equals("offline")) {
      say("STATUS " + id + " " + status.getState() + " source=" + status.getSource()
          + " reason=" + status.getReason() + " message=" + status.getMessage());
      throw new IllegalStateException("thrown by the statusUpdate callback on purpose");
    }
    say("STATUS " + id + " " + status.getState() + " slave=" + status.getSlaveId().getValue()
        + " reason=" + status.getReason() + (status.hasMessage() ? " message=" + status.getMessage() : ""));
    if (mode.equals("explicit") && status.hasUuid()) {
      say("ACK " + status.getState() + " " + driver.acknowledgeStatusUpdate(status));
    }
    if (mode.equals("failover-1") && status.getState() == TaskState.TASK_RUNNING) {
      reportStop("FAILOVER_STOP", driver.stop(true));
      return;
    }
    if (id.equals("sleeper") && status.getState() == TaskState.TASK_RUNNING) {
      say("KILL " + driver.killTask(status.getTaskId()));
    }
    if (id.equals("echo") && status.getState() == TaskState.TASK_RUNNING && echoExecutor == null
        && mode.equals("full")) {
      echoExecutor = ExecutorID.newBuilder().setValue("echo-executor").build();
      echoSlave = status.getSlaveId();
      say("SEND " + driver.sendFrameworkMessage(echoExecutor, echoSlave, "hello".getBytes()));
    }
    if (status.getReason() == TaskStatus.Reason.REASON_RECONCILIATION) {
      say("RECONCILED " + id + " " + status.getState());
      if (id.equals("echo") && status.getState() == TaskState.TASK_RUNNING
          && echoExecutor != null && !finishSent) {
        reconciled = true;
        finishSent = true;
        driver.sendFrameworkMessage(echoExecutor, echoSlave, "finish".getBytes());
      }
    }
    switch (status.getState()) {
      case TASK_STAGING:
      case TASK_STARTING:
      case TASK_RUNNING:
      case TASK_KILLING:
        return;
      default:
    }
    if (id.equals("true-1") && terminal.containsKey(id)) {
      id = "true-1-duplicate";
    }
    terminal.put(id, status.getState());
    if (terminal.size() >= expectedTerminal && expectedTerminal > 0) {
      say("ALL_TERMINAL " + terminal);
      reportStop("STOP", driver.stop(false));
    }
  }

  @Override
  public void frameworkMessage(SchedulerDriver driver, ExecutorID executor, SlaveID slave, byte[] data) {
    String message = new String(data);
    say("MESSAGE " + executor.getValue() + " " + message);
    if (message.equals("echo:hello")) {
      // Reconcile the running echo task explicitly; the answer (REASON_RECONCILIATION)
      // triggers "finish".
      TaskStatus known = TaskStatus.newBuilder()
          .setTaskId(TaskID.newBuilder().setValue("echo"))
          .setState(TaskState.TASK_RUNNING)
          .setSlaveId(slave)
          .build();
      say("RECONCILE " + driver.reconcileTasks(Collections.singletonList(known)));
    }
  }

  @Override
  public void offerRescinded(SchedulerDriver driver, OfferID offerId) {}

  @Override
  public void disconnected(SchedulerDriver driver) {
    say("DISCONNECTED");
  }

  @Override
  public void slaveLost(SchedulerDriver driver, SlaveID slaveId) {
    say("SLAVE_LOST " + slaveId.getValue());
  }

  @Override
  public void executorLost(SchedulerDriver driver, ExecutorID e, SlaveID s, int status) {
    say("EXECUTOR_LOST " + e.getValue() + " " + status);
  }

  @Override
  public void error(SchedulerDriver driver, String message) {
    say("ERROR " + message);
  }
}
