"""The action register: stored, checked, scoped and audited, on SQLite and PostgreSQL; its
measures and their impact charts; ``sjr actions``.

The RLS of the register through each person's own PostgreSQL role is test_actions_pg.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture: SQLite and PostgreSQL)
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import AccessDenied, open_session, store
from data_access.actions import ACTION_COLUMNS, check_action
from sjrlib import measures
from sjrlib.cli import app
from sjrlib.themes.codebook import shipped_codebook

BOOK = shipped_codebook()


def _last(url: str) -> tuple[str, str, dict]:
    import json

    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT username, action, scope FROM audit_log "
                                    "ORDER BY id DESC LIMIT 1")).one()
    finally:
        engine.dispose()
    return row[0], row[1], json.loads(row[2])


def _own_reviews(gov, n: int = 2) -> list[str]:
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT review_id FROM reviews WHERE organisation_code = :o AND status = "
                "'submitted' ORDER BY review_id LIMIT :n"), {"o": gov.org_a, "n": n}).scalars())
    finally:
        engine.dispose()


def test_a_lead_records_updates_and_lists_actions_audited(governed_fresh):  # noqa: F811
    gov = governed_fresh
    reviews = _own_reviews(gov)
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        action_id = lead.record_action(
            "Sepsis screening added to the emergency department triage form",
            owner_role="Sepsis lead", agreed_on=dt.date(2021, 6, 1), due_on="2021-09-30",
            themes=["sepsis", "deterioration"], review_ids=reviews, measure="theme:sepsis",
            change_month="2021-07")
        who, action, scope = _last(gov.owner_url)
        assert (who, action) == ("lead_a", "actions.record")
        assert scope["action_id"] == action_id and scope["organisations"] == [gov.org_a]
        assert "Sepsis screening" not in str(scope)  # the audit holds no free text
        frame = lead.actions()
        assert list(frame.columns) == list(ACTION_COLUMNS)
        row = frame.iloc[0]
        assert (row["id"], row["status"], row["version"]) == (action_id, "open", 1)
        assert row["agreed_on"] == dt.date(2021, 6, 1) and row["due_on"] == dt.date(2021, 9, 30)
        assert set(row["themes"].split(";")) == {"sepsis", "deterioration"}
        assert row["review_ids"].split(";") == sorted(reviews)
        assert (row["measure"], row["change_month"]) == ("theme:sepsis", "2021-07")
        version = lead.update_action(action_id, expected_version=1, status="completed",
                                     completed_on="2021-10-15", themes=["sepsis"])
        assert version == 2
        assert _last(gov.owner_url)[:2] == ("lead_a", "actions.update")
        row = lead.actions().iloc[0]
        assert (row["status"], row["completed_on"], row["themes"], row["version"]) == \
            ("completed", dt.date(2021, 10, 15), "sepsis", 2)
        assert row["review_ids"].split(";") == sorted(reviews)  # untouched links are kept
        with pytest.raises(ValueError, match="changed since version 1"):
            lead.update_action(action_id, expected_version=1, status="dropped")
        assert lead.actions(status="dropped").empty
        assert len(lead.actions(status=["completed"])) == 1
    with open_session("national", gov.app_url, tool="test") as national:
        assert list(national.actions()["id"]) == [action_id]
        with pytest.raises(AccessDenied):
            national.record_action("x", owner_role="Matron", agreed_on="2021-01-01")
        assert _last(gov.owner_url)[:2] == ("national", "actions.record.denied")
        with pytest.raises(AccessDenied):
            national.update_action(action_id, expected_version=2, status="dropped")


@pytest.mark.parametrize("user", ["reviewer_a", "res1", "admin"])
def test_reviewers_researchers_and_administrators_get_no_actions(governed_fresh, user):  # noqa: F811
    gov = governed_fresh
    with open_session(user, gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied):
            s.actions()
    assert _last(gov.owner_url)[:2] == (user, "actions.denied")


def test_a_lead_sees_and_changes_only_their_organisations_actions(governed_fresh):  # noqa: F811
    gov = governed_fresh
    with open_session("lead_b", gov.app_url, tool="test") as lead_b:
        theirs = lead_b.record_action("Falls huddle at each handover", owner_role="Ward manager",
                                      agreed_on="2021-05-01")
    with open_session("lead_a", gov.app_url, tool="test") as lead_a:
        assert lead_a.actions().empty
        with pytest.raises(AccessDenied):
            lead_a.actions(organisation_codes=gov.org_b)
        with pytest.raises(AccessDenied, match="not in the scope"):
            lead_a.update_action(theirs, expected_version=1, status="dropped")
        other_review = _own_reviews(dataclasses.replace(gov, org_a=gov.org_b), 1)[0]
        with pytest.raises(AccessDenied):  # a review of another organisation cannot be linked
            lead_a.record_action("Handover checklist", owner_role="Matron",
                                 agreed_on="2021-05-01", review_ids=[other_review])
    with open_session("national", gov.app_url, tool="test") as national:
        frame = national.actions()
        assert list(frame["organisation_code"]) == [gov.org_b]
        assert list(national.actions(organisation_codes=gov.org_a)["id"]) == []
    with open_session("lead_b", gov.app_url, tool="test") as lead_b:
        assert lead_b.actions().iloc[0]["status"] == "open"


@pytest.mark.parametrize(("values", "message"), [
    ({"description": "Patient John Smith's fall reviewed"}, "identifier"),
    ({"description": "Audit for NHS number 943 476 5919"}, "identifier"),
    ({"owner_role": "Dr John Smith"}, "owner_role contains"),
    ({"description": ""}, "description is required"),
    ({"status": "finished"}, "status must be one of"),
    ({"agreed_on": None}, "agreed_on"),
    ({"agreed_on": "01/06/2021"}, "YYYY-MM-DD"),
    ({"due_on": "2021-01-01"}, "before agreed_on"),
    ({"status": "completed"}, "needs completed_on"),
    ({"completed_on": "2021-07-01"}, "for completed actions"),
    ({"status": "completed", "completed_on": "2999-01-01"}, "in the future"),
    ({"measure": "theme:sepsis"}, "needs change_month"),
    ({"change_month": "2021-07"}, "goes with a measure"),
    ({"measure": "theme:sepsis", "change_month": "2999-01"}, "in the future"),
    ({"measure": "theme:nonsense", "change_month": "2021-07"}, "not an active theme"),
    ({"measure": "mortality", "change_month": "2021-07"}, "unknown kind"),
    ({"measure": "poor_care:ward", "change_month": "2021-07"}, "not a phase"),
    ({"measure": "poor_care:admission", "change_month": "2021-13"}, "YYYY-MM"),
    ({"themes": ["sepsis", "weather"]}, "weather"),
    ({"owner": "Matron"}, "unknown action field"),
    ({"target": "10"}, "target goes with a measure"),
    ({"measure": "theme:sepsis", "change_month": "2021-07", "target": "150"},
     "between 0 and 100"),
    ({"measure": "theme:sepsis", "change_month": "2021-07", "target": "-1"}, "between 0 and 100"),
    ({"measure": "theme:sepsis", "change_month": "2021-07", "target": "ten"},
     "target must be a percentage"),
    ({"measure": "theme:sepsis", "change_month": "2021-07", "target": "nan"},
     "between 0 and 100"),
])
def test_action_values_are_checked(values, message):
    base = {"description": "Handover checklist on every ward", "owner_role": "Matron",
            "agreed_on": "2021-06-01"}
    with pytest.raises(ValueError, match=message) as caught:
        check_action({**base, **values}, codebook=BOOK, today=dt.date(2026, 1, 1))
    assert "943 476 5919" not in str(caught.value) and "John Smith" not in str(caught.value)


def test_refused_values_write_nothing(governed_fresh):  # noqa: F811
    gov = governed_fresh
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        with pytest.raises(ValueError, match="identifier"):
            lead.record_action("Call Mrs Patel's daughter", owner_role="Matron",
                               agreed_on="2021-01-01")
        assert lead.actions().empty


def test_migrated_tables_are_the_models(governed_fresh):  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from data_access.models import Base

    engine = store.get_engine(governed_fresh.owner_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    mine = {"actions", "action_themes", "action_reviews"}
    assert [d for d in diffs if mine & set(str(d).replace("'", " ").replace('"', " ")
                                           .replace("(", " ").replace(")", " ").split())] == []


def test_constraints_hold_in_the_database(governed_fresh):  # noqa: F811
    from sqlalchemy.exc import IntegrityError

    gov = governed_fresh
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        action_id = lead.record_action("Handover checklist", owner_role="Matron",
                                       agreed_on="2021-06-01")
    engine = store.get_engine(gov.owner_url)
    try:
        for sql in ("UPDATE actions SET status = 'done' WHERE id = :a",
                    "UPDATE actions SET status = 'completed' WHERE id = :a",
                    "UPDATE actions SET measure = 'theme:sepsis' WHERE id = :a",
                    "UPDATE actions SET due_on = '2020-01-01' WHERE id = :a"):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(sql), {"a": action_id})
        with engine.begin() as conn:  # links go with their action
            conn.execute(text("INSERT INTO action_themes (organisation_code, action_id, theme) "
                              "SELECT organisation_code, id, 'x' FROM actions WHERE id = :a"),
                         {"a": action_id})
            conn.execute(text("DELETE FROM actions WHERE id = :a"), {"a": action_id})
            assert conn.execute(text("SELECT count(*) FROM action_themes")).scalar_one() == 0
    finally:
        engine.dispose()


# ------------------------------------------------------------------------- measures ----
def test_every_allowed_measure_parses_to_itself():
    allowed = measures.allowed_measures(BOOK)
    assert len(allowed) == 6 + len(BOOK.active) + 1
    for m in allowed:
        assert measures.parse_measure(m.id, BOOK) == m
        assert m.improvement in ("increase", "decrease") and m.label.startswith("%")
    assert measures.parse_measure("theme:good_practice", BOOK).improvement == "increase"


def _reviews(months: list[str], per_month: int) -> pd.DataFrame:
    rows = [{"review_id": f"R{m}-{i}", "organisation_code": "X", "death_month": m,
             "review_stage": "first", "status": "submitted"}
            for m in months for i in range(per_month)]
    return pd.DataFrame(rows)


def _codes(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["review_id", "theme", "coded_by", "coded_at"])


def test_theme_measure_counts_each_review_once_by_its_first_coder():
    reviews = _reviews(["2021-01", "2021-02"], 2)
    codes = _codes([
        ("R2021-01-0", "sepsis", "ann", "2021-03-01T10:00"),
        ("R2021-01-0", "sepsis", "bob", "2021-03-02T10:00"),  # second coder: not counted
        ("R2021-01-1", "medication", "bob", "2021-03-02T10:00"),
        ("R2021-01-1", "sepsis", "ann", "2021-03-03T10:00"),  # ann is this review's 2nd coder
        ("R2021-02-0", "medication", "ann", "2021-03-04T10:00"),
    ])
    m = measures.parse_measure("theme:sepsis", BOOK)
    counts = measures.measure_counts(m, reviews=reviews, theme_codes=codes, deaths=None,
                                     months=["2021-01", "2021-02", "2021-03"])
    assert counts.to_dict("index") == {
        "2021-01": {"numerator": 1, "denominator": 2},
        "2021-02": {"numerator": 0, "denominator": 1},
        "2021-03": {"numerator": 0, "denominator": 0},
    }


def test_an_impact_chart_is_rebased_at_the_change_and_finds_a_real_shift():
    months = [f"{2020 + (i // 12)}-{i % 12 + 1:02d}" for i in range(24)]
    rng = np.random.default_rng(3)
    den = pd.Series(40, index=months)
    before = rng.binomial(40, 0.30, 12)
    after = rng.binomial(40, 0.10, 12)
    counts = pd.DataFrame({"numerator": np.r_[before, after], "denominator": den.to_numpy()},
                          index=pd.Index(months, name="month"))
    m = measures.parse_measure("theme:sepsis", BOOK)
    frame = measures.impact_chart(m, counts, "2021-01")
    assert frame.attrs["rebased"] and frame.attrs["measure"] == "theme:sepsis"
    assert list(frame["rebase_group"].unique()) == [0, 1]
    assert frame.loc["2021-01":, "mean"].iloc[0] < frame.loc[:"2020-12", "mean"].iloc[0]
    # the same series without rebasing: the fall is a special cause of improvement
    from sjrlib import spc

    plain = spc.p_chart(counts["numerator"], counts["denominator"], improvement="decrease")
    assert (plain.loc["2021-01":"2021-07", "point_type"] == "special_cause_improvement").all()
    # no change in the process: nothing special after the change, rebased or not
    flat = counts.assign(numerator=rng.binomial(40, 0.3, 24))
    for chart in (measures.impact_chart(m, flat, "2021-01"),
                  spc.p_chart(flat["numerator"], flat["denominator"], improvement="decrease")):
        assert (chart.loc["2021-01":, "point_type"] == "common_cause").all()


# ------------------------------------------------------------------------------ CLI ----
def test_cli_add_list_update_export(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh

    def run(*args, user="lead_a"):
        return CliRunner().invoke(app, [*map(str, args), "--db", gov.app_url],
                                  env={"SJR_USER": user, "JUPYTERHUB_USER": None,
                                       "SJR_CONFIG": str(tmp_path / "none")})

    added = run("actions", "add", "--description", "Falls risk assessment on admission",
                "--owner-role", "Falls lead", "--agreed-on", "2021-04-01", "--theme",
                "prevention", "--measure", "theme:prevention", "--change-month", "2021-05")
    assert added.exit_code == 0, added.output
    action_id = added.output.split()[2]
    listed = run("actions", "list")
    assert action_id in listed.output and "theme:prevention" in listed.output
    changed = run("actions", "update", action_id, "--version", "1", "--status", "in_progress")
    assert changed.exit_code == 0 and "version 2" in changed.output
    targeted = run("actions", "update", action_id, "--version", "2", "--target", "12.5")
    assert targeted.exit_code == 0 and "version 3" in targeted.output
    assert "target 12.5%" in run("actions", "list").output
    cleared = run("actions", "update", action_id, "--version", "3", "--target", "none")
    assert cleared.exit_code == 0 and "target" not in run("actions", "list").output
    wrong = run("actions", "update", action_id, "--version", "4", "--target", "300")
    assert wrong.exit_code == 1 and "between 0 and 100" in wrong.output
    stale = run("actions", "update", action_id, "--version", "1", "--status", "dropped")
    assert stale.exit_code == 1 and "changed since version 1" in stale.output
    bad = run("actions", "add", "--description", "Phone 07700 900123 about it",
              "--owner-role", "Matron", "--agreed-on", "2021-04-01")
    assert bad.exit_code == 1 and "identifier" in bad.output and "900123" not in bad.output
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"register{suffix}"
        assert run("actions", "export", out).exit_code == 0
        frame = pd.read_csv(out) if suffix == ".csv" else pd.read_excel(out)
        assert list(frame["id"]) == [action_id] and list(frame["status"]) == ["in_progress"]
        assert list(frame["agreed_on"].astype(str)) == ["2021-04-01"]
    refused = run("actions", "list", user="reviewer_a")
    assert refused.exit_code == 1 and refused.output.startswith("sjr actions: refused")


def test_cli_measures_lists_every_allowed_measure():
    result = CliRunner().invoke(app, ["actions", "measures", "--shipped"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "Measures under codebook 2026.1 (shipped with sjr):"
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == \
        [m.id for m in measures.allowed_measures(BOOK)]


def test_cli_measures_are_those_of_the_stores_codebook(governed_fresh, tmp_path):  # noqa: F811
    """Before: `sjr actions measures` listed the shipped codebook's (theme:patient_flow, no
    theme:nutrition) after the programme team stored 2026.2, while `actions import` checked
    a measure against 2026.2 and refused theme:patient_flow."""
    from test_themes import _codebook_2026_2

    gov = governed_fresh
    book = _codebook_2026_2()
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(book)
    result = CliRunner().invoke(app, ["actions", "measures", "--db", gov.app_url],
                                env={"SJR_USER": "lead_a", "JUPYTERHUB_USER": None,
                                     "SJR_CONFIG": str(tmp_path / "none")})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Measures under codebook 2026.2 (the latest stored in ")
    listed = [line.split()[0] for line in lines[1:]]
    assert listed == [m.id for m in measures.allowed_measures(book)]
    assert "theme:nutrition" in listed and "theme:patient_flow" not in listed
    assert "% of coded reviews coded 'Timely senior review'" in result.output
    assert _last(gov.owner_url)[:2] == ("lead_a", "codebook")
    with open_session("lead_a", gov.app_url, tool="test") as lead:  # what the lead may record
        lead.record_action("Nutrition round", owner_role="Ward manager", agreed_on="2021-06-01",
                           measure="theme:nutrition", change_month="2021-07")
        with pytest.raises(ValueError, match="'patient_flow' is not an active theme of "
                                             "codebook 2026.2"):
            lead.record_action("Bed meeting", owner_role="Site manager",
                               agreed_on="2021-06-01", measure="theme:patient_flow",
                               change_month="2021-07")


def test_a_register_file_round_trips_all_or_nothing(governed_fresh, tmp_path):  # noqa: F811
    from data_access.actions import read_actions_file, write_actions_file

    gov = governed_fresh
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        first = lead.record_action("Handover checklist", owner_role="Matron",
                                   agreed_on="2021-06-01", themes=["communication_team"])
        path = write_actions_file(lead.actions(), tmp_path / "register.xlsx")
        frame = read_actions_file(path)
        frame.loc[0, "status"] = "in_progress"
        new = {c: "" for c in frame.columns} | {
            "description": "Falls risk assessment on admission", "owner_role": "Falls lead",
            "agreed_on": "2021-07-01", "measure": "theme:prevention", "change_month": "2021-08"}
        frame = pd.concat([frame, pd.DataFrame([new])], ignore_index=True)
        assert lead.import_actions(frame) == (1, 1, 0)
        stored = lead.actions().set_index("id")
        assert stored.loc[first, "status"] == "in_progress" and stored.loc[first, "version"] == 2
        assert stored.loc[first, "themes"] == "communication_team"
        assert len(stored) == 2
        # the same file again: its row 2 is at version 1, stored is 2: nothing is written
        bad = frame.copy()
        bad.loc[1, "description"] = "Another action"
        with pytest.raises(ValueError, match="row 2, column version: .*changed since version 1"):
            lead.import_actions(bad)
        assert len(lead.actions()) == 2
        with pytest.raises(ValueError, match="row 3, column description: .*identifier"):
            lead.import_actions(frame.assign(description=["x", "Ring 07700 900123"]).iloc[[0, 1]]
                                .assign(id=["", ""]))
        with pytest.raises(AccessDenied, match="row 2, column organisation_code"):
            lead.import_actions(frame.iloc[[1]].assign(organisation_code=gov.org_b))
        assert len(lead.actions()) == 2
    (tmp_path / "odd.csv").write_text("description,owner,agreed_on\nx,y,2021-01-01\n")
    with pytest.raises(ValueError, match="unknown column"):
        read_actions_file(tmp_path / "odd.csv")


def _stamps(url: str) -> dict[str, tuple]:
    """Each action's (version, updated_by, updated_at) and its links, as the owner reads them."""
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, version, updated_by, updated_at FROM "
                                     "actions")).all()
            links = conn.execute(text("SELECT action_id, theme FROM action_themes")).all()
    finally:
        engine.dispose()
    return {r[0]: (r[1], r[2], str(r[3]), sorted(t for a, t in links if a == r[0]))
            for r in rows}


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_unchanged_register_changes_nothing(governed_fresh, tmp_path, suffix):  # noqa: F811
    """Before: importing a register as exported, edited in nothing, updated every action
    ('0 action(s) recorded, 2 updated', each at a new version, audited as updated), and
    then a colleague's export of a moment before was refused as stale."""
    from data_access.actions import read_actions, write_actions_file

    gov = governed_fresh
    reviews = _own_reviews(gov)
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        first = lead.record_action(
            "Sepsis screening at triage", owner_role="Sepsis lead", agreed_on="2021-06-01",
            due_on="2021-09-30", themes=["sepsis", "deterioration"], review_ids=reviews,
            measure="theme:sepsis", change_month="2021-07", target=10)
        second = lead.record_action("Handover checklist", owner_role="Matron",
                                    agreed_on="2021-05-01", status="completed",
                                    completed_on="2021-08-01")
        colleague = write_actions_file(lead.actions(), tmp_path / f"colleague{suffix}")
        path = write_actions_file(lead.actions(), tmp_path / f"register{suffix}")
        before = _stamps(gov.owner_url)
        frame, rows = read_actions(path)
        assert lead.import_actions(frame, source=path.name, rows=rows) == (0, 0, 2)
        assert _stamps(gov.owner_url) == before  # not written: version, stamps, links kept
        assert _last(gov.owner_url)[1:] == ("actions.import", {
            "rows": 2, "file": path.name, "organisations": [gov.org_a], "recorded": 0,
            "updated": 0, "unchanged": 2})
        # written another way, the same values: links in another order, a target of 10.0,
        # a blank status (open) for an open action, a column the file does not carry
        same = frame.copy()
        same["themes"] = ["deterioration;sepsis" if t else t for t in frame["themes"]]
        same["target"] = ["10.0" if str(t).strip() else t for t in frame["target"]]
        same = same.drop(columns=["due_on"])
        assert lead.import_actions(same) == (0, 0, 2)
        assert lead.update_action(second, expected_version=1, status="completed") == 1
        assert _stamps(gov.owner_url) == before
        # one value changed: that action alone gets a new version
        changed = frame.copy()
        changed.loc[changed["id"] == second, "owner_role"] = "Ward manager"
        assert lead.import_actions(changed) == (0, 1, 1)
        versions = lead.actions().set_index("id")["version"]
        assert versions[first] == 1 and versions[second] == 2
        # the colleague's earlier export is still current for the action nobody changed
        theirs, numbers = read_actions(colleague)
        theirs = theirs[theirs["id"] == first]
        theirs.loc[:, "status"] = "in_progress"
        assert lead.import_actions(theirs, rows=[numbers[0]]) == (0, 1, 0)


