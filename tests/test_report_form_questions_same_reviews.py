"""The ext2026 poor-care tables' "All reviews asked" row beside the care-score table.

An audit of the demo's 2025-26 reports (2026-12-06, held out) read, for a period in which every
first-stage review was entered on ext2026 (public: docs/form-versions.md), each ext2026 poor-care
table's total row as the same reviews as the care table's overall row. Printed as its own exact
counts rounded, it pinned XG4's five overall counts (care 10, 30, 105, 190, 110 of 450 beside
450 reviews asked with 35 poor: 8, 29, 107, 192, 112 of 448) and left XD1's score 1 ``*`` at
1-4 (scores ``*`` and 45 beside 45 poor). These tests build such organisations' reviews by
hand, print both tables as a trust report does, and attack them with the project's own
:class:`sjrlib.disclosure_check.Problem`, reading the equality whatever the page says.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.disclosure_check import Problem, check_reports
from sjrlib.form.registry import LATEST_VERSION
from sjrlib.report import form_questions as fq
from sjrlib.report import tables
from sjrlib.report.tables import ReportTable
from sjrlib.stats._reviews import ReviewIndex
from sjrlib.synthetic import generate
from tests.differencing import attacked

RULE = DisclosureRule()
OVERALL = domain.label("phase", "overall")
SCORES = tables.CARE_SCORE_LABELS
POOR = "Poor or very poor overall care"
ASKED_ALL_SHOWN = getattr(__import__("sjrlib.disclosure_check", fromlist=["x"]),
                          "ASKED_ALL_SHOWN", "\0 no such sentence before the fix")
GROUP_ROWS = {"ld": "Learning disability, not autistic",
              "autism": "Autistic, no learning disability",
              "both": "Learning disability and autistic", "neither": "Neither (or not known)"}


@pytest.fixture(scope="module")
def first_stage() -> pd.DataFrame:
    """First-stage reviews (one per death), none of them drafts, to rewrite by hand."""
    data = generate(n_organisations=4, years=1, seed=3, start_year=2024, n_scottish=34,
                    today=dt.date(2026, 11, 26))
    r = data.reviews[data.reviews["status"] != "draft"].reset_index(drop=True)
    first = r.iloc[np.sort(ReviewIndex(r).stage_rows("first"))]
    return first[first["review_stage"] == "first"].reset_index(drop=True)


def _organisation(first_stage: pd.DataFrame, scores: list[int],
                  groups: dict[str, tuple[int, int]], *, rcp2017: int = 0) -> pd.DataFrame:
    """One organisation's first-stage reviews: ``scores[i]`` reviews with overall care score
    ``i + 1``; every one on ext2026 except the last ``rcp2017`` (which do not ask about
    autism); ``groups``: per autism/learning disability group (:data:`GROUP_ROWS`), its
    reviews and poor care (scores 1-2) among the ext2026 ones."""
    n = sum(scores)
    assert len(first_stage) >= n
    out = first_stage.iloc[:n].copy()
    out["organisation_code"] = "XZZ"
    out[domain.score_column("overall")] = np.repeat(np.arange(1, 6), scores)
    out["form_version"] = LATEST_VERSION
    if rcp2017:
        out.iloc[-rcp2017:, out.columns.get_loc("form_version")] = "rcp2017"
    poor_rows = list(np.flatnonzero(out[domain.score_column("overall")] <= 2))
    good_rows = [i for i in range(n - rcp2017) if i not in set(poor_rows)]
    poor_rows = [i for i in poor_rows if i < n - rcp2017]
    answers = {"ld": ("yes", "no"), "autism": ("no", "yes"), "both": ("yes", "yes"),
               "neither": ("no", "no")}
    ld, autism = ["no"] * n, ["no"] * n
    for group, (reviews, poor) in groups.items():
        for i in [poor_rows.pop() for _ in range(poor)] + \
                 [good_rows.pop() for _ in range(reviews - poor)]:
            ld[i], autism[i] = answers[group]
    assert sum(r for r, _ in groups.values()) == n - rcp2017, "groups partition the asked"
    out["learning_disability"], out["autism"] = ld, autism
    return out


class _Trust(fq.FormQuestionSections):
    """The two tables as a trust's report prints them."""

    def __init__(self, reviews: pd.DataFrame) -> None:
        self.reviews, self.rule, self.alpha = reviews, RULE, 0.05

    def care_scores(self) -> ReportTable:
        return tables.care_score_table(*tables.care_inputs(self.reviews, self.alpha),
                                       self.rule, alpha=self.alpha)


