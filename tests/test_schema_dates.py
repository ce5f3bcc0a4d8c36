"""Dates a pandas frame cannot hold are reported as date errors, never a crash."""

from __future__ import annotations

import pytest

from sjrlib import schema


@pytest.mark.parametrize("n_rows", [1, 20, 3000])  # single review, small and large frame paths
@pytest.mark.parametrize("bad", ["0000-01-01", "1200-06-30", "9999-12-31", "2024-02-30"])
def test_out_of_range_review_date_is_a_date_error(small_data, n_rows, bad):
    frame = small_data.reviews.head(n_rows).astype(object).copy()
    frame.iloc[0, frame.columns.get_loc("review_date")] = bad
    with pytest.raises(schema.ValidationFailed) as failed:
        schema.validate_reviews(frame, source="reviews.csv")
    first = failed.value.errors[0]
    assert (first.row, first.column, first.rule, first.value) == (2, "review_date",
                                                                  "date_format", bad)