def test_a_trust_report_reads_codes_and_actions_through_the_session(governed_fresh):  # noqa: F811
    from sjrlib.report.trust import trust_report

    gov = governed_fresh
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            reviews = list(conn.execute(text(
                "SELECT review_id FROM reviews WHERE organisation_code = :o AND status = "
                "'submitted' AND review_stage = 'first' ORDER BY review_id LIMIT 3"),
                {"o": gov.org_a}).scalars())
    finally:
        engine.dispose()
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        for review_id in reviews:
            lead.code_review(review_id, "sepsis")
        lead.code_review(reviews[0], "medication", phase="admission", from_suggestion=True)
        lead.record_action("Sepsis screening at triage", owner_role="Sepsis lead",
                           agreed_on="2021-06-01", themes=["sepsis"], measure="theme:sepsis",
                           change_month="2021-09")
    with open_session("lead_b", gov.app_url, tool="test") as lead_b:  # not in A's report
        lead_b.record_action("Falls huddle", owner_role="Ward manager", agreed_on="2021-05-01")
    report = trust_report(dict(organisation_code=gov.org_a, db=gov.app_url, user="national",
                               period="2021-22", audience="organisation",
                               disclosure_threshold=None, disclosure_rounding=None))
    assert _last(gov.owner_url)[:2] == ("national", "actions")  # read through the door
    themes = report.learning.themes_table().frame
    assert themes.loc["Sepsis recognition and treatment", "Reviews coded with the theme"] == 3
    assert themes.loc["Medicines, fluids and oxygen", "Reviews coded with the theme"] == 1
    assert set(themes["Coded reviews"]) == {3}
    actions = report.learning.actions_table().frame
    assert list(actions.index) == ["1. Sepsis screening at triage"]
    assert len(report.learning.impact_charts()) == 2