def _attack(care: pd.DataFrame, asked: ReportTable, *, same: bool) -> list:
    """A reader's attack on the care table's overall row and the question's table as printed:
    each printed count its range (``*`` 1 and up, reported when narrowed inside 1-7), the
    care scores adding up to their reviews, the question's rows to its total row and poor
    care among each row's reviews (and the poor care with scores 3-5 adding up to the
    reviews: the audit's linear programme saw that at once); ``same``: the reader knows
    every review was asked, so the total row is the care row's reviews and its scores 1 and
    2. The total row is read as a rounded count of its own unless its note says it is the
    care table's cells as printed.
    Returns the findings (pinned counts and narrowed ``*``)."""
    p = Problem()

    def cell(key, text):
        return p.count(key, str(text), threshold=RULE.threshold, rounding=RULE.rounding,
                       where=str(key)) or p.declare(key, 0, 0, controlled=False)

    scores = [cell(("care", c), care.at[OVERALL, c]) for c in SCORES]
    total = cell(("care", "n"), care.at[OVERALL, tables.CARE_TOTAL])
    p.add_sum(scores, total, "care scores add up")
    poor = p.unknown(("care", "poor"))
    p.add_sum(scores[:2], poor, "scores 1 and 2")
    p.add_sum([poor, *scores[2:]], total, "poor care and scores 3-5 add up")
    frame = asked.frame
    printed_sum = ASKED_ALL_SHOWN in asked.note
    keys = {}
    for row in frame.index:
        for column in ("Reviews", POOR):
            key = ("asked", row, column)
            keys[row, column] = (p.unknown(key) if row == fq.TOTAL and printed_sum
                                 else cell(key, frame.at[row, column]))
        p.add_sum([keys[row, POOR], p.fresh()], keys[row, "Reviews"], "poor among reviews")
    body = [r for r in frame.index if r != fq.TOTAL]
    for column in ("Reviews", POOR):
        p.add_sum([keys[r, column] for r in body], keys[fq.TOTAL, column], "rows add up")
    if same:
        p.add_sum([keys[fq.TOTAL, "Reviews"]], total, "every review was asked")
        p.add_sum([keys[fq.TOTAL, POOR]], poor, "every review was asked")
    return attacked(p)


def _tables(reviews: pd.DataFrame) -> tuple[pd.DataFrame, ReportTable]:
    report = _Trust(reviews)
    table = report.autism_beside_learning_disability()
    assert isinstance(table, ReportTable)
    return report.care_scores().frame, table


# XG4: overall 8, 29, 107, 192, 112 (printed 10, 30, 105, 190, 110 of 450)
XG4 = ([8, 29, 107, 192, 112],
       {"ld": (12, 2), "autism": (9, 1), "both": (3, 0), "neither": (424, 34)})
# XD1: overall 2, 45, ... (printed *, 45, ...): poor care 47, printed 45 on its own
XD1 = ([2, 45, 60, 80, 40],
       {"ld": (10, 3), "autism": (9, 0), "both": (2, 1), "neither": (206, 43)})


@pytest.mark.parametrize("case", [XG4, XD1], ids=["XG4", "XD1"])
def test_all_reviews_asked_tells_nothing_beyond_the_care_table(first_stage, case):
    """Every review on ext2026: the question's total row prints the care row's reviews and
    its scores 1 and 2 added up as printed (``*`` with either withheld) and says so, and read
    with the equality beside the care table no ``*`` of either table is narrowed inside 1-7
    and no rounded count pinned. Before the fix the row printed 450 and 35 (XG4: the five
    overall counts pinned) and 45 (XD1: its score 1 ``*`` at most 4)."""
    scores, groups = case
    care, asked = _tables(_organisation(first_stage, scores, groups))
    findings = _attack(care, asked, same=True)
    assert findings == [], "\n".join(map(str, findings))
    assert ASKED_ALL_SHOWN in asked.note
    assert asked.frame.at[fq.TOTAL, "Reviews"] == care.at[OVERALL, tables.CARE_TOTAL]
    assert asked.frame.at[fq.TOTAL, POOR] == tables.shown_sum(
        [care.at[OVERALL, c] for c in SCORES[:2]], RULE)
    if case is XD1:
        assert care.at[OVERALL, SCORES[0]] == RULE.symbol
        assert asked.frame.at[fq.TOTAL, POOR] == RULE.symbol


