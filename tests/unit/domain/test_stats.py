"""One percentile for the metrics windows and the bench: nearest rank."""

from __future__ import annotations

import pytest

from domain.stats import median, percentile


def test_nearest_rank_p50_of_one_to_ten_is_five() -> None:
    samples = [float(n) for n in range(10, 0, -1)]  # unsorted on purpose
    assert percentile(samples, 50) == 5
    assert percentile(samples, 90) == 9
    assert percentile(samples, 99) == 10
    assert percentile(sorted(samples), 50, is_sorted=True) == 5


def test_no_samples_is_an_error_not_a_number() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    assert median([]) != median([])  # nan: the bench shows it as missing