# --------------------------------------------------------------------------- targets ----
def test_a_target_is_a_percentage_of_the_measure():
    base = {"description": "Sepsis screening at triage", "owner_role": "Sepsis lead",
            "agreed_on": "2021-06-01", "measure": "theme:sepsis", "change_month": "2021-07"}
    for given, kept in (("12", 12.0), ("12.5%", 12.5), (" 0 ", 0.0), (100, 100.0), ("", None),
                        (None, None)):
        assert check_action({**base, "target": given}, codebook=BOOK,
                            today=dt.date(2026, 1, 1))["target"] == kept


def test_a_target_is_stored_changed_exported_and_kept_by_an_older_file(
        governed_fresh, tmp_path):  # noqa: F811
    from data_access.actions import read_actions_file, write_actions_file

    gov = governed_fresh
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        action_id = lead.record_action(
            "Sepsis screening at triage", owner_role="Sepsis lead", agreed_on="2021-06-01",
            measure="theme:sepsis", change_month="2021-07", target=8)
        assert lead.actions().set_index("id").loc[action_id, "target"] == 8.0
        assert lead.update_action(action_id, expected_version=1, target="6.5") == 2
        frame = lead.actions()
        assert frame["target"].dtype == "Float64" and frame.iloc[0]["target"] == 6.5
        path = write_actions_file(frame, tmp_path / "register.csv")
        assert "target" in read_actions_file(path).columns
        # a register exported before targets existed: its update keeps the stored target
        older = read_actions_file(path).drop(columns=["target"])
        older.loc[0, "status"] = "in_progress"
        assert lead.import_actions(older) == (0, 1, 0)
        stored = lead.actions().iloc[0]
        assert stored["status"] == "in_progress" and stored["target"] == 6.5
        # clearing the measure without clearing the target is refused, nothing written
        with pytest.raises(ValueError, match="target goes with a measure"):
            lead.update_action(action_id, expected_version=3, measure=None, change_month=None)
        assert lead.update_action(action_id, expected_version=3, measure=None,
                                  change_month=None, target=None) == 4
        assert pd.isna(lead.actions().iloc[0]["target"])


