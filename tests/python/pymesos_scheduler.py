#!/usr/bin/env python3
"""The Python scheduler of Mesos's docs, on pymesos (a pure-Python client of the v1 APIs).

On each offer with room it launches command tasks of 1 cpu / 128 MB until `--tasks` have
been launched, declines the rest, and stops once every task is FINISHED (exit 0) or any
ends otherwise (exit 1).

Usage: pymesos_scheduler.py --master host:port [--tasks N] [--timeout SECONDS]
                            [--principal P --secret S]

With --principal and --secret pymesos sends them as HTTP Basic on every request.
"""
import argparse
import sys
import threading
import uuid

from pymesos import MesosSchedulerDriver, Scheduler, encode_data  # noqa: F401
from addict import Dict

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


def scalar(resources, name):
    return sum(r.scalar.value for r in resources if r.name == name)


class DocsScheduler(Scheduler):
    def __init__(self, tasks):
        self.wanted = tasks
        self.launched = 0
        self.finished = 0
        self.failed = []
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = scalar(offer.resources, "cpus")
            mem = scalar(offer.resources, "mem")
            tasks = []
            while self.launched < self.wanted and cpus >= 1 and mem >= 128:
                task = Dict()
                task.task_id.value = "pymesos-%d-%s" % (self.launched, uuid.uuid4().hex[:6])
                task.agent_id.value = offer.agent_id.value
                task.name = "task %d" % self.launched
                task.command.value = "echo hello from pymesos"
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 128}),
                ]
                tasks.append(task)
                self.launched += 1
                cpus -= 1
                mem -= 128
            if tasks:
                driver.launchTasks(offer.id, tasks, filters={"refuse_seconds": 5})
            else:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 5})

    def statusUpdate(self, driver, update):
        print("%s: %s" % (update.task_id.value, update.state), flush=True)
        if update.state == "TASK_FINISHED":
            self.finished += 1
        elif update.state in TERMINAL:
            self.failed.append((update.task_id.value, update.state, update.get("message")))
        if self.failed or self.finished == self.wanted:
            self.done.set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--principal")
    parser.add_argument("--secret")
    args = parser.parse_args()
    scheduler = DocsScheduler(args.tasks)
    framework = Dict(user="root", name="pymesos docs scheduler", hostname="localhost")
    if args.principal:
        framework.principal = args.principal
    driver = MesosSchedulerDriver(scheduler, framework, args.master, use_addict=True,
                                  principal=args.principal, secret=args.secret)
    driver.start()
    finished = scheduler.done.wait(args.timeout)
    driver.stop()
    if not finished:
        print("timed out: %d/%d finished" % (scheduler.finished, args.tasks), file=sys.stderr)
        return 1
    if scheduler.failed:
        print("failed: %s" % scheduler.failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
