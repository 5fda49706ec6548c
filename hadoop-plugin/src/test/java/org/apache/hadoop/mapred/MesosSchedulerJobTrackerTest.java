package org.apache.hadoop.mapred;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapred.lib.LongSumReducer;
import org.apache.hadoop.mapred.lib.TokenCountMapper;
import org.apache.mesos.Protos.Credential;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.TaskState;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.junit.After;
import org.junit.Test;

/**
 * A real Hadoop 1.2.1 JobTracker in this JVM with mapred.jobtracker.taskScheduler =
 * MesosScheduler, against {@link InProcessMesos}: MesosScheduler launches a real TaskTracker
 * (through MesosExecutor) from an offer, a token-count job over generated files runs on it in
 * real child JVMs and its output matches a count made here; afterwards the idle tracker is
 * killed and stopping the JobTracker stops the driver (framework teardown).
 */
public class MesosSchedulerJobTrackerTest {
  private JobTracker jobTracker;
  private Thread service;
  private InProcessMesos mesos;

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @After
  public void tearDown() throws Exception {
    if (jobTracker != null) {
      jobTracker.stopTracker();
    }
    if (service != null) {
      service.interrupt();
    }
  }

  @Test(timeout = 300_000)
  public void aJobRunsOnATaskTrackerLaunchedFromAnOffer() throws Exception {
    File work = new File("target/jt-test-" + System.nanoTime()).getAbsoluteFile();
    assertTrue(work.mkdirs());
    System.setProperty("hadoop.log.dir", new File(work, "logs").getPath());

    JobConf conf = new JobConf();
    conf.set("fs.default.name", "file:///");
    conf.set("hadoop.tmp.dir", new File(work, "tmp").getPath());
    conf.set("mapred.job.tracker", "127.0.0.1:" + freePort());
    conf.set("mapred.job.tracker.http.address", "127.0.0.1:0");
    conf.set("mapred.jobtracker.taskScheduler", MesosScheduler.class.getName());
    conf.set("mapred.mesos.master", "in-process");
    conf.set("mapred.mesos.executor.directory", work.getPath());
    conf.set("mapred.mesos.slot.cpus", "1");
    conf.set("mapred.mesos.slot.mem", "256");
    conf.set("mapred.mesos.slot.disk", "0");
    conf.set("mapred.mesos.tasktracker.cpus", "1");
    conf.set("mapred.mesos.tasktracker.mem", "256");
    conf.set("mapred.mesos.tasktracker.disk", "0");
    conf.set("mapred.tasktracker.map.tasks.maximum", "2");
    conf.set("mapred.tasktracker.reduce.tasks.maximum", "1");
    conf.set("mapred.mesos.tracker.idle.interval", "1");
    conf.set("mapred.mesos.tracker.idle.checks", "2");
    conf.set("mapred.mesos.offer.refuse.seconds", "2");

    MesosScheduler.driverFactory = new MesosScheduler.DriverFactory() {
      @Override
      public SchedulerDriver create(
          Scheduler scheduler, FrameworkInfo framework, String master, Credential credential) {
        assertEquals("no credential is configured", null, credential);
        assertEquals("in-process", master);
        assertTrue(framework.getName(), framework.getName().startsWith("Hadoop: (RPC port: "));
        // 4 cpus: room for one tracker with 3 slots and not for a second one. A first
        // tracker sized while the JobTracker was still initializing the job used to get map
        // slots only (the reduce list did not exist yet); holding the map outputs it was
        // never idle, and the reduce waited forever (a 300 s timeout in CI). The job's
        // declared tasks now count until it is initialized.
        mesos = new InProcessMesos(scheduler, 4, 4096);
        return mesos;
      }
    };
    jobTracker = JobTracker.startTracker(conf);
    service = new Thread(new Runnable() {
      @Override
      public void run() {
        try {
          jobTracker.offerService();
        } catch (Exception e) {
          // stopTracker() ends it
        }
      }
    }, "JobTracker offerService");
    service.setDaemon(true);
    service.start();
    long deadline = System.currentTimeMillis() + 30_000;
    while (mesos == null && System.currentTimeMillis() < deadline) {
      Thread.sleep(100);
    }
    assertNotNull("MesosScheduler.start() created no driver", mesos);
    // No work: nothing is launched.
    Thread.sleep(1500);
    assertEquals(0, mesos.runningTasks());

    // Input: 3 files, an independent count.
    File input = new File(work, "input");
    assertTrue(input.mkdirs());
    Map<String, Long> expected = new TreeMap<String, Long>();
    Random random = new Random(3);
    for (int f = 0; f < 3; f++) {
      Writer out = new FileWriter(new File(input, "part-" + f));
      for (int line = 0; line < 4000; line++) {
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < 8; w++) {
          String word = "w" + Math.min(random.nextInt(3000), random.nextInt(3000));
          expected.put(word, expected.containsKey(word) ? expected.get(word) + 1 : 1L);
          sb.append(word).append(w == 7 ? "\n" : " ");
        }
        out.write(sb.toString());
      }
      out.close();
    }

    JobConf job = new JobConf(conf);
    job.setJobName("token count");
    job.setMapperClass(TokenCountMapper.class);
    job.setCombinerClass(LongSumReducer.class);
    job.setReducerClass(LongSumReducer.class);
    job.setOutputKeyClass(Text.class);
    job.setOutputValueClass(LongWritable.class);
    job.setNumReduceTasks(1);
    File output = new File(work, "output");
    FileInputFormat.setInputPaths(job, new Path(input.getPath()));
    FileOutputFormat.setOutputPath(job, new Path(output.getPath()));
    RunningJob running = JobClient.runJob(job);
    assertTrue(running.isSuccessful());
    assertTrue(mesos.errors.toString(), mesos.errors.isEmpty());

    Map<String, Long> got = new HashMap<String, Long>();
    for (File part : FileUtil.listFiles(output)) {
      if (!part.getName().startsWith("part-")) {
        continue;
      }
      BufferedReader in = new BufferedReader(new FileReader(part));
      for (String line; (line = in.readLine()) != null; ) {
        String[] kv = line.split("\t");
        got.put(kv[0], Long.parseLong(kv[1]));
      }
      in.close();
    }
    assertEquals(expected, new TreeMap<String, Long>(got));

    boolean sawRunning = false;
    for (TaskStatus s : mesos.statuses) {
      sawRunning |= s.getState() == TaskState.TASK_RUNNING;
    }
    assertTrue("a TaskTracker task went RUNNING: " + mesos.statuses, sawRunning);

    // Idle (1 s × 2 checks) after the job: killed, and it reports KILLED.
    deadline = System.currentTimeMillis() + 60_000;
    while (mesos.runningTasks() > 0 && System.currentTimeMillis() < deadline) {
      Thread.sleep(200);
    }
    assertEquals("idle trackers killed", 0, mesos.runningTasks());
    assertFalse(mesos.kills.isEmpty());
    assertEquals(TaskState.TASK_KILLED, mesos.statuses.get(mesos.statuses.size() - 1).getState());

    // The JobTracker stops: the driver is stopped without failover (teardown).
    jobTracker.stopTracker();
    jobTracker = null;
    assertEquals(Boolean.FALSE, mesos.stoppedWithFailover);
  }
}
