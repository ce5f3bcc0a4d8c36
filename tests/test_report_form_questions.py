"""Report tables of the ext2026 questions (``sjrlib.report.form_questions``): what they count,
that they use only reviews whose version asks, that they say so, disclosure control, and that
``sjr disclosure check`` reads them (finds a planted leak, and nothing in real reports)."""

from __future__ import annotations

import datetime as dt
import html
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.disclosure_check import FORM_QUESTIONS_MARK, check_reports
from sjrlib.form.registry import BASE_VERSION, LATEST_VERSION
from sjrlib.report import form_questions as fq
from sjrlib.report import narrative
from sjrlib.report.tables import ReportTable
from sjrlib.stats._reviews import ReviewIndex
from sjrlib.synthetic import generate

TODAY = dt.date(2026, 11, 26)
OFF = DisclosureRule.off()
RULE = DisclosureRule()
SECTIONS = ("autism_beside_learning_disability", "medical_examiner_concerns",
            "family_concerns", "family_involvement", "referrals_on", "second_stage_psii",
            "escalation_planning", "frailty")


@pytest.fixture(scope="module")
def reviews():
    """Reviews (no drafts) of April 2024 - March 2025 at 4 organisations, one Scottish: the
    first five months rcp2017, the rest ext2026."""
    data = generate(n_organisations=4, years=1, seed=3, start_year=2024, n_scottish=34,
                    today=TODAY)
    r = data.reviews.merge(data.organisations[["organisation_code", "nation", "region"]],
                           on="organisation_code")
    return r[r["status"] != "draft"].reset_index(drop=True)


class Report(fq.FormQuestionSections):
    def __init__(self, reviews, rule):
        self.reviews, self.rule, self.alpha = reviews, rule, 0.05


def _first_ext(reviews: pd.DataFrame) -> pd.DataFrame:
    ext = reviews[reviews["form_version"] == LATEST_VERSION]
    return ext.iloc[np.sort(ReviewIndex(ext).stage_rows("first"))]


def test_every_table_rests_on_the_reviews_asked_and_says_so(reviews):
    report = Report(reviews, OFF)
    n_first = len(_first_ext(reviews))
    for name in SECTIONS:
        table = getattr(report, name)()
        assert isinstance(table, ReportTable), name
        assert table.caption.endswith(fq.CAPTION_MARK) and fq.CAPTION_MARK == FORM_QUESTIONS_MARK
        assert "Rests on" in table.note and "not an RCP publication" in table.note, name
        assert "rcp2017" in table.note
    for name in ("autism_beside_learning_disability", "medical_examiner_concerns",
                 "family_concerns", "family_involvement"):
        frame = getattr(report, name)().frame
        total = frame.loc[fq.TOTAL, "Reviews" if "Reviews" in frame else "All reviews"]
        assert total == n_first, name
        assert f"Rests on {n_first:,} reviews" in getattr(report, name)().note


def test_rcp2017_reviews_change_nothing_and_alone_give_a_sentence(reviews):
    """The tables count the ext2026 reviews alone (the exact counts are the same with the
    rcp2017 ones or without). Under control the poor-care tables may print differently: with
    only ext2026 reviews every review was asked, and their total row is the care table's
    (``tests/test_report_form_questions_same_reviews.py``)."""
    ext_only = reviews[reviews["form_version"] == LATEST_VERSION]
    old_only = reviews[reviews["form_version"] == BASE_VERSION]
    assert len(old_only) > 100
    for name in SECTIONS:
        a = getattr(Report(reviews, OFF), name)()
        b = getattr(Report(ext_only, OFF), name)()
        pd.testing.assert_frame_equal(a.frame, b.frame)
        if name not in ("autism_beside_learning_disability", "medical_examiner_concerns",
                        "family_concerns"):
            a = getattr(Report(reviews, RULE), name)()
            b = getattr(Report(ext_only, RULE), name)()
            pd.testing.assert_frame_equal(a.frame, b.frame)
        sentence = getattr(Report(old_only, RULE), name)()
        assert isinstance(sentence, narrative.Paragraph), name
        text = sentence._repr_html_()
        assert "nothing to show" in text and "not an RCP publication" in text


