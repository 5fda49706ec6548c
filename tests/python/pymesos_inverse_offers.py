#!/usr/bin/env python3
"""A pymesos framework that answers inverse offers (Mesos's docs/maintenance.md).

It launches one long task, then waits for the operator to schedule maintenance on its
agent. It declines the first inverse offer (with a 1 s filter), accepts the second, and
once an inverse offer is rescinded (the machine left the schedule) it kills its task and
exits 0. Each step is one line on stdout, for core/tests/drain.rs to follow:

  RUNNING <agent id>    the task runs
  DECLINED <id>         the first inverse offer was declined
  ACCEPTED <id>         the second was accepted (without filters)
  HELD <id>             a later one is left unanswered
  RESCINDED <id>        an inverse offer was rescinded
  DONE                  the task ended after the kill

Usage: pymesos_inverse_offers.py --master host:port [--timeout SECONDS]
"""
import argparse
import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler
from addict import Dict


def say(line):
    print(line, flush=True)


class InverseOfferScheduler(Scheduler):
    def __init__(self):
        self.launched = False
        self.answers = 0
        self.rescinded = False
        self.done = threading.Event()
        self.failed = []
        self.agent_id = None

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 3600})
                continue
            task = Dict()
            task.task_id.value = "held"
            task.agent_id.value = offer.agent_id.value
            task.name = "held"
            task.command.value = "sleep 600"
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32}),
            ]
            self.launched = True
            self.agent_id = offer.agent_id.value
            driver.launchTasks(offer.id, [task], filters={"refuse_seconds": 3600})

    def inverseOffers(self, driver, offers):
        for offer in offers:
            if self.rescinded:
                continue
            self.answers += 1
            if self.answers == 1:
                driver.declineInverseOffer(offer.id, filters={"refuse_seconds": 1})
                say("DECLINED %s" % offer.id.value)
            elif self.answers == 2:
                # Without filters: the master asks again in its next round.
                driver.acceptInverseOffers(offer.id)
                say("ACCEPTED %s" % offer.id.value)
            else:
                say("HELD %s" % offer.id.value)

    def inverseOfferRescinded(self, driver, offer_id):
        if not self.rescinded:
            self.rescinded = True
            say("RESCINDED %s" % offer_id.value)
            driver.killTask({"value": "held"})

    def statusUpdate(self, driver, update):
        if update.state == "TASK_RUNNING":
            say("RUNNING %s" % self.agent_id)
        elif update.state == "TASK_KILLED" and self.rescinded:
            say("DONE")
            self.done.set()
        elif update.state not in ("TASK_STARTING", "TASK_STAGING", "TASK_KILLING"):
            self.failed.append((update.task_id.value, update.state, update.get("message")))
            self.done.set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    scheduler = InverseOfferScheduler()
    framework = Dict(user="", name="pymesos inverse offers", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, args.master, use_addict=True)
    driver.start()
    finished = scheduler.done.wait(args.timeout)
    driver.stop()
    if not finished:
        print("timed out after %d answers" % scheduler.answers, file=sys.stderr)
        return 1
    if scheduler.failed:
        print("failed: %s" % scheduler.failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
