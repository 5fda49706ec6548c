package org.remesos.examples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.Protos.*;

/**
 * The smallest useful framework: launches N command tasks (1 cpu share, 32 MB each) and
 * waits until every one has finished, then stops (tearing the framework down).
 *
 * <pre>java -cp mesos.jar:examples.jar org.remesos.examples.CommandScheduler MASTER [N] [COMMAND] [PRINCIPAL SECRET]</pre>
 *
 * <p>With PRINCIPAL and SECRET it authenticates through the 4-argument constructor's
 * {@code Credential}, as Mesos frameworks do; the principal is left out of the FrameworkInfo so
 * that the driver fills it in from the credential.
 */
public class CommandScheduler implements Scheduler {
  private final int total;
  private final String command;
  private int launched = 0;
  private int finished = 0;
  private int failed = 0;

  public CommandScheduler(int total, String command) {
    this.total = total;
    this.command = command;
  }

  public static void main(String[] args) throws Exception {
    String master = args.length > 0 ? args[0] : "127.0.0.1:5050";
    int tasks = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    String command = args.length > 2 ? args[2] : "echo hello from $MESOS_TASK_ID";
    FrameworkInfo framework = FrameworkInfo.newBuilder()
        .setUser("")
        .setName("remesos CommandScheduler (Java)")
        .build();
    CommandScheduler scheduler = new CommandScheduler(tasks, command);
    MesosSchedulerDriver driver = args.length > 4
        ? new MesosSchedulerDriver(scheduler, framework, master,
            Credential.newBuilder().setPrincipal(args[3]).setSecret(args[4]).build())
        : new MesosSchedulerDriver(scheduler, framework, master);
    Status status = driver.run();
    System.out.println("driver ended: " + status + ", finished " + scheduler.finished + "/" + tasks);
    System.exit(status == Status.DRIVER_STOPPED && scheduler.failed == 0 ? 0 : 1);
  }

  static double scalar(Offer offer, String name) {
    double total = 0;
    for (Resource r : offer.getResourcesList()) {
      if (r.getName().equals(name) && r.getType() == Value.Type.SCALAR) {
        total += r.getScalar().getValue();
      }
    }
    return total;
  }

  static String role(Offer offer) {
    return offer.hasAllocationInfo() ? offer.getAllocationInfo().getRole() : "*";
  }

  static Resource scalarResource(String name, double value, String role) {
    Resource.Builder r = Resource.newBuilder()
        .setName(name)
        .setType(Value.Type.SCALAR)
        .setScalar(Value.Scalar.newBuilder().setValue(value));
    if (!"*".equals(role)) {
      r.setAllocationInfo(Resource.AllocationInfo.newBuilder().setRole(role));
    }
    return r.build();
  }

  @Override
  public void registered(SchedulerDriver driver, FrameworkID id, MasterInfo master) {
    System.out.println("registered as " + id.getValue() + " with master " + master.getId());
  }

  @Override
  public void reregistered(SchedulerDriver driver, MasterInfo master) {
    System.out.println("reregistered with master " + master.getId());
  }

  @Override
  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    for (Offer offer : offers) {
      double cpus = scalar(offer, "cpus");
      double mem = scalar(offer, "mem");
      List<TaskInfo> tasks = new ArrayList<TaskInfo>();
      while (launched < total && cpus >= 0.1 && mem >= 32) {
        String id = "task-" + launched++;
        tasks.add(TaskInfo.newBuilder()
            .setName(id)
            .setTaskId(TaskID.newBuilder().setValue(id))
            .setSlaveId(offer.getSlaveId())
            .addResources(scalarResource("cpus", 0.1, role(offer)))
            .addResources(scalarResource("mem", 32, role(offer)))
            .setCommand(CommandInfo.newBuilder().setValue(command))
            .build());
        cpus -= 0.1;
        mem -= 32;
      }
      if (tasks.isEmpty()) {
        driver.declineOffer(offer.getId());
      } else {
        driver.launchTasks(Collections.singletonList(offer.getId()), tasks);
      }
    }
  }

  @Override
  public void statusUpdate(SchedulerDriver driver, TaskStatus status) {
    System.out.println(status.getTaskId().getValue() + " " + status.getState()
        + (status.hasMessage() ? " (" + status.getMessage() + ")" : ""));
    switch (status.getState()) {
      case TASK_FINISHED:
        finished++;
        break;
      case TASK_FAILED:
      case TASK_KILLED:
      case TASK_LOST:
      case TASK_ERROR:
      case TASK_DROPPED:
      case TASK_GONE:
        failed++;
        break;
      default:
        return;
    }
    if (finished + failed == total) {
      driver.stop();
    }
  }

  @Override
  public void offerRescinded(SchedulerDriver driver, OfferID offerId) {}

  @Override
  public void frameworkMessage(SchedulerDriver driver, ExecutorID e, SlaveID s, byte[] data) {}

  @Override
  public void disconnected(SchedulerDriver driver) {
    System.out.println("disconnected from the master");
  }

  @Override
  public void slaveLost(SchedulerDriver driver, SlaveID slaveId) {}

  @Override
  public void executorLost(SchedulerDriver driver, ExecutorID e, SlaveID s, int status) {}

  @Override
  public void error(SchedulerDriver driver, String message) {
    System.out.println("error: " + message);
  }
}
