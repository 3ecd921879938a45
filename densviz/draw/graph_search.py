"""A selection of the concatenation graph: what names one, and the search box's forms that find it.

Plain data and arithmetic, no graphviz or streamlit. A *selection* is a name:
a plan row's module path (``features.denseblock2.denselayer7``), a dense
block's (``features.denseblock2``), ``input``, ``stem``, or a running
concatenation of the ``chain`` drawing (``features.denseblock2.concat7``).
:func:`find` reads what a user typed into the search box or the ``node=``
link and names the selection, or says in a sentence why nothing matched and
which forms are allowed. :mod:`densviz.draw.graph_select` describes a
selection and marks it in a drawing (and re-exports what is here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from densviz.core.plan import ArchitecturePlan, BlockSummary, LayerPlan, Role
from densviz.draw.graph_model import INPUT_ID

__all__ = [
    "SEARCH_FORMS",
    "STEM_ID",
    "Found",
    "find",
    "is_selectable",
    "plan_block",
    "plan_concat",
    "plan_row",
    "short_name",
]

STEM_ID = "stem"
"""The overview's one node for the stem, and the cluster of its rows at the other levels."""

SEARCH_FORMS = (
    "a name or a number: denselayer7, block 3 layer 12, transition2, denseblock3, "
    "conv0, norm5, classifier, or a full path such as features.denseblock2.denselayer7"
)
"""What the search box and the ``node=`` link accept, in words."""

_CONCAT = re.compile(r"^(features\.denseblock(\d+))\.concat(\d+)$")


# --- what names a selection -----------------------------------------------------


def short_name(name: str) -> str:
    """A module path's last part: ``denselayer7`` of ``features.denseblock2.denselayer7``."""
    return name.rsplit(".", 1)[-1]


def plan_block(plan: ArchitecturePlan, name: str) -> BlockSummary | None:
    """The dense block of this plan named ``name``, if there is one."""
    return next((b for b in plan.blocks if b.name == name), None)


def plan_concat(plan: ArchitecturePlan, name: str) -> tuple[BlockSummary, int] | None:
    """(block, layer index) of a running concatenation's name, if it is one of this plan's."""
    m = _CONCAT.match(name)
    if not m:
        return None
    block = plan_block(plan, m.group(1))
    index = int(m.group(3))
    return (block, index) if block is not None and 1 <= index <= block.layers else None


def plan_row(plan: ArchitecturePlan, name: str) -> LayerPlan | None:
    """The plan row named ``name``, if there is one."""
    try:
        return plan[name]
    except KeyError:
        return None


def is_selectable(plan: ArchitecturePlan, name: str) -> bool:
    """Whether ``name`` is a module, block, the input, the stem or a concatenation of this plan."""
    return (
        name in (INPUT_ID, STEM_ID)
        or plan_row(plan, name) is not None
        or plan_block(plan, name) is not None
        or plan_concat(plan, name) is not None
    )


# --- search -------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What a search found.

    Attributes:
        name: The selection (a module path, block, ``input`` or ``stem``), or
            ``None`` if nothing matched.
        message: A sentence for the user: why nothing matched (with the forms
            allowed), or which of several matches was taken; ``None`` if there
            is nothing to say.
    """

    name: str | None
    message: str | None = None


_BLOCK_LAYER = re.compile(r"^(?:dense)?block(\d+)[,./]?(?:dense)?layer(\d+)$|^b(\d+)[,./]?l(\d+)$")
_BLOCK_ONLY = re.compile(r"^(?:dense)?block(\d+)$")
_LAYER_ONLY = re.compile(r"^(?:dense)?layer(\d+)$")
_TRANSITION = re.compile(r"^transition(\d+)$")


def _nothing(text: str, why: str | None = None) -> Found:
    lead = why or f"Nothing in this network matches {text!r}."
    return Found(None, f"{lead} Search by {SEARCH_FORMS}.")


def _layer_in_block(plan: ArchitecturePlan, text: str, b: int, index: int) -> Found:
    if not 1 <= b <= len(plan.blocks):
        return _nothing(text, f"This network has {len(plan.blocks)} dense blocks; there is no block {b}.")
    layers = plan.blocks[b - 1].layers
    if not 1 <= index <= layers:
        return _nothing(text, f"Dense block {b} has {layers} layers; there is no layer {index}.")
    return Found(f"{plan.blocks[b - 1].name}.denselayer{index}")


def _layer_anywhere(plan: ArchitecturePlan, text: str, index: int) -> Found:
    """Layer ``index`` of the first block long enough, naming the others that have one too."""
    blocks = [b.index for b in plan.blocks if b.layers >= index >= 1]
    if not blocks:
        longest = max(b.layers for b in plan.blocks)
        return _nothing(text, f"No dense block has a layer {index} (the longest has {longest}).")
    first = blocks[0]
    note = None
    if len(blocks) > 1:
        others = ", ".join(str(b) for b in blocks[1:])
        note = (
            f"Showing layer {index} of block {first}; block{'s' if len(blocks) > 2 else ''} {others} "
            f"{'have' if len(blocks) > 2 else 'has'} one too (search block {blocks[1]} layer {index})."
        )
    return Found(f"features.denseblock{first}.denselayer{index}", note)


def find(plan: ArchitecturePlan, text: str) -> Found:
    """The selection a search box text names.

    Accepted (any case, spaces optional, ``features.`` optional, ``/`` for
    ``.`` as Netron writes paths): a full path; ``denselayer7`` or
    ``layer 7`` (the first block that has a layer 7); ``block 3 layer 12``,
    ``b3l12`` or ``denseblock3.denselayer12``; ``block 3`` or ``denseblock3``;
    ``transition2``; a stem or head module's own name (``conv0``, ``norm5``,
    ``classifier``); ``input`` and ``stem``.

    Args:
        plan: The network searched.
        text: What the user typed.

    Returns:
        The selection, or ``None`` with a sentence naming what was wrong and
        the forms allowed.
    """
    raw = text.strip()
    if not raw:
        return Found(None)
    s = raw.lower().replace("/", ".")
    if is_selectable(plan, s):
        return Found(s)
    if is_selectable(plan, f"features.{s}"):
        return Found(f"features.{s}")
    s = re.sub(r"\s+", "", s.removeprefix("features."))
    if m := _BLOCK_LAYER.match(s):
        b, index = (int(g) for g in (m.group(1, 2) if m.group(1) else m.group(3, 4)))
        return _layer_in_block(plan, raw, b, index)
    if m := _BLOCK_ONLY.match(s):
        b = int(m.group(1))
        if not 1 <= b <= len(plan.blocks):
            return _nothing(raw, f"This network has {len(plan.blocks)} dense blocks; there is no block {b}.")
        return Found(plan.blocks[b - 1].name)
    if m := _LAYER_ONLY.match(s):
        return _layer_anywhere(plan, raw, int(m.group(1)))
    if m := _TRANSITION.match(s):
        t = int(m.group(1))
        transitions = plan.with_role(Role.TRANSITION)
        if not 1 <= t <= len(transitions):
            why = (
                f"This network has transitions 1 to {len(transitions)}; there is no transition {t}."
                if transitions
                else "This network has one dense block and no transition."
            )
            return _nothing(raw, why)
        return Found(transitions[t - 1].name)
    unique = [r.name for r in plan.layers if r.role is not Role.DENSE_LAYER and short_name(r.name) == s]
    if len(unique) == 1:
        return Found(unique[0])
    return _nothing(raw)
