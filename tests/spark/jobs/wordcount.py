"""PySpark job for the Spark end-to-end tests and bench/spark: a word count with a shuffle
(reduceByKey) and a DataFrame aggregation (groupBy + agg, another shuffle), over text that
is generated deterministically so the test can compute the answer independently.

Line i (0 <= i < lines) holds the words  w<(i*31 + j*17) % 1000>  for j in 0 .. i%7+2.

Prints one line "RESULT <json>" with the answers, where the tasks ran (the Mesos agent and
sandbox of each task, from the environment the agent gives executors) and timings.
"""
import argparse
import json
import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def line(i):
    return " ".join("w%d" % ((i * 31 + j * 17) % 1000) for j in range(i % 7 + 3))


def where(_):
    # The executor's environment, inherited by its Python workers: set by the Mesos agent.
    return (os.environ.get("MESOS_SLAVE_ID", ""), os.environ.get("MESOS_SANDBOX", ""))


def read_extra(name):
    def read(_):
        with open(os.path.join(os.environ["MESOS_SANDBOX"], name)) as f:
            return f.read().strip()
    return read


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=20000)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--extra-file", help="a file spark.mesos.uris put in every sandbox")
    p.add_argument("--master", help="build the SparkContext directly with this master URL "
                   "(not through spark-submit's master check)")
    p.add_argument("--sleep-after", type=float, default=0,
                   help="seconds to keep the application up after the jobs")
    args = p.parse_args()

    t0 = time.time()
    if args.master:
        from pyspark import SparkContext
        sc = SparkContext(master=args.master, appName="remesos-wordcount")
        spark = SparkSession(sc)
    else:
        spark = SparkSession.builder.appName("remesos-wordcount").getOrCreate()
        sc = spark.sparkContext
    t_context = time.time()

    text = sc.parallelize(range(args.lines), args.partitions).map(line)
    counts = (text.flatMap(lambda l: l.split())
                  .map(lambda w: (w, 1))
                  .reduceByKey(lambda a, b: a + b, args.partitions))
    pairs = counts.collect()
    total = sum(c for _, c in pairs)
    top = sorted(pairs, key=lambda wc: (-wc[1], wc[0]))[:3]

    df = spark.createDataFrame(counts, ["word", "n"])
    by_len = (df.groupBy(F.length("word").alias("len"))
                .agg(F.sum("n").alias("total"), F.count("*").alias("words"))
                .orderBy("len")
                .collect())
    t_jobs = time.time()

    places = sorted(set(sc.parallelize(range(64), 16).map(where).collect()))
    result = {
        "app_id": sc.applicationId,
        "total": total,
        "distinct": len(pairs),
        "top": [[w, c] for w, c in top],
        "by_length": [[r["len"], r["total"], r["words"]] for r in by_len],
        "agents": sorted({a for a, _ in places}),
        "sandboxes": sorted({s for _, s in places}),
        "context_seconds": round(t_context - t0, 3),
        "job_seconds": round(t_jobs - t_context, 3),
    }
    if args.extra_file:
        result["extra"] = sorted(set(sc.parallelize(range(16), 8)
                                       .map(read_extra(args.extra_file)).collect()))
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    if args.sleep_after:
        time.sleep(args.sleep_after)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main())
