"""docs/adding-a-question.md, followed: its registry entry, taken from the guide itself, is
registered at run time (as the declaration in ``sjrlib/form/registry.py`` would be) and reaches
the review frame, the rules, the exchange columns, the store model and the statistics, stays off
the free-text lists, and the synthetic generator asks for its answers.

It runs in a fresh interpreter: a question must be registered before anything derives from the
registry.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

GUIDE = Path(__file__).parents[1] / "docs" / "adding-a-question.md"


def _guide_entry() -> str:
    """The ``Field(...)`` the guide tells a newcomer to add."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    entry = next(b for b in blocks if 'Field("sepsis_screen"' in b)
    return textwrap.dedent(entry).strip().rstrip(",")


_FOLLOW = textwrap.dedent('''
    import json, sys, tempfile
    from pathlib import Path
    from sjrlib.form import registry as r

    names = {"Field": r.Field, "Kind": r.Kind, "_EXT": (r.LATEST_VERSION,),
             "yn_unknown": r.answer_list("yn_unknown")}
    r.register(eval(sys.argv[1], names), after="autism")

    import pandas as pd
    sys.path.insert(0, sys.argv[2])
    from test_rules import TODAY, ext, review
    from data_access import models, pseudonymise
    from sjrlib import domain, io, rules, schema
    from sjrlib.report import data as report_data
    from sjrlib.stats import _reviews

    out = {}
    columns = list(domain.REVIEW_COLUMNS)
    out["after_autism"] = columns[columns.index("autism") + 1] == "sepsis_screen"
    out["read_as"] = [rules.REVIEW_SPECS["sepsis_screen"].kind,
                      list(rules.REVIEW_SPECS["sepsis_screen"].codes)]

    def errors(rows):
        try:
            schema.validate_reviews(pd.DataFrame(rows), today=TODAY)
        except schema.ValidationFailed as failed:
            return [[e.row, e.column, e.rule] for e in failed.errors]
        return []

    out["errors"] = errors([ext(sepsis_screen="yes"),
                            ext(review_id="R2", case_id="C2", sepsis_screen="maybe"),
                            review(review_id="R3", case_id="C3", sepsis_screen="no")])
    frame = schema.validate_reviews(pd.DataFrame([
        ext(sepsis_screen="unknown"), review(review_id="R2", case_id="C2")]), today=TODAY)
    path = Path(tempfile.mkdtemp()) / "r.csv"
    io.write_reviews(frame, path)
    out["round_trip"] = list(io.read_reviews(path, today=TODAY)["sepsis_screen"].fillna(""))
    out["rcp2017_file_has_it"] = "sepsis_screen" in io.export_columns(frame.iloc[[1]])
    out["free_text"] = ("sepsis_screen" in pseudonymise.FREE_TEXT_COLUMNS
                        or "sepsis_screen" in report_data.FREE_TEXT_COLUMNS)
    out["grouping"] = list(_reviews._VOCABULARY_ORDER["sepsis_screen"])
    column = models.Review.__table__.c["sepsis_screen"]
    out["store"] = [str(column.type), [str(c.sqltext) for c in models.Review.__table__.constraints
                                       if "sepsis_screen" in str(getattr(c, "sqltext", ""))]]
    from sjrlib.synthetic.generator import generate
    try:
        generate(n_organisations=1, years=1, seed=1)
        out["generator"] = "ran"
    except ValueError as exc:
        out["generator"] = str(exc)
    print(json.dumps(out))
''')


def test_the_guides_yes_no_question_reaches_everything_derived():
    done = subprocess.run(
        [sys.executable, "-c", _FOLLOW, _guide_entry(), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["after_autism"]
    assert out["read_as"] == ["code", ["yes", "no", "unknown"]]
    assert out["errors"] == [[3, "sepsis_screen", "code_list"],
                             [4, "sepsis_screen", "not_asked_in_version"]]
    assert out["round_trip"] == ["unknown", ""]
    assert not out["rcp2017_file_has_it"]
    assert not out["free_text"]
    assert out["grouping"] == ["yes", "no", "unknown"]
    assert out["store"][0] == "VARCHAR(16)"
    assert len(out["store"][1]) == 1 and "'unknown'" in out["store"][1][0]
    assert "no answers for sepsis_screen" in out["generator"]


def test_the_guides_entry_is_what_the_registry_takes():
    entry = _guide_entry()
    assert entry.startswith('Field("sepsis_screen", ') and "versions=_EXT" in entry
