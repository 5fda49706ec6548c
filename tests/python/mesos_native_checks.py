#!/usr/bin/env python3
# Checks of remesos's `mesos.native` beyond the example framework, each a subcommand that
# prints what it saw and exits 0 only when the check held (core/tests/python_native.rs):
#
#   bad-input         wrong types and messages raise Python exceptions; nothing is sent and
#                     the interpreter survives (no master needed)
#   raising MASTER    a scheduler whose resourceOffers raises: the driver aborts (the
#                     traceback is printed, run() returns DRIVER_ABORTED)
#   failover MASTER   stop(failover=True), then a new driver with the same framework id
#                     registers as that framework (keyword constructor arguments)
#   credential MASTER PRINCIPAL SECRET
#                     registers with a Credential (positional, as Mesos's test_framework.py
#                     passes it); a refused one reaches `error` and run() ends DRIVER_ABORTED
#   staging MASTER    an executor (this script's `staging-executor`) that sends TASK_STAGING
#                     is shut down as Mesos's agent shuts it down: `shutdown` is called, the
#                     scheduler never sees the TASK_STAGING and gets the task's end
import os
import sys
import threading

import mesos.interface
import mesos.native
from mesos.interface import mesos_pb2


def framework_info(name):
    framework = mesos_pb2.FrameworkInfo()
    framework.user = ""
    framework.name = name
    return framework


def expect_raises(what, kinds, call):
    try:
        call()
    except kinds as e:
        print("%s raised %s: %s" % (what, type(e).__name__, e), flush=True)
        return
    except BaseException as e:  # noqa: B036 - the check is what was raised
        raise SystemExit("%s raised the wrong kind: %r" % (what, e))
    raise SystemExit("%s did not raise" % what)


