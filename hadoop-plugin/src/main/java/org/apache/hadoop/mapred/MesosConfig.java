package org.apache.hadoop.mapred;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import org.apache.mesos.Protos.Credential;
import org.apache.mesos.Protos.FrameworkInfo;

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
  // The framework keys of the old plugin's roll_back branch (MesosScheduler.start there).
  static final String FRAMEWORK_USER = "mapred.mesos.framework.user";
  static final String FRAMEWORK_PRINCIPAL = "mapred.mesos.framework.principal";
  static final String FRAMEWORK_SECRETFILE = "mapred.mesos.framework.secretfile";
  /** Base of the exponential backoff after a TaskTracker launch failed (seconds). */
  static final String FAILURE_BACKOFF = "mapred.mesos.tracker.failure.backoff.seconds";
  /** Cap of that backoff (seconds). */
  static final String FAILURE_BACKOFF_MAX = "mapred.mesos.tracker.failure.backoff.max.seconds";
  /** Consecutive failed launches after which the waiting jobs fail; 0: never. */
  static final String FAILURE_MAX = "mapred.mesos.tracker.failure.max";

  /**
   * Keys of the old mesos/hadoop plugin (its configuration.md, master and roll_back branches)
   * that this MesosScheduler does not implement: Docker/container images for the TaskTracker,
   * its Codahale metrics reporters, and the state file it wrote for operators. Each one set
   * is logged once at WARN by {@link #warnings}, never silently dropped.
   */
  static final String[] IGNORED_PREFIXES = {
    "mapred.mesos.docker.", "mapred.mesos.container.", "mapred.mesos.metrics."
  };
  static final String[] IGNORED_KEYS = {"mapred.mesos.state.file"};

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
  /** FrameworkInfo.user; empty: the driver fills in the current user (as the old plugin). */
  final String frameworkUser;
  /** FrameworkInfo.principal, or null. */
  final String frameworkPrincipal;
  /**
   * The file holding the framework's secret, or null. With a principal, {@link #credential}
   * reads it into the Credential the driver authenticates with; without one it is ignored (as
   * the old plugin did) and warned about.
   */
  final String frameworkSecretFile;
  /** First backoff after a failed TaskTracker launch; doubles per consecutive failure. */
  final double failureBackoffSecs;
  final double failureBackoffMaxSecs;
  /** Consecutive failed launches that fail the waiting jobs; 0 disables. */
  final int failureMax;

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
    frameworkUser = conf.get(FRAMEWORK_USER, "").trim();
    frameworkPrincipal = emptyToNull(conf.get(FRAMEWORK_PRINCIPAL));
    frameworkSecretFile = emptyToNull(conf.get(FRAMEWORK_SECRETFILE));
    failureBackoffSecs = conf.getFloat(FAILURE_BACKOFF, 5f);
    failureBackoffMaxSecs = conf.getFloat(FAILURE_BACKOFF_MAX, 300f);
    failureMax = conf.getInt(FAILURE_MAX, 5);
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
    if (!(failureBackoffSecs >= 0) || failureBackoffMaxSecs < failureBackoffSecs || failureMax < 0) {
      throw new IllegalArgumentException(
          FAILURE_BACKOFF + " must not be negative, " + FAILURE_BACKOFF_MAX + " not below it, "
              + FAILURE_MAX + " not negative");
    }
  }

  /**
   * The FrameworkInfo the JobTracker registers with: name, user and principal as the old
   * plugin's roll_back branch set them (MesosScheduler.start: mapred.mesos.framework.*).
   */
  FrameworkInfo frameworkInfo(String defaultName) {
    FrameworkInfo.Builder b = FrameworkInfo.newBuilder()
        .setUser(frameworkUser) // empty: the driver fills in the current user
        .setName(frameworkName.isEmpty() ? defaultName : frameworkName)
        .setRole(role)
        .setCheckpoint(checkpoint);
    if (frameworkPrincipal != null) {
      b.setPrincipal(frameworkPrincipal);
    }
    return b.build();
  }

  /**
   * The Credential the driver authenticates with, as the old plugin's roll_back branch built
   * it (MesosScheduler.start): only when both the principal and the secret file are set, the
   * secret being the file's content. Unlike the old plugin, one trailing line break is dropped
   * (its documentation warned that editors add one, which then failed authentication).
   *
   * @return null when no credential is configured
   * @throws IOException naming the key when the secret file cannot be read
   */
  Credential credential() throws IOException {
    if (frameworkPrincipal == null || frameworkSecretFile == null) {
      return null;
    }
    String secret;
    try {
      secret = new String(Files.readAllBytes(Paths.get(frameworkSecretFile)), StandardCharsets.UTF_8);
    } catch (IOException | InvalidPathException e) {
      throw new IOException(FRAMEWORK_SECRETFILE + ": cannot read " + frameworkSecretFile + ": "
          + e.getMessage(), e);
    }
    if (secret.endsWith("\n")) {
      secret = secret.substring(0, secret.length() - (secret.endsWith("\r\n") ? 2 : 1));
    }
    return Credential.newBuilder().setPrincipal(frameworkPrincipal).setSecret(secret).build();
  }

  /**
   * What MesosScheduler logs at WARN when it starts: one line per key of the old plugin it
   * ignores (present in the configuration), and a secret file set without a principal.
   */
  static List<String> warnings(Configuration conf) {
    TreeSet<String> ignored = new TreeSet<String>();
    for (Map.Entry<String, String> e : conf) {
      String key = e.getKey();
      for (String prefix : IGNORED_PREFIXES) {
        if (key.startsWith(prefix)) {
          ignored.add(key);
        }
      }
      for (String k : IGNORED_KEYS) {
        if (key.equals(k)) {
          ignored.add(key);
        }
      }
    }
    List<String> out = new ArrayList<String>();
    for (String key : ignored) {
      out.add(key + " (a key of the old mesos/hadoop plugin) is not implemented by this "
          + "MesosScheduler: ignored");
    }
    if (emptyToNull(conf.get(FRAMEWORK_SECRETFILE)) != null
        && emptyToNull(conf.get(FRAMEWORK_PRINCIPAL)) == null) {
      out.add(FRAMEWORK_SECRETFILE + " is set without " + FRAMEWORK_PRINCIPAL + ", so the "
          + "framework registers without a credential (a master that requires authentication "
          + "refuses it): ignored");
    }
    return out;
  }

  /**
   * The shell that enters the Hadoop directory before the executor command runs.
   *
   * <p>A configured {@code mapred.mesos.executor.directory} is entered as is. Otherwise the
   * directory comes from the URI's file name, two ways: the name without its archive suffix
   * ({@code hadoop-1.2.1.tar.gz} holding {@code hadoop-1.2.1/}), else, as the old plugin did
   * (mesos/hadoop ResourcePolicy: the name up to its first dot, then {@code *}, as a shell
   * glob), the first directory matching that glob ({@code hadoop.tar.gz} holding
   * {@code hadoop-1.2.1/}). When neither exists the executor fails saying what it looked for.
   */
  String enterDirectoryCommand() {
    if (executorDirectory != null) {
      return "cd " + shellQuote(executorDirectory);
    }
    String name = executorUri.substring(executorUri.lastIndexOf('/') + 1);
    int q = name.indexOf('?');
    if (q >= 0) {
      name = name.substring(0, q);
    }
    String exact = name;
    for (String suffix : new String[] {".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip"}) {
      if (name.endsWith(suffix)) {
        exact = name.substring(0, name.length() - suffix.length());
        break;
      }
    }
    int dot = name.indexOf('.');
    String prefix = dot >= 0 ? name.substring(0, dot) : name;
    String missing = "MesosScheduler: the sandbox holds no Hadoop directory " + exact
        + " nor one matching " + prefix + "* (the top directory of the archive that "
        + EXECUTOR_URI + " names)";
    return "d=; for c in " + shellQuote(exact) + " " + shellQuote(prefix) + "*; do "
        + "if [ -d \"$c\" ]; then d=$c; break; fi; done; "
        + "if [ -z \"$d\" ]; then echo " + shellQuote(missing) + " >&2; exit 1; fi; "
        + "cd \"$d\"";
  }

  static String shellQuote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** Heap of the TaskTracker JVM: the executor's memory less JVM overhead (as the original). */
  int trackerHeapMb() {
    return (int) Math.max(64, ttMem / 1.25);
  }

  private static String emptyToNull(String s) {
    return s == null || s.trim().isEmpty() ? null : s.trim();
  }
}
