"""Human-readable units for counts, MACs and bytes.

Counts use decimal prefixes (7.98 M parameters, 2.83 GMACs), as the paper and
torchvision quote them; memory uses binary prefixes (30.4 MiB), as allocators
report it.
"""

from __future__ import annotations

_DECIMAL = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BINARY = ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def _three_digits(value: float) -> str:
    """Format with three significant digits (7.98, 28.7, 134)."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_count(n: int | float) -> str:
    """Format a count with a decimal prefix: ``7978856`` -> ``"7.98 M"``."""
    for scale, prefix in _DECIMAL:
        if abs(n) >= scale:
            return f"{_three_digits(n / scale)} {prefix}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:.3g}"


def format_macs(macs: int | float) -> str:
    """Format multiply-accumulates: ``2834161664`` -> ``"2.83 GMACs"``."""
    for scale, prefix in _DECIMAL:
        if abs(macs) >= scale:
            return f"{_three_digits(macs / scale)} {prefix}MACs"
    return f"{macs:,.0f} MACs"


def format_bytes(n: int | float) -> str:
    """Format a byte count with a binary prefix: ``31915424`` -> ``"30.4 MiB"``."""
    for scale, unit in _BINARY:
        if abs(n) >= scale:
            return f"{_three_digits(n / scale)} {unit}"
    return f"{n:,.0f} B"


def parse_bytes(text: str) -> int:
    """Parse ``"4GiB"``, ``"512 MiB"``, ``"2G"`` or a plain byte count.

    Raises:
        ValueError: if the text is not a non-negative size.
    """
    units = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
    units |= {"g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40}
    s = text.strip().lower().replace(" ", "")
    number = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(number) :]
    if unit not in units:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}; use B, KiB, MiB, GiB or TiB")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 4GiB or 512MiB") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a non-negative finite size")
    size = value * units[unit]
    if size >= 2**63:  # 1e300T: no machine has it, and int() of it would overflow downstream
        raise ValueError(f"{text!r} is larger than any machine's memory")
    return int(size)