def bad_input():
    # The names Mesos's own examples import (test_framework.py, test_executor.py).
    from mesos.executor import MesosExecutorDriver
    from mesos.scheduler import MesosSchedulerDriver
    assert MesosSchedulerDriver is mesos.native.MesosSchedulerDriver
    assert MesosExecutorDriver is mesos.native.MesosExecutorDriver
    scheduler = mesos.interface.Scheduler()
    # A wrong type for framework, for master, a missing argument, an unknown keyword.
    expect_raises("framework=dict", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(scheduler, {"name": "x"}, "local"))
    expect_raises("framework=TaskID", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(scheduler, mesos_pb2.TaskID(), "local"))
    expect_raises("master=42", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(scheduler, framework_info("x"), 42))
    expect_raises("no master", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(scheduler, framework_info("x")))
    expect_raises("unknown keyword", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(
                      scheduler, framework_info("x"), "local", noSuchArgument=1))
    # implicitAcknowledgements is an int (the original parses "i"): a string is refused.
    expect_raises("implicitAcknowledgements='yes'", TypeError,
                  lambda: mesos.native.MesosSchedulerDriver(
                      scheduler, framework_info("x"), "local", "yes"))
    # A FrameworkInfo missing its required `name`: does not serialize.
    incomplete = mesos_pb2.FrameworkInfo()
    incomplete.user = ""
    expect_raises("incomplete FrameworkInfo", Exception,
                  lambda: mesos.native.MesosSchedulerDriver(scheduler, incomplete, "local"))

    driver = mesos.native.MesosSchedulerDriver(
        scheduler, framework_info("bad-input"), "127.0.0.1:1",
        implicitAcknowledgements=True)
    offer_id = mesos_pb2.OfferID()
    offer_id.value = "o1"
    expect_raises("launchTasks(object())", TypeError,
                  lambda: driver.launchTasks(offer_id, [object()]))
    expect_raises("launchTasks(a task list of strings)", TypeError,
                  lambda: driver.launchTasks(offer_id, ["not a task"]))
    expect_raises("launchTasks(tasks not a list)", TypeError,
                  lambda: driver.launchTasks(offer_id, 17))
    expect_raises("launchTasks(offer id a string)", TypeError,
                  lambda: driver.launchTasks("o1", []))
    expect_raises("launchTasks(a TaskID for a TaskInfo)", TypeError,
                  lambda: driver.launchTasks(offer_id, [mesos_pb2.TaskID()]))
    expect_raises("launchTasks(filters=1)", TypeError,
                  lambda: driver.launchTasks([offer_id], [], 1))
    expect_raises("launchTasks(an incomplete TaskInfo)", Exception,
                  lambda: driver.launchTasks(offer_id, [mesos_pb2.TaskInfo()]))
    expect_raises("killTask(None)", TypeError, lambda: driver.killTask(None))
    expect_raises("declineOffer(b'o1')", TypeError, lambda: driver.declineOffer(b"o1"))
    expect_raises("acceptOffers(operations=[1])", TypeError,
                  lambda: driver.acceptOffers([offer_id], [1]))
    expect_raises("reconcileTasks(None)", TypeError, lambda: driver.reconcileTasks(None))
    expect_raises("sendFrameworkMessage(data=1)", TypeError,
                  lambda: driver.sendFrameworkMessage(
                      mesos_pb2.ExecutorID(value="e"), mesos_pb2.SlaveID(value="s"), 1))
    expect_raises("suppressOffers('role')", TypeError, lambda: driver.suppressOffers("role"))
    expect_raises("requestResources(1)", TypeError, lambda: driver.requestResources(1))
    expect_raises("updateFramework(object())", TypeError,
                  lambda: driver.updateFramework(object()))
    # acknowledgeStatusUpdate on a driver not running answers its status, as the original
    # (running with implicit acknowledgements, Apache's driver aborts; here it raises).
    status = driver.acknowledgeStatusUpdate(
        mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t"), state=mesos_pb2.TASK_RUNNING))
    assert status == mesos_pb2.DRIVER_NOT_STARTED, mesos_pb2.Status.Name(status)
    # stop's failover is a byte as the original parses it ("|b"); an empty role list is
    # nothing to revive or suppress.
    assert driver.suppressOffers([]) == mesos_pb2.DRIVER_NOT_STARTED
    assert driver.reviveOffers([]) == mesos_pb2.DRIVER_NOT_STARTED
    expect_raises("stop(256)", OverflowError, lambda: driver.stop(256))
    # Nothing changed: the driver was never started.
    status = driver.abort()
    assert status == mesos_pb2.DRIVER_NOT_STARTED, mesos_pb2.Status.Name(status)

    executor = mesos.native.MesosExecutorDriver(mesos.interface.Executor())
    expect_raises("sendStatusUpdate(object())", TypeError,
                  lambda: executor.sendStatusUpdate(object()))
    expect_raises("sendStatusUpdate(a TaskInfo)", TypeError,
                  lambda: executor.sendStatusUpdate(mesos_pb2.TaskInfo()))
    expect_raises("executor sendFrameworkMessage(None)", TypeError,
                  lambda: executor.sendFrameworkMessage(None))
    # Outside an executor's environment (no MESOS_* variables), start raises.
    expect_raises("executor start outside an agent", Exception, executor.start)
    print("bad input: every call raised and the interpreter is alive", flush=True)


class RaisingScheduler(mesos.interface.Scheduler):
    def __init__(self):
        self.offers_seen = 0
        self.after_abort = threading.Event()

    def registered(self, driver, frameworkId, masterInfo):
        print("Registered with framework ID %s" % frameworkId.value, flush=True)

    def resourceOffers(self, driver, offers):
        self.offers_seen += 1
        if self.offers_seen > 1:
            self.after_abort.set()
        raise RuntimeError("raised in resourceOffers on purpose")


def raising(master):
    scheduler = RaisingScheduler()
    driver = mesos.native.MesosSchedulerDriver(scheduler, framework_info("raising"), master)
    status = driver.run()
    print("run() returned %s" % mesos_pb2.Status.Name(status), flush=True)
    ok = status == mesos_pb2.DRIVER_ABORTED and scheduler.offers_seen == 1
    # Calls on an aborted driver say so and send nothing.
    ok = ok and driver.reviveOffers() == mesos_pb2.DRIVER_ABORTED
    driver.stop()
    sys.exit(0 if ok else 1)


class FailoverScheduler(mesos.interface.Scheduler):
    def __init__(self):
        self.framework_id = None
        self.registered_event = threading.Event()

    def registered(self, driver, frameworkId, masterInfo):
        print("Registered with framework ID %s" % frameworkId.value, flush=True)
        self.framework_id = frameworkId.value
        self.registered_event.set()


def failover(master):
    framework = framework_info("failover")
    framework.failover_timeout = 60
    first = FailoverScheduler()
    driver = mesos.native.MesosSchedulerDriver(first, framework, master)
    assert driver.start() == mesos_pb2.DRIVER_RUNNING
    if not first.registered_event.wait(30):
        raise SystemExit("the first driver did not register")
    status = driver.stop(1)  # failover, as the original parses it: an int
    print("stop(failover=True) returned %s" % mesos_pb2.Status.Name(status), flush=True)
    assert status == mesos_pb2.DRIVER_STOPPED
    assert driver.join() == mesos_pb2.DRIVER_STOPPED

    framework.id.value = first.framework_id
    second = FailoverScheduler()
    driver = mesos.native.MesosSchedulerDriver(
        scheduler=second, framework=framework, master=master,
        implicitAcknowledgements=True, credential=None, suppressedRoles=[])
    assert driver.start() == mesos_pb2.DRIVER_RUNNING
    if not second.registered_event.wait(30):
        raise SystemExit("the second driver did not register")
    print("failed over: first %s, second %s" % (first.framework_id, second.framework_id),
          flush=True)
    same = first.framework_id == second.framework_id
    driver.stop()
    sys.exit(0 if same else 1)


class CredentialScheduler(mesos.interface.Scheduler):
    def __init__(self):
        self.registered_as = None

    def registered(self, driver, frameworkId, masterInfo):
        print("Registered with framework ID %s" % frameworkId.value, flush=True)
        self.registered_as = frameworkId.value
        driver.stop()

    def error(self, driver, message):
        print("error: %s" % message, flush=True)


def credential(master, principal, secret):
    framework = framework_info("credential")
    framework.principal = principal
    credential = mesos_pb2.Credential()
    credential.principal = principal
    credential.secret = secret
    scheduler = CredentialScheduler()
    driver = mesos.native.MesosSchedulerDriver(scheduler, framework, master, 1, credential)
    status = driver.run()
    print("run() returned %s" % mesos_pb2.Status.Name(status), flush=True)
    sys.exit(0 if status == mesos_pb2.DRIVER_STOPPED and scheduler.registered_as else 1)


class StagingExecutor(mesos.interface.Executor):
    def launchTask(self, driver, task):
        update = mesos_pb2.TaskStatus()
        update.task_id.value = task.task_id.value
        update.state = mesos_pb2.TASK_STAGING
        status = driver.sendStatusUpdate(update)
        print("sendStatusUpdate(TASK_STAGING) returned %s" % mesos_pb2.Status.Name(status),
              flush=True)

    def shutdown(self, driver):
        print("shutdown called after TASK_STAGING", flush=True)
        driver.stop()


def staging_executor():
    driver = mesos.native.MesosExecutorDriver(StagingExecutor())
    print("executor driver ended with %s" % mesos_pb2.Status.Name(driver.run()), flush=True)


class StagingScheduler(mesos.interface.Scheduler):
    def __init__(self):
        self.launched = False
        self.states = []

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = mesos_pb2.TaskInfo()
            task.task_id.value = "staging"
            task.slave_id.value = offer.slave_id.value
            task.name = "sends TASK_STAGING"
            task.executor.executor_id.value = "staging"
            task.executor.command.value = "python3 %s staging-executor" % os.path.abspath(__file__)
            for name, value in (("cpus", 0.1), ("mem", 32)):
                resource = task.resources.add()
                resource.name = name
                resource.type = mesos_pb2.Value.SCALAR
                resource.scalar.value = value
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        state = mesos_pb2.TaskState.Name(update.state)
        print("Task %s is in state %s (%s)" % (update.task_id.value, state, update.message),
              flush=True)
        self.states.append(state)
        if state in ("TASK_FAILED", "TASK_LOST", "TASK_FINISHED", "TASK_KILLED", "TASK_ERROR",
                     "TASK_DROPPED", "TASK_GONE"):
            driver.stop()


def staging(master):
    scheduler = StagingScheduler()
    driver = mesos.native.MesosSchedulerDriver(scheduler, framework_info("staging"), master)
    print("run() returned %s" % mesos_pb2.Status.Name(driver.run()), flush=True)
    ok = "TASK_STAGING" not in scheduler.states and scheduler.states[-1:] in (
        ["TASK_FAILED"], ["TASK_LOST"])
    sys.exit(0 if ok else 1)


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "bad-input":
        bad_input()
    elif command == "raising" and len(sys.argv) == 3:
        raising(sys.argv[2])
    elif command == "failover" and len(sys.argv) == 3:
        failover(sys.argv[2])
    elif command == "credential" and len(sys.argv) == 5:
        credential(*sys.argv[2:])
    elif command == "staging" and len(sys.argv) == 3:
        staging(sys.argv[2])
    elif command == "staging-executor":
        staging_executor()
    else:
        raise SystemExit("usage: mesos_native_checks.py bad-input | raising MASTER"
                         " | failover MASTER | credential MASTER PRINCIPAL SECRET | staging MASTER")


if __name__ == "__main__":
    main()
