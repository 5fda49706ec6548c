#!/usr/bin/env python3
"""Spark 3.5 on remesos vs Spark standalone, side by side (issue 5 §6).

Same pyspark 3.5.3 install, same driver settings, same executors on both: 2 executors of
1 core and 512 MiB (spark.cores.max=2, spark.executor.cores=1, spark.executor.memory=512m),
on 2 agents (remesos: `remesos master` + 2 `remesos agent`, cpus:1;mem:1536 each) or 2
workers (standalone Master + 2 Workers, --cores 1 --memory 1536m each). Both clusters stay
up for the whole run; runs alternate (remesos, standalone, remesos, ...) so slow drifts of
the shared machine hit both alike.

Jobs:
  sparkpi    RemesosSparkPi (tests/spark/java, JVM only) with 100 partitions of 100,000
             samples each (10 M points), as Spark's SparkPi 100
  wordcount  tests/spark/jobs/wordcount.py --lines 10000 --partitions 8: 59,994 words (1,000 distinct),
             reduceByKey + a DataFrame groupBy/agg (two shuffles), then a 16-task probe

Per run: wall time of spark-submit (process start to exit), the job's own time (printed by
the job), and executor start latency from the application's event log:
ExecutorAdded.timestamp - ApplicationStart.timestamp (SparkContext creation, where both
backends start requesting executors, to the executor registered with the driver), for the
first and the last of the 2 executors.

Usage: python3 bench/spark/run.py [--runs 5] [--systems remesos,standalone]
Needs tests/spark/setup.sh done, and for remesos a libmesos.so with the JNI driver
(--libmesos, default target/release/libmesos.so) and the remesos binary (--remesos).
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


class Daemons:
    def __init__(self, work):
        self.work = work
        self.procs = []

    def spawn(self, name, cmd, env=None):
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def spark_env(home, python, libmesos):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("SPARK_") or k.startswith("PYSPARK_"))}
    env.update(SPARK_HOME=home, PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python,
               SPARK_LOCAL_IP="127.0.0.1", SPARK_DAEMON_MEMORY="512m")
    if libmesos:
        env["MESOS_NATIVE_JAVA_LIBRARY"] = libmesos
    return env


def start_remesos(d, remesos, libmesos):
    port = free_port()
    d.spawn("remesos-master", [remesos, "master", "--ip=127.0.0.1", "--hostname=127.0.0.1",
                               f"--port={port}", f"--work_dir={d.work}/master",
                               "--allocation_interval=100ms", "--logging_level=WARNING"])
    for i in range(2):
        d.spawn(f"remesos-agent-{i}", [
            remesos, "agent", f"--master=127.0.0.1:{port}", "--ip=127.0.0.1",
            "--hostname=127.0.0.1", f"--port={free_port()}", f"--work_dir={d.work}/agent-{i}",
            "--resources=cpus:1;mem:1536", f"--native_library={libmesos}",
            "--logging_level=WARNING"])
    wait_for(lambda: len(get_json(f"http://127.0.0.1:{port}/master/state")["slaves"]) == 2,
             "remesos agents")
    return f"mesos://127.0.0.1:{port}"


def start_standalone(d, home, env):
    port, ui = free_port(), free_port()
    cls = os.path.join(home, "bin/spark-class")
    d.spawn("standalone-master", [cls, "org.apache.spark.deploy.master.Master", "--host",
                                  "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
            env=env)
    url = f"spark://127.0.0.1:{port}"
    wait_for(lambda: socket.create_connection(("127.0.0.1", port), 1).close() or True,
             "standalone master")
    for i in range(2):
        d.spawn(f"standalone-worker-{i}", [
            cls, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
            "--memory", "1536m", "--webui-port", str(free_port()),
            "--work-dir", f"{d.work}/worker-{i}", url], env=env)
    wait_for(lambda: len([w for w in get_json(f"http://127.0.0.1:{ui}/json")["workers"]
                          if w["state"] == "ALIVE"]) == 2, "standalone workers")
    return url


def executor_latency(event_dir, app_id):
    path = os.path.join(event_dir, app_id)
    start, added = None, []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["Event"] == "SparkListenerApplicationStart":
                start = e["Timestamp"]
            elif e["Event"] == "SparkListenerExecutorAdded":
                added.append(e["Timestamp"])
    added.sort()
    return [(t - start) / 1000.0 for t in added]


def run_job(job, master, home, python, env, work, event_dir, tag):
    common = ["--master", master,
              "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.memory=512m",
              "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m",
              "--conf", "spark.cores.max=2", "--conf", "spark.executor.cores=1",
              "--conf", f"spark.pyspark.python={python}",
              "--conf", f"spark.mesos.executor.home={home}",
              "--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={event_dir}"]
    if job == "sparkpi":
        args = ["--class", "RemesosSparkPi",
                os.path.join(ROOT, ".cache/spark/remesos-sparkpi.jar"), "100"]
    else:
        args = [os.path.join(ROOT, "tests/spark/jobs/wordcount.py"), "--lines", "10000",
                "--partitions", "8"]
    log = os.path.join(work, f"{tag}.log")
    t0 = time.time()
    with open(log, "w") as err:
        p = subprocess.run([os.path.join(home, "bin/spark-submit")] + common + args, env=env,
                           stdout=subprocess.PIPE, stderr=err, text=True, timeout=600)
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit(f"{tag} failed ({p.returncode}); see {log}")
    out = p.stdout
    if job == "sparkpi":
        pi = float(next(l for l in out.splitlines() if l.startswith("Pi is roughly")).split()[-1])
        assert abs(pi - 3.14159) < 0.01, out
        job_s = float(next(l for l in out.splitlines() if l.startswith("job seconds")).split()[-1])
        app_id = None
    else:
        result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
        assert result["distinct"] == 1000, result
        job_s = result["job_seconds"]
        app_id = result["app_id"]
    if app_id is None:
        # The event log written by this run is the newest file.
        files = sorted(os.listdir(event_dir), key=lambda f: os.path.getmtime(os.path.join(event_dir, f)))
        app_id = files[-1]
    lat = executor_latency(event_dir, app_id)
    return {"wall_s": round(wall, 3), "job_s": round(job_s, 3),
            "executors": len(lat), "first_executor_s": round(lat[0], 3) if lat else None,
            "last_executor_s": round(lat[-1], 3) if lat else None}


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return (f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, "
            f"n={len(values)})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default="remesos,standalone")
    ap.add_argument("--jobs", default="sparkpi,wordcount")
    ap.add_argument("--libmesos", default=os.path.join(ROOT, "target/release/libmesos.so"))
    ap.add_argument("--remesos", default=os.path.join(ROOT, "target/release/remesos"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/spark/results.json"))
    args = ap.parse_args()
    systems = args.systems.split(",")
    python = os.path.join(ROOT, ".venv-spark35/bin/python")
    home = subprocess.check_output(
        [python, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
        text=True).strip()
    work = tempfile.mkdtemp(prefix="remesos-spark-bench-")
    event_dir = os.path.join(work, "events")
    os.makedirs(event_dir)
    d = Daemons(work)
    results = []
    try:
        masters = {}
        env = spark_env(home, python, args.libmesos if "remesos" in systems else None)
        if "remesos" in systems:
            masters["remesos"] = start_remesos(d, args.remesos, args.libmesos)
        if "standalone" in systems:
            masters["standalone"] = start_standalone(d, home, env)
        for job in args.jobs.split(","):
            for i in range(args.runs):
                for system in systems:
                    tag = f"{job}-{system}-{i}"
                    r = run_job(job, masters[system], home, python, env, work, event_dir, tag)
                    r.update(job=job, system=system, run=i)
                    results.append(r)
                    print(json.dumps(r), flush=True)
    finally:
        d.stop()
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version(),
               "java": subprocess.run(["java", "-version"], capture_output=True,
                                      text=True).stderr.splitlines()[0]}
    with open(args.out, "w") as f:
        json.dump({"machine": machine, "runs": results}, f, indent=1)
    print(f"\nmachine: {machine}\n")
    for job in args.jobs.split(","):
        for system in systems:
            rs = [r for r in results if r["job"] == job and r["system"] == system]
            print(f"{job:9} {system:10} wall {summary([r['wall_s'] for r in rs])}")
            print(f"{'':9} {'':10} job  {summary([r['job_s'] for r in rs])}")
            print(f"{'':9} {'':10} 1st executor {summary([r['first_executor_s'] for r in rs])}")
            print(f"{'':9} {'':10} 2nd executor {summary([r['last_executor_s'] for r in rs])}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
