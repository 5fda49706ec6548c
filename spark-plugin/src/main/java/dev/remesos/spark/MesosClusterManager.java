package dev.remesos.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.ExternalClusterManager;
import org.apache.spark.scheduler.SchedulerBackend;
import org.apache.spark.scheduler.TaskScheduler;
import org.apache.spark.scheduler.TaskSchedulerImpl;

/**
 * Claims Mesos master URLs for Spark 4.x, found by SparkContext through ServiceLoader
 * ({@code META-INF/services/org.apache.spark.scheduler.ExternalClusterManager}).
 *
 * <ul>
 *   <li>{@code spark-mesos://host:5050} (or {@code spark-mesos://zk://...}): Spark 4's
 *       spark-submit accepts any master that starts with "spark" (it calls it standalone) and,
 *       in client mode, only hands it to SparkContext, whose {@code spark://} pattern does not
 *       match; so this is the URL to use with spark-submit, pyspark and spark-shell.
 *   <li>{@code mesos://host:5050}: as in Spark 3.5, for SparkContexts built directly (Spark 4's
 *       spark-submit refuses it: "Master must either be yarn or start with spark, k8s, or
 *       local").
 * </ul>
 *
 * What follows the scheme goes to MesosSchedulerDriver verbatim as its master string.
 */
public final class MesosClusterManager implements ExternalClusterManager {
    static final String SPARK_MESOS = "spark-mesos://";
    static final String MESOS = "mesos://";

    @Override
    public boolean canCreate(String masterURL) {
        return masterURL.startsWith(SPARK_MESOS) || masterURL.startsWith(MESOS);
    }

    @Override
    public TaskScheduler createTaskScheduler(SparkContext sc, String masterURL) {
        return new TaskSchedulerImpl(sc);
    }

    @Override
    public SchedulerBackend createSchedulerBackend(
            SparkContext sc, String masterURL, TaskScheduler scheduler) {
        if (sc.conf().getBoolean("spark.io.encryption.enabled", false)) {
            throw new IllegalArgumentException("I/O encryption is currently not supported in Mesos.");
        }
        if (!sc.conf().getBoolean("spark.mesos.coarse", true)) {
            throw new IllegalArgumentException(
                    "spark.mesos.coarse=false: fine-grained mode is not provided by this plugin "
                            + "(Spark deprecated it in 2.0); use the default coarse-grained mode");
        }
        return new MesosCoarseGrainedBackend(
                (TaskSchedulerImpl) scheduler, sc, mesosMaster(masterURL));
    }

    @Override
    public void initialize(TaskScheduler scheduler, SchedulerBackend backend) {
        ((TaskSchedulerImpl) scheduler).initialize(backend);
    }

    /** The master string for MesosSchedulerDriver: the URL without its scheme. */
    static String mesosMaster(String masterURL) {
        String rest;
        if (masterURL.startsWith(SPARK_MESOS)) {
            rest = masterURL.substring(SPARK_MESOS.length());
        } else if (masterURL.startsWith(MESOS)) {
            rest = masterURL.substring(MESOS.length());
        } else {
            throw new IllegalArgumentException("not a Mesos master URL: " + masterURL);
        }
        if (rest.isEmpty()) {
            throw new IllegalArgumentException("no Mesos master in " + masterURL);
        }
        return rest;
    }
}
