# Licensed under the Apache License, Version 2.0.
"""Apache Mesos's native drivers for Python 3, over remesos's drivers (the same Rust
driver logic as its libmesos.so): `MesosSchedulerDriver` and `MesosExecutorDriver`, with the
constructors, methods, callbacks and status values of the original C extension."""

# From the extension itself (`mesos.scheduler` and `mesos.executor` re-export it too, and
# import it from here: importing them here would be circular).
from ._mesos import MesosExecutorDriverImpl as MesosExecutorDriver
from ._mesos import MesosSchedulerDriverImpl as MesosSchedulerDriver

__all__ = ["MesosExecutorDriver", "MesosSchedulerDriver"]
