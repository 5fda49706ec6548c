# Licensed under the Apache License, Version 2.0.
"""The scheduler driver, as the original `mesos.scheduler` module exports it."""

from mesos.native._mesos import MesosSchedulerDriverImpl

__all__ = ["MesosSchedulerDriverImpl"]
