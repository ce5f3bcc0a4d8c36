"""Every ``sjr`` command that touches data goes through the one door.

The commands are found by introspecting the ``sjr`` app, so a command added without a row in
``DOOR`` (or a reason in ``NO_DATA``) fails :func:`test_every_command_is_listed`. For each row,
every refused identity (a role that may not use the command, a name nobody registered, the old
report batch user, no identity at all) gets a one-line refusal, exit 1, no traceback, and an
audit entry ``<action>.denied`` (or ``session.denied`` when the name is not a user); the allowed
user gets exit 0 and an entry ``<action>`` under their name and role.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from _fast_fixtures_h77 import one_click_command  # noqa: F401  (fixture)
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import audit, store
from sjrlib import domain, io
from sjrlib.cli import app

# Some 260 invokes of `sjr` below: typer builds its click command once, not on each
# (tests/_fast_fixtures_h77.py)
pytestmark = pytest.mark.usefixtures("one_click_command")

NO_DATA = {
    "check-text": "screens text given on the command line; no store",
    "generate": "writes synthetic files; no store",
    "init-db": "creates or upgrades the schema; reads and writes no data",
    "serve": "every dashboard page opens the governed session itself (test_dashboard_*)",
    "demo-data": "the operator's: only on an empty or synthetic store (test_demo_store.py)",
    "disclosure check": "reads report files a reader has, never the store "
                        "(test_disclosure_check.py)",
    "themes codebook check": "checks a codebook file; no store (test_themes.py)",
    "report pdf": "prints report pages the person already has to PDF; no store "
                  "(test_board_pack.py)",
}
"""Commands that read or write no review data themselves, and where they are tested."""

NOBODY = None  # no identity configured at all
STRANGERS = ("sjr-reports", "someone-else", NOBODY)


@dataclass(frozen=True)
class Door:
    argv: Callable[[dict], list[str]]
    allowed: str
    refused: tuple[str | None, ...]
    action: str
    run_allowed: bool = True  # False: the allowed run is slow and tested elsewhere


DOOR: dict[str, Door] = {
    "import": Door(lambda f: ["import", "reviews", f["own_reviews"]], "demo-lead",
                   ("demo-reviewer", "demo-researcher", "demo-programme", *STRANGERS),
                   "import.reviews"),
    "export": Door(lambda f: ["export", "reviews", f["out"] / "export.csv"], "demo-admin",
                   ("demo-reviewer", "demo-researcher", "demo-programme", *STRANGERS),
                   "export.reviews"),
    "summary": Door(lambda f: ["summary"], "demo-programme",
                    ("demo-reviewer", "demo-researcher", *STRANGERS), "summary"),
    "extract": Door(lambda f: ["extract", "--approval", "DEMO-RESEARCH",
                               "--out", f["out"] / "extract.csv"], "demo-researcher",
                    ("demo-lead", "demo-programme", "demo-admin", *STRANGERS), "extract"),
    "users list": Door(lambda f: ["users", "list"], "demo-admin",
                       ("demo-lead", "demo-programme", *STRANGERS), "users.list"),
    "users add": Door(lambda f: ["users", "add", "newcomer", "--role", "programme_team"],
                      "demo-admin", ("demo-lead", "demo-programme", *STRANGERS), "users.add"),
    "users disable": Door(lambda f: ["users", "disable", "demo-reviewer"], "demo-admin",
                          ("demo-lead", "demo-reviewer", *STRANGERS), "users.disable"),
    "users enable": Door(lambda f: ["users", "enable", "demo-reviewer"], "demo-admin",
                         ("demo-lead", "demo-programme", *STRANGERS), "users.enable"),
    # PostgreSQL only (a SQLite store has no roles): the allowed run is
    # test_pg_connection_limit's; a refusal is the same on either engine
    "users connection-limit": Door(lambda f: ["users", "connection-limit", "5"], "demo-admin",
                                   ("demo-lead", "demo-programme", *STRANGERS),
                                   "users.connection_limit", run_allowed=False),
    "approvals add": Door(lambda f: ["approvals", "add", f["approval"]], "demo-admin",
                          ("demo-researcher", "demo-programme", *STRANGERS), "approvals.add"),
    "approvals list": Door(lambda f: ["approvals", "list"], "demo-admin",
                           ("demo-lead", *STRANGERS), "approvals"),
    "approvals revoke": Door(lambda f: ["approvals", "revoke", "DOOR-TEST", "--reason", "test"],
                             "demo-admin", ("demo-researcher", "demo-lead", *STRANGERS),
                             "approvals.revoke"),
    "audit verify": Door(lambda f: ["audit", "verify"], "demo-admin",
                         ("demo-programme", "demo-lead", *STRANGERS), "audit.verify"),
    "audit show": Door(lambda f: ["audit", "show"], "demo-admin",
                       ("demo-programme", "demo-researcher", *STRANGERS), "audit.show"),
    # Reports refuse before any kernel starts; the allowed runs are test_report_batch's.
    "report national": Door(lambda f: ["report", "national", "--out", f["out"] / "r"],
                            "demo-programme", ("demo-lead", "demo-reviewer", "demo-researcher",
                                               "demo-admin", *STRANGERS),
                            "report", run_allowed=False),
    "report trust": Door(lambda f: ["report", "trust", f["other_org"], "--out", f["out"] / "r"],
                         "demo-programme", ("demo-lead", "demo-reviewer", "demo-researcher",
                                            *STRANGERS), "report", run_allowed=False),
    "themes codebook import": Door(lambda f: ["themes", "codebook", "import",
                                              _new_codebook(f["out"])], "demo-programme",
                                   ("demo-lead", "demo-reviewer", "demo-admin",
                                    "demo-researcher", *STRANGERS), "codebook.import"),
    # The codebook holds no review data and every role may read it; its reads are audited.
    "themes codebook list": Door(lambda f: ["themes", "codebook", "list"], "demo-programme",
                                 STRANGERS, "codebook"),
    "themes codebook export": Door(lambda f: ["themes", "codebook", "export",
                                              f["out"] / "codebook-out.yaml"],
                                   "demo-programme", STRANGERS, "codebook"),
    "actions measures": Door(lambda f: ["actions", "measures"], "demo-lead", STRANGERS,
                             "codebook"),
    # suggestions are of the store's codebook's active themes (the allowed run trains a model:
    # test_themes' test_cli_suggest_follows_the_stores_codebook)
    "themes suggest": Door(lambda f: ["themes", "suggest", "Antibiotics given late"],
                           "demo-reviewer", STRANGERS, "codebook", run_allowed=False),
    "themes train": Door(lambda f: ["themes", "train", "--store", "--out",
                                        f["out"] / "themes-model.joblib"], "demo-lead",
                         ("demo-programme", "demo-admin", "demo-researcher", *STRANGERS),
                         "theme_codes"),
    "backup": Door(lambda f: ["backup", f["out"] / "door.sjrbackup"], "demo-admin",
                   ("demo-lead", "demo-programme", *STRANGERS), "backup"),
    # The door's store exists, so a restore into it is refused (audited there); the allowed
    # restore into a new store is test_backup's.
    "restore": Door(lambda f: ["restore", _backup_file(f)], "demo-admin",
                    ("demo-lead", "demo-programme", *STRANGERS), "restore", run_allowed=False),
    "report all": Door(lambda f: ["report", "all", "--out", f["out"] / "r"], "demo-programme",
                       ("demo-lead", "demo-reviewer", "demo-admin", *STRANGERS), "report",
                       run_allowed=False),
    # training and calibration (issue 15): the directory is every role's to read
    "training trainers import": Door(lambda f: ["training", "trainers", "import",
                                                _trainers_file(f)], "demo-programme",
                                     ("demo-lead", "demo-reviewer", "demo-admin",
                                      "demo-researcher", *STRANGERS), "trainers.import"),
    "training trainers export": Door(lambda f: ["training", "trainers", "export",
                                                f["out"] / "trainers-out.csv"],
                                     "demo-researcher", STRANGERS, "trainers"),
    "training trainers list": Door(lambda f: ["training", "trainers", "list"], "demo-admin",
                                   STRANGERS, "trainers"),
    "training records import": Door(lambda f: ["training", "records", "import",
                                               _records_file(f)], "demo-lead",
                                    ("demo-reviewer", "demo-researcher", "demo-admin",
                                     *STRANGERS), "training_records.import"),
    "training records export": Door(lambda f: ["training", "records", "export",
                                               f["out"] / "records-out.csv"], "demo-reviewer",
                                    ("demo-researcher", "demo-admin", *STRANGERS),
                                    "training_records"),
    "training records list": Door(lambda f: ["training", "records", "list"], "demo-lead",
                                  ("demo-researcher", "demo-admin", *STRANGERS),
                                  "training_records"),
    "training cases import": Door(lambda f: ["training", "cases", "import", _SHIPPED_CASES],
                                  "demo-programme", ("demo-lead", "demo-reviewer", "demo-admin",
                                                     "demo-researcher", *STRANGERS),
                                  "training_cases.import"),
    "training cases export": Door(lambda f: ["training", "cases", "export",
                                             f["out"] / "cases-out.yaml"], "demo-lead",
                                  ("demo-researcher", "demo-admin", *STRANGERS),
                                  "training_cases"),
    "training cases list": Door(lambda f: ["training", "cases", "list"], "demo-reviewer",
                                ("demo-researcher", "demo-admin", *STRANGERS), "training_cases"),
    "training round create": Door(lambda f: ["training", "round", "create",
                                             f"DOOR-{uuid.uuid4().hex[:6]}", "--name", "Door",
                                             "--cases", "TC-2026-01,TC-2026-02", "--reviewer",
                                             f"{_lead_org(f)}:RV-DOOR", "--opens",
                                             "2026-01-01", "--closes", "2026-12-31"],
                                  "demo-lead",
                                  ("demo-reviewer", "demo-researcher", "demo-admin",
                                   *STRANGERS), "calibration_rounds.create"),
    "training round list": Door(lambda f: ["training", "round", "list"], "demo-reviewer",
                                ("demo-researcher", "demo-admin", *STRANGERS),
                                "calibration_rounds"),
    "training round results": Door(lambda f: ["training", "round", "results",
                                              "DEMO-CAL-2026-1"], "demo-lead",
                                   ("demo-researcher", "demo-admin", *STRANGERS),
                                   "calibration_data"),
    "actions add": Door(lambda f: ["actions", "add", "--description", "Handover checklist",
                                   "--owner-role", "Matron", "--agreed-on", "2021-05-01"],
                        "demo-lead", ("demo-programme", "demo-reviewer", "demo-researcher",
                                      "demo-admin", *STRANGERS), "actions.record"),
    "actions update": Door(lambda f: ["actions", "update", *_an_action(f), "--status",
                                      "in_progress"], "demo-lead",
                           ("demo-programme", "demo-reviewer", "demo-researcher", *STRANGERS),
                           "actions.update"),
    "actions list": Door(lambda f: ["actions", "list"], "demo-programme",
                         ("demo-reviewer", "demo-researcher", "demo-admin", *STRANGERS),
                         "actions"),
    "actions export": Door(lambda f: ["actions", "export", f["out"] / "actions.xlsx"],
                           "demo-lead", ("demo-reviewer", "demo-researcher", "demo-admin",
                                         *STRANGERS), "actions"),
    "actions import": Door(lambda f: ["actions", "import", _register_file(f)], "demo-lead",
                           ("demo-programme", "demo-reviewer", "demo-researcher", "demo-admin",
                            *STRANGERS), "actions.import"),
}


def _an_action(f: dict) -> list[str]:
    """The id and ``--version`` of an action of the lead's organisation, written as the owner
    of the store (so every run of the row finds one at its stored version)."""
    from data_access.actions import check_action, insert_action
    from sjrlib.themes.codebook import shipped_codebook

    values = check_action({"description": "Falls huddle", "owner_role": "Ward manager",
                           "agreed_on": "2021-05-01"}, codebook=shipped_codebook())
    engine = store.get_engine(f["url"])
    try:
        with engine.begin() as conn:
            org = conn.execute(text("SELECT organisation_code FROM users WHERE username = "
                                    "'demo-lead'")).scalar_one()
            return [insert_action(conn, org, values, user="demo-lead"), "--version", "1"]
    finally:
        engine.dispose()


def _register_file(f: dict) -> str:
    """A register file of one new action, to import."""
    path = f["out"] / "register-in.csv"
    path.write_text("description,owner_role,agreed_on,status\nFalls huddle,Ward manager,"
                    "2021-05-01,open\n", encoding="utf-8")
    return str(path)


_SHIPPED_CASES = str(Path(__file__).resolve().parents[1] / "sjrlib" / "data"
                     / "training-cases-2026.yaml")


def _trainers_file(f: dict) -> str:
    path = f["out"] / "trainers-in.csv"
    path.write_text("trainer_id,name,contact,organisation,region,trained_on,active\n"
                    "T-DOOR,Door Trainer (fictional),door@door.example,Door Trust,London,"
                    "2020-05-01,yes\n", encoding="utf-8")
    return str(path)


def _lead_org(f: dict) -> str:
    engine = store.get_engine(f["url"])
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT organisation_code FROM users WHERE username = "
                                     "'demo-lead'")).scalar_one()
    finally:
        engine.dispose()


def _records_file(f: dict) -> str:
    org = _lead_org(f)
    path = f["out"] / "records-in.csv"
    path.write_text("record_id,organisation_code,reviewer_id,trainer_id,trained_on,session,"
                    f"refresher_dates\nDOOR-1,{org},RV-DOOR,,2024-02-01,Door session,"
                    "2025-02-01\n", encoding="utf-8")
    return str(path)


def _backup_file(f: dict) -> str:
    """A file to restore: the restore into the door's existing store is refused (and
    audited) before the file is read, so its content does not matter here."""
    path = f["out"] / "door-restore.sjrbackup"
    if not path.exists():
        path.write_bytes(b"")
    return str(path)


def _new_codebook(folder) -> str:
    """The shipped codebook under a version not yet stored, as a file to import."""
    import dataclasses

    from sjrlib.themes.codebook import export_codebook, shipped_codebook

    path = folder / "codebook-2099.1.yaml"
    if not path.exists():
        export_codebook(dataclasses.replace(shipped_codebook(), version="2099.1"), path)
    return str(path)


def _command_names(typer_app=app, prefix: str = "") -> set[str]:
    names = {prefix + (c.name or c.callback.__name__.replace("_", "-"))
             for c in typer_app.registered_commands}
    for group in typer_app.registered_groups:  # groups within groups: sjr themes codebook list
        names |= _command_names(group.typer_instance, f"{prefix}{group.name} ")
    return names


def test_every_command_is_listed():
    names = _command_names()
    assert {"import", "export", "summary", "users add", "report all"} <= names  # not vacuous
    unlisted = sorted(names - set(DOOR) - set(NO_DATA))
    assert not unlisted, f"say how {unlisted} go through the door (DOOR) or why not (NO_DATA)"
    assert not set(DOOR) & set(NO_DATA)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("door")
    url = f"sqlite:///{folder / 'sjr.db'}"
    result = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "3",
                                      "--years", "2", "--seed", "11"],
                                env={"SJR_USER": None})
    assert result.exit_code == 0, result.output
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            lead_org = conn.execute(text("SELECT organisation_code FROM users "
                                               "WHERE username = 'demo-lead'")).scalar_one()
            reviews = store.load_reviews(conn, organisation_codes=[lead_org])
            organisations = store.load_organisations(conn)
    finally:
        engine.dispose()
    own = folder / "own-reviews.csv"
    io.write_reviews(reviews[list(domain.REVIEW_COLUMNS)].head(20), own)
    approval = folder / "approval.yaml"
    for approval_id, path in (("DOOR-TEST", folder / "to-revoke.yaml"), ("DOOR-ADD", approval)):
        path.write_text(
            f"id: {approval_id}\napplicants: [demo-researcher]\npurpose: door test\n"
            f"organisations: [{organisations['organisation_code'].iloc[0]}]\n"
            "period_start: 2021-04\nperiod_end: 2022-03\nfields: [score_overall]\n"
            "start_date: 2026-01-01\nend_date: 2027-12-31\n", encoding="utf-8")
    # The approval `approvals revoke` revokes exists whichever tests ran before on this worker.
    added = CliRunner().invoke(app, ["approvals", "add", str(folder / "to-revoke.yaml"),
                                     "--db", url], env={"SJR_USER": "demo-admin"})
    assert added.exit_code == 0, added.output
    other_org = sorted(set(organisations["organisation_code"]) - {lead_org})[0]
    return {"url": url, "own_reviews": own, "approval": approval, "out": folder,
            "other_org": other_org}


def _run(demo_store, argv: list, user: str | None):
    env = {"SJR_USER": user, "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None,
           "SJR_CONFIG": str(demo_store["out"] / "no-identity-file")}
    return CliRunner().invoke(app, [str(a) for a in argv] + ["--db", demo_store["url"]],
                              env=env)


def _last_entry(url: str) -> pd.Series:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return audit.entries(conn).iloc[-1]
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", list(DOOR))
def test_each_data_command_refuses_the_wrong_user_and_audits(demo_store, command):
    door = DOOR[command]
    for user in door.refused:
        result = _run(demo_store, door.argv(demo_store), user)
        shown = user or "(no identity)"
        assert result.exit_code in (1, 2), (command, shown, result.output)
        assert "refused" in result.output or "Access denied" in result.output, \
            (command, shown, result.output)
        assert "Traceback" not in result.output and result.exception is None \
            or isinstance(result.exception, SystemExit), (command, shown)
        entry = _last_entry(demo_store["url"])
        assert entry["username"] == (user or "(no identity)"), (command, shown)
        expected = f"{door.action}.denied" if user and user.startswith("demo-") \
            else "session.denied"
        assert entry["action"] == expected, (command, shown, entry["action"])
    if not door.run_allowed:
        return
    result = _run(demo_store, door.argv(demo_store), door.allowed)
    assert result.exit_code == 0, (command, result.output)
    entry = _last_entry(demo_store["url"])
    assert (entry["username"], entry["action"]) == (door.allowed, door.action), command


def test_a_lead_cannot_import_or_update_another_organisations_reviews(demo_store, tmp_path):
    engine = store.get_engine(demo_store["url"])
    try:
        with engine.connect() as conn:
            lead_org = conn.execute(text("SELECT organisation_code FROM users "
                                               "WHERE username = 'demo-lead'")).scalar_one()
            others = store.load_reviews(conn)
            before = others.copy()
    finally:
        engine.dispose()
    others = others[others["organisation_code"] != lead_org][list(domain.REVIEW_COLUMNS)]
    # Their rows as they are: refused because they are another organisation's.
    theirs = tmp_path / "theirs.csv"
    io.write_reviews(others.head(5), theirs)
    result = _run(demo_store, ["import", "reviews", theirs, "--update"], "demo-lead")
    assert result.exit_code == 1 and "outside your organisation" in result.output
    # Their review ids relabelled as the lead's organisation: an --update may not take them.
    taken = others.head(5).assign(organisation_code=lead_org)
    io.write_reviews(taken, tmp_path / "taken.csv")
    result = _run(demo_store, ["import", "reviews", tmp_path / "taken.csv", "--update"],
                  "demo-lead")
    assert result.exit_code == 1, result.output
    assert "already used outside your organisation" in result.output
    for other_org in others["organisation_code"].unique():
        assert other_org not in result.output  # nothing about the holder is revealed
    engine = store.get_engine(demo_store["url"])
    try:
        with engine.connect() as conn:
            after = store.load_reviews(conn)
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(after, before)


def test_an_unexpected_fault_ends_in_one_line_not_a_traceback(tmp_path, capsys):
    from sjrlib.cli import main

    # Nothing listens on this port: the connection itself fails inside the command.
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    with pytest.raises(SystemExit) as ended:
        main(["summary", "--db", url])
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("sjr: The database server at 127.0.0.1:9 is not answering")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
