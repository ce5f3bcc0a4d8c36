"""``sjr init-db / import / export / summary / demo-data`` against real databases."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from data_access import audit, store
from data_access.identity import count_administrators
from data_access.models import Base
from data_access.session import bootstrap_administrator
from sjrlib import io
from sjrlib.cli import app

STORE_TABLES = ("organisations", "reviewers", "reviews", "phase_assessments", "problems",
                "review_reasons", "referrals", "deaths")


ADMIN = "test-admin"


def _ensure_admin(url: str) -> None:
    """The store's administrator, registered once (the operator's bootstrap)."""
    store.init_db(url)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            missing = count_administrators(conn) == 0
    finally:
        engine.dispose()
    if missing:
        bootstrap_administrator(ADMIN, url)


def sjr(*args: str):
    """Run an ``sjr`` command as the store's administrator (``demo-data``: as nobody)."""
    args = tuple(str(a) for a in args)
    if args[0] != "demo-data" and "--db" in args:
        _ensure_admin(args[args.index("--db") + 1])
    return CliRunner().invoke(app, list(args), env={"SJR_USER": ADMIN})


def dump(url: str) -> dict[str, list[tuple]]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return {name: [tuple(r) for r in conn.execute(
                select(table).order_by(*table.primary_key.columns))]
                for name, table in ((n, Base.metadata.tables[n]) for n in STORE_TABLES)}
    finally:
        engine.dispose()


def load(url: str) -> dict[str, pd.DataFrame]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return {"reviews": store.load_reviews(conn), "deaths": store.load_deaths(conn),
                    "organisations": store.load_organisations(conn)}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def files(small_data, tmp_path_factory):
    """Exchange-format CSVs: all organisations and deaths, the reviews of one organisation."""
    folder = tmp_path_factory.mktemp("exchange")
    codes = small_data.organisations["organisation_code"].iloc[:1]
    reviews = small_data.reviews[small_data.reviews["organisation_code"].isin(codes)]
    out = {"organisations": folder / "organisations.csv", "deaths": folder / "deaths.csv",
           "reviews": folder / "reviews.csv"}
    io.write_organisations(small_data.organisations, out["organisations"])
    io.write_deaths(small_data.deaths, out["deaths"])
    io.write_reviews(reviews, out["reviews"])
    return out


def _import_all(files, url, *extra):
    for kind in ("organisations", "deaths", "reviews"):
        result = sjr("import", kind, files[kind], "--db", url, *extra)
        assert result.exit_code == 0, result.output
        yield result.output


