import pytest

from densviz.core.units import format_bytes, format_count, format_macs, parse_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [(7_978_856, "7.98 M"), (28_681_000, "28.7 M"), (769_162, "769 k"), (999, "999"), (0, "0")],
)
def test_format_count(n: int, text: str) -> None:
    assert format_count(n) == text


def test_format_macs_and_bytes() -> None:
    assert format_macs(2_834_161_664) == "2.83 GMACs"
    assert format_macs(288_000_000) == "288 MMACs"
    assert format_bytes(7_978_856 * 4) == "30.4 MiB"  # 31,915,424 B / 2^20
    assert format_bytes(4 << 30) == "4.00 GiB"
    assert format_bytes(512) == "512 B"


@pytest.mark.parametrize(("text", "n"), [("4GiB", 4 << 30), ("512 MiB", 512 << 20), ("2g", 2 << 30), ("100", 100)])
def test_parse_bytes(text: str, n: int) -> None:
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text", ["", "abc", "-1GiB", "4 parsecs", "nan", "inf"])
def test_parse_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bytes(text)
