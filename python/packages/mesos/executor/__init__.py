# Licensed under the Apache License, Version 2.0.
"""The executor driver, as the original `mesos.executor` module exports it: `MesosExecutorDriver`
(what Mesos's examples import) and its `MesosExecutorDriverImpl` name, also from
`mesos.executor._executor` as in the original."""

from ._executor import MesosExecutorDriverImpl
from ._executor import MesosExecutorDriverImpl as MesosExecutorDriver

__all__ = ["MesosExecutorDriver", "MesosExecutorDriverImpl"]