def test_init_db_is_repeatable_and_summary_reads_an_empty_store(db_url):
    for _ in range(2):
        result = sjr("init-db", "--db", db_url)
        assert result.exit_code == 0, result.output
    result = sjr("summary", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "Reviews by stage and status" in result.output


def test_import_stores_whole_files_and_identical_reimport_is_a_no_op(db_url, files):
    outputs = list(_import_all(files, db_url))
    n_reviews = len(pd.read_csv(files["reviews"]))
    assert f"{n_reviews} inserted, 0 updated, 0 unchanged" in outputs[2]
    before = dump(db_url)
    outputs = list(_import_all(files, db_url))
    assert f"0 inserted, 0 updated, {n_reviews} unchanged" in outputs[2]
    assert dump(db_url) == before
    summary = sjr("summary", "--db", db_url)
    assert summary.exit_code == 0 and f"{n_reviews:,}" in summary.output


def _edited(path, tmp_path, name, edit) -> str:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    out = tmp_path / name
    frame.to_csv(out, index=False)
    return out


def test_a_file_with_bad_rows_is_listed_in_full_and_changes_nothing(db_url, files, tmp_path):
    list(_import_all(files, db_url))
    before = dump(db_url)

    def spoil(frame):
        frame.loc[1, "score_overall"] = "9"  # spreadsheet row 3
        frame.loc[5, "age_at_death"] = "12"  # row 7
        frame.loc[6:9, "review_id"] = [f"NEW-{i}" for i in range(4)]  # would be inserted
    bad = _edited(files["reviews"], tmp_path, "bad_reviews.csv", spoil)
    result = sjr("import", "reviews", bad, "--db", db_url)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any("bad_reviews.csv, row 3, column score_overall" in line for line in lines)
    assert any("bad_reviews.csv, row 7, column age_at_death" in line for line in lines)
    assert "store is unchanged" in result.output
    assert dump(db_url) == before

    def negative(frame):
        frame.loc[0, "deaths_in_scope"] = "-3"
    bad_deaths = _edited(files["deaths"], tmp_path, "bad_deaths.csv", negative)
    result = sjr("import", "deaths", bad_deaths, "--db", db_url)
    assert result.exit_code == 1
    assert "bad_deaths.csv, row 2, column deaths_in_scope" in result.output
    assert dump(db_url) == before

    # each refused file is in the audit log, with its problems counted and no value of it
    # (the import's own transaction was rolled back: an administrator saw no failed attempt)
    engine = store.get_engine(db_url)
    try:
        with engine.connect() as conn:
            entries = audit.entries(conn)
    finally:
        engine.dispose()
    rejected = entries[entries["action"].str.endswith(".rejected")]
    assert rejected["action"].tolist() == ["import.reviews.rejected", "import.deaths.rejected"]
    scopes = [json.loads(v) if isinstance(v, str) else v for v in rejected["scope"]]
    assert scopes[0]["file"] == "bad_reviews.csv" and scopes[0]["problems"] >= 2
    assert scopes[0]["rows"] >= 2 and "age_adult" in scopes[0]["rules"]
    assert scopes[1]["file"] == "bad_deaths.csv" and scopes[1]["problems"] == 1
    assert "-3" not in json.dumps(scopes[1]) and "9" not in json.dumps(scopes[0]["rules"])
    assert set(rejected["username"]) == {ADMIN}


def test_unreadable_file_is_one_clear_line(db_url, tmp_path):
    sjr("init-db", "--db", db_url)
    before = dump(db_url)
    wrong = tmp_path / "reviews.txt"
    wrong.write_text("not a spreadsheet")
    result = sjr("import", "reviews", wrong, "--db", db_url)
    assert result.exit_code == 1
    assert "reviews.txt" in result.output
    assert dump(db_url) == before


def test_changed_reimport_needs_update_which_bumps_the_version(db_url, files, tmp_path):
    list(_import_all(files, db_url))
    before = dump(db_url)
    frame = pd.read_csv(files["reviews"], dtype=str, keep_default_na=False)
    row = frame.index[frame["status"] != "locked"][0]
    review_id = frame.at[row, "review_id"]

    def rewrite(f):
        f.loc[row, "comment_overall"] = "Care was adequate after a second look."
    changed = _edited(files["reviews"], tmp_path, "changed.csv", rewrite)
    result = sjr("import", "reviews", changed, "--db", db_url)
    assert result.exit_code == 1
    assert review_id in result.output and "--update" in result.output
    assert dump(db_url) == before

    result = sjr("import", "reviews", changed, "--db", db_url, "--update")
    assert result.exit_code == 0, result.output
    assert f"0 inserted, 1 updated, {len(frame) - 1} unchanged" in result.output
    stored = load(db_url)["reviews"].set_index("review_id")
    assert stored.at[review_id, "version"] == 2
    assert stored.at[review_id, "comment_overall"] == "Care was adequate after a second look."


def test_a_conflict_names_each_row_and_the_columns_that_differ(db_url, files, tmp_path):
    """A row that clashes with a stored one (same key, other content, no --update) was named
    by its key alone: no row, no column (acceptance audit of 2026-12-06, finding 2). Now one
    line each: the file, its row as a spreadsheet counts it, the key and the columns that
    differ; the store is unchanged. Deaths through a column mapping find the row by the
    file's own header and codes."""
    list(_import_all(files, db_url))
    before = dump(db_url)
    frame = pd.read_csv(files["reviews"], dtype=str, keep_default_na=False)
    rows = frame.index[frame["status"] != "locked"][:2]
    ids = frame.loc[rows, "review_id"].tolist()

    def rewrite(f):
        f.loc[rows[0], "sex"] = "unknown" if f.at[rows[0], "sex"] != "unknown" else "male"
        f.loc[rows[0], "comment_overall"] = "Read again: care was adequate."
        # a week longer: the days of admission and death still agree with it
        f.loc[rows[1], "days_to_death"] = str(int(f.at[rows[1], "days_to_death"] or 0) + 7)
    changed = _edited(files["reviews"], tmp_path, "two_changed.csv", rewrite)
    result = sjr("import", "reviews", changed, "--db", db_url)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{changed}, row {rows[0] + 2}: {ids[0]}: differs from the stored one in sex, " \
        "comment_overall" in lines, lines
    assert f"{changed}, row {rows[1] + 2}: {ids[1]}: differs from the stored one in " \
        "days_to_death" in lines, lines
    assert lines[-1] == (f"{changed}: 2 review(s) already stored with different content "
                         "(listed above). Nothing was imported. Use --update to replace them "
                         "(their version goes up by one).")
    assert dump(db_url) == before

    deaths = pd.read_csv(files["deaths"], dtype=str, keep_default_na=False)
    code, month = deaths.at[3, "organisation_code"], deaths.at[3, "month"]
    mapped = tmp_path / "their_deaths.csv"
    mapped.write_text(
        "Trust,Month,In scope,LD\n"
        + "".join(f"{'T-' + r.organisation_code},{r.month},{r.deaths_in_scope},"
                  f"{r.learning_disability_deaths}\n" for r in deaths.iloc[:3].itertuples())
        + f"T-{code},{month},{int(deaths.at[3, 'deaths_in_scope']) + 7},"
          f"{deaths.at[3, 'learning_disability_deaths']}\n")
    codes = sorted({f"T-{c}: {c}" for c in deaths["organisation_code"].iloc[:4]})
    mapping = tmp_path / "their_deaths.yaml"
    mapping.write_text("columns:\n  Trust: organisation_code\n  Month: month\n"
                       "  In scope: deaths_in_scope\n  LD: learning_disability_deaths\n"
                       "values:\n  organisation_code:\n"
                       + "".join(f"    {c}\n" for c in codes))
    result = sjr("import", "deaths", mapped, "--db", db_url, "--mapping", mapping)
    assert result.exit_code == 1, result.output
    assert f"{mapped}, row 5: {code} {month}: differs from the stored one in deaths_in_scope" \
        in result.output.splitlines(), result.output
    assert dump(db_url) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_is_lossless(db_url, files, tmp_path, suffix):
    list(_import_all(files, db_url))
    exported = {}
    for kind in ("organisations", "deaths", "reviews"):
        exported[kind] = tmp_path / f"{kind}{suffix}"
        result = sjr("export", kind, exported[kind], "--db", db_url)
        assert result.exit_code == 0, result.output
    copy_url = f"sqlite:///{tmp_path / 'copy.db'}"
    list(_import_all(exported, copy_url))
    original, copy = load(db_url), load(copy_url)
    assert len(original["reviews"]) == len(pd.read_csv(files["reviews"]))
    for kind in original:
        pd.testing.assert_frame_equal(copy[kind], original[kind])


def test_demo_data_leaves_a_store_with_reviews_alone(populated_db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = dump(populated_db_url)
    result = sjr("demo-data", "--db", populated_db_url)
    # a store not marked synthetic: refused, and a script (make demo) stops there
    assert result.exit_code == 1, result.output
    assert "is not a synthetic store and is not empty" in result.output
    assert "nothing done" in result.output
    assert dump(populated_db_url) == before
    assert not (tmp_path / "data" / "synthetic").exists()


def test_demo_data_fills_an_empty_store_through_the_import_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = sjr("demo-data", "--db", url, "--seed", "7", "--organisations", "3", "--years", "1")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "data" / "synthetic"
    stored = load(url)
    written = io.read_organisations(folder / "organisations.csv")
    pd.testing.assert_frame_equal(stored["organisations"],
                                  written.sort_values("organisation_code", ignore_index=True))
    reviews_file = pd.read_csv(folder / "reviews.csv", usecols=["review_id"])
    assert len(stored["reviews"]) == len(reviews_file) > 0
    assert "inserted" in result.output
