package org.remesos.examples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.Protos.*;

/**
 * Launches one command task in each of Mesos's container types and stops once both ended:
 * {@code docker} — a DOCKER container of DOCKER_IMAGE (the docker containerizer), and
 * {@code mesos} — a MESOS container with a docker image MESOS_IMAGE (the mesos containerizer
 * provisions it from its {@code --docker_registry}). Both run COMMAND (0.1 cpu, 32 MB).
 *
 * <pre>java -cp mesos.jar:examples.jar org.remesos.examples.ContainerScheduler MASTER DOCKER_IMAGE MESOS_IMAGE COMMAND</pre>
 *
 * <p>Prints every status update and, at the end, the driver's status; exits 0 when both
 * tasks finished.
 */
public class ContainerScheduler implements Scheduler {
  private final List<TaskInfo.Builder> pending = new ArrayList<TaskInfo.Builder>();
  private final int total;
  private int finished = 0;
  private int failed = 0;

  ContainerScheduler(String dockerImage, String mesosImage, String command) {
    ContainerInfo docker = ContainerInfo.newBuilder()
        .setType(ContainerInfo.Type.DOCKER)
        .setDocker(ContainerInfo.DockerInfo.newBuilder().setImage(dockerImage))
        .build();
    ContainerInfo mesos = ContainerInfo.newBuilder()
        .setType(ContainerInfo.Type.MESOS)
        .setMesos(ContainerInfo.MesosInfo.newBuilder()
            .setImage(Image.newBuilder()
                .setType(Image.Type.DOCKER)
                .setDocker(Image.Docker.newBuilder().setName(mesosImage))))
        .build();
    pending.add(task("docker", docker, command));
    pending.add(task("mesos", mesos, command));
    total = pending.size();
  }

  static TaskInfo.Builder task(String id, ContainerInfo container, String command) {
    return TaskInfo.newBuilder()
        .setName(id)
        .setTaskId(TaskID.newBuilder().setValue(id))
        .setContainer(container)
        .setCommand(CommandInfo.newBuilder().setValue(command));
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: ContainerScheduler MASTER DOCKER_IMAGE MESOS_IMAGE COMMAND");
      System.exit(2);
    }
    FrameworkInfo framework = FrameworkInfo.newBuilder()
        .setUser("")
        .setName("remesos ContainerScheduler (Java)")
        .build();
    ContainerScheduler scheduler = new ContainerScheduler(args[1], args[2], args[3]);
    MesosSchedulerDriver driver = new MesosSchedulerDriver(scheduler, framework, args[0]);
    Status status = driver.run();
    System.out.println("driver ended: " + status + ", finished " + scheduler.finished + "/"
        + scheduler.total);
    System.exit(status == Status.DRIVER_STOPPED && scheduler.failed == 0 ? 0 : 1);
  }

  @Override
  public void registered(SchedulerDriver driver, FrameworkID id, MasterInfo master) {
    System.out.println("registered as " + id.getValue());
  }

  @Override
  public void reregistered(SchedulerDriver driver, MasterInfo master) {}

  @Override
  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    for (Offer offer : offers) {
      double cpus = CommandScheduler.scalar(offer, "cpus");
      double mem = CommandScheduler.scalar(offer, "mem");
      String role = CommandScheduler.role(offer);
      List<TaskInfo> tasks = new ArrayList<TaskInfo>();
      while (!pending.isEmpty() && cpus >= 0.1 && mem >= 32) {
        tasks.add(pending.remove(0)
            .setSlaveId(offer.getSlaveId())
            .addResources(CommandScheduler.scalarResource("cpus", 0.1, role))
            .addResources(CommandScheduler.scalarResource("mem", 32, role))
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
  public void disconnected(SchedulerDriver driver) {}

  @Override
  public void slaveLost(SchedulerDriver driver, SlaveID slaveId) {}

  @Override
  public void executorLost(SchedulerDriver driver, ExecutorID e, SlaveID s, int status) {}

  @Override
  public void error(SchedulerDriver driver, String message) {
    System.out.println("error: " + message);
  }
}
