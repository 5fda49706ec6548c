# Licensed under the Apache License, Version 2.0.
"""Apache Mesos's Python interface, for Python 3: the base classes a framework's scheduler
and executor extend (`Scheduler`, `Executor`) and the driver interfaces they are handed
(`SchedulerDriver`, `ExecutorDriver`), as in Mesos's `mesos.interface`; the protobufs are
in `mesos.interface.mesos_pb2`. The drivers themselves are in `mesos.native`.

Every callback of `Scheduler` and `Executor` does nothing unless overridden (but `error`,
which prints the message to stderr as the original does); the drivers call them on one
thread, one at a time, in order. A callback that raises aborts its driver.
"""

import sys

__all__ = ["Executor", "ExecutorDriver", "Scheduler", "SchedulerDriver"]


class Scheduler:
    """Callbacks of a framework's scheduler (include/mesos/scheduler.hpp)."""

    def registered(self, driver, frameworkId, masterInfo):
        """The framework registered with a master; `frameworkId` is its id."""

    def reregistered(self, driver, masterInfo):
        """The framework re-registered with a newly elected master."""

    def disconnected(self, driver):
        """The scheduler lost its master (a new one may be elected)."""

    def resourceOffers(self, driver, offers):
        """Resources offered to this framework: a list of `mesos_pb2.Offer`."""

    def offerRescinded(self, driver, offerId):
        """An offer is no longer valid."""

    def statusUpdate(self, driver, status):
        """A task's status changed (`mesos_pb2.TaskStatus`)."""

    def frameworkMessage(self, driver, executorId, slaveId, message):
        """An executor sent a message (bytes)."""

    def slaveLost(self, driver, slaveId):
        """An agent was lost."""

    def executorLost(self, driver, executorId, slaveId, status):
        """An executor exited or was lost; `status` is its exit status."""

    def error(self, driver, message):
        """An unrecoverable error: the driver is aborted before this is called. By default
        printed to stderr, as the original does (its trailing space included)."""
        print("Error from Mesos: %s " % message, file=sys.stderr)


class SchedulerDriver:
    """What a scheduler is handed (include/mesos/scheduler.hpp); the status values are
    `mesos_pb2.DRIVER_*`. `mesos.native.MesosSchedulerDriver` implements it."""

    def start(self):
        """Starts the driver: connects to the master and registers the framework."""

    def stop(self, failover=False):
        """Stops the driver; with `failover` the framework stays registered for its
        failover timeout, so that a new driver with its id takes over."""

    def abort(self):
        """Aborts: no more callbacks or calls; the framework stays registered."""

    def join(self):
        """Waits until the driver is stopped or aborted."""

    def run(self):
        """start() and join()."""

    def requestResources(self, requests):
        """Asks the allocator for resources (a list of `mesos_pb2.Request`)."""

    def launchTasks(self, offerIds, tasks, filters=None):
        """Launches tasks on the resources of one offer id or a list of them."""

    def killTask(self, taskId):
        """Kills a task."""

    def acceptOffers(self, offerIds, operations, filters=None):
        """Accepts offers with a list of `mesos_pb2.Offer.Operation`."""

    def declineOffer(self, offerId, filters=None):
        """Declines an offer."""

    def reviveOffers(self, roles=None):
        """Removes the framework's filters (of all its roles when `roles` is None, else of
        those roles) and asks for offers again."""

    def suppressOffers(self, roles=None):
        """Asks for no more offers (for all roles when `roles` is None, else for those
        roles) until reviveOffers."""

    def acknowledgeStatusUpdate(self, status):
        """Acknowledges a status update (with implicit acknowledgements disabled)."""

    def sendFrameworkMessage(self, executorId, slaveId, data):
        """Sends a message to an executor."""

    def reconcileTasks(self, tasks):
        """Asks for the latest status of these tasks (an empty list: all)."""

    def updateFramework(self, frameworkInfo, suppressedRoles=None):
        """Changes the FrameworkInfo and the suppressed roles."""


class Executor:
    """Callbacks of an executor (include/mesos/executor.hpp)."""

    def registered(self, driver, executorInfo, frameworkInfo, slaveInfo):
        """The executor registered with its agent."""

    def reregistered(self, driver, slaveInfo):
        """The executor re-registered with a restarted agent."""

    def disconnected(self, driver):
        """The executor lost its agent."""

    def launchTask(self, driver, task):
        """A task to run (`mesos_pb2.TaskInfo`); report it with sendStatusUpdate."""

    def killTask(self, driver, taskId):
        """A task to kill."""

    def frameworkMessage(self, driver, message):
        """The scheduler sent a message (bytes)."""

    def shutdown(self, driver):
        """The executor should stop its tasks and exit."""

    def error(self, driver, message):
        """An unrecoverable error. By default printed to stderr, as the original does."""
        print("Error from Mesos: %s" % message, file=sys.stderr)


class ExecutorDriver:
    """What an executor is handed (include/mesos/executor.hpp).
    `mesos.native.MesosExecutorDriver` implements it."""

    def start(self):
        """Starts the driver: connects to the agent."""

    def stop(self):
        """Stops the driver."""

    def abort(self):
        """Aborts the driver."""

    def join(self):
        """Waits until the driver is stopped or aborted."""

    def run(self):
        """start() and join()."""

    def sendStatusUpdate(self, status):
        """Sends a task's status to the scheduler (reliably)."""

    def sendFrameworkMessage(self, data):
        """Sends a message to the scheduler."""
