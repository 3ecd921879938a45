"""The page's check of a plan against the PyTorch model, as a plain function a worker process can run.

The web page asks for this check on every new design (:class:`densviz.ui.cached.VerifyService`).
Building the model, even on the meta device, is Python work that holds the
interpreter's lock for tens of milliseconds; run in the server's process it
took that time from every other session's rerun (about a seventh of the
server's CPU while many users explored new designs). So the service runs it
in a worker process, and this module holds what that process needs: the check,
its outcome as plain data, and the worker's set-up.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from densviz.core.config import DenseNetConfig, InputSpec

__all__ = ["CHECK_NICENESS", "VerifyOutcome", "check_plan", "start_check_worker"]

CHECK_NICENESS = 5
"""The check worker's scheduling priority (Unix niceness): below the server's reruns, above training jobs (10)."""


@dataclass(frozen=True)
class VerifyOutcome:
    """A finished check of the plan against PyTorch.

    Attributes:
        ok: Every check agreed.
        checks: How many numbers were compared.
        mismatches: The first few disagreements, in words.
        elapsed_s: How long building and running the model took.
        error: A sentence if the check could not run.
        pid: The process that ran the check.
    """

    ok: bool
    checks: int
    mismatches: tuple[str, ...]
    elapsed_s: float
    error: str | None = None
    pid: int = 0


def start_check_worker(server_pid: int | None = None) -> None:
    """Set up a check (or drawing) worker: one torch thread, a lower priority than the server's, and its end with the server's.

    Args:
        server_pid: The server's process: the worker exits when it ends (a killed server leaves no worker).
    """
    import torch

    from densviz.jobs.lifeline import end_with

    if server_pid is not None:
        end_with(server_pid)
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no niceness on this system
        if os.getpriority(os.PRIO_PROCESS, 0) < CHECK_NICENESS:  # lower only: raising it is not allowed
            os.setpriority(os.PRIO_PROCESS, 0, CHECK_NICENESS)
    torch.set_num_threads(1)


def check_plan(cfg: DenseNetConfig, hw: tuple[int, int]) -> VerifyOutcome:
    """Build the model for ``cfg`` at input ``hw`` (batch 1, meta device) and compare it with the plan.

    Never raises: a check that cannot run says why in ``error``.
    """
    from densviz.nn.verify import verify

    start = time.perf_counter()
    try:
        report = verify(cfg, InputSpec(batch=1, height=hw[0], width=hw[1]))
    except Exception as err:  # the page must go on; the badge says what happened
        return VerifyOutcome(
            False,
            0,
            (),
            time.perf_counter() - start,
            f"the check could not run: {type(err).__name__}: {err}",
            os.getpid(),
        )
    words = tuple(f"{c.name} {c.quantity.value}: plan {c.planned}, PyTorch {c.measured}" for c in report.mismatches[:5])
    return VerifyOutcome(report.ok, len(report.checks), words, time.perf_counter() - start, None, os.getpid())
