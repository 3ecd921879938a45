"""The compiled option: ``torch.compile`` with Inductor for inference, compiled once per design and kept.

Inductor turns the whole forward pass into one graph of generated kernels
(C++ with OpenMP on a CPU, Triton on a GPU). For inference on a CPU the
weights are frozen into the graph (``torch._inductor.config.freezing``):
constants the compiler folds, with the convolution and linear weights
prepacked for oneDNN. On DenseNet-121 at batch 16 in bf16 channels-last on
one AVX-512 core this ran 1.2–1.35 times faster than eager, after a compile
of about a minute.

What is compiled is the model as it is: its weights (frozen), the device,
the precision (the autocast state is traced), the memory format, the input's
shape (``dynamic=False``) and the CPU thread count (the generated OpenMP code
keeps it). So a compiled model is kept under all of these
(:class:`CompileKey`; the weights by a hash of their bytes), in a bounded
cache in this process, and a run of the same design with the same weights and
settings reuses it without compiling again. Random (untrained) weights are
any random weights: a run with them reuses the compiled model of an earlier
run with random weights, and its model takes that run's weights, so that the
model and its compiled graph agree.

Two limits of PyTorch shape the cache. Freezing is decided when Dynamo
traces, from the global Inductor setting, so the compiling call runs under
``torch._inductor.config.patch(freezing=True)``. And Dynamo keeps every
compiled graph of ``DenseNet.forward`` under that one function, whether its
model is alive or not, up to ``torch._dynamo.config.recompile_limit`` (8),
after which it silently runs eager: so after a few compiles the process's
compiled graphs are all dropped (``torch._dynamo.reset()``) with this cache,
the compiling call runs with ``fail_on_recompile_limit_hit`` so that a
fallback to eager is an error and never a "compiled" time, and a compile is
checked to have made a graph.

All compiled work in the process (compiling, and the passes of a compiled
model) goes through one lock, :func:`compile_session`: a reset may not pull a
compiled model from under a run that is timing it, and two compiles at once
would share the cores.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from densviz.core.config import DenseNetConfig
from densviz.core.errors import SurroundingsError
from densviz.core.plan import ArchitecturePlan
from densviz.run.devices import Precision, autocast, synchronize
from densviz.run.limit import CompileEstimate
from densviz.run.probe import format_seconds

__all__ = [
    "MAX_CACHED",
    "CompileError",
    "CompileKey",
    "CompileSession",
    "Compiled",
    "clear_compiled",
    "compile_key",
    "compile_session",
    "compile_support",
    "estimate_compile",
    "weights_hash",
]

MAX_CACHED = 3
"""Compiled models kept in the process (each holds its model and the frozen, prepacked weights)."""

RANDOM = "random"
"""The key's weights for random (untrained) weights: any will do, so an earlier run's are taken."""

_RESET_AFTER = 6
"""Fresh compiles before Dynamo's graphs are dropped, under its recompile limit of 8 per function."""

GUESS_SECONDS_PER_ROW = 1.0
"""The compile time assumed per plan row before any compile was measured in the process.

DenseNet-121 (67 rows) compiled in 50–60 s on one core of an AMD EPYC; the
guess is rounded up, and replaced by the process's own measurement after the
first compile.
"""


class CompileError(SurroundingsError):
    """``torch.compile`` cannot run here, or failed on this design: a sentence, never a traceback."""


@dataclass(frozen=True)
class CompileKey:
    """Everything a compiled model is specific to.

    Attributes:
        config: The design.
        weights: A hash of every parameter's and buffer's bytes (frozen into the graph).
        device: Where it runs (``cpu``, ``cuda:0``).
        precision: fp32, or the autocast precision the graph was traced under.
        channels_last: The memory format of the model and the input.
        shape: The input's shape (N, C, H, W).
        threads: CPU threads (the generated OpenMP code keeps the count).
    """

    config: DenseNetConfig
    weights: str
    device: str
    precision: Precision
    channels_last: bool
    shape: tuple[int, ...]
    threads: int