def test_the_answer_rows_are_withheld_where_they_would_narrow_the_care_tables_star(
        first_stage):
    """XD1's pattern with every poor care among one answer: its row's 47 printed 45 (43-47),
    the others 0. With the total row ``*`` (the care table's ``*`` and 45 added up), the rows
    alone still say scores 1 + 2 are 43-47, and score 2 (45: 43-47) leaves score 1's ``*`` at
    most 4. The table withholds the row's poor care until nothing is narrowed."""
    scores = [2, 45, 60, 80, 40]
    groups = {"ld": (10, 0), "autism": (9, 0), "both": (2, 0), "neither": (206, 47)}
    care, asked = _tables(_organisation(first_stage, scores, groups))
    assert care.at[OVERALL, SCORES[0]] == RULE.symbol
    assert care.at[OVERALL, SCORES[1]] == 45
    findings = _attack(care, asked, same=True)
    assert findings == [], "\n".join(map(str, findings))
    assert asked.frame.at[GROUP_ROWS["neither"], POOR] == RULE.symbol


def test_where_some_reviews_were_not_asked_the_total_row_is_its_own(first_stage):
    """Reviews on rcp2017 among them: the reviews asked are a part of the care table's, the
    total row prints its own counts rounded (as before the fix), the note says nothing of the
    care table, and read as an inequality nothing is narrowed."""
    scores = [8, 29, 107, 192, 112]
    groups = {"ld": (12, 2), "autism": (9, 1), "both": (3, 0), "neither": (404, 34)}
    reviews = _organisation(first_stage, scores, groups, rcp2017=20)
    care, asked = _tables(reviews)
    assert ASKED_ALL_SHOWN not in asked.note
    raw_total = sum(r for r, _ in groups.values())
    assert asked.frame.at[fq.TOTAL, "Reviews"] == RULE.round(raw_total)
    assert asked.frame.at[fq.TOTAL, POOR] == RULE.round(37)
    assert _attack(care, asked, same=False) == []


def test_the_checker_reads_the_equality_the_note_states(tmp_path: Path):
    """A hand-written trust page: care overall ``*``, 45, ... and an ext2026 table whose note
    says its total row is the care table's (``*``), with answer rows 0, 0, 0 and 45 of poor
    care. ``sjr disclosure check`` reads the row as the care row's, so the rows' poor care
    (43-47) and score 2 (43-47) leave score 1's ``*`` at 1-4, as a reader who knows every
    review was asked would; the same page without the sentence is read as an inequality (the
    reviews asked among the care table's), which leaves the ``*`` 1 or more."""
    care = pd.DataFrame({SCORES[0]: ["*"], SCORES[1]: ["45"], SCORES[2]: ["60"],
                         SCORES[3]: ["80"], SCORES[4]: ["40"], tables.CARE_TOTAL: ["225"]},
                        index=[OVERALL], dtype=object)
    care_table = ReportTable(care, caption="Care scores by phase of care (first-stage reviews, "
                             "one per death)", note=RULE.describe())
    asked = pd.DataFrame({"Reviews": ["10", "10", "*", "205", "225"],
                          POOR: ["0", "0", "0", "45", "*"]},
                         index=[*GROUP_ROWS.values(), fq.TOTAL], dtype=object)

    def page(note: str) -> ReportTable:
        return ReportTable(asked, caption=f"Deaths of autistic patients {fq.CAPTION_MARK}",
                           note=f"{RULE.describe()} {note}", total_rows=[fq.TOTAL],
                           index_name="Patients")

    said = tmp_path / "said"
    fq_page = page(f"{ASKED_ALL_SHOWN}.")
    body = "".join(t._repr_html_() for t in (care_table, fq_page))
    (said / "trusts").mkdir(parents=True)
    (said / "trusts" / "XZZ.html").write_text(f"<html><body>{body}</body></html>", "utf-8")
    findings, n, _ = check_reports([said])
    assert n == 1
    assert [(f.shown, f.value, f.high) for f in findings if "Care scores" in f.where] \
        == [("*", 1, 4)], "\n".join(map(str, findings))
    unsaid = tmp_path / "unsaid"
    body = "".join(t._repr_html_() for t in (care_table, page("")))
    (unsaid / "trusts").mkdir(parents=True)
    (unsaid / "trusts" / "XZZ.html").write_text(f"<html><body>{body}</body></html>", "utf-8")
    findings, _, _ = check_reports([unsaid])
    assert findings == [], "\n".join(map(str, findings))


