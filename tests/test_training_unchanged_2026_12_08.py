"""Importing the training file one just exported says "unchanged", and rewrites nothing.

The first-run walkthrough (session 23) exported the trainer directory and imported the same file
again: "Trainers: 0 new, 4 updated", and each trainer's ``updated_by``/``updated_at`` moved to
the importer and now, as if the file had changed them. A reviews import says "unchanged" then.
"""

from __future__ import annotations

from pathlib import Path

from access_setup import governed_fresh  # noqa: F401  (fixture: SQLite and PostgreSQL)
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from sjrlib.cli import app

TRAINERS = "trainer_id,name,contact,organisation,region,trained_on,active"
RECORDS = "record_id,organisation_code,reviewer_id,trainer_id,trained_on,session,refresher_dates"


def _run(gov, tmp_path: Path, *args: str, user: str):
    result = CliRunner().invoke(app, [*args, "--db", gov.app_url],
                                env={"SJR_USER": user, "JUPYTERHUB_USER": None,
                                     "SJR_CONFIG": str(tmp_path / "none")})
    assert result.exit_code == 0, result.output
    return result.output


def _stamps(gov, table: str, key: str) -> dict[str, tuple]:
    engine = create_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            by, at = (("updated_by", "updated_at") if table == "trainers"
                      else ("recorded_by", "recorded_at"))
            return {r[0]: (r[1], str(r[2])) for r in conn.execute(
                text(f"SELECT {key}, {by}, {at} FROM {table}"))}
    finally:
        engine.dispose()


def test_a_trainer_file_imported_again_is_unchanged(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh
    path = tmp_path / "trainers.csv"
    path.write_text("\n".join([
        TRAINERS,
        "T1,Ann Example (fictional),ann@x.example,Alderdale NHS Trust,London,2020-01-01,yes",
        "T2,Bo Example (fictional),,Barrowby NHS Trust,North West,,no",
    ]) + "\n", encoding="utf-8")
    first = _run(gov, tmp_path, "training", "trainers", "import", str(path), user="national")
    assert first.strip() == "Trainers: 2 new, 0 updated, 0 unchanged"
    before = _stamps(gov, "trainers", "trainer_id")
    # the same file, and the file the export writes (what a person edits and imports again)
    again = _run(gov, tmp_path, "training", "trainers", "import", str(path), user="national")
    assert again.strip() == "Trainers: 0 new, 0 updated, 2 unchanged"
    out = tmp_path / "exported.csv"
    _run(gov, tmp_path, "training", "trainers", "export", str(out), user="national")
    exported = _run(gov, tmp_path, "training", "trainers", "import", str(out), user="national")
    assert exported.strip() == "Trainers: 0 new, 0 updated, 2 unchanged"
    assert _stamps(gov, "trainers", "trainer_id") == before
    # one field changed: that trainer only
    path.write_text(path.read_text(encoding="utf-8").replace(",no\n", ",yes\n"),
                    encoding="utf-8")
    changed = _run(gov, tmp_path, "training", "trainers", "import", str(path), user="national")
    assert changed.strip() == "Trainers: 0 new, 1 updated, 1 unchanged"
    after = _stamps(gov, "trainers", "trainer_id")
    assert after["T1"] == before["T1"] and after["T2"] != before["T2"]


def test_a_records_file_imported_again_is_unchanged(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh
    org = gov.org_a
    path = tmp_path / "records.csv"
    path.write_text("\n".join([
        RECORDS,
        f"TR-1,{org},{gov.reviewer_id},,2022-01-05,Spring session,2023-01-10;2024-01-09",
        f"TR-2,{org},{gov.reviewer_id},,2021-06-01,Induction,",
    ]) + "\n", encoding="utf-8")
    first = _run(gov, tmp_path, "training", "records", "import", str(path), user="lead_a")
    assert first.strip() == "Training records: 2 new, 0 updated, 0 unchanged"
    before = _stamps(gov, "training_records", "record_id")
    again = _run(gov, tmp_path, "training", "records", "import", str(path), user="lead_a")
    assert again.strip() == "Training records: 0 new, 0 updated, 2 unchanged"
    assert _stamps(gov, "training_records", "record_id") == before
    path.write_text(path.read_text(encoding="utf-8").replace("2024-01-09", "2024-02-09"),
                    encoding="utf-8")
    changed = _run(gov, tmp_path, "training", "records", "import", str(path), user="lead_a")
    assert changed.strip() == "Training records: 0 new, 1 updated, 1 unchanged"
