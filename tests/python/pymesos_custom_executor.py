#!/usr/bin/env python3
"""A pymesos scheduler that runs several tasks under one custom executor
(tests/python/pymesos_executor.py) and talks to it with framework messages both ways.

Exit 0 once every task is FINISHED with its data echoed back, 1 otherwise.
Usage: pymesos_custom_executor.py --master host:port [--tasks N] [--timeout SECONDS]
"""
import argparse
import os
import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data
from addict import Dict

HERE = os.path.dirname(os.path.abspath(__file__))


class CustomScheduler(Scheduler):
    def __init__(self, tasks):
        self.wanted = tasks
        self.launched = False
        self.finished = {}
        self.failed = []
        self.hellos = 0
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            if self.launched or cpus < 0.1 + 0.2 * self.wanted:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 5})
                continue
            self.launched = True
            executor = Dict()
            executor.executor_id.value = "echo-executor"
            executor.name = "pymesos echo executor"
            executor.command.value = "%s %s" % (sys.executable, os.path.join(HERE, "pymesos_executor.py"))
            executor.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32}),
            ]
            tasks = []
            for i in range(self.wanted):
                task = Dict()
                task.task_id.value = "echo-%d" % i
                task.agent_id.value = offer.agent_id.value
                task.name = "echo %d" % i
                task.executor = executor
                task.data = encode_data(("payload-%d" % i).encode())
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.2}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                tasks.append(task)
            driver.launchTasks(offer.id, tasks)

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        text = decode_data(message).decode()
        print("message from %s: %s" % (executor_id.value, text), flush=True)
        if text.startswith("hello "):
            self.hellos += 1
            task_id = text.split(" ", 1)[1]
            driver.sendFrameworkMessage(executor_id, agent_id, encode_data(("finish %s" % task_id).encode()))

    def statusUpdate(self, driver, update):
        print("%s: %s %s" % (update.task_id.value, update.state, update.get("message", "")), flush=True)
        if update.state == "TASK_FINISHED":
            self.finished[update.task_id.value] = update.get("message", "")
        elif update.state not in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
            self.failed.append((update.task_id.value, update.state, update.get("message")))
        if self.failed or len(self.finished) == self.wanted:
            self.done.set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    scheduler = CustomScheduler(args.tasks)
    framework = Dict(user="root", name="pymesos custom executor", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, args.master, use_addict=True)
    driver.start()
    ok = scheduler.done.wait(args.timeout)
    driver.stop()
    expected = {"echo-%d" % i: "echo: payload-%d" % i for i in range(args.tasks)}
    if not ok or scheduler.failed or scheduler.finished != expected or scheduler.hellos != args.tasks:
        print("finished=%s failed=%s hellos=%d" % (scheduler.finished, scheduler.failed, scheduler.hellos),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
