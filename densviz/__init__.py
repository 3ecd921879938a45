"""densviz: see and measure DenseNets.

The engine: a :class:`DenseNetConfig` and an :class:`InputSpec` go into
:func:`make_plan` (exact per-layer numbers, no torch) and :func:`build_model`
(the real PyTorch model, torchvision's layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec
from densviz.core.plan import make_plan

if TYPE_CHECKING:
    from densviz.nn.model import build_model

__all__ = ["PRESETS", "ConfigError", "DenseNetConfig", "InputSpec", "build_model", "make_plan"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # build_model needs torch; import it only when asked, so that the plan stays
    # usable (and fast to import) without torch.
    if name == "build_model":
        from densviz.nn.model import build_model

        return build_model
    raise AttributeError(f"module 'densviz' has no attribute {name!r}")
