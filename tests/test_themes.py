"""Themes: the codebook as data, and suggested themes measured on statements held out.

The evaluation statements in ``tests/data/themes`` were written for these tests, the way
reviewers write SJR judgements, and are never training data: ``dev.csv`` was used to choose the
model's settings, ``heldout.csv`` was written afterwards and is only measured. Neither is drawn
from the synthetic phrase bank (checked below).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.themes import codebook as cb
from sjrlib.themes import model as m
from sjrlib.themes.suggest import suggest, suggest_many

DATA = Path(__file__).parent / "data" / "themes"
SPEC_IDS = ("deterioration", "senior_review", "diagnosis", "sepsis", "medication", "prevention",
            "escalation_planning", "end_of_life", "communication_family", "communication_team",
            "patient_flow", "procedure", "good_practice")


def _statements(name: str) -> list[m.CodedStatement]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return [m.CodedStatement(r["text"], tuple(t for t in r["themes"].split(";") if t))
                for r in csv.DictReader(fh)]


def _measure(model: m.ThemeModel, statements: list[m.CodedStatement]) -> dict[str, tuple]:
    """Per theme (and ``micro``): true positives, false positives, false negatives."""
    found = suggest_many([s.text for s in statements], model=model)
    counts = {t: [0, 0, 0] for t in model.themes}
    for s, got in zip(statements, found):
        shown = {g.theme for g in got}
        for t in model.themes:
            if t in shown and t in s.themes:
                counts[t][0] += 1
            elif t in shown:
                counts[t][1] += 1
            elif t in s.themes:
                counts[t][2] += 1
    counts["micro"] = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {k: tuple(v) for k, v in counts.items()}


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@pytest.fixture(scope="module")
def model() -> m.ThemeModel:
    return m.train_model()


@pytest.fixture(autouse=True)
def _private_model_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SJR_THEMES_MODEL", str(tmp_path / "cache" / "themes-model.joblib"))


# --- the codebook ---------------------------------------------------------------------------

def test_shipped_codebook_is_the_spec():
    book = cb.shipped_codebook()
    assert book.version == "2026.1"
    assert book.ids == SPEC_IDS
    assert book.label("escalation_planning") == "Treatment escalation and resuscitation decisions"
    assert book.label("prevention") == "Preventing harm: falls, pressure ulcers, VTE"
    assert "NEWS2 rising without escalation" in book.theme("deterioration").examples
    assert all(t.definition and t.examples and not t.retired for t in book.themes)


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
def test_codebook_round_trips(tmp_path, suffix):
    book = cb.shipped_codebook()
    assert cb.load_codebook(cb.export_codebook(book, tmp_path / f"book{suffix}")) == book


def test_a_stored_codebook_is_read_once_and_its_text_is_the_key():
    """The store's codebook text, read on every code saved, is parsed once per text: the same
    frozen object again; another text under the same version is read afresh, and a broken
    text still fails, naming the version."""
    book = cb.shipped_codebook()
    body = cb.codebook_to_yaml(book)
    first = cb.stored_codebook(book.version, body)
    assert first == book and cb.stored_codebook(book.version, body) is first
    relabelled = body.replace(book.themes[0].label, "A label of another text", 1)
    other = cb.stored_codebook(book.version, relabelled)
    assert other.themes[0].label == "A label of another text"
    assert cb.stored_codebook(book.version, body) is first
    with pytest.raises(Exception, match=f"codebook {book.version}"):
        cb.stored_codebook(book.version, "themes: [unclosed")


def test_retired_theme_stays_readable_but_is_not_active(tmp_path):
    text = cb.codebook_to_csv(cb.shipped_codebook()).replace(",2026.1,", ",2027.1,")
    text = text.replace("2027.1,false\nprocedure", "2027.1,false\nprocedure", 1)
    rows = text.splitlines()
    rows = [r[: -len("false")] + "true" if r.startswith("procedure,") else r for r in rows]
    path = tmp_path / "book.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    book = cb.load_codebook(path)
    assert book.version == "2027.1"
    assert book.theme("procedure").retired
    assert "procedure" in book.ids and "procedure" not in {t.id for t in book.active}
    retrained = m.train_model(codebook=book)
    assert "procedure" not in retrained.themes
    assert all(s.theme != "procedure" for s in
               suggest("Perforation during colonoscopy; consent not documented",
                       model=retrained))


@pytest.mark.parametrize(("body", "message"), [
    ('version: 2026.2\nthemes: []\n', "must be quoted text"),
    ('version: "26.1"\nthemes: [{id: a, label: A, definition: d}]\n', "not of the form YYYY.N"),
    ('version: "2026.2"\nthemes: []\n', "non-empty list"),
    ('version: "2026.2"\nthemes: [{id: Bad-Id, label: A, definition: d}]\n', "lower-case"),
    ('version: "2026.2"\nthemes: [{id: a, label: A, definition: d}, '
     '{id: a, label: B, definition: d}]\n',
     "theme 2 (a), field id: id 'a' is also the id of theme 1"),
    ('version: "2026.2"\nthemes: [{id: a, label: A}]\n',
     "theme 1 (a), field definition: definition is missing"),
    ('version: "2026.2"\nthemes: [{id: a, label: A, definition: d, colour: red}]\n',
     "theme 1 (a): unknown field(s) colour"),
    ('version: "2026.2"\nthemes: [{id: a, label: A, definition: d, retired: yes please}]\n',
     "retired is 'yes please'"),
    ('version: "2026.2"\nthemes: [{id: a, label: A, definition: d, retired: true}]\n',
     "every theme is retired"),
])
def test_bad_yaml_codebook_is_named(tmp_path, body, message):
    path = tmp_path / "mine.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(cb.CodebookError, match="mine.yaml") as err:
        cb.load_codebook(path)
    assert message in str(err.value)


@pytest.mark.parametrize(("rows", "message"), [
    ("id,label,definition,examples,version\n", "missing column(s) retired"),
    ("id,label,definition,examples,version,retired,extra\n", "unknown column(s) extra"),
    ("id,label,definition,examples,version,retired\na,A,d,x,2026.2,false\n"
     "b,B,d,y,2026.3,false\n", "different versions"),
    ("id,label,definition,examples,version,retired\na,A,d,x,2026.2,maybe\n",
     "row 2 (a), column retired: retired is 'maybe'"),
    ("id,label,definition,examples,version,retired\na,A,,x,2026.2,false\n",
     "row 2 (a), column definition: definition is missing"),
])
def test_bad_csv_codebook_is_named(tmp_path, rows, message):
    path = tmp_path / "mine.csv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(cb.CodebookError, match="mine.csv") as err:
        cb.load_codebook(path)
    assert message in str(err.value)


def _a_bad_codebook_csv(path: Path) -> Path:
    """The shipped codebook as CSV, with five problems in it (as an edited copy may have)."""
    rows = list(csv.reader(cb.codebook_to_csv(cb.shipped_codebook()).splitlines()))
    for row in rows[1:]:
        row[4] = "2026.4"
    rows[3][0] = "sepsis"  # row 4: the id of row 5 too
    rows[6][1] = ""  # row 7: no label
    rows[8][5] = "maybe"  # row 9: retired neither true nor false
    rows[10][4] = "2026.9"  # row 11: another version
    rows[11][0] = "Patient Flow!"  # row 12: not an id
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


EVERY_PROBLEM = [
    "  book.csv, column version: rows carry different versions (2026.4 (rows 2-10, 12-14), "
    "2026.9 (row 11)); a file holds one version",
    "  book.csv, row 5 (sepsis), column id: id 'sepsis' is also the id of row 4; each theme "
    "has its own id",
    "  book.csv, row 7 (prevention), column label: label is missing or empty",
    "  book.csv, row 9 (end_of_life), column retired: retired is 'maybe'; write true or false",
    "  book.csv, row 12, column id: id 'Patient Flow!' must be lower-case letters, digits and _ "
    "(at most 40, starting with a letter)",
]


def test_every_problem_of_a_codebook_file_is_listed(tmp_path):
    """Before: only the first problem found ('row 9: retired is 'maybe'' here; with that one
    put right, only 'rows carry different versions'), so a file took a check per problem."""
    path = _a_bad_codebook_csv(tmp_path / "book.csv")
    with pytest.raises(cb.CodebookError) as err:
        cb.load_codebook(path)
    assert [f"  {p}" for p in err.value.problems] == EVERY_PROBLEM
    checked = _run("themes", "codebook", "check", str(path))
    assert checked.exit_code == 1
    assert checked.output.splitlines() == [
        "sjr themes: book.csv: 5 problems; the codebook is not valid", *EVERY_PROBLEM]
    # a blank row is skipped and counted: the rows after it keep their numbers
    text = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(text[:3] + [",,,,,"] + text[3:]) + "\n", encoding="utf-8")
    with pytest.raises(cb.CodebookError) as err:
        cb.load_codebook(path)
    assert "row 13, column id: id 'Patient Flow!'" in err.value.problems[-1]
    yaml_book = tmp_path / "book.yaml"
    yaml_book.write_text('version: 2026.2\nthemes: [{id: a, label: A, definition: d}, '
                         '{id: B, label: a, definition: d, retired: maybe}]\n',
                         encoding="utf-8")
    with pytest.raises(cb.CodebookError) as err:
        cb.load_codebook(yaml_book)
    assert list(err.value.problems) == [
        'book.yaml, field version: version 2026.2 must be quoted text, e.g. "2026.1"',
        "book.yaml, theme 2, field id: id 'B' must be lower-case letters, digits and _ (at "
        "most 40, starting with a letter)",
        "book.yaml, theme 2, field retired: retired is 'maybe'; write true or false",
        "book.yaml, theme 2, field label: label 'a' is also the label of theme 1; each theme "
        "has its own label"]


# --- the evaluation statements --------------------------------------------------------------

def test_evaluation_statements_are_independent():
    seed = {s.text.lower() for s in m.seed_statements()}
    source = Path(__file__).parent.parent / "sjrlib" / "synthetic" / "phrases.py"
    bank = [b.lower() for b in re.findall(r'"([^"\n]{15,})"', source.read_text("utf-8"))]
    assert len(bank) > 50  # the phrase bank was read
    for name in ("dev.csv", "heldout.csv"):
        statements = _statements(name)
        assert len(statements) >= 250
        for theme in SPEC_IDS:  # at least 20 statements per theme
            assert sum(theme in s.themes for s in statements) >= 20, (name, theme)
        assert all(set(s.themes) <= set(SPEC_IDS) for s in statements)
        for s in statements:
            assert s.text.lower() not in seed, s.text
            text = s.text.lower().rstrip(".")
            assert not any(text in b or b in text for b in bank), s.text
    dev = {s.text for s in _statements("dev.csv")}
    assert not dev & {s.text for s in _statements("heldout.csv")}


def test_suggestions_on_held_out_statements_meet_the_goal(model):
    """Precision >= 0.75 and recall >= 0.80, micro-averaged over the 13 themes (issue 13)."""
    counts = _measure(model, _statements("heldout.csv"))
    precision, recall = _pr(*counts["micro"])
    per_theme = {t: tuple(round(x, 2) for x in _pr(*counts[t])) for t in SPEC_IDS}
    assert precision >= 0.75 and recall >= 0.80, (precision, recall, per_theme)
    # Every theme is found for most of its statements: none is left to chance.
    assert all(r >= 0.6 and p >= 0.6 for p, r in per_theme.values()), per_theme


def test_suggestions_on_development_statements_meet_the_goal(model):
    precision, recall = _pr(*_measure(model, _statements("dev.csv"))["micro"])
    assert precision >= 0.75 and recall >= 0.80, (precision, recall)


# --- suggestions ----------------------------------------------------------------------------

def test_suggestions_are_ordered_scored_and_worth_showing(model):
    found = suggest("NEWS2 of 8 at midnight was not escalated and IV antibiotics for his sepsis "
                    "came six hours late; the family were not told", model=model)
    themes = [s.theme for s in found]
    assert {"deterioration", "sepsis", "communication_family"} <= set(themes)
    assert "end_of_life" not in themes
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    assert all(model.threshold <= s <= 1 for s in scores)
    assert suggest("Excellent, compassionate care from the whole team.", model=model)[0].theme \
        == "good_practice"


def test_nothing_worth_showing_gives_nothing(model):
    assert suggest("", model=model) == []
    assert suggest("   ", model=model) == []
    assert suggest("The admission lasted four days.", model=model) == []
    assert suggest("Obs not escalated", model=model, threshold=1.01) == []


def test_batch_is_the_single_form_in_order(model):
    texts = [s.text for s in _statements("heldout.csv")[:40]] + ["", None]
    many = suggest_many(texts, model=model, batch_size=7)
    assert len(many) == len(texts)
    assert many == [suggest(t or "", model=model) for t in texts]


def test_retraining_learns_from_accepted_codes(model):
    word = "Zorblax quimbering at the Flenwick"
    assert "procedure" not in {s.theme for s in suggest(word, model=model)}
    codes = [m.CodedStatement(f"{word} on day {i}", ("procedure",)) for i in range(8)]
    codes += [m.CodedStatement("Flenwick was busy", ())]
    retrained = m.train_model(codes)
    assert retrained.n_human == 9
    assert "procedure" in {s.theme for s in suggest(word, model=retrained)}


def test_model_file_is_private_and_only_trusted_when_ours(model, tmp_path):
    path = m.save_model(model, tmp_path / "models" / "m.joblib")
    assert (path.stat().st_mode & 0o777) == 0o600
    loaded = m.load_model(path)
    assert loaded is not None and loaded.themes == model.themes
    text = "Antibiotics delayed; lactate not repeated"
    assert suggest(text, model=loaded) == suggest(text, model=model)
    os.chmod(path, 0o666)  # anyone could have replaced it: never unpickled
    assert m.load_model(path) is None
    path.write_bytes(b"not a model")
    os.chmod(path, 0o600)
    assert m.load_model(path) is None
    assert m.load_model(tmp_path / "missing.joblib") is None


# --- the command line -----------------------------------------------------------------------

runner = CliRunner()


def _run(*args: str, **kw):
    result = runner.invoke(app, list(args), **kw)
    assert "Traceback" not in result.output
    return result


def test_cli_codebook_list_export_check(tmp_path):
    listed = _run("themes", "codebook", "list", "--shipped")
    assert listed.exit_code == 0
    assert listed.output.startswith("Codebook 2026.1 (shipped with sjr): 13 active theme(s)")
    assert "escalation_planning    Treatment escalation and resuscitation decisions" \
        in listed.output
    out = tmp_path / "book.yaml"
    assert _run("themes", "codebook", "export", str(out), "--shipped").exit_code == 0
    assert cb.load_codebook(out) == cb.shipped_codebook()
    again = _run("themes", "codebook", "list", "--file", str(out), "--active")
    assert again.output.splitlines()[0] == ("Codebook 2026.1 (from the file book.yaml): 13 "
                                            "active theme(s), 0 retired")
    checked = _run("themes", "codebook", "check", str(out))
    assert checked.exit_code == 0 and "2026.1 is valid (13 active, 0 retired)" in checked.output
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "2026.2"\nthemes: [{id: a}]\n', encoding="utf-8")
    refused = _run("themes", "codebook", "check", str(bad))
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "sjr themes: bad.yaml: 2 problems; the codebook is not valid",
        "  bad.yaml, theme 1 (a), field label: label is missing or empty",
        "  bad.yaml, theme 1 (a), field definition: definition is missing or empty"]
    assert _run("themes", "codebook", "export", str(tmp_path / "book.txt")).exit_code == 1
    assert _run("themes", "codebook", "export", str(tmp_path / "no" / "b.csv")).exit_code == 1


def test_cli_train_and_suggest(tmp_path, monkeypatch):
    # no store where sjr looks (no --db, no SJR_DATABASE_URL, no data/sjr.db): suggestions
    # still come, under the shipped codebook (test_cli_suggest_follows_the_stores_codebook)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    codes = tmp_path / "codes.csv"
    codes.write_text("text,themes\nOutlier on ward 9 overnight,patient_flow\n"
                     "Fluid chart blank,medication;communication_team\n", encoding="utf-8")
    trained = _run("themes", "train", "--codes", str(codes))
    assert trained.exit_code == 0, trained.output
    assert "2 coded statement(s) for 13 themes of codebook 2026.1" in trained.output
    kept = Path(os.environ["SJR_THEMES_MODEL"])
    assert (kept.stat().st_mode & 0o777) == 0o600
    shown = _run("themes", "suggest", "Consultant review not until day 3", "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.output)[0][0]["theme"] == "senior_review"
    lines = _run("themes", "suggest", input="Falls risk assessment not done\nNo comments\n")
    assert lines.exit_code == 0
    assert lines.output.splitlines()[:2] == ["[1]", lines.output.splitlines()[1]]
    assert "prevention" in lines.output and "No theme suggested." in lines.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text,themes\nSomething,not_a_theme\n", encoding="utf-8")
    refused = _run("themes", "train", "--codes", str(bad))
    assert refused.exit_code == 1
    assert "bad.csv: theme(s) not in codebook 2026.1: not_a_theme" in refused.output
    assert _run("themes", "train", "--codes", str(tmp_path / "none.csv")).exit_code == 1


# --- theme codes in the store, through the governed session ----------------------------------

from access_setup import governed_fresh  # noqa: E402,F401  (fixture: SQLite and PostgreSQL)
from sqlalchemy import text  # noqa: E402

from data_access import AccessDenied, open_session, store  # noqa: E402


def _review_of(owner_url: str, org: str, status: str = "submitted",
               reviewer: str | None = None) -> str:
    engine = store.get_engine(owner_url)
    try:
        with engine.connect() as conn:
            sql = ("SELECT min(review_id) FROM reviews WHERE organisation_code = :o "
                   "AND status = :s" + (" AND reviewer_id = :r" if reviewer else ""))
            return conn.execute(text(sql), {"o": org, "s": status, "r": reviewer}).scalar_one()
    finally:
        engine.dispose()


def test_codes_are_stored_scoped_and_audited(governed_fresh):  # noqa: F811
    gov = governed_fresh
    own = _review_of(gov.owner_url, gov.org_a)
    other = _review_of(gov.owner_url, gov.org_b)
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        assert lead.codebook().version == "2026.1"
        first = lead.code_review(own, "sepsis", phase="admission", from_suggestion=True)
        lead.code_review(own, "good_practice")
        with pytest.raises(ValueError, match="already coded"):
            lead.code_review(own, "sepsis", phase="admission")
        with pytest.raises(ValueError, match="not a theme of codebook 2026.1"):
            lead.code_review(own, "weather")
        with pytest.raises(ValueError, match="phase 'lunch'"):
            lead.code_review(own, "sepsis", phase="lunch")
        with pytest.raises(AccessDenied):  # another organisation's review
            lead.code_review(other, "sepsis")
        codes = lead.theme_codes()
    assert list(codes["theme"]) == ["sepsis", "good_practice"]
    row = codes.iloc[0]
    assert (row["id"], row["review_id"], row["phase"], row["codebook_version"], row["coded_by"],
            bool(row["from_suggestion"])) == (first, own, "admission", "2026.1", "lead_a", True)
    assert not bool(codes.iloc[1]["from_suggestion"]) and codes.iloc[1]["phase"] is pd.NA
    with open_session("national", gov.app_url, tool="test") as national:
        assert len(national.theme_codes()) == 2
        assert len(national.theme_codes(own)) == 2
        with pytest.raises(AccessDenied):  # the programme team reads, never codes
            national.code_review(own, "diagnosis")
    with open_session("res2", gov.app_url, tool="test") as researcher:
        with pytest.raises(AccessDenied):
            researcher.theme_codes()
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            actions = [r[0] for r in conn.execute(text(
                "SELECT action FROM audit_log WHERE username = 'lead_a' ORDER BY id"))]
    finally:
        engine.dispose()
    assert actions.count("code_review") == 2 and "theme_codes" in actions


def test_reviewers_code_their_own_reviews_only(governed_fresh):  # noqa: F811
    gov = governed_fresh
    mine = _review_of(gov.owner_url, gov.org_a, reviewer=gov.reviewer_id)
    theirs = _review_of(gov.owner_url, gov.org_a, reviewer=gov.other_reviewer_id)
    with open_session("reviewer_a", gov.app_url, tool="test") as reviewer:
        reviewer.code_review(mine, "communication_team", phase="ongoing")
        with pytest.raises(AccessDenied):
            reviewer.code_review(theirs, "communication_team")
        assert list(reviewer.theme_codes()["review_id"]) == [mine]


def test_codebook_versions_keep_old_themes(governed_fresh):  # noqa: F811
    import dataclasses

    gov = governed_fresh
    shipped = cb.shipped_codebook()
    procedure = shipped.theme("procedure")
    retired = dataclasses.replace(
        shipped, version="2027.1",
        themes=tuple(dataclasses.replace(t, retired=True) if t is procedure else t
                     for t in shipped.themes))
    dropped = dataclasses.replace(shipped, version="2027.2",
                                  themes=tuple(t for t in shipped.themes if t is not procedure))
    own = _review_of(gov.owner_url, gov.org_a)
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.code_review(own, "procedure")
        with pytest.raises(AccessDenied):
            lead.import_codebook(retired)
    with open_session("national", gov.app_url, tool="test") as national:
        assert national.import_codebook(retired) == "2027.1"
        with pytest.raises(ValueError, match="already stored"):
            national.import_codebook(retired)
        with pytest.raises(ValueError, match="drops theme.*procedure"):
            national.import_codebook(dropped)
        assert national.codebook().theme("procedure").retired
        assert not national.codebook("2026.1").theme("procedure").retired
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        with pytest.raises(ValueError, match="'procedure' is retired in codebook 2027.1"):
            lead.code_review(own, "procedure", phase="admission")
        codes = lead.theme_codes(own)  # coded under 2026.1, still readable
    assert list(zip(codes["theme"], codes["codebook_version"])) == [("procedure", "2026.1")]


def test_retraining_from_the_store_uses_the_coded_text(governed_fresh):  # noqa: F811
    gov = governed_fresh
    own = _review_of(gov.owner_url, gov.org_a)
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE phase_assessments SET comment = :c WHERE review_id = :r "
                              "AND phase = 'admission'"),
                         {"c": "Zorblax quimbering at the Flenwick", "r": own})
            phases = [r[0] for r in conn.execute(text(
                "SELECT phase FROM phase_assessments WHERE review_id = :r AND comment IS NOT "
                "NULL"), {"r": own})]
    finally:
        engine.dispose()
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.code_review(own, "procedure", phase="admission", from_suggestion=True)
        lead.code_review(own, "patient_flow", phase="admission")
        lead.code_review(own, "good_practice")
        codes = lead.theme_codes(with_text=True)
    assert list(codes.loc[codes["phase"] == "admission", "text"]) == \
        ["Zorblax quimbering at the Flenwick"] * 2
    whole = codes.loc[codes["phase"].isna(), "text"].iloc[0]
    assert "Zorblax quimbering at the Flenwick" in whole and len(phases) >= 1
    statements = m.statements_from_codes(codes)
    assert m.CodedStatement("Zorblax quimbering at the Flenwick",
                            ("patient_flow", "procedure")) in statements
    assert len(statements) == 2
    with open_session("national", gov.app_url, tool="test") as national:
        assert len(national.theme_codes()) == 3
        with pytest.raises(AccessDenied, match="judgement text"):
            national.theme_codes(with_text=True)


def test_cli_train_from_the_store_uses_its_codebook(governed_fresh, tmp_path):  # noqa: F811
    import dataclasses

    gov = governed_fresh
    if gov.engine_name != "sqlite":
        pytest.skip("the command line runs migrations first: the owner's path, tested on SQLite")
    shipped = cb.shipped_codebook()
    retired = dataclasses.replace(shipped, version="2027.1", themes=tuple(
        dataclasses.replace(t, retired=t.id == "procedure") for t in shipped.themes))
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(retired)
    out = tmp_path / "model.joblib"
    result = _run("themes", "train", "--store", "--db", gov.app_url, "--out", str(out),
                  env={"SJR_USER": "lead_a", "JUPYTERHUB_USER": None})
    assert result.exit_code == 0, result.output
    assert "for 12 themes of codebook 2027.1" in result.output
    assert "procedure" not in m.load_model(out).themes
    refused = _run("themes", "train", "--store", "--db", gov.app_url, "--out", str(out),
                   env={"SJR_USER": "national", "JUPYTERHUB_USER": None})
    assert refused.exit_code == 1
    assert refused.output.startswith("sjr themes: refused: a programme_team may not read the "
                                     "judgement text")


def _codebook_2026_2() -> cb.Codebook:
    """The programme team's next version: patient_flow retired, senior_review relabelled,
    nutrition added."""
    import dataclasses

    themes = [dataclasses.replace(t, retired=t.id == "patient_flow",
                                  label="Timely senior review" if t.id == "senior_review"
                                  else t.label) for t in cb.shipped_codebook().themes]
    themes.append(cb.Theme("nutrition", "Nutrition and hydration",
                           "Whether the patient ate and drank enough.", ("no MUST score",)))
    return cb.Codebook("2026.2", tuple(themes))


def _last_entry(url: str) -> tuple[str, str, dict]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT username, action, scope FROM audit_log "
                                    "ORDER BY id DESC LIMIT 1")).one()
    finally:
        engine.dispose()
    return row[0], row[1], json.loads(row[2])


def test_cli_codebook_list_and_export_read_the_store(governed_fresh, tmp_path,  # noqa: F811
                                                     monkeypatch):
    """Before: after the programme team imported 2026.2, `list` still printed 'Codebook
    2026.1' with the old labels and `export` could only write the shipped codebook (neither
    had --db), so the stored codebook could not be read back to edit into the next one."""
    from sqlalchemy.engine import make_url

    gov = governed_fresh
    env = {"SJR_USER": "national", "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None}
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_codebook_2026_2())
    url = gov.app_url
    where = make_url(url).render_as_string(hide_password=True)
    listed = _run("themes", "codebook", "list", "--db", url, env=env)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == (f"Codebook 2026.2 (the latest stored in {where}): 13 active theme(s), "
                        "1 retired")
    assert "senior_review          Timely senior review" in lines
    assert "patient_flow           Patient flow and the organisation of care  (retired)" in lines
    assert lines[-1] == "nutrition              Nutrition and hydration"
    assert _last_entry(gov.owner_url)[:2] == ("national", "codebook")  # an audited read
    assert _last_entry(gov.owner_url)[2]["version"] == "2026.2"
    out = tmp_path / "next.csv"
    exported = _run("themes", "codebook", "export", str(out), "--db", url,
                    env={**env, "SJR_USER": "lead_a"})  # every role may read the codebook
    assert exported.output == (f"Wrote codebook 2026.2 (the latest stored in {where}; 14 "
                               f"themes) to {out}\n")
    assert cb.load_codebook(out) == _codebook_2026_2()
    older = _run("themes", "codebook", "list", "--version", "2026.1", "--db", url, env=env)
    assert older.output.splitlines()[0] == (f"Codebook 2026.1 (stored in {where}): 13 active "
                                            "theme(s), 0 retired")
    shipped = _run("themes", "codebook", "list", "--shipped", "--db", url, env=env)
    assert shipped.output.splitlines()[0] == ("Codebook 2026.1 (shipped with sjr): 13 active "
                                              "theme(s), 0 retired")
    stranger = _run("themes", "codebook", "list", "--db", url,
                    env={**env, "SJR_USER": "someone-else"})
    assert stranger.exit_code == 1 and stranger.output.startswith("sjr themes: refused")
    assert _last_entry(gov.owner_url)[:2] == ("someone-else", "session.denied")
    # a bad file: every problem, nothing stored
    bad = _run("themes", "codebook", "import", str(_a_bad_codebook_csv(tmp_path / "book.csv")),
               "--db", url, env=env)
    assert bad.exit_code == 1
    assert bad.output.splitlines() == ["sjr themes: book.csv: 5 problems; nothing was stored",
                                       *EVERY_PROBLEM]
    with open_session("national", url, tool="test") as national:
        assert national.codebook().version == "2026.2"
    # no store where it is looked for: refused, nothing created, the way to the shipped one
    monkeypatch.chdir(tmp_path)
    missing = _run("themes", "codebook", "list", env=env)
    assert missing.exit_code == 1
    assert missing.output.startswith(f"sjr themes: no store at {tmp_path / 'data' / 'sjr.db'}")
    assert "--shipped" in missing.output and not (tmp_path / "data").exists()


def test_a_model_trained_for_a_newer_codebook_stays_in_use(tmp_path):
    import dataclasses

    from sjrlib.themes.suggest import current_model, use_model

    shipped = cb.shipped_codebook()
    newer = dataclasses.replace(shipped, version="2027.1", themes=tuple(
        dataclasses.replace(t, retired=t.id == "procedure") for t in shipped.themes))
    m.save_model(m.train_model(codebook=newer))  # to $SJR_THEMES_MODEL (a tmp file here)
    use_model(None)
    try:
        assert current_model().codebook_version == "2027.1"
        assert all(s.theme != "procedure" for s in suggest("Perforation during the OGD"))
    finally:
        use_model(None)


def test_cli_suggest_follows_the_stores_codebook(governed_fresh, monkeypatch):  # noqa: F811
    """Before: sjr themes suggest read no store: it labelled suggestions with the codebook
    shipped with sjr (2026.1) and suggested every theme the model knew. On a store at 2026.2
    a statement about ward moves was suggested patient_flow, which the store has retired (and
    code_review refuses), and senior_review showed its old label. Now the store's latest
    codebook is read through the session of whoever runs it (audited): only its active
    themes are suggested, under its labels; --shipped gives the shipped codebook's."""
    from sjrlib.themes.suggest import use_model

    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_codebook_2026_2())
    env = {"SJR_USER": "reviewer_a", "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None}
    flow = "Outlier on ward 9 overnight, moved wards twice at night"
    senior = "Consultant review not until day 3"
    use_model(m.train_model())  # trained on the shipped codebook: it knows patient_flow
    try:
        shipped = _run("themes", "suggest", flow, "--shipped", "--db", gov.app_url, env=env)
        assert shipped.exit_code == 0, shipped.output
        assert "patient_flow" in shipped.output  # the shipped codebook still offers it
        stored = _run("themes", "suggest", "--db", gov.app_url, env=env,
                      input=f"{flow}\n{senior}\n")
        assert stored.exit_code == 0, stored.output
        assert _last_entry(gov.owner_url)[:2] == ("reviewer_a", "codebook")  # audited
        lines = stored.output.splitlines()
        assert lines[:2] == ["[1]", "No theme suggested."]  # patient_flow retired: dropped
        assert lines[2] == "[2]"
        assert lines[3].endswith("senior_review          Timely senior review")
        # nutrition is active in 2026.2 but unknown to a model trained on 2026.1: said, once
        assert lines[4:] == ["Not suggested: nutrition (codebook 2026.2), which the model was "
                             "not trained for; `sjr themes train --store` trains it on the "
                             "store's codebook and the codes people gave."]
        shown = _run("themes", "suggest", flow, "--json", "--db", gov.app_url, env=env)
        assert json.loads(shown.output) == [[]]
        stranger = _run("themes", "suggest", senior, "--db", gov.app_url,
                        env={**env, "SJR_USER": "someone-else"})
        assert stranger.exit_code == 1 and stranger.output.startswith("sjr themes: refused")
    finally:
        use_model(None)