def test_counts_are_the_hand_counts(reviews):
    first = _first_ext(reviews)
    report = Report(reviews, OFF)
    autism = report.autism_beside_learning_disability().frame
    ld = first["learning_disability"] == "yes"
    aut = first["autism"] == "yes"
    poor = first["score_overall"] <= 2
    both = (ld & aut).fillna(False)
    assert autism.loc["Learning disability and autistic", "Reviews"] == both.sum()
    assert autism.loc["Autistic, no learning disability", "Reviews"] == (aut & ~ld).sum()
    assert autism.loc["Learning disability, not autistic",
                      "Poor or very poor overall care"] == (ld & ~aut & poor).sum()
    me = report.medical_examiner_concerns().frame
    assert me.loc["Scrutinised; concern raised: Yes", "Reviews"] == (
        (first["me_scrutiny"] == "yes") & (first["me_concern"] == "yes")).sum()
    scottish = (first["nation"] == "scotland").sum()
    assert scottish > 0
    assert me.loc[[i for i in me.index if "Not applicable" in i][0], "Reviews"] == scottish
    family = report.family_involvement().frame
    assert family.loc["Yes", "Findings shared: Not yet"] == (
        (first["family_involved"] == "yes") & (first["family_feedback"] == "not_yet")).sum()
    assert family.loc[fq.TOTAL, "% findings shared"] == pytest.approx(
        100 * (first["family_feedback"] == "yes").mean())
    eol = report.escalation_planning().frame
    no_plan = first[first["escalation_plan"] == "no"]
    assert eol.loc["No", "1 Very poor care"] == (no_plan["score_end_of_life"] == 1).sum()
    assert eol.loc["No", "All scoring end-of-life care"] == no_plan["score_end_of_life"].notna(
        ).sum()
    frail = report.frailty().frame
    old = first[first["age_at_death"] >= 65]
    severe = old[old["clinical_frailty_scale"] >= 7]
    assert frail.loc["7-9 Severe frailty or terminally ill", "All scoring end-of-life care"] \
        == severe["score_end_of_life"].notna().sum()
    # referrals: every review recording one, both stages
    ext = reviews[reviews["form_version"] == LATEST_VERSION]
    referrals = report.referrals_on().frame
    psii = domain.referral_column("psii")
    assert referrals.loc["Patient safety incident investigation (PSIRF)", "Made"] == (
        ext[psii] == "made").sum()
    assert referrals.loc["All referrals", "All referrals of the type"] == sum(
        ext[domain.referral_column(t)].notna().sum() for t in domain.REFERRAL_TYPES)
    second = ext[ext["review_stage"] == "second"]
    led = report.second_stage_psii().frame
    assert led.iloc[0]["Led to a PSII (referral made or completed)"] == second[psii].isin(
        ["made", "completed"]).sum()
    assert led.iloc[0]["All second-stage reviews"] == len(second)


def test_controlled_tables_show_no_small_count(reviews):
    one = reviews[reviews["organisation_code"] == reviews["organisation_code"].iloc[0]]
    report = Report(one, RULE)
    suppressed = 0
    for name in SECTIONS:
        table = getattr(report, name)()
        for column in table.frame.columns:
            if table.formats.get(column) == "percent" or "interval" in column:
                continue
            for value in table.frame[column]:
                assert value == RULE.symbol or value is None or (
                    int(value) == 0 or (int(value) > RULE.threshold and int(value) % 5 == 0)), \
                    (name, column, value)
                suppressed += value == RULE.symbol
    assert suppressed > 5


