# Licensed under the Apache License, Version 2.0.
"""The executor driver, as the original `mesos.executor` module exports it."""

from mesos.native._mesos import MesosExecutorDriverImpl

__all__ = ["MesosExecutorDriverImpl"]
