"""Jobs on Ray: the same jobs, the same queue and Stop, run as Ray tasks on a local instance or a cluster.

Chosen by ``DENSVIZ_RAY_ADDRESS`` (see :func:`densviz.jobs.engine_from_environment`):
``local`` starts a Ray instance on this machine (no dashboard), ``auto``
joins the cluster this machine is part of (``ray start`` was run here), and
``ray://host:10001`` connects to a remote cluster through Ray Client, so that
training can run on GPU machines while the pages are served elsewhere. The
cluster's workers need densviz installed (the same version as the server).

Each job is one task (one CPU, no retries). Progress and Stop go through one
small actor per engine (:class:`_Board`): the task puts its records there and
asks it, at most every :data:`_STOP_CHECK_S`, whether it was told to stop; the
engine's manager thread takes the records. A job that has not ended
``STOP_GRACE_S`` after Stop is cancelled with ``ray.cancel(..., force=True)``,
which kills the worker process; Ray starts new workers as tasks need them.
The queue, the one-job-per-session rule and the time limits are the engine's
(:mod:`densviz.jobs.engine`), not Ray's: Ray is given at most ``workers`` tasks
at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from densviz.core.errors import SurroundingsError
from densviz.jobs.engine import Engine
from densviz.jobs.job import Event, Job

__all__ = ["RayEngine", "run_in_ray"]

_LOG = logging.getLogger(__name__)

_STOP_CHECK_S = 0.1  # a task asks the board at most this often whether to stop (each ask is a round trip)
_TAKE_EVERY_S = 0.1  # the manager takes progress records this often


class _Board:
    """The actor between the engine and its tasks: progress records in, stop requests out."""

    def __init__(self) -> None:
        self._records: dict[str, list[Any]] = {}
        self._stops: set[str] = set()
        self._seen: set[str] = set()

    def put(self, job_id: str, record: Any) -> None:
        """A task's progress record."""
        self._records.setdefault(job_id, []).append(record)

    def take(self) -> tuple[dict[str, list[Any]], set[str]]:
        """Every record put since the last take, by job, and the jobs that have seen their Stop."""
        out, self._records = self._records, {}
        return out, set(self._seen)

    def stop(self, job_id: str) -> None:
        """Ask a job to stop."""
        self._stops.add(job_id)

    def stopped(self, job_id: str) -> bool:
        """Whether a job was asked to stop (a yes is remembered: the job has seen its Stop)."""
        if job_id in self._stops:
            self._seen.add(job_id)
            return True
        return False

    def forget(self, job_id: str) -> None:
        """Drop an ended job's stop request and records."""
        self._stops.discard(job_id)
        self._seen.discard(job_id)
        self._records.pop(job_id, None)


class _RayContext:
    """A job's context in a Ray task: records to the board, Stop asked of it (at most every 0.1 s)."""

    def __init__(self, board: Any, job_id: str):
        self._board = board
        self._job_id = job_id
        self._asked = 0.0
        self._stopping = False

    def progress(self, record: Any) -> None:
        """Put the record on the board (not waited for; a caller's calls reach the actor in order)."""
        self._board.put.remote(self._job_id, record)

    def stopping(self) -> bool:
        """Whether the engine asked this job to stop."""
        import ray

        now = time.monotonic()
        if not self._stopping and now - self._asked >= _STOP_CHECK_S:
            self._asked = now
            self._stopping = bool(ray.get(self._board.stopped.remote(self._job_id)))
        return self._stopping


def run_in_ray(packed: bytes, job_id: str, board: Any) -> tuple[str, Any]:
    """The Ray task's body: one torch thread, run the packed job, ``("done", value)`` or ``("failed", Failure)``."""
    from densviz.jobs.running import run_packed, set_worker_threads

    set_worker_threads()
    return run_packed(packed, _RayContext(board, job_id))


def _connect(address: str | None, workers: int) -> None:
    """Join or start Ray unless this process already has (tests start their own)."""
    import ray

    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as err:
        raise SurroundingsError(
            f"could not reach Ray at DENSVIZ_RAY_ADDRESS={address} ({type(err).__name__}: {str(err)[:200]}); "
            "start the cluster, correct the address, or unset the variable to use the local pool."
        ) from err


class RayEngine(Engine):
    """The engine on Ray (see the module's docstring).

    Args:
        address: ``local``, ``auto`` or ``ray://host:port``; ``None`` when this process has started Ray itself.
        workers: Tasks at once; default: the cluster's CPUs.
        queue_limit: How many jobs may wait.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, queue_limit: int = 64):
        import ray as ray_module

        from densviz.jobs.local import default_workers

        ray: Any = ray_module  # Ray's own annotations are partial
        _connect(address, workers or default_workers())
        slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        super().__init__(slots, queue_limit, "Ray cluster")
        self._ray = ray
        self._board: Any = ray.remote(num_cpus=0)(_Board).remote()
        self._task: Any = ray.remote(num_cpus=1, max_retries=0)(run_in_ray)
        self._refs: dict[Any, Job] = {}  # ObjectRef -> job
        self._last_take = 0.0
        self._start_manager()

    def _ref_of(self, job: Job) -> Any:
        return next((ref for ref, j in self._refs.items() if j is job), None)

    def _free_slots(self) -> int:
        return self.workers - len(self._refs)

    def _launch(self, job: Job) -> None:
        ref = self._task.remote(job.packed, job.id, self._board)
        self._refs[ref] = job

    def _ask_stop(self, job: Job) -> None:
        self._board.stop.remote(job.id)

    def _kill(self, job: Job) -> None:
        ref = self._ref_of(job)
        if ref is not None:
            self._refs.pop(ref, None)
            self._ray.cancel(ref, force=True)  # kills the worker process; Ray starts another when one is needed
        self._board.forget.remote(job.id)

    def _take(self, events: list[Event]) -> None:
        """The progress records on the board, for the jobs still running."""
        self._last_take = time.monotonic()
        by_id = {job.id: job for job in self._refs.values()}
        records, seen = self._ray.get(self._board.take.remote(), timeout=10)
        for job_id, items in records.items():
            if job_id in by_id:
                events += [(by_id[job_id], "progress", r) for r in items]
        events += [(by_id[job_id], "seen", None) for job_id in seen if job_id in by_id]

    def _poll(self, timeout: float) -> list[Event]:
        refs = list(self._refs)
        if not refs:
            self._sleep(timeout)
            return []
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=timeout)
        self._drain_wake()
        events: list[Event] = []
        if ready or time.monotonic() - self._last_take >= _TAKE_EVERY_S:
            self._take(events)  # the records first: a job's last progress comes before its end
        for ref in ready:
            job = self._refs.pop(ref, None)
            if job is None:
                continue
            try:
                what, data = self._ray.get(ref)
            except self._ray.exceptions.TaskCancelledError:
                events.append((job, "lost", "Stopped before it finished; nothing it computed was kept."))
            except self._ray.exceptions.RayError as err:
                _LOG.warning("a Ray task failed", exc_info=err)
                events.append(
                    (
                        job,
                        "lost",
                        f"The Ray worker running this job ended unexpectedly ({type(err).__name__}); "
                        "the machine may have run out of memory.",
                    )
                )
            else:
                events.append((job, what, data))
            self._board.forget.remote(job.id)
        return events

    def _close(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self._refs.clear()
