"""Where a run's episodes execute (``--executor``): the contract is :mod:`stochbox.run.executors.base`,
the names :mod:`stochbox.run.executors.registry`.

``local`` runs them in the runner's process; ``processes``
(:mod:`~stochbox.run.executors.processes`) and ``ray`` (:mod:`~stochbox.run.executors.ray`)
run them in :class:`~stochbox.run.executors.host.EpisodeHost` workers.
"""

from stochbox.run.executors.base import Executor, LocalExecutor
from stochbox.run.executors.registry import EXECUTORS, make_executor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]
