"""Tools over recorded runs: load a run's trace (:mod:`~stochbox.traces.run_trace`), audit it
(:mod:`~stochbox.traces.audit`), print transcripts, replay sandbox executions, render the HTML
viewer and export tables. They read run folders; they never write into one."""
