"""What a job function sees of the engine: a place to send progress and a question whether to stop.

A job function is a plain module-level function ``fn(payload, ctx)``: its
payload is plain data (frozen dataclasses, bytes), it calls
``ctx.progress(record)`` as it goes and ``ctx.stopping()`` between two pieces
of work (a pass, a training step), and returns plain data. The same function
runs in a local worker process, in a Ray task, or here, in this process
(:class:`InlineContext`, for the CLI and tests).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

__all__ = ["InlineContext", "JobContext", "JobStoppedError"]


class JobStoppedError(Exception):
    """Raised by a job function that saw Stop and ends there, with nothing to return (the engine says it stopped)."""

    def __init__(self, message: str = "Stopped before it finished; nothing it made was kept.") -> None:
        super().__init__(message)


class JobContext(Protocol):
    """The engine's side of a running job."""

    def progress(self, record: Any) -> None:
        """Send a progress record to whoever watches the job (the latest is what ``Job.progress()`` returns)."""

    def stopping(self) -> bool:
        """Whether the job has been asked to stop: end at the next point where stopping is clean."""


class InlineContext:
    """A context for running a job function in this process: records kept in a list, Stop by an event."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.stop = threading.Event()

    def progress(self, record: Any) -> None:
        """Keep the record."""
        self.records.append(record)

    def stopping(self) -> bool:
        """Whether :attr:`stop` is set."""
        return self.stop.is_set()
