"""Durations and sizes as people read them (core.numbers)."""

import pytest

from core.numbers import duration_text, size_mb, size_text


@pytest.mark.parametrize("seconds, text", [
    (8, "8秒"), (130, "2分10秒"), (120, "2分"), (115.4, "1分55秒"), (119.6, "2分"), (0.3, "0秒"), (None, ""),
])
def test_durations_read_in_whole_seconds(seconds, text):
    assert duration_text(seconds) == text


def test_an_exact_duration_keeps_the_tenth_that_matters():
    assert duration_text(120.4, exact=True) == "2分0.4秒"
    assert duration_text(130.0, exact=True) == "2分10秒"


@pytest.mark.parametrize("size, text", [
    (15, "15 字节"), (2048, "2 KB"), (13_002_342, "12.4 MB"), (300 * 2**20, "300 MB"), (5 * 2**30, "5 GB"),
])
def test_sizes_carry_a_decimal_only_when_it_says_something(size, text):
    assert size_text(size) == text


def test_size_in_mb_is_a_number_with_one_decimal():
    assert size_mb(13_002_342) == 12.4
    assert size_mb(None) is None
