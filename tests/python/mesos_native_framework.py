#!/usr/bin/env python3
# The example framework of Mesos's Python docs (src/examples/python/test_framework.py's
# shape), run unmodified but for its imports on Python 3 through remesos's `mesos.native`:
# it launches TOTAL_TASKS tasks on a custom Python executor (mesos_native_executor.py, run as
# `python3 mesos_native_executor.py`), checks each task's status data, sends each finished
# task's executor a framework message and waits for the echo, then stops.
#
#   python3 mesos_native_framework.py MASTER [TOTAL_TASKS] [TASK_SECONDS]
#
# MASTER is host:port, zk://host:port/path, file:///path or local. After a master failover
# it reconciles its tasks (reregistered -> reconcileTasks([])). Exit status 0: all tasks
# finished and every message came back.
import os
import sys
import time

import mesos.interface
import mesos.native
from mesos.interface import mesos_pb2

TASK_CPUS = 0.1
TASK_MEM = 32


class TestScheduler(mesos.interface.Scheduler):
    def __init__(self, executor, total_tasks, task_seconds):
        self.executor = executor
        self.total_tasks = total_tasks
        self.task_seconds = task_seconds
        self.taskData = {}
        self.tasksLaunched = 0
        self.tasksFinished = 0
        self.messagesSent = 0
        self.messagesReceived = 0
        self.finished = set()
        self.failed = False
        self.reconciling = False

    def registered(self, driver, frameworkId, masterInfo):
        print("Registered with framework ID %s" % frameworkId.value, flush=True)

    def reregistered(self, driver, masterInfo):
        print("Reregistered with master %s" % masterInfo.id, flush=True)
        # A new leading master: ask it for the state of every task of this framework (again
        # with its first offers, by when the agents have reregistered with it too), until
        # it answers.
        self.reconciling = True
        driver.reconcileTasks([])

    def disconnected(self, driver):
        print("Disconnected from the master", flush=True)

    def resourceOffers(self, driver, offers):
        if self.reconciling:
            driver.reconcileTasks([])
        for offer in offers:
            tasks = []
            offerCpus = 0
            offerMem = 0
            for resource in offer.resources:
                if resource.name == "cpus":
                    offerCpus += resource.scalar.value
                elif resource.name == "mem":
                    offerMem += resource.scalar.value

            print("Received offer %s with cpus: %s and mem: %s"
                  % (offer.id.value, offerCpus, offerMem), flush=True)

            remainingCpus = offerCpus
            remainingMem = offerMem

            while self.tasksLaunched < self.total_tasks and \
                    remainingCpus >= TASK_CPUS and \
                    remainingMem >= TASK_MEM:
                tid = self.tasksLaunched
                self.tasksLaunched += 1

                print("Launching task %d using offer %s" % (tid, offer.id.value), flush=True)

                task = mesos_pb2.TaskInfo()
                task.task_id.value = str(tid)
                task.slave_id.value = offer.slave_id.value
                task.name = "task %d" % tid
                task.executor.MergeFrom(self.executor)
                task.data = str(self.task_seconds).encode()

                cpus = task.resources.add()
                cpus.name = "cpus"
                cpus.type = mesos_pb2.Value.SCALAR
                cpus.scalar.value = TASK_CPUS

                mem = task.resources.add()
                mem.name = "mem"
                mem.type = mesos_pb2.Value.SCALAR
                mem.scalar.value = TASK_MEM

                tasks.append(task)
                self.taskData[task.task_id.value] = (offer.slave_id, task.executor.executor_id)

                remainingCpus -= TASK_CPUS
                remainingMem -= TASK_MEM

            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id)

    def statusUpdate(self, driver, update):
        state = mesos_pb2.TaskState.Name(update.state)
        print("Task %s is in state %s" % (update.task_id.value, state), flush=True)

        if update.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION:
            # The master's answer to reconcileTasks: it carries no data.
            print("Reconciled task %s: %s" % (update.task_id.value, state), flush=True)
            self.reconciling = False
        # Ensure the binary data came through.
        elif update.state in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED) and \
                update.data != b"data with a \0 byte":
            print("The update data did not match!", flush=True)
            print("  Expected: 'data with a \\x00 byte'", flush=True)
            print("  Actual:  ", repr(update.data), flush=True)
            self.failed = True
            driver.abort()
            return

        if update.state == mesos_pb2.TASK_FINISHED:
            if update.task_id.value in self.finished:
                return
            self.finished.add(update.task_id.value)
            self.tasksFinished += 1
            slave_id, executor_id = self.taskData[update.task_id.value]
            self.messagesSent += 1
            driver.sendFrameworkMessage(executor_id, slave_id, b"data with a \0 byte")

        if update.state in (mesos_pb2.TASK_LOST, mesos_pb2.TASK_KILLED,
                            mesos_pb2.TASK_FAILED, mesos_pb2.TASK_ERROR):
            print("Aborting because task %s is in unexpected state %s with message '%s'"
                  % (update.task_id.value, state, update.message), flush=True)
            self.failed = True
            driver.abort()

    def frameworkMessage(self, driver, executorId, slaveId, message):
        self.messagesReceived += 1

        # The message bounced back as expected.
        if message != b"data with a \0 byte":
            print("The returned message data did not match!", flush=True)
            print("  Expected: 'data with a \\x00 byte'", flush=True)
            print("  Actual:  ", repr(message), flush=True)
            self.failed = True
            driver.abort()
            return
        print("Received message:", repr(message), flush=True)

        if self.messagesReceived == self.total_tasks:
            if self.messagesReceived != self.messagesSent:
                print("Sent", self.messagesSent, "but received", self.messagesReceived, flush=True)
                self.failed = True
                driver.abort()
                return
            print("All tasks done, and all messages received, exiting", flush=True)
            driver.stop()

    def error(self, driver, message):
        print("Error from Mesos: %s" % message, flush=True)
        self.failed = True


def main():
    if len(sys.argv) < 2:
        print("Usage: %s master [total_tasks] [task_seconds]" % sys.argv[0])
        sys.exit(1)
    master = sys.argv[1]
    total_tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    task_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0

    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = "default"
    executor.command.value = "python3 " + os.path.abspath(
        os.path.join(os.path.dirname(__file__), "mesos_native_executor.py"))
    executor.name = "Test Executor (Python)"
    executor.source = "python_test"

    framework = mesos_pb2.FrameworkInfo()
    framework.user = ""  # Have Mesos fill in the current user.
    framework.name = "Test Framework (Python)"
    framework.checkpoint = True
    framework.failover_timeout = 60

    scheduler = TestScheduler(executor, total_tasks, task_seconds)
    driver = mesos.native.MesosSchedulerDriver(scheduler, framework, master)
    started = time.time()
    status = driver.run()
    print("Driver ended with %s after %.1fs"
          % (mesos_pb2.Status.Name(status), time.time() - started), flush=True)
    ok = status == mesos_pb2.DRIVER_STOPPED and not scheduler.failed \
        and scheduler.tasksFinished == total_tasks
    # Ensure that the driver process terminates.
    driver.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
