"""Researchers get theme codes only under an approval that lists ``theme_codes``.

The codes are a table linked to the extract's rows by the review pseudonym
(``FILE.theme_codes.parquet``). Expectations are computed here from the stored rows, read as
the owner with plain SQL and pandas, and the pseudonyms with :mod:`hmac` directly, independently
of :mod:`data_access.pseudonymise`. The store is the access tests' synthetic one
(``access_setup``), on SQLite and PostgreSQL; its codes are given by an organisation lead
through the governed session (one accepted suggestion, one rejected, one by hand, a second
coder) and, for every other released review, written by the owner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid

import pandas as pd
import pytest
from access_setup import _engines, approval, build
from sqlalchemy import text

from data_access import AccessDenied, open_session, store
from data_access.approval_keys import KEY_FILE_ENV, read_key
from data_access.approvals import ApprovalError, ApprovalSpec
from data_access.extract import linked_path, read_extract, read_theme_codes
from data_access.extract_service import _extract_as, _receive
from sjrlib.themes import suggest

ORG = "(SELECT organisation_code FROM reviews WHERE review_id = :r)"
"""A child row's organisation: its review's (``:r``), which the key to it holds (revision
0035_children_scope)."""

PERIOD = ("2021-04", "2021-09")
BASE = ("review_id", "organisation_code", "death_month", "score_overall")
THEMES = ("sepsis", "deterioration", "medication", "good_practice", "communication_team")


@pytest.fixture(scope="module", params=_engines())
def coded(request, tmp_path_factory):
    """A governed store whose released reviews carry theme codes, and the approvals."""
    folder = tmp_path_factory.mktemp("themes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_FILE_ENV, str(folder / "keys" / "sjr.keys"))
        gov, cleanup = build(request.param, folder)
        try:
            info = _code(gov)
            counts = _stored_reviews(gov).groupby("organisation_code")["case_id"].nunique()
            small = counts.idxmin()
            k = int(counts.min()) + 1  # the smallest organisation cannot reach k: withheld
            assert k <= counts.drop(small).min()
            with open_session("admin", gov.app_url, tool="test") as s:
                s.add_approval(approval("T-NONE", ["res2"], [gov.org_a, gov.org_b],
                                        period_start=PERIOD[0], period_end=PERIOD[1],
                                        fields=BASE))
                s.add_approval(approval("T-YES", ["res2"], [gov.org_a],
                                        period_start=PERIOD[0], period_end=PERIOD[1],
                                        fields=(*BASE, "theme_codes")))
                s.add_approval(approval("T-K", ["res2"], [gov.org_a, gov.org_b, gov.org_c],
                                        period_start=PERIOD[0], period_end=PERIOD[1], k=k,
                                        fields=(*BASE, "theme_codes")))
            yield gov, {**info, "small": small}
        finally:
            cleanup()


def _stored_reviews(gov, organisations=None) -> pd.DataFrame:
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return store.load_reviews(conn, organisation_codes=organisations or
                                      [gov.org_a, gov.org_b, gov.org_c],
                                      start_month=PERIOD[0], end_month=PERIOD[1],
                                      status=["submitted", "locked"])
    finally:
        engine.dispose()


def _code(gov) -> dict:
    """Codes as people give them; returns what the tests need to know about them."""
    reviews = _stored_reviews(gov, [gov.org_a]).sort_values("review_id")
    texts = {}
    with open_session("lead_a", gov.app_url, tool="test") as s:
        for rid in reviews["review_id"]:
            review = s.review(rid)
            texts[rid] = " ".join(str(v) for k, v in review.items()
                                  if k.startswith("comment_") and isinstance(v, str))
            shown = suggest(texts[rid])
            if len(shown) >= 2:
                break
        else:
            pytest.fail("no review of organisation A has two suggestions to accept and reject")
        accepted, rejected = shown[0].theme, shown[1].theme
        by_hand = next(t for t in THEMES if t not in {s.theme for s in shown})
        s.code_review(rid, accepted, from_suggestion=True)
        s.code_review(rid, by_hand, phase="admission")
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        own = s.reviews(status="submitted", start_month=PERIOD[0], end_month=PERIOD[1])
        second = str(own.loc[own["review_id"] != rid, "review_id"].iloc[0])
        s.code_review(second, "good_practice")  # a second coder of a review the lead codes
    with open_session("lead_a", gov.app_url, tool="test") as s:
        s.code_review(second, "good_practice")
        s.code_review(second, "medication", phase="ongoing")
    done = {rid, second}
    # every other released review of the three organisations, and a draft, coded by the owner
    owner = store.get_engine(gov.owner_url)
    try:
        with owner.begin() as conn:
            everything = store.load_reviews(conn)
            others = everything[everything["status"].isin(["submitted", "locked"])
                                & everything["death_month"].between("2021-03", "2021-10")
                                & ~everything["review_id"].isin(done)]
            drafts = everything[everything["status"] == "draft"]
            rows = [(r, THEMES[i % len(THEMES)]) for i, r in enumerate(others["review_id"])]
            rows += [(r, "sepsis") for r in drafts["review_id"][:3]]
            at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
            for review_id, theme in rows:
                conn.execute(text(
                    "INSERT INTO theme_codes (id, organisation_code, review_id, theme, phase, "
                    "codebook_version, coded_by, coded_at, from_suggestion) VALUES (:id, "
                    f"{ORG}, :r, :t, NULL, '2026.1', 'lead_x', :at, :s)"),
                    {"id": uuid.uuid4().hex, "r": review_id, "t": theme, "at": at,
                     "s": theme == "sepsis"})
    finally:
        owner.dispose()
    return {"queued": rid, "accepted": accepted, "rejected": rejected, "by_hand": by_hand,
            "second": second, "drafts": list(drafts["review_id"][:3])}


def _secret(gov, approval_id: str) -> bytes:
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return read_key(conn, approval_id)
    finally:
        engine.dispose()


def _pseudonym(secret: bytes, review_id: str) -> str:
    return hmac.new(secret, f"review:{review_id}".encode(), hashlib.sha256).hexdigest()[:20]


def _stored_codes(gov) -> pd.DataFrame:
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT t.review_id, t.theme, t.phase, t.codebook_version, t.coded_by, "
                "t.from_suggestion, r.organisation_code, r.death_month, r.status "
                "FROM theme_codes t JOIN reviews r ON r.review_id = t.review_id")).all()
    finally:
        engine.dispose()
    return pd.DataFrame(rows, columns=["review_id", "theme", "phase", "codebook_version",
                                       "coded_by", "from_suggestion", "organisation_code",
                                       "death_month", "status"])


def _as_set(frame: pd.DataFrame) -> set[tuple]:
    return {(r, t, None if pd.isna(p) else p, v, bool(s)) for r, t, p, v, s in zip(
        frame["review_id"], frame["theme"], frame["phase"], frame["codebook_version"],
        frame["from_suggestion"])}


def test_without_the_field_no_theme_codes(coded, tmp_path):
    gov, _ = coded
    with open_session("res2", gov.app_url, tool="test") as s:
        result = s.extract("T-NONE", tmp_path / "none.parquet")
        frame = s.reviews(approval_id="T-NONE")
        with pytest.raises(AccessDenied, match="does not release theme_codes"):
            s.extract("T-NONE", tmp_path / "x.parquet", fields=["review_id", "theme_codes"])
    manifest = json.loads(result.manifest.read_text())
    assert result.linked == () and manifest["linked_tables"] == {}
    assert not linked_path(result.path, "theme_codes").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.parquet",
                                                          "none.parquet.manifest.json"]
    for columns in (read_extract(result.path).columns, frame.columns):
        assert not [c for c in columns if "theme" in c]
    with pytest.raises(FileNotFoundError, match="theme_codes among its fields"):
        read_theme_codes(result.path)


def test_with_the_field_exactly_the_codes_of_released_reviews(coded, tmp_path):
    gov, info = coded
    with open_session("res2", gov.app_url, tool="test") as s:
        result = s.extract("T-YES", tmp_path / "yes.parquet")
        frame = s.reviews(approval_id="T-YES")
        with pytest.raises(ValueError, match="linked to the reviews, not a column"):
            s.reviews(approval_id="T-YES", columns=["review_id", "theme_codes"])
    extract, codes = read_extract(result.path), read_theme_codes(result.path)
    assert "theme_codes" not in frame.columns and "theme_codes" not in extract.columns
    secret = _secret(gov, "T-YES")
    stored = _stored_codes(gov)
    inside = stored[(stored["organisation_code"] == gov.org_a)
                    & stored["death_month"].between(*PERIOD)
                    & stored["status"].isin(["submitted", "locked"])]
    expected = inside.assign(review_id=[_pseudonym(secret, r) for r in inside["review_id"]])
    assert len(codes) == len(expected) > 20
    assert _as_set(codes) == _as_set(expected)
    assert set(codes["review_id"]) <= set(extract["review_id"])
    assert list(codes.columns) == ["review_id", "theme", "phase", "codebook_version", "coder",
                                   "from_suggestion"]
    # what the lead did from the queue: the accepted suggestion and the theme added by hand,
    # never the suggestion rejected; no coder name anywhere
    queued = codes[codes["review_id"] == _pseudonym(secret, info["queued"])]
    assert _as_set(queued) == {
        (_pseudonym(secret, info["queued"]), info["accepted"], None, "2026.1", True),
        (_pseudonym(secret, info["queued"]), info["by_hand"], "admission", "2026.1", False)}
    assert info["rejected"] not in set(queued["theme"])
    # two coders of one review: coder 1 and coder 2, no identity
    second = codes[codes["review_id"] == _pseudonym(secret, info["second"])]
    assert sorted(second["coder"].tolist()) == [1, 2, 2]
    released = pd.concat([extract.astype("string"), codes.astype("string")], ignore_index=True)
    for name in ("lead_a", "reviewer_a", "lead_x"):
        assert not released.isin([name]).any().any()
    for rid in [info["queued"], info["second"], *info["drafts"]]:
        assert rid not in set(codes["review_id"])  # store ids never leave
    assert not {_pseudonym(secret, r) for r in info["drafts"]} & set(codes["review_id"])
    manifest = json.loads(result.manifest.read_text())
    table = manifest["linked_tables"]["theme_codes"]
    path = linked_path(result.path, "theme_codes")
    assert table["file"] == path.name == "yes.theme_codes.parquet"
    assert table["rows"] == len(codes) and table["key"] == "review_id"
    assert table["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "person gave or accepted" in table["description"]


def test_codes_of_withheld_reviews_are_withheld(coded, tmp_path):
    gov, info = coded
    with open_session("res2", gov.app_url, tool="test") as s:
        result = s.extract("T-K", tmp_path / "k.csv")
    extract, codes = read_extract(result.path), read_theme_codes(result.path)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["k_anonymity"]["suppressed_rows"] > 0
    assert info["small"] not in set(extract["organisation_code"])
    secret = _secret(gov, "T-K")
    stored = _stored_codes(gov)
    inside = stored[stored["death_month"].between(*PERIOD)
                    & stored["status"].isin(["submitted", "locked"])]
    kept = inside[inside["organisation_code"] != info["small"]]
    withheld = inside[inside["organisation_code"] == info["small"]]
    assert len(withheld) > 0
    assert _as_set(codes) == _as_set(kept.assign(
        review_id=[_pseudonym(secret, r) for r in kept["review_id"]]))
    assert not {_pseudonym(secret, r) for r in withheld["review_id"]} & set(codes["review_id"])
    assert set(codes["review_id"]) <= set(extract["review_id"])
    assert codes["from_suggestion"].dtype == "boolean"  # read back from CSV


def test_an_extract_with_codes_is_audited(coded, tmp_path):
    gov, _ = coded
    with open_session("res2", gov.app_url, tool="test") as s:
        result = s.extract("T-YES", tmp_path / "a.parquet", fields=["review_id", "theme_codes"])
        with pytest.raises(ValueError, match="ask for review_id too"):
            s.extract("T-YES", tmp_path / "b.parquet", fields=["score_overall", "theme_codes"])
    with open_session("admin", gov.app_url, tool="test") as s:
        log = s.audit_log(username="res2", action="extract")
    entry = json.loads(log.iloc[-1]["scope"]) if isinstance(log.iloc[-1]["scope"], str) \
        else log.iloc[-1]["scope"]
    assert entry["file"] == "a.parquet" and "theme_codes" in entry["columns"]
    assert entry["theme_codes"] == result.linked[0].rows > 0
    assert entry["theme_codes_sha256"] == result.linked[0].sha256
    assert not (tmp_path / "b.parquet").exists()
    assert not (tmp_path / "b.theme_codes.parquet").exists()


def test_the_extract_service_carries_the_codes(coded, tmp_path):
    """What the hub's service sends (:func:`_extract_as`) is what the caller writes."""
    gov, _ = coded
    engine = store.get_engine(gov.app_url)
    try:
        answer = _extract_as(engine, "res2", {"approval_id": "T-YES", "file": "svc.csv"})
    finally:
        engine.dispose()
    result = _receive(answer, tmp_path / "svc.csv")
    assert [t.name for t in result.linked] == ["theme_codes"]
    codes = read_theme_codes(tmp_path / "svc.theme_codes.csv")
    assert len(codes) == result.linked[0].rows > 0
    assert set(codes["review_id"]) <= set(read_extract(result.path)["review_id"])
    answer["linked"]["theme_codes"] = answer["data"]  # a table swapped on the way
    with pytest.raises(Exception, match="theme_codes table received does not match"):
        _receive(answer, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_an_approval_of_theme_codes_needs_review_id():
    values = dict(id="D-T", applicants=("r",), purpose="themes of end-of-life care",
                  organisations=("XA1",), period_start="2021-04", period_end="2022-03",
                  start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 12, 31))
    with pytest.raises(ValueError, match="linked to the reviews by review_id"):
        ApprovalSpec(**values, fields=("organisation_code", "theme_codes"))
    assert "theme_codes" in ApprovalSpec(**values, fields=("review_id", "theme_codes")).fields
    from data_access.approvals import spec_from_values

    with pytest.raises(ApprovalError,
                       match=r"command line: --field: unknown field\(s\) theme_code;"):
        spec_from_values({**values, "fields": ["theme_code", "review_id"]})


def test_sjr_extract_names_the_linked_table(coded, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sjrlib.cli import app

    gov, _ = coded
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("SJR_USER", "res2")
    out = tmp_path / "cli.csv"
    done = CliRunner().invoke(app, ["extract", "--approval", "T-YES", "--out", str(out),
                                    "--db", gov.app_url])
    assert done.exit_code == 0, done.output
    table = tmp_path / "cli.theme_codes.csv"
    rows = len(read_theme_codes(table))
    assert f"{table}: {rows} theme_codes linked by review_id" in done.output.replace("\n", "")
