#!/usr/bin/env python3
"""A custom executor on pymesos's MesosExecutorDriver (the v1 executor API).

For each task: TASK_RUNNING, then a framework message "hello <task id>" to the scheduler;
when the scheduler answers "finish <task id>", TASK_FINISHED with the task's data echoed.
"""
import sys
import threading

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data
from addict import Dict


class EchoExecutor(Executor):
    def __init__(self):
        self.tasks = {}
        self.lock = threading.Lock()

    def launchTask(self, driver, task):
        with self.lock:
            self.tasks[task.task_id.value] = task
        status = Dict()
        status.task_id = task.task_id
        status.state = "TASK_RUNNING"
        driver.sendStatusUpdate(status)
        driver.sendFrameworkMessage(encode_data(("hello %s" % task.task_id.value).encode()))

    def frameworkMessage(self, driver, message):
        text = decode_data(message).decode()
        verb, _, task_id = text.partition(" ")
        with self.lock:
            task = self.tasks.pop(task_id, None)
        if verb != "finish" or task is None:
            return
        status = Dict()
        status.task_id = task.task_id
        status.state = "TASK_FINISHED"
        status.message = "echo: %s" % decode_data(task.data).decode() if task.get("data") else "done"
        driver.sendStatusUpdate(status)

    def killTask(self, driver, task_id):
        status = Dict()
        status.task_id = task_id
        status.state = "TASK_KILLED"
        driver.sendStatusUpdate(status)


if __name__ == "__main__":
    driver = MesosExecutorDriver(EchoExecutor(), use_addict=True)
    sys.exit(0 if driver.run() == "DRIVER_STOPPED" else 1)
