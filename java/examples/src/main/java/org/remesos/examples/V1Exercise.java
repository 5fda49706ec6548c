package org.remesos.examples;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.mesos.v1.Protos.AgentID;
import org.apache.mesos.v1.Protos.CommandInfo;
import org.apache.mesos.v1.Protos.FrameworkID;
import org.apache.mesos.v1.Protos.FrameworkInfo;
import org.apache.mesos.v1.Protos.Offer;
import org.apache.mesos.v1.Protos.Resource;
import org.apache.mesos.v1.Protos.TaskID;
import org.apache.mesos.v1.Protos.TaskInfo;
import org.apache.mesos.v1.Protos.TaskState;
import org.apache.mesos.v1.Protos.TaskStatus;
import org.apache.mesos.v1.Protos.Value;
import org.apache.mesos.v1.scheduler.Mesos;
import org.apache.mesos.v1.scheduler.Protos.Call;
import org.apache.mesos.v1.scheduler.Protos.Event;
import org.apache.mesos.v1.scheduler.Scheduler;
import org.apache.mesos.v1.scheduler.V0Mesos;
import org.apache.mesos.v1.scheduler.V1Mesos;

/**
 * Runs {@code count} command tasks to completion through {@code V1Mesos} (args: master v1
 * count [principal secret]) or {@code V0Mesos} (args: master v0 count), acknowledging every
 * update, then tears the framework down. Prints CONNECTED, SUBSCRIBED, UPDATE and FINISHED
 * lines for jni-driver/tests/v1_mesos.rs. With count 0 the master is expected to refuse the
 * credentials: REFUSED once the scheduler hears an ERROR event or a disconnection.
 */
public class V1Exercise implements Scheduler {
  private final boolean v0;
  private final int count;
  private final FrameworkInfo framework;
  private final CountDownLatch done = new CountDownLatch(1);
  private final CountDownLatch refused = new CountDownLatch(1);
  private final AtomicInteger launched = new AtomicInteger();
  private final AtomicInteger finished = new AtomicInteger();
  private volatile FrameworkID frameworkId;

  V1Exercise(boolean v0, int count, String principal) {
    this.v0 = v0;
    this.count = count;
    FrameworkInfo.Builder framework =
        FrameworkInfo.newBuilder()
            .setUser(System.getProperty("user.name"))
            .setName("v1-exercise-" + (v0 ? "v0" : "v1"));
    if (principal != null) {
      framework.setPrincipal(principal);
    }
    this.framework = framework.build();
  }

  public static void main(String[] args) throws Exception {
    String master = args[0];
    boolean v0 = args[1].equals("v0");
    int count = Integer.parseInt(args[2]);
    V1Exercise scheduler = new V1Exercise(v0, count, args.length > 4 ? args[3] : null);
    Mesos mesos;
    if (args.length > 4) {
      org.apache.mesos.v1.Protos.Credential credential =
          org.apache.mesos.v1.Protos.Credential.newBuilder()
              .setPrincipal(args[3])
              .setSecret(args[4])
              .build();
      mesos = new V1Mesos(scheduler, master, credential);
    } else {
      mesos =
          v0 ? new V0Mesos(scheduler, scheduler.framework, master) : new V1Mesos(scheduler, master);
    }
    if (count == 0) {
      boolean refused = scheduler.refused.await(60, TimeUnit.SECONDS);
      System.out.println(refused ? "REFUSED" : "NOT_REFUSED");
      System.out.flush();
      System.exit(refused ? 0 : 1);
    }
    boolean ok = scheduler.done.await(120, TimeUnit.SECONDS);
    Thread.sleep(500); // let TEARDOWN go out
    System.out.println(ok ? "FINISHED " + scheduler.finished.get() : "TIMED_OUT");
    // Finalized twice (as a racing finalizer could), then used: an exception, not a crash.
    java.lang.reflect.Method finalize = mesos.getClass().getDeclaredMethod("finalize");
    finalize.setAccessible(true);
    finalize.invoke(mesos);
    finalize.invoke(mesos);
    try {
      mesos.send(Call.newBuilder().setType(Call.Type.TEARDOWN).build());
      System.out.println("FINALIZED_SEND accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_SEND IllegalStateException");
    }
    System.out.flush();
    System.exit(ok ? 0 : 1);
  }

