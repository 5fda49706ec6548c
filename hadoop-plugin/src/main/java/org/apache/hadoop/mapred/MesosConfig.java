package org.apache.hadoop.mapred;

import org.apache.hadoop.conf.Configuration;

/**
 * The {@code mapred.mesos.*} keys MesosScheduler reads, with their defaults. The names are the
 * ones hadoop-mesos users already have in their mapred-site.xml; the defaults differ where the
 * old ones break on Java 9+ (the TaskTracker JVM options) or waste time (the refuse interval).
 *
 * <p>Immutable: read once from the JobTracker's configuration in {@link MesosScheduler#start}.
 */
final class MesosConfig {
  static final String MASTER = "mapred.mesos.master";
  static final String TASK_SCHEDULER = "mapred.mesos.taskScheduler";
  static final String EXECUTOR_URI = "mapred.mesos.executor.uri";
  static final String EXECUTOR_DIRECTORY = "mapred.mesos.executor.directory";
  static final String EXECUTOR_COMMAND = "mapred.mesos.executor.command";
  static final String EXECUTOR_JVM_OPTS = "mapred.mesos.executor.jvm.opts";
  static final String SLOT_CPUS = "mapred.mesos.slot.cpus";
  static final String SLOT_MEM = "mapred.mesos.slot.mem";
  static final String SLOT_DISK = "mapred.mesos.slot.disk";
  static final String TT_CPUS = "mapred.mesos.tasktracker.cpus";
  static final String TT_MEM = "mapred.mesos.tasktracker.mem";
  static final String TT_DISK = "mapred.mesos.tasktracker.disk";
  static final String MAP_SLOTS_MAX = "mapred.tasktracker.map.tasks.maximum";
  static final String REDUCE_SLOTS_MAX = "mapred.tasktracker.reduce.tasks.maximum";
  static final String POLICY_FIXED = "mapred.mesos.scheduler.policy.fixed";
  static final String MIN_MAP_SLOTS = "mapred.mesos.total.map.slots.minimum";
  static final String MIN_REDUCE_SLOTS = "mapred.mesos.total.reduce.slots.minimum";
  static final String ROLE = "mapred.mesos.role";
  static final String ROLE_STRICT = "mapred.mesos.role.strict";
  static final String CHECKPOINT = "mapred.mesos.checkpoint";
  static final String IDLE_INTERVAL = "mapred.mesos.tracker.idle.interval";
  static final String IDLE_CHECKS = "mapred.mesos.tracker.idle.checks";
  static final String LAUNCH_TIMEOUT = "mapred.mesos.tracker.launch.timeout";
  static final String REFUSE_SECONDS = "mapred.mesos.offer.refuse.seconds";
  static final String FRAMEWORK_NAME = "mapred.mesos.framework.name";

  /** Runs the executor class through the installation's own launcher script. */
  static final String DEFAULT_COMMAND = "./bin/hadoop org.apache.hadoop.mapred.MesosExecutor";
  /**
   * Accepted by every JVM from 6 to 21. The old plugin's default (-XX:+UseParNewGC and friends)
   * stops a JDK 10+ from starting at all (reference/hadoop.md §4).
   */
  static final String DEFAULT_JVM_OPTS = "-XX:+UseParallelGC";

  final String master;
  final String taskScheduler;
  final String executorUri;
  final String executorDirectory;
  final String executorCommand;
  final String executorJvmOpts;
  final double slotCpus;
  final double slotMem;
  final double slotDisk;
  final double ttCpus;
  final double ttMem;
  final double ttDisk;
  /** Upper bound of map slots per launched TaskTracker (the exact count when fixed). */
  final int mapSlotsMax;
  final int reduceSlotsMax;
  final boolean fixedPolicy;
  /** Slots kept running even with no demand: the warm (or, with fixed, the static) pool. */
  final int minMapSlots;
  final int minReduceSlots;
  final String role;
  final boolean roleStrict;
  final boolean checkpoint;
  /** Seconds between idle checks; 0 disables killing idle trackers. */
  final int idleIntervalSecs;
  /** Consecutive idle checks before an idle tracker is killed. */
  final int idleChecks;
  /** Seconds a launched tracker may take to send its first heartbeat before it is killed. */
  final int launchTimeoutSecs;
  /** Refuse interval given with every declined offer. */
  final double refuseSeconds;
  /** Empty: "Hadoop: (RPC port: <port>, WebUI port: <port>)", as the original plugin. */
  final String frameworkName;

