"""An NHS or CHI number touching a letter, full stop or underscore is still found.

Before, the ten-digit rule skipped a number straight after a full stop or underscore, or straight
before a letter, so ``find_identifiers`` returned nothing for a valid NHS number typed as
"seen.9434765919" (a missing space) and the review was stored with it. A number is still not
taken from inside a decimal ("0.9434765919"), a longer run of digits, or a code of letters and
digits without a label ("ABC9434765919"). The numbers here are checked by hand: 9434765919 has
weights 10..2 summing to 299, 299 mod 11 = 2, check 11 - 2 = 9; 0101901232 is a CHI number
(01/01/90, check digit 2 by modulus 11: weights 10..2 give 86, 86 mod 11 = 9, 11 - 9 = 2).
"""

from __future__ import annotations

import pytest

from sjrlib.privacy import find_identifiers


@pytest.mark.parametrize("text, kind, number", [
    ("Reviewed notes, seen.9434765919 on the ward", "nhs_number", "9434765919"),
    ("CHI_0101901232 noted", "chi_number", "0101901232"),
    ("label 9434765919x printed", "nhs_number", "9434765919"),
    ("NHS no:9434765919.", "nhs_number", "9434765919"),
    ("ref9434765919", "nhs_number", "9434765919"),  # labelled: found as before
])
def test_a_number_against_a_letter_stop_or_underscore_is_found(text, kind, number):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [(kind, number)]


@pytest.mark.parametrize("text", [
    "potassium 0.9434765919 by the analyser",  # the decimals of a number
    "ratio 12,9434765919",
    "ABC9434765919",  # a code of letters and digits, no label
    "19434765919",  # eleven digits: not ten of them
])
def test_decimals_codes_and_longer_runs_are_not_numbers(text):
    assert [f.kind for f in find_identifiers(text) if f.kind in ("nhs_number", "chi_number")] \
        == []
