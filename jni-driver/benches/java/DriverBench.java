import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.mesos.Protos.*;

/**
 * Benchmark of the JNI scheduler driver (run by jni-driver/benches/jni_driver.rs):
 *
 * 1. JNI_CALL: the cost of one native call into the driver — declineOffer(null, null),
 *    which crosses JNI, finds the driver, converts its (null) arguments and returns a
 *    Protos.Status; nothing is sent.
 * 2. ROUND_TRIPS: TASKS command tasks running `true`, launched as offers arrive; the time
 *    from the first launchTasks to the last TASK_FINISHED gives round trips per second.
 */
public class DriverBench implements Scheduler {
  private final int total;
  private int launched = 0;
  private int finished = 0;
  private long firstLaunch = 0;

  DriverBench(int total) {
    this.total = total;
  }

  public static void main(String[] args) throws Exception {
    String master = args[0];
    int tasks = Integer.parseInt(args[1]);
    FrameworkInfo framework = FrameworkInfo.newBuilder().setUser("").setName("DriverBench").build();
    DriverBench bench = new DriverBench(tasks);
    MesosSchedulerDriver driver = new MesosSchedulerDriver(bench, framework, master);

    // Warm up, then time native calls (the driver has not started: nothing is sent).
    int calls = 200000;
    for (int i = 0; i < calls; i++) {
      driver.declineOffer(null, null);
    }
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      driver.declineOffer(null, null);
    }
    long elapsed = System.nanoTime() - start;
    System.out.println("JNI_CALL_NS " + (elapsed / (double) calls));

    Status status = driver.run();
    System.out.println("DRIVER_ENDED " + status);
  }

  static Resource scalar(String name, double value, String role) {
    Resource.Builder r = Resource.newBuilder().setName(name).setType(Value.Type.SCALAR)
        .setScalar(Value.Scalar.newBuilder().setValue(value));
    if (!"*".equals(role)) {
      r.setAllocationInfo(Resource.AllocationInfo.newBuilder().setRole(role));
    }
    return r.build();
  }

  static double amount(Offer offer, String name) {
    double total = 0;
    for (Resource r : offer.getResourcesList()) {
      if (r.getName().equals(name)) {
        total += r.getScalar().getValue();
      }
    }
    return total;
  }

  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    for (Offer offer : offers) {
      String role = offer.hasAllocationInfo() ? offer.getAllocationInfo().getRole() : "*";
      double cpus = amount(offer, "cpus");
      double mem = amount(offer, "mem");
      List<TaskInfo> tasks = new ArrayList<TaskInfo>();
      while (launched < total && cpus >= 0.1 && mem >= 16) {
        String id = "t" + launched++;
        tasks.add(TaskInfo.newBuilder().setName(id).setTaskId(TaskID.newBuilder().setValue(id))
            .setSlaveId(offer.getSlaveId())
            .addResources(scalar("cpus", 0.1, role)).addResources(scalar("mem", 16, role))
            .setCommand(CommandInfo.newBuilder().setValue("true")).build());
        cpus -= 0.1;
        mem -= 16;
      }
      if (firstLaunch == 0 && !tasks.isEmpty()) {
        firstLaunch = System.nanoTime();
      }
      driver.launchTasks(Collections.singletonList(offer.getId()), tasks,
          Filters.newBuilder().setRefuseSeconds(0).build());
    }
  }

  public void statusUpdate(SchedulerDriver driver, TaskStatus status) {
    if (status.getState() == TaskState.TASK_FINISHED) {
      finished++;
      if (finished == total) {
        double seconds = (System.nanoTime() - firstLaunch) / 1e9;
        System.out.println("ROUND_TRIPS " + total + " " + seconds + " " + (total / seconds));
        driver.stop();
      }
    } else if (status.getState() != TaskState.TASK_STARTING && status.getState() != TaskState.TASK_RUNNING) {
      System.out.println("UNEXPECTED " + status.getTaskId().getValue() + " " + status.getState()
          + " " + status.getMessage());
      driver.abort();
    }
  }

  public void registered(SchedulerDriver d, FrameworkID id, MasterInfo m) {}
  public void reregistered(SchedulerDriver d, MasterInfo m) {}
  public void offerRescinded(SchedulerDriver d, OfferID id) {}
  public void frameworkMessage(SchedulerDriver d, ExecutorID e, SlaveID s, byte[] data) {}
  public void disconnected(SchedulerDriver d) {}
  public void slaveLost(SchedulerDriver d, SlaveID s) {}
  public void executorLost(SchedulerDriver d, ExecutorID e, SlaveID s, int status) {}
  public void error(SchedulerDriver d, String message) {
    System.out.println("ERROR " + message);
  }
}