@dataclass(frozen=True)
class Compiled:
    """A compiled model, ready to call under the run's autocast and ``torch.inference_mode``.

    Attributes:
        module: The compiled model.
        model: The eager model it was compiled from (its weights are the frozen ones).
        key: What it was compiled for.
        seconds: Its compile: the first call's time less the second's (the
            first traces the model, generates and builds the kernels, then runs a pass).
        reused: Whether it was compiled by an earlier run in this process (nothing was compiled now).
    """

    module: nn.Module
    model: nn.Module
    key: CompileKey
    seconds: float
    reused: bool

    @property
    def source(self) -> str:
        """How the compile time was found, in words."""
        how = "the first call's time less the second's"
        if self.reused:
            return (
                f"reused: compiled by an earlier run in this process with the same design, weights and settings "
                f"(that compile took {format_seconds(self.seconds)}, {how}); nothing was compiled now"
            )
        return f"compiled now with Inductor (weights frozen and prepacked): {how}"


def weights_hash(model: nn.Module) -> str:
    """A hash of every parameter's and buffer's values, names and dtypes (the frozen graph's constants)."""
    digest = hashlib.blake2b(digest_size=16)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
            digest.update(tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def compile_support(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here, in a sentence; ``None`` when it can."""
    if device.type == "cpu":
        from torch._inductor import exc
        from torch._inductor.cpp_builder import get_cpp_compiler

        try:
            get_cpp_compiler()
        except exc.InvalidCxxCompiler:
            return (
                "compiling needs a C++ compiler for Inductor's CPU kernels, and none was found "
                "(install g++ or clang++, or set CXX); run without compiling"
            )
        return None
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "compiling on CUDA needs Triton, which is not installed here; run without compiling"
        return None
    return f"compiling is offered on the CPU and CUDA, not on {device.type}; run without compiling"


def compile_key(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    device: torch.device,
    precision: Precision,
    channels_last: bool,
    threads: int,
    *,
    random_weights: bool = False,
) -> CompileKey:
    """What compiling ``model`` for ``x`` with these settings would be kept under.

    ``random_weights``: the model's weights are random (untrained), and any
    random weights will do (see the module's docstring).
    """
    weights = RANDOM if random_weights else weights_hash(model)
    return CompileKey(plan.config, weights, str(device), precision, channels_last, tuple(x.shape), threads)


_CACHE: OrderedDict[CompileKey, Compiled] = OrderedDict()
_RATES: dict[str, float] = {}
"""Measured compile seconds per plan row, by device type (the latest compile's)."""
_LOCK = threading.Lock()
"""Held for a whole compiled run (:func:`compile_session`)."""
_LOCK_GUARD = threading.Lock()
"""Guards the cache's dict and the rates (short holds)."""
_STATE = {"fresh": 0}
"""Fresh compiles since Dynamo's graphs were last dropped."""


def estimate_compile(plan: ArchitecturePlan, key: CompileKey) -> CompileEstimate:
    """How long compiling ``key`` would take: 0 when cached, else the plan's rows at the last measured rate."""
    with _LOCK_GUARD:
        if key in _CACHE:
            return CompileEstimate(0.0, "compiled earlier in this process: reused")
        rows = len(plan.layers)
        device_type = torch.device(key.device).type
        rate = _RATES.get(device_type)
    if rate is None:
        return CompileEstimate(
            rows * GUESS_SECONDS_PER_ROW,
            f"no compile measured yet in this process: {GUESS_SECONDS_PER_ROW:g} s assumed per plan row, {rows} rows",
        )
    return CompileEstimate(
        rows * rate, f"{rows} plan rows at {rate:.2f} s each, as the last compile on {device_type} in this process took"
    )


def _drop_all() -> None:
    """Drop every compiled graph of the process, and this cache (Dynamo's recompile limit; their memory)."""
    import torch._dynamo

    with _LOCK_GUARD:
        _CACHE.clear()
    torch._dynamo.reset()
    _STATE["fresh"] = 0


def clear_compiled() -> None:
    """Forget every compiled model (and Dynamo's compiled graphs); not from inside a :func:`compile_session`."""
    with _LOCK:
        _drop_all()


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _call(module: nn.Module, x: Tensor, device: torch.device, precision: Precision) -> float:
    """Seconds of one call, waited for, under the run's autocast and inference mode."""
    synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, precision):
        module(x)
    synchronize(device)
    return time.perf_counter() - start


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = next((t.strip() for t in text if t.strip()), type(err).__name__)
    return line if len(line) <= 200 else line[:197] + "..."


class CompileSession:
    """The process's compiled work, held by one caller: get a compiled model, call it; others wait."""

    def get(
        self,
        model: nn.Module,
        plan: ArchitecturePlan,
        x: Tensor,
        device: torch.device,
        precision: Precision,
        channels_last: bool,
        threads: int,
        say: Callable[[str], None] | None = None,
        key: CompileKey | None = None,
    ) -> Compiled:
        """``model`` compiled for ``x``'s shape and these settings: from the cache, or compiled now.

        Args:
            model: The network, on ``device``, in eval mode and the run's memory format.
            plan: Its plan (for the compile's rate per row).
            x: The run's input, on ``device``, in the run's memory format.
            device: Where it runs.
            precision: The autocast precision it is called under.
            channels_last: Whether the model and input are channels-last.
            threads: The CPU threads it runs on (set by the caller).
            say: Called with a short sentence before the compile.
            key: The key, when the caller made it already (:func:`compile_key`).
                With random weights, a reused model's weights are loaded into ``model``.

        Raises:
            CompileError: no compiler here, or the compile failed.
        """
        if why := compile_support(device):
            raise CompileError(why[0].upper() + why[1:] + ".")
        model.eval()  # traced in training mode, the norms would use the batch's statistics
        key = key or compile_key(model, plan, x, device, precision, channels_last, threads)
        with _LOCK_GUARD:
            found = _CACHE.get(key)
            if found is not None:
                _CACHE.move_to_end(key)
        if found is not None:
            if key.weights == RANDOM and found.model is not model:  # the compiled graph froze those random weights
                with torch.no_grad():
                    model.load_state_dict(found.model.state_dict())
            return Compiled(found.module, found.model, key, found.seconds, reused=True)
        if _STATE["fresh"] >= _RESET_AFTER:
            _drop_all()
        if say is not None:
            estimate = estimate_compile(plan, key)
            say(f"compiling with Inductor (about {format_seconds(estimate.seconds)}: {estimate.source})")
        compiled = self._compile(model, plan, key, x, device, precision)
        with _LOCK_GUARD:
            _CACHE[key] = compiled
            while len(_CACHE) > MAX_CACHED:
                _CACHE.popitem(last=False)
        return compiled

    def _compile(
        self,
        model: nn.Module,
        plan: ArchitecturePlan,
        key: CompileKey,
        x: Tensor,
        device: torch.device,
        precision: Precision,
    ) -> Compiled:
        import torch._dynamo
        import torch._inductor.config

        module = cast(nn.Module, torch.compile(model, backend="inductor", dynamic=False))  # an OptimizedModule
        graphs = _graphs()
        _STATE["fresh"] += 1
        try:
            # freezing is read when Dynamo traces; a fallback to eager must fail, never be timed as compiled
            with (
                torch._inductor.config.patch(freezing=True),
                torch._dynamo.config.patch(fail_on_recompile_limit_hit=True),
            ):
                first = _call(module, x, device, precision)
                second = _call(module, x, device, precision)
        except (MemoryError, torch.OutOfMemoryError):
            raise
        except Exception as err:
            raise CompileError(
                f"torch.compile failed on this design on {device} ({type(err).__name__}: {_first_line(err)}); "
                "run without compiling."
            ) from None
        if _graphs() <= graphs:
            raise CompileError(
                f"torch.compile made no graph for this design on {device} (PyTorch ran it eager); run without compiling."
            )
        seconds = max(0.0, first - second)
        with _LOCK_GUARD:
            _RATES[device.type] = seconds / max(len(plan.layers), 1)
        return Compiled(module, model, key, seconds, reused=False)


@contextmanager
def compile_session(
    check: Callable[[], None] | None = None, wait: Callable[[], None] | None = None
) -> Iterator[CompileSession]:
    """Hold the process's compiled work for the block; ``check`` is called while waiting for another run's.

    Args:
        check: Called every 0.2 s while another caller holds it (it may raise to stop waiting).
        wait: Called once when the session has to wait (to say so).
    """
    if not _LOCK.acquire(blocking=False):
        if wait is not None:
            wait()
        while not _LOCK.acquire(timeout=0.2):
            if check is not None:
                check()
    try:
        yield CompileSession()
    finally:
        _LOCK.release()