def _write(path: Path, tables) -> Path:
    body = "".join(t._repr_html_() for t in tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return path


def test_the_attacker_reads_the_tables_and_finds_a_planted_leak(tmp_path):
    """A table of this module's layout printed with one cell exact where a total gives the
    suppressed one back: sjr disclosure check must recover it (so its tables are read)."""
    rule = DisclosureRule(threshold=7, rounding=1)
    frame = pd.DataFrame({"Reviews": [3, 15, 18], "Poor or very poor overall care": [0, 4, 4]},
                         index=["Family or carers raised a concern: Yes",
                                "Family or carers raised a concern: No", fq.TOTAL],
                         dtype=object)
    frame.loc["Family or carers raised a concern: Yes", "Reviews"] = rule.symbol
    frame.loc["Family or carers raised a concern: No", "Poor or very poor overall care"] = \
        rule.symbol
    frame.loc[fq.TOTAL, "Poor or very poor overall care"] = rule.symbol
    leaky = ReportTable(frame, caption=f"Concerns raised {fq.CAPTION_MARK}",
                        note=rule.describe(), total_rows=[fq.TOTAL])
    _write(tmp_path / "XAA.html", [leaky])
    findings, n, _ = check_reports([tmp_path])
    assert n == 1
    assert [(f.shown, f.value) for f in findings] == [("*", 3)]
    # the national cell against the organisations' (across reports of one period)
    shared = tmp_path / "across"
    for code, shown in (("XAA", "*"), ("XBB", "10")):
        table = ReportTable(pd.DataFrame({"Reviews": [shown]}, index=["Yes"], dtype=object),
                            caption=f"Autism {fq.CAPTION_MARK}", note=rule.describe())
        _write(shared / "trusts" / f"{code}.html", [table])
    national = ReportTable(pd.DataFrame({"Reviews": ["12"]}, index=["Yes"], dtype=object),
                           caption=f"Autism {fq.CAPTION_MARK}", note=rule.describe())
    _write(shared / "national.html", [national])
    (shared / "index.html").write_text(
        '<a href="trusts/XAA.html"></a><a href="trusts/XBB.html"></a>', encoding="utf-8")
    findings, _, _ = check_reports([shared])
    assert [(f.shown, f.value) for f in findings] == [("*", 2)]


def test_the_tables_of_several_organisations_and_the_nation_give_nothing_back(reviews,
                                                                              tmp_path):
    codes = sorted(reviews["organisation_code"].unique())
    for code in codes:
        report = Report(reviews[reviews["organisation_code"] == code], RULE)
        _write(tmp_path / "trusts" / f"{code}.html",
               [t for t in (getattr(report, n)() for n in SECTIONS)
                if isinstance(t, ReportTable)])
    national = _National(reviews, RULE)  # pooled: withholds what would narrow theirs
    _write(tmp_path / "national.html", [getattr(national, n)() for n in SECTIONS])
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{html.escape(c)}.html"></a>' for c in codes), encoding="utf-8")
    findings, n, notes = check_reports([tmp_path])
    assert n == len(codes) + 1
    assert findings == [], "\n".join(map(str, findings))
    assert notes == []


@pytest.mark.slow
def test_rendered_reports_carry_the_tables_and_sjr_disclosure_check_passes(tmp_path):
    """``sjr report all`` over a store holding both versions: every trust page and the national
    page show the ext2026 tables, and the attacker gets nothing back from the public pages."""
    from dashboard_store import add_users, populate

    data = generate(n_organisations=4, years=1, seed=3, start_year=2024, n_scottish=34,
                    today=TODAY)
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    populate(url, data)
    codes = list(data.organisations["organisation_code"])
    users = add_users(url, codes[0])
    out = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = users.programme
    sjr = Path(sys.executable).with_name("sjr")
    done = subprocess.run([str(sjr), "report", "all", "--db", url, "--out", str(out),
                           "--period", "2024-25", "--jobs", "2", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = out / "2024-25"
    for page in [folder / "national.html", *(folder / "trusts" / f"{c}.html" for c in codes)]:
        text = page.read_text(encoding="utf-8")
        assert text.count(html.escape(fq.CAPTION_MARK)) >= 7, page.name
        assert "not an RCP publication" in text
    findings, _, notes = check_reports([folder / "national.html", folder / "index.html",
                                        folder / "trusts"])
    assert findings == [], "\n".join(map(str, findings))
    checked = subprocess.run([str(sjr), "disclosure", "check", str(folder / "national.html"),
                              str(folder / "index.html"), str(folder / "trusts")],
                             env=env, capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# ------------------------------------------------ pooled tables against each organisation ----
def _fifteen_organisations() -> pd.DataFrame:
    """Hand-written reviews: 15 organisations with 20 first-stage ext2026 reviews each, one of
    them with the rare answer to every question (autistic, scrutinised with a concern, the
    family's concern, findings shared, a safeguarding referral made, an escalation plan,
    severe frailty, very poor care), the other 19 with the common one; and one second-stage
    review per organisation, which led to a PSII. Each organisation's own tables show ``*`` for
    the rare cells; the pooled 15 (13-17 once rounded) would say each is 1-3."""
    rows = []
    for o in range(15):
        for i in range(21):
            rare = i == 0
            rows.append({
                "review_id": f"r{o}-{i}", "case_id": f"c{o}-{min(i, 19)}",
                "organisation_code": f"XA{o:02d}",
                "review_stage": "second" if i == 20 else "first", "status": "submitted",
                "review_date": pd.Timestamp("2024-08-01"), "death_month": "2024-06",
                "form_version": LATEST_VERSION,
                "learning_disability": "no", "autism": "yes" if rare else "no",
                "me_scrutiny": "yes", "me_concern": "yes" if rare else "no",
                "family_concern": "yes" if rare else "no",
                "family_involved": "yes", "family_feedback": "yes" if rare else "not_yet",
                "escalation_plan": "yes" if rare else "no",
                "age_at_death": 80, "clinical_frailty_scale": 8 if rare else 2,
                domain.score_column("overall"): 1 if rare else 3,
                domain.score_column("end_of_life"): 1 if rare else 3,
                **{domain.referral_column(k): None for k in (
                    "leder", "coroner", "procurator_fiscal", "thematic_review",
                    "duty_of_candour", "complaint", "mortality_meeting", "other")},
                domain.referral_column("safeguarding"): "made" if rare else None,
                domain.referral_column("psii"): "made" if i == 20 else None,
            })
    reviews = pd.DataFrame(rows)
    for phase in domain.PHASES:
        column = domain.score_column(phase)
        reviews[column] = pd.array(reviews[column] if column in reviews else [pd.NA] * len(rows),
                                   dtype="Int64")
    reviews["age_at_death"] = reviews["age_at_death"].astype("Int64")
    reviews["clinical_frailty_scale"] = reviews["clinical_frailty_scale"].astype("Int64")
    return reviews


class _National(Report):
    pooled_by = "organisation_code"


@pytest.mark.parametrize("name", SECTIONS)
def test_no_pooled_count_narrows_an_organisations_own_cell(name):
    """Each ext2026 table of the national report against the same table in every
    organisation's report (brute force, ``tests/differencing.py``): every count either leaves
    each organisation's cell as wide as its report shows it, or is withheld, and the note says
    why. Without the guard (``pooled_by`` unset) the rare cells print 15."""
    from differencing import narrowed

    reviews = _fifteen_organisations()
    per_org = [getattr(Report(part, OFF), name)().frame
               for _, part in reviews.groupby("organisation_code")]
    table = getattr(_National(reviews, RULE), name)()
    unguarded = getattr(Report(reviews, RULE), name)().frame
    at_risk = 0
    for row in per_org[0].index:
        for column in per_org[0].columns:
            if column.startswith("%") or "interval" in column:
                continue
            counts = [int(f.at[row, column]) for f in per_org]
            if narrowed(sum(counts), counts, RULE):
                assert table.frame.at[row, column] == RULE.symbol, (name, row, column)
                assert unguarded.at[row, column] != RULE.symbol  # the old table printed it
                at_risk += 1
    assert at_risk, name  # the hand-written counts do put a cell of every table at risk
    assert "set against every organisation's own report" in table.note


def _scored_end_of_life(spec: dict[str, list[int]]) -> pd.DataFrame:
    """First-stage ext2026 reviews at English trusts, each with a treatment escalation plan
    and end-of-life care scored: ``spec[code]`` lists each review's score."""
    rows = []
    for code, scores in spec.items():
        for i, score in enumerate(scores):
            rows.append({
                "review_id": f"{code}-{i}", "case_id": f"{code}-c{i}",
                "organisation_code": code, "review_stage": "first", "status": "submitted",
                "review_date": pd.Timestamp("2024-08-01"), "death_month": "2024-06",
                "form_version": LATEST_VERSION, "escalation_plan": "yes", "age_at_death": 80,
                domain.score_column("end_of_life"): score})
    reviews = pd.DataFrame(rows)
    for column in domain.REVIEW_COLUMNS:
        if column not in reviews:
            reviews[column] = None
    for phase in domain.PHASES:
        reviews[domain.score_column(phase)] = reviews[domain.score_column(phase)].astype("Int64")
    reviews["age_at_death"] = reviews["age_at_death"].astype("Int64")
    return reviews


def test_a_pooled_table_is_protected_against_every_organisations_table_at_once():
    """End-of-life care with an escalation plan: XA scores 1 twice and 2 ten times (its
    report: *, *, 0, 0, 0 of 10), XB 4 twice (0, 0, 0, *, 0 of *). Nationally 2, 10, 0, 2, 0
    of 14: cell by cell the national "2 Poor care", 10 (8-12), narrows nobody (XB prints 0
    there, XA's 10 is behind a secondary *). But it is XA's score 2, so XA's score 1 is at
    most 12 - 8 = 4 with its 10 (8-12) reviews: its * 1-4, not 1-7. It is withheld."""
    from differencing import narrowed

    reviews = _scored_end_of_life({"XA": [1, 1, *[2] * 10], "XB": [4, 4]})
    name = "escalation_planning"
    per_org = [getattr(Report(part, RULE), name)().frame
               for _, part in reviews.groupby("organisation_code")]
    table = getattr(_National(reviews, RULE), name)()
    row = next(r for r in table.frame.index if r.lower().startswith("yes"))
    score_2 = next(c for c in table.frame.columns if c.startswith("2 "))
    score_1 = next(c for c in table.frame.columns if c.startswith("1 "))
    assert [f.at[row, score_1] for f in per_org] == [RULE.symbol, 0]
    assert [f.at[row, score_2] for f in per_org] == [RULE.symbol, 0]
    assert not narrowed(10, [10, 0], RULE)  # the cell-by-cell check lets 10 through
    assert table.frame.at[row, score_2] == RULE.symbol
    assert "set against every organisation's own report" in table.note


def test_a_questions_total_is_protected_within_the_care_tables_poor_care():
    """XI9 in the demo's reports: the care table printed overall scores 1 and 2 as 10 and 30
    (so at most 44 reviews with poor overall care), a question's table 45 of the reviews
    asked with poor care (43-47, so 43-44), and its rows 40 and two * (and 0): the two *
    added up to at most 6, each 1-5. Protected knowing the care table's most, every * can
    still be 1 to 7 (checked by brute force); protected without it, they could not."""
    import itertools

    from sjrlib.disclosure import DisclosureRule, count_range, protect_counts
    from sjrlib.report.form_questions import TOTAL

    rule = DisclosureRule()
    poor = "Poor or very poor overall care"
    raw = pd.DataFrame({poor: [3, 0, 3, 38]},
                       index=["LD, not autistic", "Autistic, no LD", "LD and autistic",
                              "Neither"])
    raw.loc[TOTAL] = raw.sum()
    most = 44  # 10 and 30 printed: at most 12 + 32

    def narrowed(printed: pd.DataFrame) -> bool:
        cells = list(printed[poor])
        ranges = [range(1, 45) if c == rule.symbol else
                  range(count_range(c, rule)[0], count_range(c, rule)[1] + 1) for c in cells]
        seen = [set() for _ in cells]
        for combo in itertools.product(*ranges[:-1]):
            total = sum(combo)
            if total in ranges[-1] and total <= most:
                for s, v in zip(seen, (*combo, total), strict=True):
                    s.add(v)
        return any(c == rule.symbol and not set(range(1, 8)) <= s
                   for c, s in zip(cells, seen, strict=True))

    plain = protect_counts(raw.astype(object), rule, total_row=TOTAL)
    assert narrowed(plain)
    known = protect_counts(raw.astype(object), rule, total_row=TOTAL,
                           known={(TOTAL, poor): [(0, most)]})
    assert not narrowed(known), known


def test_pooled_poor_care_intervals_allow_for_clustering_as_the_headline_does(reviews):
    """The walk-through audit of the national report (2026-12-06): "All reviews asked" printed
    15.7% with 15.4-16.1% (a Wilson interval, as if 44,505 reviews were independent) beside the
    headline's 15.7% of the same reviews with 14.4-17.1% (allowing for clustering by
    organisation). Pooled over organisations, each row's interval is now the headline's kind:
    a Wilson interval on the effective number of reviews (cluster-robust design effect, t on
    organisations - 1), of the printed counts under an active rule; one organisation's stays
    Wilson's."""
    from sjrlib.disclosure import interval_text, protect_count
    from sjrlib.stats import clustered, descriptive

    first = _first_ext(reviews)
    score = first[domain.score_column("overall")].astype("Int64")
    scored = first[score.notna() & (score >= 1)]
    poor = scored[domain.score_column("overall")].astype(int).isin([1, 2]).astype(int)
    fit = clustered.clustered_proportion(poor, scored["organisation_code"])
    assert fit.n_clusters == 4 and fit.design_effect > 1
    column = "95% confidence interval"
    for rule in (OFF, RULE):
        k, n = int(poor.sum()), len(poor)
        if rule.active:
            k, n = protect_count(k, rule), protect_count(n, rule)
        lo, hi = clustered.effective_wilson(k, n, fit.design_effect, fit.n_clusters)
        table = Report(reviews, rule).medical_examiner_concerns()
        assert table.frame.at[fq.TOTAL, column] == interval_text(lo[0], hi[0]), rule
        wilson = descriptive.wilson_interval([k], [n], 0.05)
        assert table.frame.at[fq.TOTAL, column] != interval_text(wilson[0][0], wilson[1][0])
        assert "clustering of reviews by organisation" in table.note
    one = reviews[reviews["organisation_code"] == scored["organisation_code"].iloc[0]]
    single = Report(one, OFF).medical_examiner_concerns()
    assert "Wilson intervals" in single.note and "clustering" not in single.note


def test_the_family_tables_english_guidance_is_not_on_a_scottish_page(reviews):
    """A Scottish health board's family table cited NQB guidance and an audit of Quality
    Accounts, both English (the walk-through audit of 2026-12-06)."""
    english = fq.family_involvement(reviews, RULE)
    scottish = fq.family_involvement(reviews, RULE, scottish=True)
    assert "Quality Accounts" in english.note and "NQB" in english.note
    assert "Quality Account" not in scottish.note and "NQB" not in scottish.note
    assert english.frame.equals(scottish.frame)