def test_pooled_tables_and_their_organisations_give_nothing_back_when_all_were_asked(
        first_stage, tmp_path: Path):
    """Four organisations whose every review was asked, and the national table pooling
    them: each organisation's total row is its care row, the national one the national care
    row (its table as printed, passed by the report), and ``sjr disclosure check`` reading
    every page (the equality where the notes say so) recovers nothing."""
    reviews = first_stage.assign(form_version=LATEST_VERSION)
    sections = ("autism_beside_learning_disability", "medical_examiner_concerns",
                "family_concerns")
    codes = sorted(reviews["organisation_code"].unique())
    for code in codes:
        report = _Trust(reviews[reviews["organisation_code"] == code].reset_index(drop=True))
        pages = [report.care_scores(), *(getattr(report, n)() for n in sections)]
        assert all(ASKED_ALL_SHOWN in t.note for t in pages[1:])
        _write(tmp_path / "trusts" / f"{code}.html", pages)

    class National(_Trust):
        pooled_by = "organisation_code"

    national = National(reviews)
    tables_ = [getattr(national, n)() for n in sections]
    care = national.care_scores().frame
    for table in tables_:
        assert ASKED_ALL_SHOWN in table.note
        # sentence case mid-sentence (it read "...the design effect; None on fewer ...")
        assert "the design effect; none on fewer than 8 reviews." in table.note
        assert table.frame.at[fq.TOTAL, "Reviews"] == care.at[OVERALL, tables.CARE_TOTAL]
    _write(tmp_path / "national.html", tables_)
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{c}.html"></a>' for c in codes), encoding="utf-8")
    findings, n, _ = check_reports([tmp_path])
    assert n == len(codes) + 1
    assert findings == [], "\n".join(map(str, findings))


def _write(path: Path, parts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(t._repr_html_() for t in parts)
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")


# S08999006 (demo, 2025-26): 560 reviews, every one on ext2026 and every one "not applicable"
# to medical examiner scrutiny (Scotland); poor care 177 (48 + 129, printed 50 + 130)
S08999006 = ([48, 129, 100, 150, 133],
             {"ld": (35, 9), "autism": (4, 2), "both": (3, 1), "neither": (518, 165)})


def _scottish_board(first_stage: pd.DataFrame) -> pd.DataFrame:
    scores, groups = S08999006
    reviews = _organisation(first_stage, scores, groups)
    return reviews.assign(me_scrutiny="not_applicable", me_concern=None, family_concern="no")


def _check_page(folder: Path, reviews: pd.DataFrame) -> list:
    report = _Trust(reviews)
    pages = [report.care_scores(), report.autism_beside_learning_disability(),
             report.medical_examiner_concerns(), report.family_concerns()]
    assert all(ASKED_ALL_SHOWN in t.note for t in pages[1:])
    _write(folder / "trusts" / "S08999006.html", pages)
    findings, n, _ = check_reports([folder])
    assert n == 1
    return findings


def test_the_tables_of_the_same_reviews_are_protected_together(first_stage, tmp_path: Path,
                                                               monkeypatch):
    """The medical examiner table's one row of every review (560, poor care 177 printed 175)
    bounds the shared total's poor care to 173-177, tighter than the care table's 50 + 130
    (176-184). Protected alone, the autism table's rows 10 (8-12) and 165 (163-167) then left
    its two ``*`` of poor care at 1-5 (``sjr disclosure check`` on the demo's S08999006, the
    reason the first fix was reverted); protected together (``overall_care_tables``) the
    checker finds nothing."""
    reviews = _scottish_board(first_stage)
    findings = _check_page(tmp_path / "together", reviews)
    assert findings == [], "\n".join(map(str, findings))

    monkeypatch.setattr(fq, "_JOINT_ROUNDS", 1)  # one round: each table protected alone
    alone = _check_page(tmp_path / "alone", reviews)
    assert {(f.shown, f.value, f.high) for f in alone} == {("*", 1, 5)}, \
        "\n".join(map(str, alone))
    assert all("Deaths of autistic patients" in f.where for f in alone)


def test_tables_of_different_reviews_are_not_tied(first_stage):
    """Every ext2026 review is asked all three questions: the same reviews, so each table is
    bounded by the others' rows as printed (``_shared_totals``); a table whose reviews
    differ (one fewer) gets no bound from them, nor gives one."""
    reviews = _scottish_board(first_stage)
    firsts = {q.question: fq._primary_first(fq.asked(reviews, q.question))
              for q in fq.OVERALL_CARE_QUESTIONS}
    tables_ = fq.overall_care_tables(reviews, RULE)
    shared = fq._shared_totals(tables_, firsts, RULE)
    assert shared[fq.AUTISM.question][(fq.TOTAL, POOR)] == (173, 177)
    firsts[fq.AUTISM.question] = firsts[fq.AUTISM.question].iloc[1:]
    shared = fq._shared_totals(tables_, firsts, RULE)
    assert shared[fq.AUTISM.question] == {}
    assert shared[fq.FAMILY_CONCERN.question][(fq.TOTAL, POOR)] == (173, 177)
