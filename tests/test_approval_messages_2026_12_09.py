"""An approval refused on the command line names the options typed, without pydantic's words.

Before: "command line: field (approval): Value error, end_date is before start_date" for
`--start 2026-12-01 --end 2026-11-01`, and "Input should be a valid date or datetime, invalid
character in year" for `--start 01/12/2026`. The values are written by hand here.
"""

from __future__ import annotations

import pytest

from data_access.approvals import ApprovalError, load_approval_file, spec_from_values

GOOD = {"id": "T1", "applicants": ["r1"], "purpose": "A study of sepsis care",
        "organisations": ["XQ1"], "period_start": "2025-04", "period_end": "2026-03",
        "fields": ["review_id", "score_overall"], "start_date": "2026-12-01",
        "end_date": "2027-11-30"}


def _refused(**changes) -> str:
    with pytest.raises(ApprovalError) as caught:
        spec_from_values({**GOOD, **changes})
    return str(caught.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"end_date": "2026-11-01"}, "command line: --end is before --start"),
    ({"period_start": "2026-03", "period_end": "2025-04"},
     "command line: --period-end is before --period-start"),
    ({"start_date": "01/12/2026"},
     "command line: --start: '01/12/2026' is not a date written YYYY-MM-DD"),
    ({"fields": ["review_id", "comment_overall"]},
     "command line: free-text field(s) comment_overall need --free-text"),
    ({"period_start": "2025-4"},
     "command line: --period-start: '2025-4' is not a month written YYYY-MM"),
])
def test_the_command_line_is_answered_in_its_own_options(changes, message):
    assert _refused(**changes) == message


def test_every_fault_is_listed_with_its_option():
    text = _refused(period_start="2025-4", start_date="soon", k=1)
    assert text.splitlines() == [
        "command line: --period-start: '2025-4' is not a month written YYYY-MM",
        "command line: --k: Input should be greater than or equal to 2",
        "command line: --start: 'soon' is not a date written YYYY-MM-DD"]
    assert "Value error" not in text


def test_a_file_is_answered_in_its_own_keys(tmp_path):
    path = tmp_path / "approval.yaml"
    path.write_text("id: Y1\napplicants: [r1]\npurpose: A study\norganisations: [XQ1]\n"
                    "period_start: 2025-04\nperiod_end: 2026-03\nfields: [review_id]\n"
                    "start_date: 2026-12-01\nend_date: 2026-11-01\n", encoding="utf-8")
    with pytest.raises(ApprovalError) as caught:
        load_approval_file(path)
    assert str(caught.value) == f"{path} (approval 1): end_date is before start_date"


def test_a_good_approval_still_passes():
    """Control."""
    spec = spec_from_values(GOOD)
    assert (spec.start_date.isoformat(), spec.end_date.isoformat()) == ("2026-12-01",
                                                                          "2027-11-30")
