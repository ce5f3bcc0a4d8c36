"""``sjr extract --out FOLDER/FILE`` into a folder that does not exist says how to put it right.

Before: "sub/x.parquet: folder sub does not exist" (the researcher's step of the README,
run from another folder), where ``sjr backup`` says of the same slip "no such folder backups;
create it first (mkdir -m 700 backups); nothing was written".
"""

from __future__ import annotations

from typer.testing import CliRunner

from sjrlib.cli import app


def test_a_missing_folder_is_named_with_what_to_do(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    made = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "2",
                                    "--years", "1", "--seed", "5"],
                              env={"SJR_USER": None, "SJR_DATABASE_URL": None})
    assert made.exit_code == 0, made.output
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["extract", "--approval", "DEMO-RESEARCH", "--out",
                                      "sub/x.parquet", "--db", url],
                                env={"SJR_USER": "demo-researcher", "SJR_DATABASE_URL": None})
    assert result.exit_code != 0
    assert ("sub/x.parquet: no such folder sub; create it first (mkdir -m 700 sub); nothing "
            "was written") in result.output, result.output
    assert not (tmp_path / "sub").exists()