  MesosConfig(Configuration conf) {
    master = conf.get(MASTER, "local");
    taskScheduler = conf.get(TASK_SCHEDULER, JobQueueTaskScheduler.class.getName());
    executorUri = emptyToNull(conf.get(EXECUTOR_URI));
    executorDirectory = emptyToNull(conf.get(EXECUTOR_DIRECTORY));
    executorCommand = conf.get(EXECUTOR_COMMAND, DEFAULT_COMMAND);
    executorJvmOpts = conf.get(EXECUTOR_JVM_OPTS, DEFAULT_JVM_OPTS);
    slotCpus = conf.getFloat(SLOT_CPUS, 1f);
    slotMem = conf.getInt(SLOT_MEM, 1024);
    slotDisk = conf.getInt(SLOT_DISK, 1024);
    ttCpus = conf.getFloat(TT_CPUS, 1f);
    ttMem = conf.getInt(TT_MEM, 1024);
    ttDisk = conf.getInt(TT_DISK, 1024);
    mapSlotsMax = conf.getInt(MAP_SLOTS_MAX, 2);
    reduceSlotsMax = conf.getInt(REDUCE_SLOTS_MAX, 2);
    fixedPolicy = conf.getBoolean(POLICY_FIXED, false);
    minMapSlots = conf.getInt(MIN_MAP_SLOTS, 0);
    minReduceSlots = conf.getInt(MIN_REDUCE_SLOTS, 0);
    role = conf.get(ROLE, "*");
    roleStrict = conf.getBoolean(ROLE_STRICT, false);
    checkpoint = conf.getBoolean(CHECKPOINT, false);
    idleIntervalSecs = conf.getInt(IDLE_INTERVAL, 5);
    idleChecks = Math.max(1, conf.getInt(IDLE_CHECKS, 5));
    launchTimeoutSecs = conf.getInt(LAUNCH_TIMEOUT, 300);
    refuseSeconds = conf.getFloat(REFUSE_SECONDS, 30f);
    frameworkName = conf.get(FRAMEWORK_NAME, "");
  }

  /** Throws with the key's name when the configuration cannot launch anything. */
  void validate() {
    if (executorUri == null && executorDirectory == null) {
      throw new IllegalArgumentException(
          "set " + EXECUTOR_URI + " (a Hadoop tarball the agent fetches) or "
              + EXECUTOR_DIRECTORY + " (a Hadoop installation present on every agent)");
    }
    if (slotCpus <= 0 || slotMem <= 0 || slotDisk < 0) {
      throw new IllegalArgumentException(
          SLOT_CPUS + " and " + SLOT_MEM + " must be positive, " + SLOT_DISK + " not negative");
    }
    if (mapSlotsMax < 0 || reduceSlotsMax < 0 || mapSlotsMax + reduceSlotsMax == 0) {
      throw new IllegalArgumentException(
          MAP_SLOTS_MAX + " + " + REDUCE_SLOTS_MAX + " must allow at least one slot");
    }
  }

  /** The directory the executor command runs in: configured, or derived from the URI's name. */
  String executorDirectoryOrDerived() {
    if (executorDirectory != null) {
      return executorDirectory;
    }
    // hadoop-1.2.1.tar.gz extracts to hadoop-1.2.1/: strip the archive suffixes.
    String name = executorUri.substring(executorUri.lastIndexOf('/') + 1);
    for (String suffix : new String[] {".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"}) {
      if (name.endsWith(suffix)) {
        return name.substring(0, name.length() - suffix.length());
      }
    }
    return name;
  }

  /** Heap of the TaskTracker JVM: the executor's memory less JVM overhead (as the original). */
  int trackerHeapMb() {
    return (int) Math.max(64, ttMem / 1.25);
  }

  private static String emptyToNull(String s) {
    return s == null || s.trim().isEmpty() ? null : s.trim();
  }
}
