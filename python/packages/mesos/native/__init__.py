# Licensed under the Apache License, Version 2.0.
"""Apache Mesos's native drivers for Python 3, over remesos's drivers (the same Rust
driver logic as its libmesos.so): `MesosSchedulerDriver` and `MesosExecutorDriver`, with the
constructors, methods, callbacks and status values of the original C extension."""

from mesos.executor import MesosExecutorDriverImpl as MesosExecutorDriver
from mesos.scheduler import MesosSchedulerDriverImpl as MesosSchedulerDriver

__all__ = ["MesosExecutorDriver", "MesosSchedulerDriver"]
