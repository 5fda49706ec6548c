#!/usr/bin/env python3
# The custom executor of mesos_native_framework.py (src/examples/python/test_executor.py's
# shape), on Python 3 through remesos's `mesos.native`: each task reports TASK_RUNNING with
# binary data, runs for the seconds in its TaskInfo.data, and reports TASK_FINISHED; every
# framework message is echoed back.
import sys
import threading
import time

import mesos.interface
import mesos.native
from mesos.interface import mesos_pb2


class MyExecutor(mesos.interface.Executor):
    def registered(self, driver, executorInfo, frameworkInfo, slaveInfo):
        print("Executor registered on agent %s" % slaveInfo.hostname, flush=True)

    def launchTask(self, driver, task):
        # Tasks run in their own threads: this callback must return (the driver delivers
        # callbacks one at a time).
        def run_task():
            print("Running task %s" % task.task_id.value, flush=True)
            update = mesos_pb2.TaskStatus()
            update.task_id.value = task.task_id.value
            update.state = mesos_pb2.TASK_RUNNING
            update.data = b"data with a \0 byte"
            driver.sendStatusUpdate(update)

            time.sleep(float(task.data.decode() or "0"))

            print("Sending status update...", flush=True)
            update = mesos_pb2.TaskStatus()
            update.task_id.value = task.task_id.value
            update.state = mesos_pb2.TASK_FINISHED
            update.data = b"data with a \0 byte"
            driver.sendStatusUpdate(update)
            print("Sent status update", flush=True)

        thread = threading.Thread(target=run_task)
        thread.start()

    def frameworkMessage(self, driver, message):
        # Send it back to the scheduler.
        driver.sendFrameworkMessage(message)


if __name__ == "__main__":
    print("Starting executor", flush=True)
    driver = mesos.native.MesosExecutorDriver(MyExecutor())
    sys.exit(0 if driver.run() == mesos_pb2.DRIVER_STOPPED else 1)
