#!/usr/bin/env python3
"""WordCount on Hadoop 1.2.1: MesosScheduler on remesos vs a statically started TaskTracker.

    python3 bench/hadoop/bench.py [--runs 5] [--input-mb 8] [--only static|remesos]

Side by side in one run, alternating the two setups run by run:

  warm   static: a JobTracker with JobQueueTaskScheduler and a TaskTracker already running
         remesos: a JobTracker with MesosScheduler whose minimum pool
                  (mapred.mesos.total.{map,reduce}.slots.minimum) is already running
  cold   static: the TaskTracker is started together with the job (killed after it)
         remesos: no TaskTracker running; MesosScheduler launches one for the job and
                  kills it when idle (the next run waits until it is gone)

Both sides have the same slots: one TaskTracker with 2 map + 1 reduce slots (remesos: one
agent that fits exactly one such tracker). Reported: job wall time (the `bin/hadoop jar`
client process, submit to completion) median, min, max over the runs; and for remesos the
TaskTracker launch latency (launchTasks -> TASK_RUNNING, and -> first heartbeat to the
JobTracker) from the JobTracker's log.

Needs: java 17 (JAVA_HOME or the default java), mvn, and for the remesos half the release
`remesos` binary and a working libmesos.so (REMESOS_BIN / REMESOS_LIBMESOS, default
target/release/ of this repository).
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def site(props):
    body = "".join(
        f"  <property><name>{k}</name><value>{v}</value></property>\n" for k, v in props.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def java_home():
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = os.path.realpath(shutil.which("java"))
    return os.path.dirname(os.path.dirname(java))


class Proc:
    def __init__(self, args, log, env):
        self.log = log
        self.p = subprocess.Popen(
            args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, grace=15):
        if self.p.poll() is not None:
            return
        os.killpg(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work_dir)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.home = os.path.join(self.work, "hadoop-1.2.1")
        self.java_home = java_home()
        subprocess.run(
            ["bash", os.path.join(ROOT, "hadoop-plugin/dist/assemble.sh"), self.home],
            check=True,
            env=dict(os.environ, SKIP_PLUGIN_TESTS="1", JAVA_HOME=self.java_home),
            stdout=subprocess.DEVNULL,
        )
        self.input = os.path.join(self.work, "input")
        self.generate_input()
        self.procs = []

    def generate_input(self):
        os.makedirs(self.input)
        rng = random.Random(1)
        vocab = [f"w{i}" for i in range(20000)]
        files = 4
        per_file = self.args.input_mb * (1 << 20) // files
        for f in range(files):
            with open(os.path.join(self.input, f"part-{f}.txt"), "w") as out:
                written = 0
                while written < per_file:
                    line = " ".join(vocab[min(rng.randrange(20000), rng.randrange(20000))] for _ in range(10)) + "\n"
                    out.write(line)
                    written += len(line)

    def env(self, conf, logs, extra=None):
        e = dict(os.environ, JAVA_HOME=self.java_home, HADOOP_CONF_DIR=conf, HADOOP_LOG_DIR=logs)
        e.update(extra or {})
        return e

    def conf_dir(self, name, mapred):
        conf = os.path.join(self.work, name, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "core-site.xml"), "w") as f:
            f.write(site({"fs.default.name": "file:///",
                          "hadoop.tmp.dir": os.path.join(self.work, name, "tmp")}))
        base = {
            "mapred.job.tracker.http.address": "127.0.0.1:0",
            "mapred.task.tracker.http.address": "127.0.0.1:0",
            "mapred.tasktracker.map.tasks.maximum": "2",
            "mapred.tasktracker.reduce.tasks.maximum": "1",
            "mapred.tasktracker.expiry.interval": "60000",
            "slave.host.name": "127.0.0.1",
        }
        base.update(mapred)
        with open(os.path.join(conf, "mapred-site.xml"), "w") as f:
            f.write(site(base))
        return conf

    def start(self, name, cls, conf, extra_env=None):
        logs = os.path.join(self.work, name, "logs")
        p = Proc([os.path.join(self.home, "bin/hadoop"), cls],
                 os.path.join(self.work, name, cls.split(".")[-1] + ".log"),
                 self.env(conf, logs, extra_env))
        self.procs.append(p)
        return p

    def wait_log(self, proc, pattern, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.p.poll() is not None:
                sys.exit(f"{proc.log}: exited early\n" + open(proc.log).read()[-3000:])
            if re.search(pattern, open(proc.log).read()):
                return
            time.sleep(0.2)
        sys.exit(f"{proc.log}: no /{pattern}/ within {timeout}s")

    def job(self, name, conf):
        out = os.path.join(self.work, name, f"out-{time.time_ns()}")
        log = out + ".log"
        t0 = time.monotonic()
        r = subprocess.run(
            [os.path.join(self.home, "bin/hadoop"), "jar",
             os.path.join(self.home, "lib/hadoop-examples-1.2.1.jar"), "wordcount", self.input, out],
            env=self.env(conf, os.path.join(self.work, name, "client-logs")),
            stdout=open(log, "w"), stderr=subprocess.STDOUT,
        )
        dt = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"job failed: see {log}")
        shutil.rmtree(out)
        return dt

    # --- setups ------------------------------------------------------------------------

    def static(self, name):
        conf = self.conf_dir(name, {"mapred.job.tracker": f"127.0.0.1:{free_port()}"})
        jt = self.start(name, "jobtracker", conf)
        self.wait_log(jt, "Starting RUNNING")
        return conf, jt

    def remesos_cluster(self):
        port = free_port()
        self.master = f"127.0.0.1:{port}"
        env = dict(os.environ, JAVA_HOME=self.java_home)
        p = Proc([self.args.remesos, "local", "--num_agents=1", f"--port={port}",
                  f"--first_agent_port={free_port()}",
                  f"--work_dir={os.path.join(self.work, 'mesos')}",
                  # Room for exactly one TaskTracker (1 cpu) with 3 slots (1 cpu each), so
                  # MesosScheduler cannot add slots the static side does not have. The warm
                  # and cold JobTrackers never run at the same time.
                  "--resources=cpus:4;mem:8192;disk:8192;ports:[31000-31999]",
                  "--allocation_interval=100ms"],
                 os.path.join(self.work, "remesos.log"), env)
        self.procs.append(p)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                state = json.load(urllib.request.urlopen(f"http://{self.master}/master/state"))
                if state.get("activated_slaves") == 1:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit("remesos local did not come up")

    def remesos(self, name, warm):
        mapred = {
            "mapred.job.tracker": f"127.0.0.1:{free_port()}",
            "mapred.jobtracker.taskScheduler": "org.apache.hadoop.mapred.MesosScheduler",
            "mapred.mesos.master": self.master,
            "mapred.mesos.executor.directory": self.home,
            "mapred.mesos.slot.cpus": "1", "mapred.mesos.slot.mem": "512", "mapred.mesos.slot.disk": "256",
            "mapred.mesos.tasktracker.cpus": "1", "mapred.mesos.tasktracker.mem": "640",
            "mapred.mesos.tasktracker.disk": "256",
            "mapred.mesos.tracker.idle.interval": "1", "mapred.mesos.tracker.idle.checks": "2",
            "mapred.mesos.offer.refuse.seconds": "5",
            "mapred.mesos.framework.name": f"bench {name}",
        }
        if warm:
            mapred["mapred.mesos.total.map.slots.minimum"] = "2"
            mapred["mapred.mesos.total.reduce.slots.minimum"] = "1"
        conf = self.conf_dir(name, mapred)
        jt = self.start(name, "jobtracker", conf, {"MESOS_NATIVE_JAVA_LIBRARY": self.args.libmesos})
        self.wait_log(jt, "registered as framework")
        if warm:
            self.wait_log(jt, "joined: first heartbeat", 120)
        return conf, jt

    def wait_no_trackers(self, jt, launched_before):
        """Cold runs start from zero trackers: wait until every launched one has ended."""
        deadline = time.time() + 120
        while time.time() < deadline:
            text = open(jt.log).read()
            if len(re.findall(r"TaskTracker \S+ \(\S+\) ended", text)) >= launched_before:
                return
            time.sleep(0.2)
        sys.exit("trackers were not killed when idle")

    def run(self):
        runs = self.args.runs
        results = {}
        want_remesos = self.args.only != "static"
        want_static = self.args.only != "remesos"
        if want_remesos:
            self.remesos_cluster()

        # Warm: both pools up before the first run.
        if want_static:
            s_conf, s_jt = self.static("static-warm")
            tt = self.start("static-warm", "tasktracker", s_conf)
            self.wait_log(s_jt, "Adding tracker")
        if want_remesos:
            r_conf, r_jt = self.remesos("remesos-warm", warm=True)
        for i in range(runs):
            if want_static:
                results.setdefault("warm static", []).append(self.job("static-warm", s_conf))
            if want_remesos:
                results.setdefault("warm remesos", []).append(self.job("remesos-warm", r_conf))
            print(f"warm run {i + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in results.items()), flush=True)
        if want_static:
            tt.stop()
            s_jt.stop()
        if want_remesos:
            r_jt.stop()

        # Cold: nothing running when the job is submitted.
        if want_static:
            s_conf, s_jt = self.static("static-cold")
        if want_remesos:
            c_conf, c_jt = self.remesos("remesos-cold", warm=False)
        launched = 0
        for i in range(runs):
            if want_static:
                t0 = time.monotonic()
                tt = self.start("static-cold", "tasktracker", s_conf)
                self.job("static-cold", s_conf)
                # The TaskTracker's start is part of the run: from its exec to the job's end.
                results.setdefault("cold static", []).append(time.monotonic() - t0)
                tt.stop()
                self.procs.remove(tt)
            if want_remesos:
                results.setdefault("cold remesos", []).append(self.job("remesos-cold", c_conf))
                launched = len(re.findall(r"launching TaskTracker", open(c_jt.log).read()))
                self.wait_no_trackers(c_jt, launched)
            print(f"cold run {i + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in results.items() if k.startswith("cold")), flush=True)

        print()
        print(f"WordCount, {self.args.input_mb} MB input in 4 files (4 maps, 1 reduce), "
              f"1 TaskTracker with 2 map + 1 reduce slots, {runs} alternating runs")
        print("| setup | median s | min s | max s | runs |")
        print("|---|---:|---:|---:|---:|")
        for k, v in results.items():
            print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} | {len(v)} |")
        for warmth in ("warm", "cold"):
            s, r = results.get(f"{warmth} static"), results.get(f"{warmth} remesos")
            if s and r:
                print(f"{warmth}: remesos / static = {statistics.median(r) / statistics.median(s):.3f}")
        if want_remesos:
            lat_run, lat_hb = [], []
            for jt in (r_jt, c_jt):
                text = open(jt.log).read()
                lat_run += [int(x) for x in re.findall(r"RUNNING (\d+) ms after launch", text)]
                lat_hb += [int(x) for x in re.findall(r"first heartbeat (\d+) ms after launch", text)]
            for name, v in (("launchTasks -> TASK_RUNNING", lat_run), ("launchTasks -> first heartbeat", lat_hb)):
                if v:
                    print(f"TaskTracker launch latency, {name}: median {statistics.median(v)} ms, "
                          f"min {min(v)}, max {max(v)} ({len(v)} launches)")

    def close(self):
        for p in reversed(self.procs):
            p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--input-mb", type=int, default=8)
    ap.add_argument("--only", choices=["static", "remesos"])
    ap.add_argument("--work-dir", default="/tmp/remesos-hadoop-bench")
    ap.add_argument("--remesos", default=os.environ.get("REMESOS_BIN", os.path.join(ROOT, "target/release/remesos")))
    ap.add_argument("--libmesos", default=os.environ.get("REMESOS_LIBMESOS", os.path.join(ROOT, "target/release/libmesos.so")))
    args = ap.parse_args()
    if args.only != "static":
        for path in (args.remesos, args.libmesos):
            if not os.path.exists(path):
                sys.exit(f"{path} missing (use --only static for the baseline alone)")
    b = Bench(args)
    try:
        b.run()
    finally:
        b.close()


if __name__ == "__main__":
    main()
