"""The reports' learning sections follow the store's codebook, not the one shipped with sjr.

Before: ``sjrlib.report.learning`` read themes, labels and measures from the shipped codebook
(2026.1). Once the programme team imported 2026.2 (patient_flow retired, senior_review
relabelled, nutrition added) and a lead recorded an action measured by ``theme:nutrition``,
every report of that organisation failed (``measure 'theme:nutrition': 'nutrition' is not an
active theme of codebook 2026.1``), and the reports showed the old labels. Now the report reads
the store's latest codebook through the governed session (the batch passes it to each
notebook beside the codes), shows its labels, and reads an action stored under a theme retired
since as "(retired)".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re

import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture: SQLite and PostgreSQL)
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import open_session, store
from sjrlib import measures
from sjrlib.themes.codebook import Codebook, Theme, shipped_codebook

PERIOD = "2021-22"
FLOW = "Patient flow and the organisation of care (retired)"
NUTRITION = "Nutrition and hydration"


def _codebook_2026_2() -> Codebook:
    """The programme team's next version: patient_flow retired, senior_review relabelled,
    nutrition added (as the auditor's cb_v2.csv)."""
    themes = [dataclasses.replace(t, retired=t.id == "patient_flow",
                                  label="Timely senior review" if t.id == "senior_review"
                                  else t.label) for t in shipped_codebook().themes]
    themes.append(Theme("nutrition", NUTRITION, "Whether the patient ate and drank enough.",
                        ("no MUST score",)))
    return Codebook("2026.2", tuple(themes))


def _learning_under_two_codebooks(gov) -> None:
    """Organisation A's codes and actions: some given under 2026.1 (patient_flow among them,
    and an action measured by it), then 2026.2 imported, then a code and an action of
    nutrition."""
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            reviews = list(conn.execute(text(
                "SELECT review_id FROM reviews WHERE organisation_code = :o AND status = "
                "'submitted' AND review_stage = 'first' AND death_month BETWEEN '2021-04' AND "
                "'2022-03' ORDER BY review_id LIMIT 4"), {"o": gov.org_a}).scalars())
    finally:
        engine.dispose()
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        for review_id in reviews[:3]:
            lead.code_review(review_id, "sepsis")
        lead.code_review(reviews[0], "patient_flow")
        lead.record_action("Discharge lounge opened", owner_role="Site manager",
                           agreed_on="2021-06-01", themes=["patient_flow"],
                           measure="theme:patient_flow", change_month="2021-09")
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_codebook_2026_2())
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.code_review(reviews[3], "nutrition")
        lead.record_action("Food and fluid charts on every ward", owner_role="Nutrition lead",
                           agreed_on=dt.date(2021, 7, 1), themes=["nutrition"],
                           measure="theme:nutrition", change_month="2021-10", target=5)


def test_the_learning_sections_show_the_stores_codebook_and_read_a_retired_measure(
        governed_fresh):  # noqa: F811
    from sjrlib.report.national import national_report
    from sjrlib.report.trust import trust_report

    gov = governed_fresh
    _learning_under_two_codebooks(gov)
    report = trust_report(dict(organisation_code=gov.org_a, db=gov.app_url, user="national",
                               period=PERIOD, audience="organisation",
                               disclosure_threshold=None, disclosure_rounding=None))
    learning = report.learning
    themes = learning.themes_table().frame
    assert "Timely senior review" in themes.index  # the new label, not the shipped one
    assert "Timely senior or consultant review" not in themes.index
    assert themes.at[NUTRITION, "Reviews coded with the theme"] == 1
    # coded before it was retired: still counted, and said to be retired
    assert themes.at[FLOW, "Reviews coded with the theme"] == 1
    assert themes.at["Sepsis recognition and treatment", "Reviews coded with the theme"] == 3
    assert learning.codebook.version == "2026.2"  # read through the governed session
    actions = learning.actions_table().frame
    assert actions.at["1. Discharge lounge opened", "Measure"] == \
        f"% of coded reviews coded '{FLOW}'"
    assert actions.at["1. Discharge lounge opened", "Themes"] == FLOW
    assert actions.at["2. Food and fluid charts on every ward", "Measure"] == \
        f"% of coded reviews coded '{NUTRITION}'"
    impact = learning.impact_charts()
    assert len(impact) == 4  # both measured actions: a chart and its sentence each
    assert impact[1].text.startswith(f"'Discharge lounge opened' (% of coded reviews coded "
                                     f"'{FLOW}')")
    assert impact[3].text.startswith("'Food and fluid charts on every ward' (% of coded "
                                     f"reviews coded '{NUTRITION}')")
    pack = learning.quality_account().frame
    assert "Food and fluid charts on every ward" in pack.iat[-2, 0]
    # the national report's sections read the same codebook
    national = national_report(dict(period=PERIOD, db=gov.app_url, user="national")).learning
    assert national.codebook.version == "2026.2"
    pooled = national.themes_table().frame
    assert {"Timely senior review", NUTRITION, FLOW} <= set(pooled.index)
    agreement = national.agreement().frame
    assert "Timely senior or consultant review" not in agreement.index


def test_a_stored_measure_of_a_retired_theme_is_read_and_a_new_one_is_refused():
    book = _codebook_2026_2()
    with pytest.raises(ValueError, match="'patient_flow' is not an active theme of codebook "
                                         "2026.2"):
        measures.parse_measure("theme:patient_flow", book)
    read = measures.parse_measure("theme:patient_flow", book, stored=True)
    assert read.label == f"% of coded reviews coded '{FLOW}'"
    assert measures.parse_measure("theme:nutrition", book).label == \
        f"% of coded reviews coded '{NUTRITION}'"
    assert "theme:patient_flow" not in [m.id for m in measures.allowed_measures(book)]
    with pytest.raises(ValueError, match="unknown kind"):
        measures.parse_measure("nutrition", book, stored=True)
    with pytest.raises(TypeError):  # no silent fall-back to the shipped codebook
        measures.allowed_measures()  # type: ignore[call-arg]


def test_a_trust_report_renders_under_the_stores_newer_codebook(governed_fresh,  # noqa: F811
                                                                tmp_path):
    """The auditor's case, rendered as sjr report does it (papermill, the batch's slices):
    before, 'FAILED ... measure 'theme:nutrition': 'nutrition' is not an active theme of
    codebook 2026.1'."""
    from sjrlib.cli import app

    gov = governed_fresh
    if gov.engine_name != "sqlite":
        pytest.skip("one render is enough: the session's reads are tested on both engines")
    _learning_under_two_codebooks(gov)
    out = tmp_path / "reports"
    ran = CliRunner().invoke(app, ["report", "trust", gov.org_a, "--db", gov.app_url,
                                   "--audience", "organisation", "--period", PERIOD, "--out",
                                   str(out), "--quiet", "--jobs", "1"],
                             env={"SJR_USER": "national", "JUPYTERHUB_USER": None})
    assert ran.exit_code == 0, ran.output
    page = out / PERIOD / "organisation" / f"{gov.org_a}.html"
    body = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(
        encoding="utf-8"))))
    assert "Timely senior review" in body and "Timely senior or consultant review" not in body
    assert f"% of coded reviews coded '{NUTRITION}'" in body
    assert f"% of coded reviews coded '{FLOW}'" in body
