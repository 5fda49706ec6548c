package dev.remesos.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkException;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.scheduler.ExecutorProcessLost;
import org.apache.spark.scheduler.TaskSchedulerImpl;
import org.apache.spark.scheduler.cluster.CoarseGrainedSchedulerBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import scala.Option;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Coarse-grained Spark 4 executors as Mesos tasks: one Mesos command task per Spark executor,
 * running {@code bin/spark-class org.apache.spark.executor.CoarseGrainedExecutorBackend}, as
 * Spark 3.5's Mesos backend did (its behaviour is the reference; this code is new).
 *
 * <p>Threads: Mesos callbacks arrive on the driver's callback thread; Spark calls
 * {@link #doRequestTotalExecutors}, {@link #doKillExecutors} and {@link #stop} from its own
 * threads. Everything they share is guarded by {@code lock}, which is never held while
 * calling into Spark's scheduler (the driver calls are non-blocking enqueues).
 *
 * <p>No exception leaves a Mesos callback: Apache's driver (and remesos's) aborts when a
 * callback throws, after which no update is delivered and {@link #stop} could only wait out
 * its shutdown timeout. Every callback that calls into Spark or the driver catches, logs and
 * carries on ({@link #guarded}; the others only log); and,
 * as Spark 3.5's backend does (MesosCoarseGrainedSchedulerBackend.executorTerminated: "Do not
 * call removeExecutor() after this scheduler backend was stopped"), updates that arrive
 * after {@link #stop} began only release the executor here: Spark's driver endpoint, which
 * {@code removeExecutor} messages, is gone by then ("Could not find CoarseGrainedScheduler").
 *
 * <p>Keys read (same names and defaults as Spark 3.5): spark.cores.max, spark.executor.cores,
 * spark.executor.memory, spark.mesos.executor.memoryOverhead,
 * spark.executor.memoryOverheadFactor, spark.mesos.role, spark.mesos.constraints,
 * spark.mesos.rejectOfferDuration(ForUnmetConstraints|ForReachedMaxCores),
 * spark.executor.uri (env SPARK_EXECUTOR_URI), spark.mesos.executor.home, spark.mesos.uris,
 * spark.mesos.fetcherCache.enable, spark.mesos.extra.cores, spark.mesos.executor.docker.image,
 * spark.mesos.containerizer, spark.mesos.task.labels, spark.mesos.driver.failoverTimeout,
 * spark.mesos.driver.webui.url, spark.mesos.principal, spark.mesos.secret,
 * spark.mesos.coarse.shutdownTimeout, spark.executor.extraJavaOptions,
 * spark.executor.extraClassPath, spark.executorEnv.*, spark.dynamicAllocation.*.
 */
public final class MesosCoarseGrainedBackend extends CoarseGrainedSchedulerBackend
        implements Scheduler {
    private static final Logger LOG = LoggerFactory.getLogger(MesosCoarseGrainedBackend.class);
    /** An agent where this many executors failed gets no more (Spark 3.5's rule). */
    private static final int MAX_AGENT_FAILURES = 2;

    private final SparkContext sc;
    private final TaskSchedulerImpl taskScheduler;
    private final String master;
    private final SparkConf conf;

    // Settings, read once.
    private final int maxCores;
    private final Integer executorCores;
    private final int executorMemoryMb;
    private final int memoryOverheadMb;
    private final int extraCores;
    private final Constraints constraints;
    private final double rejectUnmetConstraintsSecs;
    private final double rejectMaxCoresSecs;
    private final double shutdownTimeoutMs;

    private final Object lock = new Object();
    // Guarded by lock.
    private final Map<String, Executor> executors = new HashMap<>();
    private final Map<String, AgentRecord> agents = new HashMap<>();
    private final Set<String> pendingKills = new HashSet<>();
    private int coresAcquired = 0;
    private int nextTaskId = 0;
    private int executorLimit;
    private boolean stopping = false;

    private volatile SchedulerDriver driver;
    private volatile String frameworkId;
    private volatile String startError;
    private final CountDownLatch registered = new CountDownLatch(1);

    /** One running executor (= one Mesos task). */
    private static final class Executor {
        final String agentId;
        final int cores;

        Executor(String agentId, int cores) {
            this.agentId = agentId;
            this.cores = cores;
        }
    }

    private static final class AgentRecord {
        final String hostname;
        int failures;

        AgentRecord(String hostname) {
            this.hostname = hostname;
        }
    }

    public MesosCoarseGrainedBackend(TaskSchedulerImpl scheduler, SparkContext sc, String master) {
        super(scheduler, sc.env().rpcEnv());
        this.sc = sc;
        this.taskScheduler = scheduler;
        this.master = master;
        this.conf = sc.conf();
        this.maxCores = conf.getInt("spark.cores.max", Integer.MAX_VALUE);
        this.executorCores = conf.contains("spark.executor.cores")
                ? Integer.valueOf(conf.getInt("spark.executor.cores", 1)) : null;
        this.executorMemoryMb = sc.executorMemory();
        double factor = conf.getDouble("spark.executor.memoryOverheadFactor", 0.10);
        this.memoryOverheadMb = conf.contains("spark.mesos.executor.memoryOverhead")
                ? conf.getInt("spark.mesos.executor.memoryOverhead", 384)
                : Math.max((int) (factor * executorMemoryMb), 384);
        this.extraCores = conf.getInt("spark.mesos.extra.cores", 0);
        this.constraints = Constraints.parse(conf.get("spark.mesos.constraints", ""));
        double reject = seconds(conf.get("spark.mesos.rejectOfferDuration", "120s"));
        this.rejectUnmetConstraintsSecs = conf.contains("spark.mesos.rejectOfferDurationForUnmetConstraints")
                ? seconds(conf.get("spark.mesos.rejectOfferDurationForUnmetConstraints")) : reject;
        this.rejectMaxCoresSecs = conf.contains("spark.mesos.rejectOfferDurationForReachedMaxCores")
                ? seconds(conf.get("spark.mesos.rejectOfferDurationForReachedMaxCores")) : reject;
        this.shutdownTimeoutMs = conf.getTimeAsMs("spark.mesos.coarse.shutdownTimeout", "10s");
        // With dynamic allocation nothing launches until the allocation manager asks for a
        // total (it asks for the initial number at start), as Spark 3.5's backend did.
        this.executorLimit = conf.getBoolean("spark.dynamicAllocation.enabled", false)
                ? 0 : Integer.MAX_VALUE;
    }

    private static double seconds(String duration) {
        return org.apache.spark.network.util.JavaUtils.timeStringAsSec(duration);
    }

    // ---- Spark's side -------------------------------------------------------------------

    @Override
    public void start() {
        super.start();
        Protos.FrameworkInfo.Builder framework = Protos.FrameworkInfo.newBuilder()
                .setUser(sc.sparkUser())
                .setName(sc.appName())
                .setHostname(hostname())
                .setCheckpoint(false)
                .setFailoverTimeout(seconds(conf.get("spark.mesos.driver.failoverTimeout", "0s")));
        String webui = conf.get("spark.mesos.driver.webui.url", null);
        if (webui == null && sc.uiWebUrl().isDefined()) {
            webui = sc.uiWebUrl().get();
        }
        if (webui != null) {
            framework.setWebuiUrl(webui);
        }
        String role = conf.get("spark.mesos.role", null);
        if (role != null) {
            framework.setRole(role);
        }
        String principal = conf.get("spark.mesos.principal", System.getenv("SPARK_MESOS_PRINCIPAL"));
        String secret = conf.get("spark.mesos.secret", System.getenv("SPARK_MESOS_SECRET"));
        if (secret != null && principal == null) {
            throw new IllegalArgumentException("spark.mesos.secret is set but spark.mesos.principal is not");
        }
        String fixedId = conf.get("spark.mesos.driver.frameworkId", null);
        if (fixedId != null) {
            framework.setId(Protos.FrameworkID.newBuilder().setValue(fixedId));
        }
        MesosSchedulerDriver d;
        if (principal != null) {
            framework.setPrincipal(principal);
            Protos.Credential.Builder credential = Protos.Credential.newBuilder().setPrincipal(principal);
            if (secret != null) {
                credential.setSecret(secret);
            }
            d = new MesosSchedulerDriver(this, framework.build(), master, credential.build());
        } else {
            d = new MesosSchedulerDriver(this, framework.build(), master);
        }
        driver = d;
        Thread runner = new Thread(() -> {
            Protos.Status status;
            try {
                status = d.run();
            } catch (Throwable t) {
                startError = "Error starting driver: " + t;
                registered.countDown();
                return;
            }
            if (status != Protos.Status.DRIVER_STOPPED) {
                startError = "Error starting driver, " + status;
                registered.countDown();
            }
            LOG.info("Mesos scheduler driver ended with {}", status);
        }, "MesosCoarseGrainedBackend-mesos-driver");
        runner.setDaemon(true);
        runner.start();
        // SparkContext waits for registration, as with Spark 3.5 (it needs the app id).
        try {
            registered.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException("interrupted while registering with Mesos", e);
        }
        if (startError != null) {
            throw new RuntimeException(new SparkException(startError));
        }
    }

    private String hostname() {
        String publicDns = System.getenv("SPARK_PUBLIC_DNS");
        return publicDns != null ? publicDns : conf.get("spark.driver.host", "localhost");
    }

    @Override
    public String applicationId() {
        String id = frameworkId;
        return id != null ? id : super.applicationId();
    }

    @Override
    public boolean sufficientResourcesRegistered() {
        return totalCoreCount().get() >= maxCores * minRegisteredRatio();
    }

    @Override
    public Future<Object> doRequestTotalExecutors(
            scala.collection.immutable.Map<ResourceProfile, Object> perProfile) {
        int total = 0;
        for (Object n : CollectionConverters.asJava(perProfile).values()) {
            total += (Integer) n;
        }
        boolean more;
        synchronized (lock) {
            more = total > executorLimit;
            executorLimit = total;
        }
        LOG.info("Capping the total number of executors to {}", total);
        SchedulerDriver d = driver;
        if (more && d != null) {
            // Offers declined while at the cap may be filtered for a while: ask again now.
            d.reviveOffers();
        }
        return Future.successful(Boolean.TRUE);
    }

    @Override
    public Future<Object> doKillExecutors(scala.collection.immutable.Seq<String> executorIds) {
        SchedulerDriver d = driver;
        if (d == null) {
            return Future.successful(Boolean.FALSE);
        }
        synchronized (lock) {
            for (String id : CollectionConverters.asJava(executorIds)) {
                if (executors.containsKey(id)) {
                    pendingKills.add(id);
                    d.killTask(Protos.TaskID.newBuilder().setValue(id).build());
                } else {
                    LOG.warn("Cannot kill unknown executor {}", id);
                }
            }
        }
        return Future.successful(Boolean.TRUE);
    }

    @Override
    public void stop() {
        synchronized (lock) {
            stopping = true;
        }
        super.stop();
        // Give the executors Spark just told to stop the time to end their tasks.
        long deadline = System.currentTimeMillis() + (long) shutdownTimeoutMs;
        synchronized (lock) {
            while (!executors.isEmpty() && System.currentTimeMillis() < deadline) {
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (!executors.isEmpty()) {
                LOG.warn("{} executor(s) still running after {} ms; the framework's teardown kills them",
                        executors.size(), (long) shutdownTimeoutMs);
            }
        }
        SchedulerDriver d = driver;
        if (d != null) {
            // failover=false: the master tears the framework down and kills its tasks.
            d.stop(false);
        }
    }

    // ---- Mesos's side -------------------------------------------------------------------

    /** A callback body that may throw (what {@link #guarded} runs). */
    private interface Callback {
        void run() throws Exception;
    }

    /**
     * Runs a Mesos callback's body; an exception is logged, not thrown back into the driver
     * (which would abort it). A VirtualMachineError (out of memory, ...) still propagates.
     */
    private static void guarded(String callback, Callback body) {
        try {
            body.run();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            LOG.error("Mesos callback {} failed; the driver keeps running", callback, t);
        }
    }

    @Override
    public void registered(SchedulerDriver d, Protos.FrameworkID id, Protos.MasterInfo masterInfo) {
        frameworkId = id.getValue();
        LOG.info("Registered with Mesos as framework {}", frameworkId);
        registered.countDown();
    }

    @Override
    public void reregistered(SchedulerDriver d, Protos.MasterInfo masterInfo) {
        LOG.info("Reregistered with the Mesos master");
    }

    @Override
    public void disconnected(SchedulerDriver d) {
        LOG.warn("Disconnected from the Mesos master");
    }

    @Override
    public void resourceOffers(SchedulerDriver d, List<Protos.Offer> offers) {
        synchronized (lock) {
            for (Protos.Offer offer : offers) {
                try {
                    handleOffer(d, offer);
                } catch (VirtualMachineError e) {
                    throw e;
                } catch (Throwable t) {
                    // An offer neither used nor declined would be held until rescinded.
                    LOG.error("Mesos callback resourceOffers failed on offer {}; declining it",
                            offer.getId().getValue(), t);
                    guarded("resourceOffers", () -> d.declineOffer(offer.getId()));
                }
            }
        }
    }

    private void handleOffer(SchedulerDriver d, Protos.Offer offer) {
        if (stopping) {
            d.declineOffer(offer.getId());
            return;
        }
        if (!constraints.matches(offer.getAttributesList())) {
            LOG.debug("Declining offer {}: unmet constraints", offer.getId().getValue());
            d.declineOffer(offer.getId(), refuse(rejectUnmetConstraintsSecs));
            return;
        }
        String agentId = offer.getSlaveId().getValue();
        AgentRecord agent = agents.computeIfAbsent(agentId, k -> new AgentRecord(offer.getHostname()));
        List<Protos.Resource> remaining = new ArrayList<>(offer.getResourcesList());
        List<Protos.TaskInfo> tasks = new ArrayList<>();
        int memNeeded = executorMemoryMb + memoryOverheadMb;
        while (true) {
            double cpusLeft = Resources.scalar(remaining, "cpus");
            double memLeft = Resources.scalar(remaining, "mem");
            int cores = executorCores != null
                    ? executorCores
                    : (int) Math.min(Math.floor(cpusLeft), (double) maxCores - coresAcquired);
            boolean fits = cores > 0
                    && cores <= cpusLeft
                    && coresAcquired + cores <= maxCores
                    && memNeeded <= memLeft
                    && executors.size() < executorLimit
                    && agent.failures < MAX_AGENT_FAILURES;
            if (!fits) {
                break;
            }
            String taskId = Integer.toString(nextTaskId++);
            List<Protos.Resource> used = new ArrayList<>();
            used.addAll(Resources.take(remaining, "cpus", cores));
            used.addAll(Resources.take(remaining, "mem", memNeeded));
            tasks.add(taskInfo(taskId, offer, cores, used));
            executors.put(taskId, new Executor(agentId, cores));
            coresAcquired += cores;
            LOG.info("Launching Mesos task {} (executor {}) with {} cores and {} MiB on agent {} ({})",
                    taskId, taskId, cores, memNeeded, agentId, offer.getHostname());
        }
        if (agent.failures >= MAX_AGENT_FAILURES && tasks.isEmpty()) {
            LOG.info("Declining offer {}: agent {} had {} executor failures (is Spark installed on it?)",
                    offer.getId().getValue(), agentId, agent.failures);
        }
        if (!tasks.isEmpty()) {
            d.launchTasks(Collections.singletonList(offer.getId()), tasks);
        } else if (coresAcquired >= maxCores) {
            d.declineOffer(offer.getId(), refuse(rejectMaxCoresSecs));
        } else {
            d.declineOffer(offer.getId());
        }
    }

    private static Protos.Filters refuse(double seconds) {
        return Protos.Filters.newBuilder().setRefuseSeconds(seconds).build();
    }

    private Protos.TaskInfo taskInfo(String taskId, Protos.Offer offer, int cores,
                                     List<Protos.Resource> resources) {
        Protos.TaskInfo.Builder task = Protos.TaskInfo.newBuilder()
                .setTaskId(Protos.TaskID.newBuilder().setValue(taskId))
                .setSlaveId(offer.getSlaveId())
                .setName(sc.appName() + " " + taskId)
                .addAllResources(resources)
                .setCommand(command(taskId, offer, cores))
                .setContainer(container());
        String labels = conf.get("spark.mesos.task.labels", "");
        if (!labels.isEmpty()) {
            Protos.Labels.Builder b = Protos.Labels.newBuilder();
            for (String kv : labels.split(",")) {
                int colon = kv.indexOf(':');
                if (colon > 0) {
                    b.addLabels(Protos.Label.newBuilder()
                            .setKey(kv.substring(0, colon)).setValue(kv.substring(colon + 1)));
                }
            }
            task.setLabels(b);
        }
        return task.build();
    }

    private Protos.ContainerInfo.Builder container() {
        String image = conf.get("spark.mesos.executor.docker.image", null);
        String containerizer = conf.get("spark.mesos.containerizer", "docker");
        Protos.ContainerInfo.Builder c = Protos.ContainerInfo.newBuilder();
        if (image == null) {
            return c.setType(Protos.ContainerInfo.Type.MESOS);
        }
        boolean forcePull = conf.getBoolean("spark.mesos.executor.docker.forcePullImage", false);
        if (containerizer.equals("docker")) {
            return c.setType(Protos.ContainerInfo.Type.DOCKER)
                    .setDocker(Protos.ContainerInfo.DockerInfo.newBuilder()
                            .setImage(image).setForcePullImage(forcePull));
        }
        return c.setType(Protos.ContainerInfo.Type.MESOS)
                .setMesos(Protos.ContainerInfo.MesosInfo.newBuilder()
                        .setImage(Protos.Image.newBuilder()
                                .setType(Protos.Image.Type.DOCKER)
                                .setCached(!forcePull)
                                .setDocker(Protos.Image.Docker.newBuilder().setName(image))));
    }

    private Protos.CommandInfo command(String taskId, Protos.Offer offer, int cores) {
        Protos.CommandInfo.Builder command = Protos.CommandInfo.newBuilder();
        Protos.Environment.Builder env = Protos.Environment.newBuilder();
        String appId = applicationId();
        String javaOpts = conf.get("spark.executor.extraJavaOptions", "")
                .replace("{{APP_ID}}", appId).replace("{{EXECUTOR_ID}}", taskId);
        addEnv(env, "SPARK_EXECUTOR_OPTS", javaOpts);
        addEnv(env, "SPARK_EXECUTOR_MEMORY", executorMemoryMb + "m");
        String classPath = conf.get("spark.executor.extraClassPath", null);
        if (classPath != null) {
            addEnv(env, "SPARK_EXECUTOR_CLASSPATH", classPath);
        }
        for (scala.Tuple2<String, String> kv : conf.getAllWithPrefix("spark.executorEnv.")) {
            addEnv(env, kv._1(), kv._2());
        }
        command.setEnvironment(env);

        String driverUrl = "spark://" + CoarseGrainedSchedulerBackend.ENDPOINT_NAME() + "@"
                + conf.get("spark.driver.host") + ":" + conf.get("spark.driver.port");
        String args = " --driver-url " + driverUrl
                + " --executor-id " + taskId
                + " --hostname " + offer.getHostname()
                + " --cores " + (cores + extraCores)
                + " --app-id " + appId
                + " --resourceProfileId 0";
        String main = "org.apache.spark.executor.CoarseGrainedExecutorBackend";
        boolean cache = conf.getBoolean("spark.mesos.fetcherCache.enable", false);
        String uri = conf.get("spark.executor.uri", System.getenv("SPARK_EXECUTOR_URI"));
        if (uri != null) {
            // The fetcher extracts the tarball into the sandbox; enter its top directory
            // (spark-4.0.0-bin-hadoop3.tgz -> "spark-4*").
            String base = uri.substring(uri.lastIndexOf('/') + 1);
            int dot = base.indexOf('.');
            String prefix = dot > 0 ? base.substring(0, dot) : base;
            command.addUris(Protos.CommandInfo.URI.newBuilder().setValue(uri).setCache(cache));
            command.setValue("cd " + prefix + "*; ./bin/spark-class " + main + args);
        } else {
            String home = conf.get("spark.mesos.executor.home", null);
            if (home == null) {
                Option<String> sparkHome = sc.getSparkHome();
                home = sparkHome.isDefined() ? sparkHome.get() : null;
            }
            if (home == null) {
                throw new IllegalStateException("Executor Spark home `spark.mesos.executor.home` is not set!");
            }
            command.setValue(shellQuote(home + "/bin/spark-class") + " " + main + args);
        }
        for (String extra : conf.get("spark.mesos.uris", "").split(",")) {
            if (!extra.isBlank()) {
                command.addUris(Protos.CommandInfo.URI.newBuilder().setValue(extra.trim()).setCache(cache));
            }
        }
        return command.build();
    }

    private static void addEnv(Protos.Environment.Builder env, String name, String value) {
        env.addVariables(Protos.Environment.Variable.newBuilder().setName(name).setValue(value));
    }

    private static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    @Override
    public void offerRescinded(SchedulerDriver d, Protos.OfferID offerId) {
        // Nothing held per offer: offers are used or declined inside resourceOffers.
    }

    @Override
    public void statusUpdate(SchedulerDriver d, Protos.TaskStatus status) {
        guarded("statusUpdate", () -> handleStatusUpdate(d, status));
    }

    private void handleStatusUpdate(SchedulerDriver d, Protos.TaskStatus status) {
        String taskId = status.getTaskId().getValue();
        Protos.TaskState state = status.getState();
        LOG.info("Mesos task {} is now {}{}", taskId, state,
                status.hasMessage() ? " (" + status.getMessage() + ")" : "");
        if (!isTerminal(state)) {
            return;
        }
        boolean known;
        boolean stopped;
        synchronized (lock) {
            stopped = stopping;
            Executor executor = executors.remove(taskId);
            known = executor != null;
            boolean killed = pendingKills.remove(taskId);
            if (known) {
                coresAcquired -= executor.cores;
                if (!killed && isFailure(state)) {
                    AgentRecord agent = agents.get(executor.agentId);
                    if (agent != null) {
                        agent.failures++;
                        if (agent.failures >= MAX_AGENT_FAILURES) {
                            LOG.info("Excluding Mesos agent {} ({}) due to too many failures; "
                                    + "is Spark installed on it?", executor.agentId, agent.hostname);
                        }
                    }
                }
            }
            lock.notifyAll();
        }
        if (known && !stopped) {
            String message = "Executor finished with state " + state
                    + (status.hasMessage() ? ": " + status.getMessage() : "");
            removeExecutor(taskId, new ExecutorProcessLost(message, Option.empty(), true));
            // Capacity came back: ask for offers again (filters from earlier declines clear).
            d.reviveOffers();
        }
    }

    private static boolean isTerminal(Protos.TaskState s) {
        switch (s) {
            case TASK_FINISHED:
            case TASK_FAILED:
            case TASK_KILLED:
            case TASK_LOST:
            case TASK_ERROR:
            case TASK_DROPPED:
            case TASK_GONE:
            case TASK_GONE_BY_OPERATOR:
                return true;
            default:
                return false;
        }
    }

    private static boolean isFailure(Protos.TaskState s) {
        return s == Protos.TaskState.TASK_FAILED || s == Protos.TaskState.TASK_LOST
                || s == Protos.TaskState.TASK_ERROR;
    }

    @Override
    public void frameworkMessage(SchedulerDriver d, Protos.ExecutorID executorId,
                                 Protos.SlaveID slaveId, byte[] data) {
    }

    @Override
    public void slaveLost(SchedulerDriver d, Protos.SlaveID slaveId) {
        // Executors there end through their TASK_LOST updates.
        LOG.info("Mesos agent lost: {}", slaveId.getValue());
    }

    @Override
    public void executorLost(SchedulerDriver d, Protos.ExecutorID executorId,
                             Protos.SlaveID slaveId, int status) {
        LOG.info("Mesos executor lost: {} on {} ({})", executorId.getValue(), slaveId.getValue(), status);
    }

    @Override
    public void error(SchedulerDriver d, String message) {
        LOG.error("Mesos error: {}", message);
        if (frameworkId == null) {
            startError = "Mesos error: " + message;
            registered.countDown();
        } else {
            guarded("error", () -> taskScheduler.error(message));
        }
    }
}
