"""PySpark job that keeps its executors busy long enough for a test to kill one of them:
`tasks` tasks of `seconds` each. Prints "RESULT <json>" with the sum it computed and the
Mesos tasks (executors) that ran work."""
import argparse
import json
import os
import time

from pyspark.sql import SparkSession


def work(seconds):
    def run(i):
        time.sleep(seconds)
        return (i, os.environ.get("MESOS_TASK_ID") or os.environ.get("MESOS_EXECUTOR_ID", ""))
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=40)
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    spark = SparkSession.builder.appName("remesos-slow").getOrCreate()
    sc = spark.sparkContext
    print("STARTED " + sc.applicationId, flush=True)
    out = sc.parallelize(range(args.tasks), args.tasks).map(work(args.seconds)).collect()
    print("RESULT " + json.dumps({
        "sum": sum(i for i, _ in out),
        "count": len(out),
        "executors": sorted({e for _, e in out}),
    }), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
