#!/usr/bin/env python3
"""Launches one command task in each of Mesos's container types, on pymesos.

`docker`: a DOCKER container of --docker-image (the agent's docker containerizer);
`mesos`: a MESOS container whose `mesos.image` is the docker image --mesos-image (the
mesos containerizer provisions it from its --docker_registry). Both run --command with
0.1 cpu / 32 MB. Prints every status update; exits 0 once both are TASK_FINISHED, 1 when
one ends otherwise or --timeout passes.

Usage: pymesos_containers.py --master host:port --docker-image I --mesos-image I
                             --command C [--timeout SECONDS]
"""
import argparse
import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler
from addict import Dict

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


def scalar(resources, name):
    return sum(r.scalar.value for r in resources if r.name == name)


class ContainerScheduler(Scheduler):
    def __init__(self, docker_image, mesos_image, command):
        self.pending = [
            ("docker", {"type": "DOCKER", "docker": {"image": docker_image}}),
            ("mesos", {"type": "MESOS",
                       "mesos": {"image": {"type": "DOCKER", "docker": {"name": mesos_image}}}}),
        ]
        self.total = len(self.pending)
        self.command = command
        self.finished = 0
        self.failed = []
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = scalar(offer.resources, "cpus")
            mem = scalar(offer.resources, "mem")
            tasks = []
            while self.pending and cpus >= 0.1 and mem >= 32:
                name, container = self.pending.pop(0)
                task = Dict()
                task.task_id.value = name
                task.agent_id.value = offer.agent_id.value
                task.name = name
                task.container = container
                task.command.value = self.command
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                tasks.append(task)
                cpus -= 0.1
                mem -= 32
            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 5})

    def statusUpdate(self, driver, update):
        message = update.get("message")
        print("%s %s%s" % (update.task_id.value, update.state,
                           " (%s)" % message if message else ""), flush=True)
        if update.state == "TASK_FINISHED":
            self.finished += 1
        elif update.state in TERMINAL:
            self.failed.append((update.task_id.value, update.state, message))
        if self.finished + len(self.failed) == self.total:
            self.done.set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--docker-image", required=True)
    parser.add_argument("--mesos-image", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    scheduler = ContainerScheduler(args.docker_image, args.mesos_image, args.command)
    framework = Dict(user="root", name="pymesos containers", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, args.master, use_addict=True)
    driver.start()
    ended = scheduler.done.wait(args.timeout)
    driver.stop()
    if not ended:
        print("timed out: %d/%d finished" % (scheduler.finished, scheduler.total),
              file=sys.stderr)
        return 1
    if scheduler.failed:
        print("failed: %s" % scheduler.failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
