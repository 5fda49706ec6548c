#!/usr/bin/env python3
"""Exec latency: from the call to the first output byte (issue 16's figure; method in
bench/README.md).

remesos: `remesos master` + one `remesos agent` (loopback, posix isolation); a command task
`sleep 3600` launched with `remesos execute`; then, one at a time,
  api: LAUNCH_NESTED_CONTAINER_SESSION `echo x` under the task's executor container over a
       kept-alive HTTP/1.1 connection, timed from sending the request to the first byte of
       the RecordIO body (the STDOUT record);
  cli: `remesos task exec <task> echo x`, timed from starting the process to the first byte
       on its stdout (master state, agent state, the session: what a user waits for).
anchor: `docker exec <container> echo x` on a running `sleep 3600` container of the same
       busybox image, timed from starting the CLI to the first byte on its stdout — only
       when a dockerd answers on /var/run/docker.sock (else the anchor is left out).

Usage: python3 bench/exec/bench.py [--runs 50] [--remesos target/release/remesos]
"""
import argparse
import http.client
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

IMAGE = "remesos-test-busybox:latest"


# free_port and wait_http are the docker bench's (one copy in the tree).
_docker = importlib.util.spec_from_file_location(
    "docker_bench", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docker", "bench.py"))
docker_bench = importlib.util.module_from_spec(_docker)
_docker.loader.exec_module(docker_bench)
free_port, wait_http = docker_bench.free_port, docker_bench.wait_http


def agent_state(agent):
    c = http.client.HTTPConnection(agent, timeout=5)
    c.request("GET", "/state")
    return json.loads(c.getresponse().read())


def first_byte(argv):
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = p.stdout.read(1)
    elapsed = time.perf_counter() - start
    p.stdout.read()
    if p.wait() != 0 or first != b"x":
        raise SystemExit(f"{argv} failed (exit {p.returncode}, first byte {first!r})")
    return elapsed


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def report(name, values):
    ms = [v * 1000 for v in values]
    print(f"{name:<28} n={len(ms):<4} p50={pct(ms, 0.5):8.1f} ms  p99={pct(ms, 0.99):8.1f} ms  "
          f"mean={statistics.mean(ms):8.1f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--remesos", default="target/release/remesos")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="remesos-exec-bench-")
    mport, aport = free_port(), free_port()
    master, agent = f"127.0.0.1:{mport}", f"127.0.0.1:{aport}"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [args.remesos, "master", "--ip=127.0.0.1", f"--port={mport}",
             f"--work_dir={work}/master", "--allocation_interval=100ms", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(master, "/health")
        procs.append(subprocess.Popen(
            [args.remesos, "agent", f"--master={master}", "--ip=127.0.0.1", f"--port={aport}",
             f"--work_dir={work}/agent", "--resources=cpus:2;mem:2048", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(agent, "/health")
        procs.append(subprocess.Popen(
            [args.remesos, "execute", f"--master={master}", "--name=bench-exec",
             "--command=sleep 3600", "--resources=cpus:0.1;mem:32", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        container = task_id = None
        deadline = time.time() + 60
        while container is None and time.time() < deadline:
            state = agent_state(agent)
            for f in state["frameworks"]:
                for e in f["executors"]:
                    for t in e["tasks"]:
                        if t["state"] == "TASK_RUNNING":
                            container, task_id = e["container"], t["id"]
            time.sleep(0.2)
        if container is None:
            raise SystemExit("the task did not start")
        conn = http.client.HTTPConnection(agent)
        api = []
        for _ in range(args.runs):
            call = {"type": "LAUNCH_NESTED_CONTAINER_SESSION", "launch_nested_container_session": {
                "container_id": {"value": str(uuid.uuid4()), "parent": {"value": container}},
                "command": {"shell": False, "value": "echo", "arguments": ["echo", "x"]}}}
            start = time.perf_counter()
            conn.request("POST", "/api/v1", json.dumps(call), {
                "Content-Type": "application/json", "Accept": "application/recordio",
                "Message-Accept": "application/json"})
            r = conn.getresponse()
            if r.status != 200:
                raise SystemExit(f"LAUNCH_NESTED_CONTAINER_SESSION: {r.status} {r.read()!r}")
            r.read(1)
            api.append(time.perf_counter() - start)
            r.read()
        cli = [first_byte([args.remesos, "task", "exec", f"--master={master}", task_id,
                           "echo", "x"]) for _ in range(args.runs)]
        docker = []
        if os.path.exists("/var/run/docker.sock") and subprocess.run(
                ["docker", "info"], capture_output=True).returncode == 0:
            name = f"bench-exec-{os.getpid()}"
            subprocess.run(["docker", "run", "-d", "--rm", "--name", name, IMAGE, "sleep", "3600"],
                           check=True, capture_output=True)
            try:
                docker = [first_byte(["docker", "exec", name, "echo", "x"])
                          for _ in range(args.runs)]
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        print(f"load average at the end: {os.getloadavg()}", file=sys.stderr)
        report("remesos api (session)", api)
        report("remesos task exec (cli)", cli)
        if docker:
            report("docker exec (cli)", docker)
            print(f"ratio cli p50: {pct(cli, 0.5) / pct(docker, 0.5):.2f}x")
        else:
            print("docker exec: no dockerd on /var/run/docker.sock; anchor left out")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
