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
 * 3. SERIAL: then SERIAL more such tasks one at a time, each on an offer held since the burst
 *    (so no offer wait is in it): the time from launchTasks to its TASK_FINISHED, in ms.
 *    jni_driver.rs runs the same three phases with the Rust v1 client on the same cluster.
 */
public class DriverBench implements Scheduler {
  private final int total;
  private final int serial;
  private int launched = 0;
  private int finished = 0;
  private long firstLaunch = 0;
  // The one-at-a-time phase: offers held since the burst, the task in flight and when it
  // was launched, and the round trips measured so far.
  private final List<Offer> held = new ArrayList<Offer>();
  private String current = null;
  private long currentAt = 0;
  private final List<Double> serialMs = new ArrayList<Double>();

  DriverBench(int total, int serial) {
    this.total = total;
    this.serial = serial;
  }

  public static void main(String[] args) throws Exception {
    String master = args[0];
    int tasks = Integer.parseInt(args[1]);
    int serial = Integer.parseInt(args[2]);
    FrameworkInfo framework = FrameworkInfo.newBuilder().setUser("").setName("DriverBench").build();
    DriverBench bench = new DriverBench(tasks, serial);
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

  static TaskInfo trueTask(String id, Offer offer, String role) {
    return TaskInfo.newBuilder().setName(id).setTaskId(TaskID.newBuilder().setValue(id))
        .setSlaveId(offer.getSlaveId())
        .addResources(scalar("cpus", 0.1, role)).addResources(scalar("mem", 16, role))
        .setCommand(CommandInfo.newBuilder().setValue("true")).build();
  }

  static String role(Offer offer) {
    return offer.hasAllocationInfo() ? offer.getAllocationInfo().getRole() : "*";
  }

  /** Launches the next one-at-a-time task on a held offer (or when the next offer comes). */
  private void launchOne(SchedulerDriver driver) {
    if (current != null || held.isEmpty()) {
      return;
    }
    Offer offer = held.remove(held.size() - 1);
    current = "s" + serialMs.size();
    currentAt = System.nanoTime();
    driver.launchTasks(Collections.singletonList(offer.getId()),
        Collections.singletonList(trueTask(current, offer, role(offer))),
        Filters.newBuilder().setRefuseSeconds(0).build());
  }

  public void resourceOffers(SchedulerDriver driver, List<Offer> offers) {
    for (Offer offer : offers) {
      if (launched == total) {
        held.add(offer);
        continue;
      }
      String role = role(offer);
      double cpus = amount(offer, "cpus");
      double mem = amount(offer, "mem");
      List<TaskInfo> tasks = new ArrayList<TaskInfo>();
      while (launched < total && cpus >= 0.1 && mem >= 16) {
        tasks.add(trueTask("t" + launched++, offer, role));
        cpus -= 0.1;
        mem -= 16;
      }
      if (firstLaunch == 0 && !tasks.isEmpty()) {
        firstLaunch = System.nanoTime();
      }
      driver.launchTasks(Collections.singletonList(offer.getId()), tasks,
          Filters.newBuilder().setRefuseSeconds(0).build());
    }
    if (finished == total) {
      launchOne(driver);
    }
  }

  public void statusUpdate(SchedulerDriver driver, TaskStatus status) {
    if (status.getState() == TaskState.TASK_FINISHED && status.getTaskId().getValue().equals(current)) {
      serialMs.add((System.nanoTime() - currentAt) / 1e6);
      current = null;
      if (serialMs.size() == serial) {
        StringBuilder line = new StringBuilder("SERIAL_MS");
        for (double ms : serialMs) {
          line.append(' ').append(ms);
        }
        System.out.println(line);
        driver.stop();
      } else {
        launchOne(driver);
      }
    } else if (status.getState() == TaskState.TASK_FINISHED) {
      finished++;
      if (finished == total) {
        double seconds = (System.nanoTime() - firstLaunch) / 1e9;
        System.out.println("ROUND_TRIPS " + total + " " + seconds + " " + (total / seconds));
        if (serial == 0) {
          driver.stop();
        } else {
          launchOne(driver);
        }
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
