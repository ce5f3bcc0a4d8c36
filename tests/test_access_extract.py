"""Researchers' extracts: pseudonyms that cannot be linked, redaction, manifests, the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pandas as pd
import pytest
from access_setup import governed, governed_fresh  # noqa: F401  (fixtures)
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import AccessDenied, open_session, store
from data_access.approvals import ApprovalError, load_approval_file
from data_access.pseudonymise import coarsen_month, pseudonym, pseudonymise_series
from sjrlib.privacy import find_identifiers

IDENTIFIERS = {
    "NHS number": "943 476 5919",
    "postcode": "LS1 4AB",
    "email": "jo.bloggs@example.org",
    "name": "Mr Smith",
    "MRN": "MRN 1234567",
}


def test_pseudonym_is_hmac_sha256_with_the_approval_secret():
    secret = b"k" * 32
    expected = hmac.new(secret, b"review:R1", hashlib.sha256).hexdigest()[:20]
    assert pseudonym(secret, "review", "R1") == expected
    values = pd.Series(["R1", None, "R1"], dtype="string")
    out = pseudonymise_series(values, secret, "review")
    assert out[0] == out[2] == expected and pd.isna(out[1])
    assert pseudonym(secret, "case", "R1") != expected  # kinds of id are kept apart
    with pytest.raises(ValueError, match="16 bytes"):
        pseudonymise_series(values, b"short", "review")


def test_coarsening():
    months = pd.Series(["2021-01", "2021-03", "2021-04", "2021-12", None], dtype="string")
    assert coarsen_month(months, "quarter").tolist()[:4] == ["2021-Q1", "2021-Q1", "2021-Q2",
                                                             "2021-Q4"]
    assert coarsen_month(months, "month").tolist()[:4] == months.tolist()[:4]
    with pytest.raises(ValueError, match="coarsening"):
        coarsen_month(months, "week")


def test_two_approvals_extracts_cannot_be_joined(governed, tmp_path):  # noqa: F811
    with open_session("res1", governed.app_url, tool="test") as s:
        one = s.extract("DARG-1", tmp_path / "one.parquet")
        two = s.extract("DARG-2", tmp_path / "two.csv")
        again = s.reviews(approval_id="DARG-1")
    a = pd.read_parquet(one.path)
    b = pd.read_csv(two.path, dtype="string")
    # the same reviews are in both (org A, 2021-04..09), under different pseudonyms
    assert len(a) > 0 and len(b) > len(a)
    for column in ("review_id", "case_id"):
        assert not set(a[column]) & set(b[column]), column
        assert len(a.merge(b, on=column)) == 0
    # within one approval the pseudonyms are stable and links survive
    assert a["review_id"].tolist() == again["review_id"].tolist()
    seconds = a["second_review_of"].dropna()
    assert len(seconds) > 0 and seconds.isin(set(a["review_id"])).all()


def test_free_text_is_redacted_for_researchers(governed_fresh):  # noqa: F811
    """Identifiers that slipped into the store (written past the import checks) never leave."""
    gov = governed_fresh
    owner = store.get_engine(gov.owner_url)
    planted = "Seen by " + "; ".join(IDENTIFIERS.values()) + "; care was adequate."
    with owner.begin() as conn:
        review_id = conn.execute(text(
            "SELECT min(r.review_id) FROM reviews r JOIN phase_assessments p "
            "ON p.review_id = r.review_id AND p.phase = 'overall' WHERE r.organisation_code = :o "
            "AND r.death_month = '2021-05' AND r.status = 'submitted'"), {"o": gov.org_a}
        ).scalar_one()
        conn.execute(text("UPDATE phase_assessments SET comment = :c WHERE review_id = :r "
                          "AND phase = 'overall'"), {"c": planted, "r": review_id})
    owner.dispose()
    with open_session("res1", gov.app_url, tool="test") as s:
        with_text = s.reviews(approval_id="DARG-1")
        without = s.reviews(approval_id="DARG-2")
    with open_session("lead_a", gov.app_url, tool="test") as s:
        assert s.review(review_id)["comment_overall"] == planted  # reviewers' text untouched
    comments = with_text["comment_overall"].dropna()
    joined = "\n".join(comments)
    for kind, value in IDENTIFIERS.items():
        assert value not in joined, kind
    assert "[NHS_NUMBER]" in joined and "care was adequate" in joined
    assert not any(find_identifiers(c) for c in comments)
    assert not any(c.startswith("comment_") for c in without.columns)


def test_extract_manifest_describes_the_file(governed, tmp_path):  # noqa: F811
    with open_session("res2", governed.app_url, tool="test") as s:
        result = s.extract("DARG-2", tmp_path / "ex.csv", fields=["review_id", "score_overall"])
    manifest = json.loads(result.manifest.read_text())
    frame = pd.read_csv(result.path)
    assert manifest["approval_id"] == "DARG-2"
    assert manifest["fields"] == ["review_id", "score_overall"] == list(frame.columns)
    assert manifest["rows"] == len(frame) == result.rows
    assert manifest["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.manifest.name == "ex.csv.manifest.json"


def test_refused_extract_writes_no_file(governed, tmp_path):  # noqa: F811
    with open_session("res2", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="does not release"):
            s.extract("DARG-2", tmp_path / "x.parquet", fields=["reviewer_id"])
        with pytest.raises(AccessDenied, match="revoked"):
            s.extract("DARG-REV", tmp_path / "x.parquet")
        with pytest.raises(ValueError, match="parquet or .csv"):
            s.extract("DARG-2", tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_the_register_shows_each_approval_as_it_is(governed_fresh, tmp_path, monkeypatch):  # noqa: F811, E501
    """``sjr approvals list`` showed an approval whose end date had passed, and one not yet
    begun, as ``active`` while every extract under them was refused (acceptance audit of
    2026-12-06, finding 3): the administrator's register says ``ended`` and ``not yet
    started``; a revoked one stays ``revoked``."""
    from sjrlib.cli import app

    gov = governed_fresh
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("SJR_USER", "admin")
    today = dt.date.today()
    windows = {"W-ENDED": (today - dt.timedelta(days=400), today - dt.timedelta(days=1)),
               "W-TODAY": (today, today),
               "W-LATER": (today + dt.timedelta(days=1), today + dt.timedelta(days=30))}
    for approval_id, (start, end) in windows.items():
        path = tmp_path / f"{approval_id}.yaml"
        path.write_text(
            f"id: {approval_id}\napplicants: [res2]\npurpose: test\n"
            f"organisations: [{gov.org_b}]\nperiod_start: '2021-04'\nperiod_end: '2021-06'\n"
            f"fields: [review_id, score_overall]\nstart_date: {start}\nend_date: {end}\n")
        added = CliRunner().invoke(app, ["approvals", "add", str(path), "--db", gov.app_url])
        assert added.exit_code == 0, added.output
    with open_session("admin", gov.app_url, tool="test") as s:
        status = s.approvals().set_index("approval_id")["status"]
    assert status["W-ENDED"] == "ended"
    assert status["W-TODAY"] == "active"
    assert status["W-LATER"] == "not yet started"
    assert status["DARG-REV"] == "revoked"
    with open_session("res2", gov.app_url, tool="test") as s:
        for approval_id, words in (("W-ENDED", "ended on"), ("W-LATER", "starts on")):
            with pytest.raises(AccessDenied, match=words):
                s.extract(approval_id, tmp_path / "x.parquet")
        assert "W-TODAY" in set(s.approvals()["approval_id"])
    listed = CliRunner().invoke(app, ["approvals", "list", "--db", gov.app_url])
    assert listed.exit_code == 0, listed.output
    assert "not yet started" in listed.output and "ended" in listed.output


def test_approval_files_are_checked(tmp_path):
    path = tmp_path / "a.yaml"
    base = ("id: D-1\napplicants: [r]\npurpose: p\norganisations: [XA1]\nperiod_start: '2021-04'"
            "\nperiod_end: '2022-03'\nstart_date: 2026-01-01\nend_date: 2026-12-31\n")
    path.write_text(base + "fields: [review_id, comment_overall]\n")
    with pytest.raises(ApprovalError, match="free_text"):
        load_approval_file(path)
    path.write_text(base + "fields: [review_id, nhs_number]\n")
    with pytest.raises(ApprovalError, match="unknown field.*nhs_number"):
        load_approval_file(path)
    path.write_text(base + "fields: [review_id]\ndate_coarsening: week\n")
    with pytest.raises(ApprovalError, match="date_coarsening"):
        load_approval_file(path)
    path.write_text(base + "fields: [review_id]\nfree_txt: true\n")
    with pytest.raises(ApprovalError, match="free_txt"):
        load_approval_file(path)
    path.write_text(base + "fields: [review_id]\n")
    assert load_approval_file(path)[0].end_date == dt.date(2026, 12, 31)


def test_cli_users_approvals_and_extract(governed_fresh, tmp_path, monkeypatch):  # noqa: F811
    from sjrlib.cli import app

    gov = governed_fresh
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    runner = CliRunner()

    def sjr(user: str, *args: str):
        monkeypatch.setenv("SJR_USER", user)
        return runner.invoke(app, [*args, "--db", gov.app_url])

    added = sjr("admin", "users", "add", "res3", "--role", "researcher")
    assert added.exit_code == 0, added.output
    refused = sjr("lead_a", "users", "add", "res4", "--role", "researcher")
    assert refused.exit_code == 1 and "refused" in refused.output
    listed = sjr("admin", "users", "list")
    assert "res3" in listed.output and "res4" not in listed.output
    approval = tmp_path / "darg.yaml"
    approval.write_text(
        f"id: DARG-CLI\napplicants: [res3]\npurpose: test\norganisations: [{gov.org_b}]\n"
        "period_start: '2021-04'\nperiod_end: '2021-06'\nfields: [review_id, score_overall]\n"
        f"start_date: {dt.date.today()}\nend_date: {dt.date.today() + dt.timedelta(days=9)}\n")
    assert sjr("admin", "approvals", "add", str(approval)).exit_code == 0
    assert "DARG-CLI" in sjr("admin", "approvals", "list").output
    out = tmp_path / "mine.parquet"
    done = sjr("res3", "extract", "--approval", "DARG-CLI", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert out.exists() and (tmp_path / "mine.parquet.manifest.json").exists()
    assert sjr("admin", "approvals", "revoke", "DARG-CLI", "--reason", "ended").exit_code == 0
    again = sjr("res3", "extract", "--approval", "DARG-CLI", "--out", str(tmp_path / "b.csv"))
    assert again.exit_code == 1 and "revoked" in again.output
    assert sjr("admin", "users", "disable", "res3").exit_code == 0
    gone = sjr("res3", "approvals", "list")
    assert gone.exit_code == 1 and "disabled" in gone.output
    bad = sjr("admin", "approvals", "add", "--id", "X", "--applicant", "res3")
    assert bad.exit_code == 1 and "purpose" in bad.output