  @Override
  public void connected(Mesos mesos) {
    System.out.println("CONNECTED");
    // V0Mesos subscribes by itself; a SUBSCRIBE from the framework is ignored there.
    mesos.send(
        Call.newBuilder()
            .setType(Call.Type.SUBSCRIBE)
            .setSubscribe(Call.Subscribe.newBuilder().setFrameworkInfo(framework))
            .build());
  }

  @Override
  public void disconnected(Mesos mesos) {
    System.out.println("DISCONNECTED");
    refused.countDown();
  }

  @Override
  public void received(Mesos mesos, Event event) {
    switch (event.getType()) {
      case SUBSCRIBED:
        frameworkId = event.getSubscribed().getFrameworkId();
        System.out.println("SUBSCRIBED " + frameworkId.getValue());
        break;
      case OFFERS:
        for (Offer offer : event.getOffers().getOffersList()) {
          offer(mesos, offer);
        }
        break;
      case UPDATE:
        update(mesos, event.getUpdate().getStatus());
        break;
      case ERROR:
        System.out.println("ERROR " + event.getError().getMessage());
        refused.countDown();
        break;
      default:
        break;
    }
  }

  private static Resource scalar(String name, double value) {
    return Resource.newBuilder()
        .setName(name)
        .setType(Value.Type.SCALAR)
        .setScalar(Value.Scalar.newBuilder().setValue(value))
        .build();
  }

  private void offer(Mesos mesos, Offer offer) {
    Call.Builder call = Call.newBuilder().setFrameworkId(frameworkId);
    if (launched.get() >= count) {
      call.setType(Call.Type.DECLINE)
          .setDecline(Call.Decline.newBuilder().addOfferIds(offer.getId()));
      mesos.send(call.build());
      return;
    }
    Offer.Operation.Launch.Builder launch = Offer.Operation.Launch.newBuilder();
    // Two tasks per offer at most, so that several offers are used.
    for (int i = 0; i < 2 && launched.get() < count; i++) {
      int n = launched.incrementAndGet();
      launch.addTaskInfos(
          TaskInfo.newBuilder()
              .setName("task-" + n)
              .setTaskId(TaskID.newBuilder().setValue("task-" + n))
              .setAgentId(offer.getAgentId())
              .addResources(scalar("cpus", 0.1))
              .addResources(scalar("mem", 32))
              .setCommand(CommandInfo.newBuilder().setValue("echo v1 task " + n)));
    }
    call.setType(Call.Type.ACCEPT)
        .setAccept(
            Call.Accept.newBuilder()
                .addOfferIds(offer.getId())
                .addOperations(
                    Offer.Operation.newBuilder()
                        .setType(Offer.Operation.Type.LAUNCH)
                        .setLaunch(launch)));
    mesos.send(call.build());
  }

  private void update(Mesos mesos, TaskStatus status) {
    System.out.println("UPDATE " + status.getTaskId().getValue() + " " + status.getState());
    if (status.hasUuid()) {
      mesos.send(
          Call.newBuilder()
              .setFrameworkId(frameworkId)
              .setType(Call.Type.ACKNOWLEDGE)
              .setAcknowledge(
                  Call.Acknowledge.newBuilder()
                      .setAgentId(status.getAgentId())
                      .setTaskId(status.getTaskId())
                      .setUuid(status.getUuid()))
              .build());
    }
    if (status.getState() == TaskState.TASK_FINISHED && finished.incrementAndGet() == count) {
      mesos.send(Call.newBuilder().setFrameworkId(frameworkId).setType(Call.Type.TEARDOWN).build());
      done.countDown();
    }
  }
}
