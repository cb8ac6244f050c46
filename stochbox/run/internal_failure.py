"""An episode that stochbox itself failed: stored as ``failed``, named in the trace, counted.

Contract: when computing or storing one episode raises an exception that is
not a :class:`~stochbox.errors.StochboxError` (a configuration mistake, which
still stops the run) and not a cancellation, it is a bug in stochbox, not the
model's or the sandbox's doing. The runner then stores
:func:`internal_failure_record` for that episode and goes on: status
``failed``, ``reason`` starting with :data:`INTERNAL_ERROR` and naming the
exception (type and message), and an ``error`` event ``where: internal``
with ``exception``, ``message`` and ``traceback``. The run counts these
(``RunOutcome.internal_errors``, ``run_end.internal_errors``) and ``stochbox
run`` exits with :data:`EXIT_INTERNAL_ERRORS` when any happened. A resumed
run does not run them again (they are stored); delete the run's rows or start
a new run after upgrading.
"""

from __future__ import annotations

import traceback
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from stochbox.results import EpisodeRecord, EpisodeStatus
from stochbox.unicode_text import valid_unicode

if TYPE_CHECKING:
    from stochbox.run.plan import EpisodeSpec

#: Prefix of the ``reason`` of an episode stochbox failed.
INTERNAL_ERROR = "internal error"
#: ``stochbox run`` exit status when the run finished but some episodes failed by an internal error.
EXIT_INTERNAL_ERRORS = 6
#: Characters of the exception message kept in ``reason`` (the event has all of it).
_REASON_CHARS = 500


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(exception type name, message) as valid Unicode; a worker's crash names the exception it reported."""
    name = getattr(exc, "exception_type", None) or type(exc).__name__
    message = valid_unicode(str(exc))[0]
    return name, message


def internal_failure_record(run_id: str, spec: EpisodeSpec, exc: BaseException, emit: Any) -> EpisodeRecord:
    """The ``failed`` record of ``spec`` after ``exc``; emits the ``error`` event through ``emit(event, **fields)``."""
    name, message = describe_exception(exc)
    text = getattr(exc, "traceback", None) or "".join(traceback.format_exception(exc))
    emit("error", where="internal", exception=name, message=message, traceback=valid_unicode(text)[0])
    first = message.strip().splitlines()[0] if message.strip() else ""
    if len(first) > _REASON_CHARS:
        first = first[: _REASON_CHARS - 3] + "..."
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return EpisodeRecord(
        run_id=run_id,
        **spec.record_identity(),
        status=EpisodeStatus.failed,
        reason=f"{INTERNAL_ERROR}: {name}: {first}" if first else f"{INTERNAL_ERROR}: {name}",
        started_at=now,
        finished_at=now,
    )
