"""The worker's side of a job, the same on every backend: unpack it, run it, turn an exception into a sentence.

Imported by the worker processes and Ray tasks, never by the page's process
before a job runs there (it imports torch).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
from typing import Any

import torch

from densviz.core.errors import ConfigError, SurroundingsError
from densviz.jobs.context import JobContext, JobStoppedError
from densviz.jobs.job import Failure, FailureKind
from densviz.run.inputs import ImageError
from densviz.run.limit import RunStoppedError
from densviz.run.weights import WeightsError

__all__ = ["WORKER_NICENESS", "dumps_outcome", "failure_of", "run_packed", "set_worker_threads"]

_LOG = logging.getLogger(__name__)

_MEMORY = (
    "The machine ran out of memory for this job; lower the batch, the input size, the growth rate or the layers "
    "per block, or run on the CPU."
)


WORKER_NICENESS = 10
"""The workers' scheduling priority (Unix niceness): a page's rerun comes before a job's next step."""


def set_worker_threads() -> None:
    """One torch thread per worker, at a lower priority than the server's.

    The workers share the machine's cores with each other and with the server:
    one thread each keeps them from crowding one another, and the niceness lets
    the server's reruns (short, and what the users wait for) take a core from a
    job whenever they need one; the job runs on in the time they leave.
    """
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no niceness on this system
        if os.getpriority(os.PRIO_PROCESS, 0) < WORKER_NICENESS:  # lower only: raising it is not allowed
            os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICENESS)
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # settable only before the first parallel work
        torch.set_num_interop_threads(1)


def failure_of(err: BaseException) -> Failure:
    """An exception as a :class:`Failure` naming its class: the guards' own sentences pass through, others are logged."""
    failure = _failure_of(err)
    return Failure(failure.kind, failure.sentence, type(err).__name__)


def _failure_of(err: BaseException) -> Failure:
    if isinstance(err, RunStoppedError | JobStoppedError):
        return Failure(FailureKind.STOPPED, str(err))
    if isinstance(err, ConfigError | ImageError | WeightsError):
        return Failure(FailureKind.REFUSED, str(err))
    if isinstance(err, torch.OutOfMemoryError | MemoryError):
        return Failure(FailureKind.MEMORY, _MEMORY)
    if isinstance(err, SurroundingsError):
        return Failure(FailureKind.SURROUNDINGS, str(err))
    if isinstance(err, KeyboardInterrupt):  # Ray's gentle cancel raises it in the task
        return Failure(FailureKind.STOPPED, "Stopped before it finished; nothing it computed was kept.")
    _LOG.error("a job failed", exc_info=err)  # the worker's stderr is the server's log
    return Failure(
        FailureKind.INTERNAL,
        f"The job stopped with an unexpected error ({type(err).__name__}); the server's log has the details.",
    )


def run_packed(packed: bytes, ctx: JobContext) -> tuple[str, Any]:
    """Run a packed job: ``("done", value)`` or ``("failed", Failure)``, never an exception."""
    try:
        fn, payload = pickle.loads(packed)
        return "done", fn(payload, ctx)
    except BaseException as err:  # everything goes back as a sentence; the worker lives on
        return "failed", failure_of(err)


def dumps_outcome(seq: int, outcome: tuple[str, Any]) -> bytes:
    """``(what, seq, data)`` pickled; a result that cannot be pickled becomes a failure that can."""
    what, data = outcome
    try:
        return pickle.dumps((what, seq, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        _LOG.error("a job's result could not be pickled", exc_info=err)
        failure = Failure(
            FailureKind.INTERNAL, "The job's result could not be sent back; the server's log has the details."
        )
        return pickle.dumps(("failed", seq, failure), protocol=pickle.HIGHEST_PROTOCOL)
