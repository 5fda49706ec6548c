// A JVM-only Spark job for the Spark end-to-end tests and bench/spark: estimates pi by
// sampling points in the unit square, as Spark's own SparkPi example does. Apache publishes
// no spark-examples jar for 3.x on Maven Central (only for 1.x), so the tests compile this
// one with javac against the pyspark install's jars (tests/spark/setup.sh).
//
// Usage: spark-submit --class RemesosSparkPi sparkpi.jar [partitions]
// Prints "Pi is roughly <estimate>" and "executors: <n>" (executors seen by the driver).
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

public final class RemesosSparkPi {
    public static void main(String[] args) throws Exception {
        int partitions = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int perPartition = 100_000;
        JavaSparkContext sc = new JavaSparkContext(new SparkConf().setAppName("RemesosSparkPi"));
        List<Integer> seeds = new ArrayList<>();
        for (int i = 0; i < partitions; i++) {
            seeds.add(i);
        }
        long start = System.nanoTime();
        long inside = sc.parallelize(seeds, partitions).map(seed -> {
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 7919L + 1);
            long hits = 0;
            for (int i = 0; i < perPartition; i++) {
                double x = random.nextDouble() * 2 - 1;
                double y = random.nextDouble() * 2 - 1;
                if (x * x + y * y <= 1) {
                    hits++;
                }
            }
            return hits;
        }).reduce(Long::sum);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.println("Pi is roughly " + 4.0 * inside / ((long) partitions * perPartition));
        System.out.println("job seconds: " + seconds);
        System.out.println("executors: " + (sc.sc().getExecutorMemoryStatus().size() - 1));
        sc.stop();
    }
}
