"""PySpark job for dynamic allocation with the external shuffle service
(spark.dynamicAllocation.enabled, spark.shuffle.service.enabled, minExecutors=0):

1. a job with a shuffle: executors are added under load;
2. idle: every executor is released (executorIdleTimeout);
3. the same result again: the map stage is skipped and its shuffle output is served by the
   external shuffle service, since the executors that wrote it are gone (an accumulator
   counts map-side computations: it must not grow).

Prints "RESULT <json>".
"""
import json
import threading
import time

from pyspark.sql import SparkSession


def executors(sc):
    # getExecutorMemoryStatus has the driver too.
    return sc._jsc.sc().getExecutorMemoryStatus().size() - 1


def main():
    spark = SparkSession.builder.appName("remesos-dynalloc").getOrCreate()
    sc = spark.sparkContext
    computed = sc.accumulator(0)
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], executors(sc))
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    at_start = executors(sc)

    def mapper(i):
        computed.add(1)
        time.sleep(1.0)
        return (i % 10, i)

    pairs = sc.parallelize(range(16), 16).map(mapper).reduceByKey(lambda a, b: a + b, 4)
    first = sorted(pairs.collect())
    peak_first = peak[0]

    deadline = time.time() + 90
    while executors(sc) > 0 and time.time() < deadline:
        time.sleep(0.5)
    after_idle = executors(sc)

    second = sorted(pairs.collect())
    done.set()
    print("RESULT " + json.dumps({
        "app_id": sc.applicationId,
        "at_start": at_start,
        "peak_first_job": peak_first,
        "after_idle": after_idle,
        "first": first,
        "same_again": first == second,
        "map_computations": computed.value,
    }), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
