# Licensed under the Apache License, Version 2.0.
"""The scheduler driver, as the original `mesos.scheduler` module exports it: `MesosSchedulerDriver`
(what Mesos's examples import) and its `MesosSchedulerDriverImpl` name, also from
`mesos.scheduler._scheduler` as in the original."""

from ._scheduler import MesosSchedulerDriverImpl
from ._scheduler import MesosSchedulerDriverImpl as MesosSchedulerDriver

__all__ = ["MesosSchedulerDriver", "MesosSchedulerDriverImpl"]
