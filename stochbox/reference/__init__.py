"""Reference samples: ground-truth programs run in a sandbox (:mod:`~stochbox.reference.truth`)
and the content-addressed truth cache that keeps their samples (:mod:`~stochbox.reference.cache`)."""
