"""How a request is split into upstream calls, and how the usage of several answers adds up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_server_images.backends.base import sum_usage
from mcp_server_images.operations.pipeline import split_batches


@pytest.mark.parametrize(
    ("total", "per_request", "batches"),
    [
        (1, 1, [1]),
        (5, 1, [1, 1, 1, 1, 1]),
        (5, 10, [5]),
        (10, 10, [10]),
        (7, 3, [3, 3, 1]),
        (6, 3, [3, 3]),
    ],
)
def test_split_batches(total: int, per_request: int, batches: list[int]) -> None:
    assert split_batches(total, per_request) == batches


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=1, max_value=1000), per_request=st.integers(min_value=1, max_value=20))
def test_splits_sum_to_the_total(total: int, per_request: int) -> None:
    batches = split_batches(total, per_request)

    assert sum(batches) == total
    assert all(1 <= batch <= per_request for batch in batches)
    assert len(batches) == -(-total // per_request), "as few requests as the limit allows"
    assert batches == sorted(batches, reverse=True), "only the last batch is short"


GPT_USAGE = {
    "input_tokens": 10,
    "output_tokens": 4160,
    "total_tokens": 4170,
    "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
}


def test_usage_of_a_fan_out_adds_up_with_nested_details() -> None:
    other = {
        "input_tokens": 333,
        "output_tokens": 4160,
        "total_tokens": 4493,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 323},
    }

    assert sum_usage([GPT_USAGE, None, other]) == {
        "input_tokens": 343,
        "output_tokens": 8320,
        "total_tokens": 8663,
        "input_tokens_details": {"text_tokens": 20, "image_tokens": 323},
    }
    assert GPT_USAGE["input_tokens"] == 10, "the inputs are not changed"


def test_no_usage_at_all_is_none() -> None:
    assert sum_usage([]) is None
    assert sum_usage([None, None]) is None


def test_one_usage_is_itself() -> None:
    assert sum_usage([None, GPT_USAGE]) == GPT_USAGE


def test_keys_of_one_side_are_kept_and_non_numbers_are_not_added() -> None:
    left: dict[str, Any] = {"total_tokens": 5, "cached": True, "model": "a", "detail": {"x": 1}}
    right: dict[str, Any] = {"total_tokens": 2, "cached": False, "model": "b", "detail": 3, "extra": 1.5}

    assert sum_usage([left, right]) == {
        "total_tokens": 7,
        "cached": True,
        "model": "a",
        "detail": {"x": 1},
        "extra": 1.5,
    }


COUNTS = ("input_tokens", "output_tokens", "total_tokens")
token_counts = st.dictionaries(st.sampled_from(COUNTS), st.integers(min_value=0, max_value=10**6))


@settings(max_examples=150, deadline=None)
@given(usages=st.lists(st.one_of(st.none(), token_counts), max_size=8))
def test_summed_counts_equal_the_sum_of_the_counts(usages: list[dict[str, int] | None]) -> None:
    total = sum_usage(usages)

    present = [usage for usage in usages if usage is not None]
    if not present:
        assert total is None
        return
    assert total is not None
    for key in COUNTS:
        counts = [usage[key] for usage in present if key in usage]
        if counts:
            assert total[key] == sum(counts)
        else:
            assert key not in total
