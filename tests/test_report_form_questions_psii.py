"""The second-stage PSII table beside the referrals table's PSIRF row.

The referrals table counts each referral once per review recording it, first and second stage
(its note says so); the second-stage PSII table counts the same question's answers on the
second-stage reviews: each of its cells is among the PSIRF row's cells of its status ("Led to
a PSII" among made and completed together). An audit of the demo's 2025-26 reports
(2026-12-06, held out) found XI6's "Led to a PSII" 10 (8-12) beside its PSIRF row of 10
(8-12) with none planned, which left "Considered and not needed" ``*`` at most 12 - 8 = 4
(true 2), and XP9's at 1-6. These tests build such an organisation's reviews by hand, print
both tables as a trust report does and attack them with the project's own
:class:`sjrlib.disclosure_check.Problem`, reading the relation whatever the page says.
"""

from __future__ import annotations

import html

import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.disclosure_check import Problem, check_reports
from sjrlib.form.registry import LATEST_VERSION
from sjrlib.report.form_questions import FormQuestionSections
from tests.differencing import attacked

RULE = DisclosureRule()
PSIRF = "Patient safety incident investigation (PSIRF)"
STATUSES = ["Considered and not needed", "Planned", "Made", "Completed"]
WHOLE = "All referrals of the type"
PSII_ROW = "Second-stage reviews"
PSII_AMONG = {"PSII considered and not needed": ["Considered and not needed"],
              "PSII planned": ["Planned"],
              "Led to a PSII (referral made or completed)": ["Made", "Completed"]}


def _reviews(first: dict[str, int], second: dict[str | None, int]) -> pd.DataFrame:
    """Reviews on ext2026 recording a PSII referral of each status (None: none): ``first``
    at first stage, ``second`` at second stage (each of another death); no other referral."""
    rows, i = [], 0
    for stage, counts in (("first", first), ("second", second)):
        for status, n in counts.items():
            for _ in range(n):
                rows.append({"review_id": f"r{i}", "case_id": f"c{i}",
                             "organisation_code": "XI6", "review_stage": stage,
                             "status": "submitted", "form_version": LATEST_VERSION,
                             "review_date": "2025-05-01", "death_month": "2025-04",
                             "score_overall": 3, domain.referral_column("psii"): status})
                i += 1
    frame = pd.DataFrame(rows)
    for column in domain.REVIEW_COLUMNS:
        if column not in frame:
            frame[column] = None
    for column in (*(domain.score_column(p) for p in domain.PHASES), "avoidability_score",
                   "age_at_death"):
        frame[column] = frame[column].astype("Int64")
    frame["review_date"] = pd.to_datetime(frame["review_date"])
    return frame


class _Report(FormQuestionSections):
    def __init__(self, reviews: pd.DataFrame) -> None:
        self.reviews, self.rule, self.alpha = reviews, RULE, 0.05


def _attack(referrals: pd.DataFrame, psii: pd.DataFrame) -> list:
    """A reader's attack on the two tables as printed: each printed count its range (``*`` 1
    and up, reported when narrowed inside 1-7), the referrals table's rows adding up to their
    "All" column and its rows to "All referrals", the PSII row to its "All" column, and each
    PSII cell among the PSIRF row's cells of its status."""
    p = Problem()

    def cell(key, text):
        return p.count(key, str(text), threshold=RULE.threshold, rounding=RULE.rounding,
                       where=str(key)) or p.declare(key, 0, 0, controlled=False)

    ref = {(r, c): cell(("ref", r, c), referrals.at[r, c])
           for r in referrals.index for c in [*STATUSES, WHOLE]}
    for r in referrals.index:
        p.add_sum([ref[r, c] for c in STATUSES], ref[r, WHOLE], "a row adds up")
    body = [r for r in referrals.index if r != "All referrals"]
    for c in [*STATUSES, WHOLE]:
        p.add_sum([ref[r, c] for r in body], ref["All referrals", c], "rows add up")
    columns = [c for c in psii.columns if not c.startswith("%")]
    mine = {c: cell(("psii", c), psii.at[PSII_ROW, c]) for c in columns}
    p.add_sum([mine[c] for c in columns[:-1]], mine[columns[-1]], "the PSII row adds up")
    for column, statuses in PSII_AMONG.items():
        whole = ref[PSIRF, statuses[0]]
        if len(statuses) > 1:
            whole = p.fresh()
            p.add_sum([ref[PSIRF, s] for s in statuses], whole, "made and completed")
        p.add_sum([mine[column], p.fresh()], whole, "among the PSIRF row")
    return attacked(p)


