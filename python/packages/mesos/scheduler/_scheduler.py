# Licensed under the Apache License, Version 2.0.
"""The original's extension module name (`mesos.scheduler._scheduler`)."""

from mesos.native._mesos import MesosSchedulerDriverImpl

__all__ = ["MesosSchedulerDriverImpl"]
