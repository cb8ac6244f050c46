"""Fixtures shared by the test suite and the benchmarks (nothing else in stochbox imports this).

* :mod:`~stochbox.testing.scenario_texts` -- small scenarios as YAML texts, ``write_pack``.
* :mod:`~stochbox.testing.openai_stub` -- a real OpenAI-compatible HTTP server, scripted per request.
* :mod:`~stochbox.testing.bigtrace` -- a synthetic run folder with a large trace.
"""