def test_postgresql_holds_the_target_in_the_database(governed_fresh):  # noqa: F811
    from sqlalchemy.exc import IntegrityError

    gov = governed_fresh
    if not gov.owner_url.startswith("postgresql"):
        pytest.skip("SQLite cannot add a check constraint in place: the access layer holds it")
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        action_id = lead.record_action("Handover checklist", owner_role="Matron",
                                       agreed_on="2021-06-01")
    engine = store.get_engine(gov.owner_url)
    try:
        for sql in ("UPDATE actions SET target = 10 WHERE id = :a",  # no measure
                    "UPDATE actions SET measure = 'theme:sepsis', change_month = '2021-07', "
                    "target = 101 WHERE id = :a"):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(sql), {"a": action_id})
    finally:
        engine.dispose()


@pytest.mark.parametrize(("target", "kind", "words"), [
    (20, "consistent_pass", "will be met consistently"),
    (10, "inconsistent", "met in some months and missed in others"),
    (2, "consistent_fail", "will not be met without a further change"),
    (None, None, "no target was set, so no assurance is given"),
])
def test_an_impact_chart_against_a_target_gives_its_assurance(target, kind, words):
    from types import SimpleNamespace

    from sjrlib import spc
    from sjrlib.report.learning import _impact_sentence

    # 12 months at 30%, then 12 at 10% of 200 coded reviews a month: after the change the
    # p-chart's limits are about 10% +/- 6.4 points (3 sigma of 0.1 x 0.9 / 200)
    months = [f"{2020 + (i // 12)}-{i % 12 + 1:02d}" for i in range(24)]
    counts = pd.DataFrame({"numerator": [60] * 12 + [20] * 12, "denominator": [200] * 24},
                          index=pd.Index(months, name="month"))
    m = measures.parse_measure("theme:sepsis", BOOK)
    frame = measures.impact_chart(m, counts, "2021-01", target=target)
    assert spc.assurance(frame) == kind
    action = SimpleNamespace(description="Sepsis screening at triage", change_month="2021-01")
    sentence = _impact_sentence(action, m, frame)
    assert words in sentence and "30% before January 2021 and 10% from then" in sentence
