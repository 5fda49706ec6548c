#!/usr/bin/env python3
"""Container launch latency to TASK_RUNNING, docker containerizer vs plain `docker run`
(issue 15's figures; method in bench/README.md).

remesos: `remesos master` + one `remesos agent --containerizers=mesos,docker`; a framework
on the v1 scheduler HTTP API (JSON, RecordIO stream) launches one command task at a time in
a DOCKER container of the (cached) test image running `exec sleep 600`, and measures from
sending ACCEPT to receiving TASK_RUNNING (the docker executor sends it once `docker inspect`
shows the container running); then it kills the task and waits for TASK_KILLED before the
next launch.

anchor: `docker run -d --name <n> <image> sleep 600` of the same image on the same dockerd,
timed from start to exit (the CLI returns once the container runs), then `docker rm -f`.

The two alternate (remesos launch, docker run, ...) so drifts of a shared machine hit both.

Usage: python3 bench/docker/bench.py [--runs 30] [--remesos target/release/remesos]
                                    [--docker_socket /var/run/docker.sock]
Needs dockerd on that socket and the image of tests/docker/build-image.sh (built if missing).
"""
import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import queue

IMAGE = "remesos-test-busybox:latest"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(addr, path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(addr, timeout=2)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{addr}{path} did not answer")


class Scheduler:
    """A minimal v1 scheduler over JSON: events into a queue, calls on a second connection."""

    def __init__(self, master):
        self.master = master
        self.events = queue.Queue()
        self.conn = http.client.HTTPConnection(master)
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "root", "name": "docker-bench", "roles": ["*"],
            "capabilities": [{"type": "MULTI_ROLE"}]}}})
        self.conn.request("POST", "/api/v1/scheduler", body,
                          {"Content-Type": "application/json", "Accept": "application/json"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.stream_id = self.resp.getheader("Mesos-Stream-Id")
        self.framework_id = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            line = self.resp.readline()
            if not line:
                return
            size = int(line.strip())
            event = json.loads(self.resp.read(size))
            self.events.put((time.perf_counter(), event))

    def call(self, call):
        call["framework_id"] = {"value": self.framework_id}
        c = http.client.HTTPConnection(self.master)
        c.request("POST", "/api/v1/scheduler", json.dumps(call),
                  {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id})
        r = c.getresponse()
        r.read()
        assert r.status == 202, (r.status, call["type"])

    def next(self, kind):
        while True:
            at, event = self.events.get(timeout=120)
            if event["type"] == "SUBSCRIBED":
                self.framework_id = event["subscribed"]["framework_id"]["value"]
            if event["type"] == "UPDATE":
                status = event["update"]["status"]
                if "uuid" in status:
                    self.call({"type": "ACKNOWLEDGE", "acknowledge": {
                        "agent_id": status["agent_id"], "task_id": status["task_id"],
                        "uuid": status["uuid"]}})
            if event["type"] == kind:
                return at, event


def remesos_launch(s, i):
    _, event = s.next("OFFERS")
    offer = event["offers"]["offers"][0]
    for extra in event["offers"]["offers"][1:]:
        s.call({"type": "DECLINE", "decline": {"offer_ids": [extra["id"]]}})
    role = offer.get("allocation_info", {}).get("role", "*")
    task_id = f"bench-{i}"
    resources = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}, "role": "*",
         "allocation_info": {"role": role}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}, "role": "*",
         "allocation_info": {"role": role}},
    ]
    task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
            "resources": resources,
            "command": {"value": "exec sleep 600"},
            "container": {"type": "DOCKER", "docker": {"image": IMAGE}}}
    start = time.perf_counter()
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "LAUNCH", "launch": {"task_infos": [task]}}], "filters": {"refuse_seconds": 0}}})
    while True:
        at, event = s.next("UPDATE")
        state = event["update"]["status"]["state"]
        if state == "TASK_RUNNING":
            running = at
            break
        if state not in ("TASK_STARTING", "TASK_STAGING"):
            raise SystemExit(f"task {task_id}: {state} {event['update']['status'].get('message')}")
    s.call({"type": "KILL", "kill": {"task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                                      "kill_policy": {"grace_period": {"nanoseconds": 0}}}})
    while True:
        _, event = s.next("UPDATE")
        if event["update"]["status"]["state"] in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"):
            break
    return (running - start) * 1000


def docker_run(socket_path, i):
    docker = ["docker", "-H", f"unix://{socket_path}"]
    name = f"bench-anchor-{os.getpid()}-{i}"
    start = time.perf_counter()
    subprocess.run(docker + ["run", "-d", "--name", name, "--net", "host", IMAGE, "sleep", "600"],
                   check=True, stdout=subprocess.DEVNULL)
    took = (time.perf_counter() - start) * 1000
    subprocess.run(docker + ["rm", "-f", name], check=True, stdout=subprocess.DEVNULL)
    return took


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--remesos", default="target/release/remesos")
    ap.add_argument("--docker_socket", default="/var/run/docker.sock")
    args = ap.parse_args()
    subprocess.run(["bash", "tests/docker/build-image.sh", args.docker_socket], check=True)
    work = tempfile.mkdtemp(prefix="remesos-docker-bench-")
    mport, aport = free_port(), free_port()
    master = f"127.0.0.1:{mport}"
    procs = [
        subprocess.Popen([args.remesos, "master", "--ip=127.0.0.1", f"--port={mport}",
                          f"--work_dir={work}/master", "--allocation_interval=50ms", "--quiet"]),
        subprocess.Popen([args.remesos, "agent", f"--master={master}", "--ip=127.0.0.1",
                          f"--port={aport}", f"--work_dir={work}/agent", "--hostname=localhost",
                          "--resources=cpus:4;mem:4096", "--containerizers=mesos,docker",
                          f"--docker_socket={args.docker_socket}",
                          "--docker_remove_delay=0ns", "--docker_kill_orphans=false", "--quiet"]),
    ]
    try:
        wait_http(master, "/health")
        s = Scheduler(master)
        s.next("SUBSCRIBED")
        ours, anchor = [], []
        for i in range(args.runs + 2):
            a = remesos_launch(s, i)
            b = docker_run(args.docker_socket, i)
            if i >= 2:  # the first two warm caches
                ours.append(a)
                anchor.append(b)
        rows = {}
        for name, v in (("docker containerizer", ours), ("docker run -d", anchor)):
            rows[name] = {"p50_ms": round(pct(v, 50), 1), "p99_ms": round(pct(v, 99), 1),
                          "mean_ms": round(statistics.mean(v), 1)}
        ratio = {k: round(rows["docker containerizer"][k] / rows["docker run -d"][k], 2)
                 for k in ("p50_ms", "p99_ms")}
        load = os.getloadavg()[0]
        print(json.dumps({"runs": args.runs, "rows": rows, "ratio": ratio,
                          "machine": f"{platform.machine()} {os.cpu_count()} cpus",
                          "load_1m": round(load, 1),
                          "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