# XI6's pattern: two first-stage referrals considered and not needed; at second stage 5
# made and 4 completed (led to a PSII: 9, printed 10) and 20 without one: the PSIRF row is
# 2, 0, 5, 4 (11, printed 10)
XI6 = ({"considered_not_needed": 2}, {"made": 5, "completed": 4, None: 20})
# one considered at first stage; 9 made and 4 completed at second (13, printed 15) beside a
# PSIRF row of 1, 0, 9, 4 (14, printed 15): the * at most 17 - 13
ONE = ({"considered_not_needed": 1}, {"made": 9, "completed": 4, None: 12})


@pytest.mark.parametrize("pattern", [XI6, ONE], ids=["XI6", "one considered"])
def test_the_psii_table_narrows_no_referral(pattern):
    report = _Report(_reviews(*pattern))
    referrals, psii = report.referrals_on(), report.second_stage_psii()
    assert referrals.frame.at[PSIRF, "Considered and not needed"] == RULE.symbol
    assert not _attack(referrals.frame, psii.frame)


def test_the_psii_table_alone_is_as_before_without_referrals_beside_it():
    """Without the referrals table (protected alone) the PSII table prints its own counts."""
    from sjrlib.report.form_questions import second_stage_psii

    psii = second_stage_psii(_reviews(*XI6), RULE).frame
    assert psii.at[PSII_ROW, "Led to a PSII (referral made or completed)"] == 10


RULE_NOTE = ("Disclosure control: counts from 1 to 7 are shown as * (with a second cell withheld "
             "where a total would reveal one); other counts are rounded to the nearest 5.")


def _table(caption: str, columns: list[str], rows: list[tuple[str, list[str]]],
           totals: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    total = ' class="total"'
    body = "".join(
        f'<tr{total if label in totals else ""}><th scope="row">{html.escape(label)}</th>'
        + "".join(f"<td>{html.escape(v)}</td>" for v in cells) + "</tr>"
        for label, cells in rows)
    return (f'<table class="sjr-table"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
            f'<p class="sjr-note">{html.escape(RULE_NOTE)}</p>')


def test_the_checker_reads_the_psii_table_among_the_referrals(tmp_path):
    """XI6's page as the audit read it: PSIRF 10 = *, 0, *, * beside "Led to a PSII" 10:
    the checker finds "Considered and not needed" at most 4."""
    referrals = _table(
        "Referrals on from reviews, by type and status (ext2026 questions)",
        [*STATUSES, WHOLE],
        [(PSIRF, ["*", "0", "*", "*", "10"]), ("All referrals", ["*", "0", "*", "*", "10"])],
        totals=("All referrals",))
    psii = _table(
        "Second-stage reviews that led to a patient safety incident investigation (PSIRF) "
        "(ext2026 questions)",
        ["No PSII referral", "PSII considered and not needed", "PSII planned",
         "Led to a PSII (referral made or completed)", "All second-stage reviews"],
        [(PSII_ROW, ["20", "0", "0", "10", "30"])])
    (tmp_path / "XI6.html").write_text(f"<html><body>{referrals}{psii}</body></html>",
                                       encoding="utf-8")
    findings, n, notes = check_reports([tmp_path])
    assert n == 1 and notes == []
    hits = [f for f in findings if "Considered and not needed" in f.where
            and PSIRF in f.where]
    assert hits and all(f.high is not None and f.high <= 4 for f in hits), \
        [str(f) for f in findings]
    (tmp_path / "XI6.html").write_text(f"<html><body>{referrals}</body></html>",
                                       encoding="utf-8")
    assert check_reports([tmp_path])[0] == []
