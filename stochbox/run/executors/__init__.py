"""Where a run's episodes execute (``--executor``); see :mod:`stochbox.run.executors.base`.

``local`` runs them in the runner's process; ``processes``
(:mod:`~stochbox.run.executors.processes`) and ``ray`` (:mod:`~stochbox.run.executors.ray`)
run them in :class:`~stochbox.run.executors.host.EpisodeHost` workers.
"""

from stochbox.run.executors.base import Executor, LocalExecutor, make_executor

__all__ = ["Executor", "LocalExecutor", "make_executor"]
