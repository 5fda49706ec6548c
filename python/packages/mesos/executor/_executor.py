# Licensed under the Apache License, Version 2.0.
"""The original's extension module name (`mesos.executor._executor`)."""

from mesos.native._mesos import MesosExecutorDriverImpl

__all__ = ["MesosExecutorDriverImpl"]
