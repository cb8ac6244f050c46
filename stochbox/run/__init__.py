"""Run orchestration: a :class:`~stochbox.run.config.RunConfig` in, a run folder out.

Modules (import from them; this package imports nothing, so ``stochbox.run.config``
stays light for the command line):

* :mod:`~stochbox.run.config` -- ``RunConfig``, ``TruthConfig``: every option, validated once.
* :mod:`~stochbox.run.plan` -- ``plan_episodes``: which episodes, their ids and seeds.
* :mod:`~stochbox.run.episode` -- ``EpisodeRunner``: one episode spec in, one record out.
* :mod:`~stochbox.run.runner` -- ``start_run``, ``resume_run``: the run's bookkeeping.
* :mod:`~stochbox.run.executors` -- where episodes run (``--executor``).
* :mod:`~stochbox.run.runinfo`, :mod:`~stochbox.run.store`, :mod:`~stochbox.run.trace` --
  the run folder's three files: ``run.json``, ``run.sqlite``, ``trace.jsonl``.
* :mod:`~stochbox.run.progress` -- the live progress display.
"""
