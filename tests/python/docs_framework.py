#!/usr/bin/env python3
"""A scheduler written against Mesos's scheduler HTTP API documentation
(docs/scheduler-http-api.md), using only the Python standard library.

It SUBSCRIBEs (JSON, RecordIO over a chunked response), and on each offer with room
launches command tasks of 1 cpu / 128 MB until `--tasks` have been launched; it acknowledges
every status update that carries a uuid, and exits 0 once all tasks are FINISHED (after a
TEARDOWN), or 1 on any other terminal state or a timeout.

Usage: docs_framework.py --master host:port [--tasks N] [--timeout SECONDS]
"""
import argparse
import http.client
import json
import sys
import threading
import time

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


def records(response):
    """Yields RecordIO records ("<length>\\n<bytes>") from a streaming response."""
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(1)
            if not chunk:
                return
            buf += chunk
        header, buf = buf.split(b"\n", 1)
        length = int(header)
        while len(buf) < length:
            chunk = response.read1(65536)
            if not chunk:
                return
            buf += chunk
        record, buf = buf[:length], buf[length:]
        yield json.loads(record)


class Framework:
    def __init__(self, master, tasks):
        self.master = master
        self.wanted = tasks
        self.launched = 0
        self.finished = 0
        self.failed = []
        self.stream_id = None
        self.framework_id = None

    def post(self, call):
        conn = http.client.HTTPConnection(self.master, timeout=10)
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Mesos-Stream-Id": self.stream_id}
        conn.request("POST", "/api/v1/scheduler", json.dumps(call), headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status not in (200, 202):
            raise RuntimeError(f"{call['type']} -> {response.status} {body!r}")

    def call(self, kind, **body):
        call = {"framework_id": {"value": self.framework_id}, "type": kind}
        call.update(body)
        self.post(call)

    def on_offers(self, offers):
        for offer in offers:
            cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
            mem = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "mem")
            tasks = []
            while self.launched < self.wanted and cpus >= 1 and mem >= 128:
                task_id = f"task-{self.launched}"
                self.launched += 1
                cpus -= 1
                mem -= 128
                role = offer.get("allocation_info", {}).get("role", "*")
                tasks.append({
                    "name": task_id,
                    "task_id": {"value": task_id},
                    "agent_id": offer["agent_id"],
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                         "allocation_info": {"role": role}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 128},
                         "allocation_info": {"role": role}},
                    ],
                    "command": {"value": "echo hello"},
                })
            if tasks:
                self.call("ACCEPT", accept={
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
                    "filters": {"refuse_seconds": 5.0},
                })
            else:
                self.call("DECLINE", decline={"offer_ids": [offer["id"]],
                                               "filters": {"refuse_seconds": 5.0}})

    def on_update(self, status):
        if "uuid" in status:
            self.call("ACKNOWLEDGE", acknowledge={
                "agent_id": status["agent_id"], "task_id": status["task_id"],
                "uuid": status["uuid"]})
        state = status["state"]
        print(f"{status['task_id']['value']}: {state}", flush=True)
        if state == "TASK_FINISHED":
            self.finished += 1
        elif state in TERMINAL:
            self.failed.append((status["task_id"]["value"], state, status.get("message")))

    def run(self):
        subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "root", "name": "Example HTTP Framework",
            "roles": ["*"], "capabilities": [{"type": "MULTI_ROLE"}]}}}
        conn = http.client.HTTPConnection(self.master, timeout=30)
        conn.request("POST", "/api/v1/scheduler", json.dumps(subscribe),
                     {"Content-Type": "application/json", "Accept": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"SUBSCRIBE -> {response.status} {response.read()!r}")
        self.stream_id = response.getheader("Mesos-Stream-Id")
        for event in records(response):
            kind = event["type"]
            if kind == "SUBSCRIBED":
                self.framework_id = event["subscribed"]["framework_id"]["value"]
                print(f"subscribed as {self.framework_id}", flush=True)
            elif kind == "OFFERS":
                self.on_offers(event["offers"]["offers"])
            elif kind == "UPDATE":
                self.on_update(event["update"]["status"])
            elif kind == "ERROR":
                raise RuntimeError(event["error"]["message"])
            if self.failed:
                return 1
            if self.finished == self.wanted:
                self.call("TEARDOWN")
                return 0
        return 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    framework = Framework(args.master, args.tasks)
    result = {}
    thread = threading.Thread(target=lambda: result.update(rc=framework.run()), daemon=True)
    thread.start()
    thread.join(args.timeout)
    if thread.is_alive():
        print(f"timed out: {framework.finished}/{args.tasks} finished", file=sys.stderr)
        return 1
    if framework.failed:
        print(f"failed tasks: {framework.failed}", file=sys.stderr)
    return result.get("rc", 1)


if __name__ == "__main__":
    sys.exit(main())
