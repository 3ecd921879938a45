"""A profile's rows and bytes: the steps of each plan row, each row's time in the median pass, its traffic and rate.

Plain data and arithmetic over the times :mod:`densviz.run.profile` measures
(which re-exports the public names here): :func:`row_steps` says where each
step of a row ends (the hook that closes it), :func:`pass_segments` lays every
step of a pass out in order, :func:`median_rows` turns the profiled passes'
segment times into one :class:`RowProfile` per plan row, with its bytes moved
(:func:`densviz.run.bandwidth.row_bytes`) and GFLOP/s; :class:`ProfileResult`
holds them beside the end-to-end latency and the roofline's roofs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from densviz.core.plan import ArchitecturePlan, LayerPlan, Role
from densviz.run.bandwidth import row_bytes
from densviz.run.devices import Precision

__all__ = ["Marker", "ProfileResult", "RowProfile", "Segment", "median_rows", "pass_segments", "row_steps"]

Marker = tuple[str, str]  # where a step ends: (module path, ``pre`` or ``post`` hook)


@dataclass(frozen=True)
class RowProfile:
    """One plan row's measured time, rate and traffic.

    Attributes:
        name: Module path.
        role: Its role's value (``stem``, ``dense_layer`` …).
        block: Its dense block, or ``None``.
        macs: Multiply-accumulates for the whole batch.
        bytes_moved: Bytes read + written (see :func:`densviz.run.bandwidth.row_bytes`).
        time_ms: Its time in the median profiled pass (the mean of the two middle ones for an even count).
        share: Its time over the rows' total.
        steps: (step, ms) of its steps, in order, in the same pass: they add up to ``time_ms``.
    """

    name: str
    role: str
    block: int | None
    macs: int
    bytes_moved: int
    time_ms: float
    share: float
    steps: tuple[tuple[str, float], ...] = ()

    @property
    def gflops(self) -> float:
        """Achieved GFLOP/s (2 FLOPs per MAC)."""
        return 2 * self.macs / (self.time_ms / 1e3) / 1e9 if self.time_ms > 0 else 0.0

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte moved."""
        return 2 * self.macs / self.bytes_moved if self.bytes_moved else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "role": self.role,
            "block": self.block,
            "time_ms": self.time_ms,
            "share": self.share,
            "gflops": self.gflops,
            "macs": self.macs,
            "bytes_moved": self.bytes_moved,
            "intensity": self.intensity,
            "steps": [{"step": s, "time_ms": t} for s, t in self.steps],
        }


@dataclass(frozen=True)
class ProfileResult:
    """A profiled run: every row, the end-to-end latency beside their sum, and the roofline's two roofs."""

    device: str
    precision: Precision
    channels_last: bool
    batch: int
    threads: int
    runs: int
    rows: tuple[RowProfile, ...]
    end_to_end_ms: float
    end_to_end_source: str
    peak_gflops: float
    peak_source: str
    bandwidth_gbs: float
    bandwidth_source: str
    trace: bytes | None = field(default=None, repr=False)

    @property
    def total_ms(self) -> float:
        """The rows' times added up."""
        return sum(r.time_ms for r in self.rows)

    @property
    def ratio(self) -> float:
        """The rows' total over the end-to-end latency."""
        return self.total_ms / self.end_to_end_ms if self.end_to_end_ms else 0.0

    def roof(self, intensity: float) -> float:
        """The attainable GFLOP/s at ``intensity``: min(peak, bandwidth · intensity)."""
        return min(self.peak_gflops, self.bandwidth_gbs * intensity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``densviz profile --json`` prints)."""
        return {
            "device": self.device,
            "precision": self.precision.value,
            "channels_last": self.channels_last,
            "batch": self.batch,
            "threads": self.threads,
            "runs": self.runs,
            "rows": [r.to_dict() for r in self.rows],
            "total_ms": self.total_ms,
            "end_to_end_ms": self.end_to_end_ms,
            "end_to_end_source": self.end_to_end_source,
            "ratio": self.ratio,
            "peak_gflops": self.peak_gflops,
            "peak_source": self.peak_source,
            "bandwidth_gbs": self.bandwidth_gbs,
            "bandwidth_source": self.bandwidth_source,
        }


def row_steps(plan: ArchitecturePlan, row: LayerPlan) -> list[tuple[str, Marker]]:
    """A row's steps in order, each with the hook that ends it; the last ends at the row's own module."""
    n = row.name
    if row.role is Role.DENSE_LAYER:
        steps = [("concat", (f"{n}.norm1", "pre")), ("norm1+relu1", (f"{n}.relu1", "post"))]
        if plan.config.bn_size > 0:
            steps += [
                ("conv1", (f"{n}.conv1", "post")),
                ("norm2+relu2", (f"{n}.relu2", "post")),
                ("conv2", (n, "post")),
            ]
        else:
            steps.append(("conv1", (n, "post")))
        return steps
    if row.role is Role.TRANSITION:
        return [
            ("concat", (f"{n}.norm", "pre")),
            ("norm+relu", (f"{n}.relu", "post")),
            ("conv", (f"{n}.conv", "post")),
            ("pool", (n, "post")),
        ]
    if row.role is Role.FINAL_NORM:
        return [("concat", (n, "pre")), ("norm", (n, "post"))]
    if row.role is Role.CLASSIFIER:
        return [("relu+pool", (n, "pre")), ("linear", (n, "post"))]
    return [(row.kind.value, (n, "post"))]


Segment = tuple[str, str, bool, bool]  # (row, step or "" for a row of one step, first of its row, last of its row)


def pass_segments(plan: ArchitecturePlan) -> tuple[list[Segment], dict[Marker, int]]:
    """Every step of a pass in order, and which segment each hook ends."""
    segments: list[Segment] = []
    ends: dict[Marker, int] = {}
    for row in plan.layers:
        steps = row_steps(plan, row)
        for j, (step, marker) in enumerate(steps):
            ends[marker] = len(segments)
            segments.append((row.name, step if len(steps) > 1 else "", j == 0, j == len(steps) - 1))
    return segments, ends


def _middle(values: list[float]) -> list[int]:
    """The indices of the median: the middle one of an odd count, the two middle ones of an even count."""
    order = sorted(range(len(values)), key=values.__getitem__)
    n = len(order)
    return [order[n // 2]] if n % 2 else [order[n // 2 - 1], order[n // 2]]


def median_rows(
    plan: ArchitecturePlan, segments: list[Segment], passes: list[list[float]], element: int
) -> list[RowProfile]:
    """Every row's time and its steps' in the median profiled pass (so that they add up to that pass).

    The median pass is the one whose total is the median (the mean of the two
    middle ones for an even count). Each row's own median, taken apart, would
    leave out every spike of a loaded machine, and their sum would read well
    under the median of whole passes that it is set against.
    """
    middle = _middle([sum(p) for p in passes])
    mean = [statistics.fmean(passes[k][i] for k in middle) for i in range(len(segments))]
    times: dict[str, float] = {}
    steps: dict[str, list[tuple[str, float]]] = {}
    for i, (row, step, _, _) in enumerate(segments):
        times[row] = times.get(row, 0.0) + mean[i]
        if step:
            steps.setdefault(row, []).append((step, mean[i]))
    total = sum(times.values())
    batch = plan.input.batch
    return [
        RowProfile(
            r.name,
            r.role.value,
            r.block,
            r.macs * batch,
            row_bytes(plan, r, element),
            times[r.name],
            times[r.name] / total if total else 0.0,
            tuple(steps.get(r.name, ())),
        )
        for r in plan.layers
    ]
